//! `gvisor boot`: the sentry process. Builds the kernel and its file
//! systems over the gofer channel, confines itself (`super::confine`), then
//! runs the program.

use std::ffi::OsString;

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use kvm_vcpu::VmConfig;
use sentry_core::errno::Errno;
use sentry_core::fsimpl::devfs::DevFs;
use sentry_core::fsimpl::gofer::GoferFs;
use sentry_core::fsimpl::host::HostStdio;
use sentry_core::fsimpl::overlay::OverlayFs;
use sentry_core::fsimpl::sysfs::SysFs;
use sentry_core::fsimpl::tmpfs::TmpFs;
use sentry_core::fsimpl::tty::PtyRegistry;
use sentry_core::kernel::exec;
use sentry_core::kernel::{ExitStatus, Kernel, KernelConfig, KernelError, Task};
use sentry_core::platform::kvm::KvmPlatform;
use sentry_core::platform::Platform;
use sentry_core::procfs::ProcFs;
use sentry_core::vfs::{Detached, FileDescription, Sessions, Start, Vfs};

/// What `gvisor do` was asked to do.
#[derive(Debug, Clone)]
pub struct DoOptions {
    /// Program (a path, or a name looked up in PATH).
    pub program: OsString,
    /// Its arguments (without argv[0]).
    pub args: Vec<OsString>,
    /// Trace syscalls.
    pub strace: bool,
    /// The debug log's descriptors (kept open through confinement).
    pub log_fds: Vec<i32>,
    /// What strace traces and how much of a buffer it shows.
    pub strace_config: sentry_core::syscalls::strace::StraceConfig,
    /// Pages mapped per fault.
    pub fault_around: u64,
    /// Print run statistics to stderr at the end.
    pub stats: bool,
    /// Working directory of the program inside the sandbox.
    pub cwd: String,
    /// The gofer channel (a descriptor number handed over by the launcher);
    /// the channels of a bundle's bind mounts follow it.
    pub gofer_fd: i32,
    /// An OCI bundle: its config.json replaces program, args, environment
    /// and working directory, and sets up mounts, user, limits, hostname,
    /// sysctls and the seccomp profile.
    pub bundle: Option<PathBuf>,
    /// The sandbox's memory, bytes: the size of its memory file, so a page
    /// past it is refused (ENOMEM, or SIGKILL for a fault).
    pub memory_limit: Option<u64>,
    /// Most tasks (threads) in the sandbox: the vCPU pool's size (each task
    /// holds a vCPU), so clone past it gives EAGAIN.
    pub pids_limit: Option<u64>,
    /// The sandbox's network (mode, interfaces, routes, packet sockets)
    /// as the launcher handed it over.
    pub net: sentry_core::net::NetConfig,
    /// `--profile-fd`: the launcher's profile channel (see
    /// `crate::profile::link`).
    pub profile_fd: Option<i32>,
}

/// The VM for `opts`: the default, shrunk to the sandbox's limits.
pub fn vm_config(memory_limit: Option<u64>, pids_limit: Option<u64>) -> VmConfig {
    let mut c = VmConfig::default();
    if let Some(m) = memory_limit {
        c.memory_size = (m & !0xfff).clamp(crate::limits::MIN_MEMORY, c.memory_size);
    }
    if let Some(p) = pids_limit {
        c.max_vcpus = (p.max(1)).min(c.max_vcpus as u64) as usize;
    }
    c
}

/// Makes this process (the sentry) the host OOM killer's last choice: the
/// sandbox's memory is limited by the sentry itself (see
/// [`vm_config`]), and the program's pages are in its memory file, so the
/// host should kill something else first. Needs CAP_SYS_RESOURCE to go
/// below the parent's value: done before the capabilities go; a failure
/// only warns.
pub fn protect_from_oom_killer() {
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", "-999") {
        tracing::debug!(error = %e, "oom_score_adj not lowered");
    }
}

/// A failure of `gvisor do` with the exit code to report.
#[derive(Debug)]
pub struct DoError {
    /// 125: sandbox error, 126: cannot execute, 127: not found.
    pub code: i32,
    /// The cause.
    pub error: anyhow::Error,
}

impl DoError {
    fn new(code: i32, error: anyhow::Error) -> Self {
        DoError { code, error }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "gvisor".into())
}

