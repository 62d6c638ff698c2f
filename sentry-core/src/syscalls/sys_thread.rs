//! Thread and process identity (pids, process groups, sessions), exit and
//! per-thread settings.

use crate::errno::{Errno, SysResult};
use crate::kernel::{ExitStatus, Task};
use crate::mm::USER_END;

use super::Args;

pub(crate) fn exit(t: &mut Task, a: &Args) -> SysResult<u64> {
    // Ends only this thread; the process ends with its last thread.
    t.exit = Some(ExitStatus::Exited((a[0] & 0xff) as i32));
    Ok(0)
}

pub(crate) fn exit_group(t: &mut Task, a: &Args) -> SysResult<u64> {
    crate::kernel::process::exit_group(t, a[0] as i32);
    Ok(0)
}

pub(crate) fn getpid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.pid as u64)
}

pub(crate) fn gettid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.tid as u64)
}

pub(crate) fn getppid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.handle.tg.lock().ppid as u64)
}

fn target_tg(t: &Task, pid: u64) -> SysResult<std::sync::Arc<crate::kernel::ThreadGroup>> {
    if pid == 0 || pid as i32 == t.pid {
        return Ok(t.handle.tg.clone());
    }
    t.kernel
        .procs()
        .tgs
        .get(&(pid as i32))
        .cloned()
        .ok_or(Errno::ESRCH)
}

pub(crate) fn getpgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    Ok(target_tg(t, a[0])?.lock().pgid as u64)
}

pub(crate) fn getpgrp(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.handle.tg.lock().pgid as u64)
}

pub(crate) fn getsid(t: &mut Task, a: &Args) -> SysResult<u64> {
    Ok(target_tg(t, a[0])?.lock().sid as u64)
}

pub(crate) fn setpgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    let target = target_tg(t, a[0])?;
    let pgid = if a[1] == 0 { target.pid } else { a[1] as i32 };
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let my_sid = t.handle.tg.lock().sid;
    if target.pid != t.pid && target.lock().ppid != t.pid {
        return Err(Errno::ESRCH);
    }
    let mut st = target.lock();
    if st.sid != my_sid || st.sid == target.pid {
        return Err(Errno::EPERM);
    }
    if pgid != target.pid {
        // The group must exist in the same session.
        drop(st);
        let ok = t.kernel.procs().tgs.values().any(|g| {
            g.pid != target.pid && {
                let s = g.lock();
                s.pgid == pgid && s.sid == my_sid
            }
        });
        if !ok {
            return Err(Errno::EPERM);
        }
        st = target.lock();
    }
    st.pgid = pgid;
    Ok(0)
}

pub(crate) fn setsid(t: &mut Task, _: &Args) -> SysResult<u64> {
    let pid = t.pid;
    let leader = t
        .kernel
        .procs()
        .tgs
        .values()
        .any(|g| g.pid != pid && g.lock().pgid == pid);
    let mut st = t.handle.tg.lock();
    if st.pgid == pid || leader {
        return Err(Errno::EPERM);
    }
    st.pgid = pid;
    st.sid = pid;
    Ok(pid as u64)
}

pub(crate) fn sched_yield(_t: &mut Task, _: &Args) -> SysResult<u64> {
    std::thread::yield_now();
    Ok(0)
}

pub(crate) fn set_tid_address(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.clear_child_tid = a[0];
    Ok(t.tid as u64)
}

pub(crate) fn set_robust_list(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = a[0];
    t.handle
        .robust_list
        .store(a[0], std::sync::atomic::Ordering::Relaxed);
    Ok(0)
}

/// get_robust_list(pid, head_ptr, len_ptr): the head a thread registered (0:
/// the caller) and the size of `struct robust_list_head`.
pub(crate) fn get_robust_list(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pid = a.int(0);
    let head = if pid == 0 || pid == t.tid {
        t.robust_list
    } else {
        let h = t
            .kernel
            .procs()
            .tasks
            .get(&pid)
            .cloned()
            .ok_or(Errno::ESRCH)?;
        // Reading another process's list needs ptrace access: root or the same user.
        if !h.tg.ptrace_access_by(&t.handle.tg, &t.creds()) {
            return Err(Errno::EPERM);
        }
        h.robust_list.load(std::sync::atomic::Ordering::Relaxed)
    };
    t.mm().copy_out(a[2], &24u64.to_le_bytes())?;
    t.mm().copy_out(a[1], &head.to_le_bytes())?;
    Ok(0)
}

// membarrier(2) commands.
const MEMBARRIER_CMD_QUERY: u32 = 0;
const MEMBARRIER_CMD_GLOBAL: u32 = 1 << 0;
const MEMBARRIER_CMD_GLOBAL_EXPEDITED: u32 = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: u32 = 1 << 2;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u32 = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u32 = 1 << 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 6;
const MEMBARRIER_CMD_GET_REGISTRATIONS: u32 = 1 << 9;

/// The commands served (restartable-sequence ones are not: there is no rseq).
const MEMBARRIER_SUPPORTED: u32 = MEMBARRIER_CMD_GLOBAL
    | MEMBARRIER_CMD_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_GET_REGISTRATIONS;

