//! Docker end to end (Debian's docker.io 20.10: dockerd → containerd →
//! containerd-shim-runc-v2 → the OCI runtime named in daemon.json): `run`
//! (`--rm`, `-e`, `-w`, `-u`, exit statuses, `-v` and `:ro`), `-d`, `-i`,
//! `-it`, `exec` (with and without a terminal or stdin), `logs`, `inspect`,
//! `top`, `pause`/`unpause`, `kill`, `stop` (SIGTERM, then SIGKILL after the
//! timeout), `rm`, and the study's
//! `docker run --runtime gvisor -p PORT:80 -v DIR:/usr/share/nginx/html:ro
//! nginx` with an image made by `docker import`. The runtime comes from
//! `GVISOR_E2E_RUNTIME` (`gvisor`, the default, or `runc`; tests/e2e.rs).
//!
//! Each test process runs a private dockerd while its tests run:
//! `--data-root`, `--exec-root`, `--pidfile`, `-H unix://…` under
//! /tmp/gvisor-e2e-docker-PID-N, `--containerd-namespace` of its own (it
//! starts its own containerd unless /run/containerd/containerd.sock
//! exists), and a daemon.json registering the runtime (`runtimes`: for
//! gvisor with `runtimeArgs` `--debug-log=DIR/` and `--strace`, as the study
//! configured runsc). Its default bridge is one the test makes (`gvdPIDxN`
//! on a /24 of 10.216.0.0/16, daemon.json `bridge`), with `iptables` and
//! `ip-masq` off: a published port is then served by docker-proxy alone
//! (which is also what serves 127.0.0.1 with iptables on), and the host's
//! iptables rules stay untouched. The last test to finish stops the daemon
//! and removes everything: containers, daemon, containerd and its shims,
//! mounts, the bridge.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gvisor_tests::e2e::{
    busybox_rootfs, curl, del_link, free_port, iptables_sweep, kill_matching, must, need,
    nginx_archive, quiet, rootfs_tarball, run_on_pty, run_with_stdin, stdout, unmount_under,
    wait_for, Runtime, CMD_TIMEOUT,
};
use gvisor_tests::{describe, run_command_timeout, shell_code};

const T: Duration = Duration::from_secs(30);
/// The Debian client, explicitly (another `docker` may come first in PATH).
const DOCKER: &str = "/usr/bin/docker";

/// A private dockerd (see the file's documentation).
struct Docker {
    rt: Runtime,
    dir: PathBuf,
    namespace: String,
    bridge: String,
    /// The bridge's /24, as "A.B.C".
    subnet: String,
    /// The name the runtime has in daemon.json (`--runtime NAME`).
    runtime_name: String,
    daemon: Mutex<Option<Child>>,
    busybox: String,
    nginx: Mutex<Option<String>>,
}

