//! AF_UNIX sockets: stream, datagram and seqpacket, as Linux serves them.
//!
//! A socket is a [`UnixSocket`]: one lock around its state (its name, its
//! connection, its receive queue), a wait queue notified on every change,
//! and its send-buffer charge. A writer puts its message straight into the
//! receiver's queue; the message charges the writer's buffer until it is
//! read, so a writer is bounded by its SO_SNDBUF and blocks (or gets
//! EAGAIN) past it. Connected sockets know each other only weakly: the
//! last close of a socket (its `Drop`) tells the peer, which then reads
//! EOF and gets EPIPE on writes. At most one socket lock is held at a
//! time, and nothing is dropped under a lock (a message's files can be
//! sockets whose release locks others).
//!
//! Files: `name.rs` (bind, autobind, finding the socket an address names),
//! `stream.rs` (listen, accept, connect; stream and seqpacket transfer),
//! `dgram.rs` (datagrams), `queue.rs` (receive queues and messages),
//! `gc.rs` (sockets in flight in a cycle).
//!
//! Not served: MSG_OOB (EOPNOTSUPP; Linux's CONFIG_AF_UNIX_OOB), SO_PEEK_OFF,
//! SO_PASSSEC/SO_PEERSEC, and binding a path on a gofer-backed mount (the
//! sandbox cannot make the host see a socket; EROFS). A message's cost to
//! its sender is its bytes plus a fixed overhead per message and per file
//! (Linux charges skb truesize), so SIOCOUTQ and the exact point a full
//! buffer refuses differ a little from Linux's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use super::opts::{int_bytes, SocketOptions};
use super::Stack;
use crate::abi::socket::{SockAddr, Ucred, UnixAddr};
use crate::errno::{Errno, SysResult};
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::WaitQueue;

mod dgram;
mod gc;
mod name;
mod queue;
mod stream;

use queue::{InFlight, Queue, Shared};

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// net.unix.max_dgram_qlen: datagrams a receiver queues from senders it
/// is not connected with.
const MAX_DGRAM_QLEN: usize = 10;

/// The credentials a message sent without them shows to a receiver with
/// SO_PASSCRED (no pid, the overflow ids).
const NO_CRED: Ucred = Ucred {
    pid: 0,
    uid: 65534,
    gid: 65534,
};

/// SO_PEERCRED of a socket without a peer.
const NO_PEER_CRED: Ucred = Ucred {
    pid: 0,
    uid: u32::MAX,
    gid: u32::MAX,
};

/// CAP_DAC_OVERRIDE.
const CAP_DAC_OVERRIDE: u32 = 1;

/// Abstract names: (socket type, name) to the socket bound to it.
type Names = HashMap<(i32, Vec<u8>), Weak<UnixSocket>>;

/// The unix sockets of one stack: the abstract namespace, every live
/// socket (for /proc/net/unix and the collector), and the collector's
/// state.
#[derive(Default)]
pub struct Namespace {
    /// Abstract names, per socket type (Linux hashes the type in: a name
    /// bound by a datagram socket is not found by a stream connect).
    names: Mutex<Names>,
    /// Every socket, by inode.
    all: Mutex<HashMap<u64, Weak<UnixSocket>>>,
    /// The next autobind name to try.
    next_auto: Mutex<u32>,
    /// Unix sockets carried in queued messages.
    inflight: Arc<InFlight>,
    /// Taken shared by every queue change, exclusively by the collector.
    gc_lock: RwLock<()>,
    /// A collection is running (drops during it do not start another).
    gc_running: AtomicBool,
    /// Operations since the last collection.
    gc_ops: std::sync::atomic::AtomicUsize,
}

