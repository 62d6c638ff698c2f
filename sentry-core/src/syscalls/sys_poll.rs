//! Waiting on many file descriptors: poll, ppoll, select, pselect6.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::FileDescription;
use crate::waiter::block_until;

use super::Args;

/// How often readiness of host-backed fds (which have no wait queue) is polled.
const HOST_POLL: Duration = Duration::from_millis(5);

/// Waits until one of `files` (with their requested events) is ready, the
/// deadline passes, or a signal arrives. Returns the revents of each.
fn wait_ready(
    t: &Task,
    files: &[Option<(Arc<dyn FileDescription>, u32)>],
    deadline: Option<Instant>,
) -> SysResult<Vec<u32>> {
    let always = (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) as u32;
    let compute = || -> Vec<u32> {
        files
            .iter()
            .map(|f| match f {
                None => 0,
                Some((f, ev)) => f.readiness_for(t) & (ev | always),
            })
            .collect()
    };
    let queues: Vec<&crate::waiter::WaitQueue> = files
        .iter()
        .flatten()
        .filter_map(|(f, _)| f.wait_queue())
        .collect();
    let polled = files
        .iter()
        .flatten()
        .any(|(f, _)| !f.always_ready() && f.wait_queue().is_none());
    loop {
        let step = if polled {
            let d = Instant::now() + HOST_POLL;
            Some(deadline.map_or(d, |x| x.min(d)))
        } else {
            deadline
        };
        let r = block_until(t, &queues, step, Errno::ETIMEDOUT, || {
            let rev = compute();
            rev.iter().any(|&r| r != 0).then_some(Ok(rev))
        });
        match r {
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(compute());
                }
            }
            other => return other,
        }
    }
}

fn deadline_ms(ms: i64) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn read_timespec(t: &Task, addr: u64) -> SysResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    t.mm().copy_in(addr, &mut b)?;
    let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let ns = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    Ok(Instant::now().checked_add(Duration::new(s as u64, ns as u32)))
}

fn do_poll(t: &mut Task, fds_addr: u64, nfds: u64, deadline: Option<Instant>) -> SysResult<u64> {
    // nfds is an unsigned int.
    let nfds = nfds as u32 as u64;
    if nfds > crate::vfs::MAX_FDS as u64 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; nfds as usize * 8];
    t.mm().copy_in(fds_addr, &mut raw)?;
    let mut files = Vec::with_capacity(nfds as usize);
    let mut nval = vec![false; nfds as usize];
    for (i, c) in raw.chunks_exact(8).enumerate() {
        let fd = i32::from_le_bytes(c[..4].try_into().map_err(|_| Errno::EFAULT)?);
        let ev = u16::from_le_bytes(c[4..6].try_into().map_err(|_| Errno::EFAULT)?) as u32;
        if fd < 0 {
            files.push(None);
            continue;
        }
        match t.fds().file(fd as i64) {
            Ok(f) => files.push(Some((f, ev))),
            Err(_) => {
                nval[i] = true;
                files.push(None);
            }
        }
    }
    let rev = if nval.iter().any(|&x| x) {
        files
            .iter()
            .map(|f| f.as_ref().map_or(0, |(f, ev)| f.readiness_for(t) & ev))
            .collect()
    } else {
        wait_ready(t, &files, deadline).map_err(|e| {
            if e == Errno::ERESTARTSYS {
                Errno::ERESTARTNOHAND
            } else {
                e
            }
        })?
    };
    let mut n = 0;
    for (i, c) in raw.chunks_exact_mut(8).enumerate() {
        let r = if nval[i] {
            libc::POLLNVAL as u32
        } else {
            rev[i]
        };
        c[6..8].copy_from_slice(&(r as u16).to_le_bytes());
        if r != 0 {
            n += 1;
        }
    }
    t.mm().copy_out(fds_addr, &raw)?;
    Ok(n)
}

pub(crate) fn poll(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_poll(t, a[0], a[1], deadline_ms(a[2] as i32 as i64))
}

