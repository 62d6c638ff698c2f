//! A private containerd for end-to-end tests (tests/containerd/env.sh does
//! the work): its own root, state and socket under /tmp, a config that
//! registers `io.containerd.gvisor.v1` (also for the CRI plugin, as handler
//! `gvisor`), and busybox and pause images built with umoci. The CRI plugin
//! has a CNI network of its own (bridge `gvt<pid>x<n>` on a /24 of
//! 10.213.0.0/16, host-local, portmap, loopback; Debian's plugins in
//! /usr/lib/cni). Stopped, with everything it left (CNI's namespaces,
//! iptables rules and bridge included), when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{gvisor_bin, run_command_timeout, workspace_root};

/// The runtime name.
pub const RUNTIME: &str = "io.containerd.gvisor.v1";

/// A running private containerd.
pub struct Containerd {
    /// Its directory.
    pub dir: PathBuf,
    /// The CNI network's bridge (also the network's name).
    pub bridge: String,
    /// The pods' subnet, as "A.B.C" (the bridge is A.B.C.1/24).
    pub subnet: String,
}

fn need(tool: &str, package: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{tool} is missing: apt-get install {package}");
}

fn env_sh() -> PathBuf {
    workspace_root().join("tests/containerd/env.sh")
}

impl Containerd {
    /// Starts one (the shim and `gvisor` come from the directory of the
    /// binary under test).
    pub fn start() -> Containerd {
        need("containerd", "containerd");
        need("ctr", "containerd");
        need("umoci", "umoci");
        need("runc", "runc");
        need("iptables", "iptables");
        need("/usr/lib/cni/bridge", "containernetworking-plugins");
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() as usize;
        let dir = PathBuf::from(format!("/tmp/gvisor-ctd-{pid}-{n}"));
        // A bridge and a /24 for each containerd of each test process.
        let bridge = format!("gvt{}x{n}", pid % 100_000);
        let subnet = format!("10.213.{}", (pid * 7 + n) % 250 + 2);
        let bindir = gvisor_bin()
            .parent()
            .expect("the gvisor binary has a directory")
            .to_path_buf();
        assert!(
            bindir.join("containerd-shim-gvisor-v1").is_file(),
            "containerd-shim-gvisor-v1 is not next to {}: cargo build -p shim",
            gvisor_bin().display()
        );
        let c = Containerd {
            dir,
            bridge,
            subnet,
        };
        let out = c.script(&[
            "start",
            &c.dir.display().to_string(),
            &bindir.display().to_string(),
        ]);
        assert!(
            out.status.success(),
            "starting containerd failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    fn script(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg(env_sh())
            .args(args)
            .env("GVISOR_CNI_BRIDGE", &self.bridge)
            .env("GVISOR_CNI_SUBNET", &self.subnet);
        run_command_timeout(cmd, Duration::from_secs(120))
    }

    /// The containerd socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// Restarts containerd (same root and state; running shims stay).
    pub fn restart(&self) {
        let pid = std::fs::read_to_string(self.dir.join("containerd.pid"))
            .expect("containerd.pid")
            .trim()
            .to_string();
        let pid: i32 = pid.parse().expect("containerd.pid holds a pid");
        // SAFETY: kill(2) of the containerd this test started.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGTERM) },
            0,
            "stopping containerd"
        );
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let bindir = gvisor_bin().parent().unwrap().to_path_buf();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "PATH={}:$PATH GVISOR_CONFIG={d}/gvisor.toml nohup containerd --config {d}/config.toml >> {d}/containerd.log 2>&1 & echo $! > {d}/containerd.pid",
            bindir.display(),
            d = self.dir.display()
        ));
        let out = run_command_timeout(cmd, Duration::from_secs(30));
        assert!(out.status.success());
        for _ in 0..150 {
            if self.ctr(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("containerd did not come back: {}", self.log_tail());
    }

    /// Runs `ctr` against it (namespace default), killed after 60 s.
    pub fn ctr(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("ctr");
        cmd.arg("-a").arg(self.socket()).args(args);
        run_command_timeout(cmd, Duration::from_secs(60))
    }

    /// The end of containerd's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("ImageCreate") && !l.contains("ImageUpdate"))
            .collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.script(&["stop", &self.dir.display().to_string()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A host process: pid, parent pid, argv[0], command line (spaces for NULs).
pub struct HostProcess {
    /// Its pid.
    pub pid: i32,
    /// Its parent's.
    pub ppid: i32,
    /// argv[0].
    pub argv0: String,
    /// The whole command line.
    pub cmdline: String,
}

/// Every host process but this one.
pub fn processes() -> Vec<HostProcess> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let argv0 =
            String::from_utf8_lossy(cmd.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
        let cmdline = String::from_utf8_lossy(&cmd).replace('\0', " ");
        v.push(HostProcess {
            pid,
            ppid,
            argv0,
            cmdline,
        });
    }
    v
}

/// Host processes whose command line mentions `needle` (other than ours),
/// as "pid: command line".
pub fn processes_matching(needle: &str) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(needle))
        .map(|p| format!("{}: {}", p.pid, p.cmdline))
        .collect()
}

