//! The kernel's side of the seams below it: a task is the [`Waiter`] that
//! blocks and the [`TaskContext`] files see; the kernel is the [`Sessions`]
//! terminals signal.

use std::any::Any;
use std::sync::{Arc, MutexGuard, Weak};

use super::process::signal_pgrp;
use super::signal::{self, SigInfo, Signal};
use super::task::{Task, TaskHandle};
use super::Kernel;
use crate::errno::SysResult;
use crate::mm::MemoryManager;
use crate::vfs::{FdEntry, FileDescription, JobIds, Sessions, TaskContext};
use crate::waiter::{Waiter, Waker};

impl Waiter for TaskHandle {
    fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }
    fn interrupted(&self) -> bool {
        self.signal_pending()
    }
}

impl Waiter for Task {
    fn waker(&self) -> Arc<Waker> {
        self.handle.waker.clone()
    }
    fn interrupted(&self) -> bool {
        self.handle.signal_pending()
    }
}

impl TaskContext for Task {
    fn mm(&self) -> SysResult<MutexGuard<'_, MemoryManager>> {
        Ok(Task::mm(self))
    }
    fn signal_process(&self, sig: u32) {
        signal::send_to_process(&self.handle.tg, Signal(sig), SigInfo::kernel(sig));
    }
    fn job_ids(&self) -> JobIds {
        let st = self.handle.tg.lock();
        JobIds {
            pid: self.handle.tg.pid,
            pgid: st.pgid,
            sid: st.sid,
        }
    }
    fn ignores_or_blocks(&self, sig: u32) -> bool {
        if !crate::abi::is_signal(sig.into()) {
            return false;
        }
        self.handle.tg.action(sig).handler == 1
            || self.handle.sig().blocked & (1u64 << (sig - 1)) != 0
    }
    fn uid(&self) -> (u32, u32) {
        let c = self.creds();
        (c.uid[0], c.uid[1])
    }
    fn sessions(&self) -> Weak<dyn Sessions> {
        let w: Weak<Kernel> = Arc::downgrade(&self.kernel);
        w
    }
    fn install_fd(&self, file: Arc<dyn FileDescription>, cloexec: bool) -> SysResult<i64> {
        self.fds().install(FdEntry { file, cloexec }, 0)
    }
    fn cwd(&self) -> String {
        Task::cwd(self)
    }
    fn umask(&self) -> u32 {
        self.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask
    }
    fn chroot(&self) -> Option<String> {
        self.fsctx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .chroot
            .clone()
    }
    fn fs_root(&self) -> Option<Arc<crate::vfs::Vfs>> {
        Some(self.root())
    }
    fn ucred(&self) -> crate::abi::socket::Ucred {
        let c = self.creds();
        crate::abi::socket::Ucred {
            pid: self.handle.tg.pid,
            uid: c.uid[1],
            gid: c.gid[1],
        }
    }
    fn capable(&self, cap: u32) -> bool {
        cap < 64 && self.creds().caps.effective & (1u64 << cap) != 0
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Sessions for Kernel {
    fn signal_pgrp(&self, pgid: i32, sig: u32) {
        signal_pgrp(self, pgid, sig);
    }
    fn pgrp_in_session(&self, pgid: i32, sid: i32) -> bool {
        self.procs().tgs.values().any(|tg| {
            let st = tg.lock();
            st.pgid == pgid && st.sid == sid
        })
    }
}
