/* sync, syncfs, sync_file_range, readahead and setdomainname: results and
 * errors for good and bad arguments (run natively in a new UTS namespace). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static void show(const char *what, long r)
{
    printf("%s %ld %s\n", what, r, r < 0 ? strerror(errno) : "ok");
}

int main(void)
{
    char path[] = "/tmp/syncmiscXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    write(fd, "data\n", 5);
    int wo = open(path, O_WRONLY);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    int p[2];
    pipe(p);
    show("sync", syscall(SYS_sync));
    show("syncfs", syncfs(fd));
    show("syncfs(bad fd)", syncfs(999));
    show("sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    show("sync_file_range(all flags)", sync_file_range(fd, 0, 5, 7));
    show("sync_file_range(flag 8)", sync_file_range(fd, 0, 0, 8));
    show("sync_file_range(offset -1)", sync_file_range(fd, -1, 0, 0));
    show("sync_file_range(nbytes -1)", sync_file_range(fd, 0, -1, 0));
    show("sync_file_range(overflow)", sync_file_range(fd, 0x7fffffffffffffffL, 1, 0));
    show("sync_file_range(pipe)", sync_file_range(p[0], 0, 0, 0));
    show("sync_file_range(dir)", sync_file_range(dir, 0, 0, 0));
    show("sync_file_range(bad fd)", sync_file_range(999, 0, 0, 0));
    show("sync_file_range(bad fd, bad flags)", sync_file_range(999, 0, 0, 8));
    show("readahead", readahead(fd, 0, 4096));
    show("readahead(write-only)", readahead(wo, 0, 4096));
    show("readahead(pipe)", readahead(p[0], 0, 4096));
    show("readahead(dir)", readahead(dir, 0, 4096));
    show("readahead(bad fd)", readahead(999, 0, 4096));
    char big[80];
    memset(big, 'x', sizeof big);
    show("setdomainname(65)", setdomainname(big, 65));
    show("setdomainname(-1)", syscall(SYS_setdomainname, "x", -1L));
    show("setdomainname", setdomainname("sandbox.example", 15));
    struct utsname u;
    uname(&u);
    printf("domainname %s\n", u.domainname);
    unlink(path);
    return 0;
}
