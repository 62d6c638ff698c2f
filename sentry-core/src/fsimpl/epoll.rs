//! epoll: an interest list of (fd, file, events, data).
//!
//! - Level-triggered by default: reported while ready.
//! - EPOLLET: reported when ready and something happened to the file since
//!   the last report (its wait queue was notified), so a program that does
//!   not drain sees no new event until new data arrives. Spurious extra
//!   events are possible (every notification counts), missed ones are not.
//! - EPOLLONESHOT: disarmed after one report until EPOLL_CTL_MOD.
//! - EPOLLEXCLUSIVE: the waiter sleeps on the file's queue exclusively, so
//!   one event wakes one of several exclusive waiters rather than all.
//! - An interest goes away when its file description is closed for good
//!   (the list holds it weakly), as on Linux.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Stat};
use crate::waiter::{block_until_on, WaitQueue};

const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLWAKEUP: u32 = 1 << 29;
/// What may accompany EPOLLEXCLUSIVE.
const EXCLUSIVE_OK: u32 = libc::EPOLLIN as u32
    | libc::EPOLLOUT as u32
    | libc::EPOLLERR as u32
    | libc::EPOLLHUP as u32
    | EPOLLWAKEUP
    | EPOLLET
    | EPOLLEXCLUSIVE;

struct Interest {
    file: Weak<dyn FileDescription>,
    events: u32,
    data: u64,
    armed: bool,
    /// Edge-triggered: the file's queue generation at the last report.
    reported_at: Option<u64>,
}

/// An epoll instance.
#[derive(Default)]
pub struct Epoll {
    interests: Mutex<BTreeMap<i64, Interest>>,
    own_wq: WaitQueue,
}

