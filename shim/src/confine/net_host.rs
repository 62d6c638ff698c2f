//! What the sentry's allowlist gains in network mode `host` (hostinet):
//! the socket calls made on the program's behalf on host sockets.

use super::allowlist::Allowed;

/// The calls host sockets need (on top of the base list).
pub fn hostinet_calls() -> Vec<Allowed> {
    Vec::new()
}
