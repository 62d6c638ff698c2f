//! Page faults: demand paging with fault-around, copy-on-write breaking,
//! and mapping already populated pages eagerly.

use super::{page_down, MemoryManager, VmaKind, PAGE};
use crate::platform::{Access, Perms, PlatformError};

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

impl MemoryManager {
    pub(super) fn alloc(&mut self, va: u64) -> Result<u64, FaultError> {
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
                    // Saturating: a file offset the program chose near
                    // 2^64 is past the end of the file (SIGBUS).
                    let idx = off.saturating_add(va - vstart) / PAGE;
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
    pub(super) fn break_cow(&mut self, page: u64, perms: Perms) -> Result<u64, FaultError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;
    use crate::mm::testutil::{fake, mm};
    use crate::mm::{FileMap, PageCache, MMAP_MIN, MMAP_TOP};

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

    fn file(cache: &std::sync::Arc<PageCache>, shared: bool) -> VmaKind {
        VmaKind::File(FileMap {
            cache: cache.clone(),
            offset: 0,
            shared,
            name: "/f".into(),
            shm: None,
            writers: None,
        })
    }

    #[test]
    fn private_file_pages_are_copied_on_first_write() {
        let (mut m, s) = mm(4);
        let cache = PageCache::from_bytes(m.memory().clone(), b"file data").unwrap();
        let a = m
            .map(
                0x40_0000,
                2 * PAGE,
                Perms::RW,
                true,
                file(&cache, false),
                true,
            )
            .unwrap();
        // A read maps the cache's own page, read-only (copy-on-write); the
        // page past the end of the file is left out of the window.
        m.handle_fault(a, Access::Read).unwrap();
        let (shared_page, perms) = fake(&s).lookup(a).unwrap();
        assert_eq!(perms, Perms::R);
        assert!(fake(&s).lookup(a + PAGE).is_none());
        // The first write copies it at once: one fault, not two.
        m.handle_fault(a + 3, Access::Write).unwrap();
        let (own, perms) = fake(&s).lookup(a).unwrap();
        assert_eq!(perms, Perms::RW);
        assert_ne!(own, shared_page);
        m.copy_out(a, b"FILE").unwrap();
        let mut b = [0u8; 9];
        assert_eq!(cache.read(&mut b, 0), Ok(9));
        assert_eq!(&b, b"file data", "the file is untouched");
        m.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"FILE data");
        // Wholly past the end of the file: SIGBUS.
        assert_eq!(m.handle_fault(a + PAGE, Access::Read), Err(FaultError::Bus));
    }

    #[test]
    fn shared_file_stores_reach_the_file() {
        let (mut m, s) = mm(1);
        let cache = PageCache::from_bytes(m.memory().clone(), b"file data").unwrap();
        let a = m
            .map(0x40_0000, PAGE, Perms::RW, true, file(&cache, true), true)
            .unwrap();
        m.handle_fault(a, Access::Write).unwrap();
        assert_eq!(fake(&s).lookup(a).map(|(_, p)| p), Some(Perms::RW));
        m.copy_out(a, b"FILE").unwrap();
        let mut b = [0u8; 9];
        assert_eq!(cache.read(&mut b, 0), Ok(9));
        assert_eq!(&b, b"FILE data");
    }

    #[test]
    fn fault_windows_stay_in_the_vma_and_respect_protection() {
        let (mut m, s) = mm(16);
        let a = 0x40_0000;
        m.map_anon(a, 4 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        m.map_anon(a + 4 * PAGE, 4 * PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        m.handle_fault(a + PAGE, Access::Read).unwrap();
        assert_eq!(m.resident_pages(), 4, "clipped to the VMA");
        assert!(fake(&s).lookup(a + 4 * PAGE).is_none());
        assert_eq!(m.stats.faults, 1);
        assert_eq!(
            m.handle_fault(a + 4 * PAGE, Access::Write),
            Err(FaultError::AccErr)
        );
        m.protect(
            a,
            PAGE,
            Perms {
                read: false,
                write: false,
                exec: false,
            },
        )
        .unwrap();
        assert_eq!(m.handle_fault(a, Access::Read), Err(FaultError::AccErr));
        assert_eq!(m.handle_fault(a - 1, Access::Read), Err(FaultError::MapErr));
    }

    #[test]
    fn map_populated_maps_loaded_pages_without_faults() {
        let (mut m, s) = mm(1);
        let a = 0x40_0000;
        m.map_anon(a, 4 * PAGE, Perms::RX, true, VmaKind::Anon)
            .unwrap();
        m.write_force(a + PAGE, &[0x90; 2 * PAGE as usize]).unwrap();
        assert!(fake(&s).lookup(a + PAGE).is_none());
        m.map_populated(a, a + 4 * PAGE);
        assert_eq!(fake(&s).lookup(a + PAGE).map(|(_, p)| p), Some(Perms::RX));
        assert!(fake(&s).lookup(a + 2 * PAGE).is_some());
        assert!(fake(&s).lookup(a).is_none(), "holes stay unpopulated");
        assert_eq!(m.stats.faults, 0);
    }
}
