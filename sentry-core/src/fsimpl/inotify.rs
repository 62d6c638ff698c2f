//! inotify instances: the file inotify_init returns. Its watches and event
//! queue are an [`Instance`] registered in the VFS's [`Notify`] registry,
//! which the VFS's operations feed.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::vfs::notify::{Instance, Notify, Target};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// An inotify instance's file.
pub struct Inotify {
    id: u64,
    notify: Arc<Notify>,
    inst: Arc<Instance>,
    nonblock: AtomicBool,
}

impl Inotify {
    /// A new instance of `uid` on the registry `notify` (EMFILE past
    /// max_user_instances).
    pub fn new(notify: &Arc<Notify>, uid: u32, nonblock: bool) -> SysResult<Arc<Inotify>> {
        let id = notify.new_instance(uid)?;
        Ok(Arc::new(Inotify {
            id,
            notify: notify.clone(),
            inst: Arc::default(),
            nonblock: nonblock.into(),
        }))
    }

    /// inotify_add_watch on the inode `t`.
    pub fn add_watch(&self, t: &Target, mask: u32) -> SysResult<i32> {
        self.notify.add_watch(self.id, &self.inst, t, mask)
    }

    /// inotify_rm_watch.
    pub fn rm_watch(&self, wd: i32) -> SysResult<()> {
        self.notify.rm_watch(self.id, &self.inst, wd)
    }

    /// The registry it belongs to (add_watch must find inodes there).
    pub fn registry(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// Bytes of the events waiting (FIONREAD).
    pub fn queued_bytes(&self) -> usize {
        self.inst.lock().queued_bytes()
    }

    /// /proc/[pid]/fdinfo lines: one per watch.
    pub fn fdinfo(&self) -> String {
        let st = self.inst.lock();
        let mut wds: Vec<_> = st.watches.iter().collect();
        wds.sort_by_key(|(wd, _)| **wd);
        wds.iter()
            .map(|(wd, w)| {
                // sdev is the kernel's dev_t: major << 20 | minor.
                let dev = w.key.0;
                let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
                format!(
                    "inotify wd:{wd:x} ino:{:x} sdev:{:x} mask:{:x} ignored_mask:0\n",
                    w.key.1,
                    (major << 20) | minor,
                    w.mask
                )
            })
            .collect()
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        self.notify.drop_instance(self.id, &self.inst);
    }
}

impl FileDescription for Inotify {
    fn anon_name(&self) -> Option<&'static str> {
        Some("inotify")
    }
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        let nb = self.nonblock.load(Ordering::Relaxed);
        let out = block_until(ctx, &[&self.inst.wq], None, Errno::EAGAIN, || {
            let mut st = self.inst.lock();
            let Some(first) = st.queue.front() else {
                return nb.then_some(Err(Errno::EAGAIN));
            };
            if first.size() > buf.len() {
                return Some(Err(Errno::EINVAL));
            }
            let mut out = Vec::new();
            while let Some(e) = st.queue.front() {
                if out.len() + e.size() > buf.len() {
                    break;
                }
                e.encode(&mut out);
                st.queue.pop_front();
            }
            Some(Ok(out))
        })?;
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        // Opened read-only.
        Err(Errno::EBADF)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            mode: 0o600,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        if self.inst.lock().queue.is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inst.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        if req != libc::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let n = i32::try_from(self.queued_bytes()).unwrap_or(i32::MAX);
        ctx.mm()?.copy_out(arg, &n.to_le_bytes())?;
        Ok(0)
    }
    fn status_flags(&self) -> u32 {
        let nb = self.nonblock.load(Ordering::Relaxed);
        (libc::O_RDONLY | if nb { libc::O_NONBLOCK } else { 0 }) as u32
    }
    fn set_status_flags(&self, f: u32) {
        self.nonblock
            .store(f & libc::O_NONBLOCK as u32 != 0, Ordering::Relaxed);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
