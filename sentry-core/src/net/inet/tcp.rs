//! TCP sockets: the program's side of a smoltcp connection (or of a
//! listener, which owns the connections its SYNs start until they are
//! accepted), with Linux's errors, readiness and options.

use std::any::Any;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use super::addr::{self, Endpoint};
use super::ipopts::IpOpts;
use super::ports::{Binding, Proto};
use super::stack::{Inner, Owner};
use super::{next_ino, socket_stat};
use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};
use crate::net::opts::{int_bytes, int_of, SocketOptions};
use crate::net::{Stack as NetStack, CAP_NET_ADMIN};
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// Linux's SO_SNDBUF of a new TCP socket (tcp_wmem[1]).
const TCP_SNDBUF: u32 = 16384;
/// Linux's SO_RCVBUF of a new TCP socket (tcp_rmem[1]).
const TCP_RCVBUF: u32 = 131072;
/// The smoltcp buffer each way when the program did not size it (Linux
/// grows its buffers on demand; smoltcp's are fixed).
const DEFAULT_BUF: usize = 128 << 10;
/// The largest smoltcp buffer.
const MAX_BUF: usize = 4 << 20;
/// TCP_MSS_DEFAULT (TCP_MAXSEG of an unconnected socket).
const MSS_DEFAULT: i32 = 536;

const TCP_NODELAY: i32 = 1;
const TCP_MAXSEG: i32 = 2;
const TCP_CORK: i32 = 3;
const TCP_KEEPIDLE: i32 = 4;
const TCP_KEEPINTVL: i32 = 5;
const TCP_KEEPCNT: i32 = 6;
const TCP_SYNCNT: i32 = 7;
const TCP_LINGER2: i32 = 8;
const TCP_DEFER_ACCEPT: i32 = 9;
const TCP_WINDOW_CLAMP: i32 = 10;
const TCP_INFO: i32 = 11;
const TCP_QUICKACK: i32 = 12;
const TCP_CONGESTION: i32 = 13;
const TCP_USER_TIMEOUT: i32 = 18;
const TCP_FASTOPEN: i32 = 23;
const TCP_NOTSENT_LOWAT: i32 = 25;
const TCP_FASTOPEN_CONNECT: i32 = 30;

/// TCP-level options of one socket.
#[derive(Clone, Debug)]
pub struct TcpOpts {
    nodelay: bool,
    cork: bool,
    maxseg: i32,
    keepidle: i32,
    keepintvl: i32,
    keepcnt: i32,
    syncnt: i32,
    linger2: i32,
    defer_accept: i32,
    window_clamp: i32,
    quickack: bool,
    congestion: &'static str,
    user_timeout: i32,
    fastopen: i32,
    notsent_lowat: i32,
    fastopen_connect: bool,
}

impl Default for TcpOpts {
    fn default() -> Self {
        TcpOpts {
            nodelay: false,
            cork: false,
            maxseg: 0,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            syncnt: 6,
            linger2: 60,
            defer_accept: 0,
            window_clamp: 0,
            quickack: true,
            congestion: "cubic",
            user_timeout: 0,
            fastopen: 0,
            notsent_lowat: 0,
            fastopen_connect: false,
        }
    }
}

/// Seconds → SYN-ACK retransmits (TCP_DEFER_ACCEPT), as Linux rounds.
fn secs_to_retrans(secs: i32) -> i32 {
    if secs <= 0 {
        return 0;
    }
    let (mut timeout, mut period, mut res) = (1i32, 1i32, 1i32);
    while secs > period && res < 255 {
        res += 1;
        timeout = (timeout << 1).min(120);
        period = period.saturating_add(timeout);
    }
    res
}

fn retrans_to_secs(retrans: i32) -> i32 {
    if retrans <= 0 {
        return 0;
    }
    let (mut timeout, mut period) = (1i32, 1i32);
    for _ in 1..retrans {
        timeout = (timeout << 1).min(120);
        period = period.saturating_add(timeout);
    }
    period
}

/// Where the socket is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Never connected, or no longer (refused, disconnected).
    Closed,
    /// connect(2) started.
    Connecting,
    /// Connected (the connection may since have ended).
    Connected,
    /// listen(2).
    Listening,
}

/// A TCP socket's state, in the stack.
pub struct TcpSock {
    pub domain: i32,
    pub opts: SocketOptions,
    pub tcp: TcpOpts,
    pub ip: IpOpts,
    pub wq: Arc<WaitQueue>,
    pub uid: u32,
    /// The file's inode number.
    pub ino: u64,
    /// The address and port bound (canonical address).
    pub local: Option<Endpoint>,
    /// The port was picked by connect or listen, not bind.
    autobound: bool,
    /// The program sized its buffers (SO_SNDBUF/SO_RCVBUF).
    sized: bool,
    pub handle: Option<SocketHandle>,
    pub peer: Option<Endpoint>,
    pub phase: Phase,
    /// connect(2) was called and not yet seen to finish by a second call.
    connecting: bool,
    /// The pending error (SO_ERROR).
    pub err: Option<Errno>,
    /// The connection was reset.
    reset: bool,
    shut_rd: bool,
    shut_wr: bool,
    /// Listener: most connections waiting.
    backlog: usize,
    /// Listener: connections in the handshake.
    pending: Vec<SocketHandle>,
    /// Listener: connections established, to accept.
    pub queue: VecDeque<SocketHandle>,
}

