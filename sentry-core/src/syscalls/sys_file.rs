//! Paths, file descriptors and file metadata.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::{FdEntry, FileDescription, FileSystem, Start, Stat};

use super::Args;

const AT_FDCWD: i32 = libc::AT_FDCWD;
const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

/// Runs `f` with the lookup start for `dirfd` and `path`.
fn at<T>(
    t: &Task,
    dirfd: u64,
    path: &[u8],
    f: impl FnOnce(&dyn FileSystem, Start<'_>) -> SysResult<T>,
) -> SysResult<T> {
    let fs = t.kernel.fs.clone();
    let d = dirfd as i32;
    if path.first() == Some(&b'/') || d == AT_FDCWD {
        f(&*fs, Start::Cwd(&t.cwd()))
    } else {
        let dir = t.fds().file(d as i64)?;
        f(&*fs, Start::Dir(&dir))
    }
}

fn do_open(t: &mut Task, dirfd: u64, path_addr: u64, flags: u64) -> SysResult<u64> {
    let path = t.read_path(path_addr)?;
    let flags = flags as u32;
    let follow = flags & libc::O_NOFOLLOW as u32 == 0;
    let file = at(t, dirfd, &path, |fs, s| fs.open(s, &path, flags, follow))?;
    let fd = t.fds().install(
        FdEntry {
            file,
            cloexec: flags & libc::O_CLOEXEC as u32 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

pub(crate) fn open(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, AT_FDCWD as u64, a[0], a[1])
}

pub(crate) fn openat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, a[0], a[1], a[2])
}

pub(crate) fn close(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().close(a[0] as i64)?;
    Ok(0)
}

fn stat_path(t: &mut Task, dirfd: u64, path_addr: u64, flags: u64) -> SysResult<Stat> {
    let path = t.mm().read_cstring(path_addr, 4095)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd as i32 == AT_FDCWD {
            let cwd = t.cwd();
            return at(t, dirfd, cwd.as_bytes(), |fs, s| {
                fs.stat(s, cwd.as_bytes(), true)
            });
        }
        return t.fds().file(dirfd as i64)?.stat();
    }
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    at(t, dirfd, &path, |fs, s| fs.stat(s, &path, follow))
}

pub(crate) fn stat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, AT_FDCWD as u64, a[0], 0)?;
    t.mm().copy_out(a[1], &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn lstat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, AT_FDCWD as u64, a[0], AT_SYMLINK_NOFOLLOW)?;
    t.mm().copy_out(a[1], &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn fstat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = t.fds().file(a[0] as i64)?.stat()?;
    t.mm().copy_out(a[1], &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn newfstatat(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[3] & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_path(t, a[0], a[1], a[3])?;
    t.mm().copy_out(a[2], &st.to_bytes())?;
    Ok(0)
}

pub(crate) fn statx(t: &mut Task, a: &Args) -> SysResult<u64> {
    let st = stat_path(t, a[0], a[1], a[2])?;
    t.mm().copy_out(a[4], &st.to_statx())?;
    Ok(0)
}

fn do_readlink(t: &mut Task, dirfd: u64, path_addr: u64, buf: u64, size: u64) -> SysResult<u64> {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    // /proc is not emulated yet (process-model stage); its one link every
    // libc asks for is answered here rather than from the host's /proc.
    let target = if path == b"/proc/self/exe" || path == format!("/proc/{}/exe", t.pid).as_bytes() {
        t.exe.clone()
    } else {
        at(t, dirfd, &path, |fs, s| fs.readlink(s, &path))?
    };
    let n = target.len().min(size as usize);
    t.mm().copy_out(buf, &target[..n])?;
    Ok(n as u64)
}

pub(crate) fn readlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_readlink(t, AT_FDCWD as u64, a[0], a[1], a[2])
}

pub(crate) fn readlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_readlink(t, a[0], a[1], a[2], a[3])
}

fn do_access(t: &mut Task, dirfd: u64, path_addr: u64, mode: u64) -> SysResult<u64> {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    at(t, dirfd, &path, |fs, s| fs.access(s, &path, mode as u32))?;
    Ok(0)
}

