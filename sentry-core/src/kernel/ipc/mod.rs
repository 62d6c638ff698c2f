//! System V IPC: shared memory ([`shm`]), semaphores ([`sem`]) and
//! message queues ([`msg`]), in one IPC namespace the whole sandbox shares
//! (every container of a pod: it lives in the [`crate::kernel::Kernel`]).
//!
//! What the three have in common is here: the permission record
//! (`struct ipc64_perm`), Linux's permission checks, and the id table that
//! hands out ids as Linux does (`seq * 32768 + index`, indexes allocated
//! cyclically).

pub mod mqueue;
pub mod msg;
pub mod sem;
pub mod shm;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::errno::{Errno, SysResult};
use crate::kernel::task::Creds;

/// `IPC_PRIVATE`: a key that always creates a new object.
pub const IPC_PRIVATE: i32 = 0;
/// Create if the key does not exist.
pub const IPC_CREAT: i32 = 0o1000;
/// With IPC_CREAT: fail if it exists.
pub const IPC_EXCL: i32 = 0o2000;
/// Do not wait.
pub const IPC_NOWAIT: i32 = 0o4000;
/// ctl commands shared by the three.
pub const IPC_RMID: i32 = 0;
/// Set owner and mode.
pub const IPC_SET: i32 = 1;
/// Read the object's status.
pub const IPC_STAT: i32 = 2;
/// Read the namespace's limits.
pub const IPC_INFO: i32 = 3;

/// Ids are `seq * SEQ_MULTIPLIER + index`.
pub const SEQ_MULTIPLIER: i32 = 32768;
/// Indexes run below this (Linux's IPCMNI).
const IPCMNI: usize = 32768;

const CAP_IPC_OWNER: u32 = 15;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_RESOURCE: u32 = 24;

/// Whether the caller holds capability `cap`: in its effective set, and
/// (as every permission check of the sentry) with effective uid 0, since
/// setuid to another user leaves the sets as they were here.
fn has_cap(c: &Creds, cap: u32) -> bool {
    c.privileged() && c.caps.effective & (1 << cap) != 0
}

/// Seconds since the epoch (the *time fields).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `struct ipc64_perm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Perm {
    /// The key (IPC_PRIVATE once removed).
    pub key: i32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Creator.
    pub cuid: u32,
    /// Creator's group.
    pub cgid: u32,
    /// Permission bits (and SHM_DEST, SHM_LOCKED for shared memory).
    pub mode: u32,
    /// Sequence number of the id.
    pub seq: u16,
}

impl Perm {
    fn new(key: i32, flags: i32, c: &Creds) -> Perm {
        Perm {
            key,
            uid: c.uid[1],
            gid: c.gid[1],
            cuid: c.uid[1],
            cgid: c.gid[1],
            mode: (flags & 0o777) as u32,
            seq: 0,
        }
    }

