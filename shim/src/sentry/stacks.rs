//! `gvisor debug --stacks`: the sentry's side. Before it confines itself
//! the sentry makes two pipes and keeps, at fixed descriptor numbers, the
//! read end of the request pipe ([`REQUEST_FD`]) and the write end of the
//! reply pipe ([`REPLY_FD`]); a thread waits for requests. `gvisor debug`
//! (root on the host) opens the other ends through
//! `/proc/<sentry>/fd/<n>`, writes an 8-byte nonce and reads the dump
//! (`sentry_core::kernel::debug::dump`) between `# stacks <nonce>` and
//! `# end <nonce>`. No host system call is added: the thread only reads
//! and writes. Without a reader the sentry's write fails (EPIPE; SIGPIPE
//! is ignored) and the thread waits for the next request.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use sentry_core::kernel::Kernel;

/// The sentry's descriptor of the request pipe's read end.
pub const REQUEST_FD: RawFd = 990;
/// The sentry's descriptor of the reply pipe's write end.
pub const REPLY_FD: RawFd = 991;

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 with a valid two-element array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!(
            "creating the stacks pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both descriptors are fresh and owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Moves `fd` to descriptor `to` (which must be free).
fn move_to(fd: OwnedFd, to: RawFd) -> Result<OwnedFd> {
    // SAFETY: F_GETFD on a number only checks whether it is open.
    if unsafe { libc::fcntl(to, libc::F_GETFD) } >= 0 {
        return Err(anyhow!("descriptor {to} (for the stacks pipe) is taken"));
    }
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: dup3 onto a free number; the new descriptor is owned below.
    if unsafe { libc::dup3(raw, to, libc::O_CLOEXEC) } != to {
        return Err(anyhow!(
            "moving the stacks pipe to descriptor {to}: {}",
            std::io::Error::last_os_error()
        ));
    }
    drop(fd);
    // SAFETY: `to` was just made by dup3 and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(to) })
}

/// Starts the stacks thread for `kernel`; returns the descriptors to keep
/// through confinement.
pub fn serve_stacks(kernel: &Arc<Kernel>) -> Result<Vec<RawFd>> {
    let (req_r, req_w) = pipe()?;
    let (reply_r, reply_w) = pipe()?;
    drop(reply_r);
    let req_r = move_to(req_r, REQUEST_FD)?;
    let reply_w = move_to(reply_w, REPLY_FD)?;
    // The request pipe's write end stays open here, so that reading it
    // blocks (instead of seeing end of file) between requests.
    let req_w_raw = std::os::fd::IntoRawFd::into_raw_fd(req_w);
    let k = Arc::downgrade(kernel);
    std::thread::Builder::new()
        .name("stacks".into())
        .spawn(move || {
            let mut req = std::fs::File::from(req_r);
            let mut reply = std::fs::File::from(reply_w);
            let mut buf = [0u8; 64];
            loop {
                // A request is one 8-byte write (atomic on a pipe); a short
                // one (a client that died) is dropped, and of requests read
                // together the last one is answered.
                let got = match req.read(&mut buf) {
                    Ok(0) => break,
                    Ok(got) => got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let Some(last) = got.checked_sub(got % 8).and_then(|end| {
                    let start = end.checked_sub(8)?;
                    buf.get(start..end)
                }) else {
                    continue;
                };
                let mut nonce = [0u8; 8];
                nonce.copy_from_slice(last);
                let Some(k) = k.upgrade() else { break };
                let n = u64::from_ne_bytes(nonce);
                let text = format!(
                    "# stacks {n:016x}\n{}# end {n:016x}\n",
                    sentry_core::kernel::debug::dump(&k)
                );
                drop(k);
                tracing::info!(bytes = text.len(), "stacks dumped");
                let _ = reply.write_all(text.as_bytes());
            }
        })
        .context("starting the stacks thread")?;
    Ok(vec![REQUEST_FD, REPLY_FD, req_w_raw])
}

/// Where launchers record their sentry's host pid, one file per sandbox
/// (`<id>.pid`), for `gvisor debug`.
pub const STATE_DIR: &str = "/run/gvisor-rs";

/// Records that sandbox `id`'s sentry is host process `pid` (best effort:
/// a failure only makes `gvisor debug ID` need the pid).
pub fn record(id: &str, pid: i32) {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return;
    }
    let _ = std::fs::create_dir_all(STATE_DIR);
    // Records of launchers that were killed: their sentry is gone.
    if let Ok(entries) = std::fs::read_dir(STATE_DIR) {
        for e in entries.flatten() {
            let stale = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                .is_some_and(|p| p > 0 && !std::path::Path::new(&format!("/proc/{p}")).exists());
            if stale {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let p = std::path::Path::new(STATE_DIR).join(format!("{id}.pid"));
    if let Err(e) = std::fs::write(&p, format!("{pid}\n")) {
        tracing::debug!(error = %e, path = %p.display(), "sandbox state not recorded");
    }
}

/// Removes what [`record`] wrote for `id`.
pub fn forget(id: &str) {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return;
    }
    let _ = std::fs::remove_file(std::path::Path::new(STATE_DIR).join(format!("{id}.pid")));
}

/// The sentry's host pid for `sandbox`: a recorded id, else a pid.
pub fn sentry_pid(sandbox: &str) -> Result<i32> {
    if !sandbox.is_empty() && !sandbox.contains('/') && !sandbox.starts_with('.') {
        let p = std::path::Path::new(STATE_DIR).join(format!("{sandbox}.pid"));
        if let Ok(t) = std::fs::read_to_string(&p) {
            return t
                .trim()
                .parse()
                .map_err(|_| anyhow!("{}: not a pid: {:?}", p.display(), t.trim()));
        }
    }
    sandbox
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            anyhow!("sandbox {sandbox:?}: no such sandbox (not in {STATE_DIR}, not a pid)")
        })
}

/// Asks the sentry of `sandbox` for its tasks; returns the dump.
pub fn collect(sandbox: &str, timeout: std::time::Duration) -> Result<String> {
    use std::os::fd::AsRawFd;
    let pid = sentry_pid(sandbox)?;
    let proc_fd = |n: RawFd| format!("/proc/{pid}/fd/{n}");
    let open = |n: RawFd, write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .open(proc_fd(n))
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    anyhow!(
                        "process {pid} is not a running gvisor sentry (no {})",
                        proc_fd(n)
                    )
                } else {
                    anyhow!("opening {}: {e}", proc_fd(n))
                }
            })
    };
    let mut reply = open(REPLY_FD, false)?;
    let mut req = open(REQUEST_FD, true)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let n = (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32);
    req.write_all(&n.to_ne_bytes())
        .with_context(|| format!("asking sentry {pid} for its stacks"))?;
    let begin = format!("# stacks {n:016x}\n");
    let end = format!("# end {n:016x}\n");
    let deadline = std::time::Instant::now() + timeout;
    let mut got: Vec<u8> = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            anyhow::bail!("sentry {pid} did not answer within {timeout:?}");
        }
        let mut pfd = libc::pollfd {
            fd: reply.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(60_000) as i32) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            anyhow::bail!("waiting for sentry {pid}: {e}");
        }
        if r == 0 {
            continue;
        }
        let k = reply
            .read(&mut buf)
            .with_context(|| format!("reading the stacks of sentry {pid}"))?;
        if k == 0 {
            anyhow::bail!("sentry {pid} went away");
        }
        got.extend_from_slice(&buf[..k]);
        if got.len() > 64 << 20 {
            anyhow::bail!("sentry {pid}: the dump is larger than 64 MiB");
        }
        let text = String::from_utf8_lossy(&got);
        if let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) {
            if e > b {
                return Ok(text[b + begin.len()..e].to_string());
            }
        }
    }
}
