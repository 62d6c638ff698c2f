//! podman end to end (Debian's podman 4.3 with conmon and CNI): the user's
//! commands — `run --rm`, `-d`, `-i`, `-it`, `--name`, `-e`, `-w`, `-u`,
//! `exec` (with and without a terminal or stdin), `logs`, `stop` (SIGTERM, then SIGKILL
//! after the timeout), `kill`, `pause`/`unpause`, `top`, `inspect`, `rm`,
//! `-v host:ctr` and `:ro`, `-p` with busybox httpd and with nginx (the
//! study's experiment) — driving the OCI runtime chosen by
//! `GVISOR_E2E_RUNTIME` (`gvisor`, the default, or `runc`; see
//! tests/e2e.rs).
//!
//! Isolation: every podman command gets its own storage and state
//! (`--root`, `--runroot`, `--tmpdir`, `--volumepath` under
//! /tmp/gvisor-e2e-podman-PID-N), its own containers.conf (CONTAINERS_CONF:
//! the `gvisor` runtime's path) and its own CNI network (`--network-config-dir`
//! with one conflist: bridge `gvpPIDxN` on a /24 of 10.215.0.0/16, host-local,
//! portmap, firewall); `--cgroup-manager cgroupfs`, `--events-backend file`.
//! The images are built locally (busybox with umoci as `oci:DIR:latest`, the
//! study's nginx from tests/images/nginx.sh as `oci-archive:`) and pulled
//! into that storage once. The tests of this file share one such podman
//! environment while they run; the last one to finish removes it (containers,
//! conmon processes, mounts, the bridge, the CNI iptables rules).
//!
//! With runc, every `run` passes `--ulimit nofile=1024:1024 --ulimit
//! nproc=1024:1024`: podman's default rlimits exceed this machine's hard
//! limits and runc refuses them. gvisor clamps them to the caller's hard
//! limits, so the gvisor runs use podman's defaults.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gvisor_tests::e2e::{
    busybox_layout, curl, del_link, free_port, hard_nofile, iptables_sweep, kill_matching, need,
    nginx_archive, quiet, run_on_pty, run_with_stdin, stdout, unmount_under, wait_for, Runtime,
    CMD_TIMEOUT,
};
use gvisor_tests::{describe, run_command_timeout};

const T: Duration = Duration::from_secs(30);

/// A private podman environment (see the file's documentation).
struct Podman {
    rt: Runtime,
    dir: PathBuf,
    network: String,
    bridge: String,
    busybox: String,
    nginx: Mutex<Option<String>>,
}

