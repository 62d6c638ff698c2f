//! Scheduling policy and I/O priority: sched_{get,set}{scheduler,param,attr},
//! sched_get_priority_{min,max}, sched_rr_get_interval, ioprio_{get,set}.
//!
//! The sandbox's threads run on host threads the host schedules, so policies,
//! priorities and I/O priorities are kept per thread (`TaskHandle::sched`) and
//! reported as Linux reports them, with Linux's checks, but not enforced.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::{SchedState, TaskHandle};
use crate::kernel::Task;

use super::Args;

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_RECLAIM: u64 = 0x02;
const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP: u64 = 0x20 | 0x40;
const SCHED_FLAG_ALL: u64 = 0x7f;

/// sizeof(struct sched_attr): SCHED_ATTR_SIZE_VER0 and VER1.
const ATTR_VER0: usize = 48;
const ATTR_VER1: usize = 56;

/// The CAP_SYS_NICE capability.
const CAP_SYS_NICE: u32 = 23;

fn rt_policy(p: u32) -> bool {
    p == SCHED_FIFO || p == SCHED_RR
}

fn valid_policy(p: u32) -> bool {
    matches!(
        p,
        SCHED_OTHER | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE
    )
}

fn can_nice(t: &Task) -> bool {
    super::sys_priv::capable(t, CAP_SYS_NICE)
}

/// The thread `pid` names (0: the caller); EINVAL for a negative pid, ESRCH
/// for one that does not exist.
fn target(t: &Task, pid: i32) -> SysResult<Arc<TaskHandle>> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 || pid == t.tid {
        return Ok(t.handle.clone());
    }
    t.kernel
        .procs()
        .tasks
        .get(&pid)
        .cloned()
        .ok_or(Errno::ESRCH)
}

/// Whether the caller may change `h`'s scheduling: CAP_SYS_NICE, or its
/// effective uid is the target's real or effective uid.
fn may_change(t: &Task, h: &TaskHandle) -> bool {
    if can_nice(t) || Arc::ptr_eq(&h.tg, &t.handle.tg) {
        return true;
    }
    let me = t.creds().uid[1];
    let them = h.tg.creds.lock().unwrap_or_else(|p| p.into_inner()).uid;
    me == them[0] || me == them[1]
}

fn state(h: &TaskHandle) -> SchedState {
    h.sched_state()
}

/// A requested change: policy (None: keep), priority, nice (fair policies),
/// reset-on-fork and the fair slice.
struct Change {
    policy: Option<u32>,
    priority: u32,
    nice: Option<i32>,
    reset_on_fork: bool,
    keep_params: bool,
    slice: u64,
}

/// Linux's checks (`__sched_setscheduler`) and then the change.
fn apply(t: &Task, h: &TaskHandle, c: Change) -> SysResult<u64> {
    let cur = state(h);
    let policy = c.policy.unwrap_or(cur.policy);
    if !valid_policy(policy) {
        return Err(Errno::EINVAL);
    }
    if c.priority > 99 || rt_policy(policy) != (c.priority != 0) {
        return Err(Errno::EINVAL);
    }
    if policy == SCHED_DEADLINE {
        // A deadline task needs runtime <= deadline <= period and admission control,
        // which host threads scheduled by the host cannot honour.
        return Err(Errno::EBUSY);
    }
    if !may_change(t, h) {
        return Err(Errno::EPERM);
    }
    if !can_nice(t) {
        // Without CAP_SYS_NICE: no real-time policy (RLIMIT_RTPRIO is 0), no
        // lower nice, no leaving SCHED_IDLE, no clearing reset-on-fork.
        if rt_policy(policy) && !c.keep_params {
            return Err(Errno::EPERM);
        }
        if let Some(n) = c.nice {
            if !c.keep_params && n < h.tg.lock().nice {
                return Err(Errno::EPERM);
            }
        }
        if cur.policy == SCHED_IDLE && policy != SCHED_IDLE && !c.keep_params {
            return Err(Errno::EPERM);
        }
        if cur.reset_on_fork && !c.reset_on_fork {
            return Err(Errno::EPERM);
        }
    }
    let mut s = h.sched.lock().unwrap_or_else(|p| p.into_inner());
    s.reset_on_fork = c.reset_on_fork;
    if c.keep_params {
        return Ok(0);
    }
    s.policy = policy;
    s.priority = c.priority;
    if !rt_policy(policy) {
        s.slice = c.slice;
        if let Some(n) = c.nice {
            drop(s);
            h.tg.lock().nice = n;
        }
    }
    Ok(0)
}

