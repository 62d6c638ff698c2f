//! UDP and ICMP echo ("ping") sockets. On a loopback-only stack a
//! datagram goes straight from the sender to the receiving socket's queue
//! (the bind table demultiplexes as Linux does): nothing of a datagram's
//! path is observable but its delivery, its loss when the receive buffer
//! is full, and the ICMP port-unreachable a connected sender then sees as
//! ECONNREFUSED, all kept. An echo request is answered by the stack (as
//! Linux answers it) into the sending socket's queue.

use std::any::Any;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::addr::{self, Endpoint};
use super::ipopts::IpOpts;
use super::ports::{Binding, Proto};
use super::stack::Inner;
use super::{next_ino, socket_stat};
use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};
use crate::net::link;
use crate::net::opts::{int_bytes, int_of, SocketOptions};
use crate::net::{Stack as NetStack, CAP_NET_ADMIN};
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// What a datagram costs its receive buffer besides its bytes (Linux
/// charges the skb's truesize).
const OVERHEAD: usize = 768;
/// UDP_CORK.
const UDP_CORK: i32 = 1;
/// UDP_SEGMENT.
const UDP_SEGMENT: i32 = 103;
/// UDP_GRO.
const UDP_GRO: i32 = 104;

/// One datagram waiting.
struct Datagram {
    from: Endpoint,
    data: Vec<u8>,
}

/// A datagram socket's state, in the stack.
pub struct Dgram {
    pub proto: Proto,
    pub domain: i32,
    pub opts: SocketOptions,
    pub ip: IpOpts,
    pub wq: Arc<WaitQueue>,
    uid: u32,
    /// The file's inode number.
    pub ino: u64,
    /// Bound address and port (the echo identifier for ping sockets).
    pub local: Option<Endpoint>,
    /// The address was chosen by connect, not bind.
    auto_addr: bool,
    /// The port was chosen by the stack.
    auto_port: bool,
    pub peer: Option<Endpoint>,
    queue: VecDeque<Datagram>,
    /// Bytes charged to the receive buffer.
    pub queued: usize,
    err: Option<Errno>,
    shut_rd: bool,
    shut_wr: bool,
    cork: bool,
    segment: i32,
    gro: bool,
}

impl Dgram {
    fn new(proto: Proto, domain: i32, protocol: i32, uid: u32, ino: u64) -> Dgram {
        Dgram {
            proto,
            domain,
            opts: SocketOptions::new(domain, libc::SOCK_DGRAM, protocol),
            ip: IpOpts::default(),
            wq: Arc::new(WaitQueue::default()),
            uid,
            ino,
            local: None,
            auto_addr: false,
            auto_port: false,
            peer: None,
            queue: VecDeque::new(),
            queued: 0,
            err: None,
            shut_rd: false,
            shut_wr: false,
            cork: false,
            segment: 0,
            gro: false,
        }
    }

    /// Bytes of the first datagram (FIONREAD).
    fn first_len(&self) -> usize {
        self.queue.front().map_or(0, |d| d.data.len())
    }

