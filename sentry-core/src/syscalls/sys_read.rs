//! read, write and friends.

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::platform::Access;
use crate::vfs::Whence;

use super::Args;

/// Largest single transfer between app memory and a file.
const CHUNK: usize = 1 << 20;

pub(crate) fn read(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    let len = (a[2] as usize).min(CHUNK);
    let len = t.mm().accessible_len(a[1], len, Access::Write)?;
    let mut buf = vec![0u8; len];
    let n = file.read(t, &mut buf)?;
    t.mm().copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

/// Writes `len` bytes of app memory at `addr` in chunks of at most [`CHUNK`] (the staging buffer
/// is bounded whatever the length): a blocking write of any size writes everything, as on Linux.
/// It stops at the first short write (a full non-blocking pipe, a signal, a full disk) or error;
/// an error after some bytes were written gives the count written so far.
fn write_chunked(
    t: &mut Task,
    addr: u64,
    len: usize,
    mut put: impl FnMut(&Task, &[u8], u64) -> SysResult<usize>,
) -> SysResult<u64> {
    let len = len.min(isize::MAX as usize);
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0usize;
    loop {
        let n = (len - done).min(CHUNK);
        let copied = t
            .mm()
            .copy_in(addr.wrapping_add(done as u64), &mut buf[..n]);
        let r = copied.and_then(|()| put(t, &buf[..n], done as u64));
        match r {
            Ok(w) => {
                done += w;
                if w < n || done >= len {
                    return Ok(done as u64);
                }
            }
            Err(_) if done > 0 => return Ok(done as u64),
            Err(e) => return Err(e),
        }
        if crate::kernel::process::must_exit(t) {
            return Ok(done as u64);
        }
    }
}

pub(crate) fn write(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    write_chunked(t, a[1], a[2] as usize, |t, b, _| file.write(t, b))
}

pub(crate) fn pread64(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let len = (a[2] as usize).min(CHUNK);
    let len = t.mm().accessible_len(a[1], len, Access::Write)?;
    let mut buf = vec![0u8; len];
    let n = file.pread(&mut buf, a[3])?;
    t.mm().copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

/// Reads an iovec array as Linux's `import_iovec`: more than 1024 segments or a negative
/// length is EINVAL; a segment that runs past user space is EFAULT; the total is capped at
/// MAX_RW_COUNT by shortening the segment that crosses it (and dropping those after).
fn iovecs(t: &mut Task, addr: u64, cnt: u64) -> SysResult<Vec<(u64, usize)>> {
    /// INT_MAX rounded down to a page, Linux's limit on one transfer.
    const MAX_RW_COUNT: u64 = 0x7fff_f000;
    /// The top of user space (TASK_SIZE_MAX with 4-level paging).
    const TASK_SIZE_MAX: u64 = 0x7fff_ffff_f000;
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    t.mm().copy_in(addr, &mut raw)?;
    let segs: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            let word = |i: usize| {
                u64::from_le_bytes([
                    c[i],
                    c[i + 1],
                    c[i + 2],
                    c[i + 3],
                    c[i + 4],
                    c[i + 5],
                    c[i + 6],
                    c[i + 7],
                ])
            };
            (word(0), word(8))
        })
        .collect();
    if segs.iter().any(|&(_, len)| (len as i64) < 0) {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(segs.len());
    let mut total: u64 = 0;
    for (base, len) in segs {
        if len > TASK_SIZE_MAX || base > TASK_SIZE_MAX - len {
            return Err(Errno::EFAULT);
        }
        let len = len.min(MAX_RW_COUNT - total);
        total += len;
        v.push((base, len as usize));
    }
    Ok(v)
}

pub(crate) fn readv(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if file.socket().is_some() {
        return super::sys_socket::readv_socket(t, &file, a[1], a[2]);
    }
    let iov = iovecs(t, a[1], a[2])?;
    read_vectored(t, &file, iov, None, false)
}

/// Reads into the segments `iov` at `pos` (None: at the file offset, moving it). `nowait`
/// (RWF_NOWAIT): a pipe or socket with nothing to read gives EAGAIN instead of waiting.
fn read_vectored(
    t: &mut Task,
    file: &std::sync::Arc<dyn crate::vfs::FileDescription>,
    iov: Vec<(u64, usize)>,
    pos: Option<u64>,
    nowait: bool,
) -> SysResult<u64> {
    let mut total = 0usize;
    for (base, len) in iov {
        if len == 0 {
            continue;
        }
        let len = t.mm().accessible_len(base, len.min(CHUNK), Access::Write)?;
        let mut buf = vec![0u8; len];
        let r = match pos {
            Some(p) => file.pread(&mut buf, p + total as u64),
            None if nowait => read_nowait(t, file, &mut buf),
            None => file.read(t, &mut buf),
        };
        let n = match r {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        t.mm().copy_out(base, &buf[..n])?;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total as u64)
}

/// A read that does not wait: EAGAIN from a pipe, socket or device with nothing ready.
fn read_nowait(
    t: &mut Task,
    file: &std::sync::Arc<dyn crate::vfs::FileDescription>,
    buf: &mut [u8],
) -> SysResult<usize> {
    if let Some(p) = file.as_any().downcast_ref::<crate::fsimpl::pipe::PipeEnd>() {
        return p.read_with(t, buf, true);
    }
    if !file.always_ready() && file.readiness_for(t) & libc::POLLIN as u32 == 0 {
        return Err(Errno::EAGAIN);
    }
    file.read(t, buf)
}

pub(crate) fn writev(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if file.socket().is_some() {
        return super::sys_socket::writev_socket(t, &file, a[1], a[2]);
    }
    let iov = iovecs(t, a[1], a[2])?;
    write_vectored(t, iov, |t, b, _| file.write(t, b))
}

/// Writes the segments `iov` through `put(task, bytes, written so far)`: up to [`CHUNK`]
/// bytes are gathered into one buffer so a terminal or pipe sees one write; larger vectors go
/// out in CHUNK-sized writes until one is short (as `write_chunked`).
fn write_vectored(
    t: &mut Task,
    iov: Vec<(u64, usize)>,
    mut put: impl FnMut(&Task, &[u8], u64) -> SysResult<usize>,
) -> SysResult<u64> {
    let mut buf = Vec::with_capacity(CHUNK.min(iov.iter().map(|v| v.1).sum()));
    let mut done = 0u64;
    let mut segs = iov.into_iter().filter(|v| v.1 > 0).peekable();
    let mut cur: Option<(u64, usize)> = None;
    loop {
        // Fill the buffer from the segments.
        let mut fault = None;
        while buf.len() < CHUNK {
            let (base, len) = match cur.take().or_else(|| segs.next()) {
                Some(v) => v,
                None => break,
            };
            let n = len.min(CHUNK - buf.len());
            let at = buf.len();
            buf.resize(at + n, 0);
            if let Err(e) = t.mm().copy_in(base, &mut buf[at..]) {
                buf.truncate(at);
                fault = Some(e);
                break;
            }
            if n < len {
                cur = Some((base + n as u64, len - n));
            }
        }
        if buf.is_empty() {
            return match fault {
                Some(e) if done == 0 => Err(e),
                _ => Ok(done),
            };
        }
        let w = match put(t, &buf, done) {
            Ok(w) => w,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        };
        done += w as u64;
        let more = cur.is_some() || segs.peek().is_some();
        if w < buf.len() || fault.is_some() || !more {
            return Ok(done);
        }
        if crate::kernel::process::must_exit(t) {
            return Ok(done);
        }
        buf.clear();
    }
}

/// preadv2/pwritev2 flags (RWF_*): Linux's known set; others are EOPNOTSUPP.
const RWF_HIPRI: u64 = 0x01;
const RWF_DSYNC: u64 = 0x02;
const RWF_SYNC: u64 = 0x04;
const RWF_NOWAIT: u64 = 0x08;
const RWF_APPEND: u64 = 0x10;
const RWF_NOAPPEND: u64 = 0x20;
const RWF_ATOMIC: u64 = 0x40;
const RWF_DONTCACHE: u64 = 0x80;

/// Checks RWF_* `flags` as Linux does once the fd and vector are good: unknown flags, and
/// RWF_ATOMIC and RWF_DONTCACHE (which need direct I/O or a page cache the sandbox's files do
/// not have) are EOPNOTSUPP; RWF_APPEND with RWF_NOAPPEND is EINVAL.
fn check_rwf(flags: u64) -> SysResult<()> {
    let known = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND;
    if flags & !(known | RWF_ATOMIC | RWF_DONTCACHE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & (RWF_ATOMIC | RWF_DONTCACHE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & RWF_APPEND != 0 && flags & RWF_NOAPPEND != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn is_pipe(f: &std::sync::Arc<dyn crate::vfs::FileDescription>) -> bool {
    f.as_any()
        .downcast_ref::<crate::fsimpl::pipe::PipeEnd>()
        .is_some()
}

/// The offset argument of preadv/pwritev (pos_l; on 64-bit Linux pos_h adds nothing).
/// `allow_current`: preadv2/pwritev2, where -1 means the file offset.
fn vec_offset(raw: u64, allow_current: bool) -> SysResult<Option<u64>> {
    let pos = raw as i64;
    if allow_current && pos == -1 {
        return Ok(None);
    }
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(pos as u64))
}

fn preadv_common(t: &mut Task, a: &Args, pos: Option<u64>, flags: u64) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if file.status_flags() & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32 {
        return Err(Errno::EBADF);
    }
    if pos.is_some() && (file.socket().is_some() || is_pipe(&file)) {
        return Err(Errno::ESPIPE);
    }
    let iov = iovecs(t, a[1], a[2])?;
    check_rwf(flags)?;
    if pos.is_none() && file.socket().is_some() && flags & RWF_NOWAIT == 0 {
        return super::sys_socket::readv_socket(t, &file, a[1], a[2]);
    }
    read_vectored(t, &file, iov, pos, flags & RWF_NOWAIT != 0)
}

pub(crate) fn preadv(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pos = vec_offset(a[3], false)?;
    preadv_common(t, a, pos, 0)
}

pub(crate) fn preadv2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pos = vec_offset(a[3], true)?;
    preadv_common(t, a, pos, a[5])
}

fn pwritev_common(t: &mut Task, a: &Args, pos: Option<u64>, flags: u64) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if file.status_flags() & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32 {
        return Err(Errno::EBADF);
    }
    if pos.is_some() && (file.socket().is_some() || is_pipe(&file)) {
        return Err(Errno::ESPIPE);
    }
    let iov = iovecs(t, a[1], a[2])?;
    check_rwf(flags)?;
    if flags & RWF_NOWAIT != 0
        && !file.always_ready()
        && file.readiness_for(t) & libc::POLLOUT as u32 == 0
    {
        return Err(Errno::EAGAIN);
    }
    if pos.is_none() && file.socket().is_some() {
        return super::sys_socket::writev_socket(t, &file, a[1], a[2]);
    }
    let append = if flags & RWF_APPEND != 0 {
        Some(true)
    } else if flags & RWF_NOAPPEND != 0 {
        Some(false)
    } else {
        None
    };
    match (pos, append) {
        (Some(p), None) => write_vectored(t, iov, |_, b, done| file.pwrite(b, p + done)),
        (None, None) => write_vectored(t, iov, |t, b, _| file.write(t, b)),
        (Some(p), Some(app)) => write_vectored(t, iov, |_, b, done| {
            file.pwrite_rwf(b, p + done, app).map(|(_, n)| n)
        }),
        (None, Some(app)) => write_vectored(t, iov, |_, b, _| {
            // At the file offset (or the end), moving the offset past what was written.
            let at = file.seek(0, Whence::Cur)?;
            let (start, n) = file.pwrite_rwf(b, at, app)?;
            file.seek((start + n as u64) as i64, Whence::Set)?;
            Ok(n)
        }),
    }
}

pub(crate) fn pwritev(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pos = vec_offset(a[3], false)?;
    pwritev_common(t, a, pos, 0)
}

pub(crate) fn pwritev2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let pos = vec_offset(a[3], true)?;
    pwritev_common(t, a, pos, a[5])
}

