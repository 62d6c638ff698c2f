/* Regressions found by the syscall fuzzer (tests/c/fuzz.c): each case prints what it saw, and
 * the output is compared with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* clone with CLONE_PARENT_SETTID / CLONE_CHILD_SETTID at an unmapped address: Linux ignores the
 * failed store, returns the child's pid and runs the child (the sentry once returned EFAULT and
 * left a child registered that never ran and could not be killed or reaped). */
static void clone_bad_settid(unsigned long flag) {
    long r = syscall(SYS_clone, (unsigned long)SIGCHLD | flag, 0UL, 0x800000000000UL,
                     0x800000000000UL, 0UL);
    if (r == 0) _exit(7);
    if (r < 0) {
        printf("clone %#lx bad tid pointer: errno %d\n", flag, errno);
        return;
    }
    int st = 0;
    pid_t w = waitpid((pid_t)r, &st, 0);
    printf("clone %#lx bad tid pointer: child ran, reaped %s, exit %d\n", flag,
           w == r ? "yes" : "no", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
    clone_bad_settid(0x100000); /* CLONE_PARENT_SETTID */
    clone_bad_settid(0x1000000); /* CLONE_CHILD_SETTID */
    return 0;
}
