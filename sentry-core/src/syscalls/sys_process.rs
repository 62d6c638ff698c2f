//! Process creation, exec and wait.

use crate::errno::{Errno, SysResult};
use crate::kernel::process::{self, WaitFor, WNOHANG, WNOWAIT};
use crate::kernel::Task;

use super::Args;

pub(crate) fn clone(t: &mut Task, a: &Args) -> SysResult<u64> {
    // x86-64 argument order: flags, stack, parent_tid, child_tid, tls. As
    // Linux, clone(2) takes only the low 32 bits of the flags (the flags that
    // need more exist only in clone3).
    use process::flags::*;
    let fl = a[0] & 0xffff_ffff;
    // CLONE_PIDFD stores the pidfd where CLONE_PARENT_SETTID would store the tid.
    let pidfd = if fl & CLONE_PIDFD != 0 {
        if fl & CLONE_PARENT_SETTID != 0 {
            return Err(Errno::EINVAL);
        }
        a[2]
    } else {
        0
    };
    process::clone_with_pidfd(t, fl, a[1], a[2], a[3], a[4], pidfd)
}

pub(crate) fn fork(t: &mut Task, _: &Args) -> SysResult<u64> {
    process::clone(t, libc::SIGCHLD as u64, 0, 0, 0, 0)
}

pub(crate) fn vfork(t: &mut Task, _: &Args) -> SysResult<u64> {
    use process::flags::*;
    process::clone(t, CLONE_VM | CLONE_VFORK | libc::SIGCHLD as u64, 0, 0, 0, 0)
}

/// clone3(2): `struct clone_args` checked as Linux checks it (size, unknown
/// flags, exit signal, set_tid, stack, cgroup) before any child is made.
pub(crate) fn clone3(t: &mut Task, a: &Args) -> SysResult<u64> {
    use process::flags::*;
    /// struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2).
    const KNOWN: usize = 88;
    let size = a[1] as usize;
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    if size < 64 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; size];
    t.mm().copy_in(a[0], &mut b)?;
    // A newer, larger struct is fine if what we do not know is zero.
    if b.len() > KNOWN && b[KNOWN..].iter().any(|&x| x != 0) {
        return Err(Errno::E2BIG);
    }
    b.resize(KNOWN, 0);
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal,
    // stack, stack_size, tls, set_tid, set_tid_size, cgroup.
    let (flags, child_tid, parent_tid, exit_signal) = (w(0), w(2), w(3), w(4));
    let (stack, stack_size, tls) = (w(5), w(6), w(7));
    let (set_tid, set_tid_size, cgroup) = (w(8), w(9), w(10));
    if flags & !(0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
        return Err(Errno::EINVAL);
    }
    // MAX_PID_NS_LEVEL is 32.
    if set_tid_size > 32 || (set_tid == 0) != (set_tid_size == 0) {
        return Err(Errno::EINVAL);
    }
    if exit_signal & !CSIGNAL != 0 || exit_signal > u64::from(crate::abi::NSIG) {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_INTO_CGROUP != 0 && (cgroup > i32::MAX as u64 || size < KNOWN) {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_CLEAR_SIGHAND != 0 {
        return Err(Errno::EINVAL);
    }
    // The low byte is the exit signal in clone(2); in clone3 only
    // CLONE_NEWTIME may be there.
    if flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEWTIME != 0 {
        // New namespaces are not available in the sandbox.
        return Err(Errno::EPERM);
    }
    if set_tid != 0 || flags & CLONE_INTO_CGROUP != 0 {
        // Choosing the child's pid or cgroup is not supported.
        return Err(Errno::EINVAL);
    }
    let top = if stack != 0 {
        stack.wrapping_add(stack_size)
    } else {
        0
    };
    let pidfd = if flags & CLONE_PIDFD != 0 { w(1) } else { 0 };
    process::clone_with_pidfd(
        t,
        flags | exit_signal,
        top,
        parent_tid,
        child_tid,
        tls,
        pidfd,
    )
}

fn read_strings(t: &mut Task, mut addr: u64) -> SysResult<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    if addr == 0 {
        return Ok(v);
    }
    let mut total = 0usize;
    loop {
        let p = t.mm().read_u64(addr)?;
        if p == 0 {
            return Ok(v);
        }
        let s = t.mm().read_cstring(p, 128 * 1024).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        total += s.len() + 1 + 8;
        if total > 2 * 1024 * 1024 || v.len() >= 1 << 16 {
            return Err(Errno::E2BIG);
        }
        v.push(s);
        addr += 8;
    }
}

