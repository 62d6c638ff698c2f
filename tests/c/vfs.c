/* The VFS: path walk, the *at family, fd table, metadata. One line per
 * check; compared with the native run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
#define ERR(call, e) ((call) == -1 && errno == (e))

static int count_entries(const char *d) {
    DIR *dir = opendir(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dir);
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char tmpl[] = "/tmp/gvisor-vfs-XXXXXX";
    char *d = mkdtemp(tmpl);
    CHECK("mkdtemp", d != NULL);
    CHECK("chdir", chdir(d) == 0);
    umask(022);

    int fd = open("f", O_CREAT | O_RDWR | O_EXCL, 0666);
    CHECK("create", fd >= 0);
    struct stat st;
    fstat(fd, &st);
    CHECK("umask applied", (st.st_mode & 0777) == 0644);
    CHECK("O_EXCL on existing: EEXIST", ERR(open("f", O_CREAT | O_EXCL | O_RDWR, 0600), EEXIST));
    CHECK("write", write(fd, "hello world", 11) == 11);
    CHECK("lseek SEEK_END", lseek(fd, 0, SEEK_END) == 11);
    CHECK("lseek negative: EINVAL", ERR(lseek(fd, -100, SEEK_SET), EINVAL));
    char buf[64] = {0};
    CHECK("pread", pread(fd, buf, 5, 6) == 5 && memcmp(buf, "world", 5) == 0);
    CHECK("pwrite", pwrite(fd, "W", 1, 6) == 1);
    CHECK("pwrite leaves the offset", lseek(fd, 0, SEEK_CUR) == 11);
    CHECK("ftruncate shrink", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5);
    CHECK("ftruncate grow reads zeros", ftruncate(fd, 8) == 0 && pread(fd, buf, 8, 0) == 8 && buf[6] == 0);
    close(fd);

    fd = open("f", O_WRONLY | O_APPEND);
    lseek(fd, 0, SEEK_SET);
    write(fd, "!", 1);
    close(fd);
    stat("f", &st);
    CHECK("O_APPEND writes at the end", st.st_size == 9);
    CHECK("O_TRUNC", (fd = open("f", O_WRONLY | O_TRUNC)) >= 0 && fstat(fd, &st) == 0 && st.st_size == 0);
    close(fd);

    CHECK("mkdir", mkdir("sub", 0755) == 0);
    CHECK("mkdir existing: EEXIST", ERR(mkdir("sub", 0755), EEXIST));
    CHECK("rmdir non-empty: ENOTEMPTY", (close(open("sub/x", O_CREAT | O_WRONLY, 0600)), ERR(rmdir("sub"), ENOTEMPTY)));
    CHECK("unlink a directory: EISDIR", ERR(unlink("sub"), EISDIR));
    CHECK("rmdir a file: ENOTDIR", ERR(rmdir("f"), ENOTDIR));
    CHECK("file as a directory: ENOTDIR", ERR(open("f/x", O_RDONLY), ENOTDIR));
    CHECK("trailing slash on a file: ENOTDIR", ERR(stat("f/", &st), ENOTDIR));
    CHECK("missing: ENOENT", ERR(open("nope", O_RDONLY), ENOENT));
    CHECK("empty path: ENOENT", ERR(open("", O_RDONLY), ENOENT));

    CHECK("symlink", symlink("f", "l") == 0);
    CHECK("readlink", readlink("l", buf, sizeof buf) == 1 && buf[0] == 'f');
    CHECK("lstat sees the link", lstat("l", &st) == 0 && S_ISLNK(st.st_mode));
    CHECK("stat follows it", stat("l", &st) == 0 && S_ISREG(st.st_mode));
    CHECK("O_NOFOLLOW on a link: ELOOP", ERR(open("l", O_RDONLY | O_NOFOLLOW), ELOOP));
    symlink("loop1", "loop2");
    symlink("loop2", "loop1");
    CHECK("symlink loop: ELOOP", ERR(open("loop1", O_RDONLY), ELOOP));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[299] = 0;
    CHECK("long component: ENAMETOOLONG", ERR(open(longname, O_RDONLY), ENAMETOOLONG));
    CHECK("dot-dot walk", stat("sub/../f", &st) == 0);
    CHECK("dangling symlink: ENOENT", (symlink("gone", "dangle"), ERR(stat("dangle", &st), ENOENT)));

    CHECK("link", link("f", "hard") == 0 && stat("f", &st) == 0 && st.st_nlink == 2);
    CHECK("rename over existing", rename("hard", "sub/x") == 0 && stat("f", &st) == 0 && st.st_nlink == 2);
    CHECK("renameat2 NOREPLACE: EEXIST", ERR(renameat2(AT_FDCWD, "f", AT_FDCWD, "sub/x", RENAME_NOREPLACE), EEXIST));
    CHECK("rename dir into itself: EINVAL", ERR(rename("sub", "sub/inner"), EINVAL));

    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    CHECK("O_DIRECTORY", dfd >= 0);
    CHECK("openat relative to a dir fd", (fd = openat(dfd, "y", O_CREAT | O_WRONLY, 0600)) >= 0);
    close(fd);
    CHECK("fstatat AT_EMPTY_PATH", fstatat(dfd, "", &st, AT_EMPTY_PATH) == 0 && S_ISDIR(st.st_mode));
    CHECK("faccessat", faccessat(dfd, "y", R_OK | W_OK, 0) == 0);
    CHECK("unlinkat", unlinkat(dfd, "y", 0) == 0);
    CHECK("mkdirat + unlinkat AT_REMOVEDIR", mkdirat(dfd, "z", 0700) == 0 && unlinkat(dfd, "z", AT_REMOVEDIR) == 0);
    CHECK("O_DIRECTORY on a file: ENOTDIR", ERR(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR));
    CHECK("fchdir", fchdir(dfd) == 0 && getcwd(buf, sizeof buf) && strstr(buf, "/sub") != NULL);
    chdir(d);
    close(dfd);
    CHECK("directory listing", count_entries("sub") == 1);

    CHECK("chmod", chmod("f", 0600) == 0 && stat("f", &st) == 0 && (st.st_mode & 0777) == 0600);
    fd = open("f", O_RDONLY);
    CHECK("fchmod", fchmod(fd, 0640) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0640);
    struct timespec ts[2] = {{1000000000, 0}, {1234567890, 0}};
    CHECK("utimensat", utimensat(AT_FDCWD, "f", ts, 0) == 0 && stat("f", &st) == 0 && st.st_mtime == 1234567890);
    CHECK("chown to self", chown("f", getuid(), getgid()) == 0);

    int d2 = dup(fd);
    CHECK("dup shares the offset", lseek(fd, 3, SEEK_SET) == 3 && lseek(d2, 0, SEEK_CUR) == 3);
    CHECK("dup2", dup2(fd, 50) == 50 && fcntl(50, F_GETFD) == 0);
    CHECK("dup3 O_CLOEXEC", dup3(fd, 51, O_CLOEXEC) == 51 && fcntl(51, F_GETFD) == FD_CLOEXEC);
    CHECK("dup3 same fd: EINVAL", ERR(dup3(fd, fd, 0), EINVAL));
    CHECK("F_DUPFD_CLOEXEC lowest above", fcntl(fd, F_DUPFD_CLOEXEC, 60) == 60);
    CHECK("F_GETFL access mode", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK("close twice: EBADF", close(60) == 0 && ERR(close(60), EBADF));
    CHECK("bad fd: EBADF", ERR(fstat(999, &st), EBADF));
    CHECK("write to O_RDONLY: EBADF", ERR(write(fd, "x", 1), EBADF));

    CHECK("truncate by path", truncate("f", 2) == 0 && stat("f", &st) == 0 && st.st_size == 2);
    CHECK("access F_OK", access("f", F_OK) == 0 && ERR(access("nope", F_OK), ENOENT));

    /* Cleanup */
    unlink("f"); unlink("l"); unlink("loop1"); unlink("loop2"); unlink("dangle");
    unlink("sub/x"); rmdir("sub");
    chdir("/");
    CHECK("rmdir the scratch directory", rmdir(d) == 0);
    return 0;
}
