/* openat2: open_how sizes and flags, RESOLVE_* restrictions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct how {
    uint64_t flags, mode, resolve;
};
#define NO_XDEV 1
#define NO_MAGICLINKS 2
#define NO_SYMLINKS 4
#define BENEATH 8
#define IN_ROOT 0x10
#define CACHED 0x20

static const char *en(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case EXDEV: return "EXDEV";
    case ELOOP: return "ELOOP";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    default: return strerror(e);
    }
}

static ino_t ino_of(int fd) {
    struct stat st;
    fstat(fd, &st);
    return st.st_ino;
}

static int D;
static ino_t dino, fino;

static void T(const char *label, int dfd, const char *path, uint64_t flags, uint64_t mode,
              uint64_t resolve) {
    struct how h = {flags, mode, resolve};
    errno = 0;
    long r = syscall(SYS_openat2, dfd, path, &h, sizeof h);
    if (r < 0) {
        printf("%-36s -1 %s\n", label, en(errno));
        return;
    }
    ino_t i = ino_of(r);
    printf("%-36s ok%s%s cloexec=%d\n", label, i == dino ? " =dir" : "", i == fino ? " =file" : "",
           fcntl(r, F_GETFD));
    close(r);
}

static void S(const char *label, void *p, size_t size) {
    errno = 0;
    long r = syscall(SYS_openat2, AT_FDCWD, "/", p, size);
    printf("%-36s %s\n", label, r < 0 ? en(errno) : "ok");
    if (r >= 0) close(r);
}

int main(void) {
    char tmpl[] = "/tmp/openat2.XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    D = open(tmpl, O_RDONLY | O_DIRECTORY);
    mkdirat(D, "sub", 0755);
    int f = openat(D, "file", O_CREAT | O_RDWR, 0644);
    close(f);
    symlinkat("/", D, "abs");
    symlinkat("sub", D, "rel");
    symlinkat("..", D, "up");
    symlinkat("..", D, "sub/up");
    symlinkat("loop", D, "loop");
    symlinkat("file", D, "flink");
    dino = ino_of(D);
    int ff = openat(D, "file", O_RDONLY);
    fino = ino_of(ff);
    close(ff);

    /* sizes */
    char big[8192];
    memset(big, 0, sizeof big);
    S("size 0", big, 0);
    S("size 23", big, 23);
    S("size 24", big, 24);
    S("size 32 zero tail", big, 32);
    big[30] = 1;
    S("size 32 nonzero tail", big, 32);
    big[30] = 0;
    S("size 4096", big, 4096);
    S("size 4097", big, 4097);
    big[4000] = 1;
    S("size 4096 nonzero tail", big, 4096);
    big[4000] = 0;
    S("bad pointer", (void *)8, 24);
    S("null pointer", NULL, 24);

    /* flags and mode */
    T("plain file", D, "file", O_RDONLY, 0, 0);
    T("cloexec", D, "file", O_RDONLY | O_CLOEXEC, 0, 0);
    T("unknown flag bit 40", D, "file", 1ULL << 40, 0, 0);
    T("unknown flag bit 31", D, "file", 1ULL << 31, 0, 0);
    T("mode without O_CREAT", D, "file", O_RDONLY, 0644, 0);
    T("O_CREAT mode 010000", D, "new", O_CREAT | O_RDWR, 010000, 0);
    T("O_CREAT mode 0600", D, "new", O_CREAT | O_RDWR, 0600, 0);
    T("O_CREAT|O_EXCL existing", D, "new", O_CREAT | O_EXCL | O_RDWR, 0600, 0);
    T("O_CREAT|O_DIRECTORY", D, "new2", O_CREAT | O_DIRECTORY, 0600, 0);
    T("O_PATH|O_RDWR", D, "file", O_PATH | O_RDWR, 0, 0);
    T("O_NOFOLLOW", D, "flink", O_NOFOLLOW, 0, 0);
    T("O_TMPFILE rdonly", D, ".", O_TMPFILE | O_RDONLY, 0600, 0);
    T("resolve 0x40", D, "file", O_RDONLY, 0, 0x40);
    T("BENEATH|IN_ROOT", D, "file", O_RDONLY, 0, BENEATH | IN_ROOT);
    T("empty path", D, "", O_RDONLY, 0, 0);
    T("bad dirfd", 9999, "file", O_RDONLY, 0, 0);

    /* CACHED */
    T("CACHED plain", D, "file", O_RDONLY, 0, CACHED);
    T("CACHED O_CREAT", D, "file", O_RDONLY | O_CREAT, 0, CACHED);
    T("CACHED O_TRUNC", D, "file", O_RDWR | O_TRUNC, 0, CACHED);

    /* NO_SYMLINKS */
    T("loop", D, "loop", O_RDONLY, 0, 0);
    T("NO_SYMLINKS file", D, "file", O_RDONLY, 0, NO_SYMLINKS);
    T("NO_SYMLINKS flink", D, "flink", O_RDONLY, 0, NO_SYMLINKS);
    T("NO_SYMLINKS rel/..", D, "rel/../file", O_RDONLY, 0, NO_SYMLINKS);
    T("NO_SYMLINKS flink NOFOLLOW", D, "flink", O_NOFOLLOW, 0, NO_SYMLINKS);
    T("NO_SYMLINKS O_CREAT via link", D, "flink", O_RDWR | O_CREAT, 0600, NO_SYMLINKS);
    T("no restriction flink", D, "flink", O_RDONLY, 0, 0);

    /* BENEATH */
    T("BENEATH file", D, "file", O_RDONLY, 0, BENEATH);
    T("BENEATH sub/../file", D, "sub/../file", O_RDONLY, 0, BENEATH);
    T("BENEATH sub/up/file", D, "sub/up/file", O_RDONLY, 0, BENEATH);
    T("BENEATH rel/up/file", D, "rel/up/file", O_RDONLY, 0, BENEATH);
    T("BENEATH up", D, "up", O_RDONLY, 0, BENEATH);
    T("BENEATH ../x/file", D, "../x/file", O_RDONLY, 0, BENEATH);
    T("BENEATH absolute", D, "/tmp", O_RDONLY, 0, BENEATH);
    T("BENEATH abs link", D, "abs", O_RDONLY, 0, BENEATH);
    T("BENEATH abs link nofollow", D, "abs", O_NOFOLLOW, 0, BENEATH);
    T("BENEATH .", D, ".", O_RDONLY, 0, BENEATH);
    T("BENEATH ..", D, "..", O_RDONLY, 0, BENEATH);
    T("BENEATH O_CREAT", D, "sub/created", O_RDWR | O_CREAT, 0600, BENEATH);

    /* IN_ROOT */
    T("IN_ROOT /file", D, "/file", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT ../../../file", D, "../../../file", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT abs link", D, "abs", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT abs/file", D, "abs/file", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT up/up/file", D, "up/up/file", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT /", D, "/", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT /nonexistent", D, "/nonexistent", O_RDONLY, 0, IN_ROOT);
    T("IN_ROOT O_CREAT /made", D, "/made", O_RDWR | O_CREAT, 0600, IN_ROOT);
    printf("made inside: %d\n", faccessat(D, "made", F_OK, 0) == 0);

    /* NO_XDEV */
    T("NO_XDEV file", D, "file", O_RDONLY, 0, NO_XDEV);
    T("NO_XDEV /proc/self/status", AT_FDCWD, "/proc/self/status", O_RDONLY, 0, NO_XDEV);
    T("NO_XDEV /proc", AT_FDCWD, "/proc", O_RDONLY, 0, NO_XDEV);
    int proc = open("/proc", O_RDONLY | O_DIRECTORY);
    T("NO_XDEV proc: self/status", proc, "self/status", O_RDONLY, 0, NO_XDEV);
    T("NO_XDEV proc: ..", proc, "..", O_RDONLY, 0, NO_XDEV);
    T("NO_XDEV proc: ../proc/self/status", proc, "../proc/self/status", O_RDONLY, 0, NO_XDEV);
    T("BENEATH proc: self/status", proc, "self/status", O_RDONLY, 0, BENEATH);

    /* magic links */
    int fd = openat(D, "file", O_RDONLY);
    char p[64];
    snprintf(p, sizeof p, "self/fd/%d", fd);
    T("magic: no restriction", proc, p, O_RDONLY, 0, 0);
    T("magic: NO_MAGICLINKS", proc, p, O_RDONLY, 0, NO_MAGICLINKS);
    T("magic: NO_SYMLINKS", proc, p, O_RDONLY, 0, NO_SYMLINKS);
    T("magic: BENEATH", proc, p, O_RDONLY, 0, BENEATH);
    T("magic: IN_ROOT", proc, p, O_RDONLY, 0, IN_ROOT);
    T("magic: NO_MAGICLINKS NOFOLLOW", proc, p, O_NOFOLLOW, 0, NO_MAGICLINKS);
    T("magic exe: NO_MAGICLINKS", proc, "self/exe", O_RDONLY, 0, NO_MAGICLINKS);
    T("magic cwd: NO_MAGICLINKS", proc, "self/cwd", O_RDONLY, 0, NO_MAGICLINKS);
    T("self/status NO_MAGICLINKS", proc, "self/status", O_RDONLY, 0, NO_MAGICLINKS);
    close(fd);
    close(proc);

    unlinkat(D, "made", 0);
    unlinkat(D, "new", 0);
    unlinkat(D, "sub/created", 0);
    unlinkat(D, "sub/up", 0);
    unlinkat(D, "sub", AT_REMOVEDIR);
    unlinkat(D, "file", 0);
    unlinkat(D, "abs", 0);
    unlinkat(D, "rel", 0);
    unlinkat(D, "up", 0);
    unlinkat(D, "loop", 0);
    unlinkat(D, "flink", 0);
    close(D);
    printf("rmdir %d\n", rmdir(tmpl));
    return 0;
}
