/* syscall 400: `square(n)` under `--features example-syscall`
 * (docs/ADDING-A-SYSCALL.md), ENOSYS on Linux and in the default build.
 * Usage: square N...; prints "N -> RESULT errno E" per argument. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long n = strtol(argv[i], NULL, 0);
        errno = 0;
        long r = syscall(400, n);
        printf("%ld -> %ld errno %d\n", n, r, r == -1 ? errno : 0);
    }
    return 0;
}
