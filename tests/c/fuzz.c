/* gvisor-rs system call fuzzer. Runs inside the sandbox as its init.
 *
 *   fuzz --seed S [--calls N] [--batch K] [--only B] [-v]
 *
 * Makes N system calls in batches of K, each batch in a fresh child process (its own process
 * group; odd batches as uid/gid 1000) whose calls come from a PRNG seeded by (S, batch number), so
 * one batch can be replayed alone with --only B (and -v prints every call before it is made).
 * Calls are a mix of pure noise (any number, arguments biased to small values, valid and invalid
 * pointers, huge lengths) and argument-aware generators for the families that once crashed the
 * sentry: memory ranges, clone/clone3 flags, /proc and /sys paths, futexes, pipes and splice,
 * signals, ioctls.
 *
 * The harness itself must survive: calls that would reach it (kill(-1), pid 1 as a target,
 * reboot) are pointed at the child instead. A batch that runs past 2 s is killed with
 * SIGKILL; a child that cannot be reaped after that is a hang and the run fails (exit 3). The
 * sentry dying shows as the whole sandbox ending (the driver, tests/fuzz.rs, checks the exit code,
 * stderr and leftovers).
 *
 * Output: "batch B" before each batch, then "fuzz: ... done" with counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define SCRATCH_PAGES 16
#define LOG_FD 100

static uint64_t rng;

static uint64_t next64(void) {
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n) { return n ? next64() % n : 0; }
static int chance(unsigned pct) { return below(100) < pct; }

static unsigned char *scratch; /* SCRATCH_PAGES read-write pages, then one PROT_NONE guard page */
static int verbose;

static const char *const PATHS[] = {
    "/", ".", "..", "", "/proc", "/proc/self", "/proc/self/maps", "/proc/self/smaps",
    "/proc/self/mem", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/3",
    "/proc/self/fd/100", "/proc/self/exe", "/proc/self/cwd", "/proc/self/root",
    "/proc/self/task", "/proc/self/status", "/proc/self/stat", "/proc/self/cmdline",
    "/proc/self/environ", "/proc/self/auxv", "/proc/self/mounts", "/proc/self/mountinfo",
    "/proc/self/limits", "/proc/self/ns/pid", "/proc/thread-self", "/proc/1/status",
    "/proc/1/cmdline", "/proc/1/maps", "/proc/2/status", "/proc/cpuinfo", "/proc/meminfo",
    "/proc/loadavg", "/proc/uptime", "/proc/stat", "/proc/version", "/proc/filesystems",
    "/proc/sys/kernel/hostname", "/proc/sys/kernel/osrelease", "/proc/sys/vm/overcommit_memory",
    "/proc/mounts", "/proc/net", "/proc/sysvipc/shm", "/sys", "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible", "/sys/fs/cgroup", "/dev", "/dev/null", "/dev/zero",
    "/dev/full", "/dev/random", "/dev/urandom", "/dev/ptmx", "/dev/tty", "/dev/pts/0",
    "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd/0", "/dev/fd/1", "/dev/shm",
    "/dev/shm/fz", "/dev/kvm", "/dev/mem", "/tmp", "/tmp/fz", "/tmp/fz/a", "/tmp/fz/b",
    "/tmp/fzfile", "/tmp/fzlink", "/tmp/fzfifo", "/etc/passwd", "/etc/hostname", "/bin/busybox",
    "/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/nonexistent", "/nonexistent/a/b", "/proc/self/fd/../../self/./maps", "//..//proc//1",
    "/tmp/../../../../etc/passwd",
};
#define NPATHS (sizeof(PATHS) / sizeof(PATHS[0]))

/* Places a path in the scratch area (sometimes a long one, sometimes unterminated at the guard
 * page) and returns its address. */
