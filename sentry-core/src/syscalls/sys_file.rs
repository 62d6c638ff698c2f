//! Paths, file descriptors and file metadata.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::{FdEntry, FileDescription, SetAttr, Start, Stat, Vfs};

use super::Args;

const AT_FDCWD: i32 = libc::AT_FDCWD;
const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

/// Runs `f` with the lookup start for `dirfd` and `path`.
fn at<T>(
    t: &Task,
    dirfd: u64,
    path: &[u8],
    f: impl FnOnce(&Vfs, &Start<'_>) -> SysResult<T>,
) -> SysResult<T> {
    let fs = t.root();
    let d = dirfd as i32;
    if path.first() == Some(&b'/') || d == AT_FDCWD {
        f(&fs, &Start::cwd(t, &t.cwd()))
    } else {
        let dir = t.fds().file(d as i64)?;
        f(&fs, &Start::dir(t, &dir))
    }
}

/// Whether the task's credentials allow `want` (4 read, 2 write, 1
/// search) on a file with `st`: by the file-system ids and groups; the
/// file-system root with CAP_DAC_OVERRIDE passes.
fn permitted(st: &Stat, want: u32, c: &crate::kernel::task::Creds) -> SysResult<()> {
    const CAP_DAC_OVERRIDE: u64 = 1 << 1;
    if want == 0 || (c.uid[3] == 0 && c.caps.effective & CAP_DAC_OVERRIDE != 0) {
        return Ok(());
    }
    let bits = if st.uid == c.uid[3] {
        (st.mode >> 6) & 7
    } else if st.gid == c.gid[3] || c.groups.contains(&st.gid) {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    if bits & want == want {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// What open `flags` ask of an existing file: read 4, write 2.
fn open_access(flags: u32) -> u32 {
    let fl = flags as i32;
    if fl & libc::O_PATH != 0 {
        return 0;
    }
    let mut want = match fl & libc::O_ACCMODE {
        libc::O_RDONLY => 4,
        libc::O_WRONLY => 2,
        _ => 6,
    };
    if fl & libc::O_TRUNC != 0 {
        want |= 2;
    }
    want
}

/// open(2) of a /proc/[pid]/fd/N link to `target`: a new description of the
/// same file, as Linux does: by its path while that still names it, else
/// through the file itself (a pipe opens the end the mode asks for, a host
/// stream reopens, a deleted file still opens); anything else (epoll,
/// eventfd, ...) is ENXIO.
fn reopen(
    t: &mut Task,
    target: Arc<dyn FileDescription>,
    flags: u32,
) -> SysResult<Arc<dyn FileDescription>> {
    let st = target.stat()?;
    let kind = st.mode & crate::vfs::S_IFMT;
    if kind == libc::S_IFREG || kind == libc::S_IFDIR {
        permitted(&st, open_access(flags), &t.creds())?;
    }
    let flags = flags & !((libc::O_CREAT | libc::O_EXCL) as u32);
    if let Some(p) = target.path() {
        let root = t.root();
        if let Ok(f) = root.open(&Start::cwd(t, "/"), p.as_bytes(), flags, 0) {
            if f.stat().is_ok_and(|s| s.dev == st.dev && s.ino == st.ino) {
                return Ok(f);
            }
        }
    }
    match target.reopen(flags) {
        Some(r) => r,
        None if target.path().is_some() => Err(Errno::ENOENT),
        None => Err(Errno::ENXIO),
    }
}

fn do_open(t: &mut Task, dirfd: u64, path_addr: u64, flags: u64, mode: u64) -> SysResult<u64> {
    let path = t.read_path(path_addr)?;
    let flags = flags as u32;
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    let mode = (mode as u32) & 0o7777 & !umask;
    let fl = flags as i32;
    let follow = fl & libc::O_NOFOLLOW == 0;
    let stat = at(t, dirfd, &path, |fs, s| fs.stat(s, &path, follow));
    // A /proc/[pid]/fd/N link (also behind /dev/std*, /dev/fd or a link of
    // the app's) is looked for only where one can be: a path naming one,
    // or one that does not resolve as a plain path (a pipe's link target
    // "pipe:[N]" does not), which spares ordinary opens a second walk.
    let maybe_magic = stat.is_err()
        || path.windows(2).any(|w| w == b"fd")
        || path.windows(3).any(|w| w == b"std");
    let magic = if follow && maybe_magic {
        at(t, dirfd, &path, |fs, s| fs.fd_link(s, &path))?
    } else {
        None
    };
    let file = match magic {
        _ if flags & O_TMPFILE == O_TMPFILE => open_tmpfile(t, dirfd, &path, flags, mode)?,
        Some(target) => reopen(t, target, flags)?,
        None => {
            // The file's mode bits against the caller's ids (the parent
            // directory's for a file to be created).
            let creds = t.creds();
            match stat {
                Ok(st) => {
                    if st.mode & crate::vfs::S_IFMT != crate::vfs::S_IFLNK {
                        permitted(&st, open_access(flags), &creds)?;
                    }
                }
                Err(Errno::ENOENT) if fl & libc::O_CREAT != 0 => {
                    let parent = match path.iter().rposition(|&b| b == b'/') {
                        Some(0) => b"/".to_vec(),
                        Some(i) => path[..i].to_vec(),
                        None => b".".to_vec(),
                    };
                    if let Ok(st) = at(t, dirfd, &parent, |fs, s| fs.stat(s, &parent, true)) {
                        permitted(&st, 3, &creds)?;
                    }
                }
                Err(_) => {}
            }
            at(t, dirfd, &path, |fs, s| fs.open(s, &path, flags, mode))?
        }
    };
    let fd = t.fds().install(
        FdEntry {
            file,
            cloexec: flags & libc::O_CLOEXEC as u32 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

/// O_TMPFILE (with its O_DIRECTORY bit).
const O_TMPFILE: u32 = 0o20200000;

/// O_TMPFILE: an unnamed regular file in directory `dir`, made as a file
/// with a fresh unique name that is unlinked at once (it lives until its last
/// close, as an unlinked open file does). Unlike Linux's, it cannot be given
/// a name later with linkat(AT_EMPTY_PATH).
fn open_tmpfile(
    t: &mut Task,
    dirfd: u64,
    dir: &[u8],
    flags: u32,
    mode: u32,
) -> SysResult<Arc<dyn FileDescription>> {
    let acc = flags & libc::O_ACCMODE as u32;
    if acc != libc::O_WRONLY as u32 && acc != libc::O_RDWR as u32
        || flags & libc::O_CREAT as u32 != 0
    {
        return Err(Errno::EINVAL);
    }
    let st = at(t, dirfd, dir, |fs, s| fs.stat(s, dir, true))?;
    if st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    // Creating in the directory needs write and search permission there.
    permitted(&st, 3, &t.creds())?;
    let fl = (flags & !O_TMPFILE) | (libc::O_CREAT | libc::O_EXCL) as u32;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for _ in 0..16 {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut path = dir.to_vec();
        path.extend_from_slice(format!("/.#tmpfile.{}.{n}", t.tid).as_bytes());
        match at(t, dirfd, &path, |fs, s| fs.open(s, &path, fl, mode)) {
            Ok(file) => {
                at(t, dirfd, &path, |fs, s| fs.unlink(s, &path, false))?;
                return Ok(file);
            }
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EEXIST)
}

pub(crate) fn open(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, AT_FDCWD as u64, a[0], a[1], a[2])
}

pub(crate) fn creat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fl = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64;
    do_open(t, AT_FDCWD as u64, a[0], fl, a[1])
}

pub(crate) fn openat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, a[0], a[1], a[2], a[3])
}

pub(crate) fn close(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a[0] as i64)?;
    t.fds().close(a[0] as i64)?;
    // POSIX locks of this process on the file go with any of its fds.
    if let Ok(st) = f.stat() {
        t.kernel.locks.release_process((st.dev, st.ino), t.pid);
    }
    drop(f);
    t.kernel.locks.file_closed();
    Ok(0)
}

fn read_flock(t: &Task, addr: u64, f: &Arc<dyn FileDescription>) -> SysResult<(i16, u64, u64)> {
    let mut b = [0u8; 32];
    t.mm().copy_in(addr, &mut b)?;
    let ty = i16::from_le_bytes([b[0], b[1]]);
    let whence = i16::from_le_bytes([b[2], b[3]]);
    let start = i64::from_le_bytes(b[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    let len = i64::from_le_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
    let base = match whence {
        0 => 0,
        1 => f.seek(0, crate::vfs::Whence::Cur).unwrap_or(0) as i64,
        2 => f.stat()?.size,
        _ => return Err(Errno::EINVAL),
    };
    let mut s = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let mut e = if len == 0 {
        i64::MAX
    } else {
        s.checked_add(len).ok_or(Errno::EOVERFLOW)?
    };
    if len < 0 {
        e = s;
        s += len;
    }
    if s < 0 {
        return Err(Errno::EINVAL);
    }
    let end = if len == 0 { u64::MAX } else { e as u64 };
    Ok((ty, s as u64, end))
}

fn fcntl_lock(t: &mut Task, fd: i64, cmd: i32, addr: u64) -> SysResult<u64> {
    use crate::vfs::locks::{file_owner, Owner};
    const F_OFD_GETLK: i32 = 36;
    const F_OFD_SETLK: i32 = 37;
    const F_OFD_SETLKW: i32 = 38;
    let f = t.fds().file(fd)?;
    let (ty, start, end) = read_flock(t, addr, &f)?;
    let st = f.stat()?;
    let key = (st.dev, st.ino);
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    let owner = if ofd {
        file_owner(&f)
    } else {
        Owner::Process(t.pid)
    };
    let (rd, wr, un) = (
        libc::F_RDLCK as i16,
        libc::F_WRLCK as i16,
        libc::F_UNLCK as i16,
    );
    if ty != rd && ty != wr && ty != un {
        return Err(Errno::EINVAL);
    }
    let acc = f.status_flags() as i32 & libc::O_ACCMODE;
    match cmd {
        libc::F_GETLK | F_OFD_GETLK => {
            let mut b = [0u8; 32];
            t.mm().copy_in(addr, &mut b)?;
            match t.kernel.locks.test(key, &owner, start, end, ty == wr) {
                None => b[0..2].copy_from_slice(&un.to_le_bytes()),
                Some((w, s, e, pid)) => {
                    b[0..2].copy_from_slice(&(if w { wr } else { rd }).to_le_bytes());
                    b[2..4].copy_from_slice(&0i16.to_le_bytes());
                    b[8..16].copy_from_slice(&(s as i64).to_le_bytes());
                    let len = if e == u64::MAX { 0 } else { (e - s) as i64 };
                    b[16..24].copy_from_slice(&len.to_le_bytes());
                    b[24..28].copy_from_slice(&pid.to_le_bytes());
                }
            }
            t.mm().copy_out(addr, &b)?;
            Ok(0)
        }
        _ => {
            if (ty == rd && acc == libc::O_WRONLY) || (ty == wr && acc == libc::O_RDONLY) {
                return Err(Errno::EBADF);
            }
            let wait = matches!(cmd, libc::F_SETLKW | F_OFD_SETLKW);
            t.kernel
                .locks
                .set(t, key, owner, start, end, ty == wr, ty == un, wait, false)?;
            Ok(0)
        }
    }
}

pub(crate) fn flock(t: &mut Task, a: &Args) -> SysResult<u64> {
    const LOCK_SH: u64 = 1;
    const LOCK_EX: u64 = 2;
    const LOCK_NB: u64 = 4;
    const LOCK_UN: u64 = 8;
    let f = t.fds().file(a[0] as i64)?;
    let st = f.stat()?;
    let op = a[1] & !LOCK_NB;
    if !matches!(op, LOCK_SH | LOCK_EX | LOCK_UN) {
        return Err(Errno::EINVAL);
    }
    let owner = crate::vfs::locks::file_owner(&f);
    t.kernel.locks.set(
        t,
        (st.dev, st.ino),
        owner,
        0,
        u64::MAX,
        op == LOCK_EX,
        op == LOCK_UN,
        a[1] & LOCK_NB == 0,
        true,
    )?;
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
    // bufsiz is an int.
    if (size as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let target = at(t, dirfd, &path, |fs, s| fs.readlink(s, &path))?;
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
    let (uid, gid) = {
        let c = t.creds();
        (c.uid[3], c.gid[3])
    };
    at(t, dirfd, &path, |fs, s| {
        fs.access(s, &path, mode as u32, uid, gid)
    })?;
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
    // The count is an int in Linux: "negative" ones fit no entry. Only
    // what is mapped behind the buffer is filled (no entry is consumed
    // that cannot be copied out).
    let count = a[2] as u32 as i32;
    if count < 0 {
        return Err(Errno::EINVAL);
    }
    let len = (count as usize).min(1 << 16);
    let len = t
        .mm()
        .accessible_len(a[1], len, crate::platform::Access::Write)?;
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
    t.root().access(
        &Start::cwd(t, "/"),
        dir.as_bytes(),
        1,
        t.creds().uid[3],
        t.creds().gid[3],
    )?;
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).cwd = dir;
    Ok(0)
}

pub(crate) fn ioctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fd = a[0] as i64;
    let file = t.fds().file(fd)?;
    let req = a[1] & 0xffff_ffff;
    match req {
        // FIONBIO
        0x5421 => {
            let mut b = [0u8; 4];
            t.mm().copy_in(a[2], &mut b)?;
            let nb = libc::O_NONBLOCK as u32;
            let fl = file.status_flags();
            file.set_status_flags(if i32::from_le_bytes(b) != 0 {
                fl | nb
            } else {
                fl & !nb
            });
            Ok(0)
        }
        // FIOCLEX, FIONCLEX
        0x5451 | 0x5450 => {
            t.fds().set_cloexec(fd, req == 0x5451)?;
            Ok(0)
        }
        _ => file.ioctl(t, req, a[2]),
    }
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
        libc::F_GETLK | libc::F_SETLK | libc::F_SETLKW | 36..=38 => {
            drop(entry);
            fcntl_lock(t, fd, a[1] as i32, a[2])
        }
        libc::F_GETPIPE_SZ => match entry
            .file
            .as_any()
            .downcast_ref::<crate::fsimpl::pipe::PipeEnd>()
        {
            Some(p) => Ok(p.capacity() as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_SETPIPE_SZ => match entry
            .file
            .as_any()
            .downcast_ref::<crate::fsimpl::pipe::PipeEnd>()
        {
            Some(p) => Ok(p.set_capacity(a[2] as usize)? as u64),
            None => Err(Errno::EBADF),
        },
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
    let (r, w) = crate::fsimpl::pipe::new_pipe(a[1] & libc::O_NONBLOCK as u64 != 0);
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

pub(crate) fn fchdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a[0] as i64)?;
    let p = f.path().ok_or(Errno::ENOTDIR)?;
    if f.stat()?.mode & crate::vfs::S_IFMT != crate::vfs::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).cwd = p;
    Ok(0)
}

fn do_mkdir(t: &mut Task, dirfd: u64, pa: u64, mode: u64) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    let mode = (mode as u32) & 0o7777 & !umask;
    at(t, dirfd, &path, |fs, s| fs.mkdir(s, &path, mode))?;
    Ok(0)
}

pub(crate) fn mkdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mkdir(t, AT_FDCWD as u64, a[0], a[1])
}

pub(crate) fn mkdirat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mkdir(t, a[0], a[1], a[2])
}

fn do_unlink(t: &mut Task, dirfd: u64, pa: u64, dir: bool) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.unlink(s, &path, dir))?;
    Ok(0)
}

