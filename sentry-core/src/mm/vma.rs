//! The VMA set: what each range of the address space maps ([`Vma`],
//! [`VmaKind`], [`FileMap`]), looked up, split and merged in a BTreeMap.

use std::sync::Arc;

use super::{MemoryManager, PageCache, MMAP_MIN, PAGE};
use crate::errno::{Errno, SysResult};
use crate::platform::Perms;

/// What a VMA maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Anonymous memory.
    Anon,
    /// The brk heap.
    Heap,
    /// The initial stack.
    Stack,
    /// Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS): survives fork shared.
    SharedAnon,
    /// A private copy of an executable's segment, made by exec (named in
    /// /proc/self/maps).
    Image(String),
    /// A file mapped through its page cache.
    File(FileMap),
}

/// What a file VMA maps.
#[derive(Clone, Debug)]
pub struct FileMap {
    /// The file's pages.
    pub cache: Arc<PageCache>,
    /// File offset of the VMA's first byte.
    pub offset: u64,
    /// MAP_SHARED (stores reach the file) rather than MAP_PRIVATE.
    pub shared: bool,
    /// Path shown in /proc/self/maps.
    pub name: String,
    /// The System V shared memory segment this VMA attaches (shmat), if
    /// any: every VMA (copies made by fork and splits included) holds one
    /// attachment, as Linux's shm_open/shm_close count them.
    pub shm: Option<ShmAttach>,
    /// A token of the file's count of shared mappings that may write
    /// (Linux's i_mmap_writable): every VMA, copies by fork and splits
    /// included, holds a clone while it lives. Set for sealable memfds,
    /// whose F_SEAL_WRITE is refused while any exists.
    pub writers: Option<Arc<()>>,
}

/// What a System V shared memory segment is told when a VMA attaching it
/// appears or goes (the kernel's IPC registry implements it; the memory
/// manager knows nothing else of IPC).
pub trait ShmHooks: Send + Sync + std::fmt::Debug {
    /// A VMA now attaches the segment.
    fn attach(&self);
    /// A VMA attaching it is gone.
    fn detach(&self);
}

/// One attachment of a System V shared memory segment: counted while it
/// lives (cloning counts another, dropping uncounts).
#[derive(Debug)]
pub struct ShmAttach(Arc<dyn ShmHooks>);

impl ShmAttach {
    /// A new attachment of `seg`.
    pub fn new(seg: Arc<dyn ShmHooks>) -> ShmAttach {
        seg.attach();
        ShmAttach(seg)
    }

    /// The segment attached.
    pub fn segment(&self) -> &Arc<dyn ShmHooks> {
        &self.0
    }
}

impl Clone for ShmAttach {
    fn clone(&self) -> Self {
        ShmAttach::new(self.0.clone())
    }
}

impl Drop for ShmAttach {
    fn drop(&mut self) {
        self.0.detach();
    }
}

impl PartialEq for ShmAttach {
    fn eq(&self, o: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&o.0))
    }
}

impl PartialEq for FileMap {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.cache, &o.cache)
            && self.offset == o.offset
            && self.shared == o.shared
            && self.name == o.name
            && self.shm == o.shm
            && match (&self.writers, &o.writers) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }
}
impl Eq for FileMap {}

/// A virtual memory area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Access rights.
    pub perms: Perms,
    /// What it maps.
    pub kind: VmaKind,
    /// Whether it may ever be made writable (Linux's VM_MAYWRITE): false for
    /// a shared mapping of a file not opened for writing.
    pub may_write: bool,
}

impl Vma {
    /// Whether stores are shared with other address spaces (no copy-on-write).
    pub fn is_shared(&self) -> bool {
        match &self.kind {
            VmaKind::SharedAnon => true,
            VmaKind::File(f) => f.shared,
            _ => false,
        }
    }

