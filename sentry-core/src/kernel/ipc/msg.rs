//! System V message queues: msgget, msgsnd, msgrcv, msgctl.
//!
//! Senders blocked on a full queue and receivers blocked on an empty (or
//! unmatched) one wait on the queue's wait queue and retry at every change;
//! removal wakes them with EIDRM; a signal ends the wait (ERESTARTNOHAND:
//! EINTR once a handler ran, as Linux).

use std::collections::VecDeque;
use std::sync::Arc;

use super::{now, Ids, IpcObject, Perm, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::waiter::WaitQueue;

/// Largest message.
pub const MSGMAX: usize = 8192;
/// Default bytes per queue.
pub const MSGMNB: u64 = 16384;
/// Queues.
pub const MSGMNI: usize = 32000;
const MSGPOOL: i32 = (MSGMNI as u64 * MSGMNB / 1024) as i32;
const MSGSSZ: i32 = 16;
const MSGSEG: u16 = 0xffff;

const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;
const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;

/// A message queue.
#[derive(Debug)]
pub struct Queue {
    perm: Perm,
    msgs: VecDeque<(i64, Vec<u8>)>,
    cbytes: u64,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
    stime: i64,
    rtime: i64,
    ctime: i64,
    serial: u64,
    wq: Arc<WaitQueue>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        for (_, m) in &self.msgs {
            super::uncharge_msg(m.len() as u64);
        }
    }
}

impl IpcObject for Queue {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl Queue {
    fn ds(&self) -> [u8; 120] {
        let mut b = [0u8; 120];
        b[..48].copy_from_slice(&self.perm.to_bytes());
        b[48..56].copy_from_slice(&self.stime.to_le_bytes());
        b[56..64].copy_from_slice(&self.rtime.to_le_bytes());
        b[64..72].copy_from_slice(&self.ctime.to_le_bytes());
        b[72..80].copy_from_slice(&self.cbytes.to_le_bytes());
        b[80..88].copy_from_slice(&(self.msgs.len() as u64).to_le_bytes());
        b[88..96].copy_from_slice(&self.qbytes.to_le_bytes());
        b[96..100].copy_from_slice(&self.lspid.to_le_bytes());
        b[100..104].copy_from_slice(&self.lrpid.to_le_bytes());
        b
    }

