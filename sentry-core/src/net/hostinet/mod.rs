//! The `host` network mode (gVisor's hostinet): AF_INET and AF_INET6
//! sockets are host sockets in the sandbox's network namespace, driven by
//! the sentry on the program's behalf. Weaker isolation than `sandbox`:
//! the host kernel's TCP/IP stack parses the sandbox's traffic, and the
//! sentry's seccomp allowlist grows by the socket calls.

use std::sync::Arc;

use super::Stack as NetStack;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, TaskContext};

/// socket(AF_INET/AF_INET6, ty, protocol) as a host socket.
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

/// The host descriptors hostinet keeps (none yet).
pub fn host_fds() -> Vec<std::os::fd::RawFd> {
    Vec::new()
}
