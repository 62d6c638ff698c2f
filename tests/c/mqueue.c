// POSIX message queues: mq_open/mq_unlink/mq_timedsend/mq_timedreceive/
// mq_notify/mq_getsetattr, the queue as a descriptor (poll, read), blocking
// across processes; compared with Linux (natively under unshare -i).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHOW(what, expr)                                                        \
    do {                                                                        \
        errno = 0;                                                              \
        long r_ = (long)(expr);                                                 \
        printf("%s = %ld%s%s\n", what, r_, r_ == -1 ? " " : "",                \
               r_ == -1 ? strerrorname_np(errno) : "");                         \
        fflush(stdout);                                                         \
    } while (0)

static volatile int got_sig, got_code, got_val;

static void on_usr1(int s, siginfo_t *si, void *u) {
    (void)u;
    got_sig = s;
    got_code = si->si_code;
    got_val = si->si_value.sival_int;
}

static void attr(const char *tag, mqd_t q) {
    struct mq_attr a;
    if (mq_getattr(q, &a) != 0) {
        printf("%s: getattr %s\n", tag, strerrorname_np(errno));
        return;
    }
    printf("%s: flags=%#lx maxmsg=%ld msgsize=%ld curmsgs=%ld\n", tag, a.mq_flags, a.mq_maxmsg,
           a.mq_msgsize, a.mq_curmsgs);
    fflush(stdout);
}

static void status(const char *tag, mqd_t q) {
    char buf[200] = "";
    // The offset moves on (a second read gives nothing until lseek).
    ssize_t n = read(q, buf, sizeof buf - 1);
    char rest[8];
    printf("%s: read again %zd\n", tag, read(q, rest, sizeof rest));
    lseek(q, 0, SEEK_SET);
    if (n < 0) {
        printf("%s: read %s\n", tag, strerrorname_np(errno));
        return;
    }
    buf[n] = 0;
    // The pid column differs between runs: cut it.
    char *p = strstr(buf, "NOTIFY_PID:");
    int pid = p ? atoi(p + 11) : -1;
    if (p)
        p[11] = 0;
    printf("%s: '%s' pid_is_me=%d\n", tag, buf, pid == getpid());
    fflush(stdout);
}

static void pollq(const char *tag, mqd_t q) {
    struct pollfd p = {q, POLLIN | POLLOUT, 0};
    int n = poll(&p, 1, 0);
    printf("%s: poll %d revents=%#x\n", tag, n, p.revents);
    fflush(stdout);
}

static void recv1(const char *tag, mqd_t q, size_t len) {
    char buf[9000];
    unsigned prio = 99;
    errno = 0;
    ssize_t n = mq_receive(q, buf, len, &prio);
    if (n < 0)
        printf("%s: -1 %s\n", tag, strerrorname_np(errno));
    else
        printf("%s: %zd '%.*s' prio %u\n", tag, n, (int)n, buf, prio);
    fflush(stdout);
}

