//! Host-side confinement of the sandbox's processes: spawning into new
//! namespaces, pivot_root, closing descriptors, capabilities, no_new_privs
//! and the seccomp allowlists of the sentry (`gvisor boot`) and the gofer
//! (`gvisor gofer`).
//!
//! The allowlists are data (`sentry_allowlist`, `gofer_allowlist`): the
//! filters are compiled from them with seccompiler, `gvisor syscalls --host`
//! prints them, and docs/SECURITY.md explains every entry. Anything not on a
//! list traps (SECCOMP_RET_TRAP, never executed): a SIGSYS handler prints
//! which call it was, then the process dies by SIGSYS, which the launcher
//! reports.

mod allowlist;
mod bpf;
mod net_host;
mod net_packet;
mod privileges;
mod root;
mod sigsys;
mod spawn;

use std::ffi::CString;

use anyhow::{anyhow, bail, Result};

pub use allowlist::{
    describe, gofer_allowlist, sentry_allowlist, sentry_allowlist_for, Allowed, Cond, KVM_IOCTLS,
};
pub use bpf::{compile, install_seccomp};
pub use net_host::hostinet_calls;
pub use net_packet::packet_calls;
pub use privileges::{close_fds_except, drop_caps, no_new_privs, GOFER_CAPS};
pub use root::{make_mounts_private, pivot_into, pivot_into_empty};
pub use sigsys::report_violations;
pub use spawn::{spawn, spawn_in, GOFER_NAMESPACES, SENTRY_NAMESPACES};

/// Settles what glibc would otherwise look up with a path once confined:
/// malloc reads /sys/devices/system/cpu/online (get_nprocs) when a new
/// thread needs an arena, and /proc/sys/vm/overcommit_memory when it shrinks
/// a thread arena's heap. With one arena neither happens. Call before any
/// thread starts.
pub fn settle_libc() {
    const M_ARENA_MAX: libc::c_int = -8;
    // SAFETY: mallopt with an integer option.
    unsafe { libc::mallopt(M_ARENA_MAX, 1) };
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{s:?} contains a NUL byte"))
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc < 0 {
        bail!("{what}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_compile_and_exclude_dangerous_calls() {
        let s = sentry_allowlist(1);
        let g = gofer_allowlist();
        compile(&s).unwrap();
        compile(&g).unwrap();
        for forbidden in [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_kill,
        ] {
            assert!(
                s.iter().all(|a| a.nr != forbidden),
                "sentry allows {forbidden}"
            );
        }
        for forbidden in [
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_socket,
            libc::SYS_mount,
            libc::SYS_clone,
        ] {
            assert!(
                g.iter().all(|a| a.nr != forbidden),
                "gofer allows {forbidden}"
            );
        }
        let text = describe(&s);
        assert!(text.contains("KVM") || text.contains("0xae80"));
        assert_eq!(text.lines().count(), s.len());
    }
}
