//! A pseudo-terminal pair ([`Pty`]) and the sandbox's registry of them:
//! opening masters, slaves and the controlling terminal, the read and write
//! paths of both sides, job control, and signalling process groups.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::file::{Flags, Master, Slave};
use super::ldisc::{State, INPUT_MAX, OUTPUT_MAX};
use super::{lock, MAX_PTYS};
use crate::abi::termios::{Termios, TOSTOP, VMIN, VTIME};
use crate::errno::{Errno, SysResult};
use crate::vfs::FileDescription;
use crate::vfs::{JobIds, Sessions, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// One pseudo-terminal pair.
pub struct Pty {
    pub(super) index: u32,
    pub(super) st: Mutex<State>,
    pub(super) wq: WaitQueue,
    pub(super) sessions: Weak<dyn Sessions>,
    pub(super) registry: Weak<PtyRegistry>,
    /// uid of the process that opened the master (owner of /dev/pts/N).
    pub(super) uid: u32,
}

/// The pseudo-terminals of one sandbox (devpts).
#[derive(Default)]
pub struct PtyRegistry {
    pub(super) ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
}

impl PtyRegistry {
    /// Opens a new master (/dev/ptmx).
    pub fn open_master(
        self: &Arc<Self>,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        Ok(self.new_pty(ctx.sessions(), ctx.uid().1, flags)?.0)
    }

    /// A new pseudo-terminal for the sandbox's own console (not opened by a
    /// task): its master, unlocked, and the terminal.
    pub fn open_console(
        self: &Arc<Self>,
        sessions: Weak<dyn Sessions>,
        uid: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, Arc<Pty>)> {
        let (m, pty) = self.new_pty(sessions, uid, libc::O_RDWR as u32)?;
        pty.lock().locked = false;
        Ok((m, pty))
    }

    fn new_pty(
        self: &Arc<Self>,
        sessions: Weak<dyn Sessions>,
        uid: u32,
        flags: u32,
    ) -> SysResult<(Arc<dyn FileDescription>, Arc<Pty>)> {
        let mut ptys = lock(&self.ptys);
        ptys.retain(|_, p| p.strong_count() > 0);
        let index = (0..MAX_PTYS)
            .find(|i| !ptys.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        let pty = Arc::new(Pty {
            index,
            st: Mutex::new(State {
                termios: Termios::standard(),
                winsize: [0; 8],
                output: VecDeque::new(),
                lines: VecDeque::new(),
                line: Vec::new(),
                raw: VecDeque::new(),
                masters: 1,
                slaves: 0,
                slave_opened: false,
                locked: true,
                sid: 0,
                fg: 0,
            }),
            wq: WaitQueue::default(),
            sessions,
            registry: Arc::downgrade(self),
            uid,
        });
        ptys.insert(index, Arc::downgrade(&pty));
        let master = Arc::new(Master {
            pty: pty.clone(),
            flags: Flags::new(flags),
            path: std::sync::OnceLock::new(),
        });
        Ok((master, pty))
    }

    /// The live pseudo-terminal `index` (its master still open).
    pub fn get(&self, index: u32) -> Option<Arc<Pty>> {
        lock(&self.ptys)
            .get(&index)
            .and_then(Weak::upgrade)
            .filter(|p| lock(&p.st).masters > 0)
    }

    /// Indices of live pseudo-terminals (the entries of /dev/pts).
    pub fn indices(&self) -> Vec<u32> {
        lock(&self.ptys)
            .iter()
            .filter(|(_, p)| p.upgrade().is_some_and(|p| lock(&p.st).masters > 0))
            .map(|(&i, _)| i)
            .collect()
    }

    /// The controlling terminal of session `sid`.
    pub fn ctty_of(&self, sid: i32) -> Option<Arc<Pty>> {
        if sid <= 0 {
            return None;
        }
        lock(&self.ptys)
            .values()
            .filter_map(Weak::upgrade)
            .find(|p| lock(&p.st).sid == sid)
    }

    /// Opens the caller's controlling terminal (/dev/tty).
    pub fn open_ctty(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let sid = ctx.job_ids().sid;
        let pty = self.ctty_of(sid).ok_or(Errno::ENXIO)?;
        pty.open_slave_as(ctx, flags | libc::O_NOCTTY as u32, true)
    }
}

impl Pty {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.st)
    }

    /// uid owning /dev/pts/N.
    pub fn owner(&self) -> u32 {
        self.uid
    }

    /// Bytes the slave side wrote that the master has not read yet.
    pub fn output_pending(&self) -> usize {
        self.lock().output.len()
    }

    /// Makes it the controlling terminal of session `sid` with foreground
    /// group `fg` (the console of the sandbox's init).
    pub fn set_session(&self, sid: i32, fg: i32) {
        let mut s = self.lock();
        s.sid = sid;
        s.fg = fg;
    }

    /// Sets the window size (struct winsize bytes), SIGWINCH to the
    /// foreground group when it changed (the console follows the host's).
    pub fn set_winsize(&self, w: [u8; 8]) {
        let (changed, fg) = {
            let mut s = self.lock();
            let changed = s.winsize != w;
            s.winsize = w;
            (changed, s.fg)
        };
        if changed {
            self.signal_group(fg, libc::SIGWINCH as u32);
        }
    }

    pub(super) fn signal_group(&self, pgid: i32, sig: u32) {
        if pgid <= 0 {
            return;
        }
        if let Some(k) = self.sessions.upgrade() {
            k.signal_pgrp(pgid, sig);
        }
    }

    /// Opens a slave (/dev/pts/N); a session leader without a controlling
    /// terminal acquires this one unless O_NOCTTY.
    pub fn open_slave(
        self: &Arc<Self>,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        self.open_slave_as(ctx, flags, false)
    }

    /// Opens a slave, as /dev/tty when `as_tty` (then it stats as /dev/tty).
    pub(super) fn open_slave_as(
        self: &Arc<Self>,
        ctx: &dyn TaskContext,
        flags: u32,
        as_tty: bool,
    ) -> SysResult<Arc<dyn FileDescription>> {
        {
            let mut s = self.lock();
            if s.masters == 0 || s.locked {
                return Err(Errno::EIO);
            }
            s.slaves += 1;
            s.slave_opened = true;
        }
        if flags & libc::O_NOCTTY as u32 == 0 {
            let JobIds { pid, pgid, sid } = ctx.job_ids();
            if pid > 0 {
                let has_ctty = self
                    .registry
                    .upgrade()
                    .is_some_and(|r| r.ctty_of(sid).is_some());
                let mut s = self.lock();
                if pid == sid && !has_ctty && s.sid == 0 {
                    s.sid = sid;
                    s.fg = pgid;
                }
            }
        }
        self.wq.notify_all();
        Ok(Arc::new(Slave {
            pty: self.clone(),
            flags: Flags::new(flags),
            path: if as_tty {
                "/dev/tty".to_string()
            } else {
                format!("/dev/pts/{}", self.index)
            },
            as_tty,
        }))
    }

    /// Writes input from the master side.
    pub(super) fn master_write(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        let mut done = 0;
        while done < data.len() {
            let r = block_until(ctx, &[&self.wq], None, Errno::EAGAIN, || {
                let mut s = self.lock();
                let full = if s.canonical() {
                    s.lines.len() >= INPUT_MAX
                } else {
                    s.raw.len() >= INPUT_MAX
                };
                if full {
                    return nonblock.then_some(Err(Errno::EAGAIN));
                }
                let mut sigs = Vec::new();
                let mut n = 0;
                for &c in &data[done..] {
                    n += 1;
                    if let Some(sig) = s.input(c) {
                        sigs.push(sig);
                    }
                    if !s.canonical() && s.raw.len() >= INPUT_MAX {
                        break;
                    }
                }
                Some(Ok((n, sigs, s.fg)))
            });
            match r {
                Ok((n, sigs, fg)) => {
                    done += n;
                    self.wq.notify_all();
                    for sig in sigs {
                        self.signal_group(fg, sig);
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Reads output for the master.
    pub(super) fn master_read(
        &self,
        ctx: &dyn TaskContext,
        buf: &mut [u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        let n = block_until(ctx, &[&self.wq], None, Errno::EAGAIN, || {
            let mut s = self.lock();
            if !s.output.is_empty() {
                let n = buf.len().min(s.output.len());
                for (d, b) in buf.iter_mut().zip(s.output.drain(..n)) {
                    *d = b;
                }
                return Some(Ok(n));
            }
            if s.slave_opened && s.slaves == 0 {
                return Some(Err(Errno::EIO));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })?;
        self.wq.notify_all();
        Ok(n)
    }

    /// Job control: a background group touching its controlling terminal.
    fn job_control(&self, ctx: &dyn TaskContext, sig: i32) -> SysResult<()> {
        let JobIds {
            pid,
            pgid,
            sid: my_sid,
        } = ctx.job_ids();
        if pid <= 0 {
            return Ok(());
        }
        let (sid, fg) = {
            let s = self.lock();
            (s.sid, s.fg)
        };
        if sid == 0 || my_sid != sid || pgid == fg {
            return Ok(());
        }
        if ctx.ignores_or_blocks(sig as u32) {
            return if sig == libc::SIGTTIN {
                Err(Errno::EIO)
            } else {
                Ok(())
            };
        }
        self.signal_group(pgid, sig as u32);
        Err(Errno::ERESTARTSYS)
    }

    pub(super) fn slave_read(
        &self,
        ctx: &dyn TaskContext,
        buf: &mut [u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        self.job_control(ctx, libc::SIGTTIN)?;
        if buf.is_empty() {
            return Ok(0);
        }
        let (vmin, vtime, canon) = {
            let s = self.lock();
            (
                s.termios.cc[VMIN] as usize,
                s.termios.cc[VTIME] as u64,
                s.canonical(),
            )
        };
        let deadline =
            (!canon && vtime > 0).then(|| Instant::now() + Duration::from_millis(vtime * 100));
        let want = if canon { 1 } else { vmin.clamp(1, buf.len()) };
        let r = block_until(ctx, &[&self.wq], deadline, Errno::ETIMEDOUT, || {
            let mut s = self.lock();
            if s.canonical() {
                if let Some(mut line) = s.lines.pop_front() {
                    let n = buf.len().min(line.len());
                    buf[..n].copy_from_slice(&line[..n]);
                    if n < line.len() {
                        line.drain(..n);
                        s.lines.push_front(line);
                    }
                    return Some(Ok(n));
                }
            } else if !s.raw.is_empty() && (s.raw.len() >= want || deadline.is_some()) {
                let n = buf.len().min(s.raw.len());
                for (d, b) in buf.iter_mut().zip(s.raw.drain(..n)) {
                    *d = b;
                }
                return Some(Ok(n));
            } else if vmin == 0 && deadline.is_none() {
                return Some(Ok(0));
            }
            if s.masters == 0 {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        });
        let n = match r {
            Err(Errno::ETIMEDOUT) => 0,
            other => other?,
        };
        self.wq.notify_all();
        Ok(n)
    }

    pub(super) fn slave_write(
        &self,
        ctx: &dyn TaskContext,
        data: &[u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        if self.lock().termios.lflag & TOSTOP != 0 {
            self.job_control(ctx, libc::SIGTTOU)?;
        }
        let mut done = 0;
        while done < data.len() {
            let r = block_until(ctx, &[&self.wq], None, Errno::EAGAIN, || {
                let mut s = self.lock();
                if s.masters == 0 {
                    return Some(Err(Errno::EIO));
                }
                if s.output.len() >= OUTPUT_MAX {
                    return nonblock.then_some(Err(Errno::EAGAIN));
                }
                let room = OUTPUT_MAX - s.output.len();
                let n = (data.len() - done).min(room);
                for &c in &data[done..done + n] {
                    s.put_output(c);
                }
                Some(Ok(n))
            });
            match r {
                Ok(n) => {
                    done += n;
                    self.wq.notify_all();
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    pub(super) fn readiness(&self, master: bool) -> u32 {
        let s = self.lock();
        let mut r = 0;
        if master {
            if !s.output.is_empty() {
                r |= libc::POLLIN | libc::POLLRDNORM;
            }
            if s.slave_opened && s.slaves == 0 {
                r |= libc::POLLHUP;
            }
            if s.raw.len() < INPUT_MAX && s.lines.len() < INPUT_MAX {
                r |= libc::POLLOUT | libc::POLLWRNORM;
            }
        } else {
            let readable = if s.canonical() {
                !s.lines.is_empty()
            } else {
                !s.raw.is_empty()
            };
            if readable {
                r |= libc::POLLIN | libc::POLLRDNORM;
            }
            if s.masters == 0 {
                r |= libc::POLLHUP | libc::POLLIN;
            } else if s.output.len() < OUTPUT_MAX {
                r |= libc::POLLOUT | libc::POLLWRNORM;
            }
        }
        r as u32
    }
}
