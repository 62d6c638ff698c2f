/* AF_UNIX sockets as a program sees them: one line per check, so a diff
 * between a native and a sandboxed run names what differs.
 * Usage: sock_unix <section> [dir]   (dir: where path sockets go, /tmp) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stddef.h>

static const char *dir = "/tmp";
static volatile int sigpipes;

static void on_sigpipe(int s) { (void)s; sigpipes++; }

#define SHOW(label, expr)                                                   \
    do {                                                                    \
        errno = 0;                                                          \
        long _r = (long)(expr);                                             \
        printf("%s = %ld%s%s\n", label, _r, _r < 0 ? " " : "",              \
               _r < 0 ? strerrorname_np(errno) : "");                       \
    } while (0)

static void path_of(struct sockaddr_un *a, socklen_t *len, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
    *len = offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static void abstract_of(struct sockaddr_un *a, socklen_t *len, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    *len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int revents(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    return p.revents;
}

static void show_poll(const char *label, int fd) {
    int r = revents(fd);
    printf("%s poll:%s%s%s%s%s\n", label, r & POLLIN ? " IN" : "",
           r & POLLOUT ? " OUT" : "", r & POLLHUP ? " HUP" : "",
           r & POLLRDHUP ? " RDHUP" : "", r & POLLERR ? " ERR" : "");
}

static int intopt(int fd, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0) return -errno;
    return v;
}

/* Sends `data` with `nfds` fds (SCM_RIGHTS) on fd. */
static ssize_t send_fds(int fd, const char *data, size_t len, const int *fds, int nfds) {
    char cbuf[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {(void *)data, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (nfds > 0) {
        memset(cbuf, 0, sizeof cbuf);
        m.msg_control = cbuf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(fd, &m, 0);
}

/* Receives into buf; the fds received go to fds (count in *nfds). */
static ssize_t recv_fds(int fd, char *buf, size_t len, int *fds, int *nfds, int flags,
                        int *mflags) {
    char cbuf[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {buf, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(fd, &m, flags);
    *nfds = 0;
    if (mflags) *mflags = m.msg_flags;
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
            *nfds += k;
        }
    }
    return n;
}

static void types(void) {
    SHOW("stream", socket(AF_UNIX, SOCK_STREAM, 0) >= 0);
    SHOW("dgram", socket(AF_UNIX, SOCK_DGRAM, 0) >= 0);
    SHOW("seqpacket", socket(AF_UNIX, SOCK_SEQPACKET, PF_UNIX) >= 0);
    int raw = socket(AF_UNIX, SOCK_RAW, 0);
    SHOW("raw", raw >= 0);
    SHOW("raw SO_TYPE", intopt(raw, SO_TYPE));
    SHOW("rdm", socket(AF_UNIX, SOCK_RDM, 0));
    SHOW("type 12", socket(AF_UNIX, 12, 0));
    SHOW("protocol 2", socket(AF_UNIX, SOCK_STREAM, 2));
    int sv[2];
    SHOW("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    SHOW("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    SHOW("nonblock flag", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
    SHOW("accmode", fcntl(s, F_GETFL) & O_ACCMODE);
    SHOW("cloexec", fcntl(s, F_GETFD));
    struct stat st;
    fstat(s, &st);
    SHOW("fstat sock", S_ISSOCK(st.st_mode));
    SHOW("SO_DOMAIN", intopt(s, SO_DOMAIN));
    SHOW("SO_PROTOCOL", intopt(s, SO_PROTOCOL));
    SHOW("SO_ACCEPTCONN", intopt(s, SO_ACCEPTCONN));
    SHOW("SO_ERROR", intopt(s, SO_ERROR));
    int v = 1;
    SHOW("setsockopt SOL_TCP", setsockopt(s, IPPROTO_TCP, 1, &v, sizeof v));
    struct ucred uc;
    socklen_t l = sizeof uc;
    SHOW("SO_PEERCRED unconnected", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &l));
    printf("  pid=%d uid=%d gid=%d len=%d\n", uc.pid, uc.uid, uc.gid, l);
    struct sockaddr_un a;
    l = sizeof a;
    SHOW("getsockname unbound", getsockname(s, (struct sockaddr *)&a, &l));
    printf("  len=%d family=%d\n", l, a.sun_family);
    SHOW("getpeername unconnected", getpeername(s, (struct sockaddr *)&a, &l));
    show_poll("unconnected stream", s);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show_poll("unconnected dgram", d);
    int q = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show_poll("unconnected seqpacket", q);
    SHOW("recv unconnected stream", recv(s, &v, 1, MSG_DONTWAIT));
    SHOW("recv unconnected seqpacket", recv(q, &v, 1, MSG_DONTWAIT));
    SHOW("recv unconnected dgram", recv(d, &v, 1, MSG_DONTWAIT));
    SHOW("send unconnected stream", send(s, "x", 1, MSG_NOSIGNAL));
    SHOW("send unconnected seqpacket", send(q, "x", 1, MSG_NOSIGNAL));
    SHOW("send unconnected dgram", send(d, "x", 1, MSG_NOSIGNAL));
    SHOW("listen unbound", listen(s, 1));
    SHOW("listen dgram", listen(d, 1));
    SHOW("accept unlistening", accept(s, NULL, NULL));
    SHOW("accept dgram", accept(d, NULL, NULL));
    SHOW("shutdown unconnected", shutdown(s, SHUT_RDWR));
    SHOW("shutdown bad how", shutdown(s, 7));
    SHOW("send MSG_OOB", send(s, "x", 1, MSG_OOB));
}

static void pair_stream(void) {
    int sv[2];
    SHOW("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    SHOW("write", write(sv[0], "hello", 5));
    SHOW("write", write(sv[0], "world", 5));
    int n = -1;
    SHOW("FIONREAD", ioctl(sv[1], FIONREAD, &n) == 0 ? n : -1);
    SHOW("SIOCOUTQ>0", ioctl(sv[0], SIOCOUTQ, &n) == 0 ? n > 0 : -1);
    show_poll("with data", sv[1]);
    char buf[64] = {0};
    SHOW("peek", recv(sv[1], buf, 3, MSG_PEEK));
    printf("  %.3s\n", buf);
    SHOW("read", read(sv[1], buf, sizeof buf));
    printf("  %.10s\n", buf);
    SHOW("SIOCOUTQ after", ioctl(sv[0], SIOCOUTQ, &n) == 0 ? n : -1);
    SHOW("read empty nonblock", recv(sv[1], buf, 1, MSG_DONTWAIT));
    struct ucred uc;
    socklen_t l = sizeof uc;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("peercred pid ok=%d uid=%d gid=%d\n", uc.pid == getpid(), uc.uid, uc.gid);
    struct sockaddr_un a;
    l = sizeof a;
    SHOW("getpeername", getpeername(sv[0], (struct sockaddr *)&a, &l));
    printf("  len=%d\n", l);
    SHOW("sendto with address", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, 2 + 3));
    /* Message boundaries do not exist: two writes read as one. */
    write(sv[0], "ab", 2);
    write(sv[0], "cd", 2);
    SHOW("read merged", read(sv[1], buf, sizeof buf));
    /* MSG_WAITALL across writes of another process. */
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 5; i++) {
            usleep(20000);
            write(sv[0], "12", 2);
        }
        _exit(0);
    }
    SHOW("waitall", recv(sv[1], buf, 10, MSG_WAITALL));
    waitpid(c, NULL, 0);
    /* SO_RCVTIMEO. */
    struct timeval tv = {0, 100000};
    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    SHOW("rcvtimeo", recv(sv[1], buf, 1, 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("  waited>=90ms %d\n", ms >= 90);
    /* shutdown halves. */
    SHOW("shutdown wr", shutdown(sv[0], SHUT_WR));
    show_poll("writer after SHUT_WR", sv[0]);
    show_poll("reader after peer SHUT_WR", sv[1]);
    SHOW("read eof", read(sv[1], buf, 1));
    sigpipes = 0;
    SHOW("write after SHUT_WR", write(sv[0], "x", 1));
    printf("  sigpipes=%d\n", sigpipes);
    SHOW("send NOSIGNAL after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("  sigpipes=%d\n", sigpipes);
    SHOW("reverse direction still works", write(sv[1], "y", 1));
    SHOW("read it", read(sv[0], buf, 1));
    SHOW("shutdown rd", shutdown(sv[0], SHUT_RD));
    show_poll("after both", sv[0]);
    show_poll("peer after both", sv[1]);
    SHOW("peer write to SHUT_RD", send(sv[1], "x", 1, MSG_NOSIGNAL));
    close(sv[0]);
    close(sv[1]);

    /* Close with unread data: ECONNRESET. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "lost", 4);
    close(sv[1]);
    show_poll("peer closed with unread data", sv[0]);
    SHOW("SO_ERROR", intopt(sv[0], SO_ERROR));
    SHOW("read after", read(sv[0], buf, 1));
    SHOW("read again", read(sv[0], buf, 1));
    sigpipes = 0;
    SHOW("write after peer close", write(sv[0], "x", 1));
    printf("  sigpipes=%d\n", sigpipes);
    close(sv[0]);
    /* Close with nothing unread: EOF. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[1], "data", 4);
    close(sv[1]);
    show_poll("peer closed cleanly", sv[0]);
    SHOW("read data", read(sv[0], buf, sizeof buf));
    SHOW("read eof", read(sv[0], buf, sizeof buf));
    close(sv[0]);
}

static void full_buffer(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int sz = 8192;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    SHOW("SO_SNDBUF", intopt(sv[0], SO_SNDBUF));
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    long total = 0;
    ssize_t r;
    while ((r = write(sv[0], chunk, sizeof chunk)) > 0) total += r;
    printf("full: last=%s total>0=%d total<=64k=%d\n", strerrorname_np(errno), total > 0,
           total <= 65536);
    int re = revents(sv[0]);
    printf("full: pollout=%d\n", (re & POLLOUT) != 0);
    long got = 0;
    char buf[4096];
    while ((r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)) > 0) got += r;
    printf("drained all=%d\n", got == total);
    show_poll("writer after drain", sv[0]);
    /* SO_SNDTIMEO: a blocking writer gives up with EAGAIN. */
    fcntl(sv[0], F_SETFL, 0);
    while ((r = send(sv[0], chunk, sizeof chunk, MSG_DONTWAIT)) > 0) {
    }
    struct timeval tv = {0, 100000};
    SHOW("SO_SNDTIMEO", setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    SHOW("write with timeout", write(sv[0], chunk, sizeof chunk));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("  waited>=90ms %d\n", ms >= 90);
    while (recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    tv.tv_usec = 0;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* A blocking writer is woken by a reader. */
    pid_t c = fork();
    if (c == 0) {
        long n = 0;
        while (n < 200000) {
            ssize_t k = read(sv[1], buf, sizeof buf);
            if (k <= 0) break;
            n += k;
        }
        _exit(n == 200000 ? 0 : 1);
    }
    static char big[200000];
    SHOW("blocking big write", write(sv[0], big, sizeof big));
    int st;
    waitpid(c, &st, 0);
    SHOW("reader got all", WEXITSTATUS(st) == 0);
}

static void named(void) {
    struct sockaddr_un a, b;
    socklen_t al, bl;
    path_of(&a, &al, "su_named");
    unlink(a.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect missing", connect(s, (struct sockaddr *)&a, al));
    SHOW("bind", bind(s, (struct sockaddr *)&a, al));
    SHOW("bind again", bind(s, (struct sockaddr *)&a, al));
    struct stat st;
    SHOW("stat", stat(a.sun_path, &st));
    printf("  sock=%d mode=%o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    SHOW("open socket file", open(a.sun_path, O_RDONLY));
    for (int m = 0; m < 2; m++) {
        mode_t old = umask(m ? 077 : 0);
        struct sockaddr_un u;
        socklen_t ul;
        path_of(&u, &ul, "su_umask");
        unlink(u.sun_path);
        bind(socket(AF_UNIX, SOCK_DGRAM, 0), (struct sockaddr *)&u, ul);
        stat(u.sun_path, &st);
        printf("umask %o: mode=%o\n", m ? 077 : 0, st.st_mode & 0777);
        unlink(u.sun_path);
        umask(old);
    }
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("bind in use", bind(s2, (struct sockaddr *)&a, al));
    struct sockaddr_un n;
    socklen_t nl = sizeof n;
    getsockname(s, (struct sockaddr *)&n, &nl);
    printf("getsockname len ok=%d same=%d\n", nl == al, strcmp(n.sun_path, a.sun_path) == 0);
    SHOW("connect not listening", connect(s2, (struct sockaddr *)&a, al));
    SHOW("listen", listen(s, 2));
    SHOW("SO_ACCEPTCONN", intopt(s, SO_ACCEPTCONN));
    show_poll("listening, none waiting", s);
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW("dgram connect to stream", connect(dg, (struct sockaddr *)&a, al));
    fcntl(s, F_SETFL, O_NONBLOCK);
    SHOW("accept none", accept(s, NULL, NULL));
    SHOW("connect", connect(s2, (struct sockaddr *)&a, al));
    SHOW("connect again", connect(s2, (struct sockaddr *)&a, al));
    show_poll("listening, one waiting", s);
    show_poll("connected client", s2);
    SHOW("write before accept", write(s2, "early", 5));
    bl = sizeof b;
    memset(&b, 0x55, sizeof b);
    int c = accept(s, (struct sockaddr *)&b, &bl);
    SHOW("accept", c >= 0);
    printf("  peer len=%d family=%d\n", bl, b.sun_family);
    nl = sizeof n;
    getsockname(c, (struct sockaddr *)&n, &nl);
    printf("accepted sockname same=%d\n", nl == al && strcmp(n.sun_path, a.sun_path) == 0);
    nl = sizeof n;
    getpeername(s2, (struct sockaddr *)&n, &nl);
    printf("client peername same=%d\n", nl == al && strcmp(n.sun_path, a.sun_path) == 0);
    char buf[16] = {0};
    SHOW("read early", read(c, buf, sizeof buf));
    struct ucred uc;
    socklen_t l = sizeof uc;
    getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("server peercred pid ok=%d\n", uc.pid == getpid());
    getsockopt(s2, SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("client peercred pid ok=%d\n", uc.pid == getpid());
    SHOW("accepted nonblock", (fcntl(c, F_GETFL) & O_NONBLOCK) != 0);
    /* A bound client shows its name to accept. */
    struct sockaddr_un ca;
    socklen_t cal;
    path_of(&ca, &cal, "su_client");
    unlink(ca.sun_path);
    int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s3, (struct sockaddr *)&ca, cal);
    SHOW("bound client connect", connect(s3, (struct sockaddr *)&a, al));
    bl = sizeof b;
    int c3 = accept4(s, (struct sockaddr *)&b, &bl, SOCK_NONBLOCK);
    SHOW("accept4", c3 >= 0);
    printf("  peer len ok=%d same=%d nonblock=%d\n", bl == cal,
           strcmp(b.sun_path, ca.sun_path) == 0, (fcntl(c3, F_GETFL) & O_NONBLOCK) != 0);
    /* recvmsg's name on a stream: the sender's, when it is bound. */
    write(s3, "from", 4);
    struct sockaddr_un rn;
    struct iovec riov = {buf, sizeof buf};
    struct msghdr rm = {.msg_name = &rn, .msg_namelen = sizeof rn, .msg_iov = &riov,
                        .msg_iovlen = 1};
    SHOW("recvmsg from bound client", recvmsg(c3, &rm, 0));
    printf("  namelen ok=%d\n", rm.msg_namelen == cal);
    write(c3, "back", 4);
    rm.msg_namelen = sizeof rn;
    SHOW("recvmsg from server end", recvmsg(s3, &rm, 0));
    printf("  namelen ok=%d\n", rm.msg_namelen == al);
    write(c, "back", 4);
    rm.msg_namelen = sizeof rn;
    SHOW("recvmsg unbound... server end", recvmsg(s2, &rm, 0));
    printf("  namelen=%d\n", rm.msg_namelen);
    write(s2, "x", 1);
    rm.msg_namelen = sizeof rn;
    SHOW("recvmsg from unbound client", recvmsg(c, &rm, 0));
    printf("  namelen=%d\n", rm.msg_namelen);
    /* SO_PEERCRED names the process that connected. */
    pid_t kid = fork();
    if (kid == 0) {
        int k = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(k, (struct sockaddr *)&a, al);
        read(k, buf, 1);
        _exit(0);
    }
    fcntl(s, F_SETFL, 0);
    int kc = accept(s, NULL, NULL);
    l = sizeof uc;
    getsockopt(kc, SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("peercred is the child=%d\n", uc.pid == kid);
    write(kc, "x", 1);
    waitpid(kid, NULL, 0);
    fcntl(s, F_SETFL, O_NONBLOCK);
    /* Relative paths resolve from the working directory. */
    chdir(dir);
    struct sockaddr_un r = {.sun_family = AF_UNIX};
    strcpy(r.sun_path, "su_named");
    int s4 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect relative", connect(s4, (struct sockaddr *)&r, sizeof r));
    /* Symlink to the socket. */
    char lnk[200];
    snprintf(lnk, sizeof lnk, "%s/su_link", dir);
    unlink(lnk);
    symlink(a.sun_path, lnk);
    struct sockaddr_un sl = {.sun_family = AF_UNIX};
    strcpy(sl.sun_path, lnk);
    int s5 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect through symlink", connect(s5, (struct sockaddr *)&sl, sizeof sl));
    SHOW("bind on symlink name", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&sl,
                                      sizeof sl));
    unlink(lnk);
    /* Regular file: refused. */
    char f[200];
    snprintf(f, sizeof f, "%s/su_file", dir);
    close(open(f, O_CREAT | O_WRONLY, 0644));
    struct sockaddr_un fa = {.sun_family = AF_UNIX};
    strcpy(fa.sun_path, f);
    SHOW("connect regular file", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                         (struct sockaddr *)&fa, sizeof fa));
    unlink(f);
    struct sockaddr_un np = {.sun_family = AF_UNIX};
    snprintf(np.sun_path, sizeof np.sun_path, "%s/nodir/x", dir);
    SHOW("bind missing parent", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&np,
                                     sizeof np));
    /* Closed listener: the node stays, connections are refused. */
    close(s);
    SHOW("stat after close", stat(a.sun_path, &st));
    SHOW("connect closed", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, al));
    SHOW("rebind existing node", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, al));
    SHOW("unlink", unlink(a.sun_path));
    SHOW("connect unlinked", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, al));
    unlink(ca.sun_path);
    /* Short and malformed addresses. */
    SHOW("bind len 1", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, 1));
    SHOW("bind len 200", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, 200));
    struct sockaddr_un w = a;
    w.sun_family = AF_INET;
    SHOW("bind wrong family", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&w, al));
    SHOW("connect wrong family", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                         (struct sockaddr *)&w, al));
    SHOW("connect family only", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                        (struct sockaddr *)&a, 2));
}

