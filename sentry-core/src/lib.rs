//! The sentry: gvisor-rs's Linux-compatible kernel. It serves every system
//! call and fault of the sandboxed program, which runs in guest ring 3 of a
//! KVM virtual machine behind the [`platform`] seam.
//!
//! The modules form layers; each imports only the layers below it (a test,
//! `tests::layers`, fails when an import goes upwards):
//!
//! ```text
//! syscalls → procfs → kernel → net → loader → fsimpl → vfs → mm → platform
//! leaves usable from every layer: abi, errno, waiter
//! ```

pub mod abi;
pub mod errno;
pub mod fsimpl;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod net;
pub mod platform;
pub mod procfs;
pub mod syscalls;
#[cfg(test)]
mod testing;
pub mod vfs;
pub mod waiter;
