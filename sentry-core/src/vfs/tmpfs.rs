//! tmpfs: an in-memory file system (directories, regular files, symlinks,
//! hard links, timestamps). It is the writable upper layer of the root
//! overlay and backs /tmp-like mounts. File data lives in the sentry's heap
//! until the file is first mapped; from then on it lives in a page cache in
//! the memory file, which every mapping and every read and write share.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{dirent, split_parent, Fs, SetAttr, Stat, Whence, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::errno::{Errno, SysResult};
use crate::mm::PageCache;
use crate::platform::MemoryFile;
use crate::vfs::FileDescription;

/// Largest tmpfs file.
const MAX_FILE: u64 = 4 << 30;

fn now() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos() as i64)
}

/// A regular file's contents.
enum FileData {
    Heap(Vec<u8>),
    Cached(Arc<PageCache>),
}

impl FileData {
    fn len(&self) -> u64 {
        match self {
            FileData::Heap(v) => v.len() as u64,
            FileData::Cached(c) => c.size(),
        }
    }
    fn read(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        match self {
            FileData::Heap(d) => {
                let off = off.min(d.len() as u64) as usize;
                let n = buf.len().min(d.len() - off);
                buf[..n].copy_from_slice(&d[off..off + n]);
                Ok(n)
            }
            FileData::Cached(c) => c.read(buf, off),
        }
    }
    fn write(&mut self, buf: &[u8], off: u64) -> SysResult<()> {
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        match self {
            FileData::Heap(d) => {
                if d.len() < end as usize {
                    d.resize(end as usize, 0);
                }
                d[off as usize..end as usize].copy_from_slice(buf);
            }
            FileData::Cached(c) => {
                c.write(buf, off)?;
            }
        }
        Ok(())
    }
    fn resize(&mut self, size: u64) -> SysResult<()> {
        if size > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        match self {
            FileData::Heap(d) => d.resize(size as usize, 0),
            FileData::Cached(c) => c.truncate(size)?,
        }
        Ok(())
    }
}

enum Data {
    Dir(BTreeMap<String, u64>),
    File(FileData),
    Link(Vec<u8>),
    Fifo(Arc<crate::fs::pipe::Pipe>),
}

struct Node {
    data: Data,
    stat: Stat,
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl Node {
    /// No name is left: a file without links, a directory without its own "." link.
    fn dead(&self) -> bool {
        self.stat.nlink == 0 || (matches!(self.data, Data::Dir(_)) && self.stat.nlink <= 1)
    }
}

struct Inner {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// Open files per inode: an unlinked file lives until its last close.
    opens: HashMap<u64, usize>,
}

/// An in-memory file system.
pub struct TmpFs {
    inner: Mutex<Inner>,
    dev: u64,
}

const ROOT: u64 = 1;

impl TmpFs {
    /// An empty tmpfs whose root has `mode`.
    pub fn new(mode: u32, dev: u64) -> Arc<TmpFs> {
        let t = now();
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                data: Data::Dir(BTreeMap::new()),
                xattrs: BTreeMap::new(),
                stat: Stat {
                    dev,
                    ino: ROOT,
                    nlink: 2,
                    mode: S_IFDIR | (mode & 0o7777),
                    blksize: 4096,
                    atime: t,
                    mtime: t,
                    ctime: t,
                    ..Default::default()
                },
            },
        );
        Arc::new(TmpFs {
            inner: Mutex::new(Inner {
                nodes,
                next_ino: 2,
                opens: HashMap::new(),
            }),
            dev,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn lookup(&self, path: &str) -> SysResult<u64> {
        let mut ino = ROOT;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            match &self.nodes.get(&ino).ok_or(Errno::ENOENT)?.data {
                Data::Dir(m) => ino = *m.get(c).ok_or(Errno::ENOENT)?,
                _ => return Err(Errno::ENOTDIR),
            }
        }
        Ok(ino)
    }

    fn dir_mut(&mut self, ino: u64) -> SysResult<&mut BTreeMap<String, u64>> {
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.data {
            Data::Dir(m) => Ok(m),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn add(&mut self, parent: &str, name: &str, data: Data, mode: u32, dev: u64) -> SysResult<u64> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let pino = self.lookup(parent)?;
        if self.dir_mut(pino)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let t = now();
        let is_dir = matches!(data, Data::Dir(_));
        let size = match &data {
            Data::Link(l) => l.len() as i64,
            _ => 0,
        };
        self.nodes.insert(
            ino,
            Node {
                data,
                xattrs: BTreeMap::new(),
                stat: Stat {
                    dev,
                    ino,
                    nlink: if is_dir { 2 } else { 1 },
                    mode,
                    blksize: 4096,
                    size,
                    atime: t,
                    mtime: t,
                    ctime: t,
                    ..Default::default()
                },
            },
        );
        self.dir_mut(pino)?.insert(name.to_string(), ino);
        if let Some(p) = self.nodes.get_mut(&pino) {
            p.stat.mtime = t;
            p.stat.ctime = t;
            if is_dir {
                p.stat.nlink += 1;
            }
        }
        Ok(ino)
    }

    fn drop_link(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.stat.nlink = n.stat.nlink.saturating_sub(1);
            n.stat.ctime = now();
            // An open file outlives its last name (freed at its last close).
            if n.dead() && !self.opens.contains_key(&ino) {
                self.nodes.remove(&ino);
            }
        }
    }
}

impl Fs for TmpFs {
    fn lstat(&self, path: &str) -> SysResult<Stat> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        Ok(i.nodes.get(&ino).ok_or(Errno::ENOENT)?.stat)
    }

