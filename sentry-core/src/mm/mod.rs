//! The memory manager of one address space: VMAs (the truth), the pages
//! populated from the memory file, demand paging with fault-around, brk, and
//! copy-in/copy-out through the sentry's own mapping of the memory file.
//!
//! The platform's address space is only a cache of what is here: a fault the
//! VMAs allow is resolved by populating and mapping pages; removing or
//! reprotecting a range updates the VMAs first, then the cache.
//!
//! The files: `vma.rs` the VMA set, `mmap.rs` the rules of mmap, munmap,
//! mprotect, mremap and brk, `fault.rs` page faults and copy-on-write,
//! `usercopy.rs` copy-in/copy-out, `pagecache.rs` files' pages; this file
//! holds the [`MemoryManager`] itself, its life (new, fork, drop) and the
//! deferred freeing of a shared one.

mod fault;
mod mmap;
pub mod pagecache;
mod usercopy;
mod vma;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use fault::FaultError;
pub use pagecache::PageCache;
pub use vma::{FileMap, ShmAttach, ShmHooks, Vma, VmaKind};

use crate::platform::{AddressSpace, MemoryFile, PlatformError};

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

    /// The memory file pages come from.
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
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

/// A memory manager on the fake platform, for the unit tests of every file.
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::platform::fake::{FakeAddressSpace, FakePlatform};
    use crate::platform::Platform;

    pub(crate) fn mm(fault_around: u64) -> (MemoryManager, Arc<dyn AddressSpace>) {
        let p = FakePlatform::new(64 << 20).unwrap();
        let space = p.new_address_space().unwrap();
        (
            MemoryManager::new(space.clone(), p.memory().clone(), fault_around),
            space,
        )
    }

    pub(crate) fn fake(s: &Arc<dyn AddressSpace>) -> &FakeAddressSpace {
        s.as_any().downcast_ref().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::fake;
    use super::*;
    use crate::errno::Errno;
    use crate::platform::fake::FakePlatform;
    use crate::platform::{Perms, Platform};

    #[test]
    fn fork_copies_private_memory_on_write_and_shares_shared() {
        let p = FakePlatform::new(64 << 20).unwrap();
        let mem = p.memory().clone();
        let mut parent = MemoryManager::new(p.new_address_space().unwrap(), mem.clone(), 4);
        let a = parent
            .map_anon(0x40_0000, 2 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        let sh = parent
            .map_anon(0x50_0000, 2 * PAGE, Perms::RW, true, VmaKind::SharedAnon)
            .unwrap();
        parent.copy_out(a, b"parent").unwrap();
        let before = mem.pages_in_use();
        let mut child = parent.fork(&p).unwrap();
        // Shared memory was populated whole; nothing private was copied.
        assert_eq!(mem.pages_in_use(), before + 2);
        // Both start with empty page tables.
        assert!(fake(parent.address_space()).lookup(a).is_none());
        assert!(fake(child.address_space()).lookup(a).is_none());
        let mut b = [0u8; 6];
        child.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"parent");
        child.copy_out(a, b"child!").unwrap();
        parent.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"parent", "the child's write was copied");
        child.copy_out(sh + PAGE, b"shared").unwrap();
        parent.copy_in(sh + PAGE, &mut b).unwrap();
        assert_eq!(&b, b"shared");
        // Unmapping in one leaves the other's pages alone.
        child.unmap(a, 2 * PAGE).unwrap();
        assert_eq!(child.copy_in(a, &mut b), Err(Errno::EFAULT));
        parent.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"parent");
        drop(child);
        drop(parent);
        assert_eq!(mem.pages_in_use(), 0, "every page freed");
    }

    #[test]
    fn shared_managers_defer_frees_until_the_flush() {
        let p = FakePlatform::new(64 << 20).unwrap();
        let mem = p.memory().clone();
        let mut m = MemoryManager::new(p.new_address_space().unwrap(), mem.clone(), 1);
        m.shared = true;
        let a = m
            .map_anon(0x40_0000, PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        m.copy_out(a, b"x").unwrap();
        assert!(!m.needs_flush());
        m.unmap(a, PAGE).unwrap();
        assert!(m.needs_flush());
        assert_eq!(mem.pages_in_use(), 1, "freed only after the flush");
        m.finish_flush();
        assert!(!m.needs_flush());
        assert_eq!(mem.pages_in_use(), 0);
    }
}
