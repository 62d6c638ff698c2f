/* /proc as Linux has it: the shape of the top-level files, the per-process
 * files (mem, ns, uid_map, oom_*, auxv, ...) and /proc/sys entries. Values
 * that legitimately differ (pids, times, sizes) are printed normalized. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[1 << 16];

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case EFAULT: return "EFAULT";
    default: return "E?";
    }
}

/* Reads a whole file into buf; returns its length or -1. */
static long slurp(const char *p) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) return -1;
    long n = 0, r;
    while ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return n;
}

/* Prints `name: <contents or error>` exactly. */
static void exact(const char *p) {
    long n = slurp(p);
    if (n < 0) { printf("%s: %s\n", p, en(errno)); return; }
    printf("%s: [", p);
    fwrite(buf, 1, n, stdout);
    printf("]\n");
}

/* Prints whether the file is one decimal number and a newline. */
static void numeric(const char *p) {
    long n = slurp(p);
    if (n < 0) { printf("%s: %s\n", p, en(errno)); return; }
    char *end;
    strtoll(buf, &end, 10);
    printf("%s: numeric=%d\n", p, end != buf && strcmp(end, "\n") == 0);
}

static int is_uuid(const char *s) {
    if (strlen(s) != 37 || s[36] != '\n') return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) { if (s[i] != '-') return 0; }
        else if (!strchr("0123456789abcdef", s[i])) return 0;
    }
    return 1;
}

/* Listing `dir`: duplicates and whether each name of `want` is there. */
static void listing(const char *dir, const char **want) {
    DIR *d = opendir(dir);
    if (!strncmp(dir, "/proc/self/task/", 16)) dir = "task";
    if (!d) { printf("%s: %s\n", dir, en(errno)); return; }
    char names[512][64];
    int n = 0, dups = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        for (int i = 0; i < n; i++) if (!strcmp(names[i], e->d_name)) dups++;
        snprintf(names[n++], 64, "%s", e->d_name);
    }
    closedir(d);
    printf("%s: dups=%d missing=", dir, dups);
    for (const char **w = want; *w; w++) {
        int found = 0;
        for (int i = 0; i < n; i++) if (!strcmp(names[i], *w)) found = 1;
        if (!found) printf("%s,", *w);
    }
    printf("\n");
}

static void top(void) {
    /* /proc/stat: the keys in order, cpu lines by their field count. */
    if (slurp("/proc/stat") > 0) {
        printf("stat keys:");
        char *save, *line = strtok_r(buf, "\n", &save);
        int cpun = 0;
        for (; line; line = strtok_r(NULL, "\n", &save)) {
            char key[64];
            sscanf(line, "%63s", key);
            int fields = 0;
            for (char *q = line; *q; q++) if (*q == ' ' && q[1] && q[1] != ' ') fields++;
            if (!strncmp(key, "cpu", 3) && key[3]) { cpun++; if (fields != 10) printf(" bad-%s", key); continue; }
            if (!strcmp(key, "cpu")) printf(" cpu(%d)", fields);
            else if (!strcmp(key, "intr") || !strcmp(key, "softirq")) printf(" %s", key);
            else printf(" %s(%d)", key, fields);
        }
        printf(" percpu=%d\n", cpun > 0);
    }
    slurp("/proc/version");
    printf("version: %d\n", strncmp(buf, "Linux version ", 14) == 0);
    slurp("/proc/filesystems");
    printf("filesystems: proc=%d tmpfs=%d\n", strstr(buf, "nodev\tproc\n") != NULL,
           strstr(buf, "nodev\ttmpfs\n") != NULL);
    char l[256] = {0};
    printf("mounts link: %zd %s\n", readlink("/proc/mounts", l, sizeof l - 1), l);
    slurp("/proc/mounts");
    printf("mounts: root=%d\n", strstr(buf, " / ") != NULL);
    slurp("/proc/cpuinfo");
    printf("cpuinfo: processor=%d model=%d flags=%d\n", strncmp(buf, "processor\t: 0\n", 14) == 0,
           strstr(buf, "\nmodel name\t: ") != NULL, strstr(buf, "\nflags\t\t: ") != NULL);
    slurp("/proc/meminfo");
    char k1[32], k2[32], k3[32];
    unsigned long v1, v2, v3;
    int m = sscanf(buf, "%31s %lu kB\n%31s %lu kB\n%31s %lu kB\n", k1, &v1, k2, &v2, k3, &v3);
    printf("meminfo: %d %s %s %s width=%d\n", m, k1, k2, k3, (int)(strstr(buf, " kB") - buf));
    slurp("/proc/loadavg");
    double a, b, c;
    int r, t, last;
    printf("loadavg: %d\n", sscanf(buf, "%lf %lf %lf %d/%d %d\n", &a, &b, &c, &r, &t, &last));
    slurp("/proc/uptime");
    printf("uptime: %d\n", sscanf(buf, "%lf %lf\n", &a, &b));
    const char *want[] = {"self", "thread-self", "stat", "version", "filesystems", "mounts",
                          "cpuinfo", "meminfo", "loadavg", "uptime", "sys", NULL};
    listing("/proc", want);
}

