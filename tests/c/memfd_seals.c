/* memfd seals: F_ADD_SEALS / F_GET_SEALS and their enforcement. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x10
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 8
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x10
#endif

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    default: return strerror(e);
    }
}
#define R(label, expr)                                                         \
    do {                                                                       \
        errno = 0;                                                             \
        long _r = (long)(expr);                                                \
        printf("%-40s %ld %s\n", label, _r, _r < 0 ? en(errno) : "");          \
    } while (0)

static int mfd(const char *n, unsigned f) { return syscall(SYS_memfd_create, n, f); }

static long size_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    return st.st_size;
}

int main(void) {
    char buf[8192];
    memset(buf, 'a', sizeof buf);

    /* flags */
    R("create bad flag 0x100", mfd("x", 0x100));
    R("create EXEC|NOEXEC_SEAL", mfd("x", MFD_EXEC | MFD_NOEXEC_SEAL));
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[249] = 0;
    int l = mfd(longname, 0);
    printf("name 249: %s\n", l >= 0 ? "ok" : en(errno));
    close(l);
    longname[249] = 'n';
    longname[250] = 0;
    R("name 250", mfd(longname, 0));
    R("name bad pointer", mfd((char *)8, 0));

    /* no ALLOW_SEALING: F_SEAL_SEAL from the start */
    int a = mfd("plain", 0);
    R("plain get", fcntl(a, F_GET_SEALS));
    R("plain add grow", fcntl(a, F_ADD_SEALS, F_SEAL_GROW));
    struct stat st;
    fstat(a, &st);
    printf("plain mode %o\n", st.st_mode & 07777);
    close(a);

    /* NOEXEC_SEAL */
    int ne = mfd("noexec", MFD_NOEXEC_SEAL);
    R("noexec get", fcntl(ne, F_GET_SEALS));
    fstat(ne, &st);
    printf("noexec mode %o\n", st.st_mode & 07777);
    R("noexec fchmod 0755", fchmod(ne, 0755));
    R("noexec fchmod 0600", fchmod(ne, 0600));
    R("noexec write", write(ne, buf, 10));
    close(ne);

    /* EXEC seal on an executable file adds the write seals */
    int ex = mfd("exec", MFD_ALLOW_SEALING | MFD_EXEC);
    R("exec add EXEC", fcntl(ex, F_ADD_SEALS, F_SEAL_EXEC));
    R("exec get", fcntl(ex, F_GET_SEALS));
    R("exec write", write(ex, buf, 10));
    close(ex);

    /* non-memfd */
    int tf = open("/proc/self/exe", O_RDONLY);
    R("regular get", fcntl(tf, F_GET_SEALS));
    R("regular ro add", fcntl(tf, F_ADD_SEALS, F_SEAL_GROW));
    close(tf);
    int p[2];
    pipe(p);
    R("pipe write end add", fcntl(p[1], F_ADD_SEALS, F_SEAL_GROW));
    R("pipe get", fcntl(p[1], F_GET_SEALS));
    close(p[0]);
    close(p[1]);

    int fd = mfd("sealme", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    R("get initial", fcntl(fd, F_GET_SEALS));
    R("add unknown 0x40", fcntl(fd, F_ADD_SEALS, 0x40));
    R("add high bits ignored", fcntl(fd, F_ADD_SEALS, 0x100000000L));
    R("write 8192", write(fd, buf, 8192));
    R("ftruncate 10000", ftruncate(fd, 10000));

    /* read-only reopen cannot add seals */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY);
    R("ro reopen add", fcntl(ro, F_ADD_SEALS, F_SEAL_GROW));
    R("ro reopen get", fcntl(ro, F_GET_SEALS));

    /* SHRINK */
    R("add SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    R("ftruncate smaller", ftruncate(fd, 100));
    R("ftruncate same", ftruncate(fd, 10000));
    R("ftruncate larger", ftruncate(fd, 12000));
    R("size", size_of(fd));
    /* GROW */
    R("add GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    R("get", fcntl(fd, F_GET_SEALS));
    R("ftruncate larger", ftruncate(fd, 13000));
    R("pwrite inside", pwrite(fd, buf, 100, 0));
    R("pwrite crossing end (short)", pwrite(fd, buf, 8192, 6000));
    R("pwrite crossing end last page", pwrite(fd, buf, 100, 11990));
    R("pwrite at end", pwrite(fd, buf, 1, 12000));
    R("pwrite zero at end", pwrite(fd, buf, 0, 12000));
    R("fallocate inside", fallocate(fd, 0, 0, 4096));
    R("fallocate beyond", fallocate(fd, 0, 8192, 8192));
    R("fallocate keep beyond", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
    R("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
    R("size", size_of(fd));

    /* WRITE with a writable shared mapping: EBUSY */
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("map shared rw: %s\n", m == MAP_FAILED ? en(errno) : "ok");
    R("add WRITE with mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    /* a forked child's copy counts too */
    pid_t c = fork();
    if (c == 0) {
        munmap(m, 4096);
        _exit(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EBUSY ? 0 : 1);
    }
    int ws;
    waitpid(c, &ws, 0);
    printf("child saw EBUSY: %d\n", WEXITSTATUS(ws) == 0);
    /* a split still counts */
    munmap(m, 4096);
    m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    munmap(m, 4096);
    R("add WRITE with half mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    munmap((char *)m + 4096, 4096);
    /* private writable mappings do not count */
    void *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    R("add WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    R("get", fcntl(fd, F_GET_SEALS));
    ((char *)pm)[0] = 'z';
    printf("private store ok %c\n", ((char *)pm)[0]);
    munmap(pm, 4096);
    R("write", write(fd, buf, 1));
    R("pwrite", pwrite(fd, buf, 1, 0));
    R("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("map shared rw after WRITE: %s\n", m == MAP_FAILED ? en(errno) : "ok");
    m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("map shared ro after WRITE: %s\n", m == MAP_FAILED ? en(errno) : "ok");
    R("mprotect rw", mprotect(m, 4096, PROT_READ | PROT_WRITE));
    printf("read mapped: %c\n", ((char *)m)[1]);
    munmap(m, 4096);
    /* SEAL */
    R("add SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    R("add after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
    R("add nothing after SEAL", fcntl(fd, F_ADD_SEALS, 0));
    R("get", fcntl(fd, F_GET_SEALS));
    R("ro get", fcntl(ro, F_GET_SEALS));
    close(ro);
    close(fd);

    /* FUTURE_WRITE keeps existing mappings writable */
    int fw = mfd("future", MFD_ALLOW_SEALING);
    ftruncate(fw, 4096);
    char *wm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0);
    R("add FUTURE_WRITE with mapping", fcntl(fw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
    wm[0] = 'Q';
    char b1 = 0;
    pread(fw, &b1, 1, 0);
    printf("store through old mapping: %c\n", b1);
    R("write", write(fw, buf, 1));
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0);
    printf("new map shared rw: %s\n", m == MAP_FAILED ? en(errno) : "ok");
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fw, 0);
    printf("new map private rw: %s\n", m == MAP_FAILED ? en(errno) : "ok");
    R("ftruncate grow", ftruncate(fw, 8192));
    R("add WRITE (mapping exists)", fcntl(fw, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(wm, 4096);
    R("add WRITE", fcntl(fw, F_ADD_SEALS, F_SEAL_WRITE));
    R("get", fcntl(fw, F_GET_SEALS));
    close(fw);

    /* a read-only shared mapping of an O_RDWR memfd may write later: counts */
    int rs = mfd("ro-shared", MFD_ALLOW_SEALING);
    ftruncate(rs, 4096);
    m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, rs, 0);
    R("add WRITE with ro shared mapping", fcntl(rs, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(m, 4096);
    R("add WRITE after unmap", fcntl(rs, F_ADD_SEALS, F_SEAL_WRITE));
    close(rs);
    return 0;
}
