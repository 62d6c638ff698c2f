//! File-system change notification (inotify's watch side).
//!
//! Watches are kept per [`super::Vfs`] in one [`Notify`] registry, keyed by
//! the watched inode's identity (st_dev, st_ino), so every file system is
//! covered (tmpfs, gofer, overlay). Events are raised by the VFS after an
//! operation succeeded: name operations (create, unlink, rename, link,
//! setattr, xattrs) in [`super::Vfs`], and the operations of an open file
//! (read, write, truncate, close...) in [`Watched`], the wrapper the VFS puts
//! around every file it opens. The inotify instances
//! ([`crate::fsimpl::inotify::Inotify`]) receive the events in their queues.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{Detached, FileDescription, Fs, SetAttr, Stat, TaskContext, Whence, S_IFDIR, S_IFMT};
use crate::errno::{Errno, SysResult};
use crate::waiter::WaitQueue;

/// Event bits (linux/inotify.h).
pub const IN_ACCESS: u32 = 0x1;
/// File modified.
pub const IN_MODIFY: u32 = 0x2;
/// Metadata changed.
pub const IN_ATTRIB: u32 = 0x4;
/// Writable file closed.
pub const IN_CLOSE_WRITE: u32 = 0x8;
/// Unwritable file closed.
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
/// File opened.
pub const IN_OPEN: u32 = 0x20;
/// Moved out of the watched directory.
pub const IN_MOVED_FROM: u32 = 0x40;
/// Moved into the watched directory.
pub const IN_MOVED_TO: u32 = 0x80;
/// Created in the watched directory.
pub const IN_CREATE: u32 = 0x100;
/// Deleted from the watched directory.
pub const IN_DELETE: u32 = 0x200;
/// The watched inode was deleted.
pub const IN_DELETE_SELF: u32 = 0x400;
/// The watched inode was moved.
pub const IN_MOVE_SELF: u32 = 0x800;
/// Its file system was unmounted.
pub const IN_UNMOUNT: u32 = 0x2000;
/// The event queue overflowed.
pub const IN_Q_OVERFLOW: u32 = 0x4000;
/// The watch was removed.
pub const IN_IGNORED: u32 = 0x8000;
/// Watch only directories.
pub const IN_ONLYDIR: u32 = 0x0100_0000;
/// Do not follow a final symlink.
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
/// No events for children once unlinked.
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
/// Fail if the watch exists.
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
/// Add to the mask of an existing watch.
pub const IN_MASK_ADD: u32 = 0x2000_0000;
/// The subject is a directory.
pub const IN_ISDIR: u32 = 0x4000_0000;
/// Remove the watch after one event.
pub const IN_ONESHOT: u32 = 0x8000_0000;
/// Every event a watch may ask for.
pub const IN_ALL_EVENTS: u32 = 0xfff;
/// Every bit inotify_add_watch knows (Linux's ALL_INOTIFY_BITS).
pub const ALL_INOTIFY_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | IN_ONESHOT;

/// /proc/sys/fs/inotify/max_queued_events.
pub const MAX_QUEUED_EVENTS: usize = 16384;
/// /proc/sys/fs/inotify/max_user_instances.
pub const MAX_USER_INSTANCES: usize = 128;
/// /proc/sys/fs/inotify/max_user_watches.
pub const MAX_USER_WATCHES: usize = 65536;

/// An inode's identity: (st_dev, st_ino).
pub type Key = (u64, u64);

/// The identity of a file with status `st`.
pub fn key_of(st: &Stat) -> Key {
    (st.dev, st.ino)
}

/// One queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Watch descriptor (-1 for IN_Q_OVERFLOW).
    pub wd: i32,
    /// Mask.
    pub mask: u32,
    /// Rename cookie.
    pub cookie: u32,
    /// Name in the watched directory (empty: none).
    pub name: Vec<u8>,
}

impl Event {
    /// The `len` field: the name, its NUL and padding to 16 bytes.
    pub fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).div_ceil(16) * 16
        }
    }
    /// Bytes of `struct inotify_event` plus the name.
    pub fn size(&self) -> usize {
        16 + self.name_len()
    }
    /// Appends the record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.name_len();
        out.extend_from_slice(&self.wd.to_le_bytes());
        out.extend_from_slice(&self.mask.to_le_bytes());
        out.extend_from_slice(&self.cookie.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        let start = out.len();
        out.extend_from_slice(&self.name);
        out.resize(start + len, 0);
    }
}

