//! Directories as a process sees them: getcwd, chdir, fchdir, getdents64.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::Start;

use super::at::{at, AT_FDCWD};
use super::Args;

pub(crate) fn getcwd(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut b = task_path(t, &t.cwd()).into_bytes();
    b.push(0);
    if a.len(1) < b.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a.ptr(0), &b)?;
    Ok(b.len() as u64)
}

/// A real path as the task sees it from its root (chroot): inside it, the path below it;
/// outside, Linux's "(unreachable)" prefix.
pub(crate) fn task_path(t: &Task, real: &str) -> String {
    let Some(root) = crate::vfs::TaskContext::chroot(t) else {
        return real.to_string();
    };
    if real == root {
        return "/".to_string();
    }
    match real.strip_prefix(root.as_str()) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => format!("(unreachable){real}"),
    }
}

/// chroot(2): needs CAP_SYS_CHROOT; the directory is found (and searched) as chdir finds it.
pub(crate) fn chroot(t: &mut Task, a: &Args) -> SysResult<u64> {
    const CAP_SYS_CHROOT: u32 = 18;
    let path = t.read_path(a.ptr(0))?;
    let dir = at(t, AT_FDCWD, &path, |fs, s| fs.resolve_dir(s, &path))?;
    t.root().access(
        &Start::real(t, "/"),
        dir.as_bytes(),
        1,
        t.creds().uid[3],
        t.creds().gid[3],
    )?;
    if !super::sys_priv::capable(t, CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).chroot = (dir != "/").then_some(dir);
    Ok(0)
}

pub(crate) fn chdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.read_path(a.ptr(0))?;
    let dir = at(t, AT_FDCWD, &path, |fs, s| fs.resolve_dir(s, &path))?;
    t.root().access(
        &Start::real(t, "/"),
        dir.as_bytes(),
        1,
        t.creds().uid[3],
        t.creds().gid[3],
    )?;
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).cwd = dir;
    Ok(0)
}

pub(crate) fn fchdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    let p = f.path().ok_or(Errno::ENOTDIR)?;
    if f.stat()?.mode & crate::vfs::S_IFMT != crate::vfs::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).cwd = p;
    Ok(0)
}

/// The legacy getdents: `linux_dirent` records (d_ino, d_off, d_reclen, the name with its
/// NUL, then d_type in the record's last byte). On x86-64 a record has the same length as
/// its `linux_dirent64` twin (both align 20 + name length to 8), so the entries are read as
/// getdents64 and rewritten in place.
pub(crate) fn getdents(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a.fd(0).into())?;
    let count = a.uint(2) as usize;
    let len = count.min(1 << 16);
    let len = t
        .mm()
        .accessible_len(a.ptr(1), len, crate::platform::Access::Write)?;
    let mut buf = vec![0u8; len];
    let n = file.getdents64(&mut buf)?;
    let mut at = 0usize;
    while at + 19 <= n {
        let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
        if reclen < 20 || at + reclen > n {
            return Err(Errno::EIO);
        }
        let rec = &mut buf[at..at + reclen];
        let d_type = rec[18];
        let name_len = rec[19..]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(reclen - 19);
        rec.copy_within(19..19 + name_len, 18);
        rec[18 + name_len] = 0;
        rec[reclen - 1] = d_type;
        at += reclen;
    }
    t.mm().copy_out(a.ptr(1), &buf[..n])?;
    Ok(n as u64)
}

pub(crate) fn getdents64(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a.fd(0).into())?;
    // The count is an int in Linux: "negative" ones fit no entry. Only
    // what is mapped behind the buffer is filled (no entry is consumed
    // that cannot be copied out).
    let count = a.int(2);
    if count < 0 {
        return Err(Errno::EINVAL);
    }
    let len = (count as usize).min(1 << 16);
    let len = t
        .mm()
        .accessible_len(a.ptr(1), len, crate::platform::Access::Write)?;
    let mut buf = vec![0u8; len];
    let n = file.getdents64(&mut buf)?;
    t.mm().copy_out(a.ptr(1), &buf[..n])?;
    Ok(n as u64)
}
