//! The sandbox launcher (`gvisor do`, `gvisor run`): it starts the gofer
//! (`gvisor gofer`, see `crate::gofer`) and the sentry (`gvisor boot`, see
//! `crate::sentry`) and waits for them.
//!
//! ```text
//! gvisor do ──clone(NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET)──► gvisor gofer --root DIR --fd 3
//!     │                                                       (pivot_root into DIR, 5 capabilities,
//!     │                                                        seccomp allowlist)
//!     └────clone(NEWNS|NEWPID|NEWIPC|NEWUTS[|NEWNET])─────► gvisor boot --gofer-fd 3 -- PROGRAM
//!                                                             (pivot_root into an empty read-only
//!                                                              tmpfs, no capabilities, seccomp)
//! ```
//!
//! The sentry gets a new, empty network namespace in network modes none and
//! sandbox (in sandbox it works through the packet sockets the launcher
//! opened in the sandbox's namespace and passes after the other
//! descriptors, see `crate::netns`); in mode host it is spawned inside the
//! sandbox's namespace (or stays in the launcher's).
//!
//! The launcher waits for the sentry, forwards SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT to it, then kills and reaps the gofer; it reports how each ended
//! when that was not a normal exit.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{anyhow, Context as _, Result};

use crate::confine;
use crate::limits::SandboxLimits;

/// The descriptor number the gofer channel gets in both children.
pub const CHANNEL_FD: RawFd = 3;

/// What the launcher was asked to run.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Root file system (host directory).
    pub rootfs: PathBuf,
    /// Host directories served besides the root, in order, with whether they
    /// are writable: the gofer channel of the n-th is descriptor
    /// CHANNEL_FD + n (1-based).
    pub binds: Vec<(PathBuf, bool)>,
    /// Host files the sentry copies in (single-file binds); the sentry gets
    /// them, opened read-only, after the bind channels.
    pub files: Vec<PathBuf>,
    /// Working directory inside the sandbox.
    pub cwd: String,
    /// Arguments for `gvisor boot` before `--` (strace, log, …).
    pub boot_flags: Vec<OsString>,
    /// Program and arguments.
    pub command: Vec<OsString>,
    /// The program gets a terminal: a host terminal on stdin is put in raw
    /// mode for the run (the sandbox's line discipline does the work).
    pub terminal: bool,
    /// Resource limits of the sandbox (`--memory`, `--pids`, `--cpus`, or
    /// the bundle's linux.resources).
    pub limits: SandboxLimits,
    /// The name of the sandbox's cgroup, made under the launcher's own.
    pub cgroup_name: String,
    /// `--profile`: the profile to write at the end.
    pub profile: Option<crate::profile::Request>,
}

/// Puts host fd 0 in raw mode while alive, if it is a terminal.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter(on: bool) -> RawMode {
        if !on {
            return RawMode(None);
        }
        // SAFETY: a zeroed termios is a valid out-buffer for tcgetattr.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr on fd 0; fails harmlessly when not a tty.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return RawMode(None);
        }
        let saved = t;
        // SAFETY: cfmakeraw edits our local copy.
        unsafe { libc::cfmakeraw(&mut t) };
        // SAFETY: tcsetattr on fd 0 with a valid termios.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the saved settings on fd 0.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

/// How the sandbox ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sentry exited with this code (the program's status, or 125-127).
    Exited(i32),
    /// The sentry itself was killed by this signal.
    SentryKilled(i32),
    /// The sentry was killed by the host's OOM killer in the sandbox's
    /// cgroup (its own memory past the headroom).
    SentryOutOfMemory,
}

static SENTRY_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = SENTRY_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn signal_name(sig: i32) -> String {
    sentry_core::kernel::signal::Signal(sig as u32).name()
}

fn wait(pid: libc::pid_t, flags: libc::c_int) -> Result<Option<i32>> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r == pid {
            return Ok(Some(status));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(anyhow!("waiting for process {pid}: {e}"));
        }
    }
}

fn cstrings(items: &[OsString]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| anyhow!("argument {s:?} contains a NUL byte"))
        })
        .collect()
}

