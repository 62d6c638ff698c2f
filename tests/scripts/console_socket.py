"""The receiving end of a runc console socket, shared by the runc_*.py
test scripts: accept one connection and take the terminal master sent
with SCM_RIGHTS (and the name runc sends with it)."""
import array
import socket


def receive_master(srv):
    """Accepts on the listening socket `srv`; returns (name, master fd or
    -1, the connection)."""
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(4 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg.decode(errors="replace"), (fds[0] if fds else -1), conn
