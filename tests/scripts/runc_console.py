#!/usr/bin/env python3
"""A console socket receiver, as conmon's: listens on SOCK, runs `gvisor
create --console-socket SOCK`, receives the terminal master by SCM_RIGHTS
(checking the message carries the terminal's name), sets the window size
to 30x100, starts the container and prints what the program writes on
the terminal until it exits.

usage: runc_console.py GVISOR ROOT BUNDLE ID SOCK
"""
import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from console_socket import receive_master  # noqa: E402
import fcntl
import os
import socket
import struct
import subprocess
import sys
import termios
import threading

G, root, bundle, cid, path = sys.argv[1:6]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
got = {}


def receive():
    got["name"], got["fd"], got["conn"] = receive_master(srv)


t = threading.Thread(target=receive)
t.start()
r = subprocess.run([G, "--root", root, "--network", "none", "create", "--bundle", bundle,
                    "--console-socket", path, cid],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
print("create", r.returncode, r.stderr.decode().strip(), flush=True)
if r.returncode != 0:
    sys.exit(0)
t.join()
print("name", got["name"].startswith("/dev/pts/"), flush=True)
m = got["fd"]
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
r = subprocess.run([G, "--root", root, "start", cid], capture_output=True)
print("start", r.returncode, flush=True)
os.write(m, b"typed\n")
data = b""
while True:
    try:
        b = os.read(m, 4096)
    except OSError:
        break
    if not b:
        break
    data += b
    if b"END" in data:
        break
sys.stdout.write(data.decode(errors="replace").replace("\r", ""))
sys.stdout.flush()