/// Starts the gofer and the sentry (with the network `net`) and waits for
/// the sentry.
pub fn launch(opts: &LaunchOptions, net: &crate::netns::Prepared) -> Result<Outcome> {
    let exe = c"/proc/self/exe";
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..=opts.binds.len() {
        let (c, s) = vfs_gofer::wire::socketpair().context("creating a gofer channel")?;
        clients.push(c);
        servers.push(s);
    }
    let rootfs = opts
        .rootfs
        .canonicalize()
        .with_context(|| format!("root file system {}", opts.rootfs.display()))?;
    if !rootfs.is_dir() {
        anyhow::bail!("root file system {} is not a directory", rootfs.display());
    }
    if rootfs.starts_with("/proc") || rootfs.starts_with("/sys") {
        anyhow::bail!(
            "root file system {}: the host's /proc and /sys cannot be served",
            rootfs.display()
        );
    }
    let mut gofer_args: Vec<OsString> = vec![
        "gvisor-gofer".into(),
        "gofer".into(),
        "--root".into(),
        rootfs.clone().into_os_string(),
        "--fd".into(),
        CHANNEL_FD.to_string().into(),
    ];
    for (b, rw) in &opts.binds {
        let mut arg = OsString::from(if *rw { "rw:" } else { "ro:" });
        arg.push(b);
        gofer_args.push("--bind".into());
        gofer_args.push(arg);
    }
    let gofer_argv = cstrings(&gofer_args)?;
    let channel_fds = |ends: &[OwnedFd]| -> Vec<(RawFd, RawFd)> {
        ends.iter()
            .enumerate()
            .map(|(i, e)| (e.as_raw_fd(), CHANNEL_FD + i as RawFd))
            .collect()
    };
    let log_env: Vec<OsString> = std::env::var_os("GVISOR_LOG")
        .map(|v| {
            let mut e = OsString::from("GVISOR_LOG=");
            e.push(v);
            vec![e]
        })
        .unwrap_or_default();
    let gofer_env = cstrings(&log_env)?;
    let gofer = confine::spawn(
        exe,
        &gofer_argv,
        &gofer_env,
        &channel_fds(&servers),
        confine::GOFER_NAMESPACES,
    )
    .context("starting the gofer")?;
    drop(servers);

    let mut boot_args: Vec<OsString> = vec![
        "gvisor-sentry".into(),
        "boot".into(),
        "--gofer-fd".into(),
        CHANNEL_FD.to_string().into(),
        "--cwd".into(),
        opts.cwd.clone().into(),
    ];
    boot_args.extend(opts.boot_flags.iter().cloned());
    let first_net = CHANNEL_FD + (clients.len() + opts.files.len()) as RawFd;
    let packet_fds = net.fds();
    let net_fds: Vec<RawFd> = (0..packet_fds.len())
        .map(|i| first_net + i as RawFd)
        .collect();
    boot_args.extend(crate::netns::args::encode(&net.config, &net_fds));
    // --profile: a channel to the sentry after the network's descriptors.
    let profile_fd = first_net + net_fds.len() as RawFd;
    let profile_pair = match &opts.profile {
        Some(_) => {
            let (ours, theirs) =
                std::os::unix::net::UnixStream::pair().context("creating the profile channel")?;
            boot_args.push("--profile-fd".into());
            boot_args.push(profile_fd.to_string().into());
            Some((OwnedFd::from(ours), OwnedFd::from(theirs)))
        }
        None => None,
    };
    boot_args.push("--".into());
    boot_args.extend(opts.command.iter().cloned());
    let boot_argv = cstrings(&boot_args)?;
    let mut opened = Vec::new();
    for f in &opts.files {
        opened.push(OwnedFd::from(
            std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?,
        ));
    }
    let env: Vec<OsString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k;
            e.push("=");
            e.push(v);
            e
        })
        .collect();
    let boot_env = cstrings(&env)?;
    let mut sentry_fds = channel_fds(&clients);
    let first_file = CHANNEL_FD + clients.len() as RawFd;
    sentry_fds.extend(
        opened
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_raw_fd(), first_file + i as RawFd)),
    );
    sentry_fds.extend(
        packet_fds
            .iter()
            .zip(&net_fds)
            .map(|(f, &t)| (f.as_raw_fd(), t)),
    );
    if let Some((_, theirs)) = &profile_pair {
        sentry_fds.push((theirs.as_raw_fd(), profile_fd));
    }
    let sentry = match confine::spawn_in(
        exe,
        &boot_argv,
        &boot_env,
        &sentry_fds,
        net.sentry_namespaces(),
        net.join.as_ref().map(|ns| ns.fd().as_raw_fd()),
    ) {
        Ok(p) => p,
        Err(e) => {
            // SAFETY: kill and reap our own child.
            unsafe { libc::kill(gofer, libc::SIGKILL) };
            let _ = wait(gofer, 0);
            return Err(e.context("starting the sentry"));
        }
    };
    drop(clients);
    drop(opened);
    let profile = match (profile_pair, &opts.profile) {
        (Some((ours, theirs)), Some(req)) => {
            drop(theirs);
            match crate::profile::link::LauncherLink::spawn(
                std::fs::File::from(ours),
                sentry,
                gofer,
                req.clone(),
            ) {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("gvisor: --profile: {e:#}");
                    None
                }
            }
        }
        _ => None,
    };
    let cgroup = match sandbox_cgroup(opts, &[gofer, sentry]) {
        Ok(cg) => cg,
        Err(e) => {
            for p in [sentry, gofer] {
                // SAFETY: kill and reap our own children.
                unsafe { libc::kill(p, libc::SIGKILL) };
                let _ = wait(p, 0);
            }
            return Err(e);
        }
    };
    SENTRY_PID.store(sentry, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installs an async-signal-safe handler.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    let raw = RawMode::enter(opts.terminal);
    let status = wait(sentry, 0)?.unwrap_or(0);
    drop(raw);
    SENTRY_PID.store(0, Ordering::SeqCst);
    // The gofer serves only this sentry: it goes now.
    if let Ok(Some(st)) = wait(gofer, libc::WNOHANG) {
        if libc::WIFSIGNALED(st) {
            eprintln!(
                "gvisor: the gofer (pid {gofer}) was killed by {} during the run; file operations in the sandbox failed with EIO from then on",
                signal_name(libc::WTERMSIG(st))
            );
        }
    } else {
        // SAFETY: kill and reap our own child.
        unsafe { libc::kill(gofer, libc::SIGKILL) };
        let _ = wait(gofer, 0);
    }
    if let (Some(link), Some(req)) = (profile, &opts.profile) {
        if let Err(e) = link.finish().write(req.path.as_deref()) {
            eprintln!("gvisor: {e:#}");
        }
    }
    let mut oom = false;
    if let Some(cg) = cgroup {
        oom = cg.usage().oom_kills > 0;
        cg.remove();
    }
    if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL && oom {
        return Ok(Outcome::SentryOutOfMemory);
    }
    if libc::WIFSIGNALED(status) {
        return Ok(Outcome::SentryKilled(libc::WTERMSIG(status)));
    }
    Ok(Outcome::Exited(libc::WEXITSTATUS(status)))
}

