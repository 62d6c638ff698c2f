//! The stack on a real Ethernet link: a veth pair whose sandbox end sits
//! in a network namespace the test makes, with no address there (the
//! stack owns 10.x.y.2 and fd00:x:y::2); its packet socket opened as the
//! launcher opens it and given to `Stack::with_config`; the host end has
//! 10.x.y.1 and fd00:x:y::1 in the test's namespace, where std sockets
//! talk to the sandbox. Skipped (with a message) when not root or
//! without `ip`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::abi::socket::SockAddr;
use crate::errno::Errno;
use crate::fsimpl::tmpfs::TmpFs;
use crate::net::{LinkConfig, NetConfig, NetMode, RouteConfig, Stack};
use crate::vfs::socket::Control;
use crate::vfs::{Detached, FileDescription, Vfs};

static SEQ: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn ip_out(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A veth pair and a namespace, removed on drop.
struct Veth {
    ns: String,
    host_if: String,
    /// 10.`a`.`b`.0/24 and fd00:`a`:`b`::/64.
    a: u8,
    b: u8,
    mac: [u8; 6],
    fd: Arc<OwnedFd>,
}

impl Drop for Veth {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.ns]);
    }
}

impl Veth {
    fn v4(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.a, self.b, host)
    }

    fn v6(&self, host: u16) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::new(
            0xfd00,
            u16::from(self.a),
            u16::from(self.b),
            0,
            0,
            0,
            0,
            host,
        )
    }

    fn link(&self) -> LinkConfig {
        LinkConfig {
            name: "eth0".into(),
            mac: self.mac,
            mtu: 1500,
            addrs: vec![
                (IpAddr::V4(self.v4(2)), 24),
                (IpAddr::V6(self.v6(2)), 64),
                (
                    "fe80::ff:fe00:2".parse().unwrap_or(IpAddr::V6(self.v6(2))),
                    64,
                ),
            ],
            fd: Some(self.fd.clone()),
        }
    }

    /// The stack on this link, with `routes`.
    fn stack(&self, routes: Vec<RouteConfig>) -> Arc<Stack> {
        let cfg = NetConfig {
            mode: NetMode::Sandbox,
            links: vec![self.link()],
            routes,
        };
        cfg.validate().unwrap();
        Stack::with_config(Arc::new(Vfs::new(TmpFs::new(0o755, 1))), cfg)
    }
}

/// The packet socket of `ifname` in namespace `ns`, as the launcher opens
/// it.
fn packet_socket(ns: &str, ifname: &str) -> std::io::Result<OwnedFd> {
    let path = format!("/run/netns/{ns}");
    let ifname = std::ffi::CString::new(ifname).unwrap();
    std::thread::spawn(move || -> std::io::Result<OwnedFd> {
        let nsf = std::fs::File::open(&path)?;
        // SAFETY: setns on a namespace file this thread owns; only this
        // short-lived thread changes namespace.
        if unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2).
        let s = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        if s < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `s` is a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(s) };
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
        // SAFETY: an all-zero sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = index as i32;
        // SAFETY: binding to a sockaddr_ll of the right size.
        let r = unsafe {
            libc::bind(
                s,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let set = |level: i32, name: i32, v: i32| {
            // SAFETY: an int option.
            unsafe { libc::setsockopt(s, level, name, &v as *const i32 as *const libc::c_void, 4) }
        };
        // PACKET_IGNORE_OUTGOING is 23.
        set(libc::SOL_PACKET, 23, 1);
        set(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 4 << 20);
        set(libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 4 << 20);
        Ok(fd)
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("thread")))
}

