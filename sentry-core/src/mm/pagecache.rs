//! Page caches: a file's contents held in memory-file pages, shared by every
//! mapping of the file and by `read`/`write` on it.
//!
//! A cache owns one reference on each of its pages (see
//! `MemoryFile::incref`); every address space that maps a page owns another.
//! A `MAP_SHARED` mapping maps the cache's pages themselves, so stores are
//! seen by `read` and by every other mapping at once. A `MAP_PRIVATE`
//! mapping maps them read-only and copies a page on its first write (the
//! page is shared, so the ordinary copy-on-write path applies).
//!
//! Two kinds exist:
//! - tmpfs files, whose cache *is* the file's data from the start: pages are
//!   allocated from the memory file on write (holes stay unallocated and read
//!   as zeros), freed on truncation, hole punching and when the file is gone
//!   (nothing to write back; `msync` has nothing to do). A page the memory
//!   file cannot give makes a write short, or fail with ENOSPC, as a full
//!   tmpfs does;
//! - read-only host files (the gofer's), filled on demand with `pread` from a
//!   donated descriptor. The sandbox never writes host files (writes copy the
//!   file up into tmpfs first), so these pages are never dirty. A small
//!   registry keeps the caches of recently mapped host files (shared
//!   libraries) so that the next process maps the same pages.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::errno::{Errno, SysResult};
use crate::platform::MemoryFile;

use super::PAGE;

struct Inner {
    /// File page index -> memory-file offset.
    frames: BTreeMap<u64, u64>,
    /// File size in bytes.
    size: u64,
}

/// The cached pages of one file.
pub struct PageCache {
    mem: Arc<MemoryFile>,
    inner: Mutex<Inner>,
    /// Read-only host file that fills missing pages (None: missing pages are
    /// holes, read as zeros).
    source: Option<OwnedFd>,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.lock();
        f.debug_struct("PageCache")
            .field("size", &i.size)
            .field("pages", &i.frames.len())
            .field("host", &self.source.is_some())
            .finish()
    }
}

fn nomem(_: impl std::fmt::Debug) -> Errno {
    Errno::ENOMEM
}

/// Memory-file pages held by writable (tmpfs) caches, for /proc/meminfo's
/// Shmem. They are also counted by `MemoryFile::pages_in_use` (they come
/// from the same allocator), so a memory limit sees them.
static TMPFS_PAGES: AtomicU64 = AtomicU64::new(0);

/// Memory-file pages that tmpfs files hold now.
pub fn tmpfs_pages() -> u64 {
    TMPFS_PAGES.load(Ordering::Relaxed)
}

/// The memory file that tmpfs file data lives in (the kernel's, set by
/// `Kernel::new`; one per sentry process).
static FILE_MEMORY: Mutex<Option<Weak<MemoryFile>>> = Mutex::new(None);

/// Makes `mem` the memory file for tmpfs file data.
pub fn set_file_memory(mem: &Arc<MemoryFile>) {
    *FILE_MEMORY.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::downgrade(mem));
}

/// The memory file set by [`set_file_memory`], if it still exists.
pub fn file_memory() -> Option<Arc<MemoryFile>> {
    FILE_MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(Weak::upgrade)
}

impl PageCache {
    /// An empty, writable cache (a tmpfs file's data).
    pub fn new(mem: Arc<MemoryFile>) -> Arc<PageCache> {
        Arc::new(PageCache {
            mem,
            inner: Mutex::new(Inner {
                frames: BTreeMap::new(),
                size: 0,
            }),
            source: None,
        })
    }

    /// A writable cache holding `data`.
    pub fn from_bytes(mem: Arc<MemoryFile>, data: &[u8]) -> SysResult<Arc<PageCache>> {
        let c = PageCache::new(mem);
        c.write(data, 0)?;
        Ok(c)
    }

