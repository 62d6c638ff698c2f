//! A read-only view of the host's file tree, read by the sentry itself. It is
//! the stand-in for the gofer client (vfs-gofer) until the process-model and
//! isolation stages: every write-open is EROFS, and device nodes other than
//! the harmless memory devices (null, zero, full, random, urandom), FIFOs and
//! sockets cannot be opened.

use std::any::Any;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::{FileDescription, FileSystem, Start, Stat, Whence, S_IFDIR, S_IFMT};
use crate::errno::{Errno, SysResult};

fn check(rc: i64) -> SysResult<i64> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
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

/// Character devices that are safe to read from the host: null, zero, full,
/// random, urandom (major 1).
fn harmless_device(rdev: u64) -> bool {
    let major = ((rdev >> 8) & 0xfff) as u32;
    let minor = (rdev & 0xff) as u32;
    major == 1 && matches!(minor, 3 | 5 | 7 | 8 | 9)
}

/// The host file tree under `root`, read-only.
pub struct HostFs {
    root: String,
}

impl HostFs {
    /// A view of the host tree at `root` (the host's `/` by default).
    pub fn new(root: &str) -> Self {
        HostFs {
            root: root.trim_end_matches('/').to_string(),
        }
    }

    /// Turns an app path into (host dirfd, host path).
    fn locate(&self, start: Start<'_>, path: &[u8]) -> SysResult<(RawFd, CString)> {
        self.locate_in(start, path, false)
    }

    /// `opening`: the path is being opened (then /proc itself is refused too,
    /// since a directory fd would reach inside it).
    fn locate_in(
        &self,
        start: Start<'_>,
        path: &[u8],
        opening: bool,
    ) -> SysResult<(RawFd, CString)> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= 4096 {
            return Err(Errno::ENAMETOOLONG);
        }
        // The host's /proc would describe the sentry, not the sandbox: it is
        // not reachable until the sentry emulates its own procfs.
        let under_proc = |p: &[u8]| {
            (opening && p.strip_suffix(b"/").unwrap_or(p) == b"/proc") || p.starts_with(b"/proc/")
        };
        if path[0] == b'/' && under_proc(path) {
            return Err(Errno::EACCES);
        }
        if let (b'/'..=b'~', Start::Cwd(cwd)) = (path[0], &start) {
            if path[0] != b'/' && (cwd == &"/proc" || under_proc(cwd.as_bytes())) {
                return Err(Errno::EACCES);
            }
        }
        let mut full = Vec::with_capacity(self.root.len() + path.len() + 64);
        let dirfd = if path[0] == b'/' {
            full.extend_from_slice(self.root.as_bytes());
            full.extend_from_slice(path);
            libc::AT_FDCWD
        } else {
            match start {
                Start::Cwd(cwd) => {
                    full.extend_from_slice(self.root.as_bytes());
                    full.extend_from_slice(cwd.as_bytes());
                    full.push(b'/');
                    full.extend_from_slice(path);
                    libc::AT_FDCWD
                }
                Start::Dir(f) => {
                    let h = f
                        .as_any()
                        .downcast_ref::<HostFile>()
                        .ok_or(Errno::ENOTDIR)?;
                    full.extend_from_slice(path);
                    h.fd.as_raw_fd()
                }
            }
        };
        let c = CString::new(full).map_err(|_| Errno::EINVAL)?;
        Ok((dirfd, c))
    }
}

