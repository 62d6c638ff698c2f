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
    Ok(0)
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
            t.no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => Ok(t.no_new_privs as u64),
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
