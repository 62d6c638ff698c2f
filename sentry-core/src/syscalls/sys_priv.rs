//! Calls a container's process is refused, answered as Linux answers a process without the
//! capability they need (after Linux's own argument checks), and calls Linux itself no longer
//! serves. The sandbox refuses the privileged ones even with the capability: there are no
//! swap devices, kernel modules, I/O ports, process accounting or kexec in it (as gVisor).

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_PACCT: u32 = 20;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_BOOT: u32 = 22;
const CAP_SYS_TTY_CONFIG: u32 = 26;

/// Whether the caller's effective set holds `cap`.
pub(crate) fn capable(t: &Task, cap: u32) -> bool {
    crate::vfs::TaskContext::capable(t, cap)
}

/// EPERM: without `_cap` as Linux; with it too, because the sandbox has no such device or
/// facility (documented in the table).
fn refuse(_t: &Task, _cap: u32) -> SysResult<u64> {
    Err(Errno::EPERM)
}

/// The calls Linux removed (create_module, nfsservctl, _sysctl, ...): ENOSYS, as Linux.
pub(crate) fn removed(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Err(Errno::ENOSYS)
}

pub(crate) fn swapon(t: &mut Task, a: &Args) -> SysResult<u64> {
    // SWAP_FLAG_PRIO_MASK | PREFER | DISCARD | DISCARD_ONCE | DISCARD_PAGES.
    if a.int(1) & !0x7ffff != 0 {
        return Err(Errno::EINVAL);
    }
    refuse(t, CAP_SYS_ADMIN)
}

pub(crate) fn swapoff(t: &mut Task, _a: &Args) -> SysResult<u64> {
    refuse(t, CAP_SYS_ADMIN)
}

pub(crate) fn acct(t: &mut Task, _a: &Args) -> SysResult<u64> {
    refuse(t, CAP_SYS_PACCT)
}

pub(crate) fn vhangup(t: &mut Task, _a: &Args) -> SysResult<u64> {
    refuse(t, CAP_SYS_TTY_CONFIG)
}

/// reboot: the capability is checked before the magic numbers, as Linux.
pub(crate) fn reboot(t: &mut Task, a: &Args) -> SysResult<u64> {
    if !capable(t, CAP_SYS_BOOT) {
        return Err(Errno::EPERM);
    }
    const MAGIC1: u32 = 0xfee1_dead;
    const MAGIC2: [u32; 4] = [672274793, 85072278, 369367448, 537993216];
    if a.uint(0) != MAGIC1 || !MAGIC2.contains(&a.uint(1)) {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

/// iopl: level 0 (where every process is) is accepted; more needs CAP_SYS_RAWIO and I/O
/// ports the sandbox does not give.
pub(crate) fn iopl(t: &mut Task, a: &Args) -> SysResult<u64> {
    match a.uint(0) {
        0 => Ok(0),
        1..=3 => refuse(t, CAP_SYS_RAWIO),
        _ => Err(Errno::EINVAL),
    }
}

/// ioperm: ranges past the 65536 ports are EINVAL; turning access off is accepted.
pub(crate) fn ioperm(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (from, num) = (a[0], a[1]);
    match from.checked_add(num) {
        Some(end) if end > from && end <= 65536 => {}
        _ => return Err(Errno::EINVAL),
    }
    if a.int(2) == 0 {
        return Ok(0);
    }
    refuse(t, CAP_SYS_RAWIO)
}

/// init_module, finit_module, delete_module: no kernel modules.
pub(crate) fn modules(t: &mut Task, _a: &Args) -> SysResult<u64> {
    refuse(t, CAP_SYS_MODULE)
}

/// kexec_load, kexec_file_load.
pub(crate) fn kexec(t: &mut Task, _a: &Args) -> SysResult<u64> {
    refuse(t, CAP_SYS_BOOT)
}

/// restart_syscall with nothing to restart (the sentry restarts interrupted calls itself).
pub(crate) fn restart_syscall(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Err(Errno::EINTR)
}

/// PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE.
const PKEY_ACCESS_MASK: u32 = 3;

/// pkey_alloc: the sandbox offers no protection keys beyond the default key 0.
pub(crate) fn pkey_alloc(_t: &mut Task, a: &Args) -> SysResult<u64> {
    if a.uint(0) != 0 || a.uint(1) & !PKEY_ACCESS_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ENOSPC)
}

/// pkey_free: only allocated keys can be freed; none are.
pub(crate) fn pkey_free(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Err(Errno::EINVAL)
}

/// pkey_mprotect: with key -1 or the default key 0 it is mprotect; other keys were never
/// allocated (EINVAL).
pub(crate) fn pkey_mprotect(t: &mut Task, a: &Args) -> SysResult<u64> {
    match a.int(3) {
        -1 | 0 => super::sys_mmap::mprotect(t, a),
        _ => Err(Errno::EINVAL),
    }
}
