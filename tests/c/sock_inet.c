// AF_INET/AF_INET6 sockets over loopback: each check prints what the program sees, one line
// each, so that a native run and a sandboxed run can be compared line by line. No port number
// is printed (they differ from run to run); ports come from bind(0).
//
// usage: sock_inet <check>   (basics, options, nonblock, refused, reset, halfclose, epipe,
//                             flags, udp, v6, epoll, many, big, forkecho, procnet, ping, timeout)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAY(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)
#define RES(label, call) do { errno = 0; long _r = (long)(call); \
    SAY("%s = %ld%s%s\n", label, _r, _r < 0 ? " " : "", _r < 0 ? strerrorname_np(errno) : ""); } while (0)

static struct sockaddr_in lo4(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static const char *addr_str(struct sockaddr_storage *ss) {
    static char buf[64];
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, buf, sizeof buf);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "family %d", ss->ss_family);
    return buf;
}

static void show_name(const char *what, int fd, int peer) {
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &l) : getsockname(fd, (struct sockaddr *)&ss, &l);
    if (r < 0) SAY("%s: %s\n", what, strerrorname_np(errno));
    else SAY("%s: %s len %u\n", what, addr_str(&ss), l);
}

static int listener(int port) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = lo4(port);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    if (listen(l, 16) < 0) { perror("listen"); exit(1); }
    return l;
}

static int connect_to(int port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(port);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    return c;
}

/* A connected pair (client, accepted) through listener l. */
static void pair(int *c, int *s) {
    int l = listener(0);
    *c = connect_to(port_of(l));
    *s = accept(l, NULL, NULL);
    close(l);
}

static short revents(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP | POLLPRI};
    poll(&p, 1, 0);
    return p.revents;
}

static void show_poll(const char *what, int fd) {
    short r = revents(fd);
    SAY("%s poll:%s%s%s%s%s%s\n", what, r & POLLIN ? " IN" : "", r & POLLOUT ? " OUT" : "",
        r & POLLERR ? " ERR" : "", r & POLLHUP ? " HUP" : "", r & POLLRDHUP ? " RDHUP" : "",
        r & POLLPRI ? " PRI" : "");
}

static int geti(int fd, int level, int name) {
    int v = -12345;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l) < 0) return -errno;
    return v;
}

static void wait_readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 5000);
}

