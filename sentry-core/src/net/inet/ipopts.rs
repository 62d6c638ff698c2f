//! The SOL_IP and SOL_IPV6 options every inet socket keeps, read back as
//! Linux reads them back. They change nothing on the loopback wire (TTL,
//! TOS, multicast settings are recorded, not applied).

use crate::errno::{Errno, SysResult};
use crate::net::opts::int_bytes;

/// IP_MTU (get only).
const IP_MTU: i32 = 14;
/// IP_BIND_ADDRESS_NO_PORT.
const IP_BIND_ADDRESS_NO_PORT: i32 = 24;
/// IPV6_RECVERR.
const IPV6_RECVERR: i32 = 25;
/// IPV6_V6ONLY.
const IPV6_V6ONLY: i32 = 26;
/// IPV6_RECVPKTINFO.
const IPV6_RECVPKTINFO: i32 = 49;
/// IPV6_TCLASS.
const IPV6_TCLASS: i32 = 67;

/// The option value as an int, or its first byte when shorter (Linux
/// takes a char for the TOS, TTL and multicast options).
fn int_or_byte(val: &[u8]) -> SysResult<i32> {
    match val.len() {
        0 => Err(Errno::EINVAL),
        1..=3 => Ok(i32::from(val[0])),
        _ => crate::net::opts::int_of(val),
    }
}

/// IP-level state of one socket.
#[derive(Clone, Debug)]
pub struct IpOpts {
    /// IP_TOS.
    pub tos: i32,
    /// IP_TTL (-1: the default, 64).
    pub ttl: i32,
    /// IP_RECVERR.
    pub recverr: bool,
    /// IP_PKTINFO.
    pub pktinfo: bool,
    /// IP_RECVTTL.
    pub recvttl: bool,
    /// IP_RECVTOS.
    pub recvtos: bool,
    /// IP_MTU_DISCOVER.
    pub pmtudisc: i32,
    /// IP_FREEBIND.
    pub freebind: bool,
    /// IP_BIND_ADDRESS_NO_PORT.
    pub no_port: bool,
    /// IP_MULTICAST_TTL.
    pub mc_ttl: i32,
    /// IP_MULTICAST_LOOP.
    pub mc_loop: bool,
    /// IP_MULTICAST_IF (the address, network order as given).
    pub mc_if: [u8; 4],
    /// IPV6_V6ONLY.
    pub v6only: bool,
    /// IPV6_UNICAST_HOPS (-1: default 64).
    pub hops: i32,
    /// IPV6_MULTICAST_HOPS (-1: default 1).
    pub mc_hops: i32,
    /// IPV6_MULTICAST_LOOP.
    pub mc6_loop: bool,
    /// IPV6_MULTICAST_IF.
    pub mc6_if: i32,
    /// IPV6_TCLASS (-1: 0).
    pub tclass: i32,
    /// IPV6_RECVERR.
    pub recverr6: bool,
    /// IPV6_RECVPKTINFO.
    pub recvpktinfo6: bool,
}

impl Default for IpOpts {
    fn default() -> Self {
        IpOpts {
            tos: 0,
            ttl: -1,
            recverr: false,
            pktinfo: false,
            recvttl: false,
            recvtos: false,
            pmtudisc: 1,
            freebind: false,
            no_port: false,
            mc_ttl: 1,
            mc_loop: true,
            mc_if: [0; 4],
            v6only: false,
            hops: -1,
            mc_hops: -1,
            mc6_loop: true,
            mc6_if: 0,
            tclass: -1,
            recverr6: false,
            recvpktinfo6: false,
        }
    }
}

