//! The one thread that watches every host socket: it owns a host epoll
//! descriptor with each socket registered edge-triggered, and on every
//! event notifies that socket's [`WaitQueue`], so tasks blocked on the
//! socket re-try their call and the sandbox's poll/select/epoll re-read
//! its readiness.
//!
//! Created with the first host socket (after confinement: epoll_create1
//! is in the host mode's allowlist); its descriptor is in
//! [`super::host_fds`] once it exists. The registry holds one entry per
//! open host socket, so it is bounded as the sockets are (by the
//! programs' RLIMIT_NOFILE and the sentry's own).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::sys;
use crate::errno::SysResult;
use crate::waiter::WaitQueue;

/// Events taken per epoll_wait.
const BATCH: usize = 64;

/// The poller.
pub struct Poller {
    ep: OwnedFd,
    queues: Mutex<HashMap<u64, Weak<WaitQueue>>>,
    next: AtomicU64,
}

static POLLER: Mutex<Option<Arc<Poller>>> = Mutex::new(None);

/// The poller, started on first use.
pub fn get() -> SysResult<Arc<Poller>> {
    let mut g = POLLER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = g.as_ref() {
        return Ok(p.clone());
    }
    let p = Arc::new(Poller {
        ep: sys::epoll_create()?,
        queues: Mutex::new(HashMap::new()),
        next: AtomicU64::new(1),
    });
    let run = p.clone();
    std::thread::Builder::new()
        .name("hostinet-poll".into())
        .spawn(move || run.run())
        .map_err(|_| crate::errno::Errno::ENOMEM)?;
    *g = Some(p.clone());
    Ok(p)
}

/// The poller's epoll descriptor, if it was started.
pub fn fd() -> Option<RawFd> {
    POLLER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|p| p.ep.as_raw_fd())
}

impl Poller {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<WaitQueue>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches `fd`, notifying `wq` on its events; returns the key to
    /// [`Self::remove`] it by.
    pub fn add(&self, fd: RawFd, wq: &Arc<WaitQueue>) -> SysResult<u64> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.queues().insert(key, Arc::downgrade(wq));
        if let Err(e) = sys::epoll_add(&self.ep, fd, key) {
            self.queues().remove(&key);
            return Err(e);
        }
        Ok(key)
    }

    /// Stops watching `fd` (registered as `key`); the caller closes it.
    pub fn remove(&self, fd: RawFd, key: u64) {
        sys::epoll_del(&self.ep, fd);
        self.queues().remove(&key);
    }

    fn run(&self) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            let n = match sys::epoll_wait(self.ep.as_raw_fd(), &mut events) {
                Ok(n) => n,
                Err(_) => return,
            };
            // Wake outside the registry's lock: a woken task may close
            // its socket at once.
            let woken: Vec<Arc<WaitQueue>> = {
                let q = self.queues();
                events[..n]
                    .iter()
                    .filter_map(|e| {
                        let key = e.u64;
                        q.get(&key).and_then(Weak::upgrade)
                    })
                    .collect()
            };
            for q in woken {
                q.notify_all();
            }
        }
    }
}
