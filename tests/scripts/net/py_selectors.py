# A non-blocking echo server and ten clients in one process, driven by selectors (epoll).
import selectors, socket

sel = selectors.DefaultSelector()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, "listen")
clients = []
for i in range(10):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(srv.getsockname())
    clients.append(c)
    sel.register(c, selectors.EVENT_WRITE, ("client", i))
replies = {}
done = 0
while done < 10:
    for key, ev in sel.select(timeout=10):
        tag = key.data
        if tag == "listen":
            conn, _ = srv.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, "conn")
        elif tag == "conn":
            d = key.fileobj.recv(1024)
            if d:
                key.fileobj.send(d.upper())
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
        else:
            _, i = tag
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                s.send(b"client %d" % i)
                sel.modify(s, selectors.EVENT_READ, tag)
            else:
                replies[i] = s.recv(1024)
                sel.unregister(s)
                s.close()
                done += 1
for i in sorted(replies):
    print(i, replies[i])