static uint64_t gen_path(void) {
    unsigned char *end = scratch + SCRATCH_PAGES * PAGE;
    switch (below(12)) {
    case 0: { /* 5000 bytes: ENAMETOOLONG territory */
        unsigned char *p = scratch + 2 * PAGE;
        size_t n = 1 + below(6000);
        for (size_t i = 0; i < n; i++) p[i] = (i % 7 == 0) ? '/' : 'a' + (i % 26);
        p[n] = 0;
        return (uint64_t)p;
    }
    case 1: { /* no terminator before the guard page */
        memset(end - 64, 'x', 64);
        return (uint64_t)(end - 64);
    }
    default: {
        const char *s = PATHS[below(NPATHS)];
        unsigned char *p = scratch + PAGE + below(8) * 64;
        strcpy((char *)p, s);
        return (uint64_t)p;
    }
    }
}

static uint64_t gen_int(void) {
    switch (below(16)) {
    case 0: return 0;
    case 1: return 1;
    case 2: case 3: case 4: return below(16);
    case 5: return (uint64_t)-1;
    case 6: return (uint64_t)(int64_t)(int32_t)next64();
    case 7: return next64();
    case 8: return 1ULL << below(64);
    case 9: return (1ULL << below(64)) - 1;
    case 10: return 0x7fffffff;
    case 11: return 0x80000000ULL;
    case 12: return 0xffffffff;
    case 13: return below(4096);
    case 14: return (uint64_t)-(int64_t)below(4096);
    default: return below(256);
    }
}

static uint64_t gen_len(void) {
    static const uint64_t big[] = {
        0x7ffff0000000ULL, 1ULL << 40, 1ULL << 47, 1ULL << 63, ~0ULL, ~0ULL - 4095, 0x7fffffff,
        0x80000000ULL, 0xffffffffULL, 1ULL << 32, 1ULL << 30, 1 << 20, 0x7ffffffff000ULL,
    };
    switch (below(8)) {
    case 0: return 0;
    case 1: return 1 + below(64);
    case 2: return PAGE * (1 + below(4));
    case 3: return PAGE * (1 + below(SCRATCH_PAGES + 2));
    case 4: return below(PAGE * 4);
    case 5: case 6: return big[below(sizeof(big) / sizeof(big[0]))];
    default: return gen_int();
    }
}

static uint64_t gen_ptr(void) {
    static const uint64_t bad[] = {
        0, 1, 4095, 4096, 0x10000, 0x7ffffffff000ULL, 0x7fffffffffffULL, 0x800000000000ULL,
        0xffff800000000000ULL, 0xffffff8000000000ULL, 0xffffffff80000000ULL,
        0xffffffff80001000ULL, 0xfffffffffffff000ULL, ~0ULL,
    };
    switch (below(10)) {
    case 0: case 1: case 2: case 3:
        return (uint64_t)(scratch + below(SCRATCH_PAGES * PAGE));
    case 4: return (uint64_t)(scratch + PAGE * below(SCRATCH_PAGES));
    case 5: /* straddles the guard page */
        return (uint64_t)(scratch + SCRATCH_PAGES * PAGE - 1 - below(64));
    case 6: return (uint64_t)&gen_ptr; /* read-only code */
    case 7: case 8: return bad[below(sizeof(bad) / sizeof(bad[0]))];
    default: return gen_path();
    }
}

static int pool[16];
static int npool;

static uint64_t gen_fd(void) {
    switch (below(8)) {
    case 0: case 1: case 2: case 3:
        return npool ? (uint64_t)pool[below(npool)] : below(8);
    case 4: return below(12);
    case 5: return (uint64_t)-100; /* AT_FDCWD */
    case 6: return (uint64_t)-1;
    default: return gen_int();
    }
}

static uint64_t gen_flags(void) {
    uint64_t f = 0;
    int n = below(4);
    for (int i = 0; i < n; i++) f |= 1ULL << below(chance(80) ? 24 : 64);
    return f;
}

static uint64_t gen_any(void) {
    switch (below(6)) {
    case 0: return gen_int();
    case 1: return gen_ptr();
    case 2: return gen_fd();
    case 3: return gen_len();
    case 4: return gen_flags();
    default: return gen_path();
    }
}

static void add_fd(long fd) {
    if (fd < 0 || fd == LOG_FD) return;
    if (npool < 16) pool[npool++] = (int)fd;
    else pool[below(16)] = (int)fd;
}

/* Stop signals would only park the batch until its timeout. */
static uint64_t no_stop(uint64_t sig) {
    switch (sig & 0xff) {
    case SIGKILL: case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return SIGURG;
    default: return sig;
    }
}

