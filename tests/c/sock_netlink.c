/* Netlink route sockets, interface ioctls, /proc/net and /sys/class/net as a program with only
 * the loopback interface sees them. Runs natively inside a fresh network namespace (lo up) and
 * sandboxed; prints one line per check so a diff names what differs. Volatile values (counters,
 * time stamps, inode numbers, port ids other than the first) are left out or reduced to their
 * presence.
 *
 *   sock_netlink [all|socket|dump|ifaddrs|ioctl|inet|procnet|sysfs]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) {
    static char b[64];
    if (r >= 0) {
        snprintf(b, sizeof b, "%ld", r);
        return b;
    }
    snprintf(b, sizeof b, "-1 %s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return b;
}

static unsigned seq = 100;
static unsigned myport;

static int nl_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        printf("socket: %s\n", err(-1));
        exit(1);
    }
    struct sockaddr_nl a = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("bind: %s\n", err(-1));
        exit(1);
    }
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    myport = a.nl_pid;
    return fd;
}

static int send_req(int fd, int type, int flags, const void *body, int blen) {
    char buf[512];
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(blen);
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = ++seq;
    memcpy(NLMSG_DATA(h), body, blen);
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    return sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&k, sizeof k);
}

static void put_addr(int family, const void *p, char *out, size_t n) {
    if (!inet_ntop(family, p, out, n))
        snprintf(out, n, "?");
}

/* One attribute, if it is one printed for this message type. */
static void show_attr(int msgtype, int family, struct rtattr *a) {
    int t = a->rta_type & NLA_TYPE_MASK, len = RTA_PAYLOAD(a);
    unsigned char *d = RTA_DATA(a);
    char s[64];
    unsigned u32 = len >= 4 ? *(unsigned *)d : 0;
    if (msgtype == RTM_NEWLINK) {
        switch (t) {
        case IFLA_IFNAME: printf("  IFLA_IFNAME %s\n", (char *)d); break;
        case IFLA_QDISC: printf("  IFLA_QDISC %s\n", (char *)d); break;
        case IFLA_MTU: printf("  IFLA_MTU %u\n", u32); break;
        case IFLA_TXQLEN: printf("  IFLA_TXQLEN %u\n", u32); break;
        case IFLA_MIN_MTU: printf("  IFLA_MIN_MTU %u\n", u32); break;
        case IFLA_MAX_MTU: printf("  IFLA_MAX_MTU %u\n", u32); break;
        case IFLA_GROUP: printf("  IFLA_GROUP %u\n", u32); break;
        case IFLA_PROMISCUITY: printf("  IFLA_PROMISCUITY %u\n", u32); break;
        case IFLA_NUM_TX_QUEUES: printf("  IFLA_NUM_TX_QUEUES %u\n", u32); break;
        case IFLA_NUM_RX_QUEUES: printf("  IFLA_NUM_RX_QUEUES %u\n", u32); break;
        case IFLA_GSO_MAX_SEGS: printf("  IFLA_GSO_MAX_SEGS %u\n", u32); break;
        case IFLA_GSO_MAX_SIZE: printf("  IFLA_GSO_MAX_SIZE %u\n", u32); break;
        case IFLA_OPERSTATE: printf("  IFLA_OPERSTATE %u\n", d[0]); break;
        case IFLA_LINKMODE: printf("  IFLA_LINKMODE %u\n", d[0]); break;
        case IFLA_CARRIER: printf("  IFLA_CARRIER %u\n", d[0]); break;
        case IFLA_PROTO_DOWN: printf("  IFLA_PROTO_DOWN %u\n", d[0]); break;
        case IFLA_ADDRESS:
        case IFLA_BROADCAST:
            printf("  %s len %d", t == IFLA_ADDRESS ? "IFLA_ADDRESS" : "IFLA_BROADCAST", len);
            for (int i = 0; i < len; i++)
                printf(" %02x", d[i]);
            printf("\n");
            break;
        case IFLA_STATS: printf("  IFLA_STATS present\n"); break;
        case IFLA_STATS64: printf("  IFLA_STATS64 present\n"); break;
        case IFLA_MAP: printf("  IFLA_MAP len %d\n", len); break;
        }
    } else if (msgtype == RTM_NEWADDR) {
        switch (t) {
        case IFA_ADDRESS: put_addr(family, d, s, sizeof s); printf("  IFA_ADDRESS %s\n", s); break;
        case IFA_LOCAL: put_addr(family, d, s, sizeof s); printf("  IFA_LOCAL %s\n", s); break;
        case IFA_BROADCAST: put_addr(family, d, s, sizeof s); printf("  IFA_BROADCAST %s\n", s); break;
        case IFA_LABEL: printf("  IFA_LABEL %s\n", (char *)d); break;
        case IFA_FLAGS: printf("  IFA_FLAGS 0x%x\n", u32); break;
        case IFA_CACHEINFO: {
            struct ifa_cacheinfo *c = (void *)d;
            printf("  IFA_CACHEINFO pref %u valid %u\n", c->ifa_prefered, c->ifa_valid);
            break;
        }
        }
    } else if (msgtype == RTM_NEWROUTE) {
        switch (t) {
        case RTA_TABLE: printf("  RTA_TABLE %u\n", u32); break;
        case RTA_DST: put_addr(family, d, s, sizeof s); printf("  RTA_DST %s\n", s); break;
        case RTA_PREFSRC: put_addr(family, d, s, sizeof s); printf("  RTA_PREFSRC %s\n", s); break;
        case RTA_GATEWAY: put_addr(family, d, s, sizeof s); printf("  RTA_GATEWAY %s\n", s); break;
        case RTA_OIF: printf("  RTA_OIF %u\n", u32); break;
        case RTA_PRIORITY: printf("  RTA_PRIORITY %u\n", u32); break;
        case RTA_PREF: printf("  RTA_PREF %u\n", d[0]); break;
        }
    }
}

