//! seccomp(2) and prctl(PR_SET_SECCOMP/PR_GET_SECCOMP): a program's own
//! filters (kernel/seccomp_filter.rs), enforced by the sentry in
//! [`enforce`] before the container's OCI profile and the handler.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::seccomp_filter::{
    self as sf, ret, Filter, Insn, SeccompData, AUDIT_ARCH_X86_64, BPF_MAXINSNS,
    MAX_INSNS_PER_PATH, MODE_DISABLED, MODE_FILTER, MODE_STRICT,
};
use crate::kernel::signal::Signal;
use crate::kernel::{ExitStatus, Task};

use super::Args;

// seccomp(2) operations.
const SET_MODE_STRICT: u32 = 0;
const SET_MODE_FILTER: u32 = 1;
const GET_ACTION_AVAIL: u32 = 2;
const GET_NOTIF_SIZES: u32 = 3;

// SECCOMP_FILTER_FLAG_*.
const FLAG_TSYNC: u32 = 1 << 0;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
const FLAG_NEW_LISTENER: u32 = 1 << 3;
const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;
/// The flags served; NEW_LISTENER and WAIT_KILLABLE_RECV (user-space
/// notification) answer EINVAL, as a kernel without them does, so that
/// libseccomp's probe sees them as missing.
const FLAGS_SERVED: u32 = FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC_ESRCH;

/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

/// seccomp(operation, flags, args).
pub(crate) fn seccomp(t: &mut Task, a: &Args) -> SysResult<u64> {
    do_seccomp(t, a.uint(0), a.uint(1), a.ptr(2))
}

