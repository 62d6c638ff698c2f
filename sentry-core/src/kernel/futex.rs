//! futex(2): wait queues keyed by address.
//!
//! Private futexes are keyed by (address space, virtual address); shared ones
//! by the memory-file offset of the word, so processes sharing a page (shared
//! memory, or a page still shared after fork) meet on the same key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::waiter::Waker;

/// futex operations.
pub mod op {
    #![allow(missing_docs)]
    pub const WAIT: u32 = 0;
    pub const WAKE: u32 = 1;
    pub const REQUEUE: u32 = 3;
    pub const CMP_REQUEUE: u32 = 4;
    pub const WAKE_OP: u32 = 5;
    pub const WAIT_BITSET: u32 = 9;
    pub const WAKE_BITSET: u32 = 10;
    pub const PRIVATE: u32 = 128;
    pub const CLOCK_REALTIME: u32 = 256;
}

/// Where waiters meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// (address-space identity, address).
    Private(usize, u64),
    /// Memory-file offset.
    Shared(u64),
}

struct Waiter {
    key: Key,
    bitset: u32,
    waker: Arc<Waker>,
    woken: Arc<std::sync::atomic::AtomicBool>,
}

/// All futex waiters of the sandbox.
#[derive(Default)]
pub struct Futexes {
    waiters: Mutex<HashMap<Key, Vec<Waiter>>>,
}

impl Futexes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Waiter>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes up to `n` waiters on `key` whose bitset intersects `bitset`.
    pub fn wake(&self, key: Key, n: u32, bitset: u32) -> u32 {
        let mut w = self.lock();
        let Some(list) = w.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        list.retain(|x| {
            if woken < n && x.bitset & bitset != 0 {
                x.woken.store(true, std::sync::atomic::Ordering::SeqCst);
                x.waker.wake();
                woken += 1;
                false
            } else {
                true
            }
        });
        if list.is_empty() {
            w.remove(&key);
        }
        woken
    }

    /// Wakes `n` waiters on `from` and moves up to `n2` others to `to`.
    pub fn requeue(&self, from: Key, to: Key, n: u32, n2: u32) -> u32 {
        let woken = self.wake(from, n, u32::MAX);
        let mut w = self.lock();
        let Some(list) = w.get_mut(&from) else {
            return woken;
        };
        let k = (n2 as usize).min(list.len());
        let moved: Vec<Waiter> = list.drain(..k).collect();
        if list.is_empty() {
            w.remove(&from);
        }
        let dst = w.entry(to).or_default();
        for mut m in moved {
            m.key = to;
            dst.push(m);
        }
        woken + k as u32
    }
}

/// The key of the futex word at `addr`. As on Linux, a "shared" futex in
/// private memory is keyed like a private one (address space, address);
/// only words in shared memory are keyed by the page they live in.
pub fn key_for(t: &Task, addr: u64, private: bool) -> SysResult<Key> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let mut mm = t.mm();
    if !private && mm.is_shared_memory(addr) {
        let phys = mm.translate(addr).ok_or(Errno::EFAULT)?;
        return Ok(Key::Shared(phys));
    }
    Ok(Key::Private(Arc::as_ptr(&t.mm) as usize, addr))
}

fn read_u32(t: &Task, addr: u64) -> SysResult<u32> {
    let mut b = [0u8; 4];
    t.mm().copy_in(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn deadline(t: &Task, timeout: u64, absolute: bool, realtime: bool) -> SysResult<Option<Instant>> {
    if timeout == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    t.mm().copy_in(timeout, &mut b)?;
    let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let ns = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    let d = std::time::Duration::new(s as u64, ns as u32);
    if !absolute {
        return Ok(Instant::now().checked_add(d));
    }
    let clock = if realtime {
        libc::CLOCK_REALTIME
    } else {
        libc::CLOCK_MONOTONIC
    };
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: now is a valid out-parameter.
    unsafe { libc::clock_gettime(clock, &mut now) };
    let now = std::time::Duration::new(
        now.tv_sec.max(0) as u64,
        now.tv_nsec.clamp(0, 999_999_999) as u32,
    );
    Ok(Instant::now().checked_add(d.saturating_sub(now)))
}

fn wait(
    t: &mut Task,
    key: Key,
    addr: u64,
    val: u32,
    bitset: u32,
    until: Option<Instant>,
) -> SysResult<u64> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let fx = t.kernel.futexes.clone();
    let waker = t.handle.waker.clone();
    let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        // Check the value with the queue locked, so a wake between the check
        // and the sleep is not lost.
        let mut w = fx.lock();
        if read_u32(t, addr)? != val {
            return Err(Errno::EAGAIN);
        }
        w.entry(key).or_default().push(Waiter {
            key,
            bitset,
            waker: waker.clone(),
            woken: woken.clone(),
        });
    }
    let r = crate::waiter::block_until(&*t.handle, &[], until, Errno::ETIMEDOUT, || {
        woken
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(Ok(0))
    });
    if r.is_err() {
        // Still queued (timeout or signal): leave. The key may have changed
        // by a requeue, so search every list.
        let mut w = fx.lock();
        for list in w.values_mut() {
            list.retain(|x| !Arc::ptr_eq(&x.woken, &woken));
        }
        w.retain(|_, l| !l.is_empty());
        if woken.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(0);
        }
    }
    r
}

