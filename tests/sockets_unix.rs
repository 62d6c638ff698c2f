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