impl Namespace {
    fn names(&self) -> MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn all(&self) -> MutexGuard<'_, HashMap<u64, Weak<UnixSocket>>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every live socket.
    fn sockets(&self) -> Vec<Arc<UnixSocket>> {
        let mut v: Vec<(u64, Arc<UnixSocket>)> = self
            .all()
            .iter()
            .filter_map(|(i, w)| w.upgrade().map(|s| (*i, s)))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// Collects the sockets in flight that no descriptor can reach any
    /// more (what the next release of a socket would do).
    pub fn collect_now(stack: &Arc<Stack>) {
        gc::maybe_collect(stack);
    }

    fn connection_oriented_ty(&self, ty: i32) -> bool {
        ty != libc::SOCK_DGRAM
    }

    /// How many unix sockets are alive (open, in flight, or queued for
    /// accept).
    pub fn live(&self) -> usize {
        self.all().values().filter(|w| w.strong_count() > 0).count()
    }

    /// /proc/net/unix, as Linux formats it.
    pub fn proc_net(&self) -> String {
        let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
        for s in self.sockets() {
            let st = s.lock();
            // Linux's count: the file's reference and the socket table's,
            // and the peer's when connected.
            let refs = 2 + u32::from(st.connected && self.connection_oriented_ty(s.ty));
            let flags = if st.listen.is_some() { 1 << 16 } else { 0 };
            let state = if st.connected { 3 } else { 1 };
            out.push_str(&format!(
                "0000000000000000: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
                refs, 0, flags, s.ty, state, s.ino
            ));
            match &st.addr {
                Some(UnixAddr::Path(p)) => {
                    out.push(' ');
                    out.push_str(&String::from_utf8_lossy(p));
                }
                Some(UnixAddr::Abstract(n)) => {
                    out.push_str(" @");
                    let shown: Vec<u8> = n.iter().map(|&b| if b == 0 { b'@' } else { b }).collect();
                    out.push_str(&String::from_utf8_lossy(&shown));
                }
                _ => {}
            }
            out.push('\n');
        }
        out
    }
}

/// A listening socket's accept queue.
struct Listen {
    /// listen(2)'s backlog: the queue holds at most one more.
    backlog: usize,
    /// Connections not yet accepted (their server ends).
    queue: VecDeque<Arc<UnixSocket>>,
    /// The credentials at listen(2) (the clients' SO_PEERCRED).
    cred: Ucred,
}

/// The state of one socket, under its lock.
struct State {
    opts: SocketOptions,
    /// The bound name.
    addr: Option<UnixAddr>,
    /// Listening.
    listen: Option<Listen>,
    /// Stream/seqpacket: the other end; datagram: the default destination.
    peer: Option<Weak<UnixSocket>>,
    /// The peer's name when connected (getpeername once it is gone).
    peer_addr: Option<UnixAddr>,
    /// Stream/seqpacket: established; datagram: has a default destination.
    connected: bool,
    /// A server end not accepted yet.
    embryo: bool,
    /// sk_shutdown.
    shutdown: u8,
    /// sk_err (SO_ERROR), taken once.
    err: Option<Errno>,
    /// Messages for this socket's reader.
    recv: Queue,
    /// SO_PEERCRED.
    peercred: Option<Ucred>,
}

/// The most a socket's messages may hold in flight, whatever SO_SNDBUF
/// (SO_SNDBUFFORCE lets a privileged program ask for gigabytes; the
/// sentry's memory is not the host kernel's).
const SNDBUF_CAP: usize = 16 << 20;

impl State {
    /// The send buffer as enforced.
    fn sndbuf(&self) -> usize {
        (self.opts.sndbuf as usize).min(SNDBUF_CAP)
    }
}

/// An AF_UNIX socket.
pub struct UnixSocket {
    me: Weak<UnixSocket>,
    stack: Arc<Stack>,
    ty: i32,
    ino: u64,
    /// The owner its inode shows (uid << 32 | gid): the creator's, the
    /// acceptor's for an accepted socket.
    owner: AtomicU64,
    nonblock: AtomicBool,
    shared: Arc<Shared>,
    st: Mutex<State>,
}

/// The packed owner of a socket's inode.
fn owner_of(c: Ucred) -> u64 {
    (u64::from(c.uid) << 32) | u64::from(c.gid)
}

/// The next socket inode number.
fn next_ino() -> u64 {
    static INO: AtomicU64 = AtomicU64::new(0x1_0000);
    INO.fetch_add(1, Ordering::Relaxed)
}

/// Checks socket(2)'s type and protocol for AF_UNIX.
fn check_type(ty: i32, protocol: i32) -> SysResult<()> {
    // SOCK_MAX: a type past the known ones is EINVAL before the family
    // looks at it.
    if !(0..=10).contains(&ty) {
        return Err(Errno::EINVAL);
    }
    if protocol != 0 && protocol != libc::PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => Ok(()),
        // SOCK_RAW is taken as SOCK_DGRAM by Linux.
        libc::SOCK_RAW => Ok(()),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

impl UnixSocket {
    /// A new, unbound, unconnected socket.
    fn create(stack: &Arc<Stack>, ctx: &dyn TaskContext, ty: i32, nonblock: bool) -> Arc<Self> {
        let ty = if ty == libc::SOCK_RAW {
            libc::SOCK_DGRAM
        } else {
            ty
        };
        let ino = next_ino();
        let s = Arc::new_cyclic(|me| UnixSocket {
            me: me.clone(),
            stack: stack.clone(),
            ty,
            ino,
            owner: AtomicU64::new(owner_of(ctx.ucred())),
            nonblock: AtomicBool::new(nonblock),
            shared: Arc::default(),
            st: Mutex::new(State {
                opts: SocketOptions::new(libc::AF_UNIX, ty, 0),
                addr: None,
                listen: None,
                peer: None,
                peer_addr: None,
                connected: false,
                embryo: false,
                shutdown: 0,
                err: None,
                recv: Queue::default(),
                peercred: None,
            }),
        });
        stack.unix.all().insert(ino, Arc::downgrade(&s));
        gc::on_operation(stack);
        s
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ns(&self) -> &Namespace {
        &self.stack.unix
    }

    fn wq(&self) -> &WaitQueue {
        &self.shared.wq
    }

    fn notify(&self) {
        self.shared.wq.notify_all();
    }

    fn arc(&self) -> SysResult<Arc<UnixSocket>> {
        self.me.upgrade().ok_or(Errno::EBADF)
    }

    fn connection_oriented(&self) -> bool {
        self.ty != libc::SOCK_DGRAM
    }

    fn nonblocking(&self, flags: u32) -> bool {
        self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0
    }

    /// Whether the sender's buffer has room for more (unix_writable).
    fn writable(&self, st: &State) -> bool {
        st.listen.is_none() && self.shared.wmem().saturating_mul(4) <= st.sndbuf()
    }

    /// The credentials a message from `ctx` carries to a receiver: the
    /// ones passed, else the sender's when either side has SO_PASSCRED.
    fn send_creds(
        ctx: &dyn TaskContext,
        passed: Option<Ucred>,
        mine: bool,
        theirs: bool,
    ) -> Option<Ucred> {
        passed.or_else(|| (mine || theirs).then(|| ctx.ucred()))
    }

    /// Raises SIGPIPE for an EPIPE unless MSG_NOSIGNAL.
    fn sigpipe(ctx: &dyn TaskContext, flags: u32) {
        if flags & libc::MSG_NOSIGNAL as u32 == 0 {
            ctx.signal_process(libc::SIGPIPE as u32);
        }
    }

    /// The peer, if connected and alive.
    fn peer(&self) -> Option<Arc<UnixSocket>> {
        self.lock().peer.as_ref().and_then(Weak::upgrade)
    }

    /// The bound name, as an address.
    fn name(&self) -> Option<UnixAddr> {
        self.lock().addr.clone()
    }
}

/// Another socket as a call that may wait holds it: weakly (a strong
/// reference would keep it open past its last close, and the wait would
/// never learn it closed), with its wait queue.
struct Remote {
    weak: Weak<UnixSocket>,
    shared: Arc<Shared>,
}

impl Remote {
    fn of(s: &Arc<UnixSocket>) -> Remote {
        Remote {
            weak: Arc::downgrade(s),
            shared: s.shared.clone(),
        }
    }

    fn wq(&self) -> &WaitQueue {
        &self.shared.wq
    }

    /// `f` on the socket if it is still open (None when closed). The
    /// reference taken is released after `f` returns, so outside the
    /// locks `f` takes.
    fn with<T>(&self, f: impl FnOnce(&UnixSocket) -> T) -> Option<T> {
        let s = self.weak.upgrade()?;
        let r = f(&s);
        drop_later(vec![s]);
        Some(r)
    }
}

/// Drops `v` (messages, files, sockets) iteratively: a socket carried in
/// a message carried in a socket... is released without deep recursion.
fn drop_later<T: Send + 'static>(v: Vec<T>) {
    thread_local! {
        static PENDING: std::cell::RefCell<Vec<Box<dyn Send>>> = const { std::cell::RefCell::new(Vec::new()) };
        static DRAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if v.is_empty() {
        return;
    }
    PENDING.with(|p| p.borrow_mut().push(Box::new(v)));
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    loop {
        let next = PENDING.with(|p| p.borrow_mut().pop());
        match next {
            Some(b) => drop(b),
            None => break,
        }
    }
    DRAINING.with(|d| d.set(false));
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let (queue, listen, peer, addr, embryo, had_data) = {
            let mut st = self.lock();
            let had_data = !st.recv.is_empty();
            st.shutdown = SHUTDOWN_MASK;
            (
                st.recv.take_all(),
                st.listen.take(),
                st.peer.take(),
                st.addr.take(),
                st.embryo,
                had_data,
            )
        };
        self.ns().all().remove(&self.ino);
        if let Some(UnixAddr::Abstract(n)) = addr {
            let key = (self.ty, n);
            let mut names = self.ns().names();
            if names.get(&key).is_some_and(|w| w.strong_count() == 0) {
                names.remove(&key);
            }
        }
        if self.connection_oriented() {
            if let Some(p) = peer.as_ref().and_then(Weak::upgrade) {
                {
                    let mut ps = p.lock();
                    ps.shutdown = SHUTDOWN_MASK;
                    if had_data || embryo {
                        ps.err = Some(Errno::ECONNRESET);
                    }
                }
                p.notify();
                drop_later(vec![p]);
            }
        }
        self.notify();
        let embryos: Vec<Arc<UnixSocket>> = listen.map(|l| l.queue.into()).unwrap_or_default();
        drop_later(embryos);
        drop_later(queue);
        gc::maybe_collect(&self.stack);
    }
}

/// socket(AF_UNIX, ty, protocol).
pub fn new_socket(
    stack: &Arc<Stack>,
    ctx: &dyn TaskContext,
    ty: i32,
    protocol: i32,
    nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    check_type(ty, protocol)?;
    Ok(UnixSocket::create(stack, ctx, ty, nonblock))
}

/// socketpair(AF_UNIX, ty, protocol).
pub fn pair(
    stack: &Arc<Stack>,
    ctx: &dyn TaskContext,
    ty: i32,
    protocol: i32,
    nonblock: bool,
) -> SysResult<(Arc<dyn FileDescription>, Arc<dyn FileDescription>)> {
    check_type(ty, protocol)?;
    let a = UnixSocket::create(stack, ctx, ty, nonblock);
    let b = UnixSocket::create(stack, ctx, ty, nonblock);
    let cred = ctx.ucred();
    for (x, y) in [(&a, &b), (&b, &a)] {
        let mut st = x.lock();
        st.peer = Some(Arc::downgrade(y));
        st.connected = true;
        st.peercred = Some(cred);
    }
    Ok((a, b))
}

impl Socket for UnixSocket {
    fn domain(&self) -> i32 {
        libc::AF_UNIX
    }

    fn sock_type(&self) -> i32 {
        self.ty
    }

    fn protocol(&self) -> i32 {
        0
    }

    fn bind(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
        name::bind(self, ctx, addr)
    }

    fn listen(&self, ctx: &dyn TaskContext, backlog: i32) -> SysResult<()> {
        stream::listen(self, ctx, backlog)
    }

    fn accept(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, SockAddr)> {
        stream::accept(self, ctx, flags)
    }

    fn connect(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
        if self.connection_oriented() {
            stream::connect(self, ctx, addr)
        } else {
            dgram::connect(self, ctx, addr)
        }
    }

    fn shutdown(&self, _ctx: &dyn TaskContext, how: i32) -> SysResult<()> {
        let mode = match how {
            libc::SHUT_RD => RCV_SHUTDOWN,
            libc::SHUT_WR => SEND_SHUTDOWN,
            libc::SHUT_RDWR => SHUTDOWN_MASK,
            _ => return Err(Errno::EINVAL),
        };
        let peer = {
            let mut st = self.lock();
            st.shutdown |= mode;
            if self.connection_oriented() {
                st.peer.as_ref().and_then(Weak::upgrade)
            } else {
                None
            }
        };
        self.notify();
        if let Some(p) = peer {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            p.lock().shutdown |= peer_mode;
            p.notify();
            drop_later(vec![p]);
        }
        Ok(())
    }

    fn sockname(&self) -> SysResult<SockAddr> {
        Ok(SockAddr::Unix(self.name().unwrap_or(UnixAddr::Unnamed)))
    }

    fn peername(&self) -> SysResult<SockAddr> {
        let (peer, cached, connected) = {
            let st = self.lock();
            (
                st.peer.as_ref().and_then(Weak::upgrade),
                st.peer_addr.clone(),
                st.connected,
            )
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        let addr = match &peer {
            Some(p) => p.name().or(cached),
            None if self.connection_oriented() => cached,
            None => return Err(Errno::ENOTCONN),
        };
        drop_later(peer.into_iter().collect());
        Ok(SockAddr::Unix(addr.unwrap_or(UnixAddr::Unnamed)))
    }

    fn sendmsg(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        control: Control,
        flags: u32,
    ) -> SysResult<usize> {
        if flags & libc::MSG_OOB as u32 != 0 && self.ty != libc::SOCK_STREAM {
            return Err(Errno::EOPNOTSUPP);
        }
        match self.ty {
            libc::SOCK_STREAM => stream::send(self, ctx, data, to, control, flags),
            _ => dgram::send(self, ctx, data, to, control, flags),
        }
    }

    fn recvmsg(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        match self.ty {
            libc::SOCK_STREAM => stream::recv(self, ctx, buf, flags),
            _ => dgram::recv(self, ctx, buf, flags),
        }
    }

    fn setsockopt(
        &self,
        ctx: &dyn TaskContext,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> SysResult<()> {
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let privileged = ctx.capable(super::CAP_NET_ADMIN);
        let r = {
            let mut st = self.lock();
            st.opts.set(name, val, privileged)
        };
        self.notify();
        r.unwrap_or(Err(Errno::ENOPROTOOPT))
    }

    fn getsockopt(&self, _ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>> {
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        if let Some(r) = st.opts.get(name) {
            return r;
        }
        match name {
            libc::SO_ERROR => Ok(int_bytes(st.err.take().map_or(0, |e| e.0))),
            libc::SO_ACCEPTCONN => Ok(int_bytes(st.listen.is_some() as i32)),
            libc::SO_PEERCRED => Ok(st.peercred.unwrap_or(NO_PEER_CRED).encode().to_vec()),
            libc::SO_COOKIE => Ok(self.ino.to_ne_bytes().to_vec()),
            libc::SO_PEERNAME => {
                drop(st);
                Ok(self.peername()?.encode())
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

impl FileDescription for UnixSocket {
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
            uid: (self.owner.load(Ordering::Relaxed) >> 32) as u32,
            gid: self.owner.load(Ordering::Relaxed) as u32,
            blksize: 4096,
            ..Default::default()
        })
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
        let st = self.lock();
        let mut m = 0i16;
        if st.err.is_some() {
            m |= libc::POLLERR;
        }
        if st.shutdown == SHUTDOWN_MASK {
            m |= libc::POLLHUP;
        }
        if st.shutdown & RCV_SHUTDOWN != 0 {
            m |= libc::POLLRDHUP | libc::POLLIN | libc::POLLRDNORM;
        }
        let readable = match &st.listen {
            Some(l) => !l.queue.is_empty(),
            None => !st.recv.is_empty(),
        };
        if readable {
            m |= libc::POLLIN | libc::POLLRDNORM;
        }
        let closed = !st.connected && st.listen.is_none();
        if self.connection_oriented() && closed {
            m |= libc::POLLHUP;
        }
        let mut writable = self.writable(&st);
        if self.ty == libc::SOCK_DGRAM && writable {
            // A datagram socket connected to a receiver that is not
            // connected back waits for room in that receiver's queue.
            if let Some(p) = st.peer.as_ref().and_then(Weak::upgrade) {
                drop(st);
                let full = {
                    let ps = p.lock();
                    let back = ps
                        .peer
                        .as_ref()
                        .is_some_and(|w| std::ptr::eq(w.as_ptr(), self as *const _));
                    !back && ps.recv.len() > MAX_DGRAM_QLEN
                };
                drop_later(vec![p]);
                writable = !full;
                if writable {
                    m |= libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
                }
                return m as u16 as u32;
            }
        }
        if writable {
            m |= libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        }
        m as u16 as u32
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(self.wq())
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        let v: i32 = match req {
            r if r == libc::FIONREAD => {
                let st = self.lock();
                if st.listen.is_some() {
                    return Err(Errno::EINVAL);
                }
                let n = if self.ty == libc::SOCK_DGRAM {
                    st.recv.front().map_or(0, |m| m.unread().len())
                } else {
                    st.recv.bytes()
                };
                n.min(i32::MAX as usize) as i32
            }
            r if r == libc::TIOCOUTQ => self.shared.wmem().min(i32::MAX as usize) as i32,
            _ => return crate::net::ioctl::device_ioctl(&self.stack, ctx, req, arg),
        };
        ctx.mm()?.copy_out(arg, &v.to_ne_bytes())?;
        Ok(0)
    }

    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
