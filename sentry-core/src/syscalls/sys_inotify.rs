//! inotify: inotify_init, inotify_init1, inotify_add_watch,
//! inotify_rm_watch. The instance is [`crate::fsimpl::inotify::Inotify`];
//! the events come from the VFS ([`crate::vfs::notify`]).

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::fsimpl::inotify::Inotify;
use crate::kernel::Task;
use crate::vfs::notify::{
    Target, ALL_INOTIFY_BITS, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR,
};
use crate::vfs::{FdEntry, FileDescription, S_IFDIR, S_IFMT};

use super::at::{at, AT_FDCWD};
use super::Args;

pub(crate) fn inotify_init1(t: &mut Task, a: &Args) -> SysResult<u64> {
    let flags = a.uint(0);
    let ok = (libc::O_NONBLOCK | libc::O_CLOEXEC) as u32;
    if flags & !ok != 0 {
        return Err(Errno::EINVAL);
    }
    let uid = t.creds().uid[1];
    let f = Inotify::new(t.root().notify(), uid, flags & libc::O_NONBLOCK as u32 != 0)?;
    let fd = t.fds().install(
        FdEntry {
            file: f,
            cloexec: flags & libc::O_CLOEXEC as u32 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

pub(crate) fn inotify_init(t: &mut Task, _a: &Args) -> SysResult<u64> {
    inotify_init1(t, &Args([0; 6]))
}

/// The inotify instance behind `fd`: EBADF, or EINVAL for another file.
fn instance(t: &Task, fd: i32) -> SysResult<Arc<dyn FileDescription>> {
    let f = t.fds().file(fd.into())?;
    if !f.as_any().is::<Inotify>() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub(crate) fn inotify_add_watch(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mask = a.uint(2);
    if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    if mask & ALL_INOTIFY_BITS == 0 || mask & !ALL_INOTIFY_BITS != 0 {
        return Err(Errno::EINVAL);
    }
    let f = instance(t, a.fd(0))?;
    let ino = f.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    let path = t.read_path(a.ptr(1))?;
    let follow = mask & IN_DONT_FOLLOW == 0;
    let (st, key) = at(t, AT_FDCWD, &path, |fs, s| {
        if !Arc::ptr_eq(fs.notify(), ino.registry()) {
            // A file of another container's mount table.
            return Err(Errno::EXDEV);
        }
        fs.watch_target(s, &path, follow)
    })?;
    let dir = st.mode & S_IFMT == S_IFDIR;
    if mask & IN_ONLYDIR != 0 && !dir {
        return Err(Errno::ENOTDIR);
    }
    super::sys_open::permitted(&st, 4, &t.creds())?;
    let wd = ino.add_watch(&Target { key, dir }, mask)?;
    Ok(wd as u64)
}

pub(crate) fn inotify_rm_watch(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = instance(t, a.fd(0))?;
    let ino = f.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    ino.rm_watch(a.int(1))?;
    Ok(0)
}
