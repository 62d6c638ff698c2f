//! The sandbox's Ethernet interfaces in `sandbox` mode: each is a packet
//! socket the launcher opened in the pod's network namespace and donated
//! (AF_PACKET, SOCK_RAW, ETH_P_ALL, bound to the interface, blocking).
//! Frames move through it with `recvmmsg` (a receive thread per link,
//! blocking for the first frame of a batch) and `sendmmsg`; nothing else
//! is done with the descriptor.
//!
//! - [`Net`]: the interfaces and the routing table (immutable: the
//!   namespace's routes as the launcher read them, plus the directly
//!   connected networks of each address), route lookup and source address
//!   selection.
//! - [`Link`]: one interface, its transmit queue and counters.
//! - [`Dev`]: the L2 half of the stack's device, under the stack's lock:
//!   an IP packet leaving for a link is routed, given its checksums,
//!   resolved (ARP / neighbour solicitation, [`neigh`]) and framed.
//! - [`wire`]: frame layouts.
//!
//! Limits: the transmit queue of a link holds [`TX_QUEUE`] frames (more
//! are dropped and counted); the receive thread reads at most [`BATCH`]
//! frames of up to [`FRAME_MAX`] bytes at a time and hands the batch to the
//! stack under one lock, so a flood waits in the host socket's buffer
//! (4 MiB), not in the sentry.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::time::Instant;

use crate::errno::{Errno, SysResult};

pub mod frag;
pub mod log;
pub mod neigh;
pub mod wire;

pub use log::log_packets;
use wire::ETH_HLEN;

/// Frames a link's transmit queue holds before it drops.
pub const TX_QUEUE: usize = 1024;
/// Frames read (and sent) per system call.
pub const BATCH: usize = 32;
/// The largest frame read: an IP packet of 64 KiB (a GRO'd segment from a
/// veth peer) and its Ethernet header.
pub const FRAME_MAX: usize = 65536 + ETH_HLEN;

/// Counters of one link (/proc/net/dev, RTM_NEWLINK's stats).
#[derive(Default, Debug)]
pub struct Stats {
    /// Frames received for us.
    pub rx_packets: AtomicU64,
    /// Their bytes.
    pub rx_bytes: AtomicU64,
    /// Frames received and dropped (malformed, fragments, too large).
    pub rx_dropped: AtomicU64,
    /// Receive errors.
    pub rx_errors: AtomicU64,
    /// Multicast frames received.
    pub multicast: AtomicU64,
    /// Frames sent.
    pub tx_packets: AtomicU64,
    /// Their bytes.
    pub tx_bytes: AtomicU64,
    /// Frames dropped before sending (full queue, unresolved neighbour).
    pub tx_dropped: AtomicU64,
    /// Send errors.
    pub tx_errors: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A snapshot of [`Stats`].
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// rx packets, bytes, errors, dropped, multicast.
    pub rx: [u64; 5],
    /// tx packets, bytes, errors, dropped.
    pub tx: [u64; 4],
}

impl Stats {
    /// The counters now.
    pub fn counts(&self) -> Counts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            rx: [
                g(&self.rx_packets),
                g(&self.rx_bytes),
                g(&self.rx_errors),
                g(&self.rx_dropped),
                g(&self.multicast),
            ],
            tx: [
                g(&self.tx_packets),
                g(&self.tx_bytes),
                g(&self.tx_errors),
                g(&self.tx_dropped),
            ],
        }
    }
}

#[derive(Default)]
struct TxQueue {
    frames: VecDeque<Vec<u8>>,
    /// Buffers of frames sent, for the next frames.
    spare: Vec<Vec<u8>>,
}