    /// The part `[start, end)` of this VMA (file offsets follow; an offset
    /// the program chose near 2^64 saturates: its pages lie past any end of
    /// file, so touching them is SIGBUS, not an overflow).
    pub(super) fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        if let VmaKind::File(f) = &mut v.kind {
            f.offset = f.offset.saturating_add(start - self.start);
        }
        v.start = start;
        v.end = end;
        v
    }

    /// Whether `next`, which starts where this ends, can be merged into it.
    fn merges_with(&self, next: &Vma) -> bool {
        if self.end != next.start || self.perms != next.perms || self.may_write != next.may_write {
            return false;
        }
        match (&self.kind, &next.kind) {
            (VmaKind::File(a), VmaKind::File(b)) => {
                Arc::ptr_eq(&a.cache, &b.cache)
                    && a.shared == b.shared
                    && a.name == b.name
                    && a.shm.is_none()
                    && b.shm.is_none()
                    && a.offset.checked_add(self.end - self.start) == Some(b.offset)
            }
            (a, b) => a == b,
        }
    }

    /// The page cache and file page index behind `va`, for a file VMA.
    pub(super) fn file_page(&self, va: u64) -> Option<(Arc<PageCache>, u64)> {
        match &self.kind {
            VmaKind::File(f) => Some((
                f.cache.clone(),
                f.offset.saturating_add(va - self.start) / PAGE,
            )),
            _ => None,
        }
    }
}

