//! Signal actions and masks (recorded; delivery comes with the process model).

use crate::errno::{Errno, SysResult};
use crate::kernel::signal::{SigAction, UNBLOCKABLE};
use crate::kernel::Task;

use super::Args;

pub(crate) fn rt_sigaction(t: &mut Task, a: &Args) -> SysResult<u64> {
    let sig = a[0];
    if a[3] != 8 || !crate::abi::is_signal(sig) {
        return Err(Errno::EINVAL);
    }
    let i = (sig - 1) as usize;
    let old = t.handle.tg.action(sig as u32);
    if a[1] != 0 {
        if sig == 9 || sig == 19 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 32];
        t.mm().copy_in(a[1], &mut b)?;
        let mut act = SigAction::from_bytes(&b);
        act.mask &= !UNBLOCKABLE;
        t.handle
            .tg
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner())[i] = act;
    }
    if a[2] != 0 {
        t.mm().copy_out(a[2], &old.to_bytes())?;
    }
    Ok(0)
}

pub(crate) fn rt_sigprocmask(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.handle.sig().blocked;
    if a[1] != 0 {
        let set = t.mm().read_u64(a[1])?;
        t.handle.sig().blocked = match a[0] {
            0 => old | set,
            1 => old & !set,
            2 => set,
            _ => return Err(Errno::EINVAL),
        } & !UNBLOCKABLE;
    }
    if a[2] != 0 {
        t.mm().copy_out(a[2], &old.to_le_bytes())?;
    }
    Ok(0)
}

pub(crate) fn sigaltstack(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::kernel::signal::{AltStack, SS_DISABLE, SS_ONSTACK};
    let cur = t.altstack;
    let on =
        cur.flags & SS_DISABLE == 0 && cur.size > 0 && t.regs.rsp.wrapping_sub(cur.sp) < cur.size;
    if a[1] != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&cur.sp.to_le_bytes());
        let fl =
            if cur.size == 0 { SS_DISABLE } else { cur.flags } | if on { SS_ONSTACK } else { 0 };
        b[8..12].copy_from_slice(&fl.to_le_bytes());
        b[16..24].copy_from_slice(&cur.size.to_le_bytes());
        t.mm().copy_out(a[1], &b)?;
    }
    if a[0] != 0 {
        let mut b = [0u8; 24];
        t.mm().copy_in(a[0], &mut b)?;
        if on {
            return Err(Errno::EPERM);
        }
        let sp = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = u32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_le_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
        if flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE != 0 {
            t.altstack = AltStack {
                sp: 0,
                size: 0,
                flags: SS_DISABLE,
            };
        } else {
            if size < 2048 {
                return Err(Errno::ENOMEM);
            }
            t.altstack = AltStack { sp, size, flags: 0 };
        }
    }
    Ok(0)
}

pub(crate) fn rt_sigreturn(t: &mut Task, _a: &Args) -> SysResult<u64> {
    crate::kernel::signal::sigreturn(t).map_err(|_| {
        t.die(
            crate::kernel::signal::Signal::SIGSEGV,
            "bad signal frame in rt_sigreturn",
        );
        Errno::EFAULT
    })
}

pub(crate) fn rt_sigpending(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let p = {
        let s = t.handle.sig();
        (s.pending | t.handle.tg.lock().pending) & s.blocked
    };
    t.mm().copy_out(a[0], &p.to_le_bytes())?;
    Ok(0)
}

pub(crate) fn rt_sigsuspend(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = t.mm().read_u64(a[0])? & !UNBLOCKABLE;
    let old = std::mem::replace(&mut t.handle.sig().blocked, mask);
    let h = t.handle.clone();
    let _ = crate::waiter::block_until::<()>(t, &[], None, Errno::EINTR, || None);
    // The handler runs with the suspend mask; sigreturn restores `old`.
    t.saved_mask = Some(old);
    let _ = h;
    Err(Errno::ERESTARTNOHAND)
}

pub(crate) fn kill(t: &mut Task, a: &Args) -> SysResult<u64> {
    crate::kernel::process::kill(t, a[0] as i32, a[1] as u32)
}

pub(crate) fn tgkill(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, a[2] as u32);
    if tgid <= 0 || tid <= 0 || sig > crate::abi::NSIG {
        return Err(Errno::EINVAL);
    }
    signal_thread(t, Some(tgid), tid, sig)
}

