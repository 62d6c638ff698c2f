/* A workload for comparing --profile's host counts with strace -f -C -p:
 * files read and missed, output written, memory touched, a child forked. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    char buf[4096];
    for (int i = 0; i < 20; i++) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd >= 0) {
            while (read(fd, buf, sizeof buf) > 0) {
            }
            close(fd);
        }
        open("/nonexistent/profile", O_RDONLY);
        getppid();
        printf("line %d\n", i);
        fflush(stdout);
    }
    char *m = malloc(8 << 20);
    if (m) {
        memset(m, 1, 8 << 20);
        free(m);
    }
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    waitpid(c, 0, 0);
    printf("done\n");
    return 0;
}