/// The sandbox's file systems: the gofer's tree (the container's root file
/// system, read-only) under a tmpfs upper layer, procfs at /proc, sysfs at
/// /sys, devfs at /dev with a tmpfs at /dev/shm.
pub fn build_vfs(gofer: OwnedFd, procfs: Arc<ProcFs>) -> Result<Arc<Vfs>> {
    let lower = GoferFs::new(vfs_gofer::client::Client::new(gofer));
    let vfs = Vfs::new(OverlayFs::new(lower));
    vfs.mount("/proc", procfs);
    vfs.mount("/sys", SysFs::new(host_cpus()));
    vfs.mount("/dev", Arc::new(DevFs::default()));
    vfs.mount("/dev/shm", TmpFs::new(0o1777, 0x2b));
    Ok(Arc::new(vfs))
}

/// The host's CPU count, read once: std reads /proc and /sys for it,
/// which a confined sentry cannot (containers added later reuse it).
pub fn host_cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Write end of the pipe the host-signal handler writes to.
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_host_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write is async-signal-safe; one byte from a local.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// The sentry is pid 1 of its PID namespace, so host signals it has no
/// handler for would be dropped: SIGINT, SIGTERM, SIGHUP and SIGQUIT (as the
/// launcher forwards them) are handed to the sandbox's init process instead.
/// Returns the pipe's two descriptors (kept through confinement).
fn forward_host_signals(kernel: &Arc<Kernel>) -> Result<[i32; 2]> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 with a valid two-element array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!(
            "creating the host signal pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both descriptors are fresh and owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    SIGNAL_PIPE.store(
        std::os::fd::IntoRawFd::into_raw_fd(wr),
        std::sync::atomic::Ordering::SeqCst,
    );
    let k = Arc::downgrade(kernel);
    std::thread::Builder::new()
        .name("host-signals".into())
        .spawn(move || {
            use std::io::Read;
            let mut f = std::fs::File::from(rd);
            let mut b = [0u8; 1];
            while f.read_exact(&mut b).is_ok() {
                let Some(k) = k.upgrade() else { break };
                // A signal that arrives while the program is still being loaded waits for
                // init to exist (at most a minute: a sandbox that never starts it ends).
                let mut init = k.procs().tgs.get(&1).cloned();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while init.is_none() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    init = k.procs().tgs.get(&1).cloned();
                }
                if let Some(tg) = init {
                    let sig = sentry_core::kernel::signal::Signal(b[0] as u32);
                    tracing::info!(signal = %sig.name(), "host signal forwarded to init");
                    sentry_core::kernel::signal::send_to_process(
                        &tg,
                        sig,
                        sentry_core::kernel::signal::SigInfo::user(0, 0, b[0] as u32),
                    );
                }
            }
        })
        .context("starting the host-signal thread")?;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installs an async-signal-safe handler.
        unsafe { libc::signal(sig, on_host_signal as *const () as libc::sighandler_t) };
    }
    Ok(fds)
}

/// The file systems of an OCI bundle: the root (through the gofer channel
/// `gofer`, under a tmpfs upper layer unless root.readonly), then the
/// spec's mounts in order, then the masked paths; single-file binds are
/// copied in last, from `files` (open host files, in `b.files` order).
pub fn build_bundle_vfs(
    b: &crate::oci::Bundle,
    gofer: OwnedFd,
    bind_channels: Vec<OwnedFd>,
    files: Vec<OwnedFd>,
    procfs: Arc<ProcFs>,
    ptys: Arc<PtyRegistry>,
) -> Result<Arc<Vfs>> {
    mount_bundle(b, gofer, bind_channels, files, procfs, ptys)
}

/// Largest single file a bind mount copies in.
const MAX_FILE_MOUNT: u64 = 16 << 20;

/// Reads all of host file `f` (at most [`MAX_FILE_MOUNT`] bytes) and its
/// permission bits.
fn read_host_file(f: &OwnedFd) -> Result<(Vec<u8>, u32)> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a descriptor we own with a valid out-pointer.
    if unsafe { libc::fstat(f.as_raw_fd(), &mut st) } != 0 {
        return Err(anyhow!("fstat: {}", std::io::Error::last_os_error()));
    }
    if st.st_size as u64 > MAX_FILE_MOUNT {
        anyhow::bail!("larger than {MAX_FILE_MOUNT} bytes");
    }
    let mut data = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: pread into a local buffer from a descriptor we own.
        let n = unsafe {
            libc::pread(
                f.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                data.len() as i64,
            )
        };
        if n < 0 {
            return Err(anyhow!("reading: {}", std::io::Error::last_os_error()));
        }
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n as usize]);
        if data.len() as u64 > MAX_FILE_MOUNT {
            anyhow::bail!("larger than {MAX_FILE_MOUNT} bytes");
        }
    }
    Ok((data, st.st_mode & 0o7777))
}

