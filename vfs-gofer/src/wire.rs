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

/// Most fds one frame carries.
pub const MAX_FDS: usize = 16;

/// Sends one frame (and optionally one fd).
pub fn send(sock: RawFd, id: u16, payload: &[u8], fd: Option<RawFd>) -> Result<(), GoferError> {
    send_fds(sock, id, payload, fd.as_slice())
}

/// Sends one frame with up to [`MAX_FDS`] fds.
pub fn send_fds(sock: RawFd, id: u16, payload: &[u8], fds: &[RawFd]) -> Result<(), GoferError> {
    if fds.len() > MAX_FDS {
        return Err(GoferError::Protocol(format!(
            "{} fds in one frame (at most {MAX_FDS})",
            fds.len()
        )));
    }
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
    // Room for MAX_FDS fds of control data.
    let mut cmsg = [0u64; 2 + MAX_FDS / 2];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE/LEN are pure computations.
        let space = unsafe { libc::CMSG_SPACE(bytes) } as usize;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at a buffer of at least `space` bytes
        // (16 + 4 * MAX_FDS rounded up ≤ the array), so the first header and
        // all the fds fit.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(c),
                bytes as usize,
            );
        }
    }
    // SAFETY: msg is fully initialised and its buffers are alive.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

/// One received frame with all its fds: (message id, payload, fds).
pub type FdsFrame = (u16, Vec<u8>, Vec<OwnedFd>);

/// One received frame: (message id, payload, donated fd).
pub type Frame = (u16, Vec<u8>, Option<OwnedFd>);

/// Receives one frame. None at EOF.
pub fn recv(sock: RawFd) -> Result<Option<Frame>, GoferError> {
    Ok(recv_fds(sock)?.map(|(id, payload, fds)| (id, payload, fds.into_iter().next())))
}

/// Receives one frame with every fd it carries. None at EOF.
pub fn recv_fds(sock: RawFd) -> Result<Option<FdsFrame>, GoferError> {
    let mut buf = vec![0u8; MAX_FRAME];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cmsg = [0u64; 4 + MAX_FDS / 2];
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
    let mut fds = Vec::new();
    // SAFETY: walking the control headers the kernel wrote into our buffer;
    // each SCM_RIGHTS header holds (cmsg_len - CMSG_LEN(0)) / 4 fresh fds,
    // which become owned here.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*c).cmsg_len.saturating_sub(libc::CMSG_LEN(0) as usize))
                    / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..n {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
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
    if len.checked_add(4) != Some(n) {
        return Err(GoferError::Protocol(format!(
            "frame length {len} but {n} bytes"
        )));
    }
    let id = u16::from_le_bytes([buf[4], buf[5]]);
    buf.truncate(n);
    buf.drain(..6);
    Ok(Some((id, buf, fds)))
}

/// The raw fd of an owned one (helper for callers holding OwnedFd).
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer's frame whose length field disagrees with its size (here the
    /// largest length a u32 can say) is a protocol error, not an overflow.
    #[test]
    fn lying_length_is_a_protocol_error() {
        let (a, b) = socketpair().unwrap();
        let mut frame = u32::MAX.to_le_bytes().to_vec();
        frame.extend_from_slice(&[1, 0, 42]);
        // SAFETY: sending a local buffer on our own socket.
        let n = unsafe { libc::send(raw(&a), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(n, frame.len() as isize);
        assert!(matches!(recv(raw(&b)), Err(GoferError::Protocol(_))));
        send(raw(&a), 7, b"ok", None).unwrap();
        let (id, payload, fd) = recv(raw(&b)).unwrap().unwrap();
        assert_eq!(
            (id, payload.as_slice(), fd.is_none()),
            (7, &b"ok"[..], true)
        );
    }
}
