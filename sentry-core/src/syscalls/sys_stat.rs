//! File status and access checks: stat, lstat, fstat, newfstatat, statx,
//! access, faccessat, faccessat2, statfs, fstatfs.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::Stat;

use super::at::{at, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use super::Args;

fn stat_path(t: &mut Task, dirfd: i32, path_addr: u64, flags: u32) -> SysResult<Stat> {
    let path = t.mm().read_cstring(path_addr, 4095)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            let cwd = t.cwd();
            return at(t, dirfd, cwd.as_bytes(), |fs, s| {
                fs.stat(s, cwd.as_bytes(), true)
            });
        }
        return t.fds().file(dirfd.into())?.stat();
    }
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    at(t, dirfd, &path, |fs, s| fs.stat(s, &path, follow))
}

pub(crate) fn stat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, AT_FDCWD, a.ptr(0), 0)?;
    t.mm().copy_out(a.ptr(1), &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn lstat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, AT_FDCWD, a.ptr(0), AT_SYMLINK_NOFOLLOW)?;
    t.mm().copy_out(a.ptr(1), &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn fstat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = t.fds().file(a.fd(0).into())?.stat()?;
    t.mm().copy_out(a.ptr(1), &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn newfstatat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let flags = a.uint(3);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT as u32) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_path(t, a.fd(0), a.ptr(1), flags)?;
    t.mm().copy_out(a.ptr(2), &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn statx(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, a.fd(0), a.ptr(1), a.uint(2))?;
    t.mm().copy_out(a.ptr(4), &st.to_statx())?;
    Ok(0)
}

fn do_access(t: &mut Task, dirfd: i32, path_addr: u64, mode: u32) -> SysResult<u64> {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let (uid, gid) = {
        let c = t.creds();
        (c.uid[3], c.gid[3])
    };
    at(t, dirfd, &path, |fs, s| fs.access(s, &path, mode, uid, gid))?;
    Ok(0)
}

pub(crate) fn access(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_access(t, AT_FDCWD, a.ptr(0), a.uint(1))
}

pub(crate) fn faccessat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_access(t, a.fd(0), a.ptr(1), a.uint(2))
}

pub(crate) fn faccessat2(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a.uint(3) & !(libc::AT_EACCESS as u32 | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    do_access(t, a.fd(0), a.ptr(1), a.uint(2))
}

const TMPFS_MAGIC: u64 = 0x0102_1994;

fn statfs_bytes(ty: u64, mem: &crate::platform::MemoryFile) -> [u8; 120] {
    // struct statfs: f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files,
    // f_ffree, f_fsid (2×i32), f_namelen, f_frsize, f_flags, f_spare[4].
    let mut b = [0u8; 120];
    let (blocks, free) = if ty == TMPFS_MAGIC {
        // tmpfs data lives in the memory file: its size and free pages.
        let total = mem.size() / 4096;
        (total, total.saturating_sub(mem.pages_in_use()))
    } else {
        (1 << 24, 1 << 23)
    };
    let vals: [u64; 7] = [ty, 4096, blocks, free, free, 1 << 20, 1 << 19];
    for (i, v) in vals.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b[64..72].copy_from_slice(&255u64.to_le_bytes());
    b[72..80].copy_from_slice(&4096u64.to_le_bytes());
    b
}

pub(crate) fn statfs(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.read_path(a.ptr(0))?;
    let cwd = t.cwd();
    let ty = t.root().fs_type(&crate::vfs::Start::cwd(t, &cwd), &path)?;
    let b = statfs_bytes(ty, t.mm().memory());
    t.mm().copy_out(a.ptr(1), &b)?;
    Ok(0)
}

pub(crate) fn fstatfs(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    let ty = match f.path() {
        Some(p) => t
            .kernel
            .fs
            .fs_type(&crate::vfs::Start::real(t, "/"), p.as_bytes())
            .unwrap_or(TMPFS_MAGIC),
        None => 0x5049_5045, // pipefs
    };
    let b = statfs_bytes(ty, t.mm().memory());
    t.mm().copy_out(a.ptr(1), &b)?;
    Ok(0)
}
