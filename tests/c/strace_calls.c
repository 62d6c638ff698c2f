/* Calls whose strace lines tests/strace.rs checks: open with flags, mmap, a failing call, a
 * signal, socket+connect to 127.0.0.1, fork, poll with a timeout, nanosleep, a read on a pipe
 * that blocks until the child writes, then execve("/bin/echo", ["echo", "hi"]). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int got;
static void on_usr1(int s) { got = s; }

int main(void) {
    int fd = open("/tmp/strace-calls-x", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    write(fd, "hello\n", 6);
    struct stat st;
    fstat(fd, &st);
    close(fd);
    unlink("/tmp/strace-calls-x");

    void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, 8192);

    if (open("/nonexistent/strace", O_RDONLY) >= 0) return 1;

    signal(SIGUSR1, on_usr1);
    kill(getpid(), SIGUSR1);
    if (got != SIGUSR1) return 1;

    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &alen)) { perror("listen"); return 1; }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    int on = 1, avail = -1;
    ioctl(c, FIONBIO, &on);
    ioctl(c, FIONREAD, &avail);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    close(c);
    close(l);

    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    int pipefd[2];
    if (pipe(pipefd)) return 1;
    pfd.fd = pipefd[0];
    poll(&pfd, 1, 10);

    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);

    pid_t child = fork();
    if (child == 0) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        write(pipefd[1], "ping", 4);
        _exit(0);
    }
    char buf[16];
    read(pipefd[0], buf, sizeof buf);
    int status;
    waitpid(child, &status, 0);

    char *argv[] = {"echo", "hi", NULL};
    char *envp[] = {"STRACE_TEST=1", NULL};
    execve("/bin/echo", argv, envp);
    perror("execve");
    return 1;
}