pub(crate) fn unlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_unlink(t, AT_FDCWD as u64, a[0], false)
}

pub(crate) fn rmdir(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_unlink(t, AT_FDCWD as u64, a[0], true)
}

pub(crate) fn unlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    const AT_REMOVEDIR: u64 = 0x200;
    if a[2] & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    do_unlink(t, a[0], a[1], a[2] & AT_REMOVEDIR != 0)
}

fn do_rename(t: &mut Task, d1: u64, p1: u64, d2: u64, p2: u64, flags: u64) -> SysResult<u64> {
    if flags & !3 != 0 || flags == 3 {
        return Err(Errno::EINVAL);
    }
    let from = t.read_path(p1)?;
    let to = t.read_path(p2)?;
    let fs = t.root();
    let cwd = t.cwd();
    let start = |d: u64, p: &[u8]| -> SysResult<Option<Arc<dyn FileDescription>>> {
        if p.first() == Some(&b'/') || d as i32 == AT_FDCWD {
            Ok(None)
        } else {
            Ok(Some(t.fds().file(d as i64)?))
        }
    };
    let (f1, f2) = (start(d1, &from)?, start(d2, &to)?);
    let s1 = f1
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    let s2 = f2
        .as_ref()
        .map_or(Start::cwd(t, &cwd), |f| Start::dir(t, f));
    fs.rename(&s1, &from, &s2, &to, flags as u32)?;
    Ok(0)
}