pub(crate) fn execve(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.read_path(a[0])?;
    let argv = read_strings(t, a[1])?;
    let envp = read_strings(t, a[2])?;
    process::execve(t, &path, argv, envp)
}

pub(crate) fn execveat(t: &mut Task, a: &Args) -> SysResult<u64> {
    let path = t.mm().read_cstring(a[1], 4095)?;
    let dirfd = a[0] as i32;
    if path.first() != Some(&b'/') && dirfd != libc::AT_FDCWD {
        // Relative to a directory fd: not supported by the host view yet.
        return Err(Errno::ENOSYS);
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let argv = read_strings(t, a[2])?;
    let envp = read_strings(t, a[3])?;
    process::execve(t, &path, argv, envp)
}

fn which(pid: i32, t: &Task) -> WaitFor {
    match pid {
        -1 => WaitFor::Any,
        0 => WaitFor::Pgid(t.handle.tg.lock().pgid),
        p if p < -1 => WaitFor::Pgid(-p),
        p => WaitFor::Pid(p),
    }
}

pub(crate) fn wait4(t: &mut Task, a: &Args) -> SysResult<u64> {
    let (pid, status, options) = (a[0] as i32, a[1], a[2]);
    if options
        & !(WNOHANG
            | process::WUNTRACED
            | process::WCONTINUED
            | process::WNOTHREAD
            | process::WALL
            | process::WCLONE)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    let w = which(pid, t);
    match process::wait_child(t, w, options)? {
        None => Ok(0),
        Some((pid, st)) => {
            if status != 0 {
                t.mm().copy_out(status, &st.status().to_le_bytes())?;
            }
            if a[3] != 0 {
                t.mm().copy_out(a[3], &[0u8; 144])?;
            }
            Ok(pid as u64)
        }
    }
}

pub(crate) fn waitid(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::kernel::process::WaitEvent;
    use crate::kernel::signal::SigInfo;
    const P_ALL: u64 = 0;
    const P_PID: u64 = 1;
    const P_PGID: u64 = 2;
    const WEXITED: u64 = 4;
    const WSTOPPED: u64 = 2;
    let (idtype, id, infop, options) = (a[0], a[1] as i32, a[2], a[3]);
    let known = WNOHANG
        | WNOWAIT
        | WEXITED
        | WSTOPPED
        | process::WCONTINUED
        | process::WNOTHREAD
        | process::WALL
        | process::WCLONE;
    if options & !known != 0 || options & (WEXITED | WSTOPPED | process::WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    const P_PIDFD: u64 = 3;
    let mut pidfd_nonblock = false;
    let w = match idtype {
        P_ALL => WaitFor::Any,
        P_PID => WaitFor::Pid(id),
        P_PGID => WaitFor::Pgid(if id == 0 { t.handle.tg.lock().pgid } else { id }),
        P_PIDFD => {
            let (f, tg, _, _) = super::sys_pidfd::pidfd_of(t, id)?;
            pidfd_nonblock = f.status_flags() & libc::O_NONBLOCK as u32 != 0;
            WaitFor::Pid(tg.pid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let mut opts = options & (WNOHANG | WNOWAIT | process::WCONTINUED);
    if options & WSTOPPED != 0 {
        opts |= process::WUNTRACED;
    }
    if pidfd_nonblock {
        opts |= WNOHANG;
    }
    let r = process::wait_child(t, w, opts)?;
    if r.is_none() && pidfd_nonblock && options & WNOHANG == 0 {
        // A non-blocking pidfd's child that has not changed state yet.
        return Err(Errno::EAGAIN);
    }
    if infop != 0 {
        let uid = t.creds().uid[0];
        let info = match r {
            Some((pid, WaitEvent::Exited(st))) => SigInfo::child(pid, uid, st).to_bytes(),
            Some((pid, WaitEvent::Stopped(sig))) => SigInfo {
                signo: 17,
                code: 5,
                pid,
                uid,
                status: sig as i32,
                ..Default::default()
            }
            .to_bytes(),
            Some((pid, WaitEvent::Continued)) => SigInfo {
                signo: 17,
                code: 6,
                pid,
                uid,
                status: 18,
                ..Default::default()
            }
            .to_bytes(),
            None => [0u8; 128],
        };
        t.mm().copy_out(infop, &info)?;
    }
    Ok(0)
}