static void backlog(void) {
    for (int bl = 0; bl <= 2; bl++) {
        struct sockaddr_un a;
        socklen_t al;
        char name[32];
        snprintf(name, sizeof name, "su_backlog%d", bl);
        path_of(&a, &al, name);
        unlink(a.sun_path);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        bind(s, (struct sockaddr *)&a, al);
        listen(s, bl);
        int ok = 0, err = 0;
        for (int i = 0; i < 10; i++) {
            int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (connect(c, (struct sockaddr *)&a, al) == 0)
                ok++;
            else {
                err = errno;
                break;
            }
        }
        printf("backlog %d: %d connected then %s\n", bl, ok, strerrorname_np(err));
        int c = accept(s, NULL, NULL);
        int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        SHOW("  connect after accept", connect(c2, (struct sockaddr *)&a, al));
        close(c);
        close(s);
        unlink(a.sun_path);
    }
    /* Closing a listener resets the queued connections. */
    struct sockaddr_un a;
    socklen_t al;
    path_of(&a, &al, "su_reset");
    unlink(a.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, al);
    listen(s, 5);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, al);
    close(s);
    show_poll("client of closed listener", c);
    char b;
    SHOW("read", read(c, &b, 1));
    SHOW("read again", read(c, &b, 1));
    unlink(a.sun_path);
}