    fn readiness(&self) -> u32 {
        let mut m = libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        if !self.queue.is_empty() {
            m |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.shut_rd {
            m |= libc::POLLIN | libc::POLLRDNORM | libc::POLLRDHUP;
        }
        if self.shut_rd && self.shut_wr {
            m |= libc::POLLHUP;
        }
        if self.err.is_some() {
            m |= libc::POLLERR;
        }
        m as u32
    }
}

/// The Internet checksum of `parts`.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for p in parts {
        for &b in p.iter() {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Inner {
    fn d(&mut self, id: u64) -> SysResult<&mut Dgram> {
        self.dgram.get_mut(&id).ok_or(Errno::EBADF)
    }

    fn dg_bind(&mut self, id: u64, ip: IpAddr, port: u16, auto: bool) -> SysResult<()> {
        let d = self.d(id)?;
        if d.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let proto = d.proto;
        let mut b = Binding::new(id, ip, d.ip.v6only, d.opts.reuseaddr, d.opts.reuseport);
        b.uid = d.uid;
        b.peer = d.peer;
        let requested = port;
        let port = if port == 0 {
            self.ports.bind_ephemeral(proto, b)?
        } else {
            self.ports.bind(proto, port, b)?;
            port
        };
        let d = self.d(id)?;
        d.local = Some((ip, port));
        d.auto_port = auto || requested == 0;
        Ok(())
    }

    fn dg_connect(&mut self, id: u64, dst: Option<Endpoint>) -> SysResult<()> {
        let net = self.net.clone();
        let d = self.d(id)?;
        let proto = d.proto;
        let Some(dst) = dst else {
            // AF_UNSPEC: dissolve the association.
            d.peer = None;
            let (local, auto_addr, auto_port) = (d.local, d.auto_addr, d.auto_port);
            if let Some((ip, port)) = local {
                if auto_port {
                    d.local = None;
                    self.ports.unbind(proto, port, id);
                } else {
                    let ip = if auto_addr {
                        addr::any_of(d.domain)
                    } else {
                        ip
                    };
                    d.local = Some((ip, port));
                    d.auto_addr = false;
                    if let Some(b) = self.ports.get_mut(proto, port, id) {
                        b.peer = None;
                        b.addr = ip;
                    }
                }
            }
            return Ok(());
        };
        if d.local.is_none() {
            let any = addr::any_of(d.domain);
            self.dg_bind(id, any, 0, true)?;
        }
        let d = self.d(id)?;
        let Some((ip, port)) = d.local else {
            return Err(Errno::EINVAL);
        };
        let ip = if ip.is_unspecified() {
            d.auto_addr = true;
            net.source_for(dst.0)
        } else {
            ip
        };
        d.local = Some((ip, port));
        d.peer = Some(dst);
        d.err = None;
        if let Some(b) = self.ports.get_mut(proto, port, id) {
            b.peer = Some(dst);
            b.addr = ip;
        }
        Ok(())
    }

    fn dg_send(&mut self, id: u64, data: &[u8], to: Option<Endpoint>) -> SysResult<usize> {
        let net = self.net.clone();
        // Linux binds a port before it looks at anything else.
        let d = self.d(id)?;
        if d.local.is_none() {
            let any = addr::any_of(d.domain);
            self.dg_bind(id, any, 0, true)?;
        }
        let d = self.d(id)?;
        if let Some(e) = d.err.take() {
            return Err(e);
        }
        if d.shut_wr {
            return Err(Errno::EPIPE);
        }
        let dst = match to.or(d.peer) {
            Some(t) => t,
            None => return Err(Errno::EDESTADDRREQ),
        };
        let (proto, domain) = (d.proto, d.domain);
        let max = match (proto, dst.0) {
            (Proto::Icmp, _) => 65535 - 20 - 8,
            (_, IpAddr::V4(_)) => 65507,
            (_, IpAddr::V6(_)) => 65527,
        };
        if data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        if let IpAddr::V4(v4) = dst.0 {
            if v4.is_broadcast() || v4.is_multicast() {
                if v4.is_broadcast() && !d.opts.broadcast {
                    return Err(Errno::EACCES);
                }
                // Nothing on the loopback interface receives it.
                if d.local.is_none() {
                    self.dg_bind(id, addr::any_of(domain), 0, true)?;
                }
                self.dstats().udp_out += 1;
                return Ok(data.len());
            }
        }
        let dip = net.route(dst.0)?;
        if proto != Proto::Icmp && dst.1 == 0 {
            return Err(Errno::EINVAL);
        }
        if d.local.is_none() {
            self.dg_bind(id, addr::any_of(domain), 0, true)?;
        }
        let d = self.d(id)?;
        let Some((lip, lport)) = d.local else {
            return Err(Errno::EINVAL);
        };
        let src_ip = if lip.is_unspecified() {
            net.source_for(dip)
        } else {
            lip
        };
        if !net.is_local(dip) {
            if addr::is_local(src_ip) {
                // A loopback source cannot leave (as Linux's route lookup).
                return Err(Errno::EINVAL);
            }
            // To the outside, through a link.
            return self.dg_send_link(proto, data, (src_ip, lport), (dip, dst.1));
        }
        if proto == Proto::Icmp {
            return self.echo(id, data, dip, lport, src_ip);
        }
        self.dstats().udp_out += 1;
        let src = (src_ip, lport);
        let Some(rid) = self.ports.lookup(Proto::Udp, dip, dst.1, src, false) else {
            self.dstats().udp_no_ports += 1;
            // The port unreachable reaches a connected sender.
            let d = self.d(id)?;
            if d.peer == Some((dip, dst.1)) {
                d.err = Some(Errno::ECONNREFUSED);
                let q = d.wq.clone();
                q.notify_all();
            }
            return Ok(data.len());
        };
        let Some(r) = self.dgram.get_mut(&rid) else {
            return Ok(data.len());
        };
        if r.shut_rd || r.queued > r.opts.rcvbuf as usize {
            self.dstats().udp_rcvbuf_errors += 1;
            return Ok(data.len());
        }
        r.queued += data.len() + OVERHEAD;
        r.queue.push_back(Datagram {
            from: src,
            data: data.to_vec(),
        });
        let q = r.wq.clone();
        self.dstats().udp_in += 1;
        q.notify_all();
        Ok(data.len())
    }

    /// A datagram (UDP, or an ICMP echo request with identifier `src.1`)
    /// leaving on a link: routed, fragmented (IPv4) to the link's MTU;
    /// EMSGSIZE for an IPv6 datagram larger than the MTU.
    fn dg_send_link(
        &mut self,
        proto: Proto,
        data: &[u8],
        src: Endpoint,
        dst: Endpoint,
    ) -> SysResult<usize> {
        let net = self.net.clone();
        let mtu = net
            .lookup(dst.0)
            .and_then(|r| net.links.get(r.link))
            .map_or(1500, |l| l.mtu);
        let (src_ip, dst_ip) = (src.0, dst.0);
        let Some(dev) = self.dev.link.as_mut() else {
            return Err(Errno::ENETUNREACH);
        };
        let id = dev.next_id();
        let packets = if proto == Proto::Icmp {
            let v6 = dst_ip.is_ipv6();
            let req = if v6 { 128u8 } else { 8u8 };
            if data.len() < 8 || data[0] != req || data[1] != 0 {
                return Err(Errno::EINVAL);
            }
            let mut head = [0u8; 8];
            head.copy_from_slice(&data[..8]);
            head[4..6].copy_from_slice(&src.1.to_be_bytes());
            let p = if v6 {
                link::wire::proto::ICMPV6
            } else {
                link::wire::proto::ICMP
            };
            link::wire::ip_packets(src_ip, dst_ip, p, &[&head, &data[8..]], mtu, id)
        } else {
            let len = u16::try_from(8 + data.len()).map_err(|_| Errno::EMSGSIZE)?;
            let mut head = [0u8; 8];
            head[0..2].copy_from_slice(&src.1.to_be_bytes());
            head[2..4].copy_from_slice(&dst.1.to_be_bytes());
            head[4..6].copy_from_slice(&len.to_be_bytes());
            link::wire::ip_packets(
                src_ip,
                dst_ip,
                link::wire::proto::UDP,
                &[&head, data],
                mtu,
                id,
            )
        };
        let Some(packets) = packets else {
            return Err(Errno::EMSGSIZE);
        };
        for p in packets {
            dev.output(p, false);
        }
        if proto == Proto::Udp {
            self.dstats().udp_out += 1;
        }
        Ok(data.len())
    }

    /// A UDP datagram from a link for `dst`: queued to the socket the bind
    /// table picks; false when no socket holds the port.
    pub(crate) fn udp_deliver(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        data: &[u8],
        wake: &mut Vec<Arc<WaitQueue>>,
    ) -> bool {
        let Some(rid) = self.ports.lookup(Proto::Udp, dst.0, dst.1, src, false) else {
            self.dstats().udp_no_ports += 1;
            return false;
        };
        self.dg_queue(rid, src, data.to_vec(), wake);
        self.dstats().udp_in += 1;
        true
    }

    /// An echo reply from a link for ping identifier `ident` at `dst`.
    pub(crate) fn echo_deliver(
        &mut self,
        from: IpAddr,
        dst: IpAddr,
        ident: u16,
        msg: &[u8],
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        if let Some(rid) = self.ports.lookup(Proto::Icmp, dst, ident, (from, 0), false) {
            self.dg_queue(rid, (from, 0), msg.to_vec(), wake);
        }
    }

    fn dg_queue(
        &mut self,
        rid: u64,
        from: Endpoint,
        data: Vec<u8>,
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        let Some(r) = self.dgram.get_mut(&rid) else {
            return;
        };
        if r.shut_rd || r.queued > r.opts.rcvbuf as usize {
            self.dstats().udp_rcvbuf_errors += 1;
            return;
        }
        r.queued += data.len() + OVERHEAD;
        r.queue.push_back(Datagram { from, data });
        wake.push(r.wq.clone());
    }

    /// An error for the datagram socket of `proto` bound to port `port`
    /// and connected to `peer` (an ICMP error, or a next hop that did not
    /// answer), as Linux reports it to connected sockets.
    pub(crate) fn dg_error(
        &mut self,
        proto: Proto,
        port: u16,
        peer: Endpoint,
        e: Errno,
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        for d in self.dgram.values_mut() {
            if d.proto != proto || d.local.map(|l| l.1) != Some(port) {
                continue;
            }
            let hit = match proto {
                Proto::Icmp => d.peer.is_some_and(|p| p.0 == peer.0),
                _ => d.peer == Some(peer),
            };
            if hit {
                d.err = Some(e);
                wake.push(d.wq.clone());
            }
        }
    }

    /// An echo request from ping socket `id`: the stack's reply is queued
    /// to it.
    fn echo(
        &mut self,
        id: u64,
        data: &[u8],
        dst: IpAddr,
        ident: u16,
        src: IpAddr,
    ) -> SysResult<usize> {
        let v6 = dst.is_ipv6();
        let (req, rep) = if v6 { (128u8, 129u8) } else { (8u8, 0u8) };
        if data.len() < 8 || data[0] != req || data[1] != 0 {
            return Err(Errno::EINVAL);
        }
        let mut reply = data.to_vec();
        reply[0] = rep;
        reply[2] = 0;
        reply[3] = 0;
        reply[4..6].copy_from_slice(&ident.to_be_bytes());
        let sum = match (dst, src) {
            (IpAddr::V6(d6), IpAddr::V6(s6)) => {
                let len = (reply.len() as u32).to_be_bytes();
                checksum(&[&d6.octets(), &s6.octets(), &len, &[0, 0, 0, 58], &reply])
            }
            _ => checksum(&[&reply]),
        };
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        self.dstats().icmp_echo += 1;
        let d = self.d(id)?;
        if d.queued <= d.opts.rcvbuf as usize && !d.shut_rd {
            d.queued += reply.len() + OVERHEAD;
            d.queue.push_back(Datagram {
                from: (dst, 0),
                data: reply,
            });
            d.wq.notify_all();
        }
        Ok(data.len())
    }

    fn dg_recv(
        &mut self,
        id: u64,
        buf: &mut [u8],
        peek: bool,
        nonblock: bool,
    ) -> Option<SysResult<(usize, usize, Endpoint)>> {
        let d = self.dgram.get_mut(&id)?;
        if let Some(e) = d.err.take() {
            return Some(Err(e));
        }
        if let Some(m) = d.queue.front() {
            let n = m.data.len().min(buf.len());
            buf[..n].copy_from_slice(&m.data[..n]);
            let r = (n, m.data.len(), m.from);
            if !peek {
                if let Some(m) = d.queue.pop_front() {
                    d.queued = d.queued.saturating_sub(m.data.len() + OVERHEAD);
                }
            }
            return Some(Ok(r));
        }
        if d.shut_rd {
            return Some(Ok((0, 0, (addr::any_of(d.domain), 0))));
        }
        if nonblock {
            return Some(Err(Errno::EAGAIN));
        }
        None
    }

    /// The program closed datagram socket `id`.
    pub fn dg_close(&mut self, id: u64) {
        if let Some(d) = self.dgram.remove(&id) {
            if let Some((_, port)) = d.local {
                self.ports.unbind(d.proto, port, id);
            }
        }
    }
}

/// A UDP or ping socket as a file.
pub struct DgramSocket {
    net: Arc<NetStack>,
    id: u64,
    domain: i32,
    protocol: i32,
    proto: Proto,
    wq: Arc<WaitQueue>,
    nonblock: AtomicBool,
    ino: u64,
}

/// socket(AF_INET/AF_INET6, SOCK_DGRAM, protocol) for UDP (`ping`
/// false) or ICMP echo.
pub fn new(
    net: &Arc<NetStack>,
    ctx: &dyn TaskContext,
    domain: i32,
    protocol: i32,
    ping: bool,
    nonblock: bool,
) -> DgramSocket {
    let proto = if ping { Proto::Icmp } else { Proto::Udp };
    let mut g = net.inet.core.lock();
    let id = g.new_id();
    let ino = next_ino();
    let d = Dgram::new(proto, domain, protocol, ctx.ucred().uid, ino);
    let wq = d.wq.clone();
    g.dgram.insert(id, d);
    drop(g);
    DgramSocket {
        net: net.clone(),
        id,
        domain,
        protocol,
        proto,
        wq,
        nonblock: AtomicBool::new(nonblock),
        ino,
    }
}

impl DgramSocket {
    fn core(&self) -> &super::stack::Core {
        &self.net.inet.core
    }

    fn with<T>(&self, f: impl FnOnce(&mut Dgram) -> T) -> SysResult<T> {
        let mut g = self.core().lock();
        g.dgram.get_mut(&self.id).map(f).ok_or(Errno::EBADF)
    }

    fn send(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        flags: u32,
    ) -> SysResult<usize> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let to = match to {
            None => None,
            Some(SockAddr::Unspec) if self.domain == libc::AF_INET => None,
            Some(a) => {
                let (ip, port, mapped) = addr::endpoint_of(self.domain, a).map_err(|e| {
                    if self.domain == libc::AF_INET {
                        Errno::EAFNOSUPPORT
                    } else {
                        e
                    }
                })?;
                if mapped && self.with(|d| d.ip.v6only)? {
                    return Err(Errno::ENETUNREACH);
                }
                Some((addr::canonical(ip), port))
            }
        };
        let r = self.core().locked(|i| i.dg_send(self.id, data, to));
        if r == Err(Errno::EPIPE) && flags & libc::MSG_NOSIGNAL as u32 == 0 {
            ctx.signal_process(libc::SIGPIPE as u32);
        }
        r
    }

    fn recv(
        &self,
        ctx: &dyn TaskContext,
        buf: &mut [u8],
        flags: u32,
    ) -> SysResult<(usize, usize, Endpoint)> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if flags & libc::MSG_ERRQUEUE as u32 != 0 {
            return Err(Errno::EAGAIN);
        }
        let nonblock =
            self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0;
        let peek = flags & libc::MSG_PEEK as u32 != 0;
        let deadline = self.with(|d| d.opts.deadline(false))?;
        block_until(ctx, &[&self.wq], deadline, Errno::EAGAIN, || {
            self.core().lock().dg_recv(self.id, buf, peek, nonblock)
        })
    }
}

