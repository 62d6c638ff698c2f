//! The open files of a terminal: the master (/dev/ptmx) and the slave
//! (/dev/pts/N, or /dev/tty), their status flags, and what they stat as.

use std::any::Any;
use std::sync::{Arc, Mutex};

use super::pty::Pty;
use super::{lock, PTS_MAJOR};
use crate::errno::SysResult;
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::WaitQueue;

/// stat of /dev/pts/N.
pub fn pts_stat(index: u32, uid: u32) -> Stat {
    Stat {
        dev: 0x16,
        ino: index as u64 + 3,
        nlink: 1,
        mode: libc::S_IFCHR | 0o620,
        uid,
        gid: 5,
        rdev: (PTS_MAJOR << 8) | (index as u64 & 0xff) | ((index as u64 >> 8) << 20),
        blksize: 1024,
        ..Default::default()
    }
}

/// Status flags of an open terminal end (O_NONBLOCK, O_APPEND settable).
pub(super) struct Flags(pub(super) Mutex<u32>);

impl Flags {
    pub(super) fn new(open_flags: u32) -> Flags {
        let once = (libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOCTTY) as u32;
        Flags(Mutex::new(open_flags & !once))
    }
    pub(super) fn get(&self) -> u32 {
        *lock(&self.0)
    }
    pub(super) fn set(&self, f: u32) {
        let mut fl = lock(&self.0);
        let keep = (libc::O_APPEND | libc::O_NONBLOCK) as u32;
        *fl = (*fl & !keep) | (f & keep);
    }
    pub(super) fn nonblock(&self) -> bool {
        self.get() & libc::O_NONBLOCK as u32 != 0
    }
}

/// stat of /dev/ptmx (`ptmx`) or /dev/tty, as devfs lists them and as their
/// open files report.
pub fn dev_stat(ptmx: bool) -> Stat {
    Stat {
        dev: 0x5,
        ino: if ptmx { 41 } else { 40 },
        nlink: 1,
        mode: libc::S_IFCHR | 0o666,
        rdev: if ptmx { (5 << 8) | 2 } else { 5 << 8 },
        blksize: 4096,
        ..Default::default()
    }
}

/// The master side (/dev/ptmx).
pub struct Master {
    pub(super) pty: Arc<Pty>,
    pub(super) flags: Flags,
    pub(super) path: std::sync::OnceLock<String>,
}

impl Drop for Master {
    fn drop(&mut self) {
        let (hangup, fg) = {
            let mut s = self.pty.lock();
            s.masters -= 1;
            let hangup = s.masters == 0 && s.sid != 0;
            let fg = s.fg;
            if s.masters == 0 {
                s.sid = 0;
            }
            (hangup, fg)
        };
        self.pty.wq.notify_all();
        if hangup {
            self.pty.signal_group(fg, libc::SIGHUP as u32);
            self.pty.signal_group(fg, libc::SIGCONT as u32);
        }
    }
}

impl FileDescription for Master {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.master_read(ctx, buf, self.flags.nonblock())
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.pty.master_write(ctx, buf, self.flags.nonblock())
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(dev_stat(true))
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        self.pty.ioctl(ctx, true, req, arg)
    }
    fn status_flags(&self) -> u32 {
        self.flags.get()
    }
    fn set_status_flags(&self, f: u32) {
        self.flags.set(f);
    }
    fn path(&self) -> Option<String> {
        Some(
            self.path
                .get()
                .cloned()
                .unwrap_or_else(|| "/dev/ptmx".into()),
        )
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn readiness(&self) -> u32 {
        self.pty.readiness(true)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The slave side (/dev/pts/N, /dev/tty).
pub struct Slave {
    pub(super) pty: Arc<Pty>,
    pub(super) flags: Flags,
    pub(super) path: String,
    /// Opened as /dev/tty.
    pub(super) as_tty: bool,
}

impl Drop for Slave {
    fn drop(&mut self) {
        self.pty.lock().slaves -= 1;
        self.pty.wq.notify_all();
    }
}

impl FileDescription for Slave {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.slave_read(ctx, buf, self.flags.nonblock())
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.pty.slave_write(ctx, buf, self.flags.nonblock())
    }
    fn stat(&self) -> SysResult<Stat> {
        if self.as_tty {
            return Ok(dev_stat(false));
        }
        Ok(pts_stat(self.pty.index, self.pty.uid))
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        self.pty.ioctl(ctx, false, req, arg)
    }
    fn status_flags(&self) -> u32 {
        self.flags.get()
    }
    fn set_status_flags(&self, f: u32) {
        self.flags.set(f);
    }
    fn path(&self) -> Option<String> {
        Some(self.path.clone())
    }
    fn readiness(&self) -> u32 {
        self.pty.readiness(false)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