static void perproc(void) {
    exact("/proc/self/uid_map");
    exact("/proc/self/gid_map");
    exact("/proc/self/setgroups");
    exact("/proc/self/personality");
    exact("/proc/self/wchan");
    exact("/proc/self/loginuid");
    exact("/proc/self/sessionid");
    slurp("/proc/self/cgroup");
    printf("cgroup v2 line: %d\n", strstr(buf, "0::/\n") != NULL);
    slurp("/proc/self/io");
    printf("io keys:");
    for (char *q = buf; (q = strchr(q, ':')); q++) {
        char *s = q;
        while (s > buf && s[-1] != '\n') s--;
        printf(" %.*s", (int)(q - s), s);
    }
    printf("\n");

    const char *ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                        "time", "time_for_children", "user", "uts", NULL};
    for (const char **n = ns; *n; n++) {
        char p[64], l[128] = {0}, kind[32];
        unsigned long ino;
        snprintf(p, sizeof p, "/proc/self/ns/%s", *n);
        ssize_t len = readlink(p, l, sizeof l - 1);
        int ok = len > 0 && sscanf(l, "%31[a-z]:[%lu]", kind, &ino) == 2;
        printf("ns %s: %s\n", *n, ok ? kind : en(errno));
    }
    const char *pw[] = {"mem", "ns", "uid_map", "gid_map", "setgroups", "oom_score",
                        "oom_score_adj", "oom_adj", "io", "auxv", "personality", "wchan",
                        "cgroup", "loginuid", "sessionid", "task", "fd", "status", NULL};
    listing("/proc/self", pw);
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%d", getpid());
    printf("thread view: ");
    listing(p, pw);

    /* oom_score_adj / oom_adj, without CAP_SYS_RESOURCE (as a container's
     * root usually is). */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) == 0) {
        d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
        d[0].permitted &= ~(1u << CAP_SYS_RESOURCE);
        printf("drop CAP_SYS_RESOURCE: %ld\n", syscall(SYS_capset, &h, d));
    }
    exact("/proc/self/oom_score_adj");
    slurp("/proc/self/oom_score");
    int score = atoi(buf);
    printf("oom_score default in range: %d\n", score >= 600 && score <= 700);
    const char *writes[][2] = {{"oom_score_adj", "500\n"}, {"oom_score_adj", "1001"},
                               {"oom_score_adj", "-1001"}, {"oom_score_adj", "abc"},
                               {"oom_score_adj", " 250 "}, {"oom_adj", "15"},
                               {"oom_adj", "16"}, {"oom_adj", "-17"}, {"oom_adj", "3"},
                               {"oom_score_adj", "-1000"}, {"oom_score_adj", "0"}, {NULL, NULL}};
    for (int i = 0; writes[i][0]; i++) {
        char q[64];
        snprintf(q, sizeof q, "/proc/self/%s", writes[i][0]);
        int fd = open(q, O_WRONLY);
        ssize_t w = fd < 0 ? -1 : write(fd, writes[i][1], strlen(writes[i][1]));
        int e = errno;
        if (fd >= 0) close(fd);
        slurp("/proc/self/oom_score_adj");
        char adj[32];
        snprintf(adj, sizeof adj, "%s", buf);
        slurp("/proc/self/oom_adj");
        printf("write %s %s: %zd %s -> adj %.*s oom_adj %s", writes[i][0], writes[i][1], w,
               w < 0 ? en(e) : "OK", (int)strlen(adj) - 1, adj, buf);
        slurp("/proc/self/oom_score");
        /* The share of memory rounds differently with the memory's size. */
        if (!strcmp(writes[i][1], "-1000"))
            printf("oom_score after: %s\n", atoi(buf) == 0 ? "0" : atoi(buf) > 1300 ? "high" : "mid");
    }
    snprintf(p, sizeof p, "/proc/self/task/%d/oom_score_adj", getpid());
    slurp(p);
    printf("thread oom_score_adj: %s", buf);
    /* Read-only files refuse writing. */
    int fd = open("/proc/self/oom_score", O_WRONLY);
    printf("open oom_score for write: %s\n", fd < 0 ? en(errno) : "OK");
    if (fd >= 0) close(fd);

    /* auxv: pairs ending with AT_NULL, agreeing with getauxval. */
    long n = slurp("/proc/self/auxv");
    unsigned long *av = (unsigned long *)buf;
    int pairs = n / 16, pagesz = 0, entry = 0, rnd = 0, phdr = 0;
    for (int i = 0; i < pairs; i++) {
        if (av[2 * i] == AT_PAGESZ) pagesz = av[2 * i + 1] == 4096;
        if (av[2 * i] == AT_ENTRY) entry = av[2 * i + 1] == getauxval(AT_ENTRY);
        if (av[2 * i] == AT_RANDOM) rnd = av[2 * i + 1] == getauxval(AT_RANDOM);
        if (av[2 * i] == AT_PHDR) phdr = av[2 * i + 1] == getauxval(AT_PHDR);
    }
    printf("auxv: whole=%d null_last=%d pagesz=%d entry=%d random=%d phdr=%d\n", n % 16 == 0,
           n >= 16 && av[2 * pairs - 2] == 0, pagesz, entry, rnd, phdr);
}

