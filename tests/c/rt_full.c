/* A full tmpfs is ENOSPC and leaves memory for the programs: fill /tmp until a write fails,
 * then (with the file still there) allocate and touch 64 MiB of anonymous memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    int fd = open("/tmp/rt-full", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); return 1; }
    static char buf[1 << 20];
    memset(buf, 7, sizeof buf);
    long long total = 0;
    int err = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) { err = errno; break; }
        total += n;
        if (n < (ssize_t)sizeof buf) { /* short: the next write says why */ }
    }
    printf("tmpfs full: %s after %lld MiB\n", err == ENOSPC ? "ENOSPC" : strerror(err), total >> 20);
    size_t want = 64 << 20;
    char *p = malloc(want);
    if (!p) { printf("malloc failed\n"); return 1; }
    memset(p, 1, want);
    printf("64 MiB of anonymous memory touched with the tmpfs full\n");
    unlink("/tmp/rt-full");
    return 0;
}
