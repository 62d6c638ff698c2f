/* Setting the clock is refused (EPERM, as in a container without
 * CAP_SYS_TIME) after Linux's argument checks; adjtimex reads. Never run
 * natively as root: it would set the host's clock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r)
{
    printf("%s %ld %s\n", what, r, r < 0 ? strerror(errno) : "ok");
}

int main(void)
{
    struct timespec ts = {0, 0}, bad = {0, 2000000000};
    struct timeval tv = {0, 0}, badtv = {0, 1000000};
    struct timezone tz = {24 * 60, 0};
    struct timex tx;
    show("clock_settime", clock_settime(CLOCK_REALTIME, &ts));
    show("clock_settime(bad ns)", clock_settime(CLOCK_REALTIME, &bad));
    show("clock_settime(monotonic)", clock_settime(CLOCK_MONOTONIC, &ts));
    show("clock_settime(99)", clock_settime(99, &ts));
    show("clock_settime(NULL)", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
    show("settimeofday", settimeofday(&tv, NULL));
    show("settimeofday(bad usec)", settimeofday(&badtv, NULL));
    show("settimeofday(bad tz)", syscall(SYS_settimeofday, NULL, &tz));
    memset(&tx, 0, sizeof tx);
    long r = adjtimex(&tx);
    printf("adjtimex(read) %s\n", r >= 0 ? "ok" : strerror(errno));
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET;
    show("adjtimex(set)", adjtimex(&tx));
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET_SS_READ;
    r = adjtimex(&tx);
    printf("adjtimex(ss read) %s\n", r >= 0 ? "ok" : strerror(errno));
    show("adjtimex(NULL)", syscall(SYS_adjtimex, NULL));
    memset(&tx, 0, sizeof tx);
    r = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
    printf("clock_adjtime(read) %s\n", r >= 0 ? "ok" : strerror(errno));
    show("clock_adjtime(monotonic)", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx));
    return 0;
}
