//! devfs: the sandbox's /dev. Memory devices (null, zero, full, random,
//! urandom), the /dev/fd and std{in,out,err} links into /proc/self/fd, and
//! the terminals: /dev/ptmx, /dev/pts/N (devpts) and /dev/tty (see
//! `fs::tty`). /dev/shm is a tmpfs mounted on top by the kernel set-up.

use std::any::Any;
use std::sync::Arc;

use crate::abi::dirent;
use crate::errno::{Errno, SysResult};
use crate::fsimpl::tty::PtyRegistry;
use crate::vfs::{Detached, TaskContext};
use crate::vfs::{FileDescription, Fs, Stat, Whence, S_IFDIR, S_IFLNK};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dev {
    Null,
    Zero,
    Full,
    Random,
}

const DEVICES: [(&str, Dev, u64); 5] = [
    ("null", Dev::Null, (1 << 8) | 3),
    ("zero", Dev::Zero, (1 << 8) | 5),
    ("full", Dev::Full, (1 << 8) | 7),
    ("random", Dev::Random, (1 << 8) | 8),
    ("urandom", Dev::Random, (1 << 8) | 9),
];

const LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

const DIRS: [&str; 2] = ["shm", "pts"];

/// Terminal devices: (name, major/minor).
const TTYS: [&str; 2] = ["tty", "ptmx"];

/// The /dev file system.
#[derive(Default)]
pub struct DevFs {
    ptys: Arc<PtyRegistry>,
}

impl DevFs {
    /// A /dev whose pseudo-terminals are `ptys` (shared with the sandbox's
    /// console).
    pub fn with_ptys(ptys: Arc<PtyRegistry>) -> Self {
        DevFs { ptys }
    }

    /// The pseudo-terminals of this /dev.
    pub fn ptys(&self) -> &Arc<PtyRegistry> {
        &self.ptys
    }

    /// stat of `pts/...`.
    fn pts_lstat(&self, name: &str) -> SysResult<Stat> {
        if name == "ptmx" {
            return Ok(Stat {
                dev: 0x16,
                ino: 2,
                nlink: 1,
                mode: libc::S_IFCHR,
                rdev: (5 << 8) | 2,
                ..Default::default()
            });
        }
        let idx: u32 = name.parse().map_err(|_| Errno::ENOENT)?;
        if name != idx.to_string() {
            return Err(Errno::ENOENT);
        }
        let pty = self.ptys.get(idx).ok_or(Errno::ENOENT)?;
        Ok(crate::fsimpl::tty::pts_stat(idx, pty.owner()))
    }
}

fn stat_for(name: &str) -> SysResult<Stat> {
    let base = Stat {
        dev: 0x5,
        nlink: 1,
        blksize: 4096,
        ..Default::default()
    };
    if name.is_empty() {
        return Ok(Stat {
            ino: 1,
            nlink: 2,
            mode: S_IFDIR | 0o755,
            ..base
        });
    }
    if let Some(i) = DEVICES.iter().position(|d| d.0 == name) {
        return Ok(Stat {
            ino: 10 + i as u64,
            mode: libc::S_IFCHR | 0o666,
            rdev: DEVICES[i].2,
            ..base
        });
    }
    if TTYS.contains(&name) {
        return Ok(crate::fsimpl::tty::dev_stat(name == "ptmx"));
    }
    if let Some(i) = LINKS.iter().position(|l| l.0 == name) {
        return Ok(Stat {
            ino: 20 + i as u64,
            mode: S_IFLNK | 0o777,
            size: LINKS[i].1.len() as i64,
            ..base
        });
    }
    if let Some(i) = DIRS.iter().position(|d| *d == name) {
        return Ok(Stat {
            ino: 30 + i as u64,
            nlink: 2,
            mode: S_IFDIR | if name == "shm" { 0o1777 } else { 0o755 },
            ..base
        });
    }
    Err(Errno::ENOENT)
}

