// sched_* (get/set scheduler, param, attr, priority range, rr interval), ioprio_get/set,
// get_robust_list and membarrier with good and bad arguments, printed for a diff against a
// native run. Run as root (real-time policies need CAP_SYS_NICE).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s %ld\n", what, r);
}

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t prio;
    uint64_t runtime, deadline, period;
    uint32_t umin, umax;
};

static void getattr(const char *what, pid_t pid) {
    struct attr a;
    memset(&a, 0xee, sizeof a);
    long r = syscall(SYS_sched_getattr, pid, &a, sizeof a, 0);
    if (r < 0) {
        show(what, r);
        return;
    }
    printf("%s size %u policy %u flags %#llx nice %d prio %u runtime %llu deadline %llu period %llu\n",
           what, a.size, a.policy, (unsigned long long)(a.flags & ~0x60ULL), a.nice, a.prio,
           (unsigned long long)a.runtime, (unsigned long long)a.deadline,
           (unsigned long long)a.period);
}

static long setattr(pid_t pid, uint32_t size, uint32_t policy, uint64_t flags, int nice,
                    uint32_t prio, unsigned fl) {
    struct attr a;
    memset(&a, 0, sizeof a);
    a.size = size;
    a.policy = policy;
    a.flags = flags;
    a.nice = nice;
    a.prio = prio;
    return syscall(SYS_sched_setattr, pid, &a, fl);
}

static atomic_int stop_spin;
static atomic_long spins[2];

// Spins in user space, making no system call: a barrier must still reach it.
static void *spinner(void *arg) {
    long i = (long)arg;
    while (!atomic_load_explicit(&stop_spin, memory_order_relaxed))
        atomic_fetch_add_explicit(&spins[i], 1, memory_order_relaxed);
    return NULL;
}

