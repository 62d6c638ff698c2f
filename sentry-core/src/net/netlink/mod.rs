//! AF_NETLINK sockets, protocol NETLINK_ROUTE only (any other protocol is
//! EPROTONOSUPPORT, as a kernel built without it). A request sent to the
//! kernel (port 0) is answered at once from the stack's interface list
//! ([`route`]); the replies wait in the socket's receive queue, bounded by
//! SO_RCVBUF (a reply that does not fit is dropped and the next receive
//! fails with ENOBUFS, as Linux's overrun). Sockets of one stack can also
//! send each other datagrams by port id. Multicast groups can be joined but
//! nothing is ever announced: the interfaces do not change.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::opts::{int_bytes, SocketOptions};
use super::{Stack, CAP_NET_ADMIN};
use crate::abi::socket::{SockAddr, Ucred};
use crate::errno::{Errno, SysResult};
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

pub mod route;

/// NETLINK_ROUTE.
pub const NETLINK_ROUTE: i32 = 0;
/// MAX_LINKS: protocols are 0..32.
const MAX_LINKS: i32 = 32;
/// SOL_NETLINK.
pub const SOL_NETLINK: i32 = 270;
/// Multicast groups NETLINK_ROUTE has (RTNLGRP_MAX).
const ROUTE_GROUPS: u32 = 37;

const NETLINK_ADD_MEMBERSHIP: i32 = 1;
const NETLINK_DROP_MEMBERSHIP: i32 = 2;
const NETLINK_PKTINFO: i32 = 3;
const NETLINK_BROADCAST_ERROR: i32 = 4;
const NETLINK_NO_ENOBUFS: i32 = 5;
const NETLINK_LISTEN_ALL_NSID: i32 = 8;
const NETLINK_LIST_MEMBERSHIPS: i32 = 9;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;
const NETLINK_GET_STRICT_CHK: i32 = 12;

/// The boolean SOL_NETLINK options, as bits of `State::nl_flags`.
fn flag_bit(name: i32) -> Option<u32> {
    match name {
        NETLINK_PKTINFO
        | NETLINK_BROADCAST_ERROR
        | NETLINK_NO_ENOBUFS
        | NETLINK_LISTEN_ALL_NSID
        | NETLINK_CAP_ACK
        | NETLINK_EXT_ACK
        | NETLINK_GET_STRICT_CHK => Some(1 << name),
        _ => None,
    }
}

/// Bound port ids of the netlink sockets of each stack. Kept here rather
/// than in [`Stack`] so the family stays in its own files; entries of a
/// stack that is gone are dropped when the next one registers.
type PortTable = HashMap<u32, Weak<NetlinkSocket>>;
static PORTS: Mutex<Vec<(Weak<Stack>, PortTable)>> = Mutex::new(Vec::new());

fn ports() -> MutexGuard<'static, Vec<(Weak<Stack>, PortTable)>> {
    PORTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The port table of `stack` in `all` (created if missing).
fn table_of<'a>(
    all: &'a mut Vec<(Weak<Stack>, PortTable)>,
    stack: &Arc<Stack>,
) -> &'a mut PortTable {
    all.retain(|(s, _)| s.strong_count() > 0);
    let i = match all
        .iter()
        .position(|(s, _)| std::ptr::eq(s.as_ptr(), Arc::as_ptr(stack)))
    {
        Some(i) => i,
        None => {
            all.push((Arc::downgrade(stack), HashMap::new()));
            all.len() - 1
        }
    };
    &mut all[i].1
}

/// The socket bound to `port` in `stack`.
fn lookup(stack: &Arc<Stack>, port: u32) -> Option<Arc<NetlinkSocket>> {
    let mut all = ports();
    table_of(&mut all, stack).get(&port).and_then(Weak::upgrade)
}

/// One datagram waiting to be received.
struct Datagram {
    data: Vec<u8>,
    /// The sender's port id (0: the kernel).
    from: u32,
    /// The sender's credentials (the kernel's are all zero), for
    /// SO_PASSCRED.
    creds: Ucred,
}