pub(crate) fn lseek(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    let whence = match a[2] {
        0 => Whence::Set,
        1 => Whence::Cur,
        2 => Whence::End,
        3 | 4 => return file.seek_data(a[1] as i64, a[2] == 4),
        _ => return Err(Errno::EINVAL),
    };
    file.seek(a[1] as i64, whence)
}

pub(crate) fn sendfile(t: &mut Task, a: &Args) -> SysResult<u64> {
    let out = t.fds().file(a[0] as i64)?;
    let inp = t.fds().file(a[1] as i64)?;
    let mut offset = if a[2] != 0 {
        let o = t.mm().read_u64(a[2])? as i64;
        if o < 0 {
            return Err(Errno::EINVAL);
        }
        Some(o as u64)
    } else {
        None
    };
    let mut count = (a[3] as usize).min(1 << 30);
    if let Some(p) = out.as_any().downcast_ref::<crate::fsimpl::pipe::PipeEnd>() {
        // Into a pipe, as splice: at most what fits (waiting only while it
        // is full), so data read is never held while the pipe stays full.
        if count > 0 {
            count = count.min(p.wait_room(t, o_nonblock(&out))?);
        }
    }
    let mut done = 0usize;
    let mut buf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match offset {
            Some(o) => inp.pread(&mut buf[..want], o + done as u64),
            None => inp.read(t, &mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match out.write(t, &buf[..n]) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += w;
        if w < n {
            break;
        }
    }
    if let Some(o) = offset.as_mut() {
        *o += done as u64;
        t.mm().copy_out(a[2], &o.to_le_bytes())?;
    }
    Ok(done as u64)
}

pub(crate) fn pwrite64(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let off = a[3];
    write_chunked(t, a[1], a[2] as usize, |_, b, done| {
        file.pwrite(b, off + done)
    })
}

pub(crate) fn copy_file_range(t: &mut Task, a: &Args) -> SysResult<u64> {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let inp = t.fds().file(a[0] as i64)?;
    let out = t.fds().file(a[2] as i64)?;
    let read_off = |t: &mut Task, p: u64| -> SysResult<Option<u64>> {
        if p == 0 {
            return Ok(None);
        }
        let v = t.mm().read_u64(p)? as i64;
        if v < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Some(v as u64))
    };
    let mut off_in = read_off(t, a[1])?;
    let mut off_out = read_off(t, a[3])?;
    let count = (a[4] as usize).min(1 << 30);
    let mut buf = vec![0u8; count.min(CHUNK)];
    let mut done = 0usize;
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match off_in {
            Some(o) => inp.pread(&mut buf[..want], o)?,
            None => inp.read(t, &mut buf[..want])?,
        };
        if n == 0 {
            break;
        }
        let w = match off_out {
            Some(o) => out.pwrite(&buf[..n], o)?,
            None => out.write(t, &buf[..n])?,
        };
        done += w;
        if let Some(o) = off_in.as_mut() {
            *o += w as u64;
        }
        if let Some(o) = off_out.as_mut() {
            *o += w as u64;
        }
        if w < n {
            break;
        }
    }
    if let Some(o) = off_in {
        t.mm().copy_out(a[1], &o.to_le_bytes())?;
    }
    if let Some(o) = off_out {
        t.mm().copy_out(a[3], &o.to_le_bytes())?;
    }
    Ok(done as u64)
}