static int cmp_type(const void *x, const void *y) {
    const struct rtattr *a = *(struct rtattr *const *)x, *b = *(struct rtattr *const *)y;
    return (a->rta_type & NLA_TYPE_MASK) - (b->rta_type & NLA_TYPE_MASK);
}

/* Prints the attributes after `hdrlen` bytes of body, sorted by type. */
static void show_attrs(struct nlmsghdr *h, int hdrlen, int family) {
    struct rtattr *list[128];
    int n = 0;
    int len = h->nlmsg_len - NLMSG_LENGTH(hdrlen);
    for (struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
         RTA_OK(a, len) && n < 128; a = RTA_NEXT(a, len))
        list[n++] = a;
    qsort(list, n, sizeof list[0], cmp_type);
    for (int i = 0; i < n; i++)
        show_attr(h->nlmsg_type, family, list[i]);
}

/* Receives replies until NLMSG_DONE or an error; prints them. Returns the number of messages. */
static int show_replies(int fd, int want_done) {
    int count = 0, first = 1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1) {
            printf(" (no more replies)\n");
            return count;
        }
        /* Size the buffer as iproute2 does: peek with MSG_TRUNC. */
        ssize_t want = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
        if (want <= 0) {
            printf(" peek: %s\n", err(want));
            return count;
        }
        char *buf = malloc(want);
        struct sockaddr_nl from;
        struct iovec iov = {buf, want};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &m, 0);
        if (n != want)
            printf(" recvmsg %zd != peeked %zd\n", n, want);
        /* Only the first datagram: how Linux splits a dump between datagrams varies. */
        if (first)
            printf(" datagram from pid %u groups %u namelen %u flags 0x%x\n", from.nl_pid,
                   from.nl_groups, m.msg_namelen, m.msg_flags);
        first = 0;
        int done = 0;
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            count++;
            printf(" msg type %u flags 0x%x seq-ok %d pid-ok %d\n", h->nlmsg_type, h->nlmsg_flags,
                   h->nlmsg_seq == seq, h->nlmsg_pid == myport);
            if (h->nlmsg_type == NLMSG_DONE) {
                printf("  done len %u value %d\n", h->nlmsg_len, *(int *)NLMSG_DATA(h));
                done = 1;
            } else if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                printf("  error %d (%s) len %u orig type %u\n", e->error,
                       e->error ? strerrorname_np(-e->error) : "ack", h->nlmsg_len, e->msg.nlmsg_type);
                done = 1;
            } else if (h->nlmsg_type == RTM_NEWLINK) {
                struct ifinfomsg *i = NLMSG_DATA(h);
                printf("  link family %u type %u index %d flags 0x%x change 0x%x\n", i->ifi_family,
                       i->ifi_type, i->ifi_index, i->ifi_flags, i->ifi_change);
                show_attrs(h, sizeof *i, 0);
            } else if (h->nlmsg_type == RTM_NEWADDR) {
                struct ifaddrmsg *a = NLMSG_DATA(h);
                printf("  addr family %u prefixlen %u flags 0x%x scope %u index %u\n", a->ifa_family,
                       a->ifa_prefixlen, a->ifa_flags, a->ifa_scope, a->ifa_index);
                show_attrs(h, sizeof *a, a->ifa_family);
            } else if (h->nlmsg_type == RTM_NEWROUTE) {
                struct rtmsg *r = NLMSG_DATA(h);
                printf("  route family %u dst_len %u src_len %u tos %u table %u proto %u scope %u type %u flags 0x%x\n",
                       r->rtm_family, r->rtm_dst_len, r->rtm_src_len, r->rtm_tos, r->rtm_table,
                       r->rtm_protocol, r->rtm_scope, r->rtm_type, r->rtm_flags);
                show_attrs(h, sizeof *r, r->rtm_family);
            }
        }
        free(buf);
        if (done || !want_done)
            return count;
    }
}

