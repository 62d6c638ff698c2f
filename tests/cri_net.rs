//! Pod networking through containerd's CRI plugin with real CNI (the
//! private containerd's conflist: bridge + host-local + portmap +
//! loopback): each check runs with runc first (which validates the
//! environment) and then with gvisor-rs (network mode `sandbox`, the
//! default: the sentry's stack on the pod's eth0).
//!
//! Requires what tests/cri.rs does, plus iptables and
//! containernetworking-plugins.

use std::net::UdpSocket;
use std::thread::JoinHandle;
use std::time::Duration;

use gvisor_tests::ctrd::cri::{connect, http_get, Pod, PodSpec};
use gvisor_tests::ctrd::Containerd;
use k8s_cri::v1::DnsConfig;

const T: Duration = Duration::from_secs(30);

/// A container script serving `text` at http://ADDR/index.html with
/// busybox httpd (ADDR: "80" or "127.0.0.1:8081").
fn httpd(addr: &str, text: &str) -> String {
    format!(
        "mkdir -p /www && echo {text} > /www/index.html && echo serving && exec busybox httpd -f -p {addr} -h /www"
    )
}

/// A TCP port nothing on the host listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn pod_ip_reachable_from_host(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let pod = Pod::run(&mut cri, &c, "web", handler, PodSpec::default()).await;
    let ip = pod.ip(&mut cri).await;
    assert!(
        ip.starts_with(&format!("{}.", c.subnet)),
        "{handler}: pod IP {ip:?} is not in {}.0/24",
        c.subnet
    );
    pod.sh(&mut cri, &c, "srv", &httpd("80", "pod-page")).await;
    pod.wait_log("srv", " stdout F serving", T).await;
    let r = http_get(&format!("{ip}:80"), "/index.html", T)
        .unwrap_or_else(|e| panic!("{handler}: {e}\n{}", pod.log("srv")));
    assert!(r.starts_with("HTTP/1.") && r.ends_with("pod-page\n"), "{r}");
    pod.remove(&mut cri, &c).await;
}

/// CNI's DEL at StopPodSandbox finds what its ADD made: no nat rule names
/// the pod afterwards (the bridge plugin's ipMasq teardown looks for the
/// addresses on the pod's eth0: a sandbox that took them over must give them
/// back before the pod's network is torn down).
async fn pod_removal_leaves_no_nat_rules(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let pod = Pod::run(&mut cri, &c, "gone", handler, PodSpec::default()).await;
    pod.sh(&mut cri, &c, "srv", "echo up; sleep 1000").await;
    pod.wait_log("srv", " stdout F up", T).await;
    let id = pod.id.clone();
    pod.remove(&mut cri, &c).await;
    let rules = std::process::Command::new("iptables")
        .args(["-t", "nat", "-S"])
        .output()
        .expect("iptables -S");
    let rules = String::from_utf8_lossy(&rules.stdout);
    let left: Vec<&str> = rules.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        left.is_empty(),
        "{handler}: nat rules left after RemovePodSandbox: {left:?}"
    );
}

async fn host_port_maps_to_the_pod(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let port = free_port();
    let spec = PodSpec {
        ports: vec![(0, 80, i32::from(port))],
        ..Default::default()
    };
    let pod = Pod::run(&mut cri, &c, "mapped", handler, spec).await;
    pod.sh(&mut cri, &c, "srv", &httpd("80", "mapped-page"))
        .await;
    pod.wait_log("srv", " stdout F serving", T).await;
    // The host's address on the pods' bridge and its loopback (portmap's
    // DNAT in OUTPUT for local destinations, and its SNAT for 127.0.0.1).
    for host in [format!("{}.1", c.subnet), "127.0.0.1".to_string()] {
        let r = http_get(&format!("{host}:{port}"), "/index.html", T)
            .unwrap_or_else(|e| panic!("{handler}: hostPort {port} on {host}: {e}"));
        assert!(r.ends_with("mapped-page\n"), "{host}: {r}");
    }
    pod.remove(&mut cri, &c).await;
}

