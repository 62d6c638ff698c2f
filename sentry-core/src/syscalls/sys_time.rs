//! Clocks and sleeping.

use std::time::Duration;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

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

pub(crate) fn clock_gettime(t: &mut Task, a: &Args) -> SysResult<u64> {
    let v = host_clock(valid_clock(a[0])?)?;
    put_timespec(t, a[1], v)?;
    Ok(0)
}

pub(crate) fn clock_getres(t: &mut Task, a: &Args) -> SysResult<u64> {
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
    let until = std::time::Instant::now() + Duration::new(d.0 as u64, d.1 as u32);
    match crate::kernel::block::block_until::<()>(&[], Some(until), Errno::ETIMEDOUT, || None) {
        Err(Errno::ETIMEDOUT) | Ok(()) => Ok(0),
        Err(_) => {
            if rem != 0 {
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
        rt.deadline = (!value.is_zero()).then(|| now + value);
        (old, rt.gen, rt.deadline)
    };
    if let Some(d) = deadline {
        t.kernel.timers.schedule(&tg, d, gen);
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
        (read_timeval(t, a[1])?, read_timeval(t, a[1] + 16)?)
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

fn thread_cpu() -> (u64, u64) {
    // SAFETY: a zeroed rusage is a valid out-buffer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid out-buffer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
    (us(ru.ru_utime), us(ru.ru_stime))
}

pub(crate) fn getrusage(t: &mut Task, a: &Args) -> SysResult<u64> {
    let who = a[0] as i64;
    if !(-1..=1).contains(&who) {
        return Err(Errno::EINVAL);
    }
    // The sentry thread's CPU time stands for the task's (app time in the
    // guest is counted as the thread's time by the host).
    let (u, s) = if who == -1 { (0, 0) } else { thread_cpu() };
    let mut b = [0u8; 144];
    let tv = |us: u64| {
        let mut x = [0u8; 16];
        x[..8].copy_from_slice(&((us / 1_000_000) as i64).to_le_bytes());
        x[8..].copy_from_slice(&((us % 1_000_000) as i64).to_le_bytes());
        x
    };
    b[..16].copy_from_slice(&tv(u));
    b[16..32].copy_from_slice(&tv(s));
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn times(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (u, s) = thread_cpu();
    if a[0] != 0 {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(u / 10_000).to_le_bytes());
        b[8..16].copy_from_slice(&(s / 10_000).to_le_bytes());
        t.mm().copy_out(a[0], &b)?;
    }
    Ok(t.kernel.boot.elapsed().as_millis() as u64 / 10 + 1)
}
