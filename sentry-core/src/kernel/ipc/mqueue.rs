//! POSIX message queues: mq_open, mq_unlink, mq_timedsend,
//! mq_timedreceive, mq_notify, mq_getsetattr.
//!
//! A queue is named in the sandbox's IPC namespace and opened as a file
//! descriptor ([`MqFile`]): poll/epoll see it readable when it holds a
//! message and writable when it has room; read(2) gives the status line of
//! Linux's mqueue file system. Messages are kept by priority (highest
//! first), in order within one priority.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::errno::{Errno, SysResult};
use crate::kernel::signal::{self, SigInfo, Signal};
use crate::kernel::{Task, ThreadGroup};
use crate::vfs::{FileDescription, Stat, TaskContext};
use crate::waiter::{block_until, WaitQueue};

/// Default and largest number of messages for an unprivileged creator.
const MSG_DEFAULT: i64 = 10;
const MSG_MAX: i64 = 10;
const HARD_MSGMAX: i64 = 65536;
/// Default and largest message size for an unprivileged creator.
const MSGSIZE_DEFAULT: i64 = 8192;
const MSGSIZE_MAX: i64 = 8192;
const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// Queues in the namespace (unprivileged).
const QUEUES_MAX: usize = 256;
/// Priorities run below this.
const MQ_PRIO_MAX: u32 = 32768;
/// RLIMIT_MSGQUEUE's default (bytes of queues per user).
const MSGQUEUE_BYTES: u64 = 819_200;
const NAME_MAX: usize = 255;

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
const SI_MESGQ: i32 = -3;

/// /proc/sys/fs/mqueue: the limits (read-only here).
pub const SYSCTLS: [(&str, i64); 5] = [
    ("msg_default", MSG_DEFAULT),
    ("msg_max", MSG_MAX),
    ("msgsize_default", MSGSIZE_DEFAULT),
    ("msgsize_max", MSGSIZE_MAX),
    ("queues_max", QUEUES_MAX as i64),
];

/// A registered notification: the process and its sigevent.
#[derive(Debug)]
struct Notify {
    tg: Weak<ThreadGroup>,
    pid: i32,
    how: i32,
    signo: u32,
    value: u64,
}

#[derive(Debug)]
struct State {
    /// (priority, text), highest priority first.
    msgs: Vec<(u32, Vec<u8>)>,
    bytes: u64,
    notify: Option<Notify>,
    /// Receivers blocked now (a notification is only sent to an empty
    /// queue nobody waits on).
    receivers: usize,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// A message queue.
#[derive(Debug)]
pub struct Mq {
    maxmsg: i64,
    msgsize: i64,
    state: Mutex<State>,
    wq: WaitQueue,
}

impl Drop for Mq {
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        for (_, m) in &s.msgs {
            super::uncharge_msg(m.len() as u64);
        }
    }
}

impl Mq {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The namespace's queues by name.
#[derive(Debug, Default)]
pub struct MqNs {
    queues: HashMap<Vec<u8>, Arc<Mq>>,
}

/// An open message queue.
pub struct MqFile {
    mq: Arc<Mq>,
    flags: AtomicU32,
    name: String,
    /// The offset in the status line (read, lseek).
    pos: Mutex<u64>,
}

impl MqFile {
    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & libc::O_NONBLOCK as u32 != 0
    }
    fn acc(&self) -> i32 {
        self.flags.load(Ordering::Relaxed) as i32 & libc::O_ACCMODE
    }
    /// Opened for reading (O_ACCMODE 3, allowed when creating, is neither).
    fn readable(&self) -> bool {
        matches!(self.acc(), libc::O_RDONLY | libc::O_RDWR)
    }
    fn writable(&self) -> bool {
        matches!(self.acc(), libc::O_WRONLY | libc::O_RDWR)
    }
}