impl Podman {
    fn new() -> Podman {
        need("podman", "podman");
        need("conmon", "conmon");
        need("iptables", "iptables");
        need("/usr/lib/cni/bridge", "containernetworking-plugins");
        need("curl", "curl");
        let rt = Runtime::from_env();
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() as usize;
        // Lower case only: podman refuses `oci:` paths with capitals.
        let dir = PathBuf::from(format!("/tmp/gvisor-e2e-podman-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["cni", "images", "tmp"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let network = format!("gve2e{}x{n}", pid % 100_000);
        let bridge = format!("gvp{}x{n}", pid % 100_000);
        let subnet = format!("10.215.{}", (pid * 7 + n) % 250 + 2);
        std::fs::write(
            dir.join("cni").join(format!("{network}.conflist")),
            format!(
                r#"{{"cniVersion": "0.4.0", "name": "{network}", "plugins": [
  {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": true, "hairpinMode": true,
    "ipam": {{"type": "host-local", "routes": [{{"dst": "0.0.0.0/0"}}],
              "ranges": [[{{"subnet": "{subnet}.0/24", "gateway": "{subnet}.1"}}]],
              "dataDir": "{ipam}"}}}},
  {{"type": "portmap", "capabilities": {{"portMappings": true}}}},
  {{"type": "firewall", "backend": "iptables"}}
]}}
"#,
                ipam = dir.join("cni-ipam").display()
            ),
        )
        .unwrap();
        // The runtime by name, as a user configures it (docs: README's
        // "Using gvisor-rs with podman and Docker").
        let runtimes = match &rt {
            Runtime::Gvisor(p) => format!("[engine.runtimes]\ngvisor = [\"{}\"]\n", p.display()),
            Runtime::Runc => String::new(),
        };
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[engine]\nruntime_supports_json = [\"crun\", \"runc\", \"kata\", \"runsc\", \
                 \"krun\", \"gvisor\"]\n{runtimes}"
            ),
        )
        .unwrap();
        let mut p = Podman {
            rt,
            dir,
            network,
            bridge,
            busybox: String::new(),
            nginx: Mutex::new(None),
        };
        let layout = p.dir.join("images/busybox");
        busybox_layout(&layout, &p.dir.join("tmp"));
        p.busybox = p.pull(&format!("oci:{}:latest", layout.display()));
        p
    }

    /// `podman GLOBAL-FLAGS args...` (not run).
    fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let d = &self.dir;
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("libpod"))
            .arg("--volumepath")
            .arg(d.join("volumes"))
            .arg("--network-config-dir")
            .arg(d.join("cni"))
            .args([
                "--storage-driver",
                "overlay",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
            ]);
        match self.rt {
            Runtime::Runc => c.arg("/usr/sbin/runc"),
            Runtime::Gvisor(_) => c.arg("gvisor"),
        };
        c.args(args.iter().map(|a| a.as_ref()));
        c
    }

    /// Runs podman with `args`.
    fn podman<S: AsRef<str>>(&self, args: &[S]) -> Output {
        run_command_timeout(self.cmd(args), CMD_TIMEOUT)
    }

    /// Runs podman with `args`, panicking unless it succeeds; its stdout.
    fn ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let out = self.podman(args);
        assert!(
            out.status.success(),
            "podman {} ({}): {}",
            args.iter()
                .map(|a| a.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
            self.rt.name(),
            describe(&out)
        );
        stdout(&out)
    }

    /// The argument vector of a `podman` command line (for the pty runs).
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let c = self.cmd(args);
        let mut v = vec!["env".to_string()];
        for (k, val) in c.get_envs() {
            if let Some(val) = val {
                v.push(format!("{}={}", k.to_string_lossy(), val.to_string_lossy()));
            }
        }
        v.push("podman".into());
        v.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        v
    }

    /// Pulls `reference` into the private storage; the image id.
    fn pull(&self, reference: &str) -> String {
        let id = self.ok(&["pull", "-q", reference]);
        id.lines().last().unwrap_or_default().trim().to_string()
    }

    /// `run` with the network and (for runc) the ulimits, then `args`.
    fn run_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["run", "--network", self.network.as_str()];
        if self.rt == Runtime::Runc {
            v.extend([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ]);
        }
        v.extend_from_slice(args);
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        self.podman(&self.run_args(args))
    }

    /// The nginx image (built and pulled on first use).
    fn nginx(&self) -> String {
        let mut g = self.nginx.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let tar = self.dir.join("images/nginx.tar");
            nginx_archive(&tar);
            *g = Some(self.pull(&format!("oci-archive:{}", tar.display())));
        }
        g.clone().unwrap()
    }

    /// `inspect --format FORMAT name`.
    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, name])
    }

    /// Waits until the container's status is `status`; the last one seen.
    fn wait_status(&self, name: &str, status: &str) -> String {
        let mut last = String::new();
        wait_for(T, || {
            last = stdout(&self.podman(&["inspect", "--format", "{{.State.Status}}", name]));
            (last == status).then_some(())
        });
        last
    }

    /// A host directory under the environment's with `index.html`.
    fn html(&self, name: &str, text: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("index.html"), text).unwrap();
        d
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = quiet(self.cmd(&["rm", "-a", "-f", "-t", "0"]), CMD_TIMEOUT);
        // conmon and podman's clean-up processes of this environment.
        kill_matching(&format!("{}/", self.dir.display()));
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        iptables_sweep(&self.network);
        iptables_sweep(&self.bridge);
        del_link(&self.bridge);
    }
}

/// The environment the tests of this process share while any of them runs.
fn podman() -> Arc<Podman> {
    static CELL: Mutex<Weak<Podman>> = Mutex::new(Weak::new());
    let mut g = CELL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = g.upgrade() {
        return p;
    }
    let p = Arc::new(Podman::new());
    *g = Arc::downgrade(&p);
    p
}

fn code(o: &Output) -> i32 {
    gvisor_tests::shell_code(&o.status)
}

