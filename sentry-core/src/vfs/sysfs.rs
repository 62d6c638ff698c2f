//! A minimal sysfs: /sys/devices/system/cpu/{online,possible,present}.

use std::any::Any;
use std::sync::Arc;

use super::{dirent, FileDescription, Fs, Stat, S_IFDIR, S_IFREG};
use crate::errno::{Errno, SysResult};

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
    fn lstat(&self, path: &str) -> SysResult<Stat> {
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

    fn readlink(&self, _path: &str) -> SysResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    fn open(
        self: Arc<Self>,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        if flags as i32 & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EACCES);
        }
        let st = self.lstat(path)?;
        let (data, entries) = match (self.file(path), self.dir(path)) {
            (Some(d), _) => (d, None),
            (None, Some(e)) => (Vec::new(), Some(e.iter().map(|n| n.to_string()).collect())),
            _ => return Err(Errno::ENOENT),
        };
        Ok(Arc::new(SysFile {
            data,
            entries,
            stat: st,
            pos: std::sync::Mutex::new(0),
            path: std::sync::OnceLock::new(),
        }))
    }

    fn fs_type(&self) -> u64 {
        0x6265_6572
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct SysFile {
    data: Vec<u8>,
    entries: Option<Vec<String>>,
    stat: Stat,
    pos: std::sync::Mutex<u64>,
    path: std::sync::OnceLock<String>,
}

impl FileDescription for SysFile {
    fn read(&self, buf: &mut [u8]) -> SysResult<usize> {
        if self.entries.is_some() {
            return Err(Errno::EISDIR);
        }
        let mut p = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.pread(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn write(&self, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        let off = (off as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let e = self.entries.as_ref().ok_or(Errno::ENOTDIR)?;
        let mut all = vec![
            (".".to_string(), self.stat.ino, S_IFDIR),
            ("..".to_string(), 1, S_IFDIR),
        ];
        all.extend(
            e.iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), self.stat.ino + 1 + i as u64, S_IFREG)),
        );
        let mut p = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        dirent::fill(buf, &all, &mut p)
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
