//! System V semaphores: semget, semop/semtimedop, semctl, and SEM_UNDO
//! (each process's adjustments, applied when it exits).
//!
//! A blocked semop waits on its set's queue and retries its whole array
//! (atomically, under the namespace's lock) at every change of the set; a
//! signal ends the wait with EINTR (semop is never restarted), removal with
//! EIDRM.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::{now, Ids, IpcObject, Perm, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::waiter::WaitQueue;

/// Semaphores per set.
pub const SEMMSL: usize = 32000;
/// Semaphores in all sets.
pub const SEMMNS: u64 = 1_024_000_000;
/// Operations per semop.
pub const SEMOPM: usize = 500;
/// Sets.
pub const SEMMNI: usize = 32000;
/// Semaphores the sentry holds at most (16 Mi: 128 MiB).
const SEM_HEAP_MAX: u64 = 16 << 20;
/// Largest semaphore value.
pub const SEMVMX: i32 = 32767;
/// Largest undo adjustment.
const SEMAEM: i32 = SEMVMX;
const SEMUME: i32 = SEMOPM as i32;
const SEMUSZ: i32 = 20;

const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;
const SEM_UNDO: i16 = 0x1000;

#[derive(Clone, Copy, Debug, Default)]
struct Sem {
    val: i32,
    pid: i32,
}

/// A semaphore set.
#[derive(Debug)]
pub struct SemSet {
    perm: Perm,
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    serial: u64,
    wq: Arc<WaitQueue>,
    /// Blocked semops: (waiter, semaphore it waits on, waits for zero).
    waiting: Vec<(u64, usize, bool)>,
}