impl FileDescription for MqFile {
    fn read(&self, _ctx: &dyn TaskContext, buf: &mut [u8]) -> SysResult<usize> {
        // Linux's mqueue file: one status line, read from the file offset.
        let line = {
            let s = self.mq.lock();
            let (how, signo, pid) = match &s.notify {
                Some(n) => (
                    n.how,
                    if n.how == SIGEV_SIGNAL { n.signo } else { 0 },
                    n.pid,
                ),
                None => (0, 0, 0),
            };
            format!(
                "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
                s.bytes, how, signo, pid
            )
        };
        let mut pos = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        let from = usize::try_from(*pos).unwrap_or(usize::MAX).min(line.len());
        let n = (line.len() - from).min(buf.len());
        buf[..n].copy_from_slice(&line.as_bytes()[from..from + n]);
        *pos += n as u64;
        Ok(n)
    }
    fn seek(&self, offset: i64, whence: crate::vfs::Whence) -> SysResult<u64> {
        let mut pos = self.pos.lock().unwrap_or_else(|p| p.into_inner());
        let base = match whence {
            crate::vfs::Whence::Set => 0,
            crate::vfs::Whence::Cur => *pos as i64,
            crate::vfs::Whence::End => 80,
        };
        let new = base
            .checked_add(offset)
            .filter(|&v| v >= 0)
            .ok_or(Errno::EINVAL)?;
        *pos = new as u64;
        Ok(*pos)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> SysResult<Stat> {
        let s = self.mq.lock();
        Ok(Stat {
            mode: libc::S_IFREG | s.mode,
            nlink: 1,
            uid: s.uid,
            gid: s.gid,
            size: 80,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        let s = self.mq.lock();
        let mut r = 0;
        if !s.msgs.is_empty() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if (s.msgs.len() as i64) < self.mq.maxmsg {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r as u32
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.mq.wq)
    }
    fn always_ready(&self) -> bool {
        false
    }
    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }
    fn set_status_flags(&self, f: u32) {
        let keep = self.flags.load(Ordering::Relaxed) & !(libc::O_NONBLOCK as u32);
        self.flags
            .store(keep | (f & libc::O_NONBLOCK as u32), Ordering::Relaxed);
    }
    fn path(&self) -> Option<String> {
        Some(format!("/{}", self.name))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn read_name(t: &Task, addr: u64) -> SysResult<Vec<u8>> {
    let name = t.mm().read_cstring(addr, NAME_MAX + 2)?;
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name.contains(&b'/') || name == b"." || name == b".." {
        return Err(Errno::EACCES);
    }
    Ok(name)
}

fn read_attr(t: &Task, addr: u64) -> SysResult<[i64; 4]> {
    let mut b = [0u8; 64];
    t.mm().copy_in(addr, &mut b)?;
    let mut v = [0i64; 4];
    for (i, x) in v.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i * 8..i * 8 + 8]);
        *x = i64::from_le_bytes(w);
    }
    Ok(v)
}

/// Whether `mode` grants `want` (rwx bits 4/2/1) to the caller.
fn permits(s: &State, t: &Task, want: u32) -> bool {
    let c = t.creds();
    if c.privileged() {
        return true;
    }
    let m = if c.uid[3] == s.uid {
        s.mode >> 6
    } else if c.gid[3] == s.gid || c.groups.contains(&s.gid) {
        s.mode >> 3
    } else {
        s.mode
    };
    m & want == want
}

/// mq_open(2) (the name without glibc's leading slash).
pub fn mq_open(t: &mut Task, name: u64, oflag: i32, mode: u32, attr: u64) -> SysResult<u64> {
    let name = read_name(t, name)?;
    let acc = oflag & libc::O_ACCMODE;
    let c = t.creds();
    let privileged = c.privileged();
    let ipc = t.kernel.ipc.clone();
    let mut ns = ipc.mq();
    let mq = match ns.queues.get(&name) {
        Some(q) => {
            if oflag & libc::O_CREAT != 0 && oflag & libc::O_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            // (O_ACCMODE 3 only when creating, as Linux.)
            if acc == libc::O_ACCMODE {
                return Err(Errno::EINVAL);
            }
            let want = match acc {
                libc::O_RDONLY => 4,
                libc::O_WRONLY => 2,
                _ => 6,
            };
            if !permits(&q.lock(), t, want) {
                return Err(Errno::EACCES);
            }
            q.clone()
        }
        None if oflag & libc::O_CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let (maxmsg, msgsize) = if attr != 0 {
                let a = read_attr(t, attr)?;
                let (mm, ms) = (a[1], a[2]);
                if mm <= 0 || ms <= 0 {
                    return Err(Errno::EINVAL);
                }
                let (lm, ls) = if privileged {
                    (HARD_MSGMAX, HARD_MSGSIZEMAX)
                } else {
                    (MSG_MAX, MSGSIZE_MAX)
                };
                if mm > lm || ms > ls {
                    return Err(Errno::EINVAL);
                }
                (mm, ms)
            } else {
                (MSG_DEFAULT, MSGSIZE_DEFAULT)
            };
            // Linux's accounting against RLIMIT_MSGQUEUE: the messages and
            // their bookkeeping.
            let bytes = (maxmsg as u64)
                .saturating_mul(msgsize as u64)
                .saturating_add((maxmsg as u64).saturating_mul(64));
            if bytes > MSGQUEUE_BYTES && !privileged {
                return Err(Errno::EMFILE);
            }
            if ns.queues.len() >= QUEUES_MAX && !privileged {
                return Err(Errno::ENOSPC);
            }
            let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
            let q = Arc::new(Mq {
                maxmsg,
                msgsize,
                state: Mutex::new(State {
                    msgs: Vec::new(),
                    bytes: 0,
                    notify: None,
                    receivers: 0,
                    mode: mode & 0o777 & !umask,
                    uid: c.uid[3],
                    gid: c.gid[3],
                }),
                wq: WaitQueue::default(),
            });
            ns.queues.insert(name.clone(), q.clone());
            q
        }
    };
    drop(ns);
    let flags = (acc | (oflag & libc::O_NONBLOCK)) as u32;
    let f = Arc::new(MqFile {
        mq,
        flags: AtomicU32::new(flags),
        name: String::from_utf8_lossy(&name).into_owned(),
        pos: Mutex::new(0),
    });
    let fd = t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: true,
        },
        0,
    )?;
    Ok(fd as u64)
}

