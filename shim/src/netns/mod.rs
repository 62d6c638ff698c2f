//! The launcher's side of the sandbox's network: opening a network
//! namespace (checked), reading its interfaces and routes into a
//! [`NetConfig`], taking it over for mode `sandbox` (the host side loses
//! its addresses; a packet socket per interface is opened for the sentry),
//! passing the result to `gvisor boot` (arguments and descriptors), and the
//! namespace with a veth pair and NAT of `gvisor do --network=sandbox`
//! ([`veth`]).
//!
//! Work inside a namespace runs on a short-lived thread that setns()es into
//! it: the calling thread never changes namespace.

pub mod args;
pub mod netlink;
pub mod veth;

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use sentry_core::net::{LinkConfig, NetConfig, NetMode, RouteConfig};

/// Most interfaces (besides loopback) a sandbox takes.
pub const MAX_LINKS: usize = 8;
/// Most routes a sandbox takes.
pub const MAX_ROUTES: usize = 256;
/// Most addresses per interface.
pub const MAX_ADDRS: usize = 64;

/// ARPHRD_ETHER.
const ARPHRD_ETHER: u16 = 1;
/// NS_GET_NSTYPE (_IO(0xb7, 3)).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
/// PACKET_IGNORE_OUTGOING.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// The packet sockets' buffers.
const PACKET_BUFFER: libc::c_int = 4 << 20;

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    path: PathBuf,
}

fn ns_type_name(t: libc::c_int) -> &'static str {
    match t {
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWCGROUP => "cgroup",
        0x80 => "time",
        _ => "other",
    }
}

impl NetNs {
    /// Opens the network namespace file at `path` (/run/netns/NAME,
    /// /proc/PID/ns/net), checking that it is one.
    pub fn open(path: &Path) -> Result<NetNs> {
        let what = format!("network namespace {}", path.display());
        let f = std::fs::File::open(path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            anyhow!("{what}: {why}")
        })?;
        let fd = OwnedFd::from(f);
        // SAFETY: an ioctl without argument on our descriptor.
        let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
        if t < 0 {
            bail!("{what}: not a namespace file");
        }
        if t != libc::CLONE_NEWNET {
            bail!(
                "{what}: not a network namespace (a {} namespace)",
                ns_type_name(t)
            );
        }
        Ok(NetNs {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The calling process's own network namespace.
    pub fn own() -> Result<NetNs> {
        NetNs::open(Path::new("/proc/thread-self/ns/net"))
    }

    /// Whether `other` is the same namespace.
    pub fn same_as(&self, other: &NetNs) -> Result<bool> {
        let id = |n: &NetNs| -> Result<(u64, u64)> {
            // SAFETY: fstat into a zeroed buffer on our descriptor.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            if unsafe { libc::fstat(n.fd.as_raw_fd(), &mut st) } < 0 {
                bail!(
                    "network namespace {}: {}",
                    n.path.display(),
                    std::io::Error::last_os_error()
                );
            }
            Ok((st.st_dev, st.st_ino))
        };
        Ok(id(self)? == id(other)?)
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace file's descriptor (for setns).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let fd = self.fd.as_raw_fd();
        let path = self.path.display().to_string();
        std::thread::scope(|s| {
            let h = s.spawn(move || -> Result<T> {
                // SAFETY: setns of this (new, short-lived) thread only.
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } < 0 {
                    bail!(
                        "network namespace {path}: entering it: {}",
                        std::io::Error::last_os_error()
                    );
                }
                f()
            });
            h.join()
                .map_err(|_| anyhow!("network namespace thread panicked"))?
        })
    }
}

/// Where a sandbox's network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A new, empty namespace: loopback only.
    Empty,
    /// The launcher's own namespace (mode `host` without a namespace entry).
    Own,
    /// The namespace at this path.
    Path(PathBuf),
}

/// Where the network of a bundle's sandbox comes from, given its
/// linux.namespaces entry of type network (see `crate::oci::Bundle`), as
/// runsc decides: a path is joined (taken over in mode `sandbox`, entered
/// in mode `host`); an entry without a path is a new namespace, loopback
/// only; no entry at all is a new namespace too, except in mode `host`,
/// where the sandbox uses the launcher's own namespace (runc's "no network
/// namespace" shares the host's network).
pub fn source_of(mode: NetMode, entry: Option<&Option<PathBuf>>) -> Source {
    match entry {
        Some(Some(p)) => Source::Path(p.clone()),
        Some(None) => Source::Empty,
        None if mode == NetMode::Host => Source::Own,
        None => Source::Empty,
    }
}

