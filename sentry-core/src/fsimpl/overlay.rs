//! The root overlay: a writable tmpfs upper layer over the read-only host
//! view (gVisor's `--overlay2=root:memory`). Reads come from the upper layer
//! when it has the file, else from the host; every change is made in the
//! upper layer (copy-up first), deletions of host files are whiteouts. The
//! host directory is never modified.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::tmpfs::TmpFs;
use crate::abi::dirent;
use crate::errno::{Errno, SysResult};
use crate::vfs::{
    split_parent, FileDescription, Fs, SetAttr, Stat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
};
use crate::vfs::{Detached, TaskContext};

#[derive(Default)]
struct Marks {
    /// Lower paths deleted in the overlay (hide the whole subtree).
    whiteouts: HashSet<String>,
    /// Upper directories that hide the lower directory of the same path.
    opaque: HashSet<String>,
}

/// tmpfs over the host.
pub struct OverlayFs {
    upper: Arc<TmpFs>,
    lower: Arc<dyn Fs>,
    marks: Mutex<Marks>,
}

fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

impl OverlayFs {
    /// An overlay of a fresh tmpfs over `lower`.
    pub fn new(lower: Arc<dyn Fs>) -> Arc<Self> {
        let mode = lower
            .lstat(&Detached, "")
            .map_or(0o755, |s| s.mode & 0o7777);
        Arc::new(OverlayFs {
            upper: TmpFs::new(mode, 0x2a),
            lower,
            marks: Mutex::new(Marks::default()),
        })
    }

    fn marks(&self) -> MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the lower layer may show `path`.
    fn lower_visible(&self, path: &str) -> bool {
        let m = self.marks();
        if path.is_empty() {
            return true;
        }
        !ancestors(path).any(|a| m.whiteouts.contains(a) || m.opaque.contains(a))
    }

    fn in_upper(&self, path: &str) -> bool {
        self.upper.lstat(&Detached, path).is_ok()
    }