impl TcpSock {
    fn new(domain: i32, uid: u32, ino: u64) -> TcpSock {
        let mut opts = SocketOptions::new(domain, libc::SOCK_STREAM, libc::IPPROTO_TCP);
        opts.sndbuf = TCP_SNDBUF;
        opts.rcvbuf = TCP_RCVBUF;
        TcpSock {
            domain,
            opts,
            tcp: TcpOpts::default(),
            ip: IpOpts::default(),
            wq: Arc::new(WaitQueue::default()),
            uid,
            ino,
            local: None,
            autobound: false,
            sized: false,
            handle: None,
            peer: None,
            phase: Phase::Closed,
            connecting: false,
            err: None,
            reset: false,
            shut_rd: false,
            shut_wr: false,
            backlog: 0,
            pending: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// A smoltcp socket with buffers from the options.
    fn smol(&self) -> tcp::Socket<'static> {
        let (rx, tx) = if self.sized {
            (
                (self.opts.rcvbuf as usize).clamp(4096, MAX_BUF),
                (self.opts.sndbuf as usize).clamp(4096, MAX_BUF),
            )
        } else {
            (DEFAULT_BUF, DEFAULT_BUF)
        };
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; rx]),
            tcp::SocketBuffer::new(vec![0u8; tx]),
        );
        self.apply(&mut s);
        s
    }

    /// Applies the options smoltcp knows of.
    fn apply(&self, s: &mut tcp::Socket<'static>) {
        s.set_nagle_enabled(!self.tcp.nodelay && !self.tcp.cork);
        s.set_ack_delay(None);
        s.set_keep_alive(
            self.opts
                .keepalive
                .then(|| smoltcp::time::Duration::from_secs(self.tcp.keepintvl.max(1) as u64)),
        );
        s.set_timeout(
            (self.tcp.user_timeout > 0)
                .then(|| smoltcp::time::Duration::from_millis(self.tcp.user_timeout as u64)),
        );
    }
}

/// The state (Linux's numbering, for TCP_INFO and /proc/net/tcp).
pub fn linux_state(s: tcp::State) -> u8 {
    match s {
        tcp::State::Established => 1,
        tcp::State::SynSent => 2,
        tcp::State::SynReceived => 3,
        tcp::State::FinWait1 => 4,
        tcp::State::FinWait2 => 5,
        tcp::State::TimeWait => 6,
        tcp::State::Closed => 7,
        tcp::State::CloseWait => 8,
        tcp::State::LastAck => 9,
        tcp::State::Listen => 10,
        tcp::State::Closing => 11,
    }
}

/// Whether the peer has closed its side (a FIN came).
fn fin_received(s: tcp::State) -> bool {
    matches!(
        s,
        tcp::State::CloseWait | tcp::State::LastAck | tcp::State::Closing | tcp::State::TimeWait
    )
}

impl Inner {
    fn t(&mut self, id: u64) -> SysResult<&mut TcpSock> {
        self.tcp.get_mut(&id).ok_or(Errno::EBADF)
    }

    /// A connection request for listener `lid` at `dst`: a smoltcp socket
    /// listening there; None when the accept queue is full.
    pub fn new_pending(&mut self, lid: u64, dst: Endpoint) -> Option<()> {
        let l = self.tcp.get(&lid)?;
        if l.phase != Phase::Listening || l.pending.len() + l.queue.len() > l.backlog {
            return None;
        }
        let mut s = l.smol();
        s.listen(IpListenEndpoint {
            addr: Some(dst.0.into()),
            port: dst.1,
        })
        .ok()?;
        let h = self.add(s, Owner::Pending(lid));
        if let Some(l) = self.tcp.get_mut(&lid) {
            l.pending.push(h);
        }
        Some(())
    }

    /// A connection of listener `lid` moved.
    pub fn pending_changed(&mut self, lid: u64, h: SocketHandle, wake: &mut Vec<Arc<WaitQueue>>) {
        let Some(m) = self.meta.get(&h) else { return };
        let (state, est) = (m.state, m.established);
        let Some(l) = self.tcp.get_mut(&lid) else {
            return;
        };
        if let Some(i) = l.pending.iter().position(|&p| p == h) {
            if est {
                l.pending.remove(i);
                l.queue.push_back(h);
                wake.push(l.wq.clone());
            } else if state == tcp::State::Closed {
                l.pending.remove(i);
                self.remove(h);
            }
        }
    }

    /// The connection of socket `id` moved.
    pub fn conn_changed(
        &mut self,
        id: u64,
        h: SocketHandle,
        prev: tcp::State,
        abnormal: bool,
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        let Some(m) = self.meta.get(&h) else { return };
        let (state, est) = (m.state, m.established);
        let mut release = None;
        let Some(t) = self.tcp.get_mut(&id) else {
            return;
        };
        if t.handle != Some(h) {
            return;
        }
        if t.phase == Phase::Connecting && est {
            t.phase = Phase::Connected;
        }
        if abnormal {
            if !est || prev == tcp::State::SynSent {
                t.err = Some(Errno::ECONNREFUSED);
                t.phase = Phase::Closed;
                if t.autobound {
                    release = t.local.take();
                    t.autobound = false;
                }
            } else {
                t.err = Some(if prev == tcp::State::CloseWait {
                    Errno::EPIPE
                } else {
                    Errno::ECONNRESET
                });
                t.reset = true;
            }
        }
        let _ = state;
        wake.push(t.wq.clone());
        if let Some((_, port)) = release {
            self.ports.unbind(Proto::Tcp, port, id);
        }
    }

