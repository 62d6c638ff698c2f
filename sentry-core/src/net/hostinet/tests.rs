//! Host sockets driven through the `Socket` trait on the host's loopback
//! (tasks as host threads with detached contexts).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use crate::abi::socket::SockAddr;
use crate::errno::Errno;
use crate::fsimpl::tmpfs::TmpFs;
use crate::net::{NetConfig, NetMode, Stack};
use crate::vfs::socket::Control;
use crate::vfs::{Detached, FileDescription, Vfs};

fn stack() -> Arc<Stack> {
    let config = NetConfig {
        mode: NetMode::Host,
        ..NetConfig::none()
    };
    Stack::with_config(Arc::new(Vfs::new(TmpFs::new(0o755, 1))), config)
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

fn sock(s: &Arc<Stack>, ty: i32, nonblock: bool) -> Arc<dyn FileDescription> {
    s.socket(&Detached, libc::AF_INET, ty, 0, nonblock).unwrap()
}

#[test]
fn tcp_echo_blocking_across_threads() {
    let s = stack();
    let l = sock(&s, libc::SOCK_STREAM, false);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &lo(0)).unwrap();
    ls.listen(&Detached, 4).unwrap();
    let port = port_of(&ls.sockname().unwrap());
    let s2 = s.clone();
    let client = std::thread::spawn(move || {
        let c = sock(&s2, libc::SOCK_STREAM, false);
        let cs = c.socket().unwrap();
        cs.connect(&Detached, &lo(port)).unwrap();
        let data = vec![7u8; 300_000];
        let n = cs
            .sendmsg(&Detached, &data, None, Control::default(), 0)
            .unwrap();
        assert_eq!(n, data.len());
        cs.shutdown(&Detached, libc::SHUT_WR).unwrap();
        let mut buf = [0u8; 16];
        let r = cs
            .recvmsg(&Detached, &mut buf, libc::MSG_WAITALL as u32)
            .unwrap();
        assert_eq!(&buf[..r.len], b"300000");
    });
    let (a, peer) = ls.accept(&Detached, 0).unwrap();
    assert_eq!(
        port_of(&a.socket().unwrap().peername().unwrap()),
        port_of(&peer)
    );
    let mut total = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        let n = a.read(&Detached, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 7));
        total += n;
    }
    a.write(&Detached, total.to_string().as_bytes()).unwrap();
    drop(a);
    client.join().unwrap();
}

#[test]
fn nonblocking_calls_and_readiness() {
    let s = stack();
    let l = sock(&s, libc::SOCK_STREAM, true);
    let ls = l.socket().unwrap();
    ls.bind(&Detached, &lo(0)).unwrap();
    ls.listen(&Detached, 4).unwrap();
    let port = port_of(&ls.sockname().unwrap());
    assert_eq!(ls.accept(&Detached, 0).err(), Some(Errno::EAGAIN));
    assert_eq!(l.readiness() & libc::POLLIN as u32, 0);
    let c = sock(&s, libc::SOCK_STREAM, true);
    let cs = c.socket().unwrap();
    match cs.connect(&Detached, &lo(port)) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => panic!("connect: {e:?}"),
    }
    // The listener becomes readable: the poller wakes its queue.
    let w = crate::waiter::block_until(
        &Detached,
        &[l.wait_queue().unwrap()],
        Some(std::time::Instant::now() + std::time::Duration::from_secs(5)),
        Errno::ETIMEDOUT,
        || (l.readiness() & libc::POLLIN as u32 != 0).then_some(Ok(())),
    );
    assert_eq!(w, Ok(()));
    let (a, _) = ls.accept(&Detached, libc::SOCK_NONBLOCK as u32).unwrap();
    assert_ne!(a.status_flags() & libc::O_NONBLOCK as u32, 0);
    let mut buf = [0u8; 8];
    assert_eq!(a.read(&Detached, &mut buf).err(), Some(Errno::EAGAIN));
    assert_eq!(c.readiness() & libc::POLLOUT as u32, libc::POLLOUT as u32);
    c.write(&Detached, b"hello").unwrap();
    let r = a
        .socket()
        .unwrap()
        .recvmsg(&Detached, &mut buf, libc::MSG_PEEK as u32);
    // The bytes may not have arrived yet on a loaded host: wait for them.
    let r = match r {
        Err(Errno::EAGAIN) => a
            .socket()
            .unwrap()
            .recvmsg(&Detached, &mut buf, 0)
            .or_else(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                a.socket().unwrap().recvmsg(&Detached, &mut buf, 0)
            })
            .unwrap(),
        r => r.unwrap(),
    };
    assert_eq!(&buf[..r.len], b"hello");
}

