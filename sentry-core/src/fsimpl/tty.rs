//! Pseudo-terminals: /dev/ptmx masters, /dev/pts/N slaves, /dev/tty, and
//! the line discipline between them.
//!
//! Bytes written to the master are input: they go through input processing
//! (ICRNL, INLCR, IGNCR, ISTRIP), signal characters (ISIG: INTR, QUIT, SUSP
//! go to the foreground process group), canonical line editing (ICANON:
//! ERASE, WERASE, KILL, EOF, EOL) and echo (ECHO, ECHOE, ECHOK, ECHOKE,
//! ECHOCTL, ECHONL) before the slave can read them. Bytes written to the
//! slave are output: OPOST with ONLCR and OCRNL, then the master reads them.
//! Non-canonical reads honour VMIN and VTIME.
//!
//! A slave opened by a session leader without a controlling terminal (and
//! without O_NOCTTY), or given by TIOCSCTTY, becomes its session's
//! controlling terminal: /dev/tty opens it, TIOCSPGRP picks the foreground
//! group, and a background group reading it gets SIGTTIN (writing it with
//! TOSTOP, SIGTTOU). Closing the last master hangs the terminal up: SIGHUP
//! and SIGCONT to the foreground group, slave reads return 0 and writes EIO.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::errno::{Errno, SysResult};
use crate::vfs::{FileDescription, Stat};
use crate::vfs::{JobIds, Sessions, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// Canonical line and non-canonical queue limit (N_TTY_BUF_SIZE).
const INPUT_MAX: usize = 4096;
/// Output queue limit: slave writes wait when it is full.
const OUTPUT_MAX: usize = 64 << 10;
/// Most pseudo-terminals at once (/proc/sys/kernel/pty/max is larger; this
/// bounds what one sandbox can allocate).
pub const MAX_PTYS: u32 = 1024;
/// Major device number of slaves.
pub const PTS_MAJOR: u64 = 136;

// termios bits (x86-64).
const IGNCR: u32 = 0o200;
const ICRNL: u32 = 0o400;
const INLCR: u32 = 0o100;
const ISTRIP: u32 = 0o40;
const IUTF8: u32 = 0o40000;
const OPOST: u32 = 0o1;
const ONLCR: u32 = 0o4;
const OCRNL: u32 = 0o10;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHOE: u32 = 0o20;
const ECHOK: u32 = 0o40;
const ECHONL: u32 = 0o100;
const NOFLSH: u32 = 0o200;
const TOSTOP: u32 = 0o400;
const ECHOCTL: u32 = 0o1000;
const ECHOKE: u32 = 0o4000;
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VTIME: usize = 5;
const VMIN: usize = 6;
const VSUSP: usize = 10;
const VEOL: usize = 11;
const VWERASE: usize = 14;
const VEOL2: usize = 16;

// ioctl requests.
const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TCSBRK: u64 = 0x5409;
const TCXONC: u64 = 0x540a;
const TCFLSH: u64 = 0x540b;
const TIOCSCTTY: u64 = 0x540e;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCOUTQ: u64 = 0x5411;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const FIONREAD: u64 = 0x541b;
const TIOCNOTTY: u64 = 0x5422;
const TCSBRKP: u64 = 0x5425;
const TIOCGSID: u64 = 0x5429;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTLCK: u64 = 0x8004_5439;
const TIOCGPTPEER: u64 = 0x5441;

/// The kernel's struct termios (36 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 19],
}

impl Termios {
    /// A slave's settings when first opened (Linux's tty_std_termios).
    fn standard() -> Termios {
        Termios {
            iflag: ICRNL | 0o2000 | IUTF8, // ICRNL | IXON | IUTF8
            oflag: OPOST | ONLCR,
            cflag: 0o277 | 0o2000, // B38400 | CS8 | CREAD, HUPCL
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | 0o100000,
            line: 0,
            cc: [
                3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0,
                0,
            ],
        }
    }

    fn to_bytes(self) -> [u8; 36] {
        let mut b = [0u8; 36];
        for (i, v) in [self.iflag, self.oflag, self.cflag, self.lflag]
            .iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[16] = self.line;
        b[17..36].copy_from_slice(&self.cc);
        b
    }

    fn from_bytes(b: &[u8; 36]) -> Termios {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; 19];
        cc.copy_from_slice(&b[17..36]);
        Termios {
            iflag: w(0),
            oflag: w(4),
            cflag: w(8),
            lflag: w(12),
            line: b[16],
            cc,
        }
    }
}

