//! A minimal sysfs: /sys/devices/system/cpu/{online,possible,present}.

use std::any::Any;
use std::sync::Arc;

use super::synthetic::SyntheticFile;
use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Fs, Stat, S_IFDIR, S_IFREG};

/// The /sys file system.
pub struct SysFs {
    cpus: usize,
}

impl SysFs {
    /// With `cpus` CPUs online.
    pub fn new(cpus: usize) -> Arc<Self> {
        Arc::new(SysFs { cpus: cpus.max(1) })
    }

    fn dir(&self, path: &str) -> Option<Vec<&'static str>> {
        match path {
            "" => Some(vec!["devices"]),
            "devices" => Some(vec!["system"]),
            "devices/system" => Some(vec!["cpu"]),
            "devices/system/cpu" => Some(vec!["online", "possible", "present"]),
            _ => None,
        }
    }

    fn file(&self, path: &str) -> Option<Vec<u8>> {
        match path {
            "devices/system/cpu/online"
            | "devices/system/cpu/possible"
            | "devices/system/cpu/present" => Some(
                if self.cpus == 1 {
                    "0\n".to_string()
                } else {
                    format!("0-{}\n", self.cpus - 1)
                }
                .into_bytes(),
            ),
            _ => None,
        }
    }
}

fn ino(path: &str) -> u64 {
    path.bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
}

impl Fs for SysFs {
    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        let base = Stat {
            dev: 0x6,
            ino: ino(path),
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        };
        if self.dir(path).is_some() {
            return Ok(Stat {
                mode: S_IFDIR | 0o555,
                nlink: 2,
                ..base
            });
        }
        if self.file(path).is_some() {
            return Ok(Stat {
                mode: S_IFREG | 0o444,
                size: 4096,
                ..base
            });
        }
        Err(Errno::ENOENT)
    }

    fn readlink(&self, _ctx: &dyn TaskContext, _path: &str) -> SysResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        if flags as i32 & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EACCES);
        }
        let st = self.lstat(ctx, path)?;
        match (self.file(path), self.dir(path)) {
            (Some(d), _) => Ok(SyntheticFile::file(d, st)),
            (None, Some(e)) => {
                let sep = if path.is_empty() { "" } else { "/" };
                let entries = e
                    .iter()
                    .map(|n| {
                        let mode = self
                            .lstat(ctx, &format!("{path}{sep}{n}"))
                            .map_or(S_IFREG, |s| s.mode & crate::vfs::S_IFMT);
                        (n.to_string(), mode)
                    })
                    .collect();
                Ok(SyntheticFile::dir(entries, st))
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn fs_type(&self) -> u64 {
        0x6265_6572
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
