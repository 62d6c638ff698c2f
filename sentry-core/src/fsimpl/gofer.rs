//! The gofer client file system: the lower layer of the root overlay, read
//! through the vfs-gofer protocol. Opens come back as donated host fds, so
//! reads do not round-trip through the gofer.
//!
//! As gVisor does for a root file system by default ("exclusive" file
//! access), the sandbox is assumed to own its host tree: attributes and link
//! targets, once fetched, are cached for the sandbox's life, so a path walk
//! costs one round trip per new component rather than several per lookup.
//! Changes made to the host tree behind the sandbox's back are therefore not
//! all seen (an open still goes to the gofer and fails if the file is gone).
//! Bind mounts are shared with the host and cache nothing (`new_shared`,
//! `new_writable`).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use vfs_gofer::client::Client;
use vfs_gofer::proto::Attr;

use super::host::{refuse_writes, HostFile};
use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Fs, Stat, S_IFDIR, S_IFMT};

/// A file system served by a gofer.
pub struct GoferFs {
    client: Client,
    attrs: Mutex<HashMap<String, Stat>>,
    links: Mutex<HashMap<String, Vec<u8>>>,
    /// A read-write mount: writes go to the host, nothing is cached (the
    /// host side may change too, e.g. a directory shared between
    /// containers).
    writable: bool,
    /// Attributes and link targets are cached (the root file system, which
    /// the sandbox owns); a bind mount is shared with the host and asks
    /// every time, as gVisor's "shared" file access does.
    cached: bool,
}

/// Entries kept per cache before it is emptied and refilled.
const CACHE_LIMIT: usize = 16384;

fn remember<V>(cache: &Mutex<HashMap<String, V>>, path: &str, v: V) {
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if c.len() >= CACHE_LIMIT {
        c.clear();
    }
    c.insert(path.to_string(), v);
}

fn recall<V: Clone>(cache: &Mutex<HashMap<String, V>>, path: &str) -> Option<V> {
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
        .cloned()
}

impl GoferFs {
    /// Over a connected client.
    pub fn new(client: Client) -> Arc<Self> {
        Arc::new(GoferFs {
            client,
            attrs: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            writable: false,
            cached: true,
        })
    }

    /// A read-only mount of a host directory the host may change behind
    /// the sandbox's back (a bind mount): nothing is cached.
    pub fn new_shared(client: Client) -> Arc<Self> {
        Arc::new(GoferFs {
            client,
            attrs: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            writable: false,
            cached: false,
        })
    }

    /// A read-write mount over a gofer that serves writes.
    pub fn new_writable(client: Client) -> Arc<Self> {
        Arc::new(GoferFs {
            client,
            attrs: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            writable: true,
            cached: false,
        })
    }

    fn writes(&self) -> SysResult<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Errno::EROFS)
        }
    }
}

fn stat(a: &Attr) -> Stat {
    let t = |i: usize| a.times.get(i).copied().unwrap_or(0);
    Stat {
        dev: a.dev,
        ino: a.ino,
        nlink: a.nlink,
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        size: a.size,
        blksize: a.blksize,
        blocks: a.blocks,
        atime: (t(0), t(1)),
        mtime: (t(2), t(3)),
        ctime: (t(4), t(5)),
    }
}

