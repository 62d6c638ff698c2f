//! Guest 4-level page tables for one address space.
//!
//! The host writes an entry itself only when it goes from not-present to
//! present and no store to it is still queued: the paravirtual backend's shadow
//! MMU sees those. Every other change (removal, protection change, replacing a
//! present entry) is queued as `{entry, value, va}` and applied by guest code —
//! the CPL0 snippet in `entry-asm` — on the next entry into this address space,
//! before the app runs again. The queue is keyed by entry, so the latest value
//! wins and duplicates collapse.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use entry_asm::layout;

use crate::memfile::{MemoryError, MemoryFile};
use crate::PAGE_SIZE;

/// Present.
pub const PTE_P: u64 = 1;
/// Writable.
pub const PTE_W: u64 = 1 << 1;
/// User accessible.
pub const PTE_U: u64 = 1 << 2;
/// Accessed.
pub const PTE_A: u64 = 1 << 5;
/// Dirty.
pub const PTE_D: u64 = 1 << 6;
/// Large page (in a PDPT or PD entry).
pub const PTE_PS: u64 = 1 << 7;
/// No execute.
pub const PTE_NX: u64 = 1 << 63;
/// Physical address bits of an entry.
pub const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Lowest address above the user half (canonical lower half end).
pub const USER_LIMIT: u64 = 0x0000_8000_0000_0000;

/// Access rights of a user mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl Perms {
    /// Read, write, no exec.
    pub const RW: Perms = Perms {
        read: true,
        write: true,
        exec: false,
    };
    /// Read only.
    pub const R: Perms = Perms {
        read: true,
        write: false,
        exec: false,
    };
    /// Read and exec.
    pub const RX: Perms = Perms {
        read: true,
        write: false,
        exec: true,
    };
    /// Read, write and exec.
    pub const RWX: Perms = Perms {
        read: true,
        write: true,
        exec: true,
    };

    /// Whether any access is allowed (x86 cannot map write- or exec-only).
    pub fn any(self) -> bool {
        self.read || self.write || self.exec
    }

    fn leaf_flags(self) -> u64 {
        let mut f = PTE_P | PTE_U | PTE_A | PTE_D;
        if self.write {
            f |= PTE_W;
        }
        if !self.exec {
            f |= PTE_NX;
        }
        f
    }
}

/// Errors of page-table operations.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    /// The range is not page aligned or leaves the user half.
    #[error("bad range {va:#x}+{len:#x}: not page aligned or outside the user half")]
    BadRange {
        /// Start.
        va: u64,
        /// Length.
        len: u64,
    },
    /// A page-table page could not be allocated or accessed.
    #[error("page table memory: {0}")]
    Memory(#[from] MemoryError),
}

/// One queued store for the snippet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteStore {
    /// Guest virtual address of the entry (through the direct map).
    pub entry_va: u64,
    /// The value to store.
    pub value: u64,
    /// The address to `invlpg` afterwards.
    pub va: u64,
}

#[derive(Default)]
struct Pending {
    /// entry physical address → (value, va)
    stores: BTreeMap<u64, (u64, u64)>,
    /// A whole-TLB flush is needed (an upper-level entry was cleared).
    flush_all: bool,
}

struct Inner {
    pending: Pending,
    /// Table pages detached by a large unmap. They are never reused while the
    /// address space lives (the backend may still shadow them).
    retired: Vec<u64>,
    /// All table pages owned by this address space (for accounting).
    tables: Vec<u64>,
}

/// A guest address space: a PML4 whose upper slot 511 is the shared supervisor
/// region and whose lower half holds the app's mappings.
pub struct AddressSpace {
    mem: Arc<MemoryFile>,
    root: u64,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressSpace")
            .field("root", &format_args!("{:#x}", self.root))
            .finish()
    }
}

fn index(va: u64, level: u32) -> u64 {
    (va >> (12 + 9 * level)) & 0x1ff
}

impl AddressSpace {
    /// Creates an empty address space whose PML4 slot 511 points at `supervisor_pdpt`.
    pub(crate) fn new(mem: Arc<MemoryFile>, supervisor_pdpt: u64) -> Result<Self, PagingError> {
        let root = mem.alloc_page()?;
        mem.write_u64(
            root + layout::SUPERVISOR_PML4_SLOT as u64 * 8,
            supervisor_pdpt | PTE_P | PTE_W | PTE_U | PTE_A,
        )?;
        Ok(AddressSpace {
            mem,
            root,
            inner: Mutex::new(Inner {
                pending: Pending::default(),
                retired: Vec::new(),
                tables: vec![root],
            }),
        })
    }

