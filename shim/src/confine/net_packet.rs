//! What the sentry's allowlist gains in network mode `sandbox`: moving
//! Ethernet frames through the packet sockets the launcher donated (see
//! `crate::netns`). The sockets come open, bound and configured: the
//! sentry only receives and sends whole frames on them, with exactly the
//! flags pinned here (no socket, bind, setsockopt, connect or address).

use super::allowlist::{allow_if, Allowed, Cond};

/// The calls frames need (on top of the base list).
pub fn packet_calls() -> Vec<Allowed> {
    use libc::*;
    vec![
        allow_if(
            "recvmmsg",
            SYS_recvmmsg,
            vec![vec![Cond::Eq(3, MSG_WAITFORONE as u64), Cond::Eq64(4, 0)]],
            "receiving frames from the packet sockets (MSG_WAITFORONE, no timeout)",
        ),
        allow_if(
            "sendmmsg",
            SYS_sendmmsg,
            vec![vec![Cond::Eq(3, 0)]],
            "sending frames on the packet sockets (no flags)",
        ),
        allow_if(
            "sendto",
            SYS_sendto,
            vec![vec![Cond::Eq(3, 0), Cond::Eq64(4, 0), Cond::Eq(5, 0)]],
            "sending one frame on a packet socket (no flags, no address)",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_only_with_pinned_flags() {
        let l = packet_calls();
        assert_eq!(l.len(), 3);
        assert!(l.iter().all(|a| !a.when.is_empty()));
        crate::confine::compile(&crate::confine::sentry_allowlist_for(
            1,
            sentry_core::net::NetMode::Sandbox,
        ))
        .unwrap();
    }
}
