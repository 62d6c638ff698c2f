// seccomp(2) and prctl(PR_SET_SECCOMP) as Linux answers them: the API's
// checks, filters that fail, trap, kill, log and stack, strict mode, TSYNC,
// inheritance across fork and exec, /proc/self/status. Every scenario runs
// in a forked child so that a kill does not end the test; the parent prints
// how it ended. Run as root, natively and sandboxed, outputs compared.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static const char *self_path;

static const char *ename(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case ENOMEM: return "ENOMEM";
    case ESRCH: return "ESRCH";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case E2BIG: return "E2BIG";
    case EBADMSG: return "EBADMSG";
    case EAGAIN: return "EAGAIN";
    default: {
        static char b[32];
        snprintf(b, sizeof b, "errno %d", e);
        return b;
    }
    }
}

static void report(const char *what, long r) {
    if (r == -1)
        printf("%s = -1 %s\n", what, ename(errno));
    else
        printf("%s = %ld\n", what, r);
}

static long sc(unsigned op, unsigned flags, void *args) {
    return syscall(SYS_seccomp, op, flags, args);
}

static long install(struct sock_filter *f, unsigned short n, unsigned flags) {
    struct sock_fprog p = {n, f};
    return sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

// A filter giving `action` to system call `nr` and allowing the rest.
static long deny(int nr, unsigned action, unsigned flags) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return install(f, 4, flags);
}

static void nnp(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        printf("PR_SET_NO_NEW_PRIVS failed: %s\n", ename(errno));
}

// The seccomp lines of /proc/self/status.
static void status_lines(const char *tag) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) {
        printf("%s: no /proc/self/status\n", tag);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8) ||
            !strncmp(line, "Seccomp_filters:", 16))
            printf("%s: %s", tag, line);
    }
    fclose(f);
}