fn read_off(t: &mut Task, p: u64) -> SysResult<Option<u64>> {
    if p == 0 {
        return Ok(None);
    }
    let v = t.mm().read_u64(p)? as i64;
    if v < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(v as u64))
}

/// vmsplice: copies user memory into a pipe's write end, or out of its read
/// end (pages are never gifted). As Linux, it waits once (for room, or for
/// data) unless SPLICE_F_NONBLOCK or O_NONBLOCK (then EAGAIN), and then moves
/// what fits or what is there: it never blocks with data in hand.
pub(crate) fn vmsplice(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fsimpl::pipe::PipeEnd;
    if a[3] & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fds().file(a[0] as i64)?;
    let Some(pipe) = file.as_any().downcast_ref::<PipeEnd>() else {
        return Err(Errno::EBADF);
    };
    let iov = iovecs(t, a[1], a[2])?;
    let total: usize = iov.iter().map(|v| v.1).sum();
    if total == 0 {
        return Ok(0);
    }
    let nonblock = a[3] & SPLICE_F_NONBLOCK != 0 || o_nonblock(&file);
    if pipe.is_write_end() {
        let want = total.min(pipe.wait_room(t, nonblock)?).min(CHUNK);
        let mut buf = vec![0u8; want];
        let mut at = 0;
        for (base, len) in iov {
            if at == want {
                break;
            }
            let n = len.min(want - at);
            t.mm().copy_in(base, &mut buf[at..at + n])?;
            at += n;
        }
        return Ok(file.write(t, &buf)? as u64);
    }
    if pipe.wait_data(t, nonblock)? == 0 {
        return Ok(0);
    }
    let mut done = 0usize;
    for (base, len) in iov.into_iter().filter(|v| v.1 > 0) {
        let len = len.min(CHUNK);
        t.mm().check_access(base, len, Access::Write)?;
        let mut buf = vec![0u8; len];
        let n = match pipe.read_with(t, &mut buf, true) {
            Ok(n) => n,
            Err(_) => break,
        };
        t.mm().copy_out(base, &buf[..n])?;
        done += n;
        if n < len {
            break;
        }
    }
    Ok(done as u64)
}

/// SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT.
const SPLICE_F_ALL: u64 = 0xf;
const SPLICE_F_NONBLOCK: u64 = 2;

fn o_nonblock(f: &std::sync::Arc<dyn crate::vfs::FileDescription>) -> bool {
    f.status_flags() & libc::O_NONBLOCK as u32 != 0
}

/// tee(2): copies bytes queued in one pipe to another without consuming them.
/// As Linux: waits for data in the source, then for room in the target, and
/// copies at most what fits (never blocks with data in hand); SPLICE_F_NONBLOCK
/// or O_NONBLOCK on either end gives EAGAIN instead of waiting.
pub(crate) fn tee(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fsimpl::pipe::PipeEnd;
    if a[3] & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let inp = t.fds().file(a[0] as i64)?;
    let out = t.fds().file(a[1] as i64)?;
    let (Some(src), Some(dst)) = (
        inp.as_any().downcast_ref::<PipeEnd>(),
        out.as_any().downcast_ref::<PipeEnd>(),
    ) else {
        return Err(Errno::EINVAL);
    };
    if src.is_write_end() || !dst.is_write_end() {
        return Err(Errno::EBADF);
    }
    if src.same_pipe(dst) {
        return Err(Errno::EINVAL);
    }
    if a[2] == 0 {
        return Ok(0);
    }
    let nonblock = a[3] & SPLICE_F_NONBLOCK != 0 || o_nonblock(&inp) || o_nonblock(&out);
    if src.wait_data(t, nonblock)? == 0 {
        return Ok(0);
    }
    let room = dst.wait_room(t, nonblock)?;
    let mut buf = vec![0u8; (a[2] as usize).min(CHUNK).min(room)];
    let n = src.peek(t, &mut buf, true)?;
    if n == 0 {
        return Ok(0);
    }
    Ok(out.write(t, &buf[..n])? as u64)
}

