//! The debug log flags of `gvisor do`, `gvisor run` and `gvisor boot`.

use std::ffi::OsString;
use std::path::PathBuf;

/// `--debug-log` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DebugFlags {
    /// Write the sentry's debug log (and strace) into DIR.
    #[arg(long, value_name = "DIR")]
    pub debug_log: Option<PathBuf>,
}

impl DebugFlags {
    /// The same flags for `gvisor boot`.
    pub fn boot_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if let Some(d) = &self.debug_log {
            v.push("--debug-log".into());
            v.push(d.clone().into_os_string());
        }
        v
    }
}
