//! Pipes: a 64 KiB buffer between a read end and a write end. Writes of at
//! most PIPE_BUF bytes are atomic; reads block while the pipe is empty and a
//! writer exists; writes block while it is full and a reader exists; writing
//! with no reader gives EPIPE and SIGPIPE.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::errno::{Errno, SysResult};
use crate::vfs::{Detached, TaskContext};
use crate::vfs::{FileDescription, Stat};
use crate::waiter::{block_until, WaitQueue};

/// Default and maximum capacity.
pub const PIPE_SIZE: usize = 64 << 10;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;

#[derive(Default)]
struct State {
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// Capacity (F_SETPIPE_SZ), PIPE_SIZE by default.
    cap: usize,
    /// Opens of each end so far: a FIFO open waits for the other side to
    /// have opened, even if it has already closed again (as Linux does).
    r_opens: u64,
    w_opens: u64,
}

/// Sends SIGPIPE to the calling process (a write to a pipe without reader).
fn sigpipe(ctx: &dyn TaskContext) {
    ctx.signal_process(libc::SIGPIPE as u32);
}

/// The shared pipe object.
#[derive(Default)]
pub struct Pipe {
    state: Mutex<State>,
    wq: WaitQueue,
    ino: u64,
}

impl Pipe {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PipeEnd {
    /// Whether this is the write end.
    pub fn is_write_end(&self) -> bool {
        self.write
    }

    /// Whether both ends belong to one pipe.
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Arc::ptr_eq(&self.pipe, &other.pipe)
    }

