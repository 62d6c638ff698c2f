//! Reassembly of IP fragments that come in from a link (IPv4, and IPv6
//! with the fragment header right after the fixed one), bounded as
//! Linux bounds it: at most [`MAX_DATAGRAMS`] datagrams in progress and
//! [`MAX_BYTES`] held (ipfrag_high_thresh), each given [`TIMEOUT`]
//! (ipfrag_time); past a bound the oldest is dropped. Overlapping
//! fragments drop the whole datagram (RFC 5722).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::wire::IpInfo;

/// Datagrams being reassembled at once.
pub const MAX_DATAGRAMS: usize = 64;
/// Bytes held in fragments.
pub const MAX_BYTES: usize = 4 << 20;
/// How long a datagram may take to complete.
pub const TIMEOUT: Duration = Duration::from_secs(30);

type Key = (IpAddr, IpAddr, u8, u32);

struct Partial {
    /// The IP header to rebuild the datagram with (the first fragment's,
    /// or the fixed IPv6 header).
    header: Vec<u8>,
    parts: Vec<(usize, Vec<u8>)>,
    /// The payload's length, once the last fragment came.
    total: Option<usize>,
    bytes: usize,
    since: Instant,
}

/// Datagrams in reassembly.
#[derive(Default)]
pub struct Reassembly {
    partial: HashMap<Key, Partial>,
    bytes: usize,
    /// Datagrams given up (timeout, overlap, bounds).
    pub failed: u64,
}

impl Reassembly {
    /// Adds fragment `p` (an IP packet described by `info`); the whole
    /// datagram once complete (an IP packet without fragmentation).
    pub fn add(&mut self, p: &[u8], info: &IpInfo, now: Instant) -> Option<Vec<u8>> {
        self.expire(now);
        let (key, off, more, payload, header, proto) = match info.src {
            IpAddr::V4(_) => {
                let frag = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]);
                let id = u32::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
                let off = usize::from(frag & 0x1fff) * 8;
                let payload = p.get(info.l4..info.end)?;
                let header = (off == 0).then(|| p[..info.l4].to_vec());
                (
                    (info.src, info.dst, info.proto, id),
                    off,
                    frag & 0x2000 != 0,
                    payload,
                    header,
                    info.proto,
                )
            }
            IpAddr::V6(_) => {
                let h = p.get(40..48)?;
                let fo = u16::from_be_bytes([h[2], h[3]]);
                let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                let off = usize::from(fo & !7);
                let payload = p.get(48..info.end)?;
                let mut header = p.get(..40)?.to_vec();
                header[6] = h[0];
                (
                    (info.src, info.dst, h[0], id),
                    off,
                    fo & 1 != 0,
                    payload,
                    Some(header),
                    h[0],
                )
            }
        };
        let _ = proto;
        let end = off.checked_add(payload.len())?;
        if end > 65535 || (more && payload.len() % 8 != 0) || payload.is_empty() {
            self.failed += 1;
            return None;
        }
        if !self.partial.contains_key(&key) {
            while self.partial.len() >= MAX_DATAGRAMS
                || self.bytes + payload.len() > MAX_BYTES && !self.partial.is_empty()
            {
                self.drop_oldest();
            }
        }
        let e = self.partial.entry(key).or_insert_with(|| Partial {
            header: Vec::new(),
            parts: Vec::new(),
            total: None,
            bytes: 0,
            since: now,
        });
        if e.parts.iter().any(|(o, d)| off < o + d.len() && *o < end)
            || (!more && e.total.is_some_and(|t| t != end))
            || e.total.is_some_and(|t| end > t)
        {
            // Overlap or inconsistent ends: the datagram is dropped.
            if let Some(x) = self.partial.remove(&key) {
                self.bytes = self.bytes.saturating_sub(x.bytes);
            }
            self.failed += 1;
            return None;
        }
        if let Some(h) = header {
            if off == 0 || e.header.is_empty() {
                e.header = h;
            }
        }
        if !more {
            e.total = Some(end);
        }
        e.parts.push((off, payload.to_vec()));
        e.bytes += payload.len();
        self.bytes += payload.len();
        let total = e.total?;
        if e.bytes != total || !e.parts.iter().any(|(o, _)| *o == 0) {
            return None;
        }
        let x = self.partial.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(x.bytes);
        let mut parts = x.parts;
        parts.sort_by_key(|(o, _)| *o);
        let mut out = x.header;
        let hl = out.len();
        out.reserve(total);
        for (_, d) in parts {
            out.extend_from_slice(&d);
        }
        if info.src.is_ipv4() {
            let tl = u16::try_from(hl + total).ok()?;
            out[2..4].copy_from_slice(&tl.to_be_bytes());
            out[6] = 0;
            out[7] = 0;
        } else {
            let pl = u16::try_from(total).ok()?;
            out[4..6].copy_from_slice(&pl.to_be_bytes());
        }
        Some(out)
    }

    fn drop_oldest(&mut self) {
        let oldest = self
            .partial
            .iter()
            .min_by_key(|(_, p)| p.since)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            if let Some(x) = self.partial.remove(&k) {
                self.bytes = self.bytes.saturating_sub(x.bytes);
            }
            self.failed += 1;
        }
    }

    fn expire(&mut self, now: Instant) {
        let before = self.partial.len();
        let mut freed = 0;
        self.partial.retain(|_, p| {
            let keep = now.duration_since(p.since) < TIMEOUT;
            if !keep {
                freed += p.bytes;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.failed += (before - self.partial.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::{self, ETH_HLEN};
    use super::*;

    #[test]
    fn fragments_come_back_together_in_any_order() {
        for (src, dst) in [("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")] {
            let (src, dst): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let mut udp = vec![0u8; 8];
            udp[4..6].copy_from_slice(&5008u16.to_be_bytes());
            let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
            let mut frags =
                wire::ip_packets(src, dst, wire::proto::UDP, &[&udp, &data], 1500, 9).unwrap();
            frags.reverse();
            let mut r = Reassembly::default();
            let now = Instant::now();
            let mut whole = None;
            for f in &frags {
                let p = &f[ETH_HLEN..];
                let info = wire::ip_info(p).unwrap();
                assert!(info.fragment);
                whole = r.add(p, &info, now);
            }
            let whole = whole.expect("reassembled");
            let info = wire::ip_info(&whole).unwrap();
            assert!(!info.fragment);
            assert_eq!(info.proto, wire::proto::UDP);
            assert_eq!(&whole[info.l4 + 8..info.end], &data[..]);
            assert_eq!(r.bytes, 0);
        }
    }

    #[test]
    fn bounded_and_overlaps_dropped() {
        let mut r = Reassembly::default();
        let now = Instant::now();
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "10.0.0.2".parse().unwrap();
        for id in 0..200u16 {
            let f = wire::ip_packets(
                src,
                dst,
                wire::proto::UDP,
                &[&[0u8; 8], &[1u8; 3000]],
                1500,
                id,
            )
            .unwrap();
            let p = &f[0][ETH_HLEN..];
            let info = wire::ip_info(p).unwrap();
            assert!(r.add(p, &info, now).is_none());
            // The same fragment again: an overlap.
            if id == 0 {
                assert!(r.add(p, &info, now).is_none());
            }
        }
        assert!(r.partial.len() <= MAX_DATAGRAMS);
        assert!(r.failed > 0);
        r.expire(now + TIMEOUT);
        assert_eq!((r.partial.len(), r.bytes), (0, 0));
    }
}
