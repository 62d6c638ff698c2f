// chroot (permission, errors, lookups, "..", absolute symlinks, getcwd, exec and fork inside
// the new root) and process_vm_readv/writev (between parent and child, partial transfers,
// bad arguments), printed for a diff against a native run. argv[1]: a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s %ld\n", what, r);
}

static void show_fd(const char *what, long r) {
    if (r < 0)
        printf("%s -1 %s\n", what, strerror(errno));
    else
        printf("%s ok\n", what);
}

static int copy(const char *from, const char *to) {
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0)
        return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return -1;
    close(in);
    close(out);
    return 0;
}

static void vm_tests(void) {
    static char secret[64] = "parent secret";
    int pipefd[2], back[2];
    pipe(pipefd);
    pipe(back);
    pid_t c = fork();
    if (c == 0) {
        static char child_buf[64] = "child data";
        char *addr = child_buf;
        write(pipefd[1], &addr, sizeof addr);
        char x;
        read(back[0], &x, 1);
        printf("child sees [%s]\n", child_buf);
        _exit(0);
    }
    char *remote;
    read(pipefd[0], &remote, sizeof remote);
    char got[64] = {0};
    struct iovec l = {got, 10}, r = {remote, 10};
    show("readv child", process_vm_readv(c, &l, 1, &r, 1, 0));
    printf("got [%s]\n", got);
    struct iovec w = {secret, 14}, rw = {remote, 14};
    show("writev child", process_vm_writev(c, &w, 1, &rw, 1, 0));
    // Scatter/gather with unequal pieces.
    char a[3], b[20];
    memset(b, 0, sizeof b);
    struct iovec l2[2] = {{a, 3}, {b, 11}}, r2[3] = {{remote, 5}, {remote + 5, 2}, {remote + 7, 7}};
    show("readv split", process_vm_readv(c, l2, 2, r2, 3, 0));
    printf("split [%.3s][%s]\n", a, b);
    show("readv flags", process_vm_readv(c, &l, 1, &r, 1, 1));
    show("readv no such pid", process_vm_readv(999999, &l, 1, &r, 1, 0));
    struct iovec bad = {(void *)8, 10};
    show("readv bad remote", process_vm_readv(c, &l, 1, &bad, 1, 0));
    show("readv bad local", process_vm_readv(c, &bad, 1, &r, 1, 0));
    struct iovec part[2] = {{remote, 4}, {(void *)8, 4}};
    show("readv partial", process_vm_readv(c, &l, 1, part, 2, 0));
    show("readv iovcnt 1025", syscall(SYS_process_vm_readv, c, &l, 1025, &r, 1, 0));
    show("readv null iov zero count", process_vm_readv(c, NULL, 0, NULL, 0, 0));
    show("readv self", process_vm_readv(getpid(), &l, 1, &w, 1, 0));
    printf("self got [%.10s]\n", got);
    write(back[1], "x", 1);
    waitpid(c, NULL, 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    vm_tests();
    mkdir("jail", 0755);
    mkdir("jail/dir", 0755);
    mkdir("jail/etc", 0755);
    int f = open("jail/etc/marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(f, "inside\n", 7);
    close(f);
    symlink("/etc", "jail/dir/abs");
    symlink("../../etc/marker", "jail/dir/rel");
    if (copy("/bin/busybox", "jail/busybox") != 0)
        printf("copy busybox failed\n");
    show("chroot missing", chroot("nope"));
    show("chroot file", chroot("jail/etc/marker"));
    show("chroot empty", chroot(""));
    show("chroot bad ptr", syscall(SYS_chroot, (void *)8));
    pid_t c = fork();
    if (c == 0) {
        // Without CAP_SYS_CHROOT.
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        syscall(SYS_capset, &h, d);
        show("chroot without CAP_SYS_CHROOT", chroot("jail"));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    show("chroot jail", chroot("jail"));
    char cwd[256];
    long n = syscall(SYS_getcwd, cwd, sizeof cwd);
    printf("getcwd outside the root %ld [%s]\n", n > 0 ? 1L : n, n > 0 ? (strncmp(cwd, "(unreachable)", 13) == 0 ? "(unreachable)..." : cwd) : "");
    show("chdir /", chdir("/"));
    printf("getcwd [%s]\n", getcwd(cwd, sizeof cwd));
    char buf[64] = {0};
    f = open("/etc/marker", O_RDONLY);
    read(f, buf, sizeof buf - 1);
    printf("/etc/marker [%s]\n", strtok(buf, "\n"));
    close(f);
    struct stat s1, s2;
    stat("/", &s1);
    stat("/../../..", &s2);
    printf("/.. is / %d\n", s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev);
    show_fd("open via absolute symlink", open("/dir/abs/marker", O_RDONLY));
    show_fd("open via relative symlink past root", open("/dir/rel", O_RDONLY));
    show("chdir dir", chdir("dir"));
    printf("getcwd [%s]\n", getcwd(cwd, sizeof cwd));
    show_fd("open ../../../etc/marker", open("../../../etc/marker", O_RDONLY));
    show("access /bin/sh (host's, now out of reach)", access("/bin/sh", F_OK));
    c = fork();
    if (c == 0) {
        char *args[] = {"busybox", "echo", "exec inside the root", NULL};
        execv("/busybox", args);
        printf("exec /busybox -1 %s\n", strerror(errno));
        _exit(1);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child status %d\n", WEXITSTATUS(st));
    show("nested chroot dir", chroot("/dir"));
    show("chdir / again", chdir("/"));
    show_fd("open /abs/marker in nested root", open("/abs/marker", O_RDONLY));
    show_fd("chroot back out is not possible", open("/etc/marker", O_RDONLY));
    return 0;
}
