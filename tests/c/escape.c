/* Escape attempts from inside the sandbox. argv[1] is a host file outside
 * the sandbox's root file system, argv[2] its contents, argv[3] the pid of a
 * host process. Every attempt must fail; one line per attempt:
 * "blocked <name>" or "ESCAPED <name>". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <arpa/inet.h>
#include <unistd.h>

static const char *secret_path, *secret;
static int escaped;

static void report(const char *name, int got_in) {
    printf("%s %s\n", got_in ? "ESCAPED" : "blocked", name);
    if (got_in) escaped = 1;
}

/* Whether reading `path` gives the secret. */
/* Whether a netlink route socket shows any interface but the sandbox's loopback (the host's
 * eth0...): netlink sockets are served inside the sentry and must describe only its stack. */
static int netlink_sees_host(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) return 0;
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
        .h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK,
              .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
    };
    if (send(fd, &req, sizeof req, 0) < 0) { close(fd); return 0; }
    static char buf[65536];
    int other = 0, done = 0;
    while (!done) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { done = 1; break; }
            if (h->nlmsg_type != RTM_NEWLINK) continue;
            int len = IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") != 0) other = 1;
        }
    }
    close(fd);
    return other;
}

static int reads_secret(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[256] = {0};
    int n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 && strstr(buf, secret) != NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: escape SECRET_PATH SECRET HOST_PID\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    secret_path = argv[1];
    secret = argv[2];
    int host_pid = atoi(argv[3]);
    char p[4096];

    report("direct path", reads_secret(secret_path));
    snprintf(p, sizeof p, "../../../../../../../..%s", secret_path);
    chdir("/");
    report("dot-dot from /", reads_secret(p));
    mkdir("/tmp", 0777);
    chdir("/tmp");
    report("dot-dot from /tmp", reads_secret(p));
    unlink("/tmp/abs-link");
    symlink(secret_path, "/tmp/abs-link");
    report("absolute symlink", reads_secret("/tmp/abs-link"));
    snprintf(p, sizeof p, "../../../../../..%s", secret_path);
    unlink("/tmp/rel-link");
    symlink(p, "/tmp/rel-link");
    report("relative symlink", reads_secret("/tmp/rel-link"));
    snprintf(p, sizeof p, "/proc/self/root%s", secret_path);
    report("/proc/self/root", reads_secret(p));
    snprintf(p, sizeof p, "/proc/1/root%s", secret_path);
    report("/proc/1/root", reads_secret(p));
    snprintf(p, sizeof p, "/proc/%d/root%s", host_pid, secret_path);
    report("/proc/<host pid>/root", reads_secret(p));
    snprintf(p, sizeof p, "/proc/self/cwd/../../../..%s", secret_path);
    report("/proc/self/cwd", reads_secret(p));
    snprintf(p, sizeof p, "/proc/%d/cwd", host_pid);
    char lbuf[4096] = {0};
    report("/proc/<host pid>/cwd", readlink(p, lbuf, sizeof lbuf - 1) > 0);

    /* File handles. */
    struct {
        unsigned int bytes;
        int type;
        unsigned char h[128];
    } fh = {128, 0, {0}};
    int mnt = 0;
    int r = syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mnt, 0);
    int hfd = r == 0 ? syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY) : -1;
    report("open_by_handle_at", hfd >= 0);
    int hfd2 = syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY);
    report("open_by_handle_at with a forged handle", hfd2 >= 0);

    /* Mounts. */
    mkdir("/tmp/m", 0755);
    report("mount a host device", mount("/dev/sda", "/tmp/m", "ext4", 0, NULL) == 0);
    /* A bind mount of the sandbox's own root is allowed (CAP_SYS_ADMIN in the sandbox); it
     * must show only the sandbox's files, never the host's. */
    {
        char bp[4200];
        snprintf(bp, sizeof bp, "/tmp/m%s", secret_path);
        report("bind mount of / shows the host", mount("/", "/tmp/m", NULL, MS_BIND | MS_REC, NULL) == 0 && reads_secret(bp));
        umount2("/tmp/m", MNT_DETACH);
    }
    report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp/m") == 0);
    report("chroot then ..", chroot("/tmp") == 0 && reads_secret(secret_path));
    report("unshare a mount namespace", unshare(CLONE_NEWNS) == 0 && mount("none", "/tmp/m", "tmpfs", 0, NULL) == 0 && access("/dev/sda", F_OK) == 0);

    /* Links. */
    report("hard link to the host file", link(secret_path, "/tmp/hl") == 0 && reads_secret("/tmp/hl"));

    /* Host processes. */
    report("kill a host process", kill(host_pid, 0) == 0);
    report("ptrace attach to a host process", ptrace(PTRACE_ATTACH, host_pid, 0, 0) == 0);

    /* Devices. */
    report("open /dev/kvm", open("/dev/kvm", O_RDWR) >= 0);
    report("open /dev/mem", open("/dev/mem", O_RDONLY) >= 0);
    report("mknod /dev/mem", mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)) == 0 && open("/tmp/mem", O_RDONLY) >= 0);
    report("mknod a disk", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)) == 0 && open("/tmp/sda", O_RDONLY) >= 0);

    /* Sockets. */
    report("raw socket", socket(AF_INET, SOCK_RAW, 1) >= 0);
    report("packet socket", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) >= 0);
    report("netlink shows the host's interfaces", netlink_sees_host());

    /* The sentry's memory. */
    report("/proc/self/mem", open("/proc/self/mem", O_RDONLY) >= 0);
    report("/proc/1/mem", open("/proc/1/mem", O_RDONLY) >= 0);
    snprintf(p, sizeof p, "/proc/%d/mem", host_pid);
    report("/proc/<host pid>/mem", open(p, O_RDONLY) >= 0);
    report("/proc/kcore", open("/proc/kcore", O_RDONLY) >= 0);
    FILE *maps = fopen("/proc/self/maps", "r");
    int saw_sentry = 0;
    char line[512];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "gvisor") || strstr(line, "[vdso]")) saw_sentry = 1;
    report("sentry mappings in /proc/self/maps", saw_sentry);

    /* Bind mounts (argv[4] == "binds": /rw is a read-write bind, /ro a
     * read-only one). */
    if (argc > 4 && strcmp(argv[4], "binds") == 0) {
        unlink("/rw/abs");
        symlink(secret_path, "/rw/abs");
        report("absolute symlink planted in a rw bind", reads_secret("/rw/abs"));
        snprintf(p, sizeof p, "../../../../../..%s", secret_path);
        unlink("/rw/rel");
        symlink(p, "/rw/rel");
        report("relative symlink planted in a rw bind", reads_secret("/rw/rel"));
        chmod("/rw/abs", 0777);
        truncate("/rw/abs", 0);
        report("hard link out of a rw bind", link(secret_path, "/rw/hl") == 0);
        report("rename out of a rw bind", rename("/rw/abs", "/tmp/moved") == 0 && reads_secret("/tmp/moved"));
        int ro = open("/ro/new", O_WRONLY | O_CREAT, 0644);
        report("create in a read-only bind", ro >= 0);
        report("mkdir in a read-only bind", mkdir("/ro/d", 0755) == 0);
        report("unlink in a read-only bind", unlink("/ro/file") == 0);
        report("chmod in a read-only bind", chmod("/ro/file", 0777) == 0);
        int rw = open("/ro/file", O_RDWR);
        report("open for writing in a read-only bind", rw >= 0);
        mount(NULL, "/ro", NULL, MS_REMOUNT | MS_BIND, NULL);
        mount(NULL, "/ro", NULL, MS_REMOUNT, NULL);
        report("create in a read-only bind remounted read-write", open("/ro/new2", O_WRONLY | O_CREAT, 0644) >= 0);
        report("unlink in a read-only bind remounted read-write", unlink("/ro/file") == 0);
    }

    /* Writes toward the host file (the test checks it is untouched). */
    int w = open(secret_path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    if (w >= 0) {
        write(w, "pwned", 5);
        close(w);
    }
    truncate(secret_path, 0);
    unlink(secret_path);
    printf("%s\n", escaped ? "SOME ESCAPED" : "all blocked");
    return escaped;
}
