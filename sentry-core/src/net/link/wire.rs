//! Frames: Ethernet headers, ARP and neighbour discovery messages, the
//! checksums a frame leaving the sandbox carries, IPv4 fragmentation of
//! large UDP datagrams. Plain byte layouts (RFC 826, RFC 4861, RFC 791,
//! RFC 8200); parsing of what comes in stays bounds-checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes of an Ethernet header (no VLAN tag).
pub const ETH_HLEN: usize = 14;
/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// The broadcast hardware address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// The one's-complement sum of `data` (not complemented), folded to 16
/// bits, continuing from `start`.
pub fn sum(start: u32, data: &[u8]) -> u32 {
    let mut acc: u64 = u64::from(start);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 48) + ((w >> 32) & 0xffff) + ((w >> 16) & 0xffff) + (w & 0xffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [b] = pairs.remainder() {
        acc += u64::from(*b) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// The checksum field for a sum.
pub fn finish(s: u32) -> u16 {
    let mut s = s;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let mut s = 0;
    match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            s = sum(s, &a.octets());
            s = sum(s, &b.octets());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            s = sum(s, &a.octets());
            s = sum(s, &b.octets());
        }
        _ => {}
    }
    let len = len as u32;
    sum(
        s,
        &[
            (len >> 24) as u8,
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            0,
            0,
            0,
            proto,
        ],
    )
}

/// The parts of an IP packet a link needs: addresses, protocol, where
/// the transport header starts and where the packet ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo {
    /// Source.
    pub src: IpAddr,
    /// Destination.
    pub dst: IpAddr,
    /// Protocol (next header).
    pub proto: u8,
    /// Offset of the transport header.
    pub l4: usize,
    /// End of the packet (total length).
    pub end: usize,
    /// A fragment (IPv4: MF or offset set; IPv6: a fragment header).
    pub fragment: bool,
}

/// Parses an IP packet's header (IPv4 or IPv6 without extension headers
/// but the fragment one).
pub fn ip_info(p: &[u8]) -> Option<IpInfo> {
    match p.first()? >> 4 {
        4 => {
            let hl = usize::from(p.first()? & 0x0f) * 4;
            if hl < 20 || p.len() < hl {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if total < hl || total > p.len() {
                return None;
            }
            let frag = u16::from_be_bytes([p[6], p[7]]);
            Some(IpInfo {
                src: IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
                dst: IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
                proto: p[9],
                l4: hl,
                end: total,
                fragment: frag & 0x3fff != 0,
            })
        }
        6 => {
            if p.len() < 40 {
                return None;
            }
            let end = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
            if end > p.len() {
                return None;
            }
            let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            let proto = p[6];
            Some(IpInfo {
                src: IpAddr::V6(Ipv6Addr::from(src)),
                dst: IpAddr::V6(Ipv6Addr::from(dst)),
                proto,
                l4: 40,
                end,
                // Next header 44: a fragment header.
                fragment: proto == 44,
            })
        }
        _ => None,
    }
}

/// Fills the checksums of an IP packet about to leave: the IPv4
/// header's, and TCP's, UDP's, ICMP's or ICMPv6's. Also lowers a SYN's
/// MSS option to what `mtu` carries. False if the packet is malformed.
pub fn fill_checksums(p: &mut [u8], mtu: usize) -> bool {
    let Some(info) = ip_info(p) else {
        return false;
    };
    if info.src.is_ipv4() {
        p[10] = 0;
        p[11] = 0;
        let c = finish(sum(0, &p[..info.l4]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    if info.fragment {
        return true;
    }
    let (l4, end) = (info.l4, info.end);
    let seg = &mut p[l4..end];
    let len = seg.len();
    let at = match info.proto {
        PROTO_TCP if len >= 20 => {
            clamp_mss(seg, mtu, info.src.is_ipv6());
            16
        }
        PROTO_UDP if len >= 8 => 6,
        PROTO_ICMP if len >= 4 => 2,
        PROTO_ICMPV6 if len >= 4 => 2,
        _ => return true,
    };
    seg[at] = 0;
    seg[at + 1] = 0;
    let start = if info.proto == PROTO_ICMP {
        0
    } else {
        pseudo(info.src, info.dst, info.proto, len)
    };
    let mut c = finish(sum(start, seg));
    if info.proto == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Lowers the MSS option of a SYN to the link's MTU (less the headers).
fn clamp_mss(seg: &mut [u8], mtu: usize, v6: bool) {
    if seg[13] & 0x02 == 0 {
        return;
    }
    let max = mtu.saturating_sub(if v6 { 60 } else { 40 }).min(65535) as u16;
    let doff = usize::from(seg[12] >> 4) * 4;
    let mut i = 20;
    while i < doff.min(seg.len()) {
        match seg[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&l) = seg.get(i + 1) else { break };
                let l = usize::from(l);
                if l < 2 || i + l > seg.len() {
                    break;
                }
                if kind == 2 && l == 4 {
                    let mss = u16::from_be_bytes([seg[i + 2], seg[i + 3]]);
                    if mss > max {
                        seg[i + 2..i + 4].copy_from_slice(&max.to_be_bytes());
                    }
                }
                i += l;
            }
        }
    }
}

/// Writes an Ethernet header at the start of `f`.
pub fn eth_header(f: &mut [u8], dst: [u8; 6], src: [u8; 6], ty: u16) {
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&ty.to_be_bytes());
}

/// An ARP request (`op` 1) or reply (2), as a whole frame.
pub fn arp(
    op: u16,
    eth_dst: [u8; 6],
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut f = vec![0u8; ETH_HLEN + 28];
    eth_header(&mut f, eth_dst, sha, ETH_P_ARP);
    let a = &mut f[ETH_HLEN..];
    a[0..2].copy_from_slice(&1u16.to_be_bytes());
    a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&op.to_be_bytes());
    a[8..14].copy_from_slice(&sha);
    a[14..18].copy_from_slice(&spa.octets());
    a[18..24].copy_from_slice(&tha);
    a[24..28].copy_from_slice(&tpa.octets());
    f
}

/// An ARP packet's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender's hardware address.
    pub sha: [u8; 6],
    /// Sender's IPv4 address.
    pub spa: Ipv4Addr,
    /// Target's IPv4 address.
    pub tpa: Ipv4Addr,
}