impl MemoryManager {
    /// The VMA containing `addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    pub(super) fn range_is_free(&self, start: u64, end: u64) -> bool {
        if let Some((_, v)) = self.vmas.range(..end).next_back() {
            if v.end > start {
                return false;
            }
        }
        true
    }

    /// Splits VMAs so that `start` and `end` are VMA boundaries.
    pub(super) fn carve(&mut self, start: u64, end: u64) {
        for at in [start, end] {
            let split = self
                .vmas
                .range(..at)
                .next_back()
                .filter(|(_, v)| v.start < at && at < v.end)
                .map(|(&k, _)| k);
            if let Some(k) = split {
                if let Some(v) = self.vmas.get_mut(&k) {
                    let tail = v.slice(at, v.end);
                    v.end = at;
                    self.vmas.insert(at, tail);
                }
            }
        }
    }

    /// Inserts a VMA into a free range, merging with equal neighbours.
    pub(super) fn insert(&mut self, mut vma: Vma) {
        if let Some((&k, prev)) = self.vmas.range(..vma.start).next_back() {
            if prev.merges_with(&vma) {
                let prev = self.vmas.remove(&k).unwrap_or_else(|| vma.clone());
                vma = Vma {
                    end: vma.end,
                    ..prev
                };
            }
        }
        if let Some(next) = self.vmas.get(&vma.end) {
            if vma.merges_with(next) {
                let end = next.end;
                self.vmas.remove(&vma.end);
                vma.end = end;
            }
        }
        self.vmas.insert(vma.start, vma);
    }

    /// The highest free range of `len` bytes below `top` and above
    /// `MMAP_MIN`; None when there is none (or `len` is past the address
    /// space, as an mremap's new length may be).
    pub(super) fn find_free(&self, len: u64, top: u64) -> Option<u64> {
        let mut hi = top;
        for (_, v) in self.vmas.range(..top).rev() {
            if v.end <= hi && hi - v.end >= len {
                return Some(hi - len);
            }
            hi = hi.min(v.start);
        }
        MMAP_MIN
            .checked_add(len)
            .is_some_and(|min| hi >= min)
            .then(|| hi - len)
    }

    /// Whether every byte of `[addr, end)` is mapped (ENOMEM if not);
    /// allocates nothing, whatever the length.
    pub fn check_mapped(&self, addr: u64, end: u64) -> SysResult<()> {
        let mut at = addr;
        while at < end {
            let v = self.find_vma(at).ok_or(Errno::ENOMEM)?;
            at = v.end;
        }
        Ok(())
    }

    /// Whether `addr` lies in memory shared between address spaces.
    pub fn is_shared_memory(&self, addr: u64) -> bool {
        self.find_vma(addr).is_some_and(Vma::is_shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testutil::mm;
    use crate::mm::{FaultError, MMAP_TOP, USER_END};
    use crate::platform::Access;

    fn file_vma(cache: &Arc<PageCache>, offset: u64) -> VmaKind {
        VmaKind::File(FileMap {
            cache: cache.clone(),
            offset,
            shared: false,
            name: "/f".into(),
            shm: None,
            writers: None,
        })
    }

    #[test]
    fn split_and_merge_keep_file_offsets() {
        let (mut m, _) = mm(1);
        let cache = PageCache::new(m.memory().clone());
        let a = m
            .map(
                0x40_0000,
                4 * PAGE,
                Perms::R,
                true,
                file_vma(&cache, PAGE),
                true,
            )
            .unwrap();
        // Splitting the middle out: the pieces' offsets follow their start.
        m.protect(a + PAGE, 2 * PAGE, Perms::RW).unwrap();
        let offsets: Vec<(u64, u64)> = m
            .vmas()
            .map(|v| match &v.kind {
                VmaKind::File(f) => (v.start - a, f.offset),
                k => panic!("{k:?}"),
            })
            .collect();
        assert_eq!(offsets, [(0, PAGE), (PAGE, 2 * PAGE), (3 * PAGE, 4 * PAGE)]);
        // Back to equal neighbours with contiguous offsets: one VMA again.
        m.protect(a + PAGE, 2 * PAGE, Perms::R).unwrap();
        assert_eq!(m.vmas().count(), 1);
        assert_eq!(
            m.find_vma(a + 3 * PAGE).map(|v| (v.start, v.end)),
            Some((a, a + 4 * PAGE))
        );
        // Anonymous neighbours with other offsets do not merge with it.
        m.map_anon(a + 4 * PAGE, PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(m.vmas().count(), 2);
        assert!(m.find_vma(a + 5 * PAGE).is_none());
        assert!(m.find_vma(a - 1).is_none());
    }

    #[test]
    fn find_free_searches_top_down_and_rejects_huge_lengths() {
        let (mut m, _) = mm(1);
        assert_eq!(m.find_free(PAGE, MMAP_TOP), Some(MMAP_TOP - PAGE));
        m.map_anon(MMAP_TOP - PAGE, PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(m.find_free(PAGE, MMAP_TOP), Some(MMAP_TOP - 2 * PAGE));
        assert!(!m.range_is_free(MMAP_TOP - PAGE, MMAP_TOP));
        assert!(m.range_is_free(MMAP_TOP - 2 * PAGE, MMAP_TOP - PAGE));
        // Lengths past the address space (an mremap's new length) find
        // nothing rather than overflow.
        assert_eq!(m.find_free(USER_END, MMAP_TOP), None);
        assert_eq!(m.find_free(u64::MAX - PAGE + 1, MMAP_TOP), None);
    }

    #[test]
    fn file_offsets_near_the_top_do_not_overflow() {
        // mmap takes any page-aligned offset; pages past 2^64 are past the
        // end of every file: SIGBUS on touch, EFAULT for the kernel.
        let (mut m, _) = mm(4);
        let cache = PageCache::from_bytes(m.memory().clone(), b"data").unwrap();
        let off = u64::MAX - PAGE + 1;
        let a = m
            .map(0, 3 * PAGE, Perms::R, false, file_vma(&cache, off), true)
            .unwrap();
        assert_eq!(m.handle_fault(a + PAGE, Access::Read), Err(FaultError::Bus));
        let mut b = [0u8; 4];
        assert_eq!(m.copy_in(a + 2 * PAGE, &mut b), Err(Errno::EFAULT));
        m.unmap(a, PAGE).unwrap();
        m.protect(
            a + 2 * PAGE,
            PAGE,
            Perms {
                read: false,
                write: false,
                exec: false,
            },
        )
        .unwrap();
        assert_eq!(m.vmas().count(), 2);
        m.check_mapped(a + PAGE, a + 3 * PAGE).unwrap();
        assert_eq!(m.check_mapped(a, a + 3 * PAGE), Err(Errno::ENOMEM));
    }
}
