//! The socket interface: what the syscall layer asks of a socket, whatever
//! its family. The families live in `crate::net` (unix sockets, the inet
//! stack, netlink); a socket is a [`super::FileDescription`] whose
//! [`super::FileDescription::socket`] returns itself as a [`Socket`].
//!
//! The syscall layer copies user memory in and out (addresses, iovecs,
//! control messages) and calls these methods with plain values; the socket
//! blocks through the task context (`crate::waiter::block_until`), honours
//! its own O_NONBLOCK, MSG_DONTWAIT and SO_RCVTIMEO/SO_SNDTIMEO, and raises
//! SIGPIPE on EPIPE unless MSG_NOSIGNAL.

use std::sync::Arc;

use super::{FileDescription, TaskContext};
use crate::abi::socket::{SockAddr, Ucred};
use crate::errno::SysResult;

/// Ancillary data of one message.
#[derive(Clone, Default)]
pub struct Control {
    /// SCM_RIGHTS: open files passed along (in the order given).
    pub rights: Vec<Arc<dyn FileDescription>>,
    /// SCM_CREDENTIALS: the sender's credentials (on send: as the sender
    /// asked, already checked by the syscall layer; on receive: present
    /// when the receiver has SO_PASSCRED).
    pub creds: Option<Ucred>,
}

impl Control {
    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.rights.is_empty() && self.creds.is_none()
    }
}

/// What one `recvmsg` returned.
#[derive(Default)]
pub struct Received {
    /// Bytes written into the buffer.
    pub len: usize,
    /// The message's whole length (datagrams): what MSG_TRUNC makes
    /// recv return. Equal to `len` for streams.
    pub msg_len: usize,
    /// The sender (datagram sockets; None when not known or connected
    /// stream).
    pub from: Option<SockAddr>,
    /// Ancillary data received.
    pub control: Control,
    /// `msg_flags` out: MSG_TRUNC, MSG_CTRUNC, MSG_EOR, MSG_OOB.
    pub flags: u32,
}

/// A socket of any family.
pub trait Socket: Send + Sync {
    /// `AF_*`.
    fn domain(&self) -> i32;
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`, `SOCK_RAW` (without
    /// the NONBLOCK/CLOEXEC flags).
    fn sock_type(&self) -> i32;
    /// The protocol (IPPROTO_TCP …; 0 for unix sockets).
    fn protocol(&self) -> i32;
    /// bind(2).
    fn bind(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()>;
    /// listen(2) (`backlog` already clamped to 0..=SOMAXCONN).
    fn listen(&self, ctx: &dyn TaskContext, backlog: i32) -> SysResult<()>;
    /// accept4(2): the next connection and its peer's address. `flags`:
    /// SOCK_NONBLOCK for the new socket (SOCK_CLOEXEC is the caller's).
    fn accept(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, SockAddr)>;
    /// connect(2).
    fn connect(&self, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()>;
    /// shutdown(2) (`how`: SHUT_RD, SHUT_WR, SHUT_RDWR; checked by the
    /// caller).
    fn shutdown(&self, ctx: &dyn TaskContext, how: i32) -> SysResult<()>;
    /// getsockname(2).
    fn sockname(&self) -> SysResult<SockAddr>;
    /// getpeername(2) (ENOTCONN when not connected).
    fn peername(&self) -> SysResult<SockAddr>;
    /// sendmsg(2) of `data` (gathered from the iovecs), to `to` if given,
    /// with `control`; `flags`: MSG_* of the call. Returns the bytes sent.
    fn sendmsg(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        to: Option<&SockAddr>,
        control: Control,
        flags: u32,
    ) -> SysResult<usize>;
    /// recvmsg(2) into `buf`; `flags`: MSG_* of the call (MSG_PEEK,
    /// MSG_WAITALL, MSG_TRUNC, MSG_DONTWAIT, MSG_CMSG_CLOEXEC is the
    /// caller's).
    fn recvmsg(&self, ctx: &dyn TaskContext, buf: &mut [u8], flags: u32) -> SysResult<Received>;
    /// setsockopt(2): `val` is the option value as the program passed it.
    fn setsockopt(&self, ctx: &dyn TaskContext, level: i32, name: i32, val: &[u8])
        -> SysResult<()>;
    /// getsockopt(2): the option's value (the caller truncates it to the
    /// program's buffer and reports the length).
    fn getsockopt(&self, ctx: &dyn TaskContext, level: i32, name: i32) -> SysResult<Vec<u8>>;
}