    /// A connection request of socket `id` whose next hop did not answer
    /// (or an ICMP error refused it): the connect fails with `e`, the
    /// socket is as new. Established connections ignore it (Linux keeps
    /// it as a soft error).
    pub(crate) fn tcp_unreachable(&mut self, id: u64, e: Errno, wake: &mut Vec<Arc<WaitQueue>>) {
        let Some(t) = self.tcp.get_mut(&id) else {
            return;
        };
        if t.phase != Phase::Connecting {
            return;
        }
        t.err = Some(e);
        t.phase = Phase::Closed;
        let h = t.handle.take();
        let release = if t.autobound {
            t.autobound = false;
            t.local.take()
        } else {
            None
        };
        wake.push(t.wq.clone());
        if let Some(h) = h {
            self.remove(h);
        }
        if let Some((_, port)) = release {
            self.ports.unbind(Proto::Tcp, port, id);
        }
    }

    /// Binds socket `id` (bind(2), or the implicit bind of connect and
    /// listen when `ip` is the wildcard and `port` 0).
    fn tcp_bind(&mut self, id: u64, ip: IpAddr, port: u16, auto: bool) -> SysResult<()> {
        let t = self.t(id)?;
        if t.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let mut b = Binding::new(id, ip, t.ip.v6only, t.opts.reuseaddr, t.opts.reuseport);
        b.uid = t.uid;
        let port = if port == 0 {
            match self.ports.bind_ephemeral(Proto::Tcp, b.clone()) {
                Ok(p) => p,
                Err(e) => {
                    if self.reuse_time_wait() {
                        self.ports.bind_ephemeral(Proto::Tcp, b)?
                    } else {
                        return Err(e);
                    }
                }
            }
        } else {
            self.ports.bind(Proto::Tcp, port, b)?;
            port
        };
        let t = self.t(id)?;
        t.local = Some((ip, port));
        t.autobound = auto;
        Ok(())
    }

    fn tcp_connect(&mut self, id: u64, dst: Endpoint) -> SysResult<bool> {
        let t = self.t(id)?;
        match t.phase {
            Phase::Listening => return Err(Errno::EISCONN),
            Phase::Connected => {
                if t.connecting {
                    t.connecting = false;
                    return Ok(true);
                }
                return Err(Errno::EISCONN);
            }
            Phase::Connecting => return Err(Errno::EALREADY),
            Phase::Closed => {}
        }
        if t.connecting {
            // The last non-blocking attempt failed: this call reports it.
            t.connecting = false;
            if let Some(e) = t.err.take() {
                if let Some(h) = t.handle.take() {
                    self.remove(h);
                }
                return Err(e);
            }
        }
        if t.reset || t.handle.is_some() {
            // A connection that ended: Linux lets the socket connect again
            // only after a disconnect; report it as connected-and-gone.
            if t.reset {
                return Err(Errno::EISCONN);
            }
        }
        if let Some(h) = t.handle.take() {
            self.remove(h);
        }
        let t = self.t(id)?;
        let domain = t.domain;
        if let Some((lip, _)) = t.local {
            // A socket bound to one family's address cannot reach the
            // other's.
            if !lip.is_unspecified() && lip.is_ipv4() != dst.0.is_ipv4() {
                return Err(if domain == libc::AF_INET6 {
                    Errno::ENETUNREACH
                } else {
                    Errno::EAFNOSUPPORT
                });
            }
        }
        if t.local.is_none() {
            self.tcp_bind(id, addr::any_of(domain), 0, true)?;
        }
        let t = self.t(id)?;
        let Some((lip, lport)) = t.local else {
            return Err(Errno::EINVAL);
        };
        // A loopback source cannot leave on a link (Linux's route lookup
        // refuses it).
        if addr::is_local(lip) && !self.net.is_local(dst.0) {
            return Err(Errno::EINVAL);
        }
        let t = self.t(id)?;
        let mut s = t.smol();
        let local_addr = (!lip.is_unspecified()).then(|| lip.into());
        let local_addr = local_addr.or_else(|| Some(self.net.source_for(dst.0).into()));
        let cx = self.iface.context();
        s.connect(
            cx,
            IpEndpoint::new(dst.0.into(), dst.1),
            IpListenEndpoint {
                addr: local_addr,
                port: lport,
            },
        )
        .map_err(|_| Errno::EADDRNOTAVAIL)?;
        let h = self.add(s, Owner::Conn(id));
        self.tstats().active_opens += 1;
        let t = self.t(id)?;
        t.handle = Some(h);
        t.peer = Some(dst);
        t.phase = Phase::Connecting;
        t.connecting = true;
        t.err = None;
        Ok(false)
    }

    /// Where a connect stands: Some(result) when it finished.
    fn tcp_connect_done(&mut self, id: u64) -> Option<SysResult<()>> {
        let t = self.tcp.get_mut(&id)?;
        match t.phase {
            Phase::Connected => {
                t.connecting = false;
                Some(Ok(()))
            }
            Phase::Connecting => None,
            _ => {
                t.connecting = false;
                let e = t.err.take().unwrap_or(Errno::ECONNABORTED);
                // A failed connect leaves the socket as new (Linux's
                // disconnect).
                if let Some(h) = t.handle.take() {
                    self.remove(h);
                }
                Some(Err(e))
            }
        }
    }

