/* Privileged instructions from user mode (port I/O, cli/sti/hlt, MSRs,
 * control registers): each must raise SIGSEGV with si_code SI_KERNEL
 * (Linux's answer to #GP) at the instruction itself, and the program goes
 * on. Port 0x10 is the one the sandbox's own syscall stub writes: from the
 * program it must be as privileged as any other port. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

char pbuf[16];
unsigned long expect_rip;
static sigjmp_buf env;
static volatile int got_sig, got_code, rip_ok;

static void handler(int sig, siginfo_t *si, void *uc) {
    got_sig = sig;
    got_code = si->si_code;
    rip_ok = ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] == (long)expect_rip;
    siglongjmp(env, 1);
}

#define TRY(name, setup, insn)                                                 \
    do {                                                                       \
        got_sig = 0;                                                           \
        got_code = 0;                                                          \
        rip_ok = 0;                                                            \
        if (sigsetjmp(env, 1) == 0) {                                          \
            __asm__ volatile(setup "\n\tlea 1f(%%rip), %%r8\n\t"               \
                                   "mov %%r8, expect_rip(%%rip)\n"             \
                                   "1:\t" insn                                 \
                             ::: "memory", "rax", "rdx", "rcx", "rsi", "rdi",  \
                               "r8");                                          \
            printf("%s: no signal\n", name);                                   \
        } else {                                                               \
            printf("%s: signal %d code %d rip %s\n", name, got_sig, got_code,  \
                   rip_ok ? "at the instruction" : "WRONG");                   \
        }                                                                      \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    TRY("outb 0x80", "mov $0x80, %%dx", "outb %%al, %%dx");
    TRY("outb imm 0x70", "", "outb %%al, $0x70");
    TRY("outw 0x3f8", "mov $0x3f8, %%dx", "outw %%ax, %%dx");
    TRY("outl 0xcf8", "mov $0xcf8, %%dx", "outl %%eax, %%dx");
    TRY("inb 0x60", "mov $0x60, %%dx", "inb %%dx, %%al");
    TRY("inl imm 0x40", "", "inl $0x40, %%eax");
    TRY("insb 0x60", "lea pbuf(%%rip), %%rdi; mov $0x60, %%dx", "insb");
    TRY("outsb 0x80", "lea pbuf(%%rip), %%rsi; mov $0x80, %%dx", "outsb");
    TRY("outb 0xffff", "mov $0xffff, %%dx", "outb %%al, %%dx");
    TRY("outb 0x10", "mov $0x10, %%dx", "outb %%al, %%dx");
    TRY("outb imm 0x10", "", "outb %%al, $0x10");
    TRY("outw 0x10", "mov $0x10, %%dx", "outw %%ax, %%dx");
    TRY("inb 0x10", "mov $0x10, %%dx", "inb %%dx, %%al");
    TRY("inb imm 0x10", "", "inb $0x10, %%al");
    TRY("inl 0x10", "mov $0x10, %%dx", "inl %%dx, %%eax");
    TRY("insb 0x10", "lea pbuf(%%rip), %%rdi; mov $0x10, %%dx", "insb");
    TRY("outsb 0x10", "lea pbuf(%%rip), %%rsi; mov $0x10, %%dx", "outsb");
    TRY("rep outsb 0x10", "lea pbuf(%%rip), %%rsi; mov $4, %%ecx; mov $0x10, %%dx",
        "rep outsb");
    TRY("rep insb 0x10", "lea pbuf(%%rip), %%rdi; mov $4, %%ecx; mov $0x10, %%dx",
        "rep insb");
    TRY("outb 0x11", "mov $0x11, %%dx", "outb %%al, %%dx");
    TRY("outb 0x81", "mov $0x81, %%dx", "outb %%al, %%dx");
    TRY("cli", "", "cli");
    TRY("sti", "", "sti");
    TRY("hlt", "", "hlt");
    TRY("wbinvd", "", "wbinvd");
    TRY("rdmsr", "xor %%ecx, %%ecx", "rdmsr");
    TRY("mov cr0", "", "mov %%cr0, %%rax");
    printf("done\n");
    return 0;
}