pub(crate) fn tkill(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (tid, sig) = (a[0] as i32, a[1] as u32);
    if tid <= 0 || sig > crate::abi::NSIG {
        return Err(Errno::EINVAL);
    }
    signal_thread(t, None, tid, sig)
}

pub(crate) fn signal_thread(t: &mut Task, tgid: Option<i32>, tid: i32, sig: u32) -> SysResult<u64> {
    use crate::kernel::signal::{SigInfo, Signal};
    let target = t
        .kernel
        .procs()
        .tasks
        .get(&tid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != target.tg.pid) {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    if target.tg.pid != t.pid && crate::kernel::signal::init_ignores(&target.tg, sig) {
        return Ok(0);
    }
    if sig == 9 {
        crate::kernel::signal::send_to_process(
            &target.tg,
            Signal(sig),
            SigInfo::user(t.pid, t.creds().uid[0], sig),
        );
        return Ok(0);
    }
    let act = target.tg.action(sig);
    let ignored = act.handler == 1
        || (act.handler == 0
            && Signal(sig).default_action() == crate::kernel::signal::DefaultAction::Ignore);
    if !ignored {
        let mut s = target.sig();
        s.pending |= Signal(sig).mask();
        s.infos.insert(
            sig,
            SigInfo {
                code: -6,
                ..SigInfo::user(t.pid, t.creds().uid[0], sig)
            },
        );
    }
    target.kick();
    Ok(0)
}

pub(crate) fn read_siginfo(
    t: &Task,
    addr: u64,
    sig: u32,
) -> SysResult<crate::kernel::signal::SigInfo> {
    let mut b = [0u8; 128];
    t.mm().copy_in(addr, &mut b)?;
    let code = i32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
    Ok(crate::kernel::signal::SigInfo {
        signo: sig,
        code,
        pid: i32::from_le_bytes(b[16..20].try_into().map_err(|_| Errno::EFAULT)?),
        uid: u32::from_le_bytes(b[20..24].try_into().map_err(|_| Errno::EFAULT)?),
        value: u64::from_le_bytes(b[24..32].try_into().map_err(|_| Errno::EFAULT)?),
        ..Default::default()
    })
}

pub(crate) fn rt_sigqueueinfo(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid, sig) = (a[0] as i32, a[1] as u32);
    if sig > crate::abi::NSIG {
        return Err(Errno::EINVAL);
    }
    let info = read_siginfo(t, a[2], sig)?;
    // Only the kernel may claim si_code >= 0 for another process.
    if info.code >= 0 && pid != t.pid {
        return Err(Errno::EPERM);
    }
    let tg = t
        .kernel
        .procs()
        .tgs
        .get(&pid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    // Signal 0 only checks that the process exists.
    if sig == 0 || (tg.pid != t.pid && crate::kernel::signal::init_ignores(&tg, sig)) {
        return Ok(0);
    }
    crate::kernel::signal::send_to_process(&tg, crate::kernel::signal::Signal(sig), info);
    Ok(0)
}

pub(crate) fn rt_tgsigqueueinfo(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, a[2] as u32);
    if !crate::abi::is_signal(sig.into()) {
        return Err(Errno::EINVAL);
    }
    let info = read_siginfo(t, a[3], sig)?;
    if info.code >= 0 && tgid != t.pid {
        return Err(Errno::EPERM);
    }
    let target = t
        .kernel
        .procs()
        .tasks
        .get(&tid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    if target.tg.pid != tgid {
        return Err(Errno::ESRCH);
    }
    if tgid != t.pid && crate::kernel::signal::init_ignores(&target.tg, sig) {
        return Ok(0);
    }
    {
        let mut s = target.sig();
        s.pending |= crate::kernel::signal::Signal(sig).mask();
        s.infos.insert(sig, info);
    }
    target.kick();
    Ok(0)
}

pub(crate) fn rt_sigtimedwait(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set = t.mm().read_u64(a[0])? & !UNBLOCKABLE;
    let deadline = if a[2] != 0 {
        let mut b = [0u8; 16];
        t.mm().copy_in(a[2], &mut b)?;
        let s = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let ns = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(Errno::EINVAL);
        }
        std::time::Instant::now().checked_add(std::time::Duration::new(s as u64, ns as u32))
    } else {
        None
    };
    let h = t.handle.clone();
    let r = crate::waiter::block_until(t, &[], deadline, Errno::EAGAIN, || {
        crate::kernel::signal::dequeue_from(&h, set).map(Ok)
    });
    let (sig, info) = match r {
        Ok(v) => v,
        Err(Errno::ERESTARTSYS) => return Err(Errno::EINTR),
        Err(e) => return Err(e),
    };
    if a[1] != 0 {
        t.mm().copy_out(a[1], &info.to_bytes())?;
    }
    Ok(sig.0 as u64)
}

