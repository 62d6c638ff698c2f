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
    /// Mode `sandbox`: what the takeover changed, given back when dropped
    /// (with this, unless taken out to live as long as the sandbox).
    pub give_back: Option<GiveBack>,
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

/// What [`read_here`] found: links with their indexes, routes (as the
/// sentry takes them and as netlink gave them), addresses.
type Read = (
    Vec<(LinkConfig, i32)>,
    Vec<RouteConfig>,
    Vec<netlink::Route>,
    Vec<netlink::Addr>,
);

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
    let mut kept_routes = Vec::new();
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
        kept_routes.push(r);
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
    Ok((out, rts, kept_routes, addrs))
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

/// A sysctl's value (None when the file is missing).
fn read_sysctl(path: &str) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(v) => Ok(Some(v.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("reading {path}: {e}")),
    }
}

/// What a takeover changed on one interface.
#[derive(Debug, Default)]
struct LinkChanges {
    index: i32,
    name: String,
    /// Sysctl files and their values before, in the order they were set.
    sysctls: Vec<(String, String)>,
    /// The addresses removed.
    addrs: Vec<netlink::Addr>,
    /// Down before: set down again.
    was_down: bool,
}

/// What a takeover changed in a namespace, in the order it was done.
#[derive(Debug, Default)]
struct Changes {
    links: Vec<LinkChanges>,
    /// The namespace's routes through the taken interfaces (the kernel
    /// drops them with the last address of an interface).
    routes: Vec<netlink::Route>,
}

impl Changes {
    /// Sets sysctl `path` of the calling thread's namespace to `value`,
    /// remembering the old value for the last link.
    fn set_sysctl(&mut self, path: String, value: &str) -> Result<()> {
        let Some(old) = read_sysctl(&path)? else {
            return Ok(());
        };
        write_sysctl(&path, value)?;
        if let Some(l) = self.links.last_mut() {
            l.sysctls.push((path, old));
        }
        Ok(())
    }

    /// Puts back what was changed, in the calling thread's namespace:
    /// sysctls (in reverse order, IPv6 turned on last so that the kernel
    /// gives the interface its link-local address again), then the
    /// addresses, then the routes the kernel dropped with them. Interfaces
    /// that are gone or renamed are skipped; what fails is logged and the
    /// rest still done. Returns the first failure.
    fn give_back_here(&mut self, what: &str) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        let mut note = |e: anyhow::Error| {
            tracing::warn!(error = %format!("{e:#}"), "{what}: giving the interfaces back");
            first.get_or_insert(e);
        };
        let mut nl = match netlink::Netlink::open() {
            Ok(nl) => nl,
            Err(e) => return Err(e.context(what.to_string())),
        };
        let present = match nl.links() {
            Ok(l) => l,
            Err(e) => return Err(e.context(format!("{what}: listing interfaces"))),
        };
        let mut here = Vec::new();
        let mut down = Vec::new();
        for l in std::mem::take(&mut self.links) {
            if !present
                .iter()
                .any(|p| p.index == l.index && p.name == l.name)
            {
                tracing::debug!(interface = %l.name, "{what}: gone before it was given back");
                continue;
            }
            for (path, old) in l.sysctls.iter().rev() {
                if let Err(e) = write_sysctl(path, old) {
                    note(e.context(format!("interface {}", l.name)));
                }
            }
            here.push(l.index);
            if l.was_down {
                down.push((l.index, l.name.clone()));
            }
            let (v4, v6): (Vec<_>, Vec<_>) = l.addrs.iter().partition(|a| a.addr.is_ipv4());
            for a in v4.into_iter().chain(v6) {
                // The kernel makes the link-local one itself.
                if let IpAddr::V6(v) = a.addr {
                    if v.segments()[0] & 0xffc0 == 0xfe80 {
                        continue;
                    }
                }
                if let Err(e) = nl.add_addr(a) {
                    note(e.context(format!("interface {}", l.name)));
                }
            }
        }
        for r in std::mem::take(&mut self.routes) {
            // The kernel's own routes came back with the addresses; a
            // router's advertised ones are its to give again.
            if r.protocol == RTPROT_KERNEL || r.protocol == RTPROT_RA {
                continue;
            }
            if !r.oif.is_some_and(|i| here.contains(&i)) {
                continue;
            }
            if let Err(e) = nl.add_route(&r) {
                note(e);
            }
        }
        for (index, name) in down {
            if let Err(e) = nl.set_up(index, false) {
                note(e.context(format!("interface {name}: setting it down again")));
            }
        }
        match first {
            Some(e) => Err(e.context(what.to_string())),
            None => Ok(()),
        }
    }
}

/// RTPROT_KERNEL, RTPROT_RA.
const RTPROT_KERNEL: u8 = 2;
const RTPROT_RA: u8 = 9;

/// What mode `sandbox` took from a namespace (its interfaces' addresses,
/// some sysctls, the routes that went with the addresses), given back when
/// this is dropped: after the sandbox ends, before whoever made the
/// namespace (CNI) tears it down, so that the teardown finds what it set up
/// (the bridge plugin removes its masquerade rule by the addresses it finds).
#[derive(Debug)]
pub struct GiveBack {
    ns: NetNs,
    changes: Changes,
}

impl GiveBack {
    /// Gives the interfaces back now (what dropping does), returning the
    /// first failure.
    pub fn give_back(mut self) -> Result<()> {
        self.give_back_inner()
    }