/// One Ethernet interface.
pub struct Link {
    /// Interface index (2 for the first).
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address.
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: usize,
    /// Addresses and prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
    /// The packet socket (None in tests of the routing alone).
    pub fd: Option<Arc<OwnedFd>>,
    /// Counters.
    pub stats: Stats,
    tx: Mutex<TxQueue>,
    sending: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Link {
    /// The link of `cfg` at interface index `index`.
    pub fn new(cfg: &super::LinkConfig, index: u32) -> Link {
        Link {
            index,
            name: cfg.name.clone(),
            mac: cfg.mac,
            mtu: cfg.mtu as usize,
            addrs: cfg.addrs.clone(),
            fd: cfg.fd.clone(),
            stats: Stats::default(),
            tx: Mutex::new(TxQueue::default()),
            sending: Mutex::new(()),
        }
    }

    /// Whether `ip` is one of this link's addresses.
    pub fn has(&self, ip: IpAddr) -> bool {
        self.addrs.iter().any(|&(a, _)| a == ip)
    }

    /// The IPv4 address to speak from to `peer` (one in its subnet if
    /// any).
    pub fn v4_for(&self, peer: Ipv4Addr) -> Option<Ipv4Addr> {
        let mut first = None;
        for &(a, p) in &self.addrs {
            if let IpAddr::V4(a4) = a {
                if in_prefix(a, p, IpAddr::V4(peer)) {
                    return Some(a4);
                }
                first = first.or(Some(a4));
            }
        }
        first
    }

    /// The IPv6 address to speak from to `peer`: link-local to a
    /// link-local peer, else a global one (either if that is all there is).
    pub fn v6_for(&self, peer: Ipv6Addr) -> Option<Ipv6Addr> {
        let want_ll = is_link_local6(peer);
        let mut other = None;
        for &(a, _) in &self.addrs {
            if let IpAddr::V6(a6) = a {
                if is_link_local6(a6) == want_ll {
                    return Some(a6);
                }
                other = other.or(Some(a6));
            }
        }
        other
    }

    /// Queues frames to send (the stack's lock held: the order of the
    /// queue is the order the stack made them); takes back spare buffers.
    fn stage(&self, frames: &mut Vec<Vec<u8>>, spare: &mut Vec<Vec<u8>>) {
        if frames.is_empty() {
            return;
        }
        let mut q = lock(&self.tx);
        for f in frames.drain(..) {
            if q.frames.len() >= TX_QUEUE {
                add(&self.stats.tx_dropped, 1);
                continue;
            }
            q.frames.push_back(f);
        }
        if spare.len() < 16 {
            let n = q.spare.len().min(16 - spare.len());
            let at = q.spare.len() - n;
            spare.extend(q.spare.drain(at..));
        }
    }

    /// Sends what is queued (the stack's lock not held). One thread sends
    /// at a time; another finding it busy leaves its frames to it.
    pub fn flush(&self) {
        let Some(fd) = self.fd.as_ref() else {
            lock(&self.tx).frames.clear();
            return;
        };
        loop {
            let guard = match self.sending.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
            loop {
                {
                    let mut q = lock(&self.tx);
                    q.spare.append(&mut batch);
                    q.spare.truncate(64);
                    let n = q.frames.len().min(BATCH);
                    batch.extend(q.frames.drain(..n));
                }
                if batch.is_empty() {
                    break;
                }
                self.send_batch(fd.as_raw_fd(), &batch);
            }
            drop(guard);
            if lock(&self.tx).frames.is_empty() {
                return;
            }
        }
    }

    /// sendmmsg of `frames` (blocking; retried on EINTR, the rest of a
    /// partial send sent again).
    fn send_batch(&self, fd: i32, frames: &[Vec<u8>]) {
        if log::enabled() {
            for f in frames {
                log::frame("send", &self.name, f);
            }
        }
        let mut iov: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            })
            .collect();
        // SAFETY: an all-zero mmsghdr is valid (null name and control).
        let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; frames.len()];
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
        }
        let mut at = 0;
        let mut errors = 0;
        while at < msgs.len() {
            let rest = &mut msgs[at..];
            // SAFETY: `rest` points at valid mmsghdrs whose iovecs point at
            // the frames, all alive for the call; the kernel only reads
            // them (and writes msg_len).
            let n = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as u32, 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error().raw_os_error();
                if e == Some(libc::EINTR) {
                    continue;
                }
                // This frame cannot go (too large, link down): skip it.
                add(&self.stats.tx_errors, 1);
                at += 1;
                errors += 1;
                if errors > BATCH {
                    return;
                }
                continue;
            }
            let n = n as usize;
            for m in &rest[..n.min(rest.len())] {
                add(&self.stats.tx_packets, 1);
                add(&self.stats.tx_bytes, u64::from(m.msg_len));
            }
            at += n.max(1).min(rest.len());
        }
    }

    /// Starts the receive thread, handing batches to `sink`.
    pub fn spawn_rx(self: &Arc<Link>, pos: usize, sink: Weak<dyn Sink>) {
        let Some(fd) = self.fd.clone() else { return };
        let link = self.clone();
        let _ = std::thread::Builder::new()
            .name(format!("link-rx-{}", self.name))
            .spawn(move || rx_thread(link, pos, fd, sink));
    }
}

