#!/usr/bin/env python3
"""exec -d -t of a program that prints one line and exits at once, N times,
as containerd's runc shim drives it: receive the master, wait for the
pid-file pid (the waiter, our child as a subreaper), only then read the
master. Prints "lost K of N": runs whose line was not on the terminal when
the exit was seen.

usage: runc_exec_drain.py GVISOR ROOT ID N DIR
"""
import array, os, socket, subprocess, sys, ctypes, fcntl
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
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(4 * fds.itemsize))
    for level, kind, data in anc:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    m = fds[0]
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