pub(crate) fn rename(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1], 0)
}

pub(crate) fn renameat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, a[0], a[1], a[2], a[3], 0)
}

pub(crate) fn renameat2(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_rename(t, a[0], a[1], a[2], a[3], a[4])
}

fn do_symlink(t: &mut Task, target: u64, dirfd: u64, pa: u64) -> SysResult<u64> {
    let target = t.mm().read_cstring(target, 4095)?;
    let path = t.read_path(pa)?;
    at(t, dirfd, &path, |fs, s| fs.symlink(&target, s, &path))?;
    Ok(0)
}

pub(crate) fn symlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_symlink(t, a[0], AT_FDCWD as u64, a[1])
}

pub(crate) fn symlinkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_symlink(t, a[0], a[1], a[2])
}

fn do_link(t: &mut Task, d1: u64, p1: u64, d2: u64, p2: u64, flags: u64) -> SysResult<u64> {
    const AT_SYMLINK_FOLLOW: u64 = 0x400;
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let from = t.read_path(p1)?;
    let to = t.read_path(p2)?;
    let fs = t.root();
    let cwd = t.cwd();
    let f1 = if from.first() == Some(&b'/') || d1 as i32 == AT_FDCWD {
        None
    } else {
        Some(t.fds().file(d1 as i64)?)
    };
    let f2 = if to.first() == Some(&b'/') || d2 as i32 == AT_FDCWD {
        None
    } else {
        Some(t.fds().file(d2 as i64)?)
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
    do_link(t, AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1], 0)
}