/// The cgroup name of a `gvisor do` sandbox is this and the launcher's pid.
pub const STALE_PREFIX: &str = "gvisor-do-";

/// Puts the gofer and the sentry in the sandbox's cgroup with its limits.
/// Without limits a host with no usable cgroup file system only warns;
/// with limits that is an error.
fn sandbox_cgroup(opts: &LaunchOptions, pids: &[i32]) -> Result<Option<crate::cgroup::Cgroup>> {
    let limited = opts.limits != SandboxLimits::default();
    let cg = match crate::cgroup::Cgroup::create_nested(&opts.cgroup_name, pids) {
        Ok(Some(cg)) => cg,
        Ok(None) if !limited => return Ok(None),
        Ok(None) => anyhow::bail!("resource limits need a cgroup file system at /sys/fs/cgroup"),
        Err(e) if !limited => {
            tracing::warn!(error = %format!("{e:#}"), "the sandbox runs without a cgroup");
            return Ok(None);
        }
        Err(e) => return Err(e.context("creating the sandbox's cgroup")),
    };
    cg.remove_stale_siblings(STALE_PREFIX);
    if let Err(e) = cg.apply(&opts.limits.host_limits()) {
        for &p in pids {
            // SAFETY: kill and reap our own children (so the cgroup empties).
            unsafe { libc::kill(p, libc::SIGKILL) };
            let _ = wait(p, 0);
        }
        cg.remove();
        return Err(e.context("applying the sandbox's limits"));
    }
    Ok(Some(cg))
}

/// Explains a sentry death for the user.
pub fn describe_sentry_death(sig: i32) -> String {
    let why = match sig {
        libc::SIGSYS => " (it made a host system call outside its seccomp allowlist; see `gvisor syscalls --host`)",
        libc::SIGKILL => " (killed from outside, or out of memory)",
        libc::SIGSEGV | libc::SIGABRT | libc::SIGBUS => " (a crash of the sentry itself: please report it)",
        _ => "",
    };
    format!("the sentry was killed by {}{why}", signal_name(sig))
}
