/* I/O on files that are open but unlinked (tempfile.TemporaryFile, mkstemp + unlink,
 * O_TMPFILE): write, read, pwrite, ftruncate, fstat, mmap all work as on Linux.
 * Usage: rk_unlinked [-r] DIR... ; prints one line per step. With -r the mapping is read-only
 * (writable shared mappings of host files are not supported by the sandbox). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0)
        printf("  %s: -1 %s\n", what, strerror(errno));
    else
        printf("  %s: %ld\n", what, r);
}

static int map_write = 1;

static void exercise(int fd) {
    char buf[64];
    struct stat st;
    check("write", write(fd, "hello, unlinked world", 21));
    check("pwrite", pwrite(fd, "HELLO", 5, 0));
    check("lseek", lseek(fd, 0, SEEK_SET));
    memset(buf, 0, sizeof buf);
    long n = read(fd, buf, sizeof buf - 1);
    check("read", n);
    printf("  data: %s\n", buf);
    check("fstat", fstat(fd, &st));
    printf("  size %ld nlink %ld\n", (long)st.st_size, (long)st.st_nlink);
    check("ftruncate", ftruncate(fd, 8192));
    check("fstat", fstat(fd, &st));
    printf("  size %ld\n", (long)st.st_size);
    int prot = map_write ? PROT_READ | PROT_WRITE : PROT_READ;
    char *p = mmap(NULL, 8192, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        check("mmap", -1);
    } else {
        printf("  mmap: ok %.5s\n", p);
        if (map_write)
            memcpy(p + 4096, "page2", 5);
        check("msync", msync(p, 8192, MS_SYNC));
        check("munmap", munmap(p, 8192));
        memset(buf, 0, sizeof buf);
        check("pread", pread(fd, buf, 5, 4096));
        printf("  data: %s\n", buf);
    }
    check("ftruncate", ftruncate(fd, 3));
    check("pread", pread(fd, buf, 10, 0));
    check("fsync", fsync(fd));
    check("close", close(fd));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "-r") == 0) {
        map_write = 0;
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        const char *dir = argv[i];
        char path[4096];
        /* Named file, then unlinked. */
        printf("%s: create+unlink\n", dir);
        snprintf(path, sizeof path, "%s/rk_unlinked.XXXXXX", dir);
        int fd = mkstemp(path);
        if (fd < 0) {
            check("mkstemp", -1);
        } else {
            check("unlink", unlink(path));
            exercise(fd);
        }
        /* An existing file (e.g. one from the image, copied up on write), then unlinked. */
        snprintf(path, sizeof path, "%s/rk_existing", dir);
        if (access(path, F_OK) == 0) {
            printf("%s: existing+unlink\n", dir);
            fd = open(path, O_RDWR);
            check("open", fd);
            if (fd >= 0) {
                check("unlink", unlink(path));
                exercise(fd);
            }
        }
        /* O_TMPFILE. */
        printf("%s: O_TMPFILE\n", dir);
        fd = open(dir, O_TMPFILE | O_RDWR, 0600);
        if (fd < 0)
            check("open", -1);
        else
            exercise(fd);
    }
    return 0;
}
