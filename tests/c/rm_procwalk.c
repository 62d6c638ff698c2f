/* Walks every file under /proc and /sys: reads each file fully, readlinks
 * each link, lists each directory; as root, then again as uid 1000. Then
 * checks that /proc/cpuinfo, /proc/meminfo and /proc/loadavg are well formed.
 * Only run in the sandbox (natively /proc holds files like kcore). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long files, links, dirs;

static void walk(const char *path, int depth) {
    struct stat st;
    if (depth > 8 || lstat(path, &st) != 0)
        return;
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        (void)readlink(path, buf, sizeof buf);
        links++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        int fd = open(path, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) {
            char buf[8192];
            long total = 0;
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0 && total < (64 << 20))
                total += n;
            close(fd);
        }
        files++;
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    dirs++;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        walk(sub, depth + 1);
    }
    closedir(d);
}

static char *slurp(const char *p) {
    static char buf[1 << 16];
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", p, strerror(errno));
        exit(1);
    }
    ssize_t n, t = 0;
    while ((n = read(fd, buf + t, sizeof buf - 1 - t)) > 0)
        t += n;
    buf[t] = 0;
    close(fd);
    return buf;
}

int main(void) {
    walk("/proc", 0);
    walk("/sys", 0);
    printf("root walk: files %s, links %s, dirs %s\n", files > 20 ? "many" : "few",
           links > 3 ? "many" : "few", dirs > 5 ? "many" : "few");
    if (setgid(1000) || setuid(1000)) {
        perror("setuid");
        return 1;
    }
    files = links = dirs = 0;
    walk("/proc", 0);
    walk("/sys", 0);
    printf("uid 1000 walk: files %s\n", files > 20 ? "many" : "few");

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char *c = slurp("/proc/cpuinfo");
    long procs = 0;
    for (char *p = c; (p = strstr(p, "processor\t: ")); p++)
        procs++;
    printf("cpuinfo: %s, model name %s, flags %s\n",
           procs == cpus ? "one entry per cpu" : "WRONG COUNT",
           strstr(c, "model name\t: ") ? "yes" : "no", strstr(c, "\nflags\t\t: ") ? "yes" : "no");
    char *m = slurp("/proc/meminfo");
    unsigned long total = 0, freek = 0, avail = 0;
    char *t = strstr(m, "MemTotal:"), *f = strstr(m, "MemFree:"), *a = strstr(m, "MemAvailable:");
    if (t) sscanf(t, "MemTotal: %lu kB", &total);
    if (f) sscanf(f, "MemFree: %lu kB", &freek);
    if (a) sscanf(a, "MemAvailable: %lu kB", &avail);
    printf("meminfo: total %s, free %s, available %s\n", total > 0 ? "ok" : "BAD",
           freek > 0 && freek <= total ? "ok" : "BAD", avail > 0 && avail <= total ? "ok" : "BAD");
    char *l = slurp("/proc/loadavg");
    double a1, a5, a15;
    int run, all, last;
    int k = sscanf(l, "%lf %lf %lf %d/%d %d", &a1, &a5, &a15, &run, &all, &last);
    printf("loadavg: %s\n", k == 6 && run >= 1 && all >= run && last >= 1 ? "ok" : "BAD");
    return 0;
}
