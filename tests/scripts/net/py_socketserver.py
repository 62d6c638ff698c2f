# socketserver: threading and forking TCP servers, a unix stream server.
import os, socket, socketserver, threading


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())


def exercise(server_cls, family, addr, n):
    with server_cls(addr, Echo) as srv:
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
        th.start()
        out = []
        for i in range(n):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.connect(srv.server_address)
            s.sendall(b"hello %d\n" % i)
            out.append(s.makefile("rb").readline())
            s.close()
        srv.shutdown()
        th.join()
    print(server_cls.__name__, out[0], out[-1], len(out))


exercise(socketserver.ThreadingTCPServer, socket.AF_INET, ("127.0.0.1", 0), 20)
exercise(socketserver.ForkingTCPServer, socket.AF_INET, ("127.0.0.1", 0), 5)
path = "/tmp/py-ss-%d.sock" % os.getpid()
exercise(socketserver.ThreadingUnixStreamServer, socket.AF_UNIX, path, 5)
os.unlink(path)
