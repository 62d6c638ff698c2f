#include <errno.h>
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t m;
static void *die(void *a) { pthread_mutex_lock(&m); return a; }
int main(void) {
    pthread_mutexattr_t at; pthread_mutexattr_init(&at);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m, &at);
    pthread_t t; pthread_create(&t, 0, die, 0); pthread_join(t, 0);
    int r = pthread_mutex_lock(&m);
    printf("owner died: %d\n", r == EOWNERDEAD);
    return 0;
}