/// A CRI client for tests (k8s-cri over tonic, as the kubelet talks to
/// containerd) and the few steps the pod tests repeat.
pub mod cri {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use hyper_util::rt::TokioIo;
    use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
    use k8s_cri::v1::{
        ContainerConfig, ContainerMetadata, CreateContainerRequest, DnsConfig, ImageSpec,
        LinuxPodSandboxConfig, LinuxSandboxSecurityContext, Mount, NamespaceMode, NamespaceOption,
        PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest, PortMapping,
        RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest,
        StopPodSandboxRequest,
    };
    use tonic::transport::{Channel, Endpoint};

    use super::Containerd;

    /// The busybox image env.sh imports.
    pub const BUSYBOX: &str = "docker.io/library/busybox:latest";

    /// A client of containerd's CRI socket.
    pub async fn connect(sock: &Path) -> RuntimeServiceClient<Channel> {
        let sock = sock.to_path_buf();
        let ch = Endpoint::try_from("http://[::]:50051")
            .expect("endpoint")
            .connect_with_connector(tower::service_fn(move |_| {
                let p = sock.clone();
                async move { tokio::net::UnixStream::connect(p).await.map(TokioIo::new) }
            }))
            .await
            .expect("connecting to containerd's CRI socket");
        RuntimeServiceClient::new(ch)
    }

    /// A pod of the private containerd, in a network namespace of its own
    /// (NamespaceMode::Pod: CNI gives it eth0).
    pub struct Pod {
        /// The sandbox id.
        pub id: String,
        /// Its config (CreateContainer wants it again).
        pub config: PodSandboxConfig,
        /// Its CRI log directory.
        pub logs: PathBuf,
        /// The runtime handler (runc or gvisor).
        pub handler: String,
    }

    /// What a pod gets besides defaults.
    #[derive(Default, Clone)]
    pub struct PodSpec {
        /// hostPort mappings: (protocol 0 tcp / 1 udp, container port, host port).
        pub ports: Vec<(i32, i32, i32)>,
        /// dns_config.
        pub dns: Option<DnsConfig>,
    }

