//! Host side of gvisor-rs: the `gvisor` CLI (`do`, `syscalls`) and, later, the
//! containerd shim, the sandbox launcher and the gofer process.

pub mod sandbox;