/// Who takes received frames (the inet stack).
pub trait Sink: Send + Sync {
    /// A batch of frames of link `pos` (position in [`Net::links`]).
    fn frames(&self, pos: usize, frames: &[&[u8]]);
}

fn rx_thread(link: Arc<Link>, pos: usize, fd: Arc<OwnedFd>, sink: Weak<dyn Sink>) {
    let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; FRAME_MAX]).collect();
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is valid.
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut failures = 0u32;
    loop {
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        // SAFETY: the mmsghdrs point at iovecs over `bufs`, which outlive
        // the call; the kernel writes at most iov_len bytes into each.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error().raw_os_error();
            match e {
                Some(libc::EINTR) => continue,
                Some(libc::EBADF) | Some(libc::ENOTSOCK) => return,
                _ => {
                    add(&link.stats.rx_errors, 1);
                    failures += 1;
                    if failures > 1000 {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
            }
        }
        failures = 0;
        let Some(s) = sink.upgrade() else { return };
        let mut frames: Vec<&[u8]> = Vec::with_capacity(n as usize);
        for (m, b) in msgs.iter().zip(bufs.iter()).take(n as usize) {
            let len = m.msg_len as usize;
            if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || len > b.len() {
                add(&link.stats.rx_dropped, 1);
                continue;
            }
            frames.push(&b[..len]);
        }
        if log::enabled() {
            for f in &frames {
                log::frame("recv", &link.name, f);
            }
        }
        s.frames(pos, &frames);
    }
}

/// Whether `ip` is in `net`/`prefix`.
pub fn in_prefix(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(n) & m == u32::from(a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(n) & m == u128::from(a) & m
        }
        _ => false,
    }
}

