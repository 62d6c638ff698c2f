//! The socket system calls: argument decoding (addresses, `msghdr`,
//! iovecs, control messages, `mmsghdr`) and the copies in and out of the
//! program's memory, around the [`Socket`] trait the families implement
//! (`crate::net`). Nothing here knows a family's semantics beyond the
//! Linux rules every family shares at the system call boundary.

use std::sync::Arc;
use std::time::Instant;

use crate::abi::socket::{SockAddr, Ucred, SOCKADDR_MAX, SOMAXCONN};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::platform::Access;
use crate::vfs::socket::{Control, Received, Socket};
use crate::vfs::{FdEntry, FileDescription};

use super::Args;

/// Most iovecs in one message (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;
/// Most fds in one SCM_RIGHTS message (SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;
/// The staging buffer of one stream transfer: a larger send or receive
/// goes in pieces of this size.
const STREAM_CHUNK: usize = 1 << 20;
/// The largest message a datagram socket is handed at once; Linux's
/// limits (the send buffer, 64 KiB for UDP) are far below it.
const DGRAM_MAX: usize = 4 << 20;
/// The longest option value read in.
const OPT_MAX: usize = 4096;
/// `sizeof(struct msghdr)`.
const MSGHDR_LEN: usize = 56;
/// `sizeof(struct mmsghdr)`.
const MMSGHDR_LEN: u64 = 64;
/// `sizeof(struct cmsghdr)`.
const CMSGHDR_LEN: usize = 16;
/// Flags socket(2) and accept4(2) take besides the type.
const SOCK_FLAGS: i32 = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
/// AF_MAX on Linux 6.1.
const AF_MAX: i32 = 46;
/// CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN.
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_ADMIN: u32 = 21;

/// The file at `fd` when it is a socket: EBADF, ENOTSOCK otherwise.
fn socket_file(t: &Task, fd: i32) -> SysResult<Arc<dyn FileDescription>> {
    let f = t.fds().file(fd as i64)?;
    if f.socket().is_none() {
        return Err(Errno::ENOTSOCK);
    }
    Ok(f)
}

/// Reads a `struct sockaddr` of `len` bytes at `addr` (Linux's
/// move_addr_to_kernel: EINVAL for a negative or oversized length).
fn read_addr_bytes(t: &Task, addr: u64, len: u64) -> SysResult<Vec<u8>> {
    let len = len as u32 as i32;
    if len < 0 || len as usize > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; len as usize];
    if !raw.is_empty() {
        t.mm().copy_in(addr, &mut raw)?;
    }
    Ok(raw)
}

/// Parses an address for socket `s` as its family does: a unix socket
/// calls every malformed address EINVAL; an AF_INET socket takes AF_UNSPEC
/// with INADDR_ANY as AF_INET for bind (`for_bind`), as Linux does for
/// old programs.
fn parse_for(s: &dyn Socket, raw: &[u8], for_bind: bool) -> SysResult<SockAddr> {
    let domain = s.domain();
    match SockAddr::parse(raw) {
        Ok(SockAddr::Unspec) if for_bind && domain == libc::AF_INET => {
            if raw.len() < 16 {
                return Err(Errno::EINVAL);
            }
            if raw[4..8] != [0, 0, 0, 0] {
                return Err(Errno::EAFNOSUPPORT);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            Ok(SockAddr::Inet(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                port,
            )))
        }
        Ok(SockAddr::Unspec) if domain == libc::AF_UNIX && for_bind => Err(Errno::EINVAL),
        Err(Errno::EAFNOSUPPORT) if domain == libc::AF_UNIX => Err(Errno::EINVAL),
        other => other,
    }
}

/// Writes `addr` to a program's (`addr`, `*lenp`) pair as
/// move_addr_to_user does: at most `*lenp` bytes, and the full length
/// back into `*lenp`. A null `addr` writes nothing.
fn write_addr(t: &Task, addr: u64, lenp: u64, a: Option<&SockAddr>) -> SysResult<()> {
    if addr == 0 || lenp == 0 {
        return Ok(());
    }
    let mut b = [0u8; 4];
    t.mm().copy_in(lenp, &mut b)?;
    let room = i32::from_ne_bytes(b);
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = a.map(SockAddr::encode).unwrap_or_default();
    let n = bytes.len().min(room as usize);
    if n > 0 {
        t.mm().copy_out(addr, &bytes[..n])?;
    }
    t.mm().copy_out(lenp, &(bytes.len() as u32).to_ne_bytes())
}

