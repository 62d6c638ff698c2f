//! The memory manager of one address space: VMAs (the truth), the pages
//! populated from the memory file, demand paging with fault-around, brk, and
//! copy-in/copy-out through the sentry's own mapping of the memory file.
//!
//! The platform's address space is only a cache of what is here: a fault the
//! VMAs allow is resolved by populating and mapping pages; removing or
//! reprotecting a range updates the VMAs first, then the cache.

pub mod pagecache;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use pagecache::PageCache;

use crate::errno::{Errno, SysResult};
use crate::platform::{Access, AddressSpace, MemoryFile, Perms, PlatformError};

/// Page size.
pub use crate::abi::PAGE_SIZE as PAGE;
/// End of the app's address range (exclusive).
pub use crate::abi::USER_END;
/// Lowest address `mmap` hands out without a hint (like vm.mmap_min_addr).
pub const MMAP_MIN: u64 = 0x1_0000;
/// Top of the initial stack.
pub const STACK_TOP: u64 = 0x7fff_ffff_e000;
/// Size of the stack VMA (the default RLIMIT_STACK).
pub const STACK_SIZE: u64 = 8 << 20;
/// Top of the region searched top-down by `mmap`.
pub const MMAP_TOP: u64 = 0x7fff_f000_0000;
/// Default number of pages mapped per fault (a 1 MiB aligned window).
pub const DEFAULT_FAULT_AROUND: u64 = 256;

fn page_down(v: u64) -> u64 {
    v & !(PAGE - 1)
}

fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE - 1).map(page_down)
}

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
}

impl PartialEq for FileMap {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.cache, &o.cache)
            && self.offset == o.offset
            && self.shared == o.shared
            && self.name == o.name
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

    /// The part `[start, end)` of this VMA (file offsets follow).
    fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        if let VmaKind::File(f) = &mut v.kind {
            f.offset += start - self.start;
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
                    && a.offset + (self.end - self.start) == b.offset
            }
            (a, b) => a == b,
        }
    }

    /// The page cache and file page index behind `va`, for a file VMA.
    fn file_page(&self, va: u64) -> Option<(Arc<PageCache>, u64)> {
        match &self.kind {
            VmaKind::File(f) => Some((f.cache.clone(), (f.offset + (va - self.start)) / PAGE)),
            _ => None,
        }
    }
}

/// Why a fault could not be resolved: the signal's si_code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No VMA there (SEGV_MAPERR).
    MapErr,
    /// The VMA forbids the access (SEGV_ACCERR).
    AccErr,
    /// The memory file is full.
    OutOfMemory,
    /// A file mapping past the end of its file, or the file could not be
    /// read (SIGBUS, BUS_ADRERR).
    Bus,
}

/// Counters for benchmarks and diagnostics.
#[derive(Clone, Copy, Debug, Default)]
pub struct MmStats {
    /// Faults resolved.
    pub faults: u64,
    /// Pages populated.
    pub pages: u64,
}

/// The memory of one address space.
pub struct MemoryManager {
    space: Arc<dyn AddressSpace>,
    mem: Arc<MemoryFile>,
    vmas: BTreeMap<u64, Vma>,
    pages: BTreeMap<u64, u64>,
    brk_start: u64,
    brk: u64,
    fault_around: u64,
    /// Shared by several threads: freed pages wait for a flush.
    pub shared: bool,
    /// Pages unmapped while `shared`, freed by `finish_flush`.
    deferred: Vec<u64>,
    /// A mapping was removed or reduced while `shared`.
    flush_wanted: bool,
    /// Counters.
    pub stats: MmStats,
}

fn perr(e: PlatformError) -> Errno {
    tracing::error!(error = %e, "platform mapping failed");
    Errno::ENOMEM
}

impl MemoryManager {
    /// An empty address space; `fault_around` pages are mapped per fault (≥ 1).
    pub fn new(space: Arc<dyn AddressSpace>, mem: Arc<MemoryFile>, fault_around: u64) -> Self {
        MemoryManager {
            space,
            mem,
            vmas: BTreeMap::new(),
            pages: BTreeMap::new(),
            brk_start: 0,
            brk: 0,
            fault_around: fault_around.clamp(1, 512).next_power_of_two(),
            shared: false,
            deferred: Vec::new(),
            flush_wanted: false,
            stats: MmStats::default(),
        }
    }