    fn lower_lstat(&self, path: &str) -> SysResult<Stat> {
        if self.lower_visible(path) {
            self.lower.lstat(&Detached, path)
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// Makes sure every directory above `path` exists in the upper layer.
    fn upper_parents(&self, path: &str) -> SysResult<()> {
        let (parent, _) = split_parent(path);
        if parent.is_empty() {
            return Ok(());
        }
        for a in ancestors(parent) {
            if self.in_upper(a) {
                continue;
            }
            let st = self.lower_lstat(a)?;
            if st.mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            self.upper.mkdir(a, st.mode & 0o7777)?;
            self.upper.setattr(
                a,
                &SetAttr {
                    uid: Some(st.uid),
                    gid: Some(st.gid),
                    atime: Some(st.atime),
                    mtime: Some(st.mtime),
                    ..Default::default()
                },
            )?;
        }
        Ok(())
    }

    /// Copies `path` from the lower layer into the upper one (a directory is
    /// copied without its contents: those stay visible from below).
    fn copy_up(&self, path: &str) -> SysResult<()> {
        if self.in_upper(path) {
            return Ok(());
        }
        let st = self.lower_lstat(path)?;
        self.upper_parents(path)?;
        match st.mode & S_IFMT {
            S_IFDIR => self.upper.mkdir(path, st.mode & 0o7777)?,
            S_IFLNK => {
                let t = self.lower.readlink(&Detached, path)?;
                self.upper.symlink(&t, path)?;
            }
            S_IFREG => {
                let src = self
                    .lower
                    .clone()
                    .open(&Detached, path, libc::O_RDONLY as u32, 0)?;
                let dst = self.upper.clone().open(
                    &Detached,
                    path,
                    (libc::O_CREAT | libc::O_WRONLY | libc::O_EXCL) as u32,
                    st.mode & 0o7777,
                )?;
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0u64;
                loop {
                    let n = src.pread(&mut buf, off)?;
                    if n == 0 {
                        break;
                    }
                    dst.pwrite(&buf[..n], off)?;
                    off += n as u64;
                }
            }
            _ => return Err(Errno::EACCES),
        }
        self.upper.setattr(
            path,
            &SetAttr {
                uid: Some(st.uid),
                gid: Some(st.gid),
                atime: Some(st.atime),
                mtime: Some(st.mtime),
                ..Default::default()
            },
        )
    }

    /// The merged listing of a directory.
    fn list(&self, path: &str) -> SysResult<Vec<(String, u64, u32)>> {
        let mut all: BTreeMap<String, (u64, u32)> = BTreeMap::new();
        if self.lower_visible(path)
            && self
                .lower
                .lstat(&Detached, path)
                .is_ok_and(|s| s.mode & S_IFMT == S_IFDIR)
        {
            let m = self.marks();
            for (n, ino, mode) in self.lower.list(path)? {
                let full = if path.is_empty() {
                    n.clone()
                } else {
                    format!("{path}/{n}")
                };
                if !m.whiteouts.contains(&full) {
                    all.insert(n, (ino, mode));
                }
            }
        }
        if self.in_upper(path) {
            let d = self
                .upper
                .clone()
                .open(&Detached, path, libc::O_RDONLY as u32, 0)?;
            let mut buf = vec![0u8; 32 << 10];
            loop {
                let n = d.getdents64(&mut buf)?;
                if n == 0 {
                    break;
                }
                for (name, ino, mode) in dirent::parse(&buf[..n]) {
                    if name != "." && name != ".." {
                        all.insert(name, (ino, mode));
                    }
                }
            }
        }
        Ok(all.into_iter().map(|(n, (i, m))| (n, i, m)).collect())
    }
}

impl Fs for OverlayFs {
    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        match self.upper.lstat(ctx, path) {
            Ok(st) => Ok(st),
            Err(Errno::ENOENT) => self.lower_lstat(path),
            Err(e) => Err(e),
        }
    }

    fn notify_key(&self, path: &str, st: &Stat) -> (u64, u64) {
        if self.in_upper(path) {
            if let Ok(l) = self.lower_lstat(path) {
                if l.mode & S_IFMT == st.mode & S_IFMT {
                    return (l.dev, l.ino);
                }
            }
        }
        (st.dev, st.ino)
    }

    fn readlink(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        if self.in_upper(path) {
            self.upper.readlink(ctx, path)
        } else if self.lower_visible(path) {
            self.lower.readlink(ctx, path)
        } else {
            Err(Errno::ENOENT)
        }
    }

    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let fl = flags as i32;
        let writing = fl & libc::O_ACCMODE != libc::O_RDONLY || fl & libc::O_TRUNC != 0;
        let st = self.lstat(ctx, path);
        if let Ok(st) = st {
            if st.mode & S_IFMT == S_IFDIR {
                if writing {
                    return Err(Errno::EISDIR);
                }
                return Ok(Arc::new(OverlayDir {
                    entries: self.list(path)?,
                    stat: st,
                    pos: Mutex::new(0),
                    path: std::sync::OnceLock::new(),
                }));
            }
            if self.in_upper(path) {
                return self.upper.clone().open(ctx, path, flags, mode);
            }
            if writing {
                self.copy_up(path)?;
                return self.upper.clone().open(ctx, path, flags, mode);
            }
            return self.lower.clone().open(ctx, path, flags, mode);
        }
        if fl & libc::O_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
        self.upper_parents(path)?;
        let f = self.upper.clone().open(ctx, path, flags, mode)?;
        self.marks().whiteouts.remove(path);
        Ok(f)
    }

    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        if self.lstat(&Detached, path).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.upper_parents(path)?;
        self.upper.mkdir(path, mode)?;
        let mut m = self.marks();
        if m.whiteouts.remove(path) {
            m.opaque.insert(path.to_string());
        }
        Ok(())
    }

    fn mknod_fifo(&self, path: &str, mode: u32) -> SysResult<()> {
        if self.lstat(&Detached, path).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.upper_parents(path)?;
        self.upper.mknod_fifo(path, mode)?;
        self.marks().whiteouts.remove(path);
        Ok(())
    }

    fn bind_socket(
        &self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<()> {
        if self.lstat(&Detached, path).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.upper_parents(path)?;
        self.upper.bind_socket(path, mode, uid, gid, endpoint)?;
        self.marks().whiteouts.remove(path);
        Ok(())
    }

    fn bound_socket(&self, path: &str) -> SysResult<Arc<dyn Any + Send + Sync>> {
        if self.in_upper(path) {
            return self.upper.bound_socket(path);
        }
        // A socket file of the host tree: no sandbox socket behind it.
        self.lower_lstat(path)?;
        Err(Errno::ECONNREFUSED)
    }

    fn symlink(&self, target: &[u8], path: &str) -> SysResult<()> {
        if self.lstat(&Detached, path).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.upper_parents(path)?;
        self.upper.symlink(target, path)?;
        self.marks().whiteouts.remove(path);
        Ok(())
    }

    fn unlink(&self, path: &str, dir: bool) -> SysResult<()> {
        let st = self.lstat(&Detached, path)?;
        if dir {
            if st.mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if !self.list(path)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }
        let in_lower = self.lower_lstat(path).is_ok();
        if self.in_upper(path) {
            if dir {
                // Only whiteouts can remain below it in our bookkeeping.
                let prefix = format!("{path}/");
                self.marks().whiteouts.retain(|w| !w.starts_with(&prefix));
                let d = self.upper.clone().open(&Detached, path, 0, 0)?;
                let mut buf = vec![0u8; 4096];
                let n = d.getdents64(&mut buf)?;
                if dirent::parse(&buf[..n])
                    .iter()
                    .any(|(n, _, _)| n != "." && n != "..")
                {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            self.upper.unlink(path, dir)?;
        }
        let mut m = self.marks();
        m.opaque.remove(path);
        if in_lower {
            m.whiteouts.insert(path.to_string());
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str, flags: u32) -> SysResult<()> {
        const NOREPLACE: u32 = 1;
        const EXCHANGE: u32 = 2;
        let st = self.lstat(&Detached, from)?;
        let from_lower = self.lower_lstat(from).is_ok();
        if st.mode & S_IFMT == S_IFDIR && from_lower {
            // Moving a host directory would need a recursive copy-up.
            return Err(Errno::EXDEV);
        }
        let dst = self.lstat(&Detached, to);
        if flags & EXCHANGE != 0 {
            if dst.is_err() || self.lower_lstat(to).is_ok() || from_lower {
                return Err(Errno::EXDEV);
            }
            return self.upper.rename(from, to, flags);
        }
        if let Ok(d) = dst {
            if flags & NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            let (sd, dd) = (st.mode & S_IFMT == S_IFDIR, d.mode & S_IFMT == S_IFDIR);
            if sd && !dd {
                return Err(Errno::ENOTDIR);
            }
            if !sd && dd {
                return Err(Errno::EISDIR);
            }
            if dd && !self.list(to)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }
        self.copy_up(from)?;
        self.upper_parents(to)?;
        let to_lower = self.lower_lstat(to).is_ok();
        if to_lower && !self.in_upper(to) && st.mode & S_IFMT == S_IFDIR {
            // An empty lower directory being replaced: hide it.
            self.marks().opaque.insert(to.to_string());
        }
        self.upper.rename(from, to, flags & !NOREPLACE)?;
        let mut m = self.marks();
        m.whiteouts.remove(to);
        if from_lower {
            m.whiteouts.insert(from.to_string());
        }
        Ok(())
    }

    fn link(&self, from: &str, to: &str) -> SysResult<()> {
        if self.lstat(&Detached, to).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.copy_up(from)?;
        self.upper_parents(to)?;
        self.upper.link(from, to)?;
        self.marks().whiteouts.remove(to);
        Ok(())
    }

    fn setattr(&self, path: &str, a: &SetAttr) -> SysResult<()> {
        self.copy_up(path)?;
        self.upper.setattr(path, a)
    }

    fn getxattr(&self, path: &str, name: &str) -> SysResult<Vec<u8>> {
        if self.in_upper(path) {
            self.upper.getxattr(path, name)
        } else {
            // Host extended attributes are not shown.
            self.lower_lstat(path)?;
            Err(Errno::ENODATA)
        }
    }

    fn setxattr(&self, path: &str, name: &str, value: &[u8], flags: u32) -> SysResult<()> {
        self.copy_up(path)?;
        self.upper.setxattr(path, name, value, flags)
    }

    fn listxattr(&self, path: &str) -> SysResult<Vec<String>> {
        if self.in_upper(path) {
            self.upper.listxattr(path)
        } else {
            self.lower_lstat(path)?;
            Ok(Vec::new())
        }
    }

    fn removexattr(&self, path: &str, name: &str) -> SysResult<()> {
        self.copy_up(path)?;
        self.upper.removexattr(path, name)
    }

    fn fs_type(&self) -> u64 {
        0x794c_7630
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open directory of the overlay: its merged listing, taken at open.
pub struct OverlayDir {
    entries: Vec<(String, u64, u32)>,
    stat: Stat,
    pos: Mutex<u64>,
    path: std::sync::OnceLock<String>,
}

impl FileDescription for OverlayDir {
    fn read(&self, _ctx: &dyn TaskContext, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EISDIR)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn seek(&self, offset: i64, whence: crate::vfs::Whence) -> SysResult<u64> {
        let mut p = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        match whence {
            crate::vfs::Whence::Set if offset >= 0 => {
                *p = offset as u64;
                Ok(*p)
            }
            crate::vfs::Whence::Cur if offset == 0 => Ok(*p),
            _ => Err(Errno::EINVAL),
        }
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let mut all = vec![
            (".".to_string(), self.stat.ino, S_IFDIR),
            ("..".to_string(), self.stat.ino, S_IFDIR),
        ];
        all.extend(self.entries.iter().cloned());
        let mut p = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        dirent::fill(buf, &all, &mut p)
    }
    fn status_flags(&self) -> u32 {
        (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_LARGEFILE) as u32
    }
    fn path(&self) -> Option<String> {
        self.path.get().cloned()
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_stay_in_the_upper_layer() {
        let dir = std::env::temp_dir().join(format!("gvisor-overlay-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), b"host").unwrap();
        let ov = OverlayFs::new(crate::fsimpl::host::HostFs::new(dir.to_str().unwrap()).unwrap());
        // Read through, then write: the host file is untouched.
        let f = ov
            .clone()
            .open(
                &Detached,
                "sub/f",
                (libc::O_WRONLY | libc::O_APPEND) as u32,
                0,
            )
            .unwrap();
        f.write(&Detached, b"+sandbox").unwrap();
        assert_eq!(ov.lstat(&Detached, "sub/f").unwrap().size, 12);
        assert_eq!(std::fs::read(dir.join("sub/f")).unwrap(), b"host");
        // Delete a host file: hidden in the overlay, present on the host.
        ov.unlink("sub/f", false).unwrap();
        assert_eq!(ov.lstat(&Detached, "sub/f").err(), Some(Errno::ENOENT));
        assert!(dir.join("sub/f").exists());
        assert!(ov.list("sub").unwrap().is_empty());
        // New files and directories.
        ov.mkdir("new", 0o755).unwrap();
        ov.clone()
            .open(
                &Detached,
                "new/x",
                (libc::O_CREAT | libc::O_WRONLY) as u32,
                0o600,
            )
            .unwrap();
        ov.rename("new/x", "sub/y", 0).unwrap();
        assert!(ov.lstat(&Detached, "sub/y").is_ok());
        assert!(!dir.join("sub/y").exists());
        assert_eq!(ov.rename("sub", "moved", 0).err(), Some(Errno::EXDEV));
        // A socket node: made in the upper layer (parents copied up),
        // keeping its endpoint; the host tree is untouched.
        let endpoint: Arc<dyn Any + Send + Sync> = Arc::new(7u32);
        ov.bind_socket("sub/s.sock", 0o755, 5, 6, endpoint).unwrap();
        let st = ov.lstat(&Detached, "sub/s.sock").unwrap();
        assert_eq!(st.mode, libc::S_IFSOCK | 0o755);
        assert_eq!((st.uid, st.gid), (5, 6));
        let e = ov.bound_socket("sub/s.sock").unwrap();
        assert_eq!(e.downcast_ref::<u32>(), Some(&7));
        assert!(!dir.join("sub/s.sock").exists());
        assert_eq!(
            ov.bind_socket("sub/s.sock", 0o755, 0, 0, Arc::new(0u32))
                .err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(
            ov.clone()
                .open(&Detached, "sub/s.sock", libc::O_RDONLY as u32, 0)
                .err(),
            Some(Errno::ENXIO)
        );
        assert_eq!(ov.bound_socket("sub").err(), Some(Errno::ECONNREFUSED));
        ov.unlink("sub/s.sock", false).unwrap();
        assert_eq!(ov.bound_socket("sub/s.sock").err(), Some(Errno::ENOENT));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
