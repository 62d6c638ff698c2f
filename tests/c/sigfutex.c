/* Signals, futexes and the misc family: one line per check; compared with
 * the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/personality.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
#define ERR(call, e) ((call) == -1 && errno == (e))

static volatile sig_atomic_t hits, depth, max_depth, on_alt, last_val;
static char altstack[65536];

static void count(int s) {
    (void)s;
    hits++;
}
static volatile sig_atomic_t raises, runs;
static void nested(int s) {
    depth++;
    runs++;
    if (depth > max_depth) max_depth = depth;
    if (raises < 2) {
        raises++;
        raise(s);
    }
    depth--;
}
static void where(int s) {
    (void)s;
    char here;
    on_alt = &here >= altstack && &here < altstack + sizeof altstack;
}
static void with_info(int s, siginfo_t *si, void *u) {
    (void)s;
    (void)u;
    last_val = si->si_value.sival_int;
}

static long futex(uint32_t *a, int op, uint32_t v, const struct timespec *t, uint32_t *a2, uint32_t v3) {
    return syscall(SYS_futex, a, op, v, t, a2, v3);
}

static uint32_t fw;
static volatile int woke, ready;
static void *waiter(void *arg) {
    (void)arg;
    __sync_fetch_and_add(&ready, 1);
    futex(&fw, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    __sync_fetch_and_add(&woke, 1);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {0};

    /* Dispositions and flags. */
    sa.sa_handler = count;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    CHECK("SA_RESETHAND ran once and reset", hits == 1 && old.sa_handler == SIG_DFL);
    sa.sa_handler = nested;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    CHECK("SA_NODEFER nests", max_depth == 3 && runs == 3);
    sa.sa_flags = 0;
    max_depth = depth = raises = runs = 0;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    CHECK("without SA_NODEFER: deferred, not nested", max_depth == 1 && runs == 3);
    CHECK("SIGKILL cannot be caught", ERR(sigaction(SIGKILL, &sa, NULL), EINVAL));
    CHECK("signal 0 invalid for sigaction", ERR(sigaction(0, &sa, NULL), EINVAL));
    CHECK("signal 65 invalid", ERR(sigaction(65, &sa, NULL), EINVAL));

    /* sigaltstack. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK("sigaltstack", sigaltstack(&ss, NULL) == 0);
    sa.sa_handler = where;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK("SA_ONSTACK runs on the alternate stack", on_alt == 1);
    stack_t cur;
    sigaltstack(NULL, &cur);
    CHECK("sigaltstack reads back", cur.ss_sp == altstack && cur.ss_size == sizeof altstack);
    ss.ss_size = 100;
    CHECK("sigaltstack too small ENOMEM", ERR(sigaltstack(&ss, NULL), ENOMEM));

    /* Masks and pending sets. */
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    sigpending(&pend);
    CHECK("blocked signal pends", sigismember(&pend, SIGUSR1));
    siginfo_t si;
    struct timespec zero = {0, 0};
    CHECK("sigtimedwait takes it", sigtimedwait(&set, &si, &zero) == SIGUSR1 && si.si_signo == SIGUSR1);
    CHECK("sigtimedwait timeout EAGAIN", ERR(sigtimedwait(&set, &si, &zero), EAGAIN));
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, v);
    CHECK("sigqueue value arrives", sigwaitinfo(&set, &si) == SIGUSR1 && si.si_value.sival_int == 42 && si.si_code == SI_QUEUE);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK);
    raise(SIGUSR1);
    struct signalfd_siginfo ssi;
    CHECK("signalfd reads it", read(sfd, &ssi, sizeof ssi) == sizeof ssi && ssi.ssi_signo == SIGUSR1);
    CHECK("signalfd empty EAGAIN", ERR(read(sfd, &ssi, sizeof ssi), EAGAIN));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    sa.sa_sigaction = with_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    v.sival_int = 7;
    sigqueue(getpid(), SIGRTMIN, v);
    CHECK("SA_SIGINFO handler sees the value", last_val == 7);
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < 3; i++) {
        v.sival_int = i;
        sigqueue(getpid(), SIGRTMIN, v);
    }
    int order_ok = 1;
    for (int i = 0; i < 3; i++)
        if (sigwaitinfo(&set, &si) != SIGRTMIN || si.si_value.sival_int != i) order_ok = 0;
    CHECK("real-time signals queue in order", order_ok);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* SA_RESTART vs EINTR on a blocking read. */
    int p[2];
    pipe(p);
    sa.sa_handler = count;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    char c;
    CHECK("read interrupted without SA_RESTART", ERR(read(p[0], &c, 1), EINTR));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    if (fork() == 0) {
        usleep(200000);
        write(p[1], "x", 1);
        _exit(0);
    }
    setitimer(ITIMER_REAL, &it, NULL);
    int before = hits;
    CHECK("read restarted with SA_RESTART", read(p[0], &c, 1) == 1 && c == 'x' && hits == before + 1);
    wait(NULL);

    /* kill and process groups. */
    pid_t kid = fork();
    if (kid == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(kid, kid);
    usleep(50000);
    CHECK("kill(-pgrp)", kill(-kid, SIGTERM) == 0);
    int st;
    waitpid(kid, &st, 0);
    CHECK("group member killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    CHECK("kill bad signal EINVAL", ERR(kill(getpid(), 99), EINVAL));
    CHECK("kill no such pid ESRCH", ERR(kill(999999, 0), ESRCH));
    CHECK("tgkill self 0", syscall(SYS_tgkill, getpid(), gettid(), 0) == 0);
    CHECK("tgkill wrong tgid ESRCH", syscall(SYS_tgkill, 999999, gettid(), 0) == -1 && errno == ESRCH);

    /* futex. */
    struct timespec short_ts = {0, 20000000};
    fw = 1;
    CHECK("FUTEX_WAIT value mismatch EAGAIN", futex(&fw, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EAGAIN);
    fw = 0;
    CHECK("FUTEX_WAIT timeout ETIMEDOUT", futex(&fw, FUTEX_WAIT_PRIVATE, 0, &short_ts, NULL, 0) == -1 && errno == ETIMEDOUT);
    CHECK("FUTEX_WAKE nobody", futex(&fw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, waiter, NULL);
    /* All three about to wait, then time to be asleep (a loaded machine). */
    for (int i = 0; i < 500 && ready < 3; i++) usleep(10000);
    usleep(300000);
    long w1 = futex(&fw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    for (int i = 0; i < 500 && woke < 1; i++) usleep(10000);
    usleep(100000);
    CHECK("FUTEX_WAKE 1 wakes one", w1 == 1 && woke == 1);
    uint32_t other = 0;
    long rq = futex(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &other, 0);
    CHECK("CMP_REQUEUE wakes 0, moves 1", rq == 1);
    usleep(100000);
    CHECK("requeued waiter still asleep", woke == 1);
    CHECK("CMP_REQUEUE value mismatch EAGAIN", futex(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &other, 5) == -1 && errno == EAGAIN);
    long w2 = futex(&other, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0);
    long w3 = futex(&fw, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK("wakes on both words reach all", w2 == 1 && w3 == 1 && woke == 3);
    uint32_t op_word = 5;
    long wo = futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &op_word, FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5));
    CHECK("FUTEX_WAKE_OP applies the op", wo == 0 && op_word == 8);
    CHECK("FUTEX_WAIT_BITSET bitset 0 EINVAL", futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EINVAL);
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 20000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    fw = 0;
    CHECK("FUTEX_WAIT_BITSET absolute timeout", futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY) == -1 && errno == ETIMEDOUT);
    CHECK("bad futex op ENOSYS", futex(&fw, 99, 0, NULL, NULL, 0) == -1 && errno == ENOSYS);
    CHECK("unaligned futex EINVAL", futex((uint32_t *)((char *)&fw + 1), FUTEX_WAKE, 1, NULL, NULL, 0) == -1 && errno == EINVAL);

    /* Misc. */
    struct sysinfo inf;
    CHECK("sysinfo", sysinfo(&inf) == 0 && inf.totalram > 0 && inf.procs > 0);
    unsigned cpu = 999;
    CHECK("getcpu", getcpu(&cpu, NULL) == 0 && cpu < 1024);
    cpu_set_t cs;
    CHECK("sched_getaffinity", sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) >= 1);
    CHECK("sched_setaffinity to what we have", sched_setaffinity(0, sizeof cs, &cs) == 0);
    CHECK("sched_yield", sched_yield() == 0);
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    CHECK("getpriority", errno == 0 && prio >= -20 && prio <= 19);
    CHECK("setpriority nicer", setpriority(PRIO_PROCESS, 0, prio + 1) == 0 && getpriority(PRIO_PROCESS, 0) == prio + 1);
    struct rlimit rl = {8, 8}, orl;
    getrlimit(RLIMIT_NOFILE, &orl);
    CHECK("setrlimit NOFILE", setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int fds_ok = 1, last = -1;
    for (int i = 0; i < 10; i++) {
        int f = open("/dev/null", O_RDONLY);
        if (f < 0) { fds_ok = errno == EMFILE; break; }
        last = f;
    }
    CHECK("RLIMIT_NOFILE enforced", fds_ok && last < 8);
    CHECK("dup2 beyond the limit EBADF", ERR(dup2(0, 20), EBADF));
    rl.rlim_max = orl.rlim_max + 1;
    rl.rlim_cur = 8;
    CHECK("cur above max EINVAL", ERR(setrlimit(RLIMIT_NOFILE, &(struct rlimit){9, 8}), EINVAL));
    struct rlimit srl;
    CHECK("getrlimit STACK", getrlimit(RLIMIT_STACK, &srl) == 0 && srl.rlim_cur == 8 << 20);
    CHECK("personality query", personality(0xffffffff) == 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    CHECK("capget", syscall(SYS_capget, &h, d) == 0);
    h.version = 0x1234;
    CHECK("capget bad version EINVAL", syscall(SYS_capget, &h, d) == -1 && errno == EINVAL && h.version == _LINUX_CAPABILITY_VERSION_3);
    char rnd[64] = {0}, zeros[64] = {0};
    CHECK("getrandom", getrandom(rnd, sizeof rnd, 0) == 64 && memcmp(rnd, zeros, 64) != 0);
    CHECK("getrandom bad flags EINVAL", ERR(getrandom(rnd, 1, 0x100), EINVAL));
    struct utsname u;
    CHECK("uname", uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0);
    static char longname[100];
    CHECK("sethostname too long EINVAL", ERR(sethostname(longname, sizeof longname), EINVAL));
    return 0;
}
