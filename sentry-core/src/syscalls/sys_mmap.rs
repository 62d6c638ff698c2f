//! brk and the mmap family.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::mm::{FileMap, VmaKind, PAGE};
use crate::platform::Perms;
use crate::vfs::Fs;

use super::Args;

fn prot(p: u64) -> SysResult<Perms> {
    if p & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Perms {
        read: p & 1 != 0,
        write: p & 2 != 0,
        exec: p & 4 != 0,
    })
}

/// `len` rounded up to pages as Linux does it: wrapping, so that a length
/// within a page of 2^64 becomes 0.
fn page_len(len: u64) -> u64 {
    len.wrapping_add(PAGE - 1) & !(PAGE - 1)
}

pub(crate) fn brk(t: &mut Task, a: &Args) -> SysResult<u64> {
    Ok(t.mm().brk(a[0]))
}

pub(crate) fn mmap(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (addr, len, flags, fd, off) = (a[0], a[1], a[3] as i32, a[4] as i64, a[5]);
    let perms = prot(a[2])?;
    let kind = flags & libc::MAP_TYPE;
    if !matches!(
        kind,
        libc::MAP_SHARED | libc::MAP_PRIVATE | libc::MAP_SHARED_VALIDATE
    ) {
        return Err(Errno::EINVAL);
    }
    if len == 0 || !off.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0;
    if flags & libc::MAP_FIXED_NOREPLACE != 0 && flags & libc::MAP_FIXED == 0 {
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if t.mm().vmas().any(|v| v.start < end && addr < v.end) {
            return Err(Errno::EEXIST);
        }
    }
    if flags & libc::MAP_ANONYMOUS != 0 {
        let k = if kind == libc::MAP_PRIVATE {
            VmaKind::Anon
        } else {
            VmaKind::SharedAnon
        };
        return t.mm().map_anon(addr, len, perms, fixed, k);
    }
    let file = t.fds().file(fd)?;
    // The open mode bounds the mapping for its whole life (VM_MAYREAD /
    // VM_MAYWRITE): no mapping of a write-only file; a shared mapping of a
    // file not open for writing can never become writable, or its stores
    // would reach a file (and the page cache every process shares) that
    // this program may not write.
    let fl = file.status_flags() as i32 & libc::O_ACCMODE;
    if fl == libc::O_WRONLY {
        return Err(Errno::EACCES);
    }
    let may_write = kind == libc::MAP_PRIVATE || fl == libc::O_RDWR;
    if perms.write && !may_write {
        return Err(Errno::EACCES);
    }
    if file
        .as_any()
        .is::<crate::fsimpl::synthetic::SyntheticFile>()
    {
        // procfs and sysfs files have no mmap (Linux: ENODEV).
        return Err(Errno::ENODEV);
    }
    let st = file.stat()?;
    if st.mode & crate::vfs::S_IFMT == libc::S_IFCHR && st.rdev == 0x105 {
        // /dev/zero: anonymous memory (shared among forks when MAP_SHARED).
        let k = if kind == libc::MAP_PRIVATE {
            VmaKind::Anon
        } else {
            VmaKind::SharedAnon
        };
        return t.mm().map(addr, len, perms, fixed, k, may_write);
    }
    if st.mode & crate::vfs::S_IFMT != crate::vfs::S_IFREG {
        return Err(Errno::ENODEV);
    }
    let shared = kind != libc::MAP_PRIVATE;
    let mem = t.mm().memory().clone();
    if let Some(cache) = file.page_cache(&mem)? {
        if shared && perms.write && cache.is_host() {
            // Host page caches are never written back (see mm/pagecache.rs).
            return Err(Errno::ENODEV);
        }
        // Nor may a shared mapping of one become writable later.
        let mut may_write = may_write && !(shared && cache.is_host());
        // A memfd's seals (a shared mapping of a file sealed against
        // writes is read-only for good; the others are counted).
        let mut writers = None;
        if shared {
            if let Some(tf) = file
                .as_any()
                .downcast_ref::<crate::fsimpl::tmpfs::TmpFile>()
            {
                (may_write, writers) = tf.map_shared(perms.write, may_write)?;
            }
        }
        // Mapped through the page cache: nothing is copied now; faults map
        // the file's pages (copy-on-write for a private mapping).
        let vk = VmaKind::File(FileMap {
            cache,
            offset: off,
            shared,
            name: file.path().unwrap_or_default(),
            shm: None,
            writers,
        });
        return t.mm().map(addr, len, perms, fixed, vk, may_write);
    }
    // No page cache (files of synthetic file systems): the mapping is a copy
    // of the contents, shared with forked children when MAP_SHARED.
    let vk = if shared {
        VmaKind::SharedAnon
    } else {
        VmaKind::Anon
    };
    let start = t.mm().map(addr, len, perms, fixed, vk, may_write)?;
    // Copy the file's contents in (a private snapshot).
    let size = st.size.max(0) as u64;
    let avail = size.saturating_sub(off).min(len) as usize;
    let mut buf = vec![0u8; avail.min(1 << 20)];
    let mut done = 0usize;
    while done < avail {
        let want = (avail - done).min(buf.len());
        let n = file.pread(&mut buf[..want], off + done as u64)?;
        if n == 0 {
            break;
        }
        t.mm().write_force(start + done as u64, &buf[..n])?;
        done += n;
    }
    // Not mapped eagerly: ld.so reserves a whole library with one mmap and
    // then replaces it segment by segment with MAP_FIXED, and replacing a
    // present entry costs an emulated guest store (~10 µs) per page here.
    Ok(start)
}

