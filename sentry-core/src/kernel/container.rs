//! Containers of one sandbox: every process belongs to one, inherited on
//! fork. A container carries what OCI sets per container and the kernel
//! enforces per process (the seccomp profile), and can be paused: its tasks
//! stop at their next return to the sentry and stay there until resumed,
//! without any signal or wait report the programs could see.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::seccomp::AppFilter;
use super::task::TaskHandle;

/// One container of the sandbox.
#[derive(Debug)]
pub struct Container {
    /// The container id (empty for a sandbox run without one).
    pub id: String,
    /// The OCI `linux.seccomp` profile its processes run under.
    pub seccomp: Option<Arc<AppFilter>>,
    /// Read on every return to the sentry (lock-free); the mutex and
    /// condvar are only for waiting.
    paused: AtomicBool,
    lock: Mutex<()>,
    resumed: Condvar,
}

impl Container {
    /// A running container.
    pub fn new(id: &str, seccomp: Option<Arc<AppFilter>>) -> Arc<Container> {
        Arc::new(Container {
            id: id.to_string(),
            seccomp,
            paused: AtomicBool::new(false),
            lock: Mutex::new(()),
            resumed: Condvar::new(),
        })
    }

    /// Whether the container is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Pauses or resumes. The caller interrupts running tasks after pausing.
    pub fn set_paused(&self, paused: bool) {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.paused.store(paused, Ordering::SeqCst);
        if !paused {
            self.resumed.notify_all();
        }
    }

    /// Blocks the calling task while the container is paused; a kill ends
    /// the wait (checked every 50 ms, as a kill does not signal this wait).
    pub fn wait_while_paused(&self, h: &TaskHandle) {
        let mut g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.is_paused() && !h.killed.load(Ordering::SeqCst) {
            g = self
                .resumed
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_and_resume() {
        let c = Container::new("a", None);
        assert!(!c.is_paused());
        c.set_paused(true);
        assert!(c.is_paused());
        c.set_paused(false);
        assert!(!c.is_paused());
    }
}
