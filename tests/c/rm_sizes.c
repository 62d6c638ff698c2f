/* Sizes, counts and lengths chosen by the program: each call gets a huge
 * one and must return what Linux returns (never abort the kernel). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#define HUGE 0x7ffff0000000UL
#define SHOW(name, expr)                                                                  \
    do {                                                                                  \
        errno = 0;                                                                        \
        long r_ = (long)(expr);                                                           \
        printf("%-28s %ld %s\n", name, r_ < 0 ? -1L : r_, r_ < 0 ? strerror(errno) : ""); \
    } while (0)

#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Wnonnull"

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    static char buf[4096];
    static unsigned char vec[4096];
    SHOW("mlock", mlock(0, HUGE));
    SHOW("mlock big", mlock(0, ~0UL));
    SHOW("munlock", munlock(0, HUGE));
    SHOW("mlock2", syscall(SYS_mlock2, 0, HUGE, 0));
    SHOW("mincore", mincore(0, HUGE, vec));
    SHOW("mincore at stack", mincore((void *)((uintptr_t)buf & ~4095UL), HUGE, vec));
    SHOW("msync", msync(0, HUGE, MS_SYNC));
    SHOW("madvise overflow", madvise((void *)0x100000, ~0UL - 0x10000, MADV_DONTNEED));
    SHOW("madvise unmapped", madvise((void *)0x7ff000000000UL, 1UL << 30, MADV_NORMAL));
    SHOW("madvise bad advice", madvise(buf - ((uintptr_t)buf & 4095), 4096, 12345));
    SHOW("madvise kernel range", madvise((void *)0xffff800000000000UL, 4096, MADV_DONTNEED));
    SHOW("madvise above user", madvise((void *)0x800000000000UL, 4096, MADV_NORMAL));
    SHOW("mremap", mremap(buf, HUGE, HUGE, 0));
    char small[64];
    snprintf(small, sizeof small, "/tmp/rm_sizes.%d", getpid());
    int fd = open(small, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (write(fd, "0123456789", 10) != 10)
        return 1;
    int z = open("/dev/zero", O_RDONLY);
    SHOW("read huge", pread(fd, buf, HUGE, 0) > 0);
    SHOW("read zero huge", read(z, (void *)8, HUGE));
    SHOW("write null huge", write(1, (void *)0, HUGE));
    struct iovec iov[2] = {{buf, HUGE}, {buf, HUGE}};
    lseek(fd, 0, SEEK_SET);
    SHOW("readv huge len", readv(fd, iov, 2));
    SHOW("readv huge cnt", readv(fd, iov, 1 << 30));
    SHOW("writev huge cnt", writev(1, iov, 1 << 30));
    int d = open("/", O_RDONLY | O_DIRECTORY);
    SHOW("getdents64 huge", syscall(SYS_getdents64, d, (void *)8, HUGE));
    SHOW("getdents64 int max", syscall(SYS_getdents64, d, (void *)8, 0x7fffffffUL));
    SHOW("getrandom bad buf", getrandom((void *)8, HUGE, 0));
    SHOW("poll huge nfds", poll((void *)8, 1UL << 40, 0));
    SHOW("poll max nfds", poll((void *)8, 0xffffffffUL, 0));
    SHOW("select huge nfds", select(1 << 30, 0, 0, 0, &(struct timeval){0, 0}));
    SHOW("pselect neg nfds", syscall(SYS_pselect6, -1, 0, 0, 0, 0, 0));
    int ep = epoll_create1(0);
    SHOW("epoll_wait huge max", epoll_wait(ep, (void *)8, 0x7fffffff, 0));
    SHOW("epoll_wait neg max", epoll_wait(ep, (void *)8, -1, 0));
    SHOW("getgroups huge", syscall(SYS_getgroups, 0x7fffffff, (void *)0));
    SHOW("getgroups neg", syscall(SYS_getgroups, -1, buf));
    SHOW("setgroups huge", syscall(SYS_setgroups, 0x7fffffff, (void *)8));
    SHOW("sched_getaffinity huge", syscall(SYS_sched_getaffinity, 0, HUGE, (void *)8));
    SHOW("sched_setaffinity huge", syscall(SYS_sched_setaffinity, 0, HUGE, (void *)8));
    SHOW("getxattr huge", getxattr("/", "user.x", (void *)8, HUGE));
    SHOW("listxattr huge", listxattr("/", (void *)8, HUGE));
    SHOW("setxattr huge", setxattr("/tmp", "user.x", (void *)8, HUGE, 0));
    SHOW("readlink huge", readlink("/proc/self/exe", (void *)8, HUGE));
    SHOW("readlink neg", syscall(SYS_readlink, "/proc/self/exe", buf, -1L));
    SHOW("getcwd huge", syscall(SYS_getcwd, (void *)8, HUGE));
    SHOW("getcwd ok", syscall(SYS_getcwd, buf, HUGE) > 0);
    int p[2];
    if (pipe2(p, O_NONBLOCK))
        return 1;
    SHOW("sendfile huge", sendfile(p[1], z, 0, HUGE) > 0);
    SHOW("sendfile bad off", sendfile(p[1], z, (void *)8, HUGE));
    char tname[64];
    snprintf(tname, sizeof tname, "/tmp/rm_sizes_t.%d", getpid());
    int t = open(tname, O_CREAT | O_RDWR | O_TRUNC, 0600);
    SHOW("copy_file_range huge", copy_file_range(fd, 0, t, 0, HUGE, 0) > 0);
    SHOW("ftruncate huge", ftruncate(t, 1L << 62));
    SHOW("fallocate huge", fallocate(t, 0, 0, 1L << 62));
    SHOW("pwrite huge off", pwrite(t, "x", 1, (1L << 62)));
    SHOW("vmsplice huge cnt", syscall(SYS_vmsplice, p[1], iov, 1 << 30, 0));
    SHOW("sethostname huge", sethostname((void *)8, HUGE));
    struct timespec zero = {0, 0};
    SHOW("ppoll huge nfds", syscall(SYS_ppoll, (void *)8, 1UL << 40, &zero, 0, 8));
    SHOW("rt_sigprocmask bad size", syscall(SYS_rt_sigprocmask, 0, 0, buf, HUGE));
    unlink(small);
    unlink(tname);
    return 0;
}
