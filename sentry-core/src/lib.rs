//! The sentry: gvisor-rs's Linux-compatible kernel. It serves every system
//! call and fault of the sandboxed program, which runs in guest ring 3 of a
//! KVM virtual machine behind the [`platform`] seam.

pub mod errno;
pub mod fs;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod platform;
pub mod syscalls;
pub mod vfs;
