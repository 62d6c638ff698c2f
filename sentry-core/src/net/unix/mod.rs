//! AF_UNIX sockets: stream, datagram and seqpacket. (Being written.)

use std::sync::Arc;

use super::Stack;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext};

/// The unix sockets of one stack: the abstract namespace.
#[derive(Default)]
pub struct Namespace {}

impl Namespace {
    /// /proc/net/unix.
    pub fn proc_net(&self) -> String {
        "Num       RefCount Protocol Flags    Type St Inode Path\n".into()
    }
}

/// socket(AF_UNIX, ty, protocol).
pub fn new_socket(
    _stack: &Arc<Stack>,
    _ctx: &dyn TaskContext,
    _ty: i32,
    _protocol: i32,
    _nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    Err(Errno::EAFNOSUPPORT)
}

/// socketpair(AF_UNIX, ty, protocol).
pub fn pair(
    _stack: &Arc<Stack>,
    _ctx: &dyn TaskContext,
    _ty: i32,
    _protocol: i32,
    _nonblock: bool,
) -> SysResult<(Arc<dyn FileDescription>, Arc<dyn FileDescription>)> {
    Err(Errno::EAFNOSUPPORT)
}