/// The veth pair, or None (and a message) when the test cannot run here.
fn veth() -> Option<Veth> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !ip(&["-V"]) {
        eprintln!("skipped: needs root and iproute2 (ip)");
        return None;
    }
    let pid = std::process::id();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let ns = format!("gvl-{pid}-{n}");
    let host_if = format!("gvh{}x{n}", pid % 100_000);
    let sbx_if = format!("gvs{}x{n}", pid % 100_000);
    let a = 100 + (pid % 100) as u8;
    let b = (pid / 100 % 50) as u8 * 5 + n as u8;
    let mac = [0x02, 0x47, 0x56, a, b, 2];
    let macs = mac
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    if !ip(&["netns", "add", &ns]) {
        eprintln!("skipped: ip netns add failed");
        return None;
    }
    let mut v = Veth {
        ns: ns.clone(),
        host_if: host_if.clone(),
        a,
        b,
        mac,
        fd: Arc::new(std::fs::File::open("/dev/null").ok()?.into()),
    };
    assert!(ip(&[
        "link", "add", &host_if, "type", "veth", "peer", "name", &sbx_if, "address", &macs,
        "netns", &ns
    ]));
    let h4 = format!("{}/24", v.v4(1));
    let h6 = format!("{}/64", v.v6(1));
    assert!(ip(&["addr", "add", &h4, "dev", &host_if]));
    assert!(ip(&["addr", "add", &h6, "dev", &host_if, "nodad"]));
    assert!(ip(&["link", "set", &host_if, "up"]));
    // The namespace's kernel must not answer for anything: no IPv6 on
    // the sandbox end.
    let _ = Command::new("ip")
        .args(["netns", "exec", &ns, "sysctl", "-qw"])
        .arg(format!("net.ipv6.conf.{sbx_if}.disable_ipv6=1"))
        .output();
    assert!(ip(&["-n", &ns, "link", "set", &sbx_if, "up"]));
    v.fd = Arc::new(packet_socket(&ns, &sbx_if).expect("packet socket"));
    Some(v)
}

fn tcp(s: &Arc<Stack>, domain: i32) -> Arc<dyn FileDescription> {
    s.socket(&Detached, domain, libc::SOCK_STREAM, 0, false)
        .unwrap()
}

fn udp(s: &Arc<Stack>, domain: i32) -> Arc<dyn FileDescription> {
    s.socket(&Detached, domain, libc::SOCK_DGRAM, 0, false)
        .unwrap()
}

fn sa(a: SocketAddr) -> SockAddr {
    match a {
        SocketAddr::V4(a) => SockAddr::Inet(a),
        SocketAddr::V6(a) => SockAddr::Inet6(a),
    }
}

fn set_timeout(f: &Arc<dyn FileDescription>, secs: i64) {
    let tv = libc::timeval {
        tv_sec: secs,
        tv_usec: 0,
    };
    // SAFETY: timeval is plain data.
    let b = unsafe {
        std::slice::from_raw_parts(
            &tv as *const libc::timeval as *const u8,
            std::mem::size_of::<libc::timeval>(),
        )
    };
    let s = f.socket().unwrap();
    s.setsockopt(&Detached, libc::SOL_SOCKET, libc::SO_RCVTIMEO, b)
        .unwrap();
}

