//! Opening and closing files, and file descriptor numbers: open, openat,
//! creat, close, close_range, dup, dup2, dup3.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::{FdEntry, FileDescription, Start, Stat};

use super::at::{at, AT_FDCWD};
use super::Args;

/// Whether the task's credentials allow `want` (4 read, 2 write, 1
/// search) on a file with `st`: by the file-system ids and groups; the
/// file-system root with CAP_DAC_OVERRIDE passes.
pub(crate) fn permitted(st: &Stat, want: u32, c: &crate::kernel::task::Creds) -> SysResult<()> {
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
        if let Ok(f) = root.open(&Start::real(t, "/"), p.as_bytes(), flags, 0) {
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

/// Where an open's lookups start: the `dirfd` convention, or (openat2
/// after its restricted resolution) a real path resolved already.
#[derive(Clone, Copy)]
enum Lookup {
    At(i32),
    Real,
}

impl Lookup {
    fn at<T>(
        self,
        t: &Task,
        path: &[u8],
        f: impl FnOnce(&crate::vfs::Vfs, &Start<'_>) -> SysResult<T>,
    ) -> SysResult<T> {
        match self {
            Lookup::At(dirfd) => at(t, dirfd, path, f),
            Lookup::Real => f(&t.root(), &Start::real(t, "/")),
        }
    }
}

fn do_open(t: &mut Task, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult<u64> {
    let path = t.read_path(path_addr)?;
    open_path(t, Lookup::At(dirfd), path, flags, mode)
}

fn open_path(t: &mut Task, lk: Lookup, path: Vec<u8>, flags: u32, mode: u32) -> SysResult<u64> {
    let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
    let mode = mode & 0o7777 & !umask;
    let fl = flags as i32;
    let follow = fl & libc::O_NOFOLLOW == 0;
    let stat = lk.at(t, &path, |fs, s| fs.stat(s, &path, follow));
    // A /proc/[pid]/fd/N link (also behind /dev/std*, /dev/fd or a link of
    // the app's) is looked for only where one can be: a path naming one,
    // or one that does not resolve as a plain path (a pipe's link target
    // "pipe:[N]" does not), which spares ordinary opens a second walk.
    let maybe_magic = stat.is_err()
        || path.windows(2).any(|w| w == b"fd")
        || path.windows(3).any(|w| w == b"std");
    let magic = if follow && maybe_magic {
        lk.at(t, &path, |fs, s| fs.fd_link(s, &path))?
    } else {
        None
    };
    let file = match magic {
        _ if flags & O_TMPFILE == O_TMPFILE => open_tmpfile(t, lk, &path, flags, mode)?,
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
                    if let Ok(st) = lk.at(t, &parent, |fs, s| fs.stat(s, &parent, true)) {
                        permitted(&st, 3, &creds)?;
                    }
                }
                Err(_) => {}
            }
            lk.at(t, &path, |fs, s| fs.open(s, &path, flags, mode))?
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
    lk: Lookup,
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
    let st = lk.at(t, dir, |fs, s| fs.stat(s, dir, true))?;
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
        match lk.at(t, &path, |fs, s| fs.open_tmpfile(s, &path, fl, mode)) {
            Ok(file) => return Ok(file),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EEXIST)
}

pub(crate) fn open(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, AT_FDCWD, a.ptr(0), a.uint(1), a.uint(2))
}

pub(crate) fn creat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fl = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u32;
    do_open(t, AT_FDCWD, a.ptr(0), fl, a.uint(1))
}

pub(crate) fn openat(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_open(t, a.fd(0), a.ptr(1), a.uint(2), a.uint(3))
}

/// openat2(2): openat with `struct open_how` {flags, mode, resolve} (its
/// size `a[3]`: at least 24 bytes, a larger one only with a zero tail),
/// every flag checked as Linux's build_open_flags does, and the RESOLVE_*
/// restrictions on the lookup.
pub(crate) fn openat2(t: &mut Task, a: &Args) -> SysResult<u64> {
    const VER0: u64 = 24;
    const RESOLVE_CACHED: u64 = 0x20;
    let size = a.raw(3);
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > crate::mm::PAGE {
        return Err(Errno::E2BIG);
    }
    let mut b = vec![0u8; size as usize];
    t.mm().copy_in(a.ptr(2), &mut b)?;
    if b[VER0 as usize..].iter().any(|&x| x != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let (mut flags, mode, how) = (word(0), word(8), word(16));
    if flags & libc::O_PATH as u64 == 0 {
        flags |= O_LARGEFILE;
    }
    check_open_how(flags, mode, how)?;
    let flags = flags as u32;
    let path = t.read_path(a.ptr(1))?;
    let dirfd = a.fd(0);
    // RESOLVE_CACHED: every lookup here is served from memory.
    if how & !RESOLVE_CACHED == 0 {
        return open_path(t, Lookup::At(dirfd), path, flags, mode as u32);
    }
    let follow = flags as i32 & libc::O_NOFOLLOW == 0;
    // The start is `dirfd` even for an absolute path (IN_ROOT's root).
    let vfs = t.root();
    let r = if dirfd == AT_FDCWD {
        let cwd = t.cwd();
        vfs.resolve_with(&Start::cwd(t, &cwd), &path, follow, how)?
    } else {
        let dir = t.fds().file(dirfd.into())?;
        vfs.resolve_with(&Start::dir(t, &dir), &path, follow, how)?
    };
    let mut abs = r.abs.into_bytes();
    if r.trailing_slash && abs.last() != Some(&b'/') {
        abs.push(b'/');
    }
    open_path(t, Lookup::Real, abs, flags, mode as u32)
}

/// Linux's O_LARGEFILE on x86-64 (the libc crate's is 0).
const O_LARGEFILE: u64 = 0o100000;

/// Linux's build_open_flags checks of an open_how.
fn check_open_how(flags: u64, mode: u64, how: u64) -> SysResult<()> {
    const O_TMPFILE_BITS: u64 = 0o20000000;
    const VALID: u64 = (libc::O_ACCMODE
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_NOCTTY
        | libc::O_TRUNC
        | libc::O_APPEND
        | libc::O_NONBLOCK
        | libc::O_SYNC
        | libc::O_DSYNC
        | libc::O_ASYNC
        | libc::O_DIRECT
        | libc::O_DIRECTORY
        | libc::O_NOFOLLOW
        | libc::O_NOATIME
        | libc::O_CLOEXEC
        | libc::O_PATH) as u64
        | O_LARGEFILE
        | O_TMPFILE_BITS;
    const O_PATH_FLAGS: u64 =
        (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC) as u64;
    let f = flags & !(libc::O_CLOEXEC as u64);
    if f & !VALID != 0 || how & !0x3f != 0 || how & 0x18 == 0x18 {
        return Err(Errno::EINVAL);
    }
    let creat = libc::O_CREAT as u64;
    if f & (creat | O_TMPFILE_BITS) != 0 {
        if mode & !0o7777 != 0 {
            return Err(Errno::EINVAL);
        }
    } else if mode != 0 {
        return Err(Errno::EINVAL);
    }
    if f & libc::O_DIRECTORY as u64 != 0 && f & creat != 0 {
        return Err(Errno::EINVAL);
    }
    if f & O_TMPFILE_BITS != 0 {
        if f & u64::from(O_TMPFILE) != u64::from(O_TMPFILE) || f & creat != 0 {
            return Err(Errno::EINVAL);
        }
        if f & libc::O_ACCMODE as u64 == 0 {
            return Err(Errno::EINVAL);
        }
    }
    if f & libc::O_PATH as u64 != 0 && f & !O_PATH_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if how & 0x20 != 0 && f & (libc::O_TRUNC as u64 | creat | O_TMPFILE_BITS) != 0 {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

pub(crate) fn close(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a.fd(0).into())?;
    t.fds().close(a.fd(0).into())?;
    // POSIX locks of this process on the file go with any of its fds.
    if let Ok(st) = f.stat() {
        t.kernel.locks.release_process((st.dev, st.ino), t.pid);
    }
    drop(f);
    t.kernel.locks.file_closed();
    Ok(0)
}

pub(crate) fn close_range(t: &mut Task, a: &Args) -> SysResult<u64> {
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    // close_range(unsigned int first, unsigned int last, unsigned int flags)
    let (first, last, flags) = (a.uint(0), a.uint(1), a.uint(2));
    if flags & !(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    t.fds().close_range(
        first as usize,
        last as usize,
        flags & CLOSE_RANGE_CLOEXEC != 0,
    );
    Ok(0)
}

pub(super) fn dup_to(
    t: &mut Task,
    file: Arc<dyn FileDescription>,
    min: usize,
    cloexec: bool,
) -> SysResult<u64> {
    Ok(t.fds().install(FdEntry { file, cloexec }, min)? as u64)
}

pub(crate) fn dup(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a.fd(0).into())?;
    dup_to(t, file, 0, false)
}

pub(crate) fn dup2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (from, to) = (a.fd(0), a.fd(1));
    let file = t.fds().file(from.into())?;
    if from == to {
        return Ok(to as u64);
    }
    let to = usize::try_from(to).map_err(|_| Errno::EBADF)?;
    t.fds().install_at(
        to,
        FdEntry {
            file,
            cloexec: false,
        },
    )?;
    Ok(to as u64)
}

pub(crate) fn dup3(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (from, to, flags) = (a.fd(0), a.fd(1), a.uint(2));
    if from == to || flags & !(libc::O_CLOEXEC as u32) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fds().file(from.into())?;
    let to = usize::try_from(to).map_err(|_| Errno::EBADF)?;
    t.fds().install_at(
        to,
        FdEntry {
            file,
            cloexec: flags != 0,
        },
    )?;
    Ok(to as u64)
}
