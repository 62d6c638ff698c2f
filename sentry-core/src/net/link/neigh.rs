//! The neighbour table of one link (ARP for IPv4, neighbour discovery
//! for IPv6), as Linux keeps it in spirit: an address being resolved
//! (INCOMPLETE) holds a short queue of the packets waiting for it
//! (unres_qlen, oldest dropped first) and is asked for again every second;
//! after three unanswered requests it FAILS, its packets are dropped and
//! their senders told (EHOSTUNREACH). An answered entry is REACHABLE for
//! 30 s, then STALE (still used; a new request goes out when it is used
//! again); entries unused for a minute go, and the table never holds more
//! than [`MAX_ENTRIES`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most entries (Linux's gc_thresh3 is 1024; a pod talks to few).
pub const MAX_ENTRIES: usize = 512;
/// Most packets waiting for one address (Linux: unres_qlen 101).
pub const MAX_QUEUED: usize = 101;
/// Between requests (retrans_time).
pub const RETRANS: Duration = Duration::from_secs(1);
/// Requests before giving up (mcast_solicit).
pub const TRIES: u8 = 3;
/// How long an answer holds (base_reachable_time).
pub const REACHABLE: Duration = Duration::from_secs(30);
/// How long an unused entry stays (gc_stale_time).
pub const GC_STALE: Duration = Duration::from_secs(60);

/// NUD_INCOMPLETE.
pub const NUD_INCOMPLETE: u16 = 0x01;
/// NUD_REACHABLE.
pub const NUD_REACHABLE: u16 = 0x02;
/// NUD_STALE.
pub const NUD_STALE: u16 = 0x04;
/// NUD_FAILED.
pub const NUD_FAILED: u16 = 0x20;

/// One neighbour.
#[derive(Debug)]
pub struct Entry {
    /// The hardware address once known.
    pub mac: Option<[u8; 6]>,
    /// Last answer (confirmation).
    pub confirmed: Instant,
    /// Last use.
    pub used: Instant,
    /// Requests sent in this round.
    pub tries: u8,
    /// When the next request is due (while resolving).
    pub next: Option<Instant>,
    /// Resolution failed.
    pub failed: bool,
    /// Packets waiting (frames with room for the Ethernet header).
    pub queue: VecDeque<Vec<u8>>,
}

impl Entry {
    /// The NUD_* state as `ip neigh` shows it.
    pub fn state(&self, now: Instant) -> u16 {
        match self.mac {
            _ if self.failed => NUD_FAILED,
            None => NUD_INCOMPLETE,
            Some(_) if now.duration_since(self.confirmed) < REACHABLE => NUD_REACHABLE,
            Some(_) => NUD_STALE,
        }
    }
}

/// What to do with a packet for a neighbour.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Send it to this address.
    Send([u8; 6]),
    /// Send it, and ask again (unicast) to confirm the entry.
    SendAndProbe([u8; 6]),
    /// It was queued; send a request (true) or one is already out.
    Queued(bool),
    /// The table is full of unresolved addresses: dropped.
    Dropped,
}

/// A link's neighbours.
#[derive(Debug, Default)]
pub struct Table {
    /// By address.
    pub entries: HashMap<IpAddr, Entry>,
    /// Packets dropped (queue overflow, failure).
    pub dropped: u64,
}

impl Table {
    /// What to do with `pkt` (a frame) for next hop `ip`; the packet is
    /// kept in the entry's queue when the address is not known yet.
    pub fn lookup(&mut self, ip: IpAddr, pkt: &mut Option<Vec<u8>>, now: Instant) -> Lookup {
        if !self.entries.contains_key(&ip) && !self.make_room(now) {
            self.dropped += 1;
            return Lookup::Dropped;
        }
        let e = self.entries.entry(ip).or_insert_with(|| Entry {
            mac: None,
            confirmed: now,
            used: now,
            tries: 0,
            next: None,
            failed: false,
            queue: VecDeque::new(),
        });
        e.used = now;
        if let (Some(mac), false) = (e.mac, e.failed) {
            if now.duration_since(e.confirmed) < REACHABLE || e.next.is_some() {
                return Lookup::Send(mac);
            }
            // Stale and used: confirm it (the answer or the timer ends it).
            e.tries = 1;
            e.next = Some(now + RETRANS);
            return Lookup::SendAndProbe(mac);
        }
        if let Some(p) = pkt.take() {
            if e.queue.len() >= MAX_QUEUED {
                e.queue.pop_front();
                self.dropped += 1;
            }
            e.queue.push_back(p);
        }
        if e.next.is_none() {
            // A new resolution (or a new round after a failure).
            e.failed = false;
            e.mac = None;
            e.tries = 1;
            e.next = Some(now + RETRANS);
            return Lookup::Queued(true);
        }
        Lookup::Queued(false)
    }