struct State {
    /// The port id (valid when `bound`).
    port: u32,
    bound: bool,
    /// Joined multicast groups (bit n-1 for group n).
    groups: u64,
    /// connect(2)'s destination.
    dst_port: u32,
    dst_group: u32,
    queue: VecDeque<Datagram>,
    /// Bytes in `queue`.
    queued: usize,
    /// A pending error (ENOBUFS after an overrun), reported once.
    error: Option<Errno>,
    opts: SocketOptions,
    nl_flags: u32,
}

/// A netlink socket.
pub struct NetlinkSocket {
    me: Weak<NetlinkSocket>,
    stack: Arc<Stack>,
    ty: i32,
    protocol: i32,
    nonblock: AtomicBool,
    ino: u64,
    cookie: u64,
    state: Mutex<State>,
    wq: WaitQueue,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);
/// Linux's rover for port ids once the process id is taken.
static ROVER: Mutex<i32> = Mutex::new(-4096);

/// socket(AF_NETLINK, ty, protocol).
pub fn new_socket(
    stack: &Arc<Stack>,
    _ctx: &dyn TaskContext,
    ty: i32,
    protocol: i32,
    nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    Ok(NetlinkSocket::new(stack, ty, protocol, nonblock)?)
}

impl NetlinkSocket {
    /// A new unbound socket; the errors socket(2) gives for the type and
    /// protocol, in Linux's order.
    pub fn new(
        stack: &Arc<Stack>,
        ty: i32,
        protocol: i32,
        nonblock: bool,
    ) -> SysResult<Arc<NetlinkSocket>> {
        if ty != libc::SOCK_RAW && ty != libc::SOCK_DGRAM {
            return Err(Errno::ESOCKTNOSUPPORT);
        }
        if !(0..MAX_LINKS).contains(&protocol) || protocol != NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new_cyclic(|me| NetlinkSocket {
            me: me.clone(),
            stack: stack.clone(),
            ty,
            protocol,
            nonblock: nonblock.into(),
            ino,
            cookie: ino | 0x4e4c_0000_0000_0000,
            state: Mutex::new(State {
                port: 0,
                bound: false,
                groups: 0,
                dst_port: 0,
                dst_group: 0,
                queue: VecDeque::new(),
                queued: 0,
                error: None,
                opts: SocketOptions::new(libc::AF_NETLINK, ty, protocol),
                nl_flags: 0,
            }),
            wq: WaitQueue::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Binds to `port` (0: the caller's pid first, then Linux's negative
    /// rover). Called without the state lock held.
    fn bind_port(&self, ctx: &dyn TaskContext, port: u32) -> SysResult<u32> {
        let mut all = ports();
        let table = table_of(&mut all, &self.stack);
        table.retain(|_, w| w.strong_count() > 0);
        let mut st = self.lock();
        if st.bound {
            return if port == 0 || port == st.port {
                Ok(st.port)
            } else {
                Err(Errno::EINVAL)
            };
        }
        let chosen = if port != 0 {
            if table.contains_key(&port) {
                return Err(Errno::EADDRINUSE);
            }
            port
        } else {
            let mut p = ctx.ucred().pid as u32;
            let mut rover = ROVER.lock().unwrap_or_else(|p| p.into_inner());
            let mut tries = 0u32;
            while p == 0 || table.contains_key(&p) {
                p = *rover as u32;
                *rover = rover.wrapping_sub(1);
                if *rover > -4096 {
                    *rover = -4096;
                }
                tries += 1;
                if tries > 1 << 20 {
                    return Err(Errno::EADDRINUSE);
                }
            }
            p
        };
        table.insert(chosen, self.me.clone());
        st.port = chosen;
        st.bound = true;
        Ok(chosen)
    }

    /// The port id, binding first if the socket is not bound yet.
    fn autobind(&self, ctx: &dyn TaskContext) -> SysResult<u32> {
        {
            let st = self.lock();
            if st.bound {
                return Ok(st.port);
            }
        }
        self.bind_port(ctx, 0)
    }

    /// Queues `d` if the receive buffer has room: Linux admits a datagram
    /// while the queue is below SO_RCVBUF.
    fn deliver(&self, d: Datagram) -> bool {
        let mut st = self.lock();
        if st.queued >= st.opts.rcvbuf as usize {
            if st.nl_flags & (1 << NETLINK_NO_ENOBUFS) == 0 {
                st.error = Some(Errno::ENOBUFS);
            }
            drop(st);
            self.wq.notify_all();
            return false;
        }
        st.queued += d.data.len();
        st.queue.push_back(d);
        drop(st);
        self.wq.notify_all();
        true
    }

    /// The kernel's side: every message in `data`, as netlink_rcv_skb.
    fn kernel_receive(&self, ctx: &dyn TaskContext, port: u32, data: &[u8]) {
        let ifaces = self.stack.interfaces();
        let view = self.stack.inet.view();
        let net_admin = ctx.capable(CAP_NET_ADMIN);
        let cap_ack = self.lock().nl_flags & (1 << NETLINK_CAP_ACK) != 0;
        let mut at = 0usize;
        while data.len() - at >= route::NLMSG_HDRLEN {
            let rest = &data[at..];
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len < route::NLMSG_HDRLEN || len > rest.len() {
                return;
            }
            let msg = &rest[..len];
            let ty = u16::from_ne_bytes([msg[4], msg[5]]);
            let flags = u16::from_ne_bytes([msg[6], msg[7]]);
            let (datagrams, err) =
                if flags & route::NLM_F_REQUEST == 0 || ty < route::NLMSG_MIN_TYPE {
                    (Vec::new(), Some(0))
                } else {
                    route::handle_with(&ifaces, &view, msg, port, net_admin, ctx.uid().0)
                };
            for d in datagrams {
                self.deliver(Datagram {
                    data: d,
                    from: 0,
                    creds: Ucred::default(),
                });
            }
            if let Some(e) = err {
                if e != 0 || flags & route::NLM_F_ACK != 0 {
                    let ack = route::error_msg(msg, e, port, cap_ack);
                    self.deliver(Datagram {
                        data: ack,
                        from: 0,
                        creds: Ucred::default(),
                    });
                }
            }
            at += (len + 3) & !3;
            if at > data.len() {
                return;
            }
        }
    }
}

impl Drop for NetlinkSocket {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if !st.bound {
            return;
        }
        let port = st.port;
        let me = self as *const NetlinkSocket;
        let mut all = ports();
        let table = table_of(&mut all, &self.stack);
        if table
            .get(&port)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), me))
        {
            table.remove(&port);
        }
    }
}

