//! Clocks and sleeping.

use std::time::Duration;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::TaskContext;

use super::Args;

fn host_clock(id: i32) -> SysResult<(i64, i64)> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-parameter.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((ts.tv_sec, ts.tv_nsec))
}

fn valid_clock(id: u64) -> SysResult<i32> {
    match id as i32 {
        id @ 0..=7 => Ok(id),
        _ => Err(Errno::EINVAL),
    }
}

fn put_timespec(t: &mut Task, addr: u64, v: (i64, i64)) -> SysResult<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&v.0.to_le_bytes());
    b[8..].copy_from_slice(&v.1.to_le_bytes());
    t.mm().copy_out(addr, &b)
}

fn get_timespec(t: &mut Task, addr: u64) -> SysResult<(i64, i64)> {
    let mut b = [0u8; 16];
    t.mm().copy_in(addr, &mut b)?;
    let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let ns = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    Ok((s, ns))
}

fn ns_to_ts(ns: u64) -> (i64, i64) {
    ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64)
}

/// CPU-time clocks: this process, this thread, or another one encoded in a
/// negative clock id (~pid << 3 | type, bit 2 = one thread).
fn cpu_clock(t: &Task, id: i32) -> SysResult<Option<u64>> {
    use crate::kernel::process::process_cpu_ns;
    match id {
        2 => Ok(Some(process_cpu_ns(&t.handle.tg))),
        3 => Ok(Some(t.handle.cpu_ns())),
        id if id < 0 => {
            let pid = !(id >> 3);
            if id & 3 == 3 {
                return Err(Errno::EINVAL);
            }
            let procs = t.kernel.procs();
            if id & 4 != 0 {
                let th = if pid == 0 {
                    Some(t.handle.clone())
                } else {
                    procs.tasks.get(&pid).cloned()
                };
                Ok(Some(th.ok_or(Errno::EINVAL)?.cpu_ns()))
            } else {
                let tg = if pid == 0 {
                    Some(t.handle.tg.clone())
                } else {
                    procs.tgs.get(&pid).cloned()
                };
                let tg = tg.ok_or(Errno::EINVAL)?;
                drop(procs);
                Ok(Some(process_cpu_ns(&tg)))
            }
        }
        _ => Ok(None),
    }
}

pub(crate) fn clock_gettime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let id = a[0] as i32;
    let v = match cpu_clock(t, id)? {
        Some(ns) => ns_to_ts(ns),
        None => host_clock(valid_clock(a[0])?)?,
    };
    put_timespec(t, a[1], v)?;
    Ok(0)
}

pub(crate) fn clock_getres(t: &mut Task, a: &Args) -> SysResult<u64> {
    if (a[0] as i32) < 0 {
        cpu_clock(t, a[0] as i32)?;
        if a[1] != 0 {
            put_timespec(t, a[1], (0, 1))?;
        }
        return Ok(0);
    }
    let id = valid_clock(a[0])?;
    if a[1] != 0 {
        let res = if id == libc::CLOCK_REALTIME_COARSE || id == libc::CLOCK_MONOTONIC_COARSE {
            (0, 4_000_000)
        } else {
            (0, 1)
        };
        put_timespec(t, a[1], res)?;
    }
    Ok(0)
}

