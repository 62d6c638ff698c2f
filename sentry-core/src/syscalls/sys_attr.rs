//! File attributes: mode, owner, times and size (chmod, chown, utimensat,
//! truncate, fallocate and their fd/`*at` forms), and the umask that
//! filters the mode of new files.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::SetAttr;

use super::at::{at, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use super::Args;

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
    f.setattr(&SetAttr {
        mode: Some(a.uint(1) & 0o7777),
        ..Default::default()
    })?;
    Ok(0)
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
        f.setattr(&owner(a.uint(2), a.uint(3)))?;
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
    f.setattr(&owner(a.uint(1), a.uint(2)))?;
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
        t.fds().file(a.fd(0).into())?.setattr(&attr)?;
        return Ok(0);
    }
    setattr_path(
        t,
        a.fd(0),
        a.ptr(1),
        a.uint(3) & AT_SYMLINK_NOFOLLOW == 0,
        attr,
    )
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