async fn containers_of_a_pod_talk_over_localhost(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let pod = Pod::run(&mut cri, &c, "local", handler, PodSpec::default()).await;
    pod.sh(&mut cri, &c, "srv", &httpd("127.0.0.1:8081", "local-page"))
        .await;
    pod.sh(
        &mut cri,
        &c,
        "client",
        "i=0; until busybox wget -q -O - http://127.0.0.1:8081/index.html; do \
         i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.2; done; sleep 1000",
    )
    .await;
    pod.wait_log("client", " stdout F local-page", T).await;
    pod.remove(&mut cri, &c).await;
}

async fn pod_to_pod(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let b = Pod::run(&mut cri, &c, "pod-b", handler, PodSpec::default()).await;
    b.sh(&mut cri, &c, "srv", &httpd("80", "pod-b-page")).await;
    let b_ip = b.ip(&mut cri).await;
    let a = Pod::run(&mut cri, &c, "pod-a", handler, PodSpec::default()).await;
    a.sh(
        &mut cri,
        &c,
        "client",
        &format!(
            "i=0; until busybox wget -q -O - http://{b_ip}/index.html; do \
             i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.2; done; sleep 1000"
        ),
    )
    .await;
    a.wait_log("client", " stdout F pod-b-page", T).await;
    a.remove(&mut cri, &c).await;
    b.remove(&mut cri, &c).await;
}

/// A DNS responder on `addr` that answers A queries of `name` with
/// `answer` (other names: NXDOMAIN; other types: no records), until `n`
/// queries were answered or 60 s passed.
fn dns_responder(sock: UdpSocket, name: &'static str, answer: [u8; 4]) -> JoinHandle<Vec<String>> {
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // The question: labels from offset 12, then type and class.
            let mut i = 12;
            let mut labels = Vec::new();
            while i < n && q[i] != 0 {
                let l = q[i] as usize;
                if i + 1 + l > n {
                    break;
                }
                labels.push(String::from_utf8_lossy(&q[i + 1..i + 1 + l]).into_owned());
                i += 1 + l;
            }
            let qend = i + 5;
            if qend > n {
                continue;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let qname = labels.join(".");
            seen.push(format!("{qname} type {qtype}"));
            let mut r = q[..qend].to_vec();
            r[2] = 0x81; // response, recursion desired
            r[3] = if qname == name { 0x80 } else { 0x83 }; // RA; NXDOMAIN
            r[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 0]);
            if qname == name && qtype == 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                r.extend_from_slice(&answer);
            }
            let _ = sock.send_to(&r, from);
        }
        seen
    })
}

async fn dns_config_reaches_the_resolver(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let gw = format!("{}.1", c.subnet);
    let spec = PodSpec {
        dns: Some(DnsConfig {
            servers: vec![gw.clone()],
            searches: vec!["example.test".into()],
            options: vec!["ndots:2".into()],
        }),
        ..Default::default()
    };
    let pod = Pod::run(&mut cri, &c, "dns", handler, spec).await;
    // The bridge has its address now: the responder listens on it.
    let sock = UdpSocket::bind(format!("{gw}:53")).expect("binding the DNS responder");
    let seen = dns_responder(sock, "web.example.test", [10, 99, 98, 97]);
    pod.sh(
        &mut cri,
        &c,
        "resolver",
        "cat /etc/resolv.conf; busybox nslookup web.example.test; echo nslookup-done; sleep 1000",
    )
    .await;
    let log = pod.wait_log("resolver", " stdout F nslookup-done", T).await;
    assert!(log.contains(&format!(" stdout F nameserver {gw}")), "{log}");
    assert!(log.contains(" stdout F search example.test"), "{log}");
    assert!(log.contains(" stdout F options ndots:2"), "{log}");
    assert!(log.contains("Address: 10.99.98.97"), "{handler}: {log}");
    pod.remove(&mut cri, &c).await;
    // Unblocks the responder's thread (a query of its own).
    let gwsock = UdpSocket::bind("0.0.0.0:0").unwrap();
    let _ = gwsock.send_to(&[0u8; 4], format!("{gw}:53"));
    drop(seen);
}