static void scenario(const char *name, void (*fn)(void)) {
    printf("== %s\n", name);
    pid_t p = fork();
    if (p == 0) {
        fn();
        syscall(SYS_exit_group, 0);
    }
    int st = 0;
    if (waitpid(p, &st, 0) != p) {
        printf("waitpid failed: %s\n", ename(errno));
        return;
    }
    if (WIFEXITED(st))
        printf("-> exited %d\n", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("-> killed by signal %d\n", WTERMSIG(st));
    else
        printf("-> status %#x\n", st);
}

static void api(void) {
    unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
                       SECCOMP_RET_ERRNO,        SECCOMP_RET_USER_NOTIF,  SECCOMP_RET_TRACE,
                       SECCOMP_RET_LOG,          SECCOMP_RET_ALLOW,       0x00010000,
                       0x7fff0001,               SECCOMP_RET_ERRNO | 1,   0xffff0000};
    for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "action_avail(%#x)", acts[i]);
        report(what, sc(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]));
    }
    report("action_avail(flags 1)", sc(SECCOMP_GET_ACTION_AVAIL, 1, &acts[0]));
    report("action_avail(NULL)", sc(SECCOMP_GET_ACTION_AVAIL, 0, NULL));
    struct seccomp_notif_sizes sz = {0};
    report("notif_sizes", sc(SECCOMP_GET_NOTIF_SIZES, 0, &sz));
    printf("sizes notif %u resp %u data %u\n", sz.seccomp_notif, sz.seccomp_notif_resp,
           sz.seccomp_data);
    report("notif_sizes(flags 1)", sc(SECCOMP_GET_NOTIF_SIZES, 1, &sz));
    report("notif_sizes(bad ptr)", sc(SECCOMP_GET_NOTIF_SIZES, 0, (void *)8));
    report("op 4", sc(4, 0, NULL));
    report("op -1", sc(~0u, 0, NULL));
    report("strict(flags 1)", sc(SECCOMP_SET_MODE_STRICT, 1, NULL));
    report("strict(args)", sc(SECCOMP_SET_MODE_STRICT, 0, &sz));
    report("filter(flags 1<<6)", sc(SECCOMP_SET_MODE_FILTER, 1 << 6, NULL));
    report("filter(flags 1<<31)", sc(SECCOMP_SET_MODE_FILTER, 1u << 31, NULL));
    report("filter(TSYNC|NEW_LISTENER)",
           sc(SECCOMP_SET_MODE_FILTER,
              SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER, NULL));
    report("filter(WAIT_KILLABLE_RECV)",
           sc(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, NULL));
    report("filter(TSYNC, NULL)", sc(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, NULL));
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    report("PR_SET_SECCOMP(0)", prctl(PR_SET_SECCOMP, 0, 0, 0, 0));
    report("PR_SET_SECCOMP(3)", prctl(PR_SET_SECCOMP, 3, 0, 0, 0));
    report("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

static void eacces(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        printf("capget failed %s\n", ename(errno));
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    report("capset(drop CAP_SYS_ADMIN)", syscall(SYS_capset, &h, d));
    struct sock_filter ok[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog p = {1, ok};
    report("filter without NNP", install(ok, 1, 0));
    report("filter(len 0) without NNP", install(ok, 0, 0));
    report("filter(NULL) without NNP", sc(SECCOMP_SET_MODE_FILTER, 0, NULL));
    report("PR_SET_SECCOMP(2) without NNP", prctl(PR_SET_SECCOMP, 2, &p, 0, 0));
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    nnp();
    report("filter with NNP", install(ok, 1, 0));
    report("PR_SET_SECCOMP(2) with NNP", prctl(PR_SET_SECCOMP, 2, &p, 0, 0));
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    status_lines("status");
}

static void root_without_nnp(void) {
    report("filter as root without NNP", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
    report("getppid", syscall(SYS_getppid));
    report("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    status_lines("status");
}

#define S(c, k) BPF_STMT(c, k)
#define RETA S(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static void bad_filters(void) {
    nnp();
    struct {
        const char *name;
        struct sock_filter f[4];
        unsigned short n;
    } bad[] = {
        {"no RET at the end", {S(BPF_LD | BPF_IMM, 0)}, 1},
        {"JEQ past the end", {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), RETA}, 2},
        {"JGT jf past the end", {BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 5), RETA}, 2},
        {"JA past the end", {S(BPF_JMP | BPF_JA, 1), RETA}, 2},
        {"JA -1", {S(BPF_JMP | BPF_JA, 0xffffffff), RETA}, 2},
        {"LD W ABS 64", {S(BPF_LD | BPF_W | BPF_ABS, 64), RETA}, 2},
        {"LD W ABS 2", {S(BPF_LD | BPF_W | BPF_ABS, 2), RETA}, 2},
        {"LD H ABS 0", {S(BPF_LD | BPF_H | BPF_ABS, 0), RETA}, 2},
        {"LD B ABS 0", {S(BPF_LD | BPF_B | BPF_ABS, 0), RETA}, 2},
        {"LD W IND 0", {S(BPF_LD | BPF_W | BPF_IND, 0), RETA}, 2},
        {"LDX B MSH", {S(BPF_LDX | BPF_B | BPF_MSH, 0), RETA}, 2},
        {"LD W ABS ancillary", {S(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL), RETA}, 2},
        {"DIV K 0", {S(BPF_ALU | BPF_DIV | BPF_K, 0), RETA}, 2},
        {"MOD K 3", {S(BPF_ALU | BPF_MOD | BPF_K, 3), RETA}, 2},
        {"MOD X", {S(BPF_ALU | BPF_MOD | BPF_X, 0), RETA}, 2},
        {"LSH K 32", {S(BPF_ALU | BPF_LSH | BPF_K, 32), RETA}, 2},
        {"RSH K 99", {S(BPF_ALU | BPF_RSH | BPF_K, 99), RETA}, 2},
        {"ST 16", {S(BPF_ST, 16), RETA}, 2},
        {"LDX MEM 16", {S(BPF_LDX | BPF_MEM, 16), RETA}, 2},
        {"LD MEM never stored", {S(BPF_LD | BPF_MEM, 3), RETA}, 2},
        {"LD MEM stored on one path",
         {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_ST, 3), S(BPF_LD | BPF_MEM, 3), RETA},
         4},
        {"RET X", {S(BPF_RET | BPF_X, 0)}, 1},
        {"opcode 0xffff", {S(0xffff, 0), RETA}, 2},
        {"ALU X with K bit", {S(BPF_ALU | 0xd0, 0), RETA}, 2},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "bad filter: %s", bad[i].name);
        report(what, install(bad[i].f, bad[i].n, 0));
    }
    static struct sock_filter big[4097];
    for (int i = 0; i < 4097; i++)
        big[i] = (struct sock_filter)RETA;
    report("filter(len 4097)", install(big, 4097, 0));
    report("filter(len 0)", install(big, 0, 0));
    struct sock_fprog nullf = {1, NULL};
    report("filter(NULL insns)", sc(SECCOMP_SET_MODE_FILTER, 0, &nullf));
    struct sock_fprog badf = {1, (struct sock_filter *)8};
    report("filter(bad insns)", sc(SECCOMP_SET_MODE_FILTER, 0, &badf));
    report("filter(bad fprog)", sc(SECCOMP_SET_MODE_FILTER, 0, (void *)8));
    report("PR_GET_SECCOMP after bad ones", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    // Good ones, with every allowed opcode class.
    struct sock_filter good[] = {
        S(BPF_LD | BPF_W | BPF_LEN, 0),        // A = 64
        S(BPF_LDX | BPF_W | BPF_LEN, 0),       // X = 64
        S(BPF_ALU | BPF_ADD | BPF_X, 0),       // 128
        S(BPF_ALU | BPF_SUB | BPF_K, 28),      // 100
        S(BPF_ALU | BPF_MUL | BPF_K, 3),       // 300
        S(BPF_ALU | BPF_DIV | BPF_K, 7),       // 42
        S(BPF_ST, 5),                          // M[5] = 42
        S(BPF_ALU | BPF_NEG, 0),               // -42
        S(BPF_ALU | BPF_NEG, 0),               // 42
        S(BPF_MISC | BPF_TAX, 0),              // X = 42
        S(BPF_LD | BPF_MEM, 5),                // A = 42
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 1),
        RETA,
        S(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    report("good filter", install(good, sizeof good / sizeof good[0], 0));
    report("filter(len 4096)", install(big, 4096, 0));
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    status_lines("status");
}

static void errno_action(void) {
    nnp();
    report("deny getppid EPERM", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
    report("deny getgid 5000", deny(SYS_getgid, SECCOMP_RET_ERRNO | 5000, 0));
    report("deny getpgrp 0", deny(SYS_getpgrp, SECCOMP_RET_ERRNO | 0, 0));
    report("deny nr 1000", deny(1000, SECCOMP_RET_ERRNO | EPERM, 0));
    report("deny getsid 512", deny(SYS_getsid, SECCOMP_RET_ERRNO | 512, 0));
    report("getppid", syscall(SYS_getppid));
    report("getgid", syscall(SYS_getgid));
    report("getpgrp", syscall(SYS_getpgrp));
    report("syscall 1000", syscall(1000));
    report("getsid (ERRNO 512, no signal pending)", syscall(SYS_getsid, 0));
    report("syscall 1001", syscall(1001));
    printf("getpid ok %d\n", syscall(SYS_getpid) > 0);
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    status_lines("status");
}

static void args_and_arch(void) {
    nnp();
    struct sock_filter f[] = {
        // Anything but x86-64 is killed.
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        S(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 1, 0),
        RETA,
        // dup: the high half of fd refused with E2BIG, fd 100 with EBADMSG.
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        S(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | E2BIG),
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
        S(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EBADMSG),
        // dup(fd & 0x40): the data is the fd plus 10.
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40, 0, 3),
        S(BPF_ALU | BPF_ADD | BPF_K, 10),
        S(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
        S(BPF_RET | BPF_A, 0),
        RETA,
    };
    report("install", install(f, sizeof f / sizeof f[0], 0));
    report("dup(1<<32)", syscall(SYS_dup, 1ul << 32));
    report("dup(100)", syscall(SYS_dup, 100));
    report("dup(4000)", syscall(SYS_dup, 4000));
    report("dup(0x41)", syscall(SYS_dup, 0x41));
    printf("dup(1) ok %d\n", syscall(SYS_dup, 1) >= 3);
    // The instruction pointer: errno is its low 12 bits (same binary both sides).
    struct sock_filter ip[] = {
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
        RETA,
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        S(BPF_ALU | BPF_AND | BPF_K, 0xfff),
        S(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO | 0x1000),
        S(BPF_RET | BPF_A, 0),
    };
    report("install ip", install(ip, sizeof ip / sizeof ip[0], 0));
    long r = syscall(SYS_getppid);
    int e = errno;
    printf("getppid by ip: %ld, errno is 4095 %d\n", r, e == 4095);
    struct sock_filter hi[] = {
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgrp, 1, 0),
        RETA,
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        S(BPF_ALU | BPF_AND | BPF_K, 0xfff),
        S(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
        S(BPF_RET | BPF_A, 0),
    };
    report("install ip low", install(hi, sizeof hi / sizeof hi[0], 0));
    r = syscall(SYS_getpgrp);
    printf("getpgrp errno = ip & 0xfff: %ld %d\n", r, r == -1 ? errno : 0);
    // Shifts by X take its low 5 bits; DIV by K.
    struct sock_filter sh[] = {
        S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsid, 1, 0),
        RETA,
        S(BPF_LD | BPF_IMM, 3),
        S(BPF_LDX | BPF_IMM, 33),
        S(BPF_ALU | BPF_LSH | BPF_X, 0),
        S(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
        S(BPF_RET | BPF_A, 0),
    };
    report("install shift", install(sh, sizeof sh / sizeof sh[0], 0));
    report("getsid", syscall(SYS_getsid, 0));
}

static volatile int h_signo, h_code, h_errno, h_syscall, h_count;
static volatile unsigned h_arch;
static volatile uintptr_t h_addr, h_rip;
static volatile long h_rax;

static void on_sigsys(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    h_count++;
    h_signo = si->si_signo;
    h_code = si->si_code;
    h_errno = si->si_errno;
    h_syscall = si->si_syscall;
    h_arch = si->si_arch;
    h_addr = (uintptr_t)si->si_call_addr;
    h_rip = uc->uc_mcontext.gregs[REG_RIP];
    h_rax = uc->uc_mcontext.gregs[REG_RAX];
    uc->uc_mcontext.gregs[REG_RAX] = 4242;
}

static void handle_sigsys(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
}

static void print_trap(const char *what, long r) {
    printf("%s: ret %ld, handler ran %d: signo %d code %d errno %d syscall %d arch %#x "
           "call_addr==rip %d rax %ld call_addr %#lx\n",
           what, r, h_count, h_signo, h_code, h_errno, h_syscall, h_arch, h_addr == h_rip,
           h_rax, (unsigned long)h_addr);
}

static void trap(void) {
    nnp();
    handle_sigsys();
    report("deny getppid TRAP|0x42", deny(SYS_getppid, SECCOMP_RET_TRAP | 0x42, 0));
    long r = syscall(SYS_getppid);
    print_trap("getppid", r);
    h_count = 0;
    // ERRNO and TRAP stacked: TRAP wins whichever is newer.
    report("deny getpgrp ERRNO", deny(SYS_getpgrp, SECCOMP_RET_ERRNO | 5, 0));
    report("deny getpgrp TRAP|7", deny(SYS_getpgrp, SECCOMP_RET_TRAP | 7, 0));
    report("deny getpgrp ERRNO again", deny(SYS_getpgrp, SECCOMP_RET_ERRNO | 6, 0));
    r = syscall(SYS_getpgrp);
    print_trap("getpgrp", r);
}

static void trap_blocked(void) {
    nnp();
    handle_sigsys();
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    sigprocmask(SIG_BLOCK, &s, NULL);
    deny(SYS_getppid, SECCOMP_RET_TRAP, 0);
    syscall(SYS_getppid);
    printf("still running after a blocked trap\n");
}

static void trap_ignored(void) {
    nnp();
    signal(SIGSYS, SIG_IGN);
    deny(SYS_getppid, SECCOMP_RET_TRAP, 0);
    syscall(SYS_getppid);
    printf("still running after an ignored trap\n");
}

static void trap_default(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_TRAP, 0);
    syscall(SYS_getppid);
    printf("still running after a trap\n");
}

static void kill_process(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0);
    syscall(SYS_getppid);
    printf("still running after KILL_PROCESS\n");
}

