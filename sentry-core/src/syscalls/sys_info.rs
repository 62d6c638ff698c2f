//! System information, limits and randomness.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

use crate::abi::{MACHINE, RELEASE, SYSNAME, VERSION};

pub(crate) fn uname(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut b = [0u8; 65 * 6];
    let host = t
        .kernel
        .hostname
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let fields = [SYSNAME, host.as_str(), RELEASE, VERSION, MACHINE, "(none)"];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        b[i * 65..i * 65 + n].copy_from_slice(&f.as_bytes()[..n]);
    }
    t.mm().copy_out(a[0], &b)?;
    Ok(0)
}

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
        if max > old.1 && !t.creds().privileged() {
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

const TMPFS_MAGIC: u64 = 0x0102_1994;

fn statfs_bytes(ty: u64, mem: &crate::platform::MemoryFile) -> [u8; 120] {
    // struct statfs: f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files,
    // f_ffree, f_fsid (2×i32), f_namelen, f_frsize, f_flags, f_spare[4].
    let mut b = [0u8; 120];
    let (blocks, free) = if ty == TMPFS_MAGIC {
        // tmpfs data lives in the memory file: its size and free pages.
        let total = mem.size() / 4096;
        (total, total.saturating_sub(mem.pages_in_use()))
    } else {
        (1 << 24, 1 << 23)
    };
    let vals: [u64; 7] = [ty, 4096, blocks, free, free, 1 << 20, 1 << 19];
    for (i, v) in vals.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b[64..72].copy_from_slice(&255u64.to_le_bytes());
    b[72..80].copy_from_slice(&4096u64.to_le_bytes());
    b
}

pub(crate) fn statfs(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.read_path(a[0])?;
    let cwd = t.cwd();
    let ty = t.root().fs_type(&crate::vfs::Start::cwd(t, &cwd), &path)?;
    let b = statfs_bytes(ty, t.mm().memory());
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn fstatfs(t: &mut Task, a: &Args) -> SysResult<u64> {
    let f = t.fds().file(a[0] as i64)?;
    let ty = match f.path() {
        Some(p) => t
            .kernel
            .fs
            .fs_type(&crate::vfs::Start::cwd(t, "/"), p.as_bytes())
            .unwrap_or(TMPFS_MAGIC),
        None => 0x5049_5045, // pipefs
    };
    let b = statfs_bytes(ty, t.mm().memory());
    t.mm().copy_out(a[1], &b)?;
    Ok(0)
}

pub(crate) fn fadvise64(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.fds().file(a[0] as i64)?;
    if a[3] > 5 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub(crate) fn no_sockets(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Err(Errno::EAFNOSUPPORT)
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

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// Reads a capget/capset header: (version, pid).
fn cap_header(t: &mut Task, addr: u64) -> SysResult<(u32, i32)> {
    let mut hdr = [0u8; 8];
    t.mm().copy_in(addr, &mut hdr)?;
    let version = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    if ![CAP_V1, CAP_V2, CAP_V3].contains(&version) {
        // The kernel answers with the version it prefers.
        t.mm().copy_out(addr, &CAP_V3.to_le_bytes())?;
        return Err(Errno::EINVAL);
    }
    let pid = i32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((version, pid))
}

pub(crate) fn capget(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (version, pid) = cap_header(t, a[0])?;
    let caps = if pid == 0 || pid == t.pid {
        t.creds().caps
    } else {
        let tg = t
            .kernel
            .procs()
            .tgs
            .get(&pid)
            .cloned()
            .ok_or(Errno::ESRCH)?;
        let c = tg.creds.lock().unwrap_or_else(|p| p.into_inner()).caps;
        c
    };
    if a[1] != 0 {
        // Two 32-bit halves of (effective, permitted, inheritable).
        let mut b = [0u8; 24];
        for i in 0..2 {
            let half = |v: u64| ((v >> (32 * i)) & 0xffff_ffff) as u32;
            b[i * 12..i * 12 + 4].copy_from_slice(&half(caps.effective).to_le_bytes());
            b[i * 12 + 4..i * 12 + 8].copy_from_slice(&half(caps.permitted).to_le_bytes());
            b[i * 12 + 8..i * 12 + 12].copy_from_slice(&half(caps.inheritable).to_le_bytes());
        }
        // Version 1 has one 32-bit set, later versions two.
        let n = if version == CAP_V1 { 12 } else { 24 };
        t.mm().copy_out(a[1], &b[..n])?;
    }
    Ok(0)
}

/// capset: only the caller's own sets; permitted can only shrink,
/// effective must stay within permitted, inheritable within the bounding
/// set and the old inheritable and permitted sets.
pub(crate) fn capset(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (version, pid) = cap_header(t, a[0])?;
    if pid != 0 && pid != t.pid {
        return Err(Errno::EPERM);
    }
    let n = if version == CAP_V1 { 12 } else { 24 };
    let mut b = [0u8; 24];
    t.mm().copy_in(a[1], &mut b[..n])?;
    let word = |off: usize| -> u64 {
        let lo = u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as u64;
        let hi = if n == 24 {
            u32::from_le_bytes([b[off + 12], b[off + 13], b[off + 14], b[off + 15]]) as u64
        } else {
            0
        };
        lo | (hi << 32)
    };
    let (eff, perm, inh) = (word(0), word(4), word(8));
    let tg = t.handle.tg.clone();
    let mut creds = tg.creds.lock().unwrap_or_else(|p| p.into_inner());
    let old = creds.caps;
    if perm & !old.permitted != 0
        || eff & !perm != 0
        || inh & !(old.inheritable | old.permitted) != 0
        || inh & !(old.inheritable | old.bounding) != 0
    {
        return Err(Errno::EPERM);
    }
    creds.caps.effective = eff;
    creds.caps.permitted = perm;
    creds.caps.inheritable = inh;
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

pub(crate) fn sethostname(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    if !t.creds().privileged() {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; a[1] as usize];
    t.mm().copy_in(a[0], &mut b)?;
    *t.kernel.hostname.lock().unwrap_or_else(|p| p.into_inner()) =
        String::from_utf8_lossy(&b).into_owned();
    Ok(0)
}
