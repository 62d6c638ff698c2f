#define _GNU_SOURCE
/* TCP and UDP over the loopback of the network namespace it runs in, for
 * network mode host: run natively and in `gvisor do --network=host` in the
 * same kind of namespace, the lines must match. No port numbers printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOW(what, call) do { long r_ = (call); printf("%s: %ld %s\n", what, r_, r_ < 0 ? strerror(errno) : ""); } while (0)

static struct sockaddr_in lo(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd) {
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo(0);
    SHOW("bind", bind(l, (struct sockaddr *)&a, sizeof a));
    SHOW("listen", listen(l, 8));
    int port = port_of(l);
    struct stat st;
    fstat(l, &st);
    printf("fstat sock: %d\n", S_ISSOCK(st.st_mode));

    /* EADDRINUSE: a second socket on the same port. */
    int l2 = socket(AF_INET, SOCK_STREAM, 0);
    a = lo(port);
    SHOW("bind same port", bind(l2, (struct sockaddr *)&a, sizeof a));
    close(l2);

    /* Non-blocking connect, poll for it, SO_ERROR. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    printf("nb connect: %s\n", r == 0 ? "done" : errno == EINPROGRESS ? "EINPROGRESS" : strerror(errno));
    struct pollfd p = {.fd = c, .events = POLLOUT};
    SHOW("poll out", poll(&p, 1, 5000));
    int err = -1;
    socklen_t el = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    printf("SO_ERROR: %d\n", err);

    /* epoll readiness of the listener, accept4. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    r = epoll_wait(ep, &out, 1, 5000);
    printf("epoll: %d %u %x\n", r, out.data.u32, out.events);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    printf("accept: %d\n", s >= 0);
    SHOW("nodelay", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
    printf("nodelay get: %d\n", v != 0);
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl);
    printf("SO_TYPE: %d\n", v);
    struct sockaddr_in pa, na;
    socklen_t pl = sizeof pa, nl = sizeof na;
    getpeername(s, (struct sockaddr *)&pa, &pl);
    getsockname(c, (struct sockaddr *)&na, &nl);
    printf("peer is client: %d\n", pa.sin_port == na.sin_port);

    /* Data: peek, FIONREAD, WAITALL, shutdown. */
    SHOW("send", send(c, "hello world", 11, 0));
    char buf[64];
    p.fd = s;
    p.events = POLLIN;
    SHOW("poll in", poll(&p, 1, 5000));
    usleep(20000);
    SHOW("peek", recv(s, buf, 5, MSG_PEEK));
    int n = 0;
    ioctl(s, FIONREAD, &n);
    printf("FIONREAD: %d\n", n);
    r = recv(s, buf, 11, MSG_WAITALL);
    printf("waitall: %d %.*s\n", r, r > 0 ? r : 0, buf);
    SHOW("recv empty nb", recv(s, buf, 1, MSG_DONTWAIT));
    SHOW("shutdown wr", shutdown(c, SHUT_WR));
    SHOW("recv eof", recv(s, buf, sizeof buf, 0));
    p.events = POLLIN | POLLRDHUP;
    poll(&p, 1, 1000);
    printf("rdhup: %d\n", (p.revents & POLLRDHUP) != 0);
    SHOW("send after shut", send(c, "x", 1, MSG_NOSIGNAL));
    close(s);
    close(c);

    /* ECONNREFUSED: the listener closed. */
    close(l);
    c = socket(AF_INET, SOCK_STREAM, 0);
    SHOW("connect refused", connect(c, (struct sockaddr *)&a, sizeof a));
    close(c);

    /* UDP with truncation and the sender's address. */
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    a = lo(0);
    bind(u1, (struct sockaddr *)&a, sizeof a);
    bind(u2, (struct sockaddr *)&a, sizeof a);
    struct sockaddr_in d = lo(port_of(u1));
    SHOW("sendto", sendto(u2, "0123456789", 10, 0, (struct sockaddr *)&d, sizeof d));
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    r = recvfrom(u1, buf, 4, MSG_TRUNC, (struct sockaddr *)&from, &fl);
    printf("recvfrom trunc: %d %.4s from client: %d\n", r, buf, ntohs(from.sin_port) == port_of(u2));
    SHOW("recv empty udp", recv(u1, buf, 4, MSG_DONTWAIT));
        close(u1);
    close(u2);
    printf("done\n");
    return 0;
}