static void kill_thread_alone(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0);
    syscall(SYS_getppid);
    printf("still running after KILL_THREAD\n");
}

static void kill_unknown_action(void) {
    nnp();
    deny(SYS_getppid, 0x00010000, 0);
    syscall(SYS_getppid);
    printf("still running after an unknown action\n");
}

static void *call_getppid(void *arg) {
    (void)arg;
    syscall(SYS_getppid);
    printf("thread still running\n");
    return NULL;
}

static void kill_thread_of_many(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0);
    pthread_t th;
    pthread_create(&th, NULL, call_getppid, NULL);
    pthread_join(th, NULL);
    printf("main thread survived its thread's KILL_THREAD\n");
}

static void kill_process_beats_kill_thread(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0);
    deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0);
    pthread_t th;
    pthread_create(&th, NULL, call_getppid, NULL);
    pthread_join(th, NULL);
    printf("main thread survived\n");
}

static void precedence(void) {
    nnp();
    report("deny getppid ERRNO 11", deny(SYS_getppid, SECCOMP_RET_ERRNO | 11, 0));
    report("deny getppid ERRNO 22", deny(SYS_getppid, SECCOMP_RET_ERRNO | 22, 0));
    report("getppid (newest of equal ones)", syscall(SYS_getppid));
    report("deny getppid LOG", deny(SYS_getppid, SECCOMP_RET_LOG, 0));
    report("getppid (ERRNO beats LOG)", syscall(SYS_getppid));
    report("deny getpgrp TRACE", deny(SYS_getpgrp, SECCOMP_RET_TRACE | 3, 0));
    report("getpgrp (TRACE, no tracer)", syscall(SYS_getpgrp));
    report("deny getsid USER_NOTIF", deny(SYS_getsid, SECCOMP_RET_USER_NOTIF, 0));
    report("getsid (USER_NOTIF, no listener)", syscall(SYS_getsid, 0));
    report("deny getuid LOG", deny(SYS_getuid, SECCOMP_RET_LOG, 0));
    report("getuid (LOG runs it)", syscall(SYS_getuid));
    report("deny getsid ERRNO 1", deny(SYS_getsid, SECCOMP_RET_ERRNO | 1, 0));
    report("getsid (ERRNO beats USER_NOTIF)", syscall(SYS_getsid, 0));
    report("deny getpgrp ALLOW", deny(SYS_getpgrp, SECCOMP_RET_ALLOW, 0));
    report("getpgrp (TRACE beats ALLOW)", syscall(SYS_getpgrp));
    status_lines("status");
}

