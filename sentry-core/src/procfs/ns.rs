//! /proc/[pid]/ns/{mnt,uts}: files that stand for a namespace (setns(2)).

use std::any::Any;
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::UtsNs;
use crate::vfs::{FileDescription, Stat, TaskContext, Vfs};

/// A namespace an ns file names.
#[derive(Clone)]
pub enum Ns {
    /// A UTS namespace (None: the initial one).
    Uts(Option<Arc<UtsNs>>),
    /// A mount namespace (its mount table).
    Mnt(Arc<Vfs>),
}

/// The initial UTS namespace's inode number, as Linux's.
const INITIAL_UTS: u64 = 0xEFFF_FFFE;

impl Ns {
    /// The inode number ls and readlink show ("uts:[N]").
    pub fn ino(&self) -> u64 {
        let p = match self {
            Ns::Uts(None) => return INITIAL_UTS,
            Ns::Uts(Some(u)) => Arc::as_ptr(u) as usize,
            Ns::Mnt(v) => Arc::as_ptr(v) as usize,
        };
        0xF000_0000 + ((p as u64 >> 4) & 0x0fff_ffff)
    }

    /// The link text of /proc/[pid]/ns/NAME.
    pub fn link(&self) -> String {
        let kind = match self {
            Ns::Uts(_) => "uts",
            Ns::Mnt(_) => "mnt",
        };
        format!("{kind}:[{}]", self.ino())
    }
}

/// An open /proc/[pid]/ns file.
pub struct NsFile(pub Ns);

impl FileDescription for NsFile {
    fn read(&self, _ctx: &dyn TaskContext, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            ino: self.0.ino(),
            nlink: 1,
            mode: crate::vfs::S_IFREG | 0o444,
            blksize: 4096,
            ..Default::default()
        })
    }
    fn status_flags(&self) -> u32 {
        libc::O_RDONLY as u32
    }
    /// open(2) of the ns link: another description of the namespace.
    fn reopen(&self, _flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        Some(Ok(Arc::new(NsFile(self.0.clone()))))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
