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
 * signals, ioctls, and the socket calls (every family, malformed addresses, huge iovec counts,
 * garbage control messages, SCM_RIGHTS with many descriptors, sockets sent over themselves,
 * random netlink requests).
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* ---- sockets ---- */

static int socks[16];
static int nsocks;

static void add_sock(long fd) {
    if (fd < 0 || fd == LOG_FD) return;
    add_fd(fd);
    if (nsocks < 16) socks[nsocks++] = (int)fd;
    else socks[below(16)] = (int)fd;
}

static uint64_t gen_sock(void) {
    return nsocks && chance(85) ? (uint64_t)socks[below(nsocks)] : gen_fd();
}

static uint64_t gen_domain(void) {
    static const uint64_t D[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNSPEC};
    switch (below(6)) {
    case 0: case 1: case 2: return D[below(sizeof D / sizeof D[0])];
    case 3: return AF_UNIX;
    case 4: return below(50);
    default: return gen_int();
    }
}

static uint64_t gen_socktype(void) {
    static const uint64_t T[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM};
    uint64_t t = chance(85) ? T[below(sizeof T / sizeof T[0])] : gen_int();
    if (chance(30)) t |= SOCK_NONBLOCK;
    if (chance(30)) t |= SOCK_CLOEXEC;
    return t;
}

static uint64_t gen_proto(void) {
    static const uint64_t P[] = {0, 0, 0, 6, 17, 1, 58, 255, 132, 15, 16, 9};
    return chance(85) ? P[below(sizeof P / sizeof P[0])] : gen_int();
}

/* A socket address in the scratch area (8th page): the right shape for its family, too short,
 * too long, unterminated, or noise. Its length goes to *len. */
static uint64_t gen_sockaddr(uint64_t *len) {
    unsigned char *p = scratch + 8 * PAGE + 64 * below(4);
    uint16_t fam = (uint16_t)gen_domain();
    memcpy(p, &fam, 2);
    switch (fam) {
    case AF_UNIX: {
        static const char *const N[] = {"/tmp/fz/s", "/tmp/fz/t", "/tmp/fzfile", "/tmp",
                                        "/nonexistent/s", "/proc/self/fd/0", ""};
        if (chance(30)) { /* abstract */
            p[2] = 0;
            memcpy(p + 3, "fz", 2);
            *len = 2 + 1 + below(4);
        } else {
            const char *n = N[below(sizeof N / sizeof N[0])];
            strcpy((char *)p + 2, n);
            *len = 2 + strlen(n) + below(2);
        }
        break;
    }
    case AF_INET: {
        struct sockaddr_in *a = (void *)p;
        a->sin_port = htons(chance(50) ? 4000 + below(4) : (uint16_t)gen_int());
        a->sin_addr.s_addr = chance(60) ? htonl(0x7f000001) : (uint32_t)gen_int();
        *len = 16;
        break;
    }
    case AF_INET6: {
        struct sockaddr_in6 *a = (void *)p;
        a->sin6_port = htons(chance(50) ? 4000 + below(4) : (uint16_t)gen_int());
        memset(&a->sin6_addr, 0, 16);
        a->sin6_addr.s6_addr[15] = chance(70);
        a->sin6_scope_id = chance(80) ? 0 : (uint32_t)gen_int();
        *len = chance(80) ? 28 : 24;
        break;
    }
    case AF_NETLINK: {
        uint32_t pid = chance(50) ? 0 : (uint32_t)gen_int(), groups = chance(70) ? 0 : (uint32_t)gen_int();
        memcpy(p + 2, "\0\0", 2);
        memcpy(p + 4, &pid, 4);
        memcpy(p + 8, &groups, 4);
        *len = 12;
        break;
    }
    default:
        *len = 16;
        break;
    }
    switch (below(8)) {
    case 0: *len = below(3); break; /* shorter than the family */
    case 1: *len = *len ? *len - 1 : 0; break;
    case 2: *len = 110 + below(40); break; /* around sizeof(sockaddr_un) and sockaddr_storage */
    case 3: *len = chance(50) ? gen_len() : (uint64_t)-(int64_t)below(8); break;
    }
    if (chance(5)) return gen_ptr();
    return (uint64_t)p;
}