fn read_priority(t: &mut Task, p: u64) -> SysResult<u32> {
    if p == 0 {
        return Err(Errno::EINVAL);
    }
    read_u32(t, p)
}

pub(crate) fn sched_setscheduler(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid, raw_policy) = (a.int(0), a.int(1));
    if a.ptr(2) == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let priority = read_priority(t, a.ptr(2))?;
    let h = target(t, pid)?;
    if raw_policy < 0 {
        return Err(Errno::EINVAL);
    }
    let raw = raw_policy as u32;
    let reset = raw & SCHED_RESET_ON_FORK != 0;
    let policy = raw & !SCHED_RESET_ON_FORK;
    if policy == SCHED_DEADLINE {
        // sched_setscheduler cannot give a deadline task its runtime and period.
        return Err(Errno::EINVAL);
    }
    apply(
        t,
        &h,
        Change {
            policy: Some(policy),
            priority,
            nice: None,
            reset_on_fork: reset,
            keep_params: false,
            slice: state(&h).slice,
        },
    )
}

pub(crate) fn sched_setparam(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pid = a.int(0);
    if a.ptr(1) == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let priority = read_priority(t, a.ptr(1))?;
    let h = target(t, pid)?;
    let cur = state(&h);
    apply(
        t,
        &h,
        Change {
            policy: None,
            priority,
            nice: None,
            reset_on_fork: cur.reset_on_fork,
            keep_params: false,
            slice: cur.slice,
        },
    )
}