static volatile unsigned long target = 0x1122334455667788UL;

static void mem(void) {
    int fd = open("/proc/self/mem", O_RDWR);
    printf("open mem: %s\n", fd < 0 ? en(errno) : "OK");
    if (fd < 0) return;
    unsigned long v = 0;
    ssize_t r = pread(fd, &v, 8, (off_t)(unsigned long)&target);
    printf("read own: %zd %d\n", r, v == target);
    v = 0xdeadbeefcafef00dUL;
    r = pwrite(fd, &v, 8, (off_t)(unsigned long)&target);
    printf("write own: %zd %d\n", r, target == 0xdeadbeefcafef00dUL);
    errno = 0;
    r = pread(fd, &v, 8, 0);
    printf("read at 0: %zd %s\n", r, en(errno));
    errno = 0;
    r = pwrite(fd, &v, 8, 4096);
    printf("write at 4096: %zd %s\n", r, en(errno));
    /* lseek to the address and read(). */
    off_t o = lseek(fd, (off_t)(unsigned long)&target, SEEK_SET);
    r = read(fd, &v, 8);
    printf("lseek+read: %d %zd %d\n", o == (off_t)(unsigned long)&target, r, v == target);
    /* Forced writes: a read-only private page is copied and written; a
     * read-only shared file mapping is not written through. */
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r = pwrite(fd, "xy", 2, (off_t)(unsigned long)ro);
    printf("force private: %zd %c\n", r, ro[1]);
    int tf = open("/tmp/procfs_more_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(tf, "abcd", 4);
    close(tf);
    tf = open("/tmp/procfs_more_file", O_RDONLY);
    char *sh = mmap(NULL, 4096, PROT_READ, MAP_SHARED, tf, 0);
    errno = 0;
    r = pwrite(fd, "zz", 2, (off_t)(unsigned long)sh);
    printf("force shared ro: %zd %s %c\n", r, en(errno), sh[0]);
    munmap(sh, 4096);
    close(tf);
    unlink("/tmp/procfs_more_file");
    close(fd);
    fd = open("/proc/self/mem", O_RDONLY);
    errno = 0;
    r = write(fd, &v, 8);
    printf("write on O_RDONLY: %zd %s\n", r, en(errno));
    close(fd);

    /* Another process's memory. */
    int go[2], done[2];
    if (pipe(go) || pipe(done)) return;
    pid_t c = fork();
    if (c == 0) {
        char x;
        target = 42;
        write(done[1], "r", 1);
        read(go[0], &x, 1);
        printf("child sees: %lx\n", (unsigned long)target);
        fflush(stdout);
        _exit(0);
    }
    char x;
    read(done[0], &x, 1);
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/mem", c);
    fd = open(p, O_RDWR);
    v = 0;
    r = pread(fd, &v, 8, (off_t)(unsigned long)&target);
    printf("read child: %zd %lu\n", r, v);
    v = 0xabcdef;
    r = pwrite(fd, &v, 8, (off_t)(unsigned long)&target);
    printf("write child: %zd\n", r);
    close(fd);
    fflush(stdout);
    write(go[1], "g", 1);
    int st;
    waitpid(c, &st, 0);
    printf("parent keeps: %d\n", target == 0xdeadbeefcafef00dUL);
}

/* Another user's process: mem, environ and auxv need ptrace access. */
static void foreign(void) {
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) _exit(1);
        const char *f[] = {"mem", "environ", "auxv", "oom_score_adj", "status", NULL};
        for (int i = 0; f[i]; i++) {
            char p[64];
            snprintf(p, sizeof p, "/proc/%d/%s", parent, f[i]);
            int fd = open(p, O_RDONLY);
            printf("user 1000 open root's %s: %s\n", f[i], fd < 0 ? en(errno) : "OK");
            if (fd >= 0) close(fd);
        }
        int fd = open("/proc/self/mem", O_RDWR);
        printf("user 1000 open own mem: %s\n", fd < 0 ? en(errno) : "OK");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
}