/// A sandbox's network, ready for the sentry.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Mode, links (with their packet sockets in mode `sandbox`), routes.
    pub config: NetConfig,
    /// In mode `host`: the namespace the sentry is spawned in (None: a new
    /// empty one, or the launcher's own when `own_ns`).
    pub join: Option<NetNs>,
    /// The sentry stays in the launcher's namespace (mode `host` without a
    /// namespace).
    pub own_ns: bool,
}

impl Prepared {
    /// The clone flags of the sentry: a new network namespace unless it
    /// joins one or keeps the launcher's.
    pub fn sentry_namespaces(&self) -> libc::c_int {
        if self.join.is_some() || self.own_ns {
            crate::confine::SENTRY_NAMESPACES
        } else {
            crate::confine::SENTRY_NAMESPACES | libc::CLONE_NEWNET
        }
    }

    /// The packet sockets, in link order (mode `sandbox`).
    pub fn fds(&self) -> Vec<Arc<OwnedFd>> {
        self.config
            .links
            .iter()
            .filter_map(|l| l.fd.clone())
            .collect()
    }
}

/// What [`read_here`] found: links with their indexes, routes, addresses.
type Read = (Vec<(LinkConfig, i32)>, Vec<RouteConfig>, Vec<netlink::Addr>);

/// The interfaces (Ethernet, not loopback) and main-table routes of the
/// namespace the calling thread is in, with the netlink records of the
/// addresses (for the takeover).
fn read_here(what: &str) -> Result<Read> {
    let mut nl = netlink::Netlink::open().with_context(|| what.to_string())?;
    let links = nl
        .links()
        .with_context(|| format!("{what}: listing interfaces"))?;
    let addrs = nl
        .addrs()
        .with_context(|| format!("{what}: listing addresses"))?;
    let routes = nl
        .routes()
        .with_context(|| format!("{what}: listing routes"))?;
    let mut out: Vec<(LinkConfig, i32)> = Vec::new();
    for l in links {
        if l.flags & libc::IFF_LOOPBACK as u32 != 0 {
            continue;
        }
        if l.kind != ARPHRD_ETHER || l.mac.len() != 6 {
            tracing::warn!(
                interface = %l.name,
                kind = l.kind,
                "{what}: skipping an interface that is not Ethernet"
            );
            continue;
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&l.mac);
        let mine: Vec<(IpAddr, u8)> = addrs
            .iter()
            .filter(|a| a.index == l.index)
            .map(|a| (a.addr, a.prefix))
            .collect();
        if mine.len() > MAX_ADDRS {
            bail!(
                "{what}: interface {} has {} addresses; at most {MAX_ADDRS} are supported",
                l.name,
                mine.len()
            );
        }
        out.push((
            LinkConfig {
                name: l.name,
                mac,
                mtu: l.mtu,
                addrs: mine,
                fd: None,
            },
            l.index,
        ));
    }
    if out.len() > MAX_LINKS {
        bail!(
            "{what}: {} interfaces besides loopback; at most {MAX_LINKS} are supported",
            out.len()
        );
    }
    let mut rts = Vec::new();
    for r in routes {
        let Some(oif) = r.oif else {
            tracing::warn!(dst = %r.dst, prefix = r.prefix, "{what}: skipping a route without an output interface");
            continue;
        };
        let Some((l, _)) = out.iter().find(|(_, i)| *i == oif) else {
            continue;
        };
        // The kernel's own multicast and link-local routes of IPv6 are
        // implied by the interface.
        if let IpAddr::V6(v) = r.dst {
            if v.segments()[0] == 0xff00 && r.prefix == 8 {
                continue;
            }
        }
        rts.push(RouteConfig {
            dst: r.dst,
            prefix: r.prefix,
            gateway: r.gateway,
            link: l.name.clone(),
            metric: r.metric,
        });
    }
    if rts.len() > MAX_ROUTES {
        bail!(
            "{what}: {} routes; at most {MAX_ROUTES} are supported",
            rts.len()
        );
    }
    let kept: Vec<i32> = out.iter().map(|(_, i)| *i).collect();
    let addrs = addrs
        .into_iter()
        .filter(|a| kept.contains(&a.index))
        .collect();
    Ok((out, rts, addrs))
}

