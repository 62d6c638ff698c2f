//! Extended attributes: get/set/list/remove, by path, by path without
//! following a last symlink, and by fd.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::Start;

use super::Args;

/// Which xattr call: by path (following links or not) or by fd.
#[derive(Clone, Copy)]
enum XTarget {
    Path(bool),
    Fd,
}

fn xattr_fs(
    t: &mut Task,
    which: XTarget,
    a: &Args,
) -> SysResult<(Arc<dyn crate::vfs::Fs>, String, String)> {
    let (path, follow) = match which {
        XTarget::Fd => {
            let f = t.fds().file(a.fd(0).into())?;
            (f.path().ok_or(Errno::EOPNOTSUPP)?.into_bytes(), true)
        }
        XTarget::Path(follow) => (t.read_path(a.ptr(0))?, follow),
    };
    let fs = t.root();
    let cwd = t.cwd();
    fs.xattr_target(&Start::cwd(t, &cwd), &path, follow)
}

/// IN_ATTRIB for a changed extended attribute of `abs`.
fn attrib(t: &mut Task, abs: &str) {
    let root = t.root();
    root.file_event_abs(t, abs, crate::vfs::notify::IN_ATTRIB);
}

fn xattr_name(t: &mut Task, addr: u64) -> SysResult<String> {
    let n = t.mm().read_cstring(addr, 255).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    let n = String::from_utf8(n).map_err(|_| Errno::EINVAL)?;
    let ns_ok = n.starts_with("user.")
        || (t.creds().privileged() && (n.starts_with("trusted.") || n.starts_with("security.")));
    if n.is_empty() {
        return Err(Errno::ERANGE);
    }
    if !ns_ok {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(n)
}

fn do_getxattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (fs, rel, _) = xattr_fs(t, which, a)?;
    let name = xattr_name(t, a.ptr(1))?;
    let v = fs.getxattr(&rel, &name)?;
    let size = a.len(3);
    if size == 0 {
        return Ok(v.len() as u64);
    }
    if size < v.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a.ptr(2), &v)?;
    Ok(v.len() as u64)
}

fn do_setxattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (size, flags) = (a.len(3), a.int(4));
    if size > 65536 || flags & !3 != 0 {
        return Err(if size > 65536 {
            Errno::E2BIG
        } else {
            Errno::EINVAL
        });
    }
    let (fs, rel, abs) = xattr_fs(t, which, a)?;
    let name = xattr_name(t, a.ptr(1))?;
    let mut v = vec![0u8; size];
    t.mm().copy_in(a.ptr(2), &mut v)?;
    fs.setxattr(&rel, &name, &v, flags as u32)?;
    attrib(t, &abs);
    Ok(0)
}

fn do_listxattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (fs, rel, _) = xattr_fs(t, which, a)?;
    let names = fs.listxattr(&rel)?;
    let mut b = Vec::new();
    for n in names {
        b.extend_from_slice(n.as_bytes());
        b.push(0);
    }
    let size = a.len(2);
    if size == 0 {
        return Ok(b.len() as u64);
    }
    if size < b.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a.ptr(1), &b)?;
    Ok(b.len() as u64)
}

fn do_removexattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (fs, rel, abs) = xattr_fs(t, which, a)?;
    let name = xattr_name(t, a.ptr(1))?;
    fs.removexattr(&rel, &name)?;
    attrib(t, &abs);
    Ok(0)
}

pub(crate) fn setxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_setxattr(t, XTarget::Path(true), a)
}

pub(crate) fn lsetxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_setxattr(t, XTarget::Path(false), a)
}

pub(crate) fn fsetxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_setxattr(t, XTarget::Fd, a)
}

pub(crate) fn getxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_getxattr(t, XTarget::Path(true), a)
}

pub(crate) fn lgetxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_getxattr(t, XTarget::Path(false), a)
}

pub(crate) fn fgetxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_getxattr(t, XTarget::Fd, a)
}

pub(crate) fn listxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_listxattr(t, XTarget::Path(true), a)
}

pub(crate) fn llistxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_listxattr(t, XTarget::Path(false), a)
}

pub(crate) fn flistxattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_listxattr(t, XTarget::Fd, a)
}

pub(crate) fn removexattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_removexattr(t, XTarget::Path(true), a)
}

pub(crate) fn lremovexattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_removexattr(t, XTarget::Path(false), a)
}

pub(crate) fn fremovexattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_removexattr(t, XTarget::Fd, a)
}