async fn udp_with_a_server_on_the_host(handler: &str) {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let gw = format!("{}.1", c.subnet);
    let pod = Pod::run(&mut cri, &c, "udp", handler, PodSpec::default()).await;
    let sock = UdpSocket::bind(format!("{gw}:0")).expect("binding the UDP server");
    let port = sock.local_addr().unwrap().port();
    sock.set_read_timeout(Some(Duration::from_secs(40)))
        .unwrap();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            let _ = sock.send_to(format!("echo:{text}\n").as_bytes(), from);
            got.push((text, from));
        }
        got
    });
    // busybox nc has no UDP: a small static client, bound into the container.
    let client = udp_client(&c);
    pod.start(
        &mut cri,
        &c,
        "client",
        gvisor_tests::ctrd::cri::BUSYBOX,
        &[
            "sh",
            "-c",
            &format!("/udp/udp-client {gw} {port} hello-udp; sleep 1000"),
        ],
        &[(&client, "/udp", true)],
    )
    .await;
    pod.wait_log("client", " stdout F echo:hello-udp", T).await;
    let pod_ip = pod.ip(&mut cri).await;
    let got = server.join().unwrap();
    assert!(
        got.iter()
            .any(|(t, from)| t == "hello-udp" && from.ip().to_string() == pod_ip),
        "{handler}: the host server got {got:?}, pod IP {pod_ip}"
    );
    pod.remove(&mut cri, &c).await;
}

/// A static UDP client: `udp-client IP PORT TEXT` sends TEXT and prints the
/// answer (resending every second, 10 tries). Built into a directory of
/// `c`'s; returns that directory.
fn udp_client(c: &Containerd) -> std::path::PathBuf {
    const SRC: &str = r#"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) { perror("socket"); return 1; }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    struct timeval tv = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    for (int i = 0; i < 10; i++) {
        if (sendto(s, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("sendto");
            sleep(1);
            continue;
        }
        ssize_t n = recv(s, buf, sizeof buf - 1, 0);
        if (n >= 0) {
            buf[n] = 0;
            printf("%s", buf);
            fflush(stdout);
            return 0;
        }
        perror("recv");
    }
    return 1;
}
"#;
    let dir = c.dir.join("udp");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("udp-client.c");
    std::fs::write(&src, SRC).unwrap();
    let out = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("udp-client"))
        .arg(&src)
        .output()
        .expect("running gcc");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

macro_rules! both {
    ($($f:ident),* $(,)?) => {
        mod runc {
            $(
                #[tokio::test(flavor = "current_thread")]
                async fn $f() {
                    super::$f("runc").await
                }
            )*
        }
        mod gvisor {
            $(
                #[tokio::test(flavor = "current_thread")]
                async fn $f() {
                    super::$f("gvisor").await
                }
            )*
        }
    };
}

both!(
    pod_ip_reachable_from_host,
    host_port_maps_to_the_pod,
    containers_of_a_pod_talk_over_localhost,
    pod_to_pod,
    dns_config_reaches_the_resolver,
    udp_with_a_server_on_the_host,
);

#[tokio::test(flavor = "current_thread")]
async fn runc_pod_removal_leaves_no_nat_rules() {
    pod_removal_leaves_no_nat_rules("runc").await
}

/// The sandbox gives the pod's addresses back when its sandbox container
/// ends, before containerd has CNI tear the network down: the bridge
/// plugin finds them and removes its masquerade rule.
#[tokio::test(flavor = "current_thread")]
async fn gvisor_pod_removal_leaves_no_nat_rules() {
    pod_removal_leaves_no_nat_rules("gvisor").await
}