static void abstract(void) {
    struct sockaddr_un a, n;
    socklen_t al, nl;
    abstract_of(&a, &al, "su-abstract");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("bind abstract", bind(s, (struct sockaddr *)&a, al));
    nl = sizeof n;
    getsockname(s, (struct sockaddr *)&n, &nl);
    printf("  len=%d same=%d\n", nl, nl == al && memcmp(&n, &a, al) == 0);
    SHOW("bind taken", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, al));
    listen(s, 1);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect abstract", connect(c, (struct sockaddr *)&a, al));
    struct sockaddr_un other;
    socklen_t ol;
    abstract_of(&other, &ol, "su-abstract-none");
    SHOW("connect missing abstract", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                             (struct sockaddr *)&other, ol));
    close(s);
    SHOW("connect closed abstract", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                            (struct sockaddr *)&a, al));
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("rebind after close", bind(s2, (struct sockaddr *)&a, al));
    /* Autobind. */
    int t = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW("autobind", bind(t, (struct sockaddr *)&a, 2));
    nl = sizeof n;
    getsockname(t, (struct sockaddr *)&n, &nl);
    int hex = 1;
    for (int i = 1; i < 6; i++)
        if (!strchr("0123456789abcdef", n.sun_path[i])) hex = 0;
    printf("  len=%d lead0=%d hex=%d\n", nl, n.sun_path[0] == 0, hex);
    SHOW("autobind again", bind(t, (struct sockaddr *)&a, 2));
    SHOW("bind bound", bind(t, (struct sockaddr *)&other, ol));
    /* SO_PASSCRED autobinds at connect. */
    int p = socket(AF_UNIX, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(p, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    SHOW("SO_PASSCRED", intopt(p, SO_PASSCRED));
    SHOW("connect passcred", connect(p, (struct sockaddr *)&n, nl));
    struct sockaddr_un pn;
    socklen_t pl = sizeof pn;
    getsockname(p, (struct sockaddr *)&pn, &pl);
    printf("  autobound len=%d\n", pl);
}

static void dgram(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    SHOW("send a", send(sv[0], "first message", 13, 0));
    SHOW("send b", send(sv[0], "second", 6, 0));
    SHOW("send empty", send(sv[0], "", 0, 0));
    int n;
    ioctl(sv[1], FIONREAD, &n);
    SHOW("FIONREAD", n);
    char buf[64] = {0};
    struct iovec iov = {buf, 5};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    SHOW("recvmsg short", recvmsg(sv[1], &m, 0));
    printf("  flags trunc=%d data=%.5s\n", (m.msg_flags & MSG_TRUNC) != 0, buf);
    SHOW("recv MSG_TRUNC", recv(sv[1], buf, 2, MSG_TRUNC));
    SHOW("recv empty message", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    SHOW("recv none", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    show_poll("dgram pair", sv[0]);
    close(sv[1]);
    show_poll("dgram pair, peer closed", sv[0]);
    SHOW("send to closed peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
    SHOW("send again", send(sv[0], "x", 1, MSG_NOSIGNAL));
    close(sv[0]);

    struct sockaddr_un a, ca, from;
    socklen_t al, cal, fl;
    path_of(&a, &al, "su_dgram");
    path_of(&ca, &cal, "su_dgram_client");
    unlink(a.sun_path);
    unlink(ca.sun_path);
    int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW("bind", bind(srv, (struct sockaddr *)&a, al));
    int cl = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW("sendto unbound", sendto(cl, "hi", 2, 0, (struct sockaddr *)&a, al));
    fl = sizeof from;
    memset(&from, 0x55, sizeof from);
    SHOW("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("  fromlen=%d\n", fl);
    bind(cl, (struct sockaddr *)&ca, cal);
    SHOW("sendto bound", sendto(cl, "hi", 2, 0, (struct sockaddr *)&a, al));
    fl = sizeof from;
    SHOW("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("  fromlen ok=%d same=%d\n", fl == cal, strcmp(from.sun_path, ca.sun_path) == 0);
    SHOW("send unconnected", send(cl, "x", 1, 0));
    SHOW("connect", connect(cl, (struct sockaddr *)&a, al));
    SHOW("send connected", send(cl, "x", 1, 0));
    SHOW("sendto while connected", sendto(cl, "y", 1, 0, (struct sockaddr *)&a, al));
    struct sockaddr_un pn;
    socklen_t pl = sizeof pn;
    SHOW("getpeername", getpeername(cl, (struct sockaddr *)&pn, &pl));
    printf("  len ok=%d\n", pl == al);
    recv(srv, buf, sizeof buf, 0);
    recv(srv, buf, sizeof buf, 0);
    /* A third socket may not send to one connected elsewhere. */
    int srv_conn = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a2;
    socklen_t a2l;
    path_of(&a2, &a2l, "su_dgram2");
    unlink(a2.sun_path);
    bind(srv_conn, (struct sockaddr *)&a2, a2l);
    connect(srv_conn, (struct sockaddr *)&ca, cal);
    int third = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW("send to socket connected elsewhere",
         sendto(third, "z", 1, 0, (struct sockaddr *)&a2, a2l));
    SHOW("connect to socket connected elsewhere", connect(third, (struct sockaddr *)&a2, a2l));
    SHOW("disconnect AF_UNSPEC", ({
             struct sockaddr u = {.sa_family = AF_UNSPEC};
             connect(cl, &u, sizeof u);
         }));
    SHOW("send after disconnect", send(cl, "x", 1, 0));
    pl = sizeof pn;
    SHOW("getpeername after disconnect", getpeername(cl, (struct sockaddr *)&pn, &pl));
    /* The receiver's queue bounds strangers' datagrams. */
    fcntl(cl, F_SETFL, O_NONBLOCK);
    int sent = 0;
    while (sendto(cl, "q", 1, 0, (struct sockaddr *)&a, al) == 1 && sent < 1000) sent++;
    printf("queued %d then %s\n", sent, strerrorname_np(errno));
    connect(cl, (struct sockaddr *)&a, al);
    show_poll("connected sender to full receiver", cl);
    recv(srv, buf, sizeof buf, 0);
    show_poll("after one read", cl);
    /* Too large for the send buffer. */
    static char huge[300000];
    SHOW("send huge", sendto(cl, huge, sizeof huge, 0, (struct sockaddr *)&a, al));
    SHOW("sendto missing", sendto(third, "x", 1, 0, (struct sockaddr *)&(struct sockaddr_un){
                                                       .sun_family = AF_UNIX, .sun_path = "/nonexistent/x"},
                                  sizeof(struct sockaddr_un)));
    close(srv);
    SHOW("sendto closed", sendto(third, "x", 1, 0, (struct sockaddr *)&a, al));
    unlink(a.sun_path);
    unlink(a2.sun_path);
    unlink(ca.sun_path);
}

static void seqpacket(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    SHOW("send", send(sv[0], "record one", 10, 0));
    SHOW("send", send(sv[0], "two", 3, 0));
    char buf[64] = {0};
    struct iovec iov = {buf, 6};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    SHOW("recvmsg short", recvmsg(sv[1], &m, 0));
    printf("  trunc=%d eor=%d\n", (m.msg_flags & MSG_TRUNC) != 0, (m.msg_flags & MSG_EOR) != 0);
    iov.iov_len = sizeof buf;
    SHOW("recvmsg", recvmsg(sv[1], &m, 0));
    printf("  trunc=%d eor=%d\n", (m.msg_flags & MSG_TRUNC) != 0, (m.msg_flags & MSG_EOR) != 0);
    SHOW("send with address ignored", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX, .sun_path = "/x"}, 8));
    recv(sv[1], buf, sizeof buf, 0);
    show_poll("seqpacket", sv[0]);
    SHOW("shutdown wr", shutdown(sv[0], SHUT_WR));
    SHOW("recv after peer SHUT_WR", recv(sv[1], buf, sizeof buf, 0));
    sigpipes = 0;
    SHOW("send after SHUT_WR", send(sv[0], "x", 1, 0));
    printf("  sigpipes=%d\n", sigpipes);
    close(sv[0]);
    close(sv[1]);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    close(sv[1]);
    show_poll("seqpacket peer closed", sv[0]);
    SHOW("recv", recv(sv[0], buf, sizeof buf, 0));
    sigpipes = 0;
    SHOW("send", send(sv[0], "x", 1, 0));
    printf("  sigpipes=%d\n", sigpipes);
    close(sv[0]);
    /* Listening seqpacket. */
    struct sockaddr_un a;
    socklen_t al;
    abstract_of(&a, &al, "su-seq");
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    bind(s, (struct sockaddr *)&a, al);
    SHOW("listen", listen(s, 1));
    show_poll("seqpacket listener", s);
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    SHOW("connect", connect(c, (struct sockaddr *)&a, al));
    show_poll("seqpacket listener with one", s);
    int d = accept(s, NULL, NULL);
    SHOW("send", send(c, "abc", 3, 0));
    SHOW("recv", recv(d, buf, sizeof buf, 0));
    SHOW("connect stream to seqpacket", connect(socket(AF_UNIX, SOCK_STREAM, 0),
                                                (struct sockaddr *)&a, al));
}

static void rights(void) {
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    write(p[1], "through the pipe", 16);
    SHOW("send fd", send_fds(sv[0], "F", 1, &p[0], 1));
    close(p[0]);
    int fds[32], nf, mf;
    char buf[64] = {0};
    SHOW("recv fd", recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf));
    printf("  nfds=%d\n", nf);
    SHOW("read passed pipe", read(fds[0], buf, sizeof buf));
    close(fds[0]);
    /* A regular file: the same open file description (shared offset). */
    char fpath[200];
    snprintf(fpath, sizeof fpath, "%s/su_passed", dir);
    int f = open(fpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(f, "0123456789", 10);
    lseek(f, 2, SEEK_SET);
    send_fds(sv[0], "f", 1, &f, 1);
    recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf);
    SHOW("read passed file", nf == 1 ? read(fds[0], buf, 3) : -1);
    SHOW("offset shared", lseek(f, 0, SEEK_CUR));
    close(fds[0]);
    close(f);
    unlink(fpath);
    /* Boundaries: data with rights is not merged with later rights. */
    int two[2] = {p[1], p[1]};
    send_fds(sv[0], "aa", 2, two, 1);
    send_fds(sv[0], "bb", 2, two, 2);
    send_fds(sv[0], "cc", 2, NULL, 0);
    send_fds(sv[0], "dd", 2, two, 1);
    for (int i = 0; i < 3; i++) {
        ssize_t r = recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf);
        printf("read %zd nfds=%d ctrunc=%d\n", r, nf, (mf & MSG_CTRUNC) != 0);
        for (int k = 0; k < nf; k++) close(fds[k]);
    }
    /* Peek shows the rights without taking them. */
    send_fds(sv[0], "pp", 2, two, 1);
    ssize_t r = recv_fds(sv[1], buf, sizeof buf, fds, &nf, MSG_PEEK, &mf);
    printf("peek %zd nfds=%d\n", r, nf);
    for (int k = 0; k < nf; k++) close(fds[k]);
    r = recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf);
    printf("read %zd nfds=%d\n", r, nf);
    for (int k = 0; k < nf; k++) close(fds[k]);
    /* No room for the rights: MSG_CTRUNC, the fds are closed. */
    send_fds(sv[0], "cc", 2, two, 2);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    SHOW("recvmsg without control", recvmsg(sv[1], &m, 0));
    printf("  ctrunc=%d\n", (m.msg_flags & MSG_CTRUNC) != 0);
    /* A socket passed over itself, then closed: no hang, no leak visible. */
    int self[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, self);
    SHOW("send socket over itself", send_fds(self[0], "s", 1, &self[1], 1));
    SHOW("and its peer", send_fds(self[1], "s", 1, &self[0], 1));
    close(self[0]);
    close(self[1]);
    /* A received socket works. */
    int x[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, x);
    send_fds(sv[0], "s", 1, &x[1], 1);
    close(x[1]);
    recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf);
    SHOW("send on passed socket", send(fds[0], "via", 3, 0));
    SHOW("recv from its peer", recv(x[0], buf, sizeof buf, 0));
    /* Bad fd: EBADF; too many: EINVAL. */
    int bad = 999;
    SHOW("send bad fd", send_fds(sv[0], "x", 1, &bad, 1));
    /* SO_PASSCRED and SCM_CREDENTIALS. */
    int one = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    send(sv[0], "c", 1, 0);
    char cbuf[256];
    iov.iov_len = sizeof buf;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    SHOW("recv with passcred", recvmsg(sv[1], &m, 0));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;
            memcpy(&uc, CMSG_DATA(c), sizeof uc);
            printf("  creds pid ok=%d uid=%d gid=%d\n", uc.pid == getpid(), uc.uid, uc.gid);
        } else
            printf("  cmsg type %d\n", c->cmsg_type);
    }
    /* Explicit credentials, as the sender: its own are accepted. */
    char sc[CMSG_SPACE(sizeof(struct ucred))];
    struct msghdr sm = {0};
    struct iovec siov = {"e", 1};
    sm.msg_iov = &siov;
    sm.msg_iovlen = 1;
    sm.msg_control = sc;
    sm.msg_controllen = sizeof sc;
    struct cmsghdr *c = CMSG_FIRSTHDR(&sm);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred me = {getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(c), &me, sizeof me);
    SHOW("send own creds", sendmsg(sv[0], &sm, 0));
    m.msg_controllen = sizeof cbuf;
    SHOW("recv them", recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    printf("  type=%d\n", c ? c->cmsg_type : -1);
}


