//! System V shared memory: shmget, shmat, shmdt, shmctl.
//!
//! A segment's memory is a writable page cache in the memory file (as a
//! tmpfs file's data); shmat maps it shared like a MAP_SHARED file mapping,
//! named "/SYSV<key> (deleted)" in /proc/PID/maps. Every VMA that maps a
//! segment holds one [`ShmAttach`], so fork, splits, exec, exit and munmap
//! count attachments as Linux's vm_ops do; a segment marked for removal
//! goes with its last attachment.

use std::sync::{Arc, Mutex, Weak};

use super::{lock, now, Ids, IpcObject, Perm, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::mm::{FileMap, PageCache, ShmAttach, ShmHooks, VmaKind, PAGE};
use crate::platform::Perms;

/// Largest segment (Linux's default shmmax).
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
/// Pages of all segments together.
pub const SHMALL: u64 = u64::MAX - (1 << 24);
/// Smallest segment.
pub const SHMMIN: u64 = 1;
/// Segments.
pub const SHMMNI: usize = 4096;
/// Attachments per process (reported only).
const SHMSEG: u64 = 4096;

const SHM_RDONLY: i32 = 0o10000;
const SHM_RND: i32 = 0o20000;
const SHM_REMAP: i32 = 0o40000;
const SHM_EXEC: i32 = 0o100000;
const SHM_LOCK: i32 = 11;
const SHM_UNLOCK: i32 = 12;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
/// Mode bit: removed, destroyed at the last detach.
const SHM_DEST: u32 = 0o1000;
/// Mode bit: locked in memory.
const SHM_LOCKED: u32 = 0o2000;
const SHMLBA: u64 = PAGE;

/// A shared memory segment.
#[derive(Debug)]
pub struct Segment {
    perm: Perm,
    size: u64,
    cache: Arc<PageCache>,
    serial: u64,
    nattch: u64,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

impl IpcObject for Segment {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl Segment {
    fn ds(&self) -> [u8; 112] {
        let mut b = [0u8; 112];
        b[..48].copy_from_slice(&self.perm.to_bytes());
        b[48..56].copy_from_slice(&self.size.to_le_bytes());
        b[56..64].copy_from_slice(&self.atime.to_le_bytes());
        b[64..72].copy_from_slice(&self.dtime.to_le_bytes());
        b[72..80].copy_from_slice(&self.ctime.to_le_bytes());
        b[80..84].copy_from_slice(&self.cpid.to_le_bytes());
        b[84..88].copy_from_slice(&self.lpid.to_le_bytes());
        b[88..96].copy_from_slice(&self.nattch.to_le_bytes());
        b
    }

    fn pages(&self) -> u64 {
        self.size.div_ceil(PAGE)
    }
}

/// What a VMA attaching a segment tells it.
#[derive(Debug)]
struct Attachment {
    ns: Weak<Mutex<Ids<Segment>>>,
    id: i32,
    serial: u64,
}

impl ShmHooks for Attachment {
    fn attach(&self) {
        if let Some(ns) = self.ns.upgrade() {
            let mut ids = lock(&ns);
            if let Ok(s) = ids.get_mut(self.id) {
                if s.serial == self.serial {
                    s.nattch += 1;
                    s.atime = now();
                }
            }
        }
    }

    fn detach(&self) {
        if let Some(ns) = self.ns.upgrade() {
            release(&mut lock(&ns), self.id, self.serial, None);
        }
    }
}

/// One attachment of segment `id` ends (by `pid` when known): a removed
/// segment goes with its last one.
fn release(ids: &mut Ids<Segment>, id: i32, serial: u64, pid: Option<i32>) {
    let Ok(s) = ids.get_mut(id) else {
        return;
    };
    if s.serial != serial {
        return;
    }
    s.nattch = s.nattch.saturating_sub(1);
    s.dtime = now();
    if let Some(p) = pid {
        s.lpid = p;
    }
    if s.nattch == 0 && s.perm.mode & SHM_DEST != 0 {
        ids.remove(id);
    }
}

/// shmget(2).
pub fn shmget(t: &Task, key: i32, size: u64, flags: i32) -> SysResult<u64> {
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    // The memory file before the registry (lock order: mm, then IPC).
    let mem = t.mm().memory().clone();
    let mut ids = ipc.shm();
    let found = super::lookup_key(&ids, key, flags, &creds, |s: &Segment| {
        if s.size < size {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    })?;
    if let Some(id) = found {
        return Ok(id as u64);
    }
    if !(SHMMIN..=SHMMAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let pages = size.div_ceil(PAGE);
    let total: u64 = ids.iter().map(|(_, s)| s.pages()).sum();
    if total.checked_add(pages).is_none_or(|n| n > SHMALL) {
        return Err(Errno::ENOSPC);
    }
    if ids.in_use() >= SHMMNI {
        return Err(Errno::ENOSPC);
    }
    // Overcommit heuristic: more than the whole memory file never fits.
    if pages > mem.size() / PAGE {
        return Err(Errno::ENOMEM);
    }
    let cache = PageCache::new(mem);
    cache.truncate(size)?;
    let serial = ids.next_serial();
    let seg = Segment {
        perm: Perm::new(key, flags, &creds),
        size,
        cache,
        serial,
        nattch: 0,
        cpid: t.pid,
        lpid: 0,
        atime: 0,
        dtime: 0,
        ctime: now(),
    };
    Ok(ids.add(seg, SHMMNI)? as u64)
}

/// shmat(2): the address the segment is mapped at.
pub fn shmat(t: &mut Task, id: i32, addr: u64, flags: i32) -> SysResult<u64> {
    let mut addr = addr;
    if addr != 0 {
        if addr & (SHMLBA - 1) != 0 {
            if flags & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(SHMLBA - 1);
            if addr == 0 && flags & SHM_REMAP != 0 {
                return Err(Errno::EINVAL);
            }
        }
    } else if flags & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let fixed = addr != 0;
    let (mut perms, mut acc) = if flags & SHM_RDONLY != 0 {
        (Perms::R, 0o444)
    } else {
        (Perms::RW, 0o666)
    };
    if flags & SHM_EXEC != 0 {
        perms.exec = true;
        acc |= 0o111;
    }
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    // Held attached (nattch) while it is mapped, so that a removal in
    // between does not destroy it.
    let (cache, size, key, serial) = {
        let mut ids = ipc.shm();
        let s = ids.get_mut(id)?;
        s.perm.check(&creds, acc)?;
        s.nattch += 1;
        (s.cache.clone(), s.size, s.perm.key, s.serial)
    };
    let attach = ShmAttach::new(Arc::new(Attachment {
        ns: Arc::downgrade(&ipc.shm),
        id,
        serial,
    }));
    let len = size.div_ceil(PAGE) * PAGE;
    let res = (|| {
        let mut mm = t.mm();
        if fixed && flags & SHM_REMAP == 0 {
            let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
            if mm.vmas().any(|v| v.start < end && addr < v.end) {
                return Err(Errno::EINVAL);
            }
        }
        let kind = VmaKind::File(FileMap {
            cache,
            offset: 0,
            shared: true,
            name: format!("/SYSV{:08x} (deleted)", key as u32),
            shm: Some(attach),
            writers: None,
        });
        mm.map(addr, len, perms, fixed, kind, flags & SHM_RDONLY == 0)
    })();
    {
        let mut ids = ipc.shm();
        if let Ok(s) = ids.get_mut(id) {
            if s.serial == serial && res.is_ok() {
                s.lpid = t.pid;
            }
        }
        release(&mut ids, id, serial, None);
    }
    res
}

/// shmdt(2): detaches the segment attached at `addr`.
pub fn shmdt(t: &mut Task, addr: u64) -> SysResult<u64> {
    if addr & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    // The VMA that starts the attachment at `addr` (offset 0), then every
    // VMA of the same segment within its size.
    let mut mm = t.mm();
    let seg = mm.vmas().find_map(|v| match &v.kind {
        VmaKind::File(f) if v.start == addr && f.offset == 0 => f
            .shm
            .as_ref()
            .map(|a| (a.segment().clone(), f.cache.clone())),
        _ => None,
    });
    let (seg, cache) = seg.ok_or(Errno::EINVAL)?;
    let size = cache.size();
    let end = addr.saturating_add(size.div_ceil(PAGE) * PAGE);
    let ranges: Vec<(u64, u64)> =
        mm.vmas()
            .filter(|v| v.start >= addr && v.start < end)
            .filter(|v| match &v.kind {
                VmaKind::File(f) => f.shm.as_ref().is_some_and(|a| {
                    std::ptr::addr_eq(Arc::as_ptr(a.segment()), Arc::as_ptr(&seg))
                }),
                _ => false,
            })
            .map(|v| (v.start, v.end.min(end)))
            .collect();
    drop(seg);
    for (s, e) in ranges {
        mm.unmap(s, e - s)?;
    }
    drop(mm);
    // Linux's shm_lprid is the last process to attach or detach.
    let ipc = t.kernel.ipc.clone();
    let mut ids = ipc.shm();
    if let Some(s) = ids.values_mut().find(|s| Arc::ptr_eq(&s.cache, &cache)) {
        s.lpid = t.pid;
    }
    Ok(0)
}

fn info_bytes() -> [u8; 72] {
    let mut b = [0u8; 72];
    for (i, v) in [SHMMAX, SHMMIN, SHMMNI as u64, SHMSEG, SHMALL]
        .iter()
        .enumerate()
    {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// shmctl(2).
pub fn shmctl(t: &mut Task, id: i32, cmd: i32, buf: u64) -> SysResult<u64> {
    if cmd < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let ipc = t.kernel.ipc.clone();
    match cmd {
        IPC_INFO => {
            let max = ipc.shm().max_idx();
            t.mm().copy_out(buf, &info_bytes())?;
            Ok(max)
        }
        SHM_INFO => {
            let (b, max) = {
                let ids = ipc.shm();
                let mut b = [0u8; 48];
                b[0..4].copy_from_slice(&(ids.in_use() as i32).to_le_bytes());
                let tot: u64 = ids.iter().map(|(_, s)| s.pages()).sum();
                let rss: u64 = ids.iter().map(|(_, s)| s.cache.pages() as u64).sum();
                b[8..16].copy_from_slice(&tot.to_le_bytes());
                b[16..24].copy_from_slice(&rss.to_le_bytes());
                (b, ids.max_idx())
            };
            t.mm().copy_out(buf, &b)?;
            Ok(max)
        }
        SHM_STAT | SHM_STAT_ANY | IPC_STAT => {
            let (ds, ret) = {
                let ids = ipc.shm();
                let (ret, s) = if cmd == IPC_STAT {
                    (0, ids.get(id)?)
                } else {
                    let (i, s) = ids.at_index(id)?;
                    (i as u64, s)
                };
                if cmd != SHM_STAT_ANY {
                    s.perm.check(&creds, 0o444)?;
                }
                (s.ds(), ret)
            };
            t.mm().copy_out(buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let mut b = [0u8; 48];
            t.mm().copy_in(buf, &mut b)?;
            let mut ids = ipc.shm();
            let s = ids.get_mut(id)?;
            s.perm.check_owner(&creds)?;
            s.perm.set_from(&b);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let mut ids = ipc.shm();
            let s = ids.get_mut(id)?;
            s.perm.check_owner(&creds)?;
            if s.nattch == 0 {
                ids.remove(id);
            } else {
                s.perm.mode |= SHM_DEST;
                // Linux: the key is gone, the id lives on until the last
                // detach.
                s.perm.key = super::IPC_PRIVATE;
            }
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let mut ids = ipc.shm();
            let s = ids.get_mut(id)?;
            if !super::can_lock(&creds) {
                let euid = creds.uid[1];
                if euid != s.perm.uid && euid != s.perm.cuid {
                    return Err(Errno::EPERM);
                }
            }
            if cmd == SHM_LOCK {
                s.perm.mode |= SHM_LOCKED;
            } else {
                s.perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/shm.
pub fn proc_table(ids: &Ids<Segment>) -> String {
    let mut out = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    );
    for (id, s) in ids.iter() {
        let p = &s.perm;
        out.push_str(&format!(
            "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}\n",
            p.key,
            id,
            p.mode,
            s.size,
            s.cpid,
            s.lpid,
            s.nattch,
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            s.atime,
            s.dtime,
            s.ctime,
            s.cache.pages() as u64 * PAGE,
            0
        ));
    }
    out
}
