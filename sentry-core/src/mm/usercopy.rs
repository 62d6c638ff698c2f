//! Copy-in/copy-out: the sentry reads and writes app memory through its own
//! mapping of the memory file, checked against the VMAs (EFAULT for any bad
//! byte); C strings and plain values.

use super::{page_down, MemoryManager, PAGE, USER_END};
use crate::errno::{Errno, SysResult};
use crate::platform::{Access, MemoryFile};

impl MemoryManager {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testutil::mm;
    use crate::mm::VmaKind;
    use crate::platform::Perms;

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
    fn cstrings_cross_pages_and_vmas() {
        let (mut m, _) = mm(1);
        let a = 0x40_0000;
        m.map_anon(a, PAGE, Perms::RW, true, VmaKind::Anon).unwrap();
        m.map_anon(a + PAGE, PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        assert_eq!(m.vmas().count(), 2);
        m.copy_out(a + PAGE - 3, b"abc").unwrap();
        m.write_force(a + PAGE, b"def\0").unwrap();
        assert_eq!(m.read_cstring(a + PAGE - 3, 100).unwrap(), b"abcdef");
        // Exactly `max` bytes fit; one more is ENAMETOOLONG.
        assert_eq!(m.read_cstring(a + PAGE - 3, 6).unwrap(), b"abcdef");
        assert_eq!(m.read_cstring(a + PAGE - 3, 5), Err(Errno::ENAMETOOLONG));
        // Running off the last mapping without a NUL: EFAULT.
        m.write_force(a + PAGE, &[b'x'; PAGE as usize]).unwrap();
        assert_eq!(
            m.read_cstring(a + PAGE - 3, 2 * PAGE as usize),
            Err(Errno::EFAULT)
        );
        // Not readable at all, or in the kernel's half.
        assert_eq!(m.read_cstring(0, 10), Err(Errno::EFAULT));
        assert_eq!(m.read_cstring(u64::MAX - 1, 10), Err(Errno::EFAULT));
    }

    #[test]
    fn access_checks_and_partial_lengths() {
        let (mut m, _) = mm(1);
        let a = 0x40_0000;
        m.map_anon(a, 2 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        m.map_anon(a + 2 * PAGE, PAGE, Perms::R, true, VmaKind::Anon)
            .unwrap();
        let len = 3 * PAGE as usize;
        assert_eq!(m.check_access(a, len, Access::Read), Ok(()));
        assert_eq!(m.check_access(a, len, Access::Write), Err(Errno::EFAULT));
        assert_eq!(m.check_access(a, len + 1, Access::Read), Err(Errno::EFAULT));
        assert_eq!(
            m.check_access(u64::MAX, 2, Access::Read),
            Err(Errno::EFAULT)
        );
        // What fits from the start moves; EFAULT when nothing does.
        assert_eq!(
            m.accessible_len(a, len, Access::Write),
            Ok(2 * PAGE as usize)
        );
        assert_eq!(
            m.accessible_len(a + 10, usize::MAX, Access::Read),
            Ok(len - 10)
        );
        assert_eq!(
            m.accessible_len(a + 2 * PAGE, 1, Access::Write),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            m.accessible_len(u64::MAX, usize::MAX, Access::Read),
            Err(Errno::EFAULT)
        );
        assert_eq!(m.accessible_len(0, 0, Access::Read), Ok(0));
        // Nothing was populated by the checks.
        assert_eq!(m.resident_pages(), 0);
    }

    #[test]
    fn values_and_translation() {
        let (mut m, _) = mm(1);
        let a = 0x40_0000;
        m.map_anon(a, 2 * PAGE, Perms::RW, true, VmaKind::Anon)
            .unwrap();
        // A value straddling two pages.
        m.copy_out(a + PAGE - 4, &0x1122_3344_5566_7788u64.to_le_bytes())
            .unwrap();
        assert_eq!(m.read_u64(a + PAGE - 4), Ok(0x1122_3344_5566_7788));
        assert_eq!(m.read_u64(a + PAGE), Ok(0x1122_3344));
        assert_eq!(m.read_u64(a + 2 * PAGE - 8), Ok(0));
        assert_eq!(m.read_u64(a + 2 * PAGE - 7), Err(Errno::EFAULT));
        // translate populates the page it is asked about.
        let p = m.translate(a + PAGE + 5).unwrap();
        assert_eq!(p % PAGE, 5);
        assert_eq!(m.translate(a + 2 * PAGE), None);
        // write_force ignores the protection, copy_out does not.
        m.protect(a, PAGE, Perms::R).unwrap();
        assert_eq!(m.copy_out(a, b"x"), Err(Errno::EFAULT));
        m.write_force(a, b"x").unwrap();
        let mut b = [0u8; 1];
        m.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"x");
    }
}
