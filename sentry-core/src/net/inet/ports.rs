//! The bind table: which socket holds which (address, port) for each
//! protocol, Linux's rules for sharing a port (SO_REUSEADDR,
//! SO_REUSEPORT, wildcards, dual-stack IPv6 sockets), ephemeral ports
//! (32768..=60999, net.ipv4.ip_local_port_range) and the demultiplexing
//! of an arriving SYN or datagram to the socket that gets it.

use std::collections::HashMap;
use std::net::IpAddr;

use super::addr::Endpoint;
use crate::errno::{Errno, SysResult};

/// First ephemeral port.
pub const EPHEMERAL_LOW: u16 = 32768;
/// Last ephemeral port.
pub const EPHEMERAL_HIGH: u16 = 60999;

/// The protocols with a port space of their own.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP echo sockets (the "port" is the echo identifier).
    Icmp,
}

/// One socket's hold on a port.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The socket (the stack's id of it).
    pub id: u64,
    /// Canonical address (a mapped IPv6 address is IPv4).
    pub addr: IpAddr,
    /// IPV6_V6ONLY (an IPv6 wildcard then does not cover IPv4).
    pub v6only: bool,
    /// SO_REUSEADDR.
    pub reuseaddr: bool,
    /// SO_REUSEPORT.
    pub reuseport: bool,
    /// The owner's effective uid (SO_REUSEPORT groups need one owner).
    pub uid: u32,
    /// A TCP listener.
    pub listening: bool,
    /// The peer of a connected socket (datagram demultiplexing).
    pub peer: Option<Endpoint>,
}

impl Binding {
    /// A binding of `id` at `addr` with the sharing options given.
    pub fn new(id: u64, addr: IpAddr, v6only: bool, reuseaddr: bool, reuseport: bool) -> Self {
        Binding {
            id,
            addr,
            v6only,
            reuseaddr,
            reuseport,
            uid: 0,
            listening: false,
            peer: None,
        }
    }