static struct timespec in_ms(int ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    const char *lim[] = {"msg_default", "msg_max", "msgsize_default", "msgsize_max", "queues_max"};
    for (int i = 0; i < 5; i++) {
        char p[80], v[32] = "";
        snprintf(p, sizeof p, "/proc/sys/fs/mqueue/%s", lim[i]);
        FILE *f = fopen(p, "r");
        if (f && fgets(v, sizeof v, f))
            printf("%s: %s", lim[i], v);
        if (f)
            fclose(f);
    }
    struct mq_attr a = {0, 4, 64, 0};
    char longname[300];
    longname[0] = '/';
    memset(longname + 1, 'n', 280);
    longname[281] = 0;
    SHOW("no slash", mq_open("q", O_RDWR | O_CREAT, 0600, &a));
    SHOW("only slash", mq_open("/", O_RDWR | O_CREAT, 0600, &a));
    SHOW("inner slash", mq_open("/a/b", O_RDWR | O_CREAT, 0600, &a));
    SHOW("long name", mq_open(longname, O_RDWR | O_CREAT, 0600, &a));
    SHOW("missing", mq_open("/q", O_RDWR));
    SHOW("bad name pointer", syscall(240, (char *)8, O_RDWR, 0, NULL));
    struct mq_attr bad = {0, 0, 64, 0};
    SHOW("maxmsg 0", mq_open("/q", O_RDWR | O_CREAT, 0600, &bad));
    bad.mq_maxmsg = 4;
    bad.mq_msgsize = -1;
    SHOW("msgsize -1", mq_open("/q", O_RDWR | O_CREAT, 0600, &bad));
    SHOW("attr pointer", mq_open("/q", O_RDWR | O_CREAT, 0600, (struct mq_attr *)8));
    mqd_t three = mq_open("/q3", 3 | O_CREAT, 0600, &a);
    printf("accmode 3 creates %d\n", three >= 0);
    SHOW("accmode 3 send", mq_send(three, "x", 1, 0));
    SHOW("accmode 3 receive", mq_receive(three, (char[64]){0}, 64, NULL));
    SHOW("accmode 3 existing", mq_open("/q3", 3));
    mq_unlink("/q3");
    mqd_t q = mq_open("/q", O_RDWR | O_CREAT, 0644, &a);
    printf("opened %d cloexec %d\n", q >= 0, (fcntl(q, F_GETFD) & FD_CLOEXEC) != 0);
    SHOW("excl", mq_open("/q", O_RDWR | O_CREAT | O_EXCL, 0600, &a));
    mqd_t dflt = mq_open("/dflt", O_RDWR | O_CREAT, 0600, NULL);
    attr("default attr", dflt);
    attr("new", q);
    struct stat st;
    fstat(q, &st);
    printf("fstat mode %o\n", st.st_mode & 07777);
    status("empty", q);
    pollq("empty", q);

    // Priorities.
    SHOW("send a/1", mq_send(q, "a", 1, 1));
    SHOW("send bb/5", mq_send(q, "bb", 2, 5));
    SHOW("send c/1", mq_send(q, "c", 1, 1));
    SHOW("send dd/5", mq_send(q, "dd", 2, 5));
    attr("four", q);
    status("four", q);
    pollq("full", q);
    SHOW("send too long", mq_send(q, "x", 65, 0));
    SHOW("send prio 32768", mq_send(q, "x", 1, 32768));
    SHOW("send bad pointer", mq_send(q, (char *)8, 1, 0));
    struct timespec t = in_ms(50);
    SHOW("timedsend full", mq_timedsend(q, "x", 1, 0, &t));
    struct timespec badt = {0, 2000000000L};
    SHOW("timedsend bad timeout", mq_timedsend(q, "x", 1, 0, &badt));
    struct mq_attr nb = {O_NONBLOCK, 0, 0, 0}, old;
    SHOW("setattr nonblock", mq_setattr(q, &nb, &old));
    printf("old flags %#lx\n", old.mq_flags);
    SHOW("send nonblock full", mq_send(q, "x", 1, 0));
    struct mq_attr badflags = {O_NONBLOCK | O_APPEND, 0, 0, 0};
    SHOW("setattr bad flags", mq_setattr(q, &badflags, NULL));
    recv1("small buffer", q, 63);
    for (int i = 0; i < 4; i++)
        recv1("receive", q, 64);
    recv1("nonblock empty", q, 64);
    nb.mq_flags = 0;
    mq_setattr(q, &nb, NULL);
    t = in_ms(50);
    char buf[64];
    SHOW("timedreceive empty", mq_timedreceive(q, buf, 64, NULL, &t));
    SHOW("send on a regular fd", mq_send(1, "x", 1, 0));
    SHOW("receive on a bad fd", mq_receive(999, buf, 64, NULL));

    // Access modes.
    mqd_t ro = mq_open("/q", O_RDONLY);
    mqd_t wo = mq_open("/q", O_WRONLY);
    SHOW("send on O_RDONLY", mq_send(ro, "x", 1, 0));
    SHOW("receive on O_WRONLY", mq_receive(wo, buf, 64, NULL));

    // Notification.
    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 1234;
    SHOW("notify", mq_notify(q, &ev));
    status("registered", q);
    pid_t c = fork();
    if (c == 0) {
        SHOW("child: notify busy", mq_notify(q, &ev));
        SHOW("child: unregister not mine", mq_notify(q, NULL));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    struct sigevent bad_ev = {0};
    bad_ev.sigev_notify = SIGEV_SIGNAL;
    bad_ev.sigev_signo = 0;
    SHOW("notify again busy", mq_notify(q, &ev));
    SHOW("notify bad pointer", syscall(244, q, (struct sigevent *)8));
    mq_send(wo, "n", 1, 3);
    for (int i = 0; i < 1000 && !got_sig; i++)
        usleep(1000);
    printf("signal %d code %d value %d\n", got_sig, got_code, got_val);
    status("used up", q);
    recv1("notified message", q, 64);
    SHOW("notify none", mq_notify(q, &(struct sigevent){.sigev_notify = SIGEV_NONE}));
    status("none", q);
    SHOW("unregister", mq_notify(q, NULL));
    SHOW("notify signal 0", mq_notify(q, &bad_ev));
    SHOW("unregister", mq_notify(q, NULL));
    bad_ev.sigev_signo = 65;
    SHOW("notify signal 65", mq_notify(q, &bad_ev));
    bad_ev.sigev_notify = 77;
    SHOW("notify bad kind", mq_notify(q, &bad_ev));

    // A blocked receiver woken by another process.
    c = fork();
    if (c == 0) {
        recv1("child blocking receive", q, 64);
        _exit(0);
    }
    usleep(100000);
    mq_send(q, "wake", 4, 2);
    waitpid(c, NULL, 0);

    // Another user.
    c = fork();
    if (c == 0) {
        if (setgid(65534) || setuid(65534))
            _exit(1);
        SHOW("other: open rw", mq_open("/q", O_RDWR));
        SHOW("other: open read", mq_open("/q", O_RDONLY) >= 0);
        SHOW("other: unlink", mq_unlink("/q"));
        struct mq_attr big = {0, 11, 64, 0};
        SHOW("other: maxmsg 11", mq_open("/o", O_RDWR | O_CREAT, 0600, &big));
        big.mq_maxmsg = 10;
        big.mq_msgsize = 8193;
        SHOW("other: msgsize 8193", mq_open("/o", O_RDWR | O_CREAT, 0600, &big));
        big.mq_msgsize = 8192;
        SHOW("other: 10 x 8192", mq_open("/o", O_RDWR | O_CREAT, 0600, &big) >= 0);
        SHOW("other: unlink own", mq_unlink("/o"));
        _exit(0);
    }
    waitpid(c, NULL, 0);

    SHOW("unlink", mq_unlink("/q"));
    SHOW("unlink again", mq_unlink("/q"));
    SHOW("open unlinked", mq_open("/q", O_RDWR));
    SHOW("send after unlink", mq_send(q, "still", 5, 0));
    recv1("receive after unlink", q, 64);
    mq_unlink("/dflt");
    return 0;
}
