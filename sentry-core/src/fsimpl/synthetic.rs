//! A read-only file or directory whose contents are generated when it is
//! opened: the open files of procfs and sysfs.

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

use crate::abi::dirent;
use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Stat, Whence, S_IFDIR};

/// An open synthetic file (its bytes) or directory (its entries).
pub struct SyntheticFile {
    data: Vec<u8>,
    /// Directory entries: (name, file type bits); inodes follow the
    /// directory's own.
    dir: Option<Vec<(String, u32)>>,
    stat: Stat,
    pos: Mutex<u64>,
    path: OnceLock<String>,
}

impl SyntheticFile {
    /// A file holding `data`.
    pub fn file(data: Vec<u8>, stat: Stat) -> Arc<Self> {
        Arc::new(SyntheticFile {
            data,
            dir: None,
            stat,
            pos: Mutex::new(0),
            path: OnceLock::new(),
        })
    }

    /// A directory listing `entries`.
    pub fn dir(entries: Vec<(String, u32)>, stat: Stat) -> Arc<Self> {
        Arc::new(SyntheticFile {
            data: Vec::new(),
            dir: Some(entries),
            stat,
            pos: Mutex::new(0),
            path: OnceLock::new(),
        })
    }

    fn pos(&self) -> std::sync::MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FileDescription for SyntheticFile {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if self.dir.is_some() {
            return Err(Errno::EISDIR);
        }
        let mut p = self.pos();
        let n = self.pread(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        let off = (off as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        let mut p = self.pos();
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => *p as i64,
            Whence::End => self.data.len() as i64,
        };
        let n = base
            .checked_add(offset)
            .filter(|&v| v >= 0)
            .ok_or(Errno::EINVAL)?;
        *p = n as u64;
        Ok(*p)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let d = self.dir.as_ref().ok_or(Errno::ENOTDIR)?;
        let mut all = vec![
            (".".to_string(), self.stat.ino, S_IFDIR),
            ("..".to_string(), 1, S_IFDIR),
        ];
        all.extend(
            d.iter()
                .enumerate()
                .map(|(i, (n, m))| (n.clone(), self.stat.ino + i as u64 + 1, *m)),
        );
        dirent::fill(buf, &all, &mut self.pos())
    }
    fn status_flags(&self) -> u32 {
        libc::O_RDONLY as u32
    }
    fn path(&self) -> Option<String> {
        self.path.get().cloned()
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
