//! The profile flags of `gvisor do`, `gvisor run` and `gvisor boot`
//! (issue 15: not built yet).

use std::ffi::OsString;

/// `--profile` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProfileFlags {}

impl ProfileFlags {
    /// The same flags for `gvisor boot`.
    pub fn boot_args(&self) -> Vec<OsString> {
        Vec::new()
    }
}
