//! AF_INET/AF_INET6 over the sandbox's user-space stack (issue 13, item 3 and the inet parts of
//! items 1, 5 and 7): each check of tests/c/sock_inet.c runs natively (over the host's
//! loopback) and sandboxed, and what the program prints must be the same: errors, readiness
//! bits, addresses (IPv4-mapped included), options read back, resets, refusals, half-close,
//! SIGPIPE, epoll edges, a forking echo server, 1,000 connections, 100 MB checksummed.
//! Ping sockets and what the sandbox refuses (raw sockets, urgent data) are checked exactly,
//! sandbox only.

use std::time::Duration;

use gvisor_tests::*;

fn same_as_native(check: &str) {
    let prog = compile_c_with("sock_inet", &["-pthread"]);
    let native = run_command_timeout(native_command(&prog, &[check]), Duration::from_secs(120));
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = run_command_timeout(
        sandboxed_command(&prog, &[check], &[] as &[&str]),
        Duration::from_secs(120),
    );
    assert_same(&native, &sandboxed);
}

#[test]
fn inet_basics_bind_listen_connect() {
    same_as_native("basics");
}

#[test]
fn inet_tcp_options_read_back_as_linux() {
    same_as_native("options");
}

#[test]
fn inet_nonblocking_connect_accept_and_full_buffers() {
    same_as_native("nonblock");
}

#[test]
fn inet_refused_connections() {
    same_as_native("refused");
}

#[test]
fn inet_reset_connections() {
    same_as_native("reset");
}

#[test]
fn inet_half_close() {
    same_as_native("halfclose");
}

#[test]
fn inet_epipe_and_sigpipe() {
    same_as_native("epipe");
}

#[test]
fn inet_recv_flags_peek_waitall_trunc_timeout() {
    same_as_native("flags");
}

#[test]
fn inet_udp() {
    same_as_native("udp");
}

#[test]
fn inet_ipv6_dual_stack_and_mapped_addresses() {
    same_as_native("v6");
}

#[test]
fn inet_epoll_edges_on_sockets() {
    same_as_native("epoll");
}

#[test]
fn inet_forking_echo_server() {
    same_as_native("forkecho");
}

#[test]
fn inet_a_thousand_connections_and_refusal_churn() {
    same_as_native("many");
}

#[test]
fn inet_100mb_over_tcp_checksummed() {
    same_as_native("big");
}

#[test]
fn inet_iovecs_mmsg_udp_buffers_and_rebinding() {
    same_as_native("more");
}

#[test]
fn inet_threads_share_the_stack() {
    same_as_native("threads");
}

#[test]
fn inet_proc_net_files() {
    same_as_native("procnet");
}

#[test]
fn inet_ping_sockets_and_refusals() {
    let prog = compile_c_with("sock_inet", &["-pthread"]);
    let out = run_command_timeout(
        sandboxed_command(&prog, &["ping"], &[] as &[&str]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "send echo = 12\n\
         recv reply = 12\n\
         reply type 0 code 0 seq 1 id matches 1 from 127.0.0.1 payload 'ping'\n\
         send non-echo = -1 EINVAL\n\
         send short = -1 EINVAL\n\
         raw socket = -1 EPERM\n\
         send MSG_OOB = -1 EOPNOTSUPP\n\
         send echo6 = 12\n\
         recv reply6 = 12\n\
         reply6 type 129 seq 7 payload 'v6v6'\n"
    );
}