    /// The platform address space.
    pub fn address_space(&self) -> &Arc<dyn AddressSpace> {
        &self.space
    }

    /// The VMAs, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// Pages populated.
    pub fn resident_pages(&self) -> usize {
        self.pages.len()
    }

    /// The VMA containing `addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    fn range_is_free(&self, start: u64, end: u64) -> bool {
        if let Some((_, v)) = self.vmas.range(..end).next_back() {
            if v.end > start {
                return false;
            }
        }
        true
    }

    /// Splits VMAs so that `start` and `end` are VMA boundaries.
    fn carve(&mut self, start: u64, end: u64) {
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
    fn insert(&mut self, mut vma: Vma) {
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

    fn find_free(&self, len: u64, top: u64) -> Option<u64> {
        let mut hi = top;
        for (_, v) in self.vmas.range(..top).rev() {
            if v.end <= hi && hi - v.end >= len {
                return Some(hi - len);
            }
            hi = hi.min(v.start);
        }
        (hi >= MMAP_MIN + len).then(|| hi - len)
    }

    /// Creates an anonymous mapping. `addr` is a hint unless `fixed`.
    pub fn map_anon(
        &mut self,
        addr: u64,
        len: u64,
        perms: Perms,
        fixed: bool,
        kind: VmaKind,
    ) -> SysResult<u64> {
        self.map(addr, len, perms, fixed, kind, true)
    }

    /// Creates a mapping; one that is not `may_write` can never be made
    /// writable (EACCES now and at mprotect).
    pub fn map(
        &mut self,
        addr: u64,
        len: u64,
        perms: Perms,
        fixed: bool,
        kind: VmaKind,
        may_write: bool,
    ) -> SysResult<u64> {
        if perms.write && !may_write {
            return Err(Errno::EACCES);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 || len > USER_END {
            return Err(if len == 0 {
                Errno::EINVAL
            } else {
                Errno::ENOMEM
            });
        }
        let start = if fixed {
            if !addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if end > USER_END || addr < PAGE {
                return Err(Errno::ENOMEM);
            }
            self.unmap(addr, len)?;
            addr
        } else {
            let hint = page_down(addr);
            if hint >= MMAP_MIN
                && hint.checked_add(len).is_some_and(|e| e <= USER_END)
                && self.range_is_free(hint, hint + len)
            {
                hint
            } else {
                self.find_free(len, MMAP_TOP).ok_or(Errno::ENOMEM)?
            }
        };
        self.insert(Vma {
            start,
            end: start + len,
            perms,
            kind,
            may_write,
        });
        Ok(start)
    }

    /// Removes mappings in `[addr, addr+len)` and frees their pages.
    pub fn unmap(&mut self, addr: u64, len: u64) -> SysResult<()> {
        if !addr.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > USER_END {
            return Err(Errno::EINVAL);
        }
        self.carve(addr, end);
        let keys: Vec<u64> = self.vmas.range(addr..end).map(|(&k, _)| k).collect();
        if keys.is_empty() {
            return Ok(());
        }
        for k in keys {
            self.vmas.remove(&k);
        }
        self.release_pages(addr, end);
        Ok(())
    }

    fn release_pages(&mut self, start: u64, end: u64) {
        let gone: Vec<(u64, u64)> = self
            .pages
            .range(start..end)
            .map(|(&a, &p)| (a, p))
            .collect();
        if let Err(e) = self.space.unmap(start, end - start) {
            tracing::error!(error = %e, "platform unmap failed");
        }
        let mut freed = Vec::with_capacity(gone.len());
        for (va, phys) in gone {
            self.pages.remove(&va);
            if self.mem.decref(phys) {
                freed.push(phys);
            }
        }
        if self.shared {
            self.deferred.extend(freed);
            self.flush_wanted = true;
        } else {
            self.mem.free_pages(freed);
        }
    }

    /// Changes protection; the whole range must be mapped.
    pub fn protect(&mut self, addr: u64, len: u64, perms: Perms) -> SysResult<()> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        // Every byte must be covered, by mappings that may take `perms`.
        self.check_mapped(addr, end)?;
        if perms.write
            && self
                .vmas
                .range(..end)
                .rev()
                .take_while(|(_, v)| v.end > addr)
                .any(|(_, v)| !v.may_write)
        {
            return Err(Errno::EACCES);
        }
        self.carve(addr, end);
        let keys: Vec<u64> = self.vmas.range(addr..end).map(|(&k, _)| k).collect();
        for k in keys {
            if let Some(v) = self.vmas.remove(&k) {
                self.insert(Vma { perms, ..v });
            }
        }
        self.space.protect(addr, len, perms).map_err(perr)?;
        if self.shared {
            self.flush_wanted = true;
        }
        if perms.write {
            let ro = Perms {
                write: false,
                ..perms
            };
            let shared: Vec<u64> = self
                .pages
                .range(addr..end)
                .filter(|(_, &p)| self.mem.is_shared(p))
                .map(|(&va, _)| va)
                .collect();
            for va in shared {
                if self.find_vma(va).is_some_and(|v| !v.is_shared()) {
                    self.space.protect(va, PAGE, ro).map_err(perr)?;
                }
            }
        }
        Ok(())
    }

    /// mremap: resizes (and with `may_move` moves) the mapping at `old`.
    /// Pages move with their contents; nothing is copied.
    pub fn remap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> SysResult<u64> {
        if !old.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 || old_len == 0 {
            return Err(Errno::EINVAL);
        }
        let vma = self.find_vma(old).cloned().ok_or(Errno::EFAULT)?;
        if old.checked_add(old_len).is_none_or(|e| e > vma.end) {
            return Err(Errno::EFAULT);
        }
        if fixed.is_none() && new_len <= old_len {
            if new_len < old_len {
                self.unmap(old + new_len, old_len - new_len)?;
            }
            return Ok(old);
        }
        // Grow in place when the room after it is free.
        if fixed.is_none()
            && old + old_len == vma.end
            && old.checked_add(new_len).is_some_and(|e| e <= USER_END)
            && self.range_is_free(old + old_len, old + new_len)
        {
            self.insert(vma.slice(old + old_len, old + new_len));
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let dest = match fixed {
            Some(d) => {
                if !d.is_multiple_of(PAGE) || d.checked_add(new_len).is_none_or(|e| e > USER_END) {
                    return Err(Errno::EINVAL);
                }
                if d < old + old_len && old < d + new_len {
                    return Err(Errno::EINVAL);
                }
                self.unmap(d, new_len)?;
                d
            }
            None => self.find_free(new_len, MMAP_TOP).ok_or(Errno::ENOMEM)?,
        };
        // Move the pages of the old range to the new one.
        let moved: Vec<(u64, u64)> = self
            .pages
            .range(old..old + old_len.min(new_len))
            .map(|(&va, &p)| (va, p))
            .collect();
        for (va, _) in &moved {
            self.pages.remove(va);
        }
        let keep_len = old_len.min(new_len);
        for (va, p) in moved {
            self.pages.insert(dest + (va - old), p);
        }
        if let Err(e) = self.space.unmap(old, old_len) {
            tracing::error!(error = %e, "platform unmap failed");
        }
        if self.shared {
            self.flush_wanted = true;
        }
        // Pages of the old range past the new length (shrinking moves) go.
        self.carve(old, old + old_len);
        let keys: Vec<u64> = self
            .vmas
            .range(old..old + old_len)
            .map(|(&k, _)| k)
            .collect();
        for k in keys {
            self.vmas.remove(&k);
        }
        self.release_pages(old, old + old_len);
        let moved = vma.slice(old, old + new_len);
        self.insert(Vma {
            start: dest,
            end: dest + new_len,
            ..moved
        });
        let _ = keep_len;
        Ok(dest)
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

    /// `[addr, addr+len)` checked for mlock, msync and mincore: page-aligned
    /// start (EINVAL), inside the user range and mapped throughout (ENOMEM).
    /// Returns the page-aligned end.
    pub fn mapped_range(&self, addr: u64, len: u64) -> SysResult<u64> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= USER_END)
            .ok_or(Errno::ENOMEM)?;
        self.check_mapped(addr, end)?;
        Ok(end)
    }

    /// mincore: one byte per page, 1 when populated. The range is checked
    /// before anything is allocated; callers pass bounded chunks.
    pub fn residency(&self, addr: u64, len: u64) -> SysResult<Vec<u8>> {
        let end = self.mapped_range(addr, len)?;
        let mut out = Vec::with_capacity(((end - addr) / PAGE).min(1 << 16) as usize);
        let mut va = addr;
        while va < end {
            self.find_vma(va).ok_or(Errno::ENOMEM)?;
            out.push(u8::from(self.pages.contains_key(&va)));
            va += PAGE;
        }
        Ok(out)
    }

    /// Zero-fills `[addr, addr+len)` by dropping its pages (MADV_DONTNEED);
    /// shared memory keeps its contents.
    pub fn discard(&mut self, addr: u64, len: u64) -> SysResult<()> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::EINVAL)?;
        self.release_pages(addr, end);
        Ok(())
    }

    /// Whether pages wait for a flush (see `shared`).
    pub fn needs_flush(&self) -> bool {
        self.flush_wanted
    }

    /// Frees the pages unmapped before the platform flush that just ran.
    pub fn finish_flush(&mut self) {
        self.flush_wanted = false;
        let d = std::mem::take(&mut self.deferred);
        self.mem.free_pages(d);
    }

    /// Sets where the heap starts (end of the loaded image).
    pub fn set_brk_start(&mut self, addr: u64) {
        self.brk_start = addr;
        self.brk = addr;
    }

    /// brk(2): moves the program break; returns the (possibly unchanged) break.
    pub fn brk(&mut self, new: u64) -> u64 {
        if new < self.brk_start || new > USER_END {
            return self.brk;
        }
        let (Some(old_end), Some(new_end)) = (page_up(self.brk), page_up(new)) else {
            return self.brk;
        };
        if new_end > old_end {
            if !self.range_is_free(old_end, new_end) {
                return self.brk;
            }
            self.insert(Vma {
                start: old_end,
                end: new_end,
                perms: Perms::RW,
                kind: VmaKind::Heap,
                may_write: true,
            });
        } else if new_end < old_end && self.unmap(new_end, old_end - new_end).is_err() {
            return self.brk;
        }
        self.brk = new;
        self.brk
    }

    fn alloc(&mut self, va: u64) -> Result<u64, FaultError> {
        let phys = self.mem.alloc_page().map_err(|_| FaultError::OutOfMemory)?;
        self.pages.insert(va, phys);
        self.stats.pages += 1;
        Ok(phys)
    }

    /// Resolves an app fault at `addr`: checks the VMA, populates and maps a
    /// window of pages around it.
    pub fn handle_fault(&mut self, addr: u64, access: Access) -> Result<(), FaultError> {
        let vma = self.find_vma(addr).ok_or(FaultError::MapErr)?;
        let allowed = match access {
            Access::Read => vma.perms.read || vma.perms.write || vma.perms.exec,
            Access::Write => vma.perms.write,
            Access::Exec => vma.perms.exec,
        };
        if !allowed {
            return Err(FaultError::AccErr);
        }
        let (vstart, vend, perms) = (vma.start, vma.end, vma.perms);
        let private = !vma.is_shared();
        let file = match &vma.kind {
            VmaKind::File(f) => Some((f.cache.clone(), f.offset)),
            _ => None,
        };
        if access == Access::Write && private {
            let page = page_down(addr);
            if self
                .pages
                .get(&page)
                .is_some_and(|&p| self.mem.is_shared(p))
            {
                self.break_cow(page, perms)?;
                self.stats.faults += 1;
                return Ok(());
            }
        }
        let window = self.fault_around * PAGE;
        let lo = (addr & !(window - 1)).max(vstart);
        let hi = (addr & !(window - 1)).saturating_add(window).min(vend);
        let mut batch = Vec::with_capacity(((hi - lo) / PAGE) as usize);
        let mut fresh = Vec::with_capacity(batch.capacity());
        let mut va = lo;
        while va < hi {
            let phys = match (self.pages.get(&va), &file) {
                (Some(&p), _) => p,
                (None, None) => {
                    let p = self.alloc(va)?;
                    fresh.push(p);
                    p
                }
                (None, Some((cache, off))) => {
                    let idx = (off + (va - vstart)) / PAGE;
                    match cache.map_page(idx) {
                        Ok(Some(p)) => {
                            self.pages.insert(va, p);
                            self.stats.pages += 1;
                            p
                        }
                        // Past the end of the file: only the faulting page
                        // itself is an error.
                        Ok(None) | Err(_) if va != page_down(addr) => {
                            va += PAGE;
                            continue;
                        }
                        Ok(None) | Err(_) => return Err(FaultError::Bus),
                    }
                }
            };
            batch.push((va, phys));
            va += PAGE;
        }
        self.stats.faults += 1;
        // Back the new pages with host memory in runs of contiguous offsets.
        let mut run: Option<(u64, u64)> = None;
        for &phys in &fresh {
            run = match run {
                Some((s, l)) if s + l == phys => Some((s, l + PAGE)),
                Some((s, l)) => {
                    self.mem.populate(s, l);
                    Some((phys, PAGE))
                }
                None => Some((phys, PAGE)),
            };
        }
        if let Some((s, l)) = run {
            self.mem.populate(s, l);
        }
        // Pages still shared copy-on-write are mapped without write access.
        let ro = Perms {
            write: false,
            ..perms
        };
        type Pages = Vec<(u64, u64)>;
        let (cow, own): (Pages, Pages) = if private && perms.write {
            batch.into_iter().partition(|&(_, p)| self.mem.is_shared(p))
        } else {
            (Vec::new(), batch)
        };
        let map_err = |e: PlatformError| {
            tracing::error!(error = %e, "mapping a fault window failed");
            FaultError::OutOfMemory
        };
        if !cow.is_empty() {
            self.space.map_pages(&cow, ro).map_err(map_err)?;
        }
        self.space.map_pages(&own, perms).map_err(map_err)?;
        // A write to a private file page copies it now rather than after a
        // second fault.
        let page = page_down(addr);
        if access == Access::Write && cow.iter().any(|&(va, _)| va == page) {
            self.break_cow(page, perms)?;
        }
        Ok(())
    }

    /// Gives `page` (populated, shared) a private copy and maps it.
    fn break_cow(&mut self, page: u64, perms: Perms) -> Result<u64, FaultError> {
        let old = *self.pages.get(&page).ok_or(FaultError::MapErr)?;
        let new = self.mem.alloc_page().map_err(|_| FaultError::OutOfMemory)?;
        let mut buf = vec![0u8; PAGE as usize];
        let copied = self.mem.read(old, &mut buf).is_ok() && self.mem.write(new, &buf).is_ok();
        if !copied {
            self.mem.free_page(new);
            return Err(FaultError::OutOfMemory);
        }
        self.pages.insert(page, new);
        if self.mem.decref(old) {
            self.mem.free_page(old);
        }
        self.stats.pages += 1;
        self.space.map_pages(&[(page, new)], perms).map_err(|e| {
            tracing::error!(error = %e, "mapping a copied page failed");
            FaultError::OutOfMemory
        })?;
        Ok(new)
    }

    /// fork: the child gets a copy-on-write view of every page. Parent and
    /// child both get fresh platform address spaces, so no present page-table
    /// entry has to be changed (on the paravirtual backend that would take one
    /// emulated guest store per page); both refault what they touch, a
    /// fault-around window at a time.
    pub fn fork(
        &mut self,
        platform: &dyn crate::platform::Platform,
    ) -> Result<MemoryManager, PlatformError> {
        // Shared memory must be the same pages in both: populate every page
        // of it now, so that neither side allocates its own later.
        let shared: Vec<(u64, u64)> = self
            .vmas
            .values()
            .filter(|v| v.kind == VmaKind::SharedAnon)
            .map(|v| (v.start, v.end))
            .collect();
        for (start, end) in shared {
            let mut va = start;
            while va < end {
                if !self.pages.contains_key(&va) && self.alloc(va).is_err() {
                    return Err(PlatformError::Unsupported("memory file exhausted".into()));
                }
                va += PAGE;
            }
        }
        let child_space = platform.new_address_space()?;
        let parent_space = platform.new_address_space()?;
        self.space = parent_space;
        for &p in self.pages.values() {
            self.mem.incref(p);
        }
        Ok(MemoryManager {
            space: child_space,
            mem: self.mem.clone(),
            vmas: self.vmas.clone(),
            pages: self.pages.clone(),
            brk_start: self.brk_start,
            brk: self.brk,
            fault_around: self.fault_around,
            shared: false,
            deferred: Vec::new(),
            flush_wanted: false,
            stats: MmStats::default(),
        })
    }

    /// Walks `[addr, addr+len)` page by page, checking the VMAs allow `access`
    /// (unless `force`), and calls `f(phys or None for an unpopulated page,
    /// offset in page, offset in buffer, length)`.
    fn walk(
        &mut self,
        addr: u64,
        len: usize,
        access: Access,
        populate: bool,
        force: bool,
        mut f: impl FnMut(&MemoryFile, Option<u64>, usize, usize) -> SysResult<()>,
    ) -> SysResult<()> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > USER_END {
            return Err(Errno::EFAULT);
        }
        let mut at = addr;
        while at < end {
            let vma = self.find_vma(at).ok_or(Errno::EFAULT)?;
            let ok = force
                || match access {
                    Access::Write => vma.perms.write,
                    _ => vma.perms.read || vma.perms.write || vma.perms.exec,
                };
            if !ok {
                return Err(Errno::EFAULT);
            }
            let page = page_down(at);
            let n = ((page + PAGE).min(end) - at) as usize;
            let cow = access == Access::Write && !vma.is_shared();
            let vperms = vma.perms;
            // A missing page of a file VMA comes from the page cache, for
            // reads too (present pages, the common case, cost no lookup).
            let missing_file_page = if self.pages.contains_key(&page) {
                None
            } else {
                vma.file_page(page)
            };
            if let Some((cache, idx)) = missing_file_page {
                let p = cache.map_page(idx).ok().flatten().ok_or(Errno::EFAULT)?;
                self.pages.insert(page, p);
                self.stats.pages += 1;
            }
            let phys = match self.pages.get(&page) {
                Some(&p) if cow && self.mem.is_shared(p) => {
                    Some(self.break_cow(page, vperms).map_err(|_| Errno::ENOMEM)?)
                }
                Some(&p) => Some(p),
                None if populate => Some(self.alloc(page).map_err(|_| Errno::ENOMEM)?),
                None => None,
            };
            f(
                &self.mem,
                phys.map(|p| p + (at - page)),
                (at - addr) as usize,
                n,
            )?;
            at += n as u64;
        }
        Ok(())
    }

    /// Checks that every byte of `[addr, addr+len)` may be accessed (VMAs only,
    /// nothing is populated): lets a read fail with EFAULT before it consumes input.
    pub fn check_access(&self, addr: u64, len: usize, access: Access) -> SysResult<()> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > USER_END {
            return Err(Errno::EFAULT);
        }
        let mut at = addr;
        while at < end {
            let v = self.find_vma(at).ok_or(Errno::EFAULT)?;
            let ok = match access {
                Access::Write => v.perms.write,
                _ => v.perms.read || v.perms.write || v.perms.exec,
            };
            if !ok {
                return Err(Errno::EFAULT);
            }
            at = v.end;
        }
        Ok(())
    }

    /// How much of `[addr, addr+len)`, from its start, allows `access`: a
    /// transfer into a buffer larger than what is mapped behind it moves
    /// what fits, as Linux's does. EFAULT when not even the first byte does.
    pub fn accessible_len(&self, addr: u64, len: usize, access: Access) -> SysResult<usize> {
        if len == 0 {
            return Ok(0);
        }
        let end = addr.saturating_add(len as u64).min(USER_END);
        let mut at = addr;
        while at < end {
            let Some(v) = self.find_vma(at) else { break };
            let ok = match access {
                Access::Write => v.perms.write,
                _ => v.perms.read || v.perms.write || v.perms.exec,
            };
            if !ok {
                break;
            }
            at = v.end;
        }
        let n = at.min(end).saturating_sub(addr) as usize;
        if n == 0 {
            return Err(Errno::EFAULT);
        }
        Ok(n)
    }

    /// Copies app memory at `addr` into `buf`; EFAULT if any byte is not readable.
    pub fn copy_in(&mut self, addr: u64, buf: &mut [u8]) -> SysResult<()> {
        let len = buf.len();
        self.walk(
            addr,
            len,
            Access::Read,
            false,
            false,
            |mem, phys, off, n| match phys {
                Some(p) => mem
                    .read(p, &mut buf[off..off + n])
                    .map_err(|_| Errno::EFAULT),
                None => {
                    buf[off..off + n].fill(0);
                    Ok(())
                }
            },
        )
    }

    /// Copies `data` to app memory at `addr`; EFAULT if any byte is not writable.
    pub fn copy_out(&mut self, addr: u64, data: &[u8]) -> SysResult<()> {
        self.walk(
            addr,
            data.len(),
            Access::Write,
            true,
            false,
            |mem, phys, off, n| {
                let p = phys.ok_or(Errno::EFAULT)?;
                mem.write(p, &data[off..off + n]).map_err(|_| Errno::EFAULT)
            },
        )
    }

    /// Writes `data` at `addr` whatever the VMA's protection (the loader).
    pub fn write_force(&mut self, addr: u64, data: &[u8]) -> SysResult<()> {
        self.walk(
            addr,
            data.len(),
            Access::Write,
            true,
            true,
            |mem, phys, off, n| {
                let p = phys.ok_or(Errno::EFAULT)?;
                mem.write(p, &data[off..off + n]).map_err(|_| Errno::EFAULT)
            },
        )
    }

    /// Maps every populated page of `[start, end)` into the platform address
    /// space now (host-side writes of fresh entries, no exits), so that a
    /// just-loaded image does not fault its way in page window by window.
    pub fn map_populated(&mut self, start: u64, end: u64) {
        let Some(vma) = self.find_vma(start).cloned() else {
            return;
        };
        let end = end.min(vma.end);
        let private = !vma.is_shared();
        let ro = Perms {
            write: false,
            ..vma.perms
        };
        let (mut own, mut cow) = (Vec::new(), Vec::new());
        for (&va, &p) in self.pages.range(start..end) {
            if private && vma.perms.write && self.mem.is_shared(p) {
                cow.push((va, p));
            } else {
                own.push((va, p));
            }
        }
        if !vma.perms.any() {
            return;
        }
        for (batch, perms) in [(own, vma.perms), (cow, ro)] {
            if !batch.is_empty() {
                if let Err(e) = self.space.map_pages(&batch, perms) {
                    tracing::debug!(error = %e, "eager mapping skipped");
                }
            }
        }
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstring(&mut self, addr: u64, max: usize) -> SysResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let chunk = (PAGE - (at % PAGE)) as usize;
            let mut buf = vec![0u8; chunk.min(max + 1 - out.len())];
            self.copy_in(at, &mut buf)?;
            if let Some(i) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..i]);
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at += buf.len() as u64;
        }
    }

    /// Whether `addr` lies in memory shared between address spaces.
    pub fn is_shared_memory(&self, addr: u64) -> bool {
        self.find_vma(addr).is_some_and(Vma::is_shared)
    }

    /// The memory file pages come from.
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
    }

    /// The memory-file offset backing `addr` (populating the page).
    pub fn translate(&mut self, addr: u64) -> Option<u64> {
        let mut out = None;
        self.walk(addr, 1, Access::Read, true, false, |_, phys, _, _| {
            out = phys;
            Ok(())
        })
        .ok()?;
        out
    }

    /// Reads a plain value of type T (u64, i32, …) from app memory.
    pub fn read_u64(&mut self, addr: u64) -> SysResult<u64> {
        let mut b = [0u8; 8];
        self.copy_in(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        let mut freed: Vec<u64> = std::mem::take(&mut self.deferred);
        let pages = std::mem::take(&mut self.pages);
        let more: Vec<u64> = pages
            .into_values()
            .filter(|&p| self.mem.decref(p))
            .collect();
        freed.extend(more);
        self.mem.free_pages(freed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::{FakeAddressSpace, FakePlatform};
    use crate::platform::Platform;

    fn mm(fault_around: u64) -> (MemoryManager, Arc<dyn AddressSpace>) {
        let p = FakePlatform::new(64 << 20);
        let space = p.new_address_space().unwrap();
        (
            MemoryManager::new(space.clone(), p.memory().clone(), fault_around),
            space,
        )
    }

    fn fake(s: &Arc<dyn AddressSpace>) -> &FakeAddressSpace {
        s.as_any().downcast_ref().unwrap()
    }

    #[test]
    fn mmap_fault_copy_unmap() {
        let (mut m, s) = mm(16);
        let a = m
            .map_anon(0, 64 * PAGE, Perms::RW, false, VmaKind::Anon)
            .unwrap();
        assert!(a >= MMAP_MIN && a + 64 * PAGE <= MMAP_TOP);
        m.handle_fault(a + 5 * PAGE + 3, Access::Write).unwrap();
        // One fault mapped a 16-page window in one platform call.
        assert_eq!(*fake(&s).map_calls.lock().unwrap(), 1);
        assert!(fake(&s).lookup(a).is_some());
        assert!(fake(&s).lookup(a + 15 * PAGE).is_some());
        assert!(fake(&s).lookup(a + 16 * PAGE).is_none());
        m.copy_out(a + 100, b"hello").unwrap();
        let mut b = [0u8; 5];
        m.copy_in(a + 100, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        m.unmap(a, 64 * PAGE).unwrap();
        assert!(fake(&s).lookup(a).is_none());
        assert_eq!(m.copy_in(a, &mut b), Err(Errno::EFAULT));
        assert_eq!(m.handle_fault(a, Access::Read), Err(FaultError::MapErr));
    }

    #[test]
    fn protection_is_enforced() {
        let (mut m, s) = mm(1);
        let a = m
            .map_anon(0, 4 * PAGE, Perms::RW, false, VmaKind::Anon)
            .unwrap();
        m.handle_fault(a, Access::Write).unwrap();
        m.protect(a, PAGE, Perms::R).unwrap();
        assert_eq!(fake(&s).lookup(a).unwrap().1, Perms::R);
        assert_eq!(m.handle_fault(a, Access::Write), Err(FaultError::AccErr));
        assert_eq!(m.handle_fault(a, Access::Exec), Err(FaultError::AccErr));
        assert_eq!(m.copy_out(a, b"x"), Err(Errno::EFAULT));
        assert!(m.handle_fault(a + PAGE, Access::Write).is_ok());
        assert_eq!(m.vmas().count(), 2, "split into R and RW");
        // A hole makes mprotect fail with ENOMEM.
        m.unmap(a + PAGE, PAGE).unwrap();
        assert_eq!(m.protect(a, 3 * PAGE, Perms::RW), Err(Errno::ENOMEM));
    }

    #[test]
    fn copy_errors_are_efault() {
        let (mut m, _) = mm(1);
        let mut b = [0u8; 8];
        assert_eq!(m.copy_in(0, &mut b), Err(Errno::EFAULT));
        assert_eq!(m.copy_in(u64::MAX - 3, &mut b), Err(Errno::EFAULT));
        assert_eq!(m.copy_out(0xffff_8000_0000_0000, &b), Err(Errno::EFAULT));
        let a = m
            .map_anon(0, PAGE, Perms::RW, false, VmaKind::Anon)
            .unwrap();
        // Straddling the end of the mapping.
        assert_eq!(m.copy_in(a + PAGE - 4, &mut b), Err(Errno::EFAULT));
        // Unpopulated pages read as zeros without being allocated.
        m.copy_in(a, &mut b).unwrap();
        assert_eq!(b, [0; 8]);
        assert_eq!(m.resident_pages(), 0);
    }

    #[test]
    fn brk_grows_and_shrinks() {
        let (mut m, _) = mm(4);
        m.set_brk_start(0x60_1234);
        assert_eq!(m.brk(0), 0x60_1234);
        assert_eq!(m.brk(0x60_1234 + 3 * PAGE), 0x60_1234 + 3 * PAGE);
        m.copy_out(0x60_2000, b"heap").unwrap();
        assert_eq!(m.brk(0x60_1234 + 10 * PAGE), 0x60_1234 + 10 * PAGE);
        assert_eq!(m.vmas().count(), 1, "heap pieces merge");
        assert_eq!(m.brk(0x60_1234), 0x60_1234);
        let mut b = [0u8; 4];
        assert_eq!(m.copy_in(0x60_3000, &mut b), Err(Errno::EFAULT));
        // Cannot grow into another mapping.
        m.map_anon(0x70_0000, PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(m.brk(0x80_0000), 0x60_1234);
    }

    #[test]
    fn fixed_mappings_replace_and_strings_read() {
        let (mut m, _) = mm(1);
        let a = m
            .map_anon(0x40_0000, 3 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(a, 0x40_0000);
        m.copy_out(a + PAGE, b"abc\0").unwrap();
        assert_eq!(m.read_cstring(a + PAGE, 100).unwrap(), b"abc");
        m.map_anon(a + PAGE, PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(
            m.read_cstring(a + PAGE, 100).unwrap(),
            b"",
            "replaced by zeros"
        );
        assert_eq!(m.vmas().count(), 3);
        // Unterminated string running off the mapping.
        m.write_force(a + PAGE, &[b'x'; PAGE as usize]).unwrap();
        assert!(m.read_cstring(a + PAGE, 10).is_err());
        assert!(m
            .map_anon(0x1001, PAGE, Perms::RW, true, VmaKind::Anon)
            .is_err());
        assert!(m.map_anon(0, 0, Perms::RW, false, VmaKind::Anon).is_err());
    }
}
