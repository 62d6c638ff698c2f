//! Interval timers (alarm, setitimer ITIMER_REAL): one sentry thread keeps
//! the deadlines and sends SIGALRM when they pass.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::kernel::signal::{self, SigInfo, Signal};
use crate::kernel::ThreadGroup;

/// A process's ITIMER_REAL.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealTimer {
    /// When it fires next.
    pub deadline: Option<Instant>,
    /// Re-arm interval (zero: one-shot).
    pub interval: Duration,
    /// Bumped at every set, so stale heap entries are ignored.
    pub gen: u64,
}

struct Entry {
    tg: Weak<ThreadGroup>,
    gen: u64,
}

#[derive(Default)]
struct State {
    queue: BTreeMap<(Instant, u64), Entry>,
    seq: u64,
    running: bool,
}

/// The timer service of a sandbox.
#[derive(Default)]
pub struct Timers {
    state: Mutex<State>,
    cv: Condvar,
}

impl Timers {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms `tg`'s real timer: fires at `deadline` with generation `gen`.
    pub fn schedule(self: &Arc<Self>, tg: &Arc<ThreadGroup>, deadline: Instant, gen: u64) {
        let mut s = self.lock();
        s.seq += 1;
        let seq = s.seq;
        s.queue.insert(
            (deadline, seq),
            Entry {
                tg: Arc::downgrade(tg),
                gen,
            },
        );
        if !s.running {
            s.running = true;
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name("timers".into())
                .spawn(move || me.run());
            if spawned.is_err() {
                s.running = false;
                tracing::error!("could not start the timer thread");
            }
        }
        self.cv.notify_all();
    }

    fn run(&self) {
        let mut s = self.lock();
        loop {
            let now = Instant::now();
            let next = s.queue.keys().next().copied();
            match next {
                None => s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some((d, _)) if d > now => {
                    s = self
                        .cv
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                Some(k) => {
                    let e = s.queue.remove(&k);
                    drop(s);
                    if let Some(e) = e {
                        self.fire(e, k.0);
                    }
                    s = self.lock();
                }
            }
        }
    }

    fn fire(&self, e: Entry, due: Instant) {
        let Some(tg) = e.tg.upgrade() else {
            return;
        };
        let rearm = {
            let mut t = tg.real_timer.lock().unwrap_or_else(|p| p.into_inner());
            if t.gen != e.gen || t.deadline.is_none() {
                return;
            }
            if t.interval.is_zero() {
                t.deadline = None;
                None
            } else {
                let next = due + t.interval;
                t.deadline = Some(next);
                Some((next, t.gen))
            }
        };
        signal::send_to_process(&tg, Signal::SIGALRM, SigInfo::kernel(14));
        if let Some((next, gen)) = rearm {
            let mut s = self.lock();
            s.seq += 1;
            let seq = s.seq;
            s.queue.insert(
                (next, seq),
                Entry {
                    tg: Arc::downgrade(&tg),
                    gen,
                },
            );
        }
    }
}
