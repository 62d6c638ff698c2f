//! pidfd_open, pidfd_send_signal, pidfd_getfd and kcmp: calls that name a
//! process by a file, or compare what two processes share.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::pidfd::PidFd;
use crate::kernel::task::{TaskHandle, ThreadGroup};
use crate::kernel::Task;

use super::Args;

const PIDFD_NONBLOCK: u32 = libc::O_NONBLOCK as u32;
const PIDFD_THREAD: u32 = libc::O_EXCL as u32;

/// Installs a new pidfd for `tg` (thread `tid` when `thread`); always close-on-exec.
pub(crate) fn install_pidfd(
    t: &Task,
    tg: Arc<ThreadGroup>,
    tid: i32,
    thread: bool,
    nonblock: bool,
) -> SysResult<i64> {
    let f = Arc::new(PidFd::new(tg, tid, thread, nonblock));
    t.fds().install(
        crate::vfs::FdEntry {
            file: f,
            cloexec: true,
        },
        0,
    )
}

pub(crate) fn pidfd_open(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid, flags) = (a.int(0), a.uint(1));
    if flags & !(PIDFD_NONBLOCK | PIDFD_THREAD) != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let thread = flags & PIDFD_THREAD != 0;
    let tg = {
        let procs = t.kernel.procs();
        match procs.tgs.get(&pid) {
            Some(tg) => tg.clone(),
            None => match procs.tasks.get(&pid) {
                // A thread that does not lead its group: only as a thread pidfd.
                Some(h) if thread => h.tg.clone(),
                Some(_) => return Err(Errno::ENOENT),
                None => return Err(Errno::ESRCH),
            },
        }
    };
    let fd = install_pidfd(t, tg, pid, thread, flags & PIDFD_NONBLOCK != 0)?;
    Ok(fd as u64)
}

/// A pidfd's open file, process, thread id and whether it names the thread.
pub(crate) type PidFdParts = (
    Arc<dyn crate::vfs::FileDescription>,
    Arc<ThreadGroup>,
    i32,
    bool,
);

/// The pidfd behind `fd`: EBADF when it is not one.
pub(crate) fn pidfd_of(t: &Task, fd: i32) -> SysResult<PidFdParts> {
    let f = t.fds().file(fd.into())?;
    let (tg, tid, thread) = {
        let p = f.as_any().downcast_ref::<PidFd>().ok_or(Errno::EBADF)?;
        (p.tg.clone(), p.tid, p.thread)
    };
    Ok((f, tg, tid, thread))
}

/// Whether `tg` is still the process its pid names (not reaped).
fn alive(t: &Task, tg: &Arc<ThreadGroup>) -> bool {
    t.kernel
        .procs()
        .tgs
        .get(&tg.pid)
        .is_some_and(|x| Arc::ptr_eq(x, tg))
}

const PIDFD_SIGNAL_THREAD: u32 = 1;
const PIDFD_SIGNAL_THREAD_GROUP: u32 = 2;
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 4;

pub(crate) fn pidfd_send_signal(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::kernel::signal::Signal;
    let (fd, sig, info_ptr, flags) = (a.fd(0), a.uint(1), a.ptr(2), a.uint(3));
    let all = PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP;
    if flags & !all != 0 || flags.count_ones() > 1 {
        return Err(Errno::EINVAL);
    }
    let (_f, tg, tid, thread) = pidfd_of(t, fd)?;
    if sig > crate::abi::NSIG {
        return Err(Errno::EINVAL);
    }
    let scope = match flags {
        0 if thread => PIDFD_SIGNAL_THREAD,
        0 => PIDFD_SIGNAL_THREAD_GROUP,
        f => f,
    };
    let info = if info_ptr != 0 {
        let info = super::sys_signal::read_siginfo(t, info_ptr, sig)?;
        let signo = {
            let mut b = [0u8; 4];
            t.mm().copy_in(info_ptr, &mut b)?;
            u32::from_le_bytes(b)
        };
        if signo != sig {
            return Err(Errno::EINVAL);
        }
        // Only the kernel may claim si_code >= 0 (or SI_TKILL) for another process.
        if !Arc::ptr_eq(&tg, &t.handle.tg) && (info.code >= 0 || info.code == -6) {
            return Err(Errno::EPERM);
        }
        Some(info)
    } else {
        None
    };
    if !alive(t, &tg) {
        return Err(Errno::ESRCH);
    }
    match scope {
        PIDFD_SIGNAL_THREAD => {
            let live = tg.lock().threads.iter().any(|h| h.tid == tid);
            if !live {
                return Err(Errno::ESRCH);
            }
            super::sys_signal::signal_thread(t, Some(tg.pid), tid, sig)
        }
        PIDFD_SIGNAL_PROCESS_GROUP => {
            let pgid = tg.lock().pgid;
            crate::kernel::process::kill(t, -pgid, sig)
        }
        _ => {
            if tg.lock().zombie.is_some() || sig == 0 {
                // Signals to an exited, unreaped process go nowhere.
                return Ok(0);
            }
            if tg.pid != t.pid && crate::kernel::signal::init_ignores(&tg, sig) {
                return Ok(0);
            }
            match info {
                Some(info) => crate::kernel::signal::send_to_process(&tg, Signal(sig), info),
                None => return crate::kernel::process::kill(t, tg.pid, sig),
            }
            Ok(0)
        }
    }
}

