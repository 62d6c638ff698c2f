//! The client side, used by the sentry's gofer file system.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

use prost::Message;

use crate::proto::{id, op, Attr, Entry, Request, Response};
use crate::{wire, GoferError};

/// A connection to one gofer. Requests are serialised.
pub struct Client {
    sock: Mutex<OwnedFd>,
}

/// The result of a call: a positive errno from the gofer, or a transport
/// failure (reported as EIO to the app).
pub type CallResult<T> = Result<T, i32>;

impl Client {
    /// Over a connected socket.
    pub fn new(sock: OwnedFd) -> Self {
        Client {
            sock: Mutex::new(sock),
        }
    }

    fn call(&self, op: u32, path: &str, flags: u32) -> CallResult<(Response, Option<OwnedFd>)> {
        self.send(Request {
            op,
            path: path.to_string(),
            flags,
            ..Default::default()
        })
    }

    fn send(&self, req: Request) -> CallResult<(Response, Option<OwnedFd>)> {
        let sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        let io = |e: GoferError| {
            eprintln!("gvisor: gofer connection failed: {e}");
            libc::EIO
        };
        wire::send(sock.as_raw_fd(), id::REQUEST, &req.encode_to_vec(), None).map_err(io)?;
        let (mid, payload, fd) = wire::recv(sock.as_raw_fd()).map_err(io)?.ok_or(libc::EIO)?;
        if mid != id::RESPONSE {
            return Err(libc::EIO);
        }
        let resp = Response::decode(payload.as_slice()).map_err(|_| libc::EIO)?;
        if resp.errno != 0 {
            return Err(resp.errno);
        }
        Ok((resp, fd))
    }

    /// lstat.
    pub fn lstat(&self, path: &str) -> CallResult<Attr> {
        self.call(op::LSTAT, path, 0)?.0.attr.ok_or(libc::EIO)
    }

    /// readlink.
    pub fn readlink(&self, path: &str) -> CallResult<Vec<u8>> {
        Ok(self.call(op::READLINK, path, 0)?.0.data)
    }

    /// Opens read-only; returns the donated host fd and its attributes.
    pub fn open(&self, path: &str, flags: u32) -> CallResult<(OwnedFd, Attr)> {
        let (resp, fd) = self.call(op::OPEN, path, flags)?;
        Ok((fd.ok_or(libc::EIO)?, resp.attr.ok_or(libc::EIO)?))
    }

    /// A directory's entries.
    pub fn list(&self, path: &str) -> CallResult<Vec<Entry>> {
        Ok(self.call(op::LIST, path, 0)?.0.entries)
    }

    /// Opens with write or create flags (a writable mount); `mode` for a
    /// create.
    pub fn open_write(&self, path: &str, flags: u32, mode: u32) -> CallResult<(OwnedFd, Attr)> {
        let (resp, fd) = self.send(Request {
            op: op::OPEN,
            path: path.into(),
            flags,
            mode,
            ..Default::default()
        })?;
        Ok((fd.ok_or(libc::EIO)?, resp.attr.ok_or(libc::EIO)?))
    }

    /// mkdir.
    pub fn mkdir(&self, path: &str, mode: u32) -> CallResult<()> {
        self.send(Request {
            op: op::MKDIR,
            path: path.into(),
            mode,
            ..Default::default()
        })
        .map(drop)
    }

    /// unlink or rmdir (`dir`).
    pub fn unlink(&self, path: &str, dir: bool) -> CallResult<()> {
        let flags = if dir { libc::AT_REMOVEDIR as u32 } else { 0 };
        self.call(op::UNLINK, path, flags).map(drop)
    }

    /// rename (renameat2 flags).
    pub fn rename(&self, from: &str, to: &str, flags: u32) -> CallResult<()> {
        self.send(Request {
            op: op::RENAME,
            path: from.into(),
            path2: to.into(),
            flags,
            ..Default::default()
        })
        .map(drop)
    }

    /// symlink `path` → `target`.
    pub fn symlink(&self, target: &[u8], path: &str) -> CallResult<()> {
        self.send(Request {
            op: op::SYMLINK,
            path: path.into(),
            data: target.to_vec(),
            ..Default::default()
        })
        .map(drop)
    }