/// One watch of an instance.
#[derive(Clone, Copy, Debug)]
pub struct Watch {
    /// The inode.
    pub key: Key,
    /// Events and IN_ONESHOT / IN_EXCL_UNLINK.
    pub mask: u32,
}

/// An inotify instance's state: its watches and event queue.
#[derive(Default)]
pub struct Instance {
    state: Mutex<InstanceState>,
    /// Readers and pollers.
    pub wq: WaitQueue,
}

/// What [`Instance`] guards.
#[derive(Default)]
pub struct InstanceState {
    /// wd → watch.
    pub watches: HashMap<i32, Watch>,
    /// inode → wd.
    pub by_key: HashMap<Key, i32>,
    /// The last wd handed out.
    pub last_wd: i32,
    /// Events not read yet.
    pub queue: VecDeque<Event>,
}

impl InstanceState {
    /// Queues `e` as Linux does: an IN_Q_OVERFLOW (once) when the queue is
    /// full, nothing when `e` repeats the last event not read yet.
    pub fn push(&mut self, e: Event) {
        let last = self.queue.back();
        if self.queue.len() >= MAX_QUEUED_EVENTS {
            if last.is_none_or(|l| l.mask != IN_Q_OVERFLOW) {
                self.queue.push_back(Event {
                    wd: -1,
                    mask: IN_Q_OVERFLOW,
                    cookie: 0,
                    name: Vec::new(),
                });
            }
            return;
        }
        if let Some(l) = last {
            if l.mask & IN_IGNORED == 0 && l.mask == e.mask && l.wd == e.wd && l.name == e.name {
                return;
            }
        }
        self.queue.push_back(e);
    }

    /// Bytes of the queued events (FIONREAD).
    pub fn queued_bytes(&self) -> usize {
        self.queue.iter().map(Event::size).sum()
    }
}

impl Instance {
    /// Its state, locked.
    pub fn lock(&self) -> MutexGuard<'_, InstanceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct Registry {
    /// inode → (instance id, instance) of every watch on it.
    by_key: HashMap<Key, Vec<(u64, Arc<Instance>)>>,
    /// uid → instances.
    instances: HashMap<u32, usize>,
    /// uid → watches.
    watches: HashMap<u32, usize>,
    /// instance id → its owner's uid.
    owners: HashMap<u64, u32>,
    last_id: u64,
}

/// The watches of a VFS.
#[derive(Default)]
pub struct Notify {
    /// Watches in place (events are looked for only when there are some).
    active: AtomicUsize,
    reg: Mutex<Registry>,
    cookie: AtomicU32,
    /// Inodes with open files whose identity is known: (files, whether
    /// the last link is gone). IN_DELETE_SELF waits for the last close.
    open: Mutex<HashMap<Key, (usize, bool)>>,
}

/// Where [`Notify::add_watch`] found the inode.
pub struct Target {
    /// Its identity.
    pub key: Key,
    /// Whether it is a directory.
    pub dir: bool,
}