static void sys(void) {
    exact("/proc/sys/kernel/ngroups_max");
    exact("/proc/sys/kernel/cap_last_cap");
    exact("/proc/sys/kernel/ostype");
    numeric("/proc/sys/kernel/pid_max");
    slurp("/proc/sys/kernel/hostname");
    printf("hostname: %d\n", strlen(buf) > 1 && buf[strlen(buf) - 1] == '\n');
    slurp("/proc/sys/kernel/domainname");
    printf("domainname: %d\n", strlen(buf) > 1 && buf[strlen(buf) - 1] == '\n');
    char b1[64], b2[64];
    slurp("/proc/sys/kernel/random/boot_id");
    snprintf(b1, sizeof b1, "%s", buf);
    slurp("/proc/sys/kernel/random/boot_id");
    printf("boot_id: uuid=%d stable=%d\n", is_uuid(b1), strcmp(b1, buf) == 0);
    slurp("/proc/sys/kernel/random/uuid");
    snprintf(b2, sizeof b2, "%s", buf);
    slurp("/proc/sys/kernel/random/uuid");
    printf("uuid: uuid=%d fresh=%d v4=%d\n", is_uuid(b2), strcmp(b2, buf) != 0, b2[14] == '4');
    exact("/proc/sys/fs/nr_open");
    exact("/proc/sys/fs/pipe-max-size");
    numeric("/proc/sys/fs/file-max");
    exact("/proc/sys/vm/overcommit_memory");
    exact("/proc/sys/vm/max_map_count");
    numeric("/proc/sys/vm/mmap_min_addr");
    exact("/proc/sys/net/core/somaxconn");
    const char *k[] = {"hostname", "domainname", "pid_max", "ngroups_max", "cap_last_cap",
                       "random", "ostype", "osrelease", NULL};
    listing("/proc/sys/kernel", k);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    top();
    perproc();
    mem();
    foreign();
    sys();
    return 0;
}
