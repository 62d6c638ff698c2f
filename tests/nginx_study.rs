//! The study's experiment: Debian's nginx in an OCI image built locally
//! (tests/images/nginx.sh), run through containerd with `ctr` and through
//! CRI, serving a host directory bound read-only at its document root
//! through a mapped port. curl on the host gets the host file; changing the
//! file changes the response; nginx's access log (its stderr: ctr's log
//! file, the CRI log file) shows the requests. runc first (the
//! environment), then gvisor-rs (network mode `sandbox`).
//!
//! For ctr, the test makes the network namespace itself (a veth pair to the
//! host and a DNAT rule for the mapped port on the host's end): `ctr run
//! --cni` reads only /etc/cni/net.d, which the tests leave alone. For CRI,
//! the private containerd's CNI network (portmap) maps a hostPort.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gvisor_tests::ctrd::cri::{connect, Pod, PodSpec};
use gvisor_tests::ctrd::{Containerd, RUNTIME};
use gvisor_tests::e2e::curl;
use gvisor_tests::{run_command_timeout, workspace_root};

const IMAGE: &str = "docker.io/library/nginx:latest";
const T: Duration = Duration::from_secs(30);

fn sh(script: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    run_command_timeout(cmd, Duration::from_secs(30))
}

fn must(script: &str) {
    let out = sh(script);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Builds the nginx image into `c`'s directory and imports it in the
/// namespaces ctr (default) and CRI (k8s.io) use.
fn import_nginx(c: &Containerd) {
    let tar = c.dir.join("images/nginx.tar");
    let mut cmd = Command::new("sh");
    cmd.arg(workspace_root().join("tests/images/nginx.sh"))
        .arg(&tar);
    let out = run_command_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "tests/images/nginx.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tar = tar.display().to_string();
    for ns in ["default", "k8s.io"] {
        let out = c.ctr(&[
            "-n",
            ns,
            "images",
            "import",
            "--base-name",
            "docker.io/library/nginx",
            &tar,
        ]);
        assert!(
            out.status.success(),
            "importing the nginx image: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A host directory with index.html.
fn html_dir(c: &Containerd, name: &str, text: &str) -> PathBuf {
    let d = c.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("index.html"), text).unwrap();
    d
}

fn wait_file(path: &Path, needle: &str, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.contains(needle) || Instant::now() >= end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network namespace with a veth pair to the host (host end A.B.C.1/24,
/// namespace end A.B.C.2/24 with the default route through the host) and a
/// DNAT rule on the host mapping A.B.C.1:`port` to A.B.C.2:80: what a
/// port mapping does. Removed when dropped.
struct MappedNetns {
    name: String,
    host_if: String,
    host_ip: String,
    ns_ip: String,
    port: u16,
}

impl MappedNetns {
    fn new(tag: &str, port: u16) -> MappedNetns {
        static N: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let third = (pid * 3 + N.fetch_add(1, Ordering::SeqCst)) % 250 + 2;
        let m = MappedNetns {
            name: format!("gvnginx-{pid}-{tag}"),
            host_if: format!("gvn{}{tag}", pid % 100_000),
            host_ip: format!("10.214.{third}.1"),
            ns_ip: format!("10.214.{third}.2"),
            port,
        };
        let (n, h) = (&m.name, &m.host_if);
        must(&format!(
            "ip netns add {n} && ip link add {h} type veth peer name {h}c && \
             ip link set {h}c netns {n} && ip -n {n} link set {h}c name eth0 && \
             ip addr add {hip}/24 dev {h} && ip link set {h} up && \
             ip -n {n} addr add {nip}/24 dev eth0 && ip -n {n} link set eth0 up && \
             ip -n {n} link set lo up && ip -n {n} route add default via {hip}",
            hip = m.host_ip,
            nip = m.ns_ip
        ));
        must(&format!("iptables -t nat -A OUTPUT {}", m.rule()));
        m
    }

    fn rule(&self) -> String {
        format!(
            "-d {}/32 -p tcp --dport {} -m comment --comment {} -j DNAT --to-destination {}:80",
            self.host_ip, self.port, self.name, self.ns_ip
        )
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }
}

impl Drop for MappedNetns {
    fn drop(&mut self) {
        let _ = sh(&format!("iptables -t nat -D OUTPUT {}", self.rule()));
        let _ = sh(&format!("ip netns del {}", self.name));
        let _ = sh(&format!("ip link del {} 2>/dev/null", self.host_if));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Checks the experiment against a server at `url` whose host file is
/// `file` and whose access log is `log` (a file, read as it grows).
fn experiment(what: &str, url: &str, file: &Path, log: &dyn Fn() -> String) {
    let body = curl(url, T).unwrap_or_else(|e| panic!("{what}: {e}\nlog:\n{}", log()));
    assert_eq!(body, "first version\n", "{what}: the host file");
    std::fs::write(file, "second version\n").unwrap();
    let body = curl(url, T).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(body, "second version\n", "{what}: the changed host file");
    let end = Instant::now() + Duration::from_secs(10);
    let mut l = log();
    while l.matches("\"GET /index.html HTTP/1.1\" 200").count() < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        l = log();
    }
    assert!(
        l.matches("\"GET /index.html HTTP/1.1\" 200").count() >= 2,
        "{what}: nginx's access log does not show both requests:\n{l}"
    );
}

fn with_ctr(runtime: &str, tag: &str) {
    let c = Containerd::start();
    import_nginx(&c);
    let html = html_dir(&c, "html", "first version\n");
    let port = free_port();
    let net = MappedNetns::new(tag, port);
    let log = c.dir.join("nginx-ctr.log");
    let id = format!("nginx-{tag}");
    let out = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        runtime,
        "--with-ns",
        &format!("network:{}", net.path()),
        "--log-uri",
        &format!("file://{}", log.display()),
        "--mount",
        &format!(
            "type=bind,src={},dst=/usr/share/nginx/html,options=rbind:ro",
            html.display()
        ),
        IMAGE,
        &id,
    ]);
    assert!(
        out.status.success(),
        "ctr run ({runtime}): {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        c.log_tail()
    );
    let url = format!("http://{}:{port}/index.html", net.host_ip);
    experiment(
        &format!("ctr {runtime}"),
        &url,
        &html.join("index.html"),
        &|| wait_file(&log, "", Duration::ZERO),
    );
    let _ = c.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    let end = Instant::now() + T;
    while !c.ctr(&["tasks", "delete", &id]).status.success() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = c.ctr(&["containers", "delete", &id]);
    drop(net);
}

async fn with_cri(handler: &str) {
    let c = Containerd::start();
    import_nginx(&c);
    let html = html_dir(&c, "html", "first version\n");
    let port = free_port();
    let mut cri = connect(&c.socket()).await;
    let spec = PodSpec {
        ports: vec![(0, 80, i32::from(port))],
        ..Default::default()
    };
    let pod = Pod::run(&mut cri, &c, "nginx", handler, spec).await;
    pod.start(
        &mut cri,
        &c,
        "nginx",
        IMAGE,
        &[],
        &[(&html, "/usr/share/nginx/html", true)],
    )
    .await;
    let url = format!("http://127.0.0.1:{port}/index.html");
    experiment(
        &format!("CRI {handler}"),
        &url,
        &html.join("index.html"),
        &|| pod.log("nginx"),
    );
    // What a user sees (cargo test ... -- --nocapture): the CRI log file.
    println!(
        "CRI {handler}: pod IP {}, {url}; the container's CRI log:\n{}",
        pod.ip(&mut cri).await,
        pod.log("nginx")
    );
    // The access log lines came through nginx's stderr.
    assert!(
        pod.log("nginx").contains(" stderr F "),
        "{}",
        pod.log("nginx")
    );
    pod.remove(&mut cri, &c).await;
}

mod runc {
    #[test]
    fn ctr_nginx_serves_a_host_directory() {
        super::with_ctr("io.containerd.runc.v2", "r");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cri_nginx_serves_a_host_directory() {
        super::with_cri("runc").await;
    }
}

mod gvisor {
    #[test]
    fn ctr_nginx_serves_a_host_directory() {
        super::with_ctr(super::RUNTIME, "g");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cri_nginx_serves_a_host_directory() {
        super::with_cri("gvisor").await;
    }
}
