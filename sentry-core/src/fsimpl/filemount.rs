//! A file system that is one regular file, mounted over a file path: how a
//! single-file bind mount (/etc/hosts, /etc/resolv.conf, ...) appears in
//! the sandbox. The contents are a copy taken when the container is made
//! (held in sandbox memory); a read-only mount refuses writes with EROFS, a
//! read-write one keeps them in the sandbox.

use std::any::Any;
use std::sync::Arc;

use super::tmpfs::TmpFs;
use crate::errno::{Errno, SysResult};
use crate::vfs::{Detached, TaskContext};
use crate::vfs::{FileDescription, Fs, SetAttr, Stat};

/// The name of the one file inside the backing tmpfs.
const NAME: &str = "file";

/// One file, mounted at its own path.
pub struct FileMount {
    inner: Arc<TmpFs>,
    writable: bool,
}

impl FileMount {
    /// A mount holding `data` with permission bits `mode`.
    pub fn new(data: &[u8], mode: u32, writable: bool, dev: u64) -> SysResult<Arc<FileMount>> {
        let inner = TmpFs::new(0o755, dev);
        let f = inner.clone().open(
            &Detached,
            NAME,
            (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32,
            mode & 0o7777,
        )?;
        let mut done = 0;
        while done < data.len() {
            done += f.write(&Detached, &data[done..])?;
        }
        Ok(Arc::new(FileMount { inner, writable }))
    }

    fn path(path: &str) -> SysResult<&'static str> {
        if path.is_empty() {
            Ok(NAME)
        } else {
            Err(Errno::ENOTDIR)
        }
    }
}

impl Fs for FileMount {
    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        self.inner.lstat(ctx, Self::path(path)?)
    }
    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        Self::path(path)?;
        Err(Errno::EINVAL)
    }
    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let p = Self::path(path)?;
        let wants_write =
            flags as i32 & libc::O_ACCMODE != libc::O_RDONLY || flags as i32 & libc::O_TRUNC != 0;
        if wants_write && !self.writable {
            return Err(Errno::EROFS);
        }
        if flags as i32 & libc::O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        // The file exists: O_CREAT|O_EXCL fails as on Linux.
        if flags as i32 & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
            return Err(Errno::EEXIST);
        }
        self.inner
            .clone()
            .open(ctx, p, flags & !(libc::O_CREAT as u32), mode)
    }
    fn setattr(&self, path: &str, a: &SetAttr) -> SysResult<()> {
        let p = Self::path(path)?;
        if !self.writable {
            return Err(Errno::EROFS);
        }
        self.inner.setattr(p, a)
    }
    fn fs_type(&self) -> u64 {
        // As a bind mount of a host file reports its host file system.
        0xef53
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_read_only_or_not() {
        let ro = FileMount::new(b"127.0.0.1 localhost\n", 0o644, false, 7).unwrap();
        let st = ro.lstat(&Detached, "").unwrap();
        assert_eq!(st.mode & 0o170000, 0o100000);
        assert_eq!(st.size, 20);
        assert_eq!(ro.lstat(&Detached, "x").unwrap_err(), Errno::ENOTDIR);
        let f = ro
            .clone()
            .open(&Detached, "", libc::O_RDONLY as u32, 0)
            .unwrap();
        let mut b = [0u8; 64];
        assert_eq!(f.read(&Detached, &mut b).unwrap(), 20);
        assert_eq!(
            ro.clone()
                .open(&Detached, "", libc::O_WRONLY as u32, 0)
                .err(),
            Some(Errno::EROFS)
        );
        let rw = FileMount::new(b"a", 0o600, true, 7).unwrap();
        let f = rw
            .clone()
            .open(&Detached, "", (libc::O_WRONLY | libc::O_TRUNC) as u32, 0)
            .unwrap();
        f.write(&Detached, b"bcd").unwrap();
        assert_eq!(rw.lstat(&Detached, "").unwrap().size, 3);
    }
}
