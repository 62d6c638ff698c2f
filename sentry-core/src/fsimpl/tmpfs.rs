//! tmpfs: an in-memory file system (directories, regular files, symlinks,
//! hard links, timestamps). It is the writable upper layer of the root
//! overlay and backs /tmp-like mounts. A regular file's data is a page cache
//! in the memory file from the start (not the sentry's heap): pages are
//! allocated on write, holes cost nothing, truncation and hole punching free
//! pages, and the pages go back to the memory file when the file is gone and
//! no mapping holds them. `read`/`write` and every `MAP_SHARED` mapping use
//! the same pages. When the memory file has no page left (its size or the
//! sandbox's memory limit), writes fail with ENOSPC, as on a full tmpfs.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::dirent;
use crate::errno::{Errno, SysResult};
use crate::mm::PageCache;
use crate::platform::MemoryFile;
use crate::vfs::FileDescription;
use crate::vfs::TaskContext;
use crate::vfs::{split_parent, Fs, SetAttr, Stat, Whence, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// Largest tmpfs file.
const MAX_FILE: u64 = 4 << 30;

fn now() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos() as i64)
}

/// Size of the memory file a tmpfs makes for itself when no kernel has set
/// one (unit tests that use a tmpfs without a platform).
const OWN_MEMORY: u64 = 64 << 20;

/// Sets the size of a file's data.
fn resize_data(c: &PageCache, size: u64) -> SysResult<()> {
    if size > MAX_FILE {
        return Err(Errno::EFBIG);
    }
    c.truncate(size)
}

enum Data {
    Dir(BTreeMap<String, u64>),
    /// A regular file: its data (in the memory file).
    File(Arc<PageCache>),
    Link(Vec<u8>),
    Fifo(Arc<crate::fsimpl::pipe::Pipe>),
    /// A unix socket's name: the endpoint its bind left (the socket layer
    /// holds the socket itself only weakly through it, so a closed
    /// socket's node refuses connections).
    Socket(Arc<dyn Any + Send + Sync>),
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

    /// The status, with a regular file's size and blocks from its data.
    fn stat(&self) -> Stat {
        let mut st = self.stat;
        if let Data::File(c) = &self.data {
            st.size = c.size() as i64;
            st.blocks = c.pages() as i64 * (PAGE_BYTES / 512);
        }
        st
    }
}

const PAGE_BYTES: i64 = crate::abi::PAGE_SIZE as i64;

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
    /// The memory file holding file data (the kernel's, found at the first
    /// file creation unless given).
    mem: Mutex<Option<Arc<MemoryFile>>>,
    /// The seals of a memfd (its file system holds only that file); None
    /// for every other tmpfs.
    memfd: Option<Memfd>,
}

/// fcntl(F_ADD_SEALS) seals (linux/fcntl.h).
pub const F_SEAL_SEAL: u32 = 0x01;
pub const F_SEAL_SHRINK: u32 = 0x02;
pub const F_SEAL_GROW: u32 = 0x04;
pub const F_SEAL_WRITE: u32 = 0x08;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;
const F_ALL_SEALS: u32 = 0x3f;

/// A memfd's seals and its count of shared mappings that may write.
struct Memfd {
    seals: Mutex<u32>,
    writers: Arc<()>,
}

const ROOT: u64 = 1;

impl TmpFs {
    /// An empty tmpfs whose root has `mode`; file data goes to the kernel's
    /// memory file.
    pub fn new(mode: u32, dev: u64) -> Arc<TmpFs> {
        Self::build(mode, dev, None, None)
    }

    /// The private file system of one memfd, which starts with `seals`.
    pub fn memfd(dev: u64, seals: u32) -> Arc<TmpFs> {
        Self::build(
            0o755,
            dev,
            None,
            Some(Memfd {
                seals: Mutex::new(seals),
                writers: Arc::new(()),
            }),
        )
    }

