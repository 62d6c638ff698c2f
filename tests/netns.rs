//! Network modes end to end (issue 14, items 1, 2 and 7): `gvisor do
//! --network=sandbox` (its own namespace, veth pair and NAT) reaches a
//! server on the host and serves the host; `gvisor do --network=host` sees
//! the host's interfaces; a bundle joining an `ip netns add` namespace takes
//! its interface over (the host side keeps no address; a closed port is
//! refused by the sentry); bad namespaces and interfaces are one-line
//! errors; nothing is left behind (namespaces, veths, iptables rules).
//!
//! Root, `ip` (iproute2) and `iptables` are needed; without them each test
//! says so and passes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gvisor_tests::*;

fn tools() -> bool {
    let ok = |p: &str, a: &str| {
        Command::new(p)
            .arg(a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !(root && ok("ip", "-V") && ok("iptables", "-V")) {
        eprintln!("skipped: needs root, ip (iproute2) and iptables");
        return false;
    }
    true
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh_ok(cmd: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A namespace the test made (with a veth pair whose host end is
/// `host_if`), removed on drop.
struct TestNs {
    name: String,
    host_if: String,
    /// The sandbox end's address.
    addr: IpAddr,
}

/// The third byte (IPv4) or second group (IPv6) of test subnet `k`: per
/// test process, so that parallel runs do not collide.
fn subnet(k: u8) -> u8 {
    (std::process::id() % 30) as u8 * 8 + k
}

impl TestNs {
    /// Namespace `gvt-TAG-PID` with `eth0` (10.214.S.2/30, host end
    /// 10.214.S.1) when `v4`, or fd14:S::2/64 (host fd14:S::1) when not;
    /// S is [`subnet`]`(k)`.
    fn with_veth(tag: &str, k: u8, v4: bool) -> TestNs {
        let pid = std::process::id();
        let sub = subnet(k);
        let t = TestNs {
            name: format!("gvt-{tag}-{pid}"),
            host_if: format!("gvt{k}h{}", pid % 100_000),
            addr: if v4 {
                format!("10.214.{sub}.2").parse().unwrap()
            } else {
                format!("fd14:{sub}::2").parse().unwrap()
            },
        };
        let (n, h) = (&t.name, &t.host_if);
        sh(&format!(
            "ip netns add {n} && ip link add {h} type veth peer name gvtpeer{k}{p} && \
             ip link set gvtpeer{k}{p} netns {n} && ip -n {n} link set gvtpeer{k}{p} name eth0 && \
             ip link set {h} up && ip -n {n} link set eth0 up && ip -n {n} link set lo up",
            p = pid % 10_000
        ));
        if v4 {
            sh(&format!(
                "ip addr add 10.214.{sub}.1/30 dev {h} && ip -n {n} addr add 10.214.{sub}.2/30 dev eth0"
            ));
        } else {
            sh(&format!(
                // IPv6 on both ends even where the host disables it by
                // default (net.ipv6.conf.default.disable_ipv6 = 1).
                "sysctl -qw net.ipv6.conf.{h}.disable_ipv6=0 && \
                 ip netns exec {n} sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 && \
                 ip addr add fd14:{sub}::1/64 dev {h} nodad && ip -n {n} addr add fd14:{sub}::2/64 dev eth0 nodad"
            ));
        }
        t
    }

    fn empty(tag: &str) -> TestNs {
        let t = TestNs {
            name: format!("gvt-{tag}-{}", std::process::id()),
            host_if: String::new(),
            addr: IpAddr::from([0, 0, 0, 0]),
        };
        sh(&format!("ip netns add {}", t.name));
        t
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if !self.host_if.is_empty() {
            sh_ok(&format!("ip link del {}", self.host_if));
        }
        sh_ok(&format!("ip netns del {}", self.name));
    }
}

/// A running `gvisor` whose stdout lines arrive on a channel; ended on
/// drop (SIGTERM, which the launcher forwards, then SIGKILL).
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            e2.lock().unwrap().push_str(&s);
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "no line from the sandbox; stderr: {}",
                    self.stderr.lock().unwrap()
                )
            })
    }

    /// Waits for the end; returns the exit code.
    fn wait(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the sandbox did not end"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: signals our own child.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a `gvisor do` launcher with pid `pid` could have left behind.
fn assert_nothing_left(pid: u32) {
    let ns = format!("gvisor-do-{pid}");
    assert!(
        !Path::new(&format!("/run/netns/{ns}")).exists(),
        "namespace {ns} left behind"
    );
    let links = sh("ip -o link show");
    assert!(
        !links.contains(&format!("gvd{pid}:")) && !links.contains(&format!("gvd{pid}@")),
        "veth gvd{pid} left behind"
    );
    for t in ["nat", "filter"] {
        let rules = sh(&format!("iptables -w -t {t} -S"));
        assert!(
            !rules.contains(&format!("{ns} ")) && !rules.contains(&format!("{ns}\n")),
            "iptables rule of {ns} left behind:\n{rules}"
        );
    }
}

fn port(k: u16) -> u16 {
    20_000 + (std::process::id() % 20_000) as u16 + k
}

/// Reads everything from a connection (until EOF or 10 s).
/// Connects to `to` (up to `tries` times, 100 ms apart, each attempt
/// waiting at most `each`) and reads what the server sends until it closes;
/// empty when it never answered.
fn fetch(to: std::net::SocketAddr, tries: u32, each: Duration) -> String {
    for _ in 0..tries {
        if let Ok(s) = TcpStream::connect_timeout(&to, each) {
            return read_all(s);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    String::new()
}

fn read_all(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn do_sandbox_reaches_the_host_and_serves_it() {
    if !tools() {
        return;
    }
    let bb = busybox();
    // A server on the host, reached through the host end of the veth.
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let host_port = listener.local_addr().unwrap().port();
    let served = std::thread::spawn(move || {
        let (mut c, peer) = listener.accept().unwrap();
        c.write_all(b"hello from the host\n").unwrap();
        peer.ip()
    });
    // A server on the host's loopback, which the sandbox must not reach
    // (127.0.0.1 there is the sentry's own loopback).
    let lo = TcpListener::bind("127.0.0.1:0").unwrap();
    let lo_port = lo.local_addr().unwrap().port();
    let sb_port = port(1);
    let script = format!(
        "A=$({bb} ip -4 -o addr show eth0 | {bb} awk '{{print $4}}' | {bb} cut -d/ -f1); \
         H=${{A%.*}}.$(( ${{A##*.}} - 1 )); echo $A; \
         {bb} nc -w 5 $H {host_port} </dev/null; \
         if {bb} nc -w 2 127.0.0.1 {lo_port} </dev/null; then echo reached; else echo refused; fi; \
         {bb} nc -l -p {sb_port} -e {bb} echo hello from the sandbox; echo served; sleep 2",
        bb = bb.display()
    );
    let mut cmd = Command::new(gvisor_bin());
    cmd.args(["do", "--network=sandbox", "--"])
        .arg(&bb)
        .args(["sh", "-c", &script]);
    let mut run = Running::start(cmd);
    let launcher = run.child.id();
    let addr: IpAddr = run.line().parse().expect("the sandbox's address");
    assert_eq!(run.line(), "hello from the host");
    assert_eq!(run.line(), "refused", "the host's loopback is out of reach");
    drop(lo);
    let peer = served.join().unwrap();
    // Masqueraded or not, the host saw a connection from the veth's /30
    // or from the host's own address.
    assert!(peer.is_ipv4(), "{peer}");
    // The host side of the namespace keeps no address.
    let ns_addrs = sh(&format!("ip -n gvisor-do-{launcher} -o addr show dev eth0"));
    assert!(!ns_addrs.contains("inet"), "{ns_addrs}");
    // The host reaches the sandbox's server, and a closed port is refused
    // (by the sentry: the host kernel has no address there).
    let got = fetch((addr, sb_port).into(), 50, Duration::from_secs(5));
    assert_eq!(got, "hello from the sandbox\n");
    assert_eq!(run.line(), "served");
    let e =
        TcpStream::connect_timeout(&(addr, port(2)).into(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    assert_eq!(run.wait(), 0);
    assert_nothing_left(launcher);
}

#[test]
fn do_host_sees_the_host_interfaces() {
    if !tools() {
        return;
    }
    let native = sh("ip -4 -o addr show");
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.args([
            "do",
            "--network=host",
            "--",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
        ]);
        c
    });
    assert!(out.status.success(), "{}", describe(&out));
    let sandboxed = String::from_utf8_lossy(&out.stdout);
    // Every Ethernet interface's IPv4 address is there, with its prefix.
    let ether = sh("ip -o link show");
    for l in native.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (name, addr) = (w[1], w[3]);
        let is_ether = ether
            .lines()
            .any(|e| e.contains(&format!(" {name}:")) && e.contains("link/ether"));
        if is_ether {
            assert!(
                sandboxed.contains(&format!("{name} ")) && sandboxed.contains(addr),
                "{name} {addr} missing in the sandbox:\n{sandboxed}"
            );
        }
    }
}

/// A busybox bundle running `script` with the network namespace entry
/// `netns` (a JSON object).
fn netns_bundle(name: &str, netns: &str, script: &str) -> PathBuf {
    let dir = scratch_dir().join(format!("netns-bundle-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    for a in ["sh", "echo", "nc", "ip", "cat", "sleep", "awk"] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    let config = format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
        "process":{{"args":["/bin/sh","-c",{script:?}],"cwd":"/","env":["PATH=/bin"],"user":{{"uid":0,"gid":0}}}},
        "linux":{{"namespaces":[{{"type":"pid"}},{{"type":"mount"}},{netns}]}}}}"#
    );
    std::fs::write(dir.join("config.json"), config).unwrap();
    dir
}

fn run_bundle_cmd(dir: &Path, id: &str, network: &str) -> Command {
    let mut c = Command::new(gvisor_bin());
    c.arg("run")
        .arg(format!("--network={network}"))
        .arg("--bundle")
        .arg(dir)
        .arg(format!("{id}-{}", std::process::id()));
    c
}

#[test]
fn bundle_joins_a_namespace_and_takes_it_over() {
    if !tools() {
        return;
    }
    let ns = TestNs::with_veth("join", 1, true);
    // An interface without an address is just there.
    sh(&format!("ip -n {} link add bare0 type ifb", ns.name));
    // A namespace that forwards (as a routing host's pods inherit).
    sh(&format!(
        "ip netns exec {} sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/forwarding'",
        ns.name
    ));
    // A default route, a second IPv4 address and a global IPv6 one: all
    // go with the takeover and must come back after it.
    let sub = subnet(1);
    sh(&format!(
        "ip -n {n} route add default via 10.214.{sub}.1 dev eth0 && \
         ip -n {n} addr add 10.215.{sub}.9/24 dev eth0 && \
         ip -n {n} addr add fd15:{sub}::2/64 dev eth0 nodad && \
         ip -n {n} route add fd16:{sub}::/64 via fd15:{sub}::1 dev eth0",
        n = ns.name
    ));
    let before = ns_state(&ns.name);
    // Before: the host kernel of the namespace answers for the address
    // (a closed port is refused by it).
    let addr = ns.addr;
    let e =
        TcpStream::connect_timeout(&(addr, port(3)).into(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let p = port(4);
    let dir = netns_bundle(
        "join",
        &format!(
            r#"{{"type":"network","path":{:?}}}"#,
            ns.path().display().to_string()
        ),
        &format!(
            "ip -o link | awk '{{print $2}}'; echo ready; nc -l -p {p} -e echo served; echo done"
        ),
    );
    let mut run = Running::start(run_bundle_cmd(&dir, "join", "sandbox"));
    let mut links = Vec::new();
    loop {
        let l = run.line();
        if l == "ready" {
            break;
        }
        links.push(l);
    }
    assert!(links.contains(&"eth0:".to_string()), "{links:?}");
    assert!(links.contains(&"bare0:".to_string()), "{links:?}");
    // The namespace's host side has no address left: what answers now is
    // the sentry.
    // Its kernel neither forwards nor answers for the taken interface.
    let fwd = sh(&format!(
        "ip netns exec {} cat /proc/sys/net/ipv4/conf/eth0/forwarding /proc/sys/net/ipv6/conf/eth0/disable_ipv6",
        ns.name
    ));
    assert_eq!(fwd, "0\n1\n");
    let left = sh(&format!("ip -n {} -o addr", ns.name));
    assert!(
        !left
            .lines()
            .any(|l| !l.contains(" lo ") && l.contains("inet")),
        "{left}"
    );
    let got = fetch((addr, p).into(), 50, Duration::from_secs(5));
    assert_eq!(got, "served\n");
    assert_eq!(run.line(), "done");
    assert_eq!(run.wait(), 0);
    // The sandbox gave everything back when it ended: addresses, routes
    // (the ones the kernel dropped with the last address too), sysctls.
    assert_eq!(ns_state(&ns.name), before);
}

/// What a takeover changes in namespace `n` and must give back: the
/// addresses, the main table's routes and eth0's sysctls.
fn ns_state(n: &str) -> String {
    sh(&format!(
        "ip -n {n} -o addr | awk '{{print $2, $3, $4}}' | sort; \
         ip -n {n} route show table main; ip -n {n} -6 route show table main | sort; \
         cd /proc/sys/net && ip netns exec {n} cat ipv4/conf/eth0/forwarding \
         ipv4/conf/eth0/arp_ignore ipv6/conf/eth0/disable_ipv6 ipv6/conf/eth0/addr_gen_mode"
    ))
}

#[test]
fn bundle_in_host_mode_enters_the_namespace() {
    if !tools() {
        return;
    }
    let ns = TestNs::with_veth("hostmode", 4, true);
    let dir = netns_bundle(
        "hostmode",
        &format!(
            r#"{{"type":"network","path":{:?}}}"#,
            ns.path().display().to_string()
        ),
        "ip -o -4 addr | awk '{print $2, $4}'",
    );
    let out = run_command(run_bundle_cmd(&dir, "hostmode", "host"));
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("eth0 {}/30", ns.addr)), "{text}");
    // Nothing is taken over in mode host.
    let kept = sh(&format!("ip -n {} -o -4 addr show dev eth0", ns.name));
    assert!(kept.contains(&format!("{}/30", ns.addr)), "{kept}");
}

#[test]
fn ipv6_only_namespace_works() {
    if !tools() {
        return;
    }
    let ns = TestNs::with_veth("v6", 2, false);
    let p = port(5);
    let dir = netns_bundle(
        "v6",
        &format!(
            r#"{{"type":"network","path":{:?}}}"#,
            ns.path().display().to_string()
        ),
        &format!("echo ready; nc -l -p {p} -e echo served-v6"),
    );
    let mut run = Running::start(run_bundle_cmd(&dir, "v6", "sandbox"));
    assert_eq!(run.line(), "ready");
    let addr = ns.addr;
    let got = fetch((addr, p).into(), 50, Duration::from_secs(5));
    assert_eq!(got, "served-v6\n");
    assert_eq!(run.wait(), 0);
}

fn bundle_error(name: &str, netns: &str) -> String {
    let dir = netns_bundle(name, netns, "echo ran");
    let out = run_command(run_bundle_cmd(&dir, name, "sandbox"));
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert_one_line_error(&out)
}

#[test]
fn bad_namespaces_are_one_line_errors() {
    if !tools() {
        return;
    }
    let e = bundle_error(
        "missing",
        r#"{"type":"network","path":"/run/netns/gvt-no-such"}"#,
    );
    assert!(
        e.contains("network namespace /run/netns/gvt-no-such: no such file"),
        "{e}"
    );
    let e = bundle_error("notns", r#"{"type":"network","path":"/etc/hostname"}"#);
    assert!(
        e.contains("network namespace /etc/hostname: not a namespace file"),
        "{e}"
    );
    let e = bundle_error("uts", r#"{"type":"network","path":"/proc/self/ns/uts"}"#);
    assert!(
        e.contains("not a network namespace (a uts namespace)"),
        "{e}"
    );
    let e = bundle_error("hostns", r#"{"type":"network","path":"/proc/self/ns/net"}"#);
    assert!(e.contains("it is the launcher's own"), "{e}");
    let e = bundle_error("relative", r#"{"type":"network","path":"run/netns/x"}"#);
    assert!(e.contains("not absolute"), "{e}");
}

#[test]
fn bad_interfaces_are_one_line_errors() {
    if !tools() {
        return;
    }
    // An MTU the stack cannot take.
    let ns = TestNs::empty("mtu");
    sh(&format!(
        "ip -n {n} link add d0 type ifb && ip -n {n} link set d0 mtu 40",
        n = ns.name
    ));
    let e = bundle_error(
        "mtu",
        &format!(
            r#"{{"type":"network","path":{:?}}}"#,
            ns.path().display().to_string()
        ),
    );
    assert!(
        e.contains("interface d0: MTU 40 is outside 68..=65535"),
        "{e}"
    );
    drop(ns);
    // Too many interfaces.
    let ns = TestNs::empty("many");
    for i in 0..9 {
        sh(&format!("ip -n {} link add d{i} type ifb", ns.name));
    }
    let e = bundle_error(
        "many",
        &format!(
            r#"{{"type":"network","path":{:?}}}"#,
            ns.path().display().to_string()
        ),
    );
    assert!(
        e.contains("9 interfaces besides loopback; at most 8 are supported"),
        "{e}"
    );
}

#[test]
fn network_entry_without_path_is_loopback_only() {
    if !tools() {
        return;
    }
    let dir = netns_bundle(
        "nopath",
        r#"{"type":"network"}"#,
        "ip -o link | awk '{print $2}'",
    );
    let out = run_command(run_bundle_cmd(&dir, "nopath", "sandbox"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lo:\n");
}

#[test]
fn do_sandbox_failing_midway_leaves_nothing() {
    if !tools() {
        return;
    }
    // `ip` is found, `iptables` is not: the namespace and veth are made,
    // then the rules fail; all of it goes.
    let bin = scratch_dir().join("netns-only-ip");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    let ip = sh("command -v ip");
    std::os::unix::fs::symlink(ip.trim(), bin.join("ip")).unwrap();
    let mut c = Command::new(gvisor_bin());
    c.args(["do", "--network=sandbox", "--", "/bin/true"])
        .env("PATH", &bin);
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    let e = assert_one_line_error(&out);
    assert!(e.contains("needs iptables"), "{e}");
    assert_nothing_left(pid);
}

#[test]
fn do_sandbox_killed_launcher_is_swept() {
    if !tools() {
        return;
    }
    let mut c = Command::new(gvisor_bin());
    c.args([
        "do",
        "--network=sandbox",
        "--",
        "sh",
        "-c",
        "echo up; sleep 30",
    ]);
    let mut run = Running::start(c);
    let pid = run.child.id();
    assert_eq!(run.line(), "up");
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    assert!(Path::new(&format!("/run/netns/gvisor-do-{pid}")).exists());
    // The next one sweeps it.
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.args(["do", "--network=sandbox", "--", "/bin/true"]);
        c
    });
    assert!(out.status.success(), "{}", describe(&out));
    assert_nothing_left(pid);
}

#[test]
fn containerd_container_joins_a_namespace() {
    if !tools() {
        return;
    }
    use gvisor_tests::ctrd::{Containerd, RUNTIME};
    let ns = TestNs::with_veth("ctr", 3, true);
    let c = Containerd::start();
    let p = port(6);
    let with_ns = format!("network:{}", ns.path().display());
    let script = format!("echo ready; nc -l -p {p} -e echo served-ctr; echo done");
    let args: Vec<String> = [
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "--with-ns",
        &with_ns,
        "docker.io/library/busybox:latest",
        "netns-ctr",
        "sh",
        "-c",
        &script,
    ]
    .map(String::from)
    .to_vec();
    let c = std::sync::Arc::new(c);
    let c2 = c.clone();
    let ran = std::thread::spawn(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        c2.ctr(&a)
    });
    let addr = ns.addr;
    let got = fetch((addr, p).into(), 300, Duration::from_secs(2));
    let o = ran.join().unwrap();
    assert_eq!(got, "served-ctr\n", "{}\n{}", describe(&o), c.log_tail());
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ready\ndone\n");
    // The container's end gave the address back.
    let back = sh(&format!("ip -n {} -o -4 addr show dev eth0", ns.name));
    assert!(back.contains(&format!("{}/30", ns.addr)), "{back}");
    // A namespace path that is not there: the task is not created, and no
    // sandbox process is left.
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "--with-ns",
        "network:/run/netns/gvt-no-such",
        "docker.io/library/busybox:latest",
        "netns-bad",
        "true",
    ]);
    assert!(!o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("network namespace /run/netns/gvt-no-such: no such file"),
        "{err}"
    );
}

#[test]
fn containerd_network_option_picks_the_mode() {
    if !tools() {
        return;
    }
    use gvisor_tests::ctrd::{Containerd, RUNTIME};
    let ns = TestNs::with_veth("ctropt", 5, true);
    let c = Containerd::start();
    let with_ns = format!("network:{}", ns.path().display());
    let dir = scratch_dir().join("netns-ctr-options");
    std::fs::create_dir_all(&dir).unwrap();
    let host_want = format!("lo 127.0.0.1/8\neth0 {}/30\n", ns.addr);
    for (mode, want) in [("host", host_want.as_str()), ("none", "lo 127.0.0.1/8\n")] {
        let opts = dir.join(format!("{mode}.toml"));
        std::fs::write(&opts, format!("network = \"{mode}\"\n")).unwrap();
        let id = format!("netns-opt-{mode}");
        let o = c.ctr(&[
            "run",
            "--rm",
            "--runtime",
            RUNTIME,
            "--runtime-config-path",
            &opts.display().to_string(),
            "--with-ns",
            &with_ns,
            "docker.io/library/busybox:latest",
            &id,
            "sh",
            "-c",
            "ip -o -4 addr | awk '{print $2, $4}'",
        ]);
        assert!(
            o.status.success(),
            "{mode}: {}\n{}",
            describe(&o),
            c.log_tail()
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{mode}");
        // Neither mode takes the namespace over.
        let kept = sh(&format!("ip -n {} -o -4 addr show dev eth0", ns.name));
        assert!(kept.contains(&format!("{}/30", ns.addr)), "{mode}: {kept}");
    }
    // A bad value is refused, naming it.
    let opts = dir.join("bad.toml");
    std::fs::write(&opts, "network = \"bridge\"\n").unwrap();
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "--runtime-config-path",
        &opts.display().to_string(),
        "docker.io/library/busybox:latest",
        "netns-opt-bad",
        "true",
    ]);
    assert!(!o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("network \"bridge\""),
        "{}",
        describe(&o)
    );
}