impl FileSystem for HostFs {
    fn open(
        &self,
        start: Start<'_>,
        path: &[u8],
        flags: u32,
        follow: bool,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let flags = flags as i32;
        if flags & libc::O_ACCMODE != libc::O_RDONLY
            || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
            || flags & libc::O_TMPFILE == libc::O_TMPFILE
        {
            return Err(Errno::EROFS);
        }
        let (dirfd, host) = self.locate_in(start, path, true)?;
        let mut hflags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
        hflags |= flags & (libc::O_DIRECTORY | libc::O_NOFOLLOW);
        if !follow {
            hflags |= libc::O_NOFOLLOW;
        }
        // SAFETY: openat with a valid C string and a dirfd we own (or AT_FDCWD).
        let fd = check(unsafe { libc::openat(dirfd, host.as_ptr(), hflags) } as i64)? as RawFd;
        // SAFETY: fd was just returned by openat and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Whatever path led here (symlinks such as /dev/fd → /proc/self/fd
        // included), the file must not be one of the sentry's own: its host
        // procfs, its memory file, its KVM fds.
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
        // Reads of regular files and directories never block; drop O_NONBLOCK
        // so the host behaves as the app asked.
        // SAFETY: fcntl F_SETFL on our own fd.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, 0) };
        Ok(Arc::new(HostFile {
            fd,
            flags: (flags & !(libc::O_CLOEXEC | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY))
                as u32
                | libc::O_LARGEFILE as u32,
            is_dir: st.mode & S_IFMT == S_IFDIR,
        }))
    }

    fn stat(&self, start: Start<'_>, path: &[u8], follow: bool) -> SysResult<Stat> {
        let (dirfd, host) = self.locate(start, path)?;
        // SAFETY: a zeroed libc::stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let fl = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        // SAFETY: valid C string, dirfd we own or AT_FDCWD, valid out-buffer.
        check(unsafe { libc::fstatat(dirfd, host.as_ptr(), &mut st, fl) } as i64)?;
        Ok(from_host(&st))
    }

    fn readlink(&self, start: Start<'_>, path: &[u8]) -> SysResult<Vec<u8>> {
        let (dirfd, host) = self.locate(start, path)?;
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid C string and a writable buffer of the given length.
        let n = check(unsafe {
            libc::readlinkat(dirfd, host.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        } as i64)?;
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn access(&self, start: Start<'_>, path: &[u8], mode: u32) -> SysResult<()> {
        let (dirfd, host) = self.locate(start, path)?;
        // SAFETY: valid C string and dirfd.
        check(
            unsafe { libc::faccessat(dirfd, host.as_ptr(), (mode & 7) as i32 & !libc::W_OK, 0) }
                as i64,
        )?;
        if mode & libc::W_OK as u32 != 0 {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    fn resolve_dir(&self, start: Start<'_>, path: &[u8]) -> SysResult<String> {
        let (dirfd, host) = self.locate(start, path)?;
        if dirfd != libc::AT_FDCWD {
            return Err(Errno::ENOSYS);
        }
        let p = std::fs::canonicalize(std::ffi::OsStr::new(
            std::str::from_utf8(host.as_bytes()).map_err(|_| Errno::EINVAL)?,
        ))
        .map_err(|e| Errno::from_io(&e))?;
        if !p.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let s = p.to_str().ok_or(Errno::EINVAL)?;
        let inside = s.strip_prefix(self.root.as_str()).unwrap_or(s);
        Ok(if inside.is_empty() {
            "/".into()
        } else {
            inside.to_string()
        })
    }
}

/// A host file or directory opened read-only.
pub struct HostFile {
    fd: OwnedFd,
    flags: u32,
    is_dir: bool,
}

impl FileDescription for HostFile {
    fn read(&self, buf: &mut [u8]) -> SysResult<usize> {
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        Ok(check(
            unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } as i64,
        )? as usize)
    }
    fn write(&self, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        Ok(check(unsafe {
            libc::pread(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off)
        } as i64)? as usize)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        let w = match whence {
            Whence::Set => libc::SEEK_SET,
            Whence::Cur => libc::SEEK_CUR,
            Whence::End => libc::SEEK_END,
        };
        // SAFETY: lseek on our own fd.
        Ok(check(unsafe { libc::lseek(self.fd.as_raw_fd(), offset, w) })? as u64)
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
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One of the sandbox's standard streams: a host fd handed to the sandbox.
pub struct HostStdio {
    fd: OwnedFd,
    flags: u32,
}

impl HostStdio {
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
            fd: unsafe { OwnedFd::from_raw_fd(nfd) },
            flags: fl.max(0) as u32,
        })
    }
}

impl FileDescription for HostStdio {
    fn read(&self, buf: &mut [u8]) -> SysResult<usize> {
        if self.flags & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32 {
            return Err(Errno::EBADF);
        }
        // SAFETY: buf is a valid writable buffer.
        Ok(check(
            unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } as i64,
        )? as usize)
    }
    fn write(&self, buf: &[u8]) -> SysResult<usize> {
        if self.flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32 {
            return Err(Errno::EBADF);
        }
        // SAFETY: buf is a valid readable buffer.
        Ok(check(
            unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) } as i64,
        )? as usize)
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: buf is a valid writable buffer.
        Ok(check(unsafe {
            libc::pread(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off)
        } as i64)? as usize)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        let w = match whence {
            Whence::Set => libc::SEEK_SET,
            Whence::Cur => libc::SEEK_CUR,
            Whence::End => libc::SEEK_END,
        };
        // SAFETY: lseek on our own fd.
        Ok(check(unsafe { libc::lseek(self.fd.as_raw_fd(), offset, w) })? as u64)
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
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_files_read_only() {
        let fs = HostFs::new("/");
        let f = fs
            .open(
                Start::Cwd("/"),
                b"/etc/hostname",
                libc::O_RDONLY as u32,
                true,
            )
            .or_else(|_| fs.open(Start::Cwd("/"), b"/etc/passwd", 0, true))
            .unwrap();
        let mut b = [0u8; 4];
        assert!(f.read(&mut b).unwrap() > 0);
        assert_eq!(f.write(b"x"), Err(Errno::EBADF));
        assert_eq!(
            fs.open(
                Start::Cwd("/"),
                b"/tmp/x",
                (libc::O_WRONLY | libc::O_CREAT) as u32,
                true
            )
            .err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            fs.open(Start::Cwd("/"), b"/nonexistent-x", 0, true).err(),
            Some(Errno::ENOENT)
        );
        // Relative to a directory fd.
        let etc = fs
            .open(Start::Cwd("/"), b"/etc", libc::O_DIRECTORY as u32, true)
            .unwrap();
        assert!(fs.stat(Start::Dir(&etc), b"passwd", true).is_ok());
        let mut d = [0u8; 4096];
        assert!(etc.getdents64(&mut d).unwrap() > 0);
        assert_eq!(etc.read(&mut d), Err(Errno::EISDIR));
        assert_eq!(fs.resolve_dir(Start::Cwd("/"), b"/etc/..").unwrap(), "/");
        assert_eq!(
            fs.access(Start::Cwd("/"), b"/etc/passwd", 2),
            Err(Errno::EROFS)
        );
    }