pub(crate) fn sched_getscheduler(t: &mut Task, a: &Args) -> SysResult<u64> {
    let s = target(t, a.int(0))?.sched_state();
    let reset = if s.reset_on_fork {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    Ok((s.policy | reset) as u64)
}

pub(crate) fn sched_getparam(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a.ptr(1) == 0 || a.int(0) < 0 {
        return Err(Errno::EINVAL);
    }
    let s = target(t, a.int(0))?.sched_state();
    t.mm().copy_out(a.ptr(1), &s.priority.to_le_bytes())?;
    Ok(0)
}

pub(crate) fn sched_get_priority_max(_t: &mut Task, a: &Args) -> SysResult<u64> {
    match a.int(0) {
        1 | 2 => Ok(99),
        0 | 3 | 5 | 6 | 7 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn sched_get_priority_min(_t: &mut Task, a: &Args) -> SysResult<u64> {
    match a.int(0) {
        1 | 2 => Ok(1),
        0 | 3 | 5 | 6 | 7 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// SCHED_RR's time slice (Linux's RR_TIMESLICE); 0 for the others, as a
/// fair task's slice rounds to 0 jiffies on a 250 Hz kernel.
pub(crate) fn sched_rr_get_interval(t: &mut Task, a: &Args) -> SysResult<u64> {
    let s = target(t, a.int(0))?.sched_state();
    let ns: u64 = if s.policy == SCHED_RR { 100_000_000 } else { 0 };
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    ts[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    t.mm().copy_out(a.ptr(1), &ts)?;
    Ok(0)
}

/// The fair scheduler's base slice: 0.7 ms scaled by 1 + log2(CPUs), CPUs capped at 8.
fn base_slice(t: &Task) -> u64 {
    let cpus = t.kernel.config.cpus.clamp(1, 8) as u64;
    700_000 * (1 + cpus.ilog2() as u64)
}

/// Reads a `struct sched_attr` as sched_setattr's `sched_copy_attr`: size 0
/// means VER0; a size below VER0 or above a page is E2BIG with the kernel's
/// size written back; bytes past what the kernel knows must be zero.
fn read_attr(t: &mut Task, p: u64) -> SysResult<[u8; ATTR_VER1]> {
    let mut size = read_u32(t, p)? as usize;
    if size == 0 {
        size = ATTR_VER0;
    }
    if !(ATTR_VER0..=4096).contains(&size) {
        t.mm()
            .copy_out(p, &(ATTR_VER1 as u32).to_le_bytes())
            .map_err(|_| Errno::EFAULT)?;
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; size];
    t.mm().copy_in(p, &mut raw)?;
    if raw.len() > ATTR_VER1 && raw[ATTR_VER1..].iter().any(|&b| b != 0) {
        t.mm()
            .copy_out(p, &(ATTR_VER1 as u32).to_le_bytes())
            .map_err(|_| Errno::EFAULT)?;
        return Err(Errno::E2BIG);
    }
    let mut out = [0u8; ATTR_VER1];
    let n = raw.len().min(ATTR_VER1);
    out[..n].copy_from_slice(&raw[..n]);
    Ok(out)
}

fn read_u32(t: &mut Task, p: u64) -> SysResult<u32> {
    let mut b = [0u8; 4];
    t.mm().copy_in(p, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

pub(crate) fn sched_setattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pid = a.int(0);
    if a.ptr(1) == 0 || pid < 0 || a.uint(2) != 0 {
        return Err(Errno::EINVAL);
    }
    let attr = read_attr(t, a.ptr(1))?;
    let policy = u32_at(&attr, 4);
    let flags = u64_at(&attr, 8);
    let nice = (u32_at(&attr, 16) as i32).clamp(-20, 19);
    let priority = u32_at(&attr, 20);
    let runtime = u64_at(&attr, 24);
    if (policy as i32) < 0 || flags & !SCHED_FLAG_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let h = target(t, pid)?;
    if flags & SCHED_FLAG_UTIL_CLAMP != 0 {
        // No utilization clamping (a kernel without CONFIG_UCLAMP_TASK).
        return Err(Errno::EOPNOTSUPP);
    }
    let keep_policy = flags & SCHED_FLAG_KEEP_POLICY != 0;
    let keep_params = flags & SCHED_FLAG_KEEP_PARAMS != 0;
    let cur = state(&h);
    let effective = if keep_policy { cur.policy } else { policy };
    if !keep_policy && !valid_policy(policy) {
        return Err(Errno::EINVAL);
    }
    if effective == SCHED_DEADLINE && !keep_params {
        // Linux's `__checkparam_dl`; good parameters then fail admission (EBUSY in `apply`).
        let (deadline, period) = (u64_at(&attr, 32), u64_at(&attr, 40));
        let period = if period == 0 { deadline } else { period };
        if priority != 0
            || deadline == 0
            || runtime < 1024
            || runtime > deadline
            || deadline > period
            || period >> 63 != 0
        {
            return Err(Errno::EINVAL);
        }
    }
    // SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN matter only to deadline tasks.
    let _ = SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN;
    let (priority, nice) = if keep_params {
        (cur.priority, Some(h.tg.lock().nice))
    } else {
        (priority, Some(nice))
    };
    let slice = if runtime == 0 {
        0
    } else {
        runtime.clamp(100_000, 100_000_000)
    };
    apply(
        t,
        &h,
        Change {
            policy: Some(effective),
            priority,
            nice: (!rt_policy(effective)).then_some(nice).flatten(),
            reset_on_fork: flags & SCHED_FLAG_RESET_ON_FORK != 0,
            keep_params,
            slice,
        },
    )
}

pub(crate) fn sched_getattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid, usize_, flags) = (a.int(0), a.uint(2) as usize, a.uint(3));
    if a.ptr(1) == 0 || pid < 0 || !(ATTR_VER0..=4096).contains(&usize_) || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let h = target(t, pid)?;
    let s = state(&h);
    let mut b = [0u8; ATTR_VER1];
    let size = usize_.min(ATTR_VER1);
    b[0..4].copy_from_slice(&(size as u32).to_le_bytes());
    b[4..8].copy_from_slice(&s.policy.to_le_bytes());
    let fl = if s.reset_on_fork {
        SCHED_FLAG_RESET_ON_FORK
    } else {
        0
    };
    b[8..16].copy_from_slice(&fl.to_le_bytes());
    if rt_policy(s.policy) {
        b[20..24].copy_from_slice(&s.priority.to_le_bytes());
    } else {
        let nice = h.tg.lock().nice;
        b[16..20].copy_from_slice(&nice.to_le_bytes());
        let slice = if s.slice == 0 { base_slice(t) } else { s.slice };
        b[24..32].copy_from_slice(&slice.to_le_bytes());
    }
    // util_min 0, util_max 1024 (SCHED_CAPACITY_SCALE), as Linux reports them.
    b[52..56].copy_from_slice(&1024u32.to_le_bytes());
    t.mm().copy_out(a.ptr(1), &b[..size])?;
    Ok(0)
}

// ioprio: IOPRIO_WHO_PROCESS / PGRP / USER; the class in bits 13..15.
const IOPRIO_WHO_PROCESS: i32 = 1;
const IOPRIO_WHO_PGRP: i32 = 2;
const IOPRIO_WHO_USER: i32 = 3;

/// The threads `(which, who)` names, as ioprio_get/ioprio_set select them.
fn ioprio_targets(t: &Task, which: i32, who: i32) -> SysResult<Vec<Arc<TaskHandle>>> {
    let v: Vec<Arc<TaskHandle>> = match which {
        IOPRIO_WHO_PROCESS => vec![target(t, who).map_err(|_| Errno::ESRCH)?],
        IOPRIO_WHO_PGRP => {
            let g = if who == 0 {
                t.handle.tg.lock().pgid
            } else {
                who
            };
            let procs = t.kernel.procs();
            procs
                .tgs
                .values()
                .filter(|tg| {
                    let st = tg.lock();
                    st.zombie.is_none() && st.pgid == g
                })
                .flat_map(|tg| tg.lock().threads.clone())
                .collect()
        }
        IOPRIO_WHO_USER => {
            let u = if who == 0 {
                t.creds().uid[0]
            } else {
                who as u32
            };
            let procs = t.kernel.procs();
            procs
                .tgs
                .values()
                .filter(|tg| {
                    tg.lock().zombie.is_none()
                        && tg.creds.lock().unwrap_or_else(|p| p.into_inner()).uid[0] == u
                })
                .flat_map(|tg| tg.lock().threads.clone())
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

/// Orders I/O priorities as Linux's `ioprio_best`: the lower class (RT < BE <
/// IDLE, NONE counting as BE), then the lower level.
fn ioprio_rank(v: u32) -> (u32, u32) {
    let class = match (v >> 13) & 7 {
        0 => 2,
        c => c,
    };
    (class, v & 0x1fff)
}

pub(crate) fn ioprio_get(t: &mut Task, a: &Args) -> SysResult<u64> {
    let targets = ioprio_targets(t, a.int(0), a.int(1))?;
    let best = targets
        .iter()
        .map(|h| state(h).ioprio)
        .min_by_key(|&v| ioprio_rank(v))
        .unwrap_or(0);
    Ok(best as u64)
}

pub(crate) fn ioprio_set(t: &mut Task, a: &Args) -> SysResult<u64> {
    let which = a.int(0);
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    // The kernel keeps an unsigned short: higher bits fall away.
    let v = a.uint(2) & 0xffff;
    let level = v & 7;
    match v >> 13 {
        1 if !can_nice(t) => return Err(Errno::EPERM),
        1..=3 => {}
        0 if level != 0 => return Err(Errno::EINVAL),
        0 => {}
        _ => return Err(Errno::EINVAL),
    }
    let targets = ioprio_targets(t, which, a.int(1))?;
    for h in &targets {
        if !may_change(t, h) {
            return Err(Errno::EPERM);
        }
    }
    for h in targets {
        h.sched.lock().unwrap_or_else(|p| p.into_inner()).ioprio = v;
    }
    Ok(0)
}