    /// The seals now (0 for a file that is not a memfd).
    fn seals(&self) -> u32 {
        self.memfd
            .as_ref()
            .map_or(0, |m| *m.seals.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// An empty tmpfs whose file data lives in `mem`.
    pub fn with_memory(mode: u32, dev: u64, mem: Arc<MemoryFile>) -> Arc<TmpFs> {
        Self::build(mode, dev, Some(mem), None)
    }

    fn build(
        mode: u32,
        dev: u64,
        mem: Option<Arc<MemoryFile>>,
        memfd: Option<Memfd>,
    ) -> Arc<TmpFs> {
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
            mem: Mutex::new(mem),
            memfd,
        })
    }

    /// The memory file for file data: the one given, else the kernel's, else
    /// (no kernel: unit tests) a small one of its own.
    fn memory(&self) -> SysResult<Arc<MemoryFile>> {
        let mut m = self.mem.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mem) = &*m {
            return Ok(mem.clone());
        }
        let mem = match crate::mm::pagecache::file_memory() {
            Some(mem) => mem,
            None => {
                tracing::warn!("tmpfs without a kernel memory file: using its own");
                Arc::new(MemoryFile::new(OWN_MEMORY).map_err(|e| {
                    tracing::warn!(error = %e, "tmpfs memory file");
                    Errno::ENOSPC
                })?)
            }
        };
        *m = Some(mem.clone());
        Ok(mem)
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
    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        Ok(i.nodes.get(&ino).ok_or(Errno::ENOENT)?.stat())
    }

    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        match &i.nodes.get(&ino).ok_or(Errno::ENOENT)?.data {
            Data::Link(l) => Ok(l.clone()),
            _ => Err(Errno::EINVAL),
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
                    // Checked first so that a failed lookup allocates nothing.
                    i.lookup(parent)?;
                    let data = PageCache::new(self.memory()?);
                    i.add(
                        parent,
                        name,
                        Data::File(data),
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
            return crate::fsimpl::pipe::open_fifo(ctx, &p, flags);
        }
        if let Data::Socket(_) = &node.data {
            // open(2) of a socket file, as Linux.
            return Err(Errno::ENXIO);
        }
        match &mut node.data {
            Data::Dir(_) if acc != libc::O_RDONLY => return Err(Errno::EISDIR),
            Data::Link(_) => return Err(Errno::ELOOP),
            Data::File(_) if fl & libc::O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
            Data::File(d) if fl & libc::O_TRUNC != 0 && acc != libc::O_RDONLY => {
                resize_data(d, 0)?;
                let t = now();
                node.stat.mtime = t;
                node.stat.ctime = t;
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
                Data::Fifo(crate::fsimpl::pipe::new_fifo()),
                libc::S_IFIFO | (mode & 0o7777),
                self.dev,
            )
            .map(|_| ())
    }

    fn bind_socket(
        &self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<()> {
        let (parent, name) = split_parent(path);
        let mut i = self.lock();
        let ino = i.add(
            parent,
            name,
            Data::Socket(endpoint),
            libc::S_IFSOCK | (mode & 0o7777),
            self.dev,
        )?;
        if let Some(n) = i.nodes.get_mut(&ino) {
            n.stat.uid = uid;
            n.stat.gid = gid;
        }
        Ok(())
    }

    fn bound_socket(&self, path: &str) -> SysResult<Arc<dyn Any + Send + Sync>> {
        let i = self.lock();
        let ino = i.lookup(path)?;
        match &i.nodes.get(&ino).ok_or(Errno::ENOENT)?.data {
            Data::Socket(e) => Ok(e.clone()),
            _ => Err(Errno::ECONNREFUSED),
        }
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
        let seals = self.seals();
        set_node(i.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?, a, seals)
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

/// Applies `a` to `n`; `seals` are the file's memfd seals (Linux's
/// shmem_setattr: a size change against F_SEAL_SHRINK/GROW and a change of
/// execute bits against F_SEAL_EXEC are EPERM).
fn set_node(n: &mut Node, a: &SetAttr, seals: u32) -> SysResult<()> {
    if let (Some(size), Data::File(d)) = (a.size, &n.data) {
        let old = d.size();
        if (size < old && seals & F_SEAL_SHRINK != 0) || (size > old && seals & F_SEAL_GROW != 0) {
            return Err(Errno::EPERM);
        }
    }
    if let Some(m) = a.mode {
        if seals & F_SEAL_EXEC != 0 && (n.stat.mode ^ m) & 0o111 != 0 {
            return Err(Errno::EPERM);
        }
    }
    if let Some(size) = a.size {
        match &mut n.data {
            Data::File(d) => {
                resize_data(d, size)?;
                n.stat.mtime = now();
            }
            Data::Dir(_) => return Err(Errno::EISDIR),
            Data::Link(_) | Data::Fifo(_) | Data::Socket(_) => return Err(Errno::EINVAL),
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
    /// A regular file's data. The copy itself runs without the file
    /// system's lock, so a large read or write does not stall other
    /// operations on the tmpfs.
    fn data(&self) -> SysResult<Arc<PageCache>> {
        let i = self.fs.lock();
        match &i.nodes.get(&self.ino).ok_or(Errno::EIO)?.data {
            Data::File(d) => Ok(d.clone()),
            Data::Dir(_) => Err(Errno::EISDIR),
            Data::Link(_) | Data::Fifo(_) | Data::Socket(_) => Err(Errno::EINVAL),
        }
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        self.data()?.read(buf, off)
    }
    /// Writes at `off` (None: at the end, in one step); returns where and how
    /// much. Short at [`MAX_FILE`], EFBIG at or past it; short or ENOSPC
    /// when the memory file is full.
    fn write_at(&self, buf: &[u8], off: Option<u64>) -> SysResult<(u64, usize)> {
        let d = self.data().map_err(|e| match e {
            Errno::EINVAL => Errno::EISDIR,
            e => e,
        })?;
        let seals = self.fs.seals();
        let mut buf = buf;
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        if seals & F_SEAL_GROW != 0 && !buf.is_empty() {
            // Linux writes page by page and stops at the first page whose
            // part of the write ends past the size: short, or EPERM.
            let size = d.size();
            let pos = off.unwrap_or(size);
            let end = pos.saturating_add(buf.len() as u64);
            if end > size {
                let page = crate::abi::PAGE_SIZE;
                let upto = size / page * page;
                if upto <= pos {
                    return Err(Errno::EPERM);
                }
                buf = &buf[..(upto - pos) as usize];
            }
        }
        let done = d.write_limited(buf, off, MAX_FILE)?;
        if let Some(n) = self.fs.lock().nodes.get_mut(&self.ino) {
            let t = now();
            n.stat.mtime = t;
            n.stat.ctime = t;
        }
        Ok(done)
    }
    fn size(&self) -> u64 {
        let i = self.fs.lock();
        i.nodes
            .get(&self.ino)
            .map_or(0, |n| n.stat().size.max(0) as u64)
    }
    fn append(&self) -> bool {
        self.flags() as i32 & libc::O_APPEND != 0
    }
}

impl TmpFile {
    /// A memfd's seals (F_GET_SEALS); EINVAL for any other file.
    pub fn get_seals(&self) -> SysResult<u32> {
        let m = self.fs.memfd.as_ref().ok_or(Errno::EINVAL)?;
        Ok(*m.seals.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// F_ADD_SEALS, in Linux's order of checks (memfd_add_seals).
    pub fn add_seals(&self, add: u64) -> SysResult<()> {
        if !self.writable() {
            return Err(Errno::EPERM);
        }
        if add & !u64::from(F_ALL_SEALS) != 0 {
            return Err(Errno::EINVAL);
        }
        let mut add = add as u32;
        let m = self.fs.memfd.as_ref().ok_or(Errno::EINVAL)?;
        let mut seals = m.seals.lock().unwrap_or_else(|p| p.into_inner());
        if *seals & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        // The count includes the file's own reference.
        if add & F_SEAL_WRITE != 0
            && *seals & F_SEAL_WRITE == 0
            && Arc::strong_count(&m.writers) > 1
        {
            return Err(Errno::EBUSY);
        }
        // F_SEAL_EXEC on an executable file seals it against writes too.
        if add & F_SEAL_EXEC != 0 {
            let i = self.fs.lock();
            if i.nodes
                .get(&self.ino)
                .is_some_and(|n| n.stat.mode & 0o111 != 0)
            {
                add |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
            }
        }
        *seals |= add;
        Ok(())
    }

    /// The check of a shared mapping against the seals (Linux's
    /// seal_check_write): EPERM for a writable one of a file sealed against
    /// writes, which also may never become writable. Returns whether the
    /// mapping may write and the token it holds while it does.
    pub fn map_shared(&self, write: bool, may_write: bool) -> SysResult<(bool, Option<Arc<()>>)> {
        let Some(m) = self.fs.memfd.as_ref() else {
            return Ok((may_write, None));
        };
        let seals = *m.seals.lock().unwrap_or_else(|p| p.into_inner());
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            if write {
                return Err(Errno::EPERM);
            }
            return Ok((false, None));
        }
        Ok((may_write, may_write.then(|| m.writers.clone())))
    }
}

impl FileDescription for TmpFile {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let mut p = self.pos();
        let n = self.read_at(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let mut p = self.pos();
        let (at, n) = self.write_at(buf, (!self.append()).then_some(*p))?;
        *p = at + n as u64;
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
        // As on Linux, pwrite on an O_APPEND file appends.
        let (_, n) = self.write_at(buf, (!self.append()).then_some(offset))?;
        Ok(n)
    }
    fn pwrite_rwf(&self, buf: &[u8], offset: u64, append: bool) -> SysResult<(u64, usize)> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        self.write_at(buf, (!append).then_some(offset))
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
        Ok(i.nodes.get(&self.ino).ok_or(Errno::EIO)?.stat())
    }
    fn seek_data(&self, offset: i64, hole: bool) -> SysResult<u64> {
        let d = match self.data() {
            Ok(d) => d,
            Err(Errno::EISDIR) => return Err(Errno::EINVAL),
            Err(e) => return Err(e),
        };
        let off = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
        let at = d.seek_data(off, hole)?;
        *self.pos() = at;
        Ok(at)
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
        let seals = self.fs.seals();
        let mut i = self.fs.lock();
        set_node(
            i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?,
            &SetAttr {
                size: Some(size),
                ..Default::default()
            },
            seals,
        )
    }
    fn setattr(&self, a: &SetAttr) -> SysResult<()> {
        let seals = self.fs.seals();
        let mut i = self.fs.lock();
        set_node(i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?, a, seals)
    }
    fn allocate(&self, mode: u32, offset: u64, len: u64) -> SysResult<()> {
        const KEEP_SIZE: u32 = 0x01;
        const PUNCH_HOLE: u32 = 0x02;
        let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        let seals = self.fs.seals();
        let mut i = self.fs.lock();
        let n = i.nodes.get_mut(&self.ino).ok_or(Errno::EIO)?;
        let Data::File(d) = &n.data else {
            return Err(Errno::ENODEV);
        };
        // Linux's shmem_fallocate: a hole may not be punched in a file
        // sealed against writes, nor may it be allocated past its size
        // under F_SEAL_GROW.
        if mode & PUNCH_HOLE != 0 {
            if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
                return Err(Errno::EPERM);
            }
        } else if seals & F_SEAL_GROW != 0 && end > d.size() {
            return Err(Errno::EPERM);
        }
        match mode {
            0 | KEEP_SIZE => d.allocate(offset, len, mode == 0)?,
            m if m == PUNCH_HOLE | KEEP_SIZE => d.punch_hole(offset, len)?,
            _ => return Err(Errno::EOPNOTSUPP),
        }
        let t = now();
        n.stat.mtime = t;
        n.stat.ctime = t;
        Ok(())
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
        // A file no longer reachable by its path (unlinked) still opens; the
        // new description holds the file open too (released by its Drop).
        {
            let mut i = self.fs.lock();
            if !i.nodes.contains_key(&self.ino) {
                return Some(Err(Errno::ENOENT));
            }
            *i.opens.entry(self.ino).or_default() += 1;
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
            // The file's data is the cache that mappings share.
            Data::File(c) if Arc::ptr_eq(c.memory(), mem) => Ok(Some(c.clone())),
            Data::File(c) => {
                // Mapped by an address space of another memory file (only
                // when one process runs several platforms: tests): the data
                // moves there.
                let moved = c.copy_to(mem)?;
                *c = moved.clone();
                Ok(Some(moved))
            }
            _ => Ok(None),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Detached;

    const RW_CREAT: u32 = (libc::O_RDWR | libc::O_CREAT) as u32;

    fn fs_with(mem_bytes: u64) -> (Arc<MemoryFile>, Arc<TmpFs>) {
        let mem = Arc::new(MemoryFile::new(mem_bytes).unwrap());
        (mem.clone(), TmpFs::with_memory(0o755, 9, mem))
    }

    #[test]
    fn file_data_is_memory_file_pages_and_holes_are_free() {
        let (mem, fs) = fs_with(4 << 20);
        let base = mem.pages_in_use();
        let f = fs.clone().open(&Detached, "/f", RW_CREAT, 0o644).unwrap();
        assert_eq!(mem.pages_in_use(), base, "an empty file has no pages");
        assert_eq!(f.pwrite(&[7u8; 3 * 4096], 0).unwrap(), 3 * 4096);
        assert_eq!(mem.pages_in_use(), base + 3);
        // A byte far away: one more page, the hole between costs nothing.
        assert_eq!(f.pwrite(b"x", 1 << 30).unwrap(), 1);
        assert_eq!(mem.pages_in_use(), base + 4);
        let st = f.stat().unwrap();
        assert_eq!(st.size, (1 << 30) + 1);
        assert_eq!(st.blocks, 4 * 8);
        let mut b = [1u8; 8];
        assert_eq!(f.pread(&mut b, 1 << 20).unwrap(), 8);
        assert_eq!(b, [0; 8], "a hole reads as zeros");
        // Truncation frees whole pages and zeroes the tail of the last one.
        f.truncate(4096 + 10).unwrap();
        assert_eq!(mem.pages_in_use(), base + 2);
        f.truncate(3 * 4096).unwrap();
        let mut page = [9u8; 4096];
        assert_eq!(f.pread(&mut page, 4096).unwrap(), 4096);
        assert!(page[..10].iter().all(|&x| x == 7));
        assert!(page[10..].iter().all(|&x| x == 0));
        assert_eq!(fs.lstat(&Detached, "/f").unwrap().size, 3 * 4096);
        // Deleted and closed: every page goes back.
        drop(f);
        fs.unlink("/f", false).unwrap();
        assert_eq!(mem.pages_in_use(), base);
    }

    #[test]
    fn a_full_memory_file_gives_enospc_not_a_crash() {
        let (mem, fs) = fs_with(2 << 20);
        let f = fs.clone().open(&Detached, "/big", RW_CREAT, 0o644).unwrap();
        let chunk = vec![5u8; 1 << 20];
        let mut total = 0;
        let err = loop {
            match f.write(&Detached, &chunk) {
                Ok(n) => {
                    assert!(n > 0);
                    total += n;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err, Errno::ENOSPC);
        assert!(total > 0 && total <= 2 << 20, "{total}");
        assert_eq!(f.stat().unwrap().size as usize, total, "short write kept");
        let g = fs
            .clone()
            .open(&Detached, "/other", RW_CREAT, 0o644)
            .unwrap();
        assert_eq!(g.write(&Detached, b"x"), Err(Errno::ENOSPC));
        assert_eq!(g.allocate(0, 0, 4096), Err(Errno::ENOSPC));
        // Freeing space makes writes work again.
        f.truncate(0).unwrap();
        assert_eq!(g.write(&Detached, b"x").unwrap(), 1);
        assert!(mem.pages_in_use() < 8);
    }

    #[test]
    fn fallocate_allocates_and_punches() {
        let (mem, fs) = fs_with(4 << 20);
        let base = mem.pages_in_use();
        let f = fs.clone().open(&Detached, "/a", RW_CREAT, 0o644).unwrap();
        f.allocate(0, 0, 2 * 4096 + 1).unwrap();
        assert_eq!(f.stat().unwrap().size, 2 * 4096 + 1);
        assert_eq!(mem.pages_in_use(), base + 3);
        f.allocate(1, 0, 8 * 4096).unwrap();
        assert_eq!(f.stat().unwrap().size, 2 * 4096 + 1, "KEEP_SIZE");
        assert_eq!(mem.pages_in_use(), base + 8);
        f.pwrite(&[3u8; 3 * 4096], 0).unwrap();
        // Punch [100, 2*4096+100): page 1 freed, the ends zeroed.
        f.allocate(3, 100, 2 * 4096).unwrap();
        assert_eq!(mem.pages_in_use(), base + 7);
        let mut b = vec![0u8; 3 * 4096];
        f.pread(&mut b, 0).unwrap();
        assert!(b[..100].iter().all(|&x| x == 3));
        assert!(b[100..2 * 4096 + 100].iter().all(|&x| x == 0));
        assert!(b[2 * 4096 + 100..].iter().all(|&x| x == 3));
        assert_eq!(f.allocate(2, 0, 1), Err(Errno::EOPNOTSUPP));
        assert_eq!(f.allocate(0, MAX_FILE, 1), Err(Errno::EFBIG));
    }

    #[test]
    fn writes_stop_at_the_largest_file() {
        let (_mem, fs) = fs_with(4 << 20);
        let f = fs.clone().open(&Detached, "/m", RW_CREAT, 0o644).unwrap();
        assert_eq!(f.pwrite(b"abcd", MAX_FILE - 2).unwrap(), 2);
        assert_eq!(f.pwrite(b"abcd", MAX_FILE), Err(Errno::EFBIG));
        assert_eq!(
            f.pwrite(b"", MAX_FILE).unwrap(),
            0,
            "an empty write is no error"
        );
        assert_eq!(f.truncate(MAX_FILE + 1), Err(Errno::EFBIG));
    }

    #[test]
    fn appends_from_two_descriptors_interleave_whole() {
        let (_mem, fs) = fs_with(4 << 20);
        let flags = RW_CREAT | libc::O_APPEND as u32;
        let a = fs.clone().open(&Detached, "/log", flags, 0o644).unwrap();
        let b = fs.clone().open(&Detached, "/log", flags, 0o644).unwrap();
        let ta = std::thread::spawn(move || {
            (0..200).for_each(|_| assert_eq!(a.write(&Detached, b"aaaa").unwrap(), 4))
        });
        (0..200).for_each(|_| assert_eq!(b.pwrite(b"bbbb", 0).unwrap(), 4));
        ta.join().unwrap();
        let r = fs
            .clone()
            .open(&Detached, "/log", libc::O_RDONLY as u32, 0)
            .unwrap();
        let mut all = vec![0u8; 2000];
        assert_eq!(r.read(&Detached, &mut all).unwrap(), 1600);
        for rec in all[..1600].chunks(4) {
            assert!(rec == b"aaaa" || rec == b"bbbb", "{rec:?}");
        }
    }

    #[test]
    fn mapping_shares_the_files_pages() {
        let (mem, fs) = fs_with(4 << 20);
        let f = fs.clone().open(&Detached, "/s", RW_CREAT, 0o644).unwrap();
        f.pwrite(b"hello", 10).unwrap();
        let used = mem.pages_in_use();
        let c = f.page_cache(&mem).unwrap().unwrap();
        assert_eq!(mem.pages_in_use(), used, "mapping copies nothing");
        let p = c.map_page(0).unwrap().unwrap();
        mem.write(p + 10, b"J").unwrap();
        let mut b = [0u8; 5];
        f.pread(&mut b, 10).unwrap();
        assert_eq!(&b, b"Jello");
        assert!(!mem.decref(p));
        // Another memory file (a second platform in one process): the data
        // moves there, still one cache for read and mappings.
        // Large enough that the process-wide tmpfs cap (half a memory file)
        // is not reached by other tests' files held at the same time.
        let other = Arc::new(MemoryFile::new(256 << 20).unwrap());
        let c2 = f.page_cache(&other).unwrap().unwrap();
        assert!(Arc::ptr_eq(c2.memory(), &other));
        f.pread(&mut b, 10).unwrap();
        assert_eq!(&b, b"Jello");
        assert!(Arc::ptr_eq(&f.page_cache(&other).unwrap().unwrap(), &c2));
    }
}
