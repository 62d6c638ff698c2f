//! The gofer server: serves one root directory, never following a symlink
//! on the host; read-only unless made `writable` (a read-write bind mount).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use prost::Message;

use crate::abi::{attr, parse_dirents};
use crate::proto::{id, op, Entry, Request, Response};
use crate::{wire, GoferError};

/// A gofer serving `root`.
pub struct Server {
    root: OwnedFd,
    /// Write operations are served (a read-write bind mount).
    writable: bool,
}

fn cname(name: &str) -> Result<CString, i32> {
    CString::new(name).map_err(|_| libc::EINVAL)
}

fn rc(r: libc::c_int) -> Result<(), i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Character devices that are safe to read: null, zero, full, random, urandom.
pub fn harmless_device(rdev: u64) -> bool {
    let major = ((rdev >> 8) & 0xfff) as u32;
    let minor = (rdev & 0xff) as u32;
    major == 1 && matches!(minor, 3 | 5 | 7 | 8 | 9)
}

impl Server {
    /// A server for the host directory `root`.
    pub fn new(root: &str) -> std::io::Result<Self> {
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
        // SAFETY: fresh descriptor.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Server {
            root,
            writable: false,
        })
    }

    /// Serves write operations too (creates, deletes, renames, attribute
    /// changes, files opened for writing).
    pub fn writable(mut self, on: bool) -> Self {
        self.writable = on;
        self
    }

    fn check_writable(&self) -> Result<(), i32> {
        if self.writable {
            Ok(())
        } else {
            Err(libc::EROFS)
        }
    }

    fn mkdir(&self, path: &str, mode: u32) -> Result<(), i32> {
        self.check_writable()?;
        let (dir, name) = self.parent(path)?;
        // SAFETY: mkdirat relative to a dir fd we own.
        rc(unsafe { libc::mkdirat(dir.as_raw_fd(), cname(&name)?.as_ptr(), mode & 0o7777) })
    }

    fn unlink(&self, path: &str, flags: u32) -> Result<(), i32> {
        self.check_writable()?;
        let (dir, name) = self.parent(path)?;
        let f = flags as i32 & libc::AT_REMOVEDIR;
        // SAFETY: unlinkat relative to a dir fd we own (never follows).
        rc(unsafe { libc::unlinkat(dir.as_raw_fd(), cname(&name)?.as_ptr(), f) })
    }

    fn rename(&self, from: &str, to: &str, flags: u32) -> Result<(), i32> {
        self.check_writable()?;
        let (d1, n1) = self.parent(from)?;
        let (d2, n2) = self.parent(to)?;
        let (c1, c2) = (cname(&n1)?, cname(&n2)?);
        // SAFETY: renameat2 between two dir fds we own (names, no following).
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                d1.as_raw_fd(),
                c1.as_ptr(),
                d2.as_raw_fd(),
                c2.as_ptr(),
                flags & 3,
            )
        };
        rc(r as libc::c_int)
    }

    fn symlink(&self, path: &str, target: &[u8]) -> Result<(), i32> {
        self.check_writable()?;
        let (dir, name) = self.parent(path)?;
        let t = CString::new(target).map_err(|_| libc::EINVAL)?;
        // SAFETY: symlinkat relative to a dir fd we own; the target is data.
        rc(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), cname(&name)?.as_ptr()) })
    }

    fn link(&self, from: &str, to: &str) -> Result<(), i32> {
        self.check_writable()?;
        let (d1, n1) = self.parent(from)?;
        let (d2, n2) = self.parent(to)?;
        let (c1, c2) = (cname(&n1)?, cname(&n2)?);
        // SAFETY: linkat between dir fds we own, not following (flags 0).
        rc(unsafe { libc::linkat(d1.as_raw_fd(), c1.as_ptr(), d2.as_raw_fd(), c2.as_ptr(), 0) })
    }

    /// Attribute changes go through a descriptor opened with O_NOFOLLOW, so
    /// a symlink swapped in can never redirect them; only regular files and
    /// directories are changed.
    fn setattr(&self, req: &Request) -> Result<(), i32> {
        self.check_writable()?;
        let (dir, name) = self.parent(&req.path)?;
        let c = cname(&name)?;
        let acc = if req.set & crate::proto::set::SIZE != 0 {
            libc::O_WRONLY
        } else {
            libc::O_RDONLY
        };
        // SAFETY: openat relative to a dir fd we own, never following.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                acc | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
            )
        };
        if fd < 0 {
            let e = errno();
            return Err(if e == libc::ELOOP {
                libc::EOPNOTSUPP
            } else {
                e
            });
        }
        // SAFETY: fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on our fd.
        rc(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
        if !matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR) {
            return Err(libc::EOPNOTSUPP);
        }
        use crate::proto::set;
        if req.set & set::MODE != 0 {
            // SAFETY: fchmod on our fd.
            rc(unsafe { libc::fchmod(fd.as_raw_fd(), req.mode & 0o7777) })?;
        }
        if req.set & set::OWNER != 0 {
            // SAFETY: fchown on our fd (u32::MAX = unchanged).
            rc(unsafe { libc::fchown(fd.as_raw_fd(), req.uid, req.gid) })?;
        }
        if req.set & set::SIZE != 0 {
            let size = i64::try_from(req.size).map_err(|_| libc::EFBIG)?;
            // SAFETY: ftruncate on our fd, opened for writing.
            rc(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })?;
        }
        if req.set & set::TIMES != 0 {
            let t = |i: usize| req.times.get(i).copied().unwrap_or(libc::UTIME_OMIT);
            let ts = [
                libc::timespec {
                    tv_sec: t(0),
                    tv_nsec: t(1),
                },
                libc::timespec {
                    tv_sec: t(2),
                    tv_nsec: t(3),
                },
            ];
            // SAFETY: futimens on our fd with two valid timespecs.
            rc(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) })?;
        }
        Ok(())
    }

    /// Serves requests on `sock` until the client goes away.
    pub fn serve(&self, sock: OwnedFd) -> Result<(), GoferError> {
        loop {
            let Some((mid, payload, _)) = wire::recv(sock.as_raw_fd())? else {
                return Ok(());
            };
            if mid != id::REQUEST {
                return Err(GoferError::Protocol(format!("unexpected message {mid}")));
            }
            let req = Request::decode(payload.as_slice())
                .map_err(|e| GoferError::Protocol(e.to_string()))?;
            let (resp, fd) = self.handle(&req);
            wire::send(
                sock.as_raw_fd(),
                id::RESPONSE,
                &resp.encode_to_vec(),
                fd.as_ref().map(|f| f.as_raw_fd()),
            )?;
        }
    }

    /// Walks to the directory holding the last component of `path`, one
    /// component at a time with O_NOFOLLOW: returns (dir fd, last name).
    fn parent(&self, path: &str) -> Result<(OwnedFd, String), i32> {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        if comps
            .iter()
            .any(|c| *c == "." || *c == ".." || c.len() > 255)
        {
            return Err(libc::EINVAL);
        }
        // The sandbox has its own /proc and /sys; the host's are never served.
        if matches!(comps.first(), Some(&"proc") | Some(&"sys")) {
            return Err(libc::EACCES);
        }
        // SAFETY: dup of our own fd; checked.
        let mut dir = unsafe { libc::fcntl(self.root.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dir < 0 {
            return Err(errno());
        }
        // SAFETY: fresh descriptor.
        let mut dir_fd = unsafe { OwnedFd::from_raw_fd(dir) };
        let Some((last, ancestors)) = comps.split_last() else {
            return Ok((dir_fd, ".".into()));
        };
        for c in ancestors {
            let name = CString::new(*c).map_err(|_| libc::EINVAL)?;
            // SAFETY: openat relative to a dir fd we own; O_NOFOLLOW refuses symlinks.
            dir = unsafe {
                libc::openat(
                    dir_fd.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            if dir < 0 {
                return Err(errno());
            }
            // SAFETY: fresh descriptor.
            dir_fd = unsafe { OwnedFd::from_raw_fd(dir) };
        }
        Ok((dir_fd, (*last).to_string()))
    }

    fn lstat(&self, path: &str) -> Result<libc::stat, i32> {
        let (dir, name) = self.parent(path)?;
        let c = CString::new(name).map_err(|_| libc::EINVAL)?;
        // SAFETY: a zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstatat relative to a dir fd we own, never following.
        if unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } != 0
        {
            return Err(errno());
        }
        Ok(st)
    }

    fn open(&self, path: &str, flags: u32, mode: u32) -> Result<(OwnedFd, libc::stat), i32> {
        let flags = flags as i32;
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY
            || flags & (libc::O_CREAT | libc::O_TRUNC) != 0;
        if writes {
            self.check_writable()?;
        }
        let (dir, name) = self.parent(path)?;
        let c = CString::new(name).map_err(|_| libc::EINVAL)?;
        let keep = if writes {
            libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_APPEND
        } else {
            0
        };
        let hflags = libc::O_CLOEXEC
            | libc::O_NOCTTY
            | libc::O_NONBLOCK
            | libc::O_NOFOLLOW
            | (flags & (libc::O_DIRECTORY | keep));
        // SAFETY: openat relative to a dir fd we own.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                hflags,
                (mode & 0o7777) as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a zeroed stat is a valid out-buffer; fstat on our fd.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(errno());
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG | libc::S_IFDIR => {}
            libc::S_IFCHR if harmless_device(st.st_rdev) => {}
            libc::S_IFCHR | libc::S_IFBLK => return Err(libc::EACCES),
            _ => return Err(libc::ENXIO),
        }
        // Reads of files and directories never block: clear O_NONBLOCK.
        // SAFETY: fcntl on our own fd.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & libc::O_APPEND) };
        Ok((fd, st))
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, i32> {
        let (fd, _) = self.open(path, libc::O_DIRECTORY as u32, 0)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 << 10];
        loop {
            // SAFETY: getdents64 writes at most buf.len() bytes.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(errno());
            }
            if n == 0 {
                return Ok(out);
            }
            for (name, ino, mode) in parse_dirents(&buf[..(n as usize).min(buf.len())]) {
                if name != "." && name != ".." {
                    out.push(Entry { name, ino, mode });
                }
            }
        }
    }

    fn handle(&self, req: &Request) -> (Response, Option<OwnedFd>) {
        let fail = |e: i32| {
            (
                Response {
                    errno: e,
                    ..Default::default()
                },
                None,
            )
        };
        match req.op {
            op::LSTAT => match self.lstat(&req.path) {
                Ok(st) => (
                    Response {
                        attr: Some(attr(&st)),
                        ..Default::default()
                    },
                    None,
                ),
                Err(e) => fail(e),
            },
            op::READLINK => {
                let r = self.parent(&req.path).and_then(|(dir, name)| {
                    let c = CString::new(name).map_err(|_| libc::EINVAL)?;
                    let mut buf = vec![0u8; 4096];
                    // SAFETY: readlinkat into a buffer of the given size.
                    let n = unsafe {
                        libc::readlinkat(
                            dir.as_raw_fd(),
                            c.as_ptr(),
                            buf.as_mut_ptr().cast(),
                            buf.len(),
                        )
                    };
                    if n < 0 {
                        return Err(errno());
                    }
                    buf.truncate(n as usize);
                    Ok(buf)
                });
                match r {
                    Ok(data) => (
                        Response {
                            data,
                            ..Default::default()
                        },
                        None,
                    ),
                    Err(e) => fail(e),
                }
            }
            op::MKDIR | op::UNLINK | op::RENAME | op::SYMLINK | op::LINK | op::SETATTR => {
                let r = match req.op {
                    op::MKDIR => self.mkdir(&req.path, req.mode),
                    op::UNLINK => self.unlink(&req.path, req.flags),
                    op::RENAME => self.rename(&req.path, &req.path2, req.flags),
                    op::SYMLINK => self.symlink(&req.path, &req.data),
                    op::LINK => self.link(&req.path, &req.path2),
                    _ => self.setattr(req),
                };
                match r {
                    Ok(()) => (Response::default(), None),
                    Err(e) => fail(e),
                }
            }
            op::OPEN => match self.open(&req.path, req.flags, req.mode) {
                Ok((fd, st)) => (
                    Response {
                        attr: Some(attr(&st)),
                        ..Default::default()
                    },
                    Some(fd),
                ),
                Err(e) => fail(e),
            },
            op::LIST => match self.list(&req.path) {
                Ok(entries) => (
                    Response {
                        entries,
                        ..Default::default()
                    },
                    None,
                ),
                Err(e) => fail(e),
            },
            _ => fail(libc::ENOSYS),
        }
    }
}

/// Raw fd helper for tests.
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}