fn do_seccomp(t: &mut Task, op: u32, flags: u32, uargs: u64) -> SysResult<u64> {
    match op {
        SET_MODE_STRICT => {
            if flags != 0 || uargs != 0 {
                return Err(Errno::EINVAL);
            }
            set_strict(t)
        }
        SET_MODE_FILTER => set_filter(t, flags, uargs),
        GET_ACTION_AVAIL => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let mut b = [0u8; 4];
            t.mm().copy_in(uargs, &mut b)?;
            if sf::action_known(u32::from_le_bytes(b)) {
                Ok(0)
            } else {
                Err(Errno::EOPNOTSUPP)
            }
        }
        GET_NOTIF_SIZES => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            // struct seccomp_notif (80), seccomp_notif_resp (24), seccomp_data (64).
            let mut b = [0u8; 6];
            b[0..2].copy_from_slice(&80u16.to_le_bytes());
            b[2..4].copy_from_slice(&24u16.to_le_bytes());
            b[4..6].copy_from_slice(&64u16.to_le_bytes());
            t.mm().copy_out(uargs, &b)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

use crate::kernel::seccomp_filter::effective_mode;

fn set_strict(t: &mut Task) -> SysResult<u64> {
    let _tg = t.handle.tg.lock();
    if effective_mode(&t.handle) != MODE_DISABLED {
        return Err(Errno::EINVAL);
    }
    t.handle.seccomp.set_mode(MODE_STRICT);
    Ok(0)
}

/// Reads and checks a `struct sock_fprog` as seccomp_prepare_user_filter does.
fn prepare(t: &Task, uargs: u64) -> SysResult<Vec<Insn>> {
    let mut hdr = [0u8; 16];
    t.mm().copy_in(uargs, &mut hdr)?;
    let len = u16::from_le_bytes([hdr[0], hdr[1]]) as usize;
    let ptr = u64::from_le_bytes(hdr[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    if len == 0 || len > BPF_MAXINSNS {
        return Err(Errno::EINVAL);
    }
    let nnp = t.handle.no_new_privs.load(Ordering::SeqCst);
    if !nnp && t.creds().caps.effective & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EACCES);
    }
    if ptr == 0 {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; len * 8];
    t.mm().copy_in(ptr, &mut bytes)?;
    let prog: Vec<Insn> = bytes
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    sf::check(&prog)
}

fn set_filter(t: &mut Task, flags: u32, uargs: u64) -> SysResult<u64> {
    let all = FLAGS_SERVED | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV;
    if flags & !all != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FLAG_TSYNC != 0 && flags & FLAG_NEW_LISTENER != 0 && flags & FLAG_TSYNC_ESRCH == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FLAG_WAIT_KILLABLE_RECV != 0 && flags & FLAG_NEW_LISTENER == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !FLAGS_SERVED != 0 {
        // User-space notification (listener fds) is not built.
        return Err(Errno::EINVAL);
    }
    let prog = prepare(t, uargs)?;
    let tg = t.handle.tg.clone();
    // The process's lock orders this against other threads' TSYNC and clone.
    let st = tg.lock();
    let mode = effective_mode(&t.handle);
    if mode != MODE_DISABLED && mode != MODE_FILTER {
        return Err(Errno::EINVAL);
    }
    let prev = t.handle.seccomp.chain();
    let new = Arc::new(Filter::new(prog, flags & FLAG_LOG != 0, prev.clone()));
    if new.path_insns() > MAX_INSNS_PER_PATH {
        return Err(Errno::ENOMEM);
    }
    let others: Vec<_> = st
        .threads
        .iter()
        .filter(|h| h.tid != t.tid)
        .cloned()
        .collect();
    if flags & FLAG_TSYNC != 0 {
        // Every other thread must have no filter, or filters this thread's
        // chain extends; the first that has not is named.
        for o in &others {
            let ok = match o.seccomp.mode() {
                MODE_DISABLED => true,
                MODE_FILTER => match o.seccomp.chain() {
                    None => true,
                    Some(of) => prev.as_ref().is_some_and(|p| p.descends_from(&of)),
                },
                _ => false,
            };
            if !ok {
                if flags & FLAG_TSYNC_ESRCH != 0 {
                    return Err(Errno::ESRCH);
                }
                return Ok(o.tid as u64);
            }
        }
    }
    *t.handle.seccomp.filter() = Some(new.clone());
    t.handle.seccomp.set_mode(MODE_FILTER);
    if flags & FLAG_TSYNC != 0 {
        let nnp = t.handle.no_new_privs.load(Ordering::SeqCst);
        for o in &others {
            *o.seccomp.filter() = Some(new.clone());
            if nnp {
                o.no_new_privs.store(true, Ordering::SeqCst);
            }
            o.seccomp.set_mode(MODE_FILTER);
        }
    }
    Ok(0)
}

/// prctl(PR_SET_SECCOMP, mode, filter).
pub(crate) fn prctl_set(t: &mut Task, mode: u64, filter: u64) -> SysResult<u64> {
    match mode {
        1 => do_seccomp(t, SET_MODE_STRICT, 0, 0),
        2 => do_seccomp(t, SET_MODE_FILTER, 0, filter),
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_GET_SECCOMP) (strict mode never gets here: the call kills).
pub(crate) fn prctl_get(t: &mut Task) -> SysResult<u64> {
    Ok(u64::from(effective_mode(&t.handle)))
}

/// The calls strict mode allows: read, write, _exit, rt_sigreturn.
const STRICT_ALLOWED: [i32; 4] = [0, 1, 60, 15];

/// What the dispatcher does with a call after the program's own seccomp
/// state (and the container's profile) had their say.
pub enum Outcome {
    /// Run the handler (`log`: note it first).
    Run {
        /// LOG action (or a logging filter).
        log: bool,
    },
    /// Do not run it; RAX gets this value.
    Skip(u64),
    /// Do not run it; it fails with this errno.
    Fail(Errno),
}

/// Applies the program's filters (when the thread has any: one atomic load
/// otherwise) and the container's OCI verdict, the action of highest
/// precedence winning, as filters stacked on one chain would.
pub fn enforce(t: &mut Task, nr: u64, args: &Args) -> Outcome {
    let mode = t.handle.seccomp.mode();
    let oci = t.handle.tg.container.seccomp.as_ref().map(|f| {
        use crate::kernel::seccomp::Action;
        match f.decide(nr, args) {
            Action::Allow => ret::ALLOW,
            Action::Log => ret::LOG,
            Action::Errno(e) => ret::ERRNO | e.min(ret::DATA),
            Action::Kill => ret::KILL_PROCESS,
            Action::Trap => ret::TRAP,
        }
    });
    if mode == MODE_DISABLED && oci.is_none_or(|r| r == ret::ALLOW) {
        return Outcome::Run { log: false };
    }
    let d = SeccompData {
        nr: nr as u32 as i32,
        arch: AUDIT_ARCH_X86_64,
        ip: t.regs.rip,
        args: args.0,
    };
    if mode == MODE_STRICT && !STRICT_ALLOWED.contains(&d.nr) {
        tracing::info!(
            tid = t.tid,
            nr,
            "seccomp strict mode: system call not allowed, thread killed by SIGKILL"
        );
        kill_thread(t, Signal::SIGKILL);
        return Outcome::Skip(nr);
    }
    let (mut r, mut log) = match (mode, t.handle.seccomp.chain()) {
        (MODE_FILTER, Some(f)) => f.evaluate(&d),
        _ => (ret::ALLOW, false),
    };
    if let Some(o) = oci {
        if sf::precedence(o) < sf::precedence(r) {
            (r, log) = (o, false);
        }
    }
    let data = r & ret::DATA;
    match r & ret::ACTION_FULL {
        ret::ALLOW => Outcome::Run { log },
        ret::LOG => Outcome::Run { log: true },
        ret::ERRNO => {
            if log {
                tracing::info!(nr, errno = data, "seccomp: system call failed by filter");
            }
            // At most MAX_ERRNO. The restart codes (512..=516) are stored
            // as they are: with no signal to deliver the program sees them.
            match data.min(4095) {
                0 => Outcome::Skip(0),
                n @ 512..=516 => Outcome::Skip((-i64::from(n)) as u64),
                n => Outcome::Fail(Errno(n as i32)),
            }
        }
        ret::TRAP => {
            if log {
                tracing::info!(nr, "seccomp: system call trapped (SIGSYS)");
            }
            crate::kernel::signal::force_sigsys(t, d.nr, AUDIT_ARCH_X86_64, data as i32);
            // The registers are rolled back: the handler sees RAX = nr.
            Outcome::Skip(nr)
        }
        // No tracer (there is no ptrace) and no listener: ENOSYS, as Linux.
        ret::TRACE | ret::USER_NOTIF => Outcome::Fail(Errno::ENOSYS),
        action => {
            // KILL_THREAD, KILL_PROCESS and unknown actions.
            tracing::info!(
                tid = t.tid,
                nr,
                action = format_args!("{action:#x}"),
                "seccomp: system call denied, killed by SIGSYS"
            );
            let alone = t.handle.tg.lock().threads.len() <= 1;
            if action == ret::KILL_THREAD && !alone {
                kill_thread(t, Signal(31));
            } else {
                t.die(Signal(31), "system call denied by a seccomp filter");
            }
            Outcome::Skip(nr)
        }
    }
}

/// Ends only the calling thread (do_exit(sig)); the last thread's status is
/// the process's.
fn kill_thread(t: &mut Task, sig: Signal) {
    t.exit = Some(ExitStatus::Signaled(sig));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_flags_are_refused_and_mask_is_linux() {
        assert_eq!(FLAGS_SERVED & FLAG_NEW_LISTENER, 0);
        assert_eq!(
            FLAGS_SERVED | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV,
            0x3f
        );
    }
}