/// A signalfd: reads take the reader's pending signals in its mask.
pub struct SignalFd {
    mask: std::sync::Mutex<u64>,
    nonblock: bool,
}

impl crate::vfs::FileDescription for SignalFd {
    fn anon_name(&self) -> Option<&'static str> {
        Some("[signalfd]")
    }
    fn read(&self, ctx: &dyn crate::vfs::TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if buf.len() < 128 {
            return Err(Errno::EINVAL);
        }
        let h = ctx
            .as_any()
            .downcast_ref::<Task>()
            .map(|t| t.handle.clone())
            .ok_or(Errno::EINVAL)?;
        let mask = *self.mask.lock().unwrap_or_else(|p| p.into_inner());
        let max = buf.len() / 128;
        let mut n = 0;
        let first = crate::waiter::block_until(ctx, &[], None, Errno::EAGAIN, || {
            match crate::kernel::signal::dequeue_from(&h, mask) {
                Some(v) => Some(Ok(v)),
                None if self.nonblock => Some(Err(Errno::EAGAIN)),
                None => None,
            }
        })
        .map_err(|e| {
            if e == Errno::ERESTARTSYS {
                Errno::EINTR
            } else {
                e
            }
        })?;
        let mut next = Some(first);
        while let Some((sig, info)) = next {
            let mut r = [0u8; 128];
            r[0..4].copy_from_slice(&sig.0.to_le_bytes());
            r[8..12].copy_from_slice(&info.code.to_le_bytes());
            r[12..16].copy_from_slice(&(info.pid as u32).to_le_bytes());
            r[16..20].copy_from_slice(&info.uid.to_le_bytes());
            r[48..52].copy_from_slice(&(info.status as u32).to_le_bytes());
            r[72..80].copy_from_slice(&info.addr.to_le_bytes());
            r[40..48].copy_from_slice(&info.value.to_le_bytes());
            buf[n * 128..n * 128 + 128].copy_from_slice(&r);
            n += 1;
            next = if n < max {
                crate::kernel::signal::dequeue_from(&h, mask)
            } else {
                None
            };
        }
        Ok(n * 128)
    }
    fn write(&self, _ctx: &dyn crate::vfs::TaskContext, _buf: &[u8]) -> SysResult<usize> {
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
        // Without a caller, no signal is the reader's.
        0
    }
    fn readiness_for(&self, ctx: &dyn crate::vfs::TaskContext) -> u32 {
        let mask = *self.mask.lock().unwrap_or_else(|p| p.into_inner());
        match ctx.as_any().downcast_ref::<Task>().map(|t| &t.handle) {
            Some(h) => {
                let p = h.sig().pending | h.tg.lock().pending;
                if p & mask != 0 {
                    libc::POLLIN as u32
                } else {
                    0
                }
            }
            None => 0,
        }
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        (libc::O_RDWR | if self.nonblock { libc::O_NONBLOCK } else { 0 }) as u32
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(crate) fn signalfd4(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[2] != 8 || a[3] & !((libc::O_NONBLOCK | libc::O_CLOEXEC) as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = t.mm().read_u64(a[1])? & !UNBLOCKABLE;
    if a[0] as i32 != -1 {
        let f = t.fds().file(a[0] as i64)?;
        let sfd = f.as_any().downcast_ref::<SignalFd>().ok_or(Errno::EINVAL)?;
        *sfd.mask.lock().unwrap_or_else(|p| p.into_inner()) = mask;
        return Ok(a[0]);
    }
    let f = std::sync::Arc::new(SignalFd {
        mask: std::sync::Mutex::new(mask),
        nonblock: a[3] & libc::O_NONBLOCK as u64 != 0,
    });
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: a[3] & libc::O_CLOEXEC as u64 != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}

pub(crate) fn signalfd(t: &mut Task, a: &Args) -> SysResult<u64> {
    signalfd4(t, &Args([a[0], a[1], a[2], 0, 0, 0]))
}

pub(crate) fn pause(t: &mut Task, _a: &Args) -> SysResult<u64> {
    let _ = crate::waiter::block_until::<()>(t, &[], None, Errno::EINTR, || None);
    Err(Errno::ERESTARTNOHAND)
}