    /// Hard link.
    pub fn link(&self, from: &str, to: &str) -> CallResult<()> {
        self.send(Request {
            op: op::LINK,
            path: from.into(),
            path2: to.into(),
            ..Default::default()
        })
        .map(drop)
    }

    /// Attribute changes (see `proto::set`).
    pub fn setattr(&self, req: Request) -> CallResult<()> {
        self.send(Request {
            op: op::SETATTR,
            ..req
        })
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Server;

    #[test]
    fn round_trips_and_confinement() {
        let dir = std::env::temp_dir().join(format!("gofer-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), b"data").unwrap();
        let _ = std::os::unix::fs::symlink("/etc", dir.join("escape"));
        let (a, b) = wire::socketpair().unwrap();
        let server = Server::new(dir.to_str().unwrap()).unwrap();
        let t = std::thread::spawn(move || server.serve(b));
        let c = Client::new(a);
        assert_eq!(c.lstat("sub/f").unwrap().size, 4);
        let (fd, attr) = c.open("sub/f", 0).unwrap();
        assert_eq!(attr.size, 4);
        let mut buf = [0u8; 8];
        // SAFETY: reading into a local buffer from the donated fd.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(&buf[..n as usize], b"data");
        assert_eq!(c.list("sub").unwrap().len(), 1);
        assert_eq!(c.readlink("escape").unwrap(), b"/etc");
        // Never through a symlink, never above the root.
        assert_eq!(c.lstat("escape/passwd").err(), Some(libc::ENOTDIR));
        assert_eq!(c.open("escape/passwd", 0).err(), Some(libc::ENOTDIR));
        assert_eq!(c.lstat("../etc").err(), Some(libc::EINVAL));
        assert_eq!(c.lstat("proc/self").err(), Some(libc::EACCES));
        assert_eq!(c.list("sys").err(), Some(libc::EACCES));
        assert_eq!(
            c.open("sub/f", libc::O_WRONLY as u32).err(),
            Some(libc::EROFS)
        );
        assert_eq!(c.mkdir("newdir", 0o755).err(), Some(libc::EROFS));
        assert_eq!(c.unlink("sub/f", false).err(), Some(libc::EROFS));
        drop(c);
        t.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writable_mount_operations() {
        let dir = std::env::temp_dir().join(format!("gofer-w-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let outside = std::env::temp_dir().join(format!("gofer-w-outside-{}", std::process::id()));
        std::fs::write(&outside, b"keep").unwrap();
        let (a, b) = wire::socketpair().unwrap();
        let server = Server::new(dir.to_str().unwrap()).unwrap().writable(true);
        let t = std::thread::spawn(move || server.serve(b));
        let c = Client::new(a);
        c.mkdir("d", 0o750).unwrap();
        let flags = (libc::O_CREAT | libc::O_WRONLY) as u32;
        let (fd, _) = c.open_write("d/f", flags, 0o640).unwrap();
        // SAFETY: writing a local buffer to the donated fd.
        let written = unsafe { libc::write(fd.as_raw_fd(), b"abc".as_ptr().cast(), 3) };
        assert_eq!(written, 3);
        assert_eq!(std::fs::read(dir.join("d/f")).unwrap(), b"abc");
        c.rename("d/f", "d/g", 0).unwrap();
        c.link("d/g", "d/h").unwrap();
        c.symlink(outside.to_str().unwrap().as_bytes(), "d/l")
            .unwrap();
        // Attribute changes never follow a symlink out of the mount.
        let r = c.setattr(Request {
            path: "d/l".into(),
            set: crate::proto::set::MODE | crate::proto::set::SIZE,
            mode: 0o777,
            size: 0,
            ..Default::default()
        });
        assert_eq!(r.err(), Some(libc::EOPNOTSUPP));
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        c.setattr(Request {
            path: "d/g".into(),
            set: crate::proto::set::SIZE,
            size: 1,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(std::fs::read(dir.join("d/h")).unwrap(), b"a");
        c.unlink("d/h", false).unwrap();
        c.unlink("d/g", false).unwrap();
        c.unlink("d/l", false).unwrap();
        c.unlink("d", true).unwrap();
        assert_eq!(c.mkdir("../x", 0o755).err(), Some(libc::EINVAL));
        drop(c);
        t.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&outside).unwrap();
    }
}