    /// Copies queued bytes without consuming them (tee): waits for data
    /// unless `nonblock` or the pipe has no writers (then 0).
    pub fn peek(&self, ctx: &dyn TaskContext, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        block_until(ctx, &[&self.pipe.wq], None, Errno::EAGAIN, || {
            let s = self.pipe.lock();
            if !s.buf.is_empty() {
                let n = buf.len().min(s.buf.len());
                for (d, b) in buf.iter_mut().zip(s.buf.iter()) {
                    *d = *b;
                }
                return Some(Ok(n));
            }
            if s.writers == 0 {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })
    }

    /// Waits until the pipe holds data (splice and tee from it): the bytes
    /// queued, 0 at end of file (empty, no writer), EAGAIN if empty and
    /// `nonblock`.
    pub fn wait_data(&self, ctx: &dyn TaskContext, nonblock: bool) -> SysResult<usize> {
        if self.write {
            return Err(Errno::EBADF);
        }
        block_until(ctx, &[&self.pipe.wq], None, Errno::EAGAIN, || {
            let s = self.pipe.lock();
            if !s.buf.is_empty() {
                return Some(Ok(s.buf.len()));
            }
            if s.writers == 0 {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })
    }

    /// Waits until the pipe has room (splice and tee into it): the free
    /// bytes; EAGAIN if full and `nonblock`; EPIPE, with SIGPIPE, if it has
    /// no reader. A transfer of at most that many bytes then does not block.
    pub fn wait_room(&self, ctx: &dyn TaskContext, nonblock: bool) -> SysResult<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        let r = block_until(ctx, &[&self.pipe.wq], None, Errno::EAGAIN, || {
            let s = self.pipe.lock();
            if s.readers == 0 {
                return Some(Err(Errno::EPIPE));
            }
            let room = s.cap.saturating_sub(s.buf.len());
            if room > 0 {
                return Some(Ok(room));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        });
        if r == Err(Errno::EPIPE) {
            sigpipe(ctx);
        }
        r
    }

    /// read(2) on the read end with an explicit non-blocking choice (splice's
    /// SPLICE_F_NONBLOCK).
    pub fn read_with(
        &self,
        ctx: &dyn TaskContext,
        buf: &mut [u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        if self.write {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = block_until(ctx, &[&self.pipe.wq], None, Errno::EAGAIN, || {
            let mut s = self.pipe.lock();
            if !s.buf.is_empty() {
                let n = buf.len().min(s.buf.len());
                for (d, b) in buf.iter_mut().zip(s.buf.drain(..n)) {
                    *d = b;
                }
                return Some(Ok(n));
            }
            if s.writers == 0 {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })?;
        self.pipe.wq.notify_all();
        Ok(n)
    }

    /// F_GETPIPE_SZ.
    pub fn capacity(&self) -> usize {
        self.pipe.lock().cap
    }

    /// F_SETPIPE_SZ: rounds up to a page, at most 1 MiB, never below what
    /// the pipe holds.
    pub fn set_capacity(&self, n: usize) -> SysResult<usize> {
        if n > 1 << 20 {
            return Err(Errno::EPERM);
        }
        let n = n.max(4096).next_power_of_two();
        let mut s = self.pipe.lock();
        if n < s.buf.len() {
            return Err(Errno::EBUSY);
        }
        s.cap = n;
        drop(s);
        self.pipe.wq.notify_all();
        Ok(n)
    }
}

/// One end of a pipe.
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
    nonblock: std::sync::atomic::AtomicBool,
}

/// A named pipe's shared object (a FIFO in a file system).
pub fn new_fifo() -> Arc<Pipe> {
    let pipe = Arc::new(Pipe::default());
    pipe.lock().cap = PIPE_SIZE;
    pipe
}

/// Opens one end of a FIFO as open(2) does: a reader waits for a writer
/// and a writer for a reader, unless O_NONBLOCK (then a writer without
/// readers gets ENXIO).
pub fn open_fifo(
    ctx: &dyn TaskContext,
    pipe: &Arc<Pipe>,
    flags: u32,
) -> SysResult<Arc<dyn FileDescription>> {
    open_ends(ctx, pipe, flags, true)
}

/// Opens one end of a FIFO, or (`fifo` false) of an anonymous pipe reached
/// through /proc/[pid]/fd, which as in Linux never waits for the other side.
fn open_ends(
    ctx: &dyn TaskContext,
    pipe: &Arc<Pipe>,
    flags: u32,
    fifo: bool,
) -> SysResult<Arc<dyn FileDescription>> {
    let acc = flags as i32 & libc::O_ACCMODE;
    let nonblock = flags as i32 & libc::O_NONBLOCK != 0;
    // Opens one end; returns it with whether the other side is open right
    // now and how many times the other side had been opened.
    let make = |write: bool| -> (Arc<PipeEnd>, bool, u64) {
        let (present, opens) = {
            let mut s = pipe.lock();
            if write {
                s.writers += 1;
                s.w_opens += 1;
                (s.readers > 0, s.r_opens)
            } else {
                s.readers += 1;
                s.r_opens += 1;
                (s.writers > 0, s.w_opens)
            }
        };
        pipe.wq.notify_all();
        let end = Arc::new(PipeEnd {
            pipe: pipe.clone(),
            write,
            nonblock: nonblock.into(),
        });
        (end, present, opens)
    };
    match acc {
        libc::O_RDONLY => {
            let (end, present, seen) = make(false);
            if fifo && !nonblock && !present {
                block_until(ctx, &[&pipe.wq], None, Errno::EAGAIN, || {
                    (pipe.lock().w_opens != seen).then_some(Ok(()))
                })?;
            }
            Ok(end)
        }
        libc::O_WRONLY => {
            if fifo && nonblock && pipe.lock().readers == 0 {
                return Err(Errno::ENXIO);
            }
            let (end, present, seen) = make(true);
            if fifo && !present {
                block_until(ctx, &[&pipe.wq], None, Errno::EAGAIN, || {
                    (pipe.lock().r_opens != seen).then_some(Ok(()))
                })?;
            }
            Ok(end)
        }
        _ => Ok(Arc::new(FifoRw {
            r: make(false).0,
            w: make(true).0,
        })),
    }
}

/// A FIFO opened O_RDWR: both ends at once (never blocks on open).
struct FifoRw {
    r: Arc<PipeEnd>,
    w: Arc<PipeEnd>,
}

impl FileDescription for FifoRw {
    fn reopen(&self, flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        // A named FIFO: its path normally reopens it; this is the fallback.
        Some(open_ends(&Detached, &self.r.pipe, flags, false))
    }
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.r.read(ctx, buf)
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.w.write(ctx, buf)
    }
    fn stat(&self) -> SysResult<Stat> {
        self.r.stat()
    }
    fn readiness(&self) -> u32 {
        self.r.readiness() | self.w.readiness()
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        self.r.wait_queue()
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        libc::O_RDWR as u32
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Creates a pipe: (read end, write end).
pub fn new_pipe(nonblock: bool) -> (Arc<PipeEnd>, Arc<PipeEnd>) {
    static INO: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let pipe = Arc::new(Pipe {
        ino: INO.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ..Default::default()
    });
    {
        let mut s = pipe.lock();
        s.readers = 1;
        s.writers = 1;
        s.cap = PIPE_SIZE;
    }
    let end = |write| {
        Arc::new(PipeEnd {
            pipe: pipe.clone(),
            write,
            nonblock: nonblock.into(),
        })
    };
    (end(false), end(true))
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut s = self.pipe.lock();
            if self.write {
                s.writers -= 1;
            } else {
                s.readers -= 1;
            }
        }
        self.pipe.wq.notify_all();
    }
}

impl FileDescription for PipeEnd {
    fn reopen(&self, flags: u32) -> Option<SysResult<Arc<dyn FileDescription>>> {
        // Linux opens the pipe's inode: the end the mode asks for.
        Some(open_ends(&Detached, &self.pipe, flags, false))
    }
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        let nonblock = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        self.read_with(ctx, buf, nonblock)
    }

    fn write(&self, ctx: &dyn TaskContext, data: &[u8]) -> SysResult<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        let nonblock = self.nonblock.load(std::sync::atomic::Ordering::Relaxed);
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            let atomic = data.len() <= PIPE_BUF;
            let r = block_until(ctx, &[&self.pipe.wq], None, Errno::EAGAIN, || {
                let mut s = self.pipe.lock();
                if s.readers == 0 {
                    return Some(Err(Errno::EPIPE));
                }
                let room = s.cap.saturating_sub(s.buf.len());
                let need = if atomic { rest.len() } else { 1 };
                if room >= need {
                    let n = rest.len().min(room);
                    s.buf.extend(&rest[..n]);
                    return Some(Ok(n));
                }
                nonblock.then_some(Err(Errno::EAGAIN))
            });
            match r {
                Ok(n) => {
                    done += n;
                    self.pipe.wq.notify_all();
                }
                Err(Errno::EPIPE) => {
                    sigpipe(ctx);
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                Err(e) if done > 0 && e != Errno::ERESTARTSYS => return Ok(done),
                Err(Errno::ERESTARTSYS) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            ino: self.pipe.ino,
            nlink: 1,
            mode: libc::S_IFIFO | 0o600,
            blksize: PIPE_BUF as i64,
            dev: 0xc,
            ..Default::default()
        })
    }

    fn status_flags(&self) -> u32 {
        let acc = if self.write {
            libc::O_WRONLY
        } else {
            libc::O_RDONLY
        };
        let nb = if self.nonblock.load(std::sync::atomic::Ordering::Relaxed) {
            libc::O_NONBLOCK
        } else {
            0
        };
        (acc | nb) as u32
    }

    fn set_status_flags(&self, flags: u32) {
        self.nonblock.store(
            flags & libc::O_NONBLOCK as u32 != 0,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    fn readiness(&self) -> u32 {
        let s = self.pipe.lock();
        let mut r = 0;
        if self.write {
            if s.readers == 0 {
                r |= libc::POLLERR;
            } else if s.cap.saturating_sub(s.buf.len()) >= PIPE_BUF {
                r |= libc::POLLOUT | libc::POLLWRNORM;
            }
        } else {
            if !s.buf.is_empty() {
                r |= libc::POLLIN | libc::POLLRDNORM;
            }
            if s.writers == 0 {
                r |= libc::POLLHUP;
            }
        }
        r as u32
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.wq)
    }

    fn always_ready(&self) -> bool {
        false
    }

    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        // FIONREAD: bytes waiting in the pipe.
        if req != 0x541b {
            return Err(Errno::ENOTTY);
        }
        let n = self.pipe.lock().buf.len() as i32;
        ctx.mm()?.copy_out(arg, &n.to_le_bytes())?;
        Ok(0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::vfs::Detached;

    #[test]
    fn read_write_eof_epipe() {
        let (r, w) = new_pipe(false);
        assert_eq!(w.write(&Detached, b"hello").unwrap(), 5);
        let mut b = [0u8; 16];
        assert_eq!(r.read(&Detached, &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        drop(w);
        assert_eq!(r.read(&Detached, &mut b).unwrap(), 0, "EOF without writers");
        let (r, w) = new_pipe(true);
        assert_eq!(r.read(&Detached, &mut b), Err(Errno::EAGAIN));
        drop(r);
        assert_eq!(w.write(&Detached, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn full_pipe_would_block() {
        let (_r, w) = new_pipe(true);
        let big = vec![0u8; PIPE_SIZE];
        assert_eq!(w.write(&Detached, &big).unwrap(), PIPE_SIZE);
        assert_eq!(w.write(&Detached, b"x"), Err(Errno::EAGAIN));
    }
}