/* A length pointer holding a plausible, tiny, negative or huge value. */
static uint64_t gen_lenptr(void) {
    uint32_t *l = (uint32_t *)(scratch + 8 * PAGE + 512 + 4 * below(4));
    static const uint32_t V[] = {0, 1, 2, 12, 16, 28, 110, 128, 4096, 0x7fffffff, 0x80000000, 0xffffffff};
    *l = V[below(sizeof V / sizeof V[0])];
    return chance(90) ? (uint64_t)l : gen_ptr();
}

/* A control buffer (9th page): SCM_RIGHTS with few or very many descriptors (the socket itself
 * among them), SCM_CREDENTIALS true or forged, unknown levels and types, lengths that lie. */
static uint64_t gen_control(uint64_t *clen, int self) {
    unsigned char *base = scratch + 9 * PAGE;
    size_t room = PAGE, at = 0;
    int n = 1 + below(3);
    for (int i = 0; i < n && at + 64 < room; i++) {
        struct cmsghdr *c = (struct cmsghdr *)(base + at);
        size_t data;
        switch (below(4)) {
        case 0: case 1: { /* SCM_RIGHTS */
            size_t nfds = chance(60) ? 1 + below(4) : chance(50) ? 250 + below(8) : below(700);
            if (nfds * 4 + 16 + at > room) nfds = (room - at - 16) / 4;
            int *fds = (int *)CMSG_DATA(c);
            for (size_t k = 0; k < nfds; k++)
                fds[k] = chance(30) ? self : chance(85) ? (int)gen_fd() : (int)gen_int();
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            data = nfds * 4;
            break;
        }
        case 2: { /* SCM_CREDENTIALS */
            int *u = (int *)CMSG_DATA(c);
            u[0] = chance(60) ? getpid() : (int)gen_int();
            u[1] = chance(60) ? (int)getuid() : (int)gen_int();
            u[2] = chance(60) ? (int)getgid() : (int)gen_int();
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_CREDENTIALS;
            data = 12;
            break;
        }
        default:
            c->cmsg_level = chance(50) ? SOL_SOCKET : (int)gen_int();
            c->cmsg_type = (int)below(64);
            data = below(48);
            break;
        }
        c->cmsg_len = CMSG_LEN(data);
        if (chance(15)) c->cmsg_len = chance(50) ? below(20) : gen_len();
        at += CMSG_SPACE(data);
    }
    *clen = at;
    if (chance(15)) *clen = chance(50) ? below(at + 1) : gen_len();
    if (chance(5)) return gen_ptr();
    return (uint64_t)base;
}

/* A msghdr (10th page + offset) with its iovecs: counts up to and past UIO_MAXIOV. */
static uint64_t gen_msghdr(unsigned char *at, int self) {
    struct msghdr *m = (struct msghdr *)at;
    struct iovec *iov = (struct iovec *)(scratch + 12 * PAGE);
    size_t maxiov = PAGE * 4 / sizeof(struct iovec); /* 1024; one more reads the guard page */
    size_t n = chance(70) ? below(4) : chance(50) ? 1024 + below(2) : below(maxiov);
    for (size_t i = 0; i < n && i < maxiov; i++) {
        iov[i].iov_base = chance(85) ? scratch + 2 * PAGE + below(PAGE) : (void *)gen_ptr();
        iov[i].iov_len = chance(85) ? below(256) : gen_len();
    }
    uint64_t nl = 0, cl = 0;
    m->msg_name = chance(50) ? NULL : (void *)gen_sockaddr(&nl);
    m->msg_namelen = (socklen_t)nl;
    m->msg_iov = chance(95) ? iov : (void *)gen_ptr();
    m->msg_iovlen = chance(90) ? n : gen_len();
    m->msg_control = chance(50) ? NULL : (void *)gen_control(&cl, self);
    m->msg_controllen = cl;
    m->msg_flags = (int)gen_int();
    return (uint64_t)m;
}

