//! Blocking in the sentry: wait queues, per-task wakers, and the current
//! task of each host thread.
//!
//! A task that must wait registers its [`Waker`] on the [`WaitQueue`]s of what
//! it waits for, re-checks its condition, and sleeps until notified, until a
//! signal is pending for it, or until its deadline. Objects notify their
//! queue whenever their state changes; signal delivery wakes the target's
//! waker directly.

use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::TaskHandle;

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
#[derive(Default, Debug)]
pub struct WaitQueue {
    /// (waker, exclusive), in registration order.
    waiters: Mutex<Vec<(Arc<Waker>, bool)>>,
    generation: std::sync::atomic::AtomicU64,
}

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
    }

    /// Notifications so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskHandle>>> = const { RefCell::new(None) };
}

/// Makes `t` the current task of this host thread.
pub fn set_current(t: Option<Arc<TaskHandle>>) {
    CURRENT.with(|c| *c.borrow_mut() = t);
}

/// The task this host thread runs, if any.
pub fn current() -> Option<Arc<TaskHandle>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Blocks the current task until `ready` returns a value, a signal is pending
/// (`ERESTARTSYS`), or `deadline` passes (`ETIMEDOUT`... reported as `EAGAIN`
/// by the caller's choice: `timeout_err`).
pub fn block_until<T>(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    timeout_err: Errno,
    ready: impl FnMut() -> Option<SysResult<T>>,
) -> SysResult<T> {
    let qs: Vec<(&WaitQueue, bool)> = queues.iter().map(|&q| (q, false)).collect();
    block_until_on(&qs, deadline, timeout_err, ready)
}

/// Like [`block_until`], with each queue waited on exclusively or not.
pub fn block_until_on<T>(
    queues: &[(&WaitQueue, bool)],
    deadline: Option<Instant>,
    timeout_err: Errno,
    mut ready: impl FnMut() -> Option<SysResult<T>>,
) -> SysResult<T> {
    if let Some(r) = ready() {
        return r;
    }
    let Some(task) = current() else {
        // Not on a task thread (unit tests): poll.
        loop {
            if let Some(r) = ready() {
                return r;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timeout_err);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    };
    let w = task.waker.clone();
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
        if task.signal_pending() {
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