pub(crate) fn access(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_access(t, AT_FDCWD as u64, a[0], a[1])
}

pub(crate) fn faccessat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_access(t, a[0], a[1], a[2])
}

pub(crate) fn faccessat2(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[3] & !(libc::AT_EACCESS as u64 | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    do_access(t, a[0], a[1], a[2])
}

pub(crate) fn getdents64(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    let len = (a[2] as usize).min(1 << 16);
    let mut buf = vec![0u8; len];
    let n = file.getdents64(&mut buf)?;
    t.mm().copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub(crate) fn getcwd(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut b = t.cwd().into_bytes();
    b.push(0);
    if (a[1] as usize) < b.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a[0], &b)?;
    Ok(b.len() as u64)
}

pub(crate) fn chdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.read_path(a[0])?;
    let dir = at(t, AT_FDCWD as u64, &path, |fs, s| fs.resolve_dir(s, &path))?;
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).cwd = dir;
    Ok(0)
}

pub(crate) fn ioctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    let req = a[1] & 0xffff_ffff;
    let size = match req {
        r if r == libc::TCGETS => 36,
        r if r == libc::TIOCGWINSZ => 8,
        _ => return Err(Errno::ENOTTY),
    };
    let mut out = vec![0u8; size];
    file.ioctl_tty(req, &mut out)?;
    t.mm().copy_out(a[2], &out)?;
    Ok(0)
}

fn dup_to(
    t: &mut Task,
    file: Arc<dyn FileDescription>,
    min: usize,
    cloexec: bool,
) -> SysResult<u64> {
    Ok(t.fds().install(FdEntry { file, cloexec }, min)? as u64)
}

pub(crate) fn fcntl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fd = a[0] as i64;
    let entry = t.fds().get(fd)?.clone();
    match a[1] as i32 {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(a[2] as i64).map_err(|_| Errno::EINVAL)?;
            if min >= crate::vfs::MAX_FDS {
                return Err(Errno::EINVAL);
            }
            dup_to(t, entry.file, min, a[1] as i32 == libc::F_DUPFD_CLOEXEC)
        }
        libc::F_GETFD => Ok(entry.cloexec as u64),
        libc::F_SETFD => {
            t.fds().set_cloexec(fd, a[2] & 1 != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(entry.file.status_flags() as u64),
        libc::F_SETFL => {
            entry.file.set_status_flags(a[2] as u32);
            Ok(0)
        }
        libc::F_GETPIPE_SZ => {
            if entry.file.as_any().is::<crate::fs::pipe::PipeEnd>() {
                Ok(crate::fs::pipe::PIPE_SIZE as u64)
            } else {
                Err(Errno::EBADF)
            }
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn dup(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    dup_to(t, file, 0, false)
}

pub(crate) fn dup2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if a[0] == a[1] {
        return Ok(a[1]);
    }
    let to = usize::try_from(a[1] as i64).map_err(|_| Errno::EBADF)?;
    t.fds().install_at(
        to,
        FdEntry {
            file,
            cloexec: false,
        },
    )?;
    Ok(a[1])
}

pub(crate) fn dup3(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] == a[1] || a[2] & !(libc::O_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fds().file(a[0] as i64)?;
    let to = usize::try_from(a[1] as i64).map_err(|_| Errno::EBADF)?;
    t.fds().install_at(
        to,
        FdEntry {
            file,
            cloexec: a[2] != 0,
        },
    )?;
    Ok(a[1])
}

pub(crate) fn pipe2(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[1] & !((libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::fs::pipe::new_pipe(a[1] & libc::O_NONBLOCK as u64 != 0);
    let cloexec = a[1] & libc::O_CLOEXEC as u64 != 0;
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
    if let Err(e) = t.mm().copy_out(a[0], &b) {
        let mut fds = t.fds();
        let _ = fds.close(rfd);
        let _ = fds.close(wfd);
        return Err(e);
    }
    Ok(0)
}

pub(crate) fn pipe(t: &mut Task, a: &Args) -> SysResult<u64> {
    pipe2(t, &[a[0], 0, 0, 0, 0, 0])
}
