// System calls a container process without privileges gets refused, and the ones Linux
// itself no longer serves, with good and bad arguments, printed for a diff against a native
// run. The program first drops every capability (so the native run as root answers as a
// container's process would), then calls.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/reboot.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s %ld\n", what, r);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0) {
        perror("capset");
        return 1;
    }
    // Removed from Linux: ENOSYS.
    long gone[] = {SYS_create_module, SYS_get_kernel_syms, SYS_query_module, SYS_nfsservctl,
                   SYS_getpmsg, SYS_putpmsg, SYS_afs_syscall, SYS_tuxcall, SYS_security,
                   SYS_vserver, SYS_epoll_ctl_old, SYS_epoll_wait_old, SYS_uselib,
                   SYS__sysctl, SYS_lookup_dcookie};
    for (unsigned i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        char n[32];
        snprintf(n, sizeof n, "removed %ld", gone[i]);
        show(n, syscall(gone[i], 0, 0, 0, 0, 0, 0));
    }
    // Privileged: refused without the capability, after Linux's own argument checks.
    show("swapon bad flags", syscall(SYS_swapon, "/nonexistent", 0x100000));
    show("swapon", syscall(SYS_swapon, "/nonexistent", 0));
    show("swapoff", syscall(SYS_swapoff, "/nonexistent"));
    show("reboot bad magic", syscall(SYS_reboot, 1, 2, 3, 0));
    show("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                           LINUX_REBOOT_CMD_CAD_OFF, 0));
    show("acct", syscall(SYS_acct, NULL));
    show("vhangup", syscall(SYS_vhangup));
    // setrlimit (the old call; glibc uses prlimit64).
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit lower = {rl.rlim_cur / 2, rl.rlim_max};
    show("setrlimit lower soft", syscall(SYS_setrlimit, RLIMIT_NOFILE, &lower));
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("nofile soft halved %d\n", rl.rlim_cur == lower.rlim_cur);
    struct rlimit bad = {10, 5};
    show("setrlimit soft above hard", syscall(SYS_setrlimit, RLIMIT_NOFILE, &bad));
    struct rlimit raise = {rl.rlim_cur, rl.rlim_max + 1};
    show("setrlimit raise hard unprivileged", syscall(SYS_setrlimit, RLIMIT_NOFILE, &raise));
    show("setrlimit bad resource", syscall(SYS_setrlimit, 99, &lower));
    show("setrlimit bad pointer", syscall(SYS_setrlimit, RLIMIT_NOFILE, (void *)8));
    struct rlimit core = {0, 0};
    show("setrlimit core 0", syscall(SYS_setrlimit, RLIMIT_CORE, &core));
    getrlimit(RLIMIT_CORE, &rl);
    printf("core %lu %lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    // restart_syscall with nothing to restart.
    show("restart_syscall", syscall(SYS_restart_syscall));
    // Memory protection keys (no PKU keys to hand out, key 0 is the default).
    show("pkey_alloc bad flags", syscall(SYS_pkey_alloc, 1, 0));
    show("pkey_alloc bad rights", syscall(SYS_pkey_alloc, 0, 4));
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("pkey_mprotect key -1", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1));
    show("pkey_mprotect key 0", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 0));
    show("pkey_mprotect key 5", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 5));
    show("pkey_free 5", syscall(SYS_pkey_free, 5));
    show("pkey_free 99", syscall(SYS_pkey_free, 99));
    show("pkey_free -1", syscall(SYS_pkey_free, -1));
    // Answers that depend on how the host kernel was built (I/O ports, modules, kexec,
    // secret memory): the sandbox's, checked by the test on their own.
    if (argc > 1 && strcmp(argv[1], "all") == 0) {
        printf("--- sandbox only ---\n");
        show("iopl 0", syscall(SYS_iopl, 0));
        show("iopl 3", syscall(SYS_iopl, 3));
        show("iopl 4", syscall(SYS_iopl, 4));
        show("ioperm off", syscall(SYS_ioperm, 0x80, 1, 0));
        show("ioperm on", syscall(SYS_ioperm, 0x80, 1, 1));
        show("ioperm past end", syscall(SYS_ioperm, 65535, 2, 1));
        show("ioperm wrap", syscall(SYS_ioperm, ~0UL, 2, 0));
        show("init_module", syscall(SYS_init_module, NULL, 0, ""));
        show("finit_module", syscall(SYS_finit_module, 0, "", 0));
        show("finit_module bad flags", syscall(SYS_finit_module, 0, "", 0x1000));
        show("delete_module", syscall(SYS_delete_module, "x", 0));
        show("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
        show("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
        show("memfd_secret", syscall(447, 0));
    }
    return 0;
}
