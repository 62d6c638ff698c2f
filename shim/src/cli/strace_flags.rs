//! The strace flags of `gvisor do`, `gvisor run` and `gvisor boot`.

use std::ffi::OsString;

use sentry_core::syscalls::strace::{StraceConfig, StraceConfigError};

/// `--strace` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StraceFlags {
    /// Print one line per system call (to stderr, or to the debug log):
    /// `[pid:tid] comm E name(args)` when a call that can block starts,
    /// `[pid:tid] comm X name(args) = result (elapsed)` when a call returns.
    #[arg(long)]
    pub strace: bool,
    /// Trace only these system calls (comma-separated names, e.g.
    /// `openat,read,execve`).
    #[arg(long, value_name = "LIST")]
    pub strace_syscalls: Option<String>,
    /// Bytes of a string or buffer shown per argument (default 1024).
    #[arg(long, value_name = "N")]
    pub strace_log_size: Option<usize>,
}

impl StraceFlags {
    /// The same flags for `gvisor boot`.
    pub fn boot_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if self.strace {
            v.push("--strace".into());
        }
        if let Some(l) = &self.strace_syscalls {
            v.push(format!("--strace-syscalls={l}").into());
        }
        if let Some(n) = self.strace_log_size {
            v.push(format!("--strace-log-size={n}").into());
        }
        v
    }

    /// The kernel's strace settings (filter, log size), checked.
    pub fn config(&self) -> Result<StraceConfig, StraceConfigError> {
        StraceConfig::from_flags(self.strace_syscalls.as_deref(), self.strace_log_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_and_checks() {
        let f = StraceFlags {
            strace: true,
            strace_syscalls: Some("openat,read".into()),
            strace_log_size: Some(64),
        };
        assert_eq!(
            f.boot_args(),
            [
                "--strace",
                "--strace-syscalls=openat,read",
                "--strace-log-size=64"
            ]
        );
        let c = f.config().unwrap();
        assert_eq!(c.log_size, 64);
        assert!(c.traces(257) && !c.traces(1));
        let bad = StraceFlags {
            strace_syscalls: Some("read,nosuch".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.config().unwrap_err().to_string(),
            "--strace-syscalls: unknown system call \"nosuch\""
        );
        assert!(StraceFlags::default().boot_args().is_empty());
    }
}