/// Whether the caller may take another process's files or compare its state.
fn may_inspect(t: &Task, tg: &ThreadGroup) -> bool {
    tg.ptrace_access_by(&t.handle.tg, &t.creds())
}

/// A live thread of `tg` (its descriptor table, memory and fs context are the process's).
fn some_thread(tg: &ThreadGroup) -> Option<Arc<TaskHandle>> {
    tg.lock().threads.first().cloned()
}

pub(crate) fn pidfd_getfd(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (fd, target, flags) = (a.fd(0), a.int(1), a.uint(2));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (_f, tg, _, _) = pidfd_of(t, fd)?;
    if !alive(t, &tg) {
        return Err(Errno::ESRCH);
    }
    if !may_inspect(t, &tg) {
        return Err(Errno::EPERM);
    }
    let h = some_thread(&tg).ok_or(Errno::EBADF)?;
    let fds = h
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .fds
        .upgrade()
        .ok_or(Errno::EBADF)?;
    let file = if target < 0 {
        return Err(Errno::EBADF);
    } else {
        fds.lock()
            .unwrap_or_else(|p| p.into_inner())
            .file(target.into())?
    };
    let n = t.fds().install(
        crate::vfs::FdEntry {
            file,
            cloexec: true,
        },
        0,
    )?;
    Ok(n as u64)
}

// kcmp types.
const KCMP_FILE: u32 = 0;
const KCMP_VM: u32 = 1;
const KCMP_FILES: u32 = 2;
const KCMP_FS: u32 = 3;
const KCMP_SIGHAND: u32 = 4;
const KCMP_IO: u32 = 5;
const KCMP_SYSVSEM: u32 = 6;
const KCMP_EPOLL_TFD: u32 = 7;

/// Orders two kernel objects as Linux's kcmp does: 0 the same, else 1 or 2 by
/// an obfuscated order (the addresses mixed with a per-sandbox key, so the
/// order says nothing about where they live).
fn order(t: &Task, a: usize, b: usize) -> u64 {
    if a == b {
        return 0;
    }
    static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let _ = t;
    let key = *KEY.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x6b63_6d70u64)
    });
    let (x, y) = ((a as u64) ^ key, (b as u64) ^ key);
    if x < y {
        1
    } else {
        2
    }
}

pub(crate) fn kcmp(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid1, pid2, ty) = (a.int(0), a.int(1), a.uint(2));
    let find = |pid: i32| -> SysResult<Arc<TaskHandle>> {
        if pid == t.tid {
            return Ok(t.handle.clone());
        }
        t.kernel
            .procs()
            .tasks
            .get(&pid)
            .cloned()
            .ok_or(Errno::ESRCH)
    };
    let h1 = find(pid1)?;
    let h2 = find(pid2)?;
    if !may_inspect(t, &h1.tg) || !may_inspect(t, &h2.tg) {
        return Err(Errno::EPERM);
    }
    let info = |h: &TaskHandle| {
        let i = h.info.lock().unwrap_or_else(|p| p.into_inner());
        (i.fds.clone(), i.mm.clone(), i.fsctx.clone())
    };
    let (fds1, mm1, fs1) = info(&h1);
    let (fds2, mm2, fs2) = info(&h2);
    let file_of = |fds: &std::sync::Weak<std::sync::Mutex<crate::vfs::FdTable>>, fd: u64| {
        let fds = fds.upgrade().ok_or(Errno::EBADF)?;
        let f = fds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .file(fd as u32 as i32 as i64);
        f
    };
    let ptr_file = |f: &Arc<dyn crate::vfs::FileDescription>| Arc::as_ptr(f) as *const () as usize;
    match ty {
        KCMP_FILE => {
            let f1 = file_of(&fds1, a[3])?;
            let f2 = file_of(&fds2, a[4])?;
            Ok(order(t, ptr_file(&f1), ptr_file(&f2)))
        }
        KCMP_VM => Ok(order(t, mm1.as_ptr() as usize, mm2.as_ptr() as usize)),
        KCMP_FILES => Ok(order(t, fds1.as_ptr() as usize, fds2.as_ptr() as usize)),
        KCMP_FS => Ok(order(t, fs1.as_ptr() as usize, fs2.as_ptr() as usize)),
        KCMP_SIGHAND => Ok(order(
            t,
            &h1.tg.actions as *const _ as usize,
            &h2.tg.actions as *const _ as usize,
        )),
        // One I/O context and one SysV semaphore undo list per process here.
        KCMP_IO | KCMP_SYSVSEM => Ok(order(
            t,
            Arc::as_ptr(&h1.tg) as usize,
            Arc::as_ptr(&h2.tg) as usize,
        )),
        KCMP_EPOLL_TFD => {
            // idx2 points at struct kcmp_epoll_slot { efd, tfd, toff }.
            let mut b = [0u8; 12];
            t.mm().copy_in(a[4], &mut b)?;
            let efd = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let tfd = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            let f1 = file_of(&fds1, a[3])?;
            let ep = file_of(&fds2, u64::from(efd))?;
            let ep = ep
                .as_any()
                .downcast_ref::<crate::fsimpl::epoll::Epoll>()
                .ok_or(Errno::EINVAL)?;
            let target = ep.target_file(tfd as i32).ok_or(Errno::ENOENT)?;
            Ok(order(t, ptr_file(&f1), ptr_file(&target)))
        }
        _ => Err(Errno::EINVAL),
    }
}
