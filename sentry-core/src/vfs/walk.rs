//! The VFS: a mount table and the path walk. Paths are resolved in the
//! sentry, component by component: `.` and `..`, symlinks (at most 40, then
//! ELOOP), mount points, trailing slashes, ENAMETOOLONG. File systems below
//! only ever see canonical paths.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::mounts::Mount;
use super::notify::{self, key_of, Notify};
use super::{
    split_parent, At, FileDescription, Fs, SetAttr, Start, Stat, TaskContext, S_IFDIR, S_IFLNK,
    S_IFMT,
};
use crate::errno::{Errno, SysResult};

/// Most symlinks followed in one lookup.
const MAX_LINKS: usize = 40;
/// Longest path accepted.
const PATH_MAX: usize = 4096;

/// The mount table.
pub struct Vfs {
    /// The mounts, longest mount point first, the newest first among
    /// mounts stacked on one point (the one lookups see).
    mounts: RwLock<Vec<Mount>>,
    /// inotify watches on the inodes of these file systems.
    notify: Arc<Notify>,
}

/// A resolved path: absolute, canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The path ("/" for the root).
    pub abs: String,
    /// Whether the original path ended with a slash (must be a directory).
    pub trailing_slash: bool,
}

impl Vfs {
    /// A VFS with `root` mounted at "/".
    pub fn new(root: Arc<dyn Fs>) -> Self {
        Vfs {
            mounts: RwLock::new(vec![Mount::new(String::new(), root)]),
            notify: Arc::default(),
        }
    }

    /// Mounts `fs` at the absolute path `at` (which need not exist below),
    /// replacing what was mounted there (the runtime's set-up).
    pub fn mount(&self, at: &str, fs: Arc<dyn Fs>) {
        let at = at.trim_end_matches('/').to_string();
        let mut m = self.table_mut();
        m.retain(|e| e.point != at);
        m.push(Mount::new(at, fs));
        m.sort_by_key(|e| std::cmp::Reverse(e.point.len()));
    }

    /// A copy of this mount table (unshare/clone CLONE_NEWNS): the same
    /// file systems, mounted and unmounted independently from now on.
    pub fn copy_table(&self) -> Vfs {
        Vfs {
            mounts: RwLock::new(self.table().clone()),
            notify: self.notify.clone(),
        }
    }

    pub(super) fn table(&self) -> RwLockReadGuard<'_, Vec<Mount>> {
        self.mounts.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn table_mut(&self) -> RwLockWriteGuard<'_, Vec<Mount>> {
        self.mounts.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The inotify watches of this mount table.
    pub fn notify(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// The status of a canonical absolute path for events (only looked at
    /// while watches exist), its st_dev and st_ino the identity watches
    /// know it by ([`Fs::notify_key`]).
    fn ident(&self, ctx: &dyn TaskContext, abs: &str) -> Option<Stat> {
        if !self.notify.active() {
            return None;
        }
        let st = self.lstat_abs(ctx, abs).ok()?;
        Some(self.keyed(abs, st))
    }

    /// `st` of `abs` with the identity watches know it by.
    fn keyed(&self, abs: &str, mut st: Stat) -> Stat {
        let (fs, rel) = self.locate(abs);
        (st.dev, st.ino) = fs.notify_key(rel, &st);
        st
    }

    /// The directory holding `abs` (None for a file system's root, which
    /// has no parent for inotify) and the entry's name.
    fn parent_ident<'p>(&self, ctx: &dyn TaskContext, abs: &'p str) -> Option<(Stat, &'p str)> {
        if !self.notify.active() || self.locate(abs).1.is_empty() {
            return None;
        }
        let (parent, name) = split_parent(abs);
        let p = self.ident(ctx, if parent.is_empty() { "/" } else { parent })?;
        Some((p, name))
    }

    /// The status of the file `path` names and the identity a watch on it
    /// has (inotify_add_watch).
    pub fn watch_target(
        &self,
        start: &Start<'_>,
        path: &[u8],
        follow: bool,
    ) -> SysResult<(Stat, notify::Key)> {
        let r = self.resolve(start, path, follow)?;
        let st = self.lstat_abs(start.ctx, &r.abs)?;
        if r.trailing_slash && st.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let k = key_of(&self.keyed(&r.abs, st));
        Ok((st, k))
    }

    /// IN_CREATE for the new entry `abs`.
    fn created(&self, ctx: &dyn TaskContext, abs: &str) {
        if let Some((p, name)) = self.parent_ident(ctx, abs) {
            let dir = self
                .ident(ctx, abs)
                .is_some_and(|s| s.mode & S_IFMT == S_IFDIR);
            self.notify
                .dir_event(key_of(&p), notify::IN_CREATE, name.as_bytes(), dir, 0);
        }
    }

