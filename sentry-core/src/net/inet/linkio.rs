//! Frames from the links into the stack (the receive threads call
//! [`Inner::link_input`] for each frame of a batch, the stack's lock held
//! once per batch): ARP and neighbour discovery answered and learned from,
//! TCP handed to smoltcp (SYNs through the listener demultiplexer), UDP
//! delivered to the datagram sockets (ICMP port unreachable when no one
//! holds the port, as Linux), ICMP echo requests answered, echo replies
//! and ICMP errors given to the sockets they concern.
//!
//! Dropped: frames for other hardware addresses, IPv4 multicast, packets
//! from or to loopback addresses (127/8 and ::1 never cross a link),
//! packets for addresses not the sandbox's, malformed packets. IP
//! fragments are reassembled first ([`crate::net::link::frag`]). Checksums of received frames are not
//! verified (the host may hand over partial ones, see the packet socket
//! contract).

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::addr;
use super::ports::Proto;
use super::stack::{Inner, Owner, HEAD};
use crate::errno::Errno;
use crate::net::link::wire::{self, proto, ETH_HLEN};
use crate::net::link::Link;
use crate::waiter::WaitQueue;

/// Most bytes of the offending packet an ICMP error carries (IPv4: the
/// whole error within 576 bytes; IPv6: within 1280).
const ICMP_ERR_MAX_V4: usize = 576 - 20 - 8;
const ICMP_ERR_MAX_V6: usize = 1280 - 40 - 8;

/// The (protocol, source, destination, source port, destination port) of
/// the packet an ICMP error quotes (the header and 8 bytes suffice).
fn quoted(p: &[u8]) -> Option<(u8, IpAddr, IpAddr, u16, u16)> {
    let (proto, src, dst, l4) = match p.first()? >> 4 {
        4 => {
            let hl = usize::from(p.first()? & 0x0f) * 4;
            let s: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            (*p.get(9)?, IpAddr::from(s), IpAddr::from(d), hl)
        }
        6 => {
            let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            (*p.get(6)?, IpAddr::from(s), IpAddr::from(d), 40)
        }
        _ => return None,
    };
    let ports = p.get(l4..l4 + 4)?;
    Some((
        proto,
        src,
        dst,
        u16::from_be_bytes([ports[0], ports[1]]),
        u16::from_be_bytes([ports[2], ports[3]]),
    ))
}

fn is_loopback(a: IpAddr) -> bool {
    addr::is_local(a)
}