#[test]
fn tcp_both_ways_v4_and_v6() {
    let Some(v) = veth() else { return };
    let s = v.stack(vec![]);
    for (domain, host, me) in [
        (libc::AF_INET, IpAddr::V4(v.v4(1)), IpAddr::V4(v.v4(2))),
        (libc::AF_INET6, IpAddr::V6(v.v6(1)), IpAddr::V6(v.v6(2))),
    ] {
        // Out: the sandbox connects to a host listener.
        let l = TcpListener::bind(SocketAddr::new(host, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let srv = std::thread::spawn(move || {
            let (mut c, peer) = l.accept().unwrap();
            let mut buf = vec![0u8; 200_000];
            c.read_exact(&mut buf).unwrap();
            c.write_all(&buf).unwrap();
            peer.ip()
        });
        let c = tcp(&s, domain);
        let cs = c.socket().unwrap();
        cs.connect(&Detached, &sa(SocketAddr::new(host, port)))
            .unwrap();
        match cs.sockname().unwrap() {
            SockAddr::Inet(a) => assert_eq!(IpAddr::V4(*a.ip()), me),
            SockAddr::Inet6(a) => assert_eq!(IpAddr::V6(*a.ip()), me),
            o => panic!("{o:?}"),
        }
        let msg: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut sent = 0;
        while sent < msg.len() {
            sent += c.write(&Detached, &msg[sent..]).unwrap();
        }
        let mut back = Vec::new();
        let mut buf = vec![0u8; 65536];
        while back.len() < msg.len() {
            let n = c.read(&Detached, &mut buf).unwrap();
            assert!(n > 0);
            back.extend_from_slice(&buf[..n]);
        }
        assert!(back == msg, "data came back changed");
        assert_eq!(srv.join().unwrap(), me);
        drop(c);

        // In: a host client connects to a sandbox listener on the
        // wildcard.
        let l = tcp(&s, domain);
        let ls = l.socket().unwrap();
        let any: SocketAddr = if domain == libc::AF_INET {
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0).into()
        };
        ls.bind(&Detached, &sa(any)).unwrap();
        ls.listen(&Detached, 8).unwrap();
        let port = match ls.sockname().unwrap() {
            SockAddr::Inet(a) => a.port(),
            SockAddr::Inet6(a) => a.port(),
            _ => 0,
        };
        let cli = std::thread::spawn(move || {
            let mut c =
                TcpStream::connect_timeout(&SocketAddr::new(me, port), Duration::from_secs(5))
                    .unwrap();
            c.write_all(b"hello from the host").unwrap();
            let mut r = [0u8; 5];
            c.read_exact(&mut r).unwrap();
            r
        });
        let (a, _peer) = ls.accept(&Detached, 0).unwrap();
        let mut buf = [0u8; 19];
        let mut got = 0;
        while got < buf.len() {
            got += a.read(&Detached, &mut buf[got..]).unwrap();
        }
        assert_eq!(&buf, b"hello from the host");
        a.write(&Detached, b"world").unwrap();
        assert_eq!(&cli.join().unwrap(), b"world");
    }
    // The host learned the sandbox's hardware address.
    let neigh = ip_out(&["neigh", "show", "dev", &v.host_if]);
    let mac = v
        .mac
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(neigh.contains(&mac), "ip neigh: {neigh}");
}

#[test]
fn udp_ping_and_errors() {
    let Some(v) = veth() else { return };
    let s = v.stack(vec![]);
    let host = IpAddr::V4(v.v4(1));
    // UDP out, fragmented past the MTU, and back.
    let h = std::net::UdpSocket::bind(SocketAddr::new(host, 0)).unwrap();
    h.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let hp = h.local_addr().unwrap();
    let u = udp(&s, libc::AF_INET);
    let us = u.socket().unwrap();
    us.connect(&Detached, &sa(hp)).unwrap();
    let big = vec![0x5au8; 4000];
    assert_eq!(
        us.sendmsg(&Detached, &big, None, Control::default(), 0)
            .unwrap(),
        4000
    );
    let mut buf = vec![0u8; 8000];
    let (n, from) = h.recv_from(&mut buf).unwrap();
    assert_eq!(n, 4000);
    assert_eq!(from.ip(), IpAddr::V4(v.v4(2)));
    h.send_to(b"pong", from).unwrap();
    set_timeout(&u, 5);
    let n = u.read(&Detached, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    // Fragmented by the host on the way in: reassembled.
    h.send_to(&[7u8; 4000], from).unwrap();
    let n = u.read(&Detached, &mut buf).unwrap();
    assert_eq!(n, 4000);
    assert!(buf[..n].iter().all(|&b| b == 7));
    // IPv6 both ways, fragmented.
    let h6 = std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V6(v.v6(1)), 0)).unwrap();
    h6.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let u6 = udp(&s, libc::AF_INET6);
    u6.socket()
        .unwrap()
        .connect(&Detached, &sa(h6.local_addr().unwrap()))
        .unwrap();
    u6.write(&Detached, &[6u8; 3500]).unwrap();
    let (n, from6) = h6.recv_from(&mut buf).unwrap();
    assert_eq!((n, from6.ip()), (3500, IpAddr::V6(v.v6(2))));
    h6.send_to(&[5u8; 3000], from6).unwrap();
    set_timeout(&u6, 5);
    let n = u6.read(&Detached, &mut buf).unwrap();
    assert_eq!(n, 3000);
    // A closed port on the host: ICMP port unreachable, ECONNREFUSED.
    let closed = {
        let t = std::net::UdpSocket::bind(SocketAddr::new(host, 0)).unwrap();
        t.local_addr().unwrap()
    };
    let u2 = udp(&s, libc::AF_INET);
    let u2s = u2.socket().unwrap();
    u2s.connect(&Detached, &sa(closed)).unwrap();
    u2.write(&Detached, b"x").unwrap();
    set_timeout(&u2, 5);
    assert_eq!(u2.read(&Detached, &mut buf), Err(Errno::ECONNREFUSED));
    // A host datagram to a port no one holds in the sandbox: the host
    // sees the port unreachable (ECONNREFUSED on its connected socket).
    let hc = std::net::UdpSocket::bind(SocketAddr::new(host, 0)).unwrap();
    hc.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    hc.connect(SocketAddr::new(IpAddr::V4(v.v4(2)), 9)).unwrap();
    hc.send(b"x").unwrap();
    let e = hc.recv(&mut buf).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");

    // Ping from the sandbox (a ping socket) to the host.
    let p = s
        .socket(
            &Detached,
            libc::AF_INET,
            libc::SOCK_DGRAM,
            libc::IPPROTO_ICMP,
            false,
        )
        .unwrap();
    let ps = p.socket().unwrap();
    let req = [8u8, 0, 0, 0, 0, 0, 0, 1, b'h', b'i'];
    ps.sendmsg(
        &Detached,
        &req,
        Some(&sa(SocketAddr::new(host, 0))),
        Control::default(),
        0,
    )
    .unwrap();
    set_timeout(&p, 5);
    let n = p.read(&Detached, &mut buf).unwrap();
    assert_eq!(n, 10);
    assert_eq!(buf[0], 0, "an echo reply");
    assert_eq!(&buf[8..10], b"hi");

    // Ping from the host (a raw ICMP socket) to the sandbox.
    assert!(host_ping(v.v4(1), v.v4(2)), "the sandbox answers ping");
}