/// Checks a length pointer before a call that cannot be undone (accept):
/// EFAULT or EINVAL now rather than a lost connection later.
fn check_len_ptr(t: &Task, addr: u64, lenp: u64) -> SysResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let mut b = [0u8; 4];
    t.mm().copy_in(lenp, &mut b)?;
    if i32::from_ne_bytes(b) < 0 {
        return Err(Errno::EINVAL);
    }
    t.mm().check_access(lenp, 4, Access::Write)
}

/// Installs a new socket file; `flags` are SOCK_CLOEXEC/SOCK_NONBLOCK bits.
fn install(t: &Task, file: Arc<dyn FileDescription>, cloexec: bool) -> SysResult<i64> {
    t.fds().install(FdEntry { file, cloexec }, 0)
}

/// Splits socket(2)'s type argument into the type and its flags.
fn split_type(ty: i32) -> SysResult<(i32, bool, bool)> {
    if ty & !(SOCK_FLAGS | 0xf) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((
        ty & 0xf,
        ty & libc::SOCK_NONBLOCK != 0,
        ty & libc::SOCK_CLOEXEC != 0,
    ))
}

pub(crate) fn socket(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (domain, ty, protocol) = (a.int(0), a.int(1), a.int(2));
    if !(0..AF_MAX).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let (ty, nonblock, cloexec) = split_type(ty)?;
    let net = t.kernel.net.clone();
    let file = net.socket(&*t, domain, ty, protocol, nonblock)?;
    install(t, file, cloexec).map(|fd| fd as u64)
}

pub(crate) fn socketpair(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (domain, ty, protocol) = (a.int(0), a.int(1), a.int(2));
    if !(0..AF_MAX).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let (ty, nonblock, cloexec) = split_type(ty)?;
    // The result array is checked first so a fault loses nothing.
    t.mm().check_access(a.ptr(3), 8, Access::Write)?;
    let net = t.kernel.net.clone();
    let (x, y) = net.socketpair(&*t, domain, ty, protocol, nonblock)?;
    let fx = install(t, x, cloexec)?;
    let fy = match install(t, y, cloexec) {
        Ok(f) => f,
        Err(e) => {
            let _ = t.fds().close(fx);
            return Err(e);
        }
    };
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(fx as i32).to_ne_bytes());
    b[4..].copy_from_slice(&(fy as i32).to_ne_bytes());
    if let Err(e) = t.mm().copy_out(a.ptr(3), &b) {
        let mut fds = t.fds();
        let _ = fds.close(fx);
        let _ = fds.close(fy);
        return Err(e);
    }
    Ok(0)
}

pub(crate) fn bind(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let raw = read_addr_bytes(t, a.ptr(1), a.raw(2))?;
    let addr = parse_for(s, &raw, true)?;
    s.bind(&*t, &addr).map(|()| 0)
}

pub(crate) fn connect(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let raw = read_addr_bytes(t, a.ptr(1), a.raw(2))?;
    let addr = parse_for(s, &raw, false)?;
    s.connect(&*t, &addr).map(|()| 0)
}

pub(crate) fn listen(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    // As Linux: the backlog is compared unsigned, so a negative one is
    // the maximum.
    let backlog = (a.int(1) as u32).min(SOMAXCONN as u32) as i32;
    s.listen(&*t, backlog).map(|()| 0)
}

pub(crate) fn accept(t: &mut Task, a: &Args) -> SysResult<u64> {
    accept_with(t, a.fd(0), a.ptr(1), a.ptr(2), 0)
}

pub(crate) fn accept4(t: &mut Task, a: &Args) -> SysResult<u64> {
    let flags = a.int(3);
    if flags & !SOCK_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    accept_with(t, a.fd(0), a.ptr(1), a.ptr(2), flags)
}

fn accept_with(t: &mut Task, fd: i32, addr: u64, lenp: u64, flags: i32) -> SysResult<u64> {
    let f = socket_file(t, fd)?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    check_len_ptr(t, addr, lenp)?;
    let (file, peer) = s.accept(&*t, (flags & libc::SOCK_NONBLOCK) as u32)?;
    let nfd = install(t, file, flags & libc::SOCK_CLOEXEC != 0)?;
    if let Err(e) = write_addr(t, addr, lenp, Some(&peer)) {
        let _ = t.fds().close(nfd);
        return Err(e);
    }
    Ok(nfd as u64)
}