/// Runs `f` with the signal mask at `mask_addr` (if any) in place.
fn with_sigmask(
    t: &mut Task,
    mask_addr: u64,
    size: u64,
    f: impl FnOnce(&mut Task) -> SysResult<u64>,
) -> SysResult<u64> {
    if mask_addr == 0 {
        return f(t);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = t.mm().read_u64(mask_addr)? & !crate::kernel::signal::UNBLOCKABLE;
    let old = std::mem::replace(&mut t.handle.sig().blocked, mask);
    let r = f(t);
    if matches!(r, Err(Errno::ERESTARTNOHAND) | Err(Errno::EINTR)) {
        // The handler runs with the temporary mask; sigreturn restores this.
        t.saved_mask = Some(old);
    } else {
        t.handle.sig().blocked = old;
    }
    r
}

pub(crate) fn ppoll(t: &mut Task, a: &Args) -> SysResult<u64> {
    let deadline = read_timespec(t, a[2])?;
    let (fds, n) = (a[0], a[1]);
    with_sigmask(t, a[3], a[4], |t| do_poll(t, fds, n, deadline))
}

fn do_select(
    t: &mut Task,
    nfds: u64,
    r: u64,
    w: u64,
    e: u64,
    deadline: Option<Instant>,
) -> SysResult<u64> {
    // nfds is an int; Linux cuts it to the size of the descriptor table
    // (whole words), so a huge one reads no more of the sets than that.
    if (nfds as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let table = t
        .fds()
        .open_fds()
        .into_iter()
        .max()
        .map_or(0, |m| m as u64 + 1)
        .next_multiple_of(64)
        .min(crate::vfs::MAX_FDS as u64);
    let nfds = (nfds as i32 as u64).min(table.max(64));
    let bytes = (nfds as usize).div_ceil(64) * 8;
    let read_set = |t: &Task, addr: u64| -> SysResult<Vec<u8>> {
        let mut v = vec![0u8; bytes];
        if addr != 0 {
            t.mm().copy_in(addr, &mut v)?;
        }
        Ok(v)
    };
    let (rs, ws, es) = (read_set(t, r)?, read_set(t, w)?, read_set(t, e)?);
    let bit = |s: &[u8], i: usize| s[i / 8] & (1 << (i % 8)) != 0;
    let mut files = Vec::new();
    let mut index = Vec::new();
    for i in 0..nfds as usize {
        let mut ev = 0u32;
        if bit(&rs, i) {
            ev |= (libc::POLLIN | libc::POLLHUP | libc::POLLERR) as u32;
        }
        if bit(&ws, i) {
            ev |= (libc::POLLOUT | libc::POLLERR) as u32;
        }
        if bit(&es, i) {
            ev |= libc::POLLPRI as u32;
        }
        if ev == 0 {
            continue;
        }
        let f = t.fds().file(i as i64)?;
        files.push(Some((f, ev)));
        index.push(i);
    }
    let rev = wait_ready(t, &files, deadline).map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::ERESTARTNOHAND
        } else {
            e
        }
    })?;
    let (mut ro, mut wo, mut eo) = (vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]);
    let mut n = 0;
    for (k, &i) in index.iter().enumerate() {
        let r = rev[k];
        let set = |s: &mut [u8]| s[i / 8] |= 1 << (i % 8);
        if bit(&rs, i) && r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) as u32 != 0 {
            set(&mut ro);
            n += 1;
        }
        if bit(&ws, i) && r & (libc::POLLOUT | libc::POLLERR) as u32 != 0 {
            set(&mut wo);
            n += 1;
        }
        if bit(&es, i) && r & libc::POLLPRI as u32 != 0 {
            set(&mut eo);
            n += 1;
        }
    }
    for (addr, v) in [(r, ro), (w, wo), (e, eo)] {
        if addr != 0 {
            t.mm().copy_out(addr, &v)?;
        }
    }
    Ok(n)
}

pub(crate) fn select(t: &mut Task, a: &Args) -> SysResult<u64> {
    let deadline = if a[4] == 0 {
        None
    } else {
        let mut b = [0u8; 16];
        t.mm().copy_in(a[4], &mut b)?;
        let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let us = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if s < 0 || !(0..1_000_000).contains(&us) {
            return Err(Errno::EINVAL);
        }
        Instant::now().checked_add(Duration::new(s as u64, us as u32 * 1000))
    };
    let r = do_select(t, a[0], a[1], a[2], a[3], deadline);
    if let (Some(d), true) = (deadline, a[4] != 0) {
        let left = d.saturating_duration_since(Instant::now());
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(left.as_secs() as i64).to_le_bytes());
        b[8..].copy_from_slice(&(left.subsec_micros() as i64).to_le_bytes());
        let _ = t.mm().copy_out(a[4], &b);
    }
    r
}

