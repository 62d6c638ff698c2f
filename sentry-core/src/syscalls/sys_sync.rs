//! Writeback and caching of file data: fsync, fdatasync, fadvise64.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

pub(crate) fn fsync(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().file(a.fd(0).into())?;
    Ok(0)
}

pub(crate) fn fadvise64(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().file(a.fd(0).into())?;
    if a.uint(3) > 5 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