/// mq_unlink(2).
pub fn mq_unlink(t: &mut Task, name: u64) -> SysResult<u64> {
    let name = read_name(t, name)?;
    let c = t.creds();
    let ipc = t.kernel.ipc.clone();
    let mut ns = ipc.mq();
    let q = ns.queues.get(&name).ok_or(Errno::ENOENT)?;
    // The queues' directory is sticky: the owner or a privileged caller.
    if !c.privileged() && q.lock().uid != c.uid[3] {
        return Err(Errno::EACCES);
    }
    ns.queues.remove(&name);
    Ok(0)
}

fn mq_file(t: &Task, fd: i32) -> SysResult<Arc<dyn FileDescription>> {
    let f = t.fds().file(i64::from(fd))?;
    if !f.as_any().is::<MqFile>() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

/// An absolute CLOCK_REALTIME timeout as a deadline (None: none given).
fn abs_deadline(t: &Task, addr: u64) -> SysResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    t.mm().copy_in(addr, &mut b)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    let s = i64::from_le_bytes(w);
    w.copy_from_slice(&b[8..]);
    let ns = i64::from_le_bytes(w);
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    let at = Duration::new(s as u64, ns as u32);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Some(
        Instant::now()
            .checked_add(at.saturating_sub(now))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 32)),
    ))
}

/// mq_timedsend(2).
pub fn mq_timedsend(
    t: &mut Task,
    fd: i32,
    ptr: u64,
    len: u64,
    prio: u32,
    timeout: u64,
) -> SysResult<u64> {
    let deadline = abs_deadline(t, timeout)?;
    if prio >= MQ_PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    let f = mq_file(t, fd)?;
    let mf = f.as_any().downcast_ref::<MqFile>().ok_or(Errno::EBADF)?;
    if !mf.writable() {
        return Err(Errno::EBADF);
    }
    let mq = mf.mq.clone();
    if len > mq.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let mut text = vec![0u8; len as usize];
    t.mm().copy_in(ptr, &mut text)?;
    let nb = mf.nonblock();
    let (pid, uid) = (t.pid, t.creds().uid[0]);
    let mut text = Some(text);
    let notify = block_until(&*t.handle, &[&mq.wq], deadline, Errno::ETIMEDOUT, || {
        let mut s = mq.lock();
        if (s.msgs.len() as i64) >= mq.maxmsg {
            return nb.then_some(Err(Errno::EAGAIN));
        }
        if let Err(e) = super::charge_msg(len) {
            return Some(Err(e));
        }
        let m = text.take().unwrap_or_default();
        let was_empty = s.msgs.is_empty();
        s.bytes += m.len() as u64;
        let at = s.msgs.partition_point(|(p, _)| *p >= prio);
        s.msgs.insert(at, (prio, m));
        // The registered process hears of a message arriving in an empty
        // queue no receiver waits on; the registration is then used up.
        let n = if was_empty && s.receivers == 0 {
            s.notify.take()
        } else {
            None
        };
        Some(Ok(n))
    })?;
    mq.wq.notify_all();
    if let Some(n) = notify {
        if n.how == SIGEV_SIGNAL && n.signo != 0 {
            if let Some(tg) = n.tg.upgrade() {
                let info = SigInfo {
                    signo: n.signo,
                    code: SI_MESGQ,
                    pid,
                    uid,
                    value: n.value,
                    ..Default::default()
                };
                signal::send_to_process(&tg, Signal(n.signo), info);
            }
        }
    }
    Ok(0)
}

