//! What `--strace` traces (the kernel's part of the configuration; the
//! decoders and the parsing of the flags are `crate::syscalls::strace`).

use std::collections::BTreeSet;

/// Bytes of a string or buffer a strace line shows by default (runsc's
/// `--strace-log-size`).
pub const DEFAULT_LOG_SIZE: usize = 1024;

/// What `--strace` traces and how much of each buffer it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StraceConfig {
    /// Only these syscall numbers (None: every call).
    pub syscalls: Option<BTreeSet<u64>>,
    /// Bytes of a string or buffer shown.
    pub log_size: usize,
}

impl Default for StraceConfig {
    fn default() -> Self {
        StraceConfig {
            syscalls: None,
            log_size: DEFAULT_LOG_SIZE,
        }
    }
}