static void basics(void) {
    RES("socket(INET, STREAM, UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    RES("socket(INET, DGRAM, TCP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    RES("socket(INET, 7, 0)", socket(AF_INET, 7, 0));
    RES("socketpair(INET)", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0, 0}));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    SAY("type %d domain %d protocol %d acceptconn %d error %d\n", geti(s, SOL_SOCKET, SO_TYPE),
        geti(s, SOL_SOCKET, SO_DOMAIN), geti(s, SOL_SOCKET, SO_PROTOCOL),
        geti(s, SOL_SOCKET, SO_ACCEPTCONN), geti(s, SOL_SOCKET, SO_ERROR));
    SAY("sndbuf %d rcvbuf %d\n", geti(s, SOL_SOCKET, SO_SNDBUF), geti(s, SOL_SOCKET, SO_RCVBUF));
    show_poll("fresh", s);
    show_name("fresh name", s, 0);
    show_name("fresh peer", s, 1);
    RES("recv fresh", recv(s, (char[4]){0}, 4, MSG_DONTWAIT));
    RES("shutdown fresh", shutdown(s, SHUT_RDWR));
    RES("listen unbound", listen(s, 1));
    SAY("autobound port nonzero %d\n", port_of(s) > 0);
    fcntl(s, F_SETFL, O_NONBLOCK);
    RES("accept empty", accept(s, NULL, NULL));
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    a.sin_addr.s_addr = inet_addr("192.0.2.1");
    RES("bind foreign", bind(s, (struct sockaddr *)&a, sizeof a));
    a = lo4(0);
    RES("bind short", bind(s, (struct sockaddr *)&a, 8));
    struct sockaddr_in6 w6 = {.sin6_family = AF_INET6};
    RES("bind wrong family", bind(s, (struct sockaddr *)&w6, sizeof w6));
    a = lo4(0);
    a.sin_addr.s_addr = inet_addr("127.0.0.5");
    RES("bind 127.0.0.5", bind(s, (struct sockaddr *)&a, sizeof a));
    show_name("bound name", s, 0);
    RES("bind again", bind(s, (struct sockaddr *)&a, sizeof a));
    int port = port_of(s);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = htons(port);
    RES("bind same port", bind(t, (struct sockaddr *)&a, sizeof a));
    close(t);
    t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(port)};
    RES("bind any same port", bind(t, (struct sockaddr *)&any, sizeof any));
    close(t);
    t = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = inet_addr("127.0.0.6");
    RES("bind other addr same port", bind(t, (struct sockaddr *)&a, sizeof a));
    close(t);
    close(s);
    /* SO_REUSEADDR: two binds are fine, the second listen is not. */
    int x = socket(AF_INET, SOCK_STREAM, 0), y = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(y, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a = lo4(0);
    bind(x, (struct sockaddr *)&a, sizeof a);
    a.sin_port = htons(port_of(x));
    RES("reuseaddr second bind", bind(y, (struct sockaddr *)&a, sizeof a));
    RES("listen first", listen(x, 4));
    RES("listen second", listen(y, 4));
    int z = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(z, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    RES("reuseaddr bind on listener", bind(z, (struct sockaddr *)&a, sizeof a));
    close(x); close(y); close(z);
    /* SO_REUSEPORT: two listeners. */
    x = socket(AF_INET, SOCK_STREAM, 0); y = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(x, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(y, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    a = lo4(0);
    bind(x, (struct sockaddr *)&a, sizeof a);
    a.sin_port = htons(port_of(x));
    RES("reuseport bind", bind(y, (struct sockaddr *)&a, sizeof a));
    RES("reuseport listen 1", listen(x, 4));
    RES("reuseport listen 2", listen(y, 4));
    close(x); close(y);

    int c, sv;
    pair(&c, &sv);
    show_name("client name", c, 0);
    show_name("client peer", c, 1);
    show_name("server name", sv, 0);
    show_name("server peer", sv, 1);
    SAY("ports match %d\n", port_of(c) == ({ struct sockaddr_in p; socklen_t l = sizeof p;
        getpeername(sv, (struct sockaddr *)&p, &l); ntohs(p.sin_port); }));
    show_poll("connected", c);
    RES("write", write(c, "hello", 5));
    wait_readable(sv);
    show_poll("server with data", sv);
    int n = -1;
    ioctl(sv, FIONREAD, &n);
    SAY("FIONREAD %d\n", n);
    char buf[64] = {0};
    RES("read", read(sv, buf, sizeof buf));
    SAY("got '%s'\n", buf);
    RES("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
    RES("listen connected", listen(c, 1));
    RES("accept on connected", accept(c, NULL, NULL));
    RES("recv MSG_OOB without urgent data", recv(sv, buf, 1, MSG_OOB | MSG_DONTWAIT));
    close(c); close(sv);
    RES("connect unreachable", ({ int u = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in d = lo4(80);
        d.sin_addr.s_addr = inet_addr("192.0.2.1"); fcntl(u, F_SETFL, O_NONBLOCK);
        int r = connect(u, (struct sockaddr *)&d, sizeof d); int e = errno; close(u); errno = e;
        r < 0 && (errno == ENETUNREACH || errno == EINPROGRESS) ? 0 : r; }));
}

static void options(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), v;
    SAY("nodelay %d maxseg %d keepidle %d keepintvl %d keepcnt %d ttl %d tos %d\n",
        geti(s, IPPROTO_TCP, TCP_NODELAY), geti(s, IPPROTO_TCP, TCP_MAXSEG),
        geti(s, IPPROTO_TCP, TCP_KEEPIDLE), geti(s, IPPROTO_TCP, TCP_KEEPINTVL),
        geti(s, IPPROTO_TCP, TCP_KEEPCNT), geti(s, IPPROTO_IP, IP_TTL), geti(s, IPPROTO_IP, IP_TOS));
    SAY("quickack %d defer %d fastopen %d user_timeout %d cork %d\n", geti(s, IPPROTO_TCP, TCP_QUICKACK),
        geti(s, IPPROTO_TCP, TCP_DEFER_ACCEPT), geti(s, IPPROTO_TCP, TCP_FASTOPEN),
        geti(s, IPPROTO_TCP, TCP_USER_TIMEOUT), geti(s, IPPROTO_TCP, TCP_CORK));
#define SETI(level, name, val) do { v = (val); RES("set " #name " " #val, setsockopt(s, level, name, &v, sizeof v)); \
    SAY("  get " #name " = %d\n", geti(s, level, name)); } while (0)
    SETI(IPPROTO_TCP, TCP_NODELAY, 1);
    SETI(IPPROTO_TCP, TCP_CORK, 1);
    SETI(IPPROTO_TCP, TCP_KEEPIDLE, 30);
    SETI(IPPROTO_TCP, TCP_KEEPIDLE, 0);
    SETI(IPPROTO_TCP, TCP_KEEPINTVL, 5);
    SETI(IPPROTO_TCP, TCP_KEEPCNT, 3);
    SETI(IPPROTO_TCP, TCP_KEEPCNT, 200);
    SETI(IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
    SETI(IPPROTO_TCP, TCP_DEFER_ACCEPT, 30);
    SETI(IPPROTO_TCP, TCP_FASTOPEN, 5);
    SETI(IPPROTO_TCP, TCP_USER_TIMEOUT, 1000);
    SETI(IPPROTO_TCP, TCP_USER_TIMEOUT, -1);
    SETI(IPPROTO_TCP, TCP_MAXSEG, 1000);
    SETI(IPPROTO_TCP, TCP_MAXSEG, 10);
    SETI(IPPROTO_TCP, TCP_QUICKACK, 0);
    SETI(IPPROTO_TCP, TCP_SYNCNT, 3);
    SETI(IPPROTO_TCP, TCP_LINGER2, 20);
    SETI(IPPROTO_IP, IP_TOS, 0x10);
    SETI(IPPROTO_IP, IP_TOS, 0x13);
    SETI(IPPROTO_IP, IP_TTL, 33);
    SETI(IPPROTO_IP, IP_TTL, 0);
    SETI(IPPROTO_IP, IP_TTL, -1);
    SETI(IPPROTO_IP, IP_RECVERR, 1);
    SETI(SOL_SOCKET, SO_KEEPALIVE, 1);
    SETI(SOL_SOCKET, SO_SNDBUF, 100000);
    SETI(SOL_SOCKET, SO_RCVBUF, 1000);
    RES("set unknown tcp opt", setsockopt(s, IPPROTO_TCP, 99, &v, sizeof v));
    RES("get unknown tcp opt", geti(s, IPPROTO_TCP, 99));
    RES("set short", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 2));
    RES("set ipv6 opt on inet", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
    RES("set mcast on tcp", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v));
    char cc[16] = "cubic";
    RES("set congestion cubic", setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)));
    memset(cc, 0, sizeof cc);
    socklen_t l = sizeof cc;
    getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, &l);
    SAY("congestion '%s' len %u\n", cc, l);
    RES("set congestion bogus", setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "bogus", 5));
    struct linger lg = {1, 5};
    RES("set linger", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    memset(&lg, 0, sizeof lg);
    l = sizeof lg;
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &l);
    SAY("linger %d %d\n", lg.l_onoff, lg.l_linger);
    struct tcp_info ti;
    l = sizeof ti;
    getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l);
    SAY("tcp_info fresh state %d\n", ti.tcpi_state);
    close(s);
    int c, sv;
    pair(&c, &sv);
    l = sizeof ti;
    getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &l);
    SAY("tcp_info connected state %d\n", ti.tcpi_state);
    SAY("connected maxseg positive %d\n", geti(c, IPPROTO_TCP, TCP_MAXSEG) > 0);
    int lsn = listener(0);
    l = sizeof ti;
    getsockopt(lsn, IPPROTO_TCP, TCP_INFO, &ti, &l);
    SAY("tcp_info listen state %d acceptconn %d\n", ti.tcpi_state, geti(lsn, SOL_SOCKET, SO_ACCEPTCONN));
    v = 1;
    setsockopt(lsn, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
    int c2 = connect_to(port_of(lsn));
    int a2 = accept(lsn, NULL, NULL);
    SAY("accepted inherits nodelay %d\n", geti(a2, IPPROTO_TCP, TCP_NODELAY));
    close(c); close(sv); close(lsn); close(c2); close(a2);
}

