//! Signal actions and masks (recorded; delivery comes with the process model).

use crate::errno::{Errno, SysResult};
use crate::kernel::signal::{SigAction, UNBLOCKABLE};
use crate::kernel::Task;

use super::Args;

pub(crate) fn rt_sigaction(t: &mut Task, a: &Args) -> SysResult<u64> {
    let sig = a[0];
    if a[3] != 8 || !(1..=64).contains(&sig) {
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
    let _ = crate::kernel::block::block_until::<()>(&[], None, Errno::EINTR, || None);
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
    if tgid <= 0 || tid <= 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    signal_thread(t, Some(tgid), tid, sig)
}

pub(crate) fn tkill(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (tid, sig) = (a[0] as i32, a[1] as u32);
    if tid <= 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    signal_thread(t, None, tid, sig)
}

fn signal_thread(t: &mut Task, tgid: Option<i32>, tid: i32, sig: u32) -> SysResult<u64> {
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
    if sig == 9 {
        crate::kernel::signal::send_to_process(
            &target.tg,
            Signal(sig),
            SigInfo::user(t.pid, t.kernel.config.uid, sig),
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
                ..SigInfo::user(t.pid, t.kernel.config.uid, sig)
            },
        );
    }
    target.kick();
    Ok(0)
}
