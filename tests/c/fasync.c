/* Signal-driven I/O: fcntl F_SETOWN/F_GETOWN, F_SETOWN_EX/F_GETOWN_EX, F_SETSIG/F_GETSIG,
 * O_ASYNC through F_SETFL and ioctl FIOASYNC, SIGIO on a pipe and on a socketpair when data
 * arrives. Prints what it sees; the test compares with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t sigio, sigusr;
static void on_io(int s) { (void)s; sigio++; }
static void on_usr(int s) { (void)s; sigusr++; }

static void wait_signal(volatile sig_atomic_t *flag) {
    for (int i = 0; i < 200 && !*flag; i++) usleep(10000);
}

int main(void) {
    signal(SIGIO, on_io);
    signal(SIGUSR1, on_usr);
    int p[2];
    if (pipe(p)) return 1;
    printf("owner before: %d\n", fcntl(p[0], F_GETOWN));
    printf("setown self: %d\n", fcntl(p[0], F_SETOWN, getpid()));
    printf("owner is self: %d\n", fcntl(p[0], F_GETOWN) == getpid());
    errno = 0;
    int r = fcntl(p[0], F_SETOWN, 999999);
    printf("setown missing pid: %d errno %s\n", r, strerror(errno));
    struct f_owner_ex ex = {0};
    fcntl(p[0], F_GETOWN_EX, &ex);
    printf("getown_ex type %d is self %d\n", ex.type, ex.pid == getpid());
    ex.type = 7;
    errno = 0;
    r = fcntl(p[0], F_SETOWN_EX, &ex);
    printf("setown_ex bad type: %d errno %s\n", r, strerror(errno));
    printf("async flag before: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC);
    printf("async flag after: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
    if (write(p[1], "x", 1) != 1) return 1;
    wait_signal(&sigio);
    printf("sigio on pipe data: %d\n", sigio > 0);
    char c;
    if (read(p[0], &c, 1) != 1) return 1;
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_ASYNC);
    printf("async flag cleared: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
    sigio = 0;
    if (write(p[1], "y", 1) != 1) return 1;
    usleep(100000);
    printf("no sigio once cleared: %d\n", sigio == 0);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) { printf("socketpair: %s\n", strerror(errno)); return 0; }
    int on = 1;
    r = fcntl(sv[0], F_SETSIG, SIGUSR1);
    printf("setsig usr1: %d getsig %d\n", r, fcntl(sv[0], F_GETSIG));
    errno = 0;
    r = fcntl(sv[0], F_SETSIG, 99);
    printf("setsig 99: %d errno %s\n", r, strerror(errno));
    fcntl(sv[0], F_SETOWN, getpid());
    printf("fioasync: %d\n", ioctl(sv[0], FIOASYNC, &on));
    printf("async via ioctl: %d\n", !!(fcntl(sv[0], F_GETFL) & O_ASYNC));
    if (write(sv[1], "z", 1) != 1) return 1;
    wait_signal(&sigusr);
    printf("setsig signal on socket data: %d\n", sigusr > 0);
    return 0;
}