    /// An event of the file at `abs` to its own watches and its
    /// directory's.
    pub fn file_event_abs(&self, ctx: &dyn TaskContext, abs: &str, mask: u32) {
        let Some(st) = self.ident(ctx, abs) else {
            return;
        };
        let parent = self.parent_ident(ctx, abs);
        self.notify.file_event(
            parent
                .as_ref()
                .map(|(p, n)| (key_of(p), n.as_bytes(), true)),
            key_of(&st),
            mask,
            st.mode & S_IFMT == S_IFDIR,
        );
    }

    /// The entry `abs` (status `st`) was removed from its directory
    /// (`parent`): IN_ATTRIB for the link count, IN_DELETE_SELF and
    /// IN_IGNORED when that was its last link, IN_DELETE in the directory.
    fn removed(&self, st: &Stat, parent: Option<(Stat, &str)>) {
        let dir = st.mode & S_IFMT == S_IFDIR;
        if !dir {
            self.notify
                .inode_event(key_of(st), notify::IN_ATTRIB, false);
        }
        if dir || st.nlink <= 1 {
            self.notify.unlinked(key_of(st));
        }
        if let Some((p, name)) = parent {
            self.notify
                .dir_event(key_of(&p), notify::IN_DELETE, name.as_bytes(), dir, 0);
        }
    }

    /// The mounted file systems (the kernel connects its network view to
    /// the sysfs among them).
    pub fn file_systems(&self) -> Vec<Arc<dyn Fs>> {
        self.table().iter().map(|e| e.base.clone()).collect()
    }