impl Drop for DgramSocket {
    fn drop(&mut self) {
        self.core().lock().dg_close(self.id);
    }
}

impl FileDescription for DgramSocket {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.recv(ctx, buf, 0).map(|r| r.0)
    }

    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.send(ctx, buf, None, 0)
    }

    fn stat(&self) -> SysResult<Stat> {
        Ok(socket_stat(self.ino))
    }

    fn status_flags(&self) -> u32 {
        let nb = if self.nonblock.load(Ordering::Relaxed) {
            libc::O_NONBLOCK
        } else {
            0
        };
        (libc::O_RDWR | nb) as u32
    }

    fn set_status_flags(&self, flags: u32) {
        self.nonblock
            .store(flags & libc::O_NONBLOCK as u32 != 0, Ordering::Relaxed);
    }

    fn readiness(&self) -> u32 {
        self.with(|d| d.readiness())
            .unwrap_or(libc::POLLNVAL as u32)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        let v = match req {
            0x541b => self.with(|d| d.first_len() as i32)?,
            0x5411 => 0,
            _ => return super::interface_ioctl(&self.net, ctx, self.domain, req, arg),
        };
        ctx.mm()?.copy_out(arg, &v.to_ne_bytes())?;
        Ok(0)
    }

    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Socket for DgramSocket {
    fn domain(&self) -> i32 {
        self.domain
    }

    fn sock_type(&self) -> i32 {
        libc::SOCK_DGRAM
    }

    fn protocol(&self) -> i32 {
        self.protocol
    }

    fn bind(&self, ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        let (ip, port, _) = addr::endpoint_of(self.domain, a)?;
        let v6only = self.with(|d| d.ip.v6only)?;
        let check_port = if self.proto == Proto::Icmp { 0 } else { port };
        super::check_bind_addr(
            &self.core().net,
            ctx,
            self.domain,
            a,
            ip,
            check_port,
            v6only,
        )?;
        self.core().lock().dg_bind(self.id, ip, port, false)
    }

    fn listen(&self, _ctx: &dyn TaskContext, _backlog: i32) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    fn accept(
        &self,
        _ctx: &dyn TaskContext,
        _flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, SockAddr)> {
        Err(Errno::EOPNOTSUPP)
    }

    fn connect(&self, _ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        if *a == SockAddr::Unspec {
            return self.core().lock().dg_connect(self.id, None);
        }
        let (ip, port, mapped) = addr::endpoint_of(self.domain, a)?;
        if mapped && self.with(|d| d.ip.v6only)? {
            return Err(Errno::ENETUNREACH);
        }
        let dst = self.core().net.route(ip)?;
        self.core().lock().dg_connect(self.id, Some((dst, port)))
    }

    fn shutdown(&self, _ctx: &dyn TaskContext, how: i32) -> SysResult<()> {
        let r = self.with(|d| {
            d.shut_rd |= how == libc::SHUT_RD || how == libc::SHUT_RDWR;
            d.shut_wr |= how == libc::SHUT_WR || how == libc::SHUT_RDWR;
            if d.peer.is_none() {
                Err(Errno::ENOTCONN)
            } else {
                Ok(())
            }
        })?;
        self.wq.notify_all();
        r
    }

    fn sockname(&self) -> SysResult<SockAddr> {
        self.with(|d| {
            let ep = d.local.unwrap_or((addr::any_of(d.domain), 0));
            addr::sockaddr(d.domain, ep)
        })
    }

    fn peername(&self) -> SysResult<SockAddr> {
        self.with(|d| d.peer.map(|p| addr::sockaddr(d.domain, p)))?
            .ok_or(Errno::ENOTCONN)
    }

    fn sendmsg(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        _control: Control,
        flags: u32,
    ) -> SysResult<usize> {
        self.send(ctx, data, to, flags)
    }

    fn recvmsg(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        let (len, msg_len, from) = self.recv(ctx, buf, flags)?;
        let trunc = if msg_len > len {
            libc::MSG_TRUNC as u32
        } else {
            0
        };
        Ok(Received {
            len,
            msg_len,
            from: Some(addr::sockaddr(self.domain, from)),
            flags: trunc,
            ..Default::default()
        })
    }

    fn setsockopt(
        &self,
        ctx: &dyn TaskContext,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> SysResult<()> {
        let admin = ctx.capable(CAP_NET_ADMIN);
        let proto = self.proto;
        self.with(|d| match level {
            libc::SOL_SOCKET => d
                .opts
                .set(name, val, admin)
                .unwrap_or(Err(Errno::ENOPROTOOPT)),
            libc::SOL_IP | libc::SOL_IPV6 => {
                let bound = d.local.is_some();
                d.ip.set(d.domain, level, name, val, false, bound)
            }
            libc::SOL_UDP if proto == Proto::Udp => {
                let v = int_of(val)?;
                match name {
                    UDP_CORK => d.cork = v != 0,
                    UDP_SEGMENT => {
                        if !(0..=65535).contains(&v) {
                            return Err(Errno::EINVAL);
                        }
                        d.segment = v;
                    }
                    UDP_GRO => d.gro = v != 0,
                    _ => return Err(Errno::ENOPROTOOPT),
                }
                Ok(())
            }
            _ => Err(Errno::ENOPROTOOPT),
        })?
    }

    fn getsockopt(&self, _ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>> {
        let proto = self.proto;
        let id = self.id;
        self.with(|d| match level {
            libc::SOL_SOCKET => {
                if let Some(r) = d.opts.get(name) {
                    return r;
                }
                match name {
                    libc::SO_ERROR => Ok(int_bytes(d.err.take().map_or(0, |e| e.0))),
                    libc::SO_ACCEPTCONN => Ok(int_bytes(0)),
                    libc::SO_PEERNAME => d
                        .peer
                        .map(|p| addr::sockaddr(d.domain, p).encode())
                        .ok_or(Errno::ENOTCONN),
                    libc::SO_PEERCRED => Ok(crate::abi::socket::Ucred {
                        pid: 0,
                        uid: 65534,
                        gid: 65534,
                    }
                    .encode()
                    .to_vec()),
                    libc::SO_COOKIE => Ok(id.to_ne_bytes().to_vec()),
                    _ => Err(Errno::ENOPROTOOPT),
                }
            }
            libc::SOL_IP | libc::SOL_IPV6 => {
                d.ip.get(d.domain, level, name, false, d.peer.is_some())
            }
            libc::SOL_UDP if proto == Proto::Udp => match name {
                UDP_CORK => Ok(int_bytes(d.cork as i32)),
                UDP_SEGMENT => Ok(int_bytes(d.segment)),
                UDP_GRO => Ok(int_bytes(d.gro as i32)),
                _ => Err(Errno::ENOPROTOOPT),
            },
            _ => Err(Errno::ENOPROTOOPT),
        })?
    }
}