static void edges(void) {
    char buf[64];
    int sv[2];
    /* Default buffers and options. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    SHOW("SO_SNDBUF default", intopt(sv[0], SO_SNDBUF));
    SHOW("SO_RCVBUF default", intopt(sv[0], SO_RCVBUF));
    SHOW("SO_RCVLOWAT", intopt(sv[0], SO_RCVLOWAT));
    SHOW("SO_PASSCRED", intopt(sv[0], SO_PASSCRED));
    /* A zero-length read with data waiting. */
    write(sv[0], "abc", 3);
    SHOW("recv len 0", recv(sv[1], buf, 0, 0));
    SHOW("recv MSG_TRUNC stream", recv(sv[1], buf, 2, MSG_TRUNC));
    SHOW("left", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    /* readv/writev. */
    struct iovec w[2] = {{"one", 3}, {"two", 3}};
    SHOW("writev", writev(sv[0], w, 2));
    char r1[2], r2[10];
    struct iovec r[2] = {{r1, 2}, {r2, 10}};
    SHOW("readv", readv(sv[1], r, 2));
    /* MSG_WAITALL ended by the peer's close. */
    pid_t c = fork();
    if (c == 0) {
        write(sv[0], "part", 4);
        usleep(50000);
        _exit(0);
    }
    close(sv[0]);
    SHOW("waitall cut short", recv(sv[1], buf, 20, MSG_WAITALL));
    waitpid(c, NULL, 0);
    SHOW("then eof", recv(sv[1], buf, 20, MSG_WAITALL));
    close(sv[1]);
    /* With SO_PASSCRED, writes of different processes are not merged. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int one = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    write(sv[0], "parent", 6);
    c = fork();
    if (c == 0) {
        write(sv[0], "child", 5);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    write(sv[0], "parent", 6);
    SHOW("passcred read 1", recv(sv[1], buf, sizeof buf, 0));
    SHOW("passcred read 2", recv(sv[1], buf, sizeof buf, 0));
    SHOW("passcred read 3", recv(sv[1], buf, sizeof buf, 0));
    close(sv[0]);
    close(sv[1]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "parent", 6);
    c = fork();
    if (c == 0) {
        write(sv[0], "child", 5);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    SHOW("no passcred: merged", recv(sv[1], buf, sizeof buf, 0));
    close(sv[0]);
    close(sv[1]);
    /* Written before accept, read by a listener's child with SO_PASSCRED. */
    {
        struct sockaddr_un la;
        socklen_t lal;
        abstract_of(&la, &lal, "su-passcred-listener");
        int ls = socket(AF_UNIX, SOCK_STREAM, 0);
        bind(ls, (struct sockaddr *)&la, lal);
        listen(ls, 1);
        setsockopt(ls, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        int cs = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(cs, (struct sockaddr *)&la, lal);
        write(cs, "early", 5);
        int as = accept(ls, NULL, NULL);
        SHOW("accepted inherits SO_PASSCRED", intopt(as, SO_PASSCRED));
        char cb[256];
        struct iovec ci = {buf, sizeof buf};
        struct msghdr cm = {.msg_iov = &ci, .msg_iovlen = 1, .msg_control = cb,
                            .msg_controllen = sizeof cb};
        SHOW("recv early", recvmsg(as, &cm, 0));
        struct cmsghdr *h = CMSG_FIRSTHDR(&cm);
        if (h && h->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;
            memcpy(&uc, CMSG_DATA(h), sizeof uc);
            printf("  creds pid ok=%d uid=%d\n", uc.pid == getpid(), uc.uid);
        } else
            printf("  no creds\n");
        close(as);
        close(cs);
        close(ls);
    }
    /* Seqpacket: the peer closes with unread records. */
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    send(sv[1], "mine", 4, 0);
    send(sv[0], "unread", 6, 0);
    close(sv[1]);
    show_poll("seqpacket reset", sv[0]);
    SHOW("recv", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    SHOW("recv", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    SHOW("recv", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
    /* Datagram shutdowns. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    SHOW("dgram shutdown wr", shutdown(sv[0], SHUT_WR));
    SHOW("dgram send after own SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show_poll("dgram after SHUT_WR", sv[0]);
    show_poll("dgram peer", sv[1]);
    SHOW("dgram shutdown rd", shutdown(sv[1], SHUT_RD));
    SHOW("dgram send to SHUT_RD", send(sv[0], "x", 1, MSG_NOSIGNAL));
    SHOW("dgram reverse", send(sv[1], "x", 1, MSG_NOSIGNAL));
    SHOW("dgram recv after own SHUT_RD", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
    /* Zero-length writes. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    sigpipes = 0;
    SHOW("write 0 to closed peer", write(sv[0], "", 0));
    SHOW("write 1 to closed peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("  sigpipes=%d\n", sigpipes);
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    SHOW("seqpacket empty record", send(sv[0], "", 0, 0));
    SHOW("read it", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    SHOW("nothing more", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
    /* FIONREAD of a listener. */
    struct sockaddr_un a;
    socklen_t al;
    abstract_of(&a, &al, "su-edges");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, al);
    listen(l, 1);
    int n;
    SHOW("FIONREAD listener", ioctl(l, FIONREAD, &n));
    SHOW("SIOCOUTQ listener", ioctl(l, SIOCOUTQ, &n));
    SHOW("listen again", listen(l, 5));
    SHOW("bind listener", bind(l, (struct sockaddr *)&a, al));
    SHOW("ioctl unknown", ioctl(l, 0x5401, &n));
    /* Rights with MSG_CMSG_CLOEXEC. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send_fds(sv[0], "f", 1, &sv[0], 1);
    int fds[16], nf, mf;
    recv_fds(sv[1], buf, sizeof buf, fds, &nf, MSG_CMSG_CLOEXEC, &mf);
    SHOW("received with cloexec", nf == 1 ? fcntl(fds[0], F_GETFD) : -1);
    send_fds(sv[0], "g", 1, &sv[0], 1);
    recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf);
    SHOW("received without", nf == 1 ? fcntl(fds[0], F_GETFD) : -1);
    /* A dgram peeked with its rights. */
    send_fds(sv[0], "h", 1, &sv[0], 1);
    SHOW("peek dgram", recv_fds(sv[1], buf, sizeof buf, fds, &nf, MSG_PEEK, &mf));
    printf("  nfds=%d\n", nf);
    SHOW("recv dgram", recv_fds(sv[1], buf, sizeof buf, fds, &nf, 0, &mf));
    printf("  nfds=%d\n", nf);
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    send(sv[0], "i", 1, 0);
    SHOW("recvfrom pair", recvfrom(sv[1], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("  fromlen=%d\n", fl);
    /* Credentials another process's pid may not be claimed. */
    char sc[CMSG_SPACE(sizeof(struct ucred))];
    struct msghdr sm = {0};
    struct iovec siov = {"e", 1};
    sm.msg_iov = &siov;
    sm.msg_iovlen = 1;
    sm.msg_control = sc;
    sm.msg_controllen = sizeof sc;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&sm);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred me = {getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(cm), &me, sizeof me);
    SHOW("dgram own creds", sendmsg(sv[0], &sm, 0));
    close(sv[0]);
    close(sv[1]);
}


static int ep_wait(int ep, int ms) {
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, ms);
    int bits = 0;
    for (int i = 0; i < n; i++) bits |= ev[i].events;
    return n < 0 ? -errno : (n << 16) | bits;
}

static void blocking(void) {
    char buf[64];
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = sv[1]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
    printf("et empty: %x\n", ep_wait(ep, 0));
    write(sv[0], "a", 1);
    printf("et after write: %x\n", ep_wait(ep, 0));
    printf("et again: %x\n", ep_wait(ep, 0));
    write(sv[0], "b", 1);
    printf("et second write: %x\n", ep_wait(ep, 0));
    read(sv[1], buf, sizeof buf);
    shutdown(sv[0], SHUT_WR);
    printf("et after peer shutdown: %x\n", ep_wait(ep, 0));
    close(ep);
    close(sv[0]);
    close(sv[1]);
    /* Level-triggered writability comes back after a drain. */
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    ep = epoll_create1(0);
    ev.events = EPOLLOUT;
    ev.data.fd = sv[0];
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    printf("lt writable: %x\n", ep_wait(ep, 0));
    static char chunk[4096];
    while (write(sv[0], chunk, sizeof chunk) > 0) {
    }
    printf("lt full: %x\n", ep_wait(ep, 0));
    pid_t c = fork();
    if (c == 0) {
        usleep(30000);
        while (read(sv[1], chunk, sizeof chunk) > 0) {
        }
        _exit(0);
    }
    printf("lt woken by drain: %x\n", ep_wait(ep, 5000));
    waitpid(c, NULL, 0);
    close(ep);
    close(sv[0]);
    close(sv[1]);
    /* A blocked reader is woken by the peer's close in another process. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    c = fork();
    if (c == 0) {
        usleep(30000);
        _exit(0);
    }
    close(sv[0]);
    SHOW("blocked read, peer exits", read(sv[1], buf, sizeof buf));
    waitpid(c, NULL, 0);
    close(sv[1]);
    /* A blocked accept is woken by a connect; a listener polls readable. */
    struct sockaddr_un a;
    socklen_t al;
    abstract_of(&a, &al, "su-blocking");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, al);
    listen(l, 0);
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = l;
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    c = fork();
    if (c == 0) {
        usleep(30000);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(s, (struct sockaddr *)&a, al);
        /* The queue holds one: a second connect waits for an accept. */
        int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
        int r = connect(s2, (struct sockaddr *)&a, al);
        int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
        int r3 = connect(s3, (struct sockaddr *)&a, al);
        write(s3, "third", 5);
        _exit(r == 0 && r3 == 0 ? 0 : 1);
    }
    printf("listener woken: %x\n", ep_wait(ep, 5000));
    int x = accept(l, NULL, NULL);
    SHOW("accepted", x >= 0);
    usleep(50000);
    int y = accept(l, NULL, NULL);
    SHOW("accepted second", y >= 0);
    int z = accept(l, NULL, NULL);
    SHOW("accepted third", z >= 0);
    SHOW("third's data", read(z, buf, sizeof buf));
    int st;
    waitpid(c, &st, 0);
    SHOW("connector exit", WEXITSTATUS(st));
    /* A writer blocked on a full buffer learns of the reader's close. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    c = fork();
    if (c == 0) {
        close(sv[0]);
        usleep(50000);
        _exit(0);
    }
    close(sv[1]);
    static char big[1 << 20];
    ssize_t wr = write(sv[0], big, sizeof big);
    printf("blocked writer, reader exits: partial=%d\n", wr > 0 && wr < (ssize_t)sizeof big);
    sigpipes = 0;
    SHOW("next write", write(sv[0], big, 10));
    printf("  sigpipes=%d\n", sigpipes);
    waitpid(c, NULL, 0);
    close(sv[0]);
    /* A datagram sender blocked on a full receiver learns of its close. */
    struct sockaddr_un da;
    socklen_t dal;
    abstract_of(&da, &dal, "su-dgram-full");
    int rcv = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(rcv, (struct sockaddr *)&da, dal);
    int snd = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 0; i < 11; i++) sendto(snd, "q", 1, 0, (struct sockaddr *)&da, dal);
    SHOW("full receiver, nonblocking", sendto(snd, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&da, dal));
    c = fork();
    if (c == 0) {
        usleep(50000);
        _exit(0);
    }
    close(rcv);
    SHOW("blocked sender, receiver exits", sendto(snd, "q", 1, 0, (struct sockaddr *)&da, dal));
    waitpid(c, NULL, 0);
    close(snd);
    /* A signal interrupts a blocked recv (EINTR without SA_RESTART). */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigpipe;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(30000, 0);
    SHOW("recv interrupted", recv(sv[1], buf, sizeof buf, 0));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    c = fork();
    if (c == 0) {
        usleep(80000);
        send(sv[0], "late", 4, 0);
        _exit(0);
    }
    ualarm(30000, 0);
    SHOW("recv restarted", recv(sv[1], buf, sizeof buf, 0));
    waitpid(c, NULL, 0);
}


/* Threads hammering shared sockets: writers and readers on one pair, fd
 * passing and closing on others, all at once; must end, nothing lost. */
static int stress_pair[2];
static void *stress_writer(void *arg) {
    long id = (long)arg;
    char m[8];
    memset(m, 'a' + id, sizeof m);
    for (int i = 0; i < 2000; i++)
        if (send(stress_pair[0], m, sizeof m, 0) != sizeof m) return (void *)1;
    return NULL;
}
static void *stress_passer(void *arg) {
    (void)arg;
    for (int i = 0; i < 300; i++) {
        int a[2], b[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_DGRAM, 0, b))
            return (void *)1;
        send_fds(a[0], "x", 1, &b[0], 1);
        send_fds(b[1], "y", 1, &a[1], 1);
        send_fds(a[1], "z", 1, &a[0], 1);
        close(a[0]);
        close(a[1]);
        close(b[0]);
        close(b[1]);
    }
    return NULL;
}
static void stress(void) {
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, stress_pair);
    pthread_t w[4], p[2];
    for (long i = 0; i < 4; i++) pthread_create(&w[i], NULL, stress_writer, (void *)i);
    for (long i = 0; i < 2; i++) pthread_create(&p[i], NULL, stress_passer, NULL);
    long counts[4] = {0};
    char buf[64];
    for (int i = 0; i < 8000; i++) {
        struct pollfd pf = {stress_pair[1], POLLIN, 0};
        poll(&pf, 1, 1000);
        ssize_t n = recv(stress_pair[1], buf, sizeof buf, 0);
        if (n != 8) break;
        counts[buf[0] - 'a']++;
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(w[i], &r);
        bad |= r != NULL;
    }
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(p[i], &r);
        bad |= r != NULL;
    }
    printf("stress: %ld %ld %ld %ld bad=%d\n", counts[0], counts[1], counts[2], counts[3], bad);
}