static void div_by_x_zero(void) {
    nnp();
    struct sock_filter f[] = {
        S(BPF_LD | BPF_IMM, 5),
        S(BPF_LDX | BPF_IMM, 0),
        S(BPF_ALU | BPF_DIV | BPF_X, 0),
        RETA,
    };
    long r = install(f, 4, 0);
    // The next call (this write) is killed: the program returned 0.
    printf("install returned %ld\n", r);
}

static void strict_ok(void) {
    printf("entering strict mode\n");
    fflush(stdout);
    long r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "prctl strict = %ld\n", r);
    write(1, msg, n);
    char c;
    long rd = read(-1, &c, 1);
    n = snprintf(msg, sizeof msg, "read(-1) = %ld\n", rd);
    write(1, msg, n);
    syscall(SYS_exit, 3);
}

static void strict_kill(void) {
    long r = sc(SECCOMP_SET_MODE_STRICT, 0, NULL);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "seccomp strict = %ld\n", r);
    write(1, msg, n);
    syscall(SYS_getppid);
    write(1, "still running in strict mode\n", 29);
    syscall(SYS_exit, 0);
}

static void strict_prctl_get(void) {
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
    prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    write(1, "still running after PR_GET_SECCOMP\n", 36);
    syscall(SYS_exit, 0);
}

