//! `gvisor do`: runs one program from the host file system in a new sandbox,
//! with the sentry in this process.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use kvm_vcpu::VmConfig;
use sentry_core::errno::Errno;
use sentry_core::kernel::exec;
use sentry_core::kernel::{ExitStatus, Kernel, KernelConfig, KernelError, Task};
use sentry_core::platform::kvm::KvmPlatform;
use sentry_core::platform::Platform;
use sentry_core::vfs::devfs::DevFs;
use sentry_core::vfs::gofer::GoferFs;
use sentry_core::vfs::host::HostStdio;
use sentry_core::vfs::overlay::OverlayFs;
use sentry_core::vfs::procfs::ProcFs;
use sentry_core::vfs::sysfs::SysFs;
use sentry_core::vfs::tmpfs::TmpFs;
use sentry_core::vfs::{FileDescription, Start, Vfs};

/// What `gvisor do` was asked to do.
#[derive(Debug, Clone)]
pub struct DoOptions {
    /// Program (a path, or a name looked up in PATH).
    pub program: OsString,
    /// Its arguments (without argv[0]).
    pub args: Vec<OsString>,
    /// Trace syscalls.
    pub strace: bool,
    /// Debug log directory.
    pub debug_log: Option<PathBuf>,
    /// Pages mapped per fault.
    pub fault_around: u64,
    /// Print run statistics to stderr at the end.
    pub stats: bool,
    /// The root file system (a host directory; the host's / when None).
    pub rootfs: Option<PathBuf>,
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

/// The sandbox's file systems: the host tree at `root` under a tmpfs upper
/// layer, procfs at /proc, devfs at /dev with a tmpfs at /dev/shm.
pub fn build_vfs(root: &str, procfs: Arc<ProcFs>) -> Result<Arc<Vfs>> {
    // The host tree is read through the gofer protocol. The gofer server
    // still runs as a thread of this process; the isolation stage moves it
    // into its own confined process.
    let server = vfs_gofer::server::Server::new(root)
        .with_context(|| format!("opening the root file system {root}"))?;
    let (client_sock, server_sock) =
        vfs_gofer::wire::socketpair().context("creating the gofer socket")?;
    std::thread::Builder::new()
        .name("gofer".into())
        .spawn(move || {
            if let Err(e) = server.serve(server_sock) {
                tracing::error!(error = %e, "gofer server stopped");
            }
        })
        .context("starting the gofer")?;
    let lower = GoferFs::new(vfs_gofer::client::Client::new(client_sock));
    let mut vfs = Vfs::new(OverlayFs::new(lower));
    vfs.mount("/proc", procfs);
    vfs.mount(
        "/sys",
        SysFs::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
    );
    vfs.mount("/dev", Arc::new(DevFs::default()));
    vfs.mount("/dev/shm", TmpFs::new(0o1777, 0x2b));
    Ok(Arc::new(vfs))
}

/// Runs the program; returns its exit status.
pub fn run(
    opts: &DoOptions,
    strace_out: Option<Box<dyn Write + Send>>,
) -> Result<ExitStatus, DoError> {
    let platform = KvmPlatform::new(VmConfig::default())
        .map_err(|e| DoError::new(125, anyhow!(e).context("starting the sandbox")))?;
    let backend = match platform.backend() {
        kvm_vcpu::Backend::Hardware => "hardware",
        kvm_vcpu::Backend::Paravirtual => "paravirtual",
    };
    tracing::info!(platform = %platform.describe(), "sandbox starting");
    let platform: Arc<dyn Platform> = Arc::new(platform);
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let config = KernelConfig {
        fault_around: opts.fault_around,
        uid,
        gid,
        hostname: hostname(),
        ..KernelConfig::default()
    };
    let procfs = ProcFs::new();
    let root = opts
        .rootfs
        .as_ref()
        .map_or_else(|| "/".to_string(), |r| r.to_string_lossy().into_owned());
    let fs = build_vfs(&root, procfs.clone()).map_err(|e| DoError::new(125, e))?;
    let kernel = Kernel::new(platform, fs.clone(), config, strace_out);
    procfs.attach(&kernel);
    let cwd = match &opts.rootfs {
        Some(_) => "/".to_string(),
        None => std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
            .unwrap_or_else(|| "/".into()),
    };

    // The program is looked up and read inside the sandbox's file system.
    let shown = Path::new(&opts.program).display().to_string();
    let prog = opts.program.as_bytes();
    let path: Vec<u8> = if prog.contains(&b'/') {
        prog.to_vec()
    } else {
        let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        let found = search
            .as_bytes()
            .split(|&b| b == b':')
            .filter(|d| !d.is_empty())
            .map(|d| [d, b"/", prog].concat())
            .find(|c| {
                fs.stat(&Start::Cwd(&cwd), c, true)
                    .is_ok_and(|st| st.mode & 0o170000 == 0o100000)
            });
        found.ok_or_else(|| DoError::new(127, anyhow!("{shown}: command not found in PATH")))?
    };
    let path_shown = String::from_utf8_lossy(&path).into_owned();
    let bytes = exec::read_exec_file(&kernel, &cwd, &path).map_err(|e| {
        let code = if e == Errno::ENOENT || e == Errno::ENOTDIR {
            127
        } else {
            126
        };
        DoError::new(code, anyhow!("cannot run {path_shown}: {e}"))
    })?;

    let mut argv: Vec<Vec<u8>> = vec![opts.program.clone().into_vec()];
    argv.extend(opts.args.iter().map(|a| a.clone().into_vec()));
    let envp: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.into_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect();
    let stdio = |fd| -> Result<Arc<dyn FileDescription>, DoError> {
        Ok(Arc::new(HostStdio::dup(fd).map_err(|e| {
            DoError::new(125, anyhow!("passing host fd {fd} to the sandbox: {e}"))
        })?))
    };
    let stdio = [stdio(0)?, stdio(1)?, stdio(2)?];
    let execfn = path.clone();
    let task =
        Task::new_init(kernel.clone(), &bytes, &argv, &envp, &execfn, cwd, stdio).map_err(|e| {
            match e {
                KernelError::Load(l) => DoError::new(126, anyhow!("cannot run {path_shown}: {l}")),
                e @ KernelError::Setup { .. } => {
                    DoError::new(126, anyhow!("cannot run {path_shown}: {e}"))
                }
                other => DoError::new(125, anyhow!(other).context("starting the program")),
            }
        })?;
    let status = kernel
        .run_init(task)
        .with_context(|| format!("sandbox failed while running {path_shown}"))
        .map_err(|e| DoError::new(125, e))?;
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