    impl Pod {
        /// RunPodSandbox with `handler`.
        pub async fn run(
            cri: &mut RuntimeServiceClient<Channel>,
            c: &Containerd,
            name: &str,
            handler: &str,
            spec: PodSpec,
        ) -> Pod {
            let logs = c.dir.join(format!("logs-{name}"));
            std::fs::create_dir_all(&logs).expect("log directory");
            let config = PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: name.into(),
                    uid: format!("uid-{name}"),
                    namespace: "default".into(),
                    attempt: 0,
                }),
                hostname: name.into(),
                log_directory: logs.display().to_string(),
                labels: HashMap::new(),
                dns_config: spec.dns,
                port_mappings: spec
                    .ports
                    .iter()
                    .map(|&(protocol, container_port, host_port)| PortMapping {
                        protocol,
                        container_port,
                        host_port,
                        host_ip: String::new(),
                    })
                    .collect(),
                linux: Some(LinuxPodSandboxConfig {
                    cgroup_parent: "/gvisor-e2e".into(),
                    security_context: Some(LinuxSandboxSecurityContext {
                        namespace_options: Some(NamespaceOption {
                            network: NamespaceMode::Pod as i32,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let id = cri
                .run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(config.clone()),
                    runtime_handler: handler.into(),
                })
                .await
                .unwrap_or_else(|e| {
                    panic!("RunPodSandbox {name} ({handler}): {e}\n{}", c.log_tail())
                })
                .into_inner()
                .pod_sandbox_id;
            Pod {
                id,
                config,
                logs,
                handler: handler.into(),
            }
        }

        /// The pod's IP as PodSandboxStatus reports it.
        pub async fn ip(&self, cri: &mut RuntimeServiceClient<Channel>) -> String {
            cri.pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: self.id.clone(),
                verbose: false,
            })
            .await
            .expect("PodSandboxStatus")
            .into_inner()
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .unwrap_or_default()
        }

        /// Creates and starts a container of `image` running `argv`, with
        /// (host, container, read-only) binds; returns its id.
        pub async fn start(
            &self,
            cri: &mut RuntimeServiceClient<Channel>,
            c: &Containerd,
            name: &str,
            image: &str,
            argv: &[&str],
            binds: &[(&Path, &str, bool)],
        ) -> String {
            let config = ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: name.into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                command: argv.iter().map(|s| s.to_string()).collect(),
                mounts: binds
                    .iter()
                    .map(|(host, ctr, ro)| Mount {
                        container_path: ctr.to_string(),
                        host_path: host.display().to_string(),
                        readonly: *ro,
                        ..Default::default()
                    })
                    .collect(),
                log_path: format!("{name}.log"),
                ..Default::default()
            };
            let id = cri
                .create_container(CreateContainerRequest {
                    pod_sandbox_id: self.id.clone(),
                    config: Some(config),
                    sandbox_config: Some(self.config.clone()),
                })
                .await
                .unwrap_or_else(|e| panic!("CreateContainer {name}: {e}\n{}", c.log_tail()))
                .into_inner()
                .container_id;
            cri.start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("StartContainer {name}: {e}\n{}", c.log_tail()));
            id
        }

        /// A busybox container running `sh -c script`.
        pub async fn sh(
            &self,
            cri: &mut RuntimeServiceClient<Channel>,
            c: &Containerd,
            name: &str,
            script: &str,
        ) -> String {
            self.start(cri, c, name, BUSYBOX, &["sh", "-c", script], &[])
                .await
        }

        /// The CRI log of container `name`.
        pub fn log(&self, name: &str) -> String {
            std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
        }

        /// Waits until the log of `name` has a line with `needle`; panics
        /// with the log after `timeout`.
        pub async fn wait_log(&self, name: &str, needle: &str, timeout: Duration) -> String {
            let end = Instant::now() + timeout;
            loop {
                let log = self.log(name);
                if log.contains(needle) {
                    return log;
                }
                assert!(
                    Instant::now() < end,
                    "{} pod {}: no {needle:?} in the log of {name} after {timeout:?}:\n{log}",
                    self.handler,
                    self.config
                        .metadata
                        .as_ref()
                        .map(|m| m.name.as_str())
                        .unwrap_or(""),
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }

        /// StopPodSandbox and RemovePodSandbox.
        pub async fn remove(self, cri: &mut RuntimeServiceClient<Channel>, c: &Containerd) {
            cri.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("StopPodSandbox: {e}\n{}", c.log_tail()));
            cri.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}\n{}", c.log_tail()));
        }
    }

    /// An HTTP/1.0 GET of `path` from `addr` ("ip:port"), retried until it
    /// answers or `timeout` passes: the whole response, or the last error.
    pub fn http_get(addr: &str, path: &str, timeout: Duration) -> Result<String, String> {
        use std::io::{Read, Write};
        let end = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < end {
            let r = (|| -> std::io::Result<String> {
                let sa: std::net::SocketAddr = addr
                    .parse()
                    .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
                let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n")?;
                let mut out = String::new();
                s.read_to_string(&mut out)?;
                Ok(out)
            })();
            match r {
                Ok(out) if !out.is_empty() => return Ok(out),
                Ok(_) => last = "an empty response".into(),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("GET http://{addr}{path}: {last}"))
    }
}
