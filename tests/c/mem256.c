/* Map 256 MiB of anonymous memory, touch every page, and verify the contents.
 * Prints "ok" and exits 0 on success; prints a diagnostic and exits 1 otherwise. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (256UL << 20)
#define PAGE 4096UL

static uint64_t pattern(uint64_t page, uint64_t word)
{
    return (page * 0x9e3779b97f4a7c15ULL) ^ (word * 0xbf58476d1ce4e5b9ULL) ^ 0x5a5a5a5a5a5a5a5aULL;
}

int main(void)
{
    unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const uint64_t npages = SIZE / PAGE;
    const uint64_t words_per_page = PAGE / sizeof(uint64_t);
    /* Word offsets written in every page: first, a few in the middle, last. */
    const uint64_t idx[] = {0, 1, 7, words_per_page / 2, words_per_page - 2, words_per_page - 1};
    const size_t nidx = sizeof(idx) / sizeof(idx[0]);

    /* Fresh anonymous memory must read as zero. */
    for (uint64_t pg = 0; pg < npages; pg += 97) {
        const uint64_t *w = (const uint64_t *)(p + pg * PAGE);
        for (size_t i = 0; i < nidx; i++) {
            if (w[idx[i]] != 0) {
                fprintf(stderr, "page %lu word %lu not zero\n", (unsigned long)pg, (unsigned long)idx[i]);
                return 1;
            }
        }
    }

    for (uint64_t pg = 0; pg < npages; pg++) {
        uint64_t *w = (uint64_t *)(p + pg * PAGE);
        for (size_t i = 0; i < nidx; i++)
            w[idx[i]] = pattern(pg, idx[i]);
        p[pg * PAGE + 100] = (unsigned char)(pg & 0xff);
    }

    for (uint64_t pg = 0; pg < npages; pg++) {
        const uint64_t *w = (const uint64_t *)(p + pg * PAGE);
        for (size_t i = 0; i < nidx; i++) {
            if (w[idx[i]] != pattern(pg, idx[i])) {
                fprintf(stderr, "mismatch at page %lu word %lu\n", (unsigned long)pg, (unsigned long)idx[i]);
                return 1;
            }
        }
        if (p[pg * PAGE + 100] != (unsigned char)(pg & 0xff)) {
            fprintf(stderr, "byte mismatch at page %lu\n", (unsigned long)pg);
            return 1;
        }
        /* Bytes never written must still be zero. */
        if (p[pg * PAGE + 101] != 0 || p[pg * PAGE + 2048 + 16] != 0) {
            fprintf(stderr, "unwritten byte not zero at page %lu\n", (unsigned long)pg);
            return 1;
        }
    }

    if (munmap(p, SIZE) != 0) {
        perror("munmap");
        return 1;
    }
    printf("ok\n");
    return 0;
}
