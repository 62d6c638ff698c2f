// Writes argv[2] MiB to the file argv[1] in 1 MiB writes, reads it back,
// prints "written", then waits for a line on stdin (the test measures the
// sentry's memory meanwhile), unlinks the file, prints "unlinked" and waits
// for another line before exiting.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char buf[1 << 20];

static void wait_line(void) {
    char c;
    while (read(0, &c, 1) == 1 && c != '\n')
        ;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    const char *p = argv[1];
    long mib = atol(argv[2]);
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    for (long i = 0; i < mib; i++) {
        memset(buf, (int)(i & 0xff) | 1, sizeof buf);
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
            perror("write");
            return 1;
        }
    }
    for (long i = 0; i < mib; i += 37) {
        if (pread(fd, buf, sizeof buf, i << 20) != (ssize_t)sizeof buf ||
            buf[0] != ((int)(i & 0xff) | 1) || buf[sizeof buf - 1] != buf[0]) {
            printf("FAIL readback at %ld MiB\n", i);
            return 1;
        }
    }
    close(fd);
    printf("written\n");
    wait_line();
    if (unlink(p) != 0) {
        perror("unlink");
        return 1;
    }
    printf("unlinked\n");
    wait_line();
    printf("done\n");
    return 0;
}