/* Calls whose pid-like argument could reach the harness (pid 1) or every process (-1). */
static uint64_t safe_pid(uint64_t p) {
    int64_t v = (int64_t)p;
    if (v == 1 || v == -1 || v < -1 || v > 0x7fffffff) return (uint64_t)getpid();
    return p;
}

static long do_call(long nr, uint64_t a[6]) {
    if (verbose) {
        char line[256];
        int n = snprintf(line, sizeof line,
                         "call %ld(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", nr,
                         (unsigned long)a[0], (unsigned long)a[1], (unsigned long)a[2],
                         (unsigned long)a[3], (unsigned long)a[4], (unsigned long)a[5]);
        if (write(LOG_FD, line, n) < 0) { /* the log fd may have been closed by a call */ }
    }
    return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void fill_scratch_randomly(void) {
    uint64_t *w = (uint64_t *)scratch;
    size_t n = below(64);
    for (size_t i = 0; i < n; i++) {
        size_t at = below(SCRATCH_PAGES * PAGE / 8);
        switch (below(4)) {
        case 0: w[at] = gen_int(); break;
        case 1: w[at] = gen_ptr(); break;
        case 2: w[at] = gen_len(); break;
        default: w[at] = next64(); break;
        }
    }
}

static const long MEM_CALLS[] = {
    SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_mlock, SYS_munlock, SYS_mlock2,
    SYS_mincore, SYS_msync, SYS_mremap, SYS_brk, SYS_mlockall, SYS_remap_file_pages,
};

/* One memory-range call. */
static long mem_call(void) {
    uint64_t a[6] = {0};
    long nr = MEM_CALLS[below(sizeof(MEM_CALLS) / sizeof(MEM_CALLS[0]))];
    a[0] = chance(50) ? gen_ptr() & ~(PAGE - 1) : gen_ptr();
    a[1] = gen_len();
    a[2] = gen_int();
    a[3] = gen_int();
    a[4] = gen_fd();
    a[5] = gen_int();
    if (nr == SYS_mmap) {
        static const uint64_t FL[] = {MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS,
                                      MAP_GROWSDOWN, MAP_NORESERVE, MAP_POPULATE,
                                      MAP_FIXED_NOREPLACE, MAP_SHARED_VALIDATE, MAP_STACK,
                                      MAP_HUGETLB, MAP_LOCKED, 0x8000000};
        uint64_t f = 0;
        for (int i = 0, n = 1 + below(4); i < n; i++) f |= FL[below(sizeof FL / sizeof FL[0])];
        /* MAP_FIXED over our own code or stack just ends the child; keep it rarer. */
        if ((f & MAP_FIXED) && chance(70)) f &= ~(uint64_t)MAP_FIXED;
        a[2] = below(8) | (chance(10) ? gen_flags() : 0);
        a[3] = f;
        a[5] = chance(70) ? PAGE * below(16) : gen_int();
    } else if (nr == SYS_mprotect) {
        a[2] = below(8) | (chance(10) ? gen_flags() : 0);
    } else if (nr == SYS_munmap && chance(50)) {
        /* Unmapping our own pages mostly kills the child: keep to fresh areas. */
        a[0] = 0x100000000ULL + PAGE * below(1 << 16);
    }
    return do_call(nr, a);
}

/* open a path, then use the result a little. */
static long path_call(void) {
    uint64_t a[6] = {0};
    a[0] = (uint64_t)-100;
    a[1] = gen_path();
    a[2] = chance(60) ? below(4) | (chance(50) ? O_CLOEXEC : 0) : gen_flags();
    a[3] = below(01000);
    long fd = do_call(SYS_openat, a);
    if (fd < 0) return fd;
    add_fd(fd);
    for (int i = 0, n = below(4); i < n; i++) {
        uint64_t b[6] = {(uint64_t)fd, gen_ptr(), gen_len(), gen_int(), gen_int(), gen_int()};
        static const long USE[] = {SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_lseek,
                                   SYS_getdents64, SYS_fstat, SYS_ftruncate, SYS_fsync,
                                   SYS_fchmod, SYS_fchown, SYS_ioctl, SYS_fcntl, SYS_mmap};
        long nr = USE[below(sizeof USE / sizeof USE[0])];
        if (nr == SYS_mmap) {
            b[0] = 0;
            b[1] = PAGE * (1 + below(4));
            b[2] = below(8);
            b[3] = chance(50) ? MAP_SHARED : MAP_PRIVATE;
            b[4] = (uint64_t)fd;
            b[5] = 0;
            long m = do_call(nr, b);
            if (m > 0 && m < 0x800000000000L) {
                uint64_t c[6] = {(uint64_t)m, b[1], below(8), 0, 0, 0};
                do_call(SYS_mprotect, c);
            }
            continue;
        }
        if (nr == SYS_lseek) b[2] = below(5);
        do_call(nr, b);
    }
    return fd;
}

static long clone_call(void) {
    uint64_t a[6] = {0};
    long r;
    if (chance(40)) {
        uint64_t *ca = (uint64_t *)(scratch + 4 * PAGE);
        memset(ca, 0, 128);
        ca[0] = chance(70) ? (1ULL << below(40)) | gen_flags() : gen_flags();
        ca[1] = gen_ptr(); /* pidfd */
        ca[2] = gen_ptr(); /* child_tid */
        ca[3] = gen_ptr(); /* parent_tid */
        ca[4] = chance(70) ? SIGCHLD : gen_int(); /* exit_signal */
        ca[5] = chance(50) ? 0 : gen_ptr(); /* stack */
        ca[6] = chance(50) ? 0 : gen_len(); /* stack_size */
        ca[7] = chance(70) ? 0 : gen_ptr(); /* tls */
        ca[8] = chance(80) ? 0 : gen_ptr(); /* set_tid */
        ca[9] = chance(80) ? 0 : gen_int(); /* set_tid_size */
        ca[10] = chance(80) ? 0 : gen_int(); /* cgroup */
        static const uint64_t SZ[] = {64, 80, 88, 8, 0, 4096, 1 << 20};
        a[0] = (uint64_t)ca;
        a[1] = chance(70) ? 88 : SZ[below(sizeof SZ / sizeof SZ[0])];
        r = do_call(SYS_clone3, a);
    } else {
        uint64_t f = gen_flags() & ~0xffULL;
        a[0] = f | (chance(60) ? SIGCHLD : below(72));
        a[1] = chance(70) ? 0 : gen_ptr();
        a[2] = gen_ptr();
        a[3] = gen_ptr();
        a[4] = gen_ptr();
        r = do_call(SYS_clone, a);
    }
    if (r == 0) {
        /* The new process or thread: a few calls, then gone. */
        for (int i = 0; i < 4; i++) {
            uint64_t b[6] = {gen_int(), gen_int(), gen_int(), gen_int(), gen_int(), gen_int()};
            long nr = (long)below(335);
            if (nr == SYS_kill || nr == SYS_tkill || nr == SYS_tgkill || nr == SYS_reboot ||
                nr == SYS_prlimit64 || nr == SYS_process_vm_writev)
                continue;
            do_call(nr, b);
        }
        syscall(SYS_exit, 0);
        _exit(0);
    }
    return r;
}

static long signal_call(void) {
    uint64_t a[6] = {0};
    switch (below(6)) {
    case 0:
        a[0] = chance(50) ? 0 : (uint64_t)getpid();
        a[1] = no_stop(below(70));
        return do_call(SYS_kill, a);
    case 1:
        a[0] = (uint64_t)syscall(SYS_gettid);
        a[1] = no_stop(below(70));
        return do_call(SYS_tkill, a);
    case 2: { /* sigaction with random flags and a random handler */
        uint64_t *sa = (uint64_t *)(scratch + 5 * PAGE);
        sa[0] = chance(50) ? (uint64_t)(chance(50) ? SIG_IGN : SIG_DFL) : gen_ptr();
        sa[1] = gen_flags();
        sa[2] = gen_ptr();
        sa[3] = gen_int();
        a[0] = below(70);
        if (a[0] == SIGALRM) a[0] = SIGUSR1;
        a[1] = chance(80) ? (uint64_t)sa : gen_ptr();
        a[2] = gen_ptr();
        a[3] = chance(80) ? 8 : gen_int();
        return do_call(SYS_rt_sigaction, a);
    }
    case 3: {
        uint64_t *set = (uint64_t *)(scratch + 5 * PAGE + 512);
        *set = next64() & ~(1ULL << (SIGALRM - 1));
        a[0] = below(4);
        a[1] = chance(80) ? (uint64_t)set : gen_ptr();
        a[2] = gen_ptr();
        a[3] = chance(80) ? 8 : gen_int();
        return do_call(SYS_rt_sigprocmask, a);
    }
    case 4: {
        uint64_t *ss = (uint64_t *)(scratch + 5 * PAGE + 1024);
        ss[0] = gen_ptr();
        ss[1] = gen_int();
        ss[2] = gen_len();
        a[0] = (uint64_t)ss;
        a[1] = gen_ptr();
        return do_call(SYS_sigaltstack, a);
    }
    default:
        a[0] = (uint64_t)getpid();
        a[1] = (uint64_t)syscall(SYS_gettid);
        a[2] = no_stop(below(70));
        a[3] = gen_ptr();
        return do_call(SYS_rt_tgsigqueueinfo, a);
    }
}

static long futex_call(void) {
    uint64_t a[6] = {0};
    uint32_t *word = (uint32_t *)(scratch + 6 * PAGE + 4 * below(8));
    struct timespec *ts = (struct timespec *)(scratch + 6 * PAGE + 256);
    ts->tv_sec = 0;
    ts->tv_nsec = below(2000000);
    if (chance(10)) { ts->tv_sec = (time_t)gen_int(); ts->tv_nsec = (long)gen_int(); }
    a[0] = chance(85) ? (uint64_t)word : gen_ptr();
    a[1] = below(14) | (chance(50) ? 128 : 0) | (chance(20) ? 256 : 0) | (chance(5) ? gen_flags() : 0);
    a[2] = chance(50) ? *word : gen_int();
    a[3] = chance(80) ? (uint64_t)ts : gen_int();
    a[4] = chance(80) ? (uint64_t)(word + 1) : gen_ptr();
    a[5] = gen_int();
    return do_call(SYS_futex, a);
}

static long pipe_call(void) {
    uint64_t a[6] = {0};
    int *fds = (int *)(scratch + 7 * PAGE);
    switch (below(5)) {
    case 0:
        a[0] = (uint64_t)fds;
        a[1] = chance(70) ? (below(2) ? O_NONBLOCK : 0) | (below(2) ? O_CLOEXEC : 0) : gen_flags();
        if (do_call(SYS_pipe2, a) == 0) { add_fd(fds[0]); add_fd(fds[1]); }
        return 0;
    case 1: case 2:
        a[0] = gen_fd();
        a[1] = chance(70) ? 0 : gen_ptr();
        a[2] = gen_fd();
        a[3] = chance(70) ? 0 : gen_ptr();
        a[4] = gen_len();
        a[5] = below(16);
        return do_call(SYS_splice, a);
    case 3:
        a[0] = gen_fd();
        a[1] = gen_fd();
        a[2] = gen_len();
        a[3] = below(16);
        return do_call(SYS_tee, a);
    default:
        a[0] = gen_fd();
        a[1] = gen_fd();
        a[2] = chance(50) ? 0 : gen_ptr();
        a[3] = gen_len();
        return do_call(chance(50) ? SYS_sendfile : SYS_copy_file_range, a);
    }
}

static long ioctl_call(void) {
    static const uint64_t REQ[] = {
        0x5401, 0x5402, 0x5403, 0x5404, 0x5405, 0x5406, 0x5407, 0x5408, 0x5409, 0x540A,
        0x540B, 0x540C, 0x540D, 0x540E, 0x540F, 0x5410, 0x5411, 0x5412, 0x5413, 0x5414,
        0x5415, 0x5416, 0x5417, 0x5418, 0x541B, 0x541C, 0x541D, 0x541E, 0x5420, 0x5421,
        0x5422, 0x5423, 0x5424, 0x5425, 0x5429, 0x5450, 0x5451, 0x5452, 0x80045430,
        0x40045431, 0x80045432, 0x5441, 0x8004667d, 0x4004667e, 0x800454d7,
    };
    uint64_t a[6] = {gen_fd(), chance(80) ? REQ[below(sizeof REQ / sizeof REQ[0])] : gen_int(),
                     gen_ptr(), 0, 0, 0};
    return do_call(SYS_ioctl, a);
}

static long noise_call(void) {
    uint64_t a[6];
    long nr;
    switch (below(20)) {
    case 0: nr = (long)gen_int(); break;
    case 1: nr = 335 + (long)below(120); break;
    default: nr = (long)below(335); break;
    }
    for (int i = 0; i < 6; i++) a[i] = gen_any();
    switch (nr) {
    case SYS_reboot:
        return -1; /* ending the sandbox on purpose is not a finding */
    case SYS_kill: case SYS_tkill: case SYS_rt_sigqueueinfo: case SYS_prlimit64:
    case SYS_process_vm_readv: case SYS_process_vm_writev: case SYS_pidfd_open:
    case SYS_kcmp: case SYS_ptrace: case SYS_move_pages: case SYS_migrate_pages:
    case SYS_perf_event_open: case SYS_sched_setaffinity: case SYS_setpriority:
        if (nr == SYS_setpriority) a[1] = safe_pid(a[1]);
        else a[0] = safe_pid(a[0]);
        if (nr == SYS_kill || nr == SYS_tkill || nr == SYS_rt_sigqueueinfo)
            a[1] = a[0] == 0 ? SIGURG : no_stop(a[1]);
        break;
    case SYS_tgkill: case SYS_rt_tgsigqueueinfo:
        a[0] = safe_pid(a[0]);
        a[1] = safe_pid(a[1]);
        a[2] = no_stop(a[2]);
        break;
    case SYS_close: case SYS_dup2: case SYS_dup3:
        if (a[0] == LOG_FD || a[1] == LOG_FD) return -1;
        break;
    case SYS_rt_sigaction:
        if (a[0] == SIGALRM) a[0] = SIGUSR2;
        break;
    case SYS_exit: case SYS_exit_group:
        if (chance(90)) return -1; /* keep batches going most of the time */
        break;
    }
    long r = do_call(nr, a);
    if ((nr == SYS_open || nr == SYS_openat || nr == SYS_dup || nr == SYS_eventfd2 ||
         nr == SYS_epoll_create1 || nr == SYS_memfd_create || nr == SYS_signalfd4 ||
         nr == SYS_timerfd_create || nr == SYS_inotify_init1) && r >= 0)
        add_fd(r);
    return r;
}

static void on_alarm(int sig) { (void)sig; }

/* Files the batches may have made: gone after each batch, so what they hold (tmpfs data is
 * sandbox memory) does not pile up into an out-of-memory kill of the harness. */
static void clean_files(void) {
    static const char *const FILES[] = {"/tmp/fz/a", "/tmp/fz/b", "/tmp/fzfile", "/tmp/fzlink",
                                        "/tmp/fzfifo", "/dev/shm/fz"};
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        unlink(FILES[i]);
        rmdir(FILES[i]);
    }
}