pub(crate) fn munmap(t: &mut Task, a: &Args) -> SysResult<u64> {
    t.mm().unmap(a[0], a[1])?;
    Ok(0)
}

pub(crate) fn mprotect(t: &mut Task, a: &Args) -> SysResult<u64> {
    let perms = prot(a[2] & 7)?;
    if a[2] & !(7 | libc::PROT_GROWSDOWN as u64 | libc::PROT_GROWSUP as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    t.mm().protect(a[0], a[1], perms)?;
    Ok(0)
}

pub(crate) fn madvise(t: &mut Task, a: &Args) -> SysResult<u64> {
    // Linux's order: the advice, the alignment, the length, then the range.
    // MADV_HWPOISON and MADV_SOFT_OFFLINE (100, 101) need hardware memory
    // failure support, which the sandbox has not: EINVAL as on such kernels.
    let advice = a[2] as i64;
    if !matches!(advice, 0..=4 | 8..=25) {
        return Err(Errno::EINVAL);
    }
    let (start, len) = (a[0], page_len(a[1]));
    if !start.is_multiple_of(PAGE) || (a[1] != 0 && len == 0) {
        return Err(Errno::EINVAL);
    }
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end == start {
        return Ok(0);
    }
    // Nothing is mapped at or above the end of the user range (where the
    // sentry's own stub lives): ENOMEM, as for any hole.
    if end > crate::mm::USER_END {
        return Err(Errno::ENOMEM);
    }
    let holes = t.mm().check_mapped(start, end).is_err();
    if advice == libc::MADV_DONTNEED as i64 {
        t.mm().discard(start, len)?;
    }
    if holes {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

pub(crate) fn mremap(t: &mut Task, a: &Args) -> SysResult<u64> {
    const MREMAP_MAYMOVE: u64 = 1;
    const MREMAP_FIXED: u64 = 2;
    const MREMAP_DONTUNMAP: u64 = 4;
    let flags = a[3];
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || flags & MREMAP_DONTUNMAP != 0
        || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
    {
        return Err(Errno::EINVAL);
    }
    let fixed = (flags & MREMAP_FIXED != 0).then_some(a[4]);
    t.mm()
        .remap(a[0], a[1], a[2], flags & MREMAP_MAYMOVE != 0, fixed)
}

pub(crate) fn msync(t: &mut Task, a: &Args) -> SysResult<u64> {
    if !a[0].is_multiple_of(PAGE) || a[2] & !7 != 0 || a[2] & 5 == 5 {
        return Err(Errno::EINVAL);
    }
    let end = a[0].checked_add(page_len(a[1])).ok_or(Errno::ENOMEM)?;
    if end == a[0] {
        return Ok(0);
    }
    // Shared mappings map the page cache itself, which is the data of a
    // tmpfs file (and host files are never written): nothing to write back.
    // The range is only checked (nothing is allocated for it).
    t.mm()
        .mapped_range(a[0], end - a[0])
        .map_err(|_| Errno::ENOMEM)?;
    Ok(0)
}

pub(crate) fn mincore(t: &mut Task, a: &Args) -> SysResult<u64> {
    if !a[0].is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = a[0]
        .checked_add(a[1])
        .filter(|&e| e <= crate::mm::USER_END)
        .ok_or(Errno::ENOMEM)?;
    // A bounded chunk at a time, as Linux does: the vector is written as
    // the range is walked, whatever its length.
    const CHUNK: u64 = 4096 * PAGE;
    let mut at = a[0];
    let mut out = a[2];
    while at < end {
        let n = (end - at).min(CHUNK);
        let v = t.mm().residency(at, n)?;
        t.mm().copy_out(out, &v)?;
        out += v.len() as u64;
        at += n;
    }
    Ok(0)
}

/// The range of mlock/munlock/mlock2: whole pages around `[addr, addr+len)`,
/// which must all be mapped. Memory is never swapped, so once the range is
/// valid there is nothing else to do.
fn lock_range(t: &mut Task, addr: u64, len: u64) -> SysResult<u64> {
    let start = addr & !(PAGE - 1);
    let len = page_len(len.wrapping_add(addr - start));
    if len == 0 {
        return Ok(0);
    }
    t.mm().mapped_range(start, len).map_err(|_| Errno::ENOMEM)?;
    Ok(0)
}

pub(crate) fn mlock(t: &mut Task, a: &Args) -> SysResult<u64> {
    lock_range(t, a[0], a[1])
}

pub(crate) fn mlock2(t: &mut Task, a: &Args) -> SysResult<u64> {
    const MLOCK_ONFAULT: u64 = 1;
    if a[2] & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    lock_range(t, a[0], a[1])
}

pub(crate) fn mlockall(_t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[0] == 0 || a[0] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub(crate) fn munlockall(_t: &mut Task, _a: &Args) -> SysResult<u64> {
    Ok(0)
}

pub(crate) fn memfd_create(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fsimpl::tmpfs::{F_SEAL_EXEC, F_SEAL_SEAL};
    const MFD_CLOEXEC: u64 = 1;
    const MFD_ALLOW_SEALING: u64 = 2;
    const MFD_NOEXEC_SEAL: u64 = 8;
    const MFD_EXEC: u64 = 0x10;
    // MFD_HUGETLB (4) is refused: the sandbox has no huge page pool, as a
    // kernel without hugetlbfs answers.
    if a[1] & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if a[1] & MFD_EXEC != 0 && a[1] & MFD_NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux: at most 249 bytes (NAME_MAX less "memfd:"), else EINVAL.
    let name = t.mm().read_cstring(a[0], 249).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    // vm.memfd_noexec is 0: without either flag the file is executable (as
    // MFD_EXEC). MFD_NOEXEC_SEAL: mode 0666 sealed with F_SEAL_EXEC, and
    // sealable; otherwise F_SEAL_SEAL unless MFD_ALLOW_SEALING.
    let (mode, seals) = if a[1] & MFD_NOEXEC_SEAL != 0 {
        (0o666, F_SEAL_EXEC)
    } else if a[1] & MFD_ALLOW_SEALING != 0 {
        (0o777, 0)
    } else {
        (0o777, F_SEAL_SEAL)
    };
    let fs = crate::fsimpl::tmpfs::TmpFs::memfd(0x2c, seals);
    let f = fs
        .clone()
        .open(t, "memfd", (libc::O_CREAT | libc::O_RDWR) as u32, mode)?;
    f.set_path(&format!("/memfd:{}", String::from_utf8_lossy(&name)));
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: a[1] & MFD_CLOEXEC != 0,
        },
        0,
    )?;
    Ok(fd as u64)
}
