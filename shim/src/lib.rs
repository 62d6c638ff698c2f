//! Host side of gvisor-rs: the `gvisor` CLI (`do`, `boot`, `gofer`,
//! `syscalls`), the sandbox launcher and the confinement of its processes;
//! later the containerd shim.

pub mod cgroup;
pub mod confine;
pub mod containerd;
pub mod control;
pub mod launch;
pub mod oci;
pub mod options;
pub mod panic;
pub mod pod;
pub mod sandbox;
pub mod serve;
pub mod task;
