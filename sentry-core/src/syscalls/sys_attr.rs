//! File attributes: mode, owner, times and size (chmod, chown, utimensat,
//! truncate, fallocate and their fd/`*at` forms), and the umask that
//! filters the mode of new files.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::SetAttr;

use super::at::{at, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use super::Args;

fn setattr_path(t: &mut Task, dirfd: u64, pa: u64, follow: bool, attr: SetAttr) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.setattr(s, &path, follow, &attr))?;
    Ok(0)
}

pub(crate) fn chmod(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(
        t,
        AT_FDCWD as u64,
        a[0],
        true,
        SetAttr {
            mode: Some(a[1] as u32 & 0o7777),
            ..Default::default()
        },
    )
}

pub(crate) fn fchmodat(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(
        t,
        a[0],
        a[1],
        true,
        SetAttr {
            mode: Some(a[2] as u32 & 0o7777),
            ..Default::default()
        },
    )
}

pub(crate) fn fchmod(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a[0] as i64)?;
    f.setattr(&SetAttr {
        mode: Some(a[1] as u32 & 0o7777),
        ..Default::default()
    })?;
    Ok(0)
}

fn owner(uid: u64, gid: u64) -> SetAttr {
    SetAttr {
        uid: (uid as u32 != u32::MAX).then_some(uid as u32),
        gid: (gid as u32 != u32::MAX).then_some(gid as u32),
        ..Default::default()
    }
}

pub(crate) fn chown(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(t, AT_FDCWD as u64, a[0], true, owner(a[1], a[2]))
}

pub(crate) fn lchown(t: &mut Task, a: &Args) -> SysResult<u64> {
    setattr_path(t, AT_FDCWD as u64, a[0], false, owner(a[1], a[2]))
}

pub(crate) fn fchownat(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[4] & AT_EMPTY_PATH != 0 && t.mm().read_cstring(a[1], 1)?.is_empty() {
        let f = t.fds().file(a[0] as i64)?;
        f.setattr(&owner(a[2], a[3]))?;
        return Ok(0);
    }
    setattr_path(
        t,
        a[0],
        a[1],
        a[4] & AT_SYMLINK_NOFOLLOW == 0,
        owner(a[2], a[3]),
    )
}

pub(crate) fn fchown(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a[0] as i64)?;
    f.setattr(&owner(a[1], a[2]))?;
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
    if a[2] != 0 {
        let mut b = [0u8; 32];
        t.mm().copy_in(a[2], &mut b)?;
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
    if a[1] == 0 {
        t.fds().file(a[0] as i64)?.setattr(&attr)?;
        return Ok(0);
    }
    setattr_path(t, a[0], a[1], a[3] & AT_SYMLINK_NOFOLLOW == 0, attr)
}

pub(crate) fn truncate(t: &mut Task, a: &Args) -> SysResult<u64> {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    setattr_path(
        t,
        AT_FDCWD as u64,
        a[0],
        true,
        SetAttr {
            size: Some(a[1]),
            ..Default::default()
        },
    )
}

pub(crate) fn ftruncate(t: &mut Task, a: &Args) -> SysResult<u64> {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    t.fds().file(a[0] as i64)?.truncate(a[1])?;
    Ok(0)
}

pub(crate) fn fallocate(t: &mut Task, a: &Args) -> SysResult<u64> {
    const KEEP_SIZE: u32 = 0x01;
    const PUNCH_HOLE: u32 = 0x02;
    // KEEP_SIZE, PUNCH_HOLE, COLLAPSE_RANGE, ZERO_RANGE, INSERT_RANGE, UNSHARE_RANGE.
    const KNOWN: u32 = 0x7b;
    let f = t.fds().file(a[0] as i64)?;
    let (mode, off, len) = (a[1] as u32, a[2] as i64, a[3] as i64);
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
    fs.umask = (a[0] & 0o777) as u32;
    Ok(old as u64)
}
