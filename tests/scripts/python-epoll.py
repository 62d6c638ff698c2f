import select, os, asyncio
r, w = os.pipe()
ep = select.epoll()
ep.register(r, select.EPOLLIN)
print("empty", ep.poll(0.05))
os.write(w, b"x")
print("ready", [(fd == r, ev & select.EPOLLIN != 0) for fd, ev in ep.poll(1)])
efd = os.eventfd(0)
os.eventfd_write(efd, 3)
