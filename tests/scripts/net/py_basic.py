# Socket basics a Python program relies on; prints what it sees, one line per check.
import errno, os, socket, threading

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def echo_server(srv):
    c, _ = srv.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()


def tcp(family, host):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    th = threading.Thread(target=echo_server, args=(srv,))
    th.start()
    cl = socket.create_connection((host, port))
    print(family.name, "peer is server", cl.getpeername()[:2] == (host, port))
    sender = threading.Thread(target=lambda: (cl.sendall(PAYLOAD), cl.shutdown(socket.SHUT_WR)))
    sender.start()
    got = bytearray()
    while True:
        d = cl.recv(100000)
        if not d:
            break
        got += d
    sender.join()
    th.join()
    print(family.name, "echo", len(got), bytes(got) == PAYLOAD)
    cl.close()
    srv.close()


tcp(socket.AF_INET, "127.0.0.1")
tcp(socket.AF_INET6, "::1")

# UDP
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u1.bind(("127.0.0.1", 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.bind(("127.0.0.1", 0))
u2.sendto(b"hello", u1.getsockname())
d, a = u1.recvfrom(100)
print("udp", d, a == u2.getsockname())
u1.sendto(b"x" * 3000, u2.getsockname())
print("udp truncated", len(u2.recv(100)))

# socketpair and unix path sockets
a, b = socket.socketpair()
a.sendall(b"pair")
print("socketpair", b.recv(100))
path = "/tmp/py-basic-%d.sock" % os.getpid()
us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
us.bind(path)
us.listen(1)
uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uc.connect(path)
conn, _ = us.accept()
uc.sendall(b"unix")
print("unix path", conn.recv(100), os.path.exists(path), oct(os.stat(path).st_mode >> 12))
os.unlink(path)

# refusal
try:
    socket.create_connection(("127.0.0.1", 1), timeout=5)
except ConnectionRefusedError:
    print("refused")

# non-blocking connect
s = socket.socket()
s.setblocking(False)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
r = s.connect_ex(srv.getsockname())
print("nonblocking connect", errno.errorcode.get(r, r) in ("EINPROGRESS", 0))
print("resolve localhost", sorted({ai[4][0] for ai in socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)}))
print("options", s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
