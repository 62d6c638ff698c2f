// System V semaphores: semget/semop/semtimedop/semctl, blocking across
// processes (ping-pong, GETNCNT, EIDRM, EINTR), SEM_UNDO at exit,
// /proc/sysvipc/sem; compared with Linux (natively under unshare -i).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

#define SHOW(what, expr)                                                        \
    do {                                                                        \
        errno = 0;                                                              \
        long r_ = (long)(expr);                                                 \
        printf("%s = %ld%s%s\n", what, r_, r_ == -1 ? " " : "",                \
               r_ == -1 ? strerrorname_np(errno) : "");                         \
        fflush(stdout);                                                         \
    } while (0)

static int op(int id, unsigned short num, short o, short flg) {
    struct sembuf b = {num, o, flg};
    return semop(id, &b, 1);
}

static void vals(const char *tag, int id, int n) {
    unsigned short v[8];
    union semun u = {.array = v};
    if (semctl(id, 0, GETALL, u) != 0) {
        printf("%s: GETALL %s\n", tag, strerrorname_np(errno));
        return;
    }
    printf("%s:", tag);
    for (int i = 0; i < n; i++)
        printf(" %u", v[i]);
    printf("\n");
    fflush(stdout);
}

static void wait_ncnt(int id, int num, int cmd, int want) {
    for (int i = 0; i < 2000; i++) {
        if (semctl(id, num, cmd) == want)
            return;
        usleep(1000);
    }
    printf("timed out waiting for count %d\n", want);
}

