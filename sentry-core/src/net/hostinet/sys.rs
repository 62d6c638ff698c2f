//! The host calls hostinet makes, each a thin wrapper that returns the
//! host's errno. Every socket is non-blocking on the host; these never
//! wait (but close with SO_LINGER, as Linux's close does).
//!
//! Every call here must be in `shim/src/confine/net_host.rs`
//! (`hostinet_calls`) with the arguments it is made with, or the confined
//! sentry dies of SIGSYS.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};

/// `sizeof(struct sockaddr_storage)`.
const ADDR_ROOM: usize = 128;

/// The largest option value passed to or read from the host.
pub const OPT_MAX: usize = 512;

/// The flags every host socket is created and accepted with.
pub const HOST_SOCK_FLAGS: i32 = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

/// Ioctl requests made on host sockets: FIONREAD (SIOCINQ), TIOCOUTQ
/// (SIOCOUTQ), SIOCOUTQNSD and SIOCATMARK, all writing one int.
pub const IOCTLS: [(&str, u64); 4] = [
    ("FIONREAD", 0x541b),
    ("TIOCOUTQ", 0x5411),
    ("SIOCOUTQNSD", 0x894b),
    ("SIOCATMARK", 0x8905),
];

fn check(r: libc::c_int) -> SysResult<libc::c_int> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

fn check_size(r: libc::ssize_t) -> SysResult<usize> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// The bytes of `a` as the host takes them. Addresses of a family an
/// inet socket does not take are padded so the host answers
/// EAFNOSUPPORT (as Linux does for a full-sized foreign address), not
/// EINVAL for a short one.
pub fn addr_bytes(a: &SockAddr) -> Vec<u8> {
    let mut b = a.encode();
    match a {
        SockAddr::Inet(_) | SockAddr::Inet6(_) => {}
        SockAddr::Unspec => b.resize(16, 0),
        _ => b.resize(28, 0),
    }
    b
}

/// The address the host wrote (`len` bytes of `raw`); None when it wrote
/// none.
fn addr_of(raw: &[u8], len: libc::socklen_t) -> Option<SockAddr> {
    let len = (len as usize).min(raw.len());
    if len == 0 {
        return None;
    }
    SockAddr::parse(&raw[..len]).ok()
}

/// socket(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol).
pub fn socket(domain: i32, ty: i32, protocol: i32) -> SysResult<OwnedFd> {
    // SAFETY: socket takes no pointers; the new descriptor is owned here.
    let fd = check(unsafe { libc::socket(domain, ty | HOST_SOCK_FLAGS, protocol) })?;
    // SAFETY: `fd` was just returned by socket and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// accept4(fd, ..., SOCK_NONBLOCK | SOCK_CLOEXEC): the new socket and its
/// peer's address.
pub fn accept(fd: RawFd) -> SysResult<(OwnedFd, Option<SockAddr>)> {
    let mut raw = [0u8; ADDR_ROOM];
    let mut len = ADDR_ROOM as libc::socklen_t;
    // SAFETY: `raw` and `len` are valid for the call; accept4 writes at
    // most `len` bytes to `raw`.
    let nfd =
        check(unsafe { libc::accept4(fd, raw.as_mut_ptr().cast(), &mut len, HOST_SOCK_FLAGS) })?;
    // SAFETY: `nfd` was just returned by accept4 and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(nfd) };
    Ok((owned, addr_of(&raw, len)))
}

/// bind(2).
pub fn bind(fd: RawFd, a: &SockAddr) -> SysResult<()> {
    let b = addr_bytes(a);
    // SAFETY: `b` is valid for its length.
    check(unsafe { libc::bind(fd, b.as_ptr().cast(), b.len() as libc::socklen_t) }).map(|_| ())
}

/// connect(2) (non-blocking: EINPROGRESS for a stream still connecting).
pub fn connect(fd: RawFd, a: &SockAddr) -> SysResult<()> {
    let b = addr_bytes(a);
    // SAFETY: `b` is valid for its length.
    check(unsafe { libc::connect(fd, b.as_ptr().cast(), b.len() as libc::socklen_t) }).map(|_| ())
}

/// listen(2).
pub fn listen(fd: RawFd, backlog: i32) -> SysResult<()> {
    // SAFETY: no pointers.
    check(unsafe { libc::listen(fd, backlog) }).map(|_| ())
}

/// shutdown(2).
pub fn shutdown(fd: RawFd, how: i32) -> SysResult<()> {
    // SAFETY: no pointers.
    check(unsafe { libc::shutdown(fd, how) }).map(|_| ())
}

/// getsockname(2) (`peer` false) or getpeername(2).
pub fn name(fd: RawFd, peer: bool) -> SysResult<SockAddr> {
    let mut raw = [0u8; ADDR_ROOM];
    let mut len = ADDR_ROOM as libc::socklen_t;
    // SAFETY: `raw` and `len` are valid; the host writes at most `len`
    // bytes.
    check(unsafe {
        if peer {
            libc::getpeername(fd, raw.as_mut_ptr().cast(), &mut len)
        } else {
            libc::getsockname(fd, raw.as_mut_ptr().cast(), &mut len)
        }
    })?;
    addr_of(&raw, len).ok_or(Errno::EINVAL)
}

/// setsockopt(2) of `val` (at most [`OPT_MAX`] bytes of it).
pub fn setsockopt(fd: RawFd, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    let val = &val[..val.len().min(OPT_MAX)];
    // SAFETY: `val` is valid for its length.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// getsockopt(2) with a buffer of [`OPT_MAX`] bytes: the value.
pub fn getsockopt(fd: RawFd, level: i32, name: i32) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; OPT_MAX];
    let mut len = OPT_MAX as libc::socklen_t;
    // SAFETY: `buf` and `len` are valid; the host writes at most `len`
    // bytes.
    check(unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut len) })?;
    buf.truncate((len as usize).min(OPT_MAX));
    Ok(buf)
}

