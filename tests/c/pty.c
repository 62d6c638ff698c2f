/* Pseudo-terminals: ptmx/pts, the line discipline, termios, window size,
 * controlling terminals, signals from the terminal, hangup. One line per
 * check; compared with the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#define CHECK(name, cond) printf("%s %s\n", (cond) ? "ok" : "FAIL", name)
#define ERR(call, e) ((call) == -1 && errno == (e))

static int rd(int fd, char *buf, int n) {
    int r = read(fd, buf, n - 1);
    buf[r < 0 ? 0 : r] = 0;
    return r;
}

static volatile sig_atomic_t got_int, got_winch, got_hup;
static void on_sig(int s) {
    if (s == SIGINT) got_int++;
    if (s == SIGWINCH) got_winch++;
    if (s == SIGHUP) got_hup++;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char buf[256];
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK("posix_openpt", m >= 0);
    if (m < 0) return 1;
    CHECK("grantpt", grantpt(m) == 0);
    CHECK("unlockpt", unlockpt(m) == 0);
    char name[64];
    CHECK("ptsname_r", ptsname_r(m, name, sizeof name) == 0 && strncmp(name, "/dev/pts/", 9) == 0);
    int ptn = -1;
    CHECK("TIOCGPTN matches the name", ioctl(m, TIOCGPTN, &ptn) == 0 && ptn == atoi(name + 9));
    int s = open(name, O_RDWR | O_NOCTTY);
    CHECK("open slave", s >= 0);
    CHECK("isatty both", isatty(s) && isatty(m));
    int p[2];
    pipe(p);
    CHECK("pipe is not a tty", !isatty(p[0]) && errno == ENOTTY);
    char *tn = ttyname(s);
    CHECK("ttyname", tn && strcmp(tn, name) == 0);
    struct stat st;
    CHECK("stat pts is a char device", stat(name, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136);
    CHECK("/dev/pts lists it", access(name, F_OK) == 0);
    struct stat sm, sd;
    CHECK("fstat of a master is /dev/ptmx", fstat(m, &sm) == 0 && stat("/dev/ptmx", &sd) == 0 && sm.st_ino == sd.st_ino && sm.st_rdev == sd.st_rdev);

    struct termios t;
    CHECK("tcgetattr", tcgetattr(s, &t) == 0);
    CHECK("default lflag", (t.c_lflag & (ICANON | ECHO | ISIG | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN)) == (ICANON | ECHO | ISIG | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN));
    CHECK("default iflag ICRNL", (t.c_iflag & (ICRNL | IXON)) == (ICRNL | IXON));
    CHECK("default oflag", (t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR));
    CHECK("default cc", t.c_cc[VINTR] == 3 && t.c_cc[VEOF] == 4 && t.c_cc[VERASE] == 0x7f && t.c_cc[VMIN] == 1);

    /* Canonical input with echo. */
    CHECK("master write", write(m, "hello\r", 6) == 6);
    CHECK("slave reads a cooked line", rd(s, buf, sizeof buf) == 6 && strcmp(buf, "hello\n") == 0);
    CHECK("echo with ONLCR", rd(m, buf, sizeof buf) == 7 && strcmp(buf, "hello\r\n") == 0);
    CHECK("slave write", write(s, "a\nb", 3) == 3);
    CHECK("output processing", rd(m, buf, sizeof buf) == 4 && strcmp(buf, "a\r\nb") == 0);
    write(m, "ab\x7f" "c\n", 5);
    CHECK("erase", rd(s, buf, sizeof buf) == 3 && strcmp(buf, "ac\n") == 0);
    CHECK("erase echo", rd(m, buf, sizeof buf) > 0 && strcmp(buf, "ab\b \bc\r\n") == 0);
    write(m, "xy\n", 3);
    struct pollfd pw = {s, POLLIN, 0};
    poll(&pw, 1, 2000);
    int avail = -1;
    CHECK("FIONREAD", ioctl(s, FIONREAD, &avail) == 0 && avail == 3);
    rd(s, buf, sizeof buf);
    rd(m, buf, sizeof buf);
    fcntl(s, F_SETFL, O_NONBLOCK);
    write(m, "abc", 3);
    CHECK("incomplete line not readable", ERR(read(s, buf, 10), EAGAIN));
    struct pollfd pf = {s, POLLIN, 0};
    CHECK("poll: not readable", poll(&pf, 1, 0) == 0);
    write(m, "\x04", 1);
    pf.revents = 0;
    CHECK("poll: readable after EOF char", poll(&pf, 1, 2000) == 1 && (pf.revents & POLLIN));
    CHECK("EOF char ends the line", rd(s, buf, sizeof buf) == 3 && strcmp(buf, "abc") == 0);
    write(m, "\x04", 1);
    pf.revents = 0;
    poll(&pf, 1, 2000);
    CHECK("EOF on empty line reads 0", read(s, buf, 10) == 0);
    fcntl(s, F_SETFL, 0);
    rd(m, buf, sizeof buf);
    write(m, "one two\x17" "x\n", 10);
    CHECK("word erase", rd(s, buf, sizeof buf) == 6 && strcmp(buf, "one x\n") == 0);
    write(m, "junk\x15ok\n", 8);
    CHECK("line kill", rd(s, buf, sizeof buf) == 3 && strcmp(buf, "ok\n") == 0);
    tcflush(m, TCIOFLUSH);
    int fl = fcntl(m, F_GETFL);
    fcntl(m, F_SETFL, fl | O_NONBLOCK);
    while (read(m, buf, sizeof buf) > 0) {}

    /* Raw mode. */
    struct termios raw = t;
    cfmakeraw(&raw);
    CHECK("tcsetattr raw", tcsetattr(s, TCSANOW, &raw) == 0);
    struct termios back;
    tcgetattr(s, &back);
    CHECK("raw settings read back", !(back.c_lflag & (ICANON | ECHO | ISIG)) && !(back.c_oflag & OPOST));
    write(m, "\x03z\r", 3);
    CHECK("raw bytes pass unchanged", rd(s, buf, sizeof buf) == 3 && memcmp(buf, "\x03z\r", 3) == 0);
    CHECK("no echo in raw mode", ERR(read(m, buf, sizeof buf), EAGAIN));
    write(s, "x\n", 2);
    struct pollfd pm = {m, POLLIN, 0};
    poll(&pm, 1, 2000);
    CHECK("no output processing in raw mode", rd(m, buf, sizeof buf) == 2 && strcmp(buf, "x\n") == 0);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(s, TCSANOW, &raw);
    CHECK("VMIN=0 VTIME=0 returns at once", read(s, buf, 10) == 0);
    raw.c_cc[VTIME] = 1;
    tcsetattr(s, TCSANOW, &raw);
    CHECK("VMIN=0 VTIME=1 times out with 0", read(s, buf, 10) == 0);
    write(m, "q", 1);
    CHECK("VTIME read gets data", read(s, buf, 10) == 1 && buf[0] == 'q');
    fcntl(m, F_SETFL, fl);

    /* Window size. */
    struct winsize ws = {24, 80, 0, 0}, ws2 = {0};
    CHECK("TIOCSWINSZ on master", ioctl(m, TIOCSWINSZ, &ws) == 0);
    CHECK("TIOCGWINSZ on slave", ioctl(s, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 24 && ws2.ws_col == 80);
    CHECK("TIOCGPGRP without ctty ENOTTY", ERR(ioctl(s, TIOCGPGRP, &fl), ENOTTY));
    CHECK("not a tty ioctl ENOTTY", ERR(ioctl(p[0], TCGETS, &t), ENOTTY));
    CHECK("FIOCLEX", ioctl(p[0], FIOCLEX) == 0 && (fcntl(p[0], F_GETFD) & FD_CLOEXEC));
    CHECK("FIONCLEX", ioctl(p[0], FIONCLEX) == 0 && !(fcntl(p[0], F_GETFD) & FD_CLOEXEC));
    int one = 1;
    CHECK("FIONBIO", ioctl(p[0], FIONBIO, &one) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK));
    write(p[1], "12345", 5);
    CHECK("FIONREAD on a pipe", ioctl(p[0], FIONREAD, &avail) == 0 && avail == 5);
    tcsetattr(s, TCSANOW, &t);

    /* A session with the terminal as controlling terminal. */
    int sync[2];
    pipe(sync);
    pid_t pid = fork();
    if (pid == 0) {
        close(sync[0]);
        close(m);
        close(s);
        signal(SIGINT, on_sig);
        signal(SIGWINCH, on_sig);
        signal(SIGHUP, on_sig);
        setsid();
        int code = 0;
        if (!ERR(open("/dev/tty", O_RDWR), ENXIO)) code |= 1;
        int c = open(name, O_RDWR);
        if (c < 0) code |= 2;
        if (tcgetpgrp(c) != getpid()) code |= 4;
        if (tcgetsid(c) != getpid()) code |= 4;
        int tty = open("/dev/tty", O_RDWR);
        if (tty < 0) code |= 16;
        struct stat a, b;
        fstat(tty, &a);
        fstat(c, &b);
        if (a.st_rdev != makedev(5, 0) || major(b.st_rdev) != 136) code |= 32;
        write(sync[1], "r", 1);
        sigset_t none;
        sigemptyset(&none);
        for (int i = 0; i < 500 && (!got_int || !got_winch); i++) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        if (!got_int || !got_winch) code |= 8;
        char l[64];
        int n = read(c, l, sizeof l);
        if (n != 5 || memcmp(l, "line\n", 5) != 0) code |= 64;
        write(sync[1], "s", 1);
        /* Wait for the hangup. */
        for (int i = 0; i < 500 && !got_hup; i++) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        if (!got_hup) code |= 128;
        n = read(c, l, sizeof l);
        if (n > 0) code |= 128;
        _exit(code);
    }
    close(sync[1]);
    char r;
    CHECK("child ready", read(sync[0], &r, 1) == 1);
    close(s);
    write(m, "\x03", 1);
    struct winsize ws3 = {30, 100, 0, 0};
    ioctl(m, TIOCSWINSZ, &ws3);
    write(m, "line\n", 5);
    CHECK("child read its line", read(sync[0], &r, 1) == 1);
    close(m);
    int status;
    waitpid(pid, &status, 0);
    CHECK("child: ctty, /dev/tty, SIGINT, SIGWINCH, line, SIGHUP", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) printf("child status %#x\n", status);

    /* Master read after the slave closes: EIO. */
    m = posix_openpt(O_RDWR | O_NOCTTY);
    unlockpt(m);
    ptsname_r(m, name, sizeof name);
    s = open(name, O_RDWR | O_NOCTTY);
    write(s, "bye", 3);
    close(s);
    CHECK("master drains after slave close", rd(m, buf, sizeof buf) == 3);
    CHECK("then EIO", ERR(read(m, buf, sizeof buf), EIO));
    int locked = posix_openpt(O_RDWR | O_NOCTTY);
    ptsname_r(locked, name, sizeof name);
    CHECK("locked slave EIO", ERR(open(name, O_RDWR), EIO));
    return 0;
}
