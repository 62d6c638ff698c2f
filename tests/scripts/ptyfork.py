import os, pty, termios
pid, fd = pty.fork()
if pid == 0:
    print("child tty", os.isatty(0), os.ttyname(0).startswith("/dev/pts/"), os.getsid(0) == os.getpid())
    print("fg", os.tcgetpgrp(0) == os.getpgrp())
    line = input("prompt> ")
    print("got", repr(line))
    os._exit(3)
out = b""
while b"prompt> " not in out:
    out += os.read(fd, 1024)
os.write(fd, b"typed text\n")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
print(out.decode().replace("\r", "\\r"))
print("status", os.WEXITSTATUS(st))