static uint64_t gen_msgflags(void) {
    static const uint64_t F[] = {MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_NOSIGNAL,
                                 MSG_OOB, MSG_CMSG_CLOEXEC, MSG_EOR, MSG_MORE, MSG_CONFIRM,
                                 MSG_ERRQUEUE, MSG_WAITFORONE};
    uint64_t f = chance(60) ? MSG_DONTWAIT : 0;
    for (int i = 0, n = below(3); i < n; i++) f |= F[below(sizeof F / sizeof F[0])];
    if (chance(5)) f |= gen_flags();
    return f;
}

/* A netlink request (random type, flags and lengths) in the 13th page. */
static void gen_netlink(uint64_t *buf, uint64_t *len) {
    unsigned char *p = scratch + 13 * PAGE;
    size_t at = 0;
    for (int i = 0, n = 1 + below(3); i < n && at < PAGE - 128; i++) {
        uint32_t body = chance(70) ? 16 + 4 * below(8) : below(64);
        struct { uint32_t len; uint16_t type, flags; uint32_t seq, pid; } h;
        h.len = 16 + body;
        if (chance(15)) h.len = chance(50) ? below(40) : (uint32_t)gen_int();
        h.type = chance(70) ? 16 + below(112) : (uint16_t)gen_int();
        h.flags = chance(70) ? (1 | (chance(50) ? 0x300 : 0) | (chance(30) ? 4 : 0)) : (uint16_t)gen_int();
        h.seq = (uint32_t)next64();
        h.pid = 0;
        memcpy(p + at, &h, 16);
        for (uint32_t k = 0; k < body; k++) p[at + 16 + k] = chance(60) ? 0 : (unsigned char)next64();
        if (chance(30)) { /* an attribute: IFLA_IFNAME "lo" */
            uint16_t al = 7, ty = 3;
            memcpy(p + at + 16 + 16 % (body + 1), &al, 2);
            memcpy(p + at + 18 + 16 % (body + 1), &ty, 2);
        }
        at += (16 + body + 3) & ~3u;
    }
    *buf = (uint64_t)p;
    *len = chance(90) ? at : gen_len();
}

