/* Unassigned syscall numbers must fail with ENOSYS. Prints "ENOSYS ok". */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    /* Numbers far past the end of the x86-64 table (which ends in the 460s as
     * of Linux 6.18), and -1, which must not be treated as a valid number.
     * Note: the old 335..423 "gap" is no longer safe (335 is uretprobe, which
     * raises SIGILL when called from outside a uretprobe trampoline), nor is
     * 460 (lsm_set_self_attr). */
    const long nrs[] = {1000, 1023, 4095, 100000, -1};
    int bad = 0;
    for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
        errno = 0;
        long r = syscall(nrs[i], 0, 0, 0, 0, 0, 0);
        if (r != -1 || errno != ENOSYS) {
            printf("syscall(%ld) = %ld errno=%d (%s), want -1 ENOSYS\n", nrs[i], r, errno, strerror(errno));
            bad = 1;
        }
    }
    if (bad)
        return 1;
    printf("ENOSYS ok\n");
    return 0;
}
