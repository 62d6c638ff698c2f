/* File-backed memory: shared and private mappings through the page cache,
 * coherence with read/write, fork, SIGBUS past the end, msync, /dev/zero,
 * memfd. One line per check; compared with the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
#define ERR(call, e) ((call) == -1 && errno == (e))

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static void on_sig(int s, siginfo_t *si, void *u) {
    (void)u;
    got_sig = s;
    got_code = si->si_code;
    siglongjmp(jb, 1);
}

static int touch(volatile char *p) {
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        (void)*p;
        return 0;
    }
    return got_sig;
}

static int poke(volatile char *p) {
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        *p = 1;
        return 0;
    }
    return got_sig;
}

int main(int argc, char **argv) {
    (void)argc;
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    long pg = sysconf(_SC_PAGESIZE);

    char path[] = "/tmp/gvisor-mmap-XXXXXX";
    int fd = mkstemp(path);
    CHECK("mkstemp", fd >= 0);
    CHECK("write", write(fd, "hello world", 11) == 11);

    /* Shared mapping and the fd see each other. */
    char *s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("mmap shared", s != MAP_FAILED);
    CHECK("mapping shows the file", memcmp(s, "hello world", 11) == 0);
    CHECK("tail of the last page is zero", s[11] == 0 && s[pg - 1] == 0);
    s[0] = 'J';
    char buf[64] = {0};
    CHECK("read sees a store", pread(fd, buf, 11, 0) == 11 && memcmp(buf, "Jello world", 11) == 0);
    CHECK("pwrite", pwrite(fd, "W", 1, 6) == 1);
    CHECK("mapping sees a write", s[6] == 'W');
    char *s2 = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    s2[1] = 'E';
    CHECK("two shared mappings are one", s[1] == 'E');
    CHECK("page past EOF is SIGBUS", touch(s + pg) == SIGBUS && got_code == BUS_ADRERR);
    CHECK("ftruncate grows", ftruncate(fd, 2 * pg) == 0);
    CHECK("grown page maps", touch(s + pg) == 0 && s[pg] == 0);
    s[pg + 5] = 'x';
    CHECK("read of grown page", pread(fd, buf, 1, pg + 5) == 1 && buf[0] == 'x');
    struct stat st;
    fstat(fd, &st);
    CHECK("size after ftruncate", st.st_size == 2 * pg);
    CHECK("msync", msync(s, 2 * pg, MS_SYNC) == 0);
    CHECK("msync async", msync(s, pg, MS_ASYNC) == 0);
    CHECK("msync both flags EINVAL", ERR(msync(s, pg, MS_SYNC | MS_ASYNC), EINVAL));
    CHECK("msync unaligned EINVAL", ERR(msync(s + 1, pg, MS_SYNC), EINVAL));

    /* Fork: a child's store through a shared file mapping reaches the parent. */
    pid_t pid = fork();
    if (pid == 0) {
        s[2] = 'C';
        s2[3] = 'D';
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK("child store seen by parent", s[2] == 'C' && s[3] == 'D');
    CHECK("child store seen by read", pread(fd, buf, 4, 0) == 4 && memcmp(buf, "JECD", 4) == 0);

    /* Private mappings: copy on write, file untouched. */
    char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK("mmap private", p != MAP_FAILED && p[0] == 'J');
    pwrite(fd, "K", 1, 0);
    CHECK("untouched private page sees file writes", p[0] == 'K');
    p[0] = 'P';
    CHECK("private store stays private", pread(fd, buf, 1, 0) == 1 && buf[0] == 'K' && s[0] == 'K');
    pwrite(fd, "Q", 1, 0);
    CHECK("copied page no longer follows the file", p[0] == 'P');
    CHECK("MADV_DONTNEED drops the copy", madvise(p, pg, MADV_DONTNEED) == 0 && p[0] == 'Q');
    pid = fork();
    if (pid == 0) {
        p[1] = 'z';
        _exit(p[1] == 'z' ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    CHECK("child private store stays in child", WIFEXITED(status) && WEXITSTATUS(status) == 0 && p[1] == 'E');

    /* Offsets, splits and moves keep file positions. */
    char *o = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, pg);
    CHECK("offset mapping", o != MAP_FAILED && o[5] == 'x');
    CHECK("unaligned offset EINVAL", mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 100) == MAP_FAILED && errno == EINVAL);
    CHECK("mprotect splits", mprotect(s, pg, PROT_READ) == 0 && s[pg + 5] == 'x' && s[0] == 'Q');
    CHECK("munmap first page", munmap(s, pg) == 0);
    CHECK("second page still right", s[pg + 5] == 'x');
    char *m = mremap(s2, pg, 2 * pg, MREMAP_MAYMOVE);
    CHECK("mremap grows file mapping", m != MAP_FAILED && m[pg + 5] == 'x' && m[0] == 'Q');

    /* Access rules. */
    int ro = open(path, O_RDONLY);
    CHECK("shared writable on O_RDONLY EACCES", mmap(NULL, pg, PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
    char *rp = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    CHECK("private writable on O_RDONLY", rp != MAP_FAILED);
    rp[0] = 'r';
    CHECK("its store stays private", pread(ro, buf, 1, 0) == 1 && buf[0] == 'Q');
    int wo = open(path, O_WRONLY);
    CHECK("O_WRONLY mapping EACCES", mmap(NULL, pg, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED && errno == EACCES);
    CHECK("directory ENODEV", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, open("/tmp", O_RDONLY), 0) == MAP_FAILED && errno == ENODEV);
    CHECK("bad fd EBADF", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED && errno == EBADF);
    char *ws = mmap(NULL, pg, PROT_READ, MAP_SHARED, ro, 0);
    CHECK("store to read-only mapping SEGV", ws != MAP_FAILED && poke(ws) == SIGSEGV && got_code == SEGV_ACCERR);

    /* Data written through a mapping is in the file after unmapping. */
    munmap(m, 2 * pg);
    munmap(o, pg);
    close(fd);
    fd = open(path, O_RDONLY);
    CHECK("persists after close", read(fd, buf, 4) == 4 && memcmp(buf, "QECD", 4) == 0);
    close(fd);
    unlink(path);

    /* A read-only host file (the program itself) maps as it reads. */
    int self = open(argv[0], O_RDONLY);
    char *img = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE, self, pg);
    char *chk = malloc(3 * pg);
    CHECK("host file mapping matches pread", img != MAP_FAILED && pread(self, chk, 3 * pg, pg) == 3 * pg && memcmp(img, chk, 3 * pg) == 0);
    char *img2 = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, self, 0);
    img2[0] = 0x55;
    CHECK("private store to host file mapping", img2[0] == 0x55 && pread(self, chk, 1, 0) == 1 && chk[0] == 0x7f);

    /* /dev/zero. */
    int z = open("/dev/zero", O_RDWR);
    char *zp = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
    CHECK("/dev/zero private", zp != MAP_FAILED && zp[100] == 0);
    char *zs = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
    pid = fork();
    if (pid == 0) {
        zs[0] = 42;
        _exit(0);
    }
    waitpid(pid, &status, 0);
    CHECK("/dev/zero shared across fork", zs[0] == 42);

    /* memfd shared between processes. */
    int mf = memfd_create("shm", 0);
    CHECK("memfd ftruncate", ftruncate(mf, pg) == 0);
    char *ms = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
    pid = fork();
    if (pid == 0) {
        strcpy(ms, "from child");
        _exit(0);
    }
    waitpid(pid, &status, 0);
    CHECK("memfd store seen by read", pread(mf, buf, 10, 0) == 10 && memcmp(buf, "from child", 10) == 0);
    char *ms2 = mmap(NULL, pg, PROT_READ, MAP_SHARED, mf, 0);
    CHECK("second memfd mapping", strcmp(ms2, "from child") == 0);

    /* /proc/self/maps names the file. */
    char maps[16384] = {0};
    int mfd = open("/proc/self/maps", O_RDONLY);
    int n = 0, r;
    while ((r = read(mfd, maps + n, sizeof(maps) - 1 - n)) > 0) n += r;
    CHECK("maps names memfd", strstr(maps, "/memfd:shm") != NULL);
    return 0;
}
