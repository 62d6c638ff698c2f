// Micro-benchmarks run natively and in the sandbox by `make bench`
// (shim/src/bin/gvisor-bench.rs). Each mode times its loop with
// CLOCK_MONOTONIC inside the program and prints "ns_per_op=<float>".
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench getpid|touch N\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "getpid") == 0) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "touch") == 0) {
        char *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            p[i * 4096] = 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
