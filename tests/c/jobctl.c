/* Job control and signal waiting: stop/continue reports, sigtimedwait,
 * sigqueue, signalfd. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int st;
    pid_t c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    kill(c, SIGSTOP);
    CHECK("WUNTRACED reports the stop", waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    kill(c, SIGCONT);
    CHECK("WCONTINUED reports the continue", waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st));
    kill(c, SIGKILL);
    CHECK("then SIGKILL", waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    union sigval v = {.sival_int = 77};
    CHECK("sigqueue to self", sigqueue(getpid(), SIGRTMIN, v) == 0);
    siginfo_t si;
    struct timespec ts = {1, 0};
    int s = sigtimedwait(&set, &si, &ts);
    CHECK("sigtimedwait takes it with its value", s == SIGRTMIN && si.si_value.sival_int == 77 && si.si_code == SI_QUEUE);
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;
    CHECK("sigtimedwait times out: EAGAIN", sigtimedwait(&set, &si, &ts) == -1);

    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    CHECK("signalfd", fd >= 0);
    raise(SIGUSR1);
    struct signalfd_siginfo ssi;
    CHECK("signalfd read", read(fd, &ssi, sizeof ssi) == sizeof ssi && ssi.ssi_signo == SIGUSR1);
    return 0;
}