/// `ip` with the host part cleared.
pub fn network(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// fe80::/10.
pub fn is_link_local6(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Route protocols (rtm_protocol).
pub const RTPROT_KERNEL: u8 = 2;
/// RTPROT_BOOT (routes added by a tool without one, as CNI's).
pub const RTPROT_BOOT: u8 = 3;

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop, None when directly connected.
    pub gateway: Option<IpAddr>,
    /// Position of the link in [`Net::links`].
    pub link: usize,
    /// Metric (priority).
    pub metric: u32,
    /// Preferred source (the address it derives from, for connected
    /// routes).
    pub src: Option<IpAddr>,
    /// rtm_protocol.
    pub protocol: u8,
}

/// The interfaces and routes (fixed for the sandbox's life).
#[derive(Default)]
pub struct Net {
    /// The Ethernet links, in index order.
    pub links: Vec<Arc<Link>>,
    /// Routes: connected networks first, then the configured ones.
    pub routes: Vec<Route>,
}

impl Net {
    /// The links and routes of `config` (interfaces from index 2).
    pub fn new(config: &super::NetConfig) -> Net {
        let links: Vec<Arc<Link>> = config
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| Arc::new(Link::new(l, 2 + i as u32)))
            .collect();
        let mut routes = Vec::new();
        for (i, l) in links.iter().enumerate() {
            for &(a, p) in &l.addrs {
                let r = Route {
                    dst: network(a, p),
                    prefix: p,
                    gateway: None,
                    link: i,
                    metric: if a.is_ipv4() { 0 } else { 256 },
                    src: Some(a),
                    protocol: RTPROT_KERNEL,
                };
                if !routes
                    .iter()
                    .any(|x: &Route| x.dst == r.dst && x.prefix == r.prefix && x.link == i)
                {
                    routes.push(r);
                }
            }
        }
        for r in &config.routes {
            let Some(i) = config.links.iter().position(|l| l.name == r.link) else {
                continue;
            };
            let dst = network(r.dst, r.prefix);
            if routes.iter().any(|x| {
                x.dst == dst && x.prefix == r.prefix && x.link == i && x.gateway == r.gateway
            }) {
                continue;
            }
            routes.push(Route {
                dst,
                prefix: r.prefix,
                gateway: r.gateway,
                link: i,
                metric: r.metric,
                src: None,
                protocol: RTPROT_BOOT,
            });
        }
        Net { links, routes }
    }

    /// Whether the sandbox has links at all.
    pub fn active(&self) -> bool {
        !self.links.is_empty()
    }

    /// Whether `ip` is the sandbox's own: loopback (127/8, ::1) or an
    /// address of a link.
    pub fn is_local(&self, ip: IpAddr) -> bool {
        let ip = super::inet::addr::canonical(ip);
        super::inet::addr::is_local(ip) || self.links.iter().any(|l| l.has(ip))
    }

    /// The route to `ip`: longest prefix, then lowest metric.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for r in &self.routes {
            if r.dst.is_ipv4() != ip.is_ipv4() || !in_prefix(r.dst, r.prefix, ip) {
                continue;
            }
            best = match best {
                Some(b) if b.prefix > r.prefix => Some(b),
                Some(b) if b.prefix == r.prefix && b.metric <= r.metric => Some(b),
                _ => Some(r),
            };
        }
        best
    }

    /// Where a connect or send to `ip` goes: the wildcard means this host
    /// (127.0.0.1 or ::1, as Linux), an own address stays inside, else a
    /// route must exist: ENETUNREACH.
    pub fn route(&self, ip: IpAddr) -> SysResult<IpAddr> {
        let ip = super::inet::addr::canonical(ip);
        match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            IpAddr::V6(v6) if v6.is_unspecified() => return Ok(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            _ => {}
        }
        if self.is_local(ip) {
            return Ok(ip);
        }
        // 127/8 and ::1 never leave; other loopback-looking destinations
        // do not either.
        let multicast = match ip {
            IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_multicast(),
        };
        if !multicast && self.lookup(ip).is_some() {
            return Ok(ip);
        }
        Err(Errno::ENETUNREACH)
    }

    /// The source address of a packet to `dst` (a routed or local one).
    pub fn source_for(&self, dst: IpAddr) -> IpAddr {
        let lo = match dst {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        if super::inet::addr::is_local(dst) {
            return lo;
        }
        if self.links.iter().any(|l| l.has(dst)) {
            return dst;
        }
        let Some(r) = self.lookup(dst) else {
            return lo;
        };
        if let Some(s) = r.src {
            if s.is_ipv4() == dst.is_ipv4()
                && (s.is_ipv4() || !is_link_local6_ip(s) || is_link_local6_ip(dst))
            {
                return s;
            }
        }
        let Some(l) = self.links.get(r.link) else {
            return lo;
        };
        let via = r.gateway.unwrap_or(dst);
        let pick = match (dst, via) {
            (IpAddr::V4(_), IpAddr::V4(v)) => l.v4_for(v).map(IpAddr::V4),
            (IpAddr::V6(d), _) => l.v6_for(d).map(IpAddr::V6),
            _ => None,
        };
        // A link with no address of the family: any link's.
        pick.or_else(|| {
            self.links
                .iter()
                .flat_map(|l| l.addrs.iter())
                .map(|&(a, _)| a)
                .find(|a| a.is_ipv4() == dst.is_ipv4())
        })
        .unwrap_or(lo)
    }

    /// Sends what the links have queued (the stack's lock not held).
    pub fn flush(&self) {
        for l in &self.links {
            l.flush();
        }
    }
}

fn is_link_local6_ip(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if is_link_local6(v6))
}

/// A route as the views (netlink, /proc/net/route) show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteView {
    /// Destination network.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Interface index.
    pub oif: u32,
    /// Interface name.
    pub dev: String,
    /// Metric.
    pub metric: u32,
    /// Preferred source.
    pub src: Option<IpAddr>,
    /// rtm_protocol.
    pub protocol: u8,
}

/// A neighbour as the views (netlink, /proc/net/arp) show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighView {
    /// Address.
    pub ip: IpAddr,
    /// Hardware address, once known.
    pub mac: Option<[u8; 6]>,
    /// NUD_* state.
    pub state: u16,
    /// Interface index.
    pub oif: u32,
    /// Interface name.
    pub dev: String,
}

/// What the views show of the links besides the interfaces themselves.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The main table.
    pub routes: Vec<RouteView>,
    /// The neighbours.
    pub neigh: Vec<NeighView>,
    /// Counters by interface index.
    pub counts: Vec<(u32, Counts)>,
}

impl View {
    /// The counters of interface `index`.
    pub fn counts_of(&self, index: u32) -> Option<Counts> {
        self.counts.iter().find(|c| c.0 == index).map(|c| c.1)
    }
}

