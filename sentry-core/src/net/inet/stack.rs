//! The engine: one smoltcp [`Interface`] on a loopback device, the
//! [`SocketSet`] of every TCP connection, under one mutex; the pump that
//! moves packets until nothing moves; the timer thread that polls when
//! smoltcp asks to (retransmits, delayed ACKs, TIME-WAIT).
//!
//! Every operation that can produce a packet runs through [`Core::run`]:
//! the change, then the pump, then (the lock released) the wait queues of
//! the sockets whose state moved are notified. A socket's state is
//! compared with what it was at the last pump (state, bytes queued each
//! way), so only sockets that changed are woken.
//!
//! The loopback device holds back each connection request (a SYN without
//! ACK) for a moment: the stack demultiplexes it to its listener as Linux
//! does (exact address before wildcard, IPV6_V6ONLY, SO_REUSEPORT) and
//! gives that listener a smoltcp socket listening on exactly the SYN's
//! destination, or drops the SYN when the listener's accept queue is full
//! (the client retransmits, as on Linux), or lets it through to be
//! refused with a RST when no one listens.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket,
};

use super::dgram::Dgram;
use super::ports::{Ports, Proto};
use super::tcp::TcpSock;
use crate::net::link::{self, wire::ETH_HLEN, Net};
use crate::waiter::WaitQueue;

/// Room kept in front of every packet buffer for an Ethernet header: a
/// packet that leaves on a link is framed in place, a frame that comes
/// in enters the loopback queue as it is.
pub const HEAD: usize = ETH_HLEN;

/// The loopback MTU (smoltcp's frame limit; Linux's lo has 65536).
pub const MTU: usize = 65535;
/// How long an orphaned connection (closed by its program, not yet
/// finished) may linger: net.ipv4.tcp_fin_timeout.
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(60);
/// Most orphans kept; past it the oldest in TIME-WAIT go first
/// (net.ipv4.tcp_max_tw_buckets, scaled down).
const MAX_ORPHANS: usize = 4096;
/// How long a closed connection's port stays taken (TIME-WAIT, 2 MSL on
/// Linux). Nothing on loopback is lost, so no socket need stay to answer
/// a retransmitted FIN: only the port is kept.
const TIME_WAIT: Duration = Duration::from_secs(60);
/// Most ports kept in TIME-WAIT (net.ipv4.tcp_max_tw_buckets, scaled).
const MAX_TIME_WAIT: usize = 16384;
/// Most pump rounds per operation.
const MAX_ROUNDS: usize = 100_000;

/// Counters /proc/net/snmp and netstat show.
#[derive(Default, Clone, Copy)]
pub struct Stats {
    /// Packets through the loopback device.
    pub packets: u64,
    /// Bytes through it.
    pub bytes: u64,
    /// Active opens (connect).
    pub active_opens: u64,
    /// Passive opens (SYN to a listener).
    pub passive_opens: u64,
    /// SYNs dropped because an accept queue was full.
    pub listen_overflows: u64,
    /// UDP datagrams delivered.
    pub udp_in: u64,
    /// UDP datagrams sent.
    pub udp_out: u64,
    /// UDP datagrams to a port no one holds.
    pub udp_no_ports: u64,
    /// UDP datagrams dropped for a full receive buffer.
    pub udp_rcvbuf_errors: u64,
    /// ICMP echo requests answered.
    pub icmp_echo: u64,
}

/// The stack's device: what is sent to the sandbox's own addresses is
/// received, in order; what is sent elsewhere leaves on a link (`link`,
/// `sandbox` mode). Every buffer keeps [`HEAD`] bytes in front of the
/// packet.
#[derive(Default)]
pub struct LoopDev {
    pub(crate) queue: VecDeque<Vec<u8>>,
    /// (source, destination) of each RST sent since the last scan.
    pub(crate) rsts: Vec<Syn>,
    pub(crate) held: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    stats: Stats,
    /// The links' half (None without links).
    pub link: Option<link::Dev>,
    /// Packets handed to the links since the pump last looked.
    link_out: usize,
}

