//! A small synchronous rtnetlink client: dumps of links, addresses and
//! routes, deleting an address, adding an address or route again from its
//! dump record, and setting a link up. It works in the network namespace of
//! the thread that opens it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{anyhow, bail, Result};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;

/// Most bytes one dump may bring (a namespace with more is refused, not
/// read into unbounded memory).
const DUMP_LIMIT: usize = 16 << 20;

/// One link of the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: i32,
    /// Name.
    pub name: String,
    /// ARPHRD_* type.
    pub kind: u16,
    /// IFF_* flags.
    pub flags: u32,
    /// Hardware address (empty when it has none).
    pub mac: Vec<u8>,
    /// MTU.
    pub mtu: u32,
}

/// The attributes of an address record that adding it again keeps:
/// IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS,
/// IFA_RT_PRIORITY, IFA_PROTO (not IFA_CACHEINFO: time stamps).
const ADDR_KEEP: &[u16] = &[1, 2, 3, 4, 8, 9, 11];
/// The same for a route: RTA_DST, RTA_SRC, RTA_OIF, RTA_GATEWAY,
/// RTA_PRIORITY, RTA_PREFSRC, RTA_METRICS, RTA_TABLE, RTA_PREF.
const ROUTE_KEEP: &[u16] = &[1, 2, 4, 5, 6, 7, 8, 15, 20];

/// One address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    /// The interface's index.
    pub index: i32,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// The dump record (ifaddrmsg and attributes), to add it back.
    pub raw: Vec<u8>,
}

/// One route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Output interface (None: a multipath or blackhole route).
    pub oif: Option<i32>,
    /// Metric.
    pub metric: u32,
    /// RTPROT_* (who added it).
    pub protocol: u8,
    /// The dump record (rtmsg and attributes), to add it back.
    pub raw: Vec<u8>,
}

/// A NETLINK_ROUTE socket.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let typ = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((typ, &b[4..len]));
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
    }
    out
}

fn push_attr(buf: &mut Vec<u8>, typ: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

fn u32_of(d: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(d.get(..4)?.try_into().ok()?))
}

