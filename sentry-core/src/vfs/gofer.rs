//! The gofer client file system: the lower layer of the root overlay, read
//! through the vfs-gofer protocol. Opens come back as donated host fds, so
//! reads do not round-trip through the gofer.

use std::any::Any;
use std::sync::Arc;

use vfs_gofer::client::Client;
use vfs_gofer::proto::Attr;

use super::host::HostFile;
use super::{FileDescription, Fs, Stat, S_IFDIR, S_IFMT};
use crate::errno::{Errno, SysResult};

/// A file system served by a gofer.
pub struct GoferFs {
    client: Client,
}

impl GoferFs {
    /// Over a connected client.
    pub fn new(client: Client) -> Arc<Self> {
        Arc::new(GoferFs { client })
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

    fn lstat(&self, path: &str) -> SysResult<Stat> {
        Ok(stat(&self.client.lstat(path).map_err(Errno)?))
    }

    fn readlink(&self, path: &str) -> SysResult<Vec<u8>> {
        self.client.readlink(path).map_err(Errno)
    }

    fn open(
        self: Arc<Self>,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let fl = flags as i32;
        if fl & libc::O_ACCMODE != libc::O_RDONLY
            || fl & (libc::O_CREAT | libc::O_TRUNC) != 0
            || fl & libc::O_TMPFILE == libc::O_TMPFILE
        {
            return Err(Errno::EROFS);
        }
        let (fd, attr) = self.client.open(path, flags).map_err(Errno)?;
        let keep =
            flags & !((libc::O_CLOEXEC | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY) as u32);
        Ok(Arc::new(HostFile::from_fd(
            fd,
            keep,
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
