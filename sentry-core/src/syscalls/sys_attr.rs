//! File attributes: mode, owner, times and size (chmod, chown, utimensat,
//! truncate, fallocate and their fd/`*at` forms), and the umask that
//! filters the mode of new files.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::SetAttr;

use super::at::{at, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use super::Args;

/// fchmod/fchown/futimens on an open file. A directory's open description may not carry the
/// inode (an overlay's merged listing answers EROFS): then the change goes through the path
/// it was opened by, not following a final symlink.
fn fd_setattr(
    t: &mut Task,
    f: &std::sync::Arc<dyn crate::vfs::FileDescription>,
    attr: SetAttr,
) -> SysResult<u64> {
    match f.setattr(&attr) {
        Err(Errno::EROFS)
            if f.stat()
                .is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFDIR) =>
        {
            let Some(path) = f.path() else {
                return Err(Errno::EROFS);
            };
            let path = path.into_bytes();
            t.root()
                .setattr(&crate::vfs::Start::real(t, "/"), &path, false, &attr)?;
            Ok(0)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(0),
    }
}

fn setattr_path(t: &mut Task, dirfd: i32, pa: u64, follow: bool, attr: SetAttr) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.setattr(s, &path, follow, &attr))?;
    Ok(0)
}

pub(crate) fn chmod(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(
        t,
        AT_FDCWD,
        a.ptr(0),
        true,
        SetAttr {
            mode: Some(a.uint(1) & 0o7777),
            ..Default::default()
        },
    )
}

pub(crate) fn fchmodat(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(
        t,
        a.fd(0),
        a.ptr(1),
        true,
        SetAttr {
            mode: Some(a.uint(2) & 0o7777),
            ..Default::default()
        },
    )
}

pub(crate) fn fchmod(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    fd_setattr(
        t,
        &f,
        SetAttr {
            mode: Some(a.uint(1) & 0o7777),
            ..Default::default()
        },
    )
}

fn owner(uid: u32, gid: u32) -> SetAttr {
    SetAttr {
        uid: (uid != u32::MAX).then_some(uid),
        gid: (gid != u32::MAX).then_some(gid),
        ..Default::default()
    }
}

pub(crate) fn chown(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(t, AT_FDCWD, a.ptr(0), true, owner(a.uint(1), a.uint(2)))
}

pub(crate) fn lchown(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(t, AT_FDCWD, a.ptr(0), false, owner(a.uint(1), a.uint(2)))
}

pub(crate) fn fchownat(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a.uint(4) & AT_EMPTY_PATH != 0 && t.mm().read_cstring(a.ptr(1), 1)?.is_empty() {
        let f = t.fds().file(a.fd(0).into())?;
        fd_setattr(t, &f, owner(a.uint(2), a.uint(3)))?;
        return Ok(0);
    }
    setattr_path(
        t,
        a.fd(0),
        a.ptr(1),
        a.uint(4) & AT_SYMLINK_NOFOLLOW == 0,
        owner(a.uint(2), a.uint(3)),
    )
}

pub(crate) fn fchown(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    fd_setattr(t, &f, owner(a.uint(1), a.uint(2)))?;
    Ok(0)
}

fn now_ts() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos() as i64)
}

pub(crate) fn utimensat(t: &mut Task, a: &Args) -> SysResult<u64> {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let mut times = [now_ts(), now_ts()];
    let mut set = [true, true];
    if a.ptr(2) != 0 {
        let mut b = [0u8; 32];
        t.mm().copy_in(a.ptr(2), &mut b)?;
        for i in 0..2 {
            let s = i64::from_le_bytes(
                b[i * 16..i * 16 + 8]
                    .try_into()
                    .map_err(|_| Errno::EFAULT)?,
            );
            let ns = i64::from_le_bytes(
                b[i * 16 + 8..i * 16 + 16]
                    .try_into()
                    .map_err(|_| Errno::EFAULT)?,
            );
            match ns {
                UTIME_NOW => {}
                UTIME_OMIT => set[i] = false,
                0..=999_999_999 => times[i] = (s, ns),
                _ => return Err(Errno::EINVAL),
            }
        }
    }
    let attr = SetAttr {
        atime: set[0].then_some(times[0]),
        mtime: set[1].then_some(times[1]),
        ..Default::default()
    };
    if a.ptr(1) == 0 {
        let f = t.fds().file(a.fd(0).into())?;
        return fd_setattr(t, &f, attr);
    }
    setattr_path(
        t,
        a.fd(0),
        a.ptr(1),
        a.uint(3) & AT_SYMLINK_NOFOLLOW == 0,
        attr,
    )
}