impl Epoll {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Interest>> {
        self.interests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file registered as `fd` (kcmp's KCMP_EPOLL_TFD), if it is still open.
    pub fn target_file(&self, fd: i32) -> Option<std::sync::Arc<dyn FileDescription>> {
        self.lock()
            .get(&i64::from(fd))
            .and_then(|i| i.file.upgrade())
    }

    /// epoll_ctl.
    pub fn ctl(
        &self,
        op: i32,
        fd: i64,
        file: Option<Arc<dyn FileDescription>>,
        events: u32,
        data: u64,
    ) -> SysResult<()> {
        let mut m = self.lock();
        m.retain(|_, i| i.file.strong_count() > 0);
        match op {
            libc::EPOLL_CTL_ADD => {
                if m.contains_key(&fd) {
                    return Err(Errno::EEXIST);
                }
                let file = file.ok_or(Errno::EBADF)?;
                if file.always_ready() && file.wait_queue().is_none() && file.as_any().is::<Epoll>()
                {
                    return Err(Errno::EINVAL);
                }
                if events & EPOLLEXCLUSIVE != 0
                    && (events & !EXCLUSIVE_OK != 0 || file.as_any().is::<Epoll>())
                {
                    return Err(Errno::EINVAL);
                }
                if file.always_ready() {
                    // Regular files and directories cannot be watched (EPERM, as Linux).
                    return Err(Errno::EPERM);
                }
                m.insert(
                    fd,
                    Interest {
                        file: Arc::downgrade(&file),
                        events,
                        data,
                        armed: true,
                        reported_at: None,
                    },
                );
            }
            libc::EPOLL_CTL_MOD => {
                let i = m.get_mut(&fd).ok_or(Errno::ENOENT)?;
                if events & EPOLLEXCLUSIVE != 0 || i.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                i.events = events;
                i.data = data;
                i.armed = true;
                i.reported_at = None;
            }
            libc::EPOLL_CTL_DEL => {
                m.remove(&fd).ok_or(Errno::ENOENT)?;
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(m);
        self.own_wq.notify_all();
        Ok(())
    }

    /// Ready interests, at most `max`. Exclusive interests count only when
    /// `exclusive_ok` (the waiter was woken for them, or this is the first
    /// look); `consume` applies EPOLLET and EPOLLONESHOT (false: a peek,
    /// for poll on the epoll itself).
    fn ready(
        &self,
        ctx: Option<&dyn TaskContext>,
        max: usize,
        exclusive_ok: bool,
        consume: bool,
    ) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut m = self.lock();
        // Interests whose file is gone (closed everywhere) are dropped.
        m.retain(|_, i| i.file.strong_count() > 0);
        for i in m.values_mut() {
            if out.len() >= max {
                break;
            }
            if !i.armed || (!exclusive_ok && i.events & EPOLLEXCLUSIVE != 0) {
                continue;
            }
            let Some(file) = i.file.upgrade() else {
                continue;
            };
            let want = (i.events & !(EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP))
                | (libc::EPOLLHUP | libc::EPOLLERR) as u32;
            // Read the generation before the readiness: a notification in
            // between makes the next check report again (never miss one).
            let generation = file.wait_queue().map_or(0, |q| q.generation());
            let r = ctx.map_or_else(|| file.readiness(), |c| file.readiness_for(c)) & want;
            if r == 0 {
                continue;
            }
            if i.events & EPOLLET != 0 {
                if i.reported_at == Some(generation) {
                    continue;
                }
                if consume {
                    i.reported_at = Some(generation);
                }
            }
            out.push((r, i.data));
            if consume && i.events & EPOLLONESHOT != 0 {
                i.armed = false;
            }
        }
        out
    }

    /// epoll_wait: up to `max` (events, data), blocking until `deadline`.
    pub fn wait(
        &self,
        w: &dyn TaskContext,
        max: usize,
        deadline: Option<Instant>,
    ) -> SysResult<Vec<(u32, u64)>> {
        let files: Vec<(Arc<dyn FileDescription>, bool)> = self
            .lock()
            .values()
            .filter_map(|i| Some((i.file.upgrade()?, i.events & EPOLLEXCLUSIVE != 0)))
            .collect();
        let polled = files.iter().any(|f| f.0.wait_queue().is_none());
        // Exclusive interests are reported on the first look and after this
        // waiter was the one an event woke, as Linux queues them only then.
        let waker = w.waker();
        let wakes_at_start = waker.exclusive_wakes();
        let mut first = true;
        loop {
            let mut queues: Vec<(&WaitQueue, bool)> = files
                .iter()
                .filter_map(|(f, excl)| Some((f.wait_queue()?, *excl)))
                .collect();
            queues.push((&self.own_wq, false));
            let step = if polled {
                let d = Instant::now() + std::time::Duration::from_millis(5);
                Some(deadline.map_or(d, |x| x.min(d)))
            } else {
                deadline
            };
            let r = block_until_on(w, &queues, step, Errno::ETIMEDOUT, || {
                let exclusive_ok =
                    std::mem::take(&mut first) || waker.exclusive_wakes() != wakes_at_start;
                let v = self.ready(Some(w), max, exclusive_ok, true);
                (!v.is_empty()).then_some(Ok(v))
            });
            match r {
                Err(Errno::ETIMEDOUT) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Vec::new());
                    }
                    if !polled {
                        // The interest list may have changed: pick up new queues.
                        continue;
                    }
                }
                other => return other,
            }
        }
    }
}

impl FileDescription for Epoll {
    fn anon_name(&self) -> Option<&'static str> {
        Some("[eventpoll]")
    }
    fn read(&self, _ctx: &dyn TaskContext, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _ctx: &dyn TaskContext, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> SysResult<Stat> {
        Ok(Stat {
            mode: 0o600,
            nlink: 1,
            ..Default::default()
        })
    }
    fn readiness(&self) -> u32 {
        if self.ready(None, 1, true, false).is_empty() {
            0
        } else {
            libc::POLLIN as u32
        }
    }
    fn readiness_for(&self, ctx: &dyn TaskContext) -> u32 {
        if self.ready(Some(ctx), 1, true, false).is_empty() {
            0
        } else {
            libc::POLLIN as u32
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        None
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
