/* Garbage for --strace: every system call number (except the ones that would end, replace or
 * unmap this program, or signal it) with an unmapped pointer and huge lengths in every argument;
 * write with a length of 1<<40; execve with a 100,000-entry argv and a 1 MiB argument; poll with
 * a huge count over a small array. Prints "survived" at the end. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int skipped(long nr) {
    static const long skip[] = {
        SYS_mmap, SYS_mprotect, SYS_munmap, SYS_brk, SYS_rt_sigreturn, SYS_mremap, SYS_madvise,
        SYS_pause, SYS_clone, SYS_fork, SYS_vfork, SYS_execve, SYS_exit, SYS_kill,
        SYS_rt_sigsuspend, SYS_personality, SYS_tkill, SYS_set_tid_address, SYS_exit_group,
        SYS_tgkill, SYS_execveat, SYS_clone3, SYS_rt_sigprocmask, SYS_rt_sigaction,
        SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
        SYS_setfsuid, SYS_setfsgid, SYS_capset, SYS_prctl, SYS_seccomp, SYS_vhangup,
        SYS_reboot, SYS_munlockall, SYS_shmdt, SYS_arch_prctl, SYS_alarm, SYS_setitimer,
        SYS_sigaltstack, SYS_rseq, SYS_set_robust_list, SYS_close_range, SYS_close,
        SYS_dup2, SYS_dup3, SYS_setsid, SYS_setpgid, SYS_umask, SYS_chdir, SYS_fchdir,
        SYS_chroot, SYS_unshare, SYS_setns, SYS_exit,
    };
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (skip[i] == nr) return 1;
    return nr == 436 /* close_range */;
}

int main(void) {
    const unsigned long bad = 0xdead0000beef000UL, huge = 1UL << 40;
    for (long nr = 0; nr < 460; nr++) {
        if (skipped(nr)) continue;
        syscall(nr, bad, huge, bad, huge, bad, huge);
        syscall(nr, 100, bad, huge, bad, 7, bad);
    }
    syscall(SYS_write, 1, bad, huge);
    syscall(SYS_write, 2, bad, huge);

    struct pollfd one = {.fd = 0, .events = POLLIN};
    syscall(SYS_poll, &one, 1UL << 30, 0);

    size_t n = 100000;
    char **argv = calloc(n + 1, sizeof *argv);
    char *big = malloc(1 << 20);
    if (!argv || !big) return 1;
    memset(big, 'a', (1 << 20) - 1);
    big[(1 << 20) - 1] = 0;
    for (size_t i = 0; i < n; i++) argv[i] = i == 0 ? big : "x";
    char *envp[] = {big, NULL};
    syscall(SYS_execve, "/nonexistent/strace-hostile", argv, envp);
    /* argv entries past the first unmapped. */
    char *partial[] = {"a", (char *)bad, NULL};
    syscall(SYS_execve, "/nonexistent/strace-hostile", partial, (char **)bad);

    printf("survived\n");
    return 0;
}
