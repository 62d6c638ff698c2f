#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
static long counter; static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *work(void *arg) {
    for (int i = 0; i < 100000; i++) { pthread_mutex_lock(&m); counter++; pthread_mutex_unlock(&m); }
    void *p = mmap(0, 1<<20, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    ((char*)p)[5] = 1; munmap(p, 1<<20);
    return arg;
}
int main(void) {
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], 0, work, (void*)i);
    long sum = 0;
    for (int i = 0; i < 8; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
    printf("counter=%ld sum=%ld\n", counter, sum);
    return 0;
}