impl Fs for DevFs {
    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        if let Some(rest) = path.strip_prefix("pts/") {
            return self.pts_lstat(rest);
        }
        if path.contains('/') {
            let (top, _) = path.split_once('/').unwrap_or((path, ""));
            return if DIRS.contains(&top) {
                Err(Errno::ENOENT)
            } else if stat_for(top).is_ok() {
                Err(Errno::ENOTDIR)
            } else {
                Err(Errno::ENOENT)
            };
        }
        stat_for(path)
    }

    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        LINKS
            .iter()
            .find(|l| l.0 == path)
            .map(|l| l.1.as_bytes().to_vec())
            .ok_or(Errno::EINVAL)
    }

    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let st = self.lstat(ctx, path).map_err(|e| {
            if e == Errno::ENOENT && flags as i32 & libc::O_CREAT != 0 {
                Errno::EACCES
            } else {
                e
            }
        })?;
        if st.mode & libc::S_IFMT == S_IFDIR {
            let mut entries: Vec<(String, u64, u32)> = Vec::new();
            if path.is_empty() {
                for n in DEVICES
                    .iter()
                    .map(|d| d.0)
                    .chain(TTYS)
                    .chain(LINKS.iter().map(|l| l.0))
                    .chain(DIRS)
                {
                    let s = stat_for(n)?;
                    entries.push((n.to_string(), s.ino, s.mode));
                }
            } else if path == "pts" {
                entries.push(("ptmx".to_string(), 2, libc::S_IFCHR));
                for i in self.ptys.indices() {
                    entries.push((i.to_string(), i as u64 + 3, libc::S_IFCHR));
                }
            }
            return Ok(Arc::new(DevDir {
                entries,
                stat: st,
                pos: std::sync::Mutex::new(0),
                path: std::sync::OnceLock::new(),
            }));
        }
        match path {
            "ptmx" | "pts/ptmx" => return self.ptys.open_master(ctx, flags),
            "tty" => return self.ptys.open_ctty(ctx, flags),
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("pts/") {
            let idx: u32 = rest.parse().map_err(|_| Errno::ENOENT)?;
            let pty = self.ptys.get(idx).ok_or(Errno::ENOENT)?;
            return pty.open_slave(ctx, flags);
        }
        let dev = DEVICES
            .iter()
            .find(|d| d.0 == path)
            .map(|d| d.1)
            .ok_or(Errno::ENXIO)?;
        Ok(Arc::new(DevFile {
            dev,
            stat: st,
            flags,
            path: Default::default(),
        }))
    }

    fn fs_type(&self) -> u64 {
        0x0102_1994
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct DevFile {
    dev: Dev,
    stat: Stat,
    flags: u32,
    /// The path it was opened by (/proc/PID/fd shows it).
    path: std::sync::OnceLock<String>,
}

impl FileDescription for DevFile {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        match self.dev {
            Dev::Null => Ok(0),
            Dev::Zero | Dev::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Dev::Random => {
                crate::platform::getrandom(buf);
                Ok(buf.len())
            }
        }
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        match self.dev {
            Dev::Full => Err(Errno::ENOSPC),
            _ => Ok(buf.len()),
        }
    }
    fn pread(&self, buf: &mut [u8], _offset: u64) -> SysResult<usize> {
        self.read(&Detached, buf)
    }
    fn pwrite(&self, buf: &[u8], _offset: u64) -> SysResult<usize> {
        self.write(&Detached, buf)
    }
    fn seek(&self, _offset: i64, _whence: Whence) -> SysResult<u64> {
        Ok(0)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn status_flags(&self) -> u32 {
        self.flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC) as u32
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

struct DevDir {
    entries: Vec<(String, u64, u32)>,
    stat: Stat,
    pos: std::sync::Mutex<u64>,
    path: std::sync::OnceLock<String>,
}

impl FileDescription for DevDir {
    fn read(&self, _ctx: &dyn TaskContext, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EISDIR)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let mut all = vec![
            (".".to_string(), self.stat.ino, S_IFDIR),
            ("..".to_string(), 1, S_IFDIR),
        ];
        all.extend(self.entries.iter().cloned());
        let mut p = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        dirent::fill(buf, &all, &mut p)
    }
    fn status_flags(&self) -> u32 {
        (libc::O_RDONLY | libc::O_DIRECTORY) as u32
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
