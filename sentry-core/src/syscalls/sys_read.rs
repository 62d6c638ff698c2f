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
    t.mm().check_access(a[1], len, Access::Write)?;
    let mut buf = vec![0u8; len];
    let n = file.read(&mut buf)?;
    t.mm().copy_out(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub(crate) fn write(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    let len = (a[2] as usize).min(CHUNK);
    let mut buf = vec![0u8; len];
    t.mm().copy_in(a[1], &mut buf)?;
    Ok(file.write(&buf)? as u64)
}

pub(crate) fn pread64(t: &mut Task, a: &Args) -> SysResult<u64> {
    let file = t.fds().file(a[0] as i64)?;
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let len = (a[2] as usize).min(CHUNK);
    t.mm().check_access(a[1], len, Access::Write)?;
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
    let iov = iovecs(t, a[1], a[2])?;
    let mut total = 0usize;
    for (base, len) in iov {
        if len == 0 {
            continue;
        }
        let len = len.min(CHUNK);
        t.mm().check_access(base, len, Access::Write)?;
        let mut buf = vec![0u8; len];
        let n = match file.read(&mut buf) {
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
    let iov = iovecs(t, a[1], a[2])?;
    // Gather into one buffer so a terminal or pipe sees one write.
    let mut buf = Vec::new();
    for (base, len) in iov {
        let len = len.min(CHUNK.saturating_sub(buf.len()));
        let at = buf.len();
        buf.resize(at + len, 0);
        t.mm().copy_in(base, &mut buf[at..])?;
    }
    Ok(file.write(&buf)? as u64)
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
    let count = (a[3] as usize).min(1 << 30);
    let mut done = 0usize;
    let mut buf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match offset {
            Some(o) => inp.pread(&mut buf[..want], o + done as u64),
            None => inp.read(&mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match out.write(&buf[..n]) {
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
    let len = (a[2] as usize).min(CHUNK);
    let mut buf = vec![0u8; len];
    t.mm().copy_in(a[1], &mut buf)?;
    Ok(file.pwrite(&buf, a[3])? as u64)
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
            None => inp.read(&mut buf[..want])?,
        };
        if n == 0 {
            break;
        }
        let w = match off_out {
            Some(o) => out.pwrite(&buf[..n], o)?,
            None => out.write(&buf[..n])?,
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

/// splice(2): moves data between two fds, at least one a pipe. Implemented
/// as a copy through the sentry (no page sharing).
/// vmsplice: copies user memory into a pipe's write end, or out of its read
/// end (as readv/writev on the pipe; pages are never gifted).
pub(crate) fn vmsplice(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fs::pipe::PipeEnd;
    // SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT.
    if a[3] & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fds().file(a[0] as i64)?;
    if !file.as_any().is::<PipeEnd>() {
        return Err(Errno::EBADF);
    }
    if file.status_flags() as i32 & libc::O_ACCMODE == libc::O_WRONLY {
        writev(t, a)
    } else {
        readv(t, a)
    }
}

/// tee(2): copies bytes queued in one pipe to another without consuming them.
pub(crate) fn tee(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fs::pipe::PipeEnd;
    const SPLICE_F_NONBLOCK: u64 = 2;
    if a[3] & !0xf != 0 {
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
    let mut buf = vec![0u8; (a[2] as usize).min(CHUNK)];
    let n = src.peek(&mut buf, a[3] & SPLICE_F_NONBLOCK != 0)?;
    if n == 0 {
        return Ok(0);
    }
    Ok(out.write(&buf[..n])? as u64)
}

pub(crate) fn splice(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::fs::pipe::PipeEnd;
    let inp = t.fds().file(a[0] as i64)?;
    let out = t.fds().file(a[2] as i64)?;
    let in_pipe = inp.as_any().is::<PipeEnd>();
    let out_pipe = out.as_any().is::<PipeEnd>();
    if !in_pipe && !out_pipe {
        return Err(Errno::EINVAL);
    }
    if (in_pipe && a[1] != 0) || (out_pipe && a[3] != 0) {
        return Err(Errno::ESPIPE);
    }
    let mut off_in = read_off(t, a[1])?;
    let mut off_out = read_off(t, a[3])?;
    let len = (a[4] as usize).min(CHUNK);
    let mut buf = vec![0u8; len];
    let n = match off_in {
        Some(o) => inp.pread(&mut buf, o)?,
        None => inp.read(&mut buf)?,
    };
    if n == 0 {
        return Ok(0);
    }
    let w = match off_out {
        Some(o) => out.pwrite(&buf[..n], o)?,
        None => out.write(&buf[..n])?,
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