impl Net {
    /// The routes and counters (neighbours come from the device).
    pub fn view(&self) -> View {
        let routes = self
            .routes
            .iter()
            .filter_map(|r| {
                let l = self.links.get(r.link)?;
                Some(RouteView {
                    dst: r.dst,
                    prefix: r.prefix,
                    gateway: r.gateway,
                    oif: l.index,
                    dev: l.name.clone(),
                    metric: r.metric,
                    src: r.src,
                    protocol: r.protocol,
                })
            })
            .collect();
        View {
            routes,
            neigh: Vec::new(),
            counts: self
                .links
                .iter()
                .map(|l| (l.index, l.stats.counts()))
                .collect(),
        }
    }
}

impl Dev {
    /// The neighbour tables.
    pub fn neigh_view(&self) -> Vec<NeighView> {
        let now = Instant::now();
        let mut v = Vec::new();
        for (li, t) in self.neigh.iter().enumerate() {
            let Some(l) = self.net.links.get(li) else {
                continue;
            };
            for (ip, e) in &t.entries {
                v.push(NeighView {
                    ip: *ip,
                    mac: e.mac,
                    state: e.state(now),
                    oif: l.index,
                    dev: l.name.clone(),
                });
            }
        }
        v.sort_by_key(|n| (n.oif, n.ip));
        v
    }
}

/// A packet that could not be delivered because its next hop did not
/// answer (its sender is told EHOSTUNREACH).
pub type Unreachable = Vec<u8>;

/// The L2 half of the stack's device (under the stack's lock).
pub struct Dev {
    /// The interfaces and routes.
    pub net: Arc<Net>,
    /// Neighbour tables, one per link.
    pub neigh: Vec<neigh::Table>,
    /// Frames made since the last staging, per link.
    out: Vec<Vec<Vec<u8>>>,
    /// Buffers to reuse.
    pub spare: Vec<Vec<u8>>,
    /// IPv4 identification of the datagrams the stack builds.
    ip_id: u16,
    /// Packets whose next hop failed to resolve, for their senders.
    pub unreachable: Vec<Unreachable>,
    /// A resolution started: the timer must run by then.
    pub deadline: Option<Instant>,
    /// IP fragments coming in.
    pub frags: frag::Reassembly,
    /// ICMP errors that may still be sent in this burst, and when the
    /// bucket was last filled.
    icmp_tokens: u32,
    icmp_filled: Instant,
}

/// ICMP errors per second (net.ipv4.icmp_msgs_per_sec).
pub const ICMP_PER_SEC: u32 = 1000;
/// Their burst (net.ipv4.icmp_msgs_burst).
pub const ICMP_BURST: u32 = 50;

impl Dev {
    /// The device of `net`.
    pub fn new(net: Arc<Net>) -> Dev {
        let n = net.links.len();
        Dev {
            net,
            neigh: (0..n).map(|_| neigh::Table::default()).collect(),
            out: (0..n).map(|_| Vec::new()).collect(),
            spare: Vec::new(),
            ip_id: 1,
            unreachable: Vec::new(),
            deadline: None,
            frags: frag::Reassembly::default(),
            icmp_tokens: ICMP_BURST,
            icmp_filled: Instant::now(),
        }
    }

    /// Whether an ICMP error may be sent now (a token bucket, as Linux
    /// limits them).
    pub fn icmp_allowed(&mut self) -> bool {
        let now = Instant::now();
        let ms = now.duration_since(self.icmp_filled).as_millis();
        if ms > 0 {
            let add =
                (ms.saturating_mul(u128::from(ICMP_PER_SEC)) / 1000).min(u128::from(ICMP_BURST));
            if add > 0 {
                self.icmp_tokens = (self.icmp_tokens + add as u32).min(ICMP_BURST);
                self.icmp_filled = now;
            }
        }
        if self.icmp_tokens == 0 {
            return false;
        }
        self.icmp_tokens -= 1;
        true
    }

