//! A host socket as the sandbox's file. The host descriptor is always
//! O_NONBLOCK; the program's O_NONBLOCK, MSG_DONTWAIT and SO_RCVTIMEO/
//! SO_SNDTIMEO are kept here, and a call that would block waits on the
//! socket's [`WaitQueue`] (notified by the [`super::poller`]) with the
//! task's signals and deadline, then tries the host again.

use std::any::Any;
use std::cell::Cell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::poller::{self, Poller};
use super::sys;
use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};
use crate::net::inet::{next_ino, socket_stat};
use crate::net::opts::SocketOptions;
use crate::net::{Stack as NetStack, CAP_NET_BIND_SERVICE};
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// The recv flags passed to the host (MSG_WAITALL and MSG_DONTWAIT are
/// the sentry's).
const RECV_FLAGS: u32 = (libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_OOB) as u32;
/// The send flags passed to the host (MSG_DONTWAIT and MSG_NOSIGNAL are
/// the sentry's; the host call always has both).
const SEND_FLAGS: u32 =
    (libc::MSG_OOB | libc::MSG_DONTROUTE | libc::MSG_EOR | libc::MSG_MORE | libc::MSG_CONFIRM)
        as u32;

/// A host socket.
pub struct HostSocket {
    net: Arc<NetStack>,
    fd: OwnedFd,
    poller: Arc<Poller>,
    key: u64,
    domain: i32,
    ty: i32,
    protocol: i32,
    wq: Arc<WaitQueue>,
    nonblock: AtomicBool,
    /// SO_RCVTIMEO and SO_SNDTIMEO (the other fields are unused: those
    /// options are the host's).
    timeouts: Mutex<SocketOptions>,
    ino: u64,
}

impl HostSocket {
    /// A new host socket (`protocol` resolved: IPPROTO_TCP, _UDP, _ICMP
    /// or _ICMPV6).
    pub fn new(
        net: &Arc<NetStack>,
        domain: i32,
        ty: i32,
        protocol: i32,
        nonblock: bool,
    ) -> SysResult<HostSocket> {
        let fd = sys::socket(domain, ty, protocol)?;
        HostSocket::of_fd(
            net,
            fd,
            domain,
            ty,
            protocol,
            nonblock,
            SocketOptions::new(domain, ty, protocol),
        )
    }

