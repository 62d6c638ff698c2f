//! The writable files of /proc/[pid]: `mem` (another process's memory
//! through its memory manager) and `oom_score_adj` / `oom_adj`.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use crate::errno::{Errno, SysResult};
use crate::fsimpl::synthetic::SyntheticFile;
use crate::kernel::ThreadGroup;
use crate::mm::MemoryManager;
use crate::platform::Access;
use crate::vfs::{FileDescription, Stat, TaskContext, Whence};

/// Largest piece moved under the memory manager's lock at once.
const CHUNK: usize = 64 * 1024;

/// An open /proc/[pid]/mem: the file offset is the address.
pub struct ProcMem {
    mm: Weak<Mutex<MemoryManager>>,
    flags: u32,
    stat: Stat,
    pos: Mutex<u64>,
}

impl ProcMem {
    /// `mem` of the process owning `mm`, opened with `flags`.
    pub fn new(mm: Weak<Mutex<MemoryManager>>, flags: u32, stat: Stat) -> Arc<Self> {
        Arc::new(ProcMem {
            mm,
            flags,
            stat,
            pos: Mutex::new(0),
        })
    }

    fn pos(&self) -> std::sync::MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves bytes between `buf` and the address space from `addr`; as
    /// Linux, EIO when nothing at `addr` can be accessed, else the count
    /// moved before the first inaccessible byte. (A process that has exited
    /// reads as end of file.)
    fn access(
        &self,
        addr: u64,
        len: usize,
        mut f: impl FnMut(&mut MemoryManager, u64, usize, usize) -> SysResult<()>,
        access: Access,
        write: bool,
    ) -> SysResult<usize> {
        let Some(mm) = self.mm.upgrade() else {
            return Ok(0);
        };
        let mut done = 0usize;
        while done < len {
            let n = (len - done).min(CHUNK);
            let a = addr.checked_add(done as u64).ok_or(Errno::EIO)?;
            let mut m = mm.lock().unwrap_or_else(|p| p.into_inner());
            let mut ok = m.accessible_len(a, n, access).unwrap_or(0);
            if write {
                ok = ok.min(forceable_len(&m, a, ok));
            }
            if ok == 0 || f(&mut m, a, done, ok).is_err() {
                break;
            }
            done += ok;
            if ok < n {
                break;
            }
        }
        if done == 0 && len > 0 {
            return Err(Errno::EIO);
        }
        Ok(done)
    }
}

/// How much of `len` bytes at `addr` a forced write may change: private
/// mappings (copied on write) and writable shared ones; a read-only shared
/// mapping (a file opened read-only) is never written through.
fn forceable_len(m: &MemoryManager, addr: u64, len: usize) -> usize {
    let end = addr.saturating_add(len as u64);
    let mut at = addr;
    while at < end {
        match m.find_vma(at) {
            Some(v) if !v.is_shared() || v.perms.write => at = v.end.min(end),
            _ => break,
        }
    }
    (at - addr) as usize
}