impl Docker {
    fn new() -> Docker {
        need("dockerd", "docker.io");
        need(DOCKER, "docker.io");
        need("containerd-shim-runc-v2", "containerd");
        need("curl", "curl");
        let rt = Runtime::from_env();
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() as usize;
        let dir = PathBuf::from(format!("/tmp/gvisor-e2e-docker-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("debug")).unwrap();
        let bridge = format!("gvd{}x{n}", pid % 100_000);
        let subnet = format!("10.216.{}", (pid * 7 + n) % 250 + 2);
        del_link(&bridge);
        must(&format!(
            "ip link add {bridge} type bridge && ip addr add {subnet}.1/24 dev {bridge} && \
             ip link set {bridge} up"
        ));
        let (runtime_name, runtime) = match &rt {
            Runtime::Gvisor(p) => (
                "gvisor".to_string(),
                format!(
                    r#"{{"path": "{}", "runtimeArgs": ["--debug-log={}/", "--strace"]}}"#,
                    p.display(),
                    dir.join("debug").display()
                ),
            ),
            Runtime::Runc => (
                "e2e-runc".to_string(),
                r#"{"path": "/usr/sbin/runc"}"#.to_string(),
            ),
        };
        std::fs::write(
            dir.join("daemon.json"),
            format!(
                r#"{{"runtimes": {{"{runtime_name}": {runtime}}},
  "bridge": "{bridge}", "iptables": false, "ip-masq": false}}
"#
            ),
        )
        .unwrap();
        let namespace = format!("gve2e-{pid}-{n}");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args(["--containerd-namespace", &namespace])
            .args(["--containerd-plugins-namespace", &format!("{namespace}-p")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting dockerd");
        let mut d = Docker {
            rt,
            dir,
            namespace,
            bridge,
            subnet,
            runtime_name,
            daemon: Mutex::new(Some(child)),
            busybox: String::new(),
            nginx: Mutex::new(None),
        };
        let up = wait_for(Duration::from_secs(60), || {
            d.docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
                .then_some(())
        });
        assert!(
            up.is_some(),
            "dockerd did not come up; its log:\n{}",
            d.log_tail()
        );
        // The busybox image, by `docker import` of a root file system.
        let root = d.dir.join("busybox-rootfs");
        busybox_rootfs(&root);
        let tar = d.dir.join("busybox.tar");
        must(&format!(
            "tar -C {} -cf {} .",
            root.display(),
            tar.display()
        ));
        d.busybox = d.import(&tar, "gve2e-busybox:latest", &["ENV PATH=/bin"]);
        d
    }

    fn log_tail(&self) -> String {
        let l = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = l.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(DOCKER);
        c.arg("-H")
            .arg(format!("unix://{}", self.dir.join("docker.sock").display()))
            .args(args.iter().map(|a| a.as_ref()));
        c
    }

    fn docker<S: AsRef<str>>(&self, args: &[S]) -> Output {
        run_command_timeout(self.cmd(args), CMD_TIMEOUT)
    }

    /// Runs docker with `args`, panicking unless it succeeds; its stdout.
    fn ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {} ({}): {}\ndockerd's log:\n{}",
            args.iter()
                .map(|a| a.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
            self.rt.name(),
            describe(&out),
            self.log_tail()
        );
        stdout(&out)
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        let c = self.cmd(args);
        let mut v = vec![DOCKER.to_string()];
        v.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        v
    }

    /// `docker import` of a root file system tarball; the image's name.
    fn import(&self, tar: &Path, name: &str, changes: &[&str]) -> String {
        let mut args = vec!["import".to_string()];
        for c in changes {
            args.push("-c".into());
            args.push(c.to_string());
        }
        args.push(tar.display().to_string());
        args.push(name.to_string());
        self.ok(&args);
        name.to_string()
    }

    /// `run --runtime NAME args...`.
    fn run_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["run", "--runtime", self.runtime_name.as_str()];
        v.extend_from_slice(args);
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        self.docker(&self.run_args(args))
    }

