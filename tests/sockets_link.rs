//! The sandbox's stack on a pod interface (issue 14, items 1 and 6):
//! tests/c/link_client.c runs natively in a network namespace the test
//! makes (a veth pair, the namespace end `eth0` with 10.x.y.2/24 and a
//! default route via the host end 10.x.y.1), and sandboxed with
//! `gvisor do --network=sandbox` (the launcher's own namespace, veth pair
//! and NAT); the host end runs the servers it talks to, and what the
//! program prints must be the same: interface ioctls, TCP out (1 MiB
//! echoed) and in, UDP echo, ICMP port unreachable as ECONNREFUSED, the
//! host's loopback out of reach, ENETUNREACH without a route.
//!
//! Needs root and iproute2; skipped with a message otherwise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use gvisor_tests::*;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !ip(&["-V"]) {
        eprintln!("skipped: needs root and iproute2 (ip)");
        return false;
    }
    true
}

/// A namespace with a veth pair, removed on drop.
struct NativeNet {
    ns: String,
    host_if: String,
}

impl Drop for NativeNet {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.ns]);
    }
}

impl NativeNet {
    fn new(tag: &str) -> NativeNet {
        let pid = std::process::id();
        let n = NativeNet {
            ns: format!("gvn-{tag}-{pid}"),
            host_if: format!("gvn{tag}{}", pid % 100_000),
        };
        let a = 100 + (pid % 100) as u8;
        let b = 250 - (pid / 100 % 50) as u8;
        let host = format!("10.{a}.{b}.1/24");
        let me = format!("10.{a}.{b}.2/24");
        let gw = format!("10.{a}.{b}.1");
        assert!(ip(&["netns", "add", &n.ns]));
        assert!(ip(&[
            "link", "add", &n.host_if, "type", "veth", "peer", "name", "eth0", "netns", &n.ns
        ]));
        assert!(ip(&["addr", "add", &host, "dev", &n.host_if]));
        assert!(ip(&["link", "set", &n.host_if, "up"]));
        assert!(ip(&["-n", &n.ns, "addr", "add", &me, "dev", "eth0"]));
        assert!(ip(&["-n", &n.ns, "link", "set", "lo", "up"]));
        assert!(ip(&["-n", &n.ns, "link", "set", "eth0", "up"]));
        assert!(ip(&["-n", &n.ns, "route", "add", "default", "via", &gw]));
        n
    }
}

/// The host's servers; their ports as the program's arguments.
struct Servers {
    args: Vec<String>,
    _lo: TcpListener,
}

fn servers() -> Servers {
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let t = TcpListener::bind(any).unwrap();
    let tcp_port = t.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in t.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                c.set_read_timeout(Some(Duration::from_secs(30))).ok();
                let mut buf = vec![0u8; 1 << 20];
                if c.read_exact(&mut buf).is_err() || c.write_all(&buf).is_err() {
                    return;
                }
                let peer = c.peer_addr().unwrap();
                let mut line = String::new();
                let mut r = BufReader::new(c);
                if r.read_line(&mut line).is_err() {
                    return;
                }
                let Some(port) = line
                    .trim()
                    .strip_prefix("LISTEN ")
                    .and_then(|p| p.parse::<u16>().ok())
                else {
                    return;
                };
                if let Ok(mut back) = TcpStream::connect_timeout(
                    &SocketAddr::new(peer.ip(), port),
                    Duration::from_secs(5),
                ) {
                    let _ = back.write_all(b"hello from the host");
                }
            });
        }
    });
    let u = UdpSocket::bind(any).unwrap();
    let udp_port = u.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = u.recv_from(&mut buf) {
            let _ = u.send_to(&buf[..n], from);
        }
    });
    let closed = UdpSocket::bind(any).unwrap().local_addr().unwrap().port();
    let lo = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let lo_port = lo.local_addr().unwrap().port();
    Servers {
        args: vec![
            tcp_port.to_string(),
            udp_port.to_string(),
            closed.to_string(),
            lo_port.to_string(),
        ],
        _lo: lo,
    }
}

#[test]
fn pod_interface_same_as_native() {
    if !can_run() {
        return;
    }
    let prog = compile_c("link_client");
    let srv = servers();
    let net = NativeNet::new("c");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &net.ns])
        .arg(&prog)
        .args(&srv.args);
    let native = run_command_timeout(cmd, Duration::from_secs(60));
    drop(net);
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = run_command_timeout(
        sandboxed_command(&prog, &srv.args, &["--network=sandbox"]),
        Duration::from_secs(60),
    );
    assert_same(&native, &sandboxed);
}

#[test]
fn tools_see_eth0_as_in_a_container() {
    if !can_run() {
        return;
    }
    // `ip addr`, `ip route` and busybox ifconfig in the sandbox show
    // eth0 with its address, the connected network and the default
    // route.
    let out = run_command_timeout(
        sandboxed_command(
            "/bin/sh",
            &[
                "-c",
                "ip -4 addr show dev eth0; ip route; busybox ifconfig eth0; cat /sys/class/net/eth0/mtu /sys/class/net/eth0/operstate",
            ],
            &["--network=sandbox"],
        ),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text.contains("inet 10.213."), "{text}");
    assert!(text.contains("default via 10.213."), "{text}");
    assert!(
        text.contains("proto kernel scope link src 10.213."),
        "{text}"
    );
    assert!(text.contains("HWaddr") || text.contains("ether"), "{text}");
    assert!(text.contains("1500\nup\n"), "{text}");
}
