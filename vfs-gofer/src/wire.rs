//! Framing on a SOCK_SEQPACKET socket, with fds by SCM_RIGHTS.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::GoferError;

/// Largest frame.
pub const MAX_FRAME: usize = 1 << 20;

/// A connected SOCK_SEQPACKET pair: (sentry side, gofer side).
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array; the result is checked.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one frame (and optionally one fd).
pub fn send(sock: RawFd, id: u16, payload: &[u8], fd: Option<RawFd>) -> Result<(), GoferError> {
    if payload.len() + 6 > MAX_FRAME {
        return Err(GoferError::Protocol(format!(
            "frame of {} bytes",
            payload.len()
        )));
    }
    let mut buf = Vec::with_capacity(6 + payload.len());
    buf.extend_from_slice(&((payload.len() + 2) as u32).to_le_bytes());
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(payload);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one fd of control data.
    let mut cmsg = [0u64; 4];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE/LEN are pure computations.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at a buffer of `space` bytes (≤ 32), so
        // the first header and its data fit.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: msg is fully initialised and its buffers are alive.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

/// One received frame: (message id, payload, donated fd).
pub type Frame = (u16, Vec<u8>, Option<OwnedFd>);

/// Receives one frame. None at EOF.
pub fn recv(sock: RawFd) -> Result<Option<Frame>, GoferError> {
    let mut buf = vec![0u8; MAX_FRAME];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cmsg = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; the buffers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: msg points at live, writable buffers of the stated sizes.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error().into());
    }
    if n == 0 {
        return Ok(None);
    }
    let mut fd = None;
    // SAFETY: walking the control headers the kernel wrote into our buffer.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
                if fd.is_none() {
                    fd = Some(OwnedFd::from_raw_fd(raw));
                } else {
                    libc::close(raw);
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let n = n as usize;
    if n < 6 || msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(GoferError::Protocol(format!(
            "short or truncated frame ({n} bytes)"
        )));
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len + 4 != n {
        return Err(GoferError::Protocol(format!(
            "frame length {len} but {n} bytes"
        )));
    }
    let id = u16::from_le_bytes([buf[4], buf[5]]);
    buf.truncate(n);
    buf.drain(..6);
    Ok(Some((id, buf, fd)))
}

/// The raw fd of an owned one (helper for callers holding OwnedFd).
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}