/// Opens the packet socket of interface `index` as the contract with the
/// sentry says: AF_PACKET, SOCK_RAW, ETH_P_ALL, bound to the interface,
/// outgoing frames ignored, 4 MiB buffers, blocking.
fn packet_socket(index: i32, name: &str) -> Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket call.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            proto as libc::c_int,
        )
    };
    if fd < 0 {
        bail!(
            "interface {name}: opening a packet socket: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: a descriptor we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_ll is valid; fields set below.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = proto;
    sa.sll_ifindex = index;
    // SAFETY: bind with a valid sockaddr_ll of its size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r < 0 {
        bail!(
            "interface {name}: binding its packet socket: {}",
            std::io::Error::last_os_error()
        );
    }
    let set = |level: libc::c_int, opt: libc::c_int, v: libc::c_int, what: &str| -> Result<()> {
        // SAFETY: setsockopt with an int of its size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                opt,
                &v as *const libc::c_int as *const libc::c_void,
                4,
            )
        };
        if r < 0 {
            bail!(
                "interface {name}: packet socket {what}: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    };
    set(
        libc::SOL_PACKET,
        PACKET_IGNORE_OUTGOING,
        1,
        "PACKET_IGNORE_OUTGOING",
    )?;
    set(
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        PACKET_BUFFER,
        "SO_RCVBUFFORCE",
    )?;
    set(
        libc::SOL_SOCKET,
        libc::SO_SNDBUFFORCE,
        PACKET_BUFFER,
        "SO_SNDBUFFORCE",
    )?;
    Ok(fd)
}

/// Writes a sysctl of the calling thread's network namespace; a missing
/// file (IPv6 disabled on the host) is not an error.
fn write_sysctl(path: &str, value: &str) -> Result<()> {
    match std::fs::write(path, value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!("writing {value} to {path}: {e}")),
    }
}

/// Reads the namespace `ns` (mode `host`: the links are shown in the
/// sandbox, the sentry is spawned inside it).
pub fn read(ns: &NetNs) -> Result<(Vec<LinkConfig>, Vec<RouteConfig>)> {
    let what = format!("network namespace {}", ns.path().display());
    let (links, routes, _) = ns.run(|| read_here(&what))?;
    Ok((links.into_iter().map(|(l, _)| l).collect(), routes))
}

