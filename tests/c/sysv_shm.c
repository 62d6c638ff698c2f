// System V shared memory: shmget/shmat/shmdt/shmctl, attachments across
// fork and exec, /proc/sysvipc/shm and the limits; compared with Linux (run
// natively in a fresh IPC namespace: unshare -i).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
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

static void stat_of(const char *tag, int id) {
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0) {
        printf("%s: IPC_STAT %s\n", tag, strerrorname_np(errno));
        fflush(stdout);
        return;
    }
    printf("%s: key=%#x mode=%o size=%zu nattch=%lu uid=%u gid=%u cuid=%u cpid_is_me=%d atime_set=%d ctime_set=%d\n",
           tag, ds.shm_perm.__key, ds.shm_perm.mode, ds.shm_segsz,
           (unsigned long)ds.shm_nattch, ds.shm_perm.uid, ds.shm_perm.gid,
           ds.shm_perm.cuid, ds.shm_cpid == getpid(), ds.shm_atime != 0,
           ds.shm_ctime != 0);
    fflush(stdout);
}

static void maps_line(const char *tag, void *addr) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long start;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-", &start) == 1 && start == (unsigned long)addr) {
            char perms[8], name[256] = "";
            sscanf(line, "%*x-%*x %7s %*s %*s %*s %255[^\n]", perms, name);
            printf("%s: maps %s %s\n", tag, perms, name);
        }
    }
    if (f)
        fclose(f);
    fflush(stdout);
}

static void proc_sysvipc(void) {
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    char line[512];
    if (!f) {
        printf("/proc/sysvipc/shm: %s\n", strerrorname_np(errno));
        return;
    }
    if (fgets(line, sizeof line, f))
        printf("header: %s", line);
    while (fgets(line, sizeof line, f)) {
        int key, id;
        unsigned mode;
        unsigned long size, nattch;
        int cpid, lpid;
        unsigned uid, gid, cuid, cgid;
        if (sscanf(line, "%d %d %o %lu %d %d %lu %u %u %u %u", &key, &id, &mode, &size,
                   &cpid, &lpid, &nattch, &uid, &gid, &cuid, &cgid) == 11)
            printf("row: key=%d id=%d perms=%o size=%lu nattch=%lu uid=%u gid=%u cuid=%u cgid=%u\n",
                   key, id, mode, size, nattch, uid, gid, cuid, cgid);
        // The columns line up with the header.
        printf("row width %zu\n", strlen(line));
    }
    fclose(f);
    fflush(stdout);
}