impl LoopDev {
    /// Queues a packet received from a link (`buf`: a frame, its packet
    /// after [`HEAD`]) for smoltcp; a connection request is held for the
    /// demultiplexer.
    pub(crate) fn input_tcp(&mut self, buf: Vec<u8>) {
        match buf.get(HEAD..).and_then(tcp_of) {
            Some((ends, syn, ack, rst)) => {
                if rst {
                    self.rsts.push(ends);
                }
                if syn && !ack {
                    self.held.push(buf);
                } else {
                    self.queue.push_back(buf);
                }
            }
            None => self.spare.push(buf),
        }
    }

    /// A buffer of `len` bytes (after the headroom), reused if one is
    /// spare.
    pub(crate) fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.resize(HEAD + len, 0);
        buf
    }
}

pub struct RxTok(Vec<u8>);
pub struct TxTok<'a>(&'a mut LoopDev);

impl phy::RxToken for RxTok {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.0.get(HEAD..).unwrap_or_default())
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let dev = self.0;
        let mut buf = dev.buffer(len);
        let r = f(&mut buf[HEAD..]);
        if let Some(l) = dev.link.as_mut() {
            // Not for the sandbox itself: out on a link.
            if let Some(dst) = dst_of(&buf[HEAD..]) {
                if !l.net.is_local(dst) {
                    dev.link_out += 1;
                    l.output(buf, true);
                    if l.spare.len() > 8 {
                        dev.spare.append(&mut l.spare);
                        dev.spare.truncate(16);
                    }
                    return r;
                }
            }
        }
        dev.stats.packets += 1;
        dev.stats.bytes += len as u64;
        let (syn, rst) = match tcp_of(&buf[HEAD..]) {
            Some((ends, syn, ack, rst)) => {
                if rst {
                    dev.rsts.push(ends);
                }
                (syn && !ack, rst)
            }
            None => (false, false),
        };
        let _ = rst;
        if syn {
            dev.held.push(buf);
        } else {
            dev.queue.push_back(buf);
        }
        r
    }
}

impl Device for LoopDev {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok<'a>;

    fn receive(
        &mut self,
        _t: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let p = self.queue.pop_front()?;
        Some((RxTok(p), TxTok(self)))
    }

    fn transmit(&mut self, _t: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TxTok(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = MTU;
        c.checksum = ChecksumCapabilities::ignored();
        c
    }
}

/// A connection request: (source, destination) endpoints of a SYN
/// without ACK.
type Syn = ((IpAddr, u16), (IpAddr, u16));

/// The destination address of an IP packet.
fn dst_of(p: &[u8]) -> Option<IpAddr> {
    match p.first()? >> 4 {
        4 => {
            let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(d)))
        }
        6 => {
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(d)))
        }
        _ => None,
    }
}

fn syn_of(p: &[u8]) -> Option<Syn> {
    let (ends, syn, ack, _) = tcp_of(p)?;
    (syn && !ack).then_some(ends)
}

/// The endpoints and the SYN, ACK and RST flags of a TCP packet.
fn tcp_of(p: &[u8]) -> Option<(Syn, bool, bool, bool)> {
    let (src, dst, payload): (IpAddr, IpAddr, &[u8]) = match p.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(p).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let hl = usize::from(ip.header_len());
            let tl = usize::from(ip.total_len()).min(p.len());
            (
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                p.get(hl..tl)?,
            )
        }
        6 => {
            let ip = Ipv6Packet::new_checked(p).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let end = (40 + usize::from(ip.payload_len())).min(p.len());
            (
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                p.get(40..end)?,
            )
        }
        _ => return None,
    };
    let t = TcpPacket::new_checked(payload).ok()?;
    Some((
        ((src, t.src_port()), (dst, t.dst_port())),
        t.syn(),
        t.ack(),
        t.rst(),
    ))
}