impl Notify {
    fn reg(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any watch is in place.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// A fresh rename cookie.
    pub fn cookie(&self) -> u32 {
        self.cookie.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Registers a new instance of `uid`: its id; EMFILE past
    /// max_user_instances.
    pub fn new_instance(&self, uid: u32) -> SysResult<u64> {
        let mut r = self.reg();
        let n = r.instances.entry(uid).or_default();
        if *n >= MAX_USER_INSTANCES {
            return Err(Errno::EMFILE);
        }
        *n += 1;
        r.last_id += 1;
        let id = r.last_id;
        r.owners.insert(id, uid);
        Ok(id)
    }

    /// Drops instance `id` and its watches (its file was closed).
    pub fn drop_instance(&self, id: u64, inst: &Instance) {
        let mut r = self.reg();
        let st = inst.lock();
        let keys: Vec<Key> = st.watches.values().map(|w| w.key).collect();
        drop(st);
        for k in keys {
            Self::unlink_watch(&mut r, &self.active, k, id);
        }
        if let Some(uid) = r.owners.remove(&id) {
            if let Some(n) = r.instances.get_mut(&uid) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn unlink_watch(r: &mut Registry, active: &AtomicUsize, key: Key, id: u64) {
        if let Some(v) = r.by_key.get_mut(&key) {
            let before = v.len();
            v.retain(|(i, _)| *i != id);
            if v.len() < before {
                active.fetch_sub(1, Ordering::Relaxed);
                if let Some(uid) = r.owners.get(&id).copied() {
                    if let Some(n) = r.watches.get_mut(&uid) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            if v.is_empty() {
                r.by_key.remove(&key);
            }
        }
    }

    /// inotify_add_watch on the inode `t` (the caller checked the path and
    /// permissions): the watch descriptor.
    pub fn add_watch(
        &self,
        id: u64,
        inst: &Arc<Instance>,
        t: &Target,
        mask: u32,
    ) -> SysResult<i32> {
        let mut r = self.reg();
        let mut st = inst.lock();
        let bits = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
        if let Some(&wd) = st.by_key.get(&t.key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            if let Some(w) = st.watches.get_mut(&wd) {
                w.mask = if mask & IN_MASK_ADD != 0 {
                    w.mask | bits
                } else {
                    bits
                };
            }
            return Ok(wd);
        }
        let uid = r.owners.get(&id).copied().unwrap_or(0);
        let n = r.watches.get(&uid).copied().unwrap_or(0);
        if n >= MAX_USER_WATCHES {
            return Err(Errno::ENOSPC);
        }
        // Linux hands out the lowest wd above the last one (cyclically).
        let mut wd = st.last_wd;
        loop {
            wd = if wd == i32::MAX { 1 } else { wd + 1 };
            if !st.watches.contains_key(&wd) {
                break;
            }
        }
        st.last_wd = wd;
        st.watches.insert(
            wd,
            Watch {
                key: t.key,
                mask: bits,
            },
        );
        st.by_key.insert(t.key, wd);
        drop(st);
        *r.watches.entry(uid).or_default() += 1;
        r.by_key.entry(t.key).or_default().push((id, inst.clone()));
        self.active.fetch_add(1, Ordering::Relaxed);
        Ok(wd)
    }

    /// inotify_rm_watch: queues IN_IGNORED; EINVAL for an unknown wd.
    pub fn rm_watch(&self, id: u64, inst: &Instance, wd: i32) -> SysResult<()> {
        let mut r = self.reg();
        let mut st = inst.lock();
        let w = st.watches.remove(&wd).ok_or(Errno::EINVAL)?;
        st.by_key.remove(&w.key);
        st.push(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        drop(st);
        Self::unlink_watch(&mut r, &self.active, w.key, id);
        drop(r);
        inst.wq.notify_all();
        Ok(())
    }

    /// Delivers `mask` to the watches on `key`; `name` for a directory's
    /// child. `excl` skips watches with IN_EXCL_UNLINK (the child is
    /// unlinked). `gone`: the inode is gone: IN_IGNORED follows and the
    /// watches go.
    fn deliver(&self, key: Key, mask: u32, cookie: u32, name: &[u8], excl: bool, gone: bool) {
        let mut r = self.reg();
        let Some(list) = r.by_key.get(&key) else {
            return;
        };
        let mut woken: Vec<Arc<Instance>> = Vec::new();
        let mut removed: Vec<u64> = Vec::new();
        for (id, inst) in list {
            let mut st = inst.lock();
            let Some(&wd) = st.by_key.get(&key) else {
                continue;
            };
            let Some(w) = st.watches.get(&wd).copied() else {
                continue;
            };
            if excl && w.mask & IN_EXCL_UNLINK != 0 {
                continue;
            }
            let mut queued = false;
            if w.mask & mask & IN_ALL_EVENTS != 0 {
                st.push(Event {
                    wd,
                    mask,
                    cookie,
                    name: name.to_vec(),
                });
                queued = true;
            }
            if gone || (queued && w.mask & IN_ONESHOT != 0) {
                st.watches.remove(&wd);
                st.by_key.remove(&key);
                st.push(Event {
                    wd,
                    mask: IN_IGNORED,
                    cookie: 0,
                    name: Vec::new(),
                });
                removed.push(*id);
                queued = true;
            }
            if queued {
                woken.push(inst.clone());
            }
        }
        for id in removed {
            Self::unlink_watch(&mut r, &self.active, key, id);
        }
        drop(r);
        for i in woken {
            i.wq.notify_all();
        }
    }

    /// An event of the inode `key` itself (no name).
    pub fn inode_event(&self, key: Key, mask: u32, dir: bool) {
        if self.active() {
            self.deliver(
                key,
                mask | if dir { IN_ISDIR } else { 0 },
                0,
                b"",
                false,
                false,
            );
        }
    }

    /// An event of the directory `dir` about its entry `name`.
    pub fn dir_event(&self, dir: Key, mask: u32, name: &[u8], isdir: bool, cookie: u32) {
        if self.active() {
            let m = mask | if isdir { IN_ISDIR } else { 0 };
            self.deliver(dir, m, cookie, name, false, false);
        }
    }

    /// An event of a file (open, access, modify, attrib, close): to the
    /// watches of its directory `parent` with its name (unless it is
    /// unlinked and they have IN_EXCL_UNLINK), then to its own.
    pub fn file_event(&self, parent: Option<(Key, &[u8], bool)>, key: Key, mask: u32, dir: bool) {
        if !self.active() {
            return;
        }
        let m = mask | if dir { IN_ISDIR } else { 0 };
        if let Some((p, name, linked)) = parent {
            self.deliver(p, m, 0, name, !linked, false);
        }
        self.deliver(key, m, 0, b"", false, false);
    }

    /// The inode `key` is gone (its last link removed): IN_DELETE_SELF
    /// (without IN_ISDIR, as Linux), then IN_IGNORED, and its watches go.
    pub fn inode_gone(&self, key: Key) {
        if self.active() {
            self.deliver(key, IN_DELETE_SELF, 0, b"", false, true);
        }
    }

    fn open_files(&self) -> MutexGuard<'_, HashMap<Key, (usize, bool)>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A file of `key` is open.
    fn opened(&self, key: Key) {
        self.open_files().entry(key).or_default().0 += 1;
    }

    /// A file of `key` was closed for the last time: IN_DELETE_SELF then,
    /// if its last link went while it was open.
    fn closed(&self, key: Key) {
        let gone = {
            let mut o = self.open_files();
            match o.get_mut(&key) {
                Some(e) if e.0 > 1 => {
                    e.0 -= 1;
                    false
                }
                Some(_) => o.remove(&key).is_some_and(|e| e.1),
                None => false,
            }
        };
        if gone {
            self.inode_gone(key);
        }
    }

    /// The last link of `key` is gone: IN_DELETE_SELF now, or at the last
    /// close of its open files, as Linux.
    pub fn unlinked(&self, key: Key) {
        if !self.active() {
            return;
        }
        if let Some(e) = self.open_files().get_mut(&key) {
            e.1 = true;
            return;
        }
        self.inode_gone(key);
    }

    /// Watches in place on `key` (tests).
    pub fn watched(&self, key: Key) -> usize {
        self.reg().by_key.get(&key).map_or(0, Vec::len)
    }
}

/// The events a change of attributes `a` raises (Linux's fsnotify_change).
pub fn setattr_mask(a: &SetAttr) -> u32 {
    let mut m = 0;
    if a.uid.is_some() || a.gid.is_some() || a.mode.is_some() {
        m |= IN_ATTRIB;
    }
    if a.size.is_some() {
        m |= IN_MODIFY;
    }
    match (a.atime.is_some(), a.mtime.is_some()) {
        (true, true) => m |= IN_ATTRIB,
        (true, false) => m |= IN_ACCESS,
        (false, true) => m |= IN_MODIFY,
        _ => {}
    }
    m
}

/// A file the VFS opened: forwards everything to the file and raises the
/// events of its reads, writes, changes and last close.
pub struct Watched {
    inner: Arc<dyn FileDescription>,
    notify: Arc<Notify>,
    /// The file system it was opened in and its path there.
    fs: Arc<dyn Fs>,
    rel: String,
    /// Opened for writing (IN_CLOSE_WRITE at close).
    write: bool,
    /// Its identity and whether it is a directory, once known.
    id: OnceLock<Option<(Key, bool)>>,
}

impl Watched {
    /// Wraps `inner`, opened at `rel` of `fs` with open `flags`.
    pub fn new(
        inner: Arc<dyn FileDescription>,
        notify: Arc<Notify>,
        fs: Arc<dyn Fs>,
        rel: &str,
        flags: u32,
    ) -> Arc<Watched> {
        let acc = flags as i32 & libc::O_ACCMODE;
        let w = Watched {
            inner,
            notify,
            fs,
            rel: rel.to_string(),
            write: acc == libc::O_WRONLY || acc == libc::O_RDWR,
            id: OnceLock::new(),
        };
        if w.notify.active() {
            w.ident();
        }
        Arc::new(w)
    }

    fn ident(&self) -> Option<(Key, bool)> {
        *self.id.get_or_init(|| {
            let s = self.inner.stat().ok()?;
            let key = self.fs.notify_key(&self.rel, &s);
            self.notify.opened(key);
            Some((key, s.mode & S_IFMT == S_IFDIR))
        })
    }

    /// The identity of what `path` of its file system names now.
    fn key_at(&self, path: &str) -> Option<Key> {
        let st = self.fs.lstat(&Detached, path).ok()?;
        Some(self.fs.notify_key(path, &st))
    }

    /// Raises `mask` on the file and its directory.
    pub fn event(&self, mask: u32) {
        if !self.notify.active() {
            return;
        }
        let Some((key, dir)) = self.ident() else {
            return;
        };
        let (parent, name) = super::split_parent(&self.rel);
        let parent_entry = if self.rel.is_empty() {
            None
        } else {
            self.key_at(parent).map(|p| (p, name.as_bytes()))
        };
        let parent = parent_entry.map(|(p, n)| {
            let linked = self.key_at(&self.rel) == Some(key);
            (p, n, linked)
        });
        self.notify.file_event(parent, key, mask, dir);
    }

    /// The wrapped file.
    pub fn inner(&self) -> &Arc<dyn FileDescription> {
        &self.inner
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.event(if self.write {
            IN_CLOSE_WRITE
        } else {
            IN_CLOSE_NOWRITE
        });
        if let Some(Some((key, _))) = self.id.get() {
            self.notify.closed(*key);
        }
    }
}

impl FileDescription for Watched {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        let n = self.inner.read(ctx, buf)?;
        if n > 0 {
            self.event(IN_ACCESS);
        }
        Ok(n)
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        let n = self.inner.write(ctx, buf)?;
        if n > 0 {
            self.event(IN_MODIFY);
        }
        Ok(n)
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        let n = self.inner.pread(buf, offset)?;
        if n > 0 {
            self.event(IN_ACCESS);
        }
        Ok(n)
    }
    fn pwrite(&self, buf: &[u8], offset: u64) -> SysResult<usize> {
        let n = self.inner.pwrite(buf, offset)?;
        if n > 0 {
            self.event(IN_MODIFY);
        }
        Ok(n)
    }
    fn pwrite_rwf(&self, buf: &[u8], offset: u64, append: bool) -> SysResult<(u64, usize)> {
        let r = self.inner.pwrite_rwf(buf, offset, append)?;
        if r.1 > 0 {
            self.event(IN_MODIFY);
        }
        Ok(r)
    }
    fn anon_name(&self) -> Option<&'static str> {
        self.inner.anon_name()
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        self.inner.seek(offset, whence)
    }
    fn stat(&self) -> SysResult<Stat> {
        self.inner.stat()
    }
    fn seek_data(&self, offset: i64, hole: bool) -> SysResult<u64> {
        self.inner.seek_data(offset, hole)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let n = self.inner.getdents64(buf)?;
        self.event(IN_ACCESS);
        Ok(n)
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        self.inner.truncate(size)?;
        self.event(IN_MODIFY);
        Ok(())
    }
    fn allocate(&self, mode: u32, offset: u64, len: u64) -> SysResult<()> {
        self.inner.allocate(mode, offset, len)?;
        self.event(IN_MODIFY);
        Ok(())
    }
    fn setattr(&self, a: &SetAttr) -> SysResult<()> {
        self.inner.setattr(a)?;
        let m = setattr_mask(a);
        if m != 0 {
            self.event(m);
        }
        Ok(())
    }
    fn ioctl_tty(&self, request: u64, out: &mut [u8]) -> SysResult<()> {
        self.inner.ioctl_tty(request, out)
    }
    fn status_flags(&self) -> u32 {
        self.inner.status_flags()
    }
    fn set_status_flags(&self, flags: u32) {
        self.inner.set_status_flags(flags)
    }
    fn path(&self) -> Option<String> {
        self.inner.path()
    }
    fn set_path(&self, path: &str) {
        self.inner.set_path(path)
    }
    fn reopen(&self, flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        self.inner.reopen(flags)
    }
    fn readiness(&self) -> u32 {
        self.inner.readiness()
    }
    fn readiness_for(&self, ctx: &dyn TaskContext) -> u32 {
        self.inner.readiness_for(ctx)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        self.inner.wait_queue()
    }
    fn always_ready(&self) -> bool {
        self.inner.always_ready()
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        self.inner.ioctl(ctx, req, arg)
    }
    fn page_cache(
        &self,
        mem: &Arc<crate::platform::MemoryFile>,
    ) -> SysResult<Option<Arc<crate::mm::PageCache>>> {
        self.inner.page_cache(mem)
    }
    fn socket(&self) -> Option<&dyn super::socket::Socket> {
        self.inner.socket()
    }
    fn as_any(&self) -> &dyn Any {
        self.inner.as_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(wd: i32, mask: u32, name: &str) -> Event {
        Event {
            wd,
            mask,
            cookie: 0,
            name: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn record_sizes_are_padded_to_16() {
        assert_eq!(ev(1, IN_OPEN, "").size(), 16);
        assert_eq!(ev(1, IN_OPEN, "a").size(), 32);
        assert_eq!(ev(1, IN_OPEN, &"x".repeat(15)).size(), 32);
        assert_eq!(ev(1, IN_OPEN, &"x".repeat(16)).size(), 48);
        let mut out = Vec::new();
        ev(3, IN_CREATE, "ab").encode(&mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(&out[12..16], &16u32.to_le_bytes());
        assert_eq!(&out[16..19], b"ab\0");
    }

    #[test]
    fn identical_events_coalesce_and_queue_overflows_once() {
        let mut s = InstanceState::default();
        s.push(ev(1, IN_MODIFY, "f"));
        s.push(ev(1, IN_MODIFY, "f"));
        s.push(ev(1, IN_MODIFY, "g"));
        s.push(ev(1, IN_MODIFY, "f"));
        assert_eq!(s.queue.len(), 3);
        for i in 0..MAX_QUEUED_EVENTS * 2 {
            s.push(ev(1, IN_MODIFY, &i.to_string()));
        }
        assert_eq!(s.queue.len(), MAX_QUEUED_EVENTS + 1);
        assert_eq!(s.queue.back().map(|e| e.mask), Some(IN_Q_OVERFLOW));
    }

    #[test]
    fn watches_oneshot_and_removal() {
        let n = Notify::default();
        let inst = Arc::new(Instance::default());
        let id = n.new_instance(0).unwrap();
        let t = Target {
            key: (1, 2),
            dir: false,
        };
        let wd = n.add_watch(id, &inst, &t, IN_MODIFY | IN_ONESHOT).unwrap();
        assert_eq!(
            n.add_watch(id, &inst, &t, IN_ACCESS | IN_ONESHOT | IN_MASK_ADD)
                .unwrap(),
            wd
        );
        assert_eq!(
            n.add_watch(id, &inst, &t, IN_ACCESS | IN_MASK_CREATE),
            Err(Errno::EEXIST)
        );
        n.inode_event((1, 2), IN_ATTRIB, false);
        assert!(inst.lock().queue.is_empty());
        n.inode_event((1, 2), IN_MODIFY, false);
        let q: Vec<u32> = inst.lock().queue.iter().map(|e| e.mask).collect();
        assert_eq!(q, vec![IN_MODIFY, IN_IGNORED]);
        assert_eq!(n.watched((1, 2)), 0);
        assert!(!n.active());
        assert_eq!(n.rm_watch(id, &inst, wd), Err(Errno::EINVAL));
        n.drop_instance(id, &inst);
    }

    #[test]
    fn delete_self_waits_for_the_last_close() {
        let n = Notify::default();
        let inst = Arc::new(Instance::default());
        let id = n.new_instance(0).unwrap();
        let t = Target {
            key: (1, 9),
            dir: false,
        };
        n.add_watch(id, &inst, &t, IN_DELETE_SELF).unwrap();
        n.opened((1, 9));
        n.opened((1, 9));
        n.unlinked((1, 9));
        n.closed((1, 9));
        assert!(inst.lock().queue.is_empty());
        n.closed((1, 9));
        let q: Vec<u32> = inst.lock().queue.iter().map(|e| e.mask).collect();
        assert_eq!(q, vec![IN_DELETE_SELF, IN_IGNORED]);
        assert!(n.open_files().is_empty());
    }

    #[test]
    fn instances_are_limited_per_user() {
        let n = Notify::default();
        for _ in 0..MAX_USER_INSTANCES {
            n.new_instance(5).unwrap();
        }
        assert_eq!(n.new_instance(5), Err(Errno::EMFILE));
        assert!(n.new_instance(6).is_ok());
    }
}