fn ip_of(family: u8, d: &[u8]) -> Option<IpAddr> {
    match family as i32 {
        libc::AF_INET => {
            let a: [u8; 4] = d.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(a)))
        }
        libc::AF_INET6 => {
            let a: [u8; 16] = d.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        // SAFETY: plain socket call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            bail!(
                "opening a netlink socket: {}",
                std::io::Error::last_os_error()
            );
        }
        // SAFETY: a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a zeroed sockaddr_nl (kernel-assigned port) is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: bind with a valid sockaddr_nl of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            bail!(
                "binding a netlink socket: {}",
                std::io::Error::last_os_error()
            );
        }
        // The kernel answers at once; a receive that waits longer is a bug
        // to report, not a hang.
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a timeval of its size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if r < 0 {
            bail!(
                "netlink socket: SO_RCVTIMEO: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends one request; returns the payloads (type, body) of the answer's
    /// messages: a dump's until NLMSG_DONE, else until the acknowledgement.
    fn request(&mut self, typ: u16, flags: u16, body: &[u8]) -> Result<Vec<(u16, Vec<u8>)>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&typ.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: send from a valid buffer.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            bail!("netlink send: {}", std::io::Error::last_os_error());
        }
        // NLM_F_DUMP is two bits, one shared with NLM_F_EXCL.
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            // SAFETY: recv into our buffer of its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => bail!("netlink: no answer from the kernel in 5 s"),
                    _ => bail!("netlink receive: {e}"),
                }
            }
            let n = n as usize;
            total = total.saturating_add(n);
            if total > DUMP_LIMIT {
                bail!(
                    "netlink: the answer is larger than {} MiB",
                    DUMP_LIMIT >> 20
                );
            }
            let mut b = &buf[..n];
            while b.len() >= NLMSG_HDRLEN {
                let len = u32_of(b).unwrap_or(0) as usize;
                let mtype = u16::from_ne_bytes([b[4], b[5]]);
                let mseq = u32_of(&b[8..]).unwrap_or(0);
                if len < NLMSG_HDRLEN || len > b.len() {
                    bail!("netlink: a malformed message");
                }
                let payload = &b[NLMSG_HDRLEN..len];
                b = b.get((len + 3) & !3..).unwrap_or(&[]);
                if mseq != seq {
                    continue;
                }
                match mtype {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                            .unwrap_or(0);
                        if code == 0 {
                            if !dump {
                                return Ok(out);
                            }
                            continue;
                        }
                        return Err(std::io::Error::from_raw_os_error(-code).into());
                    }
                    t => out.push((t, payload.to_vec())),
                }
            }
        }
    }

    /// Every link.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let body = [0u8; 16];
        let mut out = Vec::new();
        for (t, p) in self.request(RTM_GETLINK, NLM_F_DUMP, &body)? {
            if t != RTM_NEWLINK || p.len() < 16 {
                continue;
            }
            let kind = u16::from_ne_bytes([p[2], p[3]]);
            let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
            let flags = u32::from_ne_bytes([p[8], p[9], p[10], p[11]]);
            let mut l = Link {
                index,
                name: String::new(),
                kind,
                flags,
                mac: Vec::new(),
                mtu: 0,
            };
            for (a, d) in attrs(&p[16..]) {
                match a {
                    IFLA_IFNAME => {
                        let s = d.split(|&c| c == 0).next().unwrap_or(&[]);
                        l.name = String::from_utf8_lossy(s).into_owned();
                    }
                    IFLA_ADDRESS => l.mac = d.to_vec(),
                    IFLA_MTU => l.mtu = u32_of(d).unwrap_or(0),
                    _ => {}
                }
            }
            out.push(l);
        }
        Ok(out)
    }

    /// Every IPv4 and IPv6 address.
    pub fn addrs(&mut self) -> Result<Vec<Addr>> {
        let body = [0u8; 8];
        let mut out = Vec::new();
        for (t, p) in self.request(RTM_GETADDR, NLM_F_DUMP, &body)? {
            if t != 20 || p.len() < 8 {
                continue;
            }
            let (family, prefix) = (p[0], p[1]);
            let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
            let mut local = None;
            let mut address = None;
            for (a, d) in attrs(&p[8..]) {
                match a {
                    IFA_LOCAL => local = ip_of(family, d),
                    IFA_ADDRESS => address = ip_of(family, d),
                    _ => {}
                }
            }
            if let Some(addr) = local.or(address) {
                out.push(Addr {
                    index,
                    addr,
                    prefix,
                    raw: p.clone(),
                });
            }
        }
        Ok(out)
    }

    /// The unicast routes of the main table (IPv4 and IPv6).
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let mut out = Vec::new();
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            let mut body = [0u8; 12];
            body[0] = family;
            for (t, p) in self.request(RTM_GETROUTE, NLM_F_DUMP, &body)? {
                if t != 24 || p.len() < 12 {
                    continue;
                }
                let (fam, dst_len, mut table, rtype) = (p[0], p[1], p[4] as u32, p[7]);
                let mut r = Route {
                    dst: if fam == libc::AF_INET as u8 {
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                    } else {
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                    },
                    prefix: dst_len,
                    gateway: None,
                    oif: None,
                    metric: 0,
                    protocol: p[5],
                    raw: p.clone(),
                };
                for (a, d) in attrs(&p[12..]) {
                    match a {
                        RTA_DST => {
                            if let Some(ip) = ip_of(fam, d) {
                                r.dst = ip;
                            }
                        }
                        RTA_GATEWAY => r.gateway = ip_of(fam, d),
                        RTA_OIF => r.oif = u32_of(d).map(|v| v as i32),
                        RTA_PRIORITY => r.metric = u32_of(d).unwrap_or(0),
                        RTA_TABLE => table = u32_of(d).unwrap_or(table),
                        _ => {}
                    }
                }
                if table == RT_TABLE_MAIN && rtype == RTN_UNICAST {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Removes an address from an interface.
    pub fn del_addr(&mut self, a: &Addr) -> Result<()> {
        let family = if a.addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let mut body = vec![family as u8, a.prefix, 0, 0];
        body.extend_from_slice(&a.index.to_ne_bytes());
        push_attr(&mut body, IFA_LOCAL, &ip_bytes(a.addr));
        self.request(RTM_DELADDR, NLM_F_ACK, &body)
            .map_err(|e| anyhow!("removing {}/{}: {e}", a.addr, a.prefix))?;
        Ok(())
    }

    /// Adds back an address removed earlier, from its dump record;
    /// Ok(false) when it is there already.
    pub fn add_addr(&mut self, a: &Addr) -> Result<bool> {
        self.add_again(RTM_NEWADDR, 8, ADDR_KEEP, &a.raw)
            .map_err(|e| anyhow!("adding {}/{} back: {e}", a.addr, a.prefix))
    }

    /// Adds back a route that went with an address, from its dump record;
    /// Ok(false) when it is there already.
    pub fn add_route(&mut self, r: &Route) -> Result<bool> {
        self.add_again(RTM_NEWROUTE, 12, ROUTE_KEEP, &r.raw)
            .map_err(|e| anyhow!("adding the route to {}/{} back: {e}", r.dst, r.prefix))
    }

    /// Sends a dump record `raw` (a `head`-byte header, then attributes) as
    /// a new object of type `typ`, with only the attributes in `keep`.
    fn add_again(&mut self, typ: u16, head: usize, keep: &[u16], raw: &[u8]) -> Result<bool> {
        let Some(h) = raw.get(..head) else {
            bail!("a truncated record");
        };
        let mut body = h.to_vec();
        for (a, d) in attrs(&raw[head..]) {
            if keep.contains(&a) {
                push_attr(&mut body, a, d);
            }
        }
        match self.request(typ, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &body) {
            Ok(_) => Ok(true),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .and_then(|e| e.raw_os_error())
                    == Some(libc::EEXIST) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Sets a link up (or down).
    pub fn set_up(&mut self, index: i32, up: bool) -> Result<()> {
        let mut body = vec![0u8; 16];
        let flags = if up { libc::IFF_UP as u32 } else { 0 };
        body[4..8].copy_from_slice(&index.to_ne_bytes());
        body[8..12].copy_from_slice(&flags.to_ne_bytes());
        body[12..16].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
        self.request(RTM_NEWLINK, NLM_F_ACK, &body)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut b = Vec::new();
        push_attr(&mut b, 3, b"eth0\0");
        push_attr(&mut b, 4, &1500u32.to_ne_bytes());
        let a = attrs(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], (3, &b"eth0\0"[..]));
        assert_eq!(u32_of(a[1].1), Some(1500));
        // A length past the end stops parsing instead of reading beyond.
        let bad = [200u8, 0, 1, 0, 0];
        assert!(attrs(&bad).is_empty());
    }

    #[test]
    fn own_namespace_has_loopback() {
        let mut nl = Netlink::open().unwrap();
        let links = nl.links().unwrap();
        assert!(links.iter().any(|l| l.name == "lo"));
        nl.addrs().unwrap();
        nl.routes().unwrap();
    }
}
