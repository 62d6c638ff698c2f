/* System calls given bad user pointers must fail with EFAULT (not crash).
 * Prints "EFAULT ok". Expects argv[0] to be a readable file (the program itself). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bad;

static void expect_efault(const char *what, long r)
{
    if (r != -1 || errno != EFAULT) {
        int e = errno;
        printf("%s = %ld errno=%d (%s), want -1 EFAULT\n", what, r, e, strerror(e));
        bad = 1;
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    /* Raw syscalls: libc wrappers are fine too, but keep it explicit. */
    errno = 0;
    expect_efault("write(1, 0x1, 10)", syscall(SYS_write, 1, (void *)1, 10));
    errno = 0;
    expect_efault("write(1, 0xffff800000000000, 10)", syscall(SYS_write, 1, (void *)0xffff800000000000UL, 10));
    errno = 0;
    expect_efault("write(1, 0x0000800000000000, 10)", syscall(SYS_write, 1, (void *)0x0000800000000000UL, 10));

    int fd = open(argv[0], O_RDONLY);
    if (fd < 0) {
        printf("open(%s): %s\n", argv[0], strerror(errno));
        return 1;
    }
    errno = 0;
    expect_efault("read(fd, 0x1, 10)", syscall(SYS_read, fd, (void *)1, 10));
    errno = 0;
    expect_efault("read(fd, 0xffff800000000000, 10)", syscall(SYS_read, fd, (void *)0xffff800000000000UL, 10));
    close(fd);

    /* A bad path pointer. */
    errno = 0;
    expect_efault("open(0x1)", syscall(SYS_open, (void *)1, O_RDONLY));

    if (bad)
        return 1;
    printf("EFAULT ok\n");
    return 0;
}