/// membarrier(cmd, flags, cpu_id). A barrier makes every other thread concerned that is
/// running app code leave it (a VM exit serializes the CPU, which is what both the memory
/// barrier and SYNC_CORE ask for) and waits until it has; threads in the sentry pass its
/// locks, which are barriers. Registrations belong to the process and end at exec.
pub(crate) fn membarrier(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (cmd, flags) = (a.uint(0), a.uint(1));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = t.handle.tg.clone();
    let registered = |bit: u32| tg.lock().membarrier & bit != 0;
    match cmd {
        MEMBARRIER_CMD_QUERY => Ok(MEMBARRIER_SUPPORTED as u64),
        MEMBARRIER_CMD_GLOBAL => {
            barrier(t, true, |_| true);
            Ok(0)
        }
        MEMBARRIER_CMD_GLOBAL_EXPEDITED => {
            barrier(t, true, |tg| {
                tg.lock().membarrier & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED != 0
            });
            Ok(0)
        }
        MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE => {
            if !registered(cmd << 1) {
                return Err(Errno::EPERM);
            }
            barrier(t, false, |_| true);
            Ok(0)
        }
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => {
            tg.lock().membarrier |= cmd;
            Ok(0)
        }
        MEMBARRIER_CMD_GET_REGISTRATIONS => Ok(tg.lock().membarrier as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// Makes the other threads of the caller's process (or, `global`, of every process `pick`
/// selects) that are in app code leave it, and waits until each has (it is out, or has
/// entered again since).
fn barrier(t: &Task, global: bool, pick: impl Fn(&crate::kernel::task::ThreadGroup) -> bool) {
    use std::sync::atomic::Ordering;
    let threads: Vec<_> = if global {
        let tgs: Vec<_> = t.kernel.procs().tgs.values().cloned().collect();
        tgs.iter()
            .filter(|tg| pick(tg))
            .flat_map(|tg| tg.lock().threads.clone())
            .collect()
    } else {
        t.handle.tg.lock().threads.clone()
    };
    let running: Vec<_> = threads
        .into_iter()
        .filter(|h| h.tid != t.tid)
        .filter_map(|h| {
            let entries = h.guest_entries.load(Ordering::SeqCst);
            h.in_guest.load(Ordering::SeqCst).then_some((h, entries))
        })
        .collect();
    for (h, _) in &running {
        h.interrupt_guest();
    }
    for (h, entries) in running {
        let mut spins = 0u32;
        while h.in_guest.load(Ordering::SeqCst)
            && h.guest_entries.load(Ordering::SeqCst) == entries
            && !h.killed.load(Ordering::SeqCst)
        {
            spins += 1;
            if spins.is_multiple_of(1024) {
                // A kick that landed before the thread reached app code is consumed there;
                // kick again until it is seen out.
                h.interrupt_guest();
            }
            std::thread::yield_now();
        }
    }
}

pub(crate) fn rseq(_t: &mut Task, _: &Args) -> SysResult<u64> {
    Err(Errno::ENOSYS)
}

pub(crate) fn arch_prctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    const SET_GS: u64 = 0x1001;
    const SET_FS: u64 = 0x1002;
    const GET_FS: u64 = 0x1003;
    const GET_GS: u64 = 0x1004;
    match a[0] {
        SET_FS | SET_GS => {
            if a[1] >= USER_END {
                return Err(Errno::EPERM);
            }
            if a[0] == SET_FS {
                t.regs.fs_base = a[1];
            } else {
                t.regs.gs_base = a[1];
            }
            Ok(0)
        }
        GET_FS | GET_GS => {
            let v = if a[0] == GET_FS {
                t.regs.fs_base
            } else {
                t.regs.gs_base
            };
            t.mm().copy_out(a[1], &v.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn prctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    match a[0] as i32 {
        libc::PR_SET_NAME => {
            let mut b = [0u8; 16];
            let s = t.mm().read_cstring(a[1], 4096)?;
            let n = s.len().min(15);
            b[..n].copy_from_slice(&s[..n]);
            t.comm = b;
            // /proc/PID/comm, stat and status show it at once.
            t.publish_info(None);
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let c = t.comm;
            t.mm().copy_out(a[1], &c)?;
            Ok(0)
        }
        libc::PR_GET_DUMPABLE => Ok(t.dumpable as u64),
        libc::PR_SET_DUMPABLE => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            t.dumpable = a[1] == 1;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG => {
            if a[1] > u64::from(crate::abi::NSIG) {
                return Err(Errno::EINVAL);
            }
            t.handle.tg.lock().pdeath_signal = a[1] as u32;
            Ok(0)
        }
        libc::PR_GET_PDEATHSIG => {
            let s = t.handle.tg.lock().pdeath_signal as i32;
            t.mm().copy_out(a[1], &s.to_le_bytes())?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if a[1] != 1 {
                return Err(Errno::EINVAL);
            }
            t.handle
                .no_new_privs
                .store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            Ok(t.handle
                .no_new_privs
                .load(std::sync::atomic::Ordering::SeqCst) as u64)
        }
        libc::PR_GET_SECCOMP => super::sys_seccomp::prctl_get(t),
        libc::PR_SET_SECCOMP => super::sys_seccomp::prctl_set(t, a[1], a[2]),
        libc::PR_CAPBSET_READ => {
            if a[1] > 40 {
                return Err(Errno::EINVAL);
            }
            Ok(1)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn sched_getaffinity(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 && a[0] as i32 != t.tid {
        return Err(Errno::ESRCH);
    }
    let len = a[1] as usize;
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let cpus = t.kernel.config.cpus.clamp(1, 64);
    let mask: u64 = if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    };
    t.mm().copy_out(a[2], &mask.to_le_bytes())?;
    Ok(8)
}

pub(crate) fn futex(t: &mut Task, a: &Args) -> SysResult<u64> {
    crate::kernel::futex::futex(t, a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32)
}