    fn of_fd(
        net: &Arc<NetStack>,
        fd: OwnedFd,
        domain: i32,
        ty: i32,
        protocol: i32,
        nonblock: bool,
        timeouts: SocketOptions,
    ) -> SysResult<HostSocket> {
        let poller = poller::get()?;
        let wq = Arc::new(WaitQueue::default());
        let key = poller.add(fd.as_raw_fd(), &wq)?;
        Ok(HostSocket {
            net: net.clone(),
            fd,
            poller,
            key,
            domain,
            ty,
            protocol,
            wq,
            nonblock: AtomicBool::new(nonblock),
            timeouts: Mutex::new(timeouts),
            ino: next_ino(),
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn stream(&self) -> bool {
        self.ty == libc::SOCK_STREAM
    }

    fn opts(&self) -> std::sync::MutexGuard<'_, SocketOptions> {
        self.timeouts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deadline(&self, send: bool) -> Option<Instant> {
        self.opts().deadline(send)
    }

    fn nonblocking(&self, flags: u32) -> bool {
        self.nonblock.load(Ordering::Relaxed) || flags & libc::MSG_DONTWAIT as u32 != 0
    }

    /// Runs `op` until it stops answering EAGAIN: at once when
    /// `nonblock`, else waiting for the socket's events until `deadline`
    /// (then `timeout_err`) or a signal. A wait with a deadline is
    /// interrupted with EINTR, one without with ERESTARTSYS, as Linux.
    fn wait<T>(
        &self,
        ctx: &dyn TaskContext,
        nonblock: bool,
        deadline: Option<Instant>,
        timeout_err: Errno,
        mut op: impl FnMut() -> Option<SysResult<T>>,
    ) -> SysResult<T> {
        if nonblock {
            return op().unwrap_or(Err(Errno::EAGAIN));
        }
        let r = block_until(ctx, &[&self.wq], deadline, timeout_err, op);
        match r {
            Err(Errno::ERESTARTSYS) if deadline.is_some() => Err(Errno::EINTR),
            r => r,
        }
    }

    fn recv(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        let nonblock = self.nonblocking(flags);
        let hflags = (flags & RECV_FLAGS) as i32;
        let deadline = self.deadline(false);
        let fd = self.raw();
        if !self.stream() {
            // The datagram's whole length comes back with MSG_TRUNC.
            let r = self.wait(ctx, nonblock, deadline, Errno::EAGAIN, || {
                match sys::recv(fd, buf, hflags | libc::MSG_TRUNC) {
                    Err(Errno::EAGAIN) => None,
                    r => Some(r),
                }
            })?;
            return Ok(Received {
                len: r.ret.min(buf.len()),
                msg_len: r.ret,
                from: r.from,
                flags: r.flags & (libc::MSG_TRUNC | libc::MSG_EOR | libc::MSG_OOB) as u32,
                ..Default::default()
            });
        }
        let waitall = flags & libc::MSG_WAITALL as u32 != 0
            && flags & libc::MSG_TRUNC as u32 == 0
            && !nonblock;
        let peek = flags & libc::MSG_PEEK as u32 != 0;
        let want = buf.len();
        let got = Cell::new(0usize);
        // A call that returns None must have seen EAGAIN (or, peeking,
        // the whole queue): the poller's events are edges, and one already
        // consumed does not come again.
        let r = self.wait(ctx, nonblock, deadline, Errno::EAGAIN, || loop {
            let at = if peek { 0 } else { got.get() };
            match sys::recv(fd, &mut buf[at..], hflags) {
                Ok(r) if r.ret == 0 => return Some(Ok(())),
                Ok(r) => {
                    got.set(if peek { r.ret } else { at + r.ret });
                    if !waitall || got.get() >= want {
                        return Some(Ok(()));
                    }
                    if peek {
                        // MSG_WAITALL: more, unless the peer finished.
                        let hup = (libc::POLLRDHUP | libc::POLLHUP) as u32;
                        if sys::readiness(fd) & hup != 0 {
                            return Some(Ok(()));
                        }
                        return None;
                    }
                }
                Err(Errno::EAGAIN) => return None,
                Err(e) => return Some(Err(e)),
            }
        });
        let n = got.get();
        match r {
            Ok(()) => {}
            Err(_) if n > 0 => {}
            Err(e) => return Err(e),
        }
        Ok(Received {
            len: n.min(want),
            msg_len: n,
            ..Default::default()
        })
    }

    fn send(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        flags: u32,
    ) -> SysResult<usize> {
        let nonblock = self.nonblocking(flags);
        let hflags = (flags & SEND_FLAGS) as i32;
        let deadline = self.deadline(true);
        let fd = self.raw();
        let done = Cell::new(0usize);
        let stream = self.stream();
        let r = self.wait(ctx, nonblock, deadline, Errno::EAGAIN, || loop {
            match sys::send(fd, &data[done.get()..], to, hflags) {
                Ok(n) => {
                    done.set(done.get() + n);
                    if !stream || nonblock || done.get() >= data.len() {
                        return Some(Ok(()));
                    }
                    // Try again until the host says EAGAIN.
                }
                Err(Errno::EAGAIN) if done.get() > 0 && nonblock => return Some(Ok(())),
                Err(Errno::EAGAIN) => return None,
                Err(e) => return Some(Err(e)),
            }
        });
        let n = done.get();
        match r {
            Ok(()) => Ok(n),
            Err(_) if n > 0 => Ok(n),
            Err(e) => {
                if e == Errno::EPIPE && flags & libc::MSG_NOSIGNAL as u32 == 0 {
                    ctx.signal_process(libc::SIGPIPE as u32);
                }
                Err(e)
            }
        }
    }

    /// Waits for a connect in progress to end: its SO_ERROR.
    fn finish_connect(&self, ctx: &dyn TaskContext) -> SysResult<()> {
        let fd = self.raw();
        let deadline = self.deadline(true);
        self.wait(ctx, false, deadline, Errno::EINPROGRESS, || {
            let rev = sys::readiness(fd);
            if rev & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32 == 0 {
                return None;
            }
            Some(
                match sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR) {
                    Ok(0) => Ok(()),
                    Ok(e) => Err(Errno(e)),
                    Err(e) => Err(e),
                },
            )
        })
    }
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        self.poller.remove(self.fd.as_raw_fd(), self.key);
        // The OwnedFd closes the host socket.
    }
}

impl FileDescription for HostSocket {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.recv(ctx, buf, 0).map(|r| r.len)
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
        sys::readiness(self.raw())
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        if sys::IOCTLS.iter().any(|&(_, r)| r == req) {
            let v = sys::ioctl_int(self.raw(), req)?;
            ctx.mm()?.copy_out(arg, &v.to_ne_bytes())?;
            return Ok(0);
        }
        crate::net::inet::interface_ioctl(&self.net, ctx, self.domain, req, arg)
    }

    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Socket for HostSocket {
    fn domain(&self) -> i32 {
        self.domain
    }

    fn sock_type(&self) -> i32 {
        self.ty
    }

    fn protocol(&self) -> i32 {
        self.protocol
    }

    fn bind(&self, ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        let port = match a {
            SockAddr::Inet(v4) => v4.port(),
            SockAddr::Inet6(v6) => v6.port(),
            _ => 0,
        };
        let ping = self.protocol == libc::IPPROTO_ICMP || self.protocol == libc::IPPROTO_ICMPV6;
        if port != 0 && port < 1024 && !ping && !ctx.capable(CAP_NET_BIND_SERVICE) {
            // Linux checks the family and the address first.
            if a.family() != self.domain
                && !(self.domain == libc::AF_INET && a.family() == libc::AF_UNSPEC)
            {
                return Err(Errno::EAFNOSUPPORT);
            }
            return Err(Errno::EACCES);
        }
        sys::bind(self.raw(), a)
    }

    fn listen(&self, _ctx: &dyn TaskContext, backlog: i32) -> SysResult<()> {
        sys::listen(self.raw(), backlog)
    }

    fn accept(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, SockAddr)> {
        let fd = self.raw();
        let (nfd, peer) = self.wait(
            ctx,
            self.nonblocking(0),
            self.deadline(false),
            Errno::EAGAIN,
            || match sys::accept(fd) {
                Err(Errno::EAGAIN) => None,
                r => Some(r),
            },
        )?;
        // The new socket inherits the listener's timeouts, as on Linux.
        let opts = self.opts().clone();
        let s = HostSocket::of_fd(
            &self.net,
            nfd,
            self.domain,
            self.ty,
            self.protocol,
            flags & libc::SOCK_NONBLOCK as u32 != 0,
            opts,
        )?;
        let peer = match peer {
            Some(p) => p,
            None => sys::name(s.raw(), true).unwrap_or(SockAddr::Unspec),
        };
        Ok((Arc::new(s), peer))
    }

    fn connect(&self, ctx: &dyn TaskContext, a: &SockAddr) -> SysResult<()> {
        match sys::connect(self.raw(), a) {
            Err(Errno::EINPROGRESS) | Err(Errno::EALREADY) if !self.nonblocking(0) => {
                self.finish_connect(ctx)
            }
            r => r,
        }
    }

    fn shutdown(&self, _ctx: &dyn TaskContext, how: i32) -> SysResult<()> {
        let r = sys::shutdown(self.raw(), how);
        self.wq.notify_all();
        r
    }

    fn sockname(&self) -> SysResult<SockAddr> {
        sys::name(self.raw(), false)
    }

    fn peername(&self) -> SysResult<SockAddr> {
        sys::name(self.raw(), true)
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
        self.recv(ctx, buf, flags)
    }

    fn setsockopt(
        &self,
        _ctx: &dyn TaskContext,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> SysResult<()> {
        if level == libc::SOL_SOCKET && (name == libc::SO_RCVTIMEO || name == libc::SO_SNDTIMEO) {
            return self
                .opts()
                .set(name, val, false)
                .unwrap_or(Err(Errno::ENOPROTOOPT));
        }
        if !super::PASSED_OPTIONS.contains(&(level, name)) {
            return Err(Errno::ENOPROTOOPT);
        }
        sys::setsockopt(self.raw(), level, name, val)
    }

    fn getsockopt(&self, _ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>> {
        if level == libc::SOL_SOCKET && (name == libc::SO_RCVTIMEO || name == libc::SO_SNDTIMEO) {
            return self.opts().get(name).unwrap_or(Err(Errno::ENOPROTOOPT));
        }
        if !super::PASSED_OPTIONS.contains(&(level, name)) {
            return Err(Errno::ENOPROTOOPT);
        }
        sys::getsockopt(self.raw(), level, name)
    }
}
