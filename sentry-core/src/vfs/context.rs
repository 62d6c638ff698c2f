//! The calling task as the file layer sees it.
//!
//! Files and file systems sit below the kernel and never name its types;
//! what they need of the task a call is made for (to block it, to reach its
//! memory for an ioctl argument, to signal it, its ids for terminals and
//! /proc/self) comes through [`TaskContext`], which the kernel's tasks
//! implement. Calls made for no task (set-up, unit tests) pass a
//! [`Detached`] context.

use std::any::Any;
use std::sync::{Arc, MutexGuard, Weak};

use crate::errno::{Errno, SysResult};
use crate::mm::MemoryManager;
use crate::waiter::{Waiter, Waker};

/// The ids job control works with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobIds {
    /// Thread-group id.
    pub pid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
}

/// What terminals need of the kernel's process groups, also when no task
/// is calling (a window resize or input from the host console).
pub trait Sessions: Send + Sync {
    /// Sends `sig` to every process of group `pgid`.
    fn signal_pgrp(&self, pgid: i32, sig: u32);
    /// Whether group `pgid` exists in session `sid`.
    fn pgrp_in_session(&self, pgid: i32, sid: i32) -> bool;
}

/// The task a file operation is performed for.
pub trait TaskContext: Waiter {
    /// The task's address space (ioctl arguments). Must not be called while
    /// the caller holds it.
    fn mm(&self) -> SysResult<MutexGuard<'_, MemoryManager>>;
    /// Sends a signal the kernel generates (SIGPIPE) to the task's process.
    fn signal_process(&self, sig: u32);
    /// The task's process, group and session ids.
    fn job_ids(&self) -> JobIds;
    /// Whether the task ignores or blocks `sig` (job-control stops).
    fn ignores_or_blocks(&self, sig: u32) -> bool;
    /// The task's real and effective uid (and whether it is privileged).
    fn uid(&self) -> (u32, u32);
    /// The kernel's sessions.
    fn sessions(&self) -> Weak<dyn Sessions>;
    /// Installs `file` in the task's fd table at the lowest free number.
    fn install_fd(&self, file: Arc<dyn super::FileDescription>, cloexec: bool) -> SysResult<i64>;
    /// The task's working directory, absolute (where a relative unix
    /// socket path starts).
    fn cwd(&self) -> String;
    /// The real path of the task's root directory after chroot(2): absolute paths, ".." at
    /// it and absolute symlink targets resolve within it. None: the mount table's root.
    fn chroot(&self) -> Option<String> {
        None
    }
    /// The task's umask (the mode of a unix socket's node at bind).
    fn umask(&self) -> u32 {
        0o022
    }
    /// The file systems the task's paths resolve in (its container's
    /// root: where a unix socket path is bound or found); None: the
    /// kernel's.
    fn fs_root(&self) -> Option<Arc<super::Vfs>> {
        None
    }
    /// Process id, effective uid and gid (SO_PEERCRED, SCM_CREDENTIALS).
    fn ucred(&self) -> crate::abi::socket::Ucred;
    /// Whether the task holds capability `cap` (CAP_NET_ADMIN,
    /// CAP_NET_RAW...) in its effective set.
    fn capable(&self, cap: u32) -> bool;
    /// The task itself, for the layers above the kernel (procfs).
    fn as_any(&self) -> &dyn Any;
}

/// No task: set-up code, unit tests, and a file system's calls into the
/// layers below it (an overlay's upper and lower layers, which ask nothing
/// of the caller). Never interrupted, root ids, no memory, no process to
/// signal.
#[derive(Clone, Copy, Default)]
pub struct Detached;

thread_local! {
    /// The waker of detached waits on this host thread (one per thread: two
    /// threads sharing one could take each other's wake-up).
    static DETACHED_WAKER: Arc<Waker> = Arc::default();
}

struct NoSessions;

impl Sessions for NoSessions {
    fn signal_pgrp(&self, _pgid: i32, _sig: u32) {}
    fn pgrp_in_session(&self, _pgid: i32, _sid: i32) -> bool {
        false
    }
}

impl Waiter for Detached {
    fn waker(&self) -> Arc<Waker> {
        DETACHED_WAKER.with(Arc::clone)
    }
    fn interrupted(&self) -> bool {
        false
    }
}

impl TaskContext for Detached {
    fn mm(&self) -> SysResult<MutexGuard<'_, MemoryManager>> {
        Err(Errno::EFAULT)
    }
    fn signal_process(&self, _sig: u32) {}
    fn job_ids(&self) -> JobIds {
        JobIds::default()
    }
    fn ignores_or_blocks(&self, _sig: u32) -> bool {
        false
    }
    fn uid(&self) -> (u32, u32) {
        (0, 0)
    }
    fn sessions(&self) -> Weak<dyn Sessions> {
        Weak::<NoSessions>::new()
    }
    fn install_fd(&self, _file: Arc<dyn super::FileDescription>, _cloexec: bool) -> SysResult<i64> {
        Err(Errno::EMFILE)
    }
    fn cwd(&self) -> String {
        "/".into()
    }
    fn ucred(&self) -> crate::abi::socket::Ucred {
        crate::abi::socket::Ucred::default()
    }
    fn capable(&self, _cap: u32) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