fn mount_bundle(
    b: &crate::oci::Bundle,
    gofer: OwnedFd,
    bind_channels: Vec<OwnedFd>,
    files: Vec<OwnedFd>,
    procfs: Arc<ProcFs>,
    ptys: Arc<PtyRegistry>,
) -> Result<Arc<Vfs>> {
    use crate::oci::SentryMount;
    let mut bind_channels: Vec<Option<OwnedFd>> = bind_channels.into_iter().map(Some).collect();
    let lower = GoferFs::new(vfs_gofer::client::Client::new(gofer));
    let vfs = if b.root_readonly {
        Vfs::new(lower)
    } else {
        Vfs::new(OverlayFs::new(lower))
    };
    let cpus = host_cpus();
    for (i, (dest, m)) in b.mounts.iter().enumerate() {
        let dev = 0x30 + i as u64;
        match m {
            SentryMount::Proc => vfs.mount(dest, procfs.clone()),
            SentryMount::Sys => vfs.mount(dest, SysFs::new(cpus)),
            SentryMount::Dev => vfs.mount(dest, Arc::new(DevFs::with_ptys(ptys.clone()))),
            SentryMount::Devpts => {}
            SentryMount::Tmpfs(mode) => vfs.mount(dest, TmpFs::new(*mode, dev)),
            SentryMount::Empty => vfs.mount(dest, TmpFs::new(0o555, dev)),
            SentryMount::File(n, rw) => {
                let f = files
                    .get(*n - 1)
                    .ok_or_else(|| anyhow!("no host file for the file mount at {dest}"))?;
                let (data, mode) = read_host_file(f)
                    .with_context(|| format!("config.json: the file mounted at {dest}"))?;
                let fs = sentry_core::fsimpl::filemount::FileMount::new(&data, mode, *rw, dev)
                    .map_err(|e| anyhow!("config.json: the file mounted at {dest}: {e}"))?;
                vfs.mount(dest, fs);
            }
            SentryMount::Bind(n, rw) => {
                let sock = bind_channels
                    .get_mut(*n - 1)
                    .and_then(|c| c.take())
                    .ok_or_else(|| anyhow!("no gofer channel for the bind mount at {dest}"))?;
                let client = vfs_gofer::client::Client::new(sock);
                let fs = if *rw {
                    GoferFs::new_writable(client)
                } else {
                    GoferFs::new_shared(client)
                };
                vfs.mount(dest, fs);
            }
        }
    }
    let vfs = Arc::new(vfs);
    let mut masked = Vec::new();
    for p in &b.masked {
        match vfs.stat(&Start::cwd(&Detached, "/"), p.as_bytes(), false) {
            Err(_) => {}
            Ok(st) if st.mode & 0o170000 == 0o040000 => masked.push(p.clone()),
            Ok(_) => anyhow::bail!(
                "config.json: linux.maskedPaths: {p}: masking a file is not supported yet (directories are)"
            ),
        }
    }
    if masked.is_empty() {
        return Ok(vfs);
    }
    let vfs = Arc::try_unwrap(vfs).map_err(|_| anyhow!("the file systems are shared early"))?;
    for p in masked {
        vfs.mount(&p, TmpFs::new(0o555, 0x2f));
    }
    Ok(Arc::new(vfs))
}