    /// Physical address of the PML4 (the value for CR3).
    pub fn root(&self) -> u64 {
        self.root
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(va: u64, len: u64) -> Result<(), PagingError> {
        let ok = va.is_multiple_of(PAGE_SIZE)
            && len.is_multiple_of(PAGE_SIZE)
            && va.checked_add(len).is_some_and(|end| end <= USER_LIMIT);
        if ok {
            Ok(())
        } else {
            Err(PagingError::BadRange { va, len })
        }
    }

    /// The value an entry will have once queued stores are applied.
    fn effective(&self, inner: &Inner, entry: u64) -> Result<u64, PagingError> {
        match inner.pending.stores.get(&entry) {
            Some(&(v, _)) => Ok(v),
            None => Ok(self.mem.read_u64(entry)?),
        }
    }

    /// Sets an entry: directly when it goes from absent to present with nothing
    /// queued, through the queue otherwise.
    fn set(&self, inner: &mut Inner, entry: u64, value: u64, va: u64) -> Result<(), PagingError> {
        if let Some(slot) = inner.pending.stores.get_mut(&entry) {
            *slot = (value, va);
            return Ok(());
        }
        let old = self.mem.read_u64(entry)?;
        if old == value {
            return Ok(());
        }
        if old & PTE_P == 0 && value & PTE_P != 0 {
            self.mem.write_u64(entry, value)?;
        } else {
            inner.pending.stores.insert(entry, (value, va));
        }
        Ok(())
    }

    /// Walks to the PTE of `va`, creating tables when `create`.
    fn walk(&self, inner: &mut Inner, va: u64, create: bool) -> Result<Option<u64>, PagingError> {
        let mut table = self.root;
        for level in (1..=3).rev() {
            let entry = table + index(va, level) * 8;
            let e = self.effective(inner, entry)?;
            if e & PTE_P != 0 {
                table = e & PTE_ADDR;
                continue;
            }
            if !create {
                return Ok(None);
            }
            let page = self.mem.alloc_page()?;
            inner.tables.push(page);
            self.set(inner, entry, page | PTE_P | PTE_W | PTE_U | PTE_A, va)?;
            table = page;
        }
        Ok(Some(table + index(va, 0) * 8))
    }

    /// Maps `[va, va+len)` to memory-file offsets `[phys, phys+len)` with `perms`.
    pub fn map(&self, va: u64, phys: u64, len: u64, perms: Perms) -> Result<(), PagingError> {
        Self::check(va, len)?;
        if !phys.is_multiple_of(PAGE_SIZE)
            || phys.checked_add(len).is_none_or(|e| e > self.mem.size())
        {
            return Err(PagingError::BadRange { va: phys, len });
        }
        let mut inner = self.lock();
        let flags = perms.leaf_flags();
        let mut off = 0;
        while off < len {
            let a = va + off;
            let pte = self
                .walk(&mut inner, a, true)?
                .ok_or(PagingError::BadRange { va, len })?;
            if perms.any() {
                self.set(&mut inner, pte, (phys + off) | flags, a)?;
            } else {
                self.set(&mut inner, pte, 0, a)?;
            }
            off += PAGE_SIZE;
        }
        Ok(())
    }

    /// Maps a list of pages (va, phys) with the same perms: fault-around batches.
    pub fn map_pages(&self, pages: &[(u64, u64)], perms: Perms) -> Result<(), PagingError> {
        let mut inner = self.lock();
        let flags = perms.leaf_flags();
        for &(va, phys) in pages {
            Self::check(va, PAGE_SIZE)?;
            if !phys.is_multiple_of(PAGE_SIZE)
                || phys
                    .checked_add(PAGE_SIZE)
                    .is_none_or(|e| e > self.mem.size())
            {
                return Err(PagingError::BadRange {
                    va: phys,
                    len: PAGE_SIZE,
                });
            }
            let pte = self
                .walk(&mut inner, va, true)?
                .ok_or(PagingError::BadRange { va, len: PAGE_SIZE })?;
            self.set(&mut inner, pte, phys | flags, va)?;
        }
        Ok(())
    }

    /// Applies `f` to every present leaf entry in `[va, va+len)`, skipping absent
    /// tables whole. `f` returns the new value.
    fn for_each_present(
        &self,
        inner: &mut Inner,
        va: u64,
        len: u64,
        mut f: impl FnMut(u64) -> u64,
    ) -> Result<(), PagingError> {
        let end = va + len;
        let mut a = va;
        'outer: while a < end {
            let mut table = self.root;
            for level in (1..=3).rev() {
                let e = self.effective(inner, table + index(a, level) * 8)?;
                if e & PTE_P == 0 {
                    let span = 1u64 << (12 + 9 * level);
                    a = (a & !(span - 1)) + span;
                    continue 'outer;
                }
                table = e & PTE_ADDR;
            }
            let pte = table + index(a, 0) * 8;
            let e = self.effective(inner, pte)?;
            if e & PTE_P != 0 {
                self.set(inner, pte, f(e), a)?;
            }
            a += PAGE_SIZE;
        }
        Ok(())
    }

