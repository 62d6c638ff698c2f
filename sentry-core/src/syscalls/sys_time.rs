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

fn sleep(d: (i64, i64)) {
    std::thread::sleep(Duration::new(d.0 as u64, d.1 as u32));
}

pub(crate) fn nanosleep(t: &mut Task, a: &Args) -> SysResult<u64> {
    let d = get_timespec(t, a[0])?;
    sleep(d);
    Ok(0)
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
            sleep(((d / 1_000_000_000) as i64, (d % 1_000_000_000) as i64));
        }
    } else {
        sleep(req);
    }
    Ok(0)
}