    /// A read-only cache of a host file of `size` bytes, filled from `fd`.
    pub fn from_host(mem: Arc<MemoryFile>, fd: OwnedFd, size: u64) -> Arc<PageCache> {
        Arc::new(PageCache {
            mem,
            inner: Mutex::new(Inner {
                frames: BTreeMap::new(),
                size,
            }),
            source: Some(fd),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update of Inner is complete before the lock is released.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file size.
    pub fn size(&self) -> u64 {
        self.lock().size
    }

    /// Pages held.
    pub fn pages(&self) -> usize {
        self.lock().frames.len()
    }

    /// Whether the cache is backed by a read-only host file.
    pub fn is_host(&self) -> bool {
        self.source.is_some()
    }

    /// The memory file holding the pages.
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
    }

    /// The page at `idx`, loading it from the source or allocating a zero
    /// page when `create`; None for a hole that is not created.
    fn frame(&self, i: &mut Inner, idx: u64, create: bool) -> SysResult<Option<u64>> {
        if let Some(&p) = i.frames.get(&idx) {
            return Ok(Some(p));
        }
        if !create && self.source.is_none() {
            return Ok(None);
        }
        // tmpfs data may take at most half of the memory file (Linux's
        // default tmpfs size is half of RAM), so files cannot use up the
        // memory the programs need (a full tmpfs is ENOSPC, not an OOM kill
        // of whichever program faults next).
        if self.source.is_none()
            && TMPFS_PAGES.load(Ordering::Relaxed) >= self.mem.size() / PAGE / 2
        {
            return Err(Errno::ENOMEM);
        }
        let p = self.mem.alloc_page().map_err(nomem)?;
        if let Some(fd) = &self.source {
            let mut buf = vec![0u8; PAGE as usize];
            let off = idx * PAGE;
            let want = i.size.saturating_sub(off).min(PAGE) as usize;
            let mut got = 0;
            while got < want {
                // SAFETY: buf[got..want] is a valid writable buffer; fd is
                // our own read-only descriptor of the host file.
                let n = unsafe {
                    libc::pread(
                        fd.as_raw_fd(),
                        buf[got..want].as_mut_ptr().cast(),
                        want - got,
                        (off + got as u64) as libc::off_t,
                    )
                };
                if n < 0 {
                    let e = Errno::last();
                    if e == Errno::EINTR {
                        continue;
                    }
                    self.mem.free_page(p);
                    tracing::warn!(errno = ?e, off, "page cache fill from the host file failed");
                    return Err(Errno::EIO);
                }
                if n == 0 {
                    break;
                }
                got += n as usize;
            }
            if self.mem.write(p, &buf).is_err() {
                self.mem.free_page(p);
                return Err(Errno::EIO);
            }
        }
        i.frames.insert(idx, p);
        if self.source.is_none() {
            TMPFS_PAGES.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Some(p))
    }

    /// The page holding file page `idx` for a mapping, with a reference the
    /// mapping owns. None when the page lies wholly past the end of the file
    /// (the access is SIGBUS).
    pub fn map_page(&self, idx: u64) -> SysResult<Option<u64>> {
        let mut i = self.lock();
        if idx.checked_mul(PAGE).is_none_or(|o| o >= i.size) {
            return Ok(None);
        }
        let p = self.frame(&mut i, idx, true)?.ok_or(Errno::EIO)?;
        self.mem.incref(p);
        Ok(Some(p))
    }

    /// Reads at `off`; short at the end of the file.
    pub fn read(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        let mut i = self.lock();
        let n = (i.size.saturating_sub(off)).min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < n {
            let at = off + done as u64;
            let idx = at / PAGE;
            let in_page = at % PAGE;
            let len = ((PAGE - in_page) as usize).min(n - done);
            match self.frame(&mut i, idx, false)? {
                Some(p) => self
                    .mem
                    .read(p + in_page, &mut buf[done..done + len])
                    .map_err(|_| Errno::EIO)?,
                None => buf[done..done + len].fill(0),
            }
            done += len;
        }
        Ok(n)
    }

    /// Writes at `off`, growing the file. When the memory file has no page
    /// left the write is short, or fails with ENOSPC if nothing was written.
    pub fn write(&self, buf: &[u8], off: u64) -> SysResult<usize> {
        self.write_limited(buf, Some(off), u64::MAX).map(|(_, n)| n)
    }

    /// Writes at `off`, or at the end of the file when None (in one step,
    /// as O_APPEND needs), stopping at `max` bytes (EFBIG at or past it).
    /// Returns where it wrote and how much; short or ENOSPC as [`Self::write`].
    pub fn write_limited(&self, buf: &[u8], off: Option<u64>, max: u64) -> SysResult<(u64, usize)> {
        if self.source.is_some() {
            return Err(Errno::EBADF);
        }
        let mut i = self.lock();
        let off = off.unwrap_or(i.size);
        if buf.is_empty() {
            return Ok((off, 0));
        }
        if off >= max {
            return Err(Errno::EFBIG);
        }
        let buf = &buf[..(buf.len() as u64).min(max - off) as usize];
        off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        let mut done = 0;
        let mut res = Ok(());
        while done < buf.len() {
            let at = off + done as u64;
            let in_page = at % PAGE;
            let len = ((PAGE - in_page) as usize).min(buf.len() - done);
            let p = match self.frame(&mut i, at / PAGE, true) {
                Ok(Some(p)) => p,
                Ok(None) | Err(Errno::ENOMEM) => {
                    res = Err(Errno::ENOSPC);
                    break;
                }
                Err(e) => {
                    res = Err(e);
                    break;
                }
            };
            if self.mem.write(p + in_page, &buf[done..done + len]).is_err() {
                res = Err(Errno::EIO);
                break;
            }
            done += len;
        }
        if done > 0 {
            i.size = i.size.max(off + done as u64);
            return Ok((off, done));
        }
        res.map(|()| (off, 0))
    }

    /// Allocates the pages of `[off, off+len)` (fallocate): ENOSPC when the
    /// memory file has none left. With `extend`, the file grows to the end
    /// of the range.
    pub fn allocate(&self, off: u64, len: u64, extend: bool) -> SysResult<()> {
        if self.source.is_some() {
            return Err(Errno::EBADF);
        }
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        let mut i = self.lock();
        let mut idx = off / PAGE;
        while idx < end.div_ceil(PAGE) {
            match self.frame(&mut i, idx, true) {
                Ok(_) => {}
                Err(Errno::ENOMEM) => return Err(Errno::ENOSPC),
                Err(e) => return Err(e),
            }
            idx += 1;
        }
        if extend {
            i.size = i.size.max(end);
        }
        Ok(())
    }

    /// Punches a hole in `[off, off+len)`: whole pages are freed (mappings
    /// that hold them keep their copy), partial pages are zeroed. The size
    /// does not change.
    pub fn punch_hole(&self, off: u64, len: u64) -> SysResult<()> {
        if self.source.is_some() {
            return Err(Errno::EBADF);
        }
        let mut i = self.lock();
        let end = off.saturating_add(len);
        if off >= end {
            return Ok(());
        }
        let first_whole = off.div_ceil(PAGE);
        let last_whole = end / PAGE;
        // Partial pages at either end are zeroed in place.
        for (from, to) in [
            (off, end.min(first_whole.saturating_mul(PAGE))),
            ((last_whole * PAGE).max(off), end),
        ] {
            if from >= to {
                continue;
            }
            if let Some(&p) = i.frames.get(&(from / PAGE)) {
                self.mem
                    .zero(p + from % PAGE, (to - from) as usize)
                    .map_err(|_| Errno::EIO)?;
            }
        }
        if first_whole < last_whole {
            let mut gone = i.frames.split_off(&first_whole);
            let mut rest = gone.split_off(&last_whole);
            i.frames.append(&mut rest);
            self.release(gone.into_values().collect());
        }
        Ok(())
    }

    /// SEEK_DATA (`hole` false) or SEEK_HOLE from `off`, at page
    /// granularity as tmpfs: held pages are data, the rest holes, the end of
    /// the file a hole; ENXIO at or past the end (or no data after `off`).
    pub fn seek_data(&self, off: u64, hole: bool) -> SysResult<u64> {
        let i = self.lock();
        if off >= i.size {
            return Err(Errno::ENXIO);
        }
        let mut idx = off / PAGE;
        if !hole {
            return match i.frames.range(idx..).next() {
                Some((&k, _)) if k * PAGE < i.size => Ok((k * PAGE).max(off)),
                _ => Err(Errno::ENXIO),
            };
        }
        while idx * PAGE < i.size && i.frames.contains_key(&idx) {
            idx += 1;
        }
        Ok((idx * PAGE).max(off).min(i.size))
    }

    /// A copy of this writable cache in another memory file (a file mapped
    /// by an address space of another memory file: only in tests that run
    /// several platforms in one process).
    pub fn copy_to(&self, mem: &Arc<MemoryFile>) -> SysResult<Arc<PageCache>> {
        if self.source.is_some() {
            return Err(Errno::EBADF);
        }
        let c = PageCache::new(mem.clone());
        let i = self.lock();
        let mut page = vec![0u8; PAGE as usize];
        {
            let mut ci = c.lock();
            for (&idx, &p) in &i.frames {
                self.mem.read(p, &mut page).map_err(|_| Errno::EIO)?;
                let q = c.frame(&mut ci, idx, true)?.ok_or(Errno::ENOMEM)?;
                c.mem.write(q, &page).map_err(|_| Errno::EIO)?;
            }
            ci.size = i.size;
        }
        Ok(c)
    }

    /// Sets the size: pages past the end are dropped (mappings that still
    /// hold them keep their copy), the tail of the last page is zeroed.
    pub fn truncate(&self, size: u64) -> SysResult<()> {
        if self.source.is_some() {
            return Err(Errno::EBADF);
        }
        let mut i = self.lock();
        if size < i.size {
            let keep = size.div_ceil(PAGE);
            let gone: Vec<u64> = i.frames.split_off(&keep).into_values().collect();
            self.release(gone);
            if !size.is_multiple_of(PAGE) {
                if let Some(&p) = i.frames.get(&(size / PAGE)) {
                    let tail = (PAGE - size % PAGE) as usize;
                    self.mem
                        .zero(p + size % PAGE, tail)
                        .map_err(|_| Errno::EIO)?;
                }
            }
        }
        i.size = size;
        Ok(())
    }

    fn release(&self, pages: Vec<u64>) {
        if self.source.is_none() {
            TMPFS_PAGES.fetch_sub(pages.len() as u64, Ordering::Relaxed);
        }
        let last: Vec<u64> = pages.into_iter().filter(|&p| self.mem.decref(p)).collect();
        self.mem.free_pages(last);
    }
}

impl Drop for PageCache {
    fn drop(&mut self) {
        let frames = std::mem::take(&mut self.lock().frames);
        self.release(frames.into_values().collect());
    }
}

/// How many host files' caches the registry keeps.
const HOST_CACHE_FILES: usize = 64;

struct HostEntry {
    mem: usize,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    size: u64,
    cache: Arc<PageCache>,
}

static HOST_CACHES: Mutex<Vec<HostEntry>> = Mutex::new(Vec::new());

/// The cache of the host file `(dev, ino)` as of `mtime` and `size`, made
/// with `open` (a descriptor for the cache's own use) when there is none.
/// Recently used caches are kept, most recent first.
pub fn host_cache(
    mem: &Arc<MemoryFile>,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    size: u64,
    open: impl FnOnce() -> SysResult<OwnedFd>,
) -> SysResult<Arc<PageCache>> {
    let key = Arc::as_ptr(mem) as usize;
    let mut reg = HOST_CACHES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pos) = reg
        .iter()
        .position(|e| e.mem == key && e.dev == dev && e.ino == ino)
    {
        let e = reg.remove(pos);
        if e.mtime == mtime && e.size == size {
            let c = e.cache.clone();
            reg.insert(0, e);
            return Ok(c);
        }
    }
    let cache = PageCache::from_host(mem.clone(), open()?, size);
    reg.insert(
        0,
        HostEntry {
            mem: key,
            dev,
            ino,
            mtime,
            size,
            cache: cache.clone(),
        },
    );
    reg.truncate(HOST_CACHE_FILES);
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> Arc<MemoryFile> {
        Arc::new(MemoryFile::new(4 << 20).unwrap())
    }

    #[test]
    fn write_read_truncate() {
        let m = mem();
        let c = PageCache::new(m.clone());
        assert_eq!(c.write(b"hello", 5000).unwrap(), 5);
        assert_eq!(c.size(), 5005);
        let mut b = [1u8; 10];
        assert_eq!(c.read(&mut b, 0).unwrap(), 10);
        assert_eq!(b, [0; 10], "a hole reads as zeros");
        assert_eq!(c.read(&mut b, 5000).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(c.pages(), 1, "only the written page exists");
        c.truncate(5002).unwrap();
        c.truncate(5005).unwrap();
        assert_eq!(c.read(&mut b, 5000).unwrap(), 5);
        assert_eq!(&b[..5], b"he\0\0\0", "truncation zeroes the tail");
        c.truncate(0).unwrap();
        assert_eq!(c.pages(), 0);
        let used = m.pages_in_use();
        c.write(&[7u8; 9000], 0).unwrap();
        assert_eq!(m.pages_in_use(), used + 3);
        drop(c);
        assert_eq!(m.pages_in_use(), used, "dropping the cache frees its pages");
    }

    #[test]
    fn mapped_pages_outlive_truncation() {
        let m = mem();
        let c = PageCache::from_bytes(m.clone(), &[9u8; 8192]).unwrap();
        let p = c.map_page(1).unwrap().unwrap();
        assert_eq!(c.map_page(2).unwrap(), None, "past the end");
        c.truncate(4096).unwrap();
        // The mapping's reference keeps the page.
        assert_eq!(m.read_u64(p).unwrap(), 0x0909_0909_0909_0909);
        assert!(m.decref(p), "the mapping held the last reference");
        m.free_page(p);
    }

    #[test]
    fn host_cache_reads_and_is_reused() {
        let dir = std::env::temp_dir().join(format!("pc-test-{}", std::process::id()));
        std::fs::write(&dir, vec![b'x'; 5000]).unwrap();
        let m = mem();
        let open = || -> SysResult<OwnedFd> {
            Ok(std::fs::File::open(&dir).map_err(|_| Errno::EIO)?.into())
        };
        let a = host_cache(&m, 1, 2, (3, 4), 5000, open).unwrap();
        let b = host_cache(&m, 1, 2, (3, 4), 5000, || Err(Errno::EIO)).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "same file, same cache");
        let mut buf = [0u8; 8];
        assert_eq!(a.read(&mut buf, 4996).unwrap(), 4);
        assert_eq!(&buf[..4], b"xxxx");
        assert_eq!(a.write(b"y", 0), Err(Errno::EBADF));
        let c = host_cache(&m, 1, 2, (3, 5), 5000, open).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a changed file gets a new cache");
        std::fs::remove_file(&dir).unwrap();
    }
}
