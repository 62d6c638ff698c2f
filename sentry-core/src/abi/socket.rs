//! Socket addresses as the program passes them (`struct sockaddr_*`), parsed
//! and encoded with Linux's rules, and the socket constants the layers share.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::errno::{Errno, SysResult};

/// The longest address a program may pass (`sizeof(struct sockaddr_storage)`).
pub const SOCKADDR_MAX: usize = 128;
/// `sizeof(sa_family_t)`.
const FAMILY_LEN: usize = 2;
/// The path field of `struct sockaddr_un`.
pub const UNIX_PATH_MAX: usize = 108;
/// Backlog limit (net.core.somaxconn).
pub const SOMAXCONN: i32 = 4096;

/// A unix-domain address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// No name (unbound, or a socketpair end).
    Unnamed,
    /// A path in the file systems (without the terminating NUL).
    Path(Vec<u8>),
    /// A name in the abstract namespace (the bytes after the leading NUL).
    Abstract(Vec<u8>),
}

/// A socket address of any family the sandbox serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_UNSPEC (connect(2) with it dissolves a datagram association).
    Unspec,
    /// AF_UNIX.
    Unix(UnixAddr),
    /// AF_INET.
    Inet(SocketAddrV4),
    /// AF_INET6.
    Inet6(SocketAddrV6),
    /// AF_NETLINK.
    Netlink {
        /// Port id.
        pid: u32,
        /// Multicast groups.
        groups: u32,
    },
}

fn u16_be(b: &[u8], at: usize) -> SysResult<u16> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(Errno::EINVAL)
}

fn u32_ne(b: &[u8], at: usize) -> SysResult<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(Errno::EINVAL)
}

impl SockAddr {
    /// The address family (`AF_*`).
    pub fn family(&self) -> i32 {
        match self {
            SockAddr::Unspec => libc::AF_UNSPEC,
            SockAddr::Unix(_) => libc::AF_UNIX,
            SockAddr::Inet(_) => libc::AF_INET,
            SockAddr::Inet6(_) => libc::AF_INET6,
            SockAddr::Netlink { .. } => libc::AF_NETLINK,
        }
    }

    /// Parses the `len` bytes a program passed as a `struct sockaddr`.
    /// Linux's rules: shorter than the family field is EINVAL; a unix
    /// address may omit the path's NUL and stops at the first NUL; an
    /// inet address needs the whole structure (EINVAL otherwise); an
    /// unknown family is EAFNOSUPPORT (the socket decides if it matters).
    pub fn parse(raw: &[u8]) -> SysResult<SockAddr> {
        if raw.len() > SOCKADDR_MAX {
            return Err(Errno::EINVAL);
        }
        if raw.len() < FAMILY_LEN {
            return Err(Errno::EINVAL);
        }
        let family = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
        match family {
            libc::AF_UNSPEC => Ok(SockAddr::Unspec),
            libc::AF_UNIX => {
                let path = &raw[FAMILY_LEN..];
                if path.len() > UNIX_PATH_MAX {
                    return Err(Errno::EINVAL);
                }
                if path.is_empty() {
                    return Ok(SockAddr::Unix(UnixAddr::Unnamed));
                }
                if path[0] == 0 {
                    return Ok(SockAddr::Unix(UnixAddr::Abstract(path[1..].to_vec())));
                }
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Ok(SockAddr::Unix(UnixAddr::Path(path[..end].to_vec())))
            }
            libc::AF_INET => {
                if raw.len() < 16 {
                    return Err(Errno::EINVAL);
                }
                let port = u16_be(raw, 2)?;
                let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
                Ok(SockAddr::Inet(SocketAddrV4::new(ip, port)))
            }
            libc::AF_INET6 => {
                // SIN6_LEN_RFC2133 (24, without the scope id) is accepted.
                if raw.len() < 24 {
                    return Err(Errno::EINVAL);
                }
                let port = u16_be(raw, 2)?;
                let flow = u32::from_be(u32_ne(raw, 4)?);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&raw[8..24]);
                let scope = if raw.len() >= 28 { u32_ne(raw, 24)? } else { 0 };
                Ok(SockAddr::Inet6(SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flow,
                    scope,
                )))
            }
            libc::AF_NETLINK => {
                if raw.len() < 12 {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Netlink {
                    pid: u32_ne(raw, 4)?,
                    groups: u32_ne(raw, 8)?,
                })
            }
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// The bytes of the `struct sockaddr_*` Linux returns for it (the
    /// length is what getsockname/accept report: for unix addresses the
    /// family plus the path and its NUL, or plus the abstract name).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28);
        out.extend_from_slice(&(self.family() as u16).to_ne_bytes());
        match self {
            SockAddr::Unspec => {}
            SockAddr::Unix(UnixAddr::Unnamed) => {}
            SockAddr::Unix(UnixAddr::Path(p)) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            SockAddr::Unix(UnixAddr::Abstract(n)) => {
                out.push(0);
                out.extend_from_slice(n);
            }
            SockAddr::Inet(a) => {
                out.extend_from_slice(&a.port().to_be_bytes());
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&[0; 8]);
            }
            SockAddr::Inet6(a) => {
                out.extend_from_slice(&a.port().to_be_bytes());
                out.extend_from_slice(&a.flowinfo().to_be_bytes());
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.scope_id().to_ne_bytes());
            }
            SockAddr::Netlink { pid, groups } => {
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&pid.to_ne_bytes());
                out.extend_from_slice(&groups.to_ne_bytes());
            }
        }
        out
    }
}

/// The credentials SCM_CREDENTIALS and SO_PEERCRED carry (`struct ucred`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    /// Process id (in the sandbox).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Ucred {
    /// The 12 bytes of `struct ucred`.
    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.uid.to_ne_bytes());
        b[8..].copy_from_slice(&self.gid.to_ne_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_addresses_as_linux() {
        let mut raw = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        assert_eq!(SockAddr::parse(&raw), Ok(SockAddr::Unix(UnixAddr::Unnamed)));
        raw.extend_from_slice(b"/tmp/s\0junk");
        let a = SockAddr::parse(&raw).unwrap();
        assert_eq!(a, SockAddr::Unix(UnixAddr::Path(b"/tmp/s".to_vec())));
        assert_eq!(a.encode().len(), 2 + 7);
        let mut ab = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        ab.extend_from_slice(b"\0name");
        assert_eq!(
            SockAddr::parse(&ab),
            Ok(SockAddr::Unix(UnixAddr::Abstract(b"name".to_vec())))
        );
        assert_eq!(SockAddr::parse(&ab).unwrap().encode(), ab);
        let mut long = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        long.extend_from_slice(&[b'a'; 109]);
        assert_eq!(SockAddr::parse(&long), Err(Errno::EINVAL));
        assert_eq!(SockAddr::parse(&[1]), Err(Errno::EINVAL));
    }

    #[test]
    fn inet_addresses_round_trip() {
        let a = SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
        let raw = a.encode();
        assert_eq!(raw.len(), 16);
        assert_eq!(SockAddr::parse(&raw), Ok(a));
        assert_eq!(SockAddr::parse(&raw[..15]), Err(Errno::EINVAL));
        let b = SockAddr::Inet6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 7, 0));
        let raw = b.encode();
        assert_eq!(raw.len(), 28);
        assert_eq!(SockAddr::parse(&raw), Ok(b));
        let mut bad = raw.clone();
        bad[0] = 99;
        bad[1] = 0;
        assert_eq!(SockAddr::parse(&bad), Err(Errno::EAFNOSUPPORT));
    }
}