pub(crate) fn shutdown(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let how = a.int(1);
    if !(libc::SHUT_RD..=libc::SHUT_RDWR).contains(&how) {
        return Err(Errno::EINVAL);
    }
    s.shutdown(&*t, how).map(|()| 0)
}

pub(crate) fn getsockname(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    check_len_ptr(t, 1, a.ptr(2))?;
    let name = s.sockname()?;
    write_addr(t, a.ptr(1), a.ptr(2), Some(&name)).map(|()| 0)
}

pub(crate) fn getpeername(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    check_len_ptr(t, 1, a.ptr(2))?;
    let name = s.peername()?;
    write_addr(t, a.ptr(1), a.ptr(2), Some(&name)).map(|()| 0)
}

pub(crate) fn setsockopt(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let len = a.int(4);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let mut val = vec![0u8; (len as usize).min(OPT_MAX)];
    if !val.is_empty() {
        t.mm().copy_in(a.ptr(3), &mut val)?;
    }
    s.setsockopt(&*t, a.int(1), a.int(2), &val).map(|()| 0)
}

pub(crate) fn getsockopt(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let lenp = a.ptr(4);
    let mut b = [0u8; 4];
    t.mm().copy_in(lenp, &mut b)?;
    let room = i32::from_ne_bytes(b);
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let v = s.getsockopt(&*t, a.int(1), a.int(2))?;
    let n = v.len().min(room as usize);
    if n > 0 {
        t.mm().copy_out(a.ptr(3), &v[..n])?;
    }
    t.mm().copy_out(lenp, &(n as u32).to_ne_bytes())?;
    Ok(0)
}

/// One `struct iovec` array, read and checked: EMSGSIZE past UIO_MAXIOV
/// entries, EINVAL when the lengths overflow `ssize_t`.
fn read_iovecs(t: &Task, addr: u64, cnt: u64) -> SysResult<Vec<(u64, usize)>> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::EMSGSIZE);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    if !raw.is_empty() {
        t.mm().copy_in(addr, &mut raw)?;
    }
    let mut v = Vec::with_capacity(cnt as usize);
    let mut total: u64 = 0;
    for c in raw.chunks_exact(16) {
        let mut w = [0u8; 8];
        w.copy_from_slice(&c[..8]);
        let base = u64::from_ne_bytes(w);
        w.copy_from_slice(&c[8..]);
        let len = u64::from_ne_bytes(w);
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        if total > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        v.push((base, len as usize));
    }
    Ok(v)
}

fn total_len(iov: &[(u64, usize)]) -> usize {
    iov.iter().fold(0usize, |n, v| n.saturating_add(v.1))
}

/// Copies up to `max` bytes of the iovecs, starting `skip` bytes in, into
/// a buffer.
fn gather(t: &Task, iov: &[(u64, usize)], skip: usize, max: usize) -> SysResult<Vec<u8>> {
    let want = total_len(iov).saturating_sub(skip).min(max);
    let mut buf = vec![0u8; want];
    let mut off = 0usize;
    let mut skip = skip;
    for &(base, len) in iov {
        if off >= want {
            break;
        }
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = (len - skip).min(want - off);
        t.mm()
            .copy_in(base.wrapping_add(skip as u64), &mut buf[off..off + n])?;
        off += n;
        skip = 0;
    }
    Ok(buf)
}

/// Copies `data` out over the iovecs.
fn scatter(t: &Task, iov: &[(u64, usize)], data: &[u8]) -> SysResult<()> {
    let mut off = 0usize;
    for &(base, len) in iov {
        if off >= data.len() {
            break;
        }
        let n = len.min(data.len() - off);
        t.mm().copy_out(base, &data[off..off + n])?;
        off += n;
    }
    Ok(())
}

/// The size of the receive buffer a call with `want` bytes of iovecs
/// gets: a stream reads at most one chunk per pass, a datagram socket
/// at most the largest message (the rest is reported by MSG_TRUNC). The
/// buffers are not checked first: as on Linux, an empty queue answers
/// EAGAIN before a bad buffer answers EFAULT (and a message received into
/// a bad buffer is lost, as Linux loses a datagram).
fn recv_room(iov: &[(u64, usize)], stream: bool) -> usize {
    total_len(iov).min(if stream { STREAM_CHUNK } else { DGRAM_MAX })
}