    fn readlink(&self, path: &str) -> SysResult<Vec<u8>> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        match &i.nodes.get(&ino).ok_or(Errno::ENOENT)?.data {
            Data::Link(l) => Ok(l.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(
        self: Arc<Self>,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let fl = flags as i32;
        let ino = {
            let mut i = self.lock();
            match i.lookup(path) {
                Ok(ino) => {
                    if fl & libc::O_CREAT != 0 && fl & libc::O_EXCL != 0 {
                        return Err(Errno::EEXIST);
                    }
                    ino
                }
                Err(Errno::ENOENT) if fl & libc::O_CREAT != 0 => {
                    let (parent, name) = split_parent(path);
                    i.add(
                        parent,
                        name,
                        Data::File(FileData::Heap(Vec::new())),
                        S_IFREG | (mode & 0o7777),
                        self.dev,
                    )?
                }
                Err(e) => return Err(e),
            }
        };
        let mut i = self.lock();
        let node = i.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let acc = fl & libc::O_ACCMODE;
        if let Data::Fifo(p) = &node.data {
            let p = p.clone();
            drop(i);
            return crate::fs::pipe::open_fifo(&p, flags);
        }
        match &mut node.data {
            Data::Dir(_) if acc != libc::O_RDONLY => return Err(Errno::EISDIR),
            Data::Link(_) => return Err(Errno::ELOOP),
            Data::File(_) if fl & libc::O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
            Data::File(d) if fl & libc::O_TRUNC != 0 && acc != libc::O_RDONLY => {
                d.resize(0)?;
                node.stat.size = 0;
                node.stat.mtime = now();
            }
            _ => {}
        }
        *i.opens.entry(ino).or_default() += 1;
        drop(i);
        Ok(Arc::new(TmpFile {
            fs: self.clone(),
            ino,
            pos: Mutex::new(0),
            flags: Mutex::new(
                flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC) as u32,
            ),
            path: std::sync::OnceLock::new(),
        }))
    }

    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        let (parent, name) = split_parent(path);
        self.lock()
            .add(
                parent,
                name,
                Data::Dir(BTreeMap::new()),
                S_IFDIR | (mode & 0o7777),
                self.dev,
            )
            .map(|_| ())
    }

    fn mknod_fifo(&self, path: &str, mode: u32) -> SysResult<()> {
        let (parent, name) = split_parent(path);
        self.lock()
            .add(
                parent,
                name,
                Data::Fifo(crate::fs::pipe::new_fifo()),
                libc::S_IFIFO | (mode & 0o7777),
                self.dev,
            )
            .map(|_| ())
    }

