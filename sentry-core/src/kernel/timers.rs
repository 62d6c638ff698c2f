//! Timers: one sentry thread keeps every deadline (alarm/ITIMER_REAL, POSIX
//! timers, timerfds) and fires it when it passes.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::kernel::signal::{self, SigInfo, Signal};
use crate::kernel::ThreadGroup;

/// Something a timer fires.
pub trait TimerTarget: Send + Sync {
    /// Called when `gen`'s deadline `due` passed; returns the next deadline
    /// when the timer re-arms itself.
    fn fire(&self, gen: u64, due: Instant) -> Option<Instant>;
}

/// A process's ITIMER_REAL.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealTimer {
    /// When it fires next.
    pub deadline: Option<Instant>,
    /// Re-arm interval (zero: one-shot).
    pub interval: Duration,
    /// Bumped at every set, so stale queue entries are ignored.
    pub gen: u64,
}

/// Fires SIGALRM at a process (ITIMER_REAL, alarm).
pub struct RealTimerTarget(pub Weak<ThreadGroup>);

impl std::fmt::Debug for RealTimerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RealTimerTarget")
    }
}

impl std::fmt::Debug for IntervalTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntervalTimer")
    }
}

impl TimerTarget for RealTimerTarget {
    fn fire(&self, gen: u64, due: Instant) -> Option<Instant> {
        let tg = self.0.upgrade()?;
        let next = {
            let mut t = tg.real_timer.lock().unwrap_or_else(|p| p.into_inner());
            if t.gen != gen || t.deadline.is_none() {
                return None;
            }
            if t.interval.is_zero() {
                t.deadline = None;
                None
            } else {
                let next = due + t.interval;
                t.deadline = Some(next);
                Some(next)
            }
        };
        signal::send_to_process(&tg, Signal::SIGALRM, SigInfo::kernel(14));
        next
    }
}

struct Entry {
    target: Weak<dyn TimerTarget>,
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

    /// Fires `target` (generation `gen`) at `deadline`.
    pub fn schedule(self: &Arc<Self>, target: Weak<dyn TimerTarget>, deadline: Instant, gen: u64) {
        let mut s = self.lock();
        s.seq += 1;
        let seq = s.seq;
        s.queue.insert((deadline, seq), Entry { target, gen });
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
            match s.queue.keys().next().copied() {
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
                    let again = e.and_then(|e| {
                        let t = e.target.upgrade()?;
                        t.fire(e.gen, k.0).map(|next| (next, e))
                    });
                    s = self.lock();
                    if let Some((next, e)) = again {
                        s.seq += 1;
                        let seq = s.seq;
                        s.queue.insert((next, seq), e);
                    }
                }
            }
        }
    }
}

/// The state of a POSIX timer or a timerfd.
#[derive(Default)]
pub struct IntervalState {
    /// Next expiry.
    pub deadline: Option<Instant>,
    /// Period.
    pub interval: Duration,
    /// Generation (bumped by every settime).
    pub gen: u64,
    /// Expirations not yet consumed (timerfd read / timer_getoverrun).
    pub expirations: u64,
}

/// A timer with an interval whose expiry either signals (POSIX timers) or
/// counts (timerfd).
pub struct IntervalTimer {
    /// State.
    pub state: Mutex<IntervalState>,
    /// Signal to send (POSIX timer) and to whom; None for a timerfd.
    pub notify: Option<(Weak<ThreadGroup>, Option<i32>, u32, u64)>,
    /// Woken when a timerfd expires.
    pub wq: crate::waiter::WaitQueue,
}

impl IntervalTimer {
    /// Arms (or disarms with a zero `value`) the timer; returns the old
    /// (remaining, interval).
    pub fn set(
        self: &Arc<Self>,
        timers: &Arc<Timers>,
        value: Duration,
        interval: Duration,
    ) -> (Duration, Duration) {
        let (old, gen, d) = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let old = (
                s.deadline
                    .map_or(Duration::ZERO, |d| d.saturating_duration_since(now)),
                s.interval,
            );
            s.gen += 1;
            s.interval = interval;
            s.deadline = if value.is_zero() {
                None
            } else {
                now.checked_add(value)
            };
            s.expirations = 0;
            (old, s.gen, s.deadline)
        };
        if let Some(d) = d {
            let me: Arc<dyn TimerTarget> = self.clone();
            timers.schedule(Arc::downgrade(&me), d, gen);
            // Keep the target alive in the queue only as long as its owner.
            drop(me);
        }
        old
    }

    /// (remaining, interval).
    pub fn get(&self) -> (Duration, Duration) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (
            s.deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            }),
            s.interval,
        )
    }
}

impl TimerTarget for IntervalTimer {
    fn fire(&self, gen: u64, due: Instant) -> Option<Instant> {
        let next = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.gen != gen || s.deadline.is_none() {
                return None;
            }
            s.expirations += 1;
            if s.interval.is_zero() {
                s.deadline = None;
                None
            } else {
                let n = due + s.interval;
                s.deadline = Some(n);
                Some(n)
            }
        };
        self.wq.notify_all();
        if let Some((tg, tid, sig, value)) = &self.notify {
            if let Some(tg) = tg.upgrade() {
                let info = SigInfo {
                    signo: *sig,
                    code: -2, // SI_TIMER
                    value: *value,
                    ..Default::default()
                };
                match tid {
                    Some(tid) => {
                        let t = tg.lock().threads.iter().find(|h| h.tid == *tid).cloned();
                        if let Some(t) = t {
                            {
                                let mut s = t.sig();
                                s.pending |= Signal(*sig).mask();
                                s.infos.insert(*sig, info);
                            }
                            t.kick();
                        }
                    }
                    None => signal::send_to_process(&tg, Signal(*sig), info),
                }
            }
        }
        next
    }
}