    /// The file system holding `abs` and the path inside it.
    pub(super) fn locate<'a>(&self, abs: &'a str) -> (Arc<dyn Fs>, &'a str) {
        let table = self.table();
        let i = Self::mount_index(&table, abs);
        let rel = abs[table[i].point.len().min(abs.len())..].trim_start_matches('/');
        (table[i].fs.clone(), rel)
    }

    /// The index of the mount holding `abs` in `table`.
    pub(super) fn mount_index(table: &[Mount], abs: &str) -> usize {
        for (i, e) in table.iter().enumerate() {
            let m = &e.point;
            if m.is_empty() {
                return i;
            }
            if let Some(rest) = abs.strip_prefix(m.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return i;
                }
            }
        }
        // The root mount always matches.
        table.len() - 1
    }

    /// lstat of a canonical absolute path. A missing directory on the way
    /// to a mount point (`/etc` of a mount at `/etc/hosts` in a root without
    /// `/etc`) is a bare directory, as the runtime would have made it.
    pub fn lstat_abs(&self, ctx: &dyn TaskContext, abs: &str) -> SysResult<Stat> {
        let (fs, rel) = self.locate(abs);
        match fs.lstat(ctx, rel) {
            Err(Errno::ENOENT) if self.leads_to_mount(abs) => Ok(Stat {
                ino: 1,
                nlink: 2,
                mode: S_IFDIR | 0o755,
                blksize: 4096,
                ..Default::default()
            }),
            r => r,
        }
    }

    /// Whether a mount point lies strictly below `abs`.
    fn leads_to_mount(&self, abs: &str) -> bool {
        let abs = abs.trim_end_matches('/');
        self.table().iter().any(|e| {
            let m = &e.point;
            m.len() > abs.len() && m.starts_with(abs) && m.as_bytes()[abs.len()] == b'/'
        })
    }

    fn readlink_abs(&self, ctx: &dyn TaskContext, abs: &str) -> SysResult<Vec<u8>> {
        let (fs, rel) = self.locate(abs);
        fs.readlink(ctx, rel)
    }

    fn start_dir(start: &Start<'_>) -> SysResult<String> {
        match start.at {
            At::Cwd(c) => Ok(c.to_string()),
            At::Dir(f) => {
                let p = f.path().ok_or(Errno::ENOTDIR)?;
                let st = f.stat()?;
                if st.mode & S_IFMT != S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                Ok(p)
            }
        }
    }

    /// Resolves `path` from `start`. Every component but the last must
    /// exist; the last is followed when it is a symlink and `follow`.
    pub fn resolve(&self, start: &Start<'_>, path: &[u8], follow: bool) -> SysResult<Resolved> {
        self.resolve_with(start, path, follow, 0)
    }

    /// Which mount holds canonical absolute path `abs` (its mountinfo id).
    fn mount_id_of(&self, abs: &str) -> u32 {
        let table = self.table();
        table[Self::mount_index(&table, abs)].id
    }

    /// Whether the symlink at canonical `abs` is a procfs "magic" link
    /// (/proc/PID[/task/TID]/{fd/N,exe,cwd,root,ns/*,map_files/*}), which
    /// jumps to a file rather than naming a path.
    fn is_magic_link(&self, abs: &str) -> bool {
        const PROC: u64 = 0x9fa0;
        let (fs, rel) = self.locate(abs);
        if fs.fs_type() != PROC {
            return false;
        }
        let c: Vec<&str> = rel.split('/').collect();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let rest = match c.as_slice() {
            [p, "task", t, rest @ ..] if digits(p) && digits(t) => rest,
            [p, rest @ ..] if digits(p) => rest,
            _ => return false,
        };
        matches!(
            rest,
            ["exe"] | ["cwd"] | ["root"] | ["fd", _] | ["ns", _] | ["map_files", _]
        )
    }

    /// [`Vfs::resolve`] under openat2's RESOLVE_* restrictions (`how`):
    /// NO_XDEV (1) no mount crossed, NO_MAGICLINKS (2) and NO_SYMLINKS (4)
    /// ELOOP for links followed, BENEATH (8) EXDEV for anything leaving the
    /// start directory (an absolute path or link, ".." above it, a magic
    /// link), IN_ROOT (0x10) the start directory is the root. A magic link
    /// that is allowed is EXDEV under any restriction other than the two
    /// NO_*LINKS ones (its jump cannot be checked); callers without
    /// restrictions follow it as open(2) does.
    pub fn resolve_with(
        &self,
        start: &Start<'_>,
        path: &[u8],
        follow: bool,
        how: u64,
    ) -> SysResult<Resolved> {
        const NO_XDEV: u64 = 1;
        const NO_MAGICLINKS: u64 = 2;
        const NO_SYMLINKS: u64 = 4;
        const BENEATH: u64 = 8;
        const IN_ROOT: u64 = 0x10;
        let scoped = how & (BENEATH | IN_ROOT) != 0;
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let text = std::str::from_utf8(path).map_err(|_| Errno::EINVAL)?;
        let trailing_slash = text.ends_with('/');
        // The task's root (chroot): absolute paths and symlinks start there, ".." stops there.
        let root: Vec<String> = if start.real {
            Vec::new()
        } else {
            start
                .ctx
                .chroot()
                .map(|r| {
                    r.split('/')
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out: Vec<String> = Vec::new();
        // BENEATH and IN_ROOT: the start directory is the root, which
        // BENEATH may not leave and IN_ROOT cannot.
        let base: Vec<String> = if !text.starts_with('/') || scoped {
            let base = Self::start_dir(start)?;
            base.split('/')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        };
        let root = if scoped { base.clone() } else { root };
        if text.starts_with('/') {
            if how & BENEATH != 0 {
                return Err(Errno::EXDEV);
            }
            out.clone_from(&root);
        } else {
            out = base;
        }
        let mount = self.mount_id_of(&format!("/{}", out.join("/")));
        let mut pending: std::collections::VecDeque<String> = text
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c.len() > 255 {
                return Err(Errno::ENAMETOOLONG);
            }
            match c.as_str() {
                "." => continue,
                ".." => {
                    if out != root {
                        out.pop();
                    } else if how & BENEATH != 0 {
                        return Err(Errno::EXDEV);
                    }
                    if how & NO_XDEV != 0
                        && self.mount_id_of(&format!("/{}", out.join("/"))) != mount
                    {
                        return Err(Errno::EXDEV);
                    }
                    continue;
                }
                _ => {}
            }
            let last = pending.is_empty();
            let candidate = format!("/{}", {
                let mut v = out.clone();
                v.push(c.clone());
                v.join("/")
            });
            let st = match self.lstat_abs(start.ctx, &candidate) {
                Ok(st) => st,
                Err(Errno::ENOENT) if last => {
                    out.push(c);
                    break;
                }
                Err(e) => return Err(e),
            };
            if how & NO_XDEV != 0 && self.mount_id_of(&candidate) != mount {
                return Err(Errno::EXDEV);
            }
            if st.mode & S_IFMT == S_IFLNK && (!last || follow || trailing_slash) {
                if how & NO_SYMLINKS != 0 {
                    return Err(Errno::ELOOP);
                }
                if how != 0 && self.is_magic_link(&candidate) {
                    // Linux's nd_jump_link: ELOOP, then EXDEV.
                    return Err(if how & NO_MAGICLINKS != 0 {
                        Errno::ELOOP
                    } else {
                        Errno::EXDEV
                    });
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = self.readlink_abs(start.ctx, &candidate)?;
                let target = String::from_utf8(target).map_err(|_| Errno::ENOENT)?;
                if target.starts_with('/') {
                    if how & BENEATH != 0 {
                        return Err(Errno::EXDEV);
                    }
                    out.clone_from(&root);
                }
                for t in target.split('/').filter(|x| !x.is_empty()).rev() {
                    pending.push_front(t.to_string());
                }
                continue;
            }
            if !last && st.mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            out.push(c);
        }
        let abs = format!("/{}", out.join("/"));
        if abs.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(Resolved {
            abs,
            trailing_slash,
        })
    }

    /// stat.
    pub fn stat(&self, start: &Start<'_>, path: &[u8], follow: bool) -> SysResult<Stat> {
        let r = self.resolve(start, path, follow)?;
        let st = self.lstat_abs(start.ctx, &r.abs)?;
        if r.trailing_slash && st.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(st)
    }

    /// readlink.
    pub fn readlink(&self, start: &Start<'_>, path: &[u8]) -> SysResult<Vec<u8>> {
        let r = self.resolve(start, path, false)?;
        self.readlink_abs(start.ctx, &r.abs)
    }

    /// For open(2): when `path` leads (through any symlinks, /dev/stdin and
    /// /dev/fd included) to a /proc/[pid]/fd/N link, the open file that
    /// link names; None for any other path (or an error, left to the
    /// ordinary open to report).
    pub fn fd_link(
        &self,
        start: &Start<'_>,
        path: &[u8],
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        let mut cur = path.to_vec();
        let mut base: Option<String> = None;
        for _ in 0..=MAX_LINKS {
            let r = match &base {
                None => self.resolve(start, &cur, false),
                Some(b) => self.resolve(&Start::cwd(start.ctx, b), &cur, false),
            };
            let Ok(r) = r else { return Ok(None) };
            let (fs, rel) = self.locate(&r.abs);
            if let Some(f) = fs.magic_link(start.ctx, rel)? {
                return Ok(Some(f));
            }
            match self.lstat_abs(start.ctx, &r.abs) {
                Ok(st) if st.mode & S_IFMT == S_IFLNK => {
                    cur = self.readlink_abs(start.ctx, &r.abs)?;
                    let parent = r.abs.rsplit_once('/').map_or("", |(p, _)| p);
                    base = Some(if parent.is_empty() {
                        "/".to_string()
                    } else {
                        parent.to_string()
                    });
                }
                _ => return Ok(None),
            }
        }
        Err(Errno::ELOOP)
    }

    /// open/openat/creat.
    pub fn open(
        &self,
        start: &Start<'_>,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let fl = flags as i32;
        let follow = fl & libc::O_NOFOLLOW == 0;
        let r = self.resolve(start, path, follow)?;
        let existing = self.lstat_abs(start.ctx, &r.abs);
        match &existing {
            Ok(st) => {
                if st.mode & S_IFMT == S_IFLNK {
                    return Err(Errno::ELOOP);
                }
                if (r.trailing_slash || fl & libc::O_DIRECTORY != 0) && st.mode & S_IFMT != S_IFDIR
                {
                    return Err(Errno::ENOTDIR);
                }
                if fl & libc::O_CREAT != 0 && fl & libc::O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
            }
            Err(Errno::ENOENT) if fl & libc::O_CREAT != 0 => {
                if r.trailing_slash {
                    return Err(Errno::EISDIR);
                }
            }
            Err(e) => return Err(*e),
        }
        let (fs, rel) = self.locate(&r.abs);
        let f = fs.clone().open(start.ctx, rel, flags, mode)?;
        f.set_path(&r.abs);
        // Events: not for O_PATH, nor in procfs and sysfs (their lookups
        // may need the locks held while a file is dropped).
        const PROC: u64 = 0x9fa0;
        const SYSFS: u64 = 0x6265_6572;
        if fl & libc::O_PATH != 0 || matches!(fs.fs_type(), PROC | SYSFS) {
            return Ok(f);
        }
        if existing.is_err() {
            self.created(start.ctx, &r.abs);
        }
        let w = notify::Watched::new(f, self.notify.clone(), fs.clone(), rel, flags);
        w.event(notify::IN_OPEN);
        // O_TRUNC of an existing regular file: IN_MODIFY after IN_OPEN.
        if existing.is_ok_and(|st| fl & libc::O_TRUNC != 0 && st.mode & S_IFMT == super::S_IFREG) {
            w.event(notify::IN_MODIFY);
        }
        Ok(w)
    }

    /// O_TMPFILE's file: made at `path` (a fresh name; `flags` has
    /// O_CREAT | O_EXCL) and unlinked at once, without the events of
    /// either: Linux's file never has a name, its events reach the
    /// directory's watches as "#INO".
    pub fn open_tmpfile(
        &self,
        start: &Start<'_>,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let (fs, rel, abs) = self.parent_op(start, path)?;
        let f = fs.clone().open(start.ctx, &rel, flags, mode)?;
        f.set_path(&abs);
        fs.unlink(&rel, false)?;
        let ino = f.stat()?.ino;
        let name = match split_parent(&rel) {
            ("", _) => format!("#{ino}"),
            (dir, _) => format!("{dir}/#{ino}"),
        };
        let w = notify::Watched::new(f, self.notify.clone(), fs, &name, flags);
        w.event(notify::IN_OPEN);
        Ok(w)
    }

    /// access/faccessat (root passes every check but X on non-executables).
    pub fn access(
        &self,
        start: &Start<'_>,
        path: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<()> {
        let st = self.stat(start, path, true)?;
        if mode == 0 {
            return Ok(());
        }
        let bits = if uid == 0 {
            if mode & 1 != 0 && st.mode & S_IFMT != S_IFDIR && st.mode & 0o111 == 0 {
                return Err(Errno::EACCES);
            }
            return Ok(());
        } else if st.uid == uid {
            (st.mode >> 6) & 7
        } else if st.gid == gid {
            (st.mode >> 3) & 7
        } else {
            st.mode & 7
        };
        if bits & mode == mode {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// chdir: the canonical directory path.
    pub fn resolve_dir(&self, start: &Start<'_>, path: &[u8]) -> SysResult<String> {
        let r = self.resolve(start, path, true)?;
        let st = self.lstat_abs(start.ctx, &r.abs)?;
        if st.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(r.abs)
    }

    /// Resolves a path whose last component is to be created or removed:
    /// (fs, path in fs); EEXIST/ENOENT are the caller's.
    fn parent_op(
        &self,
        start: &Start<'_>,
        path: &[u8],
    ) -> SysResult<(Arc<dyn Fs>, String, String)> {
        let r = self.resolve(start, path, false)?;
        if r.abs == "/" {
            return Err(Errno::EBUSY);
        }
        let (parent, _) = split_parent(&r.abs);
        let pst = self.lstat_abs(start.ctx, if parent.is_empty() { "/" } else { parent })?;
        if pst.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let (fs, rel) = self.locate(&r.abs);
        Ok((fs.clone(), rel.to_string(), r.abs))
    }

    /// mkdir.
    pub fn mkdir(&self, start: &Start<'_>, path: &[u8], mode: u32) -> SysResult<()> {
        // mkdir("/") is EEXIST, as Linux (not the EBUSY of removing it).
        if self.resolve(start, path, false).is_ok_and(|r| r.abs == "/") {
            return Err(Errno::EEXIST);
        }
        let (fs, rel, abs) = self.parent_op(start, path)?;
        if self.lstat_abs(start.ctx, &abs).is_ok() {
            return Err(Errno::EEXIST);
        }
        if rel.is_empty() {
            return Err(Errno::EEXIST);
        }
        fs.mkdir(&rel, mode)?;
        self.created(start.ctx, &abs);
        Ok(())
    }

    /// mknod (FIFOs only).
    pub fn mknod_fifo(&self, start: &Start<'_>, path: &[u8], mode: u32) -> SysResult<()> {
        let (fs, rel, abs) = self.parent_op(start, path)?;
        if self.lstat_abs(start.ctx, &abs).is_ok() || rel.is_empty() {
            return Err(Errno::EEXIST);
        }
        fs.mknod_fifo(&rel, mode)?;
        self.created(start.ctx, &abs);
        Ok(())
    }

    /// bind(2) of a unix socket to `path`: the parent must exist (ENOENT)
    /// and the name must not (EADDRINUSE, also for a dangling symlink, as
    /// Linux); `mode` has the umask applied.
    pub fn bind_socket(
        &self,
        start: &Start<'_>,
        path: &[u8],
        mode: u32,
        owner: (u32, u32),
        endpoint: Arc<dyn std::any::Any + Send + Sync>,
    ) -> SysResult<()> {
        let (fs, rel, abs) = self.parent_op(start, path).map_err(|e| match e {
            Errno::EBUSY => Errno::EADDRINUSE,
            e => e,
        })?;
        if rel.is_empty() || self.lstat_abs(start.ctx, &abs).is_ok() {
            return Err(Errno::EADDRINUSE);
        }
        match fs.bind_socket(&rel, mode, owner.0, owner.1, endpoint) {
            Err(Errno::EEXIST) => Err(Errno::EADDRINUSE),
            Err(e) => Err(e),
            Ok(()) => {
                self.created(start.ctx, &abs);
                Ok(())
            }
        }
    }

    /// The socket bound at `path` (connect(2), sendto(2)), following a
    /// final symlink: its node's status and the endpoint it keeps. ENOENT
    /// when missing, ECONNREFUSED when the file is not a socket.
    pub fn bound_socket(
        &self,
        start: &Start<'_>,
        path: &[u8],
    ) -> SysResult<(Stat, Arc<dyn std::any::Any + Send + Sync>)> {
        let r = self.resolve(start, path, true)?;
        let st = self.lstat_abs(start.ctx, &r.abs)?;
        if st.mode & S_IFMT != libc::S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        let (fs, rel) = self.locate(&r.abs);
        Ok((st, fs.bound_socket(rel)?))
    }

    /// symlink.
    pub fn symlink(&self, target: &[u8], start: &Start<'_>, path: &[u8]) -> SysResult<()> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let (fs, rel, abs) = self.parent_op(start, path)?;
        if self.lstat_abs(start.ctx, &abs).is_ok() || rel.is_empty() {
            return Err(Errno::EEXIST);
        }
        fs.symlink(target, &rel)?;
        self.created(start.ctx, &abs);
        Ok(())
    }

    /// unlink / rmdir.
    pub fn unlink(&self, start: &Start<'_>, path: &[u8], dir: bool) -> SysResult<()> {
        let (fs, rel, abs) = self.parent_op(start, path)?;
        if rel.is_empty() {
            return Err(Errno::EBUSY);
        }
        let st = self.lstat_abs(start.ctx, &abs)?;
        if dir && st.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if !dir && st.mode & S_IFMT == S_IFDIR {
            return Err(Errno::EISDIR);
        }
        if dir && path.split(|&b| b == b'/').rfind(|c| !c.is_empty()) == Some(b".") {
            return Err(Errno::EINVAL);
        }
        let parent = self.parent_ident(start.ctx, &abs);
        let ist = self.ident(start.ctx, &abs);
        fs.unlink(&rel, dir)?;
        if let Some(ist) = ist {
            self.removed(&ist, parent);
        }
        Ok(())
    }

    /// rename / renameat2.
    pub fn rename(
        &self,
        s1: &Start<'_>,
        p1: &[u8],
        s2: &Start<'_>,
        p2: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        let (fs1, rel1, abs1) = self.parent_op(s1, p1)?;
        let (fs2, rel2, abs2) = self.parent_op(s2, p2)?;
        self.lstat_abs(s1.ctx, &abs1)?;
        if !Arc::ptr_eq(&fs1, &fs2) {
            return Err(Errno::EXDEV);
        }
        if abs1 == abs2 {
            return Ok(());
        }
        let src = self.ident(s1.ctx, &abs1);
        let dst = self.ident(s2.ctx, &abs2);
        let from = self.parent_ident(s1.ctx, &abs1);
        let to = self.parent_ident(s2.ctx, &abs2);
        fs1.rename(&rel1, &rel2, flags)?;
        let Some(src) = src else {
            return Ok(());
        };
        if dst.as_ref().is_some_and(|d| key_of(d) == key_of(&src)) {
            return Ok(());
        }
        const RENAME_EXCHANGE: u32 = 2;
        let exchange = flags & RENAME_EXCHANGE != 0;
        self.moved(
            &src,
            from.as_ref(),
            to.as_ref(),
            dst.as_ref().filter(|_| !exchange),
        );
        if let (true, Some(dst)) = (exchange, &dst) {
            self.moved(dst, to.as_ref(), from.as_ref(), None);
        }
        Ok(())
    }

    /// Events of a rename of `src` from the entry `from` to `to`,
    /// replacing `target`: IN_MOVED_FROM and IN_MOVED_TO with one cookie,
    /// IN_ATTRIB of the replaced file, IN_MOVE_SELF, then the replaced
    /// file's IN_DELETE_SELF when that was its last link.
    fn moved(
        &self,
        src: &Stat,
        from: Option<&(Stat, &str)>,
        to: Option<&(Stat, &str)>,
        target: Option<&Stat>,
    ) {
        let dir = src.mode & S_IFMT == S_IFDIR;
        let cookie = self.notify.cookie();
        if let Some((p, n)) = from {
            self.notify
                .dir_event(key_of(p), notify::IN_MOVED_FROM, n.as_bytes(), dir, cookie);
        }
        if let Some((p, n)) = to {
            self.notify
                .dir_event(key_of(p), notify::IN_MOVED_TO, n.as_bytes(), dir, cookie);
        }
        let tdir = target.is_some_and(|t| t.mode & S_IFMT == S_IFDIR);
        if let Some(t) = target.filter(|_| !tdir) {
            self.notify.inode_event(key_of(t), notify::IN_ATTRIB, false);
        }
        // IN_MOVE_SELF goes without IN_ISDIR, as Linux.
        self.notify
            .inode_event(key_of(src), notify::IN_MOVE_SELF, false);
        if let Some(t) = target {
            if tdir || t.nlink <= 1 {
                self.notify.unlinked(key_of(t));
            }
        }
    }

    /// link.
    pub fn link(
        &self,
        s1: &Start<'_>,
        p1: &[u8],
        s2: &Start<'_>,
        p2: &[u8],
        follow: bool,
    ) -> SysResult<()> {
        let r1 = self.resolve(s1, p1, follow)?;
        self.lstat_abs(s1.ctx, &r1.abs)?;
        let (fs2, rel2, abs2) = self.parent_op(s2, p2)?;
        if self.lstat_abs(s2.ctx, &abs2).is_ok() {
            return Err(Errno::EEXIST);
        }
        let (fs1, rel1) = self.locate(&r1.abs);
        if !Arc::ptr_eq(&fs1, &fs2) {
            return Err(Errno::EXDEV);
        }
        fs2.link(rel1, &rel2)?;
        if let Some(st) = self.ident(s2.ctx, &abs2) {
            self.notify
                .inode_event(key_of(&st), notify::IN_ATTRIB, false);
            self.created(s2.ctx, &abs2);
        }
        Ok(())
    }

    /// chmod/chown/truncate/utimensat by path.
    pub fn setattr(
        &self,
        start: &Start<'_>,
        path: &[u8],
        follow: bool,
        a: &SetAttr,
    ) -> SysResult<()> {
        let r = self.resolve(start, path, follow)?;
        self.lstat_abs(start.ctx, &r.abs)?;
        let (fs, rel) = self.locate(&r.abs);
        fs.setattr(rel, a)?;
        let m = notify::setattr_mask(a);
        if m != 0 {
            self.file_event_abs(start.ctx, &r.abs, m);
        }
        Ok(())
    }

    /// The file system and path an xattr call works on, and its absolute
    /// path (for [`Self::file_event_abs`]).
    pub fn xattr_target(
        &self,
        start: &Start<'_>,
        path: &[u8],
        follow: bool,
    ) -> SysResult<(Arc<dyn Fs>, String, String)> {
        let r = self.resolve(start, path, follow)?;
        self.lstat_abs(start.ctx, &r.abs)?;
        let (fs, rel) = self.locate(&r.abs);
        Ok((fs, rel.to_string(), r.abs.clone()))
    }

    /// statfs f_type of the file system holding `path`.
    pub fn fs_type(&self, start: &Start<'_>, path: &[u8]) -> SysResult<u64> {
        let r = self.resolve(start, path, true)?;
        self.lstat_abs(start.ctx, &r.abs)?;
        Ok(self.locate(&r.abs).0.fs_type())
    }
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfs")
            .field("mounts", &self.mount_list())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsimpl::tmpfs::TmpFs;
    use crate::vfs::Detached;

    #[test]
    fn missing_directories_above_a_mount_point_are_walked() {
        let vfs = Vfs::new(TmpFs::new(0o755, 1));
        vfs.mount("/a/b/c", TmpFs::new(0o700, 2));
        assert_eq!(
            vfs.lstat_abs(&Detached, "/a").unwrap().mode & S_IFMT,
            S_IFDIR
        );
        assert_eq!(
            vfs.lstat_abs(&Detached, "/a/b").unwrap().mode & S_IFMT,
            S_IFDIR
        );
        assert_eq!(
            vfs.lstat_abs(&Detached, "/a/b/c").unwrap().mode & 0o7777,
            0o700
        );
        assert_eq!(vfs.lstat_abs(&Detached, "/a/x"), Err(Errno::ENOENT));
        assert_eq!(vfs.lstat_abs(&Detached, "/ab"), Err(Errno::ENOENT));
    }

    fn vfs() -> Vfs {
        let root = TmpFs::new(0o755, 1);
        let v = Vfs::new(root.clone());
        root.mkdir("a", 0o755).unwrap();
        root.mkdir("a/b", 0o755).unwrap();
        root.symlink(b"a/b", "lnk").unwrap();
        root.symlink(b"/a", "abs").unwrap();
        root.symlink(b"loop", "loop").unwrap();
        v
    }

    #[test]
    fn walk_dots_symlinks_loops() {
        let v = vfs();
        let cwd = Start::cwd(&Detached, "/a");
        assert_eq!(v.resolve(&cwd, b"b/../b/./", true).unwrap().abs, "/a/b");
        assert_eq!(v.resolve(&cwd, b"/lnk", true).unwrap().abs, "/a/b");
        assert_eq!(v.resolve(&cwd, b"/lnk", false).unwrap().abs, "/lnk");
        assert_eq!(v.resolve(&cwd, b"/abs/b/..", true).unwrap().abs, "/a");
        assert_eq!(v.resolve(&cwd, b"/../../a", true).unwrap().abs, "/a");
        assert_eq!(v.resolve(&cwd, b"/loop", true).err(), Some(Errno::ELOOP));
        assert_eq!(v.resolve(&cwd, b"/nope/x", true).err(), Some(Errno::ENOENT));
        assert_eq!(v.resolve(&cwd, b"", true).err(), Some(Errno::ENOENT));
        let long = vec![b'x'; 300];
        assert_eq!(
            v.resolve(&cwd, &long, true).err(),
            Some(Errno::ENAMETOOLONG)
        );
        assert_eq!(
            v.resolve(&cwd, &vec![b'a'; 5000], true).err(),
            Some(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn create_remove_rename() {
        let v = vfs();
        let cwd = Start::cwd(&Detached, "/");
        let f = v
            .open(
                &cwd,
                b"/a/f",
                (libc::O_CREAT | libc::O_WRONLY) as u32,
                0o644,
            )
            .unwrap();
        assert_eq!(f.write(&Detached, b"data").unwrap(), 4);
        assert_eq!(v.stat(&cwd, b"/a/f", true).unwrap().size, 4);
        assert_eq!(v.stat(&cwd, b"/a/f/", true).err(), Some(Errno::ENOTDIR));
        assert_eq!(v.mkdir(&cwd, b"/a", 0o755).err(), Some(Errno::EEXIST));
        v.rename(&cwd, b"/a/f", &cwd, b"/a/b/g", 0).unwrap();
        assert_eq!(v.stat(&cwd, b"/lnk/g", true).unwrap().size, 4);
        assert_eq!(v.unlink(&cwd, b"/a/b", true).err(), Some(Errno::ENOTEMPTY));
        v.unlink(&cwd, b"/a/b/g", false).unwrap();
        v.unlink(&cwd, b"/a/b", true).unwrap();
        assert_eq!(v.stat(&cwd, b"/a/b", true).err(), Some(Errno::ENOENT));
    }

    #[test]
    fn events_of_name_and_file_operations() {
        use crate::vfs::notify::*;
        let v = vfs();
        let cwd = Start::cwd(&Detached, "/");
        let n = v.notify().clone();
        let inst = Arc::new(Instance::default());
        let id = n.new_instance(0).unwrap();
        let dir = v.stat(&cwd, b"/a", true).unwrap();
        let t = Target {
            key: key_of(&dir),
            dir: true,
        };
        let wd = n.add_watch(id, &inst, &t, IN_ALL_EVENTS).unwrap();
        let f = v
            .open(&cwd, b"/a/f", (libc::O_CREAT | libc::O_RDWR) as u32, 0o644)
            .unwrap();
        f.write(&Detached, b"x").unwrap();
        drop(f);
        v.rename(&cwd, b"/a/f", &cwd, b"/a/g", 0).unwrap();
        v.unlink(&cwd, b"/a/g", false).unwrap();
        v.mkdir(&cwd, b"/a/d", 0o755).unwrap();
        let got: Vec<(u32, String)> = inst
            .lock()
            .queue
            .iter()
            .map(|e| {
                assert_eq!(e.wd, wd);
                (e.mask, String::from_utf8_lossy(&e.name).into_owned())
            })
            .collect();
        let want: Vec<(u32, String)> = [
            (IN_CREATE, "f"),
            (IN_OPEN, "f"),
            (IN_MODIFY, "f"),
            (IN_CLOSE_WRITE, "f"),
            (IN_MOVED_FROM, "f"),
            (IN_MOVED_TO, "g"),
            (IN_DELETE, "g"),
            (IN_CREATE | IN_ISDIR, "d"),
        ]
        .iter()
        .map(|(m, s)| (*m, s.to_string()))
        .collect();
        assert_eq!(got, want);
        let q = inst.lock().queue.clone();
        assert_eq!(q[4].cookie, q[5].cookie);
        assert_ne!(q[4].cookie, 0);
        // rmdir of the watched directory: IN_DELETE_SELF, IN_IGNORED.
        inst.lock().queue.clear();
        v.unlink(&cwd, b"/a/d", true).unwrap();
        v.unlink(&cwd, b"/a/b", true).unwrap();
        v.unlink(&cwd, b"/lnk", false).unwrap();
        v.unlink(&cwd, b"/abs", false).unwrap();
        v.unlink(&cwd, b"/a", true).unwrap();
        let masks: Vec<u32> = inst.lock().queue.iter().map(|e| e.mask).collect();
        assert_eq!(
            masks,
            vec![
                IN_DELETE | IN_ISDIR,
                IN_DELETE | IN_ISDIR,
                IN_DELETE_SELF,
                IN_IGNORED
            ]
        );
        assert!(!n.active());
        n.drop_instance(id, &inst);
    }
}
