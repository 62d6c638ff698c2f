//! The inet stack driven directly through the `Socket` trait, tasks as
//! host threads with detached contexts.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use crate::abi::socket::SockAddr;
use crate::errno::Errno;
use crate::fsimpl::tmpfs::TmpFs;
use crate::net::Stack;
use crate::vfs::socket::Control;
use crate::vfs::{Detached, FileDescription, Vfs};

fn stack() -> Arc<Stack> {
    Stack::new(Arc::new(Vfs::new(TmpFs::new(0o755, 1))))
}

fn lo(port: u16) -> SockAddr {
    SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

fn port_of(a: &SockAddr) -> u16 {
    match a {
        SockAddr::Inet(a) => a.port(),
        SockAddr::Inet6(a) => a.port(),
        _ => 0,
    }
}

fn tcp(s: &Arc<Stack>, nonblock: bool) -> Arc<dyn FileDescription> {
    s.socket(&Detached, libc::AF_INET, libc::SOCK_STREAM, 0, nonblock)
        .unwrap()
}

#[test]
fn tcp_echo_and_close() {
    let s = stack();
    let l = tcp(&s, false);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &lo(0)).unwrap();
    ls.listen(&Detached, 4).unwrap();
    let port = port_of(&ls.sockname().unwrap());
    assert!(port >= 32768);
    let s2 = s.clone();
    let client = std::thread::spawn(move || {
        let c = tcp(&s2, false);
        let cs = c.socket().unwrap();
        cs.connect(&Detached, &lo(port)).unwrap();
        let msg = vec![7u8; 300_000];
        assert_eq!(c.write(&Detached, &msg).unwrap(), msg.len());
        cs.shutdown(&Detached, libc::SHUT_WR).unwrap();
        let mut back = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = c.read(&Detached, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        back.len()
    });
    let (a, _peer) = ls.accept(&Detached, 0).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut total = 0;
    loop {
        let n = a.read(&Detached, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        assert_eq!(a.write(&Detached, &buf[..n]).unwrap(), n);
    }
    drop(a);
    assert_eq!(total, 300_000);
    assert_eq!(client.join().unwrap(), 300_000);
}

#[test]
fn tcp_refused_and_nonblocking_connect() {
    let s = stack();
    let c = tcp(&s, false);
    assert_eq!(
        c.socket().unwrap().connect(&Detached, &lo(1)),
        Err(Errno::ECONNREFUSED)
    );
    let n = tcp(&s, true);
    let ns = n.socket().unwrap();
    assert_eq!(ns.connect(&Detached, &lo(1)), Err(Errno::EINPROGRESS));
    let r = n.readiness();
    assert!(r & libc::POLLERR as u32 != 0, "{r:#x}");
    assert_eq!(
        ns.getsockopt(&Detached, libc::SOL_SOCKET, libc::SO_ERROR)
            .unwrap(),
        (libc::ECONNREFUSED).to_ne_bytes().to_vec()
    );
    let b = tcp(&s, false);
    assert_eq!(
        b.socket().unwrap().bind(
            &Detached,
            &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 0))
        ),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn udp_and_ping() {
    let s = stack();
    let u = s
        .socket(&Detached, libc::AF_INET, libc::SOCK_DGRAM, 0, true)
        .unwrap();
    let us = u.socket().unwrap();
    us.bind(&Detached, &lo(0)).unwrap();
    let port = port_of(&us.sockname().unwrap());
    let v = s
        .socket(&Detached, libc::AF_INET, libc::SOCK_DGRAM, 0, true)
        .unwrap();
    let vs = v.socket().unwrap();
    vs.sendmsg(&Detached, b"hello", Some(&lo(port)), Control::default(), 0)
        .unwrap();
    let mut buf = [0u8; 3];
    let r = us.recvmsg(&Detached, &mut buf, 0).unwrap();
    assert_eq!((r.len, r.msg_len), (3, 5));
    // Connected to a closed port: ECONNREFUSED on the next call.
    vs.connect(&Detached, &lo(9)).unwrap();
    vs.sendmsg(&Detached, b"x", None, Control::default(), 0)
        .unwrap();
    assert_eq!(
        vs.recvmsg(&Detached, &mut buf, 0).err(),
        Some(Errno::ECONNREFUSED)
    );
    let p = s
        .socket(
            &Detached,
            libc::AF_INET,
            libc::SOCK_DGRAM,
            libc::IPPROTO_ICMP,
            true,
        )
        .unwrap();
    let ps = p.socket().unwrap();
    let req = [8u8, 0, 0, 0, 0, 0, 0, 1, b'p', b'i'];
    ps.sendmsg(&Detached, &req, Some(&lo(0)), Control::default(), 0)
        .unwrap();
    let mut rep = [0u8; 64];
    let r = ps.recvmsg(&Detached, &mut rep, 0).unwrap();
    assert_eq!(r.len, 10);
    assert_eq!(rep[0], 0);
    assert_eq!(&rep[8..10], b"pi");
}

#[test]
fn full_accept_queue_drops_syns_until_accept() {
    let s = stack();
    let l = tcp(&s, false);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &lo(0)).unwrap();
    ls.listen(&Detached, 0).unwrap();
    let port = port_of(&ls.sockname().unwrap());
    // Backlog 0 queues one connection; the next SYN is dropped, not refused.
    let c1 = tcp(&s, true);
    let c2 = tcp(&s, true);
    for c in [&c1, &c2] {
        assert_eq!(
            c.socket().unwrap().connect(&Detached, &lo(port)),
            Err(Errno::EINPROGRESS)
        );
    }
    let out = libc::POLLOUT as u32;
    assert_ne!(c1.readiness() & out, 0);
    assert_eq!(c2.readiness() & (out | libc::POLLERR as u32), 0);
    let (_a1, _) = ls.accept(&Detached, 0).unwrap();
    // The retransmitted SYN (the timer thread sends it) gets through.
    let t0 = std::time::Instant::now();
    while c2.readiness() & out == 0 {
        assert!(t0.elapsed().as_secs() < 10, "SYN never retransmitted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (_a2, _) = ls.accept(&Detached, 0).unwrap();
    assert_eq!(
        c2.socket()
            .unwrap()
            .getsockopt(&Detached, libc::SOL_SOCKET, libc::SO_ERROR)
            .unwrap(),
        0i32.to_ne_bytes().to_vec()
    );
}

#[test]
fn closing_everything_empties_the_stack() {
    let s = stack();
    {
        let l = tcp(&s, false);
        let ls = l.socket().unwrap();
        ls.bind(&Detached, &lo(0)).unwrap();
        ls.listen(&Detached, 64).unwrap();
        let port = port_of(&ls.sockname().unwrap());
        let mut keep = Vec::new();
        for _ in 0..50 {
            let c = tcp(&s, false);
            c.socket().unwrap().connect(&Detached, &lo(port)).unwrap();
            c.write(&Detached, b"unread").unwrap();
            let (a, _) = ls.accept(&Detached, 0).unwrap();
            keep.push((c, a));
        }
    }
    let g = s.inet.core.lock();
    assert!(g.tcp.is_empty());
    // Connections closed with unread data are reset: nothing lingers.
    assert_eq!(g.meta.len(), 0, "smoltcp sockets left");
}

#[test]
fn proc_net_shows_sockets_as_linux() {
    let s = stack();
    let l = tcp(&s, false);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &lo(0)).unwrap();
    ls.listen(&Detached, 4).unwrap();
    let port = port_of(&ls.sockname().unwrap());
    let t = s.proc_net("tcp").unwrap();
    assert!(
        t.contains(&format!("0100007F:{port:04X} 00000000:0000 0A")),
        "{t}"
    );
    assert!(t.lines().all(|l| l.len() == 149), "{t}");
    let u = s
        .socket(&Detached, libc::AF_INET6, libc::SOCK_DGRAM, 0, false)
        .unwrap();
    u.socket()
        .unwrap()
        .bind(
            &Detached,
            &SockAddr::Inet6(std::net::SocketAddrV6::new(
                std::net::Ipv6Addr::LOCALHOST,
                0,
                0,
                0,
            )),
        )
        .unwrap();
    let uport = port_of(&u.socket().unwrap().sockname().unwrap());
    let u6 = s.proc_net("udp6").unwrap();
    assert!(
        u6.contains(&format!(
            "00000000000000000000000001000000:{uport:04X} 00000000000000000000000000000000:0000 07"
        )),
        "{u6}"
    );
    for f in ["dev", "if_inet6", "route", "tcp6", "udp"] {
        assert!(s.proc_net(f).is_some(), "{f}");
    }
    assert!(s
        .proc_net("if_inet6")
        .unwrap()
        .contains("00000000000000000000000000000001 01 80 10 80       lo"));
}
