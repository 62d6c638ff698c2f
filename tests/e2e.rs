//! Helpers of the podman and Docker end-to-end tests (tests/podman.rs,
//! tests/docker.rs): which OCI runtime they drive, the images they build
//! without a registry, host-side checks (curl, free ports) and the clean-up
//! of what the tools leave on the host (processes, mounts, bridges,
//! iptables rules).
//!
//! The runtime comes from `GVISOR_E2E_RUNTIME`: `gvisor` (the default: the
//! `gvisor` binary under test, [`crate::gvisor_bin`], used through its
//! runc-compatible command line) or `runc` (Debian's /usr/sbin/runc, which
//! proves the tests themselves right).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{busybox, gvisor_bin, run_command_timeout, workspace_root};

/// How long one podman or docker command may take.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// The OCI runtime under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// Debian's runc.
    Runc,
    /// The `gvisor` binary (its runc-compatible CLI).
    Gvisor(PathBuf),
}

impl Runtime {
    /// From `GVISOR_E2E_RUNTIME` (`runc` or `gvisor`, default `gvisor`).
    ///
    /// For gvisor, panics with a clear message when the binary has no
    /// runc-compatible CLI (`gvisor features` fails): the tests must not pass
    /// without exercising it.
    pub fn from_env() -> Runtime {
        let v = std::env::var("GVISOR_E2E_RUNTIME").unwrap_or_default();
        match v.as_str() {
            "runc" => {
                need("/usr/sbin/runc", "runc");
                Runtime::Runc
            }
            "" | "gvisor" => {
                let bin = gvisor_bin();
                let mut cmd = Command::new(&bin);
                cmd.arg("features");
                let out = run_command_timeout(cmd, Duration::from_secs(30));
                let json = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && json.trim_start().starts_with('{'),
                    "GVISOR_E2E_RUNTIME=gvisor: `{} features` failed ({}): the runc-compatible \
                     CLI that podman and Docker need is missing from this binary. \
                     (GVISOR_E2E_RUNTIME=runc runs the same tests with runc.) Output: {} {}",
                    bin.display(),
                    out.status,
                    json.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                Runtime::Gvisor(bin)
            }
            other => panic!("GVISOR_E2E_RUNTIME={other:?}: expected \"runc\" or \"gvisor\""),
        }
    }

    /// The runtime binary's path.
    pub fn path(&self) -> PathBuf {
        match self {
            Runtime::Runc => PathBuf::from("/usr/sbin/runc"),
            Runtime::Gvisor(p) => p.clone(),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Gvisor(_) => "gvisor",
        }
    }
}

/// Asserts `tool` (a command name or a path) exists; else panics naming the
/// Debian package that has it.
pub fn need(tool: &str, package: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{tool} is missing: apt-get install --no-install-recommends {package} (deploy/install-deps.sh test)"
    );
}

/// `sh -c script` with a 60 s timeout.
pub fn sh(script: &str) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    run_command_timeout(cmd, Duration::from_secs(60))
}

/// `sh -c script`, panicking with its stderr if it fails.
pub fn must(script: &str) {
    let out = sh(script);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Runs `cmd` for clean-up code (Drop): never panics. stdin and stderr
/// are /dev/null; on timeout its process group is killed and `None` is
/// returned; else its stdout (lossy UTF-8), whatever its exit status.
pub fn quiet(mut cmd: Command, timeout: Duration) -> Option<String> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "gvisor-e2e-quiet-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let out = std::fs::File::create(&file).ok()?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().ok()?;
    let end = Instant::now() + timeout;
    let done = loop {
        match child.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => break false,
        }
    };
    if !done {
        // SAFETY: killpg of the process group made for this child above.
        unsafe {
            libc::killpg(child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = child.wait();
    }
    let text = std::fs::read(&file).ok();
    let _ = std::fs::remove_file(&file);
    if done {
        text.map(|t| String::from_utf8_lossy(&t).into_owned())
    } else {
        None
    }
}

/// `sh -c script` for clean-up code: never panics (see [`quiet`]).
pub fn sh_quiet(script: &str) -> Option<String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    quiet(cmd, Duration::from_secs(60))
}

/// A TCP port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `curl -sS URL`, retried until it succeeds or `timeout` passes.
pub fn curl(url: &str, timeout: Duration) -> Result<String, String> {
    let end = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < end {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "5", url]);
        let out = run_command_timeout(cmd, Duration::from_secs(10));
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("curl {url}: {last}"))
}

/// Calls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The applets the busybox image links to /bin/busybox.
const APPLETS: &[&str] = &[
    "sh", "httpd", "sleep", "cat", "echo", "id", "pwd", "ls", "tty", "env", "touch", "wc", "ps",
    "true", "false", "date", "stat", "kill", "mkdir", "rm",
];

/// Makes a busybox root file system at `dir` (static /bin/busybox and its
/// applets, /tmp, /www, /etc/passwd and /etc/group with root and user 1000).
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "tmp", "www", "etc", "proc", "sys", "dev", "data"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    must(&format!("chmod 1777 {}", dir.join("tmp").display()));
    std::fs::copy(busybox(), dir.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(a));
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
}

