//! The kernel: shared state of the sandbox and its tasks.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::platform::Platform;
use crate::vfs::FileSystem;

pub mod exec;
pub mod signal;
pub mod task;

pub use task::{ExitStatus, Task};

/// Sandbox-wide settings.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// Pages mapped per page fault (fault-around window).
    pub fault_around: u64,
    /// Credentials every task starts with.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Host name reported by uname.
    pub hostname: String,
    /// Number of CPUs the app sees.
    pub cpus: usize,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            fault_around: crate::mm::DEFAULT_FAULT_AROUND,
            uid: 0,
            gid: 0,
            hostname: "gvisor".into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Errors that end the sandbox (never caused by what the app does).
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The platform failed.
    #[error("platform: {0}")]
    Platform(#[from] crate::platform::PlatformError),
    /// The program could not be loaded.
    #[error("{0}")]
    Load(#[from] crate::loader::LoadError),
    /// Setting up the first task failed.
    #[error("setting up the program: {what}: {errno}")]
    Setup {
        /// What.
        what: &'static str,
        /// Why.
        errno: crate::errno::Errno,
    },
}

/// Per-syscall-number counters.
#[derive(Default)]
pub struct SyscallStats {
    /// calls by number.
    pub calls: Vec<u64>,
}

/// The sandbox's kernel.
pub struct Kernel {
    /// Where app code runs.
    pub platform: Arc<dyn Platform>,
    /// The root file system.
    pub fs: Arc<dyn FileSystem>,
    /// Settings.
    pub config: KernelConfig,
    /// Where `--strace` lines go, if enabled.
    strace: Option<Mutex<Box<dyn Write + Send>>>,
    /// Unimplemented syscall numbers already logged.
    unimplemented_seen: Mutex<HashSet<u64>>,
    /// When the sandbox started (CLOCK_BOOTTIME-like uptime).
    pub boot: Instant,
}

impl Kernel {
    /// A kernel over `platform` and `fs`.
    pub fn new(
        platform: Arc<dyn Platform>,
        fs: Arc<dyn FileSystem>,
        config: KernelConfig,
        strace: Option<Box<dyn Write + Send>>,
    ) -> Arc<Kernel> {
        Arc::new(Kernel {
            platform,
            fs,
            config,
            strace: strace.map(Mutex::new),
            unimplemented_seen: Mutex::new(HashSet::new()),
            boot: Instant::now(),
        })
    }

    /// Whether syscalls are traced.
    pub fn tracing(&self) -> bool {
        self.strace.is_some()
    }

    /// Writes one strace line.
    pub fn strace_line(&self, line: &str) {
        if let Some(s) = &self.strace {
            let mut w = s.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
    }

    /// Logs an unimplemented syscall, once per number.
    pub fn note_unimplemented(&self, nr: u64, name: &str) {
        let mut seen = self
            .unimplemented_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.insert(nr) {
            let name = if name.is_empty() { "unknown" } else { name };
            tracing::warn!("unimplemented syscall {nr} ({name}): returning ENOSYS");
        }
    }
}
