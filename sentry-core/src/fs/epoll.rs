//! epoll: an interest list of (fd, file, events, data). Level-triggered;
//! EPOLLONESHOT disarms after a report; EPOLLET reports like level-triggered
//! (a correct superset for programs that drain until EAGAIN).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::kernel::block::{block_until, WaitQueue};
use crate::vfs::{FileDescription, Stat};

const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLWAKEUP: u32 = 1 << 29;

struct Interest {
    file: Arc<dyn FileDescription>,
    events: u32,
    data: u64,
    armed: bool,
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
                if file.always_ready() {
                    // Regular files and directories cannot be watched (EPERM, as Linux).
                    return Err(Errno::EPERM);
                }
                m.insert(
                    fd,
                    Interest {
                        file,
                        events,
                        data,
                        armed: true,
                    },
                );
            }
            libc::EPOLL_CTL_MOD => {
                let i = m.get_mut(&fd).ok_or(Errno::ENOENT)?;
                if events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                i.events = events;
                i.data = data;
                i.armed = true;
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

    fn ready(&self, max: usize) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut m = self.lock();
        for i in m.values_mut() {
            if out.len() >= max {
                break;
            }
            if !i.armed {
                continue;
            }
            let want = (i.events & !(EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP))
                | (libc::EPOLLHUP | libc::EPOLLERR) as u32;
            let r = i.file.readiness() & want;
            if r != 0 {
                out.push((r, i.data));
                if i.events & EPOLLONESHOT != 0 {
                    i.armed = false;
                }
            }
        }
        out
    }

    /// epoll_wait: up to `max` (events, data), blocking until `deadline`.
    pub fn wait(&self, max: usize, deadline: Option<Instant>) -> SysResult<Vec<(u32, u64)>> {
        let files: Vec<Arc<dyn FileDescription>> =
            self.lock().values().map(|i| i.file.clone()).collect();
        let polled = files.iter().any(|f| f.wait_queue().is_none());
        loop {
            let mut queues: Vec<&WaitQueue> = files.iter().filter_map(|f| f.wait_queue()).collect();
            queues.push(&self.own_wq);
            let step = if polled {
                let d = Instant::now() + std::time::Duration::from_millis(5);
                Some(deadline.map_or(d, |x| x.min(d)))
            } else {
                deadline
            };
            let r = block_until(&queues, step, Errno::ETIMEDOUT, || {
                let v = self.ready(max);
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
    fn read(&self, _buf: &mut [u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _buf: &[u8]) -> SysResult<usize> {
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
        if self.ready(1).is_empty() {
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