pub(crate) fn linkat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_link(t, a[0], a[1], a[2], a[3], a[4])
}

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

pub(crate) fn fsync(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().file(a[0] as i64)?;
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

fn do_mknod(t: &mut Task, dirfd: u64, pa: u64, mode: u64) -> SysResult<u64> {
    let path = t.read_path(pa)?;
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    let m = mode as u32;
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
    do_mknod(t, AT_FDCWD as u64, a[0], a[1])
}

pub(crate) fn mknodat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_mknod(t, a[0], a[1], a[2])
}

/// Which xattr call: by path (following links or not) or by fd.
#[derive(Clone, Copy)]
enum XTarget {
    Path(bool),
    Fd,
}

fn xattr_fs(t: &mut Task, which: XTarget, a0: u64) -> SysResult<(Arc<dyn crate::vfs::Fs>, String)> {
    let (path, follow) = match which {
        XTarget::Fd => {
            let f = t.fds().file(a0 as i64)?;
            (f.path().ok_or(Errno::EOPNOTSUPP)?.into_bytes(), true)
        }
        XTarget::Path(follow) => (t.read_path(a0)?, follow),
    };
    let fs = t.root();
    let cwd = t.cwd();
    fs.xattr_target(&Start::cwd(t, &cwd), &path, follow)
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
    let (fs, rel) = xattr_fs(t, which, a[0])?;
    let name = xattr_name(t, a[1])?;
    let v = fs.getxattr(&rel, &name)?;
    if a[3] == 0 {
        return Ok(v.len() as u64);
    }
    if (a[3] as usize) < v.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a[2], &v)?;
    Ok(v.len() as u64)
}

