//! How a sandbox reaches a network: the mode and, for `sandbox` and
//! `host`, the interfaces and routes of the network namespace the launcher
//! took them from.
//!
//! The launcher (outside the sentry) reads the namespace (addresses,
//! routes, MTU, MAC), opens a packet socket on each interface for the
//! `sandbox` mode and hands the sentry a [`NetConfig`]; the stack is built
//! from it ([`super::Stack::with_config`]). The sentry itself never opens a
//! host socket in the `sandbox` and `none` modes.

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Which stack serves AF_INET/AF_INET6 sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetMode {
    /// Loopback only (127.0.0.0/8 and ::1), inside the sentry.
    #[default]
    None,
    /// The sentry's stack, on the namespace's interfaces: Ethernet frames
    /// move through a donated packet socket per interface; the host kernel
    /// terminates nothing.
    Sandbox,
    /// AF_INET/AF_INET6 sockets are host sockets in the sandbox's network
    /// namespace (gVisor's hostinet): the host's TCP, weaker isolation.
    Host,
}

impl NetMode {
    /// The mode's name as in options and flags ("none", "sandbox",
    /// "host").
    pub fn name(self) -> &'static str {
        match self {
            NetMode::None => "none",
            NetMode::Sandbox => "sandbox",
            NetMode::Host => "host",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Option<NetMode> {
        match s {
            "none" => Some(NetMode::None),
            "sandbox" => Some(NetMode::Sandbox),
            "host" => Some(NetMode::Host),
            _ => None,
        }
    }
}

/// One interface of the namespace (not loopback: the sandbox always has
/// its own).
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Name ("eth0").
    pub name: String,
    /// Hardware address.
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u32,
    /// Addresses with prefix lengths (IPv4 and IPv6, link-local included).
    pub addrs: Vec<(IpAddr, u8)>,
    /// The packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL, bound to the
    /// interface) frames move through: `sandbox` mode only.
    pub fd: Option<Arc<OwnedFd>>,
}

/// One route of the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// Destination network (0.0.0.0 or :: with prefix 0 for the default).
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop; None for a directly connected network.
    pub gateway: Option<IpAddr>,
    /// The interface's name.
    pub link: String,
    /// Metric (lower wins among equal prefixes).
    pub metric: u32,
}

/// The network of a sandbox as the launcher hands it to the sentry.
#[derive(Clone, Debug, Default)]
pub struct NetConfig {
    /// The mode.
    pub mode: NetMode,
    /// The interfaces besides loopback, in index order (the first gets
    /// index 2, as eth0 after lo).
    pub links: Vec<LinkConfig>,
    /// The routes.
    pub routes: Vec<RouteConfig>,
}

/// A [`NetConfig`] the stack cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetConfigError {
    /// An MTU below IPv4's minimum (68) or above what a frame can carry.
    #[error("interface {link}: MTU {mtu} is outside 68..=65535")]
    Mtu {
        /// The interface.
        link: String,
        /// Its MTU.
        mtu: u32,
    },
    /// `sandbox` mode needs a packet socket for each interface.
    #[error("interface {0}: no packet socket was donated for it")]
    NoSocket(String),
    /// A route names an interface that is not in the list.
    #[error("route to {dst}/{prefix}: no interface named {link:?}")]
    RouteLink {
        /// Destination.
        dst: IpAddr,
        /// Prefix.
        prefix: u8,
        /// The interface named.
        link: String,
    },
    /// A prefix longer than the address.
    #[error("{0}/{1}: prefix length too long")]
    Prefix(IpAddr, u8),
    /// Two interfaces with one name.
    #[error("interface {0} is listed twice")]
    Duplicate(String),
    /// An interface name longer than IFNAMSIZ-1 or empty or "lo".
    #[error("interface name {0:?} is not usable")]
    Name(String),
}

impl NetConfig {
    /// Loopback only.
    pub fn none() -> NetConfig {
        NetConfig::default()
    }

    /// Checks what the stack relies on: MTUs, names, prefixes, routes'
    /// interfaces, a socket per interface in `sandbox` mode.
    pub fn validate(&self) -> Result<(), NetConfigError> {
        let mut names: Vec<&str> = Vec::new();
        for l in &self.links {
            if l.name.is_empty() || l.name.len() > 15 || l.name == "lo" || l.name.contains('/') {
                return Err(NetConfigError::Name(l.name.clone()));
            }
            if names.contains(&l.name.as_str()) {
                return Err(NetConfigError::Duplicate(l.name.clone()));
            }
            names.push(&l.name);
            if !(68..=65535).contains(&l.mtu) {
                return Err(NetConfigError::Mtu {
                    link: l.name.clone(),
                    mtu: l.mtu,
                });
            }
            for &(a, p) in &l.addrs {
                check_prefix(a, p)?;
            }
            if self.mode == NetMode::Sandbox && l.fd.is_none() {
                return Err(NetConfigError::NoSocket(l.name.clone()));
            }
        }
        for r in &self.routes {
            check_prefix(r.dst, r.prefix)?;
            if !names.contains(&r.link.as_str()) {
                return Err(NetConfigError::RouteLink {
                    dst: r.dst,
                    prefix: r.prefix,
                    link: r.link.clone(),
                });
            }
        }
        Ok(())
    }
}

fn check_prefix(a: IpAddr, p: u8) -> Result<(), NetConfigError> {
    let max = if a.is_ipv4() { 32 } else { 128 };
    if p > max {
        return Err(NetConfigError::Prefix(a, p));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, mtu: u32) -> LinkConfig {
        LinkConfig {
            name: name.into(),
            mac: [2, 0, 0, 0, 0, 1],
            mtu,
            addrs: vec![("10.0.0.2".parse().unwrap(), 24)],
            fd: None,
        }
    }

    #[test]
    fn validate_names_the_problem() {
        let mut c = NetConfig {
            mode: NetMode::Host,
            links: vec![link("eth0", 1500)],
            routes: vec![],
        };
        assert_eq!(c.validate(), Ok(()));
        c.links[0].mtu = 40;
        assert!(c.validate().unwrap_err().to_string().contains("MTU 40"));
        c.links[0].mtu = 1500;
        c.mode = NetMode::Sandbox;
        assert_eq!(c.validate(), Err(NetConfigError::NoSocket("eth0".into())));
        c.mode = NetMode::Host;
        c.routes.push(RouteConfig {
            dst: "0.0.0.0".parse().unwrap(),
            prefix: 0,
            gateway: Some("10.0.0.1".parse().unwrap()),
            link: "eth1".into(),
            metric: 0,
        });
        assert!(matches!(
            c.validate(),
            Err(NetConfigError::RouteLink { .. })
        ));
        c.routes[0].link = "eth0".into();
        c.links[0].addrs.push(("fe80::1".parse().unwrap(), 129));
        assert!(matches!(c.validate(), Err(NetConfigError::Prefix(..))));
        c.links[0].addrs.pop();
        c.links.push(link("eth0", 1500));
        assert!(matches!(c.validate(), Err(NetConfigError::Duplicate(_))));
        c.links.pop();
        c.links.push(link("lo", 1500));
        assert!(matches!(c.validate(), Err(NetConfigError::Name(_))));
    }

    #[test]
    fn modes_by_name() {
        for m in [NetMode::None, NetMode::Sandbox, NetMode::Host] {
            assert_eq!(NetMode::parse(m.name()), Some(m));
        }
        assert_eq!(NetMode::parse("bridge"), None);
    }
}