impl IpcObject for SemSet {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl SemSet {
    fn ds(&self) -> [u8; 104] {
        let mut b = [0u8; 104];
        b[..48].copy_from_slice(&self.perm.to_bytes());
        b[48..56].copy_from_slice(&self.otime.to_le_bytes());
        b[64..72].copy_from_slice(&self.ctime.to_le_bytes());
        b[80..88].copy_from_slice(&(self.sems.len() as u64).to_le_bytes());
        b
    }
}

/// A process's SEM_UNDO adjustments for one set.
#[derive(Debug)]
struct Undo {
    id: i32,
    serial: u64,
    adj: Vec<i32>,
}

/// The namespace's semaphore sets and undo lists.
#[derive(Debug, Default)]
pub struct SemNs {
    sets: Ids<SemSet>,
    /// pid → adjustments.
    undo: HashMap<i32, Vec<Undo>>,
    used_sems: u64,
    next_token: u64,
}

/// One `struct sembuf`.
#[derive(Clone, Copy, Debug)]
struct SemBuf {
    num: u16,
    op: i16,
    flg: i16,
}

enum Outcome {
    Done,
    /// Would block on (semaphore, waiting for zero).
    Block(usize, bool),
}

/// Tries `sops` atomically on `set`; `adj` is the caller's undo vector
/// when some operation has SEM_UNDO.
fn try_ops(
    set: &mut SemSet,
    sops: &[SemBuf],
    adj: Option<&mut Vec<i32>>,
    pid: i32,
) -> SysResult<Outcome> {
    let mut vals: Vec<i32> = set.sems.iter().map(|s| s.val).collect();
    let mut newadj: Option<Vec<i32>> = adj.as_ref().map(|a| a.to_vec());
    for s in sops {
        let n = usize::from(s.num);
        let op = i32::from(s.op);
        let cur = vals[n];
        let blocked = (op == 0 && cur != 0) || cur + op < 0;
        if blocked {
            if s.flg & IPC_NOWAIT as i16 != 0 {
                return Err(Errno::EAGAIN);
            }
            return Ok(Outcome::Block(n, op == 0));
        }
        let r = cur + op;
        if r > SEMVMX {
            return Err(Errno::ERANGE);
        }
        if s.flg & SEM_UNDO != 0 {
            if let Some(a) = newadj.as_mut() {
                let u = a[n] - op;
                if !(-SEMAEM - 1..=SEMAEM).contains(&u) {
                    return Err(Errno::ERANGE);
                }
                a[n] = u;
            }
        }
        vals[n] = r;
    }
    for (s, v) in set.sems.iter_mut().zip(vals) {
        s.val = v;
    }
    for s in sops {
        set.sems[usize::from(s.num)].pid = pid;
    }
    if let (Some(a), Some(n)) = (adj, newadj) {
        *a = n;
    }
    set.otime = now();
    set.wq.notify_all();
    Ok(Outcome::Done)
}

/// semget(2).
pub fn semget(t: &Task, key: i32, nsems: i32, flags: i32) -> SysResult<u64> {
    if nsems < 0 || nsems as usize > SEMMSL {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    let mut ns = ipc.sem();
    let found = super::lookup_key(&ns.sets, key, flags, &creds, |s: &SemSet| {
        if nsems as usize > s.sems.len() {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    })?;
    if let Some(id) = found {
        return Ok(id as u64);
    }
    if nsems == 0 {
        return Err(Errno::EINVAL);
    }
    if ns.used_sems + nsems as u64 > SEMMNS {
        return Err(Errno::ENOSPC);
    }
    // The sentry's own bound on the memory semaphores take (Linux's
    // SEMMNS would allow gigabytes): ENOMEM, as a failed allocation.
    if ns.used_sems + nsems as u64 > SEM_HEAP_MAX {
        return Err(Errno::ENOMEM);
    }
    let serial = ns.sets.next_serial();
    let set = SemSet {
        perm: Perm::new(key, flags, &creds),
        sems: vec![Sem::default(); nsems as usize],
        otime: 0,
        ctime: now(),
        serial,
        wq: Arc::new(WaitQueue::default()),
        waiting: Vec::new(),
    };
    let id = ns.sets.add(set, SEMMNI)?;
    ns.used_sems += nsems as u64;
    Ok(id as u64)
}

/// Reads a `struct timespec` (EFAULT for a bad pointer): (seconds,
/// nanoseconds).
fn read_timespec(t: &Task, addr: u64) -> SysResult<(i64, i64)> {
    let mut b = [0u8; 16];
    t.mm().copy_in(addr, &mut b)?;
    let s = i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let ns = i64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    Ok((s, ns))
}

/// The deadline of a relative timeout (EINVAL for a bad one).
fn deadline_of(ts: Option<(i64, i64)>) -> SysResult<Option<Instant>> {
    let Some((s, ns)) = ts else {
        return Ok(None);
    };
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    let d = std::time::Duration::new(s as u64, ns as u32);
    // A deadline past what Instant holds: no deadline.
    Ok(Instant::now().checked_add(d))
}

/// semop(2) and semtimedop(2).
pub fn semtimedop(t: &mut Task, id: i32, sops: u64, nsops: u32, timeout: u64) -> SysResult<u64> {
    // Linux's order: the timeout is read first, checked after the array.
    let ts = if timeout != 0 {
        Some(read_timespec(t, timeout)?)
    } else {
        None
    };
    if nsops < 1 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if nsops as usize > SEMOPM {
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; nsops as usize * 6];
    t.mm().copy_in(sops, &mut raw)?;
    let sops: Vec<SemBuf> = raw
        .chunks_exact(6)
        .map(|c| SemBuf {
            num: u16::from_le_bytes([c[0], c[1]]),
            op: i16::from_le_bytes([c[2], c[3]]),
            flg: i16::from_le_bytes([c[4], c[5]]),
        })
        .collect();
    let deadline = deadline_of(ts)?;
    let undo = sops.iter().any(|s| s.flg & SEM_UNDO != 0);
    let alter = sops.iter().any(|s| s.op != 0);
    let max = sops.iter().map(|s| usize::from(s.num)).max().unwrap_or(0);
    let creds = t.creds();
    let pid = t.pid;
    let ipc = t.kernel.ipc.clone();
    let (serial, wq, token) = {
        let mut g = ipc.sem();
        let ns = &mut *g;
        let set = ns.sets.get(id)?;
        if max >= set.sems.len() {
            return Err(Errno::EFBIG);
        }
        set.perm.check(&creds, if alter { 0o222 } else { 0o444 })?;
        let serial = set.serial;
        let nsems = set.sems.len();
        if undo {
            let list = ns.undo.entry(pid).or_default();
            list.retain(|u| ns.sets.get(u.id).is_ok_and(|s| s.serial == u.serial));
            if !list.iter().any(|u| u.id == id && u.serial == serial) {
                list.push(Undo {
                    id,
                    serial,
                    adj: vec![0; nsems],
                });
            }
        }
        ns.next_token += 1;
        (serial, ns.sets.get(id)?.wq.clone(), ns.next_token)
    };
    let attempt = || -> Option<SysResult<u64>> {
        let mut g = ipc.sem();
        let ns = &mut *g;
        let set = match ns.sets.get_mut(id) {
            Ok(s) if s.serial == serial => s,
            _ => return Some(Err(Errno::EIDRM)),
        };
        set.waiting.retain(|w| w.0 != token);
        let adj = if undo {
            ns.undo
                .get_mut(&pid)
                .and_then(|l| l.iter_mut().find(|u| u.id == id && u.serial == serial))
                .map(|u| &mut u.adj)
        } else {
            None
        };
        match try_ops(set, &sops, adj, pid) {
            Ok(Outcome::Done) => Some(Ok(0)),
            Ok(Outcome::Block(n, zero)) => {
                set.waiting.push((token, n, zero));
                None
            }
            Err(e) => Some(Err(e)),
        }
    };
    let r = crate::waiter::block_until(&*t.handle, &[&wq], deadline, Errno::EAGAIN, attempt);
    if let Ok(s) = ipc.sem().sets.get_mut(id) {
        s.waiting.retain(|w| w.0 != token);
    }
    r.map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::EINTR
        } else {
            e
        }
    })
}

