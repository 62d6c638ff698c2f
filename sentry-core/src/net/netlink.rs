//! AF_NETLINK route sockets. (Being written.)

use std::sync::Arc;

use super::Stack;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext};

/// socket(AF_NETLINK, ty, protocol).
pub fn new_socket(
    _stack: &Arc<Stack>,
    _ctx: &dyn TaskContext,
    _ty: i32,
    _protocol: i32,
    _nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    Err(Errno::EAFNOSUPPORT)
}