    fn tcp_listen(&mut self, id: u64, backlog: i32) -> SysResult<()> {
        let t = self.t(id)?;
        match t.phase {
            Phase::Listening => {
                t.backlog = backlog.max(0) as usize;
                return Ok(());
            }
            Phase::Closed if t.handle.is_none() && !t.reset => {}
            _ => return Err(Errno::EINVAL),
        }
        if t.local.is_none() {
            let any = addr::any_of(t.domain);
            self.tcp_bind(id, any, 0, true)?;
        }
        let t = self.t(id)?;
        let port = t.local.map(|l| l.1).unwrap_or(0);
        self.ports.listen(port, id)?;
        let t = self.t(id)?;
        t.phase = Phase::Listening;
        t.backlog = backlog.max(0) as usize;
        Ok(())
    }

    fn tcp_accept(&mut self, id: u64) -> Option<SysResult<(u64, Endpoint)>> {
        let t = self.tcp.get_mut(&id)?;
        if t.phase != Phase::Listening {
            return Some(Err(Errno::EINVAL));
        }
        let h = t.queue.pop_front()?;
        let mut child = TcpSock::new(t.domain, t.uid, next_ino());
        child.opts = t.opts.clone();
        child.tcp = t.tcp.clone();
        child.ip = t.ip.clone();
        child.sized = t.sized;
        child.phase = Phase::Connected;
        child.handle = Some(h);
        let (local, remote, state) = {
            let s = self.sock(h)?;
            (s.local_endpoint(), s.remote_endpoint(), s.state())
        };
        let ep = |e: Option<IpEndpoint>| e.map(|e| (IpAddr::from(e.addr), e.port));
        child.local = ep(local);
        child.peer = ep(remote);
        if state == tcp::State::Closed {
            child.reset = true;
            child.err = Some(Errno::ECONNRESET);
        }
        let peer = child.peer.unwrap_or((addr::any_of(child.domain), 0));
        let cid = self.new_id();
        self.tcp.insert(cid, child);
        if let Some(m) = self.meta.get_mut(&h) {
            m.owner = Owner::Conn(cid);
        }
        Some(Ok((cid, peer)))
    }

    /// Sends what fits of `data`: Ok(0) when the buffer is full.
    fn tcp_send(&mut self, id: u64, data: &[u8]) -> SysResult<usize> {
        let t = self.t(id)?;
        if let Some(e) = t.err.take() {
            return Err(e);
        }
        if t.shut_wr || t.reset {
            return Err(Errno::EPIPE);
        }
        match t.phase {
            Phase::Connecting => return Ok(0),
            Phase::Connected => {}
            _ => return Err(Errno::EPIPE),
        }
        let Some(h) = t.handle else {
            return Err(Errno::EPIPE);
        };
        let s = self.sock(h).ok_or(Errno::EPIPE)?;
        if !s.may_send() {
            return Err(Errno::EPIPE);
        }
        Ok(s.send_slice(data).unwrap_or(0))
    }

    /// Receives into `buf`: None when it must wait.
    fn tcp_recv(
        &mut self,
        id: u64,
        buf: &mut [u8],
        peek: bool,
        nonblock: bool,
    ) -> Option<SysResult<usize>> {
        let t = self.tcp.get_mut(&id)?;
        match t.phase {
            Phase::Listening => return Some(Err(Errno::ENOTCONN)),
            Phase::Closed if t.handle.is_none() => {
                if t.shut_rd {
                    return Some(Ok(0));
                }
                return Some(Err(Errno::ENOTCONN));
            }
            Phase::Connecting => {
                return if nonblock {
                    Some(Err(Errno::EAGAIN))
                } else {
                    None
                };
            }
            _ => {}
        }
        let shut_rd = t.shut_rd;
        let h = t.handle?;
        let s = self.sock(h)?;
        if s.recv_queue() > 0 {
            let n = if peek {
                s.peek_slice(buf).unwrap_or(0)
            } else {
                s.recv_slice(buf).unwrap_or(0)
            };
            return Some(Ok(n));
        }
        let state = s.state();
        let t = self.tcp.get_mut(&id)?;
        if let Some(e) = t.err.take() {
            return Some(Err(e));
        }
        if shut_rd || t.reset || fin_received(state) || state == tcp::State::Closed {
            return Some(Ok(0));
        }
        if nonblock {
            return Some(Err(Errno::EAGAIN));
        }
        None
    }