static void strict_exit_group(void) {
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
    syscall(SYS_exit_group, 0);
}

static void filter_then_strict(void) {
    nnp();
    report("filter", deny(SYS_getppid, SECCOMP_RET_ERRNO | 1, 0));
    report("seccomp strict after a filter", sc(SECCOMP_SET_MODE_STRICT, 0, NULL));
    report("PR_SET_SECCOMP strict after a filter", prctl(PR_SET_SECCOMP, 1, 0, 0, 0));
    report("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void flags(void) {
    nnp();
    report("LOG", deny(SYS_getppid, SECCOMP_RET_ERRNO | 1, SECCOMP_FILTER_FLAG_LOG));
    report("SPEC_ALLOW", deny(SYS_getppid, SECCOMP_RET_ERRNO | 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW));
    report("TSYNC_ESRCH alone",
           deny(SYS_getppid, SECCOMP_RET_ERRNO | 3, SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
    report("TSYNC|LOG|SPEC_ALLOW single thread",
           deny(SYS_getppid, SECCOMP_RET_ERRNO | 4,
                SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                    SECCOMP_FILTER_FLAG_SPEC_ALLOW));
    report("getppid", syscall(SYS_getppid));
    status_lines("status");
}

static void insn_limit(void) {
    nnp();
    static struct sock_filter big[4096];
    for (int i = 0; i < 4095; i++)
        big[i] = (struct sock_filter)S(BPF_LD | BPF_IMM, i);
    big[4095] = (struct sock_filter)RETA;
    int n = 0;
    long r;
    while ((r = install(big, 4096, 0)) == 0 && n < 100)
        n++;
    printf("4096-instruction filters attached: %d, then %s\n", n, r == -1 ? ename(errno) : "?");
    struct sock_filter small[] = {RETA};
    int m = 0;
    while ((r = install(small, 1, 0)) == 0 && m < 1000)
        m++;
    printf("then 1-instruction filters: %d, then %s\n", m, r == -1 ? ename(errno) : "?");
    status_lines("status");
}

static pthread_barrier_t bar;
static volatile long t_nnp_before[2], t_nnp_after[2], t_ppid[2], t_ppid_errno[2], t_mode[2];

static void *tsync_thread(void *arg) {
    long i = (long)arg;
    t_nnp_before[i] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    pthread_barrier_wait(&bar); // threads exist
    pthread_barrier_wait(&bar); // main installed
    t_nnp_after[i] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    t_mode[i] = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    t_ppid[i] = syscall(SYS_getppid);
    t_ppid_errno[i] = errno;
    return NULL;
}

static void tsync(void) {
    pthread_t th[2];
    pthread_barrier_init(&bar, NULL, 3);
    for (long i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, tsync_thread, (void *)i);
    pthread_barrier_wait(&bar);
    nnp();
    report("TSYNC install", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC));
    pthread_barrier_wait(&bar);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        printf("thread %d: nnp before %ld after %ld, mode %ld, getppid %ld %s\n", i,
               t_nnp_before[i], t_nnp_after[i], t_mode[i], t_ppid[i],
               t_ppid[i] == -1 ? ename(t_ppid_errno[i]) : "");
    report("main getppid", syscall(SYS_getppid));
}

static volatile pid_t own_tid;

static void *own_filter_thread(void *arg) {
    (void)arg;
    own_tid = syscall(SYS_gettid);
    report("thread's own filter", deny(SYS_getuid, SECCOMP_RET_ERRNO | 1, 0));
    pthread_barrier_wait(&bar); // filter installed
    pthread_barrier_wait(&bar); // main tried
    return NULL;
}

static void *plain_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    report("plain thread getgid", syscall(SYS_getgid));
    return NULL;
}

static void tsync_conflict(void) {
    nnp();
    pthread_t a, b;
    pthread_barrier_init(&bar, NULL, 3);
    pthread_create(&a, NULL, own_filter_thread, NULL);
    pthread_create(&b, NULL, plain_thread, NULL);
    pthread_barrier_wait(&bar);
    long r = deny(SYS_getgid, SECCOMP_RET_ERRNO | 2, SECCOMP_FILTER_FLAG_TSYNC);
    printf("TSYNC with a diverged thread returns its tid: %d\n", r == own_tid);
    report("TSYNC|TSYNC_ESRCH with a diverged thread",
           deny(SYS_getgid, SECCOMP_RET_ERRNO | 2,
                SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
    report("main getgid (nothing attached)", syscall(SYS_getgid));
    // Without TSYNC the main thread attaches; then a TSYNC on top of it
    // still conflicts with the diverged thread.
    report("main's own filter", deny(SYS_getgid, SECCOMP_RET_ERRNO | 3, 0));
    r = deny(SYS_getgid, SECCOMP_RET_ERRNO | 4, SECCOMP_FILTER_FLAG_TSYNC);
    printf("second TSYNC returns the tid: %d\n", r == own_tid);
    pthread_barrier_wait(&bar);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    report("main getgid", syscall(SYS_getgid));
    status_lines("status");
}

static void *tsync_ancestor_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&bar); // main installed F1 with TSYNC
    pthread_barrier_wait(&bar); // main installed F2 with TSYNC
    report("thread getgid after two TSYNCs", syscall(SYS_getgid));
    report("thread getuid", syscall(SYS_getuid));
    return NULL;
}

static void tsync_ancestor(void) {
    nnp();
    pthread_t a;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&a, NULL, tsync_ancestor_thread, NULL);
    report("TSYNC F1", deny(SYS_getgid, SECCOMP_RET_ERRNO | 5, SECCOMP_FILTER_FLAG_TSYNC));
    pthread_barrier_wait(&bar);
    // The thread's filter is an ancestor of the main thread's chain: in sync.
    report("own F1b", deny(SYS_getuid, SECCOMP_RET_ERRNO | 6, 0));
    report("TSYNC F2 over an ancestor", deny(SYS_getgid, SECCOMP_RET_ERRNO | 7, SECCOMP_FILTER_FLAG_TSYNC));
    pthread_barrier_wait(&bar);
    pthread_join(a, NULL);
}

