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

fn iovecs(t: &mut Task, addr: u64, cnt: u64) -> SysResult<Vec<(u64, usize)>> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    t.mm().copy_in(addr, &mut raw)?;
    let mut v = Vec::with_capacity(cnt as usize);
    let mut total: u64 = 0;
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_le_bytes(c[8..].try_into().map_err(|_| Errno::EFAULT)?);
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        if total > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
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
    let mut total = 0usize;
    for (base, len) in iov {
        if len == 0 {
            continue;
        }
        let len = t.mm().accessible_len(base, len.min(CHUNK), Access::Write)?;
        let mut buf = vec![0u8; len];
        let n = match file.read(t, &mut buf) {
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

pub(crate) fn writev(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if file.socket().is_some() {
        return super::sys_socket::writev_socket(t, &file, a[1], a[2]);
    }
    let iov = iovecs(t, a[1], a[2])?;
    // Gather up to CHUNK bytes into one buffer so a terminal or pipe sees one write; larger
    // vectors go out in CHUNK-sized writes until one is short (as `write_chunked`).
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
        let w = match file.write(t, &buf) {
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
