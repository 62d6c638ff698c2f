//! What runs inside the sentry process (`gvisor boot`): building the
//! kernel and its file systems, running a program (`boot`) or serving a
//! pod's control socket (`serve`), and confining itself first (`confine`).

pub mod boot;
pub mod confine;
pub mod serve;
pub mod stacks;
