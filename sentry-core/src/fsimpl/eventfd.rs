//! eventfd: a counter with read/write semantics.

use std::any::Any;
use std::sync::Mutex;

use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Stat};
use crate::waiter::{block_until, WaitQueue};

/// An eventfd.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    nonblock: std::sync::atomic::AtomicBool,
    wq: WaitQueue,
}

impl EventFd {
    /// With initial value and EFD_SEMAPHORE / EFD_NONBLOCK.
    pub fn new(init: u64, semaphore: bool, nonblock: bool) -> Self {
        EventFd {
            count: Mutex::new(init),
            semaphore,
            nonblock: nonblock.into(),
            wq: WaitQueue::default(),
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FileDescription for EventFd {
    fn anon_name(&self) -> Option<&'static str> {
        Some("[eventfd]")
    }
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let nb = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        let v = block_until(ctx, &[&self.wq], None, Errno::EAGAIN, || {
            let mut c = self.lock();
            if *c == 0 {
                return nb.then_some(Err(Errno::EAGAIN));
            }
            let v = if self.semaphore { 1 } else { *c };
            *c -= v;
            Some(Ok(v))
        })?;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        self.wq.notify_all();
        Ok(8)
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        let b: [u8; 8] = buf
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let add = u64::from_le_bytes(b);
        if add == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let nb = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        block_until(ctx, &[&self.wq], None, Errno::EAGAIN, || {
            let mut c = self.lock();
            if u64::MAX - 1 - *c >= add {
                *c += add;
                return Some(Ok(()));
            }
            nb.then_some(Err(Errno::EAGAIN))
        })?;
        self.wq.notify_all();
        Ok(8)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            mode: 0o600,
            nlink: 1,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        let c = *self.lock();
        let mut r = 0;
        if c > 0 {
            r |= libc::POLLIN;
        }
        if c < u64::MAX - 1 {
            r |= libc::POLLOUT;
        }
        r as u32
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        let nb = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        (libc::O_RDWR | if nb { libc::O_NONBLOCK } else { 0 }) as u32
    }
    fn set_status_flags(&self, f: u32) {
        self.nonblock.store(
            f & libc::O_NONBLOCK as u32 != 0,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