static void limits(void) {
    const char *names[] = {"shmmax", "shmall", "shmmni"};
    for (int i = 0; i < 3; i++) {
        char p[64], buf[64] = "";
        snprintf(p, sizeof p, "/proc/sys/kernel/%s", names[i]);
        FILE *f = fopen(p, "r");
        if (f && fgets(buf, sizeof buf, f))
            printf("%s: %s", names[i], buf);
        if (f)
            fclose(f);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "exec") == 0) {
        // After exec: the attachments inherited from the parent are gone.
        stat_of("after exec", atoi(argv[2]));
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    limits();
    // Sizes.
    SHOW("shmget size 0", shmget(IPC_PRIVATE, 0, 0600));
    SHOW("shmget size max", shmget(IPC_PRIVATE, SIZE_MAX, 0600));
    SHOW("shmget size past shmmax", shmget(IPC_PRIVATE, SIZE_MAX - (1 << 24) + 1, 0600));
    SHOW("shmget size 1T", shmget(IPC_PRIVATE, 1UL << 40, 0600));
    SHOW("shmget missing key", shmget(0x1234, 4096, 0600));
    int id = shmget(0x1234, 10000, IPC_CREAT | 0640);
    printf("created id %d\n", id);
    SHOW("shmget same key", shmget(0x1234, 4096, IPC_CREAT | 0600));
    SHOW("shmget same key size 0", shmget(0x1234, 0, 0));
    SHOW("shmget excl", shmget(0x1234, 4096, IPC_CREAT | IPC_EXCL | 0600));
    SHOW("shmget bigger", shmget(0x1234, 20000, 0600));
    int priv = shmget(IPC_PRIVATE, 4096, 0600);
    printf("private id %d\n", priv);
    stat_of("new", id);

    // Attach, write, see it in maps.
    char *p = shmat(id, NULL, 0);
    printf("shmat ok %d\n", p != (void *)-1);
    strcpy(p, "hello shm");
    memset(p + 9999, 'z', 1);
    stat_of("attached", id);
    maps_line("attached", p);
    char *q = shmat(id, NULL, SHM_RDONLY);
    printf("second attach ok %d same data %d\n", q != (void *)-1, strcmp(q, "hello shm") == 0);
    maps_line("rdonly", q);
    SHOW("mprotect write on rdonly", mprotect(q, 4096, PROT_READ | PROT_WRITE));
    stat_of("two", id);
    SHOW("shmdt second", shmdt(q));
    SHOW("shmdt again", shmdt(q));
    SHOW("shmdt unaligned", shmdt(p + 1));
    SHOW("shmdt middle", shmdt(p + 4096));

    // Addresses.
    char *hint = (char *)0x7e0000000000UL;
    SHOW("shmat unaligned", shmat(id, hint + 5, 0));
    void *r = shmat(id, hint + 5, SHM_RND);
    printf("SHM_RND rounds %d\n", r == hint);
    SHOW("shmat remap without addr", shmat(id, NULL, SHM_REMAP));
    SHOW("shmat over existing", shmat(id, hint, 0));
    void *r2 = shmat(id, hint, SHM_REMAP);
    printf("SHM_REMAP replaces %d\n", r2 == hint);
    stat_of("remapped", id);
    SHOW("shmdt remapped", shmdt(hint));
    void *x = shmat(id, NULL, SHM_EXEC | SHM_RDONLY);
    maps_line("exec", x);
    shmdt(x);
    SHOW("shmat bad id", shmat(12345, NULL, 0));
    SHOW("shmat negative id", shmat(-1, NULL, 0));

    // fork: the child inherits the attachment.
    pid_t c = fork();
    if (c == 0) {
        stat_of("child", id);
        strcpy(p + 100, "from child");
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("parent reads '%s'\n", p + 100);
    stat_of("after child exit", id);

    // A child that attaches itself; the parent attaches after.
    c = fork();
    if (c == 0) {
        char *cp = shmat(priv, NULL, 0);
        strcpy(cp, "child attached");
        _exit(0);
    }
    waitpid(c, NULL, 0);
    char *pp = shmat(priv, NULL, SHM_RDONLY);
    printf("parent attaches and reads '%s'\n", pp);
    shmdt(pp);

    // exec drops the attachments.
    c = fork();
    if (c == 0) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", id);
        execl("/proc/self/exe", argv[0], "exec", buf, (char *)NULL);
        _exit(127);
    }
    waitpid(c, NULL, 0);

    // Control.
    struct shmid_ds ds;
    SHOW("IPC_STAT bad pointer", shmctl(id, IPC_STAT, (struct shmid_ds *)1));
    SHOW("IPC_STAT negative id", shmctl(-1, IPC_STAT, &ds));
    SHOW("IPC_STAT removed-looking id", shmctl(id + 32768, IPC_STAT, &ds));
    SHOW("bad cmd", shmctl(id, 999, &ds));
    SHOW("negative cmd", shmctl(id, -1, &ds));
    shmctl(id, IPC_STAT, &ds);
    ds.shm_perm.mode = 0604;
    SHOW("IPC_SET", shmctl(id, IPC_SET, &ds));
    SHOW("SHM_LOCK", shmctl(id, SHM_LOCK, NULL));
    stat_of("locked", id);
    SHOW("SHM_UNLOCK", shmctl(id, SHM_UNLOCK, NULL));
    struct shminfo info;
    long maxidx = shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
    printf("IPC_INFO -> %ld shmmax=%lu shmmin=%lu shmmni=%lu shmseg=%lu shmall=%lu\n", maxidx,
           info.shmmax, info.shmmin, info.shmmni, info.shmseg, info.shmall);
    struct shm_info si;
    maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
    printf("SHM_INFO -> %ld used_ids=%d shm_tot=%lu\n", maxidx, si.used_ids, si.shm_tot);
    SHOW("SHM_INFO bad pointer", shmctl(0, SHM_INFO, (struct shmid_ds *)8));
    SHOW("SHM_STAT index 0", shmctl(0, SHM_STAT, &ds));
    SHOW("SHM_STAT_ANY index 1", shmctl(1, SHM_STAT_ANY, &ds));
    SHOW("SHM_STAT index 7", shmctl(7, SHM_STAT, &ds));
    proc_sysvipc();

    // Permissions as another user.
    c = fork();
    if (c == 0) {
        if (setgid(65534) || setuid(65534)) {
            printf("setuid failed\n");
            _exit(1);
        }
        SHOW("other: shmget 0604 read", shmget(0x1234, 0, 0004));
        SHOW("other: shmget 0604 write", shmget(0x1234, 0, 0002));
        SHOW("other: shmat rw", shmat(id, NULL, 0));
        void *o = shmat(id, NULL, SHM_RDONLY);
        printf("other: shmat rdonly ok %d reads '%s'\n", o != (void *)-1, o != (void *)-1 ? (char *)o : "");
        SHOW("other: IPC_SET", shmctl(id, IPC_SET, &ds));
        SHOW("other: IPC_RMID", shmctl(id, IPC_RMID, NULL));
        SHOW("other: SHM_LOCK", shmctl(id, SHM_LOCK, NULL));
        SHOW("other: IPC_STAT private", shmctl(priv, IPC_STAT, &ds));
        SHOW("other: SHM_STAT private", shmctl(1, SHM_STAT, &ds));
        SHOW("other: SHM_STAT_ANY private", shmctl(1, SHM_STAT_ANY, &ds));
        _exit(0);
    }
    waitpid(c, NULL, 0);

    // Removal while attached: the id lives on until the last detach.
    SHOW("IPC_RMID attached", shmctl(id, IPC_RMID, NULL));
    stat_of("marked", id);
    SHOW("shmget removed key", shmget(0x1234, 0, 0));
    void *again = shmat(id, NULL, 0);
    printf("attach marked ok %d\n", again != (void *)-1);
    SHOW("shmdt again", shmdt(again));
    stat_of("still", id);
    printf("data still '%s'\n", p);
    SHOW("shmdt last", shmdt(p));
    stat_of("gone", id);
    SHOW("IPC_RMID private", shmctl(priv, IPC_RMID, NULL));
    SHOW("IPC_RMID twice", shmctl(priv, IPC_RMID, NULL));
    // Ids go on cyclically.
    int n = shmget(IPC_PRIVATE, 100, 0600);
    printf("next id %d\n", n);
    // munmap of an attachment detaches too.
    void *m = shmat(n, NULL, 0);
    munmap(m, 4096);
    stat_of("munmapped", n);
    shmctl(n, IPC_RMID, NULL);
    proc_sysvipc();
    return 0;
}