    /// The next IPv4 identification.
    pub fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Sends IP packet `buf` (its first [`ETH_HLEN`] bytes are room for
    /// the Ethernet header) out on the link its route picks. `fill`:
    /// fill its checksums. Packets from or to loopback addresses never
    /// leave.
    pub fn output(&mut self, mut buf: Vec<u8>, fill: bool) {
        let Some(info) = buf.get(ETH_HLEN..).and_then(wire::ip_info) else {
            self.spare.push(buf);
            return;
        };
        if super::inet::addr::is_local(info.src) || super::inet::addr::is_local(info.dst) {
            self.spare.push(buf);
            return;
        }
        let Some(r) = self.net.lookup(info.dst) else {
            self.spare.push(buf);
            return;
        };
        let (li, gw) = (r.link, r.gateway);
        let Some(link) = self.net.links.get(li).cloned() else {
            return;
        };
        buf.truncate(ETH_HLEN + info.end);
        if info.end > link.mtu {
            add(&link.stats.tx_errors, 1);
            self.spare.push(buf);
            return;
        }
        if fill && !wire::fill_checksums(&mut buf[ETH_HLEN..], link.mtu) {
            self.spare.push(buf);
            return;
        }
        let dst_mac = match info.dst {
            IpAddr::V4(d) if d.is_broadcast() => Some(wire::BROADCAST),
            IpAddr::V4(d) if d.is_multicast() => {
                let o = d.octets();
                Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
            }
            IpAddr::V6(d) if d.is_multicast() => Some(wire::multicast_mac(d)),
            _ => None,
        };
        if let Some(mac) = dst_mac {
            self.frame(li, buf, mac, info.dst);
            return;
        }
        let hop = gw.unwrap_or(info.dst);
        let now = Instant::now();
        let mut pkt = Some(buf);
        let Some(table) = self.neigh.get_mut(li) else {
            return;
        };
        match table.lookup(hop, &mut pkt, now) {
            neigh::Lookup::Send(mac) => {
                if let Some(b) = pkt {
                    self.frame(li, b, mac, info.dst);
                }
            }
            neigh::Lookup::SendAndProbe(mac) => {
                if let Some(b) = pkt {
                    self.frame(li, b, mac, info.dst);
                }
                self.solicit(li, hop, Some(mac));
                self.deadline = Some(now + neigh::RETRANS);
            }
            neigh::Lookup::Queued(ask) => {
                if ask {
                    self.solicit(li, hop, None);
                    self.deadline = Some(now + neigh::RETRANS);
                }
            }
            neigh::Lookup::Dropped => add(&link.stats.tx_dropped, 1),
        }
    }

    /// Frames `buf` to `mac` and queues it on link `li`.
    fn frame(&mut self, li: usize, mut buf: Vec<u8>, mac: [u8; 6], _dst: IpAddr) {
        let Some(link) = self.net.links.get(li) else {
            return;
        };
        let ty = match buf.get(ETH_HLEN).map(|b| b >> 4) {
            Some(6) => wire::ETH_P_IPV6,
            _ => wire::ETH_P_IP,
        };
        wire::eth_header(&mut buf, mac, link.mac, ty);
        if let Some(o) = self.out.get_mut(li) {
            o.push(buf);
        }
    }

    /// Queues a raw frame on link `li`.
    pub fn raw(&mut self, li: usize, f: Vec<u8>) {
        if let Some(o) = self.out.get_mut(li) {
            o.push(f);
        }
    }

    /// Asks for `ip`'s hardware address on link `li` (ARP request or
    /// neighbour solicitation; unicast to `known` when confirming).
    fn solicit(&mut self, li: usize, ip: IpAddr, known: Option<[u8; 6]>) {
        let Some(link) = self.net.links.get(li).cloned() else {
            return;
        };
        let f = match ip {
            IpAddr::V4(t) => {
                let Some(src) = link.v4_for(t) else { return };
                wire::arp(
                    1,
                    known.unwrap_or(wire::BROADCAST),
                    link.mac,
                    src,
                    [0; 6],
                    t,
                )
            }
            IpAddr::V6(t) => {
                let src = link
                    .addrs
                    .iter()
                    .find_map(|&(a, _)| match a {
                        IpAddr::V6(a6) if is_link_local6(a6) => Some(a6),
                        _ => None,
                    })
                    .or_else(|| link.v6_for(t));
                let Some(src) = src else { return };
                let mut f = wire::neighbor_solicit(link.mac, src, t);
                if let Some(mac) = known {
                    // Unicast probe: to the address itself.
                    f[0..6].copy_from_slice(&mac);
                    if let Some(p) = f.get_mut(ETH_HLEN + 24..ETH_HLEN + 40) {
                        p.copy_from_slice(&t.octets());
                    }
                    let len = f.len();
                    if let Some(m) = f.get_mut(ETH_HLEN + 40..len) {
                        m[2] = 0;
                        m[3] = 0;
                    }
                    wire::fill_checksums(&mut f[ETH_HLEN..], link.mtu);
                }
                f
            }
        };
        self.raw(li, f);
    }

    /// A hardware address learned on link `li` (an answer, or the sender
    /// of a request for us); the packets that waited for it go out.
    pub fn learn(&mut self, li: usize, ip: IpAddr, mac: [u8; 6], solicited: bool, create: bool) {
        if mac == [0; 6] || mac[0] & 1 != 0 {
            return;
        }
        let now = Instant::now();
        let Some(t) = self.neigh.get_mut(li) else {
            return;
        };
        let waiting = t.learn(ip, mac, solicited, create, now);
        for p in waiting {
            let dst = p
                .get(ETH_HLEN..)
                .and_then(wire::ip_info)
                .map(|i| i.dst)
                .unwrap_or(ip);
            self.frame(li, p, mac, dst);
        }
    }

    /// The neighbour timers: requests again, failures (their packets go
    /// to [`Dev::unreachable`]). The next deadline.
    pub fn tick(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for li in 0..self.neigh.len() {
            let (ask, failed) = self.neigh[li].tick(now);
            for (ip, mac) in ask {
                self.solicit(li, ip, mac);
            }
            if let Some(l) = self.net.links.get(li) {
                add(&l.stats.tx_dropped, failed.len() as u64);
            }
            self.unreachable.extend(failed.into_iter().map(|(_, p)| p));
            if let Some(d) = self.neigh[li].next_deadline() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        self.deadline = None;
        next
    }

    /// Moves the frames made into the links' transmit queues (the stack's
    /// lock held, so the queues keep the order the stack made them in).
    pub fn stage(&mut self) {
        for (li, out) in self.out.iter_mut().enumerate() {
            if out.is_empty() {
                continue;
            }
            if let Some(l) = self.net.links.get(li) {
                l.stage(out, &mut self.spare);
            } else {
                out.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{LinkConfig, NetConfig, NetMode, RouteConfig};

    fn net() -> Net {
        Net::new(&NetConfig {
            mode: NetMode::Sandbox,
            links: vec![LinkConfig {
                name: "eth0".into(),
                mac: [2, 0, 0, 0, 0, 2],
                mtu: 1500,
                addrs: vec![
                    ("10.1.2.2".parse().unwrap(), 24),
                    ("fd00::2".parse().unwrap(), 64),
                    ("fe80::2".parse().unwrap(), 64),
                ],
                fd: None,
            }],
            routes: vec![
                RouteConfig {
                    dst: "0.0.0.0".parse().unwrap(),
                    prefix: 0,
                    gateway: Some("10.1.2.1".parse().unwrap()),
                    link: "eth0".into(),
                    metric: 0,
                },
                RouteConfig {
                    dst: "10.9.0.0".parse().unwrap(),
                    prefix: 16,
                    gateway: Some("10.1.2.9".parse().unwrap()),
                    link: "eth0".into(),
                    metric: 100,
                },
                RouteConfig {
                    dst: "10.9.0.0".parse().unwrap(),
                    prefix: 16,
                    gateway: Some("10.1.2.8".parse().unwrap()),
                    link: "eth0".into(),
                    metric: 50,
                },
            ],
        })
    }

    #[test]
    fn routes_longest_prefix_then_metric() {
        let n = net();
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(n.lookup(ip("10.1.2.7")).unwrap().gateway, None);
        assert_eq!(
            n.lookup(ip("8.8.8.8")).unwrap().gateway,
            Some(ip("10.1.2.1"))
        );
        assert_eq!(
            n.lookup(ip("10.9.3.3")).unwrap().gateway,
            Some(ip("10.1.2.8"))
        );
        assert!(n.lookup(ip("2001:db8::1")).is_none());
        assert_eq!(n.route(ip("2001:db8::1")), Err(Errno::ENETUNREACH));
        assert_eq!(n.route(ip("0.0.0.0")), Ok(ip("127.0.0.1")));
        assert_eq!(n.source_for(ip("8.8.8.8")), ip("10.1.2.2"));
        assert_eq!(n.source_for(ip("fd00::1")), ip("fd00::2"));
        assert_eq!(n.source_for(ip("fe80::1")), ip("fe80::2"));
        assert_eq!(n.source_for(ip("10.1.2.2")), ip("10.1.2.2"));
        assert_eq!(n.source_for(ip("127.0.0.5")), ip("127.0.0.1"));
        assert!(n.is_local(ip("::ffff:10.1.2.2")));
    }
}