/// One echo request from `src` to `dst` through a raw socket; whether a
/// reply came within 3 s.
fn host_ping(src: Ipv4Addr, dst: Ipv4Addr) -> bool {
    // SAFETY: plain socket(2).
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if s < 0 {
        return false;
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(s) };
    let _ = src;
    let mut msg = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4];
    let c = crate::net::link::wire::finish(crate::net::link::wire::sum(0, &msg));
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    // SAFETY: an all-zero sockaddr_in is valid.
    let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    to.sin_family = libc::AF_INET as u16;
    to.sin_addr.s_addr = u32::from(dst).to_be();
    // SAFETY: valid buffer and address.
    unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
            &to as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        unsafe { libc::poll(&mut pfd, 1, 200) };
        // SAFETY: valid buffer.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 28 {
            let hl = usize::from(buf[0] & 0xf) * 4;
            let from = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
            if from == dst && buf[hl] == 0 && buf[hl + 4..hl + 6] == [0x12, 0x34] {
                return true;
            }
        }
    }
    false
}

#[test]
fn unreachable_and_isolation() {
    let Some(v) = veth() else { return };
    let s = v.stack(vec![]);
    // A closed port on the host: its RST refuses the connect.
    let closed = {
        let l = TcpListener::bind(SocketAddr::new(IpAddr::V4(v.v4(1)), 0)).unwrap();
        l.local_addr().unwrap()
    };
    let c = tcp(&s, libc::AF_INET);
    assert_eq!(
        c.socket().unwrap().connect(&Detached, &sa(closed)),
        Err(Errno::ECONNREFUSED)
    );
    // And the other way: the sandbox resets a connect to a closed port.
    let e = TcpStream::connect_timeout(
        &SocketAddr::new(IpAddr::V4(v.v4(2)), 9),
        Duration::from_secs(3),
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
    // bind: the link's address yes, the host's no.
    let b = tcp(&s, libc::AF_INET);
    b.socket()
        .unwrap()
        .bind(&Detached, &SockAddr::Inet(SocketAddrV4::new(v.v4(2), 0)))
        .unwrap();
    let b = tcp(&s, libc::AF_INET);
    assert_eq!(
        b.socket()
            .unwrap()
            .bind(&Detached, &SockAddr::Inet(SocketAddrV4::new(v.v4(1), 0))),
        Err(Errno::EADDRNOTAVAIL)
    );
    // A socket bound to loopback cannot reach the outside.
    let b = tcp(&s, libc::AF_INET);
    let bs = b.socket().unwrap();
    bs.bind(
        &Detached,
        &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
    )
    .unwrap();
    assert_eq!(bs.connect(&Detached, &sa(closed)), Err(Errno::EINVAL));
    // No route: at once.
    let c = tcp(&s, libc::AF_INET);
    let r = c.socket().unwrap().connect(
        &Detached,
        &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80)),
    );
    assert_eq!(r, Err(Errno::ENETUNREACH));
    // A neighbour that never answers: EHOSTUNREACH after about 3 s.
    let c = tcp(&s, libc::AF_INET);
    let t0 = Instant::now();
    let r = c
        .socket()
        .unwrap()
        .connect(&Detached, &SockAddr::Inet(SocketAddrV4::new(v.v4(77), 80)));
    assert_eq!(r, Err(Errno::EHOSTUNREACH));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );

    // A datagram from the outside to 127.0.0.1: dropped.
    let u = udp(&s, libc::AF_INET);
    u.socket()
        .unwrap()
        .bind(
            &Detached,
            &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5353)),
        )
        .unwrap();
    let before = s.inet.link_counts()[0].1.rx[3];
    let frame = forged_udp_to_loopback(&v, 5353);
    send_frame_on_host(&v.host_if, &frame);
    std::thread::sleep(Duration::from_millis(300));
    let mut buf = [0u8; 64];
    u.set_status_flags(libc::O_NONBLOCK as u32);
    assert_eq!(u.read(&Detached, &mut buf), Err(Errno::EAGAIN));
    assert!(
        s.inet.link_counts()[0].1.rx[3] > before,
        "counted as dropped"
    );
}

