//! `--log-packets`: one debug line per frame a link sends or receives —
//! direction, interface, ethertype, addresses, protocol, ports, TCP flags
//! and length; never the payload. Off, it costs one relaxed atomic load per
//! batch.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Turns packet logging on or off (for the whole sentry).
pub fn log_packets(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Whether packets are logged.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Logs `frame` (an Ethernet frame) going `dir` ("send", "recv") on `ifname`.
pub fn frame(dir: &str, ifname: &str, frame: &[u8]) {
    tracing::debug!(target: "packets", "{}", describe(dir, ifname, frame));
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn tcp_flags(f: u8) -> String {
    let names = [
        (0x02, "SYN"),
        (0x10, "ACK"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x20, "URG"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|&(_, n)| n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

/// `proto` payload `l4` between `src` and `dst`, as text.
fn transport(out: &mut String, proto: u8, l4: &[u8], src: &str, dst: &str) {
    let ports = (be16(l4, 0), be16(l4, 2));
    match (proto, ports) {
        (6, (Some(sp), Some(dp))) => {
            let flags = l4.get(13).map_or("?".into(), |&f| tcp_flags(f));
            let _ = write!(out, "{src}:{sp} -> {dst}:{dp} TCP [{flags}]");
            if let (Some(a), Some(b)) = (be16(l4, 4), be16(l4, 6)) {
                let seq = (u32::from(a) << 16) | u32::from(b);
                let _ = write!(out, " seq={seq}");
            }
        }
        (17, (Some(sp), Some(dp))) => {
            let _ = write!(out, "{src}:{sp} -> {dst}:{dp} UDP");
        }
        (1 | 58, _) => {
            let name = if proto == 1 { "ICMP" } else { "ICMPv6" };
            let t = l4.first().copied().unwrap_or(0);
            let c = l4.get(1).copied().unwrap_or(0);
            let _ = write!(out, "{src} -> {dst} {name} type={t} code={c}");
        }
        _ => {
            let _ = write!(out, "{src} -> {dst} proto={proto}");
        }
    }
}

/// The line for a frame (without the payload).
pub fn describe(dir: &str, ifname: &str, f: &[u8]) -> String {
    let mut out = format!("{dir} {ifname} ");
    let Some(etype) = be16(f, 12) else {
        let _ = write!(out, "runt len={}", f.len());
        return out;
    };
    let p = &f[14..];
    match etype {
        0x0800 if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0xf) * 4;
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]).to_string();
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]).to_string();
            let frag = be16(p, 6).unwrap_or(0) & 0x1fff != 0;
            out.push_str("IPv4 ");
            if frag {
                let _ = write!(out, "{src} -> {dst} proto={} fragment", p[9]);
            } else {
                transport(
                    &mut out,
                    p[9],
                    p.get(ihl.max(20)..).unwrap_or(&[]),
                    &src,
                    &dst,
                );
            }
        }
        0x86dd if p.len() >= 40 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[8..24]);
            let src = format!("[{}]", Ipv6Addr::from(a));
            a.copy_from_slice(&p[24..40]);
            let dst = format!("[{}]", Ipv6Addr::from(a));
            out.push_str("IPv6 ");
            transport(&mut out, p[6], &p[40..], &src, &dst);
        }
        0x0806 if p.len() >= 28 => {
            let op = be16(p, 6).unwrap_or(0);
            let spa = Ipv4Addr::new(p[14], p[15], p[16], p[17]);
            let tpa = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
            let what = match op {
                1 => "request",
                2 => "reply",
                _ => "op?",
            };
            let _ = write!(out, "ARP {what} {spa} -> {tpa}");
        }
        t => {
            let _ = write!(out, "ethertype={t:#06x}");
        }
    }
    let _ = write!(out, " len={}", f.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn() {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12] = 0x08;
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 2]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 1]);
        let tcp = &mut ip[20..];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[13] = 0x02;
        let l = describe("send", "eth0", &f);
        assert_eq!(
            l,
            "send eth0 IPv4 10.0.0.2:40000 -> 10.0.0.1:80 TCP [SYN] seq=0 len=54"
        );
        assert_eq!(describe("recv", "eth0", &[1, 2]), "recv eth0 runt len=2");
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        arp[21] = 1;
        assert!(describe("recv", "e", &arp).starts_with("recv e ARP request"));
    }
}