    fn give_back_inner(&mut self) -> Result<()> {
        if self.changes.links.is_empty() {
            return Ok(());
        }
        let mut changes = std::mem::take(&mut self.changes);
        let what = format!("network namespace {}", self.ns.path().display());
        self.ns.run(move || changes.give_back_here(&what))
    }
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        if let Err(e) = self.give_back_inner() {
            tracing::warn!(error = %format!("{e:#}"), "giving a sandbox's interfaces back");
        }
    }
}

/// Reads the namespace `ns` (mode `host`: the links are shown in the
/// sandbox, the sentry is spawned inside it).
pub fn read(ns: &NetNs) -> Result<(Vec<LinkConfig>, Vec<RouteConfig>)> {
    let what = format!("network namespace {}", ns.path().display());
    let (links, routes, _, _) = ns.run(|| read_here(&what))?;
    Ok((links.into_iter().map(|(l, _)| l).collect(), routes))
}

/// Takes the namespace `ns` over for mode `sandbox`: reads it, opens a
/// packet socket per interface, removes the addresses from the host side
/// (IPv6 disabled on the interfaces so that the kernel adds no link-local
/// address again) and keeps the links up. What it changed is given back
/// when the returned [`GiveBack`] is dropped (at once if this fails
/// midway).
pub fn take_over(ns: &NetNs) -> Result<(Vec<LinkConfig>, Vec<RouteConfig>, GiveBack)> {
    let what = format!("network namespace {}", ns.path().display());
    let (links, routes, changes) = ns.run(|| {
        let mut changes = Changes::default();
        match take_over_here(&what, &mut changes) {
            Ok((links, routes)) => Ok((links, routes, changes)),
            Err(e) => {
                if let Err(e2) = changes.give_back_here(&what) {
                    tracing::warn!(error = %format!("{e2:#}"), "undoing a failed takeover");
                }
                Err(e)
            }
        }
    })?;
    let give_back = GiveBack {
        ns: NetNs {
            fd: ns
                .fd
                .try_clone()
                .with_context(|| format!("{what}: duplicating its descriptor"))?,
            path: ns.path.clone(),
        },
        changes,
    };
    Ok((links, routes, give_back))
}

/// The takeover, on a thread inside the namespace; `changes` records what
/// was done so far.
fn take_over_here(
    what: &str,
    changes: &mut Changes,
) -> Result<(Vec<LinkConfig>, Vec<RouteConfig>)> {
    let (mut links, routes, raw_routes, addrs) = read_here(what)?;
    // What the stack cannot take is refused before the namespace is
    // touched (the sockets are checked after).
    NetConfig {
        mode: NetMode::Host,
        links: links.iter().map(|(l, _)| l.clone()).collect(),
        routes: routes.clone(),
    }
    .validate()
    .map_err(|e| anyhow!("the sandbox's network: {e}"))?;
    let mut nl = netlink::Netlink::open().with_context(|| what.to_string())?;
    let up_before: Vec<i32> = nl
        .links()
        .with_context(|| format!("{what}: listing interfaces"))?
        .iter()
        .filter(|l| l.flags & libc::IFF_UP as u32 != 0)
        .map(|l| l.index)
        .collect();
    // Names go into /proc/sys paths.
    if let Some((l, _)) = links.iter().find(|(l, _)| {
        !l.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
            || l.name.starts_with('.')
    }) {
        bail!("{what}: interface name {:?} is not usable", l.name);
    }
    changes.routes = raw_routes;
    for (l, index) in &mut links {
        let name = l.name.clone();
        nl.set_up(*index, true)
            .map_err(|e| anyhow!("{what}: interface {name}: setting it up: {e}"))?;
        l.fd = Some(Arc::new(
            packet_socket(*index, &name).with_context(|| what.to_string())?,
        ));
        changes.links.push(LinkChanges {
            index: *index,
            name: name.clone(),
            was_down: !up_before.contains(index),
            ..Default::default()
        });
        let on = |e: anyhow::Error| e.context(format!("{what}: interface {name}"));
        // The kernel stops answering NDP and drops every IPv6 address
        // (link-local included) of the interface.
        changes
            .set_sysctl(format!("/proc/sys/net/ipv6/conf/{name}/addr_gen_mode"), "1")
            .map_err(on)?;
        changes
            .set_sysctl(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1")
            .map_err(on)?;
        // Frames for the sandbox's addresses reach the host kernel of the
        // namespace too: with forwarding on (inherited from a host that
        // routes) it would answer them with ICMP unreachable.
        changes
            .set_sysctl(format!("/proc/sys/net/ipv4/conf/{name}/forwarding"), "0")
            .map_err(on)?;
        // No ARP answers for addresses the interface no longer has.
        changes
            .set_sysctl(format!("/proc/sys/net/ipv4/conf/{name}/arp_ignore"), "8")
            .map_err(on)?;
        for a in addrs.iter().filter(|a| a.index == *index) {
            // IPv6 ones went with disable_ipv6, but are remembered.
            match nl.del_addr(a) {
                Ok(()) => {}
                Err(_) if a.addr.is_ipv6() => {}
                Err(e) => bail!("{what}: interface {name}: {e}"),
            }
            if let Some(c) = changes.links.last_mut() {
                c.addrs.push(a.clone());
            }
        }
    }
    Ok((links.into_iter().map(|(l, _)| l).collect(), routes))
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
            let (links, routes, give_back) = take_over(&ns)?;
            p.config = NetConfig {
                mode,
                links,
                routes,
            };
            p.give_back = Some(give_back);
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