/// The times of utime/utimes/futimesat: None (NULL: now), or atime and mtime.
/// `usec`: two `struct timeval` (microseconds must be 0..1e6, else EINVAL);
/// otherwise a `struct utimbuf` (two whole seconds).
fn old_times(t: &mut Task, p: u64, usec: bool) -> SysResult<SetAttr> {
    if p == 0 {
        let now = now_ts();
        return Ok(SetAttr {
            atime: Some(now),
            mtime: Some(now),
            ..Default::default()
        });
    }
    let mut b = [0u8; 32];
    let n = if usec { 32 } else { 16 };
    t.mm().copy_in(p, &mut b[..n])?;
    let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let times = if usec {
        let mut v = [(0i64, 0i64); 2];
        for (i, slot) in v.iter_mut().enumerate() {
            let (s, us) = (word(i * 2), word(i * 2 + 1));
            if !(0..1_000_000).contains(&us) {
                return Err(Errno::EINVAL);
            }
            *slot = (s, us * 1000);
        }
        v
    } else {
        [(word(0), 0), (word(1), 0)]
    };
    Ok(SetAttr {
        atime: Some(times[0]),
        mtime: Some(times[1]),
        ..Default::default()
    })
}

pub(crate) fn utime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let attr = old_times(t, a.ptr(1), false)?;
    setattr_path(t, AT_FDCWD, a.ptr(0), true, attr)
}

pub(crate) fn utimes(t: &mut Task, a: &Args) -> SysResult<u64> {
    let attr = old_times(t, a.ptr(1), true)?;
    setattr_path(t, AT_FDCWD, a.ptr(0), true, attr)
}

/// futimesat(dirfd, path, times): as utimes relative to `dirfd`; a NULL path
/// changes `dirfd` itself.
pub(crate) fn futimesat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let attr = old_times(t, a.ptr(2), true)?;
    if a.ptr(1) == 0 {
        let f = t.fds().file(a.fd(0).into())?;
        return fd_setattr(t, &f, attr);
    }
    setattr_path(t, a.fd(0), a.ptr(1), true, attr)
}

pub(crate) fn truncate(t: &mut Task, a: &Args) -> SysResult<u64> {
    let size = u64::try_from(a.long(1)).map_err(|_| Errno::EINVAL)?;
    setattr_path(
        t,
        AT_FDCWD,
        a.ptr(0),
        true,
        SetAttr {
            size: Some(size),
            ..Default::default()
        },
    )
}

pub(crate) fn ftruncate(t: &mut Task, a: &Args) -> SysResult<u64> {
    let size = u64::try_from(a.long(1)).map_err(|_| Errno::EINVAL)?;
    t.fds().file(a.fd(0).into())?.truncate(size)?;
    Ok(0)
}

pub(crate) fn fallocate(t: &mut Task, a: &Args) -> SysResult<u64> {
    const KEEP_SIZE: u32 = 0x01;
    const PUNCH_HOLE: u32 = 0x02;
    // KEEP_SIZE, PUNCH_HOLE, COLLAPSE_RANGE, ZERO_RANGE, INSERT_RANGE, UNSHARE_RANGE.
    const KNOWN: u32 = 0x7b;
    let f = t.fds().file(a.fd(0).into())?;
    let (mode, off, len) = (a.uint(1), a.long(2), a.long(3));
    // The order of Linux's vfs_fallocate checks.
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !KNOWN != 0 || (mode & PUNCH_HOLE != 0 && mode & KEEP_SIZE == 0) {
        return Err(Errno::EOPNOTSUPP);
    }
    if f.status_flags() as i32 & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Errno::EBADF);
    }
    match f.stat()?.mode & crate::vfs::S_IFMT {
        libc::S_IFIFO => return Err(Errno::ESPIPE),
        libc::S_IFDIR => return Err(Errno::EISDIR),
        libc::S_IFREG => {}
        _ => return Err(Errno::ENODEV),
    }
    off.checked_add(len).ok_or(Errno::EFBIG)?;
    if mode & !(KEEP_SIZE | PUNCH_HOLE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    f.allocate(mode, off as u64, len as u64)?;
    Ok(0)
}

pub(crate) fn umask(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut fs = t.fsctx.lock().unwrap_or_else(|p| p.into_inner());
    let old = fs.umask;
    fs.umask = a.uint(0) & 0o777;
    Ok(old as u64)
}
