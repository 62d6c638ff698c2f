// preadv, pwritev, preadv2, pwritev2 (offsets, -1, RWF_* flags), the legacy getdents, and
// utime, utimes, futimesat, with good and bad arguments, printed for a diff against a
// native run. argv[1]: a scratch directory.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utime.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s %ld\n", what, r);
}

static void dump(const char *what, int fd) {
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n < 0 ? 0 : n] = 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = '.';
    printf("%s [%s] off %ld\n", what, buf, (long)lseek(fd, 0, SEEK_CUR));
}

struct old_dirent {
    unsigned long ino, off;
    unsigned short reclen;
    char name[];
};

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char a[8] = "AAAA", b[8] = "BBBBBB", r1[4], r2[16];
    struct iovec w[2] = {{a, 4}, {b, 6}};
    show("pwritev at 3", pwritev(fd, w, 2, 3));
    char zero[3];
    pread(fd, zero, 3, 0);
    printf("hole zero %d\n", zero[0] == 0 && zero[2] == 0);
    dump("after pwritev", fd);
    struct iovec rv[2] = {{r1, 4}, {r2, 16}};
    memset(r2, 0, sizeof r2);
    show("preadv at 3", preadv(fd, rv, 2, 3));
    printf("r1 %.4s r2 %s\n", r1, r2);
    show("preadv past end", preadv(fd, rv, 2, 100));
    show("preadv negative", preadv(fd, rv, 2, -5));
    show("preadv iovcnt 1025", syscall(SYS_preadv, fd, rv, 1025, 0, 0));
    show("preadv iovcnt -1", syscall(SYS_preadv, fd, rv, -1, 0, 0));
    show("preadv iovcnt 0", preadv(fd, rv, 0, 0));
    show("preadv bad iov", syscall(SYS_preadv, fd, (struct iovec *)8, 1, 0, 0));
    struct iovec bad[1] = {{(void *)8, 4}};
    show("preadv bad base", preadv(fd, bad, 1, 0));
    show("pwritev bad base", pwritev(fd, bad, 1, 0));
    struct iovec huge[2] = {{r1, (size_t)1 << 62}, {r2, (size_t)1 << 62}};
    show("preadv overflowing lengths", preadv(fd, huge, 2, 0));
    show("preadv bad fd", preadv(99, rv, 2, 0));
    // preadv2 / pwritev2.
    lseek(fd, 1, SEEK_SET);
    show("preadv2 -1 (file offset)", preadv2(fd, rv, 1, -1, 0));
    printf("r1 %d%d%c%c off %ld\n", r1[0], r1[1], r1[2], r1[3], (long)lseek(fd, 0, SEEK_CUR));
    show("preadv2 at 0 keeps offset", preadv2(fd, rv, 1, 0, 0));
    printf("off %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    show("preadv2 -2", preadv2(fd, rv, 1, -2, 0));
    show("preadv2 hipri", preadv2(fd, rv, 1, 0, RWF_HIPRI));
    show("preadv2 unknown flag", preadv2(fd, rv, 1, 0, 0x40000000));
    show("preadv2 bad fd unknown flag", preadv2(99, rv, 1, 0, 0x40000000));
    show("pwritev2 unknown flag", pwritev2(fd, w, 1, 0, 0x40000000));
    show("pwritev2 dsync", pwritev2(fd, w, 1, 0, RWF_DSYNC));
    show("pwritev2 sync", pwritev2(fd, w, 1, 0, RWF_SYNC));
    show("pwritev2 append", pwritev2(fd, w, 1, 0, RWF_APPEND));
    dump("after append", fd);
    show("pwritev2 append -1", pwritev2(fd, w + 1, 1, -1, RWF_APPEND));
    dump("after append -1", fd);
    show("pwritev2 -1", pwritev2(fd, w, 1, -1, 0));
    dump("after -1", fd);
    int afd = open("f", O_RDWR | O_APPEND);
    show("pwritev O_APPEND at 0", pwritev(afd, w, 1, 0));
    dump("after O_APPEND pwritev", afd);
    show("pwritev2 noappend at 0", pwritev2(afd, w + 1, 1, 0, 0x20));
    dump("after noappend", afd);
    close(afd);
    int ro = open("f", O_RDONLY);
    show("pwritev on O_RDONLY", pwritev(ro, w, 1, 0));
    close(ro);
    int wo = open("f", O_WRONLY);
    show("preadv on O_WRONLY", preadv(wo, rv, 1, 0));
    close(wo);
    int p[2];
    pipe(p);
    show("preadv on pipe", preadv(p[0], rv, 1, 0));
    show("pwritev on pipe", pwritev(p[1], w, 1, 0));
    show("preadv2 nowait on empty pipe", preadv2(p[0], rv, 1, -1, RWF_NOWAIT));
    show("pwritev2 -1 on pipe", pwritev2(p[1], w, 2, -1, 0));
    show("preadv2 -1 on pipe", preadv2(p[0], rv, 2, -1, 0));
    printf("r1 %.4s r2 %.6s\n", r1, r2);
    show("preadv2 nowait on pipe with data", (write(p[1], "xy", 2), preadv2(p[0], rv, 1, -1, RWF_NOWAIT)));
    // The legacy getdents.
    mkdir("d", 0755);
    close(open("d/one", O_CREAT | O_WRONLY, 0644));
    mkdir("d/sub", 0755);
    symlink("one", "d/link");
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    char dbuf[4096];
    long n = syscall(SYS_getdents, dfd, dbuf, sizeof dbuf);
    printf("getdents ok %d\n", n > 0);
    char lines[16][64];
    int seen = 0;
    for (long at = 0; at < n && seen < 16;) {
        struct old_dirent *d = (struct old_dirent *)(dbuf + at);
        unsigned char type = dbuf[at + d->reclen - 1];
        snprintf(lines[seen++], 64, "entry %s type %d reclen %u", d->name, type, d->reclen);
        at += d->reclen;
    }
    qsort(lines, seen, 64, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < seen; i++)
        printf("%s\n", lines[i]);
    printf("entries %d\n", seen);
    show("getdents at end", syscall(SYS_getdents, dfd, dbuf, sizeof dbuf));
    lseek(dfd, 0, SEEK_SET);
    show("getdents tiny buffer", syscall(SYS_getdents, dfd, dbuf, 8));
    show("getdents bad buffer", syscall(SYS_getdents, dfd, (void *)8, 4096));
    show("getdents on file", syscall(SYS_getdents, fd, dbuf, sizeof dbuf));
    show("getdents bad fd", syscall(SYS_getdents, 99, dbuf, sizeof dbuf));
    // utime, utimes, futimesat.
    struct utimbuf ub = {1000000000, 1100000000};
    struct stat st;
    show("utime", syscall(SYS_utime, "f", &ub));
    stat("f", &st);
    printf("atime %ld mtime %ld\n", (long)st.st_atime, (long)st.st_mtime);
    struct timeval tv[2] = {{1200000000, 250000}, {1300000000, 999999}};
    show("utimes", syscall(SYS_utimes, "f", tv));
    stat("f", &st);
    printf("atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atime, st.st_atim.tv_nsec,
           (long)st.st_mtime, st.st_mtim.tv_nsec);
    tv[0].tv_usec = 1000000;
    show("utimes usec 1e6", syscall(SYS_utimes, "f", tv));
    tv[0].tv_usec = -1;
    show("utimes usec -1", syscall(SYS_utimes, "f", tv));
    show("utimes missing", syscall(SYS_utimes, "nope", NULL));
    show("utime bad ptr", syscall(SYS_utime, "f", (struct utimbuf *)8));
    show("utimes NULL (now)", syscall(SYS_utimes, "f", NULL));
    stat("f", &st);
    printf("now recent %d\n", st.st_mtime > 1600000000);
    tv[0].tv_usec = 5;
    show("futimesat dirfd", syscall(SYS_futimesat, dfd, "one", tv));
    stat("d/one", &st);
    printf("one mtime %ld.%09ld\n", (long)st.st_mtime, st.st_mtim.tv_nsec);
    show("futimesat NULL path", syscall(SYS_futimesat, dfd, NULL, tv));
    stat("d", &st);
    printf("d mtime %ld\n", (long)st.st_mtime);
    show("fchmod dir fd", fchmod(dfd, 0700));
    struct timespec ts2[2] = {{1400000000, 1}, {1400000001, 2}};
    show("futimens dir fd", futimens(dfd, ts2));
    stat("d", &st);
    printf("d mode %o mtime %ld.%09ld\n", st.st_mode & 07777, (long)st.st_mtime,
           st.st_mtim.tv_nsec);
    show("futimesat link follows", syscall(SYS_futimesat, dfd, "link", tv));
    show("futimesat bad dirfd", syscall(SYS_futimesat, 99, "one", tv));
    show("futimesat AT_FDCWD", syscall(SYS_futimesat, AT_FDCWD, "f", tv));
    return 0;
}