/// A console for `process.terminal`: a pseudo-terminal whose slave is the
/// program's stdio and controlling terminal (session `sid`); two threads
/// copy `input` to the master and the master's output to `output`. The
/// window size is taken from `winsize_of` when that is a terminal.
/// Returns the output thread, the slave and the terminal.
pub fn open_console(
    kernel: &Arc<Kernel>,
    ptys: &Arc<PtyRegistry>,
    uid: u32,
    sid: i32,
    input: OwnedFd,
    output: OwnedFd,
    winsize_of: Option<i32>,
) -> Result<Console> {
    use std::os::fd::AsRawFd;
    let (master, pty) = ptys
        .open_console(Arc::downgrade(&(kernel.clone() as Arc<dyn Sessions>)), uid)
        .map_err(|e| anyhow!("creating the console: {e}"))?;
    let slave = pty
        .open_slave(&Detached, (libc::O_RDWR | libc::O_NOCTTY) as u32)
        .map_err(|e| anyhow!("opening the console: {e}"))?;
    pty.set_session(sid, sid);
    if let Some(fd) = winsize_of {
        let mut ws = [0u8; 8];
        // SAFETY: TIOCGWINSZ writes 8 bytes into ws; failure (not a tty) is fine.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, ws.as_mut_ptr()) } == 0 {
            pty.set_winsize(ws);
        }
    }
    let m_in = master.clone();
    std::thread::Builder::new()
        .name("console-in".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: read into a local buffer from a descriptor we own.
                let n =
                    unsafe { libc::read(input.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                if n <= 0 || m_in.write(&Detached, &buf[..n as usize]).is_err() {
                    break;
                }
            }
        })
        .context("starting the console input thread")?;
    let copying = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = copying.clone();
    let out = std::thread::Builder::new()
        .name("console-out".into())
        .spawn(move || {
            use std::sync::atomic::Ordering;
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&Detached, &mut buf) {
                busy.store(true, Ordering::SeqCst);
                let r = if n == 0 {
                    Ok(())
                } else {
                    write_all(output.as_raw_fd(), &buf[..n])
                };
                busy.store(false, Ordering::SeqCst);
                if n == 0 || r.is_err() {
                    break;
                }
            }
        })
        .context("starting the console output thread")?;
    Ok(Console {
        output: out,
        slave,
        pty: pty.clone(),
        drain: ConsoleDrain { pty, copying },
    })
}

/// Tells when a console's output has reached the host: a process's exit is
/// reported only after what it wrote to its terminal was copied out (else
/// the caller, seeing the exit, may close its side first and lose it).
#[derive(Clone)]
pub struct ConsoleDrain {
    pty: Arc<sentry_core::fsimpl::tty::Pty>,
    copying: Arc<std::sync::atomic::AtomicBool>,
}

