/* Odds and ends: parent-death signal, pipe capacity, RLIMIT_NOFILE, uname,
 * sysinfo, getrandom, sched affinity. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fds[2];
    pipe(fds);
    pid_t mid = fork();
    if (mid == 0) {
        pid_t c = fork();
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGUSR1);
            sigprocmask(SIG_BLOCK, &s, NULL);
            write(fds[1], "r", 1);
            int sig = 0;
            sigwait(&s, &sig);
            write(fds[1], sig == SIGUSR1 ? "y" : "n", 1);
            _exit(0);
        }
        char ch;
        read(fds[0], &ch, 1);
        _exit(0);
    }
    waitpid(mid, NULL, 0);
    char ch = 0;
    read(fds[0], &ch, 1);
    CHECK("parent-death signal reaches the orphan", ch == 'y');

    int p[2];
    pipe(p);
    CHECK("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ) == 65536);
    CHECK("F_SETPIPE_SZ", fcntl(p[0], F_SETPIPE_SZ, 8192) == 8192 && fcntl(p[1], F_GETPIPE_SZ) == 8192);

    struct rlimit rl = {20, 20};
    CHECK("setrlimit NOFILE", setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int last = -1, n;
    while ((n = open("/dev/null", O_RDONLY)) >= 0) last = n;
    CHECK("fds stop at the limit", last == 19);

    struct utsname u;
    CHECK("uname", uname(&u) == 0 && u.machine[0] == 'x');
    struct sysinfo si;
    CHECK("sysinfo", sysinfo(&si) == 0 && si.totalram > 0);
    char buf[16];
    CHECK("getrandom", getrandom(buf, sizeof buf, 0) == sizeof buf);
    cpu_set_t cs;
    CHECK("sched_getaffinity", sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0);
    return 0;
}