int main(void) {
    struct sched_param p = {0};
    char buf[128];
    setvbuf(stdout, NULL, _IOLBF, 0);
    // Ranges.
    for (int pol = -1; pol <= 7; pol++) {
        snprintf(buf, sizeof buf, "prio range %d", pol);
        long mx = sched_get_priority_max(pol);
        int e1 = errno;
        long mn = sched_get_priority_min(pol);
        int e2 = errno;
        printf("%s max %ld%s min %ld%s\n", buf, mx, mx < 0 ? strerror(e1) : "", mn,
               mn < 0 ? strerror(e2) : "");
    }
    show("getscheduler self", sched_getscheduler(0));
    show("getscheduler -1", sched_getscheduler(-1));
    show("getscheduler 999999", sched_getscheduler(999999));
    show("getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
    show("getparam bad ptr", syscall(SYS_sched_getparam, 0, (void *)8));
    p.sched_priority = 77;
    show("getparam", sched_getparam(0, &p));
    printf("param prio %d\n", p.sched_priority);
    p.sched_priority = 0;
    show("setscheduler NULL", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
    show("setscheduler bad policy", sched_setscheduler(0, 4, &p));
    show("setscheduler policy 99", sched_setscheduler(0, 99, &p));
    show("setscheduler fifo prio 0", sched_setscheduler(0, SCHED_FIFO, &p));
    p.sched_priority = 100;
    show("setscheduler fifo prio 100", sched_setscheduler(0, SCHED_FIFO, &p));
    p.sched_priority = -1;
    show("setscheduler rr prio -1", sched_setscheduler(0, SCHED_RR, &p));
    p.sched_priority = 5;
    show("setscheduler other prio 5", sched_setscheduler(0, SCHED_OTHER, &p));
    show("setscheduler deadline", sched_setscheduler(0, 6, &p));
    show("setscheduler batch prio 5", sched_setscheduler(0, SCHED_BATCH, &p));
    p.sched_priority = 0;
    show("setscheduler batch", sched_setscheduler(0, SCHED_BATCH, &p));
    show("getscheduler", sched_getscheduler(0));
    show("setscheduler idle", sched_setscheduler(0, SCHED_IDLE, &p));
    show("getscheduler", sched_getscheduler(0));
    p.sched_priority = 10;
    show("setscheduler rr 10", sched_setscheduler(0, SCHED_RR, &p));
    show("getscheduler", sched_getscheduler(0));
    p.sched_priority = 0;
    sched_getparam(0, &p);
    printf("param prio %d\n", p.sched_priority);
    struct timespec ts = {7, 7};
    show("rr_get_interval", sched_rr_get_interval(0, &ts));
    printf("rr interval %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
    show("rr_get_interval -1", sched_rr_get_interval(-1, &ts));
    show("rr_get_interval bad ptr", syscall(SYS_sched_rr_get_interval, 0, (void *)8));
    p.sched_priority = 20;
    show("setparam 20", sched_setparam(0, &p));
    p.sched_priority = 0;
    show("setparam 0 (rr)", sched_setparam(0, &p));
    sched_getparam(0, &p);
    printf("param prio %d\n", p.sched_priority);
    getattr("getattr rr", 0);
    p.sched_priority = 30;
    show("setscheduler fifo|reset_on_fork 30",
         sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &p));
    show("getscheduler", sched_getscheduler(0));
    getattr("getattr fifo", 0);
    ts.tv_sec = 7;
    show("rr_get_interval fifo", sched_rr_get_interval(0, &ts));
    printf("rr interval %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
    pid_t c = fork();
    if (c == 0) {
        struct sched_param q;
        printf("child getscheduler %d\n", sched_getscheduler(0));
        sched_getparam(0, &q);
        printf("child param prio %d\n", q.sched_priority);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    p.sched_priority = 0;
    show("back to other", sched_setscheduler(0, SCHED_OTHER, &p));
    ts.tv_sec = 7;
    show("rr_get_interval other", sched_rr_get_interval(0, &ts));
    printf("rr interval other below 1s %d\n", ts.tv_sec == 0);
    getattr("getattr other", 0);
    // sched_getattr/sched_setattr arguments.
    struct attr a;
    show("getattr size 0", syscall(SYS_sched_getattr, 0, &a, 0, 0));
    show("getattr size 47", syscall(SYS_sched_getattr, 0, &a, 47, 0));
    show("getattr flags 1", syscall(SYS_sched_getattr, 0, &a, sizeof a, 1));
    show("getattr pid -1", syscall(SYS_sched_getattr, -1, &a, sizeof a, 0));
    show("getattr bad ptr", syscall(SYS_sched_getattr, 0, (void *)8, sizeof a, 0));
    memset(&a, 0xee, sizeof a);
    show("getattr size 48", syscall(SYS_sched_getattr, 0, &a, 48, 0));
    printf("size field %u tail %#x\n", a.size, a.umin);
    show("setattr flags arg 1", setattr(0, 48, 0, 0, 0, 0, 1));
    show("setattr size 47", setattr(0, 47, 0, 0, 0, 0, 0));
    memset(&a, 0, sizeof a);
    a.size = 40;
    show("setattr size 40 E2BIG", syscall(SYS_sched_setattr, 0, &a, 0));
    printf("size written back %u\n", a.size);
    show("setattr size 0 (ver0)", setattr(0, 0, 0, 0, 0, 0, 0));
    show("setattr unknown flag", setattr(0, 48, 0, 0x1000, 0, 0, 0));
    show("setattr nice 5", setattr(0, 48, SCHED_OTHER, 0, 5, 0, 0));
    getattr("getattr nice", 0);
    show("getpriority", getpriority(PRIO_PROCESS, 0));
    show("setattr nice 100 (clamped)", setattr(0, 48, SCHED_BATCH, 0, 100, 0, 0));
    getattr("getattr batch", 0);
    show("setattr keep policy rr", setattr(0, 48, SCHED_RR, 8, 0, 0, 0));
    show("getscheduler", sched_getscheduler(0));
    show("setattr rr 50", setattr(0, 48, SCHED_RR, 0, 0, 50, 0));
    getattr("getattr rr 50", 0);
    show("setattr keep params fifo", setattr(0, 48, SCHED_FIFO, 0x10, 0, 0, 0));
    getattr("getattr fifo kept", 0);
    show("setattr other", setattr(0, 48, SCHED_OTHER, 0, 0, 0, 0));
    show("setattr pid -1", setattr(-1, 48, 0, 0, 0, 0, 0));
    show("setattr pid 999999", setattr(999999, 48, 0, 0, 0, 0, 0));
    show("setattr bad ptr", syscall(SYS_sched_setattr, 0, (void *)8, 0));
    // ioprio.
    show("ioprio_get self", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_get which 0", syscall(SYS_ioprio_get, 0, 0));
    show("ioprio_get which 4", syscall(SYS_ioprio_get, 4, 0));
    show("ioprio_get 999999", syscall(SYS_ioprio_get, 1, 999999));
    show("ioprio_set be 7", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 7));
    show("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set idle", syscall(SYS_ioprio_set, 1, 0, (3 << 13)));
    show("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set rt 0", syscall(SYS_ioprio_set, 1, 0, (1 << 13)));
    show("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set class 4", syscall(SYS_ioprio_set, 1, 0, (4 << 13)));
    show("ioprio_set class 7", syscall(SYS_ioprio_set, 1, 0, (7 << 13)));
    show("ioprio_set none 3", syscall(SYS_ioprio_set, 1, 0, 3));
    show("ioprio_set none 0", syscall(SYS_ioprio_set, 1, 0, 0));
    show("ioprio_get after none", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set be 8", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 8));
    show("ioprio_set which 9", syscall(SYS_ioprio_set, 9, 0, (2 << 13) | 1));
    show("ioprio_get be 8", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set none hint", syscall(SYS_ioprio_set, 1, 0, 8));
    show("ioprio_set bit 16", syscall(SYS_ioprio_set, 1, 0, (1 << 16) | (2 << 13) | 1));
    show("ioprio_get bit 16", syscall(SYS_ioprio_get, 1, 0));
    show("ioprio_set negative", syscall(SYS_ioprio_set, 1, 0, -1));
    show("ioprio_set pid 999999", syscall(SYS_ioprio_set, 1, 999999, (2 << 13) | 1));
    show("ioprio_set be 2", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 2));
    show("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    c = fork();
    if (c == 0) {
        printf("child ioprio %ld\n", syscall(SYS_ioprio_get, 1, 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    // get_robust_list.
    void *head = (void *)1;
    size_t len = 1;
    show("get_robust_list self", syscall(SYS_get_robust_list, 0, &head, &len));
    printf("robust head set %d len %zu\n", head != NULL, len);
    show("get_robust_list 999999", syscall(SYS_get_robust_list, 999999, &head, &len));
    show("get_robust_list bad ptr", syscall(SYS_get_robust_list, 0, (void *)8, &len));
    show("set_robust_list 0", syscall(SYS_set_robust_list, NULL, 24));
    show("get_robust_list after", syscall(SYS_get_robust_list, 0, &head, &len));
    printf("robust head %p len %zu\n", head, len);
    // membarrier.
    long q = syscall(SYS_membarrier, 0, 0, 0);
    printf("membarrier query has global %ld private_expedited %ld sync_core %ld\n",
           q & 1, (q >> 3) & 3, (q >> 5) & 3);
    show("membarrier query flags 1", syscall(SYS_membarrier, 0, 1, 0));
    show("membarrier bad cmd 3", syscall(SYS_membarrier, 3, 0, 0));
    show("membarrier bad cmd 1<<20", syscall(SYS_membarrier, 1 << 20, 0, 0));
    show("membarrier private expedited unregistered", syscall(SYS_membarrier, 8, 0, 0));
    show("membarrier sync core unregistered", syscall(SYS_membarrier, 32, 0, 0));
    show("membarrier register private", syscall(SYS_membarrier, 16, 0, 0));
    show("membarrier private expedited", syscall(SYS_membarrier, 8, 0, 0));
    show("membarrier private flags 1", syscall(SYS_membarrier, 8, 1, 0));
    show("membarrier global", syscall(SYS_membarrier, 1, 0, 0));
    show("membarrier global expedited", syscall(SYS_membarrier, 2, 0, 0));
    show("membarrier register global expedited", syscall(SYS_membarrier, 4, 0, 0));
    show("membarrier register sync core", syscall(SYS_membarrier, 64, 0, 0));
    show("membarrier sync core", syscall(SYS_membarrier, 32, 0, 0));
    long regs = syscall(SYS_membarrier, 512, 0, 0);
    if (regs < 0)
        show("membarrier get registrations", regs);
    else
        printf("membarrier registrations %#lx\n", regs & 0x5c);
    pthread_t th[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, spinner, (void *)i);
    while (atomic_load(&spins[0]) == 0 || atomic_load(&spins[1]) == 0)
        sched_yield();
    int fails = 0;
    for (int i = 0; i < 200; i++) {
        if (syscall(SYS_membarrier, 8, 0, 0) != 0)
            fails++;
        if (syscall(SYS_membarrier, 32, 0, 0) != 0)
            fails++;
    }
    for (int i = 0; i < 5; i++)
        if (syscall(SYS_membarrier, 1, 0, 0) != 0 || syscall(SYS_membarrier, 2, 0, 0) != 0)
            fails++;
    atomic_store(&stop_spin, 1);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    printf("barriers with spinning threads: %d failed\n", fails);
    fflush(stdout);
    return 0;
}
