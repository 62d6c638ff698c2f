//! The `gvisor` binary: the CLI, the sentry (`gvisor boot`) and the gofer
//! (`gvisor gofer`); see `shim::cli`.

use std::process::ExitCode;

/// The system allocator, noting failed sizes for the sentry's last words.
#[global_allocator]
static ALLOCATOR: shim::panic::Allocator = shim::panic::Allocator;

fn main() -> ExitCode {
    shim::cli::main()
}
