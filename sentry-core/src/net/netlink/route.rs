//! NETLINK_ROUTE, the kernel side: requests parsed and answered from the
//! stack's interface list with Linux's message and attribute layout
//! (rtnetlink(7)). Only reads are served; a change (RTM_NEWADDR,
//! RTM_NEWLINK, RTM_NEWROUTE...) is EPERM without CAP_NET_ADMIN, as Linux,
//! and EOPNOTSUPP with it: the sandbox's interfaces are fixed (loopback).

use std::net::IpAddr;

use crate::net::link::{NeighView, RouteView, View};

use crate::errno::Errno;
use crate::net::Interface;

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;

/// Message types (linux/netlink.h, linux/rtnetlink.h).
pub const NLMSG_NOOP: u16 = 1;
/// An error or an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// The end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// The first type that is not a control message.
pub const NLMSG_MIN_TYPE: u16 = 0x10;
/// RTM_BASE.
pub const RTM_BASE: u16 = 16;
/// RTM_NEWLINK.
pub const RTM_NEWLINK: u16 = 16;
/// RTM_GETLINK.
pub const RTM_GETLINK: u16 = 18;
/// RTM_NEWADDR.
pub const RTM_NEWADDR: u16 = 20;
/// RTM_GETADDR.
pub const RTM_GETADDR: u16 = 22;
/// RTM_NEWROUTE.
pub const RTM_NEWROUTE: u16 = 24;
/// RTM_GETROUTE.
pub const RTM_GETROUTE: u16 = 26;
/// RTM_GETNEIGH.
pub const RTM_GETNEIGH: u16 = 30;
/// RTM_NEWRULE.
pub const RTM_NEWRULE: u16 = 32;
/// RTM_GETRULE.
pub const RTM_GETRULE: u16 = 34;
/// RTM_NEWNETCONF.
pub const RTM_NEWNETCONF: u16 = 80;
/// RTM_GETNETCONF.
pub const RTM_GETNETCONF: u16 = 82;
/// RTM_MAX as Linux 6.x has it (after RTM_GETTUNNEL).
pub const RTM_MAX: u16 = 123;

/// Flags.
pub const NLM_F_REQUEST: u16 = 0x1;
/// Part of a multi-message answer.
pub const NLM_F_MULTI: u16 = 0x2;
/// Acknowledge.
pub const NLM_F_ACK: u16 = 0x4;
/// NLM_F_ROOT | NLM_F_MATCH.
pub const NLM_F_DUMP: u16 = 0x300;
/// The acknowledgement carries only the request's header.
pub const NLM_F_CAPPED: u16 = 0x100;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_STATS: u16 = 7;
const IFLA_TXQLEN: u16 = 13;
const IFLA_MAP: u16 = 14;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_STATS64: u16 = 23;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_NUM_TX_QUEUES: u16 = 31;
const IFLA_NUM_RX_QUEUES: u16 = 32;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_PROTO_DOWN: u16 = 39;
const IFLA_GSO_MAX_SEGS: u16 = 40;
const IFLA_GSO_MAX_SIZE: u16 = 41;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_MIN_MTU: u16 = 50;
const IFLA_MAX_MTU: u16 = 51;
const IFLA_GRO_MAX_SIZE: u16 = 58;
const IFLA_TSO_MAX_SIZE: u16 = 59;
const IFLA_TSO_MAX_SEGS: u16 = 60;
const IFLA_ALLMULTI: u16 = 61;
const IFLA_PROTINFO: u16 = 12;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INET6_FLAGS: u16 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
/// IF_READY: IPv6 is up on the link.
const IF_READY: u32 = 0x8000_0000;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;

const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_CACHEINFO: u16 = 12;
const RTA_TABLE: u16 = 15;
const RTA_PREF: u16 = 20;
const RTA_UID: u16 = 25;
/// RTCF_LOCAL in a cloned route's flags.
const RTCF_LOCAL: u32 = 0x8000_0000;
/// RTM_F_CLONED.
const RTM_F_CLONED: u32 = 0x200;

const FRA_PRIORITY: u16 = 6;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_PROTOCOL: u16 = 21;
const FR_ACT_TO_TBL: u8 = 1;

const NETCONFA_IFINDEX: u16 = 1;
const NETCONFA_FORWARDING: u16 = 2;
const NETCONFA_RP_FILTER: u16 = 3;
const NETCONFA_MC_FORWARDING: u16 = 4;
const NETCONFA_PROXY_NEIGH: u16 = 5;
const NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN: u16 = 6;
const NETCONFA_BC_FORWARDING: u16 = 8;

const RT_TABLE_LOCAL: u8 = 255;
const RT_TABLE_MAIN: u8 = 254;
const RTN_UNICAST: u8 = 1;
const RTA_GATEWAY: u16 = 5;
/// RTM_NEWNEIGH.
pub const RTM_NEWNEIGH: u16 = 28;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NDA_CACHEINFO: u16 = 3;
const NDA_PROBES: u16 = 4;
const RTPROT_KERNEL: u8 = 2;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
const RTN_LOCAL: u8 = 2;
const RTN_BROADCAST: u8 = 3;