/// Who a smoltcp socket belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A socket a program holds (the stack's id of it).
    Conn(u64),
    /// A connection of listener `id` not yet accepted.
    Pending(u64),
    /// Closed by its program, finishing: the port binding it still holds
    /// (port, binding id) and since when.
    Orphan(u16, u64, Instant),
}

/// What the pump remembers of a smoltcp socket.
pub struct Meta {
    /// Its owner.
    pub owner: Owner,
    /// State at the last pump.
    pub state: tcp::State,
    /// Bytes received and unread, at the last pump.
    pub rq: usize,
    /// Bytes to send, at the last pump.
    pub sq: usize,
    /// Whether it ever got past the handshake.
    pub established: bool,
    /// (local, remote) once known.
    pub tuple: Option<Syn>,
}

/// The (local, remote) endpoints of a smoltcp socket.
pub fn tuple_of(s: &tcp::Socket<'_>) -> Option<Syn> {
    let (l, r) = (s.local_endpoint()?, s.remote_endpoint()?);
    Some(((l.addr.into(), l.port), (r.addr.into(), r.port)))
}

/// Everything under the stack's lock.
pub struct Inner {
    /// The interfaces and routes.
    pub net: Arc<Net>,
    pub iface: Interface,
    pub dev: LoopDev,
    pub set: SocketSet<'static>,
    epoch: Instant,
    pub ports: Ports,
    /// TCP sockets programs hold, by id.
    pub tcp: HashMap<u64, TcpSock>,
    /// UDP and ICMP sockets, by id.
    pub dgram: HashMap<u64, Dgram>,
    /// Every smoltcp socket in `set`.
    pub meta: HashMap<SocketHandle, Meta>,
    /// Orphans in the order they were orphaned.
    orphans: VecDeque<SocketHandle>,
    /// Ports held by connections in TIME-WAIT whose smoltcp sockets are
    /// gone: (port, binding id, until when).
    time_wait: VecDeque<(u16, u64, Instant)>,
    next_id: u64,
    udp_stats: Stats,
    /// A smoltcp socket was touched since the last pump.
    dirty: bool,
}

/// The stack: its state and its timer.
pub struct Core {
    inner: Mutex<Inner>,
    timer: Arc<Timer>,
    /// The interfaces and routes (fixed), readable without the lock.
    pub net: Arc<Net>,
}

#[derive(Default)]
struct TimerState {
    stop: bool,
    at: Option<Instant>,
    kicked: bool,
}

