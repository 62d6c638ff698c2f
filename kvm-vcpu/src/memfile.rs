//! The memory file: one sparse memfd per sandbox, mapped once into the host
//! process and registered as the VM's only memslot (guest physical address =
//! file offset). App memory, page tables and the supervisor structures all come
//! from it. Freed pages are punched out so the host gets the memory back.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Mutex;

use vm_memory::{
    Bytes, FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestRegionMmap,
    MmapRegion,
};

use crate::PAGE_SIZE;

/// Errors of memory-file operations.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// memfd_create, ftruncate or mmap failed.
    #[error("creating the {size}-byte memory file: {source}")]
    Create {
        /// Requested size.
        size: u64,
        /// Cause.
        source: std::io::Error,
    },
    /// No free page left.
    #[error("memory file exhausted ({size} bytes in use)")]
    Exhausted {
        /// File size.
        size: u64,
    },
    /// An access outside the file.
    #[error("memory file access out of range: offset {offset:#x}, {len} bytes")]
    OutOfRange {
        /// Offset.
        offset: u64,
        /// Length.
        len: usize,
    },
}

struct Alloc {
    /// Bump pointer: everything above is untouched (and so zero).
    next: u64,
    /// Freed single pages (punched, so zero).
    free: Vec<u64>,
    /// Pages handed out and not freed.
    in_use: u64,
}

/// The sandbox's memory file.
pub struct MemoryFile {
    file: File,
    mem: GuestMemoryMmap,
    size: u64,
    alloc: Mutex<Alloc>,
    /// Reference counts of pages with more than one owner (copy-on-write
    /// after fork, shared memory); absent means one owner.
    refs: Mutex<std::collections::HashMap<u64, u32>>,
}

impl std::fmt::Debug for MemoryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFile")
            .field("size", &self.size)
            .finish()
    }
}