/// IFF_LOWER_UP: netlink (not SIOCGIFFLAGS) reports it for a running link.
const IFF_LOWER_UP: u32 = 0x1_0000;
/// The transmit queue length Linux gives loopback (and ethernet).
pub const TXQLEN: u32 = 1000;
/// "forever" for address lifetimes.
const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// One message being built: header then body, lengths fixed at the end.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, port: u32) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&port.to_ne_bytes());
        Msg { buf }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn align(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.align();
    }

    fn u32_attr(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_ne_bytes());
    }

    fn u8_attr(&mut self, ty: u16, v: u8) {
        self.attr(ty, &[v]);
    }

    fn str_attr(&mut self, ty: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v);
    }

    /// A nested attribute whose payload `f` writes (without NLA_F_NESTED,
    /// as Linux's legacy nests: parsers such as iproute2's do not mask it).
    fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Msg)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.align();
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// The NLMSG_ERROR answer to `req` (the whole request echoed after the
/// error unless it is an acknowledgement or `cap_ack`, as Linux).
pub fn error_msg(req: &[u8], errno: i32, port: u32, cap_ack: bool) -> Vec<u8> {
    let seq = u32_at(req, 8).unwrap_or(0);
    let whole = errno != 0 && !cap_ack;
    let mut m = Msg::new(NLMSG_ERROR, if whole { 0 } else { NLM_F_CAPPED }, seq, port);
    m.bytes(&(-errno).to_ne_bytes());
    if whole {
        m.bytes(req);
    } else {
        let mut h = req.get(..NLMSG_HDRLEN).unwrap_or(&[]).to_vec();
        h.resize(NLMSG_HDRLEN, 0);
        m.bytes(&h);
    }
    m.finish()
}

/// NLMSG_DONE ending a dump.
fn done_msg(seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, port);
    m.bytes(&0i32.to_ne_bytes());
    m.finish()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