    fn symlink(&self, target: &[u8], path: &str) -> SysResult<()> {
        let (parent, name) = split_parent(path);
        self.lock()
            .add(
                parent,
                name,
                Data::Link(target.to_vec()),
                S_IFLNK | 0o777,
                self.dev,
            )
            .map(|_| ())
    }

    fn unlink(&self, path: &str, dir: bool) -> SysResult<()> {
        let mut i = self.lock();
        let ino = i.lookup(path)?;
        if ino == ROOT {
            return Err(Errno::EBUSY);
        }
        let is_dir = matches!(i.nodes.get(&ino).map(|n| &n.data), Some(Data::Dir(_)));
        match (dir, is_dir) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            (true, true) => {
                if let Some(Node {
                    data: Data::Dir(m), ..
                }) = i.nodes.get(&ino)
                {
                    if !m.is_empty() {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
            }
            _ => {}
        }
        let (parent, name) = split_parent(path);
        let pino = i.lookup(parent)?;
        i.dir_mut(pino)?.remove(name);
        if let Some(p) = i.nodes.get_mut(&pino) {
            p.stat.mtime = now();
            if is_dir {
                p.stat.nlink = p.stat.nlink.saturating_sub(1);
            }
        }
        i.drop_link(ino);
        if is_dir {
            i.nodes.remove(&ino);
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str, flags: u32) -> SysResult<()> {
        const NOREPLACE: u32 = 1;
        const EXCHANGE: u32 = 2;
        let mut i = self.lock();
        let src = i.lookup(from)?;
        let (fp, fname) = split_parent(from);
        let (tp, tname) = split_parent(to);
        if to.starts_with(&format!("{from}/")) {
            return Err(Errno::EINVAL);
        }
        let fpino = i.lookup(fp)?;
        let tpino = i.lookup(tp)?;
        let existing = i.dir_mut(tpino)?.get(tname).copied();
        if flags & EXCHANGE != 0 {
            let dst = existing.ok_or(Errno::ENOENT)?;
            i.dir_mut(fpino)?.insert(fname.to_string(), dst);
            i.dir_mut(tpino)?.insert(tname.to_string(), src);
            return Ok(());
        }
        if let Some(dst) = existing {
            if dst == src {
                return Ok(());
            }
            if flags & NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            let src_dir = matches!(i.nodes.get(&src).map(|n| &n.data), Some(Data::Dir(_)));
            match i.nodes.get(&dst).map(|n| &n.data) {
                Some(Data::Dir(m)) if !src_dir => {
                    let _ = m;
                    return Err(Errno::EISDIR);
                }
                Some(Data::Dir(m)) if !m.is_empty() => return Err(Errno::ENOTEMPTY),
                Some(Data::Dir(_)) => {}
                _ if src_dir => return Err(Errno::ENOTDIR),
                _ => {}
            }
            i.drop_link(dst);
        }
        i.dir_mut(fpino)?.remove(fname);
        i.dir_mut(tpino)?.insert(tname.to_string(), src);
        if let Some(n) = i.nodes.get_mut(&src) {
            n.stat.ctime = now();
        }
        Ok(())
    }

    fn link(&self, from: &str, to: &str) -> SysResult<()> {
        let mut i = self.lock();
        let src = i.lookup(from)?;
        if matches!(i.nodes.get(&src).map(|n| &n.data), Some(Data::Dir(_))) {
            return Err(Errno::EPERM);
        }
        let (tp, tname) = split_parent(to);
        let tpino = i.lookup(tp)?;
        if i.dir_mut(tpino)?.contains_key(tname) {
            return Err(Errno::EEXIST);
        }
        i.dir_mut(tpino)?.insert(tname.to_string(), src);
        if let Some(n) = i.nodes.get_mut(&src) {
            n.stat.nlink += 1;
            n.stat.ctime = now();
        }
        Ok(())
    }

    fn setattr(&self, path: &str, a: &SetAttr) -> SysResult<()> {
        let mut i = self.lock();
        let ino = i.lookup(path)?;
        set_node(i.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?, a)
    }

    fn getxattr(&self, path: &str, name: &str) -> SysResult<Vec<u8>> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        i.nodes
            .get(&ino)
            .and_then(|n| n.xattrs.get(name))
            .cloned()
            .ok_or(Errno::ENODATA)
    }

    fn setxattr(&self, path: &str, name: &str, value: &[u8], flags: u32) -> SysResult<()> {
        let mut i = self.lock();
        let ino = i.lookup(path)?;
        let n = i.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let exists = n.xattrs.contains_key(name);
        if flags & 1 != 0 && exists {
            return Err(Errno::EEXIST);
        }
        if flags & 2 != 0 && !exists {
            return Err(Errno::ENODATA);
        }
        n.xattrs.insert(name.to_string(), value.to_vec());
        n.stat.ctime = now();
        Ok(())
    }

    fn listxattr(&self, path: &str) -> SysResult<Vec<String>> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        Ok(i.nodes
            .get(&ino)
            .map(|n| n.xattrs.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn removexattr(&self, path: &str, name: &str) -> SysResult<()> {
        let mut i = self.lock();
        let ino = i.lookup(path)?;
        let n = i.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        n.xattrs.remove(name).map(|_| ()).ok_or(Errno::ENODATA)
    }

    fn fs_type(&self) -> u64 {
        0x0102_1994
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn set_node(n: &mut Node, a: &SetAttr) -> SysResult<()> {
    if let Some(size) = a.size {
        match &mut n.data {
            Data::File(d) => {
                d.resize(size)?;
                n.stat.size = size as i64;
                n.stat.blocks = (size as i64 + 511) / 512;
                n.stat.mtime = now();
            }
            Data::Dir(_) => return Err(Errno::EISDIR),
            Data::Link(_) | Data::Fifo(_) => return Err(Errno::EINVAL),
        }
    }
    if let Some(m) = a.mode {
        n.stat.mode = (n.stat.mode & S_IFMT) | (m & 0o7777);
    }
    if let Some(u) = a.uid {
        n.stat.uid = u;
    }
    if let Some(g) = a.gid {
        n.stat.gid = g;
    }
    if let Some(t) = a.atime {
        n.stat.atime = t;
    }
    if let Some(t) = a.mtime {
        n.stat.mtime = t;
    }
    n.stat.ctime = now();
    Ok(())
}

/// An open tmpfs file or directory.
pub struct TmpFile {
    fs: Arc<TmpFs>,
    ino: u64,
    pos: Mutex<u64>,
    flags: Mutex<u32>,
    path: std::sync::OnceLock<String>,
}

impl Drop for TmpFile {
    /// The last close of a file that has no name left frees it.
    fn drop(&mut self) {
        let mut i = self.fs.lock();
        let last = match i.opens.get_mut(&self.ino) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                i.opens.remove(&self.ino);
                true
            }
            None => false,
        };
        if last && i.nodes.get(&self.ino).is_some_and(Node::dead) {
            i.nodes.remove(&self.ino);
        }
    }
}

impl TmpFile {
    fn pos(&self) -> MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn flags(&self) -> u32 {
        *self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn readable(&self) -> bool {
        self.flags() as i32 & libc::O_ACCMODE != libc::O_WRONLY
    }
    fn writable(&self) -> bool {
        self.flags() as i32 & libc::O_ACCMODE != libc::O_RDONLY
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        let i = self.fs.lock();
        match &i.nodes.get(&self.ino).ok_or(Errno::EIO)?.data {
            Data::File(d) => d.read(buf, off),
            Data::Dir(_) => Err(Errno::EISDIR),
            Data::Link(_) | Data::Fifo(_) => Err(Errno::EINVAL),
        }
    }
    fn write_at(&self, buf: &[u8], off: u64) -> SysResult<usize> {
        let mut i = self.fs.lock();
        let n = i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?;
        match &mut n.data {
            Data::File(d) => {
                d.write(buf, off)?;
                n.stat.size = d.len() as i64;
                n.stat.blocks = (d.len() as i64 + 511) / 512;
                n.stat.mtime = now();
                Ok(buf.len())
            }
            _ => Err(Errno::EISDIR),
        }
    }
    fn size(&self) -> u64 {
        let i = self.fs.lock();
        i.nodes
            .get(&self.ino)
            .map_or(0, |n| n.stat.size.max(0) as u64)
    }
}

impl FileDescription for TmpFile {
    fn read(&self, buf: &mut [u8]) -> SysResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let mut p = self.pos();
        let n = self.read_at(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn write(&self, buf: &[u8]) -> SysResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let mut p = self.pos();
        if self.flags() as i32 & libc::O_APPEND != 0 {
            *p = self.size();
        }
        let n = self.write_at(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn pread(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        self.read_at(buf, offset)
    }
    fn pwrite(&self, buf: &[u8], offset: u64) -> SysResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        self.write_at(buf, offset)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        let mut p = self.pos();
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => *p as i64,
            Whence::End => self.size() as i64,
        };
        let new = base
            .checked_add(offset)
            .filter(|&v| v >= 0)
            .ok_or(Errno::EINVAL)?;
        *p = new as u64;
        Ok(*p)
    }
    fn stat(&self) -> SysResult<Stat> {
        let i = self.fs.lock();
        Ok(i.nodes.get(&self.ino).ok_or(Errno::EIO)?.stat)
    }
    fn getdents64(&self, buf: &mut [u8]) -> SysResult<usize> {
        let entries: Vec<(String, u64, u32)> = {
            let i = self.fs.lock();
            match &i.nodes.get(&self.ino).ok_or(Errno::EIO)?.data {
                Data::Dir(m) => m
                    .iter()
                    .map(|(k, &v)| (k.clone(), v, i.nodes.get(&v).map_or(0, |n| n.stat.mode)))
                    .collect(),
                _ => return Err(Errno::ENOTDIR),
            }
        };
        let mut all = vec![
            (".".to_string(), self.ino, S_IFDIR),
            ("..".to_string(), self.ino, S_IFDIR),
        ];
        all.extend(entries);
        let mut p = self.pos();
        dirent::fill(buf, &all, &mut p)
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        if !self.writable() {
            return Err(Errno::EINVAL);
        }
        let mut i = self.fs.lock();
        set_node(
            i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?,
            &SetAttr {
                size: Some(size),
                ..Default::default()
            },
        )
    }
    fn setattr(&self, a: &SetAttr) -> SysResult<()> {
        let mut i = self.fs.lock();
        set_node(i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?, a)
    }
    fn status_flags(&self) -> u32 {
        self.flags() | libc::O_LARGEFILE as u32
    }
    fn path(&self) -> Option<String> {
        self.path.get().cloned()
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn reopen(&self, flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        // A file no longer reachable by its path (unlinked) still opens.
        if !self.fs.lock().nodes.contains_key(&self.ino) {
            return Some(Err(Errno::ENOENT));
        }
        let f = Arc::new(TmpFile {
            fs: self.fs.clone(),
            ino: self.ino,
            pos: Mutex::new(0),
            flags: Mutex::new(
                flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC) as u32,
            ),
            path: std::sync::OnceLock::new(),
        });
        if let Some(p) = self.path.get() {
            let _ = f.path.set(p.clone());
        }
        Some(Ok(f))
    }
    fn set_status_flags(&self, f: u32) {
        let mut fl = self.flags.lock().unwrap_or_else(|p| p.into_inner());
        let keep = (libc::O_APPEND | libc::O_NONBLOCK) as u32;
        *fl = (*fl & !keep) | (f & keep);
    }
    fn page_cache(&self, mem: &Arc<MemoryFile>) -> SysResult<Option<Arc<PageCache>>> {
        let mut i = self.fs.lock();
        let n = i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?;
        match &mut n.data {
            Data::File(FileData::Cached(c)) => Ok(Some(c.clone())),
            Data::File(d) => {
                // First mapping: the data moves into the memory file.
                let FileData::Heap(v) = d else {
                    return Err(Errno::EIO);
                };
                let c = PageCache::from_bytes(mem.clone(), v)?;
                *d = FileData::Cached(c.clone());
                Ok(Some(c))
            }
            _ => Ok(None),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