#[derive(Default)]
struct Timer {
    m: Mutex<TimerState>,
    cv: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, TimerState> {
        self.m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the timer to poll at `at` if that is sooner than it would.
    fn schedule(&self, at: Option<Instant>) {
        let Some(at) = at else { return };
        let mut s = self.lock();
        if s.at.is_none_or(|cur| at < cur) {
            s.at = Some(at);
            s.kicked = true;
            self.cv.notify_all();
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let mut s = self.timer.lock();
        s.stop = true;
        self.timer.cv.notify_all();
    }
}

fn timer_thread(core: Weak<Core>, timer: Arc<Timer>) {
    loop {
        let next = match core.upgrade() {
            Some(c) => c.tick(),
            None => return,
        };
        let mut s = timer.lock();
        if s.stop {
            return;
        }
        // Orphans are reaped at least every few seconds.
        let cap = Instant::now() + Duration::from_secs(5);
        let until = next.map_or(cap, |n| n.min(cap));
        s.at = Some(until);
        s.kicked = false;
        while !s.stop && !s.kicked {
            let now = Instant::now();
            let Some(left) = s.at.and_then(|a| a.checked_duration_since(now)) else {
                break;
            };
            if left.is_zero() {
                break;
            }
            s = timer
                .cv
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if s.stop {
            return;
        }
        s.at = None;
    }
}

impl Core {
    /// A stack with the loopback addresses, the links of `net` (and a
    /// receive thread for each), and its timer thread.
    pub fn new(net: Arc<Net>) -> Arc<Core> {
        let mut dev = LoopDev::default();
        if net.active() {
            dev.link = Some(link::Dev::new(net.clone()));
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        let mut cfg = Config::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
        let epoch = Instant::now();
        let mut iface = Interface::new(cfg, &mut dev, smoltcp::time::Instant::from_micros(0));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(Ipv4Addr::LOCALHOST), 8));
            let _ = a.push(IpCidr::new(IpAddress::Ipv6(Ipv6Addr::LOCALHOST), 128));
        });
        // All of 127/8 answers, as on Linux's lo.
        iface.set_any_ip(true);
        let active = net.active();
        iface.routes_mut().update(|r| {
            if active {
                // With links, smoltcp takes every packet the stack hands
                // it (the link code decided it is ours) and sends
                // everything through the device (which routes).
                let _ = r.push(smoltcp::iface::Route {
                    cidr: IpCidr::new(IpAddress::Ipv4(Ipv4Addr::UNSPECIFIED), 0),
                    via_router: IpAddress::Ipv4(Ipv4Addr::LOCALHOST),
                    preferred_until: None,
                    expires_at: None,
                });
                let _ = r.push(smoltcp::iface::Route {
                    cidr: IpCidr::new(IpAddress::Ipv6(Ipv6Addr::UNSPECIFIED), 0),
                    via_router: IpAddress::Ipv6(Ipv6Addr::LOCALHOST),
                    preferred_until: None,
                    expires_at: None,
                });
                return;
            }
            let _ = r.push(smoltcp::iface::Route {
                cidr: IpCidr::new(IpAddress::Ipv4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                via_router: IpAddress::Ipv4(Ipv4Addr::LOCALHOST),
                preferred_until: None,
                expires_at: None,
            });
        });
        let inner = Inner {
            net: net.clone(),
            iface,
            dev,
            set: SocketSet::new(Vec::new()),
            epoch,
            ports: Ports::default(),
            tcp: HashMap::new(),
            dgram: HashMap::new(),
            meta: HashMap::new(),
            orphans: VecDeque::new(),
            time_wait: VecDeque::new(),
            next_id: 1,
            udp_stats: Stats::default(),
            dirty: false,
        };
        let timer = Arc::new(Timer::default());
        let core = Arc::new(Core {
            inner: Mutex::new(inner),
            timer: timer.clone(),
            net: net.clone(),
        });
        for (pos, l) in net.links.iter().enumerate() {
            let sink: Weak<dyn link::Sink> = Arc::downgrade(&core) as Weak<dyn link::Sink>;
            l.spawn_rx(pos, sink);
        }
        let weak = Arc::downgrade(&core);
        // Without the thread, timers fire only when a program acts; the
        // stack still works.
        let _ = std::thread::Builder::new()
            .name("inet-timer".into())
            .spawn(move || timer_thread(weak, timer));
        core
    }

    /// The state, locked (no pump: for reading).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the stack, moves the packets it produced, and wakes the
    /// sockets that changed.
    pub fn run<T>(&self, f: impl FnOnce(&mut Inner, &mut Vec<Arc<WaitQueue>>) -> T) -> T {
        let mut wake = Vec::new();
        let (r, next) = {
            let mut g = self.lock();
            let r = f(&mut g, &mut wake);
            // Nothing touched, nothing in flight: nothing can have moved.
            let mut next = if g.dirty || !g.dev.queue.is_empty() {
                g.pump(&mut wake);
                g.next_poll()
            } else {
                None
            };
            if self.net.active() {
                next = earliest(next, g.stage_links());
            }
            (r, next)
        };
        if self.net.active() {
            self.net.flush();
        }
        for q in wake {
            q.notify_all();
        }
        self.timer.schedule(next);
        r
    }

    /// Runs `f` on the stack without a pump (datagrams), then sends what
    /// it queued on the links.
    pub fn locked<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let (r, next) = {
            let mut g = self.lock();
            let r = f(&mut g);
            let next = if self.net.active() {
                g.stage_links()
            } else {
                None
            };
            (r, next)
        };
        if self.net.active() {
            self.net.flush();
        }
        self.timer.schedule(next);
        r
    }

