/* mmap a page, write to it, make it read-only, then write again: must die by SIGSEGV. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void say(const char *s)
{
    /* Unbuffered, so the text is out before the fault. */
    if (write(1, s, strlen(s)) < 0)
        _exit(3);
}

int main(void)
{
    volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    p[0] = 'x';
    p[4095] = 'y';
    if (p[0] != 'x' || p[4095] != 'y') {
        say("readback failed\n");
        return 1;
    }
    say("written\n");
    if (mprotect((void *)p, 4096, PROT_READ) != 0) {
        perror("mprotect");
        return 1;
    }
    if (p[0] != 'x') {
        say("read after mprotect failed\n");
        return 1;
    }
    say("protected\n");
    p[0] = 'z'; /* SIGSEGV here */
    say("write to read-only page succeeded\n");
    return 2;
}
