//! The runc-compatible CLI (`gvisor [global flags] create|start|state|kill|
//! delete|exec|ps|pause|resume|events|list|spec|features|update ...`), as
//! podman and containerd-shim-runc-v2 drive it: the create/start split from
//! different processes, the pid-file pid reaped by a subreaper with the
//! container's exit status, exec with and without -d, the console socket,
//! hooks in order, runc's error texts and exit codes for bad input (checked
//! against /usr/sbin/runc where both can answer), and nothing left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gvisor_tests::*;

/// A test's own state root and bundles under the scratch directory.
struct Env {
    base: PathBuf,
    root: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let base = scratch_dir().join(format!("runc-{name}"));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let root = base.join("root");
        Env { base, root }
    }

    /// A busybox bundle running `args` (config.json edited by `edit`).
    fn bundle(
        &self,
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> PathBuf {
        let dir = self.base.join(format!("bundle-{name}"));
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.join("rootfs/tmp")).unwrap();
        std::fs::copy(busybox(), bin.join("busybox")).unwrap();
        for a in [
            "sh", "echo", "cat", "sleep", "ls", "tty", "stty", "true", "id", "pwd",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
        }
        let mut config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin"],
                "cwd": "/",
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576u64, "soft": 1048576u64}]
            },
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}
        });
        edit(&mut config);
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        dir
    }

    /// `gvisor --root ROOT ARGS` (stdin null, output captured).
    fn g(&self, args: &[&str]) -> Output {
        let mut c = Command::new(gvisor_bin());
        c.arg("--root").arg(&self.root).args(args);
        run_command(c)
    }

    /// `create` with the container's stdio in `out` (a file: the keeper
    /// keeps it open while the container runs); its stderr is the file's
    /// content once it returned.
    fn create(&self, bundle: &Path, id: &str, out: &Path, extra: &[&str]) -> Output {
        let f = std::fs::File::create(out).unwrap();
        let err_path = out.with_extension("create-err");
        let err = std::fs::File::create(&err_path).unwrap();
        let mut c = Command::new(gvisor_bin());
        c.arg("--root")
            .arg(&self.root)
            .args(["--network", "none"])
            .args(extra)
            .arg("create")
            .arg("--bundle")
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(err);
        let status = c.status().unwrap();
        Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let o = self.g(&["state", id]);
        assert!(o.status.success(), "{}", describe(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Waits (bounded) until `id` is stopped.
    fn wait_stopped(&self, id: &str) {
        for _ in 0..6000 {
            if self.state(id)["status"] == "stopped" {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("container {id} did not stop");
    }

    /// Asserts nothing of this test runs any more (no process mentions its
    /// directory: keepers carry --root, gofers the rootfs).
    fn assert_no_processes(&self) {
        let me = self.base.to_string_lossy().into_owned();
        for _ in 0..500 {
            let left: Vec<String> = processes_mentioning(&me);
            if left.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("processes left: {:?}", processes_mentioning(&me));
    }

    /// The container directories under the root.
    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.entries() {
            let mut c = Command::new(gvisor_bin());
            c.arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", &id]);
            let _ = c.output();
        }
    }
}

fn processes_mentioning(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() || name == std::process::id().to_string() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
        {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(s) {
                out.push(format!("{name}: {c}"));
            }
        }
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the subreaper script with `steps`; returns its report lines.
fn subreaper(env: &Env, bundle: &Path, id: &str, steps: serde_json::Value) -> (String, String) {
    let out = env.base.join(format!("{id}.out"));
    let mut c = Command::new("python3");
    c.arg(workspace_root().join("tests/scripts/runc_subreaper.py"))
        .arg(gvisor_bin())
        .arg(&env.root)
        .arg(bundle)
        .arg(id)
        .arg(&out)
        .arg(steps.to_string());
    let o = run_command(c);
    assert!(o.status.success(), "{}", describe(&o));
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    let container = std::fs::read_to_string(&out).unwrap_or_default();
    (report, container)
}

#[test]
fn create_then_start_from_another_process_and_the_subreaper_reaps_the_exit_code() {
    let env = Env::new("exitcode");
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo hello from the container; ulimit -n; exit 7",
        ],
        |_| {},
    );
    let (report, out) = subreaper(&env, &b, "c1", serde_json::json!([["start", "c1"]]));
    assert!(report.contains("create 0"), "{report}");
    assert!(report.contains("reparented True"), "{report}");
    assert!(report.contains("step start 0"), "{report}");
    assert!(report.contains("container exited 7"), "{report}\n{out}");
    assert!(out.contains("hello from the container"), "{out}");
    // podman's nofile 1048576 is above the hard limit here: clamped.
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    if hard.rlim_max < 1048576 {
        assert!(out.contains(&format!("{}\n", hard.rlim_max)), "{out}");
    }
    let st = env.state("c1");
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    let o = env.g(&["start", "c1"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        stderr(&o).contains("cannot start a container that has stopped"),
        "{}",
        describe(&o)
    );
    let o = env.g(&["delete", "c1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

#[test]
fn death_by_signal_is_what_the_subreaper_sees() {
    let env = Env::new("signal");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let (report, _) = subreaper(
        &env,
        &b,
        "s1",
        serde_json::json!([["start", "s1"], ["kill", "s1", "KILL"]]),
    );
    assert!(report.contains("step kill 0"), "{report}");
    assert!(report.contains("container signaled 9"), "{report}");
    // A signal given by number and SIG-less name, default SIGTERM.
    let b = env.bundle("b2", &["sleep", "1000"], |_| {});
    let (report, _) = subreaper(
        &env,
        &b,
        "s2",
        serde_json::json!([["start", "s2"], ["kill", "s2", "0"], ["kill", "s2"]]),
    );
    assert!(report.contains("container signaled 15"), "{report}");
    let (report, _) = subreaper(
        &env,
        &b,
        "s3",
        serde_json::json!([["start", "s3"], ["kill", "--all", "s3", "SIGUSR1"]]),
    );
    assert!(report.contains("container signaled 10"), "{report}");
    for id in ["s1", "s2", "s3"] {
        assert!(env.g(&["delete", id]).status.success());
    }
    env.assert_no_processes();
}

#[test]
fn a_created_container_is_killed_or_deleted_before_it_starts() {
    let env = Env::new("created");
    let b = env.bundle("b", &["sh", "-c", "echo never"], |_| {});
    let (report, out) = subreaper(&env, &b, "k1", serde_json::json!([["kill", "k1", "KILL"]]));
    assert!(report.contains("container signaled 9"), "{report}");
    assert!(!out.contains("never"), "{out}");
    assert!(env.g(&["delete", "k1"]).status.success());
    let out = env.base.join("d1.out");
    let o = env.create(&b, "d1", &out, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(env.state("d1")["status"], "created");
    let o = env.g(&["delete", "d1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

#[test]
fn state_list_pause_resume_ps_events() {
    let env = Env::new("state");
    let b = env.bundle("b", &["sh", "-c", "while true; do sleep 1; done"], |c| {
        c["annotations"] = serde_json::json!({"org.example": "yes"});
    });
    let out = env.base.join("c.out");
    let o = env.create(&b, "st1", &out, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let st = env.state("st1");
    let keys: Vec<&str> = st.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
        "annotations",
    ] {
        assert!(keys.contains(&k), "{k} missing in {st}");
    }
    assert_eq!(st["status"], "created");
    assert_eq!(
        st["bundle"],
        b.canonicalize().unwrap().to_string_lossy().as_ref()
    );
    assert_eq!(st["annotations"]["org.example"], "yes");
    assert!(st["pid"].as_i64().unwrap() > 0);
    assert!(env.g(&["start", "st1"]).status.success());
    assert_eq!(env.state("st1")["status"], "running");
    let o = env.g(&["pause", "st1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(env.state("st1")["status"], "paused");
    let o = env.g(&["exec", "st1", "true"]);
    assert!(
        stderr(&o).contains("cannot exec in a paused state"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["resume", "st1"]).status.success());
    assert_eq!(env.state("st1")["status"], "running");
    let o = env.g(&["resume", "st1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("container not paused"),
        "{}",
        describe(&o)
    );
    // ps: table of sandbox pids, json of host pids (that exist).
    let o = env.g(&["ps", "st1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("PID\n1\n"),
        "{}",
        describe(&o)
    );
    let o = env.g(&["ps", "--format", "json", "st1"]);
    let pids: Vec<i32> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!pids.is_empty());
    for p in pids {
        assert!(Path::new(&format!("/proc/{p}")).exists());
    }
    let o = env.g(&["events", "--stats", "st1"]);
    assert!(o.status.success(), "{}", describe(&o));
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], "st1");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    assert!(ev["data"]["cpu"]["usage"]["total"].is_u64(), "{ev}");
    // list: table, quiet, json.
    let o = env.g(&["list"]);
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(t.starts_with("ID"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("st1 ") && l.contains("running")),
        "{t}"
    );
    let o = env.g(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "st1\n");
    let o = env.g(&["list", "--format", "json"]);
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l[0]["id"], "st1");
    // update without a cgroup: a clear error.
    let o = env.g(&["update", "--pids-limit", "50", "st1"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(stderr(&o).contains("no cgroup"), "{}", describe(&o));
    // delete without --force refuses, with it the container goes.
    let o = env.g(&["delete", "st1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot delete container st1 that is not stopped: running"),
        "{}",
        describe(&o)
    );
    let o = env.g(&["delete", "--force", "st1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.entries().is_empty());
    let o = env.g(&["list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "null\n");
    env.assert_no_processes();
}

#[test]
fn exec_with_and_without_detach() {
    let env = Env::new("exec");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let out = env.base.join("c.out");
    assert!(env.create(&b, "e1", &out, &[]).status.success());
    assert!(env.g(&["start", "e1"]).status.success());
    let o = env.g(&[
        "exec",
        "-e",
        "X=from-exec",
        "--cwd",
        "/tmp",
        "e1",
        "sh",
        "-c",
        "echo $X; pwd; exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from-exec\n/tmp\n");
    let o = env.g(&["exec", "--user", "1000:1000", "e1", "id"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("uid=1000 gid=1000"),
        "{}",
        describe(&o)
    );
    // --process: an OCI process JSON.
    let p = env.base.join("process.json");
    std::fs::write(
        &p,
        r#"{"terminal":false,"user":{"uid":0,"gid":0},"args":["sh","-c","echo via-process"],"env":["PATH=/bin"],"cwd":"/"}"#,
    )
    .unwrap();
    let o = env.g(&["exec", "--process", p.to_str().unwrap(), "e1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via-process\n");
    // stdin reaches the process.
    let mut c = Command::new(gvisor_bin());
    c.arg("--root").arg(&env.root).args(["exec", "e1", "cat"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(b"piped-in\n").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "piped-in\n");
    // A signal to a (foreground) exec reaches the process.
    let mut c = Command::new(gvisor_bin());
    c.arg("--root").arg(&env.root).args([
        "exec",
        "e1",
        "sh",
        "-c",
        "trap 'exit 4' TERM; : > /tmp/r2; while true; do sleep 0.1; done",
    ]);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let ready = (0..3000).any(|_| {
        env.g(&["exec", "e1", "sh", "-c", "test -e /tmp/r2"])
            .status
            .success()
    });
    assert!(ready, "the trapping exec never started");
    // SAFETY: SIGTERM to the exec this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(4));
    let o = env.g(&["exec", "-t", "e1", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--console-socket"), "{}", describe(&o));
    assert!(env.g(&["delete", "-f", "e1"]).status.success());

    // exec -d: the pid-file pid is a waiter the subreaper reaps with the
    // process's status (a code, then a signal).
    let (report, out) = subreaper(
        &env,
        &b,
        "e2",
        serde_json::json!([
            ["start", "e2"],
            ["exec-d", "e2", "sh", "-c", "echo detached; exit 3"],
            ["exec-d", "e2", "sh", "-c", "kill -TERM $$"],
            ["exec-d-term", "e2"],
            ["kill", "e2", "KILL"]
        ]),
    );
    assert!(report.contains("exec-waiter exited 3"), "{report}");
    assert!(report.contains("exec-waiter signaled 15"), "{report}");
    assert!(report.contains("term-waiter exited 4"), "{report}");
    assert!(report.contains("container signaled 9"), "{report}");
    let _ = out;
    let o = env.g(&["exec", "e2", "true"]);
    assert!(
        stderr(&o).contains("cannot exec in a stopped state"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["delete", "e2"]).status.success());
    env.assert_no_processes();
}

#[test]
fn console_socket_gets_the_terminal_and_its_size_reaches_the_program() {
    let env = Env::new("console");
    let b = env.bundle(
        "b",
        &["sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; while [ \"$(stty size)\" != \"30 100\" ]; do sleep 0.1; done; echo size-ok; read line; echo got:$line; echo END"],
        |c| {
            c["process"]["terminal"] = true.into();
            c["mounts"] = serde_json::json!([
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}
            ]);
        },
    );
    let sock = env.base.join("console.sock");
    let mut c = Command::new("python3");
    c.arg(workspace_root().join("tests/scripts/runc_console.py"))
        .arg(gvisor_bin())
        .arg(&env.root)
        .arg(&b)
        .arg("t1")
        .arg(&sock);
    let o = run_command(c);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("create 0"), "{}", describe(&o));
    assert!(text.contains("name True"), "{text}");
    assert!(text.contains("/dev/pts/0\n"), "{text}");
    assert!(text.contains("stdin-is-a-tty\n"), "{text}");
    assert!(text.contains("size-ok\n"), "{text}");
    assert!(text.contains("got:typed\n"), "{text}");
    env.wait_stopped("t1");
    assert!(env.g(&["delete", "t1"]).status.success());
    // exec -d -t with a console socket, as conmon: the size set on the
    // master reaches the program, typed input too, and the waiter exits
    // with the program's code.
    let sleeper = env.bundle("sleeper", &["sleep", "1000"], |c| {
        c["mounts"] = serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}
        ]);
    });
    let out = env.base.join("s.out");
    assert!(env.create(&sleeper, "t4", &out, &[]).status.success());
    assert!(env.g(&["start", "t4"]).status.success());
    let esock = env.base.join("exec.sock");
    let mut c = Command::new("python3");
    c.arg(workspace_root().join("tests/scripts/runc_exec_tty.py"))
        .arg(gvisor_bin())
        .arg(&env.root)
        .arg("t4")
        .arg(&esock)
        .arg("test -t 0 && echo exec-tty; while [ \"$(stty size)\" != \"40 120\" ]; do sleep 0.1; done; echo size-ok; read line; echo got:$line; echo END; exit 6");
    let o = run_command(c);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("exec 0"), "{}", describe(&o));
    assert!(text.contains("exec-tty\n"), "{text}");
    assert!(text.contains("size-ok\n"), "{text}");
    assert!(text.contains("got:typed\n"), "{text}");
    assert!(text.contains("waiter exited 6"), "{text}");
    assert!(env.g(&["delete", "-f", "t4"]).status.success());
    // A terminal without a console socket, and a console socket that is
    // not a socket: errors, nothing left.
    let out = env.base.join("x.out");
    let o = env.create(&b, "t2", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("console socket"), "{}", describe(&o));
    let f = env.base.join("not-a-socket");
    std::fs::write(&f, "").unwrap();
    let mut c = Command::new(gvisor_bin());
    c.arg("--root")
        .arg(&env.root)
        .args(["create", "--console-socket"])
        .arg(&f)
        .arg("--bundle")
        .arg(&b)
        .arg("t3");
    let o = run_command(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a socket"), "{}", describe(&o));
    assert!(env.entries().is_empty(), "{:?}", env.entries());
    env.assert_no_processes();
}

#[test]
fn hooks_run_in_order_with_the_state() {
    let env = Env::new("hooks");
    let log = env.base.join("hooks.log");
    let hook = |kind: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("read s; echo {kind} $(echo \"$s\" | grep -o '\"status\":\"[a-z]*\"') >> {}", log.display())]
        })
    };
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let hooks: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .map(|k| (k.to_string(), serde_json::json!([hook(k)])))
        .collect();
    let b = env.bundle("b", &["sh", "-c", "exit 0"], |c| c["hooks"] = hooks.into());
    let out = env.base.join("c.out");
    assert!(env.create(&b, "h1", &out, &[]).status.success());
    let after_create = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = after_create
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["prestart", "createRuntime", "createContainer"],
        "{after_create}"
    );
    let o = env.g(&["start", "h1"]);
    assert!(o.status.success(), "{}", describe(&o));
    env.wait_stopped("h1");
    assert!(env.g(&["delete", "h1"]).status.success());
    let all = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = all.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, kinds, "{all}");
    assert!(
        all.lines()
            .next()
            .unwrap()
            .contains("\"status\":\"creating\""),
        "{all}"
    );
    assert!(
        all.lines()
            .last()
            .unwrap()
            .contains("\"status\":\"stopped\""),
        "{all}"
    );
    // A failing createRuntime hook fails create and leaves nothing.
    let b = env.bundle("bad", &["true"], |c| {
        c["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/false"}]})
    });
    let o = env.create(&b, "h2", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("createRuntime hook"),
        "{}",
        describe(&o)
    );
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

#[test]
fn bad_input_is_answered_as_runc_answers_it() {
    let env = Env::new("bad");
    let runc = Path::new("/usr/sbin/runc");
    let runc_root = env.base.join("runc-root");
    let ours = |args: &[&str]| env.g(args);
    let theirs = |args: &[&str]| {
        let mut c = Command::new(runc);
        c.arg("--root").arg(&runc_root).args(args);
        run_command(c)
    };
    for args in [
        &["state", "nosuch"][..],
        &["start", "nosuch"],
        &["kill", "nosuch"],
        &["delete", "nosuch"],
        &["pause", "nosuch"],
        &["nosuchcommand"],
        &["--nosuchflag", "list"],
    ] {
        let o = ours(args);
        assert!(!o.status.success(), "{args:?}: {}", describe(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", describe(&o));
        if runc.exists() {
            let r = theirs(args);
            assert_eq!(
                o.status.code(),
                r.status.code(),
                "{args:?}\nours: {}\nrunc: {}",
                describe(&o),
                describe(&r)
            );
            if args[0] != "--nosuchflag" {
                let last = |s: &str| s.lines().last().unwrap_or("").to_string();
                assert_eq!(
                    last(&stderr(&o)).split("msg=").nth(1).map(str::to_string),
                    last(&stderr(&r)).split("msg=").nth(1).map(str::to_string),
                    "{args:?}\nours: {}\nrunc: {}",
                    describe(&o),
                    describe(&r)
                );
            }
        }
    }
    // delete --force of nothing is fine, as in runc.
    assert!(ours(&["delete", "--force", "nosuch"]).status.success());
    // --log --log-format json: the last line is the error.
    let log = env.base.join("log.json");
    let o = ours(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nosuch",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container does not exist");
    assert!(last["time"].is_string());
    // A missing bundle, a malformed config.json, a bad id.
    let out = env.base.join("x.out");
    let o = env.create(&env.base.join("nowhere"), "x1", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nowhere"), "{}", describe(&o));
    let bad = env.bundle("malformed", &["true"], |_| {});
    std::fs::write(bad.join("config.json"), "{ not json").unwrap();
    let o = env.create(&bad, "x2", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("config.json"), "{}", describe(&o));
    std::fs::remove_file(bad.join("config.json")).unwrap();
    let o = env.create(&bad, "x2", &out, &[]);
    assert!(
        stderr(&o).contains("JSON specification file config.json not found"),
        "{}",
        describe(&o)
    );
    let good = env.bundle("good", &["sleep", "1000"], |_| {});
    let o = env.create(&good, "../x", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid container id"),
        "{}",
        describe(&o)
    );
    // --systemd-cgroup is refused clearly.
    let o = env.create(&good, "x3", &out, &["--systemd-cgroup"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--systemd-cgroup"), "{}", describe(&o));
    // A program that does not exist fails create.
    let nop = env.bundle("noprog", &["/bin/nosuchprogram"], |_| {});
    let o = env.create(&nop, "x4", &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(stderr(&o).contains("nosuchprogram"), "{}", describe(&o));
    assert!(env.entries().is_empty(), "{:?}", env.entries());
    env.assert_no_processes();
    // An id that exists; start twice.
    assert!(env.create(&good, "dup", &out, &[]).status.success());
    let o = env.create(&good, "dup", &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("container with id exists: dup"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["start", "dup"]).status.success());
    let o = env.g(&["start", "dup"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot start an already running container"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["delete", "-f", "dup"]).status.success());
    // checkpoint and restore: not supported.
    for c in ["checkpoint", "restore"] {
        let o = ours(&[c, "dup"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("not supported"), "{}", describe(&o));
    }
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

#[test]
fn spec_features_and_run_detached() {
    let env = Env::new("spec");
    let dir = env.base.join("specdir");
    std::fs::create_dir_all(&dir).unwrap();
    let o = env.g(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(spec["root"]["path"], "rootfs");
    let o = env.g(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    if Path::new("/usr/sbin/runc").exists() {
        let rdir = env.base.join("runcspec");
        std::fs::create_dir_all(&rdir).unwrap();
        let mut c = Command::new("/usr/sbin/runc");
        c.args(["spec", "--bundle"]).arg(&rdir);
        assert!(run_command(c).status.success());
        let theirs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(rdir.join("config.json")).unwrap())
                .unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&spec), keys(&theirs));
        assert_eq!(keys(&spec["process"]), keys(&theirs["process"]));
        assert_eq!(spec["mounts"], theirs["mounts"]);
    }
    let o = env.g(&["features"]);
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
    assert_eq!(f["linux"]["cgroup"]["systemd"], false);
    assert_eq!(
        f["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        "false"
    );
    // run -d: created and started, then force-deleted.
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let pid = env.base.join("run.pid");
    let mut c = Command::new(gvisor_bin());
    c.arg("--root")
        .arg(&env.root)
        .args(["--network", "none", "run", "-d", "--pid-file"])
        .arg(&pid)
        .arg("--bundle")
        .arg(&b)
        .arg("r1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    assert!(c.status().unwrap().success());
    let st = env.state("r1");
    assert_eq!(st["status"], "running");
    assert_eq!(
        st["pid"].as_i64().unwrap().to_string(),
        std::fs::read_to_string(&pid).unwrap()
    );
    assert!(env.g(&["delete", "--force", "r1"]).status.success());
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

#[test]
fn a_killed_keeper_takes_its_sandbox_with_it() {
    let env = Env::new("keeperkill");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let out = env.base.join("c.out");
    assert!(env.create(&b, "kk", &out, &[]).status.success());
    assert!(env.g(&["start", "kk"]).status.success());
    let pid = env.state("kk")["pid"].as_i64().unwrap() as i32;
    // SAFETY: SIGKILL to the keeper this test created.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    env.assert_no_processes();
    assert_eq!(env.state("kk")["status"], "stopped");
    let o = env.g(&["kill", "kk", "TERM"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("container not running"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["delete", "kk"]).status.success());
    assert!(env.entries().is_empty());
}

#[test]
fn a_prestart_hook_sets_up_the_new_network_namespace_as_docker_does() {
    // Docker: a network namespace entry without a path, and a prestart
    // hook that moves the container's veth into /proc/PID/ns/net of the
    // pid in the state; the sandbox then takes that interface.
    let env = Env::new("dockernet");
    let host_if = format!("rch{}", std::process::id() % 100000);
    let octet = 10 + std::process::id() % 200;
    let script = format!(
        "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); \
         ip link add {host_if} type veth peer name {host_if}c && \
         ip link set {host_if}c netns /proc/$pid/ns/net && \
         nsenter --net=/proc/$pid/ns/net ip addr add 10.211.{octet}.2/24 dev {host_if}c && \
         nsenter --net=/proc/$pid/ns/net ip link set {host_if}c up"
    );
    let b = env.bundle("b", &["sh", "-c", "cat /proc/net/dev; ip addr"], |c| {
        c["hooks"] = serde_json::json!({"prestart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", script],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        }]});
    });
    let out = env.base.join("c.out");
    let f = std::fs::File::create(&out).unwrap();
    let mut c = Command::new(gvisor_bin());
    c.arg("--root")
        .arg(&env.root)
        .args(["--network", "sandbox", "create", "--bundle"])
        .arg(&b)
        .arg("n1")
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    let status = c.status().unwrap();
    let cleanup = || {
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
    };
    if !status.success() {
        cleanup();
        panic!("create failed: {}", std::fs::read_to_string(&out).unwrap());
    }
    assert!(env.g(&["start", "n1"]).status.success());
    env.wait_stopped("n1");
    assert!(env.g(&["delete", "n1"]).status.success());
    cleanup();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(&format!("{host_if}c")), "{text}");
    assert!(text.contains(&format!("10.211.{octet}.2")), "{text}");
    env.assert_no_processes();
}

#[test]
fn update_changes_the_sandbox_cgroup() {
    let env = Env::new("update");
    let cg = format!("/gvisor-runc-test-{}", std::process::id());
    let b = env.bundle("b", &["sleep", "1000"], |c| {
        c["linux"]["cgroupsPath"] = cg.clone().into();
    });
    let out = env.base.join("c.out");
    let o = env.create(&b, "u1", &out, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.g(&["start", "u1"]).status.success());
    let o = env.g(&["update", "--pids-limit", "77", "--memory", "256M", "u1"]);
    assert!(o.status.success(), "{}", describe(&o));
    let res = env.base.join("res.json");
    std::fs::write(&res, r#"{"pids": {"limit": 88}}"#).unwrap();
    let o = env.g(&["update", "--resources", res.to_str().unwrap(), "u1"]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = env.g(&["events", "--stats", "u1"]);
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["data"]["pids"]["limit"], 88, "{ev}");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 256u64 << 20, "{ev}");
    let o = env.g(&["update", "--memory", "lots", "u1"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(env.g(&["delete", "-f", "u1"]).status.success());
    for base in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
        assert!(
            !Path::new(&format!("{base}{cg}")).exists(),
            "{base}{cg} left"
        );
    }
    env.assert_no_processes();
}

/// Docker's default root (/var/run/docker/runtime-runc/moby) with a 64-digit
/// id makes the keeper's socket path longer than a sockaddr_un holds: the
/// container still works.
#[test]
fn a_socket_path_longer_than_sun_path_works() {
    let env = Env::new(&format!("long-{}", "r".repeat(40)));
    let id = "0123456789abcdef".repeat(4);
    let sock = env.root.join(&id).join("keeper.sock");
    assert!(sock.as_os_str().len() > 107, "{}", sock.display());
    let b = env.bundle("b", &["sh", "-c", "echo long-root-ok"], |_| {});
    let out = env.base.join("l.out");
    let o = env.create(&b, &id, &out, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(env.state(&id)["status"], "created");
    let o = env.g(&["start", &id]);
    assert!(o.status.success(), "{}", describe(&o));
    env.wait_stopped(&id);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "long-root-ok\n");
    let o = env.g(&["delete", &id]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}

/// A terminal's last output reaches the host before the exit is reported:
/// containerd's runc shim (Docker) closes the console once it has reaped
/// the exec waiter, so output still being copied would be lost.
#[test]
fn exec_terminal_output_is_out_before_the_exit() {
    let env = Env::new("drain");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let out = env.base.join("init.out");
    let o = env.create(&b, "dr", &out, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.g(&["start", "dr"]).status.success());
    let mut c = Command::new("python3");
    c.arg(workspace_root().join("tests/scripts/runc_exec_drain.py"))
        .arg(gvisor_bin())
        .arg(&env.root)
        .arg("dr")
        .arg("20")
        .arg(&env.base);
    let o = run_command(c);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "lost 0 of 20\n");
    assert!(env.g(&["delete", "-f", "dr"]).status.success());
    env.assert_no_processes();
}

/// runc's --preserve-fds: the caller's descriptors 3.. reach the init (at
/// create) and an exec'd process, as the same numbers; one that is not open
/// is an error.
#[test]
fn preserve_fds_pass_descriptors_3_and_up() {
    let env = Env::new("preserve");
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo init-wrote >&3; cat <&4 >&3; ls /proc/self/fd >&3; sleep 1000",
        ],
        |_| {},
    );
    let (input, output) = (env.base.join("in"), env.base.join("out"));
    std::fs::write(&input, "from-the-host\n").unwrap();
    let sh = |script: String| {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script).stdin(Stdio::null());
        run_command(c)
    };
    let g = format!(
        "{} --root {} --network none",
        gvisor_bin().display(),
        env.root.display()
    );
    let o = sh(format!(
        "{g} create --preserve-fds 2 --bundle {} pf 3>{} 4<{} >/dev/null 2>{}",
        b.display(),
        output.display(),
        input.display(),
        env.base.join("create.err").display()
    ));
    assert!(o.status.success(), "{}", describe(&o));
    assert!(env.g(&["start", "pf"]).status.success());
    let want = "init-wrote\nfrom-the-host\n0\n1\n2\n3\n4\n";
    for _ in 0..500 {
        if std::fs::read_to_string(&output).unwrap_or_default() == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&output).unwrap(), want);
    let o = sh(format!(
        "{g} exec --preserve-fds 1 pf sh -c 'cat <&3; ls /proc/self/fd' 3<{}",
        input.display()
    ));
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "from-the-host\n0\n1\n2\n3\n"
    );
    let o = sh(format!("{g} exec --preserve-fds 3 pf true"));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        stderr(&o).contains("descriptor 3 is not open"),
        "{}",
        describe(&o)
    );
    assert!(env.g(&["delete", "-f", "pf"]).status.success());
    assert!(env.entries().is_empty());
    env.assert_no_processes();
}
