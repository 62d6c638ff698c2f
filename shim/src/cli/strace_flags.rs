//! The strace flags of `gvisor do`, `gvisor run` and `gvisor boot`.

use std::ffi::OsString;

/// `--strace` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StraceFlags {
    /// Print one line per system call (to stderr, or to the debug log).
    #[arg(long)]
    pub strace: bool,
}

impl StraceFlags {
    /// The same flags for `gvisor boot`.
    pub fn boot_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if self.strace {
            v.push("--strace".into());
        }
        v
    }
}
