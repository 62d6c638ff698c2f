//! The profile flags of `gvisor do`, `gvisor run` and `gvisor boot`.

use std::ffi::OsString;
use std::path::PathBuf;

/// `--profile` and its options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProfileFlags {
    /// At the sandbox's end, write the profile: the program's system calls
    /// as the sentry served them (calls, errors, time; per process and in
    /// all) and the host system calls the sentry and the gofer made while
    /// it ran. Without PATH as text to stderr; PATH ending in .json as
    /// JSON; any other PATH as text. Host counts need root (tracefs).
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true)]
    pub profile: Option<Option<PathBuf>>,
    /// (Internal, `gvisor boot`) the launcher's profile channel.
    #[arg(long, value_name = "FD", hide = true)]
    pub profile_fd: Option<i32>,
}

impl ProfileFlags {
    /// The same flags for `gvisor boot` (none: the launcher adds
    /// `--profile-fd` when it makes the channel).
    pub fn boot_args(&self) -> Vec<OsString> {
        Vec::new()
    }

    /// What the launcher must produce for sandbox `sandbox` running
    /// `command`, if profiling.
    pub fn request(
        &self,
        sandbox: String,
        command: Vec<String>,
    ) -> Option<crate::profile::Request> {
        self.profile.as_ref().map(|p| crate::profile::Request {
            path: p.clone(),
            sandbox,
            command,
        })
    }
}