/* On a hang: what every process of the sandbox is doing, from /proc. */
static void dump_processes(void) {
    for (int pid = 2; pid < 4096; pid++) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            printf("  stat %s", buf);
        }
        printf("%s", n > 0 && buf[n - 1] == '\n' ? "" : "\n");
    }
}

static void run_batch(uint64_t seed, unsigned batch, unsigned calls) {
    rng = seed * 0x9E3779B97F4A7C15ULL + batch * 0xBF58476D1CE4E5B9ULL + 1;
    for (int i = 0; i < 8; i++) next64();

    setpgid(0, 0);
    if (batch % 2 == 1) {
        if (setgid(1000) != 0 || setuid(1000) != 0) _exit(90);
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        if (!verbose) { dup2(null, 1); dup2(null, 2); }
        close(null);
    }
    scratch = mmap(NULL, (SCRATCH_PAGES + 1) * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED) _exit(91);
    mprotect(scratch + SCRATCH_PAGES * PAGE, PAGE, PROT_NONE);
    for (size_t i = 0; i < SCRATCH_PAGES * PAGE / 8; i++) ((uint64_t *)scratch)[i] = next64();

    /* A few descriptors of different kinds to start from. */
    int p[2];
    if (pipe(p) == 0) { add_fd(p[0]); add_fd(p[1]); }
    add_fd(open("/tmp", O_RDONLY | O_DIRECTORY));
    add_fd(open("/tmp/fzfile", O_RDWR | O_CREAT, 0666));
    add_fd(open("/proc/self/status", O_RDONLY));
    add_fd(open("/dev/zero", O_RDONLY));
    add_fd(syscall(SYS_eventfd2, 0, 0));
    add_fd(syscall(SYS_epoll_create1, 0));

    /* Blocking calls are interrupted every 20 ms. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);

    for (unsigned i = 0; i < calls; i++) {
        if (chance(10)) fill_scratch_randomly();
        switch (below(20)) {
        case 0: case 1: case 2: mem_call(); break;
        case 3: case 4: path_call(); break;
        case 5: clone_call(); break;
        case 6: signal_call(); break;
        case 7: futex_call(); break;
        case 8: pipe_call(); break;
        case 9: ioctl_call(); break;
        default: noise_call(); break;
        }
    }
    _exit(0);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reaps everything; returns 1 once `child` has been reaped. */
static int reap(pid_t child) {
    int got = 0, st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
        if (r == child) got = 1;
    return got;
}

int main(int argc, char **argv) {
    uint64_t seed = 0;
    unsigned calls = 50000, batch = 200;
    long only = -1;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) { seed = strtoull(argv[++i], 0, 0); have_seed = 1; }
        else if (!strcmp(argv[i], "--calls") && i + 1 < argc) calls = strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = strtol(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else { fprintf(stderr, "fuzz: unknown argument %s\n", argv[i]); return 2; }
    }
    if (!have_seed || batch == 0) {
        fprintf(stderr, "usage: fuzz --seed S [--calls N] [--batch K] [--only B] [-v]\n");
        return 2;
    }
    /* Random calls as root would damage a real system: run only as a sandbox's init. */
    if (getpid() != 1) {
        fprintf(stderr, "fuzz: refusing to run outside a sandbox (must be pid 1)\n");
        return 2;
    }
    if (dup2(2, LOG_FD) < 0) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir("/tmp/fz", 0777);

    unsigned nbatches = (calls + batch - 1) / batch, timeouts = 0;
    for (unsigned b = 0; b < nbatches; b++) {
        if (only >= 0 && b != (unsigned long)only) continue;
        printf("batch %u\n", b);
        pid_t c = fork();
        if (c < 0) { perror("fuzz: fork"); return 4; }
        if (c == 0) run_batch(seed, b, batch);
        double start = now();
        int done = 0, killed = 0;
        while (!done) {
            done = reap(c);
            if (done) break;
            if (!killed && now() - start > 2.0) {
                kill(-c, SIGKILL);
                kill(c, SIGKILL);
                killed = 1;
                timeouts++;
                start = now();
            } else if (killed && now() - start > 10.0) {
                printf("fuzz: HANG seed=%llu batch=%u: the batch's process was not reaped 10 s after SIGKILL\n",
                       (unsigned long long)seed, b);
                dump_processes();
                return 3;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        /* Whatever the batch left behind (other groups, reparented children) goes too. */
        kill(-1, SIGKILL);
        double t = now();
        int gone = 0;
        while (!gone && now() - t < 10.0) {
            pid_t r = waitpid(-1, NULL, WNOHANG | __WALL);
            if (r < 0 && errno == ECHILD) gone = 1;
            else if (r == 0) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        }
        clean_files();
        if (!gone) {
            printf("fuzz: HANG seed=%llu batch=%u: leftover processes not reaped 10 s after SIGKILL\n",
                   (unsigned long long)seed, b);
            dump_processes();
            return 3;
        }
    }
    printf("fuzz: seed=%llu calls=%u batch=%u batches=%u timeouts=%u done\n",
           (unsigned long long)seed, calls, batch, nbatches, timeouts);
    return 0;
}
