//! pidfd: a file that refers to a process (or, with PIDFD_THREAD, one thread)
//! whatever its pid becomes after it is reaped. Readable (POLLIN) once the
//! process has exited, POLLHUP once it has been reaped; read and write are
//! EINVAL, as on Linux.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::ThreadGroup;
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::WaitQueue;

/// An open pidfd.
pub struct PidFd {
    /// The process.
    pub tg: Arc<ThreadGroup>,
    /// The thread, for a PIDFD_THREAD pidfd (else the process's pid).
    pub tid: i32,
    /// Made with PIDFD_THREAD: it refers to the thread `tid`.
    pub thread: bool,
    nonblock: AtomicBool,
}

impl PidFd {
    /// A pidfd for `tg` (or its thread `tid` when `thread`).
    pub fn new(tg: Arc<ThreadGroup>, tid: i32, thread: bool, nonblock: bool) -> Self {
        PidFd {
            tg,
            tid,
            thread,
            nonblock: nonblock.into(),
        }
    }

    /// Whether the process (or the thread) has exited.
    pub fn exited(&self) -> bool {
        let st = self.tg.lock();
        if self.thread {
            !st.threads.iter().any(|h| h.tid == self.tid)
        } else {
            st.zombie.is_some()
        }
    }

    /// Whether the process has been reaped (its pid may name another one now).
    pub fn reaped(&self) -> bool {
        match self.tg.kernel.upgrade() {
            Some(k) => !k
                .procs()
                .tgs
                .get(&self.tg.pid)
                .is_some_and(|tg| Arc::ptr_eq(tg, &self.tg)),
            None => true,
        }
    }

    /// O_NONBLOCK (PIDFD_NONBLOCK).
    pub fn nonblocking(&self) -> bool {
        self.nonblock.load(Ordering::Relaxed)
    }
}

impl FileDescription for PidFd {
    fn read(&self, _ctx: &dyn TaskContext, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            mode: 0o600,
            nlink: 1,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        let mut r = 0;
        if self.exited() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.reaped() {
            r |= libc::POLLIN | libc::POLLRDNORM | libc::POLLHUP;
        }
        r as u32
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.exit_wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        let nb = if self.nonblocking() {
            libc::O_NONBLOCK
        } else {
            0
        };
        (libc::O_RDWR | nb) as u32
    }
    fn set_status_flags(&self, f: u32) {
        self.nonblock
            .store(f & libc::O_NONBLOCK as u32 != 0, Ordering::Relaxed);
    }
    fn anon_name(&self) -> Option<&'static str> {
        Some("[pidfd]")
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
