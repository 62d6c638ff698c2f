/* Opens argv[1] every 20 ms until an open fails (the gofer is killed by the
 * test), then reports the errno: a lost gofer must give EIO, not a hang. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("ready\n");
    for (int i = 0; i < 3000; i++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) {
            int e = errno;
            printf("open failed: errno %d\n", e);
            return 0;
        }
        close(fd);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    printf("gofer never went away\n");
    return 1;
}