impl ConsoleDrain {
    /// Waits (at most `limit`) until nothing is queued on the terminal nor
    /// being copied, seen twice in a row a millisecond apart.
    pub fn wait(&self, limit: std::time::Duration) {
        use std::sync::atomic::Ordering;
        let deadline = std::time::Instant::now() + limit;
        let idle = || self.pty.output_pending() == 0 && !self.copying.load(Ordering::SeqCst);
        while std::time::Instant::now() < deadline {
            if idle() {
                std::thread::sleep(std::time::Duration::from_millis(1));
                if idle() {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// A console made by [`open_console`].
pub struct Console {
    /// The thread copying the terminal's output; it ends after the last
    /// slave closes.
    pub output: std::thread::JoinHandle<()>,
    /// The program's side.
    pub slave: Arc<dyn FileDescription>,
    /// The terminal.
    pub pty: Arc<sentry_core::fsimpl::tty::Pty>,
    /// Waits for its output to be copied out.
    pub drain: ConsoleDrain,
}

fn write_all(fd: i32, mut b: &[u8]) -> std::io::Result<()> {
    while !b.is_empty() {
        // SAFETY: write of a valid buffer to a descriptor the caller owns.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        b = &b[n as usize..];
    }
    Ok(())
}

/// Finds `program` as exec would with the PATH of `envp` (a name without a
/// slash is searched for), in `fs` from `cwd`. 127 when nothing is found.
pub fn resolve_program(
    fs: &Vfs,
    cwd: &str,
    envp: &[Vec<u8>],
    program: &[u8],
) -> Result<Vec<u8>, DoError> {
    if program.contains(&b'/') {
        return Ok(program.to_vec());
    }
    let search = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_vec();
    search
        .split(|&b| b == b':')
        .filter(|d| !d.is_empty())
        .map(|d| [d, b"/", program].concat())
        .find(|c| {
            fs.stat(&Start::cwd(&Detached, cwd), c, true)
                .is_ok_and(|st| st.mode & 0o170000 == 0o100000)
        })
        .ok_or_else(|| {
            DoError::new(
                127,
                anyhow!(
                    "{}: command not found in PATH",
                    String::from_utf8_lossy(program)
                ),
            )
        })
}

/// Reads the executable at `path`: 127 when it does not exist, 126 when it
/// cannot be run.
pub fn read_program(fs: &Vfs, cwd: &str, path: &[u8]) -> Result<Vec<u8>, DoError> {
    exec::read_exec_file(&Detached, fs, cwd, path).map_err(|e| {
        let code = if e == Errno::ENOENT || e == Errno::ENOTDIR {
            127
        } else {
            126
        };
        DoError::new(
            code,
            anyhow!("cannot run {}: {e}", String::from_utf8_lossy(path)),
        )
    })
}

/// Maps a failure to make the first task of a program to an exit code.
pub fn task_error(path: &[u8], e: KernelError) -> DoError {
    let shown = String::from_utf8_lossy(path);
    match e {
        KernelError::Load(l) => DoError::new(126, anyhow!("cannot run {shown}: {l}")),
        e @ KernelError::Setup { .. } => DoError::new(126, anyhow!("cannot run {shown}: {e}")),
        other => DoError::new(125, anyhow!(other).context("starting the program")),
    }
}

/// Runs the program; returns its exit status.
pub fn run(
    opts: &DoOptions,
    strace_out: Option<Box<dyn Write + Send>>,
) -> Result<ExitStatus, DoError> {
    protect_from_oom_killer();
    let platform = KvmPlatform::new(vm_config(opts.memory_limit, opts.pids_limit))
        .map_err(|e| DoError::new(125, anyhow!(e).context("starting the sandbox")))?;
    let backend = match platform.backend() {
        kvm_vcpu::Backend::Hardware => "hardware",
        kvm_vcpu::Backend::Paravirtual => "paravirtual",
    };
    tracing::info!(platform = %platform.describe(), "sandbox starting");
    let platform: Arc<dyn Platform> = Arc::new(platform);
    let bundle = opts
        .bundle
        .as_ref()
        .map(|d| crate::oci::load(d))
        .transpose()
        .map_err(|e| DoError::new(125, e))?;
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut config = KernelConfig {
        fault_around: opts.fault_around,
        uid,
        gid,
        hostname: hostname(),
        syscalls: sentry_core::syscalls::dispatch,
        net: opts.net.clone(),
        strace: opts.strace_config.clone(),
        ..KernelConfig::default()
    };
    let (program, prog_args, envp, cwd) = match &bundle {
        Some(b) => {
            config.uid = b.process.uid;
            config.gid = b.process.gid;
            config.groups = b.process.groups.clone();
            let mut r = sentry_core::kernel::task::default_rlimits();
            for &(i, soft, hard) in &b.rlimits {
                r[i] = (soft, hard);
            }
            config.rlimits = Some(r);
            config.no_new_privs = b.process.no_new_privs;
            config.caps = b.process.caps;
            if let Some(h) = &b.hostname {
                config.hostname = h.clone();
            }
            config.sysctl = b.sysctl.clone();
            config.app_seccomp = b.seccomp.clone();
            (
                OsString::from(&b.process.args[0]),
                b.process.args[1..]
                    .iter()
                    .map(OsString::from)
                    .collect::<Vec<_>>(),
                b.process
                    .env
                    .iter()
                    .map(|e| e.clone().into_bytes())
                    .collect::<Vec<_>>(),
                b.process.cwd.clone(),
            )
        }
        None => (
            opts.program.clone(),
            opts.args.clone(),
            crate::panic::original_env()
                .into_iter()
                .map(|(k, v)| {
                    let mut e = k.into_vec();
                    e.push(b'=');
                    e.extend_from_slice(v.as_bytes());
                    e
                })
                .collect(),
            opts.cwd.clone(),
        ),
    };
    let procfs = ProcFs::new();
    // SAFETY: the launcher handed this descriptor to us; nothing else owns it.
    let gofer = unsafe { OwnedFd::from_raw_fd(opts.gofer_fd) };
    let ptys = Arc::new(PtyRegistry::default());
    let fs = match &bundle {
        Some(b) => build_bundle_vfs(
            b,
            gofer,
            (1..=b.binds.len())
                // SAFETY: the launcher handed these channels over; nothing else owns them.
                .map(|i| unsafe { OwnedFd::from_raw_fd(opts.gofer_fd + i as i32) })
                .collect(),
            (1..=b.files.len())
                // SAFETY: the launcher opened these files for us after the
                // channels; nothing else owns them.
                .map(|i| unsafe {
                    OwnedFd::from_raw_fd(opts.gofer_fd + (b.binds.len() + i) as i32)
                })
                .collect(),
            procfs.clone(),
            ptys.clone(),
        ),
        None => build_vfs(gofer, procfs.clone()),
    }
    .map_err(|e| DoError::new(125, e))?;
    let kernel = Kernel::new(platform, fs.clone(), config, strace_out);
    procfs.attach(&kernel);
    let mut keep_fds = forward_host_signals(&kernel)
        .map_err(|e| DoError::new(125, e))?
        .to_vec();
    let binds = bundle.as_ref().map_or(0, |b| b.binds.len());
    keep_fds.extend((1..=binds).map(|i| opts.gofer_fd + i as i32));
    keep_fds.extend(kernel.net.host_fds());
    keep_fds.extend(&opts.log_fds);
    keep_fds.extend(opts.profile_fd);
    keep_fds.extend(super::stacks::serve_stacks(&kernel).map_err(|e| DoError::new(125, e))?);
    super::confine::confine_sentry(opts.gofer_fd, None, &keep_fds, opts.net.mode)
        .map_err(|e| DoError::new(125, e.context("confining the sentry")))?;
    if cfg!(debug_assertions) && std::env::var_os("GVISOR_DEBUG_FORBIDDEN_SYSCALL").is_some() {
        // Debug builds only: prove the allowlist is enforced (tests).
        // SAFETY: an open the seccomp filter forbids; the process dies here.
        unsafe { libc::open(c"/etc/passwd".as_ptr(), libc::O_RDONLY) };
    }
    crate::panic::debug_trigger();

    // The program is looked up and read inside the sandbox's file system.
    let path = resolve_program(&fs, &cwd, &envp, program.as_bytes())?;
    let path_shown = String::from_utf8_lossy(&path).into_owned();
    let bytes = read_program(&fs, &cwd, &path)?;

    let mut argv: Vec<Vec<u8>> = vec![program.clone().into_vec()];
    argv.extend(prog_args.iter().map(|a| a.clone().into_vec()));
    let stdio = |fd| -> Result<Arc<dyn FileDescription>, DoError> {
        Ok(Arc::new(HostStdio::dup(fd).map_err(|e| {
            DoError::new(125, anyhow!("passing host fd {fd} to the sandbox: {e}"))
        })?))
    };
    let terminal = bundle.as_ref().is_some_and(|b| b.process.terminal);
    let mut console_master = None;
    let stdio = if terminal {
        let dup = |fd: i32| {
            // SAFETY: fd 0 or 1 stays open for the whole run; the borrow is
            // only duplicated.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| DoError::new(125, anyhow!("duplicating host fd {fd}: {e}")))
        };
        let Console {
            output: out, slave, ..
        } = open_console(
            &kernel,
            &ptys,
            kernel.config.uid,
            1,
            dup(0)?,
            dup(1)?,
            Some(0),
        )
        .map_err(|e| DoError::new(125, e))?;
        console_master = Some(out);
        [slave.clone(), slave.clone(), slave]
    } else {
        [stdio(0)?, stdio(1)?, stdio(2)?]
    };
    let execfn = path.clone();
    let task = Task::new_init(kernel.clone(), &bytes, &argv, &envp, &execfn, cwd, stdio)
        .map_err(|e| task_error(&path, e))?;
    let profile = opts.profile_fd.map(|fd| {
        // SAFETY: the launcher handed this descriptor over for the profile
        // channel; nothing else here uses it.
        let mut link = unsafe { crate::profile::link::SentryLink::from_fd(fd) };
        if let Err(e) = link.ready() {
            tracing::warn!("{e:#}");
        }
        kernel.profile().enable();
        link
    });
    let status = kernel
        .run_init(task)
        .with_context(|| format!("sandbox failed while running {path_shown}"))
        .map_err(|e| DoError::new(125, e))?;
    if let Some(out) = console_master {
        // The output thread ends when the last slave closes (EIO) after
        // copying everything; give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !out.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    if let Some(link) = profile {
        let app = crate::profile::App::from_snapshot(&kernel.profile().snapshot());
        if let Err(e) = link.send_app(&app) {
            tracing::warn!("{e:#}");
        }
    }
    // Tasks still running when init has gone end with this process.
    let stats = &kernel.stats;
    let (exits, faults, pages) = (
        stats.exits.load(std::sync::atomic::Ordering::Relaxed),
        stats.faults.load(std::sync::atomic::Ordering::Relaxed),
        stats.pages.load(std::sync::atomic::Ordering::Relaxed),
    );
    tracing::info!(?status, exits, faults, "program finished");
    if opts.stats {
        eprintln!("gvisor-stats: backend={backend} exits={exits} faults={faults} pages={pages}");
    }
    Ok(status)
}