    /// Removes the mappings of `[va, va+len)`. Whole 2 MiB blocks are removed by
    /// clearing their directory entry (one queued store instead of 512).
    pub fn unmap(&self, va: u64, len: u64) -> Result<(), PagingError> {
        Self::check(va, len)?;
        let mut inner = self.lock();
        let end = va + len;
        let mut a = va;
        const BLOCK: u64 = 2 << 20;
        while a < end {
            let block_end = (a & !(BLOCK - 1)) + BLOCK;
            if a.is_multiple_of(BLOCK) && block_end <= end {
                // Find the PD entry of this block; an absent upper table skips
                // its whole span (512 GiB or 1 GiB), so a huge range with little
                // mapped in it costs a few steps, not one per 2 MiB.
                let mut table = self.root;
                let mut next = block_end;
                for level in (2..=3).rev() {
                    let e = self.effective(&inner, table + index(a, level) * 8)?;
                    if e & PTE_P == 0 {
                        let span = 1u64 << (12 + 9 * level);
                        next = (a & !(span - 1)) + span;
                        table = 0;
                        break;
                    }
                    table = e & PTE_ADDR;
                }
                if table != 0 {
                    let pde = table + index(a, 1) * 8;
                    let e = self.effective(&inner, pde)?;
                    if e & PTE_P != 0 {
                        self.set(&mut inner, pde, 0, a)?;
                        inner.pending.flush_all = true;
                        inner.retired.push(e & PTE_ADDR);
                    }
                }
                // Never past `end`: the tail of a skipped span may be a partial block.
                a = next.min(end);
                continue;
            }
            let chunk_end = block_end.min(end);
            self.for_each_present(&mut inner, a, chunk_end - a, |_| 0)?;
            a = chunk_end;
        }
        Ok(())
    }

    /// Changes the protection of present mappings in `[va, va+len)`; no access
    /// removes them.
    pub fn protect(&self, va: u64, len: u64, perms: Perms) -> Result<(), PagingError> {
        Self::check(va, len)?;
        let mut inner = self.lock();
        let flags = perms.leaf_flags();
        let any = perms.any();
        self.for_each_present(&mut inner, va, len, |e| {
            if any {
                (e & PTE_ADDR) | flags
            } else {
                0
            }
        })
    }

    /// Looks up the effective leaf entry of `va` (for tests and diagnostics).
    pub fn lookup(&self, va: u64) -> Result<Option<(u64, Perms)>, PagingError> {
        let mut inner = self.lock();
        let Some(pte) = self.walk(&mut inner, va & !(PAGE_SIZE - 1), false)? else {
            return Ok(None);
        };
        let e = self.effective(&inner, pte)?;
        if e & PTE_P == 0 {
            return Ok(None);
        }
        Ok(Some((
            e & PTE_ADDR,
            Perms {
                read: true,
                write: e & PTE_W != 0,
                exec: e & PTE_NX == 0,
            },
        )))
    }

    /// Whether stores are waiting for the snippet.
    pub fn has_pending(&self) -> bool {
        let inner = self.lock();
        !inner.pending.stores.is_empty() || inner.pending.flush_all
    }