    fn tcp_shutdown(&mut self, id: u64, how: i32) -> SysResult<()> {
        let t = self.t(id)?;
        let rd = how == libc::SHUT_RD || how == libc::SHUT_RDWR;
        let wr = how == libc::SHUT_WR || how == libc::SHUT_RDWR;
        match t.phase {
            Phase::Listening => {
                if rd {
                    self.tcp_unlisten(id);
                    let t = self.t(id)?;
                    t.phase = Phase::Closed;
                    t.shut_rd = true;
                    t.shut_wr |= wr;
                }
                Ok(())
            }
            Phase::Closed => {
                t.shut_rd |= rd;
                t.shut_wr |= wr;
                Err(Errno::ENOTCONN)
            }
            Phase::Connecting => {
                let h = t.handle.take();
                t.phase = Phase::Closed;
                t.connecting = false;
                t.shut_rd |= rd;
                t.shut_wr |= wr;
                if let Some(h) = h {
                    if let Some(s) = self.sock(h) {
                        s.abort();
                    }
                    self.remove(h);
                }
                Ok(())
            }
            Phase::Connected => {
                t.shut_rd |= rd;
                let h = t.handle;
                let done = h
                    .and_then(|h| self.sock(h))
                    .is_none_or(|s| matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait));
                let t = self.t(id)?;
                if done {
                    t.shut_wr |= wr;
                    return Err(Errno::ENOTCONN);
                }
                if wr && !t.shut_wr {
                    t.shut_wr = true;
                    if let Some(h) = t.handle {
                        if let Some(s) = self.sock(h) {
                            s.close();
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Stops listening: the connections not accepted are reset.
    fn tcp_unlisten(&mut self, id: u64) {
        let Some(t) = self.tcp.get_mut(&id) else {
            return;
        };
        let mut hs: Vec<SocketHandle> = t.pending.drain(..).collect();
        hs.extend(t.queue.drain(..));
        let local = t.local;
        for h in hs {
            if let Some(s) = self.sock(h) {
                s.abort();
            }
            // Let the RST go before the socket goes.
            let now = self.now();
            self.iface.poll(now, &mut self.dev, &mut self.set);
            self.remove(h);
        }
        if let Some((_, port)) = local {
            if let Some(b) = self.ports.get_mut(Proto::Tcp, port, id) {
                b.listening = false;
            }
        }
    }

    /// The program closed socket `id`.
    pub fn tcp_close(&mut self, id: u64) {
        let Some(t) = self.tcp.get(&id) else { return };
        let (phase, handle, local, linger0) =
            (t.phase, t.handle, t.local, t.opts.linger == Some(0));
        if phase == Phase::Listening {
            self.tcp_unlisten(id);
        }
        self.tcp.remove(&id);
        let port = local.map(|l| l.1);
        match handle {
            Some(h) => {
                let rst = match self.sock(h) {
                    Some(s) => {
                        let rst = linger0 || s.recv_queue() > 0 || s.state() == tcp::State::SynSent;
                        if rst {
                            s.abort();
                        } else {
                            s.close();
                        }
                        rst
                    }
                    None => false,
                };
                let _ = rst;
                match port {
                    Some(p) => self.orphan(h, p, id),
                    None => self.orphan(h, 0, id),
                }
            }
            None => {
                if let Some(p) = port {
                    self.ports.unbind(Proto::Tcp, p, id);
                }
            }
        }
    }

    /// poll(2) bits of socket `id`.
    fn tcp_readiness(&mut self, id: u64) -> u32 {
        let Some(t) = self.tcp.get(&id) else {
            return libc::POLLNVAL as u32;
        };
        let mut m = 0i16;
        if t.phase == Phase::Listening {
            if !t.queue.is_empty() {
                m |= libc::POLLIN | libc::POLLRDNORM;
            }
            return m as u32;
        }
        let (phase, err, reset, shut_rd, shut_wr, handle, lowat) = (
            t.phase,
            t.err,
            t.reset,
            t.shut_rd,
            t.shut_wr,
            t.handle,
            t.opts.rcvlowat,
        );
        let (state, rq, sq, cap) = match handle.and_then(|h| self.sock(h)) {
            Some(s) => (s.state(), s.recv_queue(), s.send_queue(), s.send_capacity()),
            None => (tcp::State::Closed, 0, 0, 1),
        };
        let closed = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
        let rcv_shut = shut_rd || reset || fin_received(state) || (closed && handle.is_some());
        let snd_shut = shut_wr || reset || (closed && handle.is_some());
        if (rcv_shut && snd_shut) || closed {
            m |= libc::POLLHUP;
        }
        if rcv_shut {
            m |= libc::POLLIN | libc::POLLRDNORM | libc::POLLRDHUP;
        }
        if phase != Phase::Connecting {
            if rq > 0 && rq >= lowat.max(1) as usize {
                m |= libc::POLLIN | libc::POLLRDNORM;
            }
            if snd_shut || sq * 3 <= cap * 2 {
                m |= libc::POLLOUT | libc::POLLWRNORM;
            }
        }
        if err.is_some() {
            m |= libc::POLLERR;
        }
        m as u32
    }

    fn tcp_info(&mut self, id: u64) -> Vec<u8> {
        let mut b = vec![0u8; 232];
        let Some(t) = self.tcp.get(&id) else { return b };
        let (phase, handle) = (t.phase, t.handle);
        let state = match (phase, handle.and_then(|h| self.sock(h))) {
            (Phase::Listening, _) => 10,
            (_, Some(s)) => match s.state() {
                tcp::State::TimeWait => 7,
                st => linux_state(st),
            },
            _ => 7,
        };
        b[0] = state;
        let put = |b: &mut Vec<u8>, off: usize, v: u32| {
            if let Some(d) = b.get_mut(off..off + 4) {
                d.copy_from_slice(&v.to_ne_bytes());
            }
        };
        put(&mut b, 8, 200_000); // rto
        put(&mut b, 12, 40_000); // ato
        put(&mut b, 16, 65483); // snd_mss
        put(&mut b, 20, 536); // rcv_mss
        put(&mut b, 60, 65536); // pmtu
        put(&mut b, 68, 50); // rtt
        put(&mut b, 72, 25); // rttvar
        put(&mut b, 76, 0x7fff_ffff); // snd_ssthresh
        put(&mut b, 80, 10); // snd_cwnd
        put(&mut b, 84, 65483); // advmss
        put(&mut b, 88, 3); // reordering
        b
    }
}

/// A TCP socket as a file.
pub struct TcpSocket {
    net: Arc<NetStack>,
    id: u64,
    domain: i32,
    wq: Arc<WaitQueue>,
    nonblock: AtomicBool,
    ino: u64,
}

/// socket(AF_INET/AF_INET6, SOCK_STREAM, 0/IPPROTO_TCP).
pub fn new(net: &Arc<NetStack>, ctx: &dyn TaskContext, domain: i32, nonblock: bool) -> TcpSocket {
    let core = &net.inet.core;
    let mut g = core.lock();
    let id = g.new_id();
    let ino = next_ino();
    let t = TcpSock::new(domain, ctx.ucred().uid, ino);
    let wq = t.wq.clone();
    g.tcp.insert(id, t);
    drop(g);
    TcpSocket {
        net: net.clone(),
        id,
        domain,
        wq,
        nonblock: AtomicBool::new(nonblock),
        ino,
    }
}

impl TcpSocket {
    fn core(&self) -> &super::stack::Core {
        &self.net.inet.core
    }

    fn nonblocking(&self, flags: u32) -> bool {
        self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0
    }

    fn with<T>(&self, f: impl FnOnce(&mut TcpSock) -> T) -> SysResult<T> {
        let mut g = self.core().lock();
        g.tcp.get_mut(&self.id).map(f).ok_or(Errno::EBADF)
    }

    fn send(&self, ctx: &dyn TaskContext, data: &[u8], flags: u32) -> SysResult<usize> {
        if flags & libc::MSG_OOB as u32 != 0 {
            // Urgent data is not supported.
            return Err(Errno::EOPNOTSUPP);
        }
        let nonblock = self.nonblocking(flags);
        let deadline = self.with(|t| t.opts.deadline(true))?;
        let mut done = 0usize;
        let r = loop {
            if done >= data.len() && !(data.is_empty() && done == 0) {
                break Ok(done);
            }
            let rest = data.get(done..).unwrap_or(&[]);
            let r = block_until(ctx, &[&self.wq], deadline, Errno::EAGAIN, || {
                match self.core().run(|i, _| i.tcp_send(self.id, rest)) {
                    Ok(0) if !rest.is_empty() => nonblock.then_some(Err(Errno::EAGAIN)),
                    other => Some(other),
                }
            });
            match r {
                Ok(n) => {
                    done += n;
                    if rest.is_empty() {
                        break Ok(0);
                    }
                    if nonblock {
                        break Ok(done);
                    }
                }
                Err(_) if done > 0 => break Ok(done),
                Err(e) => break Err(e),
            }
        };
        if r == Err(Errno::EPIPE) && flags & libc::MSG_NOSIGNAL as u32 == 0 {
            ctx.signal_process(libc::SIGPIPE as u32);
        }
        r
    }

    fn recv(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<usize> {
        if flags & libc::MSG_OOB as u32 != 0 {
            return Err(Errno::EINVAL);
        }
        let nonblock = self.nonblocking(flags);
        let peek = flags & libc::MSG_PEEK as u32 != 0;
        let waitall = flags & libc::MSG_WAITALL as u32 != 0 && !peek;
        let deadline = self.with(|t| t.opts.deadline(false))?;
        let mut done = 0usize;
        loop {
            let room = buf.len() - done;
            let r = block_until(ctx, &[&self.wq], deadline, Errno::EAGAIN, || {
                let part = buf.get_mut(done..).unwrap_or(&mut []);
                self.core()
                    .run(|i, _| i.tcp_recv(self.id, part, peek, nonblock || done > 0 && !waitall))
            });
            match r {
                Ok(0) => return Ok(done),
                Ok(n) => {
                    done += n;
                    if !waitall || n >= room || done >= buf.len() {
                        return Ok(done);
                    }
                }
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        let id = self.id;
        self.core().run(|i, _| i.tcp_close(id));
    }
}

impl FileDescription for TcpSocket {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.recv(ctx, buf, 0)
    }

    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.send(ctx, buf, 0)
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
        self.core().lock().tcp_readiness(self.id)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        let v: i32 = match req {
            // FIONREAD / SIOCINQ
            0x541b => {
                let mut g = self.core().lock();
                let t = g.tcp.get(&self.id).ok_or(Errno::EBADF)?;
                if t.phase == Phase::Listening {
                    return Err(Errno::EINVAL);
                }
                match t.handle {
                    Some(h) => g.sock(h).map_or(0, |s| s.recv_queue() as i32),
                    None => 0,
                }
            }
            // TIOCOUTQ / SIOCOUTQ
            0x5411 => {
                let mut g = self.core().lock();
                let t = g.tcp.get(&self.id).ok_or(Errno::EBADF)?;
                if t.phase == Phase::Listening {
                    return Err(Errno::EINVAL);
                }
                match t.handle {
                    Some(h) => g.sock(h).map_or(0, |s| s.send_queue() as i32),
                    None => 0,
                }
            }
            // SIOCATMARK: never at an urgent mark.
            0x8905 => 0,
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

impl Socket for TcpSocket {
    fn domain(&self) -> i32 {
        self.domain
    }

    fn sock_type(&self) -> i32 {
        libc::SOCK_STREAM
    }

    fn protocol(&self) -> i32 {
        libc::IPPROTO_TCP
    }

    fn bind(&self, ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        let (ip, port, _mapped) = addr::endpoint_of(self.domain, a)?;
        let v6only = self.with(|t| t.ip.v6only)?;
        super::check_bind_addr(&self.core().net, ctx, self.domain, a, ip, port, v6only)?;
        self.core().run(|i, _| i.tcp_bind(self.id, ip, port, false))
    }

    fn listen(&self, _ctx: &dyn TaskContext, backlog: i32) -> SysResult<()> {
        self.core().run(|i, _| i.tcp_listen(self.id, backlog))
    }

    fn accept(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, SockAddr)> {
        let nonblock = self.nonblock.load(Ordering::Relaxed);
        let deadline = self.with(|t| t.opts.deadline(false))?;
        let (cid, peer) = block_until(ctx, &[&self.wq], deadline, Errno::EAGAIN, || {
            let r = self.core().run(|i, _| i.tcp_accept(self.id));
            match r {
                None if nonblock => Some(Err(Errno::EAGAIN)),
                other => other,
            }
        })?;
        let (wq, ino) = self
            .core()
            .lock()
            .tcp
            .get(&cid)
            .map(|t| (t.wq.clone(), t.ino))
            .ok_or(Errno::ECONNABORTED)?;
        let child = TcpSocket {
            net: self.net.clone(),
            id: cid,
            domain: self.domain,
            wq,
            nonblock: AtomicBool::new(flags & libc::SOCK_NONBLOCK as u32 != 0),
            ino,
        };
        Ok((Arc::new(child), addr::sockaddr(self.domain, peer)))
    }

    fn connect(&self, ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        if *a == SockAddr::Unspec {
            // Disconnect: the connection is reset and the socket is new.
            return self.core().run(|i, w| {
                let t = i.t(self.id)?;
                if t.phase == Phase::Listening {
                    return Ok(());
                }
                w.push(t.wq.clone());
                let h = t.handle.take();
                t.phase = Phase::Closed;
                t.connecting = false;
                t.reset = false;
                t.peer = None;
                if let Some(h) = h {
                    if let Some(s) = i.sock(h) {
                        s.abort();
                    }
                    let now = i.now();
                    i.iface.poll(now, &mut i.dev, &mut i.set);
                    i.remove(h);
                }
                Ok(())
            });
        }
        let (ip, port, mapped) = addr::endpoint_of(self.domain, a)?;
        if mapped && self.with(|t| t.ip.v6only)? {
            return Err(Errno::ENETUNREACH);
        }
        let dst = self.core().net.route(ip)?;
        let nonblock = self.nonblock.load(Ordering::Relaxed);
        let again = self.core().run(|i, _| i.tcp_connect(self.id, (dst, port)));
        match again {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(Errno::EALREADY) if !nonblock => {}
            Err(e) => return Err(e),
        }
        if nonblock {
            return Err(Errno::EINPROGRESS);
        }
        let deadline = self.with(|t| t.opts.deadline(true))?;
        block_until(ctx, &[&self.wq], deadline, Errno::EINPROGRESS, || {
            self.core().lock().tcp_connect_done(self.id)
        })
    }

    fn shutdown(&self, _ctx: &dyn TaskContext, how: i32) -> SysResult<()> {
        self.core().run(|i, w| {
            let r = i.tcp_shutdown(self.id, how);
            // Blocked readers, writers and accepters see the change.
            if let Some(t) = i.tcp.get(&self.id) {
                w.push(t.wq.clone());
            }
            r
        })
    }

    fn sockname(&self) -> SysResult<SockAddr> {
        let mut g = self.core().lock();
        let t = g.tcp.get(&self.id).ok_or(Errno::EBADF)?;
        let (local, handle, domain) = (t.local, t.handle, t.domain);
        // A connected socket shows the address it connected from.
        let live = handle
            .and_then(|h| g.sock(h))
            .and_then(|s| s.local_endpoint())
            .map(|e| (IpAddr::from(e.addr), e.port));
        let ep = match (local, live) {
            (Some((ip, _)), Some(l)) if ip.is_unspecified() => l,
            (Some(l), _) => l,
            (None, Some(l)) => l,
            (None, None) => (addr::any_of(domain), 0),
        };
        Ok(addr::sockaddr(domain, ep))
    }

    fn peername(&self) -> SysResult<SockAddr> {
        let mut g = self.core().lock();
        let t = g.tcp.get(&self.id).ok_or(Errno::EBADF)?;
        let (phase, handle, peer, domain, reset) = (t.phase, t.handle, t.peer, t.domain, t.reset);
        if phase != Phase::Connected || reset {
            return Err(Errno::ENOTCONN);
        }
        let closed = handle
            .and_then(|h| g.sock(h))
            .is_none_or(|s| matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait));
        if closed {
            return Err(Errno::ENOTCONN);
        }
        peer.map(|p| addr::sockaddr(domain, p))
            .ok_or(Errno::ENOTCONN)
    }

    fn sendmsg(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        _to: Option<&SockAddr>,
        _control: Control,
        flags: u32,
    ) -> SysResult<usize> {
        self.send(ctx, data, flags)
    }

    fn recvmsg(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        let n = self.recv(ctx, buf, flags)?;
        Ok(Received {
            len: n,
            msg_len: n,
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
        self.core().run(|i, _| {
            let t = i.t(self.id)?;
            match level {
                libc::SOL_SOCKET => {
                    let r = t
                        .opts
                        .set(name, val, admin)
                        .unwrap_or(Err(Errno::ENOPROTOOPT));
                    if r.is_ok()
                        && matches!(
                            name,
                            libc::SO_SNDBUF
                                | libc::SO_RCVBUF
                                | libc::SO_SNDBUFFORCE
                                | libc::SO_RCVBUFFORCE
                        )
                    {
                        t.sized = true;
                    }
                    r?;
                }
                libc::SOL_TCP => set_tcp(&mut t.tcp, t.phase, name, val)?,
                libc::SOL_IP | libc::SOL_IPV6 => {
                    let bound = t.local.is_some();
                    t.ip.set(t.domain, level, name, val, true, bound)?;
                }
                _ => return Err(Errno::ENOPROTOOPT),
            }
            let Inner {
                tcp: socks,
                set,
                meta,
                ..
            } = i;
            if let Some(t) = socks.get(&self.id) {
                if let Some(h) = t.handle.filter(|h| meta.contains_key(h)) {
                    t.apply(set.get_mut::<tcp::Socket>(h));
                }
            }
            i.touch();
            Ok(())
        })
    }

    fn getsockopt(&self, _ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>> {
        let mut g = self.core().lock();
        if level == libc::SOL_TCP && name == TCP_INFO {
            return Ok(g.tcp_info(self.id));
        }
        let t = g.tcp.get_mut(&self.id).ok_or(Errno::EBADF)?;
        match level {
            libc::SOL_SOCKET => {
                if let Some(r) = t.opts.get(name) {
                    return r;
                }
                match name {
                    libc::SO_ERROR => Ok(int_bytes(t.err.take().map_or(0, |e| e.0))),
                    libc::SO_ACCEPTCONN => Ok(int_bytes((t.phase == Phase::Listening) as i32)),
                    libc::SO_PEERNAME => {
                        if t.phase != Phase::Connected {
                            return Err(Errno::ENOTCONN);
                        }
                        t.peer
                            .map(|p| addr::sockaddr(t.domain, p).encode())
                            .ok_or(Errno::ENOTCONN)
                    }
                    libc::SO_PEERCRED => {
                        let c = crate::abi::socket::Ucred {
                            pid: 0,
                            uid: 65534,
                            gid: 65534,
                        };
                        Ok(c.encode().to_vec())
                    }
                    libc::SO_COOKIE => Ok(self.id.to_ne_bytes().to_vec()),
                    _ => Err(Errno::ENOPROTOOPT),
                }
            }
            libc::SOL_TCP => get_tcp_opt(t, name),
            libc::SOL_IP | libc::SOL_IPV6 => {
                let connected = t.phase == Phase::Connected;
                t.ip.get(t.domain, level, name, true, connected)
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

fn set_tcp(o: &mut TcpOpts, phase: Phase, name: i32, val: &[u8]) -> SysResult<()> {
    if name == TCP_CONGESTION {
        let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
        let v = val.get(..end).unwrap_or(&[]);
        o.congestion = match v {
            b"cubic" => "cubic",
            b"reno" => "reno",
            _ => return Err(Errno::ENOENT),
        };
        return Ok(());
    }
    let v = int_of(val)?;
    match name {
        TCP_NODELAY => o.nodelay = v != 0,
        TCP_CORK => o.cork = v != 0,
        TCP_MAXSEG => {
            if v != 0 && !(88..=65535).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.maxseg = v;
        }
        TCP_KEEPIDLE => {
            if !(1..=32767).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.keepidle = v;
        }
        TCP_KEEPINTVL => {
            if !(1..=32767).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.keepintvl = v;
        }
        TCP_KEEPCNT => {
            if !(1..=127).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.keepcnt = v;
        }
        TCP_SYNCNT => {
            if !(1..=127).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.syncnt = v;
        }
        TCP_LINGER2 => {
            o.linger2 = if v < 0 { -1 } else { v.min(120) };
        }
        TCP_DEFER_ACCEPT => o.defer_accept = secs_to_retrans(v),
        TCP_WINDOW_CLAMP => {
            if v != 0 && v < 2304 / 2 {
                o.window_clamp = 2304 / 2;
            } else {
                o.window_clamp = v;
            }
        }
        TCP_QUICKACK => o.quickack = v != 0,
        TCP_USER_TIMEOUT => {
            if v < 0 {
                return Err(Errno::EINVAL);
            }
            o.user_timeout = v;
        }
        TCP_FASTOPEN => {
            if v < 0 || !matches!(phase, Phase::Closed | Phase::Listening) {
                return Err(Errno::EINVAL);
            }
            o.fastopen = v;
        }
        TCP_NOTSENT_LOWAT => o.notsent_lowat = v,
        TCP_FASTOPEN_CONNECT => {
            if phase != Phase::Closed {
                return Err(Errno::EINVAL);
            }
            o.fastopen_connect = v != 0;
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// getsockopt(SOL_TCP, name).
pub fn get_tcp_opt(t: &TcpSock, name: i32) -> SysResult<Vec<u8>> {
    let o = &t.tcp;
    let v = match name {
        TCP_NODELAY => o.nodelay as i32,
        TCP_CORK => o.cork as i32,
        TCP_MAXSEG => {
            if t.phase == Phase::Connected {
                if o.maxseg > 0 {
                    o.maxseg.min(65483)
                } else {
                    65483
                }
            } else if o.maxseg > 0 {
                o.maxseg
            } else {
                MSS_DEFAULT
            }
        }
        TCP_KEEPIDLE => o.keepidle,
        TCP_KEEPINTVL => o.keepintvl,
        TCP_KEEPCNT => o.keepcnt,
        TCP_SYNCNT => o.syncnt,
        TCP_LINGER2 => o.linger2,
        TCP_DEFER_ACCEPT => retrans_to_secs(o.defer_accept),
        TCP_WINDOW_CLAMP => o.window_clamp,
        TCP_QUICKACK => o.quickack as i32,
        TCP_USER_TIMEOUT => o.user_timeout,
        TCP_FASTOPEN => o.fastopen,
        TCP_NOTSENT_LOWAT => o.notsent_lowat,
        TCP_FASTOPEN_CONNECT => o.fastopen_connect as i32,
        TCP_CONGESTION => {
            let mut v = o.congestion.as_bytes().to_vec();
            v.resize(16, 0);
            return Ok(v);
        }
        _ => return Err(Errno::ENOPROTOOPT),
    };
    Ok(int_bytes(v))
}
