//! Credentials: user and group ids (get/set, real, effective, saved,
//! file-system), supplementary groups and capabilities.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

pub(crate) fn getuid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.creds().uid[0] as u64)
}

pub(crate) fn geteuid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.creds().uid[1] as u64)
}

pub(crate) fn getgid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.creds().gid[0] as u64)
}

pub(crate) fn getegid(t: &mut Task, _: &Args) -> SysResult<u64> {
    Ok(t.creds().gid[1] as u64)
}

fn three(t: &mut Task, a: &Args, v: [u32; 4]) -> SysResult<u64> {
    for (i, &p) in a[..3].iter().enumerate() {
        t.mm().copy_out(p, &v[i].to_le_bytes())?;
    }
    Ok(0)
}

pub(crate) fn getresuid(t: &mut Task, a: &Args) -> SysResult<u64> {
    let v = t.creds().uid;
    three(t, a, v)
}

pub(crate) fn getresgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    let v = t.creds().gid;
    three(t, a, v)
}

pub(crate) fn getgroups(t: &mut Task, a: &Args) -> SysResult<u64> {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let g = t.creds().groups;
    if size == 0 {
        return Ok(g.len() as u64);
    }
    if (size as usize) < g.len() {
        return Err(Errno::EINVAL);
    }
    let b: Vec<u8> = g.iter().flat_map(|x| x.to_le_bytes()).collect();
    t.mm().copy_out(a[1], &b)?;
    Ok(g.len() as u64)
}

pub(crate) fn setgroups(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] > 65536 {
        return Err(Errno::EINVAL);
    }
    if !t.creds().privileged() {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; a[0] as usize * 4];
    t.mm().copy_in(a[1], &mut b)?;
    let g = b
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    t.handle
        .tg
        .creds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .groups = g;
    Ok(0)
}

/// setres[ug]id semantics: -1 keeps a value; unprivileged callers may only
/// use values they already hold as real, effective or saved id. The
/// file-system id follows the effective one.
fn set_ids(t: &mut Task, group: bool, r: u64, e: u64, s: u64) -> SysResult<u64> {
    let tg = t.handle.tg.clone();
    let mut c = tg.creds.lock().unwrap_or_else(|p| p.into_inner());
    let privileged = c.privileged();
    let ids = if group { &mut c.gid } else { &mut c.uid };
    let cur = *ids;
    let want = [r, e, s].map(|v| {
        if v as u32 == u32::MAX {
            None
        } else {
            Some(v as u32)
        }
    });
    if !privileged {
        for v in want.iter().flatten() {
            if !cur[..3].contains(v) {
                return Err(Errno::EPERM);
            }
        }
    }
    for (i, v) in want.iter().enumerate() {
        if let Some(v) = v {
            ids[i] = *v;
        }
    }
    ids[3] = ids[1];
    Ok(0)
}

pub(crate) fn setresuid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_ids(t, false, a[0], a[1], a[2])
}

pub(crate) fn setresgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_ids(t, true, a[0], a[1], a[2])
}

fn set_re(t: &mut Task, group: bool, r: u64, e: u64) -> SysResult<u64> {
    // The saved id follows the new effective id when the real id is set or
    // the effective one changes to something other than the real id.
    let c = t.creds();
    let real = if group { c.gid[0] } else { c.uid[0] };
    let s = if r as u32 != u32::MAX || (e as u32 != u32::MAX && e as u32 != real) {
        e
    } else {
        u32::MAX as u64
    };
    set_ids(t, group, r, e, s)
}

pub(crate) fn setreuid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_re(t, false, a[0], a[1])
}

pub(crate) fn setregid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_re(t, true, a[0], a[1])
}

fn set_one(t: &mut Task, group: bool, v: u64) -> SysResult<u64> {
    if v as u32 == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let keep = u32::MAX as u64;
    if t.creds().privileged() {
        set_ids(t, group, v, v, v)
    } else {
        set_ids(t, group, keep, v, keep)
    }
}

pub(crate) fn setuid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_one(t, false, a[0])
}

pub(crate) fn setgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_one(t, true, a[0])
}

fn set_fs_id(t: &mut Task, group: bool, v: u64) -> SysResult<u64> {
    let tg = t.handle.tg.clone();
    let mut c = tg.creds.lock().unwrap_or_else(|p| p.into_inner());
    let privileged = c.privileged();
    let ids = if group { &mut c.gid } else { &mut c.uid };
    let old = ids[3];
    let v = v as u32;
    if v != u32::MAX && (privileged || ids.contains(&v)) {
        ids[3] = v;
    }
    Ok(old as u64)
}

pub(crate) fn setfsuid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_fs_id(t, false, a[0])
}

pub(crate) fn setfsgid(t: &mut Task, a: &Args) -> SysResult<u64> {
    set_fs_id(t, true, a[0])
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