/// Applies and drops the SEM_UNDO adjustments of process `pid` (at its exit).
pub fn exit_undo(ns: &mut SemNs, pid: i32) {
    let Some(list) = ns.undo.remove(&pid) else {
        return;
    };
    for u in list {
        let Ok(set) = ns.sets.get_mut(u.id) else {
            continue;
        };
        if set.serial != u.serial {
            continue;
        }
        for (s, &a) in set.sems.iter_mut().zip(&u.adj) {
            if a != 0 {
                s.val = (s.val + a).clamp(0, SEMVMX);
                s.pid = pid;
            }
        }
        set.wq.notify_all();
    }
}

/// Clears the undo adjustments of semaphore `num` (all when None) of set
/// `id` in every process (SETVAL, SETALL).
fn clear_undo(ns: &mut SemNs, id: i32, serial: u64, num: Option<usize>) {
    for list in ns.undo.values_mut() {
        for u in list.iter_mut().filter(|u| u.id == id && u.serial == serial) {
            match num {
                Some(n) => {
                    if let Some(a) = u.adj.get_mut(n) {
                        *a = 0;
                    }
                }
                None => u.adj.iter_mut().for_each(|a| *a = 0),
            }
        }
    }
}

fn info_bytes(ns: &SemNs, cmd: i32) -> [u8; 40] {
    let (usz, aem) = if cmd == SEM_INFO {
        (ns.sets.in_use() as i32, ns.used_sems as i32)
    } else {
        (SEMUSZ, SEMAEM)
    };
    let v = [
        SEMMNS as i32,
        SEMMNI as i32,
        SEMMNS as i32,
        SEMMNS as i32,
        SEMMSL as i32,
        SEMOPM as i32,
        SEMUME,
        usz,
        SEMVMX,
        aem,
    ];
    let mut b = [0u8; 40];
    for (i, x) in v.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&x.to_le_bytes());
    }
    b
}

