//! Advisory file locks: POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK,
//! owned by the process, dropped when it closes any fd of the file or
//! exits), open-file-description locks (F_OFD_*, owned by the open file) and
//! flock (whole-file, owned by the open file).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::errno::{Errno, SysResult};
use crate::vfs::FileDescription;
use crate::waiter::{block_until, WaitQueue, Waiter};

/// Who holds a lock.
#[derive(Clone, Debug)]
pub enum Owner {
    /// A process (POSIX record locks).
    Process(i32),
    /// An open file description (OFD locks, flock).
    File(Weak<dyn FileDescription>),
}

impl Owner {
    fn same(&self, o: &Owner) -> bool {
        match (self, o) {
            (Owner::Process(a), Owner::Process(b)) => a == b,
            (Owner::File(a), Owner::File(b)) => Weak::ptr_eq(a, b),
            _ => false,
        }
    }
    fn alive(&self) -> bool {
        match self {
            Owner::Process(_) => true,
            Owner::File(w) => w.strong_count() > 0,
        }
    }
    fn pid(&self) -> i32 {
        match self {
            Owner::Process(p) => *p,
            Owner::File(_) => -1,
        }
    }
}

/// One lock: [start, end) (end None = to EOF), write or read.
#[derive(Clone, Debug)]
pub struct Lock {
    /// Holder.
    pub owner: Owner,
    /// First byte.
    pub start: u64,
    /// One past the last byte; u64::MAX = to the end.
    pub end: u64,
    /// Exclusive.
    pub write: bool,
}

/// A file's identity for locking: (device, inode).
pub type FileKey = (u64, u64);

/// The lock tables of a sandbox.
#[derive(Default)]
pub struct Locks {
    posix: Mutex<HashMap<FileKey, Vec<Lock>>>,
    flock: Mutex<HashMap<FileKey, Vec<Lock>>>,
    wq: WaitQueue,
}

fn conflicts(l: &Lock, owner: &Owner, start: u64, end: u64, write: bool) -> bool {
    l.owner.alive() && !l.owner.same(owner) && l.start < end && start < l.end && (l.write || write)
}

impl Locks {
    fn table(&self, flock: bool) -> std::sync::MutexGuard<'_, HashMap<FileKey, Vec<Lock>>> {
        let t = if flock { &self.flock } else { &self.posix };
        t.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first lock that conflicts with the request (F_GETLK).
    pub fn test(
        &self,
        key: FileKey,
        owner: &Owner,
        start: u64,
        end: u64,
        write: bool,
    ) -> Option<(bool, u64, u64, i32)> {
        let t = self.table(false);
        t.get(&key)?
            .iter()
            .find(|l| conflicts(l, owner, start, end, write))
            .map(|l| (l.write, l.start, l.end, l.owner.pid()))
    }

    /// Takes (or with `unlock` releases) a range; `wait` blocks on conflict.
    #[allow(clippy::too_many_arguments)]
    pub fn set(
        &self,
        w: &dyn Waiter,
        key: FileKey,
        owner: Owner,
        start: u64,
        end: u64,
        write: bool,
        unlock: bool,
        wait: bool,
        flock: bool,
    ) -> SysResult<()> {
        block_until(w, &[&self.wq], None, Errno::EAGAIN, || {
            let mut t = self.table(flock);
            let v = t.entry(key).or_default();
            v.retain(|l| l.owner.alive());
            if !unlock && v.iter().any(|l| conflicts(l, &owner, start, end, write)) {
                return if wait { None } else { Some(Err(Errno::EAGAIN)) };
            }
            // Remove this owner's overlap, keeping the parts outside the range.
            let mut keep = Vec::with_capacity(v.len() + 2);
            for l in v.drain(..) {
                if !l.owner.same(&owner) || l.end <= start || end <= l.start {
                    keep.push(l);
                    continue;
                }
                if l.start < start {
                    keep.push(Lock {
                        end: start,
                        ..l.clone()
                    });
                }
                if end < l.end {
                    keep.push(Lock { start: end, ..l });
                }
            }
            if !unlock {
                keep.push(Lock {
                    owner: owner.clone(),
                    start,
                    end,
                    write,
                });
            }
            *v = keep;
            Some(Ok(()))
        })
        .map_err(|e| {
            if e == Errno::ERESTARTSYS {
                Errno::EINTR
            } else {
                e
            }
        })?;
        self.wq.notify_all();
        Ok(())
    }

    /// POSIX semantics: a process closing any fd of a file loses its locks on it.
    pub fn release_process(&self, key: FileKey, pid: i32) {
        let mut t = self.table(false);
        if let Some(v) = t.get_mut(&key) {
            v.retain(|l| !matches!(l.owner, Owner::Process(p) if p == pid));
        }
        drop(t);
        self.wq.notify_all();
    }

    /// Drops every POSIX lock of an exiting process.
    pub fn release_all(&self, pid: i32) {
        let mut t = self.table(false);
        for v in t.values_mut() {
            v.retain(|l| !matches!(l.owner, Owner::Process(p) if p == pid));
        }
        drop(t);
        self.wq.notify_all();
    }

    /// Wakes waiters after a file was closed (its OFD locks may be gone).
    pub fn file_closed(&self) {
        self.wq.notify_all();
    }
}

/// The lock owner for an open file.
pub fn file_owner(f: &Arc<dyn FileDescription>) -> Owner {
    Owner::File(Arc::downgrade(f))
}