/// An Ethernet frame from the host's end to the sandbox's MAC carrying a
/// UDP datagram for 127.0.0.1:`port`.
fn forged_udp_to_loopback(v: &Veth, port: u16) -> Vec<u8> {
    use crate::net::link::wire;
    let udp = {
        let mut h = vec![0u8; 8];
        h[0..2].copy_from_slice(&1234u16.to_be_bytes());
        h[2..4].copy_from_slice(&port.to_be_bytes());
        h[4..6].copy_from_slice(&12u16.to_be_bytes());
        h.extend_from_slice(b"evil");
        h
    };
    let mut ps = wire::ip_packets(
        IpAddr::V4(v.v4(1)),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        wire::proto::UDP,
        &[&udp],
        1500,
        1,
    )
    .unwrap();
    let mut f = ps.remove(0);
    wire::eth_header(&mut f, v.mac, [2, 0, 0, 0, 0, 1], wire::ETH_P_IP);
    f
}

fn send_frame_on_host(ifname: &str, frame: &[u8]) {
    // SAFETY: plain socket(2).
    let s = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(s >= 0);
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(s) };
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: an all-zero sockaddr_ll is valid; the name is NUL-terminated.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    sll.sll_ifindex = index as i32;
    sll.sll_halen = 6;
    // SAFETY: valid buffer and address.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr() as *const libc::c_void,
            frame.len(),
            0,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(n, frame.len() as isize);
}

