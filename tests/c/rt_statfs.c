// statfs of a tmpfs counts its files' pages: free space drops by what a file
// holds and comes back when the file is deleted. argv[1]: a directory on a
// tmpfs.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

static unsigned char buf[1 << 20];

static long long free_kib(const char *dir) {
    struct statfs s;
    if (statfs(dir, &s) != 0)
        return -1;
    return (long long)s.f_bfree * s.f_bsize / 1024;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/dev/shm";
    char path[512];
    snprintf(path, sizeof path, "%s/rt-statfs-file", dir);
    struct statfs s;
    printf("statfs: %d\n", statfs(dir, &s));
    printf("tmpfs: %d bsize %ld\n", s.f_type == 0x01021994, (long)s.f_bsize);
    printf("sane: %d\n", s.f_blocks > 0 && s.f_bfree <= s.f_blocks && s.f_bavail <= s.f_blocks);
    long long before = free_kib(dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 64; i++)
        if (write(fd, buf, sizeof buf) != sizeof buf)
            printf("FAIL write\n");
    long long during = free_kib(dir);
    printf("64 MiB file uses >= 63 MiB: %d\n", before - during >= 63 * 1024);
    // A sparse file's hole costs nothing.
    pwrite(fd, "y", 1, 1LL << 32 >> 2);
    long long sparse = free_kib(dir);
    printf("a hole costs < 1 MiB: %d\n", during - sparse < 1024);
    close(fd);
    unlink(path);
    long long after = free_kib(dir);
    printf("freed on delete: %d\n", after - during >= 63 * 1024);
    return 0;
}
