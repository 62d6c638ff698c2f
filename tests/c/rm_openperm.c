/* open(2) checks the file's mode bits against the caller's ids: a uid-1000
 * process cannot open a root-owned 0644 file for writing (directly or by
 * reopening its read-only descriptor through /proc/self/fd), nor read a
 * 0600 one, nor create files in a root-owned 0755 directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, int fd) {
    printf("%s: %s\n", what, fd >= 0 ? "ok" : strerror(errno));
    if (fd >= 0)
        close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char dir[64], pub[96], priv[96], newf[96], tmpf[96], link[64];
    snprintf(dir, sizeof dir, "/tmp/rm_openperm.%d", getpid());
    snprintf(pub, sizeof pub, "%s/public", dir);
    snprintf(priv, sizeof priv, "%s/private", dir);
    snprintf(newf, sizeof newf, "%s/new", dir);
    snprintf(tmpf, sizeof tmpf, "/tmp/rm_openperm_user.%d", getpid());
    mkdir(dir, 0755);
    chmod(dir, 0755);
    close(open(pub, O_CREAT | O_WRONLY, 0644));
    chmod(pub, 0644);
    close(open(priv, O_CREAT | O_WRONLY, 0600));
    chmod(priv, 0600);
    int parent_fd = open(pub, O_RDONLY);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(1000) || setuid(1000))
            _exit(1);
        show("0644 read", open(pub, O_RDONLY));
        show("0644 write", open(pub, O_WRONLY));
        show("0644 read-write", open(pub, O_RDWR));
        show("0644 truncate", open(pub, O_RDONLY | O_TRUNC));
        show("0600 read", open(priv, O_RDONLY));
        show("create in 0755 dir", open(newf, O_CREAT | O_WRONLY, 0644));
        show("create in /tmp", open(tmpf, O_CREAT | O_WRONLY, 0644));
        int fd = open(pub, O_RDONLY);
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        show("reopen read-only fd for writing", open(link, O_WRONLY));
        show("reopen read-only fd for reading", open(link, O_RDONLY));
        snprintf(link, sizeof link, "/proc/%d/fd/%d", parent, parent_fd);
        show("root process's fd", open(link, O_RDONLY));
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    show("root 0600 read-write", open(priv, O_RDWR));
    unlink(tmpf);
    unlink(pub);
    unlink(priv);
    unlink(newf);
    rmdir(dir);
    return 0;
}
