//! Blocking in the sentry: wait queues, per-task wakers, and the wait
//! itself. A leaf module: any layer may block a task here; the task is
//! always passed in explicitly ([`Waiter`]), never found in a thread-local.
//!
//! A task that must wait registers its [`Waker`] on the [`WaitQueue`]s of what
//! it waits for, re-checks its condition, and sleeps until notified, until a
//! signal is pending for it, or until its deadline. Objects notify their
//! queue whenever their state changes; signal delivery wakes the target's
//! waker directly.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::errno::{Errno, SysResult};

/// Wakes one task.
#[derive(Default, Debug)]
pub struct Waker {
    woken: Mutex<bool>,
    cv: Condvar,
    /// Times woken as an exclusive waiter.
    exclusive: std::sync::atomic::AtomicU64,
}

impl Waker {
    /// Wakes the task (idempotent until it next waits).
    pub fn wake(&self) {
        let mut w = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        *w = true;
        self.cv.notify_all();
    }

    /// Times this waker was chosen as an exclusive waiter.
    pub fn exclusive_wakes(&self) -> u64 {
        self.exclusive.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sleeps until woken or `deadline`; returns false on timeout.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut w = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if *w {
                *w = false;
                return true;
            }
            match deadline {
                None => w = self.cv.wait(w).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    w = self
                        .cv
                        .wait_timeout(w, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}

/// The tasks waiting for an object's state to change.
///
/// A notification wakes every ordinary waiter and one exclusive waiter
/// (epoll's EPOLLEXCLUSIVE), and advances the queue's generation, which
/// edge-triggered epoll compares to tell a new event from an old one.
#[derive(Default)]
pub struct WaitQueue {
    /// (waker, exclusive), in registration order.
    waiters: Mutex<Vec<(Arc<Waker>, bool)>>,
    generation: std::sync::atomic::AtomicU64,
    /// Called on every notification (O_ASYNC's SIGIO), by id.
    hooks: Mutex<Vec<(u64, Hook)>>,
    /// Whether `hooks` may be non-empty: notifications skip its lock
    /// when no file of this queue has O_ASYNC.
    hooked: std::sync::atomic::AtomicBool,
}

/// A function a notification calls (it must not block).
pub type Hook = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// Ids of hooks, unique in the sentry.
static NEXT_HOOK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl WaitQueue {
    fn waiters(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<Waker>, bool)>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a waker.
    pub fn add(&self, w: &Arc<Waker>) {
        self.waiters().push((w.clone(), false));
    }

    /// Registers a waker that shares one wake-up per notification with the
    /// other exclusive waiters.
    pub fn add_exclusive(&self, w: &Arc<Waker>) {
        self.waiters().push((w.clone(), true));
    }

    /// Unregisters a waker.
    pub fn remove(&self, w: &Arc<Waker>) {
        let mut v = self.waiters();
        if let Some(i) = v.iter().position(|x| Arc::ptr_eq(&x.0, w)) {
            v.remove(i);
        }
    }

    /// Wakes every ordinary waiter and the longest-waiting exclusive one.
    pub fn notify_all(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut v = self.waiters();
        let mut woke_exclusive = None;
        for (i, (w, excl)) in v.iter().enumerate() {
            if !excl {
                w.wake();
            } else if woke_exclusive.is_none() {
                w.exclusive
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                w.wake();
                woke_exclusive = Some(i);
            }
        }
        // The woken exclusive waiter goes to the back: the next event wakes
        // another one.
        if let Some(i) = woke_exclusive {
            let e = v.remove(i);
            v.push(e);
        }
        drop(v);
        if !self.hooked.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let hooks: Vec<Hook> = {
            let h = self.hooks.lock().unwrap_or_else(|p| p.into_inner());
            if h.is_empty() {
                return;
            }
            h.iter().map(|x| x.1.clone()).collect()
        };
        for h in hooks {
            h();
        }
    }

    /// Calls `hook` on every later notification until removed; returns
    /// its id.
    pub fn add_hook(&self, hook: Hook) -> u64 {
        let id = NEXT_HOOK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, hook));
        self.hooked.store(true, std::sync::atomic::Ordering::SeqCst);
        id
    }

    /// Removes the hook `id`.
    pub fn remove_hook(&self, id: u64) {
        self.hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|h| h.0 != id);
    }

    /// Notifications so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The task that blocks: how to wake it, and whether it must stop waiting
/// because a signal is pending for it. The kernel's tasks implement it;
/// every blocking call takes it explicitly.
pub trait Waiter {
    /// The task's waker, registered on the queues it waits on.
    fn waker(&self) -> Arc<Waker>;
    /// Whether a signal is pending (the wait ends with `ERESTARTSYS`).
    fn interrupted(&self) -> bool;
}

/// Blocks `w` until `ready` returns a value, a signal is pending
/// (`ERESTARTSYS`), or `deadline` passes (`timeout_err`: ETIMEDOUT, EAGAIN...
/// by the caller's choice).
pub fn block_until<T>(
    w: &dyn Waiter,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    timeout_err: Errno,
    ready: impl FnMut() -> Option<SysResult<T>>,
) -> SysResult<T> {
    let qs: Vec<(&WaitQueue, bool)> = queues.iter().map(|&q| (q, false)).collect();
    block_until_on(w, &qs, deadline, timeout_err, ready)
}

/// Like [`block_until`], with each queue waited on exclusively or not.
pub fn block_until_on<T>(
    waiter: &dyn Waiter,
    queues: &[(&WaitQueue, bool)],
    deadline: Option<Instant>,
    timeout_err: Errno,
    mut ready: impl FnMut() -> Option<SysResult<T>>,
) -> SysResult<T> {
    if let Some(r) = ready() {
        return r;
    }
    let w = waiter.waker();
    for &(q, exclusive) in queues {
        if exclusive {
            q.add_exclusive(&w);
        } else {
            q.add(&w);
        }
    }
    let res = loop {
        if let Some(r) = ready() {
            break r;
        }
        if waiter.interrupted() {
            break Err(Errno::ERESTARTSYS);
        }
        if !w.wait(deadline) {
            break match ready() {
                Some(r) => r,
                None => Err(timeout_err),
            };
        }
    };
    for &(q, _) in queues {
        q.remove(&w);
    }
    res
}
