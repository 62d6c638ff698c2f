#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
int main(void) {
    int p[2]; pipe(p);
    int fd = open("/etc/hostname", O_RDONLY);
    ssize_t n = splice(fd, NULL, p[1], NULL, 4096, 0);
    char b[256] = {0}; read(p[0], b, sizeof b - 1);
    printf("spliced %d %s", n > 0, b);

    /* vmsplice: user memory into the write end, out of the read end. */
    char x[] = "hello ", y[] = "vmsplice";
    struct iovec in[2] = {{x, 6}, {y, 8}};
    printf("vmsplice in %zd\n", vmsplice(p[1], in, 2, 0));
    char o1[4] = {0}, o2[16] = {0};
    struct iovec out[2] = {{o1, 3}, {o2, 15}};
    printf("vmsplice out %zd %s|%s\n", vmsplice(p[0], out, 2, 0), o1, o2);
    n = vmsplice(fd, in, 1, 0);
    printf("vmsplice on a file %zd %s\n", n, strerror(errno));
    n = vmsplice(p[1], in, 1, 0x100);
    printf("vmsplice bad flags %zd %s\n", n, strerror(errno));
    n = vmsplice(p[1], (struct iovec *)8, 1, 0);
    printf("vmsplice bad iov %zd %s\n", n, strerror(errno));

    /* tee: duplicate without consuming. */
    int q[2]; pipe(q);
    write(p[1], "teedata", 7);
    printf("tee %zd\n", tee(p[0], q[1], 100, 0));
    char t1[16] = {0}, t2[16] = {0};
    read(q[0], t1, sizeof t1 - 1);
    read(p[0], t2, sizeof t2 - 1);
    printf("tee copy %s original %s\n", t1, t2);
    write(p[1], "abcdef", 6);
    printf("tee partial %zd\n", tee(p[0], q[1], 3, 0));
    memset(t1, 0, sizeof t1);
    read(q[0], t1, sizeof t1 - 1);
    printf("tee partial copy %s\n", t1);
    n = tee(q[0], q[1], 10, 0);
    printf("tee same pipe %zd %s\n", n, strerror(errno));
    n = tee(fd, q[1], 10, 0);
    int e1 = errno;
    printf("tee from a file %zd %s\n", n, strerror(e1));
    read(p[0], t1, sizeof t1);
    n = tee(p[0], q[1], 10, SPLICE_F_NONBLOCK);
    e1 = errno;
    printf("tee empty nonblock %zd %s\n", n, strerror(e1));
    close(p[1]);
    printf("tee no writers %zd\n", tee(p[0], q[1], 10, 0));
    return 0;
}