/// semctl(2); `arg` is the union semun (a value or a pointer).
pub fn semctl(t: &mut Task, id: i32, num: i32, cmd: i32, arg: u64) -> SysResult<u64> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    match cmd {
        IPC_INFO | SEM_INFO => {
            let (b, max) = {
                let ns = ipc.sem();
                (info_bytes(&ns, cmd), ns.sets.max_idx())
            };
            t.mm().copy_out(arg, &b)?;
            Ok(max)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let (ds, ret) = {
                let ns = ipc.sem();
                let (ret, s) = if cmd == IPC_STAT {
                    (0, ns.sets.get(id)?)
                } else {
                    let (i, s) = ns.sets.at_index(id)?;
                    (i as u64, s)
                };
                if cmd != SEM_STAT_ANY {
                    s.perm.check(&creds, 0o444)?;
                }
                (s.ds(), ret)
            };
            t.mm().copy_out(arg, &ds)?;
            Ok(ret)
        }
        GETALL => {
            let vals: Vec<u8> = {
                let ns = ipc.sem();
                let s = ns.sets.get(id)?;
                s.perm.check(&creds, 0o444)?;
                s.sems
                    .iter()
                    .flat_map(|x| (x.val as u16).to_le_bytes())
                    .collect()
            };
            t.mm().copy_out(arg, &vals)?;
            Ok(0)
        }
        SETALL => {
            let (nsems, serial) = {
                let ns = ipc.sem();
                let s = ns.sets.get(id)?;
                s.perm.check(&creds, 0o222)?;
                (s.sems.len(), s.serial)
            };
            let mut raw = vec![0u8; nsems * 2];
            t.mm().copy_in(arg, &mut raw)?;
            let vals: Vec<i32> = raw
                .chunks_exact(2)
                .map(|c| i32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect();
            if vals.iter().any(|&v| v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            let mut g = ipc.sem();
            let ns = &mut *g;
            let s = match ns.sets.get_mut(id) {
                Ok(s) if s.serial == serial => s,
                _ => return Err(Errno::EIDRM),
            };
            for (x, v) in s.sems.iter_mut().zip(vals) {
                x.val = v;
                x.pid = t.pid;
            }
            s.ctime = now();
            s.wq.notify_all();
            clear_undo(ns, id, serial, None);
            Ok(0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            let ns = ipc.sem();
            let s = ns.sets.get(id)?;
            s.perm.check(&creds, 0o444)?;
            let n = usize::try_from(num)
                .ok()
                .filter(|&n| n < s.sems.len())
                .ok_or(Errno::EINVAL)?;
            Ok(match cmd {
                GETVAL => s.sems[n].val as u64,
                GETPID => s.sems[n].pid as u64,
                _ => s
                    .waiting
                    .iter()
                    .filter(|w| w.1 == n && w.2 == (cmd == GETZCNT))
                    .count() as u64,
            })
        }
        SETVAL => {
            let val = arg as i32;
            if !(0..=SEMVMX).contains(&val) {
                return Err(Errno::ERANGE);
            }
            let mut g = ipc.sem();
            let ns = &mut *g;
            let s = ns.sets.get_mut(id)?;
            let n = usize::try_from(num)
                .ok()
                .filter(|&n| n < s.sems.len())
                .ok_or(Errno::EINVAL)?;
            s.perm.check(&creds, 0o222)?;
            s.sems[n].val = val;
            s.sems[n].pid = t.pid;
            s.ctime = now();
            s.wq.notify_all();
            let serial = s.serial;
            clear_undo(ns, id, serial, Some(n));
            Ok(0)
        }
        IPC_SET => {
            let mut b = [0u8; 48];
            t.mm().copy_in(arg, &mut b)?;
            let mut ns = ipc.sem();
            let s = ns.sets.get_mut(id)?;
            s.perm.check_owner(&creds)?;
            s.perm.set_from(&b);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let mut ns = ipc.sem();
            ns.sets.get(id)?.perm.check_owner(&creds)?;
            if let Some(s) = ns.sets.remove(id) {
                ns.used_sems -= s.sems.len() as u64;
                // Waiters find the set gone: EIDRM.
                s.wq.notify_all();
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/sem.
pub fn proc_table(ns: &SemNs) -> String {
    let mut out = String::from(
        "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
    );
    for (id, s) in ns.sets.iter() {
        let p = &s.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o} {:>10} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10}\n",
            p.key,
            id,
            p.mode,
            s.sems.len(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            s.otime,
            s.ctime
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> SemSet {
        SemSet {
            perm: Perm::default(),
            sems: vec![Sem::default(); n],
            otime: 0,
            ctime: 0,
            serial: 1,
            wq: Arc::new(WaitQueue::default()),
            waiting: Vec::new(),
        }
    }

    fn op(num: u16, op: i16, flg: i16) -> SemBuf {
        SemBuf { num, op, flg }
    }

    #[test]
    fn operation_arrays_are_all_or_nothing() {
        let mut s = set(2);
        assert!(matches!(
            try_ops(&mut s, &[op(0, 2, 0), op(1, -1, 0)], None, 7),
            Ok(Outcome::Block(1, false))
        ));
        assert_eq!(s.sems[0].val, 0, "nothing applied");
        assert!(matches!(
            try_ops(&mut s, &[op(0, 2, 0), op(0, -1, 0)], None, 7),
            Ok(Outcome::Done)
        ));
        assert_eq!((s.sems[0].val, s.sems[0].pid), (1, 7));
        assert!(matches!(
            try_ops(&mut s, &[op(0, 0, 0)], None, 7),
            Ok(Outcome::Block(0, true))
        ));
        assert_eq!(
            try_ops(&mut s, &[op(0, -2, IPC_NOWAIT as i16)], None, 7).err(),
            Some(Errno::EAGAIN)
        );
        assert_eq!(
            try_ops(&mut s, &[op(1, i16::MAX, 0), op(1, 1, 0)], None, 7).err(),
            Some(Errno::ERANGE)
        );
        let mut adj = vec![0, 0];
        assert!(matches!(
            try_ops(&mut s, &[op(1, 3, SEM_UNDO)], Some(&mut adj), 8),
            Ok(Outcome::Done)
        ));
        assert_eq!(adj, [0, -3]);
    }
}
