/* The process model: fork, exec, wait, pipes, signals. Prints one line per
 * check; the test compares the output with the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

static volatile sig_atomic_t got;
static volatile int got_code, got_pid;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got = sig;
    got_code = si->si_code;
    got_pid = si->si_pid;
}

static char altstack[65536];
static volatile int on_alt;
static void on_usr2(int sig) {
    char here;
    (void)sig;
    on_alt = (&here >= altstack && &here < altstack + sizeof altstack);
}

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_code;
static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(jb, 1);
}

static void on_nothing(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int st;

    pid_t p = fork();
    if (p == 0) _exit(42);
    CHECK("fork returns child pid", p > 0);
    CHECK("waitpid reaps it", waitpid(p, &st, 0) == p);
    CHECK("exit status 42", WIFEXITED(st) && WEXITSTATUS(st) == 42);
    CHECK("no more children: ECHILD", waitpid(-1, &st, 0) == -1 && errno == ECHILD);

    p = fork();
    if (p == 0) { pause(); _exit(0); }
    kill(p, SIGTERM);
    waitpid(p, &st, 0);
    CHECK("killed by SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    p = fork();
    if (p == 0) { *(volatile int *)0 = 1; _exit(0); }
    waitpid(p, &st, 0);
    CHECK("child SIGSEGV reported", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);

    int fds[2];
    CHECK("pipe", pipe(fds) == 0);
    pid_t me = getpid();
    p = fork();
    if (p == 0) {
        close(fds[0]);
        char msg[64];
        snprintf(msg, sizeof msg, "ppid-matches=%d", getppid() == me);
        write(fds[1], msg, strlen(msg));
        _exit(0);
    }
    close(fds[1]);
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    CHECK("data through a pipe from the child", n > 0 && strcmp(buf, "ppid-matches=1") == 0);
    CHECK("EOF when the writer is gone", read(fds[0], buf, sizeof buf) == 0);
    waitpid(p, &st, 0);
    close(fds[0]);

    p = fork();
    if (p == 0) { execl("/bin/sh", "sh", "-c", "exit 7", (char *)0); _exit(99); }
    waitpid(p, &st, 0);
    CHECK("exec in the child", WIFEXITED(st) && WEXITSTATUS(st) == 7);

    p = vfork();
    if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(99); }
    waitpid(p, &st, 0);
    CHECK("vfork + exec", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK("SA_SIGINFO handler ran", got == SIGUSR1);
    CHECK("si_code SI_TKILL from raise", got_code == SI_TKILL);
    got = 0;
    kill(getpid(), SIGUSR1);
    CHECK("kill: si_code SI_USER, si_pid", got == SIGUSR1 && got_code == SI_USER && got_pid == getpid());

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    got = 0;
    raise(SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    CHECK("blocked signal stays pending", got == 0 && sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK("unblocking delivers it", got == SIGUSR1);

    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    CHECK("sigaltstack", sigaltstack(&ss, NULL) == 0);
    struct sigaction sa2 = {0};
    sa2.sa_handler = on_usr2;
    sa2.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa2, NULL);
    raise(SIGUSR2);
    CHECK("SA_ONSTACK handler ran on the alternate stack", on_alt);

    struct sigaction sa3 = {0};
    sa3.sa_sigaction = on_segv;
    sa3.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa3, NULL);
    if (sigsetjmp(jb, 1) == 0) {
        *(volatile int *)0x1234 = 1;
        CHECK("SIGSEGV handler", 0);
    } else {
        CHECK("SIGSEGV handler with si_addr", fault_addr == (void *)0x1234 && fault_code == SEGV_MAPERR);
    }

    /* SA_RESTART: a read interrupted by a handled signal continues. */
    struct sigaction sa4 = {0};
    sa4.sa_handler = on_nothing;
    sa4.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa4, NULL);
    pipe(fds);
    pid_t parent = getpid();
    p = fork();
    if (p == 0) {
        usleep(100000);
        kill(parent, SIGUSR2);
        usleep(100000);
        write(fds[1], "late", 4);
        _exit(0);
    }
    n = read(fds[0], buf, sizeof buf);
    CHECK("SA_RESTART read continues after the handler", n == 4);
    waitpid(p, &st, 0);

    /* Without SA_RESTART the read fails with EINTR. */
    sa4.sa_flags = 0;
    sigaction(SIGUSR2, &sa4, NULL);
    p = fork();
    if (p == 0) {
        usleep(100000);
        kill(parent, SIGUSR2);
        usleep(100000);
        _exit(0);
    }
    n = read(fds[0], buf, sizeof buf);
    CHECK("read without SA_RESTART: EINTR", n == -1 && errno == EINTR);
    waitpid(p, &st, 0);

    p = fork();
    if (p == 0) _exit(setpgid(0, 0) == 0 && getpgid(0) == getpid() ? 0 : 1);
    waitpid(p, &st, 0);
    CHECK("setpgid(0,0) in a child", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK("getsid", getsid(0) >= 0);
    return 0;
}
