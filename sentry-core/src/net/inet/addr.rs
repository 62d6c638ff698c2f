//! Addresses: the program's `sockaddr_in`/`sockaddr_in6` and the stack's
//! view of them. Inside the stack an IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`) is the IPv4 address it maps; a socket of family
//! AF_INET6 shows IPv4 peers in the mapped form again, as Linux does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::abi::socket::SockAddr;
use crate::errno::{Errno, SysResult};

/// An endpoint as the stack sees it (mapped addresses unmapped).
pub type Endpoint = (IpAddr, u16);

/// `a` with an IPv4-mapped IPv6 address made IPv4.
pub fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `a` is an address of the loopback interface (all of 127/8, ::1).
pub fn is_local(a: IpAddr) -> bool {
    match canonical(a) {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    }
}

/// Whether `a` is the wildcard of its family.
pub fn is_any(a: IpAddr) -> bool {
    a.is_unspecified()
}

/// The address of a program's `SockAddr` for a socket of `domain`:
/// EAFNOSUPPORT for a family the socket does not speak.
pub fn endpoint_of(domain: i32, addr: &SockAddr) -> SysResult<(IpAddr, u16, bool)> {
    match (domain, addr) {
        (libc::AF_INET, SockAddr::Inet(a)) => Ok((IpAddr::V4(*a.ip()), a.port(), false)),
        (libc::AF_INET6, SockAddr::Inet6(a)) => {
            let mapped = a.ip().to_ipv4_mapped().is_some();
            Ok((canonical(IpAddr::V6(*a.ip())), a.port(), mapped))
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// The `SockAddr` a socket of `domain` shows for `ep`.
pub fn sockaddr(domain: i32, ep: Endpoint) -> SockAddr {
    let (ip, port) = ep;
    if domain == libc::AF_INET6 {
        let v6 = match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => Ipv6Addr::UNSPECIFIED,
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        SockAddr::Inet6(SocketAddrV6::new(v6, port, 0, 0))
    } else {
        let v4 = match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        SockAddr::Inet(SocketAddrV4::new(v4, port))
    }
}

/// The unbound address of a socket of `domain`.
pub fn any_of(domain: i32) -> IpAddr {
    if domain == libc::AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Where a connect or send to `ip` goes: the wildcard means this host
/// (127.0.0.1 or ::1, as Linux); ENETUNREACH for what the loopback
/// interface cannot reach.
pub fn route(ip: IpAddr) -> SysResult<IpAddr> {
    let ip = canonical(ip);
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(v6) if v6.is_unspecified() => Ok(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        a if is_local(a) => Ok(a),
        _ => Err(Errno::ENETUNREACH),
    }
}

/// The source address a packet to `dst` leaves with.
pub fn source_for(dst: IpAddr) -> IpAddr {
    match dst {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_round_trip() {
        let m = SockAddr::Inet6(SocketAddrV6::new(
            Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
            80,
            0,
            0,
        ));
        let (ip, port, mapped) = endpoint_of(libc::AF_INET6, &m).unwrap();
        assert_eq!(
            (ip, port, mapped),
            (IpAddr::V4(Ipv4Addr::LOCALHOST), 80, true)
        );
        assert_eq!(sockaddr(libc::AF_INET6, (ip, port)), m);
        assert!(is_local(IpAddr::V4(Ipv4Addr::new(127, 3, 4, 5))));
        assert_eq!(
            route(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            Err(Errno::ENETUNREACH)
        );
    }
}
