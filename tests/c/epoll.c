/* epoll: level and edge triggering, EPOLLONESHOT, EPOLLEXCLUSIVE, interest
 * removal on close, argument errors; poll/select on the same objects. One
 * line per check; compared with the native run. */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
#define ERR(call, e) ((call) == -1 && errno == (e))

static int wait_n(int ep, int ms) {
    struct epoll_event ev[8];
    return epoll_wait(ep, ev, 8, ms);
}

static int shared_efd;
static volatile int woken;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *exclusive_waiter(void *arg) {
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    epoll_ctl(ep, EPOLL_CTL_ADD, shared_efd, &e);
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, 1500);
    if (n == 1) {
        pthread_mutex_lock(&mu);
        woken++;
        pthread_mutex_unlock(&mu);
        /* Not consumed: level-triggered waiters that were woken would all
         * see it; exclusive ones that were not woken stay asleep. */
    }
    close(ep);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe2(p, O_NONBLOCK);
    char buf[64];

    /* Level-triggered. */
    int lt = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 7};
    CHECK("add LT", epoll_ctl(lt, EPOLL_CTL_ADD, p[0], &e) == 0);
    CHECK("LT: nothing yet", wait_n(lt, 0) == 0);
    write(p[1], "ab", 2);
    struct epoll_event out[4];
    CHECK("LT: ready with data", epoll_wait(lt, out, 4, 0) == 1 && out[0].data.u64 == 7 && (out[0].events & EPOLLIN));
    CHECK("LT: still ready without a read", wait_n(lt, 0) == 1);
    read(p[0], buf, 1);
    CHECK("LT: still ready after a partial read", wait_n(lt, 0) == 1);

    /* Edge-triggered. */
    int et = epoll_create1(0);
    e.events = EPOLLIN | EPOLLET;
    CHECK("add ET on a ready pipe", epoll_ctl(et, EPOLL_CTL_ADD, p[0], &e) == 0);
    CHECK("ET: reports the ready state once", wait_n(et, 0) == 1);
    CHECK("ET: not again without new data", wait_n(et, 0) == 0);
    write(p[1], "c", 1);
    CHECK("ET: new data is a new event", wait_n(et, 0) == 1);
    CHECK("ET: then quiet", wait_n(et, 0) == 0);
    while (read(p[0], buf, sizeof buf) > 0) {}
    CHECK("ET: drained pipe, no event", wait_n(et, 0) == 0);
    CHECK("ET: blocking wait times out", wait_n(et, 50) == 0);
    write(p[1], "d", 1);
    CHECK("ET: wakes on new data", wait_n(et, 1000) == 1);
    e.events = EPOLLIN | EPOLLET;
    CHECK("ET: MOD re-arms the edge", epoll_ctl(et, EPOLL_CTL_MOD, p[0], &e) == 0 && wait_n(et, 0) == 1);
    while (read(p[0], buf, sizeof buf) > 0) {}

    /* ET on the write side: writable once, again after the reader frees room. */
    int etw = epoll_create1(0);
    e.events = EPOLLOUT | EPOLLET;
    epoll_ctl(etw, EPOLL_CTL_ADD, p[1], &e);
    CHECK("ET out: writable once", wait_n(etw, 0) == 1 && wait_n(etw, 0) == 0);
    static char big[1 << 16];
    while (write(p[1], big, sizeof big) > 0) {}
    CHECK("ET out: full pipe, no event", wait_n(etw, 0) == 0);
    while (read(p[0], buf, sizeof buf) > 0) {}
    CHECK("ET out: writable again after draining", wait_n(etw, 0) == 1);

    /* eventfd, edge-triggered. */
    int efd = eventfd(0, EFD_NONBLOCK);
    int ete = epoll_create1(0);
    e.events = EPOLLIN | EPOLLET;
    epoll_ctl(ete, EPOLL_CTL_ADD, efd, &e);
    uint64_t one = 1;
    write(efd, &one, 8);
    CHECK("ET eventfd: event", wait_n(ete, 0) == 1);
    CHECK("ET eventfd: once", wait_n(ete, 0) == 0);
    write(efd, &one, 8);
    CHECK("ET eventfd: second write, second event", wait_n(ete, 0) == 1);

    /* One-shot. */
    int os = epoll_create1(0);
    e.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(os, EPOLL_CTL_ADD, efd, &e);
    CHECK("ONESHOT: first report", wait_n(os, 0) == 1);
    CHECK("ONESHOT: disarmed", wait_n(os, 0) == 0);
    CHECK("ONESHOT: MOD re-arms", epoll_ctl(os, EPOLL_CTL_MOD, efd, &e) == 0 && wait_n(os, 0) == 1);

    /* Errors. */
    CHECK("ADD twice EEXIST", ERR(epoll_ctl(os, EPOLL_CTL_ADD, efd, &e), EEXIST));
    CHECK("MOD unknown ENOENT", ERR(epoll_ctl(os, EPOLL_CTL_MOD, p[0], &e), ENOENT));
    CHECK("DEL unknown ENOENT", ERR(epoll_ctl(os, EPOLL_CTL_DEL, p[0], &e), ENOENT));
    CHECK("bad op EINVAL", ERR(epoll_ctl(os, 99, efd, &e), EINVAL));
    CHECK("self EINVAL", ERR(epoll_ctl(os, EPOLL_CTL_ADD, os, &e), EINVAL));
    CHECK("bad fd EBADF", ERR(epoll_ctl(os, EPOLL_CTL_ADD, 999, &e), EBADF));
    CHECK("not epoll EINVAL", ERR(epoll_ctl(efd, EPOLL_CTL_ADD, p[0], &e), EINVAL));
    int tmp = open("/tmp", O_RDONLY);
    CHECK("directory EPERM", ERR(epoll_ctl(os, EPOLL_CTL_ADD, tmp, &e), EPERM));
    CHECK("wait maxevents 0 EINVAL", ERR(epoll_wait(os, out, 0, 0), EINVAL));
    int rdy = epoll_create1(0);
    e.events = EPOLLIN;
    epoll_ctl(rdy, EPOLL_CTL_ADD, efd, &e);
    struct epoll_event *bad = (struct epoll_event *)(uintptr_t)8;
    CHECK("wait bad buffer EFAULT", ERR(epoll_wait(rdy, bad, 1, 0), EFAULT));
    CHECK("create1 bad flags EINVAL", ERR(epoll_create1(12345), EINVAL));
    CHECK("create size 0 EINVAL", ERR(epoll_create(0), EINVAL));
    int ex = epoll_create1(0);
    e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    CHECK("EXCLUSIVE with ONESHOT EINVAL", ERR(epoll_ctl(ex, EPOLL_CTL_ADD, efd, &e), EINVAL));
    e.events = EPOLLIN | EPOLLEXCLUSIVE;
    CHECK("EXCLUSIVE add", epoll_ctl(ex, EPOLL_CTL_ADD, efd, &e) == 0);
    CHECK("EXCLUSIVE MOD EINVAL", ERR(epoll_ctl(ex, EPOLL_CTL_MOD, efd, &e), EINVAL));
    CHECK("EXCLUSIVE on an epoll EINVAL", ERR(epoll_ctl(ex, EPOLL_CTL_ADD, lt, &e), EINVAL));

    /* Closing the only fd of a file removes its interest. */
    int q[2];
    pipe(q);
    int cl = epoll_create1(0);
    e.events = EPOLLIN;
    epoll_ctl(cl, EPOLL_CTL_ADD, q[0], &e);
    write(q[1], "x", 1);
    CHECK("before close: ready", wait_n(cl, 0) == 1);
    close(q[0]);
    CHECK("after close: gone", wait_n(cl, 0) == 0);
    int q2[2];
    pipe(q2);
    CHECK("fd number reusable in the set", epoll_ctl(cl, EPOLL_CTL_ADD, q2[0], &e) == 0 || q2[0] != q[0]);
    int d = dup(q2[1]);
    int cw = epoll_create1(0);
    e.events = EPOLLOUT;
    epoll_ctl(cw, EPOLL_CTL_ADD, q2[1], &e);
    close(q2[1]);
    CHECK("a dup keeps the interest", wait_n(cw, 0) == 1);
    close(d);

    /* An epoll in an epoll, poll and select on an epoll. */
    int outer = epoll_create1(0);
    e.events = EPOLLIN;
    epoll_ctl(outer, EPOLL_CTL_ADD, rdy, &e);
    CHECK("nested epoll readable", wait_n(outer, 0) == 1);
    struct pollfd pf = {rdy, POLLIN, 0};
    CHECK("poll on epoll", poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(rdy, &rs);
    struct timeval tv = {0, 0};
    CHECK("select on epoll", select(rdy + 1, &rs, NULL, NULL, &tv) == 1);
    pf.fd = lt;
    CHECK("poll on an idle epoll", poll(&pf, 1, 0) == 0);

    /* EPOLLEXCLUSIVE: one event wakes fewer than all exclusive waiters. */
    shared_efd = eventfd(0, EFD_NONBLOCK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, exclusive_waiter, NULL);
    /* Time for all four to be waiting, even on a loaded machine. */
    struct timespec ts = {0, 600000000};
    nanosleep(&ts, NULL);
    write(shared_efd, &one, 8);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK("EXCLUSIVE: woke at least one", woken >= 1);
    CHECK("EXCLUSIVE: woke fewer than all", woken < 4);

    /* epoll_pwait with a mask, timeout. */
    sigset_t m;
    sigemptyset(&m);
    CHECK("epoll_pwait timeout", epoll_pwait(et, out, 4, 20, &m) == 0);
    return 0;
}
