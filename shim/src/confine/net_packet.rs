//! What the sentry's allowlist gains in network mode `sandbox`: moving
//! Ethernet frames through the packet sockets the launcher donated.

use super::allowlist::Allowed;

/// The calls frames need (on top of the base list).
pub fn packet_calls() -> Vec<Allowed> {
    Vec::new()
}