struct State {
    termios: Termios,
    winsize: [u8; 8],
    /// Slave output waiting for the master.
    output: VecDeque<u8>,
    /// Canonical mode: finished lines (an empty one is an end-of-file).
    lines: VecDeque<Vec<u8>>,
    /// Canonical mode: the line being edited.
    line: Vec<u8>,
    /// Non-canonical input.
    raw: VecDeque<u8>,
    masters: usize,
    slaves: usize,
    slave_opened: bool,
    locked: bool,
    /// Session it is the controlling terminal of (0: none).
    sid: i32,
    /// Foreground process group.
    fg: i32,
}

/// One pseudo-terminal pair.
pub struct Pty {
    index: u32,
    st: Mutex<State>,
    wq: WaitQueue,
    sessions: Weak<dyn Sessions>,
    registry: Weak<PtyRegistry>,
    /// uid of the process that opened the master (owner of /dev/pts/N).
    uid: u32,
}

/// The pseudo-terminals of one sandbox (devpts).
#[derive(Default)]
pub struct PtyRegistry {
    ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks completes before the guard drops.
    m.lock().unwrap_or_else(|p| p.into_inner())
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

/// stat of /dev/pts/N.
pub fn pts_stat(index: u32, uid: u32) -> Stat {
    Stat {
        dev: 0x16,
        ino: index as u64 + 3,
        nlink: 1,
        mode: libc::S_IFCHR | 0o620,
        uid,
        gid: 5,
        rdev: (PTS_MAJOR << 8) | (index as u64 & 0xff) | ((index as u64 >> 8) << 20),
        blksize: 1024,
        ..Default::default()
    }
}

fn is_ctl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl State {
    fn canonical(&self) -> bool {
        self.termios.lflag & ICANON != 0
    }

    /// Output processing into the master's queue.
    fn put_output(&mut self, c: u8) {
        let t = self.termios;
        if t.oflag & OPOST != 0 {
            if c == b'\n' && t.oflag & ONLCR != 0 {
                self.output.push_back(b'\r');
            } else if c == b'\r' && t.oflag & OCRNL != 0 {
                self.output.push_back(b'\n');
                return;
            }
        }
        self.output.push_back(c);
    }

    /// Echo of an input character (within the output limit).
    fn echo(&mut self, c: u8) {
        if self.output.len() >= OUTPUT_MAX {
            return;
        }
        let l = self.termios.lflag;
        if l & ECHOCTL != 0 && is_ctl(c) && c != b'\n' && c != b'\t' {
            self.output.push_back(b'^');
            self.output.push_back(c ^ 0x40);
        } else {
            self.put_output(c);
        }
    }

    fn erase_echo(&mut self, c: u8) {
        let n = if is_ctl(c) && self.termios.lflag & ECHOCTL != 0 && c != b'\t' {
            2
        } else {
            1
        };
        for _ in 0..n {
            self.output.extend(b"\x08 \x08");
        }
    }

    fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
    }

    fn input_len(&self) -> usize {
        if self.canonical() {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        }
    }

    /// Processes one input character; returns a signal for the foreground
    /// group, if the character generates one.
    fn input(&mut self, mut c: u8) -> Option<u32> {
        let t = self.termios;
        if t.iflag & ISTRIP != 0 {
            c &= 0x7f;
        }
        if c == b'\r' {
            if t.iflag & IGNCR != 0 {
                return None;
            }
            if t.iflag & ICRNL != 0 {
                c = b'\n';
            }
        } else if c == b'\n' && t.iflag & INLCR != 0 {
            c = b'\r';
        }
        let cc = |i: usize| t.cc[i] != 0 && t.cc[i] == c;
        if t.lflag & ISIG != 0 {
            let sig = if cc(VINTR) {
                Some(libc::SIGINT)
            } else if cc(VQUIT) {
                Some(libc::SIGQUIT)
            } else if cc(VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(s) = sig {
                if t.lflag & NOFLSH == 0 {
                    self.flush_input();
                }
                if t.lflag & ECHO != 0 {
                    self.echo(c);
                }
                return Some(s as u32);
            }
        }
        let echo = t.lflag & ECHO != 0;
        if !self.canonical() {
            if self.raw.len() < INPUT_MAX {
                self.raw.push_back(c);
            }
            if echo {
                self.echo(c);
            }
            return None;
        }
        if cc(VERASE) {
            if let Some(gone) = self.line.pop() {
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(gone);
                }
            }
        } else if cc(VWERASE) {
            while self.line.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                let g = self.line.pop().unwrap_or(b' ');
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(g);
                }
            }
            while self.line.last().is_some_and(|&b| b != b' ' && b != b'\t') {
                let g = self.line.pop().unwrap_or(b' ');
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(g);
                }
            }
        } else if cc(VKILL) {
            if echo && t.lflag & ECHOKE != 0 {
                let line = std::mem::take(&mut self.line);
                for g in line.into_iter().rev() {
                    self.erase_echo(g);
                }
            } else {
                self.line.clear();
                if echo {
                    self.echo(c);
                    if t.lflag & ECHOK != 0 {
                        self.put_output(b'\n');
                    }
                }
            }
        } else if cc(VEOF) {
            let line = std::mem::take(&mut self.line);
            self.lines.push_back(line);
        } else if c == b'\n' || cc(VEOL) || cc(VEOL2) {
            let mut line = std::mem::take(&mut self.line);
            line.push(c);
            self.lines.push_back(line);
            if echo || (c == b'\n' && t.lflag & ECHONL != 0) {
                self.echo(c);
            }
        } else if self.line.len() < INPUT_MAX - 1 {
            self.line.push(c);
            if echo {
                self.echo(c);
            }
        }
        None
    }

    /// Switches between canonical and raw input as Linux keeps it: what was
    /// typed stays readable.
    fn set_termios(&mut self, new: Termios) {
        let was = self.canonical();
        self.termios = new;
        if was && !self.canonical() {
            let lines = std::mem::take(&mut self.lines);
            for l in lines {
                self.raw.extend(l);
            }
            let line = std::mem::take(&mut self.line);
            self.raw.extend(line);
        } else if !was && self.canonical() {
            let raw: Vec<u8> = self.raw.drain(..).collect();
            self.line.extend(raw);
        }
    }
}

