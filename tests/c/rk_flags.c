/* Unknown or invalid flag bits: each call prints its result and errno, to compare with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: ok\n", what);
}

/* clone3 that must fail: a child that appears anyway exits at once. */
static void try_clone3(const char *what, void *args, size_t size) {
    long r = syscall(SYS_clone3, args, size);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, __WALL);
    show(what, r);
}

static void try_clone(const char *what, unsigned long flags) {
    long r = syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, __WALL);
    show(what, r);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    uint64_t a[16];
    memset(a, 0, sizeof a);
    a[4] = SIGCHLD;
    try_clone3("clone3 ok", a, 64);
    a[0] = 1ULL << 40;
    try_clone3("clone3 unknown flag", a, 64);
    a[0] = 0;
    try_clone3("clone3 size 63", a, 63);
    try_clone3("clone3 size 8192", a, 8192);
    a[11] = 1;
    try_clone3("clone3 nonzero tail", a, 96);
    a[11] = 0;
    a[4] = 65;
    try_clone3("clone3 exit_signal 65", a, 64);
    a[4] = 1ULL << 32 | SIGCHLD;
    try_clone3("clone3 exit_signal high bits", a, 64);
    a[4] = SIGCHLD;
    a[9] = 1;
    try_clone3("clone3 set_tid_size without set_tid", a, 88);
    a[9] = 0;
    a[6] = 4096;
    try_clone3("clone3 stack_size without stack", a, 64);
    a[6] = 0;
    a[0] = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    try_clone3("clone3 thread with exit_signal", a, 64);
    a[0] = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
    a[4] = 0;
    try_clone3("clone3 sighand+clear_sighand", a, 64);
    a[0] = CLONE_DETACHED;
    try_clone3("clone3 detached", a, 64);
    a[0] = CLONE_INTO_CGROUP;
    a[10] = 1ULL << 40;
    try_clone3("clone3 cgroup out of range", a, 88);
    a[10] = 0;
    a[0] = CLONE_PIDFD | CLONE_DETACHED;
    try_clone("clone pidfd+detached", a[0] | SIGCHLD);
    try_clone("clone thread without sighand", CLONE_THREAD | CLONE_VM);
    try_clone("clone sighand without vm", CLONE_SIGHAND | SIGCHLD);
    try_clone("clone newns with fs", CLONE_NEWNS | CLONE_FS | SIGCHLD);

    int st;
    show("wait4 unknown option", syscall(SYS_wait4, -1, &st, 0x100 | WNOHANG, 0));
    show("wait4 __WNOTHREAD", syscall(SYS_wait4, -1, &st, __WNOTHREAD | WNOHANG, 0));
    siginfo_t si;
    show("waitid unknown option", syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | 0x100, 0));
    show("waitid bad idtype", syscall(SYS_waitid, 7, 0, &si, WEXITED | WNOHANG, 0));
    show("pipe2 unknown flag", syscall(SYS_pipe2, (int[2]){0, 0}, 0x1));
    show("dup3 unknown flag", syscall(SYS_dup3, 1, 20, 0x1));
    show("dup3 same fd", syscall(SYS_dup3, 1, 1, 0));
    show("eventfd2 unknown flag", syscall(SYS_eventfd2, 0, 0x4));
    sigset_t ss;
    sigemptyset(&ss);
    show("signalfd4 unknown flag", syscall(SYS_signalfd4, -1, &ss, 8, 0x1));
    show("signalfd4 bad size", syscall(SYS_signalfd4, -1, &ss, 4, 0));
    show("timerfd_create unknown flag", syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0x1));
    show("timerfd_create bad clock", syscall(SYS_timerfd_create, 99, 0));
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    show("timerfd_settime unknown flag", syscall(SYS_timerfd_settime, tfd, 0x4, &its, NULL));
    show("epoll_create1 unknown flag", syscall(SYS_epoll_create1, 0x1));
    show("epoll_create 0", syscall(SYS_epoll_create, 0));
    show("rt_sigprocmask bad how", syscall(SYS_rt_sigprocmask, 3, &ss, NULL, 8));
    show("rt_sigprocmask bad size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &ss, NULL, 4));
    show("rt_sigaction bad size", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
    show("rt_sigaction sigkill", syscall(SYS_rt_sigaction, SIGKILL, &(struct sigaction){.sa_handler = SIG_IGN}, NULL, 8));
    show("rt_sigaction signal 65", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
    int fw = 0;
    show("futex unknown op", syscall(SYS_futex, &fw, 99, 1, NULL, NULL, 0));
    show("futex wake clock_realtime", syscall(SYS_futex, &fw, 1 | 256, 1, NULL, NULL, 0));
    show("futex wait clock_realtime", syscall(SYS_futex, &fw, 0 | 256, 1, NULL, NULL, 0));
    show("futex requeue negative", syscall(SYS_futex, &fw, 3, -1, NULL, &fw, 0));
    int p[2];
    pipe(p);
    show("splice unknown flag", syscall(SYS_splice, p[0], NULL, p[1], NULL, 1, 0x10));
    show("tee unknown flag", syscall(SYS_tee, p[0], p[1], 1, 0x10));
    show("vmsplice unknown flag", syscall(SYS_vmsplice, p[1], NULL, 0, 0x10));
    show("kill signal 65", syscall(SYS_kill, getpid(), 65));
    show("tgkill signal 65", syscall(SYS_tgkill, getpid(), getpid(), 65));
    show("rt_sigqueueinfo signal 0", syscall(SYS_rt_sigqueueinfo, getpid(), 0, &si));
    return 0;
}
