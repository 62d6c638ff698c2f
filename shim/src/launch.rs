//! The sandbox launcher (`gvisor do`) and the entry points of the processes
//! it starts: the gofer (`gvisor gofer`) and the sentry (`gvisor boot`).
//!
//! ```text
//! gvisor do ──clone(NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET)──► gvisor gofer --root DIR --fd 3
//!     │                                                       (pivot_root into DIR, 2 capabilities,
//!     │                                                        seccomp allowlist)
//!     └────clone(NEWNS|NEWPID|NEWIPC|NEWUTS)──────────────► gvisor boot --gofer-fd 3 -- PROGRAM
//!                                                             (pivot_root into an empty read-only
//!                                                              tmpfs, no capabilities, seccomp)
//! ```
//!
//! The launcher waits for the sentry, forwards SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT to it, then kills and reaps the gofer; it reports how each ended
//! when that was not a normal exit.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{anyhow, Context as _, Result};

use crate::confine;

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
}

/// What a sandbox may use. The sentry enforces the memory and task limits
/// itself (its memory file is `memory` bytes; at most `pids` tasks, each
/// with its vCPU), so the program gets ENOMEM, EAGAIN or (for a page it
/// cannot have) SIGKILL, and the host cgroup around the sentry and the
/// gofer is a backstop with headroom for their own heaps and threads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Memory, bytes.
    pub memory: Option<u64>,
    /// Tasks (threads) in the sandbox.
    pub pids: Option<u64>,
    /// CPU time per period (µs) and the period (µs).
    pub cpu_quota: Option<(i64, u64)>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
}

/// Smallest memory limit (the sentry's page tables and vCPU areas live in
/// the sandbox's memory too).
pub const MIN_MEMORY: u64 = 32 << 20;
/// Host memory the cgroup allows besides the sandbox's memory file: the
/// sentry's and the gofer's own heaps.
pub const MEMORY_HEADROOM: u64 = 256 << 20;
/// Host threads the cgroup allows besides one per task: the sentry's and
/// the gofer's own threads.
pub const PIDS_HEADROOM: u64 = 64;

impl SandboxLimits {
    /// The host cgroup's limits for these.
    pub fn host_limits(&self) -> crate::cgroup::Limits {
        crate::cgroup::Limits {
            memory: self.memory.map(|m| (m + MEMORY_HEADROOM) as i64),
            cpu_shares: self.cpu_shares,
            cpu_quota: self.cpu_quota.map(|(q, _)| q),
            cpu_period: self.cpu_quota.map(|(_, p)| p),
            pids: self.pids.map(|p| (p + PIDS_HEADROOM) as i64),
        }
    }

    /// The `gvisor boot` flags that tell the sentry its limits.
    pub fn boot_flags(&self) -> Vec<OsString> {
        let mut f = Vec::new();
        if let Some(m) = self.memory {
            f.push("--memory-limit".into());
            f.push(m.to_string().into());
        }
        if let Some(p) = self.pids {
            f.push("--pids-limit".into());
            f.push(p.to_string().into());
        }
        f
    }
}

/// Parses a memory size: bytes, or with a K, M, G or T suffix (powers of
/// 1024; "512M", "1G", "1.5G").
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'B' => 1,
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => anyhow::bail!("size {s:?}: unknown unit {c:?} (use K, M, G or T)"),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| anyhow!("size {s:?}: not a number with an optional K, M, G or T"))?;
    if !(v.is_finite() && v > 0.0) || v * mul as f64 >= u64::MAX as f64 {
        anyhow::bail!("size {s:?}: out of range");
    }
    Ok((v * mul as f64) as u64)
}

/// Checks limits from the command line or a bundle.
pub fn check_limits(l: &SandboxLimits) -> Result<()> {
    if let Some(m) = l.memory {
        if m < MIN_MEMORY {
            anyhow::bail!(
                "memory limit {m} bytes: below the smallest sandbox ({} MiB)",
                MIN_MEMORY >> 20
            );
        }
    }
    if l.pids == Some(0) {
        anyhow::bail!("pids limit 0: the program needs at least one task");
    }
    Ok(())
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

/// Starts the gofer and the sentry and waits for the sentry.
pub fn launch(opts: &LaunchOptions) -> Result<Outcome> {
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
    let sentry = match confine::spawn(
        exe,
        &boot_argv,
        &boot_env,
        &sentry_fds,
        confine::SENTRY_NAMESPACES,
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

/// `gvisor gofer`: confines this process to `root` (and the read-only
/// `binds`) and serves the gofer protocol, the root on descriptor `fd` and
/// the n-th bind on `fd + n`, until the sentry closes the channels.
pub fn gofer_main(root: &Path, bind_args: &[PathBuf], fd: RawFd) -> Result<()> {
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
    confine::close_fds_except(&keep);
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
    for t in threads {
        match t.join() {
            Ok(r) => r.context("serving the gofer protocol")?,
            Err(_) => anyhow::bail!("a gofer thread panicked"),
        }
    }
    Ok(())
}

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
pub fn confine_sentry(gofer_fd: RawFd, log_dir: Option<&Path>, extra: &[RawFd]) -> Result<()> {
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
    confine::drop_caps(&[]).context("dropping the sentry's capabilities")?;
    confine::no_new_privs()?;
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    confine::report_violations()?;
    confine::install_seccomp(&confine::sentry_allowlist(pid))?;
    Ok(())
}