/// Takes the namespace `ns` over for mode `sandbox`: reads it, opens a
/// packet socket per interface, removes the addresses from the host side
/// (IPv6 disabled on the interfaces so that the kernel adds no link-local
/// address again) and keeps the links up.
pub fn take_over(ns: &NetNs) -> Result<(Vec<LinkConfig>, Vec<RouteConfig>)> {
    let what = format!("network namespace {}", ns.path().display());
    ns.run(|| {
        let (mut links, routes, addrs) = read_here(&what)?;
        // What the stack cannot take is refused before the namespace is
        // touched (the sockets are checked after).
        NetConfig {
            mode: NetMode::Host,
            links: links.iter().map(|(l, _)| l.clone()).collect(),
            routes: routes.clone(),
        }
        .validate()
        .map_err(|e| anyhow!("the sandbox's network: {e}"))?;
        let mut nl = netlink::Netlink::open().with_context(|| what.clone())?;
        // Names go into /proc/sys paths.
        if let Some((l, _)) = links.iter().find(|(l, _)| {
            !l.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
                || l.name.starts_with('.')
        }) {
            bail!("{what}: interface name {:?} is not usable", l.name);
        }
        for (l, index) in &mut links {
            let name = l.name.clone();
            nl.set_up(*index)
                .map_err(|e| anyhow!("{what}: interface {name}: setting it up: {e}"))?;
            l.fd = Some(Arc::new(
                packet_socket(*index, &name).with_context(|| what.clone())?,
            ));
            // The kernel stops answering NDP and drops every IPv6 address
            // (link-local included) of the interface, for good.
            write_sysctl(
                &format!("/proc/sys/net/ipv6/conf/{name}/addr_gen_mode"),
                "1",
            )
            .with_context(|| format!("{what}: interface {name}"))?;
            write_sysctl(&format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1")
                .with_context(|| format!("{what}: interface {name}"))?;
            // Frames for the sandbox's addresses reach the host kernel of
            // the namespace too: with forwarding on (inherited from a host
            // that routes) it would answer them with ICMP unreachable.
            write_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/forwarding"), "0")
                .with_context(|| format!("{what}: interface {name}"))?;
            // No ARP answers for addresses the interface no longer has.
            write_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/arp_ignore"), "8")
                .with_context(|| format!("{what}: interface {name}"))?;
            for a in addrs.iter().filter(|a| a.index == *index) {
                match nl.del_addr(a) {
                    Ok(()) => {}
                    // IPv6 ones went with disable_ipv6.
                    Err(_) if a.addr.is_ipv6() => {}
                    Err(e) => bail!("{what}: interface {name}: {e}"),
                }
            }
        }
        Ok((links.into_iter().map(|(l, _)| l).collect(), routes))
    })
}

/// Prepares the network of a sandbox in `mode` from `source`.
pub fn prepare(mode: NetMode, source: &Source) -> Result<Prepared> {
    let mut p = Prepared::default();
    match (mode, source) {
        (NetMode::None, _) | (_, Source::Empty) => {}
        (NetMode::Sandbox, Source::Own) => {
            bail!("network mode sandbox needs a network namespace to take over")
        }
        (NetMode::Sandbox, Source::Path(path)) => {
            let ns = NetNs::open(path)?;
            if ns.same_as(&NetNs::own()?)? {
                bail!(
                    "network namespace {}: it is the launcher's own; mode sandbox would take its interfaces away from the host (use mode host)",
                    path.display()
                );
            }
            let (links, routes) = take_over(&ns)?;
            p.config = NetConfig {
                mode,
                links,
                routes,
            };
        }
        (NetMode::Host, Source::Own) => {
            let ns = NetNs::own()?;
            let (links, routes) = read(&ns)?;
            p.config = NetConfig {
                mode,
                links,
                routes,
            };
            p.own_ns = true;
        }
        (NetMode::Host, Source::Path(path)) => {
            let ns = NetNs::open(path)?;
            let (links, routes) = read(&ns)?;
            p.config = NetConfig {
                mode,
                links,
                routes,
            };
            p.join = Some(ns);
        }
    }
    p.config
        .validate()
        .map_err(|e| anyhow!("the sandbox's network: {e}"))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_paths_are_named() {
        let e = NetNs::open(Path::new("/nonexistent/netns")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "network namespace /nonexistent/netns: no such file"
        );
        let e = NetNs::open(Path::new("/etc/hostname")).unwrap_err();
        assert!(e.to_string().ends_with("not a namespace file"), "{e}");
        let e = NetNs::open(Path::new("/proc/self/ns/uts")).unwrap_err();
        assert!(e.to_string().contains("a uts namespace"), "{e}");
        NetNs::open(Path::new("/proc/self/ns/net")).unwrap();
    }

    #[test]
    fn sources_as_runsc_decides() {
        let p = Some(PathBuf::from("/run/netns/x"));
        for m in [NetMode::None, NetMode::Sandbox, NetMode::Host] {
            assert_eq!(source_of(m, Some(&p)), Source::Path("/run/netns/x".into()));
            assert_eq!(source_of(m, Some(&None)), Source::Empty);
        }
        assert_eq!(source_of(NetMode::Sandbox, None), Source::Empty);
        assert_eq!(source_of(NetMode::None, None), Source::Empty);
        assert_eq!(source_of(NetMode::Host, None), Source::Own);
    }

    #[test]
    fn none_and_empty_need_nothing() {
        let p = prepare(NetMode::None, &Source::Path("/x".into())).unwrap();
        assert!(p.config.links.is_empty());
        assert_ne!(p.sentry_namespaces() & libc::CLONE_NEWNET, 0);
        let p = prepare(NetMode::Sandbox, &Source::Empty).unwrap();
        assert_eq!(p.config.mode, NetMode::None);
    }
}
