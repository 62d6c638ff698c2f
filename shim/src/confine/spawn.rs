//! Spawning a sandbox process into new namespaces (clone).

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use anyhow::{bail, Result};

/// Spawns `exe` with `argv` and `envp` in new namespaces (`flags`: CLONE_NEW*),
/// with `fds` (source, target) as its only descriptors besides stdio.
/// Returns its pid.
pub fn spawn(
    exe: &CStr,
    argv: &[CString],
    envp: &[CString],
    fds: &[(RawFd, RawFd)],
    flags: libc::c_int,
) -> Result<libc::pid_t> {
    spawn_in(exe, argv, envp, fds, flags, None)
}

/// As [`spawn`]; with `netns` (a network namespace file's descriptor, and
/// no CLONE_NEWNET in `flags`) the child enters that network namespace
/// before it executes.
pub fn spawn_in(
    exe: &CStr,
    argv: &[CString],
    envp: &[CString],
    fds: &[(RawFd, RawFd)],
    flags: libc::c_int,
    netns: Option<RawFd>,
) -> Result<libc::pid_t> {
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    let top = fds.iter().map(|&(_, t)| t).max().unwrap_or(2).max(2);
    // SAFETY: a fork-like clone (no CLONE_VM): the child gets a copy of the
    // address space and runs only async-signal-safe calls (dup2, fcntl,
    // close_range, execve, _exit) on data prepared above.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        bail!(
            "creating a process in new namespaces: {} (gvisor needs root or CAP_SYS_ADMIN)",
            std::io::Error::last_os_error()
        );
    }
    if pid > 0 {
        return Ok(pid as libc::pid_t);
    }
    // Child. It dies with the launcher (nothing is left behind if the
    // launcher is killed). (In a new PID namespace getppid() is 0, so a
    // launcher that died before this point cannot be detected here; the
    // window is the few instructions since clone.)
    // Then move the sources out of the way first, so that a source equal
    // to another pair's target is not clobbered.
    // SAFETY: prctl, then plain descriptor calls on our own table, then
    // exec or _exit.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if let Some(ns) = netns {
            if libc::setns(ns, libc::CLONE_NEWNET) < 0 {
                libc::_exit(127);
            }
        }
        let base = 1000;
        for (i, &(src, _)) in fds.iter().enumerate() {
            if libc::dup2(src, base + i as RawFd) < 0 {
                libc::_exit(127);
            }
        }
        for (i, &(_, dst)) in fds.iter().enumerate() {
            if libc::dup2(base + i as RawFd, dst) < 0 {
                libc::_exit(127);
            }
        }
        libc::syscall(libc::SYS_close_range, (top + 1) as u32, u32::MAX, 0u32);
        libc::execve(exe.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
        libc::_exit(127);
    }
}

/// Namespaces of the sentry besides the network's (a new one in network
/// modes none and sandbox, the sandbox's in mode host).
pub const SENTRY_NAMESPACES: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
/// Namespaces of a gofer (it needs no network at all).
pub const GOFER_NAMESPACES: libc::c_int = SENTRY_NAMESPACES | libc::CLONE_NEWNET;
