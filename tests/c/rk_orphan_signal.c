/* Orphans' exit signals and signals to init.
 * "reparent SIG": a child clones a grandchild whose exit signal is SIG, then exits; the
 *   grandchild is reparented (to init in the sandbox; to this process, a subreaper, natively)
 *   and exits: the reaper must get SIGCHLD, not SIG (Linux resets the exit signal).
 * "signalfd": the parent (init in the sandbox) blocks SIGCHLD and SIGTERM and reads them from
 *   a signalfd: a child's SIGTERM to it and the child's exit SIGCHLD both arrive.
 * "killinit": (run as the sandbox's init) a child sends SIGSTOP/SIGKILL/SIGTERM to pid 1
 *   by kill, tkill and tgkill: init has no handler, so nothing happens to it. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_chld;
static void on_chld(int s) { (void)s; got_chld++; }

static int reparent(int sig) {
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* natively the orphan comes back to us */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t a = fork();
    if (a == 0) {
        /* Child A: a grandchild with exit signal `sig`, then exit. */
        long b = syscall(SYS_clone, (unsigned long)sig, 0, 0, 0, 0);
        if (b == 0) {
            /* Grandchild B: wait until A and the reaper closed the pipe, then exit. */
            close(pfd[1]);
            char c;
            while (read(pfd[0], &c, 1) < 0 && errno == EINTR) {
            }
            usleep(100 * 1000);
            _exit(7);
        }
        _exit(b > 0 ? 0 : 1);
    }
    int st;
    if (waitpid(a, &st, 0) != a) { perror("waitpid a"); return 1; }
    printf("A exited %d\n", WEXITSTATUS(st));
    close(pfd[0]);
    close(pfd[1]); /* B may go now */
    pid_t b;
    while ((b = waitpid(-1, &st, __WALL)) < 0 && errno == EINTR) {
    }
    if (b < 0) { perror("waitpid b"); return 1; }
    printf("B reaped: exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
    usleep(50 * 1000);
    printf("got SIGCHLD: %s\n", got_chld ? "yes" : "no");
    printf("still running\n");
    return 0;
}

static int killinit(void) {
    if (getpid() != 1) { printf("not init\n"); return 1; }
    int sigs[] = {SIGSTOP, SIGKILL, SIGTERM, SIGINT};
    pid_t c = fork();
    if (c == 0) {
        for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            int s = sigs[i];
            printf("kill(1,%d)=%d tkill=%ld tgkill=%ld\n", s, kill(1, s),
                   syscall(SYS_tkill, 1, s), syscall(SYS_tgkill, 1, 1, s));
        }
        fflush(stdout);
        _exit(0);
    }
    int st;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    usleep(100 * 1000);
    printf("init alive\n");
    return 0;
}

static int via_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, 0);
    pid_t c = fork();
    if (c == 0) {
        kill(getppid(), SIGTERM);
        _exit(3);
    }
    int got_term = 0, got_chld = 0;
    for (int i = 0; i < 2 && !(got_term && got_chld); i++) {
        struct pollfd pfd = {sfd, POLLIN, 0};
        if (poll(&pfd, 1, 5000) != 1) break;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != sizeof si) break;
        if (si.ssi_signo == SIGTERM) got_term = 1;
        if (si.ssi_signo == SIGCHLD) got_chld = 1;
    }
    int st;
    waitpid(c, &st, 0);
    printf("SIGTERM via signalfd: %s\nSIGCHLD via signalfd: %s\nchild code %d\n",
           got_term ? "yes" : "no", got_chld ? "yes" : "no", WEXITSTATUS(st));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && strcmp(argv[1], "reparent") == 0) return reparent(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "killinit") == 0) return killinit();
    if (argc == 2 && strcmp(argv[1], "signalfd") == 0) return via_signalfd();
    fprintf(stderr, "usage\n");
    return 2;
}