fn is_stream(s: &dyn Socket) -> bool {
    s.sock_type() == libc::SOCK_STREAM
}

/// Sends the iovecs' bytes: a datagram as one message, a stream in
/// chunks until done, a short send, or an error (an error after some bytes
/// returns the count).
fn send_iov(
    t: &Task,
    s: &dyn Socket,
    iov: &[(u64, usize)],
    to: Option<&SockAddr>,
    control: Control,
    flags: u32,
) -> SysResult<usize> {
    let total = total_len(iov);
    if !is_stream(s) {
        if total > DGRAM_MAX {
            return Err(Errno::EMSGSIZE);
        }
        let data = gather(t, iov, 0, total)?;
        return s.sendmsg(t, &data, to, control, flags);
    }
    let mut done = 0usize;
    let mut control = Some(control);
    loop {
        let data = match gather(t, iov, done, STREAM_CHUNK) {
            Ok(d) => d,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        };
        let r = s.sendmsg(t, &data, to, control.take().unwrap_or_default(), flags);
        match r {
            Ok(n) => {
                done += n;
                if n < data.len() || done >= total {
                    return Ok(done);
                }
            }
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        }
        if crate::waiter::Waiter::interrupted(t) {
            return Ok(done);
        }
    }
}

/// Receives into the iovecs: one call of the socket (which honours
/// MSG_WAITALL itself within the chunk), then more chunks for a stream
/// with MSG_WAITALL and more room.
fn recv_iov(t: &Task, s: &dyn Socket, iov: &[(u64, usize)], flags: u32) -> SysResult<Received> {
    let stream = is_stream(s);
    let room = recv_room(iov, stream);
    let mut buf = vec![0u8; room];
    let r = s.recvmsg(t, &mut buf, flags)?;
    if flags & libc::MSG_TRUNC as u32 != 0 && stream {
        // The bytes were discarded, not copied.
        return Ok(r);
    }
    scatter(t, iov, &buf[..r.len.min(buf.len())])?;
    let total = total_len(iov);
    if !stream
        || flags & libc::MSG_WAITALL as u32 == 0
        || flags & libc::MSG_PEEK as u32 != 0
        || r.len < room
        || r.len >= total
    {
        return Ok(r);
    }
    // A MSG_WAITALL stream read larger than one chunk: keep reading.
    let mut r = r;
    while r.len < total {
        let rest: Vec<(u64, usize)> = skip_iov(iov, r.len);
        let room = total_len(&rest).min(STREAM_CHUNK);
        let mut buf = vec![0u8; room];
        let more = match s.recvmsg(t, &mut buf, flags) {
            Ok(m) => m,
            Err(_) => break,
        };
        if more.len == 0 {
            break;
        }
        scatter(t, &rest, &buf[..more.len.min(buf.len())])?;
        r.len += more.len;
        r.msg_len = r.len;
        if more.len < room {
            break;
        }
    }
    Ok(r)
}

/// The iovecs after the first `n` bytes.
fn skip_iov(iov: &[(u64, usize)], mut n: usize) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    for &(base, len) in iov {
        if n >= len {
            n -= len;
            continue;
        }
        out.push((base.wrapping_add(n as u64), len - n));
        n = 0;
    }
    out
}

pub(crate) fn sendto(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let to = if a.ptr(4) != 0 {
        let raw = read_addr_bytes(t, a.ptr(4), a.raw(5))?;
        Some(parse_for(s, &raw, false)?)
    } else {
        None
    };
    let iov = [(a.ptr(1), a.len(2).min(isize::MAX as usize))];
    send_iov(t, s, &iov, to.as_ref(), Control::default(), a.uint(3)).map(|n| n as u64)
}

pub(crate) fn recvfrom(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let flags = a.uint(3);
    check_len_ptr(t, a.ptr(4), a.ptr(5))?;
    let iov = [(a.ptr(1), a.len(2).min(isize::MAX as usize))];
    let r = recv_iov(t, s, &iov, flags & !(libc::MSG_CMSG_CLOEXEC as u32))?;
    write_addr(t, a.ptr(4), a.ptr(5), r.from.as_ref())?;
    Ok(returned_len(&r, flags) as u64)
}