#[test]
fn default_route_via_gateway() {
    let Some(v) = veth() else { return };
    // A default route via the host end: a packet to an address beyond it
    // is sent to the gateway's hardware address (the host, which has no
    // route further, drops it; the ARP for the gateway is what shows).
    let s = v.stack(vec![RouteConfig {
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        prefix: 0,
        gateway: Some(IpAddr::V4(v.v4(1))),
        link: "eth0".into(),
        metric: 0,
    }]);
    let u = udp(&s, libc::AF_INET);
    let us = u.socket().unwrap();
    us.connect(
        &Detached,
        &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 53)),
    )
    .unwrap();
    match us.sockname().unwrap() {
        SockAddr::Inet(a) => assert_eq!(*a.ip(), v.v4(2)),
        o => panic!("{o:?}"),
    }
    u.write(&Detached, b"q").unwrap();
    // The gateway answered our ARP: it shows in the neighbour table.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let g = s.inet.core.lock();
        let known = g.dev.link.as_ref().is_some_and(|d| {
            d.neigh[0]
                .entries
                .get(&IpAddr::V4(v.v4(1)))
                .is_some_and(|e| e.mac.is_some())
        });
        drop(g);
        if known {
            break;
        }
        assert!(Instant::now() < deadline, "gateway resolved");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The views: /proc/net/route, arp, dev; netlink's neighbour dump.
    let route = s.proc_net("route").unwrap();
    let gw = format!("{:08X}", u32::from_le_bytes(v.v4(1).octets()));
    assert!(
        route.contains(&format!("eth0\t00000000\t{gw}\t0003\t")),
        "{route}"
    );
    let net = format!("{:08X}", u32::from_le_bytes(v.v4(0).octets()));
    assert!(
        route.contains(&format!("eth0\t{net}\t00000000\t0001\t")),
        "{route}"
    );
    let arp = s.proc_net("arp").unwrap();
    let line = arp
        .lines()
        .find(|l| l.starts_with(&v.v4(1).to_string()))
        .unwrap_or_default();
    assert!(
        line.contains("0x1         0x2") && line.ends_with("eth0"),
        "{arp}"
    );
    let dev = s.proc_net("dev").unwrap();
    let eth = dev
        .lines()
        .find(|l| l.trim_start().starts_with("eth0:"))
        .unwrap();
    let fields: Vec<u64> = eth
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(fields[1] >= 1 && fields[9] >= 2, "{eth}");
    use crate::fsimpl::sysfs::NetDevices;
    let eth0 = s
        .net_devices()
        .into_iter()
        .find(|d| d.name == "eth0")
        .unwrap();
    assert!(eth0
        .stats
        .iter()
        .any(|(n, v)| *n == "tx_packets" && *v >= 2));
    let view = s.inet.view();
    assert!(view
        .neigh
        .iter()
        .any(|n| n.ip == IpAddr::V4(v.v4(1)) && n.state == 2));
    let mut req = vec![0u8; 16 + 12];
    req[0..4].copy_from_slice(&28u32.to_ne_bytes());
    req[4..6].copy_from_slice(&30u16.to_ne_bytes());
    req[6..8].copy_from_slice(&0x301u16.to_ne_bytes());
    req[16] = libc::AF_INET as u8;
    let ifaces = s.interfaces();
    let (d, _) = crate::net::netlink::route::handle_with(&ifaces, &view, &req, 1, false, 0);
    assert!(
        d[0].windows(4).any(|w| w == v.v4(1).octets()),
        "the neighbour is dumped"
    );
    let mut req = req.clone();
    req[4..6].copy_from_slice(&26u16.to_ne_bytes());
    let (d, _) = crate::net::netlink::route::handle_with(&ifaces, &view, &req, 1, false, 0);
    assert!(
        d[0].windows(4).any(|w| w == v.v4(1).octets()),
        "the gateway is dumped"
    );
}

/// Bulk TCP over the veth both ways (a figure, not a check: run with
/// `--ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    let Some(v) = veth() else { return };
    let s = v.stack(vec![]);
    const TOTAL: usize = 256 << 20;
    // Host → sandbox.
    let l = tcp(&s, libc::AF_INET);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &SockAddr::Inet(SocketAddrV4::new(v.v4(2), 0)))
        .unwrap();
    ls.listen(&Detached, 4).unwrap();
    let port = match ls.sockname().unwrap() {
        SockAddr::Inet(a) => a.port(),
        _ => 0,
    };
    let me = SocketAddr::new(IpAddr::V4(v.v4(2)), port);
    let t0 = Instant::now();
    let tx = std::thread::spawn(move || {
        let mut c = TcpStream::connect(me).unwrap();
        let buf = vec![1u8; 1 << 20];
        for _ in 0..(TOTAL >> 20) {
            c.write_all(&buf).unwrap();
        }
    });
    let (a, _) = ls.accept(&Detached, 0).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < TOTAL {
        let n = a.read(&Detached, &mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    tx.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!("host -> sandbox: {:.0} MB/s", TOTAL as f64 / secs / 1e6);
    // Sandbox → host.
    let hl = TcpListener::bind(SocketAddr::new(IpAddr::V4(v.v4(1)), 0)).unwrap();
    let hp = hl.local_addr().unwrap();
    let rx = std::thread::spawn(move || {
        let (mut c, _) = hl.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        while got < TOTAL {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0);
            got += n;
        }
    });
    let c = tcp(&s, libc::AF_INET);
    c.socket().unwrap().connect(&Detached, &sa(hp)).unwrap();
    let t0 = Instant::now();
    let data = vec![2u8; 1 << 20];
    let mut sent = 0;
    while sent < TOTAL {
        sent += c.write(&Detached, &data).unwrap();
    }
    rx.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!("sandbox -> host: {:.0} MB/s", TOTAL as f64 / secs / 1e6);
    let c = s.inet.link_counts()[0].1;
    eprintln!("counters: rx {:?} tx {:?}", c.rx, c.tx);
}