static void fork_inherits(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0);
    deny(SYS_getgid, SECCOMP_RET_ERRNO | EACCES, 0);
    pid_t p = fork();
    if (p == 0) {
        report("child getppid", syscall(SYS_getppid));
        report("child getgid", syscall(SYS_getgid));
        report("child PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
        report("child PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        status_lines("child status");
        syscall(SYS_exit_group, 0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void exec_keeps(void) {
    nnp();
    deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0);
    deny(SYS_getgid, SECCOMP_RET_ERRNO | EACCES, 0);
    deny(SYS_getpgrp, SECCOMP_RET_KILL_PROCESS, 0);
    char *argv[] = {(char *)self_path, "exec-helper", NULL};
    execv(self_path, argv);
    printf("execv failed: %s\n", ename(errno));
}

static void exec_helper(void) {
    report("after exec getppid", syscall(SYS_getppid));
    report("after exec getgid", syscall(SYS_getgid));
    report("after exec PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    report("after exec PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    status_lines("after exec status");
    syscall(SYS_getpgrp);
    printf("still running after getpgrp\n");
}

// Run under an OCI profile that fails getppid with EPERM and getpgrp with
// ENOENT (tests/seccomp_filter.rs): the program's filters stack on it.
static void oci_mode(void) {
    report("PR_GET_SECCOMP under the profile", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    status_lines("oci");
    report("getppid (profile)", syscall(SYS_getppid));
    report("strict under a profile", sc(SECCOMP_SET_MODE_STRICT, 0, NULL));
    report("own getppid ERRNO 22", deny(SYS_getppid, SECCOMP_RET_ERRNO | 22, 0));
    report("getppid (newest of equal ones)", syscall(SYS_getppid));
    report("own getpgrp LOG", deny(SYS_getpgrp, SECCOMP_RET_LOG, 0));
    report("getpgrp (profile's ERRNO beats LOG)", syscall(SYS_getpgrp));
    report("own getsid ERRNO 9", deny(SYS_getsid, SECCOMP_RET_ERRNO | 9, 0));
    report("getsid", syscall(SYS_getsid, 0));
    status_lines("oci");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    self_path = argv[0];
    if (argc > 1 && !strcmp(argv[1], "exec-helper")) {
        exec_helper();
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "oci")) {
        oci_mode();
        return 0;
    }
    status_lines("start");
    scenario("api", api);
    scenario("eacces", eacces);
    scenario("root without no_new_privs", root_without_nnp);
    scenario("bad filters", bad_filters);
    scenario("errno", errno_action);
    scenario("args and arch", args_and_arch);
    scenario("trap", trap);
    scenario("trap blocked", trap_blocked);
    scenario("trap ignored", trap_ignored);
    scenario("trap default action", trap_default);
    scenario("kill process", kill_process);
    scenario("kill thread (single thread)", kill_thread_alone);
    scenario("unknown action", kill_unknown_action);
    scenario("kill thread (of many)", kill_thread_of_many);
    scenario("kill process beats kill thread", kill_process_beats_kill_thread);
    scenario("precedence", precedence);
    scenario("div by X == 0", div_by_x_zero);
    scenario("strict", strict_ok);
    scenario("strict kill", strict_kill);
    scenario("strict PR_GET_SECCOMP", strict_prctl_get);
    scenario("strict exit_group", strict_exit_group);
    scenario("filter then strict", filter_then_strict);
    scenario("flags", flags);
    scenario("instruction limit", insn_limit);
    scenario("tsync", tsync);
    scenario("tsync conflict", tsync_conflict);
    scenario("tsync ancestor", tsync_ancestor);
    scenario("fork inherits", fork_inherits);
    scenario("exec keeps", exec_keeps);
    status_lines("end");
    return 0;
}