    /// The 48 bytes of `struct ipc64_perm` (x86-64).
    pub fn to_bytes(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0..4].copy_from_slice(&self.key.to_le_bytes());
        b[4..8].copy_from_slice(&self.uid.to_le_bytes());
        b[8..12].copy_from_slice(&self.gid.to_le_bytes());
        b[12..16].copy_from_slice(&self.cuid.to_le_bytes());
        b[16..20].copy_from_slice(&self.cgid.to_le_bytes());
        b[20..24].copy_from_slice(&self.mode.to_le_bytes());
        b[24..26].copy_from_slice(&self.seq.to_le_bytes());
        b
    }

    /// Linux's ipcperms: the rwx bits of `flag` (in any of the three
    /// classes) against the caller's class; CAP_IPC_OWNER bypasses.
    pub fn check(&self, c: &Creds, flag: i32) -> SysResult<()> {
        let flag = flag as u32;
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let mut granted = self.mode;
        let euid = c.uid[1];
        let in_group = |g: u32| c.gid[1] == g || c.groups.contains(&g);
        if euid == self.cuid || euid == self.uid {
            granted >>= 6;
        } else if in_group(self.cgid) || in_group(self.gid) {
            granted >>= 3;
        }
        if requested & !granted & 0o7 != 0 && !has_cap(c, CAP_IPC_OWNER) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// IPC_SET and IPC_RMID: the owner, the creator or CAP_SYS_ADMIN.
    pub fn check_owner(&self, c: &Creds) -> SysResult<()> {
        let euid = c.uid[1];
        if euid == self.uid || euid == self.cuid || has_cap(c, CAP_SYS_ADMIN) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// IPC_SET's change: owner, group and the permission bits from the
    /// caller's `struct ipc64_perm`.
    pub fn set_from(&mut self, b: &[u8]) {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if b.len() < 24 {
            return;
        }
        self.uid = u32_at(4);
        self.gid = u32_at(8);
        self.mode = (self.mode & !0o777) | (u32_at(20) & 0o777);
    }
}

/// An object of an id table.
pub trait IpcObject {
    /// Its permission record.
    fn perm(&self) -> &Perm;
    /// Its permission record, to change.
    fn perm_mut(&mut self) -> &mut Perm;
}

/// One kind's objects by index, with Linux's id allocation.
#[derive(Debug)]
pub struct Ids<T> {
    objs: BTreeMap<usize, T>,
    seq: u16,
    last_idx: Option<usize>,
    serial: u64,
}

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Ids {
            objs: BTreeMap::new(),
            seq: 0,
            last_idx: None,
            serial: 0,
        }
    }
}

/// The id of the object at `idx` with sequence `seq`.
pub fn make_id(idx: usize, seq: u16) -> i32 {
    i32::from(seq) * SEQ_MULTIPLIER + idx as i32
}

impl<T: IpcObject> Ids<T> {
    /// Objects in use.
    pub fn in_use(&self) -> usize {
        self.objs.len()
    }

    /// The highest index in use (IPC_INFO's result), 0 when none.
    pub fn max_idx(&self) -> u64 {
        self.objs.keys().next_back().map_or(0, |&i| i as u64)
    }

    /// A unique number for a new object (waiters tell a removed object
    /// from a later one with the same id).
    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Adds `obj` (ENOSPC past `limit` objects); returns its id.
    pub fn add(&mut self, mut obj: T, limit: usize) -> SysResult<i32> {
        if self.objs.len() >= limit.min(IPCMNI) {
            return Err(Errno::ENOSPC);
        }
        // The next free index after the last one handed out, wrapping:
        // the sequence number advances when indexes wrap.
        let start = self.last_idx.map_or(0, |i| i + 1);
        let idx = (start..IPCMNI)
            .chain(0..start)
            .find(|i| !self.objs.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        if self.last_idx.is_some_and(|l| idx <= l) {
            self.seq = if i32::from(self.seq) + 1 >= i32::MAX / SEQ_MULTIPLIER {
                0
            } else {
                self.seq + 1
            };
        }
        self.last_idx = Some(idx);
        obj.perm_mut().seq = self.seq;
        self.objs.insert(idx, obj);
        Ok(make_id(idx, self.seq))
    }

    /// The object with id `id` (EINVAL when none).
    pub fn get(&self, id: i32) -> SysResult<&T> {
        let idx = self.idx_of(id)?;
        self.objs.get(&idx).ok_or(Errno::EINVAL)
    }

    /// The object with id `id`, to change.
    pub fn get_mut(&mut self, id: i32) -> SysResult<&mut T> {
        let idx = self.idx_of(id)?;
        self.objs.get_mut(&idx).ok_or(Errno::EINVAL)
    }

    fn idx_of(&self, id: i32) -> SysResult<usize> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let idx = (id % SEQ_MULTIPLIER) as usize;
        match self.objs.get(&idx) {
            Some(o) if i32::from(o.perm().seq) == id / SEQ_MULTIPLIER => Ok(idx),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The object at index `idx` (the *_STAT commands), with its id.
    pub fn at_index(&self, idx: i32) -> SysResult<(i32, &T)> {
        let i = usize::try_from(idx).map_err(|_| Errno::EINVAL)?;
        let o = self.objs.get(&i).ok_or(Errno::EINVAL)?;
        Ok((make_id(i, o.perm().seq), o))
    }

    /// Removes the object with id `id`.
    pub fn remove(&mut self, id: i32) -> Option<T> {
        let idx = self.idx_of(id).ok()?;
        self.objs.remove(&idx)
    }

    /// The id of the object with `key` (not IPC_PRIVATE).
    pub fn find_key(&self, key: i32) -> Option<i32> {
        self.objs
            .iter()
            .find(|(_, o)| o.perm().key == key)
            .map(|(&i, o)| make_id(i, o.perm().seq))
    }

    /// Every object with its id, by index.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &T)> {
        self.objs
            .iter()
            .map(|(&i, o)| (make_id(i, o.perm().seq), o))
    }

    /// Every object, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.objs.values_mut()
    }
}