static void nonblock(void) {
    int l = listener(0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo4(port_of(l));
    RES("connect nonblock", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {.fd = c, .events = POLLOUT};
    RES("poll out", poll(&p, 1, 5000));
    show_poll("after connect", c);
    SAY("so_error %d\n", geti(c, SOL_SOCKET, SO_ERROR));
    RES("connect 2nd", connect(c, (struct sockaddr *)&a, sizeof a));
    RES("connect 3rd", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    SAY("accepted nonblock flag %d\n", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    char buf[8];
    RES("read empty nonblock", read(s, buf, sizeof buf));
    fcntl(l, F_SETFL, O_NONBLOCK);
    RES("accept empty O_NONBLOCK", accept(l, NULL, NULL));
    /* Fill the pipe: writes stop with EAGAIN. */
    static char chunk[65536];
    long total = 0;
    for (int i = 0; i < 10000; i++) {
        ssize_t n = write(c, chunk, sizeof chunk);
        if (n < 0) { SAY("fill stops with %s\n", strerrorname_np(errno)); break; }
        total += n;
    }
    SAY("filled some %d\n", total > 0);
    show_poll("full writer", c);
    close(c); close(s); close(l);
}

static void refused(void) {
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    bind(t, (struct sockaddr *)&a, sizeof a);
    int port = port_of(t);
    close(t);
    a = lo4(port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    RES("connect closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    show_poll("refused blocking", c);
    SAY("so_error %d\n", geti(c, SOL_SOCKET, SO_ERROR));
    show_name("refused peer", c, 1);
    RES("connect closed port again", connect(c, (struct sockaddr *)&a, sizeof a));
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    RES("connect nonblock closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {.fd = c, .events = POLLOUT};
    poll(&p, 1, 5000);
    show_poll("refused nonblock", c);
    SAY("so_error %s\n", strerrorname_np(geti(c, SOL_SOCKET, SO_ERROR)));
    SAY("so_error again %d\n", geti(c, SOL_SOCKET, SO_ERROR));
    show_poll("refused after so_error", c);
    RES("write refused", send(c, "x", 1, MSG_NOSIGNAL));
    RES("read refused", read(c, (char[4]){0}, 4));
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    poll(&p, 1, 5000);
    p.fd = c;
    poll(&p, 1, 5000);
    RES("second connect reports", connect(c, (struct sockaddr *)&a, sizeof a));
    RES("third connect", connect(c, (struct sockaddr *)&a, sizeof a) < 0 && errno == EINPROGRESS ? 0 : -1);
    close(c);
}

static void reset(void) {
    int c, s;
    pair(&c, &s);
    write(s, "data", 4);
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    wait_readable(c);
    usleep(100000);
    show_poll("after rst", c);
    char buf[16];
    RES("read data before rst error", read(c, buf, sizeof buf));
    RES("read after rst", read(c, buf, sizeof buf));
    RES("read after rst again", read(c, buf, sizeof buf));
    RES("write after rst", send(c, "x", 1, MSG_NOSIGNAL));
    SAY("so_error %d\n", geti(c, SOL_SOCKET, SO_ERROR));
    show_name("peer after rst", c, 1);
    close(c);
    /* Closing with unread data resets the peer. */
    pair(&c, &s);
    write(c, "unread", 6);
    usleep(50000);
    close(s);
    wait_readable(c);
    usleep(50000);
    RES("read after close-with-unread", read(c, buf, sizeof buf));
    close(c);
}

static void halfclose(void) {
    int c, s;
    pair(&c, &s);
    RES("write", write(c, "question", 8));
    RES("shutdown wr", shutdown(c, SHUT_WR));
    show_poll("client after shut_wr", c);
    RES("write after shut_wr", send(c, "x", 1, MSG_NOSIGNAL));
    char buf[32] = {0};
    wait_readable(s);
    usleep(50000);
    show_poll("server before read", s);
    RES("server read", read(s, buf, sizeof buf));
    RES("server read eof", read(s, buf, sizeof buf));
    show_poll("server after eof", s);
    RES("server write back", write(s, "answer", 6));
    wait_readable(c);
    memset(buf, 0, sizeof buf);
    RES("client read", read(c, buf, sizeof buf));
    SAY("client got '%s'\n", buf);
    RES("server shutdown rdwr", shutdown(s, SHUT_RDWR));
    usleep(50000);
    RES("client read eof", read(c, buf, sizeof buf));
    show_poll("client both closed", c);
    show_poll("server both closed", s);
    RES("shutdown again", shutdown(s, SHUT_RDWR));
    RES("shutdown bad how", shutdown(s, 7));
    close(c); close(s);
    /* SHUT_RD: reads see EOF at once. */
    pair(&c, &s);
    RES("shutdown rd", shutdown(s, SHUT_RD));
    RES("read after shut_rd", recv(s, buf, sizeof buf, MSG_DONTWAIT));
    show_poll("after shut_rd", s);
    close(c); close(s);
}

static volatile int sigpipes;
static void on_pipe(int sig) { (void)sig; sigpipes++; }

static void epipe(void) {
    signal(SIGPIPE, on_pipe);
    int c, s;
    pair(&c, &s);
    close(s);
    usleep(50000);
    ssize_t r;
    int tries = 0;
    while ((r = write(c, "abc", 3)) > 0 && tries < 100) { tries++; usleep(10000); }
    SAY("write eventually fails: %s\n", r < 0 ? strerrorname_np(errno) : "no");
    SAY("sigpipe seen %d\n", sigpipes > 0);
    int before = sigpipes;
    RES("send MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL));
    SAY("no new sigpipe %d\n", sigpipes == before);
    close(c);
    int u = socket(AF_INET, SOCK_STREAM, 0);
    before = sigpipes;
    RES("write unconnected", write(u, "x", 1));
    SAY("sigpipe on unconnected %d\n", sigpipes > before);
    close(u);
}

static void flags(void) {
    int c, s;
    pair(&c, &s);
    char buf[64] = {0};
    RES("recv dontwait empty", recv(s, buf, sizeof buf, MSG_DONTWAIT));
    write(c, "abcdef", 6);
    wait_readable(s);
    RES("peek", recv(s, buf, 3, MSG_PEEK));
    SAY("peeked '%.3s'\n", buf);
    RES("peek again", recv(s, buf, 6, MSG_PEEK));
    RES("trunc", recv(s, buf, 2, MSG_TRUNC));
    memset(buf, 0, sizeof buf);
    RES("read rest", recv(s, buf, sizeof buf, 0));
    SAY("rest '%s'\n", buf);
    if (fork() == 0) {
        for (int i = 0; i < 5; i++) { usleep(20000); write(c, "12", 2); }
        _exit(0);
    }
    memset(buf, 0, sizeof buf);
    RES("waitall 10", recv(s, buf, 10, MSG_WAITALL));
    SAY("waitall got '%s'\n", buf);
    wait(NULL);
    int v = -1;
    ioctl(c, TIOCOUTQ, &v);
    SAY("outq small %d\n", v >= 0 && v <= 10);
    struct timeval tv = {0, 100000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    RES("recv timeout", recv(s, buf, sizeof buf, 0));
    close(c);
    RES("recv eof with timeout", recv(s, buf, sizeof buf, 0));
    close(s);
}

static void udp(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    SAY("udp sndbuf %d rcvbuf %d protocol %d\n", geti(a, SOL_SOCKET, SO_SNDBUF),
        geti(a, SOL_SOCKET, SO_RCVBUF), geti(a, SOL_SOCKET, SO_PROTOCOL));
    show_poll("udp fresh", a);
    show_name("udp fresh name", a, 0);
    RES("send no dest", send(a, "x", 1, 0));
    struct sockaddr_in la = lo4(0);
    RES("bind", bind(a, (struct sockaddr *)&la, sizeof la));
    struct sockaddr_in to = lo4(port_of(a));
    RES("sendto", sendto(b, "one", 3, 0, (struct sockaddr *)&to, sizeof to));
    RES("sendto", sendto(b, "second", 6, 0, (struct sockaddr *)&to, sizeof to));
    RES("sendto empty", sendto(b, "", 0, 0, (struct sockaddr *)&to, sizeof to));
    show_name("sender autobound", b, 0);
    show_poll("udp with data", a);
    int n = -1;
    ioctl(a, FIONREAD, &n);
    SAY("FIONREAD %d\n", n);
    char buf[100] = {0};
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    RES("recvfrom", recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    SAY("from %s same port %d\n", addr_str(&from), ntohs(((struct sockaddr_in *)&from)->sin_port) == port_of(b));
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    RES("recvmsg trunc", recvmsg(a, &m, MSG_TRUNC));
    SAY("msg_flags trunc %d\n", !!(m.msg_flags & MSG_TRUNC));
    RES("recv empty dgram", recv(a, buf, sizeof buf, 0));
    RES("recv nothing", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    static char big[70000];
    RES("send 65507", sendto(b, big, 65507, 0, (struct sockaddr *)&to, sizeof to));
    RES("send 65508", sendto(b, big, 65508, 0, (struct sockaddr *)&to, sizeof to));
    RES("recv big", recv(a, big, sizeof big, 0));
    /* Connected to a closed port: the next call reports it. */
    int t = socket(AF_INET, SOCK_DGRAM, 0);
    bind(t, (struct sockaddr *)&la, sizeof la);
    struct sockaddr_in closed = lo4(port_of(t));
    close(t);
    RES("connect closed", connect(b, (struct sockaddr *)&closed, sizeof closed));
    show_name("connected name", b, 0);
    show_name("connected peer", b, 1);
    RES("send to closed", send(b, "x", 1, 0));
    usleep(50000);
    show_poll("after port unreachable", b);
    RES("recv after unreachable", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    RES("send again", send(b, "x", 1, 0));
    RES("send again", send(b, "x", 1, 0));
    usleep(50000);
    SAY("so_error %s\n", strerrorname_np(geti(b, SOL_SOCKET, SO_ERROR)));
    struct sockaddr un = {.sa_family = AF_UNSPEC};
    RES("disconnect", connect(b, &un, sizeof un));
    show_name("disconnected peer", b, 1);
    /* Connected sockets take only their peer's datagrams. */
    RES("connect a to b", connect(a, (struct sockaddr *)&(struct sockaddr_in){0}, 0));
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in cb = lo4(0);
    bind(c, (struct sockaddr *)&cb, sizeof cb);
    bind(b, (struct sockaddr *)&cb, sizeof cb);
    struct sockaddr_in bto = lo4(port_of(b));
    RES("connect a to b", connect(a, (struct sockaddr *)&bto, sizeof bto));
    RES("c sends to a", sendto(c, "fromc", 5, 0, (struct sockaddr *)&to, sizeof to));
    RES("b sends to a", sendto(b, "fromb", 5, 0, (struct sockaddr *)&to, sizeof to));
    memset(buf, 0, sizeof buf);
    RES("a receives", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    SAY("a got '%s'\n", buf);
    RES("a nothing more", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    int v = 1;
    RES("broadcast without SO_BROADCAST", ({ struct sockaddr_in bc = lo4(9); bc.sin_addr.s_addr = INADDR_BROADCAST;
        sendto(c, "x", 1, 0, (struct sockaddr *)&bc, sizeof bc); }));
    setsockopt(c, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
    SAY("so_broadcast %d\n", geti(c, SOL_SOCKET, SO_BROADCAST));
    v = 7;
    RES("mcast ttl", setsockopt(c, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v));
    SAY("mcast ttl %d loop %d\n", geti(c, IPPROTO_IP, IP_MULTICAST_TTL), geti(c, IPPROTO_IP, IP_MULTICAST_LOOP));
    unsigned char ch = 0;
    RES("mcast loop char", setsockopt(c, IPPROTO_IP, IP_MULTICAST_LOOP, &ch, 1));
    SAY("mcast loop %d\n", geti(c, IPPROTO_IP, IP_MULTICAST_LOOP));
    struct ip_mreq mr = {.imr_multiaddr.s_addr = inet_addr("239.1.2.3"), .imr_interface.s_addr = htonl(INADDR_LOOPBACK)};
    RES("add membership", setsockopt(c, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
    RES("listen udp", listen(c, 1));
    RES("accept udp", accept(c, NULL, NULL));
    RES("shutdown unconnected udp", shutdown(c, SHUT_RD));
    show_poll("udp shut rd", c);
    close(a); close(b); close(c);
}

static void v6(void) {
    int l = socket(AF_INET6, SOCK_STREAM, 0), one = 1;
    SAY("v6only default %d\n", geti(l, IPPROTO_IPV6, IPV6_V6ONLY));
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    RES("bind ::", bind(l, (struct sockaddr *)&a, sizeof a));
    RES("set v6only after bind", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    listen(l, 8);
    show_name("v6 listener", l, 0);
    int port = port_of(l);
    int c4 = connect_to(port);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &pl);
    SAY("accepted v4 client as %s len %u\n", addr_str(&peer), pl);
    show_name("accepted name", s, 0);
    close(s); close(c4);
    int c6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 d = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_loopback};
    RES("connect ::1", connect(c6, (struct sockaddr *)&d, sizeof d));
    show_name("v6 client name", c6, 0);
    show_name("v6 client peer", c6, 1);
    s = accept(l, (struct sockaddr *)&peer, &pl);
    SAY("accepted v6 client as %s\n", addr_str(&peer));
    close(s); close(c6);
    /* Mapped destination from a v6 socket. */
    int cm = socket(AF_INET6, SOCK_STREAM, 0);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &d.sin6_addr);
    RES("connect mapped", connect(cm, (struct sockaddr *)&d, sizeof d));
    show_name("mapped client name", cm, 0);
    show_name("mapped client peer", cm, 1);
    s = accept(l, NULL, NULL);
    close(s); close(cm);
    close(l);
    /* v6only: IPv4 is refused. */
    l = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    a.sin6_port = 0;
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 4);
    port = port_of(l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = lo4(port);
    RES("v4 connect to v6only", connect(c, (struct sockaddr *)&a4, sizeof a4));
    close(c);
    int m = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(m, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &d.sin6_addr);
    RES("v6only connect mapped", connect(m, (struct sockaddr *)&d, sizeof d));
    RES("v6only bind mapped", bind(m, (struct sockaddr *)&d, sizeof d));
    close(m);
    /* A v4 listener and a v6only listener share a port. */
    int l4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    RES("v4 bind beside v6only", bind(l4, (struct sockaddr *)&any4, sizeof any4));
    close(l4);
    close(l);
    /* UDP over v6 and mapped. */
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 ua = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    bind(u6, (struct sockaddr *)&ua, sizeof ua);
    int u4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ut = lo4(port_of(u6));
    RES("v4 udp to dual v6", sendto(u4, "hi", 2, 0, (struct sockaddr *)&ut, sizeof ut));
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    char buf[8];
    RES("v6 recvfrom", recvfrom(u6, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    SAY("v6 udp from %s len %u\n", addr_str(&from), fl);
    int u66 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 u6t = {.sin6_family = AF_INET6, .sin6_port = htons(port_of(u6)), .sin6_addr = in6addr_loopback};
    RES("v6 udp to ::1", sendto(u66, "yo", 2, 0, (struct sockaddr *)&u6t, sizeof u6t));
    fl = sizeof from;
    RES("v6 recvfrom", recvfrom(u6, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    SAY("v6 udp from %s\n", addr_str(&from));
    close(u6); close(u4); close(u66);
}

static void epoll_check(void) {
    int l = listener(0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    RES("listener idle", epoll_wait(ep, out, 4, 0));
    int c = connect_to(port_of(l));
    RES("listener after connect", epoll_wait(ep, out, 4, 1000));
    RES("listener edge consumed", epoll_wait(ep, out, 4, 0));
    int s = accept(l, NULL, NULL);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    int n = epoll_wait(ep, out, 4, 0);
    SAY("accepted first wait %d events %#x\n", n, n > 0 ? out[0].events : 0);
    RES("accepted again", epoll_wait(ep, out, 4, 0));
    write(c, "a", 1);
    n = epoll_wait(ep, out, 4, 1000);
    SAY("data arrives %d events %#x\n", n, n > 0 ? out[0].events : 0);
    RES("edge consumed", epoll_wait(ep, out, 4, 0));
    write(c, "b", 1);
    n = epoll_wait(ep, out, 4, 1000);
    SAY("more data %d events %#x\n", n, n > 0 ? out[0].events : 0);
    shutdown(c, SHUT_WR);
    n = epoll_wait(ep, out, 4, 1000);
    SAY("peer shut_wr %d events %#x\n", n, n > 0 ? out[0].events : 0);
    /* Level-triggered: reported until read. */
    int ep2 = epoll_create1(0);
    struct epoll_event lv = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep2, EPOLL_CTL_ADD, s, &lv);
    RES("level 1", epoll_wait(ep2, out, 4, 0));
    RES("level 2", epoll_wait(ep2, out, 4, 0));
    /* A connecting socket is not writable until established; refused: ERR|HUP. */
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    bind(t, (struct sockaddr *)&a, sizeof a);
    a = lo4(port_of(t));
    close(t);
    int r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct epoll_event rv = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = r};
    epoll_ctl(ep2, EPOLL_CTL_ADD, r, &rv);
    connect(r, (struct sockaddr *)&a, sizeof a);
    int got = 0;
    for (int i = 0; i < 10; i++) {
        n = epoll_wait(ep2, out, 4, 200);
        for (int k = 0; k < n; k++)
            if (out[k].data.fd == r) { SAY("refused events %#x\n", out[k].events); got = 1; }
        if (got) break;
    }
    close(r); close(c); close(s); close(l); close(ep); close(ep2);
}

/* 1,000 connections: the clients in a child, the accepted sockets here (each process stays
 * under the usual 1,024 descriptors). */
static void many(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1024);
    int port = port_of(l);
    enum { N = 1000 };
    static int ss[N];
    int sync[2];
    pipe(sync);
    pid_t pid = fork();
    if (pid == 0) {
        static int cs[N];
        close(l);
        close(sync[1]);
        int ok = 0;
        for (int i = 0; i < N; i++) {
            cs[i] = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in d = lo4(port);
            if (connect(cs[i], (struct sockaddr *)&d, sizeof d) < 0) { SAY("connect %d: %s\n", i, strerrorname_np(errno)); break; }
            char b[8];
            snprintf(b, sizeof b, "%d", i);
            write(cs[i], b, strlen(b));
            ok++;
        }
        char x;
        read(sync[0], &x, 1); /* until the parent is done */
        for (int i = 0; i < ok; i++) close(cs[i]);
        _exit(ok == N ? 0 : 1);
    }
    close(sync[0]);
    int ok = 0, echoed = 0;
    for (int i = 0; i < N; i++) {
        ss[i] = accept(l, NULL, NULL);
        if (ss[i] < 0) { SAY("accept %d: %s\n", i, strerrorname_np(errno)); break; }
        ok++;
    }
    SAY("accepted %d\n", ok);
    for (int i = 0; i < ok; i++) {
        char b[8] = {0}, want[8];
        snprintf(want, sizeof want, "%d", i);
        ssize_t n = 0;
        for (int k = 0; k < 100 && n < (ssize_t)strlen(want); k++) {
            ssize_t m = read(ss[i], b + n, strlen(want) - n);
            if (m <= 0) break;
            n += m;
        }
        if (n == (ssize_t)strlen(want) && !strcmp(b, want)) echoed++;
    }
    SAY("in order %d\n", echoed);
    struct pollfd *p = calloc(ok, sizeof *p);
    for (int i = 0; i < ok; i++) { p[i].fd = ss[i]; p[i].events = POLLIN; }
    RES("poll 1000 none ready", poll(p, ok, 0));
    close(sync[1]);
    int st;
    waitpid(pid, &st, 0);
    SAY("client exit %d\n", WEXITSTATUS(st));
    RES("poll 1000 all closed", poll(p, ok, 1000));
    for (int i = 0; i < ok; i++) close(ss[i]);
    close(l);
    /* Connection churn to a closed port costs nothing that stays. */
    int refused = 0;
    struct sockaddr_in d = lo4(port);
    for (int i = 0; i < 3000; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&d, sizeof d) < 0 && errno == ECONNREFUSED) refused++;
        close(c);
    }
    SAY("refused %d\n", refused);
}

static uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x; }

static void big(void) {
    const long total = 100L << 20;
    int c, s;
    pair(&c, &s);
    pid_t pid = fork();
    if (pid == 0) {
        close(s);
        static uint64_t buf[1 << 15];
        uint64_t k = 0;
        for (long done = 0; done < total;) {
            for (size_t i = 0; i < sizeof buf / 8; i++) buf[i] = mix(k++);
            long want = total - done < (long)sizeof buf ? total - done : (long)sizeof buf;
            char *p = (char *)buf;
            while (want > 0) {
                ssize_t n = write(c, p, want);
                if (n <= 0) { perror("write"); _exit(1); }
                p += n; want -= n; done += n;
            }
        }
        close(c);
        _exit(0);
    }
    close(c);
    static unsigned char buf[1 << 16];
    long got = 0;
    uint64_t sum = 0, k = 0;
    uint64_t cur = 0;
    int idx = 8;
    int bad = 0;
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n < 0) { perror("read"); break; }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (idx == 8) { cur = mix(k++); idx = 0; }
            unsigned char want = (cur >> (8 * idx)) & 0xff;
            idx++;
            if (buf[i] != want) bad++;
            sum = sum * 31 + buf[i];
        }
        got += n;
    }
    int st;
    waitpid(pid, &st, 0);
    SAY("received %ld bytes, %d wrong, checksum %016llx, writer status %d\n", got, bad,
        (unsigned long long)sum, WEXITSTATUS(st));
    close(s);
}

static void forkecho(void) {
    int l = listener(0);
    int port = port_of(l);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 3; i++) {
            int s = accept(l, NULL, NULL);
            if (fork() == 0) {
                close(l);
                char b[256];
                ssize_t n;
                while ((n = read(s, b, sizeof b)) > 0) write(s, b, n);
                _exit(0);
            }
            close(s);
        }
        while (wait(NULL) > 0) {}
        _exit(0);
    }
    close(l);
    for (int i = 0; i < 3; i++) {
        int c = connect_to(port);
        char msg[32], back[32] = {0};
        snprintf(msg, sizeof msg, "client %d says hi", i);
        write(c, msg, strlen(msg));
        shutdown(c, SHUT_WR);
        size_t got = 0;
        ssize_t n;
        while ((n = read(c, back + got, sizeof back - 1 - got)) > 0) got += n;
        SAY("echo %d: '%s'\n", i, back);
        close(c);
    }
    int st;
    waitpid(pid, &st, 0);
    SAY("server exit %d\n", WEXITSTATUS(st));
}

static void procnet(void) {
    int l = listener(0);
    char want[64];
    snprintf(want, sizeof want, "0100007F:%04X 00000000:0000 0A", port_of(l));
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int found = 0, header = 0, first = 1;
    while (f && fgets(line, sizeof line, f)) {
        if (first) { header = strstr(line, "local_address rem_address   st tx_queue") != NULL; first = 0; }
        if (strstr(line, want)) found = 1;
    }
    if (f) fclose(f);
    SAY("tcp header %d listener line %d\n", header, found);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0);
    bind(u, (struct sockaddr *)&a, sizeof a);
    snprintf(want, sizeof want, "0100007F:%04X 00000000:0000 07", port_of(u));
    f = fopen("/proc/net/udp", "r");
    found = 0;
    while (f && fgets(line, sizeof line, f)) if (strstr(line, want)) found = 1;
    if (f) fclose(f);
    SAY("udp line %d\n", found);
    f = fopen("/proc/net/dev", "r");
    found = 0;
    while (f && fgets(line, sizeof line, f)) if (strstr(line, "    lo:")) found = 1;
    if (f) fclose(f);
    SAY("dev lo %d\n", found);
    f = fopen("/proc/net/if_inet6", "r");
    found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "00000000000000000000000000000001 01 80 10 80       lo")) found = 1;
    if (f) fclose(f);
    SAY("if_inet6 lo %d\n", found);
    close(l); close(u);
}

/* Sandbox only: the host's ping_group_range may forbid ping sockets, and the sandbox refuses
 * what Linux does not (raw sockets, urgent data). */
static void ping(void) {
    int p = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (p < 0) { SAY("ping socket: %s\n", strerrorname_np(errno)); return; }
    struct sockaddr_in to = lo4(0);
    struct icmphdr h = {.type = ICMP_ECHO, .un.echo.sequence = htons(1)};
    char pkt[sizeof h + 4];
    memcpy(pkt, &h, sizeof h);
    memcpy(pkt + sizeof h, "ping", 4);
    RES("send echo", sendto(p, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to));
    char rep[64];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    RES("recv reply", recvfrom(p, rep, sizeof rep, 0, (struct sockaddr *)&from, &fl));
    struct icmphdr *r = (struct icmphdr *)rep;
    SAY("reply type %d code %d seq %d id matches %d from %s payload '%.4s'\n", r->type, r->code,
        ntohs(r->un.echo.sequence), ntohs(r->un.echo.id) == port_of(p), addr_str(&from), rep + 8);
    h.type = 3;
    RES("send non-echo", sendto(p, &h, sizeof h, 0, (struct sockaddr *)&to, sizeof to));
    RES("send short", sendto(p, &h, 4, 0, (struct sockaddr *)&to, sizeof to));
    RES("raw socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    close(p);
    /* Urgent data is refused (Linux would send it). */
    int c, s;
    pair(&c, &s);
    RES("send MSG_OOB", send(c, "x", 1, MSG_OOB));
    close(c); close(s);
    int p6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
    struct sockaddr_in6 t6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    unsigned char e6[12] = {128, 0, 0, 0, 0, 0, 0, 7, 'v', '6', 'v', '6'};
    RES("send echo6", sendto(p6, e6, sizeof e6, 0, (struct sockaddr *)&t6, sizeof t6));
    RES("recv reply6", recv(p6, rep, sizeof rep, 0));
    SAY("reply6 type %d seq %d payload '%.4s'\n", (unsigned char)rep[0], rep[7], rep + 8);
    close(p6);
}

static void more(void) {
    /* readv/writev and sendmsg with several iovecs on TCP. */
    int c, s;
    pair(&c, &s);
    struct iovec w[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    RES("writev", writev(c, w, 3));
    char x[3] = {0}, y[8] = {0};
    struct iovec r[2] = {{x, 2}, {y, sizeof y}};
    wait_readable(s);
    usleep(20000);
    RES("readv", readv(s, r, 2));
    SAY("readv '%s' '%s'\n", x, y);
    struct msghdr m = {.msg_iov = w, .msg_iovlen = 3};
    RES("sendmsg", sendmsg(c, &m, 0));
    RES("recv all", recv(s, y, sizeof y, MSG_WAITALL | MSG_DONTWAIT));
    RES("sendto on tcp ignores address", ({ struct sockaddr_in o = lo4(1);
        sendto(c, "z", 1, 0, (struct sockaddr *)&o, sizeof o); }));
    close(c); close(s);
    /* A listener's port is free again once it is closed (with SO_REUSEADDR). */
    int l = listener(0), port = port_of(l);
    pair(&c, &s);
    close(l);
    int l2 = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = lo4(port);
    RES("rebind closed listener port", bind(l2, (struct sockaddr *)&a, sizeof a));
    RES("listen again", listen(l2, 1));
    close(l2); close(c); close(s);
    /* UDP: peek, mmsg, connect sets the source address, v6only UDP. */
    int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
    a = lo4(0);
    bind(u, (struct sockaddr *)&a, sizeof a);
    struct sockaddr_in to = lo4(port_of(u));
    RES("connect udp", connect(v, (struct sockaddr *)&to, sizeof to));
    show_name("udp connected name", v, 0);
    struct mmsghdr mm[3];
    struct iovec iv[3] = {{"m1", 2}, {"msg2", 4}, {"3", 1}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) { mm[i].msg_hdr.msg_iov = &iv[i]; mm[i].msg_hdr.msg_iovlen = 1; }
    RES("sendmmsg", sendmmsg(v, mm, 3, 0));
    char pk[8] = {0};
    RES("peek dgram", recv(u, pk, sizeof pk, MSG_PEEK));
    SAY("peeked '%s'\n", pk);
    char b0[8] = {0}, b1[8] = {0}, b2[8] = {0};
    struct iovec ri[3] = {{b0, 8}, {b1, 8}, {b2, 8}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) { mm[i].msg_hdr.msg_iov = &ri[i]; mm[i].msg_hdr.msg_iovlen = 1; }
    RES("recvmmsg", recvmmsg(u, mm, 3, MSG_DONTWAIT, NULL));
    SAY("mmsg '%s' %u '%s' %u '%s' %u\n", b0, mm[0].msg_len, b1, mm[1].msg_len, b2, mm[2].msg_len);
    /* A small receive buffer drops what does not fit. */
    int sz = 1;
    setsockopt(u, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    SAY("rcvbuf min %d\n", geti(u, SOL_SOCKET, SO_RCVBUF));
    static char blob[1000];
    int sent = 0, got = 0;
    for (int i = 0; i < 100; i++) if (send(v, blob, sizeof blob, 0) == sizeof blob) sent++;
    while (recv(u, blob, sizeof blob, MSG_DONTWAIT) > 0) got++;
    SAY("sent %d, some dropped %d, some kept %d\n", sent, got < sent, got > 0);
    close(u); close(v);
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    setsockopt(u6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    bind(u6, (struct sockaddr *)&any6, sizeof any6);
    int u4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in t4 = lo4(port_of(u6));
    RES("v4 to v6only udp", sendto(u4, "x", 1, 0, (struct sockaddr *)&t4, sizeof t4));
    RES("v6only got nothing", recv(u6, pk, sizeof pk, MSG_DONTWAIT));
    close(u6); close(u4);
    /* fstat of a socket. */
    struct stat st;
    int t = socket(AF_INET, SOCK_STREAM, 0);
    fstat(t, &st);
    SAY("fstat sock %d mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    SAY("fcntl flags %#x\n", fcntl(t, F_GETFL));
    close(t);
}

static int thr_port;
static void *thr_client(void *arg) {
    long ok = 0;
    for (int i = 0; i < 100; i++) {
        int c = connect_to(thr_port);
        char msg[32], back[32] = {0};
        int n = snprintf(msg, sizeof msg, "t%ld-%d", (long)arg, i);
        write(c, msg, n);
        int got = 0;
        while (got < n) { ssize_t r = read(c, back + got, n - got); if (r <= 0) break; got += r; }
        if (got == n && !memcmp(msg, back, n)) ok++;
        close(c);
    }
    return (void *)ok;
}

static void *thr_server(void *arg) {
    int l = (int)(long)arg;
    for (;;) {
        int s = accept(l, NULL, NULL);
        if (s < 0) return NULL;
        char b[64];
        ssize_t n = read(s, b, sizeof b);
        if (n > 0) write(s, b, n);
        close(s);
    }
}

/* Threads of one process use the stack at once: 4 servers on one listener, 8 clients. */
static void threads(void) {
    int l = listener(0);
    thr_port = port_of(l);
    pthread_t sv[4], cl[8];
    for (long i = 0; i < 4; i++) pthread_create(&sv[i], NULL, thr_server, (void *)(long)l);
    for (long i = 0; i < 8; i++) pthread_create(&cl[i], NULL, thr_client, (void *)i);
    long total = 0;
    for (int i = 0; i < 8; i++) { void *r; pthread_join(cl[i], &r); total += (long)r; }
    SAY("echoed %ld of 800\n", total);
    shutdown(l, SHUT_RDWR);
    for (int i = 0; i < 4; i++) pthread_join(sv[i], NULL);
    SAY("servers stopped\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *w = argc > 1 ? argv[1] : "basics";
    if (!strcmp(w, "basics")) basics();
    else if (!strcmp(w, "options")) options();
    else if (!strcmp(w, "nonblock")) nonblock();
    else if (!strcmp(w, "refused")) refused();
    else if (!strcmp(w, "reset")) reset();
    else if (!strcmp(w, "halfclose")) halfclose();
    else if (!strcmp(w, "epipe")) epipe();
    else if (!strcmp(w, "flags")) flags();
    else if (!strcmp(w, "udp")) udp();
    else if (!strcmp(w, "v6")) v6();
    else if (!strcmp(w, "epoll")) epoll_check();
    else if (!strcmp(w, "many")) many();
    else if (!strcmp(w, "big")) big();
    else if (!strcmp(w, "forkecho")) forkecho();
    else if (!strcmp(w, "procnet")) procnet();
    else if (!strcmp(w, "ping")) ping();
    else if (!strcmp(w, "more")) more();
    else if (!strcmp(w, "threads")) threads();
    else { fprintf(stderr, "unknown check %s\n", w); return 2; }
    return 0;
}
