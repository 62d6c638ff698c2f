//! Host side of gvisor-rs: the `gvisor` CLI (`do`, `boot`, `gofer`,
//! `syscalls`), the sandbox launcher and the confinement of its processes;
//! later the containerd shim.

pub mod confine;
pub mod launch;
pub mod oci;
pub mod sandbox;
pub mod task;