/// The lookup of a *get call: an existing object for `key` (checked by
/// `more` then by permission) or None when one must be created; ENOENT,
/// EEXIST as Linux.
pub fn lookup_key<T: IpcObject>(
    ids: &Ids<T>,
    key: i32,
    flags: i32,
    creds: &Creds,
    more: impl FnOnce(&T) -> SysResult<()>,
) -> SysResult<Option<i32>> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    match ids.find_key(key) {
        None if flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
        None => Ok(None),
        Some(_) if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 => Err(Errno::EEXIST),
        Some(id) => {
            let o = ids.get(id)?;
            more(o)?;
            o.perm().check(creds, flags)?;
            Ok(Some(id))
        }
    }
}

/// Sentry memory held by the texts of queued messages (System V and POSIX
/// queues, with a fixed bookkeeping cost per message), bounded so that a
/// program cannot exhaust the sentry through queues it fills: past it a
/// send fails with ENOMEM, Linux's answer when the kernel cannot allocate a
/// message.
static MSG_HEAP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// The bound of [`MSG_HEAP`].
pub const MSG_HEAP_MAX: u64 = 256 << 20;
/// Bookkeeping per message counted in [`MSG_HEAP`].
const MSG_OVERHEAD: u64 = 64;

/// Accounts a message of `len` bytes (ENOMEM past [`MSG_HEAP_MAX`]).
pub(crate) fn charge_msg(len: u64) -> SysResult<()> {
    use std::sync::atomic::Ordering;
    let cost = len.saturating_add(MSG_OVERHEAD);
    MSG_HEAP
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
            cur.checked_add(cost).filter(|&n| n <= MSG_HEAP_MAX)
        })
        .map(|_| ())
        .map_err(|_| Errno::ENOMEM)
}

/// Releases what [`charge_msg`] accounted for a message of `len` bytes.
pub(crate) fn uncharge_msg(len: u64) {
    use std::sync::atomic::Ordering;
    let cost = len.saturating_add(MSG_OVERHEAD);
    let _ = MSG_HEAP.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
        Some(cur.saturating_sub(cost))
    });
}

/// The sandbox's IPC namespace.
#[derive(Default)]
pub struct Ipc {
    /// Shared memory segments (an Arc: attachments find their segment
    /// through a weak reference).
    pub shm: Arc<Mutex<Ids<shm::Segment>>>,
    /// Semaphore sets and the processes' undo lists.
    pub sem: Mutex<sem::SemNs>,
    /// Message queues.
    pub msg: Mutex<Ids<msg::Queue>>,
    /// POSIX message queues by name.
    pub mq: Mutex<mqueue::MqNs>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ipc {
    /// The sandbox's semaphores.
    pub fn sem(&self) -> MutexGuard<'_, sem::SemNs> {
        lock(&self.sem)
    }

    /// The sandbox's message queues.
    pub fn msg(&self) -> MutexGuard<'_, Ids<msg::Queue>> {
        lock(&self.msg)
    }

    /// The sandbox's POSIX message queues.
    pub fn mq(&self) -> MutexGuard<'_, mqueue::MqNs> {
        lock(&self.mq)
    }

    /// The sandbox's shared memory segments.
    pub fn shm(&self) -> MutexGuard<'_, Ids<shm::Segment>> {
        lock(&self.shm)
    }
}

