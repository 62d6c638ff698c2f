/* Advisory locks: fcntl record locks between processes, OFD locks, flock. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char path[] = "/tmp/gvisor-locks-XXXXXX";
    int fd = mkstemp(path);
    write(fd, "0123456789", 10);
    CHECK("write lock on 0..5", lk(fd, F_SETLK, F_WRLCK, 0, 5) == 0);
    pid_t p = fork();
    if (p == 0) {
        int fd2 = open(path, O_RDWR);
        int r1 = lk(fd2, F_SETLK, F_WRLCK, 2, 2);
        int r2 = lk(fd2, F_SETLK, F_WRLCK, 5, 5);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        fcntl(fd2, F_GETLK, &fl);
        _exit((r1 == -1 ? 1 : 0) | (r2 == 0 ? 2 : 0) | (fl.l_type == F_WRLCK && fl.l_pid == getppid() ? 4 : 0));
    }
    int st;
    waitpid(p, &st, 0);
    CHECK("child conflicts on the locked range", WEXITSTATUS(st) & 1);
    CHECK("child locks a free range", WEXITSTATUS(st) & 2);
    CHECK("F_GETLK names the holder", WEXITSTATUS(st) & 4);

    p = fork();
    if (p == 0) {
        int fd2 = open(path, O_RDWR);
        _exit(lk(fd2, F_SETLKW, F_WRLCK, 0, 1) == 0 ? 0 : 1);
    }
    usleep(100000);
    CHECK("unlock", lk(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
    waitpid(p, &st, 0);
    CHECK("F_SETLKW waiter gets it after the unlock", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    int a = open(path, O_RDWR), b = open(path, O_RDWR);
    CHECK("OFD lock", lk(a, F_OFD_SETLK, F_WRLCK, 0, 0) == 0);
    CHECK("OFD locks conflict between open files of one process", lk(b, F_OFD_SETLK, F_WRLCK, 0, 0) == -1);
    close(a);
    CHECK("closing the file releases its OFD lock", lk(b, F_OFD_SETLK, F_WRLCK, 0, 0) == 0);

    int c = open(path, O_RDONLY), d = open(path, O_RDONLY);
    CHECK("flock exclusive", flock(c, LOCK_EX | LOCK_NB) == 0);
    CHECK("flock conflicts on another open file", flock(d, LOCK_SH | LOCK_NB) == -1);
    CHECK("flock unlock", flock(c, LOCK_UN) == 0 && flock(d, LOCK_SH | LOCK_NB) == 0);
    unlink(path);
    return 0;
}
