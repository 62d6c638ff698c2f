#!/usr/bin/env python3
"""exec -d -t as conmon does it: listens on SOCK, runs `gvisor exec -d -t
--console-socket SOCK --pid-file F ID sh -c PROGRAM`, receives the master,
sets the window size to 40x120, types a line, prints what the program
writes until END, then waits for the pid-file pid (the waiter, its child as
a subreaper) and prints how it ended.

usage: runc_exec_tty.py GVISOR ROOT ID SOCK PROGRAM
"""
import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from console_socket import receive_master  # noqa: E402
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
import termios
import threading

G, root, cid, path, program = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
got = {}


def receive():
    _, got["fd"], got["conn"] = receive_master(srv)


t = threading.Thread(target=receive)
t.start()
pidfile = path + ".pid"
r = subprocess.run([G, "--root", root, "exec", "-d", "-t", "--console-socket", path,
                    "--pid-file", pidfile, cid, "sh", "-c", program],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
print("exec", r.returncode, r.stderr.decode().strip(), flush=True)
if r.returncode != 0:
    sys.exit(0)
t.join()
m = got["fd"]
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
os.write(m, b"typed\n")
data = b""
while b"END" not in data:
    try:
        b = os.read(m, 4096)
    except OSError:
        break
    if not b:
        break
    data += b
sys.stdout.write(data.decode(errors="replace").replace("\r", ""))
pid = int(open(pidfile).read())
_, st = os.waitpid(pid, 0)
if os.WIFEXITED(st):
    print("waiter exited %d" % os.WEXITSTATUS(st), flush=True)
else:
    print("waiter signaled %d" % os.WTERMSIG(st), flush=True)
