//! The `host` network mode (gVisor's hostinet): AF_INET and AF_INET6
//! sockets are host sockets in the sandbox's network namespace, driven by
//! the sentry on the program's behalf. Weaker isolation than `sandbox`:
//! the host kernel's TCP/IP stack parses the sandbox's traffic, and the
//! sentry's seccomp allowlist grows by the socket calls.
//!
//! - [`socket`]: the socket as a file; every host call is non-blocking
//!   and a call that would block waits on the socket's wait queue.
//! - [`poller`]: the thread that turns the host's epoll events into
//!   wake-ups of those queues.
//! - [`sys`]: the host calls (each listed in the host mode's allowlist).
//!
//! What the sentry keeps itself: the program's O_NONBLOCK, SO_RCVTIMEO
//! and SO_SNDTIMEO, the privilege checks (CAP_NET_BIND_SERVICE for ports
//! below 1024, no raw sockets at all), and which options reach the host
//! ([`PASSED_OPTIONS`]; others are ENOPROTOOPT). Control messages: none
//! are passed either way (options that would produce them — IP_PKTINFO,
//! IP_RECVTOS, SO_TIMESTAMP, IPV6_RECVPKTINFO … — are ENOPROTOOPT, and
//! ancillary data sent at the IP levels is ignored). Unix and netlink
//! sockets stay the sentry's own.

use std::sync::Arc;

use super::Stack as NetStack;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext};

pub mod poller;
pub mod socket;
pub mod sys;

/// The (level, name) socket options passed to the host socket, for
/// setsockopt and getsockopt alike (the host refuses what is read-only).
/// SO_RCVTIMEO and SO_SNDTIMEO are the sentry's (it does the waiting).
pub const PASSED_OPTIONS: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_TYPE),
    (libc::SOL_SOCKET, libc::SO_ERROR),
    (libc::SOL_SOCKET, libc::SO_DONTROUTE),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::SOL_SOCKET, libc::SO_SNDBUF),
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE),
    (libc::SOL_SOCKET, libc::SO_PRIORITY),
    (libc::SOL_SOCKET, libc::SO_LINGER),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT),
    (libc::SOL_SOCKET, libc::SO_PEERCRED),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT),
    (libc::SOL_SOCKET, libc::SO_SNDLOWAT),
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL),
    (libc::SOL_SOCKET, libc::SO_DOMAIN),
    (libc::SOL_SOCKET, libc::SO_COOKIE),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG),
    (libc::IPPROTO_TCP, libc::TCP_CORK),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    (libc::IPPROTO_TCP, libc::TCP_SYNCNT),
    (libc::IPPROTO_TCP, libc::TCP_LINGER2),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT),
    (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP),
    (libc::IPPROTO_TCP, libc::TCP_INFO),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK),
    (libc::IPPROTO_TCP, libc::TCP_CONGESTION),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
    (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT),
    (libc::IPPROTO_IP, libc::IP_TOS),
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER),
    (libc::IPPROTO_IP, libc::IP_MTU),
    (libc::IPPROTO_IP, libc::IP_FREEBIND),
    (libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_IF),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP),
    (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP),
    (libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP),
    (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP),
    (libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
    (libc::IPPROTO_UDP, libc::UDP_CORK),
    (libc::IPPROTO_UDP, libc::UDP_SEGMENT),
];

/// The (domain, type, protocol) triples host sockets are made with (type
/// without SOCK_NONBLOCK | SOCK_CLOEXEC, which every host socket has).
pub const SOCKET_KINDS: &[(i32, i32, i32)] = &[
    (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP),
    (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP),
    (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDP),
    (libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_UDP),
    (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
    (libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6),
];

/// socket(AF_INET/AF_INET6, ty, protocol) as a host socket. Raw sockets
/// are EPERM even with CAP_NET_RAW: the sentry holds no CAP_NET_RAW on
/// the host, and a raw socket would see all of the namespace's traffic.
pub fn new_socket(
    stack: &Arc<NetStack>,
    _ctx: &dyn TaskContext,
    domain: i32,
    ty: i32,
    protocol: i32,
    nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    let icmp = if domain == libc::AF_INET6 {
        libc::IPPROTO_ICMPV6
    } else {
        libc::IPPROTO_ICMP
    };
    let protocol = match ty {
        libc::SOCK_STREAM => match protocol {
            0 | libc::IPPROTO_TCP => libc::IPPROTO_TCP,
            _ => return Err(Errno::EPROTONOSUPPORT),
        },
        libc::SOCK_DGRAM => match protocol {
            0 | libc::IPPROTO_UDP => libc::IPPROTO_UDP,
            p if p == icmp => p,
            _ => return Err(Errno::EPROTONOSUPPORT),
        },
        libc::SOCK_RAW => return Err(Errno::EPERM),
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    };
    let s = socket::HostSocket::new(stack, domain, ty, protocol, nonblock)?;
    Ok(Arc::new(s))
}

/// The host descriptors hostinet keeps: the poller's epoll descriptor
/// once it exists (the sockets themselves are made after confinement).
pub fn host_fds() -> Vec<std::os::fd::RawFd> {
    poller::fd().into_iter().collect()
}

#[cfg(test)]
mod tests;