pub(crate) fn gettimeofday(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (s, ns) = host_clock(libc::CLOCK_REALTIME)?;
    if a[0] != 0 {
        put_timespec(t, a[0], (s, ns / 1000))?;
    }
    if a[1] != 0 {
        t.mm().copy_out(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub(crate) fn time(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (s, _) = host_clock(libc::CLOCK_REALTIME)?;
    if a[0] != 0 {
        t.mm().copy_out(a[0], &s.to_le_bytes())?;
    }
    Ok(s as u64)
}

/// Sleeps for `d`; a signal ends it early with EINTR (writing the time
/// left to `rem` when given).
fn sleep(t: &mut Task, d: (i64, i64), rem: u64) -> SysResult<u64> {
    // A sleep too long to represent is a sleep until a signal.
    let until = std::time::Instant::now().checked_add(Duration::new(d.0 as u64, d.1 as u32));
    match crate::waiter::block_until::<()>(t, &[], until, Errno::ETIMEDOUT, || None) {
        Err(Errno::ETIMEDOUT) | Ok(()) => Ok(0),
        Err(_) => {
            if let (true, Some(until)) = (rem != 0, until) {
                let left = until.saturating_duration_since(std::time::Instant::now());
                put_timespec(t, rem, (left.as_secs() as i64, left.subsec_nanos() as i64))?;
            }
            Err(Errno::ERESTARTNOHAND)
        }
    }
}

pub(crate) fn nanosleep(t: &mut Task, a: &Args) -> SysResult<u64> {
    let d = get_timespec(t, a[0])?;
    sleep(t, d, a[1])
}

pub(crate) fn clock_nanosleep(t: &mut Task, a: &Args) -> SysResult<u64> {
    let id = valid_clock(a[0])?;
    if matches!(
        id,
        libc::CLOCK_PROCESS_CPUTIME_ID | libc::CLOCK_THREAD_CPUTIME_ID
    ) {
        return Err(Errno::EINVAL);
    }
    let req = get_timespec(t, a[2])?;
    if a[1] & libc::TIMER_ABSTIME as u64 != 0 {
        let now = host_clock(id)?;
        let want = req.0 as i128 * 1_000_000_000 + req.1 as i128;
        let have = now.0 as i128 * 1_000_000_000 + now.1 as i128;
        if want > have {
            let d = (want - have) as u128;
            return sleep(
                t,
                ((d / 1_000_000_000) as i64, (d % 1_000_000_000) as i64),
                0,
            );
        }
        Ok(0)
    } else {
        sleep(t, req, a[3])
    }
}

fn timeval(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..].copy_from_slice(&(d.subsec_micros() as i64).to_le_bytes());
    b
}

fn read_timeval(t: &Task, addr: u64) -> SysResult<Duration> {
    let mut b = [0u8; 16];
    t.mm().copy_in(addr, &mut b)?;
    let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let us = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if s < 0 || !(0..1_000_000).contains(&us) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(s as u64, us as u32 * 1000))
}

/// Sets ITIMER_REAL; returns the old (value, interval).
fn set_real(t: &Task, value: Duration, interval: Duration) -> (Duration, Duration) {
    let tg = t.handle.tg.clone();
    let (old, gen, deadline) = {
        let mut rt = tg.real_timer.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let old = (
            rt.deadline
                .map_or(Duration::ZERO, |d| d.saturating_duration_since(now)),
            rt.interval,
        );
        rt.gen += 1;
        rt.interval = interval;
        rt.deadline = if value.is_zero() {
            None
        } else {
            now.checked_add(value)
        };
        (old, rt.gen, rt.deadline)
    };
    if let Some(d) = deadline {
        let target = t.handle.tg.real_timer_target.clone();
        let weak: std::sync::Weak<dyn crate::kernel::timers::TimerTarget> =
            std::sync::Arc::downgrade(&target) as _;
        t.kernel.timers.schedule(weak, d, gen);
    }
    old
}

pub(crate) fn alarm(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (old, _) = set_real(t, Duration::from_secs(a[0] & 0xffff_ffff), Duration::ZERO);
    Ok(old.as_secs() + u64::from(old.subsec_nanos() > 0))
}

pub(crate) fn setitimer(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 {
        // ITIMER_VIRTUAL and ITIMER_PROF need CPU-time accounting: not yet.
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if a[1] != 0 {
        (
            read_timeval(t, a[1])?,
            read_timeval(t, a[1].wrapping_add(16))?,
        )
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let (ov, oi) = set_real(t, value, interval);
    if a[2] != 0 {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&timeval(oi));
        b[16..].copy_from_slice(&timeval(ov));
        t.mm().copy_out(a[2], &b)?;
    }
    Ok(0)
}

pub(crate) fn getitimer(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (v, i) = if a[0] == 0 {
        let rt = *t
            .handle
            .tg
            .real_timer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        (
            rt.deadline
                .map_or(Duration::ZERO, |d| d.saturating_duration_since(now)),
            rt.interval,
        )
    } else if a[0] <= 2 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        return Err(Errno::EINVAL);
    };
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&timeval(i));
    b[16..].copy_from_slice(&timeval(v));
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn getrusage(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::kernel::process::process_cpu_ns;
    // Guest time is user time: the sentry's own work on a task's behalf is
    // counted with it (one host thread runs both).
    let ns = match a[0] as i64 {
        0 => process_cpu_ns(&t.handle.tg),
        1 => t.handle.cpu_ns(),
        -1 => t.handle.tg.lock().children_cpu_ns,
        _ => return Err(Errno::EINVAL),
    };
    let us = ns / 1000;
    let mut b = [0u8; 144];
    b[..8].copy_from_slice(&((us / 1_000_000) as i64).to_le_bytes());
    b[8..16].copy_from_slice(&((us % 1_000_000) as i64).to_le_bytes());
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn times(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::kernel::process::process_cpu_ns;
    if a[0] != 0 {
        let ticks = |ns: u64| ns / 10_000_000;
        let own = ticks(process_cpu_ns(&t.handle.tg));
        let kids = ticks(t.handle.tg.lock().children_cpu_ns);
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&own.to_le_bytes());
        b[16..24].copy_from_slice(&kids.to_le_bytes());
        t.mm().copy_out(a[0], &b)?;
    }
    Ok(t.kernel.boot.elapsed().as_millis() as u64 / 10 + 1)
}

use crate::kernel::timers::IntervalTimer;
use std::sync::Arc;

fn read_itimerspec(t: &Task, addr: u64) -> SysResult<(Duration, Duration)> {
    let mut b = [0u8; 32];
    t.mm().copy_in(addr, &mut b)?;
    let f = |i: usize| -> SysResult<Duration> {
        let s = i64::from_le_bytes(b[i..i + 8].try_into().map_err(|_| Errno::EFAULT)?);
        let ns = i64::from_le_bytes(b[i + 8..i + 16].try_into().map_err(|_| Errno::EFAULT)?);
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(Errno::EINVAL);
        }
        Ok(Duration::new(s as u64, ns as u32))
    };
    Ok((f(0)?, f(16)?)) // (interval, value)
}

