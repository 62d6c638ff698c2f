/* Pointers at the very top of the address space, where pointer + offset
 * wraps: the kernel must answer EFAULT (or ignore them, as for a robust
 * list at exit), never overflow. Compared with a native run. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    unsigned long top = ~0UL - 7;
    long r = syscall(SYS_setitimer, ITIMER_REAL, top, 0);
    printf("setitimer top: %ld %s\n", r, r < 0 && errno == EFAULT ? "EFAULT" : "?");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* The robust list is walked when the thread exits. */
        long s = syscall(SYS_set_robust_list, top, 24);
        printf("set_robust_list top: %ld\n", s);
        fflush(stdout);
        _exit(3);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        /* An alternate stack whose end wraps past 2^64: delivering a signal
         * on it cannot write the frame, so the process dies of SIGSEGV. */
        stack_t ss = {.ss_sp = (void *)(~0UL - 4095), .ss_size = 65536, .ss_flags = 0};
        if (sigaltstack(&ss, 0) != 0) _exit(10);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_ONSTACK;
        sigaction(SIGUSR1, &sa, 0);
        raise(SIGUSR1);
        _exit(4);
    }
    waitpid(pid, &st, 0);
    printf("child2 %s %d\n", WIFSIGNALED(st) ? "signaled" : "exited",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 0;
}
