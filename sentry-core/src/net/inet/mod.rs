//! AF_INET and AF_INET6: TCP over smoltcp, UDP and ICMP echo ("ping")
//! sockets, on the loopback interface of the sandbox (127.0.0.0/8 and
//! ::1) and, in `sandbox` mode, on its Ethernet links ([`crate::net::link`]).
//! Packets between the sandbox's own addresses go from one smoltcp socket
//! to another through an in-memory device, inside the sentry; packets to
//! other addresses leave as Ethernet frames through the link their route
//! picks, and frames for the sandbox's addresses come in the same way.
//!
//! - [`stack`]: the smoltcp interface, the loopback device, the pump and
//!   the timer thread.
//! - [`tcp`]: TCP sockets (connections, listeners and their accept
//!   queues).
//! - [`dgram`]: UDP and ping sockets (datagrams delivered directly).
//! - [`ports`]: the bind table (SO_REUSEADDR/SO_REUSEPORT, ephemeral ports).
//! - [`addr`]: address conversions (IPv4-mapped IPv6).
//! - [`ipopts`]: the SOL_IP/SOL_IPV6 options.
//! - [`procnet`]: the /proc/net files (tcp, tcp6, udp, udp6, dev,
//!   if_inet6, route, netstat, snmp).
//!
//! Raw sockets (SOCK_RAW) are refused with EPERM, with or without
//! CAP_NET_RAW: not implemented. Urgent data (MSG_OOB) is refused:
//! EOPNOTSUPP on send (Linux would send it), EINVAL on receive (as Linux
//! without urgent data pending).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Interface, Stack as NetStack, CAP_NET_BIND_SERVICE};
use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, Stat, TaskContext};

pub mod addr;
pub mod dgram;
pub mod ipopts;
pub mod linkio;
pub mod ports;
pub mod procnet;
pub mod stack;
pub mod tcp;

/// The TCP/IP stack of one sandbox.
pub struct Stack {
    pub(crate) core: Arc<stack::Core>,
}

impl Stack {
    /// A stack serving `interfaces` (loopback first), built from `config`
    /// (its links carry the packet sockets in `sandbox` mode).
    pub fn new(_interfaces: &[Interface], config: &super::NetConfig) -> Stack {
        // Links carry frames in `sandbox` mode only (in `host` mode the
        // host's stack serves AF_INET; this one is loopback).
        let net = if config.mode == super::NetMode::Sandbox {
            super::link::Net::new(config)
        } else {
            super::link::Net::default()
        };
        Stack {
            core: stack::Core::new(Arc::new(net)),
        }
    }

    /// The counters of each link, by interface index.
    pub fn link_counts(&self) -> Vec<(u32, crate::net::link::Counts)> {
        self.core
            .net
            .links
            .iter()
            .map(|l| (l.index, l.stats.counts()))
            .collect()
    }

    /// Routes, neighbours and counters of the links, for the views.
    pub fn view(&self) -> crate::net::link::View {
        let mut v = self.core.net.view();
        if let Some(d) = self.core.lock().dev.link.as_ref() {
            v.neigh = d.neigh_view();
        }
        v
    }

    /// /proc/net/`name` for the inet files.
    pub fn proc_net(&self, name: &str, interfaces: &[Interface]) -> Option<String> {
        procnet::render(&self.core, name, interfaces)
    }
}

/// socket(AF_INET/AF_INET6, ty, protocol).
pub fn new_socket(
    stack: &Arc<NetStack>,
    ctx: &dyn TaskContext,
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
    match ty {
        libc::SOCK_STREAM => {
            if protocol != 0 && protocol != libc::IPPROTO_TCP {
                return Err(Errno::EPROTONOSUPPORT);
            }
            Ok(Arc::new(tcp::new(stack, ctx, domain, nonblock)))
        }
        libc::SOCK_DGRAM => {
            let ping = protocol == icmp;
            if protocol != 0 && protocol != libc::IPPROTO_UDP && !ping {
                return Err(Errno::EPROTONOSUPPORT);
            }
            let protocol = if protocol == 0 {
                libc::IPPROTO_UDP
            } else {
                protocol
            };
            Ok(Arc::new(dgram::new(
                stack, ctx, domain, protocol, ping, nonblock,
            )))
        }
        // Raw sockets are not implemented: refused as to an unprivileged
        // program.
        libc::SOCK_RAW => Err(Errno::EPERM),
        libc::SOCK_SEQPACKET | libc::SOCK_RDM => Err(Errno::ESOCKTNOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// A new socket inode number.
pub(crate) fn next_ino() -> u64 {
    static INO: AtomicU64 = AtomicU64::new(40_000);
    INO.fetch_add(1, Ordering::Relaxed)
}

/// What fstat shows of a socket.
pub(crate) fn socket_stat(ino: u64) -> Stat {
    Stat {
        ino,
        nlink: 1,
        mode: libc::S_IFSOCK | 0o777,
        blksize: 4096,
        dev: 0x8,
        ..Default::default()
    }
}

/// The ioctls of the interfaces (SIOCGIF*), asked of any socket.
/// AF_INET sockets answer the address ioctls too (SIOCGIFADDR ...);
/// AF_INET6 sockets only the device ones, as Linux.
pub(crate) fn interface_ioctl(
    stack: &Arc<NetStack>,
    ctx: &dyn TaskContext,
    domain: i32,
    req: u64,
    arg: u64,
) -> SysResult<u64> {
    if domain == libc::AF_INET {
        crate::net::ioctl::interface_ioctl(stack, ctx, req, arg)
    } else {
        crate::net::ioctl::device_ioctl(stack, ctx, req, arg)
    }
}

/// bind(2)'s checks of the address, in Linux's order: EINVAL for a
/// mapped address on an IPv6-only socket, EADDRNOTAVAIL for an address no
/// interface has, EACCES for a privileged port without
/// CAP_NET_BIND_SERVICE.
pub(crate) fn check_bind_addr(
    net: &super::link::Net,
    ctx: &dyn TaskContext,
    domain: i32,
    a: &SockAddr,
    ip: IpAddr,
    port: u16,
    v6only: bool,
) -> SysResult<()> {
    if let SockAddr::Inet6(a6) = a {
        if a6.ip().to_ipv4_mapped().is_some() && v6only {
            return Err(Errno::EINVAL);
        }
        let _ = domain;
    }
    let ok = ip.is_unspecified()
        || net.is_local(ip)
        || match ip {
            IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_multicast(),
        };
    if !ok {
        return Err(Errno::EADDRNOTAVAIL);
    }
    if port != 0 && port < 1024 && !ctx.capable(CAP_NET_BIND_SERVICE) {
        return Err(Errno::EACCES);
    }
    Ok(())
}