static void dump(int fd, const char *label, int type, int family, int flags) {
    struct ifinfomsg body = {.ifi_family = family};
    int r = send_req(fd, type, NLM_F_REQUEST | flags, &body, sizeof body);
    printf("%s: send %s\n", label, err(r));
    show_replies(fd, 1);
}

static void expect_nothing(int fd, const char *label) {
    char b[64];
    ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
    printf("%s: recv %s\n", label, err(r));
}

static void test_socket(void) {
    printf("stream: %s\n", err(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE)));
    printf("seqpacket: %s\n", err(socket(AF_NETLINK, SOCK_SEQPACKET, NETLINK_ROUTE)));
    printf("proto 99: %s\n", err(socket(AF_NETLINK, SOCK_RAW, 99)));
    printf("proto -1: %s\n", err(socket(AF_NETLINK, SOCK_RAW, -1)));
    printf("proto 31: %s\n", err(socket(AF_NETLINK, SOCK_RAW, 31)));
    int d = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
    printf("dgram: %s\n", d >= 0 ? "ok" : err(d));
    close(d);

    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sockaddr_nl a;
    socklen_t l = sizeof a;
    memset(&a, 0xff, sizeof a);
    int r = getsockname(fd, (struct sockaddr *)&a, &l);
    printf("unbound name: %s len %u family %u pid %u groups %u\n", err(r), l, a.nl_family, a.nl_pid,
           a.nl_groups);
    l = sizeof a;
    r = getpeername(fd, (struct sockaddr *)&a, &l);
    printf("peername: %s len %u pid %u\n", err(r), l, a.nl_pid);
    struct sockaddr_nl b = {.nl_family = AF_NETLINK};
    printf("bind short: %s\n", err(bind(fd, (struct sockaddr *)&b, 8)));
    b.nl_family = AF_UNIX;
    printf("bind wrong family: %s\n", err(bind(fd, (struct sockaddr *)&b, sizeof b)));
    b.nl_family = AF_NETLINK;
    printf("bind 0: %s\n", err(bind(fd, (struct sockaddr *)&b, sizeof b)));
    l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    printf("bound: pid is getpid %d groups %u\n", a.nl_pid == (unsigned)getpid(), a.nl_groups);
    printf("bind again same: %s\n", err(bind(fd, (struct sockaddr *)&a, sizeof a)));
    b.nl_pid = 12345;
    printf("bind again other: %s\n", err(bind(fd, (struct sockaddr *)&b, sizeof b)));
    int fd2 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    printf("bind taken: %s\n", err(bind(fd2, (struct sockaddr *)&a, sizeof a)));
    b.nl_pid = 0;
    printf("bind2 0: %s\n", err(bind(fd2, (struct sockaddr *)&b, sizeof b)));
    l = sizeof b;
    getsockname(fd2, (struct sockaddr *)&b, &l);
    printf("second port differs: %d\n", b.nl_pid != a.nl_pid);
    close(fd2);

    int v = -1;
    l = sizeof v;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l);
    printf("SO_TYPE %d\n", v);
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l);
    printf("SO_PROTOCOL %d\n", v);
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l);
    printf("SO_DOMAIN %d\n", v);
    r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l);
    printf("SO_ERROR %s %d\n", err(r), v);
    v = 1;
    printf("NETLINK_EXT_ACK set: %s\n", err(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v)));
    v = -1;
    l = sizeof v;
    r = getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &l);
    printf("NETLINK_EXT_ACK get: %s %d\n", err(r), v);
    v = 0;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v);
    v = RTNLGRP_LINK;
    printf("add membership: %s\n", err(setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, sizeof v)));
    v = 0;
    printf("add membership 0: %s\n", err(setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, sizeof v)));
    v = 5000;
    printf("add membership 5000: %s\n", err(setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, sizeof v)));
    l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    printf("groups now %u\n", a.nl_groups);
    printf("bad sol_netlink opt: %s\n", err(setsockopt(fd, SOL_NETLINK, 99, &v, sizeof v)));
    printf("listen: %s\n", err(listen(fd, 1)));
    printf("accept: %s\n", err(accept(fd, NULL, NULL)));
    printf("shutdown: %s\n", err(shutdown(fd, SHUT_RDWR)));
    int n = 0;
    printf("FIONREAD: %s\n", err(ioctl(fd, FIONREAD, &n)));

    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
    r = poll(&p, 1, 0);
    printf("poll idle: %d revents 0x%x\n", r, p.revents);
    expect_nothing(fd, "idle");
    myport = a.nl_pid;
    struct ifinfomsg body = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &body, sizeof body);
    p.revents = 0;
    r = poll(&p, 1, 0);
    printf("poll after request: %d revents 0x%x\n", r, p.revents);
    /* A short buffer: truncated, MSG_TRUNC reports the real length, the rest is gone. */
    char small[16];
    ssize_t full = recv(fd, small, sizeof small, MSG_PEEK | MSG_TRUNC);
    ssize_t peeked = recv(fd, small, sizeof small, MSG_PEEK);
    printf("peek trunc > 16: %d peek: %zd\n", full > 16, peeked);
    struct iovec iov = {small, sizeof small};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t got = recvmsg(fd, &m, 0);
    printf("short recvmsg: %zd flags 0x%x\n", got, m.msg_flags);
    expect_nothing(fd, "after truncation");

    /* Unknown message type, a type above RTM_MAX, a non-request, a no-op with ack. */
    send_req(fd, 0x7ff, NLM_F_REQUEST, &body, sizeof body);
    printf("type 0x7ff:\n");
    show_replies(fd, 1);
    send_req(fd, RTM_GETLINK, 0, &body, sizeof body);
    expect_nothing(fd, "not a request");
    send_req(fd, RTM_GETLINK, NLM_F_ACK, &body, sizeof body);
    printf("not a request, ack:\n");
    show_replies(fd, 1);
    send_req(fd, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, &body, sizeof body);
    printf("noop ack:\n");
    show_replies(fd, 1);
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &body, 0);
    expect_nothing(fd, "empty getlink");
    /* A header only, shorter than a header, one with a length past the data. */
    struct nlmsghdr h = {.nlmsg_len = 8, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST};
    printf("short header send: %s\n", err(send(fd, &h, sizeof h, 0)));
    expect_nothing(fd, "short header");
    h.nlmsg_len = 4000;
    printf("long header send: %s\n", err(send(fd, &h, sizeof h, 0)));
    expect_nothing(fd, "long header");
    printf("send 3 bytes: %s\n", err(send(fd, "abc", 3, 0)));
    printf("send MSG_OOB: %s\n", err(send(fd, &h, sizeof h, MSG_OOB)));
    printf("recv MSG_OOB: %s\n", err(recv(fd, small, sizeof small, MSG_OOB | MSG_DONTWAIT)));
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = 999999};
    h.nlmsg_len = sizeof h;
    printf("send to missing port: %s\n", err(sendto(fd, &h, sizeof h, 0, (struct sockaddr *)&to, sizeof to)));
    to.nl_family = AF_INET;
    printf("send to inet: %s\n", err(sendto(fd, &h, sizeof h, 0, (struct sockaddr *)&to, sizeof to)));

    /* Requests that change things, without CAP_NET_ADMIN in the effective set. */
    pid_t c = fork();
    if (c == 0) {
        struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct cd[2];
        if (syscall(SYS_capget, &ch, cd))
            _exit(1);
        cd[0].effective = cd[1].effective = 0;
        if (syscall(SYS_capset, &ch, cd))
            _exit(1);
        struct ifinfomsg up = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
        send_req(fd, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &up, sizeof up);
        printf("newlink unprivileged:\n");
        show_replies(fd, 1);
        struct ifaddrmsg am = {.ifa_family = AF_INET, .ifa_prefixlen = 8, .ifa_index = 1};
        send_req(fd, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, &am, sizeof am);
        printf("newaddr unprivileged:\n");
        show_replies(fd, 1);
        send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &up, sizeof up);
        printf("dump unprivileged: %d messages\n", show_replies(fd, 1));
        struct ifreq ifr = {0};
        strcpy(ifr.ifr_name, "lo");
        ifr.ifr_mtu = 1500;
        printf("SIOCSIFMTU unprivileged: %s\n", err(ioctl(fd, SIOCSIFMTU, &ifr)));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);

    /* A second socket talks to the first one directly. */
    int fd3 = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
    to.nl_family = AF_NETLINK;
    to.nl_pid = myport;
    printf("user to user: %s\n", err(sendto(fd3, "hello", 5, 0, (struct sockaddr *)&to, sizeof to)));
    struct sockaddr_nl from;
    socklen_t fl = sizeof from;
    char rb[16] = {0};
    r = recvfrom(fd, rb, sizeof rb, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    l = sizeof b;
    getsockname(fd3, (struct sockaddr *)&b, &l);
    printf("got %s '%s' from sender %d\n", err(r), rb, from.nl_pid == b.nl_pid && b.nl_pid != 0);
    close(fd3);

    /* read(2) and write(2) are recv and send. */
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } wreq = {.h = {.nlmsg_len = sizeof wreq, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST,
                    .nlmsg_seq = ++seq},
              .i = {.ifi_index = 1}};
    printf("write request: %s\n", err(write(fd, &wreq, sizeof wreq)));
    char big[8192];
    ssize_t rn = read(fd, big, sizeof big);
    printf("read reply: %d type %u\n", rn > (ssize_t)sizeof(struct nlmsghdr),
           rn > 0 ? ((struct nlmsghdr *)big)->nlmsg_type : 0);

    /* A blocking receive is woken by a datagram from another process; a timeout ends one. */
    struct timeval tv = {0, 100000};
    printf("SO_RCVTIMEO: %s\n", err(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)));
    printf("recv timeout: %s\n", err(recv(fd, big, sizeof big, 0)));
    tv.tv_usec = 0;
    tv.tv_sec = 5;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pid_t w = fork();
    if (w == 0) {
        usleep(100000);
        int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
        struct sockaddr_nl dst = {.nl_family = AF_NETLINK, .nl_pid = myport};
        sendto(s, "wake", 4, 0, (struct sockaddr *)&dst, sizeof dst);
        _exit(0);
    }
    rn = recv(fd, big, sizeof big, 0);
    printf("blocking recv: %s '%.4s'\n", err(rn), rn == 4 ? big : "");
    waitpid(w, &st, 0);
    close(fd);
}