/// The attributes after a fixed header of `skip` bytes in `body`:
/// (type, payload); parsing stops at the first malformed one.
fn attrs(body: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = (skip + 3) & !3;
    while let (Some(len), Some(ty)) = (u16_at(body, at), u16_at(body, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > body.len() {
            break;
        }
        out.push((ty & 0x3fff, &body[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

/// What the kernel sends back for one request: datagrams, in order.
pub struct Answer {
    /// Datagrams for the requester.
    pub datagrams: Vec<Vec<u8>>,
}

/// The operation state of a link: IF_OPER_UNKNOWN for loopback (no
/// carrier to speak of), IF_OPER_UP for other running links.
pub fn operstate(i: &Interface) -> u8 {
    if i.flags & libc::IFF_LOOPBACK as u32 != 0 {
        0
    } else if i.flags & libc::IFF_RUNNING as u32 != 0 {
        6
    } else {
        2
    }
}

fn link_msg(i: &Interface, view: &View, family: u8, flags: u16, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWLINK, flags, seq, port);
    // struct ifinfomsg.
    m.bytes(&[family, 0]);
    m.bytes(&i.hw_type.to_ne_bytes());
    m.bytes(&(i.index as i32).to_ne_bytes());
    let mut iff = i.flags;
    if iff & libc::IFF_RUNNING as u32 != 0 {
        iff |= IFF_LOWER_UP;
    }
    m.bytes(&iff.to_ne_bytes());
    m.bytes(&0u32.to_ne_bytes());
    if family == libc::AF_INET6 as u8 {
        // IPv6's own view of the link (inet6_fill_ifinfo).
        m.str_attr(IFLA_IFNAME, &i.name);
        m.attr(IFLA_ADDRESS, &i.mac);
        m.u32_attr(IFLA_MTU, i.mtu);
        m.u8_attr(IFLA_OPERSTATE, operstate(i));
        m.nest(IFLA_PROTINFO, |m| {
            m.u32_attr(IFLA_INET6_FLAGS, IF_READY);
            m.u8_attr(IFLA_INET6_ADDR_GEN_MODE, 0);
        });
        return m.finish();
    }
    m.str_attr(IFLA_IFNAME, &i.name);
    m.u32_attr(IFLA_TXQLEN, TXQLEN);
    m.u8_attr(IFLA_OPERSTATE, operstate(i));
    m.u8_attr(IFLA_LINKMODE, 0);
    m.u32_attr(IFLA_MTU, i.mtu);
    m.u32_attr(IFLA_MIN_MTU, 0);
    m.u32_attr(IFLA_MAX_MTU, 0);
    m.u32_attr(IFLA_GROUP, 0);
    m.u32_attr(IFLA_PROMISCUITY, 0);
    m.u32_attr(IFLA_ALLMULTI, 0);
    m.u32_attr(IFLA_NUM_TX_QUEUES, 1);
    m.u32_attr(IFLA_GSO_MAX_SEGS, 65535);
    m.u32_attr(IFLA_GSO_MAX_SIZE, 65536);
    m.u32_attr(IFLA_GRO_MAX_SIZE, 65536);
    m.u32_attr(IFLA_TSO_MAX_SIZE, 524_280);
    m.u32_attr(IFLA_TSO_MAX_SEGS, 65535);
    m.u32_attr(IFLA_NUM_RX_QUEUES, 1);
    m.u8_attr(IFLA_CARRIER, 1);
    m.str_attr(IFLA_QDISC, "noqueue");
    m.u32_attr(IFLA_CARRIER_CHANGES, 0);
    m.u8_attr(IFLA_PROTO_DOWN, 0);
    m.u32_attr(IFLA_CARRIER_UP_COUNT, 0);
    m.u32_attr(IFLA_CARRIER_DOWN_COUNT, 0);
    // struct rtnl_link_ifmap: three u64, u16, two u8, padded to 32.
    m.attr(IFLA_MAP, &[0u8; 32]);
    m.attr(IFLA_ADDRESS, &i.mac);
    let brd = if i.hw_type == 1 {
        [0xffu8; 6]
    } else {
        [0u8; 6]
    };
    m.attr(IFLA_BROADCAST, &brd);
    // struct rtnl_link_stats64 (25 counters) and rtnl_link_stats (25):
    // rx/tx packets, rx/tx bytes, rx/tx errors, rx/tx dropped, multicast.
    let c = view.counts_of(i.index).unwrap_or_default();
    let first = [
        c.rx[0], c.tx[0], c.rx[1], c.tx[1], c.rx[2], c.tx[2], c.rx[3], c.tx[3], c.rx[4],
    ];
    let mut s64 = [0u8; 25 * 8];
    let mut s32 = [0u8; 25 * 4];
    for (k, v) in first.iter().enumerate() {
        s64[k * 8..k * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        s32[k * 4..k * 4 + 4].copy_from_slice(&(*v as u32).to_ne_bytes());
    }
    m.attr(IFLA_STATS64, &s64);
    m.attr(IFLA_STATS, &s32);
    // IPv6 address generation: EUI-64.
    m.nest(IFLA_AF_SPEC, |m| {
        m.nest(libc::AF_INET6 as u16, |m| {
            m.u32_attr(IFLA_INET6_FLAGS, IF_READY);
            m.u8_attr(IFLA_INET6_ADDR_GEN_MODE, 0);
        });
    });
    m.finish()
}

fn addr_msg(i: &Interface, addr: IpAddr, plen: u8, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, port);
    let (family, octets) = match addr {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    let scope = match addr {
        a if a.is_loopback() => RT_SCOPE_HOST,
        IpAddr::V6(a6) if crate::net::link::is_link_local6(a6) => RT_SCOPE_LINK,
        _ => RT_SCOPE_UNIVERSE,
    };
    // struct ifaddrmsg.
    m.bytes(&[family, plen, IFA_F_PERMANENT as u8, scope]);
    m.bytes(&i.index.to_ne_bytes());
    let mut cache = Vec::with_capacity(16);
    cache.extend_from_slice(&INFINITY_LIFE_TIME.to_ne_bytes());
    cache.extend_from_slice(&INFINITY_LIFE_TIME.to_ne_bytes());
    // Created and updated at boot (hundredths of a second).
    cache.extend_from_slice(&[0u8; 8]);
    if family == libc::AF_INET as u8 {
        m.attr(IFA_ADDRESS, &octets);
        m.attr(IFA_LOCAL, &octets);
        m.str_attr(IFA_LABEL, &i.name);
        m.u32_attr(IFA_FLAGS, IFA_F_PERMANENT);
        m.attr(IFA_CACHEINFO, &cache);
    } else {
        m.attr(IFA_ADDRESS, &octets);
        m.attr(IFA_CACHEINFO, &cache);
        m.u32_attr(IFA_FLAGS, IFA_F_PERMANENT);
    }
    m.finish()
}

/// One route as the dump shows it.
struct Route {
    family: u8,
    dst: Vec<u8>,
    dst_len: u8,
    scope: u8,
    ty: u8,
    prefsrc: Option<Vec<u8>>,
    oif: u32,
}

/// The routes Linux derives from the interfaces' addresses. IPv4: a
/// loopback device's prefix is a local route in the local table, each
/// address a local /32, and the prefix's broadcast address (prefixes
/// shorter than /31) a broadcast route. IPv6: each address a local /128
/// in the local table.
fn routes(ifaces: &[Interface], family: u8) -> Vec<Route> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for i in ifaces {
        if i.flags & libc::IFF_UP as u32 == 0 {
            continue;
        }
        for &(addr, plen) in &i.addrs {
            match addr {
                IpAddr::V4(a) => {
                    let a32 = u32::from(a);
                    let plen = plen.min(32);
                    let mask = if plen == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(plen))
                    };
                    let prefix = a32 & mask;
                    let src = Some(a.octets().to_vec());
                    let route = |dst: u32, dst_len: u8, scope: u8, ty: u8| Route {
                        family: libc::AF_INET as u8,
                        dst: dst.to_be_bytes().to_vec(),
                        dst_len,
                        scope,
                        ty,
                        prefsrc: src.clone(),
                        oif: i.index,
                    };
                    if i.flags & libc::IFF_LOOPBACK as u32 != 0 && plen < 32 {
                        v4.push((prefix, plen, route(prefix, plen, RT_SCOPE_HOST, RTN_LOCAL)));
                    }
                    v4.push((a32, 32, route(a32, 32, RT_SCOPE_HOST, RTN_LOCAL)));
                    if plen < 31 {
                        let brd = prefix | !mask;
                        v4.push((brd, 32, route(brd, 32, RT_SCOPE_LINK, RTN_BROADCAST)));
                    }
                }
                IpAddr::V6(a) => v6.push((
                    a.octets(),
                    Route {
                        family: libc::AF_INET6 as u8,
                        dst: a.octets().to_vec(),
                        dst_len: 128,
                        scope: RT_SCOPE_UNIVERSE,
                        ty: RTN_LOCAL,
                        prefsrc: None,
                        oif: i.index,
                    },
                )),
            }
        }
    }
    // The FIB trie walks keys in order, a shorter prefix first.
    v4.sort_by_key(|r| (r.0, r.1));
    v4.dedup_by_key(|r| (r.0, r.1));
    v6.sort_by_key(|r| r.0);
    v6.dedup_by_key(|r| r.0);
    let mut out = Vec::new();
    if family == libc::AF_UNSPEC as u8 || family == libc::AF_INET as u8 {
        out.extend(v4.into_iter().map(|r| r.2));
    }
    if family == libc::AF_UNSPEC as u8 || family == libc::AF_INET6 as u8 {
        out.extend(v6.into_iter().map(|r| r.1));
    }
    out
}

fn route_msg(r: &Route, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWROUTE, NLM_F_MULTI, seq, port);
    // struct rtmsg.
    m.bytes(&[
        r.family,
        r.dst_len,
        0,
        0,
        RT_TABLE_LOCAL,
        RTPROT_KERNEL,
        r.scope,
        r.ty,
    ]);
    m.bytes(&0u32.to_ne_bytes());
    m.u32_attr(RTA_TABLE, u32::from(RT_TABLE_LOCAL));
    m.attr(RTA_DST, &r.dst);
    if r.family == libc::AF_INET6 as u8 {
        m.u32_attr(RTA_PRIORITY, 0);
        m.u32_attr(RTA_OIF, r.oif);
        // struct rta_cacheinfo: eight u32.
        m.attr(RTA_CACHEINFO, &[0u8; 32]);
        m.u8_attr(RTA_PREF, 0);
    } else {
        if let Some(src) = &r.prefsrc {
            m.attr(RTA_PREFSRC, src);
        }
        m.u32_attr(RTA_OIF, r.oif);
    }
    m.finish()
}

fn octets_of(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn family_of(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

/// A route of the main table as Linux dumps it: a connected IPv4 network
/// has scope link and the address as preferred source; IPv6 routes carry
/// their metric, cache info and preference.
fn main_route_msg(r: &RouteView, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWROUTE, NLM_F_MULTI, seq, port);
    let v4 = r.dst.is_ipv4();
    let scope = if v4 && r.gateway.is_none() {
        RT_SCOPE_LINK
    } else {
        RT_SCOPE_UNIVERSE
    };
    m.bytes(&[
        family_of(r.dst),
        r.prefix,
        0,
        0,
        RT_TABLE_MAIN,
        r.protocol,
        scope,
        RTN_UNICAST,
    ]);
    m.bytes(&0u32.to_ne_bytes());
    m.u32_attr(RTA_TABLE, u32::from(RT_TABLE_MAIN));
    if r.prefix > 0 {
        m.attr(RTA_DST, &octets_of(r.dst));
    }
    if v4 {
        if r.metric != 0 {
            m.u32_attr(RTA_PRIORITY, r.metric);
        }
        if let (Some(src), None) = (r.src, r.gateway) {
            m.attr(RTA_PREFSRC, &octets_of(src));
        }
        if let Some(g) = r.gateway {
            m.attr(RTA_GATEWAY, &octets_of(g));
        }
        m.u32_attr(RTA_OIF, r.oif);
    } else {
        m.u32_attr(RTA_PRIORITY, r.metric);
        if let Some(g) = r.gateway {
            m.attr(RTA_GATEWAY, &octets_of(g));
        }
        m.u32_attr(RTA_OIF, r.oif);
        m.attr(RTA_CACHEINFO, &[0u8; 32]);
        m.u8_attr(RTA_PREF, 0);
    }
    m.finish()
}

/// A neighbour as `ip neigh` gets it.
fn neigh_msg(n: &NeighView, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWNEIGH, NLM_F_MULTI, seq, port);
    // struct ndmsg.
    m.bytes(&[family_of(n.ip), 0, 0, 0]);
    m.bytes(&(n.oif as i32).to_ne_bytes());
    m.bytes(&n.state.to_ne_bytes());
    m.bytes(&[0, RTN_UNICAST]);
    m.attr(NDA_DST, &octets_of(n.ip));
    if let Some(mac) = n.mac {
        m.attr(NDA_LLADDR, &mac);
    }
    m.attr(NDA_CACHEINFO, &[0u8; 16]);
    m.u32_attr(NDA_PROBES, 0);
    m.finish()
}

/// `ip route get` for a destination beyond the sandbox: the main table's
/// route to it.
fn route_get_main(
    view: &View,
    family: u8,
    dst: IpAddr,
    uid: u32,
    seq: u32,
    port: u32,
) -> Result<Vec<u8>, Errno> {
    let mut best: Option<&RouteView> = None;
    for r in &view.routes {
        if r.dst.is_ipv4() != dst.is_ipv4() || !crate::net::link::in_prefix(r.dst, r.prefix, dst) {
            continue;
        }
        best = match best {
            Some(b) if b.prefix > r.prefix => Some(b),
            Some(b) if b.prefix == r.prefix && b.metric <= r.metric => Some(b),
            _ => Some(r),
        };
    }
    let r = best.ok_or(Errno::ENETUNREACH)?;
    let src = r.src.filter(|s| s.is_ipv4() == dst.is_ipv4()).or_else(|| {
        view.routes
            .iter()
            .filter(|x| x.oif == r.oif)
            .find_map(|x| x.src.filter(|s| s.is_ipv4() == dst.is_ipv4()))
    });
    let full = if dst.is_ipv4() { 32 } else { 128 };
    let mut m = Msg::new(RTM_NEWROUTE, 0, seq, port);
    m.bytes(&[
        family,
        full,
        0,
        0,
        RT_TABLE_MAIN,
        0,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
    ]);
    m.bytes(&RTM_F_CLONED.to_ne_bytes());
    m.u32_attr(RTA_TABLE, u32::from(RT_TABLE_MAIN));
    m.attr(RTA_DST, &octets_of(dst));
    m.u32_attr(RTA_OIF, r.oif);
    if let Some(s) = src {
        m.attr(RTA_PREFSRC, &octets_of(s));
    }
    if let Some(g) = r.gateway {
        m.attr(RTA_GATEWAY, &octets_of(g));
    }
    if !dst.is_ipv4() {
        m.u32_attr(RTA_PRIORITY, r.metric);
    }
    m.u32_attr(RTA_UID, uid);
    m.attr(RTA_CACHEINFO, &[0u8; 32]);
    Ok(m.finish())
}

/// `ip route get`: the route to RTA_DST. Only local destinations have
/// one (the sandbox has no other network): a loopback prefix or an
/// interface's own address; ENETUNREACH for the rest.
fn route_get(
    ifaces: &[Interface],
    view: &View,
    body: &[u8],
    uid: u32,
    seq: u32,
    port: u32,
) -> Result<Vec<u8>, Errno> {
    // struct rtmsg is 12 bytes.
    if body.len() < 12 {
        return Err(Errno::EINVAL);
    }
    let family = body[0];
    let dst = attrs(body, 12)
        .into_iter()
        .find(|(t, _)| *t == RTA_DST)
        .map(|(_, v)| v.to_vec());
    let (dst, src): (IpAddr, IpAddr) = match family as i32 {
        libc::AF_INET => {
            let d = match dst.as_deref() {
                Some([a, b, c, d]) => std::net::Ipv4Addr::new(*a, *b, *c, *d),
                Some(_) => return Err(Errno::EINVAL),
                None => std::net::Ipv4Addr::UNSPECIFIED,
            };
            let d = if d.is_unspecified() {
                std::net::Ipv4Addr::LOCALHOST
            } else {
                d
            };
            let src = ifaces.iter().find_map(|i| {
                i.addrs.iter().find_map(|&(a, plen)| match a {
                    IpAddr::V4(a4) => {
                        let mask = if plen == 0 {
                            0
                        } else {
                            u32::MAX << (32 - u32::from(plen.min(32)))
                        };
                        let loopback = i.flags & libc::IFF_LOOPBACK as u32 != 0;
                        let hit =
                            a4 == d || (loopback && u32::from(a4) & mask == u32::from(d) & mask);
                        hit.then_some((a4, i.index))
                    }
                    IpAddr::V6(_) => None,
                })
            });
            let Some((s, _)) = src else {
                return route_get_main(view, family, IpAddr::V4(d), uid, seq, port);
            };
            (IpAddr::V4(d), IpAddr::V4(s))
        }
        libc::AF_INET6 => {
            let d = match dst.as_deref() {
                Some(v) if v.len() == 16 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(v);
                    std::net::Ipv6Addr::from(o)
                }
                Some(_) => return Err(Errno::EINVAL),
                None => std::net::Ipv6Addr::UNSPECIFIED,
            };
            let own = ifaces
                .iter()
                .any(|i| i.addrs.iter().any(|&(a, _)| a == IpAddr::V6(d)));
            if !own {
                return route_get_main(view, family, IpAddr::V6(d), uid, seq, port);
            }
            (IpAddr::V6(d), IpAddr::V6(d))
        }
        _ => return Err(Errno::EOPNOTSUPP),
    };
    let oif = ifaces
        .iter()
        .find(|i| i.flags & libc::IFF_LOOPBACK as u32 != 0)
        .map_or(1, |i| i.index);
    let octets = |a: IpAddr| match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut m = Msg::new(RTM_NEWROUTE, 0, seq, port);
    if dst.is_ipv4() {
        // A cloned route of the main table, as Linux answers.
        m.bytes(&[family, 32, 0, 0, 254, 0, RT_SCOPE_UNIVERSE, RTN_LOCAL]);
        m.bytes(&(RTCF_LOCAL | RTM_F_CLONED).to_ne_bytes());
        m.u32_attr(RTA_TABLE, 254);
        m.attr(RTA_DST, &octets(dst));
        m.u32_attr(RTA_OIF, oif);
        m.attr(RTA_PREFSRC, &octets(src));
        m.u32_attr(RTA_UID, uid);
        m.attr(RTA_CACHEINFO, &[0u8; 32]);
    } else {
        // The request's source (unspecified) comes back as a /128.
        m.bytes(&[
            family,
            128,
            128,
            0,
            RT_TABLE_LOCAL,
            RTPROT_KERNEL,
            RT_SCOPE_UNIVERSE,
            RTN_LOCAL,
        ]);
        m.bytes(&0u32.to_ne_bytes());
        m.u32_attr(RTA_TABLE, u32::from(RT_TABLE_LOCAL));
        m.attr(RTA_DST, &octets(dst));
        m.attr(RTA_SRC, &[0u8; 16]);
        m.u32_attr(RTA_OIF, oif);
        m.attr(RTA_PREFSRC, &octets(src));
        m.u32_attr(RTA_PRIORITY, 0);
        m.attr(RTA_CACHEINFO, &[0u8; 32]);
        m.u8_attr(RTA_PREF, 0);
    }
    Ok(m.finish())
}

/// The default policy rules: local, main and default tables for IPv4;
/// local and main for IPv6.
fn rule_msgs(family: u8, seq: u32, port: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (fam, rules) in [
        (
            libc::AF_INET as u8,
            &[(0u32, 255u8), (32766, 254), (32767, 253)][..],
        ),
        (libc::AF_INET6 as u8, &[(0, 255), (32766, 254)][..]),
    ] {
        if family != libc::AF_UNSPEC as u8 && family != fam {
            continue;
        }
        for &(prio, table) in rules {
            let mut m = Msg::new(RTM_NEWRULE, NLM_F_MULTI, seq, port);
            // struct fib_rule_hdr.
            m.bytes(&[fam, 0, 0, 0, table, 0, 0, FR_ACT_TO_TBL]);
            m.bytes(&0u32.to_ne_bytes());
            m.u32_attr(FRA_TABLE, u32::from(table));
            m.u32_attr(FRA_SUPPRESS_PREFIXLEN, u32::MAX);
            m.u8_attr(FRA_PROTOCOL, RTPROT_KERNEL);
            if prio != 0 {
                m.u32_attr(FRA_PRIORITY, prio);
            }
            out.push(m.finish());
        }
    }
    out
}

/// The per-device, "all" (-1) and "default" (-2) configurations: nothing
/// forwards, filters or proxies.
fn netconf_msgs(ifaces: &[Interface], family: u8, seq: u32, port: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut indexes: Vec<i32> = ifaces.iter().map(|i| i.index as i32).collect();
    indexes.extend([-1, -2]);
    for fam in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        if family != libc::AF_UNSPEC as u8 && family != fam {
            continue;
        }
        for &index in &indexes {
            let mut m = Msg::new(RTM_NEWNETCONF, NLM_F_MULTI, seq, port);
            m.bytes(&[fam, 0, 0, 0]);
            m.attr(NETCONFA_IFINDEX, &index.to_ne_bytes());
            m.u32_attr(NETCONFA_FORWARDING, 0);
            if fam == libc::AF_INET as u8 {
                m.u32_attr(NETCONFA_RP_FILTER, 0);
                m.u32_attr(NETCONFA_MC_FORWARDING, 0);
                m.u32_attr(NETCONFA_BC_FORWARDING, 0);
            }
            m.u32_attr(NETCONFA_PROXY_NEIGH, 0);
            m.u32_attr(NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN, 0);
            out.push(m.finish());
        }
    }
    out
}