/// Parses an Ethernet/IPv4 ARP packet (after the Ethernet header).
pub fn parse_arp(a: &[u8]) -> Option<Arp> {
    if a.len() < 28
        || a[0..2] != [0, 1]
        || a[2..4] != ETH_P_IP.to_be_bytes()
        || a[4] != 6
        || a[5] != 4
    {
        return None;
    }
    Some(Arp {
        op: u16::from_be_bytes([a[6], a[7]]),
        sha: a[8..14].try_into().ok()?,
        spa: Ipv4Addr::new(a[14], a[15], a[16], a[17]),
        tpa: Ipv4Addr::new(a[24], a[25], a[26], a[27]),
    })
}

/// The solicited-node multicast address of `a` (ff02::1:ffXX:XXXX).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet multicast address of an IPv6 multicast address.
pub fn multicast_mac(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// An IPv6 packet with an ICMPv6 `body` (checksum filled), hop limit 255,
/// in a frame.
fn icmpv6_frame(
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    body: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; ETH_HLEN + 40 + body.len()];
    eth_header(&mut f, eth_dst, eth_src, ETH_P_IPV6);
    let p = &mut f[ETH_HLEN..];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
    p[6] = PROTO_ICMPV6;
    p[7] = 255;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40..].copy_from_slice(body);
    let c = finish(sum(
        pseudo(IpAddr::V6(src), IpAddr::V6(dst), PROTO_ICMPV6, body.len()),
        &p[40..],
    ));
    p[42..44].copy_from_slice(&c.to_be_bytes());
    f
}

/// A Neighbour Solicitation for `target` from `src` (multicast to the
/// target's solicited-node group).
pub fn neighbor_solicit(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let mut body = [0u8; 32];
    body[0] = 135;
    body[8..24].copy_from_slice(&target.octets());
    body[24] = 1;
    body[25] = 1;
    body[26..32].copy_from_slice(&mac);
    icmpv6_frame(multicast_mac(group), mac, src, group, &body)
}

/// A Neighbour Advertisement of `target` (ours) to `dst`/`dst_mac`;
/// `solicited` sets the S flag.
pub fn neighbor_advert(
    mac: [u8; 6],
    target: Ipv6Addr,
    dst: Ipv6Addr,
    dst_mac: [u8; 6],
    solicited: bool,
) -> Vec<u8> {
    let mut body = [0u8; 32];
    body[0] = 136;
    // Override, and Solicited when answering.
    body[4] = if solicited { 0x60 } else { 0x20 };
    body[8..24].copy_from_slice(&target.octets());
    body[24] = 2;
    body[25] = 1;
    body[26..32].copy_from_slice(&mac);
    icmpv6_frame(dst_mac, mac, target, dst, &body)
}