    #[test]
    fn sentry_internals_are_unreachable() {
        let fs = HostFs::new("/");
        for p in [
            &b"/proc/self/mem"[..],
            b"/proc",
            b"/dev/fd/../mem",
            b"/dev/fd/0/../../mem",
        ] {
            assert!(
                fs.open(Start::Cwd("/"), p, 0, true).is_err(),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        let mem = kvm_vcpu::MemoryFile::new(4 << 20).unwrap();
        let p = format!("/dev/fd/{}", mem.raw_fd());
        assert_eq!(
            fs.open(Start::Cwd("/"), p.as_bytes(), 0, true).err(),
            Some(Errno::EACCES)
        );
        let p = format!("/proc/self/fd/{}", mem.raw_fd());
        assert_eq!(
            fs.open(Start::Cwd("/"), p.as_bytes(), 0, true).err(),
            Some(Errno::EACCES)
        );
    }

    #[test]
    fn devices_are_refused_except_harmless_ones() {
        let fs = HostFs::new("/");
        assert!(fs.open(Start::Cwd("/"), b"/dev/null", 0, true).is_ok());
        assert!(fs.open(Start::Cwd("/"), b"/dev/urandom", 0, true).is_ok());
        if std::path::Path::new("/dev/kvm").exists() {
            assert_eq!(
                fs.open(Start::Cwd("/"), b"/dev/kvm", 0, true).err(),
                Some(Errno::EACCES)
            );
        }
        if std::path::Path::new("/dev/mem").exists() {
            assert_eq!(
                fs.open(Start::Cwd("/"), b"/dev/mem", 0, true).err(),
                Some(Errno::EACCES)
            );
        }
    }
}
