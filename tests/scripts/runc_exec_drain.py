#!/usr/bin/env python3
"""exec -d -t of a program that prints one line and exits at once, N times,
as containerd's runc shim drives it: receive the master, wait for the
pid-file pid (the waiter, our child as a subreaper), only then read the
master. Prints "lost K of N": runs whose line was not on the terminal when
the exit was seen.

usage: runc_exec_drain.py GVISOR ROOT ID N DIR
"""
import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from console_socket import receive_master  # noqa: E402
import os, socket, subprocess, sys, ctypes, fcntl
G, root, cid, n, wd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
libc = ctypes.CDLL(None, use_errno=True); libc.prctl(36, 1, 0, 0, 0)
lost = 0
for i in range(n):
    path = os.path.join(wd, "drain.sock")
    try: os.unlink(path)
    except FileNotFoundError: pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(path); srv.listen(1)
    pf = os.path.join(wd, "drain.pid")
    p = subprocess.Popen([G, "--root", root, "exec", "-d", "-t", "--console-socket", path, "--pid-file", pf, cid, "sh", "-c", "echo out-%d" % i])
    _, m, conn = receive_master(srv)
    p.wait()
    pid = int(open(pf).read())
    os.waitpid(pid, 0)
    fcntl.fcntl(m, fcntl.F_SETFL, os.O_NONBLOCK)
    out = b""
    try:
        while True:
            d = os.read(m, 4096)
            if not d: break
            out += d
    except OSError: pass
    if b"out-%d" % i not in out:
        lost += 1
    os.close(m); conn.close(); srv.close()
print("lost", lost, "of", n)