/// An int option.
pub fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> SysResult<i32> {
    let v = getsockopt(fd, level, name)?;
    crate::net::opts::int_of(&v)
}

/// One of [`IOCTLS`]: the int it answers.
pub fn ioctl_int(fd: RawFd, req: u64) -> SysResult<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: every request of IOCTLS writes one int to the pointer.
    check(unsafe { libc::ioctl(fd, req as libc::Ioctl, &mut v as *mut libc::c_int) })?;
    Ok(v)
}

/// What recvmsg returned.
pub struct Recv {
    /// The call's return value (the datagram's whole length with
    /// MSG_TRUNC).
    pub ret: usize,
    /// The sender, when the host reported one.
    pub from: Option<SockAddr>,
    /// msg_flags.
    pub flags: u32,
}

/// recvmsg(fd, one iovec over `buf`, flags | MSG_DONTWAIT), without
/// control messages.
pub fn recv(fd: RawFd, buf: &mut [u8], flags: i32) -> SysResult<Recv> {
    let mut raw = [0u8; ADDR_ROOM];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = raw.as_mut_ptr().cast();
    msg.msg_namelen = ADDR_ROOM as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at `raw`, `iov` and `buf`, all valid and
    // writable for the lengths given, for the duration of the call.
    let ret = check_size(unsafe { libc::recvmsg(fd, &mut msg, flags | libc::MSG_DONTWAIT) })?;
    Ok(Recv {
        ret,
        from: addr_of(&raw, msg.msg_namelen),
        flags: msg.msg_flags as u32,
    })
}

/// sendmsg(fd, one iovec over `data`, to `to`, flags | MSG_DONTWAIT |
/// MSG_NOSIGNAL), without control messages.
pub fn send(fd: RawFd, data: &[u8], to: Option<&SockAddr>, flags: i32) -> SysResult<usize> {
    let name = to.map(addr_bytes);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(n) = &name {
        msg.msg_name = n.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = n.len() as libc::socklen_t;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at `name`, `iov` and `data`, valid for the
    // lengths given; sendmsg only reads them.
    check_size(unsafe { libc::sendmsg(fd, &msg, flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) })
}

/// The POLL* bits the host reports for `fd` now (poll with timeout 0).
pub fn readiness(fd: RawFd) -> u32 {
    let events = libc::POLLIN
        | libc::POLLPRI
        | libc::POLLOUT
        | libc::POLLRDNORM
        | libc::POLLRDBAND
        | libc::POLLWRNORM
        | libc::POLLWRBAND
        | libc::POLLRDHUP;
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd; timeout 0 never blocks.
        let r = unsafe { libc::poll(&mut p, 1, 0) };
        if r >= 0 {
            return u32::from(p.revents as u16);
        }
        if Errno::last() != Errno::EINTR {
            return libc::POLLERR as u32;
        }
    }
}

/// epoll_create1(EPOLL_CLOEXEC).
pub fn epoll_create() -> SysResult<OwnedFd> {
    // SAFETY: no pointers; the new descriptor is owned here.
    let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: `fd` was just returned and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The events each host socket is registered for (edge-triggered).
pub const EPOLL_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// epoll_ctl(ADD) of `fd` with `key`.
pub fn epoll_add(ep: &OwnedFd, fd: RawFd, key: u64) -> SysResult<()> {
    let mut ev = libc::epoll_event {
        events: EPOLL_EVENTS,
        u64: key,
    };
    // SAFETY: `ev` is valid for the call.
    check(unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(|_| ())
}

/// epoll_ctl(DEL) of `fd`.
pub fn epoll_del(ep: &OwnedFd, fd: RawFd) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `ev` is valid for the call (ignored by DEL).
    unsafe {
        libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev);
    }
}

/// epoll_wait(ep, events, -1): the keys of the ready sockets (empty on
/// EINTR).
pub fn epoll_wait(ep: RawFd, events: &mut [libc::epoll_event]) -> SysResult<usize> {
    // SAFETY: `events` is valid and writable for its length.
    let r = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
    if r < 0 {
        let e = Errno::last();
        return if e == Errno::EINTR { Ok(0) } else { Err(e) };
    }
    Ok(r as usize)
}
