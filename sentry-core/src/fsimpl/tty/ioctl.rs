//! The terminal ioctls, common to both sides of a [`Pty`].

use std::sync::{Arc, Weak};

use super::lock;
use super::pty::Pty;
use crate::abi::termios::*;
use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, JobIds, TaskContext};

impl Pty {
    /// ioctls common to both sides.
    pub(super) fn ioctl(
        &self,
        ctx: &dyn TaskContext,
        master: bool,
        req: u64,
        arg: u64,
    ) -> SysResult<u64> {
        match req {
            TCGETS => {
                let b = self.lock().termios.to_bytes();
                ctx.mm()?.copy_out(arg, &b)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut b = [0u8; 36];
                ctx.mm()?.copy_in(arg, &mut b)?;
                let mut s = self.lock();
                if req == TCSETSF {
                    s.flush_input();
                }
                s.set_termios(Termios::from_bytes(&b));
                drop(s);
                self.wq.notify_all();
                Ok(0)
            }
            TIOCGWINSZ => {
                let w = self.lock().winsize;
                ctx.mm()?.copy_out(arg, &w)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut w = [0u8; 8];
                ctx.mm()?.copy_in(arg, &mut w)?;
                let (changed, fg) = {
                    let mut s = self.lock();
                    let changed = s.winsize != w;
                    s.winsize = w;
                    (changed, s.fg)
                };
                if changed {
                    self.signal_group(fg, libc::SIGWINCH as u32);
                }
                Ok(0)
            }
            FIONREAD => {
                let s = self.lock();
                let n = if master {
                    s.output.len()
                } else {
                    s.input_len()
                };
                drop(s);
                ctx.mm()?.copy_out(arg, &(n as i32).to_le_bytes())?;
                Ok(0)
            }
            TIOCOUTQ => {
                let n = if master { 0 } else { self.lock().output.len() };
                ctx.mm()?.copy_out(arg, &(n as i32).to_le_bytes())?;
                Ok(0)
            }
            TCFLSH => {
                let mut s = self.lock();
                match arg {
                    0 => s.flush_input(),
                    1 => s.output.clear(),
                    2 => {
                        s.flush_input();
                        s.output.clear();
                    }
                    _ => return Err(Errno::EINVAL),
                }
                drop(s);
                self.wq.notify_all();
                Ok(0)
            }
            TCSBRK | TCSBRKP | TCXONC => Ok(0),
            TIOCGPTN if master => {
                ctx.mm()?.copy_out(arg, &self.index.to_le_bytes())?;
                Ok(0)
            }
            TIOCSPTLCK if master => {
                let mut b = [0u8; 4];
                ctx.mm()?.copy_in(arg, &mut b)?;
                self.lock().locked = i32::from_le_bytes(b) != 0;
                Ok(0)
            }
            TIOCGPTLCK if master => {
                let l = self.lock().locked as i32;
                ctx.mm()?.copy_out(arg, &l.to_le_bytes())?;
                Ok(0)
            }
            TIOCGSID => {
                let (sid, _) = self.ctty_check(ctx)?;
                ctx.mm()?.copy_out(arg, &sid.to_le_bytes())?;
                Ok(0)
            }
            TIOCGPGRP => {
                let (_, fg) = self.ctty_check(ctx)?;
                ctx.mm()?.copy_out(arg, &fg.to_le_bytes())?;
                Ok(0)
            }
            TIOCSPGRP => {
                let (sid, _) = self.ctty_check(ctx)?;
                let mut b = [0u8; 4];
                ctx.mm()?.copy_in(arg, &mut b)?;
                let pgid = i32::from_le_bytes(b);
                if pgid < 0 {
                    return Err(Errno::EINVAL);
                }
                let in_session = ctx
                    .sessions()
                    .upgrade()
                    .is_some_and(|k| k.pgrp_in_session(pgid, sid));
                if !in_session {
                    return Err(Errno::EPERM);
                }
                self.lock().fg = pgid;
                Ok(0)
            }
            TIOCSCTTY => {
                let JobIds { pid, pgid, sid } = ctx.job_ids();
                // Looked up before locking this terminal (ctty_of locks
                // every terminal, this one included).
                let ctty = self.registry.upgrade().and_then(|r| r.ctty_of(sid));
                let mut s = self.lock();
                if s.sid == sid {
                    return Ok(0);
                }
                if pid != sid || ctty.is_some() {
                    return Err(Errno::EPERM);
                }
                if s.sid != 0 && !(arg == 1 && ctx.uid().1 == 0) {
                    return Err(Errno::EPERM);
                }
                s.sid = sid;
                s.fg = pgid;
                Ok(0)
            }
            TIOCNOTTY => {
                let (sid, fg) = self.ctty_check(ctx)?;
                if ctx.job_ids().pid == sid {
                    self.lock().sid = 0;
                    self.signal_group(fg, libc::SIGHUP as u32);
                    self.signal_group(fg, libc::SIGCONT as u32);
                }
                Ok(0)
            }
            TIOCGPTPEER if master => {
                let slave = self.open_slave_for(ctx, arg as u32)?;
                let cloexec = arg as i32 & libc::O_CLOEXEC != 0;
                Ok(ctx.install_fd(slave, cloexec)? as u64)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn open_slave_for(
        &self,
        ctx: &dyn TaskContext,
        flags: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let me = self
            .registry
            .upgrade()
            .and_then(|r| lock(&r.ptys).get(&self.index).and_then(Weak::upgrade))
            .ok_or(Errno::EIO)?;
        me.open_slave(ctx, flags | libc::O_NOCTTY as u32)
    }

    /// The terminal must be the caller's controlling terminal: (sid, fg).
    fn ctty_check(&self, ctx: &dyn TaskContext) -> SysResult<(i32, i32)> {
        let s = self.lock();
        let my_sid = ctx.job_ids().sid;
        if s.sid == 0 || s.sid != my_sid {
            return Err(Errno::ENOTTY);
        }
        Ok((s.sid, s.fg))
    }
}