/* A forking echo server over a path socket: each client checks its echo. */
static void echo(void) {
    struct sockaddr_un a;
    socklen_t al;
    path_of(&a, &al, "su_echo");
    unlink(a.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, al);
    listen(s, 8);
    pid_t server = fork();
    if (server == 0) {
        for (int i = 0; i < 4; i++) {
            int c = accept(s, NULL, NULL);
            if (c < 0) _exit(1);
            if (fork() == 0) {
                char buf[512];
                ssize_t n;
                while ((n = read(c, buf, sizeof buf)) > 0) write(c, buf, n);
                _exit(0);
            }
            close(c);
        }
        while (wait(NULL) > 0) {
        }
        _exit(0);
    }
    close(s);
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pid_t cl = fork();
        if (cl == 0) {
            int c = socket(AF_UNIX, SOCK_STREAM, 0);
            if (connect(c, (struct sockaddr *)&a, al) < 0) _exit(2);
            char msg[64], got[64];
            int good = 1;
            for (int k = 0; k < 50; k++) {
                int len = snprintf(msg, sizeof msg, "client %d line %d", i, k);
                write(c, msg, len);
                int have = 0;
                while (have < len) {
                    ssize_t n = read(c, got + have, len - have);
                    if (n <= 0) _exit(3);
                    have += n;
                }
                if (memcmp(msg, got, len)) good = 0;
            }
            _exit(good ? 0 : 4);
        }
        int st;
        waitpid(cl, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
    }
    int st;
    waitpid(server, &st, 0);
    printf("echo clients ok=%d server exit=%d\n", ok, WEXITSTATUS(st));
    unlink(a.sun_path);
}

