// pidfd_open, pidfd_send_signal, pidfd_getfd, waitid(P_PIDFD), CLONE_PIDFD (clone and
// clone3), poll on a pidfd, and kcmp, with good and bad arguments, printed for a diff
// against a native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s %ld\n", what, r);
}

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }

static int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, ms);
    return n > 0 ? p.revents : n;
}

static pid_t sleeper(void) {
    pid_t c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    return c;
}

static volatile int got_usr1;
static void on_usr1(int s) { (void)s; got_usr1++; }

static volatile pid_t thread_tid;
static void *thread_main(void *arg) {
    (void)arg;
    thread_tid = gettid();
    sleep(100);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    show("pidfd_open 0", pidfd_open(0, 0));
    show("pidfd_open -1", pidfd_open(-1, 0));
    show("pidfd_open bad flags", pidfd_open(getpid(), 1));
    show("pidfd_open no such pid", pidfd_open(999999, 0));
    int self = pidfd_open(getpid(), 0);
    printf("self pidfd ok %d cloexec %d\n", self >= 0, (fcntl(self, F_GETFD) & FD_CLOEXEC) != 0);
    char link[64] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", self);
    readlink(path, link, sizeof link - 1);
    printf("link %s\n", link);
    char b[8];
    show("read pidfd", read(self, b, sizeof b));
    show("write pidfd", write(self, b, 1));
    show("openat pidfd", openat(self, "x", O_RDONLY));
    printf("self readable %d\n", readable(self, 0));
    // A thread that is not the leader.
    pthread_t th;
    pthread_create(&th, NULL, thread_main, NULL);
    usleep(20000);
    // Signals through a pidfd.
    signal(SIGUSR1, on_usr1);
    show("send_signal self SIGUSR1", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 0));
    printf("got_usr1 %d\n", got_usr1);
    show("send_signal sig 0", syscall(SYS_pidfd_send_signal, self, 0, NULL, 0));
    show("send_signal sig 65", syscall(SYS_pidfd_send_signal, self, 65, NULL, 0));
    show("send_signal bad flags", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 8));
    show("send_signal two flags", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 3));
    show("send_signal not a pidfd", syscall(SYS_pidfd_send_signal, 1, SIGUSR1, NULL, 0));
    show("send_signal bad fd", syscall(SYS_pidfd_send_signal, 99, SIGUSR1, NULL, 0));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_value.sival_int = 7;
    show("send_signal info self", syscall(SYS_pidfd_send_signal, self, SIGUSR1, &si, 0));
    printf("got_usr1 %d\n", got_usr1);
    si.si_signo = SIGUSR2;
    show("send_signal info signo mismatch", syscall(SYS_pidfd_send_signal, self, SIGUSR1, &si, 0));
    show("send_signal bad info ptr", syscall(SYS_pidfd_send_signal, self, SIGUSR1, (void *)8, 0));
    // A child: poll, signal, waitid(P_PIDFD).
    pid_t c = sleeper();
    int cfd = pidfd_open(c, 0);
    printf("child readable before %d\n", readable(cfd, 0));
    si.si_signo = SIGTERM;
    si.si_code = 0;
    show("send_signal info si_code 0 to child", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, &si, 0));
    show("send_signal SIGTERM", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, NULL, 0));
    printf("child readable after exit %d\n", readable(cfd, 5000));
    show("send_signal to zombie", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, NULL, 0));
    memset(&si, 0, sizeof si);
    show("waitid P_PIDFD", waitid(P_PIDFD, cfd, &si, WEXITED));
    printf("si pid match %d status %d code %d\n", si.si_pid == c, si.si_status, si.si_code);
    show("send_signal after reap", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, NULL, 0));
    printf("readable after reap %#x\n", readable(cfd, 0));
    show("waitid P_PIDFD again", waitid(P_PIDFD, cfd, &si, WEXITED));
    show("waitid P_PIDFD bad fd", waitid(P_PIDFD, 99, &si, WEXITED));
    show("waitid P_PIDFD not pidfd", waitid(P_PIDFD, 1, &si, WEXITED));
    show("pidfd_open reaped", pidfd_open(c, 0));
    close(cfd);
    // Non-blocking pidfd with waitid.
    c = sleeper();
    cfd = pidfd_open(c, PIDFD_NONBLOCK);
    printf("nonblock flag %d\n", (fcntl(cfd, F_GETFL) & O_NONBLOCK) != 0);
    show("waitid nonblock running", waitid(P_PIDFD, cfd, &si, WEXITED));
    memset(&si, 0, sizeof si);
    show("waitid nonblock WNOHANG running", waitid(P_PIDFD, cfd, &si, WEXITED | WNOHANG));
    printf("si pid %d\n", si.si_pid);
    kill(c, SIGKILL);
    readable(cfd, 5000);
    show("waitid nonblock exited", waitid(P_PIDFD, cfd, &si, WEXITED));
    printf("status %d code %d\n", si.si_status, si.si_code);
    close(cfd);
    // pidfd_getfd.
    int pipefd[2];
    pipe(pipefd);
    c = fork();
    if (c == 0) {
        int keep = open("/dev/null", O_RDONLY);
        dup2(keep, 42);
        write(pipefd[1], "r", 1);
        for (;;)
            pause();
    }
    read(pipefd[0], b, 1);
    cfd = pidfd_open(c, 0);
    int got = syscall(SYS_pidfd_getfd, cfd, 42, 0);
    printf("getfd ok %d cloexec %d\n", got >= 0, got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC));
    if (got >= 0) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", got);
        memset(link, 0, sizeof link);
        readlink(path, link, sizeof link - 1);
        printf("getfd link %s\n", link);
    }
    show("getfd flags", syscall(SYS_pidfd_getfd, cfd, 42, 1));
    show("getfd closed target fd", syscall(SYS_pidfd_getfd, cfd, 77, 0));
    show("getfd negative target fd", syscall(SYS_pidfd_getfd, cfd, -1, 0));
    show("getfd not pidfd", syscall(SYS_pidfd_getfd, 0, 42, 0));
    // kcmp.
    int dupd = dup(0);
    printf("kcmp file same %ld\n", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, dupd));
    printf("kcmp file differs %d\n", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, pipefd[0]) > 0);
    printf("kcmp file getfd vs child same %ld\n", syscall(SYS_kcmp, getpid(), c, 0, got, 42));
    printf("kcmp vm self %ld\n", syscall(SYS_kcmp, getpid(), getpid(), 1, 0, 0));
    printf("kcmp vm child differs %d\n", syscall(SYS_kcmp, getpid(), c, 1, 0, 0) > 0);
    printf("kcmp files child differs %d\n", syscall(SYS_kcmp, getpid(), c, 2, 0, 0) > 0);
    long r1 = syscall(SYS_kcmp, getpid(), c, 1, 0, 0), r2 = syscall(SYS_kcmp, c, getpid(), 1, 0, 0);
    printf("kcmp order antisymmetric %d\n", (r1 == 1 && r2 == 2) || (r1 == 2 && r2 == 1));
    show("kcmp bad type", syscall(SYS_kcmp, getpid(), getpid(), 9, 0, 0));
    show("kcmp no such pid", syscall(SYS_kcmp, getpid(), 999999, 1, 0, 0));
    show("kcmp bad fd", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 99));
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {0}};
    epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);
    struct { uint32_t efd, tfd, toff; } slot = {ep, pipefd[0], 0};
    printf("kcmp epoll tfd same %ld\n", syscall(SYS_kcmp, getpid(), getpid(), 7, pipefd[0], &slot));
    slot.tfd = 55;
    show("kcmp epoll tfd missing", syscall(SYS_kcmp, getpid(), getpid(), 7, pipefd[0], &slot));
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    // CLONE_PIDFD through clone3.
    int cl_pidfd = -1;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&cl_pidfd;
    ca.exit_signal = SIGCHLD;
    long k = syscall(SYS_clone3, &ca, sizeof ca);
    if (k == 0)
        _exit(3);
    printf("clone3 pidfd ok %d\n", k > 0 && cl_pidfd >= 0);
    memset(&si, 0, sizeof si);
    show("waitid clone3 pidfd", waitid(P_PIDFD, cl_pidfd, &si, WEXITED));
    printf("clone3 child status %d\n", si.si_status);
    ca.pidfd = 8;
    show("clone3 pidfd bad address", syscall(SYS_clone3, &ca, sizeof ca));
    // A thread that does not lead its group: only with PIDFD_THREAD.
    show("pidfd_open non-leader thread", pidfd_open(thread_tid, 0));
    int tfd = pidfd_open(thread_tid, PIDFD_THREAD);
    printf("pidfd_open PIDFD_THREAD ok %d\n", tfd >= 0);
    printf("thread pidfd readable %d\n", readable(tfd, 0));
    fflush(stdout);
    return 0;
}
