//! The gofer protocol: how the sentry reaches a container's files without
//! opening host paths itself.
//!
//! Frames travel on a `SOCK_SEQPACKET` socket: `u32 length | u16 message id
//! | prost payload`; host fds travel with `SCM_RIGHTS`, so reads and writes
//! use the donated fd directly with no round trip per I/O. The server
//! ([`server::Server`]) resolves every path beneath its root one component at
//! a time with `O_NOFOLLOW`, so no symlink on the host is ever followed and no
//! path it is sent can leave the root. The client ([`client::Client`]) is what
//! the sentry's gofer file system uses.
//!
//! Not built yet: handles (Walk) instead of canonical paths, and the
//! operations that change files (the sandbox writes into its own overlay).

pub mod abi;
pub mod client;
pub mod proto;
pub mod server;
pub mod wire;

/// Errors of the protocol's transport (file errors travel as errnos).
#[derive(Debug, thiserror::Error)]
pub enum GoferError {
    /// The socket failed.
    #[error("gofer socket: {0}")]
    Io(#[from] std::io::Error),
    /// A frame did not decode.
    #[error("gofer protocol: {0}")]
    Protocol(String),
}
