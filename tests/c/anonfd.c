// What /proc/self/fd shows for descriptors without a path (anonymous inodes, pipes,
// sockets), printed with inode numbers masked, for a diff against a native run.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void link_of(const char *what, int fd) {
    char p[64], l[128] = {0};
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, l, sizeof l - 1);
    if (n < 0) {
        printf("%s: readlink failed\n", what);
        return;
    }
    char *br = strchr(l, '[');
    if (br && strncmp(l, "anon_inode:", 11) != 0)
        strcpy(br, "[N]");
    printf("%s: %s\n", what, l);
}

int main(void) {
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    int pfd[2], sv[2];
    pipe(pfd);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    link_of("eventfd", eventfd(0, 0));
    link_of("epoll", epoll_create1(0));
    link_of("timerfd", timerfd_create(CLOCK_MONOTONIC, 0));
    link_of("signalfd", signalfd(-1, &m, 0));
    link_of("inotify", inotify_init1(0));
    link_of("pidfd", syscall(SYS_pidfd_open, getpid(), 0));
    link_of("pipe", pfd[0]);
    link_of("socket", sv[0]);
    link_of("dev/null", open("/dev/null", 0));
    return 0;
}
