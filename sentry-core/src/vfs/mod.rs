//! Files as the app sees them: open file descriptions, the fd table, and the
//! file-system interface that the gofer client will implement. In this first
//! stage the only file system is [`host::HostFs`], a read-only view of a host
//! directory tree read directly by the sentry.

use std::any::Any;
use std::sync::Arc;

use crate::errno::{Errno, SysResult};

pub mod context;
pub mod locks;
pub mod mounts;
pub mod notify;
pub mod socket;
pub mod walk;

pub use context::{Detached, JobIds, Sessions, TaskContext};
pub use walk::Vfs;

pub use crate::abi::stat::{Stat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// `lseek` whence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// SEEK_SET.
    Set,
    /// SEEK_CUR.
    Cur,
    /// SEEK_END.
    End,
}

/// An open file description (what an fd points at).
pub trait FileDescription: Send + Sync + Any {
    /// Reads at the current offset.
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize>;
    /// Writes at the current offset.
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize>;
    /// Reads at `offset` without moving the file offset.
    fn pread(&self, _buf: &mut [u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::ESPIPE)
    }
    /// Writes at `offset` without moving the file offset.
    fn pwrite(&self, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::ESPIPE)
    }
    /// pwritev2 with RWF_APPEND (`append`: at the end of the file, whatever `offset`) or
    /// RWF_NOAPPEND (`!append`: at `offset` even on an O_APPEND file); returns where it
    /// wrote and how much. Files without positions: ESPIPE; others without it: EOPNOTSUPP.
    fn pwrite_rwf(&self, buf: &[u8], offset: u64, append: bool) -> SysResult<(u64, usize)> {
        let flags = self.status_flags();
        if self.seek(0, Whence::Cur).is_err() {
            return Err(Errno::ESPIPE);
        }
        if append == (flags & libc::O_APPEND as u32 != 0) {
            // What pwrite does anyway: appends on an O_APPEND file, else writes at `offset`.
            let at = if append {
                self.stat()?.size.max(0) as u64
            } else {
                offset
            };
            return Ok((at, self.pwrite(buf, offset)?));
        }
        Err(Errno::EOPNOTSUPP)
    }
    /// Moves the offset.
    fn seek(&self, _offset: i64, _whence: Whence) -> SysResult<u64> {
        Err(Errno::ESPIPE)
    }
    /// File status.
    fn stat(&self) -> SysResult<Stat>;
    /// lseek SEEK_DATA (`hole` false) or SEEK_HOLE from `offset`: moves the
    /// offset there and returns it. By default, as Linux's generic files:
    /// all data up to the size, one hole at the end; ENXIO at or past it.
    fn seek_data(&self, offset: i64, hole: bool) -> SysResult<u64> {
        self.seek(0, Whence::Cur)?;
        let size = self.stat()?.size;
        if offset < 0 || offset >= size {
            return Err(Errno::ENXIO);
        }
        self.seek(if hole { size } else { offset }, Whence::Set)
    }
    /// Fills `buf` with `linux_dirent64` records; 0 at the end.
    fn getdents64(&self, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::ENOTDIR)
    }
    /// ftruncate.
    fn truncate(&self, _size: u64) -> SysResult<()> {
        Err(Errno::EINVAL)
    }
    /// fallocate(2) on `[offset, offset+len)` of a regular file opened for
    /// writing; `mode` is 0, FALLOC_FL_KEEP_SIZE or FALLOC_FL_PUNCH_HOLE |
    /// FALLOC_FL_KEEP_SIZE (checked by the caller). By default only mode 0,
    /// by growing the file.
    fn allocate(&self, mode: u32, offset: u64, len: u64) -> SysResult<()> {
        if mode != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
        if self.stat()?.size.max(0) as u64 >= end {
            return Ok(());
        }
        self.truncate(end)
    }
    /// fchmod/fchown/futimens.
    fn setattr(&self, _a: &SetAttr) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// Terminal ioctls (TCGETS, TIOCGWINSZ); ENOTTY for anything not a terminal.
    fn ioctl_tty(&self, _request: u64, _out: &mut [u8]) -> SysResult<()> {
        Err(Errno::ENOTTY)
    }
    /// Open flags (O_ACCMODE | O_APPEND | O_NONBLOCK …) as F_GETFL reports.
    fn status_flags(&self) -> u32;
    /// F_SETFL: O_NONBLOCK (and O_APPEND where it matters).
    fn set_status_flags(&self, _flags: u32) {}
    /// The absolute path it was opened by, for *at() lookups and /proc.
    fn path(&self) -> Option<String> {
        None
    }
    /// For a file with no path (eventfd, epoll, timerfd, signalfd, inotify, pidfd): the
    /// name /proc/PID/fd shows after "anon_inode:", as Linux names its anonymous inodes.
    fn anon_name(&self) -> Option<&'static str> {
        None
    }
    /// Records the path (set once by the VFS at open).
    fn set_path(&self, _path: &str) {}
    /// open(2) through a /proc/[pid]/fd/N link to this file when its path
    /// does not reach it (pipes, host stdio, deleted files): a new
    /// description with `flags`. None: not reopenable that way.
    fn reopen(&self, _flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        None
    }
    /// poll(2) readiness (POLLIN | POLLOUT | POLLHUP | POLLERR bits).
    /// Regular files and directories are always ready.
    fn readiness(&self) -> u32 {
        (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM) as u32
    }
    /// The readiness as the task `ctx` sees it: as [`Self::readiness`]
    /// except for files that show the caller's own state (a signalfd).
    fn readiness_for(&self, _ctx: &dyn TaskContext) -> u32 {
        self.readiness()
    }
    /// The queue notified when the readiness may have changed; None when the
    /// readiness is known only by asking (host fds), so waiters poll.
    fn wait_queue(&self) -> Option<&crate::waiter::WaitQueue> {
        None
    }
    /// Whether readiness never changes (regular files): no need to wait.
    fn always_ready(&self) -> bool {
        true
    }
    /// ioctl(2) requests other than the generic ones (FIONBIO, FIOCLEX,
    /// FIONCLEX). By default: TCGETS and TIOCGWINSZ through `ioctl_tty`
    /// (host terminals), ENOTTY otherwise.
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        let size = match req {
            r if r == libc::TCGETS => 36,
            r if r == libc::TIOCGWINSZ => 8,
            _ => return Err(Errno::ENOTTY),
        };
        let mut out = vec![0u8; size];
        self.ioctl_tty(req, &mut out)?;
        ctx.mm()?.copy_out(arg, &out)?;
        Ok(0)
    }
    /// The page cache that `mmap` maps (regular files that have one);
    /// None: a mapping gets a private copy of the contents.
    fn page_cache(
        &self,
        _mem: &Arc<crate::platform::MemoryFile>,
    ) -> SysResult<Option<Arc<crate::mm::PageCache>>> {
        Ok(None)
    }
    /// The socket behind this file (sockets only): the socket calls go
    /// through it.
    fn socket(&self) -> Option<&dyn socket::Socket> {
        None
    }
    /// For file systems that need their own type back.
    fn as_any(&self) -> &dyn Any;
}

