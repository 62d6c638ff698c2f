/* FUTEX_WAKE with a count of 0 (or a negative int) wakes one waiter, as Linux does. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int word;

static long fx(int op, int val) { return syscall(SYS_futex, &word, op, val, NULL, NULL, 0); }

static void *waiter(void *arg) {
    (void)arg;
    while (__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 0)
        fx(FUTEX_WAIT_PRIVATE, 0);
    return NULL;
}

static void one(const char *what, int val) {
    word = 0;
    pthread_t th;
    pthread_create(&th, NULL, waiter, NULL);
    long woke = 0;
    /* Once the waiter sleeps, a wake with `val` wakes it. */
    for (int i = 0; i < 2000 && woke == 0; i++) {
        usleep(1000);
        woke = fx(FUTEX_WAKE_PRIVATE, val);
    }
    printf("%s: woke %ld\n", what, woke);
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    fx(FUTEX_WAKE_PRIVATE, 1); /* release it whatever happened */
    pthread_join(th, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    one("wake 0", 0);
    one("wake -1", -1);
    one("wake 1", 1);
    one("wake INT_MAX", 0x7fffffff);
    return 0;
}