    /// The study's nginx image (tests/images/nginx.sh, flattened and
    /// `docker import`ed) on first use.
    fn nginx(&self) -> String {
        let mut g = self.nginx.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let oci = self.dir.join("nginx-oci.tar");
            nginx_archive(&oci);
            let flat = self.dir.join("nginx-rootfs.tar");
            rootfs_tarball(&oci, &flat, &self.dir);
            *g = Some(self.import(
                &flat,
                "gve2e-nginx:latest",
                &[
                    "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    "CMD [\"/usr/sbin/nginx\", \"-g\", \"daemon off;\"]",
                ],
            ));
        }
        g.clone().unwrap()
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, name])
    }

    fn wait_status(&self, name: &str, status: &str) -> String {
        let mut last = String::new();
        wait_for(T, || {
            last = stdout(&self.docker(&["inspect", "--format", "{{.State.Status}}", name]));
            (last == status).then_some(())
        });
        last
    }

    /// `logs` (both streams).
    fn logs(&self, name: &str) -> String {
        let o = self.docker(&["logs", name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    fn wait_logs(&self, name: &str, needle: &str) -> String {
        wait_for(T, || {
            let l = self.logs(name);
            l.contains(needle).then_some(l)
        })
        .unwrap_or_else(|| panic!("{name}'s logs never showed {needle:?}: {}", self.logs(name)))
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let ids = quiet(self.cmd(&["ps", "-aq"]), CMD_TIMEOUT).unwrap_or_default();
        for id in ids.lines() {
            let _ = quiet(self.cmd(&["rm", "-f", id]), CMD_TIMEOUT);
        }
        let child = self.daemon.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            // SAFETY: kill(2) of the dockerd this struct started; no memory involved.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let stopped = wait_for(T, || child.try_wait().ok().flatten());
            if stopped.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Its containerd, shims and docker-proxies name the directory or
        // the namespace on their command lines.
        kill_matching(&format!("{}/", self.dir.display()));
        kill_matching(&format!("-namespace {} ", self.namespace));
        kill_matching(&format!("-container-ip {}.", self.subnet));
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        iptables_sweep(&self.bridge);
        del_link(&self.bridge);
    }
}

fn docker() -> Arc<Docker> {
    static CELL: Mutex<Weak<Docker>> = Mutex::new(Weak::new());
    let mut g = CELL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = g.upgrade() {
        return d;
    }
    let d = Arc::new(Docker::new());
    *g = Arc::downgrade(&d);
    d
}

fn code(o: &Output) -> i32 {
    shell_code(&o.status)
}

#[test]
fn run_rm_exit_status_env_workdir_user() {
    let d = docker();
    let bb = d.busybox.as_str();
    let out = d.run(&[
        "--rm",
        "--name",
        "rm1",
        bb,
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert_eq!(stdout(&out), "to-stdout", "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("to-stderr"),
        "{}",
        describe(&out)
    );
    let all = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|l| l == "rm1"), "--rm left it: {all}");
    let out = d.run(&[
        "--rm",
        "-e",
        "FOO=bar baz",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        bb,
        "sh",
        "-c",
        "echo \"$FOO\"; pwd; id -u; id -g",
    ]);
    assert_eq!(
        stdout(&out),
        "bar baz\n/tmp\n1000\n1000",
        "{}",
        describe(&out)
    );
    let out = d.run(&["--rm", bb, "/no/such/program"]);
    assert_eq!(code(&out), 127, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/no/such/program"),
        "the error names the program: {}",
        describe(&out)
    );
    if let Runtime::Gvisor(_) = d.rt {
        // daemon.json's runtimeArgs reached the runtime: debug logs exist.
        let n = std::fs::read_dir(d.dir.join("debug"))
            .map(|r| r.count())
            .unwrap_or(0);
        assert!(
            n > 0,
            "runtimeArgs --debug-log: nothing in {}",
            d.dir.join("debug").display()
        );
    }
}

#[test]
fn detached_logs_exec_inspect_top_pause_kill_rm() {
    let d = docker();
    let bb = d.busybox.as_str();
    let data = d.dir.join("data-detached");
    std::fs::create_dir_all(&data).unwrap();
    let vol = format!("{}:/data", data.display());
    let id = d.ok(&d.run_args(&[
        "-d",
        "--name",
        "det",
        "-v",
        &vol,
        bb,
        "sh",
        "-c",
        "echo started; echo on-stderr >&2; i=0; \
         while :; do i=$((i+1)); echo $i > /data/ticks; sleep 0.1; done",
    ]));
    assert_eq!(id.len(), 64, "run -d prints the id: {id}");
    let state = d.inspect("det", "{{.State.Status}} {{.State.Pid}} {{.Id}}");
    let f: Vec<&str> = state.split(' ').collect();
    assert_eq!(f[0], "running", "{state}");
    let pid: i32 = f[1].parse().unwrap();
    assert!(
        pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
        "{state}"
    );
    assert_eq!(f[2], id);
    let logs = d.wait_logs("det", "on-stderr");
    assert!(logs.contains("started"), "{logs}");
    let out = d.docker(&[
        "exec",
        "det",
        "sh",
        "-c",
        "echo in-exec; cat /data/ticks >/dev/null; exit 4",
    ]);
    assert_eq!(code(&out), 4, "{}", describe(&out));
    assert_eq!(stdout(&out), "in-exec");
    let out = d.ok(&[
        "exec",
        "-e",
        "X=y",
        "-w",
        "/tmp",
        "-u",
        "1000",
        "det",
        "sh",
        "-c",
        "echo $X; pwd; id -u",
    ]);
    assert_eq!(out, "y\n/tmp\n1000");
    let out = run_on_pty(&d.argv(&["exec", "-t", "det", "tty"]), &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"),
        "exec -t: {}",
        describe(&out)
    );
    let out = run_on_pty(
        &d.argv(&["exec", "-it", "det", "sh"]),
        &[("# ", "echo typed-$((6*7)); exit 6\\n")],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("typed-42"),
        "exec -it: {}",
        describe(&out)
    );
    assert_eq!(code(&out), 6, "exec -it: {}", describe(&out));
    // exec -i and run -i: stdin is a pipe the program reads to its end.
    let out = run_with_stdin(
        &d.argv(&["exec", "-i", "det", "sh", "-c", "cat; echo eof"]),
        "piped-in\n",
    );
    assert_eq!(stdout(&out), "piped-in\neof", "exec -i: {}", describe(&out));
    let image = d.busybox.clone();
    let args = d.run_args(&["--rm", "-i", &image, "sh", "-c", "cat; echo eof"]);
    let out = run_with_stdin(&d.argv(&args), "piped-in\n");
    assert_eq!(stdout(&out), "piped-in\neof", "run -i: {}", describe(&out));
    // docker top shows the host's ps rows of the pids `RUNTIME ps --format
    // json` gives: the container's processes with runc; with gvisor the
    // sandbox's host processes (the sandboxed programs have no host pid).
    let top = d.ok(&["top", "det"]);
    if d.rt == Runtime::Runc {
        assert!(top.contains("echo started"), "top: {top}");
    } else {
        assert!(top.lines().count() >= 2, "top lists no process: {top}");
    }
    let ticks = || std::fs::read_to_string(data.join("ticks")).unwrap_or_default();
    assert!(wait_for(T, || (!ticks().is_empty()).then_some(())).is_some());
    d.ok(&["pause", "det"]);
    assert_eq!(d.inspect("det", "{{.State.Status}}"), "paused");
    let frozen = ticks();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(ticks(), frozen, "the container ran while paused");
    d.ok(&["unpause", "det"]);
    assert_eq!(d.inspect("det", "{{.State.Status}}"), "running");
    assert!(
        wait_for(T, || (ticks() != frozen).then_some(())).is_some(),
        "the container did not go on after unpause"
    );
    let out = d.docker(&["rm", "det"]);
    assert!(
        !out.status.success(),
        "rm of a running container: {}",
        describe(&out)
    );
    d.ok(&["kill", "det"]);
    assert_eq!(d.wait_status("det", "exited"), "exited");
    assert_eq!(d.inspect("det", "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", "det"]);
    let all = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|l| l == "det"), "rm left it: {all}");
    d.ok(&d.run_args(&[
        "-d",
        "--name",
        "det2",
        bb,
        "sh",
        "-c",
        "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done",
    ]));
    d.wait_logs("det2", "ready");
    d.ok(&["kill", "-s", "USR1", "det2"]);
    assert_eq!(d.wait_status("det2", "exited"), "exited");
    assert_eq!(d.inspect("det2", "{{.State.ExitCode}}"), "9");
    d.ok(&["rm", "det2"]);
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    let d = docker();
    let bb = d.busybox.as_str();
    d.ok(&d.run_args(&[
        "-d",
        "--name",
        "stubborn",
        bb,
        "sh",
        "-c",
        "trap 'echo got-TERM' TERM; echo ready; while :; do sleep 0.2; done",
    ]));
    d.ok(&d.run_args(&[
        "-d",
        "--name",
        "polite",
        bb,
        "sh",
        "-c",
        "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.2; done",
    ]));
    d.wait_logs("stubborn", "ready");
    d.wait_logs("polite", "ready");
    d.ok(&["stop", "-t", "2", "stubborn"]);
    assert_eq!(
        d.inspect("stubborn", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137",
        "a program ignoring SIGTERM is killed after the timeout"
    );
    let logs = d.logs("stubborn");
    assert!(
        logs.contains("got-TERM"),
        "SIGTERM reached the program first: {logs}"
    );
    d.ok(&["stop", "-t", "60", "polite"]);
    assert_eq!(
        d.inspect("polite", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    assert!(d.logs("polite").contains("bye"));
    d.ok(&["rm", "stubborn", "polite"]);
}

#[test]
fn volumes_read_write_and_read_only() {
    let d = docker();
    let bb = d.busybox.as_str();
    let rw = d.dir.join("vol-rw");
    let ro = d.dir.join("vol-ro");
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("host-file"), "from the host\n").unwrap();
    let out = d.run(&[
        "--rm",
        "-v",
        &format!("{}:/rw", rw.display()),
        "-v",
        &format!("{}:/ro:ro", ro.display()),
        bb,
        "sh",
        "-c",
        "echo written-inside > /rw/new; cat /ro/host-file; \
         if touch /ro/nope 2>/dev/null; then echo ro-writable; else echo ro-refused; fi",
    ]);
    assert_eq!(
        stdout(&out),
        "from the host\nro-refused",
        "{}",
        describe(&out)
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("new")).unwrap_or_default(),
        "written-inside\n"
    );
    assert!(!ro.join("nope").exists());
}

#[test]
fn run_it_gives_an_interactive_terminal() {
    let d = docker();
    let bb = d.busybox.clone();
    let args = d.run_args(&["--rm", "-it", &bb, "sh"]);
    let out = run_on_pty(
        &d.argv(&args),
        &[("# ", "tty; echo typed-$((6*7)); exit 5\\n")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "run -it: {}", describe(&out));
    assert!(text.contains("typed-42"), "run -it: {}", describe(&out));
    assert_eq!(code(&out), 5, "run -it: {}", describe(&out));
}

/// The study: `docker run --runtime R -p PORT:80 -v DIR:/usr/share/nginx/html:ro nginx`;
/// curl on the host gets the bound file, a changed file changes the
/// response, and `docker logs` shows nginx's access log.
#[test]
fn nginx_the_study() {
    // Docker's prestart hook configures the namespace of the state's pid:
    // it must be the container's, never the host's.
    let host_v6 = || {
        ["all", "default"].map(|c| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{c}/disable_ipv6"))
                .unwrap_or_default()
        })
    };
    let before = host_v6();
    let d = docker();
    let image = d.nginx();
    let html = d.dir.join("html-nginx");
    std::fs::create_dir_all(&html).unwrap();
    std::fs::write(html.join("index.html"), "first version\n").unwrap();
    let port = free_port();
    d.ok(&d.run_args(&[
        "-d",
        "--name",
        "nginx",
        "-p",
        &format!("{port}:80"),
        "-v",
        &format!("{}:/usr/share/nginx/html:ro", html.display()),
        &image,
    ]));
    let url = format!("http://127.0.0.1:{port}/index.html");
    let body = curl(&url, T).unwrap_or_else(|e| panic!("{e}\nlogs: {}", d.logs("nginx")));
    assert_eq!(body, "first version\n");
    std::fs::write(html.join("index.html"), "second version\n").unwrap();
    assert_eq!(curl(&url, T).unwrap(), "second version\n");
    let logs = wait_for(T, || {
        let l = d.logs("nginx");
        (l.matches("\"GET /index.html HTTP/1.1\" 200").count() >= 2).then_some(l)
    });
    assert!(logs.is_some(), "nginx's access log: {}", d.logs("nginx"));
    d.ok(&["stop", "-t", "5", "nginx"]);
    d.ok(&["rm", "nginx"]);
    assert_eq!(host_v6(), before, "the host's IPv6 settings changed");
}
