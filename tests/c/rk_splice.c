/* splice and tee never hang where Linux returns: a pipe fills up (partial transfer),
 * a full or empty pipe with SPLICE_F_NONBLOCK or O_NONBLOCK (EAGAIN), /dev/null and
 * /dev/zero at either end, a pipe with no reader (EPIPE). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static long drain(int fd) {
    char buf[65536];
    long total = 0, n;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    fcntl(fd, F_SETFL, fl);
    return total;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    char path[] = "/tmp/rk_splice.XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    if (write(f, big, sizeof big) != sizeof big) return 1;

    int p[2], q[2];
    pipe(p);
    pipe(q);
    loff_t off = 0;
    /* A file into an empty pipe with more than fits: the pipe fills, the rest stays. */
    show("file->pipe 1MiB", splice(f, &off, p[1], NULL, sizeof big, 0));
    printf("offset %ld\n", (long)off);
    show("file->full pipe nonblock", splice(f, &off, p[1], NULL, 4096, SPLICE_F_NONBLOCK));
    /* Pipe to pipe: everything queued moves; then the source is empty. */
    show("pipe->pipe 1MiB", splice(p[0], NULL, q[1], NULL, sizeof big, 0));
    show("empty pipe->pipe nonblock", splice(p[0], NULL, q[1], NULL, 4096, SPLICE_F_NONBLOCK));
    /* Into a full pipe. */
    write(p[1], big, 4096);
    show("pipe->full pipe nonblock", splice(p[0], NULL, q[1], NULL, 4096, SPLICE_F_NONBLOCK));
    show("tee->full pipe nonblock", tee(p[0], q[1], 4096, SPLICE_F_NONBLOCK));
    /* Room for one page: a partial transfer. */
    printf("drained %ld\n", drain(q[0]));
    write(q[1], big, 61440);
    show("file->pipe with one page free", splice(f, &off, q[1], NULL, 65536, 0));
    printf("drained %ld %ld\n", drain(q[0]), drain(p[0]));
    /* tee copies only what fits. */
    write(p[1], big, 65536);
    write(q[1], big, 61440);
    show("tee with one page free", tee(p[0], q[1], 65536, 0));
    printf("drained %ld %ld\n", drain(q[0]), drain(p[0]));
    /* O_NONBLOCK on a pipe end acts as SPLICE_F_NONBLOCK. */
    int r[2];
    pipe2(r, O_NONBLOCK);
    show("empty O_NONBLOCK pipe->pipe", splice(r[0], NULL, q[1], NULL, 4096, 0));
    write(q[1], big, 65536);
    show("empty pipe->O_NONBLOCK pipe", splice(p[0], NULL, r[1], NULL, 4096, 0));
    write(r[1], big, 65536);
    show("file->full O_NONBLOCK pipe", splice(f, &off, r[1], NULL, 4096, 0));
    printf("drained %ld %ld\n", drain(q[0]), drain(r[0]));
    /* /dev/null and /dev/zero. */
    int dn = open("/dev/null", O_RDWR), dz = open("/dev/zero", O_RDONLY);
    write(p[1], big, 65536);
    show("pipe->/dev/null", splice(p[0], NULL, dn, NULL, sizeof big, 0));
    show("/dev/zero->pipe 1MiB", splice(dz, NULL, p[1], NULL, sizeof big, 0));
    show("/dev/zero->full pipe nonblock", splice(dz, NULL, p[1], NULL, 4096, SPLICE_F_NONBLOCK));
    printf("drained %ld\n", drain(p[0]));
    /* sendfile into a pipe moves what fits, as splice. */
    off = 0;
    show("sendfile file->pipe 1MiB", sendfile(p[1], f, &off, sizeof big));
    show("sendfile file->full pipe nonblock pipe", (fcntl(p[1], F_SETFL, O_NONBLOCK), sendfile(p[1], f, &off, 4096)));
    fcntl(p[1], F_SETFL, 0);
    printf("drained %ld\n", drain(p[0]));
    /* vmsplice: what fits, then EAGAIN with SPLICE_F_NONBLOCK on a full pipe; out of an
     * empty pipe, EAGAIN. */
    char *al = aligned_alloc(4096, 1 << 20);
    memset(al, 'v', 1 << 20);
    struct iovec iv = {al, 1 << 20};
    show("vmsplice 1MiB into a pipe", vmsplice(p[1], &iv, 1, 0));
    show("vmsplice into a full pipe nonblock", vmsplice(p[1], &iv, 1, SPLICE_F_NONBLOCK));
    printf("drained %ld\n", drain(p[0]));
    show("vmsplice from an empty pipe nonblock", vmsplice(p[0], &iv, 1, SPLICE_F_NONBLOCK));
    write(p[1], big, 100);
    show("vmsplice from a pipe", vmsplice(p[0], &iv, 1, 0));
    /* No reader. */
    close(q[0]);
    write(p[1], big, 100);
    show("pipe->pipe without reader", splice(p[0], NULL, q[1], NULL, 100, 0));
    show("file->pipe without reader", splice(f, &off, q[1], NULL, 100, 0));
    /* No writer and empty: end of file. */
    close(p[1]);
    drain(p[0]);
    show("empty pipe without writer->file", splice(p[0], NULL, dn, NULL, 100, 0));
    return 0;
}
