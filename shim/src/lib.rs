//! Host side of gvisor-rs, in folders named for the process each part runs
//! in: `cli` (the `gvisor` command), `sentry` (`gvisor boot`), `gofer`
//! (`gvisor gofer`) and `containerd` (`containerd-shim-gvisor-v1`); and the
//! pieces they share: confinement (`confine`), the sandbox's cgroup
//! (`cgroup`), OCI bundles (`oci`), resource limits (`limits`), the control
//! protocol between the shim and the sentry (`control`), the sandbox's
//! network namespace (`netns`), and the last words of a confined process
//! (`panic`).

pub mod cgroup;
pub mod cli;
pub mod confine;
pub mod containerd;
pub mod control;
pub mod gofer;
pub mod limits;
pub mod netns;
pub mod oci;
pub mod panic;
pub mod profile;
pub mod sentry;
