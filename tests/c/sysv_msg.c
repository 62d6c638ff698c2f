// System V message queues: msgget/msgsnd/msgrcv/msgctl, receive modes,
// blocking senders and receivers woken by other processes, EIDRM, EINTR,
// /proc/sysvipc/msg; compared with Linux (natively under unshare -i).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHOW(what, expr)                                                        \
    do {                                                                        \
        errno = 0;                                                              \
        long r_ = (long)(expr);                                                 \
        printf("%s = %ld%s%s\n", what, r_, r_ == -1 ? " " : "",                \
               r_ == -1 ? strerrorname_np(errno) : "");                         \
        fflush(stdout);                                                         \
    } while (0)

struct m {
    long type;
    char text[9000];
};

static int snd(int id, long type, const char *text, int flg) {
    struct m b;
    b.type = type;
    strcpy(b.text, text);
    return msgsnd(id, &b, strlen(text), flg);
}

static void rcv(const char *tag, int id, size_t sz, long type, int flg) {
    struct m b;
    memset(&b, 0, sizeof b);
    errno = 0;
    ssize_t n = msgrcv(id, &b, sz, type, flg);
    if (n < 0)
        printf("%s: -1 %s\n", tag, strerrorname_np(errno));
    else
        printf("%s: %zd type=%ld '%.*s'\n", tag, n, b.type, (int)n, b.text);
    fflush(stdout);
}

