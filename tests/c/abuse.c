/* Hostile arguments that once could overflow sentry arithmetic: the sandbox
 * must answer with errors, never crash. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
int main(void) {
    unsigned char v[8];
    long r1 = syscall(SYS_mincore, 0xfffffffffffff000UL, 0x2000UL, v);
    long r2 = syscall(SYS_mincore, 0x10000UL, 0xffffffffffff0000UL, v);
    long r3 = syscall(SYS_mremap, 0x10000UL, 0xfffffffffffff000UL, 4096UL, 0UL, 0UL);
    struct timespec big = {0x7fffffffffffffffL, 0};
    struct timespec zero = {0, 0};
    long r4 = syscall(SYS_ppoll, NULL, 0, &zero, NULL, 8);
    struct itimerval it = {{0x7fffffffffffffffL, 0}, {0x7fffffffffffffffL, 0}};
    long r5 = setitimer(ITIMER_REAL, &it, NULL);
    int f = 0;
    struct timespec small = {0, 1000};
    long r6 = syscall(SYS_futex, &f, FUTEX_WAIT, 1, &big, 0, 0);
    long r7 = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 1, &small, 0);
    printf("survived %ld %ld %ld %ld %ld %ld %ld\n", r1, r2, r3, r4, r5, r6, r7);
    return 0;
}