    /// Whether a packet to `dst` reaches this binding's address.
    pub fn matches(&self, dst: IpAddr) -> bool {
        match (self.addr, dst) {
            (IpAddr::V4(a), IpAddr::V4(d)) => a == d || a.is_unspecified(),
            (IpAddr::V6(a), IpAddr::V6(d)) => a == d || a.is_unspecified(),
            (IpAddr::V6(a), IpAddr::V4(_)) => a.is_unspecified() && !self.v6only,
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

/// Whether two bindings' addresses overlap.
fn overlap(a: &Binding, b: &Binding) -> bool {
    match (a.addr, b.addr) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x == y || x.is_unspecified() || y.is_unspecified(),
        (IpAddr::V6(x), IpAddr::V6(y)) => x == y || x.is_unspecified() || y.is_unspecified(),
        (IpAddr::V4(_), IpAddr::V6(y)) => y.is_unspecified() && !b.v6only,
        (IpAddr::V6(x), IpAddr::V4(_)) => x.is_unspecified() && !a.v6only,
    }
}

/// Whether `new` may not share the port with `old`.
fn conflicts(proto: Proto, new: &Binding, old: &Binding) -> bool {
    if new.id == old.id || !overlap(new, old) {
        return false;
    }
    if new.reuseport && old.reuseport && new.uid == old.uid {
        return false;
    }
    match proto {
        Proto::Tcp => !new.reuseaddr || !old.reuseaddr || old.listening || new.listening,
        Proto::Udp | Proto::Icmp => !(new.reuseaddr && old.reuseaddr),
    }
}

/// The bind table of one stack.
#[derive(Default)]
pub struct Ports {
    by_port: HashMap<(Proto, u16), Vec<Binding>>,
    cursor: u32,
}

impl Ports {
    /// Binds `b` to `port`: EADDRINUSE if another socket holds it in a way
    /// that excludes `b`.
    pub fn bind(&mut self, proto: Proto, port: u16, b: Binding) -> SysResult<()> {
        let list = self.by_port.entry((proto, port)).or_default();
        if list.iter().any(|o| conflicts(proto, &b, o)) {
            if list.is_empty() {
                self.by_port.remove(&(proto, port));
            }
            return Err(Errno::EADDRINUSE);
        }
        list.retain(|o| o.id != b.id);
        list.push(b);
        Ok(())
    }

    /// Binds `b` to a free ephemeral port, which it returns (EADDRINUSE
    /// when every one is taken).
    pub fn bind_ephemeral(&mut self, proto: Proto, b: Binding) -> SysResult<u16> {
        let span = u32::from(EPHEMERAL_HIGH - EPHEMERAL_LOW) + 1;
        for i in 0..span {
            let port = EPHEMERAL_LOW + ((self.cursor + i) % span) as u16;
            let free = self
                .by_port
                .get(&(proto, port))
                .is_none_or(|l| !l.iter().any(|o| conflicts(proto, &b, o) || o.reuseaddr));
            if free {
                self.cursor = (self.cursor + i + 1) % span;
                self.by_port.entry((proto, port)).or_default().push(b);
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    /// Drops socket `id`'s hold on `port`.
    pub fn unbind(&mut self, proto: Proto, port: u16, id: u64) {
        if let Some(list) = self.by_port.get_mut(&(proto, port)) {
            list.retain(|o| o.id != id);
            if list.is_empty() {
                self.by_port.remove(&(proto, port));
            }
        }
    }

    /// The binding of `id` at `port`, to change in place.
    pub fn get_mut(&mut self, proto: Proto, port: u16, id: u64) -> Option<&mut Binding> {
        self.by_port
            .get_mut(&(proto, port))?
            .iter_mut()
            .find(|o| o.id == id)
    }

    /// listen(2) on a bound socket: EADDRINUSE when another listener holds
    /// an overlapping address (unless both use SO_REUSEPORT).
    pub fn listen(&mut self, port: u16, id: u64) -> SysResult<()> {
        let list = self
            .by_port
            .get_mut(&(Proto::Tcp, port))
            .ok_or(Errno::EINVAL)?;
        let me = list
            .iter()
            .find(|o| o.id == id)
            .cloned()
            .ok_or(Errno::EINVAL)?;
        let clash = list.iter().any(|o| {
            o.id != id
                && o.listening
                && overlap(&me, o)
                && !(me.reuseport && o.reuseport && me.uid == o.uid)
        });
        if clash {
            return Err(Errno::EADDRINUSE);
        }
        if let Some(m) = list.iter_mut().find(|o| o.id == id) {
            m.listening = true;
        }
        Ok(())
    }

    /// The socket a packet from `src` to (`dst`, `port`) goes to: the best
    /// match (a connected peer, then an exact address, then a wildcard;
    /// SO_REUSEPORT groups spread by source port). `listeners`: TCP SYNs
    /// go to listening sockets only.
    pub fn lookup(
        &self,
        proto: Proto,
        dst: IpAddr,
        port: u16,
        src: Endpoint,
        listeners: bool,
    ) -> Option<u64> {
        let list = self.by_port.get(&(proto, port))?;
        let mut best: Vec<&Binding> = Vec::new();
        let mut best_score = 0;
        for b in list {
            if (proto == Proto::Tcp && b.listening != listeners) || !b.matches(dst) {
                continue;
            }
            let mut score = 1;
            if b.addr == dst {
                score += 2;
            }
            if matches!(b.addr, IpAddr::V4(_)) == matches!(dst, IpAddr::V4(_)) {
                score += 1;
            }
            match b.peer {
                Some(p) if p == src => score += 8,
                Some(_) => continue,
                None => {}
            }
            if score > best_score {
                best_score = score;
                best.clear();
            }
            if score == best_score {
                best.push(b);
            }
        }
        if best.is_empty() {
            return None;
        }
        let pick = if best.len() > 1 && best.iter().all(|b| b.reuseport) {
            usize::from(src.1) % best.len()
        } else {
            best.len() - 1
        };
        best.get(pick).map(|b| b.id)
    }

    /// Every binding (for /proc/net).
    pub fn all(&self, proto: Proto) -> Vec<(u16, Binding)> {
        let mut v: Vec<(u16, Binding)> = self
            .by_port
            .iter()
            .filter(|((p, _), _)| *p == proto)
            .flat_map(|((_, port), l)| l.iter().map(move |b| (*port, b.clone())))
            .collect();
        v.sort_by_key(|(p, b)| (*p, b.id));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[test]
    fn wildcards_and_reuse_as_linux() {
        let mut p = Ports::default();
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        p.bind(Proto::Tcp, 80, Binding::new(1, any6, false, false, false))
            .unwrap();
        // The dual-stack wildcard holds the IPv4 port too.
        assert_eq!(
            p.bind(
                Proto::Tcp,
                80,
                Binding::new(2, v4([127, 0, 0, 1]), false, false, false)
            ),
            Err(Errno::EADDRINUSE)
        );
        p.unbind(Proto::Tcp, 80, 1);
        p.bind(Proto::Tcp, 80, Binding::new(1, any6, true, false, false))
            .unwrap();
        p.bind(
            Proto::Tcp,
            80,
            Binding::new(2, v4([0, 0, 0, 0]), false, false, false),
        )
        .unwrap();
        // Both reuse the address: allowed until one listens.
        p.bind(
            Proto::Tcp,
            81,
            Binding::new(3, v4([0; 4]), false, true, false),
        )
        .unwrap();
        p.bind(
            Proto::Tcp,
            81,
            Binding::new(4, v4([0; 4]), false, true, false),
        )
        .unwrap();
        p.listen(81, 3).unwrap();
        assert_eq!(p.listen(81, 4), Err(Errno::EADDRINUSE));
        let e = p
            .bind_ephemeral(Proto::Udp, Binding::new(5, v4([0; 4]), false, false, false))
            .unwrap();
        assert!((EPHEMERAL_LOW..=EPHEMERAL_HIGH).contains(&e));
        assert_eq!(
            p.lookup(
                Proto::Tcp,
                v4([127, 0, 0, 9]),
                81,
                (v4([127, 0, 0, 1]), 5),
                true
            ),
            Some(3)
        );
    }
}