    /// Takes the queued stores (entry addresses translated to the direct map)
    /// and whether a full flush is needed. The caller applies them in guest code
    /// before the app runs again in this address space.
    pub(crate) fn take_pending(&self) -> (Vec<PteStore>, bool) {
        let mut inner = self.lock();
        let p = std::mem::take(&mut inner.pending);
        let stores = p
            .stores
            .into_iter()
            .map(|(entry, (value, va))| PteStore {
                entry_va: layout::DIRECT_MAP_BASE + entry,
                value,
                va,
            })
            .collect();
        (stores, p.flush_all)
    }

    /// Number of page-table pages this address space has allocated.
    pub fn table_pages(&self) -> usize {
        self.lock().tables.len()
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // Table pages are not returned to the allocator: the backend's shadow
        // MMU may still hold them, and a former table page reused for data was
        // not verified safe (KVM-HOST-NOTES.md). They go back with the VM.
        let inner = self.lock();
        tracing::trace!(
            tables = inner.tables.len(),
            retired = inner.retired.len(),
            "address space dropped"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> (Arc<MemoryFile>, AddressSpace) {
        let mem = Arc::new(MemoryFile::new(16 << 20).unwrap());
        let pdpt = mem.alloc_page().unwrap();
        let s = AddressSpace::new(mem.clone(), pdpt).unwrap();
        (mem, s)
    }

    #[test]
    fn fresh_maps_are_written_directly() {
        let (mem, s) = space();
        let p = mem.alloc_page().unwrap();
        s.map(0x40_0000, p, PAGE_SIZE, Perms::RW).unwrap();
        assert!(!s.has_pending());
        assert_eq!(s.lookup(0x40_0123).unwrap(), Some((p, Perms::RW)));
    }

    #[test]
    fn removals_and_changes_are_queued() {
        let (mem, s) = space();
        let p = mem.alloc_page().unwrap();
        s.map(0x40_0000, p, 2 * PAGE_SIZE, Perms::RW).unwrap();
        s.protect(0x40_0000, PAGE_SIZE, Perms::R).unwrap();
        s.unmap(0x40_1000, PAGE_SIZE).unwrap();
        assert_eq!(s.lookup(0x40_0000).unwrap().unwrap().1, Perms::R);
        assert_eq!(s.lookup(0x40_1000).unwrap(), None);
        // Memory still holds the old values until the guest applies the queue.
        let (stores, flush) = s.take_pending();
        assert_eq!(stores.len(), 2);
        assert!(!flush);
        assert!(stores.iter().any(|st| st.value == 0 && st.va == 0x40_1000));
        assert!(stores
            .iter()
            .all(|st| st.entry_va >= layout::DIRECT_MAP_BASE));
        // Remapping an entry with a queued store goes through the queue too.
        s.unmap(0x40_0000, PAGE_SIZE).unwrap();
        s.map(0x40_0000, p, PAGE_SIZE, Perms::RW).unwrap();
        let (stores, _) = s.take_pending();
        assert_eq!(stores.len(), 1);
        assert_eq!(stores[0].value & PTE_ADDR, p);
    }

    #[test]
    fn big_unmap_clears_directory_entries() {
        let (mem, s) = space();
        let base = 0x20_0000;
        let mut pages = Vec::new();
        for i in 0..1024 {
            pages.push((base + i * PAGE_SIZE, mem.alloc_page().unwrap()));
        }
        s.map_pages(&pages, Perms::RW).unwrap();
        s.unmap(base, 1024 * PAGE_SIZE).unwrap();
        let (stores, flush) = s.take_pending();
        assert_eq!(stores.len(), 2, "two PD entries, not 1024 PTEs");
        assert!(flush);
    }

    #[test]
    fn bad_ranges_are_errors() {
        let (mem, s) = space();
        let p = mem.alloc_page().unwrap();
        assert!(s.map(0x1001, p, PAGE_SIZE, Perms::RW).is_err());
        assert!(s.map(USER_LIMIT, p, PAGE_SIZE, Perms::RW).is_err());
        assert!(s.map(0x1000, mem.size(), PAGE_SIZE, Perms::RW).is_err());
        assert!(s.unmap(u64::MAX - 0xfff, PAGE_SIZE).is_err());
        let top = u64::MAX - 0xfff;
        assert!(s.map_pages(&[(0x1000, top)], Perms::RW).is_err());
    }
}
