//! A private containerd for end-to-end tests (tests/containerd/env.sh does
//! the work): its own root, state and socket under /tmp, a config that
//! registers `io.containerd.gvisor.v1` (also for the CRI plugin, as handler
//! `gvisor`), and busybox and pause images built with umoci. Stopped, with
//! everything it left, when dropped.

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
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(format!(
            "/tmp/gvisor-ctd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let bindir = gvisor_bin()
            .parent()
            .expect("the gvisor binary has a directory")
            .to_path_buf();
        assert!(
            bindir.join("containerd-shim-gvisor-v1").is_file(),
            "containerd-shim-gvisor-v1 is not next to {}: cargo build -p shim",
            gvisor_bin().display()
        );
        let c = Containerd { dir };
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
        cmd.arg(env_sh()).args(args);
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
