//! AF_INET and AF_INET6: TCP, UDP and ICMP echo over smoltcp. (Being
//! written.)

use std::sync::Arc;

use super::{Interface, Stack as NetStack};
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext};

/// The TCP/IP stack of one sandbox.
pub struct Stack {}

impl Stack {
    /// A stack serving `interfaces`.
    pub fn new(_interfaces: &[Interface]) -> Stack {
        Stack {}
    }

    /// /proc/net/`name` for the inet files.
    pub fn proc_net(&self, _name: &str, _interfaces: &[Interface]) -> Option<String> {
        None
    }
}

/// socket(AF_INET/AF_INET6, ty, protocol).
pub fn new_socket(
    _stack: &Arc<NetStack>,
    _ctx: &dyn TaskContext,
    _domain: i32,
    _ty: i32,
    _protocol: i32,
    _nonblock: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    Err(Errno::EAFNOSUPPORT)
}