impl Fs for GoferFs {
    fn list(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        Ok(self
            .client
            .list(path)
            .map_err(Errno)?
            .into_iter()
            .map(|e| (e.name, e.ino, e.mode))
            .collect())
    }

    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        if !self.cached {
            return Ok(stat(&self.client.lstat(path).map_err(Errno)?));
        }
        if let Some(st) = recall(&self.attrs, path) {
            return Ok(st);
        }
        let st = stat(&self.client.lstat(path).map_err(Errno)?);
        remember(&self.attrs, path, st);
        Ok(st)
    }

    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        if !self.cached {
            return self.client.readlink(path).map_err(Errno);
        }
        if let Some(t) = recall(&self.links, path) {
            return Ok(t);
        }
        let t = self.client.readlink(path).map_err(Errno)?;
        remember(&self.links, path, t.clone());
        Ok(t)
    }

    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        self.writes()?;
        self.client.mkdir(path, mode).map_err(Errno)
    }

    fn symlink(&self, target: &[u8], path: &str) -> SysResult<()> {
        self.writes()?;
        self.client.symlink(target, path).map_err(Errno)
    }

    fn unlink(&self, path: &str, dir: bool) -> SysResult<()> {
        self.writes()?;
        self.client.unlink(path, dir).map_err(Errno)
    }

    fn rename(&self, from: &str, to: &str, flags: u32) -> SysResult<()> {
        self.writes()?;
        self.client.rename(from, to, flags).map_err(Errno)
    }

    fn link(&self, from: &str, to: &str) -> SysResult<()> {
        self.writes()?;
        self.client.link(from, to).map_err(Errno)
    }

    fn setattr(&self, path: &str, a: &crate::vfs::SetAttr) -> SysResult<()> {
        self.writes()?;
        use vfs_gofer::proto::set;
        let mut req = vfs_gofer::proto::Request {
            path: path.to_string(),
            ..Default::default()
        };
        if let Some(m) = a.mode {
            req.set |= set::MODE;
            req.mode = m;
        }
        if a.uid.is_some() || a.gid.is_some() {
            req.set |= set::OWNER;
            req.uid = a.uid.unwrap_or(u32::MAX);
            req.gid = a.gid.unwrap_or(u32::MAX);
        }
        if let Some(s) = a.size {
            req.set |= set::SIZE;
            req.size = s;
        }
        if a.atime.is_some() || a.mtime.is_some() {
            req.set |= set::TIMES;
            let (at, mt) = (
                a.atime.unwrap_or((0, libc::UTIME_OMIT)),
                a.mtime.unwrap_or((0, libc::UTIME_OMIT)),
            );
            req.times = vec![at.0, at.1, mt.0, mt.1];
        }
        self.client.setattr(req).map_err(Errno)
    }

    fn open(
        self: Arc<Self>,
        _ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        if self.writable && refuse_writes(flags).is_err() {
            let (fd, attr) = self.client.open_write(path, flags, mode).map_err(Errno)?;
            return Ok(Arc::new(HostFile::from_fd(
                fd,
                flags,
                attr.mode & S_IFMT == S_IFDIR,
            )));
        }
        refuse_writes(flags)?;
        let (fd, attr) = self.client.open(path, flags).map_err(Errno)?;
        if !self.writable {
            remember(&self.attrs, path, stat(&attr));
        }
        Ok(Arc::new(HostFile::from_fd(
            fd,
            flags,
            attr.mode & S_IFMT == S_IFDIR,
        )))
    }

    fn fs_type(&self) -> u64 {
        0xef53
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Detached;

    #[test]
    fn serves_the_host_tree_through_a_gofer() {
        let dir = std::env::temp_dir().join(format!("gofer-fs-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::write(dir.join("d/f"), b"hello").unwrap();
        let _ = std::os::unix::fs::symlink("d/f", dir.join("l"));
        let (a, b) = vfs_gofer::wire::socketpair().unwrap();
        let server = vfs_gofer::server::Server::new(dir.to_str().unwrap()).unwrap();
        let t = std::thread::spawn(move || server.serve(b));
        let fs = GoferFs::new(Client::new(a));
        for _ in 0..2 {
            // The second round is answered from the cache.
            assert_eq!(fs.lstat(&Detached, "d/f").unwrap().size, 5);
            assert_eq!(fs.readlink(&Detached, "l").unwrap(), b"d/f");
        }
        assert_eq!(fs.lstat(&Detached, "nope").err(), Some(Errno::ENOENT));
        let names: Vec<String> = fs.list("d").unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(names, vec!["f".to_string()]);
        assert_eq!(
            fs.clone()
                .open(&Detached, "d/f", libc::O_WRONLY as u32, 0)
                .err(),
            Some(Errno::EROFS)
        );
        assert!(fs.clone().open(&Detached, "d/f", 0, 0).is_ok());
        drop(fs);
        t.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
