//! A read-only view of the host's file tree, read by the sentry itself. It is
//! the stand-in for the gofer client (vfs-gofer) until the process-model and
//! isolation stages: every write-open is EROFS, and device nodes other than
//! the harmless memory devices (null, zero, full, random, urandom), FIFOs and
//! sockets cannot be opened.

use std::any::Any;
use std::ffi::CString;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Stat, Whence, S_IFDIR, S_IFMT};

fn check(rc: i64) -> SysResult<i64> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn host_read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    Ok(check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as i64)? as usize)
}

fn host_pread(fd: RawFd, buf: &mut [u8], offset: u64) -> SysResult<usize> {
    let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    Ok(check(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) } as i64)? as usize)
}

fn host_seek(fd: RawFd, offset: i64, whence: Whence) -> SysResult<u64> {
    let w = match whence {
        Whence::Set => libc::SEEK_SET,
        Whence::Cur => libc::SEEK_CUR,
        Whence::End => libc::SEEK_END,
    };
    // SAFETY: lseek on a descriptor we own.
    Ok(check(unsafe { libc::lseek(fd, offset, w) })? as u64)
}

fn host_fstat(fd: RawFd) -> SysResult<Stat> {
    // SAFETY: a zeroed libc::stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a descriptor we own; st is a valid, writable struct stat.
    check(unsafe { libc::fstat(fd, &mut st) } as i64)?;
    Ok(from_host(&st))
}

fn from_host(st: &libc::stat) -> Stat {
    Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        atime: (st.st_atime, st.st_atime_nsec),
        mtime: (st.st_mtime, st.st_mtime_nsec),
        ctime: (st.st_ctime, st.st_ctime_nsec),
    }
}

use vfs_gofer::server::harmless_device;

/// The host tree is read-only: an open that would write, create, truncate
/// or make a temporary file gets EROFS.
pub(super) fn refuse_writes(flags: u32) -> SysResult<()> {
    let fl = flags as i32;
    if fl & libc::O_ACCMODE != libc::O_RDONLY
        || fl & (libc::O_CREAT | libc::O_TRUNC) != 0
        || fl & libc::O_TMPFILE == libc::O_TMPFILE
    {
        return Err(Errno::EROFS);
    }
    Ok(())
}

/// The host file tree under `root`, read-only: the lower layer of the root
/// overlay. Paths arrive canonical (the VFS resolved symlinks), so every open
/// uses O_NOFOLLOW.
pub struct HostFs {
    root: OwnedFd,
}

impl HostFs {
    /// A view of the host tree at `root` (the host's `/` by default).
    pub fn new(root: &str) -> std::io::Result<Arc<Self>> {
        let c = CString::new(root).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: open with a valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and owned by nothing else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Arc::new(HostFs { root }))
    }

    fn c(path: &str) -> SysResult<CString> {
        // The host's /proc describes the sentry, not the sandbox: the sandbox
        // has its own procfs mounted over it, and this layer never shows it.
        if path == "proc" || path.starts_with("proc/") || path == "sys" || path.starts_with("sys/")
        {
            return Err(Errno::EACCES);
        }
        CString::new(if path.is_empty() { "." } else { path }).map_err(|_| Errno::EINVAL)
    }

    /// Reads a whole host directory listing.
    pub fn list_dir(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        let f = self.open_dir(path)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 << 10];
        loop {
            let n = f.getdents64(&mut buf)?;
            if n == 0 {
                break;
            }
            out.extend(crate::abi::dirent::parse(&buf[..n]));
        }
        out.retain(|(n, _, _)| n != "." && n != "..");
        Ok(out)
    }

    fn open_dir(&self, path: &str) -> SysResult<HostFile> {
        let c = Self::c(path)?;
        // SAFETY: openat relative to our root fd with a valid C string.
        let fd = check(unsafe {
            libc::openat(
                self.root.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        } as i64)? as RawFd;
        Ok(HostFile {
            // SAFETY: fresh descriptor.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            flags: libc::O_RDONLY as u32,
            is_dir: true,
            writable: false,
            path: std::sync::OnceLock::new(),
        })
    }
}