/// futex(2).
pub fn futex(
    t: &mut Task,
    addr: u64,
    op: u32,
    val: u32,
    timeout: u64,
    addr2: u64,
    val3: u32,
) -> SysResult<u64> {
    let private = op & op::PRIVATE != 0;
    let realtime = op & op::CLOCK_REALTIME != 0;
    let cmd = op & !(op::PRIVATE | op::CLOCK_REALTIME);
    // As Linux: FUTEX_CLOCK_REALTIME only with the waits that take an absolute time.
    if realtime && cmd != op::WAIT_BITSET {
        return Err(Errno::ENOSYS);
    }
    // Linux's wake counts are ints and a wake wakes at least one waiter: a
    // count of 0 or a negative one wakes one (FUTEX_WAKE 0 must not strand a
    // waiter). Requeue counts are exact and must not be negative.
    let nr_wake = |v: u32| if (v as i32) <= 0 { 1 } else { v };
    let key = key_for(t, addr, private)?;
    let fx = t.kernel.futexes.clone();
    match cmd {
        op::WAIT => {
            let until = deadline(t, timeout, false, realtime)?;
            wait(t, key, addr, val, u32::MAX, until)
        }
        op::WAIT_BITSET => {
            let until = deadline(t, timeout, true, realtime)?;
            wait(t, key, addr, val, val3, until)
        }
        op::WAKE => Ok(fx.wake(key, nr_wake(val), u32::MAX) as u64),
        op::WAKE_BITSET => {
            if val3 == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(fx.wake(key, nr_wake(val), val3) as u64)
        }
        op::REQUEUE | op::CMP_REQUEUE => {
            if (val as i32) < 0 || (timeout as u32 as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            let key2 = key_for(t, addr2, private)?;
            if cmd == op::CMP_REQUEUE && read_u32(t, addr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            Ok(fx.requeue(key, key2, val, timeout as u32) as u64)
        }
        op::WAKE_OP => {
            let key2 = key_for(t, addr2, private)?;
            let oparg_shift = (val3 >> 28) & 8 != 0;
            let wop = (val3 >> 28) & 7;
            let cmp = (val3 >> 24) & 15;
            let mut oparg = (val3 >> 12) & 0xfff;
            let cmparg = val3 & 0xfff;
            if oparg_shift {
                oparg = 1u32.checked_shl(oparg).unwrap_or(0);
            }
            let old = read_u32(t, addr2)?;
            let new = match wop {
                0 => oparg,
                1 => old.wrapping_add(oparg),
                2 => old | oparg,
                3 => old & !oparg,
                4 => old ^ oparg,
                _ => return Err(Errno::ENOSYS),
            };
            t.mm().copy_out(addr2, &new.to_le_bytes())?;
            let mut n = fx.wake(key, nr_wake(val), u32::MAX);
            let (o, c) = (old as i32, cmparg as i32);
            let hit = match cmp {
                0 => o == c,
                1 => o != c,
                2 => o < c,
                3 => o <= c,
                4 => o > c,
                5 => o >= c,
                _ => return Err(Errno::ENOSYS),
            };
            if hit {
                n += fx.wake(key2, nr_wake(timeout as u32), u32::MAX);
            }
            Ok(n as u64)
        }
        _ => Err(Errno::ENOSYS),
    }
}
