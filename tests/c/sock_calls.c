/* The socket system calls' argument checks, as Linux makes them: bad descriptors, bad
 * families/types/flags, malformed and oversized addresses, lengths, msghdr and control-message
 * limits, bad pointers. Prints one line per check; the test compares with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define BAD ((void *)8)

static void show(const char *what, long r) {
    if (r < 0)
        printf("%-44s -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-44s %ld\n", what, r);
    errno = 0;
}
#define T(expr) show(#expr, (long)(expr))

int main(void) {
    int p[2];
    if (pipe(p)) return 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len = sizeof sin;
    char buf[256] = {0};

    T(socket(-1, SOCK_STREAM, 0));
    T(socket(AF_MAX, SOCK_STREAM, 0));
    T(socket(1000, SOCK_STREAM, 0));
    T(socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
    T(socket(AF_UNIX, 0, 0));
    T(socket(AF_UNIX, 15, 0));
    T(socket(AF_UNIX, SOCK_STREAM, 5));
    T(socket(AF_UNIX, SOCK_RAW, 0));
    T(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    T(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    T(socket(AF_INET, SOCK_SEQPACKET, 0));
    int junk[2];
    /* Linux writes the fds it reserved before the family refuses: don't use p here. */
    T(socketpair(AF_INET, SOCK_STREAM, 0, junk));
    T(socketpair(AF_UNIX, SOCK_STREAM, 0, BAD));

    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int d = socket(AF_INET, SOCK_DGRAM, 0);

    T(bind(-1, (void *)&sin, sizeof sin));
    T(bind(999, (void *)&sin, sizeof sin));
    T(bind(p[0], (void *)&sin, sizeof sin));
    T(bind(t, (void *)&sin, 129));
    T(bind(t, (void *)&sin, -1));
    T(bind(t, (void *)&sin, 15));
    T(bind(t, (void *)&sin, 1));
    T(bind(t, BAD, sizeof sin));
    T(bind(t, (void *)&sun, sizeof sun));
    T(bind(u, (void *)&sin, sizeof sin));
    T(bind(u, (void *)&sun, 1));
    memset(sun.sun_path, 'a', sizeof sun.sun_path);
    T(bind(u, (void *)&sun, sizeof sun + 1));
    T(listen(p[0], 1));
    T(listen(d, 1));
    T(accept(p[0], NULL, NULL));
    T(accept(t, NULL, NULL));
    T(accept4(t, NULL, NULL, 0x1234));
    T(connect(p[0], (void *)&sin, sizeof sin));
    T(connect(t, (void *)&sin, 0));
    T(connect(t, (void *)&sin, 200));
    T(shutdown(t, 3));
    T(shutdown(t, -1));
    T(shutdown(t, SHUT_RDWR));
    T(shutdown(p[0], SHUT_RD));
    T(getsockname(p[0], (void *)&sin, &len));
    len = -1;
    T(getsockname(t, (void *)&sin, &len));
    T(getsockname(t, (void *)&sin, BAD));
    len = sizeof sin;
    T(getpeername(t, (void *)&sin, &len));
    T(getpeername(u, (void *)&sin, &len));

    int v = 1;
    T(setsockopt(p[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    T(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, 2));
    T(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, -1));
    T(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, BAD, sizeof v));
    T(setsockopt(t, SOL_SOCKET, 999, &v, sizeof v));
    T(setsockopt(t, 999, 1, &v, sizeof v));
    T(setsockopt(t, SOL_SOCKET, SO_TYPE, &v, sizeof v));
    len = sizeof v;
    T(getsockopt(t, SOL_SOCKET, SO_TYPE, &v, &len));
    printf("SO_TYPE %d len %u\n", v, len);
    len = 2;
    T(getsockopt(t, SOL_SOCKET, SO_TYPE, &v, &len));
    printf("short len %u\n", len);
    len = -1;
    T(getsockopt(t, SOL_SOCKET, SO_TYPE, &v, &len));
    T(getsockopt(t, SOL_SOCKET, SO_TYPE, &v, BAD));
    len = sizeof v;
    T(getsockopt(t, SOL_SOCKET, SO_TYPE, BAD, &len));
    T(getsockopt(t, SOL_SOCKET, 999, &v, &len));
    T(getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &len));

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) return 1;
    struct iovec iov = {buf, 10};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    T(sendmsg(sv[0], BAD, 0));
    m.msg_iovlen = 1025;
    T(sendmsg(sv[0], &m, 0));
    T(recvmsg(sv[1], &m, MSG_DONTWAIT));
    m.msg_iovlen = 1;
    m.msg_iov = BAD;
    T(sendmsg(sv[0], &m, 0));
    m.msg_iov = &iov;
    char cbuf[CMSG_SPACE(sizeof(int) * 300)];
    memset(cbuf, 0, sizeof cbuf);
    m.msg_control = cbuf;
    m.msg_controllen = 8;
    T(sendmsg(sv[0], &m, 0));
    struct cmsghdr *c = (struct cmsghdr *)cbuf;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = 8;
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_len = 4096;
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_len = CMSG_LEN(sizeof(int));
    *(int *)CMSG_DATA(c) = 999;
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_len = CMSG_LEN(sizeof(int) * 254);
    m.msg_controllen = CMSG_SPACE(sizeof(int) * 254);
    for (int i = 0; i < 254; i++) ((int *)CMSG_DATA(c))[i] = p[0];
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_len = CMSG_LEN(sizeof(int) * 253);
    m.msg_controllen = CMSG_SPACE(sizeof(int) * 253);
    T(sendmsg(sv[0], &m, 0));
    struct msghdr r = {0};
    struct iovec riov = {buf, sizeof buf};
    char rc[CMSG_SPACE(sizeof(int) * 4)];
    r.msg_iov = &riov;
    r.msg_iovlen = 1;
    r.msg_control = rc;
    r.msg_controllen = sizeof rc;
    long got = recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC);
    printf("recv with 253 fds into room for 4: %ld flags %s controllen %zu\n", got,
           (r.msg_flags & MSG_CTRUNC) ? "CTRUNC" : "-", (size_t)r.msg_controllen);
    c->cmsg_type = 99;
    c->cmsg_len = CMSG_LEN(4);
    m.msg_controllen = CMSG_SPACE(4);
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(8);
    T(sendmsg(sv[0], &m, 0));
    c->cmsg_level = 12345;
    c->cmsg_len = CMSG_LEN(4);
    T(sendmsg(sv[0], &m, 0));
    m.msg_control = NULL;
    m.msg_controllen = 0;
    T(recvmsg(sv[1], &r, MSG_DONTWAIT));
    T(recvmsg(sv[1], &r, MSG_DONTWAIT));

    struct mmsghdr mm[2] = {0};
    T(sendmmsg(sv[0], mm, 0, 0));
    T(sendmmsg(sv[0], BAD, 1, 0));
    mm[0].msg_hdr.msg_iov = &iov;
    mm[0].msg_hdr.msg_iovlen = 1;
    mm[1] = mm[0];
    T(sendmmsg(sv[0], mm, 2, 0));
    printf("mmsg lens %u %u\n", mm[0].msg_len, mm[1].msg_len);
    struct timespec ts = {0, 2000000000L};
    T(recvmmsg(sv[1], mm, 2, 0, &ts));
    ts.tv_nsec = 0;
    T(recvmmsg(sv[1], mm, 2, MSG_DONTWAIT, &ts));
    T(recvmmsg(sv[1], mm, 2, MSG_DONTWAIT, NULL));
    T(sendto(sv[0], BAD, 10, 0, NULL, 0));
    T(sendto(sv[0], buf, 10, 0, (void *)&sun, 1));
    T(recvfrom(sv[1], BAD, 10, MSG_DONTWAIT, NULL, NULL));
    T(send(p[0], buf, 1, 0));
    T(recv(p[1], buf, 1, 0));
    T(send(t, buf, 1, MSG_NOSIGNAL));
    signal(SIGPIPE, SIG_IGN);
    T(send(t, buf, 1, 0));
    return 0;
}
