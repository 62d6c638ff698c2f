//! Names in directories: mkdir, mknod, unlink, rmdir, rename, link,
//! symlink, readlink (and their `*at` forms).

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::{FileDescription, Start};

use super::at::{at, AT_EMPTY_PATH, AT_FDCWD};
use super::Args;

fn do_mkdir(t: &mut Task, dirfd: i32, pa: u64, mode: u32) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    let mode = mode & 0o7777 & !umask;
    at(t, dirfd, &path, |fs, s| fs.mkdir(s, &path, mode))?;
    Ok(0)
}

pub(crate) fn mkdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mkdir(t, AT_FDCWD, a.ptr(0), a.uint(1))
}

pub(crate) fn mkdirat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mkdir(t, a.fd(0), a.ptr(1), a.uint(2))
}

fn do_mknod(t: &mut Task, dirfd: i32, pa: u64, m: u32) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    match m & crate::vfs::S_IFMT {
        libc::S_IFIFO => {
            at(t, dirfd, &path, |fs, s| {
                fs.mknod_fifo(s, &path, m & 0o7777 & !umask)
            })?;
            Ok(0)
        }
        0 | libc::S_IFREG => {
            let f = at(t, dirfd, &path, |fs, s| {
                fs.open(
                    s,
                    &path,
                    (libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY) as u32,
                    m & 0o7777 & !umask,
                )
            })?;
            drop(f);
            Ok(0)
        }
        // Device nodes cannot be created in the sandbox.
        _ => Err(Errno::EPERM),
    }
}

pub(crate) fn mknod(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mknod(t, AT_FDCWD, a.ptr(0), a.uint(1))
}

pub(crate) fn mknodat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mknod(t, a.fd(0), a.ptr(1), a.uint(2))
}

fn do_unlink(t: &mut Task, dirfd: i32, pa: u64, dir: bool) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.unlink(s, &path, dir))?;
    Ok(0)
}

pub(crate) fn unlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_unlink(t, AT_FDCWD, a.ptr(0), false)
}

pub(crate) fn rmdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_unlink(t, AT_FDCWD, a.ptr(0), true)
}

pub(crate) fn unlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    const AT_REMOVEDIR: u32 = 0x200;
    let flags = a.uint(2);
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    do_unlink(t, a.fd(0), a.ptr(1), flags & AT_REMOVEDIR != 0)
}

fn do_rename(t: &mut Task, d1: i32, p1: u64, d2: i32, p2: u64, flags: u32) -> SysResult<u64> {
    if flags & !3 != 0 || flags == 3 {
        return Err(Errno::EINVAL);
    }
    let from = t.read_path(p1)?;
    let to = t.read_path(p2)?;
    let fs = t.root();
    let cwd = t.cwd();
    let start = |d: i32, p: &[u8]| -> SysResult<Option<Arc<dyn FileDescription>>> {
        if p.first() == Some(&b'/') || d == AT_FDCWD {
            Ok(None)
        } else {
            Ok(Some(t.fds().file(d.into())?))
        }
    };
    let (f1, f2) = (start(d1, &from)?, start(d2, &to)?);
    let s1 = f1
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    let s2 = f2
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    fs.rename(&s1, &from, &s2, &to, flags)?;
    Ok(0)
}

pub(crate) fn rename(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, AT_FDCWD, a.ptr(0), AT_FDCWD, a.ptr(1), 0)
}

pub(crate) fn renameat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, a.fd(0), a.ptr(1), a.fd(2), a.ptr(3), 0)
}

pub(crate) fn renameat2(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, a.fd(0), a.ptr(1), a.fd(2), a.ptr(3), a.uint(4))
}

fn do_link(t: &mut Task, d1: i32, p1: u64, d2: i32, p2: u64, flags: u32) -> SysResult<u64> {
    const AT_SYMLINK_FOLLOW: u32 = 0x400;
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let from = t.read_path(p1)?;
    let to = t.read_path(p2)?;
    let fs = t.root();
    let cwd = t.cwd();
    let f1 = if from.first() == Some(&b'/') || d1 == AT_FDCWD {
        None
    } else {
        Some(t.fds().file(d1.into())?)
    };
    let f2 = if to.first() == Some(&b'/') || d2 == AT_FDCWD {
        None
    } else {
        Some(t.fds().file(d2.into())?)
    };
    let s1 = f1
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    let s2 = f2
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    fs.link(&s1, &from, &s2, &to, flags & AT_SYMLINK_FOLLOW != 0)?;
    Ok(0)
}

pub(crate) fn link(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_link(t, AT_FDCWD, a.ptr(0), AT_FDCWD, a.ptr(1), 0)
}

pub(crate) fn linkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_link(t, a.fd(0), a.ptr(1), a.fd(2), a.ptr(3), a.uint(4))
}

fn do_symlink(t: &mut Task, target: u64, dirfd: i32, pa: u64) -> SysResult<u64> {
    let target = t.mm().read_cstring(target, 4095)?;
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.symlink(&target, s, &path))?;
    Ok(0)
}

pub(crate) fn symlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_symlink(t, a.ptr(0), AT_FDCWD, a.ptr(1))
}

pub(crate) fn symlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_symlink(t, a.ptr(0), a.fd(1), a.ptr(2))
}

fn do_readlink(t: &mut Task, dirfd: i32, path_addr: u64, buf: u64, size: i32) -> SysResult<u64> {
    // bufsiz is an int.
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if size == 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let target = at(t, dirfd, &path, |fs, s| fs.readlink(s, &path))?;
    let n = target.len().min(size);
    t.mm().copy_out(buf, &target[..n])?;
    Ok(n as u64)
}

pub(crate) fn readlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_readlink(t, AT_FDCWD, a.ptr(0), a.ptr(1), a.int(2))
}

pub(crate) fn readlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_readlink(t, a.fd(0), a.ptr(1), a.ptr(2), a.int(3))
}