/// The interface a by-index or by-name request names.
fn find_link<'a>(ifaces: &'a [Interface], body: &[u8]) -> Result<&'a Interface, Errno> {
    // struct ifinfomsg is 16 bytes; a shorter request is malformed.
    if body.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let index = u32_at(body, 4).unwrap_or(0) as i32;
    if index > 0 {
        return ifaces
            .iter()
            .find(|i| i.index as i32 == index)
            .ok_or(Errno::ENODEV);
    }
    let name = attrs(body, 16)
        .into_iter()
        .find(|(t, _)| *t == IFLA_IFNAME)
        .map(|(_, v)| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            &v[..end]
        })
        .ok_or(Errno::EINVAL)?;
    ifaces
        .iter()
        .find(|i| i.name.as_bytes() == name)
        .ok_or(Errno::ENODEV)
}

/// Answers one request message `req` (header and body, `len` as its header
/// says, already checked to fit) from `port`. `net_admin`: the sender holds
/// CAP_NET_ADMIN. Returns the datagrams to queue and the error to
/// acknowledge (0 for success), or None when the request was answered by
/// a dump (no acknowledgement follows a dump). `uid`: the sender's, for
/// the routes it looks up.
pub fn handle(
    ifaces: &[Interface],
    req: &[u8],
    port: u32,
    net_admin: bool,
    uid: u32,
) -> (Vec<Vec<u8>>, Option<i32>) {
    handle_with(ifaces, &View::default(), req, port, net_admin, uid)
}

