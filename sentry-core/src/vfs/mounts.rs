//! Mounts made by the sandbox's programs (mount(2), umount2(2)): new file
//! systems stacked on a directory, bind mounts of a subtree or a file,
//! read-only mounts, and the listing /proc/PID/mounts and mountinfo show.

use std::any::Any;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::walk::Vfs;
use super::{FileDescription, Fs, SetAttr, Stat, TaskContext, S_IFDIR, S_IFMT};
use crate::errno::{Errno, SysResult};

/// Mount ids (mountinfo's first field); 1 is the root's parent.
static NEXT_ID: AtomicU32 = AtomicU32::new(2);

/// One entry of a mount table.
#[derive(Clone)]
pub struct Mount {
    /// The mount point without a trailing slash ("" for the root).
    pub point: String,
    /// What lookups go to: `base`, behind a [`ReadOnlyFs`] when read-only.
    pub fs: Arc<dyn Fs>,
    /// The file system (or bound subtree) mounted.
    pub base: Arc<dyn Fs>,
    /// mountinfo's id.
    pub id: u32,
    /// The source shown in /proc/mounts (None: the type's name).
    pub source: Option<String>,
    /// The type shown (None: from the file system's magic).
    pub fstype: Option<String>,
    /// The subtree of its file system the mount shows ("/" usually; a bind
    /// mount's source path).
    pub root: String,
    /// MS_RDONLY.
    pub ro: bool,
    /// Marked by a first umount2(MNT_EXPIRE).
    pub expired: bool,
}

impl Mount {
    /// A read-write mount of `fs` at `point`.
    pub fn new(point: String, fs: Arc<dyn Fs>) -> Mount {
        Mount {
            point,
            fs: fs.clone(),
            base: fs,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            source: None,
            fstype: None,
            root: "/".into(),
            ro: false,
            expired: false,
        }
    }

    fn set_ro(&mut self, ro: bool) {
        self.ro = ro;
        self.fs = if ro {
            Arc::new(ReadOnlyFs(self.base.clone()))
        } else {
            self.base.clone()
        };
    }
}

/// What /proc/PID/mounts and mountinfo show of one mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// mountinfo id.
    pub id: u32,
    /// The parent mount's id (1 for the root).
    pub parent: u32,
    /// Mount point ("/" for the root).
    pub point: String,
    /// statfs f_type of the file system.
    pub magic: u64,
    /// Source (None: the type's name).
    pub source: Option<String>,
    /// Type (None: from the magic).
    pub fstype: Option<String>,
    /// The subtree shown.
    pub root: String,
    /// Read-only.
    pub ro: bool,
}

/// MS_* flags of mount(2) this module looks at.
pub mod ms {
    #![allow(missing_docs)]
    pub const RDONLY: u64 = 1;
    pub const REMOUNT: u64 = 32;
    pub const BIND: u64 = 4096;
    pub const MOVE: u64 = 8192;
    pub const REC: u64 = 16384;
    pub const SILENT: u64 = 32768;
    pub const UNBINDABLE: u64 = 1 << 17;
    pub const PRIVATE: u64 = 1 << 18;
    pub const SLAVE: u64 = 1 << 19;
    pub const SHARED: u64 = 1 << 20;
    pub const NOUSER: u64 = 1 << 31;
    pub const MGC_MSK: u64 = 0xffff_0000;
    pub const MGC_VAL: u64 = 0xc0ed_0000;
}

/// umount2 flags.
pub mod mnt {
    #![allow(missing_docs)]
    pub const FORCE: u32 = 1;
    pub const DETACH: u32 = 2;
    pub const EXPIRE: u32 = 4;
    pub const NOFOLLOW: u32 = 8;
}

fn is_dir(st: &Stat) -> bool {
    st.mode & S_IFMT == S_IFDIR
}

fn point_of(abs: &str) -> String {
    abs.trim_end_matches('/').to_string()
}

fn shown(point: &str) -> String {
    if point.is_empty() {
        "/".into()
    } else {
        point.into()
    }
}

/// Whether `p` is `base` or below it (both without trailing slashes).
fn within(p: &str, base: &str) -> bool {
    base.is_empty() || p == base || (p.starts_with(base) && p.as_bytes()[base.len()] == b'/')
}