impl Pty {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.st)
    }

    /// uid owning /dev/pts/N.
    pub fn owner(&self) -> u32 {
        self.uid
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

    fn signal_group(&self, pgid: i32, sig: u32) {
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
    fn open_slave_as(
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
    fn master_write(&self, ctx: &dyn TaskContext, data: &[u8], nonblock: bool) -> SysResult<usize> {
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
    fn master_read(
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

    fn slave_read(
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

    fn slave_write(&self, ctx: &dyn TaskContext, data: &[u8], nonblock: bool) -> SysResult<usize> {
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

    /// ioctls common to both sides.
    fn ioctl(&self, ctx: &dyn TaskContext, master: bool, req: u64, arg: u64) -> SysResult<u64> {
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

    fn readiness(&self, master: bool) -> u32 {
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

/// Status flags of an open terminal end (O_NONBLOCK, O_APPEND settable).
struct Flags(Mutex<u32>);

impl Flags {
    fn new(open_flags: u32) -> Flags {
        let once = (libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOCTTY) as u32;
        Flags(Mutex::new(open_flags & !once))
    }
    fn get(&self) -> u32 {
        *lock(&self.0)
    }
    fn set(&self, f: u32) {
        let mut fl = lock(&self.0);
        let keep = (libc::O_APPEND | libc::O_NONBLOCK) as u32;
        *fl = (*fl & !keep) | (f & keep);
    }
    fn nonblock(&self) -> bool {
        self.get() & libc::O_NONBLOCK as u32 != 0
    }
}

/// stat of /dev/ptmx (`ptmx`) or /dev/tty, as devfs lists them and as their
/// open files report.
pub fn dev_stat(ptmx: bool) -> Stat {
    Stat {
        dev: 0x5,
        ino: if ptmx { 41 } else { 40 },
        nlink: 1,
        mode: libc::S_IFCHR | 0o666,
        rdev: if ptmx { (5 << 8) | 2 } else { 5 << 8 },
        blksize: 4096,
        ..Default::default()
    }
}

/// The master side (/dev/ptmx).
pub struct Master {
    pty: Arc<Pty>,
    flags: Flags,
    path: std::sync::OnceLock<String>,
}

impl Drop for Master {
    fn drop(&mut self) {
        let (hangup, fg) = {
            let mut s = self.pty.lock();
            s.masters -= 1;
            let hangup = s.masters == 0 && s.sid != 0;
            let fg = s.fg;
            if s.masters == 0 {
                s.sid = 0;
            }
            (hangup, fg)
        };
        self.pty.wq.notify_all();
        if hangup {
            self.pty.signal_group(fg, libc::SIGHUP as u32);
            self.pty.signal_group(fg, libc::SIGCONT as u32);
        }
    }
}

impl FileDescription for Master {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.master_read(ctx, buf, self.flags.nonblock())
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.pty.master_write(ctx, buf, self.flags.nonblock())
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(dev_stat(true))
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        self.pty.ioctl(ctx, true, req, arg)
    }
    fn status_flags(&self) -> u32 {
        self.flags.get()
    }
    fn set_status_flags(&self, f: u32) {
        self.flags.set(f);
    }
    fn path(&self) -> Option<String> {
        Some(
            self.path
                .get()
                .cloned()
                .unwrap_or_else(|| "/dev/ptmx".into()),
        )
    }
    fn set_path(&self, p: &str) {
        let _ = self.path.set(p.to_string());
    }
    fn readiness(&self) -> u32 {
        self.pty.readiness(true)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The slave side (/dev/pts/N, /dev/tty).
pub struct Slave {
    pty: Arc<Pty>,
    flags: Flags,
    path: String,
    /// Opened as /dev/tty.
    as_tty: bool,
}

impl Drop for Slave {
    fn drop(&mut self) {
        self.pty.lock().slaves -= 1;
        self.pty.wq.notify_all();
    }
}

impl FileDescription for Slave {
    fn read(&self, ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.slave_read(ctx, buf, self.flags.nonblock())
    }
    fn write(&self, ctx: &dyn TaskContext, buf: &[u8]) -> SysResult<usize> {
        self.pty.slave_write(ctx, buf, self.flags.nonblock())
    }
    fn stat(&self) -> SysResult<Stat> {
        if self.as_tty {
            return Ok(dev_stat(false));
        }
        Ok(pts_stat(self.pty.index, self.pty.uid))
    }
    fn ioctl(&self, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
        self.pty.ioctl(ctx, false, req, arg)
    }
    fn status_flags(&self) -> u32 {
        self.flags.get()
    }
    fn set_status_flags(&self, f: u32) {
        self.flags.set(f);
    }
    fn path(&self) -> Option<String> {
        Some(self.path.clone())
    }
    fn readiness(&self) -> u32 {
        self.pty.readiness(false)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }
    fn always_ready(&self) -> bool {
        false
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

    fn pair() -> (Arc<dyn FileDescription>, Arc<dyn FileDescription>) {
        let reg = Arc::new(PtyRegistry::default());
        let m = reg.open_master(&Detached, libc::O_RDWR as u32).unwrap();
        let pty = reg.get(0).unwrap();
        assert_eq!(
            pty.open_slave(&Detached, libc::O_RDWR as u32).err(),
            Some(Errno::EIO),
            "locked until unlockpt"
        );
        pty.lock().locked = false;
        let s = pty.open_slave(&Detached, libc::O_RDWR as u32).unwrap();
        // Keep the registry alive through the pty's weak pointer.
        std::mem::forget(reg);
        (m, s)
    }

    fn read_all(f: &Arc<dyn FileDescription>) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let n = f.read(&Detached, &mut b).unwrap();
        b.truncate(n);
        b
    }

    #[test]
    fn canonical_input_echo_and_output() {
        let (m, s) = pair();
        m.write(&Detached, b"ab\x7fc\r").unwrap();
        assert_eq!(read_all(&s), b"ac\n", "erase and ICRNL");
        assert_eq!(
            read_all(&m),
            b"ab\x08 \x08c\r\n",
            "echo with ECHOE and ONLCR"
        );
        s.write(&Detached, b"out\n").unwrap();
        assert_eq!(read_all(&m), b"out\r\n");
        m.write(&Detached, b"x\x04").unwrap();
        assert_eq!(read_all(&s), b"x", "EOF ends a line without itself");
        m.write(&Detached, b"\x04").unwrap();
        assert_eq!(read_all(&s), b"", "EOF on an empty line reads 0");
        let _ = read_all(&m);
        m.write(&Detached, b"one two\x17three\x15four\n").unwrap();
        assert_eq!(read_all(&s), b"four\n", "WERASE then KILL");
    }

    #[test]
    fn raw_mode_and_hangup() {
        let (m, s) = pair();
        let pty = match s.as_any().downcast_ref::<Slave>() {
            Some(sl) => sl.pty.clone(),
            None => panic!("not a slave"),
        };
        {
            let mut st = pty.lock();
            let mut t = st.termios;
            t.lflag &= !(ICANON | ECHO);
            st.set_termios(t);
        }
        m.write(&Detached, b"q").unwrap();
        assert_eq!(read_all(&s), b"q", "no line needed");
        assert_eq!(m.readiness() & libc::POLLIN as u32, 0, "no echo");
        drop(m);
        assert_eq!(read_all(&s), b"", "hung up: EOF");
        assert_eq!(s.write(&Detached, b"x"), Err(Errno::EIO));
    }

    #[test]
    fn master_read_after_slave_close_is_eio() {
        let (m, s) = pair();
        drop(s);
        let mut b = [0u8; 4];
        assert_eq!(m.read(&Detached, &mut b), Err(Errno::EIO));
    }
}
