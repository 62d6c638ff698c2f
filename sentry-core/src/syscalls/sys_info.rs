//! System information, limits and randomness.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

pub(crate) fn sysinfo(t: &mut Task, a: &Args) -> SysResult<u64> {
    // The sandbox's memory, as /proc/meminfo reports it (not the host's).
    let (total_kb, free_kb) = t.kernel.memory_kb();
    let mut b = [0u8; 112];
    let up = t.kernel.boot.elapsed().as_secs();
    b[0..8].copy_from_slice(&up.to_le_bytes());
    // totalram, freeram, sharedram, bufferram, totalswap, freeswap.
    let fields = [total_kb * 1024, free_kb * 1024, 0, 0, 0, 0];
    for (i, v) in fields.iter().enumerate() {
        b[32 + i * 8..40 + i * 8].copy_from_slice(&v.to_le_bytes());
    }
    let procs = t.kernel.procs().tasks.len().min(u16::MAX as usize) as u16;
    b[80..82].copy_from_slice(&procs.to_le_bytes());
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    t.mm().copy_out(a[0], &b)?;
    Ok(0)
}

fn resource(r: u64) -> SysResult<usize> {
    if r < 16 {
        Ok(r as usize)
    } else {
        Err(Errno::EINVAL)
    }
}

pub(crate) fn getrlimit(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (cur, max) = t.rlimits[resource(a[0])?];
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&cur.to_le_bytes());
    b[8..].copy_from_slice(&max.to_le_bytes());
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn prlimit64(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 && a[0] as i32 != t.pid {
        return Err(Errno::ESRCH);
    }
    let r = resource(a[1])?;
    let old = t.rlimits[r];
    if a[2] != 0 {
        let mut b = [0u8; 16];
        t.mm().copy_in(a[2], &mut b)?;
        let cur = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let max = u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if cur > max {
            return Err(Errno::EINVAL);
        }
        if max > old.1 && !super::sys_priv::capable(t, 24) {
            // Raising a hard limit needs CAP_SYS_RESOURCE.
            return Err(Errno::EPERM);
        }
        if r == libc::RLIMIT_NOFILE as usize && max > crate::vfs::MAX_FDS as u64 {
            return Err(Errno::EPERM);
        }
        t.rlimits[r] = (cur, max);
        if r == libc::RLIMIT_NOFILE as usize {
            t.fds().set_limit(cur);
        }
        t.publish_info(None);
    }
    if a[3] != 0 {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&old.0.to_le_bytes());
        b[8..].copy_from_slice(&old.1.to_le_bytes());
        t.mm().copy_out(a[3], &b)?;
    }
    Ok(0)
}

/// setrlimit(resource, rlim): prlimit64 on the caller (the struct is read first: EFAULT
/// before a bad resource, as Linux).
pub(crate) fn setrlimit(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut b = [0u8; 16];
    t.mm().copy_in(a[1], &mut b)?;
    prlimit64(t, &Args([0, a[0] & 0xffff_ffff, a[1], 0, 0, 0]))
}

pub(crate) fn getrandom(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let len = (a[1] as usize).min(1 << 25);
    let mut buf = vec![0u8; len];
    crate::platform::getrandom(&mut buf);
    t.mm().copy_out(a[0], &buf)?;
    Ok(len as u64)
}

pub(crate) fn sched_setaffinity(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 && !t.kernel.procs().tasks.contains_key(&(a[0] as i32)) {
        return Err(Errno::ESRCH);
    }
    let mut b = [0u8; 8];
    let n = (a[1] as usize).min(8);
    t.mm().copy_in(a[2], &mut b[..n])?;
    if u64::from_le_bytes(b) == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// The processes getpriority/setpriority's (which, who) select.
fn prio_targets(
    t: &Task,
    which: u64,
    who: u64,
) -> SysResult<Vec<std::sync::Arc<crate::kernel::task::ThreadGroup>>> {
    let who = who as i32;
    let me = t.handle.tg.clone();
    let (my_pgid, my_uid) = (me.lock().pgid, t.creds().uid[0]);
    let procs = t.kernel.procs();
    let live = procs.tgs.values().filter(|tg| tg.lock().zombie.is_none());
    let v: Vec<_> = match which {
        0 if who == 0 => vec![me.clone()],
        0 => procs.tgs.get(&who).cloned().into_iter().collect(),
        1 => {
            let g = if who == 0 { my_pgid } else { who };
            live.filter(|tg| tg.lock().pgid == g).cloned().collect()
        }
        2 => {
            let u = if who == 0 { my_uid } else { who as u32 };
            live.filter(|tg| tg.creds.lock().unwrap_or_else(|p| p.into_inner()).uid[0] == u)
                .cloned()
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

pub(crate) fn getpriority(t: &mut Task, a: &Args) -> SysResult<u64> {
    let best = prio_targets(t, a[0], a[1])?
        .iter()
        .map(|tg| tg.lock().nice)
        .min()
        .unwrap_or(0);
    Ok((20 - best) as u64) // as the kernel encodes it: 20 - nice
}

pub(crate) fn setpriority(t: &mut Task, a: &Args) -> SysResult<u64> {
    let nice = (a[2] as i32).clamp(-20, 19);
    let targets = prio_targets(t, a[0], a[1])?;
    let privileged = t.creds().privileged();
    for tg in &targets {
        let mut st = tg.lock();
        if nice < st.nice && !privileged {
            return Err(Errno::EACCES);
        }
        st.nice = nice;
    }
    Ok(0)
}

pub(crate) fn personality(_t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0xffff_ffff && a[0] & 0xff != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub(crate) fn getcpu(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] != 0 {
        t.mm().copy_out(a[0], &0u32.to_le_bytes())?;
    }
    if a[1] != 0 {
        t.mm().copy_out(a[1], &0u32.to_le_bytes())?;
    }
    Ok(0)
}