#[test]
fn run_rm_exit_status_env_workdir_user() {
    let p = podman();
    let bb = p.busybox.as_str();
    // stdout, stderr and the exit status come back; --rm removes it.
    let out = p.run(&[
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
    let all = p.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|l| l == "rm1"), "--rm left it: {all}");
    // -e, -w, -u.
    let out = p.run(&[
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
    // The program's rlimits: podman's --ulimit (runc) or clamped to what
    // the host allows (gvisor).
    let out = p.run(&["--rm", bb, "sh", "-c", "ulimit -n"]);
    let n: u64 = stdout(&out)
        .parse()
        .unwrap_or_else(|_| panic!("ulimit -n: {}", describe(&out)));
    assert!(n > 0 && n <= hard_nofile(), "ulimit -n = {n}");
    // A program that does not exist: podman's "command not found" status.
    let out = p.run(&["--rm", bb, "/no/such/program"]);
    assert_eq!(code(&out), 127, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/no/such/program"),
        "the error names the program: {}",
        describe(&out)
    );
}

#[test]
fn detached_logs_exec_inspect_top_pause_kill_rm() {
    let p = podman();
    let bb = p.busybox.as_str();
    let data = p.dir.join("data-detached");
    std::fs::create_dir_all(&data).unwrap();
    let vol = format!("{}:/data", data.display());
    let id = p.ok(&p.run_args(&[
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
    // inspect: running, with a host pid.
    let state = p.inspect("det", "{{.State.Status}} {{.State.Pid}} {{.Id}}");
    let f: Vec<&str> = state.split(' ').collect();
    assert_eq!(f[0], "running", "{state}");
    let pid: i32 = f[1].parse().unwrap();
    assert!(
        pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
        "{state}"
    );
    assert_eq!(f[2], id);
    let names = p.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(names.lines().any(|l| l.starts_with("det Up")), "{names}");
    // logs: both streams.
    let logs = wait_for(T, || {
        let o = p.podman(&["logs", "det"]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (all.contains("started") && all.contains("on-stderr")).then_some(all)
    });
    assert!(
        logs.is_some(),
        "logs: {}",
        describe(&p.podman(&["logs", "det"]))
    );
    // exec: output and status.
    let out = p.podman(&[
        "exec",
        "det",
        "sh",
        "-c",
        "echo in-exec; cat /data/ticks >/dev/null; exit 4",
    ]);
    assert_eq!(code(&out), 4, "{}", describe(&out));
    assert_eq!(stdout(&out), "in-exec");
    // exec -e -w -u.
    let out = p.ok(&[
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
    // exec -t: a terminal; exec -it: an interactive shell.
    let out = run_on_pty(&p.argv(&["exec", "-t", "det", "tty"]), &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"),
        "exec -t: {}",
        describe(&out)
    );
    let out = run_on_pty(
        &p.argv(&["exec", "-it", "det", "sh"]),
        &[("# ", "echo typed-$((6*7)); exit 6\\n")],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("typed-42"),
        "exec -it: {}",
        describe(&out)
    );
    assert_eq!(code(&out), 6, "exec -it: {}", describe(&out));
    // top lists the container's processes.
    // exec -i and run -i: stdin is a pipe the program reads to its end.
    let out = run_with_stdin(
        &p.argv(&["exec", "-i", "det", "sh", "-c", "cat; echo eof"]),
        "piped-in\n",
    );
    assert_eq!(stdout(&out), "piped-in\neof", "exec -i: {}", describe(&out));
    let image = p.busybox.clone();
    let args = p.run_args(&["--rm", "-i", &image, "sh", "-c", "cat; echo eof"]);
    let out = run_with_stdin(&p.argv(&args), "piped-in\n");
    assert_eq!(stdout(&out), "piped-in\neof", "run -i: {}", describe(&out));
    // top with ps(1) options runs ps in the container: the program's own
    // processes, under either runtime.
    let top = p.ok(&["top", "det", "-o", "pid,args"]);
    assert!(top.contains("echo started"), "top -o pid,args: {top}");
    // Plain top (psgo) lists /proc in the pid namespace of the pid that
    // `create` wrote: the container's own with runc; with gvisor the
    // sandbox's host side, which does not show the sandboxed programs.
    let top = p.ok(&["top", "det"]);
    if p.rt == Runtime::Runc {
        assert!(top.contains("echo started"), "top: {top}");
    }
    // pause: nothing runs; unpause: it goes on.
    let ticks = || std::fs::read_to_string(data.join("ticks")).unwrap_or_default();
    assert!(wait_for(T, || (!ticks().is_empty()).then_some(())).is_some());
    p.ok(&["pause", "det"]);
    assert_eq!(p.inspect("det", "{{.State.Status}}"), "paused");
    let frozen = ticks();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(ticks(), frozen, "the container ran while paused");
    p.ok(&["unpause", "det"]);
    assert_eq!(p.inspect("det", "{{.State.Status}}"), "running");
    assert!(
        wait_for(T, || (ticks() != frozen).then_some(())).is_some(),
        "the container did not go on after unpause"
    );
    // rm of a running container needs -f.
    let out = p.podman(&["rm", "det"]);
    assert!(
        !out.status.success(),
        "rm of a running container: {}",
        describe(&out)
    );
    // kill: SIGKILL by default; the status says so.
    p.ok(&["kill", "det"]);
    assert_eq!(p.wait_status("det", "exited"), "exited");
    assert_eq!(p.inspect("det", "{{.State.ExitCode}}"), "137");
    p.ok(&["rm", "det"]);
    let all = p.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|l| l == "det"), "rm left it: {all}");
    // kill -s with a signal the program handles.
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        "det2",
        bb,
        "sh",
        "-c",
        "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done",
    ]));
    assert!(wait_for(T, || stdout(&p.podman(&["logs", "det2"]))
        .contains("ready")
        .then_some(()))
    .is_some());
    p.ok(&["kill", "-s", "USR1", "det2"]);
    assert_eq!(p.wait_status("det2", "exited"), "exited");
    assert_eq!(p.inspect("det2", "{{.State.ExitCode}}"), "9");
    p.ok(&["rm", "det2"]);
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    let p = podman();
    let bb = p.busybox.as_str();
    // A program that ignores SIGTERM: stop waits the timeout, then kills.
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        "stubborn",
        bb,
        "sh",
        "-c",
        "trap 'echo got-TERM' TERM; echo ready; while :; do sleep 0.2; done",
    ]));
    // A program that exits on SIGTERM: stop returns with its status.
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        "polite",
        bb,
        "sh",
        "-c",
        "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.2; done",
    ]));
    for n in ["stubborn", "polite"] {
        assert!(
            wait_for(T, || stdout(&p.podman(&["logs", n]))
                .contains("ready")
                .then_some(()))
            .is_some(),
            "{n} did not start"
        );
    }
    let out = p.podman(&["stop", "-t", "2", "stubborn"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in 2 seconds, resorting to SIGKILL"),
        "stop of a program ignoring SIGTERM: {}",
        describe(&out)
    );
    assert_eq!(
        p.inspect("stubborn", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    let logs = stdout(&p.podman(&["logs", "stubborn"]));
    assert!(
        logs.contains("got-TERM"),
        "SIGTERM reached the program first: {logs}"
    );

    let out = p.podman(&["stop", "-t", "60", "polite"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("SIGKILL"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        p.inspect("polite", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    assert!(stdout(&p.podman(&["logs", "polite"])).contains("bye"));
    p.ok(&["rm", "stubborn", "polite"]);
}

#[test]
fn run_it_gives_an_interactive_terminal() {
    let p = podman();
    let bb = p.busybox.clone();
    let args = p.run_args(&["--rm", "-it", &bb, "sh"]);
    let out = run_on_pty(
        &p.argv(&args),
        &[("# ", "tty; echo typed-$((6*7)); exit 5\\n")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "run -it: {}", describe(&out));
    assert!(text.contains("typed-42"), "run -it: {}", describe(&out));
    assert_eq!(code(&out), 5, "run -it: {}", describe(&out));
}

#[test]
fn volumes_read_write_and_read_only() {
    let p = podman();
    let bb = p.busybox.as_str();
    let rw = p.dir.join("vol-rw");
    let ro = p.dir.join("vol-ro");
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("host-file"), "from the host\n").unwrap();
    let out = p.run(&[
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

/// The study's experiment: curl on the host gets the bound host file
/// through the published port; changing the file changes the response.
fn serves_host_file(what: &str, port: u16, file: &Path) {
    let url = format!("http://127.0.0.1:{port}/index.html");
    let body = curl(&url, T).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(body, "first version\n", "{what}: the host file");
    std::fs::write(file, "second version\n").unwrap();
    let body = curl(&url, T).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(body, "second version\n", "{what}: the changed host file");
}

#[test]
fn publish_busybox_httpd() {
    let p = podman();
    let html = p.html("html-httpd", "first version\n");
    let port = free_port();
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        "httpd",
        "-p",
        &format!("{port}:80"),
        "-v",
        &format!("{}:/www:ro", html.display()),
        &p.busybox,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]));
    serves_host_file("busybox httpd", port, &html.join("index.html"));
    p.ok(&["rm", "-f", "-t", "0", "httpd"]);
}

#[test]
fn publish_nginx_the_study() {
    let p = podman();
    let image = p.nginx();
    let html = p.html("html-nginx", "first version\n");
    let port = free_port();
    p.ok(&p.run_args(&[
        "-d",
        "--name",
        "nginx",
        "-p",
        &format!("{port}:80"),
        "-v",
        &format!("{}:/usr/share/nginx/html:ro", html.display()),
        &image,
    ]));
    serves_host_file("nginx", port, &html.join("index.html"));
    // nginx's access log (its stderr) shows both requests.
    let logs = wait_for(T, || {
        let o = p.podman(&["logs", "nginx"]);
        let l =
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
        (l.matches("\"GET /index.html HTTP/1.1\" 200").count() >= 2).then_some(l)
    });
    assert!(
        logs.is_some(),
        "nginx's access log: {}",
        describe(&p.podman(&["logs", "nginx"]))
    );
    p.ok(&["rm", "-f", "-t", "0", "nginx"]);
}