impl Inner {
    /// One frame from link `li`.
    pub(crate) fn link_input(&mut self, li: usize, f: &[u8], wake: &mut Vec<Arc<WaitQueue>>) {
        let Some(link) = self.net.links.get(li).cloned() else {
            return;
        };
        if f.len() < ETH_HLEN {
            link.stats.rx_errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let dst_mac: [u8; 6] = [f[0], f[1], f[2], f[3], f[4], f[5]];
        let multicast = dst_mac[0] & 1 != 0;
        if !multicast && dst_mac != link.mac {
            // For another host (a bridge floods): not ours to count.
            return;
        }
        if multicast && dst_mac != wire::BROADCAST && dst_mac[..2] != [0x33, 0x33] {
            // IPv4 multicast: the sandbox joins no group.
            return;
        }
        link.stats.rx_packets.fetch_add(1, Ordering::Relaxed);
        link.stats
            .rx_bytes
            .fetch_add(f.len() as u64, Ordering::Relaxed);
        if multicast {
            link.stats.multicast.fetch_add(1, Ordering::Relaxed);
        }
        let src_mac: [u8; 6] = [f[6], f[7], f[8], f[9], f[10], f[11]];
        let ty = u16::from_be_bytes([f[12], f[13]]);
        let ok = match ty {
            wire::ETH_P_ARP => self.arp_input(li, &link, &f[ETH_HLEN..]),
            wire::ETH_P_IP | wire::ETH_P_IPV6 => self.ip_input(li, &link, f, src_mac, wake),
            _ => false,
        };
        if !ok {
            link.stats.rx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn arp_input(&mut self, li: usize, link: &Link, p: &[u8]) -> bool {
        let Some(a) = wire::parse_arp(p) else {
            return false;
        };
        let for_us = link.has(IpAddr::V4(a.tpa));
        let Some(dev) = self.dev.link.as_mut() else {
            return false;
        };
        if for_us {
            dev.learn(li, IpAddr::V4(a.spa), a.sha, a.op == 2, true);
            if a.op == 1 {
                let reply = wire::arp(2, a.sha, link.mac, a.tpa, a.sha, a.spa);
                dev.raw(li, reply);
            }
        } else if a.op == 2 || a.spa == a.tpa {
            // A reply or an announcement: refreshes an entry we have.
            dev.learn(li, IpAddr::V4(a.spa), a.sha, false, false);
        }
        true
    }

    fn ip_input(
        &mut self,
        li: usize,
        link: &Link,
        f: &[u8],
        src_mac: [u8; 6],
        wake: &mut Vec<Arc<WaitQueue>>,
    ) -> bool {
        let p = &f[ETH_HLEN..];
        let Some(info) = wire::ip_info(p) else {
            return false;
        };
        // 127/8 and ::1 are the sandbox's own: never from a link.
        if is_loopback(info.src) || is_loopback(info.dst) {
            return false;
        }
        let ours = self.net.is_local(info.dst);
        let multicast = match info.dst {
            IpAddr::V6(d) => d.is_multicast(),
            IpAddr::V4(d) => d.is_multicast() || d.is_broadcast(),
        };
        if multicast && !(info.dst.is_ipv6() && info.proto == proto::ICMPV6) {
            // A group the sandbox did not join (or a broadcast no
            // socket here takes): not an error.
            return true;
        }
        if !ours && !multicast {
            return false;
        }
        if info.fragment {
            // Reassembled, then handled as one packet.
            let Some(dev) = self.dev.link.as_mut() else {
                return false;
            };
            let Some(whole) = dev.frags.add(p, &info, std::time::Instant::now()) else {
                return true;
            };
            let mut frame = Vec::with_capacity(ETH_HLEN + whole.len());
            frame.extend_from_slice(&f[..ETH_HLEN]);
            frame.extend_from_slice(&whole);
            return match wire::ip_info(&whole) {
                Some(i) if !i.fragment => self.ip_input(li, link, &frame, src_mac, wake),
                _ => false,
            };
        }
        let l4 = &p[info.l4..info.end];
        match info.proto {
            proto::TCP => {
                let mut buf = self.dev.buffer(info.end);
                buf[HEAD..].copy_from_slice(&p[..info.end]);
                self.dev.input_tcp(buf);
                self.touch();
                true
            }
            proto::UDP => {
                if l4.len() < 8 {
                    return false;
                }
                let sport = u16::from_be_bytes([l4[0], l4[1]]);
                let dport = u16::from_be_bytes([l4[2], l4[3]]);
                let ulen = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
                if ulen < 8 || ulen > l4.len() {
                    return false;
                }
                let data = &l4[8..ulen];
                if !self.udp_deliver((info.src, sport), (info.dst, dport), data, wake) {
                    self.icmp_error(li, &info, p, true);
                }
                true
            }
            proto::ICMP => self.icmp4_input(&info, l4, wake),
            proto::ICMPV6 => self.icmp6_input(li, link, &info, l4, src_mac, wake),
            _ => false,
        }
    }

    /// An ICMP port unreachable for `p` (IPv4 type 3 code 3, IPv6 type 1
    /// code 4), back to its sender.
    fn icmp_error(&mut self, _li: usize, info: &wire::IpInfo, p: &[u8], port: bool) {
        let _ = port;
        if !self.dev.link.as_mut().is_some_and(|d| d.icmp_allowed()) {
            return;
        }
        let v6 = info.src.is_ipv6();
        let max = if v6 { ICMP_ERR_MAX_V6 } else { ICMP_ERR_MAX_V4 };
        let quote = &p[..info.end.min(max)];
        let (ty, code, pr) = if v6 {
            (1u8, 4u8, proto::ICMPV6)
        } else {
            (3u8, 3u8, proto::ICMP)
        };
        let head = [ty, code, 0, 0, 0, 0, 0, 0];
        self.send_ip(info.dst, info.src, pr, &[&head, quote]);
    }

    /// Builds and sends an IP packet (checksums filled) to the outside.
    fn send_ip(&mut self, src: IpAddr, dst: IpAddr, pr: u8, l4: &[&[u8]]) {
        let mtu = self
            .net
            .lookup(dst)
            .and_then(|r| self.net.links.get(r.link))
            .map_or(1280, |l| l.mtu);
        let Some(dev) = self.dev.link.as_mut() else {
            return;
        };
        let id = dev.next_id();
        if let Some(ps) = wire::ip_packets(src, dst, pr, l4, mtu, id) {
            for p in ps {
                dev.output(p, false);
            }
        }
    }

    fn icmp4_input(
        &mut self,
        info: &wire::IpInfo,
        m: &[u8],
        wake: &mut Vec<Arc<WaitQueue>>,
    ) -> bool {
        if m.len() < 8 {
            return false;
        }
        match m[0] {
            8 => {
                let mut reply = m.to_vec();
                reply[0] = 0;
                self.dstats().icmp_echo += 1;
                self.send_ip(info.dst, info.src, proto::ICMP, &[&reply]);
            }
            0 => {
                let ident = u16::from_be_bytes([m[4], m[5]]);
                self.echo_deliver(info.src, info.dst, ident, m, wake);
            }
            3 => {
                let e = match m[1] {
                    3 => Errno::ECONNREFUSED,
                    0 | 6 | 9 | 11 => Errno::ENETUNREACH,
                    2 => Errno::ENOPROTOOPT,
                    4 => Errno::EMSGSIZE,
                    _ => Errno::EHOSTUNREACH,
                };
                self.icmp_err_input(&m[8..], e, wake);
            }
            _ => {}
        }
        true
    }

    fn icmp6_input(
        &mut self,
        li: usize,
        link: &Link,
        info: &wire::IpInfo,
        m: &[u8],
        src_mac: [u8; 6],
        wake: &mut Vec<Arc<WaitQueue>>,
    ) -> bool {
        if m.len() < 8 {
            return false;
        }
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (info.src, info.dst) else {
            return false;
        };
        let ours = self.net.is_local(info.dst);
        match m[0] {
            135 | 136 => {
                let Some(n) = wire::parse_ndisc(m) else {
                    return false;
                };
                let Some(dev) = self.dev.link.as_mut() else {
                    return false;
                };
                if n.ty == 135 {
                    if !link.has(IpAddr::V6(n.target)) {
                        return true;
                    }
                    let from_dad = src.is_unspecified();
                    if !from_dad {
                        if let Some(mac) = n.lladdr {
                            dev.learn(li, IpAddr::V6(src), mac, false, true);
                        }
                    }
                    let (to, to_mac) = if from_dad {
                        let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
                        (all, wire::multicast_mac(all))
                    } else {
                        (src, n.lladdr.unwrap_or(src_mac))
                    };
                    let na = wire::neighbor_advert(link.mac, n.target, to, to_mac, !from_dad);
                    dev.raw(li, na);
                } else {
                    let mac = n.lladdr.unwrap_or(src_mac);
                    dev.learn(li, IpAddr::V6(n.target), mac, n.solicited, false);
                }
                true
            }
            128 if ours => {
                let mut reply = m.to_vec();
                reply[0] = 129;
                self.dstats().icmp_echo += 1;
                self.send_ip(info.dst, info.src, proto::ICMPV6, &[&reply]);
                true
            }
            129 if ours => {
                let ident = u16::from_be_bytes([m[4], m[5]]);
                self.echo_deliver(info.src, IpAddr::V6(dst), ident, m, wake);
                true
            }
            1 if ours => {
                let e = match m[1] {
                    4 => Errno::ECONNREFUSED,
                    1 => Errno::EACCES,
                    _ => Errno::EHOSTUNREACH,
                };
                self.icmp_err_input(&m[8..], e, wake);
                true
            }
            _ => true,
        }
    }

    /// An ICMP error quoting `q` (a packet we sent): its sender is told.
    fn icmp_err_input(&mut self, q: &[u8], e: Errno, wake: &mut Vec<Arc<WaitQueue>>) {
        let Some((pr, src, dst, sport, dport)) = quoted(q) else {
            return;
        };
        if !self.net.is_local(src) {
            return;
        }
        match pr {
            proto::UDP => self.dg_error(Proto::Udp, sport, (dst, dport), e, wake),
            proto::TCP if e == Errno::ECONNREFUSED => {
                self.tcp_error((src, sport), (dst, dport), e, wake)
            }
            proto::ICMP | proto::ICMPV6 => self.dg_error(Proto::Icmp, sport, (dst, 0), e, wake),
            _ => {}
        }
    }

    fn tcp_error(
        &mut self,
        local: addr::Endpoint,
        remote: addr::Endpoint,
        e: Errno,
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        let id = self.meta.values().find_map(|m| match m.owner {
            Owner::Conn(id) if m.tuple == Some((local, remote)) => Some(id),
            _ => None,
        });
        if let Some(id) = id {
            self.tcp_unreachable(id, e, wake);
        }
    }

    /// The packets whose next hop did not answer: their senders get
    /// EHOSTUNREACH (a connect fails; a connected datagram socket sees
    /// it at its next call).
    pub(crate) fn report_unreachable(&mut self, wake: &mut Vec<Arc<WaitQueue>>) {
        let Some(dev) = self.dev.link.as_mut() else {
            return;
        };
        if dev.unreachable.is_empty() {
            return;
        }
        let lost = std::mem::take(&mut dev.unreachable);
        for p in lost {
            let Some((pr, src, dst, sport, dport)) = p.get(ETH_HLEN..).and_then(quoted) else {
                continue;
            };
            match pr {
                proto::TCP => {
                    self.tcp_error_any((src, sport), (dst, dport), wake);
                }
                proto::UDP => {
                    self.dg_error(Proto::Udp, sport, (dst, dport), Errno::EHOSTUNREACH, wake)
                }
                proto::ICMP | proto::ICMPV6 => {
                    // The identifier sits where a port would.
                    let ident = p
                        .get(ETH_HLEN..)
                        .and_then(wire::ip_info)
                        .and_then(|i| p.get(ETH_HLEN + i.l4 + 4..ETH_HLEN + i.l4 + 6))
                        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                    self.dg_error(Proto::Icmp, ident, (dst, 0), Errno::EHOSTUNREACH, wake)
                }
                _ => {}
            }
        }
    }

    fn tcp_error_any(
        &mut self,
        local: addr::Endpoint,
        remote: addr::Endpoint,
        wake: &mut Vec<Arc<WaitQueue>>,
    ) {
        self.tcp_error(local, remote, Errno::EHOSTUNREACH, wake);
    }
}
