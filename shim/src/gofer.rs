//! What runs in a gofer process (`gvisor gofer`): it confines itself to
//! its container's root and serves the gofer protocol to the sentry.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::confine;

/// `gvisor gofer`: confines this process to `root` (and the bind sources
/// `binds`, read-only or read-write) and serves the gofer protocol, the root
/// on descriptor `fd` and the n-th bind on `fd + n`, until the sentry closes
/// the channels. `log_fd`: its debug log, kept open.
pub fn gofer_main(
    root: &Path,
    bind_args: &[PathBuf],
    fd: RawFd,
    log_fd: Option<RawFd>,
) -> Result<()> {
    let mut binds = Vec::new();
    for b in bind_args {
        let s = b.to_string_lossy();
        let (rw, path) = match (s.strip_prefix("rw:"), s.strip_prefix("ro:")) {
            (Some(p), _) => (true, p),
            (_, Some(p)) => (false, p),
            _ => anyhow::bail!("--bind {s}: expected ro:PATH or rw:PATH"),
        };
        binds.push((PathBuf::from(path), rw));
    }
    let binds = &binds;
    let fds: Vec<RawFd> = (0..=binds.len()).map(|i| fd + i as RawFd).collect();
    let mut keep = vec![0, 1, 2];
    keep.extend(&fds);
    keep.extend(log_fd);
    confine::close_fds_except(&keep);
    tracing::info!(root = %root.display(), binds = binds.len(), "gofer starting");
    // SAFETY: the launcher handed us these descriptors; nothing else owns them.
    let socks: Vec<OwnedFd> = fds
        .iter()
        .map(|&f| unsafe { OwnedFd::from_raw_fd(f) })
        .collect();
    let dirs = confine::pivot_into(root, binds).context("confining the gofer to its root")?;
    let mut servers = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let rw = i > 0 && binds[i - 1].1;
        servers.push(
            vfs_gofer::server::Server::new(d)
                .with_context(|| format!("opening the served directory {d}"))?
                .writable(rw),
        );
    }
    confine::drop_caps(&confine::GOFER_CAPS).context("dropping the gofer's capabilities")?;
    confine::no_new_privs()?;
    // One thread per channel, running before the filter goes on (thread
    // creation and start-up are not on the gofer's allowlist).
    let mut threads = Vec::new();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    for (server, sock) in servers.into_iter().zip(socks) {
        let started = started_tx.clone();
        threads.push(
            std::thread::Builder::new()
                .name("gofer-serve".into())
                .spawn(move || {
                    let _ = started.send(());
                    server.serve(sock)
                })
                .context("starting a gofer thread")?,
        );
    }
    for _ in 0..threads.len() {
        started_rx
            .recv()
            .context("waiting for the gofer threads to start")?;
    }
    confine::report_violations()?;
    confine::install_seccomp(&confine::gofer_allowlist())?;
    tracing::debug!(channels = threads.len(), "gofer confined, serving");
    for t in threads {
        match t.join() {
            Ok(r) => r.context("serving the gofer protocol")?,
            Err(_) => anyhow::bail!("a gofer thread panicked"),
        }
    }
    tracing::info!("gofer done: the sentry closed its channels");
    Ok(())
}
