/* A program on a pod's eth0 (issue 14): run natively in a network
 * namespace with a veth pair, and in the sandbox with --network=sandbox;
 * both must print the same. The host end of the link is the default
 * gateway (read from /proc/net/route); the test runs there a TCP echo and
 * control server (argv[1]), a UDP echo server (argv[2]), a closed UDP
 * port (argv[3]) and a TCP listener on the host's 127.0.0.1 (argv[4]).
 *
 * Prints: the interface as ioctls see it, a TCP exchange out (1 MiB
 * echoed), a connection in (the host connects back to a port we listen
 * on), UDP echo, ICMP port unreachable as ECONNREFUSED, and that the
 * host's loopback is out of reach. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAGAIN: return "EAGAIN";
    default: return strerror(e);
    }
}

static struct in_addr gateway(void) {
    struct in_addr a = {0};
    FILE *f = fopen("/proc/net/route", "r");
    char line[256];
    if (!f) return a;
    while (fgets(line, sizeof line, f)) {
        char dev[32];
        unsigned dst, gw;
        if (sscanf(line, "%31s %x %x", dev, &dst, &gw) == 3 && dst == 0 && gw) {
            a.s_addr = gw;
            break;
        }
    }
    fclose(f);
    return a;
}

static struct sockaddr_in to(struct in_addr a, int port) {
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a};
    return s;
}

static void timeouts(int fd) {
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int readn(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    int tcp_port = atoi(argv[1]), udp_port = atoi(argv[2]), closed = atoi(argv[3]),
        lo_port = atoi(argv[4]);
    setvbuf(stdout, NULL, _IONBF, 0);
    struct in_addr gw = gateway();
    printf("default route: %s\n", gw.s_addr ? "yes" : "no");

    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    int r = ioctl(s, SIOCGIFMTU, &ifr);
    printf("SIOCGIFMTU: %d mtu %d\n", r, ifr.ifr_mtu);
    r = ioctl(s, SIOCGIFHWADDR, &ifr);
    printf("SIOCGIFHWADDR: %d family %d\n", r, ifr.ifr_hwaddr.sa_family);
    r = ioctl(s, SIOCGIFFLAGS, &ifr);
    printf("SIOCGIFFLAGS: %d up %d\n", r, !!(ifr.ifr_flags & IFF_UP));
    ioctl(s, SIOCGIFADDR, &ifr);
    struct in_addr me = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
    printf("if_nametoindex(eth0) > 1: %d\n", if_nametoindex("eth0") > 1);
    close(s);

    /* TCP out. */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    timeouts(c);
    struct sockaddr_in a = to(gw, tcp_port);
    printf("connect out: %d\n", connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    getsockname(c, (struct sockaddr *)&local, &len);
    printf("source is eth0's address: %d\n", local.sin_addr.s_addr == me.s_addr);
    static char big[1 << 20], back[1 << 20];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + 3);
    int ok = write(c, big, sizeof big) == sizeof big && readn(c, back, sizeof back) == 0 &&
             memcmp(big, back, sizeof big) == 0;
    printf("1 MiB echoed: %d\n", ok);

    /* TCP in: a listener; the host connects back. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET};
    bind(l, (struct sockaddr *)&any, sizeof any);
    listen(l, 4);
    len = sizeof any;
    getsockname(l, (struct sockaddr *)&any, &len);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "LISTEN %d\n", ntohs(any.sin_port));
    write(c, msg, n);
    struct sockaddr_in peer;
    len = sizeof peer;
    int in = accept(l, (struct sockaddr *)&peer, &len);
    printf("accepted: %d, from the gateway: %d\n", in >= 0, peer.sin_addr.s_addr == gw.s_addr);
    char buf[64] = {0};
    timeouts(in);
    n = read(in, buf, sizeof buf - 1);
    printf("inbound said: %.*s\n", n > 0 ? n : 0, buf);
    close(in);
    close(l);
    close(c);

    /* UDP echo. */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    timeouts(u);
    a = to(gw, udp_port);
    connect(u, (struct sockaddr *)&a, sizeof a);
    send(u, "dgram", 5, 0);
    memset(buf, 0, sizeof buf);
    n = recv(u, buf, sizeof buf - 1, 0);
    printf("udp echo: %d %s\n", n, buf);
    close(u);

    /* A closed UDP port: ICMP port unreachable. */
    u = socket(AF_INET, SOCK_DGRAM, 0);
    timeouts(u);
    a = to(gw, closed);
    connect(u, (struct sockaddr *)&a, sizeof a);
    send(u, "x", 1, 0);
    n = recv(u, buf, sizeof buf, 0);
    printf("udp to a closed port: %d %s\n", n, n < 0 ? ename(errno) : "");
    close(u);

    /* The host's loopback: not reachable, neither as 127.0.0.1 (that is
     * our own loopback) nor through the gateway. */
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    c = socket(AF_INET, SOCK_STREAM, 0);
    timeouts(c);
    a = to(lo, lo_port);
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    printf("connect 127.0.0.1:host port: %d %s\n", r, r < 0 ? ename(errno) : "");
    close(c);
    c = socket(AF_INET, SOCK_STREAM, 0);
    timeouts(c);
    a = to(gw, lo_port);
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    printf("connect gateway:loopback-only port: %d %s\n", r, r < 0 ? ename(errno) : "");
    close(c);

    /* No route (no default route on this family). */
    c = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    r = connect(c, (struct sockaddr *)&a6, sizeof a6);
    printf("connect 2001:db8::1: %d %s\n", r, r < 0 ? ename(errno) : "");
    return 0;
}