    /// The index of the message msgrcv takes (`mode` already converted).
    fn find(&self, typ: i64, flags: i32) -> Option<usize> {
        if flags & MSG_COPY != 0 {
            return usize::try_from(typ).ok().filter(|&i| i < self.msgs.len());
        }
        if typ == 0 {
            return (!self.msgs.is_empty()).then_some(0);
        }
        if typ < 0 {
            let lim = typ.checked_neg().unwrap_or(i64::MAX);
            let mut best: Option<(usize, i64)> = None;
            for (i, (t, _)) in self.msgs.iter().enumerate() {
                if *t <= lim && best.is_none_or(|(_, b)| *t < b) {
                    best = Some((i, *t));
                }
            }
            return best.map(|b| b.0);
        }
        let except = flags & MSG_EXCEPT != 0;
        self.msgs.iter().position(|(t, _)| (*t == typ) != except)
    }
}

/// msgget(2).
pub fn msgget(t: &Task, key: i32, flags: i32) -> SysResult<u64> {
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    let mut ids = ipc.msg();
    if let Some(id) = super::lookup_key(&ids, key, flags, &creds, |_| Ok(()))? {
        return Ok(id as u64);
    }
    let serial = ids.next_serial();
    let q = Queue {
        perm: Perm::new(key, flags, &creds),
        msgs: VecDeque::new(),
        cbytes: 0,
        qbytes: MSGMNB,
        lspid: 0,
        lrpid: 0,
        stime: 0,
        rtime: 0,
        ctime: now(),
        serial,
        wq: Arc::new(WaitQueue::default()),
    };
    Ok(ids.add(q, MSGMNI)? as u64)
}

fn restart(e: Errno) -> Errno {
    if e == Errno::ERESTARTSYS {
        Errno::ERESTARTNOHAND
    } else {
        e
    }
}

/// msgsnd(2).
pub fn msgsnd(t: &mut Task, id: i32, msgp: u64, size: i64, flags: i32) -> SysResult<u64> {
    // Linux's order: the type is read before anything is checked.
    let mut b = [0u8; 8];
    t.mm().copy_in(msgp, &mut b)?;
    let typ = i64::from_le_bytes(b);
    if size < 0 || size as usize > MSGMAX || id < 0 {
        return Err(Errno::EINVAL);
    }
    if typ < 1 {
        return Err(Errno::EINVAL);
    }
    let mut text = vec![0u8; size as usize];
    t.mm()
        .copy_in(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &mut text)?;
    let creds = t.creds();
    let pid = t.pid;
    let ipc = t.kernel.ipc.clone();
    let (serial, wq) = {
        let ids = ipc.msg();
        let q = ids.get(id)?;
        q.perm.check(&creds, 0o222)?;
        (q.serial, q.wq.clone())
    };
    let mut text = Some(text);
    let r = crate::waiter::block_until(&*t.handle, &[&wq], None, Errno::EAGAIN, || {
        let mut ids = ipc.msg();
        let q = match ids.get_mut(id) {
            Ok(q) if q.serial == serial => q,
            _ => return Some(Err(Errno::EIDRM)),
        };
        let len = size as u64;
        if q.cbytes + len <= q.qbytes && (q.msgs.len() as u64) < q.qbytes {
            if let Err(e) = super::charge_msg(len) {
                return Some(Err(e));
            }
            q.msgs.push_back((typ, text.take().unwrap_or_default()));
            q.cbytes += len;
            q.lspid = pid;
            q.stime = now();
            q.wq.notify_all();
            return Some(Ok(0));
        }
        if flags & IPC_NOWAIT != 0 {
            return Some(Err(Errno::EAGAIN));
        }
        None
    });
    r.map_err(restart)
}

/// msgrcv(2): the bytes of text received.
pub fn msgrcv(t: &mut Task, id: i32, msgp: u64, size: i64, typ: i64, flags: i32) -> SysResult<u64> {
    if id < 0 || size < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 && (flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0) {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let pid = t.pid;
    let ipc = t.kernel.ipc.clone();
    let (serial, wq) = {
        let ids = ipc.msg();
        let q = ids.get(id)?;
        q.perm.check(&creds, 0o444)?;
        (q.serial, q.wq.clone())
    };
    let r = crate::waiter::block_until(&*t.handle, &[&wq], None, Errno::ENOMSG, || {
        let mut ids = ipc.msg();
        let q = match ids.get_mut(id) {
            Ok(q) if q.serial == serial => q,
            _ => return Some(Err(Errno::EIDRM)),
        };
        match q.find(typ, flags) {
            Some(i) => {
                let len = q.msgs[i].1.len();
                if len as u64 > size as u64 && flags & MSG_NOERROR == 0 {
                    return Some(Err(Errno::E2BIG));
                }
                if flags & MSG_COPY != 0 {
                    return Some(Ok(q.msgs[i].clone()));
                }
                let m = q.msgs.remove(i)?;
                q.cbytes -= len as u64;
                super::uncharge_msg(len as u64);
                q.lrpid = pid;
                q.rtime = now();
                q.wq.notify_all();
                Some(Ok(m))
            }
            None if flags & IPC_NOWAIT != 0 => Some(Err(Errno::ENOMSG)),
            None => None,
        }
    });
    let (mtype, mut text) = r.map_err(restart)?;
    text.truncate(size as usize);
    let mut mm = t.mm();
    mm.copy_out(msgp, &mtype.to_le_bytes())?;
    mm.copy_out(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &text)?;
    Ok(text.len() as u64)
}

/// msgctl(2).
pub fn msgctl(t: &mut Task, id: i32, cmd: i32, buf: u64) -> SysResult<u64> {
    if cmd < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    match cmd {
        IPC_INFO | MSG_INFO => {
            let (b, max) = {
                let ids = ipc.msg();
                let (pool, map, tql) = if cmd == MSG_INFO {
                    let msgs: usize = ids.iter().map(|(_, q)| q.msgs.len()).sum();
                    let bytes: u64 = ids.iter().map(|(_, q)| q.cbytes).sum();
                    (ids.in_use() as i32, msgs as i32, bytes as i32)
                } else {
                    (MSGPOOL, MSGMNB as i32, MSGMNB as i32)
                };
                let mut b = [0u8; 32];
                for (i, v) in [
                    pool,
                    map,
                    MSGMAX as i32,
                    MSGMNB as i32,
                    MSGMNI as i32,
                    MSGSSZ,
                    tql,
                ]
                .iter()
                .enumerate()
                {
                    b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
                }
                b[28..30].copy_from_slice(&MSGSEG.to_le_bytes());
                (b, ids.max_idx())
            };
            t.mm().copy_out(buf, &b)?;
            Ok(max)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let (ds, ret) = {
                let ids = ipc.msg();
                let (ret, q) = if cmd == IPC_STAT {
                    (0, ids.get(id)?)
                } else {
                    let (i, q) = ids.at_index(id)?;
                    (i as u64, q)
                };
                if cmd != MSG_STAT_ANY {
                    q.perm.check(&creds, 0o444)?;
                }
                (q.ds(), ret)
            };
            t.mm().copy_out(buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let mut b = [0u8; 120];
            t.mm().copy_in(buf, &mut b)?;
            let qbytes =
                u64::from_le_bytes([b[88], b[89], b[90], b[91], b[92], b[93], b[94], b[95]]);
            let mut ids = ipc.msg();
            let q = ids.get_mut(id)?;
            q.perm.check_owner(&creds)?;
            if qbytes > MSGMNB && !super::can_exceed_limits(&creds) {
                return Err(Errno::EPERM);
            }
            q.qbytes = qbytes;
            q.perm.set_from(&b[..48]);
            q.ctime = now();
            // Senders may fit now.
            q.wq.notify_all();
            Ok(0)
        }
        IPC_RMID => {
            let mut ids = ipc.msg();
            ids.get(id)?.perm.check_owner(&creds)?;
            if let Some(q) = ids.remove(id) {
                q.wq.notify_all();
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/msg.
pub fn proc_table(ids: &Ids<Queue>) -> String {
    let mut out = String::from(
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
    );
    for (id, q) in ids.iter() {
        let p = &q.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o}  {:>10} {:>10} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10}\n",
            p.key,
            id,
            p.mode,
            q.cbytes,
            q.msgs.len(),
            q.lspid,
            q.lrpid,
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            q.stime,
            q.rtime,
            q.ctime
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_modes_pick_as_linux() {
        let mut q = Queue {
            perm: Perm::default(),
            msgs: VecDeque::new(),
            cbytes: 0,
            qbytes: MSGMNB,
            lspid: 0,
            lrpid: 0,
            stime: 0,
            rtime: 0,
            ctime: 0,
            serial: 1,
            wq: Arc::new(WaitQueue::default()),
        };
        for t in [5, 3, 7, 3] {
            q.msgs.push_back((t, Vec::new()));
        }
        assert_eq!(q.find(0, 0), Some(0));
        assert_eq!(q.find(7, 0), Some(2));
        assert_eq!(q.find(5, MSG_EXCEPT), Some(1));
        assert_eq!(q.find(-4, 0), Some(1), "lowest type <= 4, first of them");
        assert_eq!(q.find(-2, 0), None);
        assert_eq!(q.find(i64::MIN, 0), Some(1));
        assert_eq!(q.find(9, 0), None);
        assert_eq!(q.find(3, MSG_COPY), Some(3));
        assert_eq!(q.find(4, MSG_COPY), None);
    }
}