    /// One timer tick: poll, reap orphans; the next time to poll.
    fn tick(&self) -> Option<Instant> {
        let mut wake = Vec::new();
        let next = {
            let mut g = self.lock();
            let mut next_link = None;
            if let Some(l) = g.dev.link.as_mut() {
                next_link = l.tick();
            }
            g.report_unreachable(&mut wake);
            g.pump(&mut wake);
            g.reap_orphans();
            let next = g.next_poll();
            let staged = g.stage_links();
            earliest(earliest(next, next_link), staged)
        };
        self.net.flush();
        for q in wake {
            q.notify_all();
        }
        next
    }
}

/// The sooner of two deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl link::Sink for Core {
    fn frames(&self, pos: usize, frames: &[&[u8]]) {
        let mut wake = Vec::new();
        let next = {
            let mut g = self.lock();
            for f in frames {
                g.link_input(pos, f, &mut wake);
            }
            let mut next = None;
            if g.dirty || !g.dev.queue.is_empty() || !g.dev.held.is_empty() {
                g.pump(&mut wake);
                next = g.next_poll();
            }
            earliest(next, g.stage_links())
        };
        self.net.flush();
        for q in wake {
            q.notify_all();
        }
        self.timer.schedule(next);
    }
}

impl Inner {
    /// smoltcp's clock.
    pub fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    /// Moves the frames the links' device made to the links' queues; the
    /// time a neighbour timer needs the timer thread by.
    pub fn stage_links(&mut self) -> Option<Instant> {
        let l = self.dev.link.as_mut()?;
        l.stage();
        l.deadline.take()
    }