impl crate::vfs::Fs for HostFs {
    fn list(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        self.list_dir(path)
    }

    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        let c = Self::c(path)?;
        // SAFETY: a zeroed libc::stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid C string, our root fd, valid out-buffer.
        check(unsafe {
            libc::fstatat(
                self.root.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } as i64)?;
        Ok(from_host(&st))
    }

    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        let c = Self::c(path)?;
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid C string and a writable buffer of the given length.
        let n = check(unsafe {
            libc::readlinkat(
                self.root.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        } as i64)?;
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn open(
        self: Arc<Self>,
        _ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        refuse_writes(flags)?;
        let open_flags = flags;
        let flags = flags as i32;
        let c = Self::c(path)?;
        let hflags = libc::O_RDONLY
            | libc::O_CLOEXEC
            | libc::O_NOCTTY
            | libc::O_NONBLOCK
            | libc::O_NOFOLLOW
            | (flags & libc::O_DIRECTORY);
        // SAFETY: openat relative to our root fd with a valid C string.
        let fd = check(unsafe { libc::openat(self.root.as_raw_fd(), c.as_ptr(), hflags) } as i64)?
            as RawFd;
        // SAFETY: fd was just returned by openat and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Whatever led here, the file must not be one of the sentry's own:
        // its host procfs, its memory file, its KVM fds.
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| Errno::from_io(&e))?;
        let real = real.as_os_str().as_encoded_bytes();
        if !real.starts_with(b"/")
            || real == b"/proc"
            || real.starts_with(b"/proc/")
            || real.starts_with(b"/memfd:")
        {
            return Err(Errno::EACCES);
        }
        let st = host_fstat(fd.as_raw_fd())?;
        match st.mode & S_IFMT {
            libc::S_IFREG | libc::S_IFDIR => {}
            libc::S_IFCHR if harmless_device(st.rdev) => {}
            libc::S_IFCHR | libc::S_IFBLK => return Err(Errno::EACCES),
            _ => return Err(Errno::ENXIO),
        }
        // SAFETY: fcntl F_SETFL on our own fd.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, 0) };
        Ok(Arc::new(HostFile::from_fd(
            fd,
            open_flags,
            st.mode & S_IFMT == S_IFDIR,
        )))
    }

