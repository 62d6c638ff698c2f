/* Raise a hardware fault chosen by argv[1]: "null" (SIGSEGV), "ud2" (SIGILL), "div0" (SIGFPE). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: faults null|ud2|div0\n");
        return 2;
    }
    /* Get the text out before the fault. */
    if (write(1, "faulting\n", 9) != 9)
        return 3;
    if (strcmp(argv[1], "null") == 0) {
        *(volatile int *)0 = 1;
    } else if (strcmp(argv[1], "ud2") == 0) {
        __asm__ volatile("ud2");
    } else if (strcmp(argv[1], "div0") == 0) {
        volatile int zero = 0;
        volatile int x = 42;
        x = x / zero;
    } else {
        fprintf(stderr, "unknown fault %s\n", argv[1]);
        return 2;
    }
    fprintf(stderr, "fault %s did not kill the process\n", argv[1]);
    return 1;
}
