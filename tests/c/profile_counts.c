/* Known system calls for the --profile tests: 1000 getppid, 10 failing
 * opens, 3 writes; with "fork", a child making 5 getpid and exiting. */
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 0; i < 1000; i++)
        syscall(SYS_getppid);
    for (int i = 0; i < 10; i++)
        syscall(SYS_open, "/nonexistent/profile", O_RDONLY);
    for (int i = 0; i < 3; i++)
        syscall(SYS_write, 1, "x\n", 2);
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t c = syscall(SYS_fork);
        if (c == 0) {
            for (int i = 0; i < 5; i++)
                syscall(SYS_getpid);
            syscall(SYS_exit_group, 0);
        }
        syscall(SYS_wait4, c, 0, 0, 0);
    }
    syscall(SYS_exit_group, 0);
    return 0;
}