fn itimerspec(interval: Duration, value: Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, d) in [interval, value].iter().enumerate() {
        b[i * 16..i * 16 + 8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&(d.subsec_nanos() as i64).to_le_bytes());
    }
    b
}

/// TIMER_ABSTIME / TFD_TIMER_ABSTIME: converts an absolute value on `clock`.
fn relative(clock: i32, value: Duration) -> SysResult<Duration> {
    let (s, ns) = host_clock(clock)?;
    let now = Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32);
    Ok(value.saturating_sub(now).max(Duration::from_nanos(1)))
}

/// A timerfd.
pub struct TimerFd {
    timer: Arc<IntervalTimer>,
    clock: i32,
    nonblock: std::sync::atomic::AtomicBool,
}

impl crate::vfs::FileDescription for TimerFd {
    fn anon_name(&self) -> Option<&'static str> {
        Some("[timerfd]")
    }
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let nb = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        let n = crate::waiter::block_until(ctx, &[&self.timer.wq], None, Errno::EAGAIN, || {
            let mut s = self.timer.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.expirations > 0 {
                return Some(Ok(std::mem::take(&mut s.expirations)));
            }
            nb.then_some(Err(Errno::EAGAIN))
        })?;
        buf[..8].copy_from_slice(&n.to_le_bytes());
        Ok(8)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> SysResult<crate::vfs::Stat> {
        Ok(crate::vfs::Stat {
            mode: 0o600,
            nlink: 1,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        if self
            .timer
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expirations
            > 0
        {
            libc::POLLIN as u32
        } else {
            0
        }
    }
    fn wait_queue(&self) -> Option<&crate::waiter::WaitQueue> {
        Some(&self.timer.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        let nb = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        (libc::O_RDWR | if nb { libc::O_NONBLOCK } else { 0 }) as u32
    }
    fn set_status_flags(&self, f: u32) {
        self.nonblock.store(
            f & libc::O_NONBLOCK as u32 != 0,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(crate) fn timerfd_create(t: &mut Task, a: &Args) -> SysResult<u64> {
    let clock = a[0] as i32;
    if !matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    ) {
        return Err(Errno::EINVAL);
    }
    if a[1] & !((libc::O_NONBLOCK | libc::O_CLOEXEC) as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = Arc::new(TimerFd {
        timer: Arc::new(IntervalTimer {
            state: Default::default(),
            notify: None,
            wq: Default::default(),
        }),
        clock,
        nonblock: (a[1] & libc::O_NONBLOCK as u64 != 0).into(),
    });
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: a[1] & libc::O_CLOEXEC as u64 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

fn timerfd_of(t: &Task, fd: u64) -> SysResult<Arc<dyn crate::vfs::FileDescription>> {
    let f = t.fds().file(fd as i64)?;
    if !f.as_any().is::<TimerFd>() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub(crate) fn timerfd_settime(t: &mut Task, a: &Args) -> SysResult<u64> {
    // TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET.
    if a[1] & !3 != 0 {
        return Err(Errno::EINVAL);
    }
    let f = timerfd_of(t, a[0])?;
    let tf = f.as_any().downcast_ref::<TimerFd>().ok_or(Errno::EINVAL)?;
    let (interval, mut value) = read_itimerspec(t, a[2])?;
    if a[1] & 1 != 0 && !value.is_zero() {
        value = relative(tf.clock, value)?;
    }
    let (ov, oi) = tf.timer.set(&t.kernel.timers, value, interval);
    if a[3] != 0 {
        t.mm().copy_out(a[3], &itimerspec(oi, ov))?;
    }
    Ok(0)
}

pub(crate) fn timerfd_gettime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = timerfd_of(t, a[0])?;
    let tf = f.as_any().downcast_ref::<TimerFd>().ok_or(Errno::EINVAL)?;
    let (v, i) = tf.timer.get();
    t.mm().copy_out(a[1], &itimerspec(i, v))?;
    Ok(0)
}

pub(crate) fn timer_create(t: &mut Task, a: &Args) -> SysResult<u64> {
    const SIGEV_SIGNAL: i32 = 0;
    const SIGEV_NONE: i32 = 1;
    const SIGEV_THREAD_ID: i32 = 4;
    let clock = a[0] as i32;
    if !matches!(clock, 0 | 1 | 7) {
        return Err(Errno::EINVAL);
    }
    let (sig, value, notify, tid) = if a[1] == 0 {
        (libc::SIGALRM as u32, 0u64, SIGEV_SIGNAL, 0)
    } else {
        let mut b = [0u8; 64];
        t.mm().copy_in(a[1], &mut b)?;
        let value = u64::from_le_bytes(b[0..8].try_into().map_err(|_| Errno::EFAULT)?);
        let sig = u32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let notify = i32::from_le_bytes(b[12..16].try_into().map_err(|_| Errno::EFAULT)?);
        let tid = i32::from_le_bytes(b[16..20].try_into().map_err(|_| Errno::EFAULT)?);
        (sig, value, notify, tid)
    };
    let target = match notify {
        SIGEV_NONE => None,
        SIGEV_SIGNAL | SIGEV_THREAD_ID if crate::abi::is_signal(sig.into()) => {
            let tid = (notify == SIGEV_THREAD_ID).then_some(tid);
            if let Some(tid) = tid {
                if !t.handle.tg.lock().threads.iter().any(|h| h.tid == tid) {
                    return Err(Errno::EINVAL);
                }
            }
            Some((Arc::downgrade(&t.handle.tg), tid, sig, value))
        }
        _ => return Err(Errno::EINVAL),
    };
    let timer = Arc::new(IntervalTimer {
        state: Default::default(),
        notify: target,
        wq: Default::default(),
    });
    let id = {
        let mut timers = t
            .handle
            .tg
            .posix_timers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let id = (0..).find(|i| !timers.contains_key(i)).unwrap_or(0);
        timers.insert(id, (timer, clock));
        id
    };
    t.mm().copy_out(a[2], &(id as i32).to_le_bytes())?;
    Ok(0)
}

fn posix_timer(t: &Task, id: u64) -> SysResult<(Arc<IntervalTimer>, i32)> {
    t.handle
        .tg
        .posix_timers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(id as i32 as i64 as u64))
        .cloned()
        .ok_or(Errno::EINVAL)
}

pub(crate) fn timer_settime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (timer, clock) = posix_timer(t, a[0])?;
    let (interval, mut value) = read_itimerspec(t, a[2])?;
    if a[1] & 1 != 0 && !value.is_zero() {
        value = relative(clock, value)?;
    }
    let (ov, oi) = timer.set(&t.kernel.timers, value, interval);
    if a[3] != 0 {
        t.mm().copy_out(a[3], &itimerspec(oi, ov))?;
    }
    Ok(0)
}

pub(crate) fn timer_gettime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (timer, _) = posix_timer(t, a[0])?;
    let (v, i) = timer.get();
    t.mm().copy_out(a[1], &itimerspec(i, v))?;
    Ok(0)
}

pub(crate) fn timer_getoverrun(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (timer, _) = posix_timer(t, a[0])?;
    let n = timer
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .expirations;
    Ok(n.saturating_sub(1).min(i32::MAX as u64))
}

pub(crate) fn timer_delete(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (timer, _) = t
        .handle
        .tg
        .posix_timers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&(a[0] as i32 as i64 as u64))
        .ok_or(Errno::EINVAL)?;
    timer.set(&t.kernel.timers, Duration::ZERO, Duration::ZERO);
    Ok(0)
}

/// CAP_SYS_TIME is never the sandbox's: setting the host's clock is
/// refused as Linux refuses an unprivileged container (EPERM), after the
/// same argument checks.
pub(crate) fn clock_settime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let id = a[0] as i32;
    if id < 0 {
        // CPU-time clocks cannot be set.
        cpu_clock(t, id)?;
        return Err(Errno::EPERM);
    }
    if id != libc::CLOCK_REALTIME {
        valid_clock(a[0])?;
        return Err(Errno::EINVAL);
    }
    get_timespec(t, a[1])?;
    Err(Errno::EPERM)
}

/// Refused as [`clock_settime`] after Linux's checks of both arguments.
pub(crate) fn settimeofday(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 {
        let mut b = [0u8; 16];
        t.mm().copy_in(a[0], &mut b)?;
        let usec = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
    }
    if a[1] != 0 {
        // The time zone's range is checked after the permission (EPERM).
        let mut b = [0u8; 8];
        t.mm().copy_in(a[1], &mut b)?;
    }
    Err(Errno::EPERM)
}

/// struct timex on x86-64.
const TIMEX_SIZE: usize = 208;
const ADJ_OFFSET_SINGLESHOT: u32 = 0x0001;
const ADJ_OFFSET_READONLY: u32 = 0x2000;
const ADJ_ADJTIME: u32 = 0x8000;
/// adjtimex's answer for a clock the kernel does not keep synchronised.
const TIME_ERROR: u64 = 5;

/// Reads the (unsynchronised) clock's state; any change needs CAP_SYS_TIME
/// (EPERM), as in an unprivileged container.
pub(crate) fn adjtimex(t: &mut Task, a: &Args) -> SysResult<u64> {
    adjtime(t, a[0])
}

fn adjtime(t: &mut Task, addr: u64) -> SysResult<u64> {
    let mut b = [0u8; TIMEX_SIZE];
    t.mm().copy_in(addr, &mut b)?;
    let modes = u32::from_le_bytes(b[..4].try_into().map_err(|_| Errno::EFAULT)?);
    if modes & ADJ_ADJTIME != 0 {
        if modes & ADJ_OFFSET_SINGLESHOT == 0 {
            return Err(Errno::EINVAL);
        }
        if modes & ADJ_OFFSET_READONLY == 0 {
            return Err(Errno::EPERM);
        }
    } else if modes != 0 {
        return Err(Errno::EPERM);
    }
    let (s, ns) = host_clock(libc::CLOCK_REALTIME)?;
    let put = |b: &mut [u8; TIMEX_SIZE], off: usize, v: i64| {
        b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    };
    // offset, freq: 0; maxerror and esterror: NTP's phase limit; status
    // STA_UNSYNC; time constant 2; precision 1 µs; tolerance 500 ppm
    // (scaled); the time; tick 10000 µs (USER_HZ 100); the rest 0.
    put(&mut b, 8, 0);
    put(&mut b, 16, 0);
    put(&mut b, 24, 16_000_000);
    put(&mut b, 32, 16_000_000);
    b[40..44].copy_from_slice(&0x40i32.to_le_bytes());
    put(&mut b, 48, 2);
    put(&mut b, 56, 1);
    put(&mut b, 64, 500 << 16);
    put(&mut b, 72, s);
    put(&mut b, 80, ns / 1000);
    put(&mut b, 88, 10_000);
    b[96..TIMEX_SIZE].fill(0);
    t.mm().copy_out(addr, &b)?;
    Ok(TIME_ERROR)
}

/// adjtimex of CLOCK_REALTIME; other valid clocks cannot be adjusted.
pub(crate) fn clock_adjtime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let id = a[0] as i32;
    if id < 0 {
        cpu_clock(t, id)?;
        return Err(Errno::EOPNOTSUPP);
    }
    if id != libc::CLOCK_REALTIME {
        valid_clock(a[0])?;
        return Err(Errno::EOPNOTSUPP);
    }
    adjtime(t, a[1])
}