impl MemoryFile {
    /// Creates a sparse memory file of `size` bytes (rounded up to 2 MiB).
    pub fn new(size: u64) -> Result<Self, MemoryError> {
        let size = size.next_multiple_of(2 << 20);
        let err = |source| MemoryError::Create { size, source };
        // SAFETY: memfd_create with a valid NUL-terminated name; the result is checked.
        let fd = unsafe { libc::memfd_create(c"gvisor-memory".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(size).map_err(err)?;
        let dup = file.try_clone().map_err(err)?;
        let region = MmapRegion::from_file(FileOffset::new(dup, 0), size as usize)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        let region = GuestRegionMmap::new(region, GuestAddress(0))
            .ok_or_else(|| err(std::io::Error::other("bad guest region")))?;
        let mem = GuestMemoryMmap::from_regions(vec![region])
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        Ok(MemoryFile {
            file,
            mem,
            size,
            alloc: Mutex::new(Alloc {
                next: 0,
                free: Vec::new(),
                in_use: 0,
            }),
            refs: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The host address where the file is mapped (for the KVM memslot).
    pub fn host_base(&self) -> u64 {
        self.mem
            .get_host_address(GuestAddress(0))
            .map(|p| p as u64)
            .unwrap_or(0)
    }

    /// The memfd (for the memslot owner and later for the sentry's seccomp rules).
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Alloc> {
        // A poisoned lock only means another thread panicked while holding it;
        // the allocator state is still consistent (every update is one step).
        self.alloc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Allocates one zeroed page and returns its offset.
    pub fn alloc_page(&self) -> Result<u64, MemoryError> {
        let mut a = self.lock();
        let off = match a.free.pop() {
            Some(off) => off,
            None => {
                if a.next.checked_add(PAGE_SIZE).is_none_or(|e| e > self.size) {
                    return Err(MemoryError::Exhausted { size: self.size });
                }
                let off = a.next;
                a.next += PAGE_SIZE;
                off
            }
        };
        a.in_use += 1;
        Ok(off)
    }

    /// Allocates `pages` physically contiguous zeroed pages, aligned to `align` bytes.
    pub fn alloc_contiguous(&self, pages: u64, align: u64) -> Result<u64, MemoryError> {
        let mut a = self.lock();
        let start = a
            .next
            .checked_next_multiple_of(align.max(PAGE_SIZE))
            .ok_or(MemoryError::Exhausted { size: self.size })?;
        let end = pages
            .checked_mul(PAGE_SIZE)
            .and_then(|len| start.checked_add(len))
            .filter(|&e| e <= self.size)
            .ok_or(MemoryError::Exhausted { size: self.size })?;
        // Pages skipped for alignment go to the free list.
        let mut p = a.next;
        while p < start {
            a.free.push(p);
            p += PAGE_SIZE;
        }
        a.next = end;
        a.in_use = a.in_use.saturating_add(pages);
        Ok(start)
    }

    /// Returns a page to the allocator, punching it out of the file so the host
    /// reclaims it and the next user sees zeros.
    pub fn free_page(&self, off: u64) {
        // SAFETY: fallocate on our own memfd with a range inside the file; the
        // result is checked. The page may still be mapped in the host (our
        // mapping) and in the guest: both then read zeros, which is harmless.
        let rc = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                off as libc::off_t,
                PAGE_SIZE as libc::off_t,
            )
        };
        if rc != 0 {
            // Could not punch: zero it by hand so the next user sees zeros.
            let _ = self.write(off, &[0u8; PAGE_SIZE as usize]);
        }
        let mut a = self.lock();
        a.free.push(off);
        a.in_use = a.in_use.saturating_sub(1);
    }

    /// Allocates host memory for `[offset, offset+len)` now (MADV_POPULATE_WRITE),
    /// so that the guest's first touch does not also take a host page fault.
    /// Best effort: an error only means the pages are allocated on first touch.
    pub fn populate(&self, offset: u64, len: u64) {
        if self.check(offset, len as usize).is_err() {
            return;
        }
        let addr = self.host_base() + offset;
        // SAFETY: the range lies inside our own shared mapping of the memory
        // file; MADV_POPULATE_WRITE only faults pages in, it does not change
        // their contents.
        unsafe {
            libc::madvise(
                addr as *mut libc::c_void,
                len as usize,
                libc::MADV_POPULATE_WRITE,
            );
        }
    }

    /// Returns many pages at once, punching contiguous runs with one call each.
    pub fn free_pages(&self, mut offs: Vec<u64>) {
        offs.sort_unstable();
        let mut i = 0;
        while i < offs.len() {
            let start = offs[i];
            let mut j = i + 1;
            while j < offs.len() && offs[j] == start + (j - i) as u64 * PAGE_SIZE {
                j += 1;
            }
            let len = (j - i) as u64 * PAGE_SIZE;
            // SAFETY: as in free_page, on a range inside our memfd.
            let rc = unsafe {
                libc::fallocate(
                    self.file.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    start as libc::off_t,
                    len as libc::off_t,
                )
            };
            if rc != 0 {
                let _ = self.zero(start, len as usize);
            }
            i = j;
        }
        let mut a = self.lock();
        a.in_use = a.in_use.saturating_sub(offs.len() as u64);
        a.free.extend(offs);
    }

    fn refs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, u32>> {
        self.refs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an owner to a page.
    pub fn incref(&self, off: u64) {
        let mut refs = self.refs();
        let n = refs.entry(off).or_insert(1);
        // A count that saturates keeps the page forever: a leak, never a panic
        // or an early free.
        *n = n.saturating_add(1);
    }

    /// Whether a page has more than one owner.
    pub fn is_shared(&self, off: u64) -> bool {
        self.refs().contains_key(&off)
    }

    /// Drops an owner; true when it was the last (the caller frees the page).
    pub fn decref(&self, off: u64) -> bool {
        let mut r = self.refs();
        match r.get_mut(&off) {
            Some(n) if *n > 2 => {
                *n -= 1;
                false
            }
            Some(_) => {
                r.remove(&off);
                false
            }
            None => true,
        }
    }

    /// Pages currently allocated.
    pub fn pages_in_use(&self) -> u64 {
        self.lock().in_use
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), MemoryError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(MemoryError::OutOfRange { offset, len }),
        }
    }

    /// Copies from the file into `buf`.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.check(offset, buf.len())?;
        self.mem
            .read_slice(buf, GuestAddress(offset))
            .map_err(|_| MemoryError::OutOfRange {
                offset,
                len: buf.len(),
            })
    }

    /// Copies `buf` into the file.
    pub fn write(&self, offset: u64, buf: &[u8]) -> Result<(), MemoryError> {
        self.check(offset, buf.len())?;
        self.mem
            .write_slice(buf, GuestAddress(offset))
            .map_err(|_| MemoryError::OutOfRange {
                offset,
                len: buf.len(),
            })
    }

    /// Fills `len` bytes at `offset` with zeros.
    pub fn zero(&self, offset: u64, len: usize) -> Result<(), MemoryError> {
        const Z: [u8; 4096] = [0; 4096];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(Z.len());
            // An offset near u64::MAX saturates and is refused by `write`.
            self.write(offset.saturating_add(done as u64), &Z[..n])?;
            done += n;
        }
        Ok(())
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&self, offset: u64) -> Result<u64, MemoryError> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u64.
    pub fn write_u64(&self, offset: u64, v: u64) -> Result<(), MemoryError> {
        self.write(offset, &v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_reuse_and_zero() {
        let m = MemoryFile::new(4 << 20).unwrap();
        let a = m.alloc_page().unwrap();
        m.write_u64(a, 0xdead_beef).unwrap();
        assert_eq!(m.read_u64(a).unwrap(), 0xdead_beef);
        m.free_page(a);
        let b = m.alloc_page().unwrap();
        assert_eq!(a, b);
        assert_eq!(m.read_u64(b).unwrap(), 0, "reused page is zero");
        let c = m.alloc_contiguous(4, 0x4000).unwrap();
        assert_eq!(c % 0x4000, 0);
        assert!(m.read(m.size() - 4, &mut [0u8; 8]).is_err());
        assert!(m.write(u64::MAX - 2, &[0u8; 8]).is_err());
    }

    #[test]
    fn exhaustion_is_an_error() {
        let m = MemoryFile::new(2 << 20).unwrap();
        for _ in 0..512 {
            m.alloc_page().unwrap();
        }
        assert!(matches!(m.alloc_page(), Err(MemoryError::Exhausted { .. })));
    }

    #[test]
    fn huge_requests_are_errors_not_overflows() {
        let m = MemoryFile::new(2 << 20).unwrap();
        assert!(matches!(
            m.alloc_contiguous(u64::MAX / 2, PAGE_SIZE),
            Err(MemoryError::Exhausted { .. })
        ));
        let p = m.alloc_page().unwrap();
        assert!(matches!(
            m.alloc_contiguous(1, u64::MAX),
            Err(MemoryError::Exhausted { .. })
        ));
        assert!(m.zero(u64::MAX - 8, 2 * PAGE_SIZE as usize).is_err());
        m.incref(p);
        assert!(m.is_shared(p));
        assert!(!m.decref(p));
        assert!(m.decref(p), "the last owner frees the page");
    }
}