/// The limits files of /proc/sys/kernel this namespace answers, by name.
pub fn sysctl(name: &str) -> Option<String> {
    Some(match name {
        "shmmax" => shm::SHMMAX.to_string(),
        "shmall" => shm::SHMALL.to_string(),
        "shmmni" => shm::SHMMNI.to_string(),
        "sem" => format!(
            "{}\t{}\t{}\t{}",
            sem::SEMMSL,
            sem::SEMMNS,
            sem::SEMOPM,
            sem::SEMMNI
        ),
        "msgmax" => msg::MSGMAX.to_string(),
        "msgmnb" => msg::MSGMNB.to_string(),
        "msgmni" => msg::MSGMNI.to_string(),
        _ => return None,
    })
}

/// The names [`sysctl`] answers.
pub const SYSCTLS: [&str; 7] = [
    "msgmax", "msgmnb", "msgmni", "sem", "shmall", "shmmax", "shmmni",
];

/// /proc/sysvipc/`name` (shm, sem, msg) in Linux's columns.
pub fn proc_file(ipc: &Ipc, name: &str) -> Option<String> {
    Some(match name {
        "shm" => shm::proc_table(&ipc.shm()),
        "sem" => sem::proc_table(&ipc.sem()),
        "msg" => msg::proc_table(&ipc.msg()),
        _ => return None,
    })
}

/// Whether the caller may lock shared memory (SHM_LOCK).
pub(crate) fn can_lock(c: &Creds) -> bool {
    has_cap(c, CAP_IPC_LOCK)
}

/// Whether the caller may raise a queue's size past MSGMNB.
pub(crate) fn can_exceed_limits(c: &Creds) -> bool {
    has_cap(c, CAP_SYS_RESOURCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct O(Perm);
    impl IpcObject for O {
        fn perm(&self) -> &Perm {
            &self.0
        }
        fn perm_mut(&mut self) -> &mut Perm {
            &mut self.0
        }
    }

    #[test]
    fn ids_are_allocated_cyclically_with_sequence_numbers() {
        let c = Creds::new(0, 0);
        let mut ids: Ids<O> = Ids::default();
        let a = ids.add(O(Perm::new(5, 0o600, &c)), 10).unwrap();
        let b = ids.add(O(Perm::new(6, 0o600, &c)), 10).unwrap();
        assert_eq!((a, b), (0, 1));
        ids.remove(a);
        // Index 0 is free but the allocation goes on cyclically.
        assert_eq!(ids.add(O(Perm::new(7, 0o600, &c)), 10).unwrap(), 2);
        assert_eq!(ids.get(0).err(), Some(Errno::EINVAL));
        assert_eq!(ids.get(-1).err(), Some(Errno::EINVAL));
        assert_eq!(ids.get(SEQ_MULTIPLIER + 1).err(), Some(Errno::EINVAL));
        assert_eq!(ids.find_key(7), Some(2));
        assert_eq!(ids.max_idx(), 2);
        // Limit.
        assert_eq!(
            ids.add(O(Perm::new(8, 0, &c)), 2).err(),
            Some(Errno::ENOSPC)
        );
    }

    #[test]
    fn message_memory_is_bounded() {
        assert_eq!(charge_msg(MSG_HEAP_MAX), Err(Errno::ENOMEM));
        assert_eq!(charge_msg(u64::MAX), Err(Errno::ENOMEM));
        charge_msg(100).unwrap();
        uncharge_msg(100);
    }

    #[test]
    fn permissions_follow_the_callers_class() {
        let owner = Creds::new(1000, 1000);
        let p = Perm::new(1, 0o640, &owner);
        assert!(p.check(&owner, 0o600).is_ok());
        let mut group = Creds::new(1001, 1000);
        group.caps = Default::default();
        assert!(p.check(&group, 0o400).is_ok());
        assert_eq!(p.check(&group, 0o200), Err(Errno::EACCES));
        let mut other = Creds::new(1002, 1002);
        other.caps = Default::default();
        assert_eq!(p.check(&other, 0o004), Err(Errno::EACCES));
        assert_eq!(p.check_owner(&other), Err(Errno::EPERM));
        let root = Creds::new(0, 0);
        assert!(p.check(&root, 0o777).is_ok());
        assert!(p.check_owner(&root).is_ok());
    }
}
