//! The debug log flags of `gvisor do`, `gvisor run` and `gvisor boot`
//! (see `crate::logging` for the file names).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::logging::Format;

/// `--debug-log` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DebugFlags {
    /// Write debug logs (and strace) of every process of the sandbox: a
    /// directory (ending in / or existing: DIR/gvisor.%TIMESTAMP%.%ID%.%COMMAND%.log)
    /// or a file pattern with %ID%, %COMMAND%, %TIMESTAMP% and %PID%.
    #[arg(long, value_name = "DIR|PATTERN")]
    pub debug_log: Option<PathBuf>,
    /// The debug logs' format.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub debug_log_format: Format,
    /// Log every network frame the sandbox sends or receives (headers only)
    /// into the debug log.
    #[arg(long)]
    pub log_packets: bool,
    /// The debug log, already open (given by the launcher).
    #[arg(long, value_name = "FD", hide = true)]
    pub debug_log_fd: Option<i32>,
}

impl DebugFlags {
    /// The same flags for `gvisor boot`. The log itself is opened by the
    /// launcher and handed over with its format (`--debug-log-fd`,
    /// `--debug-log-format`), see `launch`.
    pub fn boot_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if self.log_packets {
            v.push("--log-packets".into());
        }
        v
    }
}