static void test_dumps(void) {
    int fd = nl_open();
    dump(fd, "getlink dump", RTM_GETLINK, AF_UNSPEC, NLM_F_DUMP);
    struct ifinfomsg one = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &one, sizeof one);
    printf("getlink 1:\n");
    show_replies(fd, 0);
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &one, sizeof one);
    printf("getlink 1 ack:\n");
    show_replies(fd, 0);
    show_replies(fd, 1);
    one.ifi_index = 99;
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &one, sizeof one);
    printf("getlink 99:\n");
    show_replies(fd, 1);
    /* By name. */
    struct {
        struct ifinfomsg i;
        struct rtattr a;
        char name[8];
    } byname = {.i = {.ifi_family = AF_UNSPEC},
                .a = {.rta_len = RTA_LENGTH(3), .rta_type = IFLA_IFNAME},
                .name = "lo"};
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &byname, sizeof byname);
    printf("getlink lo by name:\n");
    show_replies(fd, 0);
    strcpy(byname.name, "eth9");
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &byname, sizeof byname);
    printf("getlink eth9 by name:\n");
    show_replies(fd, 1);
    dump(fd, "getaddr dump", RTM_GETADDR, AF_UNSPEC, NLM_F_DUMP);
    dump(fd, "getaddr dump inet", RTM_GETADDR, AF_INET, NLM_F_DUMP);
    dump(fd, "getaddr dump inet6", RTM_GETADDR, AF_INET6, NLM_F_DUMP);
    dump(fd, "getroute dump inet", RTM_GETROUTE, AF_INET, NLM_F_DUMP);
    dump(fd, "getroute dump inet6", RTM_GETROUTE, AF_INET6, NLM_F_DUMP);
    dump(fd, "getneigh dump", RTM_GETNEIGH, AF_UNSPEC, NLM_F_DUMP);
    close(fd);
}