static void st(const char *tag, int id) {
    struct msqid_ds ds;
    if (msgctl(id, IPC_STAT, &ds) != 0) {
        printf("%s: IPC_STAT %s\n", tag, strerrorname_np(errno));
        return;
    }
    printf("%s: key=%#x mode=%o qnum=%lu cbytes=%lu qbytes=%lu lspid_me=%d lrpid_me=%d\n", tag,
           ds.msg_perm.__key, ds.msg_perm.mode, (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_lspid == getpid(),
           ds.msg_lrpid == getpid());
    fflush(stdout);
}

static void on_alarm(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *names[] = {"msgmax", "msgmnb", "msgmni"};
    for (int i = 0; i < 3; i++) {
        char p[64], buf[64] = "";
        snprintf(p, sizeof p, "/proc/sys/kernel/%s", names[i]);
        FILE *f = fopen(p, "r");
        if (f && fgets(buf, sizeof buf, f))
            printf("%s: %s", names[i], buf);
        if (f)
            fclose(f);
    }
    SHOW("msgget missing", msgget(0x7777, 0600));
    int id = msgget(0x7777, IPC_CREAT | 0620);
    printf("created %d\n", id);
    SHOW("msgget same", msgget(0x7777, 0));
    SHOW("msgget excl", msgget(0x7777, IPC_CREAT | IPC_EXCL));
    st("new", id);

    // Sending: sizes, types, pointers.
    struct m b = {1, "x"};
    SHOW("msgsnd 8193", msgsnd(id, &b, 8193, 0));
    SHOW("msgsnd 8192", msgsnd(id, &b, 8192, IPC_NOWAIT));
    SHOW("msgsnd negative size", msgsnd(id, &b, (size_t)-1, 0));
    b.type = 0;
    SHOW("msgsnd type 0", msgsnd(id, &b, 1, 0));
    b.type = -3;
    SHOW("msgsnd type -3", msgsnd(id, &b, 1, 0));
    SHOW("msgsnd bad pointer", msgsnd(id, (void *)8, 1, 0));
    SHOW("msgsnd bad pointer and size", msgsnd(id, (void *)8, 99999, 0));
    SHOW("msgsnd bad pointer and id", msgsnd(-1, (void *)8, 1, 0));
    SHOW("msgsnd bad id", snd(id + 1, 1, "a", 0));
    SHOW("msgsnd negative id", snd(-1, 1, "a", 0));
    rcv("drain big", id, 9000, 0, IPC_NOWAIT);

    // Receive modes.
    snd(id, 5, "five", 0);
    snd(id, 3, "three", 0);
    snd(id, 7, "seven", 0);
    snd(id, 3, "three again", 0);
    snd(id, 1, "one", 0);
    st("five queued", id);
    rcv("copy 2", id, 100, 2, MSG_COPY | IPC_NOWAIT);
    rcv("copy 9", id, 100, 9, MSG_COPY | IPC_NOWAIT);
    rcv("copy without nowait", id, 100, 0, MSG_COPY);
    rcv("type 7", id, 100, 7, IPC_NOWAIT);
    rcv("too small", id, 2, 0, IPC_NOWAIT);
    rcv("noerror", id, 2, 0, MSG_NOERROR | IPC_NOWAIT);
    rcv("except 3", id, 100, 3, MSG_EXCEPT | IPC_NOWAIT);
    rcv("lowest <= 4", id, 100, -4, IPC_NOWAIT);
    rcv("type 9", id, 100, 9, IPC_NOWAIT);
    rcv("any", id, 100, 0, IPC_NOWAIT);
    rcv("empty", id, 100, 0, IPC_NOWAIT);
    rcv("negative size", id, (size_t)-1, 0, IPC_NOWAIT);
    snd(id, 2, "two", 0);
    SHOW("receive to a bad pointer", msgrcv(id, (void *)8, 100, 0, IPC_NOWAIT));
    st("after bad pointer", id);
    rcv("bad id", id + 1, 100, 0, IPC_NOWAIT);

    // Queue size: IPC_SET shrinks it; a full queue blocks or EAGAIN.
    struct msqid_ds ds;
    msgctl(id, IPC_STAT, &ds);
    ds.msg_qbytes = 100;
    ds.msg_perm.mode = 0600;
    SHOW("IPC_SET qbytes 100", msgctl(id, IPC_SET, &ds));
    char sixty[61];
    memset(sixty, 's', 60);
    sixty[60] = 0;
    SHOW("send 60", snd(id, 1, sixty, 0));
    SHOW("send 60 more NOWAIT", snd(id, 1, sixty, IPC_NOWAIT));
    pid_t c = fork();
    if (c == 0) {
        usleep(100000);
        rcv("child takes one", id, 100, 0, 0);
        _exit(0);
    }
    errno = 0;
    int sent = snd(id, 2, sixty, 0);
    waitpid(c, NULL, 0);
    SHOW("blocking send woken by receiver", sent);
    rcv("the second", id, 100, 0, IPC_NOWAIT);
    // (Past MSGMNB needs CAP_SYS_RESOURCE, which the native run's root may
    // lack: tested below as a plain user.)
    ds.msg_qbytes = 16384;
    SHOW("IPC_SET qbytes 16384", msgctl(id, IPC_SET, &ds));
    st("resized", id);

    // A blocked receiver woken by another process's send.
    c = fork();
    if (c == 0) {
        usleep(100000);
        snd(id, 42, "late", 0);
        _exit(0);
    }
    rcv("blocking receive", id, 100, 42, 0);
    waitpid(c, NULL, 0);

    // Signals: never restarted, even with SA_RESTART.
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    rcv("interrupted receive", id, 100, 0, 0);

    // Info.
    struct msginfo mi;
    SHOW("IPC_INFO", msgctl(0, IPC_INFO, (struct msqid_ds *)&mi));
    printf("msginfo: pool=%d map=%d max=%d mnb=%d mni=%d ssz=%d tql=%d seg=%u\n", mi.msgpool, mi.msgmap,
           mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgtql, mi.msgseg);
    snd(id, 3, "abc", 0);
    SHOW("MSG_INFO", msgctl(0, MSG_INFO, (struct msqid_ds *)&mi));
    printf("msginfo: pool=%d map=%d tql=%d\n", mi.msgpool, mi.msgmap, mi.msgtql);
    SHOW("MSG_STAT 0", msgctl(0, MSG_STAT, &ds));
    SHOW("MSG_STAT 1", msgctl(1, MSG_STAT, &ds));
    SHOW("IPC_STAT bad pointer", msgctl(id, IPC_STAT, (void *)8));
    SHOW("bad cmd", msgctl(id, 77, &ds));
    FILE *f = fopen("/proc/sysvipc/msg", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int key, qid;
        unsigned mode;
        unsigned long cbytes, qnum;
        int lspid, lrpid;
        unsigned uid, gid, cuid, cgid;
        if (sscanf(line, "%d %d %o %lu %lu %d %d %u %u %u %u", &key, &qid, &mode, &cbytes, &qnum, &lspid,
                   &lrpid, &uid, &gid, &cuid, &cgid) == 11)
            printf("row: key=%d id=%d perms=%o cbytes=%lu qnum=%lu uid=%u gid=%u cuid=%u cgid=%u width=%zu\n",
                   key, qid, mode, cbytes, qnum, uid, gid, cuid, cgid, strlen(line));
        else
            printf("header: %s", line);
    }
    if (f)
        fclose(f);

    // Permissions as another user.
    c = fork();
    if (c == 0) {
        if (setgid(65534) || setuid(65534))
            _exit(1);
        SHOW("other: msgget", msgget(0x7777, 0));
        SHOW("other: msgget write", msgget(0x7777, 0200));
        SHOW("other: send", snd(id, 1, "x", IPC_NOWAIT));
        rcv("other: receive", id, 100, 0, IPC_NOWAIT);
        SHOW("other: IPC_RMID", msgctl(id, IPC_RMID, NULL));
        SHOW("other: IPC_SET", msgctl(id, IPC_SET, &ds));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    // As the owner but not root: qbytes past MSGMNB needs CAP_SYS_RESOURCE.
    int q2 = msgget(IPC_PRIVATE, 0666);
    c = fork();
    if (c == 0) {
        struct msqid_ds d2;
        msgctl(q2, IPC_STAT, &d2);
        d2.msg_perm.uid = 65534;
        msgctl(q2, IPC_SET, &d2);
        if (setgid(65534) || setuid(65534))
            _exit(1);
        d2.msg_qbytes = 16385;
        SHOW("owner: qbytes past msgmnb", msgctl(q2, IPC_SET, &d2));
        d2.msg_qbytes = 10;
        SHOW("owner: qbytes 10", msgctl(q2, IPC_SET, &d2));
        _exit(0);
    }
    waitpid(c, NULL, 0);

    // Removal wakes a blocked receiver with EIDRM.
    c = fork();
    if (c == 0) {
        rcv("child blocked then removed", id, 100, 99, 0);
        _exit(0);
    }
    usleep(300000);
    errno = 0;
    int rm = msgctl(id, IPC_RMID, NULL);
    waitpid(c, NULL, 0);
    SHOW("IPC_RMID (after the child)", rm);
    SHOW("IPC_RMID again", msgctl(id, IPC_RMID, NULL));
    SHOW("send removed", snd(id, 1, "x", 0));
    msgctl(q2, IPC_RMID, NULL);
    SHOW("next id", msgget(IPC_PRIVATE, 0600));
    return 0;
}