fn netlink_addr(a: &SockAddr) -> SysResult<(u32, u32)> {
    match a {
        SockAddr::Netlink { pid, groups } => Ok((*pid, *groups)),
        _ => Err(Errno::EINVAL),
    }
}

impl Socket for NetlinkSocket {
    fn domain(&self) -> i32 {
        libc::AF_NETLINK
    }
    fn sock_type(&self) -> i32 {
        self.ty
    }
    fn protocol(&self) -> i32 {
        self.protocol
    }

    fn bind(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
        let (pid, groups) = netlink_addr(addr)?;
        self.bind_port(ctx, pid)?;
        // Joining groups by bind replaces the first 32 groups.
        let mut st = self.lock();
        st.groups = (st.groups & !u64::from(u32::MAX)) | u64::from(groups);
        Ok(())
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

    fn connect(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
        if *addr == SockAddr::Unspec {
            let mut st = self.lock();
            st.dst_port = 0;
            st.dst_group = 0;
            return Ok(());
        }
        let (pid, groups) = netlink_addr(addr)?;
        if groups != 0 && !ctx.capable(CAP_NET_ADMIN) {
            return Err(Errno::EPERM);
        }
        self.autobind(ctx)?;
        let mut st = self.lock();
        st.dst_port = pid;
        st.dst_group = groups;
        Ok(())
    }

    fn shutdown(&self, _ctx: &dyn TaskContext, _how: i32) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    fn sockname(&self) -> SysResult<SockAddr> {
        let st = self.lock();
        Ok(SockAddr::Netlink {
            pid: if st.bound { st.port } else { 0 },
            groups: st.groups as u32,
        })
    }

    fn peername(&self) -> SysResult<SockAddr> {
        let st = self.lock();
        Ok(SockAddr::Netlink {
            pid: st.dst_port,
            groups: st.dst_group,
        })
    }

    fn sendmsg(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        _control: Control,
        flags: u32,
    ) -> SysResult<usize> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let (dst_port, dst_group) = match to {
            Some(a) => netlink_addr(a)?,
            None => {
                let st = self.lock();
                (st.dst_port, st.dst_group)
            }
        };
        if dst_group != 0 && !ctx.capable(CAP_NET_ADMIN) {
            return Err(Errno::EPERM);
        }
        let port = self.autobind(ctx)?;
        let (sndbuf, deadline) = {
            let st = self.lock();
            (st.opts.sndbuf as usize, st.opts.deadline(true))
        };
        if data.len() > sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        if dst_port == 0 {
            if dst_group == 0 {
                self.kernel_receive(ctx, port, data);
            }
            // Multicast to user sockets: nobody listens for route events
            // the sandbox never sends; the datagram goes nowhere.
            return Ok(data.len());
        }
        let peer = lookup(&self.stack, dst_port).ok_or(Errno::ECONNREFUSED)?;
        let nonblock =
            self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0;
        let data = data.to_vec();
        let creds = ctx.ucred();
        block_until(ctx, &[&peer.wq], deadline, Errno::EAGAIN, || {
            let mut st = peer.lock();
            if st.queued < st.opts.rcvbuf as usize {
                st.queued += data.len();
                st.queue.push_back(Datagram {
                    data: data.clone(),
                    from: port,
                    creds,
                });
                return Some(Ok(()));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })?;
        peer.wq.notify_all();
        Ok(data.len())
    }

    fn recvmsg(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let peek = flags & libc::MSG_PEEK as u32 != 0;
        let nonblock =
            self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0;
        let deadline = self.lock().opts.deadline(false);
        let r = block_until(ctx, &[&self.wq], deadline, Errno::EAGAIN, || {
            let mut st = self.lock();
            if let Some(e) = st.error.take() {
                return Some(Err(e));
            }
            let Some(d) = st.queue.front() else {
                return nonblock.then_some(Err(Errno::EAGAIN));
            };
            let n = d.data.len().min(buf.len());
            buf[..n].copy_from_slice(&d.data[..n]);
            let r = Received {
                len: n,
                msg_len: d.data.len(),
                from: Some(SockAddr::Netlink {
                    pid: d.from,
                    groups: 0,
                }),
                control: Control {
                    rights: Vec::new(),
                    creds: st.opts.passcred.then_some(d.creds),
                },
                flags: if n < d.data.len() {
                    libc::MSG_TRUNC as u32
                } else {
                    0
                },
            };
            if !peek {
                st.queued -= d.data.len();
                st.queue.pop_front();
            }
            Some(Ok(r))
        })?;
        if !peek {
            // Room for senders blocked on this queue.
            self.wq.notify_all();
        }
        Ok(r)
    }

    fn setsockopt(
        &self,
        ctx: &dyn TaskContext,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> SysResult<()> {
        match level {
            libc::SOL_SOCKET => {
                let admin = ctx.capable(CAP_NET_ADMIN);
                let r = self.lock().opts.set(name, val, admin);
                // Buffer space may have grown.
                self.wq.notify_all();
                r.unwrap_or(Err(Errno::ENOPROTOOPT))
            }
            SOL_NETLINK => {
                // Linux reads an int when there are four bytes, else 0.
                let v = match val.get(..4) {
                    Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    None => 0,
                };
                match name {
                    NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
                        if v == 0 || v > ROUTE_GROUPS {
                            return Err(Errno::EINVAL);
                        }
                        self.autobind(ctx)?;
                        let mut st = self.lock();
                        if name == NETLINK_ADD_MEMBERSHIP {
                            st.groups |= 1 << (v - 1);
                        } else {
                            st.groups &= !(1 << (v - 1));
                        }
                        Ok(())
                    }
                    _ => {
                        let bit = flag_bit(name).ok_or(Errno::ENOPROTOOPT)?;
                        let mut st = self.lock();
                        if v != 0 {
                            st.nl_flags |= bit;
                        } else {
                            st.nl_flags &= !bit;
                        }
                        Ok(())
                    }
                }
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn getsockopt(&self, _ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>> {
        let mut st = self.lock();
        match level {
            libc::SOL_SOCKET => match st.opts.get(name) {
                Some(r) => r,
                None => match name {
                    libc::SO_ERROR => Ok(int_bytes(st.error.take().map_or(0, |e| e.0))),
                    libc::SO_ACCEPTCONN => Ok(int_bytes(0)),
                    libc::SO_PEERCRED => {
                        // No peer credentials: pid 0, uid and gid -1.
                        let mut v = 0i32.to_ne_bytes().to_vec();
                        v.extend_from_slice(&u32::MAX.to_ne_bytes());
                        v.extend_from_slice(&u32::MAX.to_ne_bytes());
                        Ok(v)
                    }
                    libc::SO_PEERNAME => Ok(SockAddr::Netlink {
                        pid: st.dst_port,
                        groups: st.dst_group,
                    }
                    .encode()),
                    libc::SO_COOKIE => Ok(self.cookie.to_ne_bytes().to_vec()),
                    _ => Err(Errno::ENOPROTOOPT),
                },
            },
            SOL_NETLINK => match name {
                NETLINK_LIST_MEMBERSHIPS => {
                    // ngroups bits, in u32 words.
                    let words = ROUTE_GROUPS.div_ceil(32) as usize;
                    let mut v = Vec::with_capacity(words * 4);
                    for w in 0..words {
                        v.extend_from_slice(&((st.groups >> (32 * w)) as u32).to_ne_bytes());
                    }
                    Ok(v)
                }
                _ => {
                    let bit = flag_bit(name).ok_or(Errno::ENOPROTOOPT)?;
                    Ok(int_bytes((st.nl_flags & bit != 0) as i32))
                }
            },
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

impl FileDescription for NetlinkSocket {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.recvmsg(ctx, buf, 0).map(|r| r.len)
    }

    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.sendmsg(ctx, buf, None, Control::default(), 0)
    }

    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            dev: 0x8,
            ino: self.ino,
            nlink: 1,
            mode: libc::S_IFSOCK | 0o777,
            blksize: 4096,
            ..Default::default()
        })
    }

    fn status_flags(&self) -> u32 {
        let nb = self.nonblock.load(Ordering::Relaxed);
        (libc::O_RDWR | if nb { libc::O_NONBLOCK } else { 0 }) as u32
    }

    fn set_status_flags(&self, flags: u32) {
        self.nonblock
            .store(flags & libc::O_NONBLOCK as u32 != 0, Ordering::Relaxed);
    }

    fn readiness(&self) -> u32 {
        let st = self.lock();
        let mut r = (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) as u32;
        if !st.queue.is_empty() {
            r |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if st.error.is_some() {
            r |= libc::POLLERR as u32;
        }
        r
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        // Netlink has no ioctls of its own: the device ones every socket
        // answers, ENOTTY for the rest.
        super::ioctl::device_ioctl(&self.stack, ctx, req, arg)
    }

    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::{Detached, Vfs};

    fn stack() -> Arc<Stack> {
        Stack::new(Arc::new(Vfs::new(crate::fsimpl::tmpfs::TmpFs::new(
            0o755, 1,
        ))))
    }

    fn getlink_dump() -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&32u32.to_ne_bytes());
        m.extend_from_slice(&route::RTM_GETLINK.to_ne_bytes());
        m.extend_from_slice(&0x301u16.to_ne_bytes());
        m.extend_from_slice(&9u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[0u8; 16]);
        m
    }

    #[test]
    fn types_and_protocols_as_linux() {
        let s = stack();
        assert!(matches!(
            NetlinkSocket::new(&s, libc::SOCK_STREAM, 0, false),
            Err(Errno::ESOCKTNOSUPPORT)
        ));
        assert!(matches!(
            NetlinkSocket::new(&s, libc::SOCK_RAW, 15, false),
            Err(Errno::EPROTONOSUPPORT)
        ));
        assert!(NetlinkSocket::new(&s, libc::SOCK_DGRAM, 0, false).is_ok());
    }

    #[test]
    fn dump_peek_truncate_and_ports() {
        let s = stack();
        let a = NetlinkSocket::new(&s, libc::SOCK_RAW, 0, true).unwrap();
        let b = NetlinkSocket::new(&s, libc::SOCK_RAW, 0, true).unwrap();
        assert_eq!(
            a.sockname().unwrap(),
            SockAddr::Netlink { pid: 0, groups: 0 }
        );
        let req = getlink_dump();
        assert_eq!(
            a.sendmsg(&Detached, &req, None, Control::default(), 0),
            Ok(32)
        );
        let SockAddr::Netlink { pid: pa, .. } = a.sockname().unwrap() else {
            panic!()
        };
        assert_ne!(pa, 0);
        // A second autobound socket gets another port.
        b.bind(&Detached, &SockAddr::Netlink { pid: 0, groups: 0 })
            .unwrap();
        assert_ne!(b.sockname().unwrap(), a.sockname().unwrap());
        assert_eq!(
            b.bind(&Detached, &SockAddr::Netlink { pid: 77, groups: 0 }),
            Err(Errno::EINVAL)
        );
        assert_ne!(a.readiness() & libc::POLLIN as u32, 0);
        // Peek with no room: the whole length, nothing consumed.
        let r = a
            .recvmsg(
                &Detached,
                &mut [],
                (libc::MSG_PEEK | libc::MSG_TRUNC) as u32,
            )
            .unwrap();
        assert!(r.msg_len > 100);
        let mut small = [0u8; 16];
        let r = a.recvmsg(&Detached, &mut small, 0).unwrap();
        assert_eq!((r.len, r.flags), (16, libc::MSG_TRUNC as u32));
        let mut buf = [0u8; 64];
        let r = a.recvmsg(&Detached, &mut buf, 0).unwrap();
        assert_eq!(u16::from_ne_bytes([buf[4], buf[5]]), route::NLMSG_DONE);
        assert_eq!(r.from, Some(SockAddr::Netlink { pid: 0, groups: 0 }));
        assert_eq!(a.recvmsg(&Detached, &mut buf, 0).err(), Some(Errno::EAGAIN));
        // User to user.
        let to = a.sockname().unwrap();
        assert_eq!(
            b.sendmsg(&Detached, b"hi", Some(&to), Control::default(), 0),
            Ok(2)
        );
        let r = a.recvmsg(&Detached, &mut buf, 0).unwrap();
        assert_eq!(&buf[..r.len], b"hi");
        // Dropping frees the port.
        drop(a);
        assert_eq!(
            b.sendmsg(&Detached, b"x", Some(&to), Control::default(), 0),
            Err(Errno::ECONNREFUSED)
        );
    }

    #[test]
    fn receive_queue_is_bounded() {
        let s = stack();
        let a = NetlinkSocket::new(&s, libc::SOCK_RAW, 0, true).unwrap();
        a.setsockopt(
            &Detached,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &0i32.to_ne_bytes(),
        )
        .unwrap();
        let req = getlink_dump();
        for _ in 0..100 {
            a.sendmsg(&Detached, &req, None, Control::default(), 0)
                .unwrap();
        }
        assert!(a.lock().queued < 8192);
        let mut buf = vec![0u8; 8192];
        // The overrun is reported first, then what was kept.
        assert_eq!(
            a.recvmsg(&Detached, &mut buf, 0).err(),
            Some(Errno::ENOBUFS)
        );
        assert!(a.recvmsg(&Detached, &mut buf, 0).is_ok());
    }
}
