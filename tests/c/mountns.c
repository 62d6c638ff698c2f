/* unshare, mount, umount2: tmpfs, bind mounts, read-only remounts, stacked
 * mounts, propagation flags, /proc/self/mounts and mountinfo, busy and
 * expiring umounts, mount and UTS namespaces (isolation checked by forked
 * children), and the errors of bad paths, flags and pointers. Run in a
 * scratch directory (argument 1) natively under `unshare -m -u
 * --propagation private`, and sandboxed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case ENODEV: return "ENODEV";
    case EFAULT: return "EFAULT";
    case EROFS: return "EROFS";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    default: return strerror(e);
    }
}

#define R(what, call)                                                          \
    do {                                                                       \
        errno = 0;                                                             \
        long r_ = (long)(call);                                                \
        printf("%-40s %s\n", what, r_ < 0 ? en(errno) : "OK");                 \
    } while (0)

static char cwd[4096];
static int uts0 = -1;

static void touch(const char *p, const char *data) {
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) {
        printf("touch %s: %s\n", p, en(errno));
        return;
    }
    if (data && write(fd, data, strlen(data)) < 0)
        printf("write %s: %s\n", p, en(errno));
    close(fd);
}

static void cat(const char *p) {
    char b[64] = {0};
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        printf("cat %s: %s\n", p, en(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    printf("cat %s: %zd '%s'\n", p, n, n > 0 ? b : "");
}

static void exists(const char *p) {
    struct stat st;
    R(p, stat(p, &st));
}

/* Our mounts (below the working directory) as /proc/self/mounts and
 * mountinfo show them: point, type, ro/rw, and mountinfo's root. */