/// What recv returns: the message's whole length with MSG_TRUNC on a
/// datagram socket, else the bytes received.
fn returned_len(r: &Received, flags: u32) -> usize {
    if flags & libc::MSG_TRUNC as u32 != 0 {
        r.msg_len.max(r.len)
    } else {
        r.len
    }
}

/// A decoded `struct msghdr`.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: Vec<(u64, usize)>,
    control: u64,
    controllen: u64,
}

fn read_msghdr(t: &Task, addr: u64) -> SysResult<MsgHdr> {
    let mut raw = [0u8; MSGHDR_LEN];
    t.mm().copy_in(addr, &mut raw)?;
    let u64_at = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let namelen = u32::from_ne_bytes([raw[8], raw[9], raw[10], raw[11]]);
    let iov = read_iovecs(t, u64_at(16), u64_at(24))?;
    let controllen = u64_at(40);
    if controllen > i32::MAX as u64 {
        return Err(Errno::ENOBUFS);
    }
    Ok(MsgHdr {
        name: u64_at(0),
        namelen,
        iov,
        control: u64_at(32),
        controllen,
    })
}

/// Parses the control messages a program sends (`cmsghdr` records,
/// 8-byte aligned): SCM_RIGHTS and SCM_CREDENTIALS at SOL_SOCKET; other
/// levels (IP_PKTINFO, IP_TOS …) are accepted and ignored. EINVAL for a
/// malformed record or more than SCM_MAX_FD fds, EBADF for a bad fd,
/// EPERM for credentials the sender may not claim.
fn read_control(t: &Task, s: &dyn Socket, addr: u64, len: u64) -> SysResult<Control> {
    let mut control = Control::default();
    // Less than one header: no control message at all (CMSG_FIRSTHDR is
    // NULL), as Linux.
    if len < CMSGHDR_LEN as u64 {
        return Ok(control);
    }
    let len = (len as usize).min(1 << 20);
    let mut raw = vec![0u8; len];
    t.mm().copy_in(addr, &mut raw)?;
    let mut off = 0usize;
    while off + CMSGHDR_LEN <= raw.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[off..off + 8]);
        let clen = u64::from_ne_bytes(w);
        if clen < CMSGHDR_LEN as u64 || clen > (raw.len() - off) as u64 {
            return Err(Errno::EINVAL);
        }
        let clen = clen as usize;
        let level = i32::from_ne_bytes([raw[off + 8], raw[off + 9], raw[off + 10], raw[off + 11]]);
        let ty = i32::from_ne_bytes([raw[off + 12], raw[off + 13], raw[off + 14], raw[off + 15]]);
        let data = &raw[off + CMSGHDR_LEN..off + clen];
        if level == libc::SOL_SOCKET {
            let unix = s.domain() == libc::AF_UNIX;
            match ty {
                libc::SCM_RIGHTS if unix => {
                    let n = data.len() / 4;
                    if n == 0 || control.rights.len() + n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    let fds = t.fds();
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                        control.rights.push(fds.file(fd as i64)?);
                    }
                }
                libc::SCM_CREDENTIALS if unix => {
                    if data.len() != 12 {
                        return Err(Errno::EINVAL);
                    }
                    let c = Ucred {
                        pid: i32::from_ne_bytes([data[0], data[1], data[2], data[3]]),
                        uid: u32::from_ne_bytes([data[4], data[5], data[6], data[7]]),
                        gid: u32::from_ne_bytes([data[8], data[9], data[10], data[11]]),
                    };
                    let me = crate::vfs::TaskContext::ucred(t);
                    let (ruid, euid) = crate::vfs::TaskContext::uid(t);
                    let cap = |c| crate::vfs::TaskContext::capable(t, c);
                    if (c.pid != me.pid && !cap(CAP_SYS_ADMIN))
                        || (c.uid != ruid && c.uid != euid && !cap(CAP_SETUID))
                        || (c.gid != me.gid && !cap(CAP_SETGID))
                    {
                        return Err(Errno::EPERM);
                    }
                    control.creds = Some(c);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        // CMSG_NXTHDR: the next record at the aligned end of this one.
        off += (clen + 7) & !7;
    }
    Ok(control)
}

