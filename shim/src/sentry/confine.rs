//! The sentry confines itself before it runs any program.

use std::os::fd::RawFd;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::confine;

/// What a descriptor of the sentry is, from its /proc/self/fd link.
fn sentry_may_keep(target: &str, log_dir: Option<&Path>) -> bool {
    target == "/dev/kvm"
        || target.starts_with("anon_inode:kvm-")
        || target.starts_with("/memfd:gvisor-memory")
        || log_dir.is_some_and(|d| target.starts_with(&*d.to_string_lossy()))
}

/// Confines the sentry before it runs any program: every descriptor closed
/// but stdio, the gofer channel, KVM's and the memory file (and the debug
/// log); pivot_root into an empty read-only tmpfs; no capabilities;
/// no_new_privs; the seccomp allowlist.
pub fn confine_sentry(
    gofer_fd: RawFd,
    log_dir: Option<&Path>,
    extra: &[RawFd],
    mode: sentry_core::net::NetMode,
) -> Result<()> {
    let mut keep = vec![0, 1, 2, gofer_fd];
    keep.extend_from_slice(extra);
    let entries = std::fs::read_dir("/proc/self/fd").context("listing /proc/self/fd")?;
    for e in entries.flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        if let Ok(t) = std::fs::read_link(e.path()) {
            if sentry_may_keep(&t.to_string_lossy(), log_dir) {
                keep.push(n);
            } else if n > 2 && !keep.contains(&n) {
                tracing::debug!(fd = n, target = %t.display(), "closing before confinement");
            }
        }
    }
    confine::close_fds_except(&keep);
    confine::pivot_into_empty().context("confining the sentry to an empty root")?;
    // Host sockets (network mode `host`) bind privileged ports for the
    // program (which the sentry checks against the program's own
    // capabilities first).
    let caps: &[u32] = if mode == sentry_core::net::NetMode::Host {
        &[sentry_core::net::CAP_NET_BIND_SERVICE]
    } else {
        &[]
    };
    confine::drop_caps(caps).context("dropping the sentry's capabilities")?;
    confine::no_new_privs()?;
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    confine::report_violations()?;
    confine::install_seccomp(&confine::sentry_allowlist_for(pid, mode))?;
    Ok(())
}
