//! Signal-driven I/O: the owner of an open file description (fcntl
//! F_SETOWN, F_SETOWN_EX), the signal it gets (F_SETSIG), and O_ASYNC
//! (F_SETFL or ioctl FIOASYNC). While O_ASYNC is on, every notification
//! of the file's wait queue (data arrived, room freed, a peer closed) sends
//! the owner SIGIO, or the F_SETSIG signal, as Linux's kill_fasync does.
//!
//! Kept beside the files rather than in them, keyed by the open file
//! description, so every kind of file gets it without its own code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::signal::{self, SigInfo, Signal};
use super::task::ThreadGroup;
use super::Kernel;
use crate::errno::{Errno, SysResult};
use crate::vfs::FileDescription;

/// F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP.
pub const F_OWNER_TID: i32 = 0;
/// A process.
pub const F_OWNER_PID: i32 = 1;
/// A process group.
pub const F_OWNER_PGRP: i32 = 2;

/// Who gets a file's SIGIO.
#[derive(Clone, Debug, Default)]
pub struct Owner {
    /// F_OWNER_*.
    pub kind: i32,
    /// The thread, process or group id (0: nobody).
    pub id: i32,
    /// The process, when `kind` names a thread or process (so delivery
    /// needs no lookup).
    tg: Weak<ThreadGroup>,
}

struct Entry {
    file: Weak<dyn FileDescription>,
    owner: Owner,
    sig: u32,
    hook: Option<u64>,
}

/// The signal-driven I/O state of every file that has any.
#[derive(Default)]
pub struct Fasync {
    entries: Mutex<HashMap<usize, Entry>>,
}

fn key(f: &Arc<dyn FileDescription>) -> usize {
    Arc::as_ptr(f) as *const () as usize
}

impl Fasync {
    fn lock(&self) -> MutexGuard<'_, HashMap<usize, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry of `f`, made if missing (entries of closed files are
    /// dropped on the way).
    fn entry<'a>(
        map: &'a mut HashMap<usize, Entry>,
        f: &Arc<dyn FileDescription>,
    ) -> &'a mut Entry {
        let k = key(f);
        if map.get(&k).is_some_and(|e| e.file.strong_count() == 0) {
            map.remove(&k);
        }
        if !map.contains_key(&k) {
            map.retain(|_, e| e.file.strong_count() > 0);
        }
        map.entry(k).or_insert_with(|| Entry {
            file: Arc::downgrade(f),
            owner: Owner::default(),
            sig: 0,
            hook: None,
        })
    }

    /// F_GETOWN_EX.
    pub fn owner(&self, f: &Arc<dyn FileDescription>) -> Owner {
        self.lock()
            .get(&key(f))
            .filter(|e| e.file.strong_count() > 0)
            .map(|e| e.owner.clone())
            .unwrap_or_default()
    }

    /// F_SETOWN / F_SETOWN_EX: ESRCH when nothing has that id.
    pub fn set_owner(
        &self,
        kernel: &Kernel,
        f: &Arc<dyn FileDescription>,
        kind: i32,
        id: i32,
    ) -> SysResult<()> {
        let tg = if id == 0 {
            Weak::new()
        } else {
            let procs = kernel.procs();
            match kind {
                F_OWNER_TID => procs
                    .tasks
                    .get(&id)
                    .map(|t| Arc::downgrade(&t.tg))
                    .ok_or(Errno::ESRCH)?,
                F_OWNER_PID => procs.tgs.get(&id).map(Arc::downgrade).ok_or(Errno::ESRCH)?,
                F_OWNER_PGRP => {
                    if !procs.tgs.values().any(|tg| tg.lock().pgid == id) {
                        return Err(Errno::ESRCH);
                    }
                    Weak::new()
                }
                _ => return Err(Errno::EINVAL),
            }
        };
        let mut map = self.lock();
        Self::entry(&mut map, f).owner = Owner { kind, id, tg };
        Ok(())
    }

    /// F_GETSIG.
    pub fn sig(&self, f: &Arc<dyn FileDescription>) -> u32 {
        self.lock().get(&key(f)).map_or(0, |e| e.sig)
    }

    /// F_SETSIG (0: SIGIO).
    pub fn set_sig(&self, f: &Arc<dyn FileDescription>, sig: u32) -> SysResult<()> {
        if sig > crate::abi::NSIG {
            return Err(Errno::EINVAL);
        }
        let mut map = self.lock();
        Self::entry(&mut map, f).sig = sig;
        Ok(())
    }

    /// Whether O_ASYNC is on.
    pub fn is_async(&self, f: &Arc<dyn FileDescription>) -> bool {
        self.lock()
            .get(&key(f))
            .is_some_and(|e| e.hook.is_some() && e.file.strong_count() > 0)
    }

    /// Turns O_ASYNC on or off. A file whose readiness never changes gets
    /// no signals (as regular files on Linux).
    pub fn set_async(&self, kernel: &Arc<Kernel>, f: &Arc<dyn FileDescription>, on: bool) {
        let mut map = self.lock();
        let k = key(f);
        let e = Self::entry(&mut map, f);
        match (on, e.hook) {
            (true, None) => {
                let Some(q) = f.wait_queue() else {
                    // Still shown by F_GETFL: a dummy id.
                    e.hook = Some(0);
                    return;
                };
                let weak = Arc::downgrade(kernel);
                e.hook = Some(q.add_hook(Arc::new(move || {
                    if let Some(kern) = weak.upgrade() {
                        kern.fasync.fire(&kern, k, 0);
                    }
                })));
            }
            (false, Some(id)) => {
                if id != 0 {
                    if let Some(q) = f.wait_queue() {
                        q.remove_hook(id);
                    }
                }
                e.hook = None;
            }
            _ => {}
        }
    }

    /// Sends the owner of file `k` its signal.
    fn fire(&self, kernel: &Kernel, k: usize, _band: u32) {
        let (owner, sig) = {
            let map = self.lock();
            match map.get(&k) {
                Some(e) if e.file.strong_count() > 0 && e.owner.id != 0 => (e.owner.clone(), e.sig),
                _ => return,
            }
        };
        let signo = if sig == 0 { libc::SIGIO as u32 } else { sig };
        match owner.kind {
            F_OWNER_PGRP => {
                // The process table may be held by whoever notified (a
                // process closing its files as it exits): never wait for it.
                for _ in 0..64 {
                    if let Some(procs) = kernel.try_procs() {
                        let targets: Vec<Arc<ThreadGroup>> = procs
                            .tgs
                            .values()
                            .filter(|tg| tg.lock().pgid == owner.id)
                            .cloned()
                            .collect();
                        drop(procs);
                        for tg in targets {
                            signal::send_to_process(&tg, Signal(signo), SigInfo::kernel(signo));
                        }
                        return;
                    }
                    std::thread::yield_now();
                }
            }
            _ => {
                if let Some(tg) = owner.tg.upgrade() {
                    signal::send_to_process(&tg, Signal(signo), SigInfo::kernel(signo));
                }
            }
        }
    }
}