/// [`handle`] with the links' routes, neighbours and counters.
pub fn handle_with(
    ifaces: &[Interface],
    view: &View,
    req: &[u8],
    port: u32,
    net_admin: bool,
    uid: u32,
) -> (Vec<Vec<u8>>, Option<i32>) {
    let ty = u16_at(req, 4).unwrap_or(0);
    let flags = u16_at(req, 6).unwrap_or(0);
    let seq = u32_at(req, 8).unwrap_or(0);
    let body = &req[NLMSG_HDRLEN.min(req.len())..];
    if ty > RTM_MAX {
        return (Vec::new(), Some(Errno::EOPNOTSUPP.0));
    }
    // Linux ignores a request without even the family byte.
    if body.is_empty() {
        return (Vec::new(), Some(0));
    }
    let family = body[0];
    let kind = ty.wrapping_sub(RTM_BASE) & 3;
    if kind != 2 && !net_admin {
        return (Vec::new(), Some(Errno::EPERM.0));
    }
    if kind != 2 {
        // The interfaces cannot be changed (documented).
        return (Vec::new(), Some(Errno::EOPNOTSUPP.0));
    }
    if flags & NLM_F_DUMP != 0 {
        let entries: Option<Vec<Vec<u8>>> = match ty {
            RTM_GETLINK => {
                // IPv6 answers for its family; every other family gets
                // the generic view.
                let fam = if family == libc::AF_INET6 as u8 {
                    family
                } else {
                    0
                };
                Some(
                    ifaces
                        .iter()
                        .map(|i| link_msg(i, view, fam, NLM_F_MULTI, seq, port))
                        .collect(),
                )
            }
            RTM_GETADDR => {
                let mut v = Vec::new();
                for want in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
                    if family != libc::AF_UNSPEC as u8 && family != want {
                        continue;
                    }
                    for i in ifaces {
                        for &(a, plen) in &i.addrs {
                            let fam = if a.is_ipv4() {
                                libc::AF_INET as u8
                            } else {
                                libc::AF_INET6 as u8
                            };
                            if fam == want {
                                v.push(addr_msg(i, a, plen, seq, port));
                            }
                        }
                    }
                }
                Some(v)
            }
            RTM_GETROUTE => {
                // The main table (the links' routes), then the local one.
                let mut v: Vec<Vec<u8>> = Vec::new();
                for want in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
                    if family != libc::AF_UNSPEC as u8 && family != want {
                        continue;
                    }
                    v.extend(
                        view.routes
                            .iter()
                            .filter(|r| family_of(r.dst) == want)
                            .map(|r| main_route_msg(r, seq, port)),
                    );
                    v.extend(routes(ifaces, want).iter().map(|r| route_msg(r, seq, port)));
                }
                Some(v)
            }
            RTM_GETRULE => Some(rule_msgs(family, seq, port)),
            RTM_GETNETCONF => Some(netconf_msgs(ifaces, family, seq, port)),
            RTM_GETNEIGH => Some(
                view.neigh
                    .iter()
                    .filter(|n| family == libc::AF_UNSPEC as u8 || family == family_of(n.ip))
                    .map(|n| neigh_msg(n, seq, port))
                    .collect(),
            ),
            _ => None,
        };
        let Some(entries) = entries else {
            return (Vec::new(), Some(Errno::EOPNOTSUPP.0));
        };
        let mut datagrams = Vec::new();
        if !entries.is_empty() {
            datagrams.push(entries.concat());
        }
        datagrams.push(done_msg(seq, port));
        return (datagrams, None);
    }
    match ty {
        RTM_GETLINK => match find_link(ifaces, body) {
            Ok(i) => (vec![link_msg(i, view, 0, 0, seq, port)], Some(0)),
            Err(e) => (Vec::new(), Some(e.0)),
        },
        RTM_GETROUTE => match route_get(ifaces, view, body, uid, seq, port) {
            Ok(m) => (vec![m], Some(0)),
            Err(e) => (Vec::new(), Some(e.0)),
        },
        _ => (Vec::new(), Some(Errno::EOPNOTSUPP.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Msg::new(ty, flags, 7, 0);
        m.bytes(body);
        m.finish()
    }

    fn handle_t(
        ifs: &[Interface],
        req: &[u8],
        port: u32,
        admin: bool,
    ) -> (Vec<Vec<u8>>, Option<i32>) {
        handle(ifs, req, port, admin, 0)
    }

    fn messages(d: &[u8]) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(len) = u32_at(d, at) {
            let len = len as usize;
            out.push((u16_at(d, at + 4).unwrap(), &d[at..at + len]));
            at += (len + 3) & !3;
        }
        out
    }

    #[test]
    fn link_dump_has_lo_and_done() {
        let ifs = [Interface::loopback()];
        let (d, ack) = handle_t(&ifs, &req(RTM_GETLINK, 0x301, &[0; 16]), 42, false);
        assert_eq!(ack, None);
        assert_eq!(d.len(), 2);
        let m = messages(&d[0]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, RTM_NEWLINK);
        let body = &m[0].1[16..];
        assert_eq!(u16_at(body, 2), Some(772));
        assert_eq!(u32_at(body, 8), Some(0x10049));
        let a = attrs(body, 16);
        assert!(a.iter().any(|(t, v)| *t == IFLA_IFNAME && *v == b"lo\0"));
        assert!(a
            .iter()
            .any(|(t, v)| *t == IFLA_MTU && *v == 65536u32.to_ne_bytes()));
        assert_eq!(messages(&d[1])[0].0, NLMSG_DONE);
        assert_eq!(u32_at(&d[1], 12), Some(42));
    }

    #[test]
    fn addr_and_route_dumps() {
        let ifs = [Interface::loopback()];
        let (d, _) = handle_t(&ifs, &req(RTM_GETADDR, 0x301, &[0; 8]), 1, false);
        assert_eq!(messages(&d[0]).len(), 2);
        let (d, _) = handle_t(&ifs, &req(RTM_GETADDR, 0x301, &[10, 0, 0, 0]), 1, false);
        assert_eq!(messages(&d[0]).len(), 1);
        let (d, _) = handle_t(&ifs, &req(RTM_GETROUTE, 0x301, &[2; 12]), 1, false);
        let m = messages(&d[0]);
        assert_eq!(m.len(), 3);
        // 127.0.0.0/8 local, 127.0.0.1 local, 127.255.255.255 broadcast.
        assert_eq!(&m[0].1[16..24], &[2, 8, 0, 0, 255, 2, 254, 2]);
        assert_eq!(&m[2].1[16..24], &[2, 32, 0, 0, 255, 2, 253, 3]);
        let (d, _) = handle_t(&ifs, &req(RTM_GETNEIGH, 0x301, &[0; 12]), 1, false);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn errors_as_linux() {
        let ifs = [Interface::loopback()];
        let mut one = [0u8; 16];
        one[4] = 9;
        assert_eq!(
            handle_t(&ifs, &req(RTM_GETLINK, 1, &one), 1, false).1,
            Some(Errno::ENODEV.0)
        );
        assert_eq!(
            handle_t(&ifs, &req(RTM_NEWADDR, 1, &[0; 8]), 1, false).1,
            Some(Errno::EPERM.0)
        );
        assert_eq!(
            handle_t(&ifs, &req(RTM_NEWADDR, 1, &[0; 8]), 1, true).1,
            Some(Errno::EOPNOTSUPP.0)
        );
        assert_eq!(
            handle_t(&ifs, &req(0x7ff, 1, &[0; 8]), 1, true).1,
            Some(Errno::EOPNOTSUPP.0)
        );
        let r = req(RTM_NEWLINK, 1, &[0; 16]);
        let e = error_msg(&r, Errno::EPERM.0, 5, false);
        assert_eq!(e.len(), 16 + 4 + r.len());
        assert_eq!(error_msg(&r, 0, 5, false).len(), 36);
    }

    #[test]
    fn garbage_requests_never_panic() {
        let ifs = [Interface::loopback()];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let len = (next() % 96) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if m.len() >= 8 && next() % 2 == 0 {
                let ty = [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE, 0, 15]
                    [next() as usize % 6];
                m[4..6].copy_from_slice(&ty.to_ne_bytes());
            }
            let _ = handle(&ifs, &m, 1, next() % 2 == 0, 0);
            let _ = error_msg(&m, 22, 1, false);
        }
    }
}
