//! The mapping calls' rules: where `mmap` places a mapping, `munmap`,
//! `mprotect`, `mremap`, `brk`, and the range checks of `mlock`, `msync`,
//! `mincore` and `madvise`.

use super::{page_down, page_up, MemoryManager, Vma, VmaKind, MMAP_MIN, MMAP_TOP, PAGE, USER_END};
use crate::errno::{Errno, SysResult};
use crate::platform::{Perms, PlatformError};

fn perr(e: PlatformError) -> Errno {
    tracing::error!(error = %e, "platform mapping failed");
    Errno::ENOMEM
}

impl MemoryManager {
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

    /// Unmaps every System V shared memory attachment (a process that
    /// exits detaches them before its parent is told).
    pub fn detach_shm(&mut self) {
        let ranges: Vec<(u64, u64)> = self
            .vmas
            .values()
            .filter(|v| matches!(&v.kind, VmaKind::File(f) if f.shm.is_some()))
            .map(|v| (v.start, v.end))
            .collect();
        for (s, e) in ranges {
            let _ = self.unmap(s, e - s);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testutil::{fake, mm};
    use crate::mm::FaultError;
    use crate::platform::Access;

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

    #[test]
    fn remap_grows_in_place_moves_and_shrinks() {
        let (mut m, _) = mm(1);
        let a = m
            .map_anon(0x40_0000, 2 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        m.copy_out(a + PAGE, b"moved").unwrap();
        // Room after it: grows in place, one VMA.
        assert_eq!(m.remap(a, 2 * PAGE, 4 * PAGE, false, None), Ok(a));
        assert_eq!(m.vmas().count(), 1);
        m.copy_out(a + 3 * PAGE, b"tail").unwrap();
        // Blocked: ENOMEM without MREMAP_MAYMOVE, a move with it.
        m.map_anon(a + 4 * PAGE, PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(
            m.remap(a, 4 * PAGE, 8 * PAGE, false, None),
            Err(Errno::ENOMEM)
        );
        let resident = m.resident_pages();
        let b = m.remap(a, 4 * PAGE, 8 * PAGE, true, None).unwrap();
        assert_ne!(b, a);
        // The pages moved with their contents; nothing was copied.
        assert_eq!(m.resident_pages(), resident);
        let mut buf = [0u8; 5];
        m.copy_in(b + PAGE, &mut buf).unwrap();
        assert_eq!(&buf, b"moved");
        m.copy_in(b + 3 * PAGE, &mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], b"tail");
        assert_eq!(m.copy_in(a + PAGE, &mut buf), Err(Errno::EFAULT));
        // Shrinking unmaps the tail and frees its pages.
        assert_eq!(m.remap(b, 8 * PAGE, 2 * PAGE, false, None), Ok(b));
        assert_eq!(m.copy_in(b + 3 * PAGE, &mut buf), Err(Errno::EFAULT));
        assert_eq!(m.resident_pages(), 1);
        // MREMAP_FIXED moves to the given address, replacing what was there.
        let c = 0x80_0000;
        m.map_anon(c, PAGE, Perms::R, true, VmaKind::Anon).unwrap();
        assert_eq!(m.remap(b, 2 * PAGE, 2 * PAGE, true, Some(c)), Ok(c));
        m.copy_in(c + PAGE, &mut buf).unwrap();
        assert_eq!(&buf, b"moved");
        assert_eq!(m.find_vma(c).map(|v| v.perms), Some(Perms::RW));
    }

    #[test]
    fn remap_errors_match_linux() {
        let (mut m, _) = mm(1);
        let a = m
            .map_anon(0x40_0000, 2 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        // mremap(2): EINVAL for an unaligned address, a zero or (rounded up)
        // wrapping length, an unaligned or overlapping MREMAP_FIXED target.
        assert_eq!(m.remap(a + 1, PAGE, PAGE, true, None), Err(Errno::EINVAL));
        assert_eq!(m.remap(a, PAGE, 0, true, None), Err(Errno::EINVAL));
        assert_eq!(m.remap(a, u64::MAX, PAGE, true, None), Err(Errno::EINVAL));
        assert_eq!(m.remap(a, PAGE, u64::MAX, true, None), Err(Errno::EINVAL));
        let fixed = |d| Some(d);
        assert_eq!(
            m.remap(a, PAGE, PAGE, true, fixed(0x80_0001)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            m.remap(a, 2 * PAGE, 2 * PAGE, true, fixed(a + PAGE)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            m.remap(a, PAGE, 2 * PAGE, true, fixed(USER_END - PAGE)),
            Err(Errno::EINVAL)
        );
        // EFAULT: the old range is not (wholly) one mapping.
        assert_eq!(
            m.remap(0x80_0000, PAGE, PAGE, true, None),
            Err(Errno::EFAULT)
        );
        assert_eq!(m.remap(a, 3 * PAGE, PAGE, true, None), Err(Errno::EFAULT));
        // A new length larger than the address space: ENOMEM, as Linux's
        // get_unmapped_area, and the mapping is unchanged.
        assert_eq!(m.remap(a, PAGE, 1 << 62, true, None), Err(Errno::ENOMEM));
        assert_eq!(
            m.remap(a, PAGE, u64::MAX - PAGE + 1, true, None),
            Err(Errno::ENOMEM)
        );
        assert_eq!(m.vmas().count(), 1);
        m.check_mapped(a, a + 2 * PAGE).unwrap();
    }

    #[test]
    fn overflowing_ranges_get_linux_errnos() {
        let (mut m, _) = mm(1);
        let a = m
            .map_anon(0x40_0000, PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        // mmap(2): a length that rounds past 2^64 or beyond the address
        // space is ENOMEM; so is a fixed range past its end.
        for len in [u64::MAX, u64::MAX - PAGE, USER_END + PAGE] {
            assert_eq!(
                m.map_anon(0, len, Perms::RW, false, VmaKind::Anon),
                Err(Errno::ENOMEM)
            );
        }
        assert_eq!(
            m.map_anon(USER_END - PAGE, 2 * PAGE, Perms::RW, true, VmaKind::Anon),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            m.map_anon(u64::MAX - PAGE + 1, PAGE, Perms::RW, true, VmaKind::Anon),
            Err(Errno::ENOMEM)
        );
        // A hint that does not fit is ignored.
        let h = m
            .map_anon(u64::MAX - PAGE + 1, PAGE, Perms::RW, false, VmaKind::Anon)
            .unwrap();
        assert!(h + PAGE <= MMAP_TOP);
        // munmap(2): EINVAL for an unaligned start, a zero length, a range
        // that wraps or leaves the address space.
        assert_eq!(m.unmap(a + 1, PAGE), Err(Errno::EINVAL));
        assert_eq!(m.unmap(a, 0), Err(Errno::EINVAL));
        assert_eq!(m.unmap(a, u64::MAX), Err(Errno::EINVAL));
        assert_eq!(m.unmap(u64::MAX - PAGE + 1, PAGE), Err(Errno::EINVAL));
        assert_eq!(m.unmap(USER_END - PAGE, 2 * PAGE), Err(Errno::EINVAL));
        // mprotect(2): EINVAL unaligned, a zero length does nothing, a
        // wrapping one or a hole is ENOMEM.
        assert_eq!(m.protect(a + 1, PAGE, Perms::R), Err(Errno::EINVAL));
        assert_eq!(m.protect(a, 0, Perms::R), Ok(()));
        assert_eq!(m.protect(a, u64::MAX, Perms::R), Err(Errno::ENOMEM));
        assert_eq!(
            m.protect(u64::MAX - PAGE + 1, 2 * PAGE, Perms::R),
            Err(Errno::ENOMEM)
        );
        assert_eq!(m.protect(a, 2 * PAGE, Perms::R), Err(Errno::ENOMEM));
        assert_eq!(m.find_vma(a).map(|v| v.perms), Some(Perms::RW));
        // madvise(MADV_DONTNEED) ranges.
        assert_eq!(m.discard(a + 1, PAGE), Err(Errno::EINVAL));
        assert_eq!(m.discard(a, u64::MAX), Err(Errno::EINVAL));
        assert_eq!(m.discard(u64::MAX - PAGE + 1, 2 * PAGE), Err(Errno::EINVAL));
    }

    #[test]
    fn residency_and_discard() {
        let (mut m, _) = mm(1);
        let a = m
            .map_anon(0x40_0000, 3 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        m.copy_out(a + 2 * PAGE, b"x").unwrap();
        assert_eq!(m.residency(a, 3 * PAGE), Ok(vec![0, 0, 1]));
        // A partial last page counts whole.
        assert_eq!(m.residency(a + PAGE, PAGE + 1), Ok(vec![0, 1]));
        assert_eq!(m.mapped_range(a, 3 * PAGE - 5), Ok(a + 3 * PAGE));
        // mincore(2): EINVAL unaligned; ENOMEM for holes, wrapping or
        // out-of-range lengths (nothing is allocated for them).
        assert_eq!(m.residency(a + 1, PAGE), Err(Errno::EINVAL));
        assert_eq!(m.residency(a, 4 * PAGE), Err(Errno::ENOMEM));
        assert_eq!(m.residency(a, u64::MAX), Err(Errno::ENOMEM));
        assert_eq!(m.mapped_range(a, USER_END), Err(Errno::ENOMEM));
        // MADV_DONTNEED: the page is dropped and reads as zeros again.
        m.discard(a, 3 * PAGE).unwrap();
        assert_eq!(m.resident_pages(), 0);
        let mut b = [1u8; 1];
        m.copy_in(a + 2 * PAGE, &mut b).unwrap();
        assert_eq!(b, [0]);
    }

    #[test]
    fn brk_ignores_out_of_range_breaks() {
        let (mut m, _) = mm(1);
        m.set_brk_start(0x60_0000);
        for bad in [0x5f_ffff, USER_END + 1, u64::MAX - PAGE + 2, u64::MAX] {
            assert_eq!(m.brk(bad), 0x60_0000);
        }
        assert_eq!(m.vmas().count(), 0);
        assert_eq!(m.brk(0x60_0001), 0x60_0001);
        assert_eq!(
            m.find_vma(0x60_0000).map(|v| v.kind.clone()),
            Some(VmaKind::Heap)
        );
        assert_eq!(m.brk(0x60_0000), 0x60_0000);
        assert_eq!(m.vmas().count(), 0);
    }
}