impl IpOpts {
    /// setsockopt(level SOL_IP/SOL_IPV6). `stream`: a TCP socket (which
    /// keeps the ECN bits of the TOS and refuses multicast membership);
    /// `bound`: the socket has a port (IPV6_V6ONLY is then fixed).
    pub fn set(
        &mut self,
        domain: i32,
        level: i32,
        name: i32,
        val: &[u8],
        stream: bool,
        bound: bool,
    ) -> SysResult<()> {
        let flag = |v: &[u8]| int_or_byte(v).map(|i| i != 0);
        if level == libc::SOL_IP {
            match name {
                libc::IP_TOS => {
                    let mut v = int_or_byte(val)? & 0xff;
                    if stream {
                        v = (v & !3) | (self.tos & 3);
                    }
                    self.tos = v;
                }
                libc::IP_TTL => {
                    let v = int_or_byte(val)?;
                    if v != -1 && !(1..=255).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    self.ttl = v;
                }
                libc::IP_RECVERR => self.recverr = flag(val)?,
                libc::IP_PKTINFO => self.pktinfo = flag(val)?,
                libc::IP_RECVTTL => self.recvttl = flag(val)?,
                libc::IP_RECVTOS => self.recvtos = flag(val)?,
                libc::IP_FREEBIND => self.freebind = flag(val)?,
                IP_BIND_ADDRESS_NO_PORT => self.no_port = flag(val)?,
                libc::IP_MTU_DISCOVER => {
                    let v = int_or_byte(val)?;
                    if !(0..=5).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    self.pmtudisc = v;
                }
                libc::IP_MULTICAST_TTL => {
                    if stream {
                        return Err(Errno::EINVAL);
                    }
                    let v = int_or_byte(val)?;
                    let v = if v == -1 { 1 } else { v };
                    if !(0..=255).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    self.mc_ttl = v;
                }
                libc::IP_MULTICAST_LOOP => {
                    if stream {
                        return Err(Errno::EINVAL);
                    }
                    self.mc_loop = flag(val)?;
                }
                libc::IP_MULTICAST_IF => {
                    if stream {
                        return Err(Errno::EINVAL);
                    }
                    // struct in_addr, ip_mreq or ip_mreqn: the address
                    // comes first in the first two, second in the third.
                    let a = match val.len() {
                        n if n >= 12 => val.get(4..8),
                        n if n >= 4 => val.get(..4),
                        _ => return Err(Errno::EINVAL),
                    };
                    if let Some(a) = a {
                        self.mc_if.copy_from_slice(a);
                    }
                }
                libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP => {
                    if stream {
                        return Err(Errno(libc::EPROTO));
                    }
                    if val.len() < 8 {
                        return Err(Errno::EINVAL);
                    }
                    let group = [val[0], val[1], val[2], val[3]];
                    if !std::net::Ipv4Addr::from(group).is_multicast() {
                        return Err(Errno::EINVAL);
                    }
                    // Joining a group on lo is accepted; nothing is
                    // multicast on the loopback-only stack.
                }
                libc::IP_OPTIONS => {}
                _ => return Err(Errno::ENOPROTOOPT),
            }
            return Ok(());
        }
        if level != libc::SOL_IPV6 || domain != libc::AF_INET6 {
            return Err(Errno::ENOPROTOOPT);
        }
        match name {
            IPV6_V6ONLY => {
                if bound {
                    return Err(Errno::EINVAL);
                }
                self.v6only = crate::net::opts::int_of(val)? != 0;
            }
            libc::IPV6_UNICAST_HOPS => {
                let v = crate::net::opts::int_of(val)?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.hops = v;
            }
            libc::IPV6_MULTICAST_HOPS => {
                if stream {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = crate::net::opts::int_of(val)?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc_hops = v;
            }
            libc::IPV6_MULTICAST_LOOP => {
                if stream {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = crate::net::opts::int_of(val)?;
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc6_loop = v != 0;
            }
            libc::IPV6_MULTICAST_IF => {
                if stream {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = crate::net::opts::int_of(val)?;
                if v != 0 && v != 1 {
                    return Err(Errno::ENODEV);
                }
                self.mc6_if = v;
            }
            libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP => {
                if stream {
                    return Err(Errno(libc::EPROTO));
                }
                if val.len() < 20 {
                    return Err(Errno::EINVAL);
                }
                if val[0] != 0xff {
                    return Err(Errno::EINVAL);
                }
            }
            IPV6_TCLASS => {
                let v = crate::net::opts::int_of(val)?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.tclass = v;
            }
            IPV6_RECVERR => self.recverr6 = crate::net::opts::int_of(val)? != 0,
            IPV6_RECVPKTINFO => self.recvpktinfo6 = crate::net::opts::int_of(val)? != 0,
            libc::IPV6_MTU_DISCOVER => {
                let v = crate::net::opts::int_of(val)?;
                if !(0..=5).contains(&v) {
                    return Err(Errno::EINVAL);
                }
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(level SOL_IP/SOL_IPV6). `connected`: for IP_MTU.
    pub fn get(
        &self,
        domain: i32,
        level: i32,
        name: i32,
        stream: bool,
        connected: bool,
    ) -> SysResult<Vec<u8>> {
        let b = |v: bool| Ok(int_bytes(v as i32));
        if level == libc::SOL_IP {
            return match name {
                libc::IP_TOS => Ok(int_bytes(self.tos)),
                libc::IP_TTL => Ok(int_bytes(if self.ttl < 0 { 64 } else { self.ttl })),
                libc::IP_RECVERR => b(self.recverr),
                libc::IP_PKTINFO => b(self.pktinfo),
                libc::IP_RECVTTL => b(self.recvttl),
                libc::IP_RECVTOS => b(self.recvtos),
                libc::IP_FREEBIND => b(self.freebind),
                IP_BIND_ADDRESS_NO_PORT => b(self.no_port),
                libc::IP_MTU_DISCOVER => Ok(int_bytes(self.pmtudisc)),
                libc::IP_MULTICAST_TTL if !stream => Ok(int_bytes(self.mc_ttl)),
                libc::IP_MULTICAST_LOOP if !stream => b(self.mc_loop),
                libc::IP_MULTICAST_IF if !stream => Ok(self.mc_if.to_vec()),
                libc::IP_MULTICAST_TTL => Ok(int_bytes(1)),
                libc::IP_MULTICAST_LOOP => b(true),
                libc::IP_MULTICAST_IF => Ok(vec![0; 4]),
                IP_MTU => {
                    if connected {
                        Ok(int_bytes(65536))
                    } else {
                        Err(Errno::ENOTCONN)
                    }
                }
                libc::IP_OPTIONS => Ok(Vec::new()),
                _ => Err(Errno::ENOPROTOOPT),
            };
        }
        if level != libc::SOL_IPV6 || domain != libc::AF_INET6 {
            return Err(Errno::ENOPROTOOPT);
        }
        match name {
            IPV6_V6ONLY => b(self.v6only),
            libc::IPV6_UNICAST_HOPS => Ok(int_bytes(if self.hops < 0 { 64 } else { self.hops })),
            libc::IPV6_MULTICAST_HOPS => {
                Ok(int_bytes(if self.mc_hops < 0 { 1 } else { self.mc_hops }))
            }
            libc::IPV6_MULTICAST_LOOP => b(self.mc6_loop),
            libc::IPV6_MULTICAST_IF => Ok(int_bytes(self.mc6_if)),
            IPV6_TCLASS => Ok(int_bytes(self.tclass.max(0))),
            IPV6_RECVERR => b(self.recverr6),
            IPV6_RECVPKTINFO => b(self.recvpktinfo6),
            libc::IPV6_MTU_DISCOVER => Ok(int_bytes(1)),
            libc::IPV6_MTU => {
                if connected {
                    Ok(int_bytes(65536))
                } else {
                    Err(Errno::ENOTCONN)
                }
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}
