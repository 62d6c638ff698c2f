/* POSIX timers, timerfd, itimers. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
static volatile int ticks, val;
static void on_rt(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    ticks++;
    val = si->si_value.sival_int;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 20000000}, {0, 20000000}};
    CHECK("timerfd_settime", timerfd_settime(fd, 0, &its, NULL) == 0);
    uint64_t n = 0, total = 0;
    while (total < 3) { read(fd, &n, 8); total += n; }
    CHECK("timerfd expirations", total >= 3);
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    CHECK("timerfd_gettime interval", cur.it_interval.tv_nsec == 20000000);

    struct sigaction sa = {0};
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_value.sival_int = 1234;
    timer_t t;
    CHECK("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    struct itimerspec one = {{0, 0}, {0, 30000000}};
    timer_settime(t, 0, &one, NULL);
    while (!ticks) pause();
    CHECK("timer signal with its value", ticks == 1 && val == 1234);
    CHECK("timer_delete", timer_delete(t) == 0);

    struct itimerval itv = {{0, 0}, {0, 30000}};
    signal(SIGALRM, SIG_IGN);
    CHECK("setitimer", setitimer(ITIMER_REAL, &itv, NULL) == 0);
    struct itimerval g;
    getitimer(ITIMER_REAL, &g);
    CHECK("getitimer counts down", g.it_value.tv_sec == 0 && g.it_value.tv_usec <= 30000);
    return 0;
}
