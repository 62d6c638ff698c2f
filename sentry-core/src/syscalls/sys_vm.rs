//! process_vm_readv and process_vm_writev: copies between the caller's memory and another
//! sandboxed process's, as Linux does between processes (never the host's).

use std::sync::{Arc, Mutex};

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::mm::MemoryManager;
use crate::platform::Access;

use super::Args;

/// Most bytes staged per step (the two address spaces are never locked together).
const CHUNK: usize = 1 << 16;

/// UIO_MAXIOV.
const MAX_IOV: u64 = 1024;

/// Reads `cnt` iovecs at `addr` in the caller's memory: (base, len) pairs; a negative
/// length is EINVAL, as Linux.
fn read_iovecs(t: &mut Task, addr: u64, cnt: u64) -> SysResult<Vec<(u64, u64)>> {
    if cnt > MAX_IOV {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    t.mm().copy_in(addr, &mut raw)?;
    let v: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            a.copy_from_slice(&c[..8]);
            b.copy_from_slice(&c[8..]);
            (u64::from_le_bytes(a), u64::from_le_bytes(b))
        })
        .collect();
    if v.iter().any(|&(_, len)| (len as i64) < 0) {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

/// The memory of process `pid`, if the caller may read and write it (ptrace's
/// PTRACE_MODE_ATTACH_REALCREDS: root, its own process, or every id of the target the
/// caller's real uid).
fn remote_mm(t: &Task, pid: i32) -> SysResult<Arc<Mutex<MemoryManager>>> {
    if pid == t.pid || pid == t.tid {
        return Ok(t.mm.clone());
    }
    let h = t
        .kernel
        .procs()
        .tasks
        .get(&pid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    if !h.tg.ptrace_access_by(&t.handle.tg, &t.creds()) {
        return Err(Errno::EPERM);
    }
    let mm = h
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .mm
        .upgrade();
    mm.ok_or(Errno::ESRCH)
}

/// Linux's limit on one transfer (INT_MAX rounded down to a page).
const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// Flattens `iov` into (address, length) pieces of at most [`CHUNK`] bytes, the whole
/// capped at [`MAX_RW_COUNT`] (so at most 32768 pieces, whatever lengths the program gave).
fn pieces(iov: &[(u64, u64)]) -> Vec<(u64, usize)> {
    let mut v = Vec::new();
    let mut total = 0u64;
    for &(base, len) in iov {
        let len = len.min(MAX_RW_COUNT - total);
        total += len;
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64);
            v.push((base.wrapping_add(done), n as usize));
            done += n;
        }
    }
    v
}

fn transfer(t: &mut Task, a: &Args, write: bool) -> SysResult<u64> {
    let (pid, flags) = (a.int(0), a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let local = read_iovecs(t, a[1], a[2])?;
    let remote = read_iovecs(t, a[3], a[4])?;
    let mm = remote_mm(t, pid)?;
    let local = pieces(&local);
    let remote = pieces(&remote);
    // Walk both lists together, moving min(local piece, remote piece) at a time.
    let (mut li, mut ri) = (0usize, 0usize);
    let (mut lo, mut ro) = (0usize, 0usize);
    let mut done = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while li < local.len() && ri < remote.len() {
        let (lb, ll) = local[li];
        let (rb, rl) = remote[ri];
        let n = (ll - lo).min(rl - ro);
        let (laddr, raddr) = (lb.wrapping_add(lo as u64), rb.wrapping_add(ro as u64));
        let chunk = &mut buf[..n];
        if write {
            // Local memory that cannot be read is EFAULT (when nothing moved yet); remote
            // memory that cannot be written ends the transfer.
            if let Err(e) = t.mm().copy_in(laddr, chunk) {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            let mut m = mm.lock().unwrap_or_else(|p| p.into_inner());
            let ok = m.accessible_len(raddr, n, Access::Write).unwrap_or(0);
            if ok > 0 && m.copy_out(raddr, &chunk[..ok]).is_err() {
                return if done == 0 {
                    Err(Errno::EFAULT)
                } else {
                    Ok(done)
                };
            }
            done += ok as u64;
            if ok < n {
                return if done == 0 {
                    Err(Errno::EFAULT)
                } else {
                    Ok(done)
                };
            }
        } else {
            let ok = {
                let mut m = mm.lock().unwrap_or_else(|p| p.into_inner());
                let ok = m.accessible_len(raddr, n, Access::Read).unwrap_or(0);
                if ok > 0 && m.copy_in(raddr, &mut chunk[..ok]).is_err() {
                    0
                } else {
                    ok
                }
            };
            if ok > 0 {
                if let Err(e) = t.mm().copy_out(laddr, &chunk[..ok]) {
                    return if done == 0 { Err(e) } else { Ok(done) };
                }
            }
            done += ok as u64;
            if ok < n {
                return if done == 0 {
                    Err(Errno::EFAULT)
                } else {
                    Ok(done)
                };
            }
        }
        lo += n;
        ro += n;
        if lo == ll {
            li += 1;
            lo = 0;
        }
        if ro == rl {
            ri += 1;
            ro = 0;
        }
    }
    Ok(done)
}

pub(crate) fn process_vm_readv(t: &mut Task, a: &Args) -> SysResult<u64> {
    transfer(t, a, false)
}

pub(crate) fn process_vm_writev(t: &mut Task, a: &Args) -> SysResult<u64> {
    transfer(t, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_stay_bounded_whatever_the_lengths() {
        let huge = (i64::MAX as u64, i64::MAX as u64);
        let v = pieces(&[(0x1000, huge.0), (0x2000, huge.1)]);
        assert_eq!(v.len(), (MAX_RW_COUNT as usize).div_ceil(CHUNK));
        assert_eq!(v.iter().map(|p| p.1 as u64).sum::<u64>(), MAX_RW_COUNT);
        assert_eq!(pieces(&[(0x1000, 10), (0x9000, 0)]), vec![(0x1000, 10)]);
    }
}