/// mq_timedreceive(2): the length of the message.
pub fn mq_timedreceive(
    t: &mut Task,
    fd: i32,
    ptr: u64,
    len: u64,
    prio_ptr: u64,
    timeout: u64,
) -> SysResult<u64> {
    let deadline = abs_deadline(t, timeout)?;
    let f = mq_file(t, fd)?;
    let mf = f.as_any().downcast_ref::<MqFile>().ok_or(Errno::EBADF)?;
    if !mf.readable() {
        return Err(Errno::EBADF);
    }
    let mq = mf.mq.clone();
    if len < mq.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let nb = mf.nonblock();
    mq.lock().receivers += 1;
    let r = block_until(&*t.handle, &[&mq.wq], deadline, Errno::ETIMEDOUT, || {
        let mut s = mq.lock();
        if s.msgs.is_empty() {
            return nb.then_some(Err(Errno::EAGAIN));
        }
        let m = s.msgs.remove(0);
        s.bytes -= m.1.len() as u64;
        super::uncharge_msg(m.1.len() as u64);
        Some(Ok(m))
    });
    mq.lock().receivers -= 1;
    let (prio, text) = r?;
    mq.wq.notify_all();
    let mut mm = t.mm();
    mm.copy_out(ptr, &text)?;
    if prio_ptr != 0 {
        mm.copy_out(prio_ptr, &prio.to_le_bytes())?;
    }
    Ok(text.len() as u64)
}

/// mq_notify(2).
pub fn mq_notify(t: &mut Task, fd: i32, sevp: u64) -> SysResult<u64> {
    let ev = if sevp != 0 {
        let mut b = [0u8; 64];
        t.mm().copy_in(sevp, &mut b)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        let value = u64::from_le_bytes(w);
        let signo = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let how = i32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        match how {
            SIGEV_NONE => {}
            SIGEV_SIGNAL => {
                // Linux accepts signal 0 (and then sends nothing).
                if signo > 64 {
                    return Err(Errno::EINVAL);
                }
            }
            // glibc's SIGEV_THREAD passes a netlink socket to be told on;
            // the sentry's netlink has no such notifications.
            SIGEV_THREAD => return Err(Errno::ENOSYS),
            _ => return Err(Errno::EINVAL),
        }
        Some((how, signo, value))
    } else {
        None
    };
    let f = mq_file(t, fd)?;
    let mf = f.as_any().downcast_ref::<MqFile>().ok_or(Errno::EBADF)?;
    let mut s = mf.mq.lock();
    let mine = s
        .notify
        .as_ref()
        .is_some_and(|n| n.pid == t.pid && n.tg.upgrade().is_some());
    let taken = s
        .notify
        .as_ref()
        .is_some_and(|n| n.tg.upgrade().is_some_and(|tg| tg.lock().zombie.is_none()));
    match ev {
        None => {
            if mine {
                s.notify = None;
            }
        }
        Some((how, signo, value)) => {
            if taken {
                return Err(Errno::EBUSY);
            }
            s.notify = Some(Notify {
                tg: Arc::downgrade(&t.handle.tg),
                pid: t.pid,
                how,
                signo,
                value,
            });
        }
    }
    Ok(0)
}

/// mq_getsetattr(2).
pub fn mq_getsetattr(t: &mut Task, fd: i32, new: u64, old: u64) -> SysResult<u64> {
    let newflags = if new != 0 {
        let a = read_attr(t, new)?;
        if a[0] & !(libc::O_NONBLOCK as i64) != 0 {
            return Err(Errno::EINVAL);
        }
        Some(a[0])
    } else {
        None
    };
    let f = mq_file(t, fd)?;
    let mf = f.as_any().downcast_ref::<MqFile>().ok_or(Errno::EBADF)?;
    let cur = mf.mq.lock().msgs.len() as i64;
    let flags = i64::from(mf.flags.load(Ordering::Relaxed) & libc::O_NONBLOCK as u32);
    if let Some(nf) = newflags {
        f.set_status_flags(nf as u32);
    }
    if old != 0 {
        let mut b = [0u8; 64];
        for (i, v) in [flags, mf.mq.maxmsg, mf.mq.msgsize, cur].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        t.mm().copy_out(old, &b)?;
    }
    Ok(0)
}