/* 100 MB over a socketpair between two processes, checksummed. */
static void bulk(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    const long total = 100L << 20;
    pid_t c = fork();
    if (c == 0) {
        close(sv[0]);
        static unsigned char buf[65536];
        long sent = 0;
        uint32_t x = 12345;
        while (sent < total) {
            long n = sizeof buf;
            if (n > total - sent) n = total - sent;
            for (long i = 0; i < n; i++) {
                x = x * 1103515245 + 12345;
                buf[i] = x >> 24;
            }
            long off = 0;
            while (off < n) {
                ssize_t k = write(sv[1], buf + off, n - off);
                if (k <= 0) _exit(1);
                off += k;
            }
            sent += n;
        }
        _exit(0);
    }
    close(sv[1]);
    static unsigned char buf[100000];
    long got = 0;
    uint32_t x = 12345, bad = 0;
    ssize_t n;
    while ((n = read(sv[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            x = x * 1103515245 + 12345;
            if (buf[i] != (unsigned char)(x >> 24)) bad++;
        }
        got += n;
    }
    int st;
    waitpid(c, &st, 0);
    printf("bulk got=%ld bad=%u writer=%d\n", got, bad, WEXITSTATUS(st));
}

/* Sockets shared across fork: both processes write into one socket. */
static void shared(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    for (int i = 0; i < 3; i++) {
        if (fork() == 0) {
            char m[16];
            int len = snprintf(m, sizeof m, "child%d", i);
            send(sv[0], m, len, 0);
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {
    }
    int count = 0;
    char buf[32];
    while (recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) > 0) count++;
    printf("messages from children=%d\n", count);
    /* The last close is what counts: a child closing its copy does not
     * end the connection. */
    int p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, p);
    if (fork() == 0) {
        close(p[0]);
        close(p[1]);
        _exit(0);
    }
    wait(NULL);
    SHOW("write after child closed its copy", write(p[0], "x", 1));
    SHOW("read it", read(p[1], buf, 1));
}

/* Many sockets, and cycles of sockets in flight, then everything closed. */
static void many(void) {
    int made = 0;
    int fds[800];
    for (int i = 0; i < 400; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds + 2 * i) < 0) break;
        made++;
    }
    printf("pairs=%d\n", made);
    for (int i = 0; i < made; i++) {
        send_fds(fds[2 * i], "c", 1, &fds[2 * i + 1], 1);
        send_fds(fds[2 * i + 1], "c", 1, &fds[2 * i], 1);
    }
    for (int i = 0; i < 2 * made; i++) close(fds[i]);
    made = 0;
    for (int i = 0; i < 400; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds + 2 * i) < 0) break;
        made++;
    }
    printf("pairs again=%d\n", made);
    for (int i = 0; i < 2 * made; i++) close(fds[i]);
    /* SCM_RIGHTS of hundreds of fds in a message: EINVAL past 253. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int many_fds[300];
    for (int i = 0; i < 300; i++) many_fds[i] = sv[0];
    char cbuf[CMSG_SPACE(sizeof many_fds)];
    struct iovec iov = {"m", 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = CMSG_SPACE(sizeof many_fds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof many_fds);
    memcpy(CMSG_DATA(c), many_fds, sizeof many_fds);
    SHOW("300 fds", sendmsg(sv[0], &m, 0));
    c->cmsg_len = CMSG_LEN(253 * sizeof(int));
    m.msg_controllen = CMSG_SPACE(253 * sizeof(int));
    SHOW("253 fds", sendmsg(sv[0], &m, 0));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, on_sigpipe);
    if (argc > 2) dir = argv[2];
    const char *what = argc > 1 ? argv[1] : "all";
    struct {
        const char *name;
        void (*fn)(void);
    } sections[] = {{"types", types},     {"pair", pair_stream}, {"full", full_buffer},
                    {"named", named},     {"backlog", backlog},  {"abstract", abstract},
                    {"dgram", dgram},     {"seqpacket", seqpacket}, {"rights", rights},
                    {"echo", echo},       {"bulk", bulk},        {"shared", shared},
                    {"many", many},       {"edges", edges},     {"blocking", blocking}, {"stress", stress}};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (strcmp(what, "all") == 0 || strcmp(what, sections[i].name) == 0) {
            printf("== %s\n", sections[i].name);
            sections[i].fn();
        }
    }
    return 0;
}