    fn fs_type(&self) -> u64 {
        0xef53
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl HostFile {
    /// Wraps a host fd opened read-only with the sandbox's open `flags`
    /// (those that only matter at open time are dropped).
    pub fn from_fd(fd: OwnedFd, flags: u32, is_dir: bool) -> Self {
        let once = (libc::O_CLOEXEC | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC)
            as u32;
        HostFile {
            fd,
            flags: (flags & !once) | libc::O_LARGEFILE as u32,
            is_dir,
            writable: flags as i32 & libc::O_ACCMODE != libc::O_RDONLY,
            path: std::sync::OnceLock::new(),
        }
    }
}

/// A host file or directory: read-only, or opened for writing on a
/// read-write bind mount (writes go straight to the donated descriptor).
pub struct HostFile {
    fd: OwnedFd,
    flags: u32,
    is_dir: bool,
    writable: bool,
    path: std::sync::OnceLock<String>,
}

fn host_check(r: libc::c_int) -> SysResult<()> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl FileDescription for HostFile {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        host_read(self.fd.as_raw_fd(), buf)
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        // SAFETY: buf is a valid readable buffer of buf.len() bytes.
        Ok(check(
            unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) } as i64,
        )? as usize)
    }
    fn pwrite(&self, buf: &[u8], offset: u64) -> SysResult<usize> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: buf is a valid readable buffer of buf.len() bytes.
        Ok(check(
            unsafe { libc::pwrite(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), off) }
                as i64,
        )? as usize)
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        if !self.writable {
            return Err(Errno::EINVAL);
        }
        let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
        // SAFETY: ftruncate on our own descriptor.
        host_check(unsafe { libc::ftruncate(self.fd.as_raw_fd(), size) })
    }
    fn setattr(&self, a: &crate::vfs::SetAttr) -> SysResult<()> {
        let fd = self.fd.as_raw_fd();
        if let Some(m) = a.mode {
            // SAFETY: fchmod on our own descriptor (EROFS on read-only mounts).
            host_check(unsafe { libc::fchmod(fd, m & 0o7777) })?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            // SAFETY: fchown on our own descriptor; u32::MAX leaves one unchanged.
            host_check(unsafe {
                libc::fchown(fd, a.uid.unwrap_or(u32::MAX), a.gid.unwrap_or(u32::MAX))
            })?;
        }
        if let Some(s) = a.size {
            self.truncate(s)?;
        }
        if a.atime.is_some() || a.mtime.is_some() {
            let ts = |t: Option<(i64, i64)>| match t {
                Some((s, n)) => libc::timespec {
                    tv_sec: s,
                    tv_nsec: n,
                },
                None => libc::timespec {
                    tv_sec: 0,
                    tv_nsec: libc::UTIME_OMIT,
                },
            };
            let times = [ts(a.atime), ts(a.mtime)];
            // SAFETY: futimens on our own descriptor with two timespecs.
            host_check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
        }
        Ok(())
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        host_pread(self.fd.as_raw_fd(), buf, offset)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        host_seek(self.fd.as_raw_fd(), offset, whence)
    }
    fn stat(&self) -> SysResult<Stat> {
        host_fstat(self.fd.as_raw_fd())
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        // SAFETY: getdents64 writes at most buf.len() bytes into buf.
        Ok(check(unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                self.fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        })? as usize)
    }
    fn status_flags(&self) -> u32 {
        self.flags
    }
    fn path(&self) -> Option<String> {
        self.path.get().cloned()
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn page_cache(
        &self,
        mem: &Arc<crate::platform::MemoryFile>,
    ) -> SysResult<Option<Arc<crate::mm::PageCache>>> {
        let st = self.stat()?;
        if self.is_dir || st.mode & S_IFMT != libc::S_IFREG {
            return Ok(None);
        }
        let cache = crate::mm::pagecache::host_cache(
            mem,
            st.dev,
            st.ino,
            st.mtime,
            st.size.max(0) as u64,
            || {
                // SAFETY: F_DUPFD_CLOEXEC on our own descriptor; checked.
                let nfd = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
                check(nfd as i64)?;
                // SAFETY: nfd is a fresh descriptor owned by nothing else.
                Ok(unsafe { OwnedFd::from_raw_fd(nfd) })
            },
        )?;
        Ok(Some(cache))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One of the sandbox's standard streams: a host fd handed to the sandbox.
pub struct HostStdio {
    fd: Arc<OwnedFd>,
    flags: u32,
}

impl HostStdio {
    /// Takes host fd `fd` (a FIFO, pipe, terminal or file handed over by
    /// the shim) as a standard stream of the sandbox.
    pub fn from_owned(fd: OwnedFd) -> Self {
        // SAFETY: F_GETFL on a descriptor we own.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        HostStdio {
            fd: Arc::new(fd),
            flags: fl.max(0) as u32,
        }
    }

    /// Duplicates host fd `fd` (0, 1 or 2) for the sandbox.
    pub fn dup(fd: RawFd) -> std::io::Result<Self> {
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor number; the result is checked.
        let nfd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if nfd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: F_GETFL on the fresh descriptor.
        let fl = unsafe { libc::fcntl(nfd, libc::F_GETFL) };
        Ok(HostStdio {
            // SAFETY: nfd is a fresh descriptor owned by nothing else.
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(nfd) }),
            flags: fl.max(0) as u32,
        })
    }
}