/// A neighbour discovery message's fields (NS 135 or NA 136).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ndisc {
    /// 135 or 136.
    pub ty: u8,
    /// The target address.
    pub target: Ipv6Addr,
    /// The link-layer address option (source for NS, target for NA).
    pub lladdr: Option<[u8; 6]>,
    /// NA: the Solicited flag.
    pub solicited: bool,
}

/// Parses an NS or NA (the ICMPv6 message).
pub fn parse_ndisc(m: &[u8]) -> Option<Ndisc> {
    if m.len() < 24 || !(m[0] == 135 || m[0] == 136) || m[1] != 0 {
        return None;
    }
    let target: [u8; 16] = m[8..24].try_into().ok()?;
    let mut lladdr = None;
    let mut i = 24;
    while i + 2 <= m.len() {
        let (ty, len) = (m[i], usize::from(m[i + 1]) * 8);
        if len == 0 || i + len > m.len() {
            break;
        }
        if (ty == 1 || ty == 2) && len >= 8 {
            lladdr = m[i + 2..i + 8].try_into().ok();
        }
        i += len;
    }
    Some(Ndisc {
        ty: m[0],
        target: Ipv6Addr::from(target),
        lladdr,
        solicited: m[4] & 0x40 != 0,
    })
}

/// An IPv4 header (20 bytes, no options) into `h`.
#[allow(clippy::too_many_arguments)]
pub fn ipv4_header(
    h: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    total: u16,
    id: u16,
    frag: u16,
    ttl: u8,
) {
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = ttl;
    h[9] = proto;
    h[10] = 0;
    h[11] = 0;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = finish(sum(0, &h[..20]));
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

/// An IPv6 header (40 bytes) into `h`.
pub fn ipv6_header(h: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: u16, hops: u8) {
    h[0] = 0x60;
    h[1] = 0;
    h[2] = 0;
    h[3] = 0;
    h[4..6].copy_from_slice(&payload.to_be_bytes());
    h[6] = next;
    h[7] = hops;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
}

/// IP packets (with `ETH_HLEN` bytes of room in front of each for the
/// link's header) carrying transport message `l4` (UDP, ICMP or ICMPv6:
/// its checksum is filled here) from `src` to `dst`: one packet, or
/// fragments of at most `mtu` bytes (IPv4 identification `id`; IPv6 a
/// fragment header). None when not even a fragment fits.
pub fn ip_packets(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    l4: &[&[u8]],
    mtu: usize,
    id: u16,
) -> Option<Vec<Vec<u8>>> {
    let len: usize = l4.iter().map(|p| p.len()).sum();
    // The transport checksum over the whole message.
    let mut body = Vec::with_capacity(len);
    for p in l4 {
        body.extend_from_slice(p);
    }
    let at = match proto {
        PROTO_UDP => 6,
        _ => 2,
    };
    if body.len() < at + 2 {
        return None;
    }
    body[at] = 0;
    body[at + 1] = 0;
    let start = if proto == PROTO_ICMP {
        0
    } else {
        pseudo(src, dst, proto, len)
    };
    let mut c = finish(sum(start, &body));
    if proto == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    body[at..at + 2].copy_from_slice(&c.to_be_bytes());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if 20 + len <= mtu {
                let mut f = vec![0u8; ETH_HLEN + 20 + len];
                // DF as Linux sets it on datagrams that fit.
                ipv4_header(
                    &mut f[ETH_HLEN..],
                    s,
                    d,
                    proto,
                    (20 + len) as u16,
                    id,
                    0x4000,
                    64,
                );
                f[ETH_HLEN + 20..].copy_from_slice(&body);
                return Some(vec![f]);
            }
            let step = (mtu.saturating_sub(20) / 8) * 8;
            if step == 0 {
                return None;
            }
            let mut out = Vec::new();
            let mut off = 0;
            while off < body.len() {
                let n = step.min(body.len() - off);
                let more = off + n < body.len();
                let frag = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
                let mut f = vec![0u8; ETH_HLEN + 20 + n];
                ipv4_header(
                    &mut f[ETH_HLEN..],
                    s,
                    d,
                    proto,
                    (20 + n) as u16,
                    id,
                    frag,
                    64,
                );
                f[ETH_HLEN + 20..].copy_from_slice(&body[off..off + n]);
                out.push(f);
                off += n;
            }
            Some(out)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if 40 + len <= mtu {
                let mut f = vec![0u8; ETH_HLEN + 40 + len];
                ipv6_header(&mut f[ETH_HLEN..], s, d, proto, len as u16, 64);
                f[ETH_HLEN + 40..].copy_from_slice(&body);
                return Some(vec![f]);
            }
            // Fragments (RFC 8200 4.5): a fragment header after the
            // fixed one, 8-byte multiples but the last.
            let step = (mtu.saturating_sub(48) / 8) * 8;
            if step == 0 {
                return None;
            }
            let mut out = Vec::new();
            let mut off = 0;
            while off < body.len() {
                let n = step.min(body.len() - off);
                let more = off + n < body.len();
                let mut f = vec![0u8; ETH_HLEN + 48 + n];
                ipv6_header(&mut f[ETH_HLEN..], s, d, 44, (8 + n) as u16, 64);
                let h = &mut f[ETH_HLEN + 40..ETH_HLEN + 48];
                h[0] = proto;
                let fo = (off as u16) | u16::from(more);
                h[2..4].copy_from_slice(&fo.to_be_bytes());
                h[4..8].copy_from_slice(&(0x5eed_0000u32 | u32::from(id)).to_be_bytes());
                f[ETH_HLEN + 48..].copy_from_slice(&body[off..off + n]);
                out.push(f);
                off += n;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Protocol numbers, for the stack.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = super::PROTO_ICMP;
    /// TCP.
    pub const TCP: u8 = super::PROTO_TCP;
    /// UDP.
    pub const UDP: u8 = super::PROTO_UDP;
    /// ICMPv6.
    pub const ICMPV6: u8 = super::PROTO_ICMPV6;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071's example: the sum of these words is 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(0, &d), 0xddf2);
        assert_eq!(
            sum(0, &d[..7]) as u16,
            sum(0, &[0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0]) as u16
        );
    }

    #[test]
    fn udp_is_fragmented_to_the_mtu() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mut udp = vec![0u8; 8];
        udp[4..6].copy_from_slice(&(3008u16).to_be_bytes());
        let data = vec![9u8; 3000];
        let v = ip_packets(src, dst, PROTO_UDP, &[&udp, &data], 1500, 7).unwrap();
        assert_eq!(v.len(), 3);
        let mut total = 0;
        for (i, f) in v.iter().enumerate() {
            let info = ip_info(&f[ETH_HLEN..]).unwrap();
            assert!(info.fragment);
            assert!(f.len() - ETH_HLEN <= 1500);
            let fo = u16::from_be_bytes([f[ETH_HLEN + 6], f[ETH_HLEN + 7]]);
            assert_eq!(usize::from(fo & 0x1fff) * 8, total);
            assert_eq!(fo & 0x2000 != 0, i < 2);
            total += info.end - info.l4;
        }
        assert_eq!(total, 3008);
        let v6 = ip_packets(
            "fd00::2".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            PROTO_UDP,
            &[&udp, &data],
            1500,
            1,
        )
        .unwrap();
        assert_eq!(v6.len(), 3);
        let mut total = 0;
        for f in &v6 {
            assert!(f.len() - ETH_HLEN <= 1500);
            assert_eq!(f[ETH_HLEN + 6], 44);
            let fo = u16::from_be_bytes([f[ETH_HLEN + 42], f[ETH_HLEN + 43]]);
            assert_eq!(usize::from(fo & !7), total);
            total += f.len() - ETH_HLEN - 48;
        }
        assert_eq!(total, 3008);
    }

    #[test]
    fn ndisc_round_trips() {
        let mac = [2, 0, 0, 0, 0, 9];
        let t: Ipv6Addr = "fd00::1".parse().unwrap();
        let f = neighbor_solicit(mac, "fd00::2".parse().unwrap(), t);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0xff, 0, 0, 1]);
        let info = ip_info(&f[ETH_HLEN..]).unwrap();
        let n = parse_ndisc(&f[ETH_HLEN + info.l4..]).unwrap();
        assert_eq!((n.ty, n.target, n.lladdr), (135, t, Some(mac)));
        let a = arp(
            1,
            BROADCAST,
            mac,
            Ipv4Addr::new(10, 0, 0, 2),
            [0; 6],
            Ipv4Addr::new(10, 0, 0, 1),
        );
        let p = parse_arp(&a[ETH_HLEN..]).unwrap();
        assert_eq!((p.op, p.sha, p.tpa), (1, mac, Ipv4Addr::new(10, 0, 0, 1)));
    }
}
