# An asyncio TCP server and 50 clients in one event loop, and a unix-socket server.
import asyncio, os


async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line[:-1][::-1] + b"\n")
        await writer.drain()
    writer.close()


async def client(port, i):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"message %d\n" % i)
    await w.drain()
    reply = await r.readline()
    w.close()
    await w.wait_closed()
    return reply


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    replies = await asyncio.gather(*(client(port, i) for i in range(50)))
    print("tcp", len(replies), replies[0], replies[49])
    srv.close()
    await srv.wait_closed()
    path = "/tmp/py-asyncio-%d.sock" % os.getpid()
    usrv = await asyncio.start_unix_server(handle, path)
    r, w = await asyncio.open_unix_connection(path)
    w.write(b"unix\n")
    print("unix", await r.readline())
    w.close()
    usrv.close()
    await usrv.wait_closed()
    os.unlink(path)


asyncio.run(main())