/// Writes received control messages to the program's buffer as
/// put_cmsg/scm_detach_fds do: credentials, then as many fds as fit
/// (installed in the fd table; those that do not fit are closed and
/// MSG_CTRUNC set). Returns (bytes written, MSG_CTRUNC or 0).
fn write_control(
    t: &Task,
    addr: u64,
    room: u64,
    control: Control,
    cloexec: bool,
) -> SysResult<(usize, u32)> {
    let room = room as usize;
    let mut out: Vec<u8> = Vec::new();
    let mut trunc = 0u32;
    let header = |len: usize, ty: i32| {
        let mut h = (len as u64).to_ne_bytes().to_vec();
        h.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        h.extend_from_slice(&ty.to_ne_bytes());
        h
    };
    if let Some(c) = control.creds {
        let len = CMSGHDR_LEN + 12;
        if out.len() + len <= room {
            out.extend_from_slice(&header(len, libc::SCM_CREDENTIALS));
            out.extend_from_slice(&c.encode());
            let padded = (out.len() + 7) & !7;
            if padded <= room {
                out.resize(padded, 0);
            }
        } else {
            trunc = libc::MSG_CTRUNC as u32;
        }
    }
    if !control.rights.is_empty() {
        let space = room.saturating_sub(out.len());
        let fit = space.saturating_sub(CMSGHDR_LEN) / 4;
        let n = fit.min(control.rights.len());
        if n < control.rights.len() {
            trunc = libc::MSG_CTRUNC as u32;
        }
        if n > 0 {
            let mut fds = Vec::with_capacity(n);
            for file in control.rights.into_iter().take(n) {
                match install(t, file, cloexec) {
                    Ok(fd) => fds.push(fd as i32),
                    Err(_) => {
                        trunc = libc::MSG_CTRUNC as u32;
                        break;
                    }
                }
            }
            if !fds.is_empty() {
                let len = CMSGHDR_LEN + 4 * fds.len();
                out.extend_from_slice(&header(len, libc::SCM_RIGHTS));
                for fd in &fds {
                    out.extend_from_slice(&fd.to_ne_bytes());
                }
                let padded = (out.len() + 7) & !7;
                if padded <= room {
                    out.resize(padded, 0);
                }
            }
        }
    }
    if !out.is_empty() {
        t.mm().copy_out(addr, &out)?;
    }
    Ok((out.len(), trunc))
}

fn sendmsg_one(t: &Task, s: &dyn Socket, msg: u64, flags: u32) -> SysResult<usize> {
    let h = read_msghdr(t, msg)?;
    let to = if h.name != 0 && h.namelen != 0 {
        let raw = read_addr_bytes(t, h.name, h.namelen.into())?;
        Some(parse_for(s, &raw, false)?)
    } else {
        None
    };
    let control = read_control(t, s, h.control, h.controllen)?;
    send_iov(t, s, &h.iov, to.as_ref(), control, flags)
}

fn recvmsg_one(t: &Task, s: &dyn Socket, msg: u64, flags: u32) -> SysResult<usize> {
    let h = read_msghdr(t, msg)?;
    let cloexec = flags & libc::MSG_CMSG_CLOEXEC as u32 != 0;
    let r = recv_iov(t, s, &h.iov, flags & !(libc::MSG_CMSG_CLOEXEC as u32))?;
    let ret = returned_len(&r, flags);
    // msg_name / msg_namelen.
    let namelen = match (&r.from, h.name) {
        (Some(from), name) if name != 0 => {
            let bytes = from.encode();
            let n = bytes.len().min(h.namelen as usize);
            if n > 0 {
                t.mm().copy_out(name, &bytes[..n])?;
            }
            bytes.len() as u32
        }
        _ => 0,
    };
    t.mm().copy_out(msg + 8, &namelen.to_ne_bytes())?;
    let mut out_flags = r.flags;
    let (clen, ctrunc) = if h.control != 0 {
        write_control(t, h.control, h.controllen, r.control, cloexec)?
    } else {
        let lost = !r.control.rights.is_empty() || r.control.creds.is_some();
        (0, if lost { libc::MSG_CTRUNC as u32 } else { 0 })
    };
    out_flags |= ctrunc;
    t.mm().copy_out(msg + 40, &(clen as u64).to_ne_bytes())?;
    t.mm().copy_out(msg + 48, &out_flags.to_ne_bytes())?;
    Ok(ret)
}