impl Vfs {
    /// The mounts, for /proc/PID/mounts and mountinfo, in mount order
    /// (parents before their children).
    pub fn mount_list(&self) -> Vec<MountEntry> {
        let table = self.table();
        let mut v: Vec<MountEntry> = table
            .iter()
            .enumerate()
            .map(|(i, e)| {
                // The parent: the mount the point lies in, below this one.
                let parent = if e.point.is_empty() {
                    1
                } else {
                    let (parent, _) = e.point.rsplit_once('/').unwrap_or(("", ""));
                    let rest = &table[i + 1..];
                    let below = rest
                        .iter()
                        .position(|m| m.point == e.point)
                        .map(|j| rest[j].id);
                    below.unwrap_or_else(|| rest[Vfs::mount_index(rest, parent)].id)
                };
                MountEntry {
                    id: e.id,
                    parent,
                    point: shown(&e.point),
                    magic: e.base.fs_type(),
                    source: e.source.clone(),
                    fstype: e.fstype.clone(),
                    root: e.root.clone(),
                    ro: e.ro,
                }
            })
            .collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// The file system mounted at the root of the first mount whose file
    /// system has statfs type `magic` (mount of another proc or sysfs
    /// shows the same one).
    pub fn find_fs(&self, magic: u64) -> Option<Arc<dyn Fs>> {
        self.table()
            .iter()
            .find(|e| e.root == "/" && e.base.fs_type() == magic)
            .map(|e| e.base.clone())
    }

    /// mount(2) of the new file system `fs` on the resolved directory `at`
    /// (status `st`), shown with `source` and `fstype`.
    pub fn mount_new(
        &self,
        at: &str,
        st: &Stat,
        fs: Arc<dyn Fs>,
        source: &str,
        fstype: &str,
        ro: bool,
    ) -> SysResult<()> {
        if !is_dir(st) {
            return Err(Errno::ENOTDIR);
        }
        let mut m = Mount::new(point_of(at), fs);
        m.source = Some(source.into());
        m.fstype = Some(fstype.into());
        m.set_ro(ro);
        self.stack(vec![m]);
        Ok(())
    }

    /// Adds mounts on top of what is mounted at their points.
    fn stack(&self, new: Vec<Mount>) {
        let mut t = self.table_mut();
        for m in new {
            let at = t
                .iter()
                .position(|e| e.point.len() <= m.point.len())
                .unwrap_or(t.len());
            t.insert(at, m);
        }
    }

    /// A bind mount of `src` (status `sst`) on `dst` (status `dst_st`),
    /// with the mounts below `src` when `rec`.
    pub fn bind(
        &self,
        src: &str,
        sst: &Stat,
        dst: &str,
        dst_st: &Stat,
        rec: bool,
    ) -> SysResult<()> {
        if is_dir(sst) != is_dir(dst_st) {
            return Err(Errno::ENOTDIR);
        }
        let src = point_of(src);
        let dst = point_of(dst);
        let mut new = Vec::new();
        {
            let table = self.table();
            let i = Vfs::mount_index(&table, &src);
            let e = &table[i];
            let rel = src[e.point.len().min(src.len())..].trim_start_matches('/');
            new.push(subtree_mount(e, rel, dst.clone()));
            if rec {
                // The mounts below the source, topmost last so it stays on top.
                for e in table.iter().rev() {
                    if e.point.len() > src.len() && within(&e.point, &src) {
                        let point = format!("{dst}{}", &e.point[src.len()..]);
                        new.push(subtree_mount(e, "", point));
                    }
                }
            }
        }
        self.stack(new);
        Ok(())
    }

    /// Whether `abs` (resolved) is a mount point of this table.
    pub fn is_mount_point(&self, abs: &str) -> bool {
        let p = point_of(abs);
        self.table().iter().any(|e| e.point == p)
    }

    /// MS_REMOUNT (with or without MS_BIND) of the mount at `abs`: only
    /// read-only or read-write changes; EINVAL when `abs` is not a mount
    /// point.
    pub fn remount(&self, abs: &str, ro: bool) -> SysResult<()> {
        let p = point_of(abs);
        let mut t = self.table_mut();
        let e = t.iter_mut().find(|e| e.point == p).ok_or(Errno::EINVAL)?;
        e.set_ro(ro);
        Ok(())
    }

    /// umount2 of the mount at `abs` with MNT_* `flags` (checked by the
    /// caller). `cwd` is the caller's working directory (a busy mount).
    pub fn umount(&self, abs: &str, flags: u32, cwd: &str) -> SysResult<()> {
        let p = point_of(abs);
        let mut t = self.table_mut();
        let i = t.iter().position(|e| e.point == p).ok_or(Errno::EINVAL)?;
        if p.is_empty() {
            return Err(Errno::EBUSY);
        }
        let has_children = t
            .iter()
            .any(|e| e.point.len() > p.len() && within(&e.point, &p));
        let busy = has_children || within(cwd.trim_end_matches('/'), &p);
        if flags & mnt::EXPIRE != 0 {
            if busy {
                return Err(Errno::EBUSY);
            }
            if !t[i].expired {
                t[i].expired = true;
                return Err(Errno::EAGAIN);
            }
        }
        if flags & mnt::DETACH == 0 && busy {
            return Err(Errno::EBUSY);
        }
        t.remove(i);
        if flags & mnt::DETACH != 0 {
            // Submounts go with it, but not what is stacked under it.
            t.retain(|e| !(e.point.len() > p.len() && within(&e.point, &p)));
        }
        Ok(())
    }
}

/// A mount showing `rel` of mount `e`'s file system at `point`, with its
/// read-only flag.
fn subtree_mount(e: &Mount, rel: &str, point: String) -> Mount {
    let base: Arc<dyn Fs> = if rel.is_empty() {
        e.base.clone()
    } else {
        Arc::new(SubtreeFs {
            fs: e.base.clone(),
            base: rel.to_string(),
        })
    };
    let mut m = Mount::new(point, base);
    m.source = e.source.clone();
    m.fstype = e.fstype.clone();
    m.root = if rel.is_empty() {
        e.root.clone()
    } else if e.root == "/" {
        format!("/{rel}")
    } else {
        format!("{}/{rel}", e.root)
    };
    m.set_ro(e.ro);
    m
}

/// A read-only view of a file system: what would change it is EROFS.
pub struct ReadOnlyFs(pub Arc<dyn Fs>);

const WRITE_OPEN: u32 = (libc::O_WRONLY | libc::O_RDWR | libc::O_TRUNC) as u32;

impl Fs for ReadOnlyFs {
    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        self.0.lstat(ctx, path)
    }
    fn readlink(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        self.0.readlink(ctx, path)
    }
    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let exists = self.0.lstat(ctx, path);
        if flags & libc::O_CREAT as u32 != 0 && exists == Err(Errno::ENOENT) {
            return Err(Errno::EROFS);
        }
        if flags & (libc::O_CREAT | libc::O_EXCL) as u32 == (libc::O_CREAT | libc::O_EXCL) as u32
            && exists.is_ok()
        {
            return Err(Errno::EEXIST);
        }
        if flags & WRITE_OPEN != 0 {
            // Devices, FIFOs and sockets stay writable on a read-only mount.
            let st = exists?;
            let m = st.mode & S_IFMT;
            if m == S_IFDIR || m == libc::S_IFREG || m == libc::S_IFLNK {
                return Err(if m == S_IFDIR {
                    Errno::EISDIR
                } else {
                    Errno::EROFS
                });
            }
        }
        self.0.clone().open(ctx, path, flags, mode)
    }
    fn mkdir(&self, _path: &str, _mode: u32) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    fn list(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        self.0.list(path)
    }
    fn getxattr(&self, path: &str, name: &str) -> SysResult<Vec<u8>> {
        self.0.getxattr(path, name)
    }
    fn listxattr(&self, path: &str) -> SysResult<Vec<String>> {
        self.0.listxattr(path)
    }
    fn bound_socket(&self, path: &str) -> SysResult<Arc<dyn Any + Send + Sync>> {
        self.0.bound_socket(path)
    }
    fn magic_link(
        &self,
        ctx: &dyn TaskContext,
        path: &str,
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        self.0.magic_link(ctx, path)
    }
    fn notify_key(&self, path: &str, st: &Stat) -> (u64, u64) {
        self.0.notify_key(path, st)
    }
    fn fs_type(&self) -> u64 {
        self.0.fs_type()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A subtree of a file system (a bind mount of a directory or a file
/// below its root): paths are relative to `base`.
pub struct SubtreeFs {
    fs: Arc<dyn Fs>,
    base: String,
}

impl SubtreeFs {
    fn p(&self, path: &str) -> String {
        if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{path}", self.base)
        }
    }
}

impl Fs for SubtreeFs {
    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        self.fs.lstat(ctx, &self.p(path))
    }
    fn readlink(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        self.fs.readlink(ctx, &self.p(path))
    }
    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        self.fs.clone().open(ctx, &self.p(path), flags, mode)
    }
    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        self.fs.mkdir(&self.p(path), mode)
    }
    fn mknod_fifo(&self, path: &str, mode: u32) -> SysResult<()> {
        self.fs.mknod_fifo(&self.p(path), mode)
    }
    fn symlink(&self, target: &[u8], path: &str) -> SysResult<()> {
        self.fs.symlink(target, &self.p(path))
    }
    fn bind_socket(
        &self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<()> {
        self.fs.bind_socket(&self.p(path), mode, uid, gid, endpoint)
    }
    fn bound_socket(&self, path: &str) -> SysResult<Arc<dyn Any + Send + Sync>> {
        self.fs.bound_socket(&self.p(path))
    }
    fn unlink(&self, path: &str, dir: bool) -> SysResult<()> {
        if path.is_empty() {
            // The root of a mount is busy.
            return Err(Errno::EBUSY);
        }
        self.fs.unlink(&self.p(path), dir)
    }
    fn rename(&self, from: &str, to: &str, flags: u32) -> SysResult<()> {
        if from.is_empty() || to.is_empty() {
            return Err(Errno::EBUSY);
        }
        self.fs.rename(&self.p(from), &self.p(to), flags)
    }
    fn link(&self, from: &str, to: &str) -> SysResult<()> {
        self.fs.link(&self.p(from), &self.p(to))
    }
    fn setattr(&self, path: &str, a: &SetAttr) -> SysResult<()> {
        self.fs.setattr(&self.p(path), a)
    }
    fn list(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        self.fs.list(&self.p(path))
    }
    fn getxattr(&self, path: &str, name: &str) -> SysResult<Vec<u8>> {
        self.fs.getxattr(&self.p(path), name)
    }
    fn setxattr(&self, path: &str, name: &str, value: &[u8], flags: u32) -> SysResult<()> {
        self.fs.setxattr(&self.p(path), name, value, flags)
    }
    fn listxattr(&self, path: &str) -> SysResult<Vec<String>> {
        self.fs.listxattr(&self.p(path))
    }
    fn removexattr(&self, path: &str, name: &str) -> SysResult<()> {
        self.fs.removexattr(&self.p(path), name)
    }
    fn magic_link(
        &self,
        ctx: &dyn TaskContext,
        path: &str,
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        self.fs.magic_link(ctx, &self.p(path))
    }
    fn notify_key(&self, path: &str, st: &Stat) -> (u64, u64) {
        self.fs.notify_key(&self.p(path), st)
    }
    fn fs_type(&self) -> u64 {
        self.fs.fs_type()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsimpl::tmpfs::TmpFs;
    use crate::vfs::{Detached, Start};

    fn dir() -> Stat {
        Stat {
            mode: S_IFDIR | 0o755,
            ..Default::default()
        }
    }

    #[test]
    fn bind_remount_ro_and_umount() {
        let vfs = Vfs::new(TmpFs::new(0o755, 1));
        let s = Start::cwd(&Detached, "/");
        vfs.mkdir(&s, b"/a", 0o755).unwrap();
        vfs.mkdir(&s, b"/a/sub", 0o755).unwrap();
        vfs.mkdir(&s, b"/b", 0o755).unwrap();
        vfs.bind("/a", &dir(), "/b", &dir(), false).unwrap();
        assert_eq!(
            vfs.stat(&s, b"/b/sub", true).unwrap().mode & S_IFMT,
            S_IFDIR
        );
        vfs.remount("/b", true).unwrap();
        assert_eq!(vfs.mkdir(&s, b"/b/x", 0o755), Err(Errno::EROFS));
        vfs.mkdir(&s, b"/a/x", 0o755).unwrap();
        assert!(vfs.stat(&s, b"/b/x", true).is_ok());
        assert_eq!(vfs.remount("/a", true), Err(Errno::EINVAL));
        assert_eq!(vfs.umount("/a", 0, "/"), Err(Errno::EINVAL));
        assert_eq!(vfs.umount("/b", 0, "/b/sub"), Err(Errno::EBUSY));
        vfs.umount("/b", 0, "/").unwrap();
        assert_eq!(vfs.stat(&s, b"/b/x", true), Err(Errno::ENOENT));
        assert_eq!(vfs.umount("/", 0, "/"), Err(Errno::EBUSY));
    }

    #[test]
    fn stacked_mounts_and_copies_are_independent() {
        let vfs = Vfs::new(TmpFs::new(0o755, 1));
        let s = Start::cwd(&Detached, "/");
        vfs.mkdir(&s, b"/m", 0o755).unwrap();
        vfs.mount_new("/m", &dir(), TmpFs::new(0o755, 2), "one", "tmpfs", false)
            .unwrap();
        vfs.mkdir(&s, b"/m/one", 0o755).unwrap();
        let copy = vfs.copy_table();
        vfs.mount_new("/m", &dir(), TmpFs::new(0o755, 3), "two", "tmpfs", false)
            .unwrap();
        assert_eq!(vfs.stat(&s, b"/m/one", true), Err(Errno::ENOENT));
        assert!(copy.stat(&s, b"/m/one", true).is_ok());
        let l = vfs.mount_list();
        assert_eq!(l.len(), 3);
        assert_eq!(l[2].parent, l[1].id);
        assert_eq!(l[1].parent, l[0].id);
        vfs.umount("/m", 0, "/").unwrap();
        assert!(vfs.stat(&s, b"/m/one", true).is_ok());
        // MNT_EXPIRE: marked first, unmounted the second time.
        assert_eq!(vfs.umount("/m", mnt::EXPIRE, "/"), Err(Errno::EAGAIN));
        vfs.umount("/m", mnt::EXPIRE, "/").unwrap();
        assert_eq!(copy.mount_list().len(), 2);
    }
}