static void test_ifaddrs(void) {
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa)) {
        printf("getifaddrs: %s\n", err(-1));
        return;
    }
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
        printf("ifaddr %s family %d flags 0x%x data %d", i->ifa_name, fam, i->ifa_flags,
               i->ifa_data != NULL);
        char s[64];
        if (fam == AF_INET || fam == AF_INET6) {
            const void *p = fam == AF_INET ? (void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                           : (void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            put_addr(fam, p, s, sizeof s);
            printf(" addr %s", s);
            if (i->ifa_netmask) {
                p = fam == AF_INET ? (void *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr
                                   : (void *)&((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
                put_addr(fam, p, s, sizeof s);
                printf(" mask %s", s);
            }
            if (i->ifa_broadaddr && fam == AF_INET) {
                put_addr(fam, &((struct sockaddr_in *)i->ifa_broadaddr)->sin_addr, s, sizeof s);
                printf(" brd %s", s);
            }
        } else if (fam == AF_PACKET) {
            struct sockaddr_ll *ll = (void *)i->ifa_addr;
            printf(" ll index %d hatype %u halen %u", ll->sll_ifindex, ll->sll_hatype, ll->sll_halen);
        }
        printf("\n");
    }
    freeifaddrs(ifa);
    struct if_nameindex *ni = if_nameindex();
    for (struct if_nameindex *p = ni; p && p->if_index; p++)
        printf("nameindex %u %s\n", p->if_index, p->if_name);
    if_freenameindex(ni);
    char name[IF_NAMESIZE] = "";
    printf("if_nametoindex lo %u eth0 %u\n", if_nametoindex("lo"), if_nametoindex("eth0"));
    printf("if_indextoname 1 %s 2 %s\n", if_indextoname(1, name) ? name : "null",
           if_indextoname(2, name) ? name : "null");
}

static void show_ifreq(const char *label, int fd, unsigned long req, const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0x5a, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    int r = ioctl(fd, req, &ifr);
    printf("%s %s: %s", label, name, err(r));
    if (r == 0) {
        printf(" name %s bytes", ifr.ifr_name);
        unsigned char *u = (unsigned char *)&ifr.ifr_ifru;
        for (size_t i = 0; i < sizeof ifr.ifr_ifru; i++)
            printf(" %02x", u[i]);
    }
    printf("\n");
}

static void ioctls(int fd) {
    struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
    int r = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF null: %s len %d\n", err(r), ifc.ifc_len);
    struct ifreq reqs[4];
    memset(reqs, 0x5a, sizeof reqs);
    ifc.ifc_len = sizeof reqs;
    ifc.ifc_req = reqs;
    r = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF: %s len %d", err(r), ifc.ifc_len);
    for (int i = 0; r == 0 && i < ifc.ifc_len / (int)sizeof(struct ifreq); i++) {
        struct sockaddr_in *a = (void *)&reqs[i].ifr_addr;
        printf(" [%s family %d %s zero %d]", reqs[i].ifr_name, a->sin_family, inet_ntoa(a->sin_addr),
               reqs[i].ifr_name[15] == 0);
    }
    printf("\n");
    ifc.ifc_len = 20;
    r = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF small: %s len %d\n", err(r), ifc.ifc_len);
    ifc.ifc_len = -5;
    r = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF negative: %s len %d\n", err(r), ifc.ifc_len);
    printf("SIOCGIFCONF bad pointer: %s\n", err(ioctl(fd, SIOCGIFCONF, (void *)8)));
    show_ifreq("SIOCGIFFLAGS", fd, SIOCGIFFLAGS, "lo");
    show_ifreq("SIOCGIFFLAGS", fd, SIOCGIFFLAGS, "eth7");
    show_ifreq("SIOCGIFMTU", fd, SIOCGIFMTU, "lo");
    show_ifreq("SIOCGIFINDEX", fd, SIOCGIFINDEX, "lo");
    show_ifreq("SIOCGIFINDEX", fd, SIOCGIFINDEX, "nope");
    show_ifreq("SIOCGIFHWADDR", fd, SIOCGIFHWADDR, "lo");
    show_ifreq("SIOCGIFTXQLEN", fd, SIOCGIFTXQLEN, "lo");
    show_ifreq("SIOCGIFMETRIC", fd, SIOCGIFMETRIC, "lo");
    show_ifreq("SIOCGIFMAP", fd, SIOCGIFMAP, "lo");
    show_ifreq("SIOCGIFADDR", fd, SIOCGIFADDR, "lo");
    show_ifreq("SIOCGIFNETMASK", fd, SIOCGIFNETMASK, "lo");
    show_ifreq("SIOCGIFBRDADDR", fd, SIOCGIFBRDADDR, "lo");
    show_ifreq("SIOCGIFADDR", fd, SIOCGIFADDR, "eth7");
    show_ifreq("SIOCGIFFLAGS", fd, SIOCGIFFLAGS, "lo:1");
    for (int idx = 0; idx <= 2; idx++) {
        struct ifreq ifr;
        memset(&ifr, 0x5a, sizeof ifr);
        ifr.ifr_ifindex = idx;
        r = ioctl(fd, SIOCGIFNAME, &ifr);
        printf("SIOCGIFNAME %d: %s", idx, err(r));
        if (r == 0)
            printf(" %s", ifr.ifr_name);
        printf("\n");
    }
    printf("SIOCGIFFLAGS bad pointer: %s\n", err(ioctl(fd, SIOCGIFFLAGS, (void *)8)));
    printf("0x89ff: %s\n", err(ioctl(fd, 0x89ff, (void *)8)));
    printf("0x8938 SIOCGIFCOUNT: %s\n", err(ioctl(fd, 0x8938, (void *)8)));
}

static void test_ioctl(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    ioctls(fd);
    close(fd);
}

/* The same on an AF_INET datagram socket (where SIOCGIFADDR and friends live). */
static void test_inet(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        printf("no inet: %s\n", err(fd));
        return;
    }
    ioctls(fd);
    close(fd);
}

static void cat(const char *path, int all) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: %s\n", path, err(-1));
        return;
    }
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (n == 0 || all)
            printf("%s| %s", path, line);
        n++;
    }
    printf("%s: %d lines\n", path, n);
    fclose(f);
}