pub(crate) fn pselect6(t: &mut Task, a: &Args) -> SysResult<u64> {
    let deadline = read_timespec(t, a[4])?;
    let (mask, size) = if a[5] != 0 {
        let mut b = [0u8; 16];
        t.mm().copy_in(a[5], &mut b)?;
        (
            u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?),
            u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?),
        )
    } else {
        (0, 8)
    };
    let (n, r, w, e) = (a[0], a[1], a[2], a[3]);
    with_sigmask(t, mask, size, |t| do_select(t, n, r, w, e, deadline))
}

pub(crate) fn eventfd2(t: &mut Task, a: &Args) -> SysResult<u64> {
    const EFD_SEMAPHORE: u64 = 1;
    let ok = EFD_SEMAPHORE | libc::O_NONBLOCK as u64 | libc::O_CLOEXEC as u64;
    if a[1] & !ok != 0 {
        return Err(Errno::EINVAL);
    }
    let f = Arc::new(crate::fsimpl::eventfd::EventFd::new(
        a[0] & 0xffff_ffff,
        a[1] & EFD_SEMAPHORE != 0,
        a[1] & libc::O_NONBLOCK as u64 != 0,
    ));
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: a[1] & libc::O_CLOEXEC as u64 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

pub(crate) fn eventfd(t: &mut Task, a: &Args) -> SysResult<u64> {
    eventfd2(t, &Args([a[0], 0, 0, 0, 0, 0]))
}

pub(crate) fn epoll_create1(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] & !(libc::O_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: Arc::new(crate::fsimpl::epoll::Epoll::default()),
            cloexec: a[0] != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

pub(crate) fn epoll_create(t: &mut Task, a: &Args) -> SysResult<u64> {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(t, &Args::default())
}

fn epoll_of(t: &Task, fd: u64) -> SysResult<Arc<dyn FileDescription>> {
    let f = t.fds().file(fd as i64)?;
    if !f.as_any().is::<crate::fsimpl::epoll::Epoll>() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub(crate) fn epoll_ctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let ep = epoll_of(t, a[0])?;
    if a[0] == a[2] {
        return Err(Errno::EINVAL);
    }
    let target = t.fds().file(a[2] as i64)?;
    let (events, data) = if a[1] as i32 != libc::EPOLL_CTL_DEL {
        let mut b = [0u8; 12];
        t.mm().copy_in(a[3], &mut b)?;
        (
            u32::from_le_bytes(b[..4].try_into().map_err(|_| Errno::EFAULT)?),
            u64::from_le_bytes(b[4..].try_into().map_err(|_| Errno::EFAULT)?),
        )
    } else {
        (0, 0)
    };
    let e = ep
        .as_any()
        .downcast_ref::<crate::fsimpl::epoll::Epoll>()
        .ok_or(Errno::EINVAL)?;
    e.ctl(a[1] as i32, a[2] as i64, Some(target), events, data)?;
    Ok(0)
}

fn do_epoll_wait(
    t: &mut Task,
    epfd: u64,
    events: u64,
    max: u64,
    deadline: Option<Instant>,
) -> SysResult<u64> {
    if max == 0 || max > 1 << 20 {
        return Err(Errno::EINVAL);
    }
    let ep = epoll_of(t, epfd)?;
    let e = ep
        .as_any()
        .downcast_ref::<crate::fsimpl::epoll::Epoll>()
        .ok_or(Errno::EINVAL)?;
    let ready = e.wait(t, max as usize, deadline).map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::EINTR
        } else {
            e
        }
    })?;
    let mut b = Vec::with_capacity(ready.len() * 12);
    for (ev, data) in &ready {
        b.extend_from_slice(&ev.to_le_bytes());
        b.extend_from_slice(&data.to_le_bytes());
    }
    t.mm().copy_out(events, &b)?;
    Ok(ready.len() as u64)
}

pub(crate) fn epoll_wait(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_epoll_wait(t, a[0], a[1], a[2], deadline_ms(a[3] as i32 as i64))
}

pub(crate) fn epoll_pwait(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (fd, ev, max, ms) = (a[0], a[1], a[2], a[3] as i32 as i64);
    with_sigmask(t, a[4], a[5], |t| {
        do_epoll_wait(t, fd, ev, max, deadline_ms(ms))
    })
}

pub(crate) fn epoll_pwait2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let deadline = read_timespec(t, a[3])?;
    let (fd, ev, max) = (a[0], a[1], a[2]);
    with_sigmask(t, a[4], a[5], |t| do_epoll_wait(t, fd, ev, max, deadline))
}
