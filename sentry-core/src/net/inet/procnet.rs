//! /proc/net files of the inet stack, in Linux's exact formats.

use std::fmt::Write as _;
use std::net::IpAddr;

use smoltcp::socket::tcp as stcp;

use super::ports::Proto;
use super::stack::{Core, Owner};
use super::tcp::{linux_state, Phase};
use crate::net::Interface;

/// An address as Linux prints it: the 32-bit words of the address in
/// memory, each printed as a host-order (little-endian) hex number.
fn hex_addr(ip: IpAddr) -> String {
    let words = |b: &[u8]| {
        b.chunks(4)
            .map(|c| format!("{:08X}", u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect::<String>()
    };
    match ip {
        IpAddr::V4(v4) => words(&v4.octets()),
        IpAddr::V6(v6) => words(&v6.octets()),
    }
}

/// An IPv4 socket's address as its family shows it (None: an IPv6-only
/// entry for the v4 file or the reverse).
fn for_file(ip: IpAddr, v6file: bool, domain: i32) -> Option<IpAddr> {
    match (v6file, domain == libc::AF_INET6) {
        (false, false) => Some(ip),
        (true, true) => Some(match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        }),
        _ => None,
    }
}

/// Pads a line to Linux's fixed width.
fn pad(s: &mut String, line: &str, width: usize) {
    s.push_str(line);
    for _ in line.len()..width {
        s.push(' ');
    }
    s.push('\n');
}

struct Row {
    local: (IpAddr, u16),
    remote: (IpAddr, u16),
    state: u8,
    tx: usize,
    rx: usize,
    uid: u32,
    ino: u64,
}

fn tcp_rows(core: &Core, v6file: bool) -> Vec<Row> {
    let mut g = core.lock();
    let mut rows = Vec::new();
    let ids: Vec<u64> = g.tcp.keys().copied().collect();
    for id in ids {
        let Some(t) = g.tcp.get(&id) else { continue };
        let (domain, phase, handle, local, peer, uid, ino, q) = (
            t.domain,
            t.phase,
            t.handle,
            t.local,
            t.peer,
            t.uid,
            t.ino,
            t.queue.len(),
        );
        let any = super::addr::any_of(domain);
        let (state, tx, rx, live_local) = match (phase, handle.and_then(|h| g.sock(h))) {
            (Phase::Listening, _) => (10, 0, q, None),
            (_, Some(s)) => (
                linux_state(s.state()),
                s.send_queue(),
                s.recv_queue(),
                s.local_endpoint().map(|e| (IpAddr::from(e.addr), e.port)),
            ),
            _ => (7, 0, 0, None),
        };
        let local = live_local.or(local).unwrap_or((any, 0));
        let remote = peer.unwrap_or((any, 0));
        let (Some(l), Some(r)) = (
            for_file(local.0, v6file, domain),
            for_file(remote.0, v6file, domain),
        ) else {
            continue;
        };
        rows.push(Row {
            local: (l, local.1),
            remote: (r, remote.1),
            state,
            tx,
            rx,
            uid,
            ino,
        });
    }
    // Connections no program holds (not yet accepted, or closing).
    let handles: Vec<_> = g
        .meta
        .iter()
        .filter(|(_, m)| !matches!(m.owner, Owner::Conn(_)))
        .map(|(h, _)| *h)
        .collect();
    for h in handles {
        let Some(s) = g.sock(h) else { continue };
        let (Some(l), Some(r)) = (s.local_endpoint(), s.remote_endpoint()) else {
            continue;
        };
        let (l, r) = (IpAddr::from(l.addr), IpAddr::from(r.addr));
        let st = s.state();
        if st == stcp::State::Listen {
            continue;
        }
        let (lp, rp) = (
            s.local_endpoint().map_or(0, |e| e.port),
            s.remote_endpoint().map_or(0, |e| e.port),
        );
        let domain = if l.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let (Some(l), Some(r)) = (for_file(l, v6file, domain), for_file(r, v6file, domain)) else {
            continue;
        };
        rows.push(Row {
            local: (l, lp),
            remote: (r, rp),
            state: linux_state(st),
            tx: s.send_queue(),
            rx: s.recv_queue(),
            uid: 0,
            ino: 0,
        });
    }
    rows
}

fn tcp_file(core: &Core, v6: bool) -> String {
    let mut s = String::new();
    if v6 {
        s.push_str("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    } else {
        pad(
            &mut s,
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            149,
        );
    }
    for (i, r) in tcp_rows(core, v6).iter().enumerate() {
        let line = format!(
            "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 1 0000000000000000 20 4 30 10 -1",
            i,
            hex_addr(r.local.0),
            r.local.1,
            hex_addr(r.remote.0),
            r.remote.1,
            r.state,
            r.tx,
            r.rx,
            r.uid,
            0,
            r.ino
        );
        if v6 {
            s.push_str(&line);
            s.push('\n');
        } else {
            pad(&mut s, &line, 149);
        }
    }
    s
}

fn udp_file(core: &Core, v6: bool) -> String {
    let mut s = String::new();
    if v6 {
        s.push_str("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
    } else {
        pad(
            &mut s,
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
            127,
        );
    }
    let g = core.lock();
    let mut ids: Vec<u64> = g.dgram.keys().copied().collect();
    ids.sort_unstable();
    let mut i = 0;
    for id in ids {
        let Some(d) = g.dgram.get(&id) else { continue };
        if d.proto != Proto::Udp {
            continue;
        }
        let Some(local) = d.local else { continue };
        let any = super::addr::any_of(d.domain);
        let remote = d.peer.unwrap_or((any, 0));
        let (Some(l), Some(r)) = (
            for_file(local.0, v6, d.domain),
            for_file(remote.0, v6, d.domain),
        ) else {
            continue;
        };
        let st = if d.peer.is_some() { 1 } else { 7 };
        let line = format!(
            "{:5}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 2 0000000000000000 0",
            i,
            hex_addr(l),
            local.1,
            hex_addr(r),
            remote.1,
            st,
            0,
            d.queued,
            0,
            0,
            d.ino
        );
        i += 1;
        if v6 {
            s.push_str(&line);
            s.push('\n');
        } else {
            pad(&mut s, &line, 127);
        }
    }
    s
}

/// The contents of /proc/net/`name`; None for a file not served here.
pub fn render(core: &Core, name: &str, ifaces: &[Interface]) -> Option<String> {
    let stats = core.lock().stats();
    let mut s = String::new();
    match name {
        "tcp" => return Some(tcp_file(core, false)),
        "tcp6" => return Some(tcp_file(core, true)),
        "udp" => return Some(udp_file(core, false)),
        "udp6" => return Some(udp_file(core, true)),
        "dev" => {
            s.push_str(
                "Inter-|   Receive                                                |  Transmit\n",
            );
            s.push_str(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
            let view = core.net.view();
            for i in ifaces {
                // rx: bytes packets errs drop multicast; tx: bytes
                // packets errs drop.
                let (rx, tx) = if i.flags & libc::IFF_LOOPBACK as u32 != 0 {
                    (
                        [stats.bytes, stats.packets, 0, 0, 0],
                        [stats.bytes, stats.packets, 0, 0],
                    )
                } else {
                    let c = view.counts_of(i.index).unwrap_or_default();
                    (
                        [c.rx[1], c.rx[0], c.rx[2], c.rx[3], c.rx[4]],
                        [c.tx[1], c.tx[0], c.tx[2], c.tx[3]],
                    )
                };
                let _ = writeln!(
                    s,
                    "{:>6}:{:8} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}",
                    i.name, rx[0], rx[1], rx[2], rx[3], 0, 0, 0, rx[4], tx[0], tx[1], tx[2], tx[3], 0, 0, 0, 0
                );
            }
        }
        "if_inet6" => {
            for i in ifaces {
                for (a, plen) in &i.addrs {
                    if let IpAddr::V6(v6) = a {
                        let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
                        let scope = if v6.is_loopback() {
                            0x10
                        } else if crate::net::link::is_link_local6(*v6) {
                            0x20
                        } else {
                            0
                        };
                        let _ = writeln!(
                            s,
                            "{} {:02x} {:02x} {:02x} {:02x} {:>8}",
                            hex, i.index, plen, scope, 0x80, i.name
                        );
                    }
                }
            }
        }
        "route" => {
            // The main table's IPv4 routes (the loopback ones live in the
            // local table, which this file does not show).
            pad(
                &mut s,
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
                127,
            );
            for r in core.net.view().routes {
                let IpAddr::V4(d) = r.dst else { continue };
                let mask = if r.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(r.prefix.min(32)))
                };
                let gw = match r.gateway {
                    Some(g @ IpAddr::V4(_)) => hex_addr(g),
                    _ => "00000000".into(),
                };
                let flags = if r.gateway.is_some() { 3 } else { 1 };
                let line = format!(
                    "{}\t{}\t{}\t{:04X}\t0\t0\t{}\t{}\t0\t0\t0",
                    r.dev,
                    hex_addr(IpAddr::V4(d)),
                    gw,
                    flags,
                    r.metric,
                    hex_addr(IpAddr::V4(std::net::Ipv4Addr::from(mask))),
                );
                pad(&mut s, &line, 127);
            }
        }
        "arp" => {
            s.push_str(
                "IP address       HW type     Flags       HW address            Mask     Device\n",
            );
            let neigh = core
                .lock()
                .dev
                .link
                .as_ref()
                .map(|d| d.neigh_view())
                .unwrap_or_default();
            for n in neigh {
                let IpAddr::V4(a) = n.ip else { continue };
                let mac = n.mac.unwrap_or([0; 6]);
                let mac = mac
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":");
                let flags = if n.mac.is_some() && n.state & 0x20 == 0 {
                    2
                } else {
                    0
                };
                let _ = writeln!(
                    s,
                    "{:<16} 0x{:<10x}0x{:<10x}{:<17}     *        {}",
                    a.to_string(),
                    1,
                    flags,
                    mac,
                    n.dev
                );
            }
        }
        "ipv6_route" => {
            let hex6 = |a: std::net::Ipv6Addr| -> String {
                a.octets().iter().map(|b| format!("{b:02x}")).collect()
            };
            let zero = hex6(std::net::Ipv6Addr::UNSPECIFIED);
            for r in core.net.view().routes {
                let IpAddr::V6(d) = r.dst else { continue };
                let (gw, flags) = match r.gateway {
                    Some(IpAddr::V6(g)) => (hex6(g), 3),
                    _ => (zero.clone(), 1),
                };
                let _ = writeln!(
                    s,
                    "{} {:02x} {} 00 {} {:08x} 00000001 00000000 {:08x} {:>8}",
                    hex6(d),
                    r.prefix,
                    zero,
                    gw,
                    r.metric,
                    flags,
                    r.dev
                );
            }
            for i in ifaces {
                for (a, _) in &i.addrs {
                    if let IpAddr::V6(v6) = a {
                        let _ = writeln!(
                            s,
                            "{} 80 {} 00 {} 00000000 00000001 00000000 80200001 {:>8}",
                            hex6(*v6),
                            zero,
                            zero,
                            "lo"
                        );
                    }
                }
            }
        }
        "snmp" => {
            let (est, _) = {
                let g = core.lock();
                let n = g
                    .meta
                    .values()
                    .filter(|m| {
                        matches!(m.state, stcp::State::Established | stcp::State::CloseWait)
                    })
                    .count();
                (n, ())
            };
            s.push_str("Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates\n");
            let _ = writeln!(
                s,
                "Ip: 2 64 {0} 0 0 0 0 0 {0} {0} 0 0 0 0 0 0 0 0 0",
                stats.packets + stats.udp_out + stats.icmp_echo
            );
            s.push_str("Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps\n");
            let e = stats.icmp_echo;
            let _ = writeln!(
                s,
                "Icmp: {} 0 0 {} 0 0 0 0 {} {} 0 0 0 0 {} 0 {} 0 0 0 0 {} {} 0 0 0 0",
                2 * e + stats.udp_no_ports,
                stats.udp_no_ports,
                e,
                e,
                2 * e + stats.udp_no_ports,
                stats.udp_no_ports,
                e,
                e
            );
            s.push_str("IcmpMsg: InType0 InType8 OutType0 OutType8\n");
            let _ = writeln!(s, "IcmpMsg: {e} {e} {e} {e}");
            s.push_str("Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n");
            let _ = writeln!(
                s,
                "Tcp: 1 200 120000 -1 {} {} 0 0 {} {} {} 0 0 0 0",
                stats.active_opens, stats.passive_opens, est, stats.packets, stats.packets
            );
            s.push_str("Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n");
            let _ = writeln!(
                s,
                "Udp: {} {} {} {} {} 0 0 0 0",
                stats.udp_in,
                stats.udp_no_ports,
                stats.udp_rcvbuf_errors,
                stats.udp_out,
                stats.udp_rcvbuf_errors
            );
            s.push_str("UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n");
            s.push_str("UdpLite: 0 0 0 0 0 0 0 0 0\n");
        }
        "netstat" => {
            s.push_str("TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops\n");
            let _ = writeln!(
                s,
                "TcpExt: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 {0} {0}",
                stats.listen_overflows
            );
            s.push_str("IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps\n");
            let _ = writeln!(
                s,
                "IpExt: 0 0 0 0 0 0 {0} {0} 0 0 0 0 0 {1} 0 0 0 0",
                stats.bytes, stats.packets
            );
        }
        _ => return None,
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_as_linux() {
        assert_eq!(hex_addr("127.0.0.1".parse().unwrap()), "0100007F");
        assert_eq!(
            hex_addr("::1".parse().unwrap()),
            "00000000000000000000000001000000"
        );
    }
}