static void show_mounts_in(const char *file, const char *when) {
    char line[1024];
    size_t n = strlen(cwd);
    printf("mounts %s (%s):\n", when, file);
    FILE *f = fopen(file, "r");
    if (!f) {
        printf("  %s: %s\n", file, en(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char src[256], pt[512], ty[64], opt[256];
        if (sscanf(line, "%255s %511s %63s %255s", src, pt, ty, opt) != 4)
            continue;
        if (strncmp(pt, cwd, n) || pt[n] != '/')
            continue;
        char *c = strchr(opt, ',');
        if (c)
            *c = 0;
        printf("  %s %s %s %s\n", src, pt + n + 1, ty, opt);
    }
    fclose(f);
    f = fopen("/proc/self/mountinfo", "r");
    if (!f) {
        printf("  /proc/self/mountinfo: %s\n", en(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        int id, parent;
        char dev[64], root[512], pt[512], opt[256];
        if (sscanf(line, "%d %d %63s %511s %511s %255s", &id, &parent, dev, root, pt, opt) != 6)
            continue;
        if (strncmp(pt, cwd, n) || pt[n] != '/')
            continue;
        char *c = strchr(opt, ',');
        if (c)
            *c = 0;
        printf("  info %s root %s %s\n", pt + n + 1, root, opt);
    }
    fclose(f);
}

static void show_mounts(const char *when) {
    show_mounts_in("/proc/self/mounts", when);
}

static void cat_line(const char *p) {
    char b[128] = {0};
    FILE *f = fopen(p, "r");
    if (!f) {
        printf("%s: %s\n", p, en(errno));
        return;
    }
    if (!fgets(b, sizeof b, f))
        b[0] = 0;
    fclose(f);
    printf("%s: %s", p, b);
}

/* clone(2) with new mount and UTS namespaces: the child's mount and host
 * name stay its own. */
static void clone_namespaces(void) {
    struct utsname u;
    fflush(stdout);
    long p = syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (p == 0) {
        R("cloned child mount tmpfs on a", mount("none", "a", "tmpfs", 0, NULL));
        touch("a/cloned", "c");
        R("cloned child sethostname", sethostname("cloned", 6));
        uname(&u);
        printf("cloned child nodename %s\n", u.nodename);
        fflush(stdout);
        _exit(0);
    }
    if (p < 0) {
        printf("clone: %s\n", en(errno));
        return;
    }
    int st;
    waitpid(p, &st, 0);
    exists("a/cloned");
    uname(&u);
    printf("parent nodename after clone %s\n", u.nodename);
    R("clone NEWNS|FS", syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0, 0));
}

static void child_setns_mnt(void) {
    int m = open("/proc/self/ns/mnt", O_RDONLY);
    R("child open ns/mnt", m);
    R("child unshare(NEWNS)", unshare(CLONE_NEWNS));
    R("child umount2 a", umount2("a", 0));
    exists("a/ours");
    R("child setns(mnt, NEWUTS)", setns(m, CLONE_NEWUTS));
    R("child setns(mnt, NEWNS)", setns(m, CLONE_NEWNS));
    char here[4096];
    printf("child cwd after setns: %s\n", getcwd(here, sizeof here) ? here : "?");
    if (chdir(cwd) < 0)
        printf("chdir: %s\n", en(errno));
    exists("a/ours");
}

static int child(void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn();
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    return st;
}

static void child_private_mount(void) {
    R("child unshare(NEWNS)", unshare(CLONE_NEWNS));
    R("child mount tmpfs on a", mount("none", "a", "tmpfs", 0, NULL));
    touch("a/from-child", "c");
    exists("a/from-child");
}

static void child_shared_mount(void) {
    exists("a/shared");
    R("child mount tmpfs on b (shared ns)", mount("none", "b", "tmpfs", 0, NULL));
    touch("b/child-made", "c");
}

static void child_uts(void) {
    struct utsname u;
    R("child unshare(NEWUTS)", unshare(CLONE_NEWUTS));
    R("child sethostname", sethostname("child-ns", 8));
    uname(&u);
    printf("child nodename %s\n", u.nodename);
}

static void child_inherits_uts(void) {
    struct utsname u;
    uname(&u);
    printf("child inherited nodename %s\n", u.nodename);
}

static void child_unprivileged(void) {
    /* Drop CAP_SYS_ADMIN from the effective and permitted sets. */
    struct { unsigned version; int pid; } hdr = {0x20080522, 0};
    struct { unsigned eff, perm, inh; } data[2];
    if (syscall(SYS_capget, &hdr, data) < 0) {
        printf("capget: %s\n", en(errno));
        return;
    }
    data[0].eff &= ~(1u << 21);
    data[0].perm &= ~(1u << 21);
    if (syscall(SYS_capset, &hdr, data) < 0) {
        printf("capset: %s\n", en(errno));
        return;
    }
    R("unpriv mount tmpfs", mount("none", "a", "tmpfs", 0, NULL));
    R("unpriv mount missing path", mount("none", "missing", "tmpfs", 0, NULL));
    R("unpriv umount2 a", umount2("a", 0));
    R("unpriv unshare(NEWNS)", unshare(CLONE_NEWNS));
    R("unpriv unshare(NEWUTS)", unshare(CLONE_NEWUTS));
    R("unpriv unshare(FILES|FS)", unshare(CLONE_FILES | CLONE_FS));
    R("unpriv setns(uts)", setns(uts0, CLONE_NEWUTS));
    long p = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (p == 0)
        _exit(0);
    if (p > 0)
        waitpid(p, NULL, 0);
    printf("unpriv clone(NEWUTS) %s\n", p < 0 ? en(errno) : "OK");
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) < 0) {
        perror("chdir");
        return 1;
    }
    if (!getcwd(cwd, sizeof cwd))
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);

    uts0 = open("/proc/self/ns/uts", O_RDONLY);
    R("open /proc/self/ns/uts", uts0);

    /* unshare: flags that are not namespaces, bad flags. */
    int keep = open(".", O_RDONLY | O_DIRECTORY);
    R("unshare(0)", unshare(0));
    R("unshare(FILES|FS|SYSVSEM)", unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM));
    R("fd kept after unshare(FILES)", fcntl(keep, F_GETFD));
    close(keep);
    R("unshare(CSIGNAL bits)", unshare(0x11));
    R("unshare(CLONE_SETTLS)", unshare(CLONE_SETTLS));
    R("unshare(NEWNS)", unshare(CLONE_NEWNS));

    mkdir("a", 0755);
    mkdir("b", 0755);
    mkdir("p", 0755);
    touch("f", "file f");
    touch("g", "file g");
    symlink("a", "la");

    /* New tmpfs mounts and their errors. */
    R("mount tmpfs size=1m,mode=700 on a", mount("none", "a", "tmpfs", 0, "size=1m,mode=700"));
    struct stat st;
    stat("a", &st);
    printf("a mode %o\n", st.st_mode);
    touch("a/x", "hello");
    cat("a/x");
    R("mount tmpfs bogus option", mount("none", "b", "tmpfs", 0, "bogus"));
    R("mount tmpfs bad mode", mount("none", "b", "tmpfs", 0, "mode=99"));
    R("mount unknown type", mount("none", "b", "nosuchfs", 0, NULL));
    R("mount NULL type", mount("none", "b", NULL, 0, NULL));
    R("mount on missing", mount("none", "missing", "tmpfs", 0, NULL));
    R("mount on missing/dir", mount("none", "missing/d", "tmpfs", 0, NULL));
    R("mount on f/ (file)", mount("none", "f/x", "tmpfs", 0, NULL));
    R("mount tmpfs on file f", mount("none", "f", "tmpfs", 0, NULL));
    R("mount bad source ptr", mount((char *)1, "b", "tmpfs", 0, NULL));
    R("mount bad target ptr", mount("none", (char *)1, "tmpfs", 0, NULL));
    R("mount bad type ptr", mount("none", "b", (char *)1, 0, NULL));
    R("mount MS_NOUSER", mount("none", "b", "tmpfs", 1UL << 31, NULL));

    /* Bind mounts. */
    R("bind a on b", mount("a", "b", NULL, MS_BIND, NULL));
    cat("b/x");
    R("bind a/x on file g", mount("a/x", "g", NULL, MS_BIND, NULL));
    cat("g");
    R("bind dir a on file f", mount("a", "f", NULL, MS_BIND, NULL));
    R("bind file a/x on dir p", mount("a/x", "p", NULL, MS_BIND, NULL));
    R("bind missing source", mount("nothere", "p", NULL, MS_BIND, NULL));
    R("bind NULL source", mount(NULL, "p", NULL, MS_BIND, NULL));
    R("bind empty source", mount("", "p", NULL, MS_BIND, NULL));

    /* Read-only remounts. */
    R("remount b bind,ro", mount(NULL, "b", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL));
    R("create in ro b", open("b/y", O_CREAT | O_WRONLY, 0644));
    R("open ro b/x for writing", open("b/x", O_WRONLY));
    R("open ro b/x O_CREAT|O_EXCL", open("b/x", O_CREAT | O_EXCL | O_WRONLY, 0644));
    R("open ro b for writing", open("b", O_RDWR));
    R("mkdir in ro b", mkdir("b/d", 0755));
    R("unlink in ro b", unlink("b/x"));
    R("rename in ro b", rename("b/x", "b/z"));
    R("chmod in ro b", chmod("b/x", 0600));
    R("symlink in ro b", symlink("x", "b/s"));
    cat("b/x");
    touch("a/y", "via a");
    cat("b/y");
    mkdir("a/sub", 0755);
    R("remount a/sub (not a mount point)", mount(NULL, "a/sub", NULL, MS_REMOUNT | MS_RDONLY, NULL));
    R("remount b rw", mount(NULL, "b", NULL, MS_BIND | MS_REMOUNT, NULL));
    touch("b/z", "rw again");
    cat("a/z");
    R("remount a ro", mount(NULL, "a", NULL, MS_REMOUNT | MS_RDONLY, NULL));
    R("create in ro a", open("a/w", O_CREAT | O_WRONLY, 0644));
    R("remount a rw", mount(NULL, "a", NULL, MS_REMOUNT, NULL));

    /* Propagation flags. */
    R("a private", mount(NULL, "a", NULL, MS_PRIVATE, NULL));
    R("a rec slave", mount(NULL, "a", NULL, MS_REC | MS_SLAVE, NULL));
    R("a shared", mount(NULL, "a", NULL, MS_SHARED, NULL));
    R("a unbindable", mount(NULL, "a", NULL, MS_UNBINDABLE, NULL));
    R("a private again", mount(NULL, "a", NULL, MS_PRIVATE, NULL));
    R("a private|shared", mount(NULL, "a", NULL, MS_PRIVATE | MS_SHARED, NULL));
    R("a private|nosuid", mount(NULL, "a", NULL, MS_PRIVATE | MS_NOSUID, NULL));
    R("f private (not a mount point)", mount(NULL, "f", NULL, MS_PRIVATE, NULL));

    show_mounts("after binds");

    /* umount2 errors and busy mounts. */
    R("umount2 f (not a mount point)", umount2("f", 0));
    R("umount2 a/sub", umount2("a/sub", 0));
    R("umount2 missing", umount2("missing", 0));
    R("umount2 bad flags", umount2("b", 0x100));
    R("umount2 EXPIRE|DETACH", umount2("b", MNT_EXPIRE | MNT_DETACH));
    R("umount2 EXPIRE|FORCE", umount2("b", MNT_EXPIRE | MNT_FORCE));
    R("umount2 bad ptr", umount2((char *)1, 0));
    R("umount2 la NOFOLLOW (symlink)", umount2("la", UMOUNT_NOFOLLOW));
    if (chdir("b") == 0) {
        R("umount2 busy (cwd inside)", umount2("../b", 0));
        if (chdir(cwd) < 0)
            return 1;
    }
    R("umount2 g", umount2("g", 0));
    cat("g");
    R("umount2 b", umount2("b", 0));
    exists("b/x");
    R("umount2 la (follows to a)", umount2("la", 0));
    exists("a/x");

    /* Stacked mounts. */
    R("mount tmpfs on a (1)", mount("one", "a", "tmpfs", 0, NULL));
    touch("a/one", "1");
    R("mount tmpfs on a (2)", mount("two", "a", "tmpfs", 0, NULL));
    exists("a/one");
    show_mounts_in("/proc/mounts", "stacked");
    R("umount2 a (top)", umount2("a", 0));
    exists("a/one");
    R("umount2 a EXPIRE (1)", umount2("a", MNT_EXPIRE));
    R("umount2 a EXPIRE (2)", umount2("a", MNT_EXPIRE));
    exists("a/one");

    /* Recursive binds and busy parents. */
    R("mount tmpfs on a", mount("none", "a", "tmpfs", 0, NULL));
    mkdir("a/s", 0755);
    R("mount tmpfs on a/s", mount("none", "a/s", "tmpfs", 0, NULL));
    touch("a/s/deep", "d");
    R("bind a on b", mount("a", "b", NULL, MS_BIND, NULL));
    exists("b/s/deep");
    R("umount2 b", umount2("b", 0));
    R("rbind a on b", mount("a", "b", NULL, MS_BIND | MS_REC, NULL));
    exists("b/s/deep");
    show_mounts("rbind");
    R("umount2 b (submount: busy)", umount2("b", 0));
    R("umount2 b DETACH", umount2("b", MNT_DETACH));
    exists("b/s");
    R("umount2 a (submount: busy)", umount2("a", 0));
    R("umount2 a/s", umount2("a/s", 0));
    R("umount2 a FORCE", umount2("a", MNT_FORCE));

    /* proc and sysfs. */
    R("mount proc on p", mount("proc", "p", "proc", 0, NULL));
    exists("p/self/status");
    R("umount2 p", umount2("p", 0));
    R("mount sysfs on p", mount("sysfs", "p", "sysfs", 0, NULL));
    exists("p/class");
    R("umount2 p", umount2("p", 0));
    exists("p/class");

    /* Mount namespaces: a child's private mount is not seen here; without
     * a new namespace, mounts are shared both ways. */
    child(child_private_mount);
    exists("a/from-child");
    R("mount tmpfs on a", mount("none", "a", "tmpfs", 0, NULL));
    touch("a/shared", "s");
    child(child_shared_mount);
    exists("b/child-made");
    R("umount2 b", umount2("b", 0));
    R("umount2 a", umount2("a", 0));

    /* UTS namespaces. */
    struct utsname before, after;
    uname(&before);
    child(child_uts);
    uname(&after);
    printf("parent nodename unchanged: %d\n", strcmp(before.nodename, after.nodename) == 0);
    R("unshare(NEWUTS)", unshare(CLONE_NEWUTS));
    R("sethostname", sethostname("mountns-test", 12));
    R("setdomainname", setdomainname("dom.test", 8));
    uname(&after);
    printf("nodename %s domain %s\n", after.nodename, after.domainname);
    child(child_inherits_uts);
    cat_line("/proc/sys/kernel/hostname");
    cat_line("/proc/sys/kernel/domainname");
    clone_namespaces();

    /* setns back to the first UTS namespace; errors. */
    R("setns(uts, NEWNS)", setns(uts0, CLONE_NEWNS));
    R("setns(uts, NEWIPC)", setns(uts0, CLONE_NEWIPC));
    R("setns(regular file)", setns(open("f", O_RDONLY), 0));
    R("setns(-1)", setns(-1, 0));
    R("setns(uts, NEWUTS)", setns(uts0, CLONE_NEWUTS));
    uname(&after);
    printf("back in the first UTS namespace: %d\n", strcmp(before.nodename, after.nodename) == 0);
    R("setns(uts, 0)", setns(uts0, 0));

    /* setns into a mount namespace: a child leaves ours, then comes back. */
    R("mount tmpfs on a", mount("none", "a", "tmpfs", 0, NULL));
    touch("a/ours", "o");
    child(child_setns_mnt);
    R("umount2 a", umount2("a", 0));

    child(child_unprivileged);
    printf("done\n");
    return 0;
}
