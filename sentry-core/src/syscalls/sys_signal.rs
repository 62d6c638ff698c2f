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
    let old = t.signals.actions[i];
    if a[1] != 0 {
        if sig == 9 || sig == 19 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 32];
        t.mm.copy_in(a[1], &mut b)?;
        let mut act = SigAction::from_bytes(&b);
        act.mask &= !UNBLOCKABLE;
        t.signals.actions[i] = act;
    }
    if a[2] != 0 {
        t.mm.copy_out(a[2], &old.to_bytes())?;
    }
    Ok(0)
}

pub(crate) fn rt_sigprocmask(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.signals.blocked;
    if a[1] != 0 {
        let set = t.mm.read_u64(a[1])?;
        t.signals.blocked = match a[0] {
            0 => old | set,
            1 => old & !set,
            2 => set,
            _ => return Err(Errno::EINVAL),
        } & !UNBLOCKABLE;
    }
    if a[2] != 0 {
        t.mm.copy_out(a[2], &old.to_le_bytes())?;
    }
    Ok(0)
}

pub(crate) fn sigaltstack(t: &mut Task, a: &Args) -> SysResult<u64> {
    const SS_DISABLE: u32 = 2;
    if a[1] != 0 {
        // Not on an alternate stack: report it disabled.
        let mut b = [0u8; 24];
        b[8..12].copy_from_slice(&SS_DISABLE.to_le_bytes());
        t.mm.copy_out(a[1], &b)?;
    }
    if a[0] != 0 {
        let mut b = [0u8; 24];
        t.mm.copy_in(a[0], &mut b)?;
    }
    Ok(0)
}