/// Builds the busybox image as an OCI layout at `layout` (tag `latest`)
/// with umoci (`oci:LAYOUT:latest` for podman).
pub fn busybox_layout(layout: &Path, work: &Path) {
    need("umoci", "umoci");
    let bundle = work.join("bb-bundle");
    let l = layout.display();
    must(&format!(
        "umoci init --layout {l} && umoci new --image {l}:latest && \
         umoci unpack --image {l}:latest {b}",
        b = bundle.display()
    ));
    busybox_rootfs(&bundle.join("rootfs"));
    must(&format!(
        "umoci repack --image {l}:latest {b} && \
         umoci config --image {l}:latest --config.env PATH=/bin --config.cmd /bin/sh",
        b = bundle.display()
    ));
    let _ = std::fs::remove_dir_all(&bundle);
}

/// Builds the study's nginx image (tests/images/nginx.sh) as an OCI archive
/// at `tar` (`oci-archive:TAR` for podman).
pub fn nginx_archive(tar: &Path) {
    need("nginx", "nginx-light");
    let mut cmd = Command::new("sh");
    cmd.arg(workspace_root().join("tests/images/nginx.sh"))
        .arg(tar);
    let out = run_command_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "tests/images/nginx.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Flattens the OCI archive `tar` into a root file system tarball at `out`
/// (what `docker import` takes).
pub fn rootfs_tarball(oci_tar: &Path, out: &Path, work: &Path) {
    let layout = work.join("flatten-layout");
    let bundle = work.join("flatten-bundle");
    let _ = std::fs::remove_dir_all(&layout);
    let _ = std::fs::remove_dir_all(&bundle);
    std::fs::create_dir_all(&layout).unwrap();
    must(&format!(
        "tar -C {l} -xf {t} && umoci unpack --image {l}:latest {b} && tar -C {b}/rootfs -cf {o} .",
        l = layout.display(),
        t = oci_tar.display(),
        b = bundle.display(),
        o = out.display()
    ));
    let _ = std::fs::remove_dir_all(&layout);
    let _ = std::fs::remove_dir_all(&bundle);
}

/// Runs `argv` with `input` on its stdin (a pipe, as `echo ... | podman
/// run -i` gives it).
pub fn run_with_stdin(argv: &[String], input: &str) -> Output {
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("printf '%s' \"$1\" | {}", quoted.join(" ")))
        .arg("sh")
        .arg(input);
    run_command_timeout(cmd, CMD_TIMEOUT)
}

/// Runs `argv` on a new pseudo-terminal (tests/scripts/e2e_pty.py), typing
/// each `(expect, send)` pair's text once `expect` appeared.
pub fn run_on_pty(argv: &[String], dialog: &[(&str, &str)]) -> Output {
    need("python3", "python3");
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_root().join("tests/scripts/e2e_pty.py"));
    for (e, s) in dialog {
        cmd.args(["--expect", e, "--send", s]);
    }
    cmd.arg("--").args(argv);
    run_command_timeout(cmd, CMD_TIMEOUT)
}

/// Host pids whose command line contains `needle`.
pub fn pids_matching(needle: &str) -> Vec<i32> {
    crate::ctrd::processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(needle))
        .map(|p| p.pid)
        .collect()
}

/// SIGKILLs every host process whose command line contains `needle`.
pub fn kill_matching(needle: &str) {
    for pid in pids_matching(needle) {
        // SAFETY: kill(2) on a pid read from /proc; no memory is involved.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Lazily unmounts everything mounted under `dir` (deepest first).
pub fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    points.sort_by(|a, b| b.cmp(a));
    for m in points {
        let _ = sh_quiet(&format!("umount -l '{m}'"));
    }
}

/// Deletes every iptables rule (filter and nat tables) that mentions
/// `needle`, and the chains named `CNI-…` that only those rules filled and
/// nothing jumps to any more.
pub fn iptables_sweep(needle: &str) {
    for table in ["filter", "nat"] {
        let text = sh_quiet(&format!("iptables-save -t {table}")).unwrap_or_default();
        let mut chains = Vec::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("-A ") && l.contains(needle))
        {
            let _ = sh_quiet(&format!("iptables -t {table} -D {}", &line[3..]));
            if let Some(c) = line.split_whitespace().nth(1) {
                if c.starts_with("CNI-") && !chains.contains(&c.to_string()) {
                    chains.push(c.to_string());
                }
            }
            if let Some(target) = line
                .split(" -j ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
            {
                if target.starts_with("CNI-") && !chains.contains(&target.to_string()) {
                    chains.push(target.to_string());
                }
            }
        }
        let now = sh_quiet(&format!("iptables-save -t {table}")).unwrap_or_default();
        for c in chains {
            let used = now.lines().any(|l| {
                l.starts_with("-A ")
                    && (l.starts_with(&format!("-A {c} ")) || l.contains(&format!("-j {c}")))
            });
            if !used {
                let _ = sh_quiet(&format!("iptables -t {table} -X {c}"));
            }
        }
    }
}

/// Removes the network device `name` if it exists.
pub fn del_link(name: &str) {
    let _ = sh_quiet(&format!("ip link del {name} 2>/dev/null"));
}

/// The host's hard limit on open files (podman's default ulimits exceed it).
pub fn hard_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    assert_eq!(rc, 0, "getrlimit(RLIMIT_NOFILE)");
    r.rlim_max
}

/// stdout of an [`Output`] as a trimmed string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
