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
}
