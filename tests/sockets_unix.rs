//! AF_UNIX sockets (issue 13, item 2): each section of `tests/c/sock_unix.c` runs natively and
//! sandboxed and must print the same lines: socket types and errors, socketpairs, shutdown
//! halves, ECONNRESET and EPIPE/SIGPIPE, full buffers, path and abstract names, autobind,
//! backlogs, datagrams, seqpacket records, SCM_RIGHTS and SCM_CREDENTIALS, a forking echo
//! server, 100 MB through a socketpair, sockets shared across fork, and hostile inputs (cycles
//! of sockets in flight, many sockets, too many fds in one message).

use std::process::Output;
use std::time::Duration;

use gvisor_tests::*;

const SHORT: Duration = Duration::from_secs(120);

/// A per-test directory for path sockets, the same natively and sandboxed (the sandbox's /tmp
/// is its own overlay: the host's directory is only made so the native run has it).
fn sock_dir(section: &str) -> String {
    let d = format!("/tmp/gvisor-sock-unix-{}-{section}", std::process::id());
    let _ = std::fs::create_dir_all(&d);
    d
}

fn same_as_native(section: &str) -> Output {
    let prog = compile_c("sock_unix");
    let dir = sock_dir(section);
    let args = [section, dir.as_str()];
    let native = run_native(&prog, &args);
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = run_command_timeout(sandboxed_command(&prog, &args, &[] as &[&str]), SHORT);
    let _ = std::fs::remove_dir_all(&dir);
    assert_same(&native, &sandboxed);
    sandboxed
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn types_flags_and_unconnected_errors() {
    same_as_native("types");
}

#[test]
fn socketpair_stream_shutdown_reset_and_sigpipe() {
    let out = same_as_native("pair");
    assert!(stdout(&out).contains("SO_ERROR = 104"));
}

#[test]
fn full_send_buffer_blocks_or_eagain() {
    let out = same_as_native("full");
    assert!(stdout(&out).contains("full: last=EAGAIN"));
}

#[test]
fn path_names_bind_connect_accept() {
    let out = same_as_native("named");
    assert!(stdout(&out).contains("connect closed = -1 ECONNREFUSED"));
}

#[test]
fn listen_backlog_bounds_the_accept_queue() {
    same_as_native("backlog");
}

#[test]
fn abstract_names_and_autobind() {
    same_as_native("abstract");
}

#[test]
fn datagrams_named_connected_and_bounded() {
    same_as_native("dgram");
}

#[test]
fn seqpacket_records() {
    same_as_native("seqpacket");
}

#[test]
fn rights_and_credentials() {
    let out = same_as_native("rights");
    assert!(stdout(&out).contains("read passed pipe = 16"));
}

#[test]
fn forking_echo_server_over_a_path_socket() {
    let out = same_as_native("echo");
    assert!(stdout(&out).contains("echo clients ok=4 server exit=0"));
}

#[test]
fn hundred_megabytes_through_a_socketpair() {
    let out = same_as_native("bulk");
    assert!(stdout(&out).contains("bulk got=104857600 bad=0 writer=0"));
}

#[test]
fn sockets_shared_across_fork() {
    same_as_native("shared");
}

#[test]
fn many_sockets_and_cycles_in_flight() {
    same_as_native("many");
}

#[test]
fn edges_buffers_passcred_boundaries_shutdown_of_datagrams() {
    let out = same_as_native("edges");
    assert!(stdout(&out).contains("passcred read 2 = 5"));
}

#[test]
fn epoll_edges_and_blocking_calls_woken() {
    let out = same_as_native("blocking");
    assert!(stdout(&out).contains("recv restarted = 4"));
}

/// Python over AF_UNIX only: socketpair, send_fds/recv_fds, a path server with selectors, an
/// asyncio unix server, and a multiprocessing manager (its server is reached over a unix
/// socket).
const PY_UNIX: &str = r#"# Python over AF_UNIX only: socketpair, fd passing, a path server with
# selectors, asyncio unix server, and a multiprocessing manager.
import asyncio, os, socket, selectors, sys, tempfile
import multiprocessing as mp

d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()

a, b = socket.socketpair()
a.sendall(b"x" * 100000)
got = 0
while got < 100000:
    got += len(b.recv(65536))
print("socketpair", got)
r, w = os.pipe()
os.write(w, b"piped")
socket.send_fds(a, [b"m"], [r])
msg, fds, flags, addr = socket.recv_fds(b, 10, 4)
print("recv_fds", msg, len(fds), os.read(fds[0], 10))

path = os.path.join(d, "py.sock")
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen()
srv.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
c.sendall(b"hello")
conn = None
done = False
while not done:
    for key, ev in sel.select(timeout=5):
        if key.fileobj is srv:
            conn, _ = srv.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ)
        else:
            data = key.fileobj.recv(100)
            key.fileobj.sendall(data.upper())
            done = True
print("selectors", c.recv(100))
os.unlink(path)

async def main():
    p = os.path.join(d, "aio.sock")
    async def handle(r, w):
        line = await r.readline()
        w.write(line[::-1])
        await w.drain()
        w.close()
    server = await asyncio.start_unix_server(handle, p)
    async with server:
        r, w = await asyncio.open_unix_connection(p)
        w.write(b"abc\n")
        print("asyncio", await r.read())
        w.close()
    os.unlink(p)
asyncio.run(main())

def add(dd, k):
    dd[k] = k * 10

if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Manager() as m:
        dd = m.dict()
        ps = [mp.Process(target=add, args=(dd, i)) for i in range(4)]
        for p in ps: p.start()
        for p in ps: p.join()
        print("manager", sorted(dd.items()))
"#;

#[test]
fn python_over_unix_sockets() {
    let py = scratch_dir().join("py_unix.py");
    std::fs::write(&py, PY_UNIX).unwrap();
    let dir = sock_dir("python");
    let args = [py.to_str().unwrap(), dir.as_str()];
    let native = run_native("/usr/bin/python3", &args);
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = run_command_timeout(
        sandboxed_command("/usr/bin/python3", &args, &[] as &[&str]),
        SHORT,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_same(&native, &sandboxed);
    assert!(stdout(&sandboxed).contains("manager [(0, 0), (1, 10), (2, 20), (3, 30)]"));
}

#[test]
fn threads_hammering_shared_sockets_and_passing_cycles() {
    let out = same_as_native("stress");
    assert!(stdout(&out).contains("stress: 2000 2000 2000 2000 bad=0"));
}