static void on_alarm(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char buf[128] = "";
    FILE *f = fopen("/proc/sys/kernel/sem", "r");
    if (f && fgets(buf, sizeof buf, f))
        printf("sem limits: %s", buf);
    if (f)
        fclose(f);
    SHOW("semget nsems -1", semget(IPC_PRIVATE, -1, 0600));
    SHOW("semget nsems 32001", semget(IPC_PRIVATE, 32001, 0600));
    SHOW("semget nsems 0", semget(IPC_PRIVATE, 0, 0600));
    SHOW("semget missing key", semget(0x5151, 1, 0600));
    int id = semget(0x5151, 4, IPC_CREAT | 0600);
    printf("created %d\n", id);
    SHOW("semget same", semget(0x5151, 2, 0));
    SHOW("semget same nsems 0", semget(0x5151, 0, 0));
    SHOW("semget more", semget(0x5151, 5, 0));
    SHOW("semget excl", semget(0x5151, 4, IPC_CREAT | IPC_EXCL | 0600));
    vals("initial", id, 4);

    // Values.
    SHOW("SETVAL 5", semctl(id, 0, SETVAL, (union semun){.val = 5}));
    SHOW("GETVAL", semctl(id, 0, GETVAL));
    SHOW("GETPID is me", semctl(id, 0, GETPID) == getpid());
    SHOW("SETVAL 32767", semctl(id, 1, SETVAL, (union semun){.val = 32767}));
    SHOW("SETVAL 32768", semctl(id, 1, SETVAL, (union semun){.val = 32768}));
    SHOW("SETVAL -1", semctl(id, 1, SETVAL, (union semun){.val = -1}));
    SHOW("SETVAL semnum 4", semctl(id, 4, SETVAL, (union semun){.val = 1}));
    SHOW("GETVAL semnum -1", semctl(id, -1, GETVAL));
    unsigned short init[4] = {1, 0, 2, 0};
    SHOW("SETALL", semctl(id, 0, SETALL, (union semun){.array = init}));
    vals("after SETALL", id, 4);
    unsigned short big[4] = {1, 40000, 2, 0};
    SHOW("SETALL too big", semctl(id, 0, SETALL, (union semun){.array = big}));
    SHOW("SETALL bad pointer", semctl(id, 0, SETALL, (union semun){.array = (void *)8}));
    SHOW("GETALL bad pointer", semctl(id, 0, GETALL, (union semun){.array = (void *)8}));

    // semop errors.
    struct sembuf many[501];
    memset(many, 0, sizeof many);
    SHOW("semop nsops 0", semop(id, many, 0));
    SHOW("semop nsops 501", semop(id, many, 501));
    for (int i = 0; i < 500; i++)
        many[i].sem_num = 1;
    SHOW("semop nsops 500", semop(id, many, 500));
    SHOW("semop bad pointer", semop(id, (struct sembuf *)8, 1));
    SHOW("semop semnum 4", op(id, 4, 1, 0));
    SHOW("semop bad id", op(id + 1, 0, 1, 0));
    SHOW("semop negative id", op(-5, 0, 1, 0));
    SHOW("semop NOWAIT", op(id, 1, -1, IPC_NOWAIT));
    SHOW("semop zero NOWAIT", op(id, 0, 0, IPC_NOWAIT));
    SHOW("semop ERANGE", op(id, 0, 32767, 0));
    struct timespec ts = {0, 50 * 1000 * 1000};
    struct sembuf w = {1, -1, 0};
    SHOW("semtimedop 50ms", semtimedop(id, &w, 1, &ts));
    struct timespec bad = {0, 1000000000};
    SHOW("semtimedop bad timeout", semtimedop(id, &w, 1, &bad));
    SHOW("semtimedop timeout pointer", semtimedop(id, &w, 1, (struct timespec *)8));
    SHOW("semtimedop timeout pointer, nsops 0", semtimedop(id, &w, 0, (struct timespec *)8));
    SHOW("semtimedop bad timeout, nsops 0", semtimedop(id, &w, 0, &bad));
    SHOW("semtimedop bad timeout, bad sops", semtimedop(id, (struct sembuf *)8, 1, &bad));
    // Atomic arrays: nothing is applied when one operation would block.
    struct sembuf two[2] = {{0, 1, 0}, {1, -1, IPC_NOWAIT}};
    SHOW("semop array blocks", semop(id, two, 2));
    vals("unchanged", id, 4);
    struct sembuf ok2[3] = {{0, 1, 0}, {2, -2, 0}, {3, 0, 0}};
    SHOW("semop array", semop(id, ok2, 3));
    vals("applied", id, 4);
    struct sembuf dup[2] = {{1, 2, 0}, {1, -1, 0}};
    SHOW("semop same sem twice", semop(id, dup, 2));
    vals("dup", id, 4);
    semctl(id, 0, SETALL, (union semun){.array = (unsigned short[]){0, 0, 0, 0}});

    // Ping-pong between two processes.
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 3; i++) {
            op(id, 0, -1, 0);
            printf("child %d\n", i);
            fflush(stdout);
            op(id, 1, 1, 0);
        }
        _exit(0);
    }
    for (int i = 0; i < 3; i++) {
        printf("parent %d\n", i);
        fflush(stdout);
        op(id, 0, 1, 0);
        op(id, 1, -1, 0);
    }
    waitpid(c, NULL, 0);

    // GETNCNT / GETZCNT see blocked processes.
    c = fork();
    if (c == 0) {
        SHOW("child waits for sem 2", op(id, 2, -1, 0));
        _exit(0);
    }
    wait_ncnt(id, 2, GETNCNT, 1);
    SHOW("GETNCNT", semctl(id, 2, GETNCNT));
    op(id, 2, 1, 0);
    waitpid(c, NULL, 0);
    SHOW("GETNCNT after", semctl(id, 2, GETNCNT));
    op(id, 3, 1, 0);
    c = fork();
    if (c == 0) {
        SHOW("child waits for zero", op(id, 3, 0, 0));
        _exit(0);
    }
    wait_ncnt(id, 3, GETZCNT, 1);
    SHOW("GETZCNT", semctl(id, 3, GETZCNT));
    op(id, 3, -1, 0);
    waitpid(c, NULL, 0);

    // SEM_UNDO: undone at exit.
    semctl(id, 2, SETVAL, (union semun){.val = 2});
    c = fork();
    if (c == 0) {
        op(id, 1, 3, SEM_UNDO);
        op(id, 2, -1, SEM_UNDO);
        vals("child with undo", id, 4);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    vals("after undo", id, 4);
    SHOW("GETPID is child", semctl(id, 1, GETPID) == c);
    // SETVAL clears the adjustment.
    c = fork();
    if (c == 0) {
        op(id, 1, 2, SEM_UNDO);
        semctl(id, 1, SETVAL, (union semun){.val = 7});
        _exit(0);
    }
    waitpid(c, NULL, 0);
    vals("undo cleared by SETVAL", id, 4);
    SHOW("undo out of range", op(id, 1, -32767, SEM_UNDO | IPC_NOWAIT) == -1 ? -1 : 0);
    semctl(id, 1, SETVAL, (union semun){.val = 0});

    // A signal interrupts a blocked semop (never restarted).
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    SHOW("semop interrupted", op(id, 1, -1, 0));

    // Removal wakes the waiters with EIDRM.
    c = fork();
    if (c == 0) {
        SHOW("child blocked then removed", op(id, 1, -1, 0));
        _exit(0);
    }
    wait_ncnt(id, 1, GETNCNT, 1);

    struct semid_ds ds;
    SHOW("IPC_STAT", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
    printf("stat: key=%#x mode=%o nsems=%lu uid=%u otime_set=%d ctime_set=%d\n", ds.sem_perm.__key,
           ds.sem_perm.mode, (unsigned long)ds.sem_nsems, ds.sem_perm.uid, ds.sem_otime != 0,
           ds.sem_ctime != 0);
    SHOW("IPC_STAT bad pointer", semctl(id, 0, IPC_STAT, (union semun){.buf = (void *)8}));
    ds.sem_perm.mode = 0640;
    SHOW("IPC_SET", semctl(id, 0, IPC_SET, (union semun){.buf = &ds}));
    struct seminfo si;
    SHOW("IPC_INFO", semctl(0, 0, IPC_INFO, (union semun){.__buf = &si}));
    printf("seminfo: map=%d mni=%d mns=%d mnu=%d msl=%d opm=%d ume=%d usz=%d vmx=%d aem=%d\n", si.semmap,
           si.semmni, si.semmns, si.semmnu, si.semmsl, si.semopm, si.semume, si.semusz, si.semvmx,
           si.semaem);
    SHOW("SEM_INFO", semctl(0, 0, SEM_INFO, (union semun){.__buf = &si}));
    printf("seminfo: usz=%d aem=%d\n", si.semusz, si.semaem);
    SHOW("SEM_STAT 0", semctl(0, 0, SEM_STAT, (union semun){.buf = &ds}));
    SHOW("SEM_STAT 3", semctl(3, 0, SEM_STAT, (union semun){.buf = &ds}));
    SHOW("bad cmd", semctl(id, 0, 99));
    SHOW("semctl negative id", semctl(-1, 0, GETVAL));
    f = fopen("/proc/sysvipc/sem", "r");
    while (f && fgets(buf, sizeof buf, f)) {
        int key, sid, nsems;
        unsigned mode, uid, gid, cuid, cgid;
        if (sscanf(buf, "%d %d %o %d %u %u %u %u", &key, &sid, &mode, &nsems, &uid, &gid, &cuid, &cgid) == 8)
            printf("row: key=%d id=%d perms=%o nsems=%d uid=%u gid=%u cuid=%u cgid=%u width=%zu\n", key, sid,
                   mode, nsems, uid, gid, cuid, cgid, strlen(buf));
        else
            printf("header: %s", buf);
    }
    if (f)
        fclose(f);

    // Permissions as another user.
    pid_t o = fork();
    if (o == 0) {
        if (setgid(65534) || setuid(65534))
            _exit(1);
        SHOW("other: semget", semget(0x5151, 0, 0));
        SHOW("other: semget read", semget(0x5151, 0, 0400));
        SHOW("other: GETVAL", semctl(id, 0, GETVAL));
        SHOW("other: semop", op(id, 0, 1, IPC_NOWAIT));
        SHOW("other: IPC_RMID", semctl(id, 0, IPC_RMID));
        _exit(0);
    }
    waitpid(o, NULL, 0);

    int rm = semctl(id, 0, IPC_RMID);
    waitpid(c, NULL, 0);
    SHOW("IPC_RMID (after the child)", rm);
    SHOW("GETVAL removed", semctl(id, 0, GETVAL));
    SHOW("semop removed", op(id, 0, 1, 0));
    SHOW("next id", semget(IPC_PRIVATE, 1, 0600));
    return 0;
}