#[test]
fn connect_refused_and_errors() {
    let s = stack();
    // A port nobody listens on: bind one and close it.
    let t = sock(&s, libc::SOCK_STREAM, false);
    t.socket().unwrap().bind(&Detached, &lo(0)).unwrap();
    let port = port_of(&t.socket().unwrap().sockname().unwrap());
    drop(t);
    let c = sock(&s, libc::SOCK_STREAM, false);
    assert_eq!(
        c.socket().unwrap().connect(&Detached, &lo(port)),
        Err(Errno::ECONNREFUSED)
    );
    assert_eq!(
        s.socket(&Detached, libc::AF_INET, libc::SOCK_RAW, 1, false)
            .err(),
        Some(Errno::EPERM)
    );
    assert_eq!(
        s.socket(&Detached, libc::AF_INET, libc::SOCK_STREAM, 17, false)
            .err(),
        Some(Errno::EPROTONOSUPPORT)
    );
    let cs = c.socket().unwrap();
    assert_eq!(
        cs.getsockopt(&Detached, libc::SOL_IP, libc::IP_PKTINFO)
            .err(),
        Some(Errno::ENOPROTOOPT)
    );
    cs.setsockopt(
        &Detached,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &1i32.to_ne_bytes(),
    )
    .unwrap();
    assert_eq!(
        cs.getsockopt(&Detached, libc::IPPROTO_TCP, libc::TCP_NODELAY)
            .unwrap(),
        1i32.to_ne_bytes().to_vec()
    );
    assert_eq!(
        cs.getsockopt(&Detached, libc::SOL_SOCKET, libc::SO_TYPE)
            .unwrap(),
        libc::SOCK_STREAM.to_ne_bytes().to_vec()
    );
    assert_eq!(c.stat().unwrap().mode & libc::S_IFMT, libc::S_IFSOCK);
}

#[test]
fn udp_datagrams_truncate_and_carry_the_sender() {
    let s = stack();
    let a = sock(&s, libc::SOCK_DGRAM, false);
    let b = sock(&s, libc::SOCK_DGRAM, false);
    let (as_, bs) = (a.socket().unwrap(), b.socket().unwrap());
    as_.bind(&Detached, &lo(0)).unwrap();
    bs.bind(&Detached, &lo(0)).unwrap();
    let pa = as_.sockname().unwrap();
    let pb = bs.sockname().unwrap();
    bs.sendmsg(&Detached, b"0123456789", Some(&pa), Control::default(), 0)
        .unwrap();
    let mut buf = [0u8; 4];
    let r = as_.recvmsg(&Detached, &mut buf, 0).unwrap();
    assert_eq!((r.len, r.msg_len), (4, 10));
    assert_ne!(r.flags & libc::MSG_TRUNC as u32, 0);
    assert_eq!(r.from, Some(pb));
    assert_eq!(&buf, b"0123");
    // SO_RCVTIMEO is the sentry's: an empty queue times out.
    let mut tv = 0i64.to_ne_bytes().to_vec();
    tv.extend_from_slice(&50_000i64.to_ne_bytes());
    as_.setsockopt(&Detached, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
        .unwrap();
    assert_eq!(
        as_.recvmsg(&Detached, &mut buf, 0).err(),
        Some(Errno::EAGAIN)
    );
    assert_eq!(
        as_.getsockopt(&Detached, libc::SOL_SOCKET, libc::SO_RCVTIMEO)
            .unwrap(),
        tv
    );
}
