/* The open mode limits what a mapping may ever be (Linux's VM_MAYWRITE):
 * a file opened read-only and mapped MAP_SHARED can neither be mapped
 * writable nor mprotect-ed writable, whatever the file system; a private
 * mapping stays writable (copy-on-write) and never reaches the file. The
 * attack runs as uid 1000 against a root-owned 0644 file; another process
 * then checks the file and the program's own pages are intact. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(int r) { return r == 0 ? "ok" : strerror(errno); }

static void attack(const char *path, const char *label) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: open: %s\n", label, strerror(errno));
        return;
    }
    void *w = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("%s: mmap shared rw: %s\n", label, w == MAP_FAILED ? strerror(errno) : "ok");
    if (w != MAP_FAILED)
        munmap(w, 4096);
    char *p = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        printf("%s: mmap shared ro: %s\n", label, strerror(errno));
        close(fd);
        return;
    }
    int r = mprotect(p, 4096, PROT_READ | PROT_WRITE);
    printf("%s: mprotect shared rw: %s\n", label, err(r));
    if (r == 0)
        p[0] = 'X', p[1] = 0xcc;
    printf("%s: mprotect shared rx: %s\n", label, err(mprotect(p, 4096, PROT_READ | PROT_EXEC)));
    munmap(p, 4096);
    char *q = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    r = mprotect(q, 4096, PROT_READ | PROT_WRITE);
    printf("%s: mprotect private rw: %s\n", label, err(r));
    if (r == 0) {
        char was = q[0];
        q[0] = 'P';
        printf("%s: private write kept: %d\n", label, q[0] == 'P' && was != 'P');
    }
    munmap(q, 4096);
    close(fd);
}

static int first_bytes(const char *path, char *out, int n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int r = read(fd, out, n);
    close(fd);
    return r;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char tmp[64], exe[4096];
    snprintf(tmp, sizeof tmp, "/tmp/rm_mmapperm.%d", getpid());
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el < 0) {
        perror("readlink");
        return 1;
    }
    exe[el] = 0;
    int fd = open(tmp, O_CREAT | O_RDWR | O_TRUNC, 0644);
    char data[8192];
    memset(data, 'o', sizeof data);
    memcpy(data, "ORIGINAL", 8);
    if (fd < 0 || write(fd, data, sizeof data) != sizeof data) {
        perror("create");
        return 1;
    }
    close(fd);
    char exe_before[64], exe_after[64], tmp_after[16];
    first_bytes(exe, exe_before, sizeof exe_before);

    /* O_WRONLY: no mapping can read it. */
    fd = open(tmp, O_WRONLY);
    void *m = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("wronly: mmap shared r: %s\n", m == MAP_FAILED ? strerror(errno) : "ok");
    m = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("wronly: mmap private r: %s\n", m == MAP_FAILED ? strerror(errno) : "ok");
    close(fd);
    /* Read-write open: a shared writable mapping is fine and reaches the file. */
    fd = open(tmp, O_RDWR);
    char *s = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("rdwr: mprotect shared rw: %s\n", err(mprotect(s, 4096, PROT_READ | PROT_WRITE)));
    munmap(s, 4096);
    close(fd);
    /* /dev/zero read-only, shared. */
    fd = open("/dev/zero", O_RDONLY);
    m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("zero: mmap shared rw: %s\n", m == MAP_FAILED ? strerror(errno) : "ok");
    m = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("zero: mprotect shared rw: %s\n", err(mprotect(m, 4096, PROT_READ | PROT_WRITE)));
    close(fd);
    /* A /proc file cannot be mapped at all. */
    fd = open("/proc/self/status", O_RDONLY);
    m = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("proc: mmap: %s\n", m == MAP_FAILED ? strerror(errno) : "ok");
    close(fd);

    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(1000) || setuid(1000))
            _exit(1);
        attack(tmp, "tmpfile");
        attack(exe, "program");
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    /* Another process checks the bytes everyone else sees. */
    pid = fork();
    if (pid == 0) {
        first_bytes(exe, exe_after, sizeof exe_after);
        first_bytes(tmp, tmp_after, 8);
        printf("program bytes intact: %d\n", !memcmp(exe_before, exe_after, sizeof exe_after));
        int efd = open(exe, O_RDONLY);
        char *map = mmap(0, 4096, PROT_READ, MAP_PRIVATE, efd, 0);
        printf("program pages intact: %d\n", map != MAP_FAILED && !memcmp(map, exe_before, 64));
        close(efd);
        printf("file bytes intact: %d\n", !memcmp(tmp_after, "ORIGINAL", 8));
        _exit(0);
    }
    waitpid(pid, &st, 0);
    unlink(tmp);
    return 0;
}