/// splice(2): moves data between two fds, at least one a pipe, as a copy
/// through the sentry. As Linux, it never holds data it cannot place: into a
/// pipe it moves at most the pipe's free room (a partial transfer when the
/// pipe fills), waiting only while the pipe is full; out of a pipe it waits
/// only while the pipe is empty with a writer. SPLICE_F_NONBLOCK (or
/// O_NONBLOCK on a pipe end) gives EAGAIN instead.
pub(crate) fn splice(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fsimpl::pipe::PipeEnd;
    if a[5] & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let inp = t.fds().file(a[0] as i64)?;
    let out = t.fds().file(a[2] as i64)?;
    let src = inp.as_any().downcast_ref::<PipeEnd>();
    let dst = out.as_any().downcast_ref::<PipeEnd>();
    if src.is_none() && dst.is_none() {
        return Err(Errno::EINVAL);
    }
    if (src.is_some() && a[1] != 0) || (dst.is_some() && a[3] != 0) {
        return Err(Errno::ESPIPE);
    }
    if let (Some(s), Some(d)) = (src, dst) {
        if s.same_pipe(d) {
            return Err(Errno::EINVAL);
        }
    }
    let mut off_in = read_off(t, a[1])?;
    let mut off_out = read_off(t, a[3])?;
    if a[4] == 0 {
        return Ok(0);
    }
    let nonblock = a[5] & SPLICE_F_NONBLOCK != 0
        || (src.is_some() && o_nonblock(&inp))
        || (dst.is_some() && o_nonblock(&out));
    let mut len = (a[4] as usize).min(CHUNK);
    if let Some(s) = src {
        // Data first (as Linux): end of file or EAGAIN before looking at the target.
        if s.wait_data(t, nonblock)? == 0 {
            return Ok(0);
        }
    }
    if let Some(d) = dst {
        len = len.min(d.wait_room(t, nonblock)?);
    }
    let mut buf = vec![0u8; len];
    let n = match (src, off_in) {
        (Some(s), _) => s.read_with(t, &mut buf, nonblock)?,
        (None, Some(o)) => inp.pread(&mut buf, o)?,
        (None, None) => inp.read(t, &mut buf)?,
    };
    if n == 0 {
        return Ok(0);
    }
    let w = match off_out {
        Some(o) => out.pwrite(&buf[..n], o)?,
        None => out.write(t, &buf[..n])?,
    };
    if let Some(o) = off_in.as_mut() {
        *o += w as u64;
        t.mm().copy_out(a[1], &o.to_le_bytes())?;
    }
    if let Some(o) = off_out.as_mut() {
        *o += w as u64;
        t.mm().copy_out(a[3], &o.to_le_bytes())?;
    }
    Ok(w as u64)
}
