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
}

impl Waker {
    /// Wakes the task (idempotent until it next waits).
    pub fn wake(&self) {
        let mut w = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        *w = true;
        self.cv.notify_all();
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
#[derive(Default, Debug)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Waker>>>,
}

impl WaitQueue {
    /// Registers a waker.
    pub fn add(&self, w: &Arc<Waker>) {
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(w.clone());
    }

    /// Unregisters a waker.
    pub fn remove(&self, w: &Arc<Waker>) {
        let mut v = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = v.iter().position(|x| Arc::ptr_eq(x, w)) {
            v.swap_remove(i);
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        for w in self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            w.wake();
        }
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
    for q in queues {
        q.add(&w);
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
    for q in queues {
        q.remove(&w);
    }
    res
}
