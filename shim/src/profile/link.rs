//! The profile channel between the sentry (`gvisor boot --profile-fd N`)
//! and its launcher: a socket pair carrying lines.
//!
//! ```text
//! sentry → launcher   ready            the program is loaded; count from now
//! launcher → sentry   go               host counting has started (or cannot)
//! sentry → launcher   app <JSON>       at the end: the app→sentry section
//! ```
//!
//! Both ends use plain read/write (already on the sentry's allowlist).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};

use super::{host, App, Host, Profile, Request};

/// The most the launcher reads from the sentry (the app section of 4096
/// processes fits many times over).
const MAX_BYTES: u64 = 64 << 20;

/// The sentry's end.
pub struct SentryLink(File);

impl SentryLink {
    /// Takes over descriptor `fd` handed over by the launcher.
    ///
    /// # Safety
    /// `fd` must be an open descriptor nothing else in this process owns.
    pub unsafe fn from_fd(fd: RawFd) -> SentryLink {
        // SAFETY: the caller guarantees fd is open and owned by nobody else.
        SentryLink(unsafe { File::from_raw_fd(fd) })
    }

    /// Says the program is about to start and waits for the launcher to
    /// start counting.
    pub fn ready(&mut self) -> Result<()> {
        self.0
            .write_all(b"ready\n")
            .context("--profile-fd: writing to the launcher")?;
        let mut b = [0u8; 3];
        self.0
            .read_exact(&mut b)
            .context("--profile-fd: reading the launcher's answer")?;
        Ok(())
    }

    /// Sends the app section at the end.
    pub fn send_app(mut self, app: &App) -> Result<()> {
        let mut line = b"app ".to_vec();
        serde_json::to_writer(&mut line, app).context("encoding the app profile")?;
        line.push(b'\n');
        self.0
            .write_all(&line)
            .context("--profile-fd: writing the app profile")
    }
}

/// What the launcher's reading thread ends with.
struct Received {
    tracer: Result<host::Tracer, String>,
    app: Option<App>,
    started: Option<Instant>,
}

/// The launcher's end: a thread that answers the sentry and keeps what it
/// sends.
pub struct LauncherLink {
    thread: JoinHandle<Received>,
    request: Request,
    launched: Instant,
}

impl LauncherLink {
    /// Serves the launcher's end `end` of the channel to the sentry `sentry`
    /// (host pid), counting host calls of `sentry` and `gofer` from `ready`.
    pub fn spawn(end: File, sentry: i32, gofer: i32, request: Request) -> Result<LauncherLink> {
        let launched = Instant::now();
        let thread = std::thread::Builder::new()
            .name("profile".into())
            .spawn(move || serve(end, sentry, gofer))
            .context("starting the profile thread")?;
        Ok(LauncherLink {
            thread,
            request,
            launched,
        })
    }

    /// After the sentry and the gofer have ended: stops counting and puts
    /// the profile together.
    pub fn finish(self) -> Profile {
        let r = self.thread.join().unwrap_or_else(|_| Received {
            tracer: Err("the profile thread failed".into()),
            app: None,
            started: None,
        });
        let (sentry_host, gofer_host) = match r.tracer {
            Ok(t) => t.stop(),
            Err(why) => (Host::unavailable(why.clone()), Host::unavailable(why)),
        };
        let started = r.started.unwrap_or(self.launched);
        Profile {
            sandbox: self.request.sandbox,
            command: self.request.command,
            wall_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            app: r.app.unwrap_or_else(|| App {
                unavailable: Some("the sentry sent no app profile (it ended early)".into()),
                ..App::default()
            }),
            sentry_host,
            gofer_host,
        }
    }
}

fn serve(end: File, sentry: i32, gofer: i32) -> Received {
    let mut answer = end.try_clone().ok();
    let mut r = Received {
        tracer: Err("the sandbox ended before its program started".into()),
        app: None,
        started: None,
    };
    let mut lines = BufReader::new(end.take(MAX_BYTES));
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.starts_with(b"ready") {
            r.tracer = host::Tracer::start(&[("sentry", sentry), ("gofer", gofer)]);
            hold();
            r.started = Some(Instant::now());
            if let Some(mut a) = answer.take() {
                let _ = a.write_all(b"go\n");
            }
        } else if let Some(json) = line.strip_prefix(b"app ") {
            r.app = serde_json::from_slice(json).ok();
        }
    }
    r
}

/// Debug builds only (tests): with `GVISOR_PROFILE_HOLD=PATH` the program
/// starts only once PATH exists (at most a minute later), so a test can
/// attach `strace -p` to the sentry and the gofer first and compare the
/// same window.
fn hold() {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(path) = std::env::var_os("GVISOR_PROFILE_HOLD") else {
        return;
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while !std::path::Path::new(&path).exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
