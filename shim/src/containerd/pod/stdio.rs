//! A process's stdio: containerd's FIFOs (or files) opened for the sentry,
//! stdin relayed through a pipe that CloseIO can close.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context as _, Result};

use crate::containerd::backend::Stdio;

/// One process's stdin relay: containerd's FIFO is copied into a pipe whose
/// read end the sandbox holds; CloseIO drops the write end.
pub(super) type StdinWriter = Arc<Mutex<Option<OwnedFd>>>;

/// Opens an output of a process: containerd's FIFO (read-write, so the open
/// does not wait for a reader), a `file://` path, or /dev/null.
fn open_output(path: &str) -> Result<OwnedFd> {
    let f = if path.is_empty() {
        std::fs::OpenOptions::new().write(true).open("/dev/null")
    } else if let Some(p) = path.strip_prefix("file://") {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
    } else if path.starts_with("binary://") {
        anyhow::bail!("stdio {path}: binary log drivers are not supported");
    } else {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
    };
    Ok(f.with_context(|| format!("opening stdio {path:?}"))?.into())
}

/// Opens stdin: /dev/null, or a pipe fed from containerd's FIFO by a thread.
fn open_input(path: &str) -> Result<(OwnedFd, Option<StdinWriter>)> {
    if path.is_empty() {
        let f = std::fs::File::open("/dev/null").context("opening /dev/null")?;
        return Ok((f.into(), None));
    }
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("opening stdin {path:?}"))?;
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(fifo.as_raw_fd(), libc::F_SETFL, 0) };
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!(
            "creating a stdin pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both are fresh descriptors owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let writer: StdinWriter = Arc::new(Mutex::new(Some(w)));
    let w2 = writer.clone();
    std::thread::Builder::new()
        .name("stdin-relay".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                // SAFETY: read into a local buffer from the FIFO we own.
                let n = unsafe { libc::read(fifo.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                let guard = w2.lock().unwrap_or_else(|p| p.into_inner());
                let Some(w) = guard.as_ref() else { break };
                if n <= 0 {
                    break;
                }
                let mut b = &buf[..n as usize];
                while !b.is_empty() {
                    // SAFETY: write of a valid buffer to the pipe we own.
                    let m = unsafe { libc::write(w.as_raw_fd(), b.as_ptr().cast(), b.len()) };
                    if m <= 0 {
                        return;
                    }
                    b = &b[m as usize..];
                }
            }
            // EOF from containerd: the sandbox sees EOF too.
            w2.lock().unwrap_or_else(|p| p.into_inner()).take();
        })
        .context("starting the stdin relay")?;
    Ok((r, Some(writer)))
}

/// Opens a process's three stdio descriptors for the sentry.
pub(super) fn open_stdio(s: &Stdio) -> Result<(Vec<OwnedFd>, Option<StdinWriter>)> {
    if let Some(open) = &s.open {
        let mut fds = Vec::with_capacity(3);
        for (i, f) in open.0.iter().enumerate() {
            fds.push(
                f.try_clone()
                    .with_context(|| format!("duplicating stdio descriptor {i}"))?,
            );
        }
        return Ok((fds, None));
    }
    let (stdin, writer) = open_input(&s.stdin)?;
    let stdout = open_output(&s.stdout)?;
    let stderr = if s.terminal {
        open_output("")?
    } else {
        open_output(&s.stderr)?
    };
    Ok((vec![stdin, stdout, stderr], writer))
}

/// Duplicates a process's extra descriptors (given to it as 3, 4, ...).
pub(super) fn extra_fds(s: &Stdio) -> Result<Vec<OwnedFd>> {
    let Some(extra) = &s.extra else {
        return Ok(Vec::new());
    };
    extra
        .0
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.try_clone()
                .with_context(|| format!("duplicating preserved descriptor {}", i + 3))
        })
        .collect()
}
