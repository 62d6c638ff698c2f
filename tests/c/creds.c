/* Credentials: root may change ids; after dropping, the rules bite. */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getuid() != 0) {
        printf("not root: skipped\n");
        return 0;
    }
    pid_t p = fork();
    if (p == 0) {
        gid_t g[2] = {100, 200};
        CHECK("setgroups as root", setgroups(2, g) == 0 && getgroups(0, NULL) == 2);
        CHECK("setresgid", setresgid(1000, 1000, 1000) == 0 && getgid() == 1000 && getegid() == 1000);
        CHECK("setreuid(-1, 1000) keeps real root", setreuid(-1, 1000) == 0 && getuid() == 0 && geteuid() == 1000);
        CHECK("back to root through the real id", seteuid(0) == 0 && geteuid() == 0);
        CHECK("setuid as root sets all", setuid(1000) == 0);
        uid_t r, e, s;
        getresuid(&r, &e, &s);
        CHECK("all ids 1000", r == 1000 && e == 1000 && s == 1000);
        CHECK("cannot become root again", setuid(0) == -1);
        CHECK("cannot setgroups unprivileged", setgroups(0, NULL) == -1);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    CHECK("parent keeps root", getuid() == 0 && geteuid() == 0);
    return 0;
}
