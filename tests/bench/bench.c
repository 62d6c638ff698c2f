// Micro-benchmarks run natively and in the sandbox by `make bench`
// (shim/src/bin/gvisor-bench.rs). Each mode times its loop with
// CLOCK_MONOTONIC inside the program and prints "ns_per_op=<float>".
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* A TCP listener on 127.0.0.1 (an ephemeral port) and its address. */
static int tcp_listener(struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)a, sizeof *a) < 0 || listen(l, 128) < 0 ||
        getsockname(l, (struct sockaddr *)a, &len) < 0)
        exit(1);
    return l;
}

static int tcp_connect(const struct sockaddr_in *a) {
    int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof *a) < 0)
        exit(1);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench getpid|touch|forkexec|fork100m|pipe|tcprr|tcpconn|tcpstream|unixrr|unixstream N | readfile N FILE\n");
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
    } else if (strcmp(argv[1], "forkexec") == 0) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                execl("/bin/true", "true", (char *)0);
                _exit(127);
            }
            int st;
            waitpid(p, &st, 0);
        }
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "fork100m") == 0) {
        size_t len = 100 << 20;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 1;
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            pid_t c = fork();
            if (c == 0)
                _exit(p[4096] == 1 ? 0 : 1);
            int st;
            waitpid(c, &st, 0);
            p[8192] = 2; /* the parent writes again after each fork */
        }
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "pipe") == 0) {
        /* n MiB through a pipe from a child; reports ns per MiB. */
        int fds[2];
        pipe(fds);
        static char buf[65536];
        double t0 = now_ns();
        pid_t c = fork();
        if (c == 0) {
            close(fds[0]);
            for (long i = 0; i < n * 16; i++)
                if (write(fds[1], buf, sizeof buf) != sizeof buf)
                    _exit(1);
            _exit(0);
        }
        close(fds[1]);
        long total = 0;
        ssize_t r;
        while ((r = read(fds[0], buf, sizeof buf)) > 0)
            total += r;
        waitpid(c, NULL, 0);
        if (total != n * 16 * (long)sizeof buf)
            return 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "tcprr") == 0) {
        /* n one-byte request/response round trips over TCP loopback to a child. */
        struct sockaddr_in a;
        int l = tcp_listener(&a);
        pid_t c = fork();
        if (c == 0) {
            int s = accept(l, NULL, NULL), one = 1;
            char b;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            while (read(s, &b, 1) == 1)
                if (write(s, &b, 1) != 1)
                    _exit(1);
            _exit(0);
        }
        int s = tcp_connect(&a);
        char b = 'x';
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1)
                return 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
        close(s);
        waitpid(c, NULL, 0);
    } else if (strcmp(argv[1], "tcpconn") == 0) {
        /* n connect + accept + close over TCP loopback (connection rate). */
        struct sockaddr_in a;
        int l = tcp_listener(&a);
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            int c = tcp_connect(&a);
            int s = accept(l, NULL, NULL);
            if (s < 0)
                return 1;
            close(c);
            close(s);
        }
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "tcpstream") == 0) {
        /* n MiB over TCP loopback from a child; reports ns per MiB. */
        struct sockaddr_in a;
        int l = tcp_listener(&a);
        static char buf[1 << 18];
        double t0 = now_ns();
        pid_t c = fork();
        if (c == 0) {
            int s = tcp_connect(&a);
            for (long i = 0; i < n * 4; i++)
                for (size_t off = 0; off < sizeof buf;) {
                    ssize_t w = write(s, buf + off, sizeof buf - off);
                    if (w <= 0)
                        _exit(1);
                    off += w;
                }
            _exit(0);
        }
        int s = accept(l, NULL, NULL);
        long total = 0;
        ssize_t r;
        while ((r = read(s, buf, sizeof buf)) > 0)
            total += r;
        waitpid(c, NULL, 0);
        if (total != n * 4 * (long)sizeof buf)
            return 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "unixrr") == 0) {
        /* n one-byte round trips over a unix stream socketpair to a child. */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            return 1;
        pid_t c = fork();
        if (c == 0) {
            char b;
            close(sv[0]);
            while (read(sv[1], &b, 1) == 1)
                if (write(sv[1], &b, 1) != 1)
                    _exit(1);
            _exit(0);
        }
        close(sv[1]);
        char b = 'x';
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
                return 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
        close(sv[0]);
        waitpid(c, NULL, 0);
    } else if (strcmp(argv[1], "unixstream") == 0) {
        /* n MiB over a unix stream socketpair from a child; ns per MiB. */
        int sv[2];
        static char ubuf[1 << 18];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            return 1;
        double t0 = now_ns();
        pid_t c = fork();
        if (c == 0) {
            close(sv[0]);
            for (long i = 0; i < n * 4; i++)
                for (size_t off = 0; off < sizeof ubuf;) {
                    ssize_t w = write(sv[1], ubuf + off, sizeof ubuf - off);
                    if (w <= 0)
                        _exit(1);
                    off += w;
                }
            _exit(0);
        }
        close(sv[1]);
        long total = 0;
        ssize_t r;
        while ((r = read(sv[0], ubuf, sizeof ubuf)) > 0)
            total += r;
        waitpid(c, NULL, 0);
        if (total != n * 4 * (long)sizeof ubuf)
            return 1;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "stat") == 0 && argc > 3) {
        /* stat DIR/f0..f999, n times over. */
        char p[4096];
        struct stat st;
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/f%ld", argv[3], i % 1000);
            if (stat(p, &st) != 0) {
                perror(p);
                return 1;
            }
        }
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "openread") == 0 && argc > 3) {
        /* open + read + close of DIR/f0..f999 (small files), n in all. */
        char p[4096], buf[4096];
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/f%ld", argv[3], i % 1000);
            int fd = open(p, O_RDONLY);
            if (fd < 0 || read(fd, buf, sizeof buf) < 0) {
                perror(p);
                return 1;
            }
            close(fd);
        }
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "seqwrite") == 0 && argc > 3) {
        /* Write n MiB sequentially to FILE in 1 MiB writes: ns per MiB. */
        static char buf[1 << 20];
        memset(buf, 0x5a, sizeof buf);
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            perror(argv[3]);
            return 1;
        }
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (write(fd, buf, sizeof buf) != sizeof buf) {
                perror("write");
                return 1;
            }
        close(fd);
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
    } else if (strcmp(argv[1], "readfile") == 0) {
        /* reads the file argv[3]; n is its size in MiB; ns per MiB. */
        if (argc < 4)
            return 2;
        int fd = open(argv[3], O_RDONLY);
        if (fd < 0)
            return 1;
        static char buf[1 << 16];
        double t0 = now_ns();
        long total = 0;
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            total += r;
        printf("ns_per_op=%.1f\n", (now_ns() - t0) / n);
        if (total != n << 20)
            return 1;
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
