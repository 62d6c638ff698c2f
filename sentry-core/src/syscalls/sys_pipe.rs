//! Pipes: pipe, pipe2 (named pipes are made by mknod, in sys_link).

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::FdEntry;

use super::Args;

pub(crate) fn pipe2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let flags = a.int(1);
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::fsimpl::pipe::new_pipe(flags & libc::O_NONBLOCK != 0);
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let mut fds = t.fds();
    let rfd = fds.install(FdEntry { file: r, cloexec }, 0)?;
    let wfd = match fds.install(FdEntry { file: w, cloexec }, 0) {
        Ok(f) => f,
        Err(e) => {
            let _ = fds.close(rfd);
            return Err(e);
        }
    };
    drop(fds);
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(rfd as i32).to_le_bytes());
    b[4..].copy_from_slice(&(wfd as i32).to_le_bytes());
    if let Err(e) = t.mm().copy_out(a.ptr(0), &b) {
        let mut fds = t.fds();
        let _ = fds.close(rfd);
        let _ = fds.close(wfd);
        return Err(e);
    }
    Ok(0)
}

pub(crate) fn pipe(t: &mut Task, a: &Args) -> SysResult<u64> {
    pipe2(t, &Args([a.ptr(0), 0, 0, 0, 0, 0]))
}
