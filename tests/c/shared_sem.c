#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    sem_t *s = sem_open("/gvisor-test-sem", O_CREAT | O_EXCL, 0600, 1);
    sem_unlink("/gvisor-test-sem");
    int *shared = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0);
    for (int k = 0; k < 3; k++) if (fork() == 0) {
        for (int i = 0; i < 20000; i++) { sem_wait(s); int v = shared[0]; usleep(0); shared[0] = v + 1; sem_post(s); }
        _exit(0);
    }
    for (int k = 0; k < 3; k++) wait(0);
    printf("count=%d\n", shared[0]);
}