/// Changes to a file's attributes (chmod, chown, truncate, utimensat).
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    /// Permission bits.
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Size.
    pub size: Option<u64>,
    /// Access time.
    pub atime: Option<(i64, i64)>,
    /// Modification time.
    pub mtime: Option<(i64, i64)>,
}

/// Where a path lookup starts, and for which task.
#[derive(Clone, Copy)]
pub struct Start<'a> {
    /// The directory relative paths start at.
    pub at: At<'a>,
    /// The task the lookup is made for (/proc/self, terminals, FIFOs).
    pub ctx: &'a dyn TaskContext,
    /// The path is a real one (the sentry's own, from an open file or a resolved path), not
    /// the task's: the task's chroot does not apply.
    pub real: bool,
}

/// The directory a relative path starts at.
#[derive(Clone, Copy)]
pub enum At<'a> {
    /// The task's working directory (an absolute path).
    Cwd(&'a str),
    /// An open directory.
    Dir(&'a Arc<dyn FileDescription>),
}

impl<'a> Start<'a> {
    /// At the working directory (or any absolute path) `cwd`.
    pub fn cwd(ctx: &'a dyn TaskContext, cwd: &'a str) -> Self {
        Start {
            at: At::Cwd(cwd),
            ctx,
            real: false,
        }
    }
    /// At `cwd`, for a real path the sentry already resolved (the task's chroot is not
    /// applied again).
    pub fn real(ctx: &'a dyn TaskContext, cwd: &'a str) -> Self {
        Start {
            at: At::Cwd(cwd),
            ctx,
            real: true,
        }
    }
    /// At an open directory.
    pub fn dir(ctx: &'a dyn TaskContext, dir: &'a Arc<dyn FileDescription>) -> Self {
        Start {
            at: At::Dir(dir),
            ctx,
            real: false,
        }
    }
}

/// A mounted file system. Paths are relative to its root, canonical (no
/// `.`, `..` or symlinks in them; the VFS resolved those) and without a
/// leading slash; "" is the root.
pub trait Fs: Send + Sync + Any {
    /// stat without following a final symlink.
    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat>;
    /// A symlink's target.
    fn readlink(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>>;
    /// Opens (and with O_CREAT creates) a file; never follows a final symlink.
    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>>;
    /// mkdir.
    fn mkdir(&self, _path: &str, _mode: u32) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// mknod of a FIFO.
    fn mknod_fifo(&self, _path: &str, _mode: u32) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// symlink.
    fn symlink(&self, _target: &[u8], _path: &str) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// bind(2) of a unix socket to a path: creates an S_IFSOCK node with
    /// `mode` (the caller applied the umask), owned by `uid`/`gid`, that
    /// keeps `endpoint` for [`Fs::bound_socket`]. EEXIST when the name
    /// exists. A file system that cannot hold sockets answers EROFS.
    fn bind_socket(
        &self,
        _path: &str,
        _mode: u32,
        _uid: u32,
        _gid: u32,
        _endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// The endpoint a socket node at `path` keeps (connect(2), sendto(2)).
    /// ECONNREFUSED when the node is no socket bound in the sandbox (a
    /// host socket file, another file type).
    fn bound_socket(&self, _path: &str) -> SysResult<Arc<dyn Any + Send + Sync>> {
        Err(Errno::ECONNREFUSED)
    }
    /// unlink (`dir` = rmdir).
    fn unlink(&self, _path: &str, _dir: bool) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// rename / renameat2 flags.
    fn rename(&self, _from: &str, _to: &str, _flags: u32) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// Hard link.
    fn link(&self, _from: &str, _to: &str) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// chmod, chown, truncate, utimes.
    fn setattr(&self, _path: &str, _a: &SetAttr) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    /// A directory's entries (name, inode, mode) without . and .. (the
    /// overlay merges layers with it).
    fn list(&self, _path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        Err(Errno::ENOTDIR)
    }
    /// Extended attributes: get (ENODATA when absent).
    fn getxattr(&self, _path: &str, _name: &str) -> SysResult<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Set (flags: XATTR_CREATE 1, XATTR_REPLACE 2).
    fn setxattr(&self, _path: &str, _name: &str, _value: &[u8], _flags: u32) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// List names.
    fn listxattr(&self, _path: &str) -> SysResult<Vec<String>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Remove.
    fn removexattr(&self, _path: &str, _name: &str) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// A "magic" link that opens a file rather than naming a path (procfs's
    /// /proc/[pid]/fd/N): the file it opens; None for an ordinary path.
    fn magic_link(
        &self,
        _ctx: &dyn TaskContext,
        _path: &str,
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        Ok(None)
    }
    /// The identity (st_dev, st_ino) inotify watches know the file at
    /// `path` (status `st`) by: its own by default; the overlay gives a
    /// copied-up file its host file's, so a watch survives the copy-up.
    fn notify_key(&self, _path: &str, st: &Stat) -> (u64, u64) {
        (st.dev, st.ino)
    }
    /// statfs f_type.
    fn fs_type(&self) -> u64;
    /// For downcasts.
    fn as_any(&self) -> &dyn Any;
}

/// Splits "a/b/c" into ("a/b", "c") and "c" into ("", "c").
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// One slot of the fd table.
#[derive(Clone)]
pub struct FdEntry {
    /// The open file description.
    pub file: Arc<dyn FileDescription>,
    /// FD_CLOEXEC.
    pub cloexec: bool,
}

/// Most fds a task may hold (RLIMIT_NOFILE).
pub const MAX_FDS: usize = 1024;

/// A task's descriptor table.
#[derive(Clone, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// RLIMIT_NOFILE (0 = MAX_FDS).
    limit: usize,
}

impl FdTable {
    /// The entry of `fd`.
    pub fn get(&self, fd: i64) -> SysResult<&FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.as_ref())
            .ok_or(Errno::EBADF)
    }

    /// The file of `fd`.
    pub fn file(&self, fd: i64) -> SysResult<Arc<dyn FileDescription>> {
        Ok(self.get(fd)?.file.clone())
    }

    /// Sets RLIMIT_NOFILE: new fds must be below it.
    pub fn set_limit(&mut self, n: u64) {
        self.limit = n.min(MAX_FDS as u64) as usize;
    }

    fn max(&self) -> usize {
        if self.limit == 0 {
            MAX_FDS
        } else {
            self.limit
        }
    }

    /// Installs at the lowest free fd ≥ `min`.
    pub fn install(&mut self, entry: FdEntry, min: usize) -> SysResult<i64> {
        let free = (min..self.max()).find(|&i| self.slots.get(i).is_none_or(|s| s.is_none()));
        let i = free.ok_or(Errno::EMFILE)?;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        self.slots[i] = Some(entry);
        Ok(i as i64)
    }

    /// Installs at exactly `fd`, replacing what was there.
    pub fn install_at(&mut self, fd: usize, entry: FdEntry) -> SysResult<()> {
        if fd >= self.max() {
            return Err(Errno::EBADF);
        }
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        self.slots[fd] = Some(entry);
        Ok(())
    }

    /// Closes `fd`.
    pub fn close(&mut self, fd: i64) -> SysResult<()> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.slots.get_mut(i) {
            Some(s @ Some(_)) => {
                *s = None;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// Closes every close-on-exec fd (execve).
    pub fn close_on_exec(&mut self) {
        for s in self.slots.iter_mut() {
            if s.as_ref().is_some_and(|e| e.cloexec) {
                *s = None;
            }
        }
    }

    /// The open fd numbers.
    pub fn open_fds(&self) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// Closes (or marks close-on-exec) every fd in `first..=last`.
    pub fn close_range(&mut self, first: usize, last: usize, cloexec: bool) {
        let end = last.min(self.slots.len().saturating_sub(1));
        for i in first..=end {
            if let Some(s) = self.slots.get_mut(i) {
                if cloexec {
                    if let Some(e) = s.as_mut() {
                        e.cloexec = true;
                    }
                } else {
                    *s = None;
                }
            }
        }
    }

    /// Sets FD_CLOEXEC.
    pub fn set_cloexec(&mut self, fd: i64, on: bool) -> SysResult<()> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.slots.get_mut(i) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_table_lowest_free() {
        let (f, _w) = crate::fsimpl::pipe::new_pipe(false);
        let f: Arc<dyn FileDescription> = f;
        let mut t = FdTable::default();
        let e = FdEntry {
            file: f,
            cloexec: false,
        };
        assert_eq!(t.install(e.clone(), 0).unwrap(), 0);
        assert_eq!(t.install(e.clone(), 0).unwrap(), 1);
        assert_eq!(t.install(e.clone(), 5).unwrap(), 5);
        t.close(0).unwrap();
        assert_eq!(t.install(e.clone(), 0).unwrap(), 0);
        assert!(t.close(3).is_err());
        assert!(t.get(-1).is_err());
        assert!(t.install_at(MAX_FDS, e).is_err());
    }
}
