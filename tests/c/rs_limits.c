/* Resource limits from inside: "mem MB" touches MB megabytes (mmap, then
 * malloc'ed pages) and reports what it got; "fork N" forks children that
 * wait, until fork fails or N are running, and reports the errno;
 * "threads N" does the same with threads. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int pipefd[2];

static void *idle_thread(void *arg) {
    (void)arg;
    char c;
    read(pipefd[0], &c, 1);
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "mem")) {
        long touched = 0;
        for (long i = 0; i < n; i++) {
            char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap failed after %ld MB: %s\n", touched, strerror(errno));
                return 1;
            }
            memset(p, 1, 1 << 20);
            touched++;
        }
        printf("touched %ld MB\n", touched);
        return 0;
    }
    if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "threads")) {
        int threads = !strcmp(argv[1], "threads");
        pipe(pipefd);
        long made = 0;
        int err = 0;
        pid_t kids[4096];
        static pthread_t tids[4096];
        for (; made < n && made < 4096; made++) {
            if (threads) {
                err = pthread_create(&tids[made], NULL, idle_thread, NULL);
                if (err) break;
            } else {
                pid_t p = fork();
                if (p < 0) { err = errno; break; }
                if (p == 0) { char c; close(pipefd[1]); read(pipefd[0], &c, 1); _exit(0); }
                kids[made] = p;
            }
        }
        printf("made %ld, then %s\n", made, err ? strerror(err) : "no error");
        close(pipefd[1]);
        for (long i = 0; i < made; i++) {
            if (threads) pthread_join(tids[i], NULL);
            else waitpid(kids[i], NULL, 0);
        }
        /* Once they are gone, forking works again. */
        pid_t p = fork();
        if (p == 0) _exit(7);
        int st = 0;
        waitpid(p, &st, 0);
        printf("fork after: %s\n", p > 0 && WEXITSTATUS(st) == 7 ? "ok" : "failed");
        return 0;
    }
    return 2;
}
