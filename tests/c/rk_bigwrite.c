/* One blocking write of 4 MiB and 16 MiB (write, writev, pwrite) writes everything: to a pipe
 * whose reader drains slowly, to a pty, to a file. A signal during a blocked pipe write
 * returns the partial count. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static long reader(int fd) {
    static char buf[100000];
    long total = 0, n;
    int slow = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) total += n;
        if (slow++ < 20) usleep(2000); /* a slow start: the writer must wait */
    }
    return total;
}

/* Writes `len` bytes to `wfd` in one call while a child reads `rfd`; prints both counts. */
static void one(const char *what, int rfd, int wfd, size_t len, int how) {
    char *big = malloc(len);
    memset(big, 'y', len);
    int res[2];
    pipe(res);
    pid_t c = fork();
    if (c == 0) {
        close(wfd);
        long got = reader(rfd);
        write(res[1], &got, sizeof got);
        _exit(0);
    }
    close(rfd);
    long n;
    if (how == 1) {
        struct iovec iov[2] = {{big, len / 2}, {big + len / 2, len - len / 2}};
        n = writev(wfd, iov, 2);
    } else {
        n = write(wfd, big, len);
    }
    close(wfd);
    long got = -1;
    read(res[0], &got, sizeof got);
    waitpid(c, NULL, 0);
    printf("%s %zu: wrote %ld, read %ld\n", what, len, n, got);
    close(res[0]);
    close(res[1]);
    free(big);
}

static void on_alarm(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    size_t sizes[] = {4 << 20, 16 << 20};
    for (int i = 0; i < 2; i++) {
        int p[2];
        pipe(p);
        one("pipe write", p[0], p[1], sizes[i], 0);
        pipe(p);
        one("pipe writev", p[0], p[1], sizes[i], 1);
    }
    /* A pty in raw mode: the slave writes, the master reads. */
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    grantpt(m);
    unlockpt(m);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    struct termios t;
    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    /* The master stays open in the parent too, so the reader sees no hangup: count instead. */
    {
        size_t len = 4 << 20;
        char *big = malloc(len);
        memset(big, 'z', len);
        int res[2];
        pipe(res);
        pid_t c = fork();
        if (c == 0) {
            static char buf[65536];
            long total = 0, n;
            while (total < (long)len && (n = read(m, buf, sizeof buf)) > 0) total += n;
            write(res[1], &total, sizeof total);
            _exit(0);
        }
        long n = write(s, big, len);
        long got = -1;
        read(res[0], &got, sizeof got);
        waitpid(c, NULL, 0);
        printf("pty write %zu: wrote %ld, read %ld\n", len, n, got);
    }
    /* A file. */
    char path[] = "/tmp/rk_bigwrite.XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    size_t len = 16 << 20;
    char *big = malloc(len);
    memset(big, 'w', len);
    printf("file write: %ld\n", (long)write(f, big, len));
    printf("file pwrite: %ld\n", (long)pwrite(f, big, len, len));
    struct iovec iov[2] = {{big, len / 2}, {big + len / 2, len / 2}};
    printf("file writev: %ld\n", (long)writev(f, iov, 2));
    printf("file size: %ld\n", (long)lseek(f, 0, SEEK_END));
    /* A signal interrupts a blocked write to a pipe nobody reads: the partial count. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int p[2];
    pipe(p);
    alarm(1);
    long n = write(p[1], big, 4 << 20);
    printf("interrupted pipe write: %ld\n", n);
    return 0;
}
