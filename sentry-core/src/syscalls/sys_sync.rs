//! Writeback and caching of file data: fsync, fdatasync, sync, syncfs,
//! sync_file_range, readahead, fadvise64.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

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

/// Nothing to write back: sandbox files live in memory.
pub(crate) fn sync(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Ok(0)
}

pub(crate) fn syncfs(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().file(a.fd(0).into())?;
    Ok(0)
}

/// Linux's checks (descriptor, flags, range, file type), then nothing.
pub(crate) fn sync_file_range(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (offset, nbytes, flags) = (a[1] as i64, a[2] as i64, a[3]);
    let f = t.fds().file(a.fd(0).into())?;
    // SYNC_FILE_RANGE_WAIT_BEFORE | WRITE | WAIT_AFTER.
    if flags & !7 != 0 || offset < 0 || nbytes < 0 || offset.checked_add(nbytes).is_none() {
        return Err(Errno::EINVAL);
    }
    let kind = f.stat()?.mode & S_IFMT;
    if ![S_IFREG, S_IFDIR, S_IFLNK, libc::S_IFBLK].contains(&kind) {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

/// Linux's checks (a descriptor open for reading, a regular file); the
/// data is read when the program reads it.
pub(crate) fn readahead(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    let flags = f.status_flags();
    if flags & libc::O_PATH as u32 != 0 || flags & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32 {
        return Err(Errno::EBADF);
    }
    if f.stat()?.mode & S_IFMT != S_IFREG {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