    /// Frees a place for a new entry: an unused one goes first; false if
    /// every entry is busy resolving.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.entries.len() < MAX_ENTRIES {
            return true;
        }
        self.gc(now);
        if self.entries.len() < MAX_ENTRIES {
            return true;
        }
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| e.queue.is_empty())
            .min_by_key(|(_, e)| e.used)
            .map(|(ip, _)| *ip);
        match victim {
            Some(ip) => {
                self.entries.remove(&ip);
                true
            }
            None => false,
        }
    }

    /// An answer (or a request from `ip`, `solicited` false): the address
    /// is `mac`. Returns the packets that were waiting. `create`: make an
    /// entry if there is none (Linux learns the sender of a request
    /// addressed to it).
    pub fn learn(
        &mut self,
        ip: IpAddr,
        mac: [u8; 6],
        solicited: bool,
        create: bool,
        now: Instant,
    ) -> VecDeque<Vec<u8>> {
        if !self.entries.contains_key(&ip) {
            if !create || !self.make_room(now) {
                return VecDeque::new();
            }
            self.entries.insert(
                ip,
                Entry {
                    mac: Some(mac),
                    // Learned from a request: STALE until confirmed.
                    confirmed: now.checked_sub(REACHABLE).unwrap_or(now),
                    used: now,
                    tries: 0,
                    next: None,
                    failed: false,
                    queue: VecDeque::new(),
                },
            );
            return VecDeque::new();
        }
        let Some(e) = self.entries.get_mut(&ip) else {
            return VecDeque::new();
        };
        let changed = e.mac != Some(mac);
        if solicited || e.mac.is_none() || changed {
            e.mac = Some(mac);
            e.failed = false;
            if solicited {
                e.confirmed = now;
                e.next = None;
                e.tries = 0;
            } else if e.next.is_some() && e.queue.is_empty() {
                // A probe in flight for a stale entry: leave it.
            } else {
                e.next = None;
                e.tries = 0;
                e.confirmed = now.checked_sub(REACHABLE).unwrap_or(now);
            }
        }
        std::mem::take(&mut e.queue)
    }

    /// Timers: the addresses to ask again (and whether they are known:
    /// a unicast probe to the known address), the packets of addresses
    /// that failed; old entries removed.
    #[allow(clippy::type_complexity)]
    pub fn tick(
        &mut self,
        now: Instant,
    ) -> (Vec<(IpAddr, Option<[u8; 6]>)>, Vec<(IpAddr, Vec<u8>)>) {
        let mut ask = Vec::new();
        let mut failed = Vec::new();
        for (ip, e) in self.entries.iter_mut() {
            let Some(next) = e.next else { continue };
            if next > now {
                continue;
            }
            if e.tries >= TRIES {
                e.next = None;
                e.tries = 0;
                if e.mac.is_none() || !e.queue.is_empty() {
                    e.failed = true;
                    e.mac = None;
                }
                self.dropped += e.queue.len() as u64;
                for p in e.queue.drain(..) {
                    failed.push((*ip, p));
                }
                continue;
            }
            e.tries += 1;
            e.next = Some(now + RETRANS);
            ask.push((*ip, e.mac));
        }
        self.gc(now);
        (ask, failed)
    }

    /// Removes entries unused for [`GC_STALE`] (not while resolving).
    fn gc(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| e.next.is_some() || now.duration_since(e.used) < GC_STALE);
    }

    /// When the next request is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().filter_map(|e| e.next).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_queues_then_fails_after_three_tries() {
        let mut t = Table::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let mut p = Some(vec![1u8]);
        assert_eq!(t.lookup(ip, &mut p, now), Lookup::Queued(true));
        let mut p = Some(vec![2u8]);
        assert_eq!(t.lookup(ip, &mut p, now), Lookup::Queued(false));
        let (ask, failed) = t.tick(now + RETRANS);
        assert_eq!((ask.len(), failed.len()), (1, 0));
        let (ask, _) = t.tick(now + RETRANS * 2);
        assert_eq!(ask.len(), 1);
        let (ask, failed) = t.tick(now + RETRANS * 3);
        assert_eq!((ask.len(), failed.len()), (0, 2));
        assert_eq!(t.entries[&ip].state(now), NUD_FAILED);
        // A new packet starts again.
        let mut p = Some(vec![3u8]);
        assert_eq!(t.lookup(ip, &mut p, now), Lookup::Queued(true));
        let q = t.learn(ip, [1; 6], true, false, now);
        assert_eq!(q.len(), 1);
        let mut p = Some(vec![4u8]);
        assert_eq!(t.lookup(ip, &mut p, now), Lookup::Send([1; 6]));
    }

    #[test]
    fn queue_is_bounded() {
        let mut t = Table::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for i in 0..(MAX_QUEUED + 10) {
            let mut p = Some(vec![i as u8]);
            t.lookup(ip, &mut p, now);
        }
        assert_eq!(t.entries[&ip].queue.len(), MAX_QUEUED);
        assert_eq!(t.dropped, 10);
    }
}