fn do_setxattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    if a[3] > 65536 || a[4] & !3 != 0 {
        return Err(if a[3] > 65536 {
            Errno::E2BIG
        } else {
            Errno::EINVAL
        });
    }
    let (fs, rel) = xattr_fs(t, which, a[0])?;
    let name = xattr_name(t, a[1])?;
    let mut v = vec![0u8; a[3] as usize];
    t.mm().copy_in(a[2], &mut v)?;
    fs.setxattr(&rel, &name, &v, a[4] as u32)?;
    Ok(0)
}

fn do_listxattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (fs, rel) = xattr_fs(t, which, a[0])?;
    let names = fs.listxattr(&rel)?;
    let mut b = Vec::new();
    for n in names {
        b.extend_from_slice(n.as_bytes());
        b.push(0);
    }
    if a[2] == 0 {
        return Ok(b.len() as u64);
    }
    if (a[2] as usize) < b.len() {
        return Err(Errno::ERANGE);
    }
    t.mm().copy_out(a[1], &b)?;
    Ok(b.len() as u64)
}

fn do_removexattr(t: &mut Task, which: XTarget, a: &Args) -> SysResult<u64> {
    let (fs, rel) = xattr_fs(t, which, a[0])?;
    let name = xattr_name(t, a[1])?;
    fs.removexattr(&rel, &name)?;
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