static void test_procnet(void) {
    char l[64];
    ssize_t n = readlink("/proc/net", l, sizeof l - 1);
    l[n > 0 ? n : 0] = 0;
    printf("/proc/net -> %s\n", l);
    static const char *const files[] = {"tcp", "tcp6", "udp", "udp6", "unix", "raw", "raw6",
                                        "icmp", "icmp6", "packet", "route"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/net/%s", files[i]);
        cat(p, 0);
    }
    cat("/proc/self/net/if_inet6", 1);
    cat("/proc/net/snmp", 1);
    cat("/proc/net/netstat", 1);
    /* dev: the header and the interface names (the counters move). */
    FILE *f = fopen("/proc/net/dev", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (c && strchr(line, '|') == NULL)
            c[1] = 0, strcat(line, " ...\n");
        printf("dev| %s", line);
    }
    if (f)
        fclose(f);
    struct stat st;
    int r = stat("/proc/self/net", &st);
    printf("stat /proc/self/net: %d dir %d\n", r, S_ISDIR(st.st_mode));
}

static void test_sysfs(void) {
    char l[128];
    ssize_t n = readlink("/sys/class/net/lo", l, sizeof l - 1);
    l[n > 0 ? n : 0] = 0;
    printf("/sys/class/net/lo -> %s\n", l);
    struct stat st;
    int r = stat("/sys/class/net/lo", &st);
    printf("stat class/net/lo: %d dir %d\n", r, S_ISDIR(st.st_mode));
    printf("stat devices/virtual/net/lo: %d\n", stat("/sys/devices/virtual/net/lo", &st));
    static const char *const files[] = {"address", "addr_len", "broadcast", "carrier", "dev_id",
                                        "dormant", "flags", "ifindex", "iflink", "link_mode",
                                        "mtu", "netdev_group", "operstate", "proto_down",
                                        "tx_queue_len", "type", "uevent", "addr_assign_type"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "/sys/class/net/lo/%s", files[i]);
        cat(p, 1);
    }
    cat("/sys/class/net/lo/statistics/rx_bytes", 0);
    printf("missing: %d\n", stat("/sys/class/net/eth0", &st));
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "all";
    setvbuf(stdout, NULL, _IOLBF, 0);
    int all = !strcmp(what, "all");
    if (all || !strcmp(what, "socket"))
        test_socket();
    if (all || !strcmp(what, "dump"))
        test_dumps();
    if (all || !strcmp(what, "ifaddrs"))
        test_ifaddrs();
    if (all || !strcmp(what, "ioctl"))
        test_ioctl();
    if (!strcmp(what, "inet"))
        test_inet();
    if (all || !strcmp(what, "procnet"))
        test_procnet();
    if (all || !strcmp(what, "sysfs"))
        test_sysfs();
    return 0;
}