    /// A new socket id.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.dev.stats;
        let u = self.udp_stats;
        s.udp_in = u.udp_in;
        s.udp_out = u.udp_out;
        s.udp_no_ports = u.udp_no_ports;
        s.udp_rcvbuf_errors = u.udp_rcvbuf_errors;
        s.icmp_echo = u.icmp_echo;
        s
    }

    /// The datagram counters, to count in.
    pub fn dstats(&mut self) -> &mut Stats {
        &mut self.udp_stats
    }

    /// The counters of the device, to count in.
    pub fn tstats(&mut self) -> &mut Stats {
        &mut self.dev.stats
    }

    /// When the timer should poll next.
    fn next_poll(&mut self) -> Option<Instant> {
        let now = self.now();
        let d = self.iface.poll_delay(now, &self.set)?;
        Some(Instant::now() + Duration::from_micros(d.total_micros()))
    }

    /// Marks the smoltcp sockets as touched (the next operation pumps).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// The TCP socket `h` (None if it is gone).
    pub fn sock(&mut self, h: SocketHandle) -> Option<&mut tcp::Socket<'static>> {
        if !self.meta.contains_key(&h) {
            return None;
        }
        self.dirty = true;
        Some(self.set.get_mut::<tcp::Socket>(h))
    }

    /// Adds a smoltcp socket owned by `owner`.
    pub fn add(&mut self, s: tcp::Socket<'static>, owner: Owner) -> SocketHandle {
        let state = s.state();
        let tuple = tuple_of(&s);
        self.dirty = true;
        let h = self.set.add(s);
        self.meta.insert(
            h,
            Meta {
                owner,
                state,
                rq: 0,
                sq: 0,
                established: false,
                tuple,
            },
        );
        h
    }

    /// Removes smoltcp socket `h` (and its port, if an orphan's).
    pub fn remove(&mut self, h: SocketHandle) {
        self.dirty = true;
        if let Some(m) = self.meta.remove(&h) {
            self.set.remove(h);
            if let Owner::Orphan(port, id, _) = m.owner {
                self.ports.unbind(Proto::Tcp, port, id);
            }
        }
    }

    /// Hands `h` to the stack to finish on its own: removed once closed.
    pub fn orphan(&mut self, h: SocketHandle, port: u16, bind_id: u64) {
        let closed = match self.meta.get_mut(&h) {
            Some(m) => {
                m.owner = Owner::Orphan(port, bind_id, Instant::now());
                m.state == tcp::State::Closed
            }
            None => return,
        };
        if self
            .sock(h)
            .is_some_and(|s| s.state() == tcp::State::TimeWait)
        {
            self.retire(h);
            return;
        }
        let closed = closed || self.sock(h).is_none_or(|s| s.state() == tcp::State::Closed);
        if closed {
            // An aborted socket sends its RST at its next dispatch.
            let now = self.now();
            self.iface.poll(now, &mut self.dev, &mut self.set);
            self.remove(h);
            return;
        }
        self.orphans.push_back(h);
        if self.orphans.len() > MAX_ORPHANS {
            self.reap_orphans();
        }
    }

    /// An orphan reached TIME-WAIT: its smoltcp socket goes, its port
    /// stays taken for a while.
    fn retire(&mut self, h: SocketHandle) {
        let Some(m) = self.meta.remove(&h) else {
            return;
        };
        self.set.remove(h);
        if let Owner::Orphan(port, id, _) = m.owner {
            if port != 0 {
                self.time_wait
                    .push_back((port, id, Instant::now() + TIME_WAIT));
                while self.time_wait.len() > MAX_TIME_WAIT {
                    if let Some((p, id, _)) = self.time_wait.pop_front() {
                        self.ports.unbind(Proto::Tcp, p, id);
                    }
                }
            }
        }
    }

    /// Drops orphans that are done, too old, or too many (TIME-WAIT first).
    fn reap_orphans(&mut self) {
        let now = Instant::now();
        while let Some(&(port, id, until)) = self.time_wait.front() {
            if until > now {
                break;
            }
            self.time_wait.pop_front();
            self.ports.unbind(Proto::Tcp, port, id);
        }
        let mut keep = VecDeque::with_capacity(self.orphans.len());
        let excess = self.orphans.len().saturating_sub(MAX_ORPHANS);
        let mut dropped = 0;
        while let Some(h) = self.orphans.pop_front() {
            let Some(m) = self.meta.get(&h) else { continue };
            let Owner::Orphan(_, _, since) = m.owner else {
                continue;
            };
            let state = m.state;
            let old = now.duration_since(since) > ORPHAN_TIMEOUT;
            let squeeze = dropped < excess && state == tcp::State::TimeWait;
            if state == tcp::State::Closed || old || squeeze {
                if old && state != tcp::State::TimeWait {
                    if let Some(s) = self.sock(h) {
                        s.abort();
                    }
                }
                self.remove(h);
                dropped += 1;
            } else {
                keep.push_back(h);
            }
        }
        self.orphans = keep;
    }

    /// Frees one port held by an orphan in TIME-WAIT (ephemeral ports ran
    /// out); whether one was.
    pub fn reuse_time_wait(&mut self) -> bool {
        if let Some((port, id, _)) = self.time_wait.pop_front() {
            self.ports.unbind(Proto::Tcp, port, id);
            return true;
        }
        let tw = self.orphans.iter().position(|h| {
            self.meta
                .get(h)
                .is_some_and(|m| m.state == tcp::State::TimeWait)
        });
        match tw.and_then(|i| self.orphans.remove(i)) {
            Some(h) => {
                self.remove(h);
                true
            }
            None => false,
        }
    }

    /// Moves packets until none is left, then looks at what changed.
    pub fn pump(&mut self, wake: &mut Vec<Arc<WaitQueue>>) {
        self.dirty = false;
        let mut link_sent = 0usize;
        for _ in 0..4 {
            for _ in 0..MAX_ROUNDS {
                let now = self.now();
                self.iface.poll(now, &mut self.dev, &mut self.set);
                let held = std::mem::take(&mut self.dev.held);
                for p in held {
                    self.route_syn(p);
                }
                // smoltcp sends one segment per socket per poll: poll
                // again while segments leave on a link, up to what the
                // links' queues take at once (the rest goes at the next
                // pump: the ACKs, or the timer smoltcp asks for).
                let out = std::mem::take(&mut self.dev.link_out);
                link_sent += out;
                let more_out = out > 0 && link_sent < link::TX_QUEUE / 2;
                if self.dev.queue.is_empty() && !more_out {
                    break;
                }
                // Keep a few buffers for the next packets.
                if self.dev.spare.len() > 8 {
                    self.dev.spare.truncate(8);
                }
            }
            if !self.scan(wake) {
                break;
            }
        }
    }

    /// Gives a held SYN its listener, or drops it, or lets it be refused.
    fn route_syn(&mut self, p: Vec<u8>) {
        let Some((src, dst)) = p.get(HEAD..).and_then(syn_of) else {
            self.dev.queue.push_back(p);
            return;
        };
        let lid = self.ports.lookup(Proto::Tcp, dst.0, dst.1, src, true);
        let Some(lid) = lid else {
            self.dev.queue.push_back(p);
            return;
        };
        // A retransmitted SYN of a connection already under way.
        let dup = self.meta.iter().any(|(h, m)| {
            m.owner == Owner::Pending(lid) && {
                let s = self.set.get::<tcp::Socket>(*h);
                s.remote_endpoint()
                    .is_some_and(|r| IpAddr::from(r.addr) == src.0 && r.port == src.1)
            }
        });
        if dup {
            self.dev.queue.push_back(p);
            return;
        }
        match self.new_pending(lid, dst) {
            Some(()) => {
                self.dev.stats.passive_opens += 1;
                self.dev.queue.push_back(p);
            }
            None => {
                // Accept queue full: the SYN is dropped, the client
                // retransmits.
                self.dev.stats.listen_overflows += 1;
                self.dev.spare.push(p);
            }
        }
    }

    /// Compares every smoltcp socket with the last pump and acts on the
    /// changes; whether packets are to move again (an orphan got data and
    /// was reset).
    fn scan(&mut self, wake: &mut Vec<Arc<WaitQueue>>) -> bool {
        let rsts = std::mem::take(&mut self.dev.rsts);
        let mut changed: Vec<(SocketHandle, Owner, tcp::State, bool)> = Vec::new();
        for (h, m) in self.meta.iter_mut() {
            let s = self.set.get::<tcp::Socket>(*h);
            let (st, rq, sq) = (s.state(), s.recv_queue(), s.send_queue());
            // A connection's endpoints never change once known.
            if m.tuple.is_none() || st != m.state {
                if let Some(t) = tuple_of(s) {
                    m.tuple = Some(t);
                }
            }
            if st == m.state && rq == m.rq && sq == m.sq {
                continue;
            }
            let prev = m.state;
            m.state = st;
            m.rq = rq;
            m.sq = sq;
            if !matches!(
                st,
                tcp::State::Closed
                    | tcp::State::Listen
                    | tcp::State::SynSent
                    | tcp::State::SynReceived
            ) {
                m.established = true;
            }
            // Reset: closed by a RST sent to it.
            let abnormal = st == tcp::State::Closed
                && m.tuple
                    .is_some_and(|(l, r)| rsts.iter().any(|&(src, dst)| src == r && dst == l));
            changed.push((*h, m.owner, prev, abnormal));
        }
        let mut again = false;
        for (h, owner, prev, abnormal) in changed {
            match owner {
                Owner::Conn(id) => self.conn_changed(id, h, prev, abnormal, wake),
                Owner::Pending(lid) => self.pending_changed(lid, h, wake),
                Owner::Orphan(..) => {
                    let (state, rq) = match self.meta.get(&h) {
                        Some(m) => (m.state, m.rq),
                        None => continue,
                    };
                    if state == tcp::State::Closed {
                        self.remove(h);
                    } else if state == tcp::State::TimeWait {
                        self.retire(h);
                    } else if rq > 0 {
                        // Data for a socket its program closed: reset.
                        if let Some(s) = self.sock(h) {
                            s.abort();
                        }
                        again = true;
                    }
                }
            }
        }
        again
    }
}