impl FileDescription for HostStdio {
    fn reopen(&self, flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        // The same host stream (a terminal, pipe or file the sandbox was
        // given) with the new mode, as far as the host descriptor allows it.
        let acc = libc::O_ACCMODE as u32;
        let have = self.flags & acc;
        let want = flags & acc;
        if have != libc::O_RDWR as u32 && want != have {
            return Some(Err(Errno::EACCES));
        }
        // Status flags (O_NONBLOCK, O_APPEND) are the host descriptor's.
        Some(Ok(Arc::new(HostStdio {
            fd: self.fd.clone(),
            flags: (self.flags & !acc) | want,
        })))
    }
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if self.flags & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32 {
            return Err(Errno::EBADF);
        }
        host_read(self.fd.as_raw_fd(), buf)
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        if self.flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32 {
            return Err(Errno::EBADF);
        }
        // SAFETY: buf is a valid readable buffer.
        Ok(check(
            unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) } as i64,
        )? as usize)
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        host_pread(self.fd.as_raw_fd(), buf, offset)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        host_seek(self.fd.as_raw_fd(), offset, whence)
    }
    fn stat(&self) -> SysResult<Stat> {
        host_fstat(self.fd.as_raw_fd())
    }
    fn ioctl_tty(&self, request: u64, out: &mut [u8]) -> SysResult<()> {
        let need = match request {
            r if r == libc::TCGETS => 36,
            r if r == libc::TIOCGWINSZ => 8,
            _ => return Err(Errno::ENOTTY),
        };
        if out.len() < need {
            return Err(Errno::EINVAL);
        }
        let mut tmp = [0u8; 64];
        // SAFETY: both requests write at most `need` (≤ 36) bytes into tmp.
        check(unsafe { libc::ioctl(self.fd.as_raw_fd(), request, tmp.as_mut_ptr()) } as i64)?;
        out[..need].copy_from_slice(&tmp[..need]);
        Ok(())
    }
    fn status_flags(&self) -> u32 {
        self.flags
    }
    fn readiness(&self) -> u32 {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n < 0 {
            libc::POLLERR as u32
        } else {
            p.revents as u16 as u32
        }
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Detached;
    use crate::vfs::Fs;

    #[test]
    fn reads_host_files_read_only() {
        let fs = HostFs::new("/").unwrap();
        let f = fs.clone().open(&Detached, "etc/passwd", 0, 0).unwrap();
        let mut b = [0u8; 4];
        assert!(f.read(&Detached, &mut b).unwrap() > 0);
        assert_eq!(f.write(&Detached, b"x"), Err(Errno::EBADF));
        assert_eq!(
            fs.clone()
                .open(
                    &Detached,
                    "tmp/x",
                    (libc::O_WRONLY | libc::O_CREAT) as u32,
                    0
                )
                .err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            fs.clone().open(&Detached, "nonexistent-x", 0, 0).err(),
            Some(Errno::ENOENT)
        );
        assert!(fs
            .list("etc")
            .unwrap()
            .iter()
            .any(|(n, _, _)| n == "passwd"));
        assert!(fs.lstat(&Detached, "").unwrap().mode & S_IFMT == S_IFDIR);
    }

    #[test]
    fn sentry_internals_are_unreachable() {
        let fs = HostFs::new("/").unwrap();
        let mem = kvm_vcpu::MemoryFile::new(4 << 20).unwrap();
        // Canonical paths only reach these through magic links, which
        // O_NOFOLLOW refuses and the fd check catches.
        for p in [
            "proc/self/mem".to_string(),
            format!("proc/self/fd/{}", mem.raw_fd()),
        ] {
            assert!(fs.clone().open(&Detached, &p, 0, 0).is_err(), "{p}");
        }
    }

    #[test]
    fn devices_are_refused_except_harmless_ones() {
        let fs = HostFs::new("/").unwrap();
        assert!(fs.clone().open(&Detached, "dev/null", 0, 0).is_ok());
        if std::path::Path::new("/dev/kvm").exists() {
            assert_eq!(
                fs.clone().open(&Detached, "dev/kvm", 0, 0).err(),
                Some(Errno::EACCES)
            );
        }
    }
}
