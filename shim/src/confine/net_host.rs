//! What the sentry's allowlist gains in network mode `host` (hostinet):
//! the socket calls made on the program's behalf on host sockets. Each
//! call is pinned to the arguments `sentry_core::net::hostinet` makes it
//! with: sockets of the kinds in `hostinet::SOCKET_KINDS` only (always
//! non-blocking and close-on-exec), options of `hostinet::PASSED_OPTIONS`
//! only, the four queue ioctls, epoll on the poller's own descriptor.
//! recvmsg, sendmsg, poll, fcntl and close are in the base list already
//! (recvmsg/sendmsg carry the data, poll(…, 0) the readiness).

use sentry_core::net::hostinet::{sys, PASSED_OPTIONS, SOCKET_KINDS};

use super::allowlist::{allow, allow_if, Allowed, Cond};

/// The calls host sockets need (on top of the base list).
pub fn hostinet_calls() -> Vec<Allowed> {
    use libc::*;
    let flags = sys::HOST_SOCK_FLAGS as u64;
    let kinds: Vec<Vec<Cond>> = SOCKET_KINDS
        .iter()
        .map(|&(d, t, p)| {
            vec![
                Cond::Eq(0, d as u64),
                Cond::Eq(1, t as u64 | flags),
                Cond::Eq(2, p as u64),
            ]
        })
        .collect();
    let options: Vec<Vec<Cond>> = PASSED_OPTIONS
        .iter()
        .map(|&(l, n)| vec![Cond::Eq(1, l as u64), Cond::Eq(2, n as u64)])
        .collect();
    let mut get_options = options.clone();
    // Waiting for a connect: its SO_ERROR (in the list already, kept
    // explicit).
    get_options.push(vec![
        Cond::Eq(1, SOL_SOCKET as u64),
        Cond::Eq(2, SO_ERROR as u64),
    ]);
    let ioctls: Vec<Vec<Cond>> = sys::IOCTLS
        .iter()
        .map(|&(_, r)| vec![Cond::Eq(1, r)])
        .collect();
    vec![
        allow_if(
            "socket",
            SYS_socket,
            kinds,
            "host TCP, UDP and ping sockets (AF_INET/AF_INET6, non-blocking, close-on-exec)",
        ),
        allow_if(
            "accept4",
            SYS_accept4,
            vec![vec![Cond::Eq(3, flags)]],
            "accepting on host listening sockets (non-blocking, close-on-exec)",
        ),
        allow("bind", SYS_bind, "bind of host sockets"),
        allow("connect", SYS_connect, "connect of host sockets"),
        allow("listen", SYS_listen, "listen on host sockets"),
        allow("shutdown", SYS_shutdown, "shutdown of host sockets"),
        allow("getsockname", SYS_getsockname, "names of host sockets"),
        allow("getpeername", SYS_getpeername, "peers of host sockets"),
        allow_if(
            "setsockopt",
            SYS_setsockopt,
            options,
            "the socket options passed through (hostinet::PASSED_OPTIONS)",
        ),
        allow_if(
            "getsockopt",
            SYS_getsockopt,
            get_options,
            "the socket options passed through; SO_ERROR after a connect",
        ),
        allow_if(
            "ioctl",
            SYS_ioctl,
            ioctls,
            "FIONREAD, TIOCOUTQ, SIOCOUTQNSD, SIOCATMARK on host sockets",
        ),
        allow_if(
            "epoll_create1",
            SYS_epoll_create1,
            vec![vec![Cond::Eq(0, EPOLL_CLOEXEC as u64)]],
            "the hostinet poller's epoll (made with the first host socket)",
        ),
        allow_if(
            "epoll_ctl",
            SYS_epoll_ctl,
            vec![
                vec![Cond::Eq(1, EPOLL_CTL_ADD as u64)],
                vec![Cond::Eq(1, EPOLL_CTL_DEL as u64)],
            ],
            "registering host sockets with the poller and removing them",
        ),
        allow("epoll_wait", SYS_epoll_wait, "the hostinet poller's wait"),
        allow(
            "epoll_pwait",
            SYS_epoll_pwait,
            "the hostinet poller's wait (libc may use it)",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_mode_list_compiles_and_pins_sockets() {
        let list = super::super::sentry_allowlist_for(1, sentry_core::net::NetMode::Host);
        let prog = super::super::bpf::compile(&list).expect("host-mode filter compiles");
        assert!(prog.len() < 4096, "filter of {} instructions", prog.len());
        let socket = list.iter().find(|a| a.name == "socket").unwrap();
        assert_eq!(socket.when.len(), SOCKET_KINDS.len());
        let ioctl = list.iter().find(|a| a.name == "ioctl").unwrap();
        assert!(ioctl
            .when
            .iter()
            .any(|c| matches!(c[..], [Cond::Eq(1, 0x541b)])));
        // The base list's KVM ioctls stay.
        assert!(ioctl.when.len() > sys::IOCTLS.len());
    }
}