impl FileDescription for ProcMem {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        let mut p = self.pos();
        let n = self.pread(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        let mut p = self.pos();
        let n = self.pwrite(buf, *p)?;
        *p += n as u64;
        Ok(n)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        if self.flags as i32 & libc::O_ACCMODE == libc::O_WRONLY {
            return Err(Errno::EBADF);
        }
        let len = buf.len();
        self.access(
            off,
            len,
            |m, a, at, n| m.copy_in(a, &mut buf[at..at + n]),
            Access::Read,
            false,
        )
    }
    fn pwrite(&self, buf: &[u8], off: u64) -> SysResult<usize> {
        if self.flags as i32 & libc::O_ACCMODE == libc::O_RDONLY {
            return Err(Errno::EBADF);
        }
        // Writes through mem are forced (FOLL_FORCE): read-only text can be
        // patched, as debuggers do; unmapped memory cannot.
        self.access(
            off,
            buf.len(),
            |m, a, at, n| m.write_force(a, &buf[at..at + n]),
            Access::Read,
            true,
        )
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        // Addresses are unsigned offsets (FMODE_UNSIGNED_OFFSET).
        let mut p = self.pos();
        *p = match whence {
            Whence::Set => offset as u64,
            Whence::Cur => p.wrapping_add(offset as u64),
            Whence::End => return Err(Errno::EINVAL),
        };
        Ok(*p)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn status_flags(&self) -> u32 {
        self.flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC) as u32
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open /proc/[pid]/oom_score_adj (or the legacy oom_adj): reads are a
/// snapshot taken at open, writes set the process's value.
pub struct OomAdj {
    snapshot: Arc<SyntheticFile>,
    tg: Arc<ThreadGroup>,
    legacy: bool,
    /// The opener holds CAP_SYS_RESOURCE (may lower the value).
    can_lower: bool,
    flags: u32,
}

/// OOM_SCORE_ADJ_MIN / MAX and the legacy oom_adj bounds.
pub const OOM_SCORE_ADJ_MIN: i32 = -1000;
/// Largest oom_score_adj.
pub const OOM_SCORE_ADJ_MAX: i32 = 1000;
const OOM_DISABLE: i32 = -17;
const OOM_ADJUST_MAX: i32 = 15;

/// oom_adj as Linux shows it for an oom_score_adj.
pub fn legacy_of(adj: i32) -> i32 {
    if adj == OOM_SCORE_ADJ_MAX {
        OOM_ADJUST_MAX
    } else {
        adj * -OOM_DISABLE / OOM_SCORE_ADJ_MAX
    }
}

/// Parses what was written (at most 12 bytes are looked at, as Linux's
/// PROC_NUMBUF buffer): an integer with surrounding white space.
pub fn parse_adj(buf: &[u8], legacy: bool) -> SysResult<i32> {
    let b = &buf[..buf.len().min(12)];
    let s = std::str::from_utf8(b).map_err(|_| Errno::EINVAL)?.trim();
    let v: i32 = s.parse().map_err(|_| Errno::EINVAL)?;
    if legacy {
        if !(OOM_DISABLE..=OOM_ADJUST_MAX).contains(&v) {
            return Err(Errno::EINVAL);
        }
        Ok(if v == OOM_ADJUST_MAX {
            OOM_SCORE_ADJ_MAX
        } else {
            v * OOM_SCORE_ADJ_MAX / -OOM_DISABLE
        })
    } else if (OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX).contains(&v) {
        Ok(v)
    } else {
        Err(Errno::EINVAL)
    }
}

impl OomAdj {
    /// The file of `tg`; `snapshot` holds what reads return.
    pub fn new(
        snapshot: Arc<SyntheticFile>,
        tg: Arc<ThreadGroup>,
        legacy: bool,
        can_lower: bool,
        flags: u32,
    ) -> Arc<Self> {
        Arc::new(OomAdj {
            snapshot,
            tg,
            legacy,
            can_lower,
            flags,
        })
    }
}

impl FileDescription for OomAdj {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if self.flags as i32 & libc::O_ACCMODE == libc::O_WRONLY {
            return Err(Errno::EBADF);
        }
        self.snapshot.read(ctx, buf)
    }
    fn write(&self, _ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.pwrite(buf, 0)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        self.snapshot.pread(buf, off)
    }
    fn pwrite(&self, buf: &[u8], _off: u64) -> SysResult<usize> {
        if self.flags as i32 & libc::O_ACCMODE == libc::O_RDONLY {
            return Err(Errno::EBADF);
        }
        let v = parse_adj(buf, self.legacy)?;
        let mut st = self.tg.lock();
        if st.zombie.is_some() {
            return Err(Errno::ESRCH);
        }
        // Without CAP_SYS_RESOURCE, oom_adj may only rise and oom_score_adj
        // not go below the lowest value a privileged writer set (0 at first).
        let floor = if self.legacy {
            st.oom_score_adj
        } else {
            st.oom_score_adj_min
        };
        if v < floor && !self.can_lower {
            return Err(Errno::EACCES);
        }
        st.oom_score_adj = v;
        if !self.legacy && self.can_lower {
            st.oom_score_adj_min = v;
        }
        Ok(buf.len())
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        self.snapshot.seek(offset, whence)
    }
    fn stat(&self) -> SysResult<Stat> {
        self.snapshot.stat()
    }
    fn status_flags(&self) -> u32 {
        self.flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC) as u32
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A read-only /proc file opened for writing by a caller that overrides
/// file permissions: opening works, writing is EINVAL (no write method).
pub struct NoWrite {
    snapshot: Arc<SyntheticFile>,
    flags: u32,
}

impl NoWrite {
    /// Wraps `snapshot` opened with `flags`.
    pub fn new(snapshot: Arc<SyntheticFile>, flags: u32) -> Arc<Self> {
        Arc::new(NoWrite { snapshot, flags })
    }
}

impl FileDescription for NoWrite {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        if self.flags as i32 & libc::O_ACCMODE == libc::O_WRONLY {
            return Err(Errno::EBADF);
        }
        self.snapshot.read(ctx, buf)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        self.snapshot.pread(buf, off)
    }
    fn pwrite(&self, _buf: &[u8], _off: u64) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn seek(&self, offset: i64, whence: Whence) -> SysResult<u64> {
        self.snapshot.seek(offset, whence)
    }
    fn stat(&self) -> SysResult<Stat> {
        self.snapshot.stat()
    }
    fn status_flags(&self) -> u32 {
        self.flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC) as u32
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adj_parsing_and_bounds() {
        assert_eq!(parse_adj(b"500\n", false), Ok(500));
        assert_eq!(parse_adj(b"  -1000 ", false), Ok(-1000));
        assert_eq!(parse_adj(b"1001", false), Err(Errno::EINVAL));
        assert_eq!(parse_adj(b"-1001", false), Err(Errno::EINVAL));
        assert_eq!(parse_adj(b"abc", false), Err(Errno::EINVAL));
        assert_eq!(parse_adj(b"", false), Err(Errno::EINVAL));
        assert_eq!(parse_adj(b"15", true), Ok(1000));
        assert_eq!(parse_adj(b"-17", true), Ok(-1000));
        assert_eq!(parse_adj(b"16", true), Err(Errno::EINVAL));
        assert_eq!(legacy_of(1000), 15);
        assert_eq!(legacy_of(-1000), -17);
        assert_eq!(legacy_of(500), 8);
    }
}
