//! Sockets: not implemented yet; socket and socketpair answer
//! EAFNOSUPPORT, as a kernel without the address family does.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

pub(crate) fn no_sockets(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Err(Errno::EAFNOSUPPORT)
}
