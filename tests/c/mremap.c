#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
int main(void) {
    char *p = mmap(0, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    strcpy(p, "hello"); strcpy(p + 4096, "second");
    char *q = mremap(p, 8192, 1 << 20, MREMAP_MAYMOVE);
    printf("%s %s %d\n", q, q + 4096, q[100000]);
    q = mremap(q, 1 << 20, 4096, 0);
    printf("%s\n", q);
    unsigned char v[2]; printf("mincore %d\n", mincore(q, 4096, v) == 0 && v[0] == 1);
    int fd = memfd_create("x", 0); write(fd, "memfd!", 6);
    char b[8] = {0}; pread(fd, b, 6, 0); printf("%s\n", b);
    char *big = 0; for (int i = 1; i < 20; i++) { big = realloc(big, i << 20); big[(i << 20) - 1] = 1; }
    printf("realloc ok\n");
}
