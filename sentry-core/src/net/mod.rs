//! Sockets: the families the sandbox serves, all inside the sentry. The
//! host sees no socket of the sandbox's: unix sockets are objects here,
//! TCP/UDP/ICMP run over a user-space TCP/IP stack (smoltcp) whose only
//! interface is loopback, and netlink route sockets describe that stack.
//!
//! One [`Stack`] per kernel, so the containers of a pod share it (its
//! loopback, its ports, its abstract unix names). Sockets are
//! [`crate::vfs::FileDescription`]s that return themselves as
//! [`crate::vfs::socket::Socket`]; the syscall layer drives them through
//! that trait.
//!
//! Layer: below the kernel, above the file systems (unix sockets bind names
//! in them through the VFS).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, Weak};

pub use config::{LinkConfig, NetConfig, NetConfigError, NetMode, RouteConfig};

use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext, Vfs};

pub mod config;
pub mod hostinet;
pub mod inet;
pub mod ioctl;
pub mod link;
pub mod netlink;
pub mod opts;
pub mod unix;

/// CAP_NET_BIND_SERVICE.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
/// CAP_NET_ADMIN.
pub const CAP_NET_ADMIN: u32 = 12;
/// CAP_NET_RAW.
pub const CAP_NET_RAW: u32 = 13;

/// One network interface as `ip link`/`ip addr` and the SIOCGIF ioctls
/// show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name ("lo").
    pub name: String,
    /// Index (lo is 1).
    pub index: u32,
    /// IFF_* flags.
    pub flags: u32,
    /// MTU.
    pub mtu: u32,
    /// Hardware address (all zero for loopback).
    pub mac: [u8; 6],
    /// ARPHRD_* type (ARPHRD_LOOPBACK 772, ARPHRD_ETHER 1).
    pub hw_type: u16,
    /// Addresses with their prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
}

impl Interface {
    /// The loopback interface every sandbox has.
    pub fn loopback() -> Interface {
        Interface {
            name: "lo".into(),
            index: 1,
            flags: (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as u32,
            mtu: 65536,
            mac: [0; 6],
            hw_type: 772,
            addrs: vec![
                (IpAddr::V4(Ipv4Addr::LOCALHOST), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ],
        }
    }

    /// The interface of `link` at `index` (an Ethernet device, up).
    pub fn of_link(link: &LinkConfig, index: u32) -> Interface {
        Interface {
            name: link.name.clone(),
            index,
            flags: (libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_RUNNING | libc::IFF_MULTICAST)
                as u32,
            mtu: link.mtu,
            mac: link.mac,
            hw_type: 1,
            addrs: link.addrs.clone(),
        }
    }
}

/// The network of one sandbox (pod).
pub struct Stack {
    me: Weak<Stack>,
    /// The file systems unix sockets bind path names in.
    pub vfs: Arc<Vfs>,
    /// Unix sockets: the abstract namespace and the bookkeeping of bound
    /// names.
    pub unix: unix::Namespace,
    /// TCP, UDP and ICMP over the user-space stack.
    pub inet: inet::Stack,
    /// The interfaces: loopback, then the links of the configuration.
    pub interfaces: Mutex<Vec<Interface>>,
    /// What the launcher handed over (mode, links, routes).
    pub config: NetConfig,
}

impl Stack {
    /// A stack with the loopback interface up and nothing else (mode
    /// `none`).
    pub fn new(vfs: Arc<Vfs>) -> Arc<Stack> {
        Stack::with_config(vfs, NetConfig::none())
    }

    /// A stack for `config` (checked by [`NetConfig::validate`] first: an
    /// invalid one is the launcher's error to report).
    pub fn with_config(vfs: Arc<Vfs>, config: NetConfig) -> Arc<Stack> {
        let mut interfaces = vec![Interface::loopback()];
        for (i, l) in config.links.iter().enumerate() {
            interfaces.push(Interface::of_link(l, 2 + i as u32));
        }
        Arc::new_cyclic(|me| Stack {
            me: me.clone(),
            vfs,
            unix: unix::Namespace::default(),
            inet: inet::Stack::new(&interfaces, &config),
            interfaces: Mutex::new(interfaces),
            config,
        })
    }

    /// The network mode.
    pub fn mode(&self) -> NetMode {
        self.config.mode
    }

    /// The host descriptors the stack works through (the donated packet
    /// sockets, hostinet's own): the sentry keeps them open when it
    /// confines itself.
    pub fn host_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        let mut v: Vec<_> = self
            .config
            .links
            .iter()
            .filter_map(|l| l.fd.as_ref().map(|f| f.as_raw_fd()))
            .collect();
        v.extend(hostinet::host_fds());
        v
    }

    /// This stack, shared (sockets keep a reference to their stack).
    pub fn arc(&self) -> Option<Arc<Stack>> {
        self.me.upgrade()
    }

    /// The interfaces, as now.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.interfaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// socket(2): `ty` without SOCK_NONBLOCK/SOCK_CLOEXEC; `nonblock` from
    /// SOCK_NONBLOCK.
    pub fn socket(
        &self,
        ctx: &dyn TaskContext,
        domain: i32,
        ty: i32,
        protocol: i32,
        nonblock: bool,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let me = self.arc().ok_or(Errno::EAFNOSUPPORT)?;
        match domain {
            libc::AF_UNIX => unix::new_socket(&me, ctx, ty, protocol, nonblock),
            libc::AF_INET | libc::AF_INET6 if self.mode() == NetMode::Host => {
                hostinet::new_socket(&me, ctx, domain, ty, protocol, nonblock)
            }
            libc::AF_INET | libc::AF_INET6 => {
                inet::new_socket(&me, ctx, domain, ty, protocol, nonblock)
            }
            libc::AF_NETLINK => netlink::new_socket(&me, ctx, ty, protocol, nonblock),
            // Packet sockets need CAP_NET_RAW, which no sandbox process
            // holds for the host's network; refused as a kernel without
            // the family.
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// socketpair(2): AF_UNIX only (EOPNOTSUPP for inet, as Linux).
    pub fn socketpair(
        &self,
        ctx: &dyn TaskContext,
        domain: i32,
        ty: i32,
        protocol: i32,
        nonblock: bool,
    ) -> SysResult<(Arc<dyn FileDescription>, Arc<dyn FileDescription>)> {
        let me = self.arc().ok_or(Errno::EAFNOSUPPORT)?;
        match domain {
            libc::AF_UNIX => unix::pair(&me, ctx, ty, protocol, nonblock),
            libc::AF_INET | libc::AF_INET6 => Err(Errno::EOPNOTSUPP),
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// The contents of /proc/net/`name` (tcp, tcp6, udp, udp6, unix, dev,
    /// if_inet6, route, netstat, snmp...); None for a name not served.
    pub fn proc_net(&self, name: &str) -> Option<String> {
        match name {
            "unix" => Some(self.unix.proc_net()),
            // The counters files keep the layout of the kernel release the
            // sandbox reports (procfs's), not the stack's shorter one.
            "snmp" | "netstat" => None,
            _ => self.inet.proc_net(name, &self.interfaces()),
        }
    }
}
