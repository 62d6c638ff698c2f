// tmpfs regular files: writes at offsets, holes, truncate up and down,
// shared mappings kept consistent with read/write, copy_file_range, sendfile,
// splice, O_APPEND, fallocate, a file unlinked while mapped, many files
// created and deleted. Prints results; the test compares with a native run in
// a host directory (argv[1]).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096
static char dir[512];

static const char *path(const char *name) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static unsigned long sum(const unsigned char *b, size_t n) {
    unsigned long s = 5381;
    for (size_t i = 0; i < n; i++)
        s = s * 33 + b[i];
    return s;
}

static unsigned long fsum(int fd, off_t len) {
    static unsigned char buf[1 << 16];
    unsigned long s = 5381;
    off_t off = 0;
    while (off < len) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n <= 0) {
            printf("FAIL pread at %lld: %zd %s\n", (long long)off, n, strerror(errno));
            return 0;
        }
        for (ssize_t i = 0; i < n; i++)
            s = s * 33 + buf[i];
        off += n;
    }
    return s;
}

static long long size_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    return st.st_size;
}

static void offsets_and_holes(void) {
    int fd = open(path("holes"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    char b[16];
    printf("pwrite 10000: %zd\n", pwrite(fd, "hello", 5, 10000));
    printf("size %lld\n", size_of(fd));
    memset(b, 1, sizeof b);
    ssize_t n = pread(fd, b, 10, 0);
    printf("pread 0: %zd zero=%d\n", n, b[0] == 0 && b[9] == 0);
    memset(b, 1, sizeof b);
    n = pread(fd, b, 16, 9998);
    printf("pread 9998: %zd [%d %d %.5s]\n", n, b[0], b[1], b + 2);
    printf("pread at eof: %zd\n", pread(fd, b, 16, 10005));
    printf("pread past eof: %zd\n", pread(fd, b, 16, 1 << 20));
    // A far offset: the hole between costs nothing and reads as zeros.
    printf("pwrite 1G: %zd\n", pwrite(fd, "far", 3, 1LL << 30));
    printf("size %lld\n", size_of(fd));
    struct stat st;
    fstat(fd, &st);
    printf("sparse: %d\n", (long long)st.st_blocks * 512 < (1 << 20));
    memset(b, 1, sizeof b);
    n = pread(fd, b, 16, 512LL << 20);
    printf("pread 512M: %zd zero=%d\n", n, b[0] == 0 && b[15] == 0);
    memset(b, 0, sizeof b);
    n = pread(fd, b, 16, 1LL << 30);
    printf("pread far: %zd %.3s\n", n, b);
    // lseek past the end and write: a hole up to there.
    printf("lseek end+5000: %lld\n", (long long)lseek(fd, 5000, SEEK_END));
    printf("write: %zd\n", write(fd, "tail", 4));
    printf("size %lld\n", size_of(fd));
    close(fd);
    unlink(path("holes"));
}

static void truncation(void) {
    int fd = open(path("trunc"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    unsigned char b[3 * PG];
    for (int i = 0; i < (int)sizeof b; i++)
        b[i] = (unsigned char)(i * 7 + 1);
    printf("write 3 pages: %zd\n", write(fd, b, sizeof b));
    int rc = ftruncate(fd, 5000);
    printf("ftruncate 5000: %d size %lld\n", rc, size_of(fd));
    rc = ftruncate(fd, 20000);
    printf("ftruncate 20000: %d size %lld\n", rc, size_of(fd));
    unsigned char r[3 * PG];
    memset(r, 0xee, sizeof r);
    printf("pread: %zd\n", pread(fd, r, sizeof r, 0));
    printf("kept same: %d\n", memcmp(r, b, 5000) == 0);
    int zeros = 1;
    for (int i = 5000; i < (int)sizeof r; i++)
        zeros &= r[i] == 0;
    printf("tail zero after regrow: %d\n", zeros);
    rc = ftruncate(fd, 0);
    printf("ftruncate 0: %d size %lld\n", rc, size_of(fd));
    printf("pread empty: %zd\n", pread(fd, r, 10, 0));
    printf("ftruncate 4096: %d\n", ftruncate(fd, PG));
    memset(r, 1, PG);
    ssize_t n = pread(fd, r, PG, 0);
    printf("pread grown: %zd zero=%d\n", n, r[0] == 0 && r[PG - 1] == 0);
    rc = ftruncate(fd, -1);
    printf("ftruncate -1: %d %s\n", rc, strerror(errno));
    rc = truncate(path("trunc"), 100);
    printf("truncate path 100: %d size %lld\n", rc, size_of(fd));
    // O_TRUNC on open empties the file.
    int fd2 = open(path("trunc"), O_WRONLY | O_TRUNC);
    printf("O_TRUNC size %lld\n", size_of(fd));
    close(fd2);
    close(fd);
    unlink(path("trunc"));
}

static void shared_mappings(void) {
    int fd = open(path("map"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    // Page 0 written, page 1 a hole, page 2 written.
    char pat[PG];
    memset(pat, 'A', PG);
    pwrite(fd, pat, PG, 0);
    memset(pat, 'C', PG);
    pwrite(fd, pat, PG, 2 * PG);
    char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        printf("FAIL mmap %s\n", strerror(errno));
        return;
    }
    printf("map reads: %c %d %c\n", m[0], m[PG], m[2 * PG]);
    // A store through the mapping is seen by read, including in the hole.
    m[5] = 'x';
    m[PG + 7] = 'y';
    char b[8];
    pread(fd, b, 1, 5);
    printf("read sees map store: %c\n", b[0]);
    pread(fd, b, 1, PG + 7);
    printf("read sees store in hole: %c\n", b[0]);
    // A write is seen by the mapping.
    pwrite(fd, "zz", 2, 2 * PG + 100);
    printf("map sees write: %c%c\n", m[2 * PG + 100], m[2 * PG + 101]);
    // A second mapping shares the same pages.
    char *m2 = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
    m[PG * 2] = 'q';
    printf("second map sees: %c %c\n", m2[PG * 2], m2[5]);
    // A private mapping sees the file but keeps its own stores.
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    p[0] = 'P';
    pread(fd, b, 1, 0);
    printf("private store not in file: %c %c\n", b[0], m[0]);
    // Growing the file with ftruncate then mapping it: zeros, writable.
    ftruncate(fd, 5 * PG);
    char *m3 = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("grown map: %d\n", m3[4 * PG + 10]);
    m3[4 * PG + 10] = 'g';
    pread(fd, b, 1, 4 * PG + 10);
    printf("read sees grown store: %c\n", b[0]);
    msync(m3, 5 * PG, MS_SYNC);
    printf("size %lld\n", size_of(fd));
    unsigned char all[5 * PG];
    pread(fd, all, sizeof all, 0);
    printf("sums: %lu %lu\n", sum(all, sizeof all), sum((unsigned char *)m3, 5 * PG));
    // Unlinked while mapped: the mapping keeps working; the data stays.
    unlink(path("map"));
    close(fd);
    m3[1] = 'u';
    printf("after unlink+close: %c %c %c\n", m3[0], m3[1], m[1]);
    munmap(m, 3 * PG);
    munmap(m2, 3 * PG);
    munmap(p, 3 * PG);
    munmap(m3, 5 * PG);
}

static void copies(void) {
    int a = open(path("src"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    static unsigned char buf[300000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 31 + (i >> 9));
    printf("write src: %zd\n", write(a, buf, sizeof buf));
    int b = open(path("dst1"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    loff_t in = 1000, out = 50;
    ssize_t total = 0, n;
    while ((n = copy_file_range(a, &in, b, &out, 200000 - total, 0)) > 0)
        total += n;
    printf("copy_file_range: %zd in=%lld out=%lld size=%lld\n", total, (long long)in,
           (long long)out, size_of(b));
    printf("copy sum ok: %d\n", fsum(b, size_of(b)) != 0);
    unsigned char chk[200050];
    pread(b, chk, sizeof chk, 0);
    printf("copy content: %d\n", memcmp(chk + 50, buf + 1000, 200000) == 0 && chk[0] == 0);
    int c = open(path("dst2"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t so = 0;
    total = 0;
    while ((n = sendfile(c, a, &so, sizeof buf - total)) > 0)
        total += n;
    unsigned long s1 = fsum(c, size_of(c)), s2 = fsum(a, size_of(a));
    printf("sendfile: %zd size=%lld same=%d\n", total, size_of(c), s1 == s2);
    // Through a pipe with splice.
    int pp[2];
    pipe(pp);
    int d = open(path("dst3"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    loff_t ro = 0, wo = 0;
    total = 0;
    while (total < (ssize_t)sizeof buf) {
        ssize_t k = splice(a, &ro, pp[1], NULL, 32768, 0);
        if (k <= 0)
            break;
        while (k > 0) {
            ssize_t w = splice(pp[0], NULL, d, &wo, k, 0);
            if (w <= 0)
                break;
            k -= w;
            total += w;
        }
    }
    s1 = fsum(d, size_of(d));
    printf("splice: %zd same=%d\n", total, s1 == s2);
    close(pp[0]);
    close(pp[1]);
    // O_APPEND.
    int e = open(path("app"), O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
    write(e, "one", 3);
    pwrite(e, "X", 1, 0); // Linux: pwrite with O_APPEND appends.
    write(e, "two", 3);
    close(e);
    e = open(path("app"), O_RDONLY);
    char r[16] = {0};
    n = read(e, r, sizeof r - 1);
    printf("append: %zd %s\n", n, r);
    close(e);
    // fallocate extends the size and reads zeros.
    int f = open(path("falloc"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    int rc = fallocate(f, 0, 0, 3 * PG + 5);
    printf("fallocate: %d size=%lld\n", rc, size_of(f));
    unsigned char z[3 * PG + 5];
    memset(z, 1, sizeof z);
    n = pread(f, z, sizeof z, 0);
    printf("fallocate zeros: %zd %d\n", n, z[0] == 0 && z[sizeof z - 1] == 0);
    rc = fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 10 * PG);
    printf("fallocate keep size: %d size=%lld\n", rc, size_of(f));
    pwrite(f, "abcdefgh", 8, PG - 4);
    rc = fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG - 2, 4);
    printf("punch: %d size=%lld\n", rc, size_of(f));
    memset(r, 0, sizeof r);
    pread(f, r, 8, PG - 4);
    printf("punched: %d %d %d %d %d %d %d %d\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    int ro_fd = open(path("falloc"), O_RDONLY);
    rc = fallocate(ro_fd, 0, 0, PG);
    printf("fallocate read-only fd: %d %s\n", rc, strerror(errno));
    close(ro_fd);
    close(f);
    close(a);
    close(b);
    close(c);
    close(d);
    unlink(path("src"));
    unlink(path("dst1"));
    unlink(path("dst2"));
    unlink(path("dst3"));
    unlink(path("app"));
    unlink(path("falloc"));
}

static void seek_data_hole(void) {
    int fd = open(path("sparse"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    // Data in page 0 and pages 3-4; holes in 1-2 and 5.
    char pat[2 * PG];
    memset(pat, 's', sizeof pat);
    pwrite(fd, pat, 10, 0);
    pwrite(fd, pat, 2 * PG, 3 * PG);
    ftruncate(fd, 6 * PG - 100);
    long long size = size_of(fd);
    struct {
        long long off;
        int whence;
    } q[] = {{0, SEEK_DATA},       {100, SEEK_DATA},        {PG, SEEK_DATA},
             {5 * PG, SEEK_DATA},  {size, SEEK_DATA},       {-1, SEEK_DATA},
             {0, SEEK_HOLE},       {3 * PG + 5, SEEK_HOLE}, {5 * PG + 1, SEEK_HOLE},
             {size - 1, SEEK_HOLE}, {size, SEEK_HOLE},      {1LL << 40, SEEK_HOLE}};
    for (unsigned i = 0; i < sizeof q / sizeof q[0]; i++) {
        errno = 0;
        long long r = lseek(fd, q[i].off, q[i].whence);
        int e = errno;
        printf("%s %lld: %lld %s pos %lld\n", q[i].whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE",
               q[i].off, r, r < 0 ? strerror(e) : "", (long long)lseek(fd, 0, SEEK_CUR));
    }
    close(fd);
    unlink(path("sparse"));
    // Not seekable: a pipe.
    int pp[2];
    pipe(pp);
    errno = 0;
    long long r = lseek(pp[0], 0, SEEK_DATA);
    printf("pipe SEEK_DATA: %lld %s\n", r, strerror(errno));
    close(pp[0]);
    close(pp[1]);
}

static void many_files(void) {
    static char buf[65536];
    memset(buf, 'm', sizeof buf);
    int ok = 1;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 200; i++) {
            char name[64];
            snprintf(name, sizeof name, "many%d", i);
            int fd = open(path(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
            ok &= write(fd, buf, sizeof buf) == sizeof buf;
            close(fd);
        }
        for (int i = 0; i < 200; i++) {
            char name[64];
            snprintf(name, sizeof name, "many%d", i);
            int fd = open(path(name), O_RDONLY);
            char c = 0;
            ok &= pread(fd, &c, 1, 65535) == 1 && c == 'm';
            close(fd);
            ok &= unlink(path(name)) == 0;
        }
    }
    printf("many files: %d\n", ok);
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        printf("FAIL mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    offsets_and_holes();
    truncation();
    shared_mappings();
    copies();
    seek_data_hole();
    many_files();
    rmdir(dir);
    printf("done\n");
    return 0;
}
