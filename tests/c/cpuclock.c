/* CPU-time clocks: process, thread, another process's, getrusage, times. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

static double secs(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Works until the process has used `s` seconds of CPU (at most 20 s of wall time): on a
 * loaded machine a fixed wall time may give it too little CPU for the checks below. */
static void burn(double s) {
    double w0 = secs(CLOCK_MONOTONIC), c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    while (secs(CLOCK_PROCESS_CPUTIME_ID) - c0 < s && secs(CLOCK_MONOTONIC) - w0 < 20) x++;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    double p0 = secs(CLOCK_PROCESS_CPUTIME_ID), t0 = secs(CLOCK_THREAD_CPUTIME_ID);
    burn(0.2);
    double p1 = secs(CLOCK_PROCESS_CPUTIME_ID), t1 = secs(CLOCK_THREAD_CPUTIME_ID);
    CHECK("process CPU clock advances with work", p1 - p0 > 0.1);
    CHECK("thread CPU clock advances with work", t1 - t0 > 0.1);
    clockid_t c;
    CHECK("clock_getcpuclockid(self)", clock_getcpuclockid(0, &c) == 0 && secs(c) >= p1);
    pid_t kid = fork();
    if (kid == 0) { burn(0.2); _exit(0); }
    waitpid(kid, NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    CHECK("RUSAGE_CHILDREN counts the reaped child", ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec > 100000);
    getrusage(RUSAGE_SELF, &ru);
    CHECK("RUSAGE_SELF", ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec > 100000);
    struct tms tm;
    times(&tm);
    CHECK("times", tm.tms_utime + tm.tms_stime >= 10 && tm.tms_cutime + tm.tms_cstime >= 10);
    return 0;
}