pub(crate) fn sendmsg(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    sendmsg_one(t, s, a.ptr(1), a.uint(2)).map(|n| n as u64)
}

pub(crate) fn recvmsg(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    recvmsg_one(t, s, a.ptr(1), a.uint(2)).map(|n| n as u64)
}

pub(crate) fn sendmmsg(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let vlen = a.uint(2).min(UIO_MAXIOV as u32) as u64;
    let flags = a.uint(3);
    let mut sent = 0u64;
    while sent < vlen {
        let at = a.ptr(1).wrapping_add(sent * MMSGHDR_LEN);
        match sendmsg_one(t, s, at, flags) {
            Ok(n) => {
                t.mm()
                    .copy_out(at + MSGHDR_LEN as u64, &(n as u32).to_ne_bytes())?;
                sent += 1;
            }
            Err(_) if sent > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// MSG_WAITFORONE (recvmmsg).
const MSG_WAITFORONE: u32 = 0x10000;

pub(crate) fn recvmmsg(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = socket_file(t, a.fd(0))?;
    let s = f.socket().ok_or(Errno::ENOTSOCK)?;
    let vlen = a.uint(2).min(UIO_MAXIOV as u32) as u64;
    let mut flags = a.uint(3);
    let deadline = if a.ptr(4) != 0 {
        let mut ts = [0u8; 16];
        t.mm().copy_in(a.ptr(4), &mut ts)?;
        let sec = i64::from_ne_bytes([ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]]);
        let nsec =
            i64::from_ne_bytes([ts[8], ts[9], ts[10], ts[11], ts[12], ts[13], ts[14], ts[15]]);
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Instant::now().checked_add(
            std::time::Duration::from_secs(sec as u64)
                + std::time::Duration::from_nanos(nsec as u64),
        )
    } else {
        None
    };
    let mut got = 0u64;
    while got < vlen {
        let at = a.ptr(1).wrapping_add(got * MMSGHDR_LEN);
        match recvmsg_one(t, s, at, flags) {
            Ok(n) => {
                t.mm()
                    .copy_out(at + MSGHDR_LEN as u64, &(n as u32).to_ne_bytes())?;
                got += 1;
            }
            Err(_) if got > 0 => break,
            Err(e) => return Err(e),
        }
        if flags & MSG_WAITFORONE != 0 {
            flags |= libc::MSG_DONTWAIT as u32;
        }
        // As Linux, the timeout is checked only after each message.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    Ok(got)
}

/// readv(2) on a socket: one receive scattered over the iovecs (a
/// datagram is one message, not one per iovec).
pub(crate) fn readv_socket(
    t: &Task,
    file: &Arc<dyn FileDescription>,
    iov_addr: u64,
    cnt: u64,
) -> SysResult<u64> {
    let s = file.socket().ok_or(Errno::ENOTSOCK)?;
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let iov = read_iovecs(t, iov_addr, cnt)?;
    recv_iov(t, s, &iov, 0).map(|r| r.len as u64)
}

/// writev(2) on a socket: one send of the gathered iovecs.
pub(crate) fn writev_socket(
    t: &Task,
    file: &Arc<dyn FileDescription>,
    iov_addr: u64,
    cnt: u64,
) -> SysResult<u64> {
    let s = file.socket().ok_or(Errno::ENOTSOCK)?;
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let iov = read_iovecs(t, iov_addr, cnt)?;
    send_iov(t, s, &iov, None, Control::default(), 0).map(|n| n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_type_flags_split() {
        assert_eq!(
            split_type(libc::SOCK_STREAM | libc::SOCK_CLOEXEC),
            Ok((libc::SOCK_STREAM, false, true))
        );
        assert_eq!(split_type(libc::SOCK_DGRAM | 0x100), Err(Errno::EINVAL));
    }

    #[test]
    fn skipping_iovecs() {
        let v = [(100, 10), (200, 5), (300, 7)];
        assert_eq!(skip_iov(&v, 12), vec![(202, 3), (300, 7)]);
        assert_eq!(skip_iov(&v, 0), v.to_vec());
        assert!(skip_iov(&v, 22).is_empty());
        assert_eq!(total_len(&v), 22);
    }
}