static long socket_call(void) {
    uint64_t a[6] = {0};
    uint64_t l = 0;
    long r;
    switch (below(18)) {
    case 0: case 1: /* socket */
        a[0] = gen_domain();
        a[1] = gen_socktype();
        a[2] = gen_proto();
        r = do_call(SYS_socket, a);
        add_sock(r);
        return r;
    case 2: { /* socketpair */
        int *sv = (int *)(scratch + 8 * PAGE + 1024);
        a[0] = chance(70) ? AF_UNIX : gen_domain();
        a[1] = gen_socktype();
        a[2] = chance(80) ? 0 : gen_proto();
        a[3] = chance(90) ? (uint64_t)sv : gen_ptr();
        r = do_call(SYS_socketpair, a);
        if (r == 0 && a[3] == (uint64_t)sv) { add_sock(sv[0]); add_sock(sv[1]); }
        return r;
    }
    case 3: /* bind, connect */
        a[0] = gen_sock();
        a[1] = gen_sockaddr(&l);
        a[2] = l;
        return do_call(chance(50) ? SYS_bind : SYS_connect, a);
    case 4: /* listen */
        a[0] = gen_sock();
        a[1] = chance(70) ? below(8) : gen_int();
        return do_call(SYS_listen, a);
    case 5: /* accept, accept4 */
        a[0] = gen_sock();
        a[1] = chance(50) ? 0 : (uint64_t)(scratch + 8 * PAGE + 256);
        a[2] = a[1] ? gen_lenptr() : (chance(80) ? 0 : gen_ptr());
        a[3] = chance(70) ? (below(2) ? SOCK_NONBLOCK : 0) | (below(2) ? SOCK_CLOEXEC : 0) : gen_int();
        r = do_call(chance(50) ? SYS_accept4 : SYS_accept, a);
        add_sock(r);
        return r;
    case 6: /* shutdown, getsockname, getpeername */
        a[0] = gen_sock();
        switch (below(3)) {
        case 0: a[1] = chance(80) ? below(3) : gen_int(); return do_call(SYS_shutdown, a);
        case 1: a[1] = chance(80) ? (uint64_t)(scratch + 8 * PAGE + 256) : gen_ptr(); a[2] = gen_lenptr(); return do_call(SYS_getsockname, a);
        default: a[1] = chance(80) ? (uint64_t)(scratch + 8 * PAGE + 256) : gen_ptr(); a[2] = gen_lenptr(); return do_call(SYS_getpeername, a);
        }
    case 7: { /* setsockopt, getsockopt */
        static const uint64_t LV[] = {SOL_SOCKET, SOL_SOCKET, 6, 0, 41, 17, 270, 1, 263};
        a[0] = gen_sock();
        a[1] = chance(90) ? LV[below(sizeof LV / sizeof LV[0])] : gen_int();
        a[2] = chance(85) ? below(80) : gen_int();
        a[3] = chance(85) ? (uint64_t)(scratch + 8 * PAGE + 768) : gen_ptr();
        if (chance(50)) {
            a[4] = chance(70) ? 4 * below(5) : gen_len();
            return do_call(SYS_setsockopt, a);
        }
        a[4] = gen_lenptr();
        return do_call(SYS_getsockopt, a);
    }
    case 8: case 9: /* sendto, recvfrom */
        a[0] = gen_sock();
        a[1] = chance(85) ? (uint64_t)(scratch + 3 * PAGE) : gen_ptr();
        a[2] = chance(70) ? below(PAGE) : gen_len();
        a[3] = gen_msgflags();
        if (chance(50)) {
            a[4] = chance(50) ? 0 : gen_sockaddr(&l);
            a[5] = l;
            return do_call(SYS_sendto, a);
        }
        a[4] = chance(50) ? 0 : (uint64_t)(scratch + 8 * PAGE + 256);
        a[5] = a[4] ? gen_lenptr() : 0;
        return do_call(SYS_recvfrom, a);
    case 10: case 11: { /* sendmsg, recvmsg */
        a[0] = gen_sock();
        a[1] = chance(95) ? gen_msghdr(scratch + 10 * PAGE, (int)a[0]) : gen_ptr();
        a[2] = gen_msgflags();
        r = do_call(chance(50) ? SYS_sendmsg : SYS_recvmsg, a);
        return r;
    }
    case 12: { /* sendmmsg, recvmmsg */
        unsigned char *v = scratch + 10 * PAGE;
        size_t n = chance(80) ? 1 + below(4) : below(64);
        if (n > 64) n = 64;
        a[0] = gen_sock();
        for (size_t i = 0; i < n; i++) {
            gen_msghdr(v + 64 * i, (int)a[0]);
            *(unsigned *)(v + 64 * i + 56) = (unsigned)gen_int();
        }
        a[1] = chance(95) ? (uint64_t)v : gen_ptr();
        a[2] = chance(85) ? n : gen_len();
        a[3] = gen_msgflags();
        if (chance(50)) return do_call(SYS_sendmmsg, a);
        struct timespec *ts = (struct timespec *)(scratch + 8 * PAGE + 1536);
        ts->tv_sec = 0;
        ts->tv_nsec = chance(80) ? (long)below(1000000) : (long)gen_int();
        a[4] = chance(50) ? 0 : chance(90) ? (uint64_t)ts : gen_ptr();
        return do_call(SYS_recvmmsg, a);
    }
    case 13: { /* a unix pair sent over itself, then closed: a cycle only a collector frees */
        int sv[2];
        if (socketpair(AF_UNIX, chance(50) ? SOCK_STREAM : SOCK_DGRAM, 0, sv)) return -1;
        struct msghdr m = {0};
        struct iovec iov = {"x", 1};
        union { struct cmsghdr c; char b[CMSG_SPACE(8)]; } u;
        memset(&u, 0, sizeof u);
        u.c.cmsg_len = CMSG_LEN(8);
        u.c.cmsg_level = SOL_SOCKET;
        u.c.cmsg_type = SCM_RIGHTS;
        memcpy(CMSG_DATA(&u.c), sv, 8);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = u.b;
        m.msg_controllen = sizeof u.b;
        uint64_t b[6] = {(uint64_t)sv[0], (uint64_t)&m, MSG_DONTWAIT, 0, 0, 0};
        do_call(SYS_sendmsg, b);
        b[0] = (uint64_t)sv[1];
        do_call(SYS_sendmsg, b);
        if (chance(50)) { close(sv[0]); close(sv[1]); } else { add_sock(sv[0]); add_sock(sv[1]); }
        return 0;
    }
    case 14: case 15: { /* netlink requests */
        int fd = nsocks && chance(50) ? socks[below(nsocks)]
                                      : (int)syscall(SYS_socket, AF_NETLINK, chance(50) ? SOCK_RAW : SOCK_DGRAM, chance(90) ? 0 : gen_proto());
        if (fd < 0) return fd;
        add_sock(fd);
        uint64_t buf, len;
        gen_netlink(&buf, &len);
        a[0] = (uint64_t)fd;
        a[1] = buf;
        a[2] = len;
        a[3] = gen_msgflags();
        do_call(SYS_sendto, a);
        a[1] = (uint64_t)(scratch + 3 * PAGE);
        a[2] = chance(70) ? PAGE : below(64);
        a[3] = MSG_DONTWAIT | (chance(30) ? MSG_PEEK | MSG_TRUNC : 0);
        return do_call(SYS_recvfrom, a);
    }
    default: { /* socket ioctls and fcntl */
        static const uint64_t REQ[] = {0x8910, 0x8912, 0x8913, 0x8914, 0x8915, 0x8916, 0x8919,
                                       0x891b, 0x8921, 0x8922, 0x8927, 0x8933, 0x8942, 0x8970,
                                       0x541B, 0x5411, 0x89ff, 0x8938, 0x890B, 0x8906, 0x8907};
        a[0] = gen_sock();
        if (chance(20)) {
            a[1] = chance(50) ? F_SETFL : F_SETOWN;
            a[2] = chance(50) ? O_NONBLOCK | O_ASYNC : (uint64_t)getpid();
            return do_call(SYS_fcntl, a);
        }
        a[1] = chance(90) ? REQ[below(sizeof REQ / sizeof REQ[0])] : gen_int();
        a[2] = chance(80) ? (uint64_t)(scratch + 8 * PAGE + 2048 + 8 * below(8)) : gen_ptr();
        return do_call(SYS_ioctl, a);
    }
    }
}

static void on_alarm(int sig) { (void)sig; }

/* Files the batches may have made: gone after each batch, so what they hold (tmpfs data is
 * sandbox memory) does not pile up into an out-of-memory kill of the harness. */
static void clean_files(void) {
    static const char *const FILES[] = {"/tmp/fz/a", "/tmp/fz/b", "/tmp/fzfile", "/tmp/fzlink",
                                        "/tmp/fzfifo", "/dev/shm/fz", "/tmp/fz/s", "/tmp/fz/t"};
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
        case 10: case 11: socket_call(); break;
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
