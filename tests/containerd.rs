//! End to end through containerd: `ctr` drives a private containerd (see
//! `ctrd`) that runs containers with `--runtime io.containerd.gvisor.v1`.
//!
//! Requires: root, /dev/kvm, containerd + runc + umoci (Debian packages),
//! python3 (for the terminal test), and `cargo build -p shim`.

use gvisor_tests::ctrd::{processes_matching, Containerd, RUNTIME};

const IMAGE: &str = "docker.io/library/busybox:latest";

fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(c: &Containerd, id: &str, extra: &[&str], cmd: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--rm", "--runtime", RUNTIME];
    args.extend_from_slice(extra);
    args.push(IMAGE);
    args.push(id);
    args.extend_from_slice(cmd);
    c.ctr(&args)
}

/// Nothing of container `id` is left: no task, container, shim or sandbox.
fn assert_gone(c: &Containerd, id: &str) {
    let tasks = c.ctr(&["task", "ls", "-q"]);
    assert!(
        !String::from_utf8_lossy(&tasks.stdout)
            .lines()
            .any(|l| l == id),
        "task {id} left: {}",
        text(&tasks)
    );
    let cs = c.ctr(&["containers", "ls", "-q"]);
    assert!(
        !String::from_utf8_lossy(&cs.stdout).lines().any(|l| l == id),
        "container {id} left"
    );
    // The shim and its sandbox exit after the last container is deleted.
    let mut left = Vec::new();
    for _ in 0..50 {
        left = processes_matching(&format!("-id {id} "));
        left.extend(
            processes_matching(&c.dir.display().to_string())
                .into_iter()
                .filter(|p| p.contains("containerd-shim-gvisor")),
        );
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(left.is_empty(), "processes left for {id}: {left:?}");
}

/// `ctr task kill -s SIG`, wait for STOPPED, check the exit status the
/// delete reports, remove the container, and check nothing is left.
fn kill_and_remove(c: &Containerd, id: &str, sig: &str, status: u32) {
    let k = c.ctr(&["task", "kill", "-s", sig, id]);
    assert!(k.status.success(), "{}", text(&k));
    let mut ls = String::new();
    for _ in 0..50 {
        ls = String::from_utf8_lossy(&c.ctr(&["task", "ls"]).stdout).into_owned();
        if ls.contains("STOPPED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ls.contains("STOPPED"), "{ls}");
    let d = c.ctr(&["task", "rm", id]);
    assert!(d.status.success(), "{}", text(&d));
    // ctr prints the status of a task that did not exit 0.
    assert!(
        String::from_utf8_lossy(&d.stderr).contains(&format!("exit code {status}")),
        "{}",
        text(&d)
    );
    assert!(c.ctr(&["containers", "rm", id]).status.success());
    assert_gone(c, id);
}

#[test]
fn run_prints_hello_exit_codes_propagate_and_nothing_is_left() {
    let c = Containerd::start();
    let o = run(&c, "hello", &[], &["echo", "hello"]);
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    assert_gone(&c, "hello");
    let o = run(
        &c,
        "seven",
        &[],
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    assert_gone(&c, "seven");
    // A program that is not there: the task cannot be created.
    let o = run(&c, "nope", &[], &["/bin/no-such-program"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-program"),
        "{}",
        text(&o)
    );
    let _ = c.ctr(&["containers", "rm", "nope"]);
    assert_gone(&c, "nope");
    // stdin reaches the program and its end is seen.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "echo piped-in | ctr -a {} run --rm --runtime {RUNTIME} {IMAGE} stdin cat",
        c.socket().display()
    ));
    let o = gvisor_tests::run_command_timeout(cmd, std::time::Duration::from_secs(60));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "piped-in\n",
        "{}",
        text(&o)
    );
    assert_gone(&c, "stdin");
}

/// Runs `argv` (a `ctr` command asking for a terminal) on a pseudo-terminal
/// of `rows`x`cols`, types `tty; stty size; echo $((6*7))` and then
/// `exit CODE` into its shell, and checks that the shell had a pty of that
/// size and that `ctr` exited with CODE. Returns what it printed.
fn check_terminal(c: &Containerd, argv: &[String], rows: u16, cols: u16, code: u8) -> String {
    let list: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    let script = format!(
        r##"
import fcntl, os, pty, select, struct, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("ctr", [{list}])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", {rows}, {cols}, 0, 0))
out = b""
def drain(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
def wait_for(s, t):
    end = time.time() + t
    while s not in out and time.time() < end:
        drain(0.2)
wait_for(b"# ", 20)
os.write(fd, b"tty; stty size; echo $((6*7))\r")
wait_for(b"42", 20)
os.write(fd, b"exit {code}\r")
drain(5)
_, st = os.waitpid(pid, 0)
print(out.decode(errors="replace"))
print("EXIT", os.WEXITSTATUS(st))
"##,
        list = list.join(", ")
    );
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c").arg(script);
    let o = gvisor_tests::run_command_timeout(cmd, std::time::Duration::from_secs(90));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("/dev/pts/"), "{}\n{}", text(&o), c.log_tail());
    assert!(
        out.contains(&format!("{rows} {cols}")),
        "ResizePty reached the terminal: {out}"
    );
    assert!(out.contains("42"), "{out}");
    assert!(out.contains(&format!("EXIT {code}")), "{out}");
    out.into_owned()
}

#[test]
fn terminal_with_window_size() {
    let c = Containerd::start();
    let sock = c.socket().display().to_string();
    let argv: Vec<String> = [
        "ctr",
        "-a",
        &sock,
        "run",
        "--rm",
        "-t",
        "--runtime",
        RUNTIME,
    ]
    .iter()
    .chain(&[IMAGE, "tty1", "sh"])
    .map(|s| s.to_string())
    .collect();
    let out = check_terminal(&c, &argv, 24, 80, 3);
    assert!(
        out.contains("/dev/pts/0"),
        "the console is the first pty: {out}"
    );
    assert_gone(&c, "tty1");
}

#[test]
fn exec_kill_ps_pause_resume_metrics_and_events() {
    let c = Containerd::start();
    let sock = c.socket().display().to_string();
    // Record events while the container lives.
    let events_file = c.dir.join("events.txt");
    let mut ev = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec ctr -a {sock} events > {}",
            events_file.display()
        ))
        .spawn()
        .expect("ctr events");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        IMAGE,
        "box",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    let ls = c.ctr(&["task", "ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("RUNNING"),
        "{}",
        text(&ls)
    );
    let ps = c.ctr(&["task", "ps", "box"]);
    let pids: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(pids, ["1"], "{}", text(&ps));
    // exec without a terminal: its output, its exit code, and the
    // container's processes seen from inside.
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "box",
        "sh",
        "-c",
        "echo in-exec; ps -o pid,args; exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("in-exec\n"), "{out}");
    assert!(out.contains("sleep 1000"), "{out}");
    // An exec that runs on while ps lists it.
    let o = c.ctr(&[
        "task",
        "exec",
        "-d",
        "--exec-id",
        "e2",
        "box",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ps = c.ctr(&["task", "ps", "box"]);
    assert_eq!(
        String::from_utf8_lossy(&ps.stdout).lines().count(),
        3,
        "{}",
        text(&ps)
    );
    // Pause stops every task of the container; resume restarts them.
    assert!(c.ctr(&["task", "pause", "box"]).status.success());
    let ls = c.ctr(&["task", "ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("PAUSED"),
        "{}",
        text(&ls)
    );
    let o = c.ctr(&["task", "exec", "--exec-id", "e3", "box", "true"]);
    assert!(
        !o.status.success(),
        "exec into a paused container: {}",
        text(&o)
    );
    assert!(c.ctr(&["task", "resume", "box"]).status.success());
    let ls = c.ctr(&["task", "ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("RUNNING"),
        "{}",
        text(&ls)
    );
    let o = c.ctr(&["task", "exec", "--exec-id", "e4", "box", "echo", "resumed"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "resumed\n",
        "{}",
        text(&o)
    );
    // Metrics: the sandbox cgroup and the container's figures.
    let m = c.ctr(&["task", "metrics", "box"]);
    let mt = String::from_utf8_lossy(&m.stdout);
    assert!(
        m.status.success() && mt.contains("memory.usage_in_bytes"),
        "{}",
        text(&m)
    );
    let pids = mt
        .lines()
        .find(|l| l.starts_with("pids.current"))
        .and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(pids, Some("2"), "two processes: {mt}");
    // Kill: SIGTERM to the init, 143.
    kill_and_remove(&c, "box", "TERM", 143);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = ev.kill();
    let _ = ev.wait();
    let events = std::fs::read_to_string(&events_file).unwrap_or_default();
    for topic in [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exec-started",
        "/tasks/paused",
        "/tasks/resumed",
        "/tasks/exit",
        "/tasks/delete",
    ] {
        assert!(events.contains(topic), "no {topic} event in:\n{events}");
    }
}

#[test]
fn bind_mounts_directory_and_file() {
    let c = Containerd::start();
    let host = c.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let file = c.dir.join("motd");
    std::fs::write(&file, "file-bind\n").unwrap();
    let m1 = format!(
        "type=bind,src={},dst=/data,options=rbind:rw",
        host.display()
    );
    let m2 = format!(
        "type=bind,src={},dst=/etc/motd,options=rbind:ro",
        file.display()
    );
    let o = run(
        &c,
        "binds",
        &["--mount", &m1, "--mount", &m2],
        &[
            "sh",
            "-c",
            "cat /data/in /etc/motd; echo from-sandbox > /data/out",
        ],
    );
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from-host\nfile-bind\n");
    assert_eq!(
        std::fs::read_to_string(host.join("out")).unwrap_or_default(),
        "from-sandbox\n"
    );
    assert_gone(&c, "binds");
}

#[test]
fn containerd_restart_keeps_the_shim() {
    let c = Containerd::start();
    let o = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        IMAGE,
        "survivor",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    let mine = format!("-address {} ", c.socket().display());
    let shims_before = processes_matching(&mine);
    assert_eq!(shims_before.len(), 1, "{shims_before:?}");
    c.restart();
    let ls = c.ctr(&["task", "ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("RUNNING"),
        "{}\n{}",
        text(&ls),
        c.log_tail()
    );
    assert_eq!(
        processes_matching(&mine),
        shims_before,
        "the same shim serves on"
    );
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "after",
        "survivor",
        "echo",
        "still-here",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "still-here\n",
        "{}",
        text(&o)
    );
    kill_and_remove(&c, "survivor", "KILL", 137);
}

#[test]
fn make_install_and_uninstall() {
    let dest = std::env::temp_dir().join(format!("gvisor-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let bindir = gvisor_tests::gvisor_bin().parent().unwrap().to_path_buf();
    let make = |target: &str| {
        let mut cmd = std::process::Command::new("make");
        cmd.current_dir(gvisor_tests::workspace_root())
            .arg("-s")
            .arg(target)
            .arg(format!("DESTDIR={}", dest.display()))
            .arg(format!("INSTALL_FROM={}", bindir.display()));
        gvisor_tests::run_command_timeout(cmd, std::time::Duration::from_secs(60))
    };
    let o = make("install");
    assert!(o.status.success(), "{}", text(&o));
    for f in [
        "usr/local/bin/gvisor",
        "usr/local/bin/containerd-shim-gvisor-v1",
        "etc/containerd/conf.d/gvisor.toml",
        "etc/containerd/gvisor.toml",
        "etc/containerd/config.toml",
    ] {
        assert!(dest.join(f).is_file(), "{f} not installed");
    }
    let dropin = std::fs::read_to_string(dest.join("etc/containerd/conf.d/gvisor.toml")).unwrap();
    assert!(dropin.contains("runtime_type = \"io.containerd.gvisor.v1\""));
    // (The shim's unit tests parse deploy/gvisor.toml with its own parser.)
    assert_eq!(
        std::fs::read(dest.join("etc/containerd/gvisor.toml")).unwrap(),
        std::fs::read(gvisor_tests::workspace_root().join("deploy/gvisor.toml")).unwrap()
    );
    let o = make("uninstall");
    assert!(o.status.success(), "{}", text(&o));
    let left: Vec<_> = walk(&dest);
    assert!(left.is_empty(), "left after uninstall: {left:?}");
    let _ = std::fs::remove_dir_all(&dest);
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn exec_with_a_terminal() {
    let c = Containerd::start();
    let o = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        IMAGE,
        "ttyexec",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    let sock = c.socket().display().to_string();
    let argv: Vec<String> = [
        "ctr",
        "-a",
        &sock,
        "task",
        "exec",
        "-t",
        "--exec-id",
        "t1",
        "ttyexec",
        "sh",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    check_terminal(&c, &argv, 30, 100, 4);
    kill_and_remove(&c, "ttyexec", "KILL", 137);
}

#[test]
fn out_of_memory_in_the_sandbox_cgroup_is_reported() {
    let c = Containerd::start();
    let events_file = c.dir.join("oom-events.txt");
    let mut ev = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec ctr -a {} events > {}",
            c.socket().display(),
            events_file.display()
        ))
        .spawn()
        .expect("ctr events");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // sort holds its 300 MB line in memory, under a 100 MB limit.
    let o = run(
        &c,
        "oom",
        &["--memory-limit", "100000000"],
        &["sh", "-c", "head -c 300000000 /dev/zero | sort | wc -c"],
    );
    assert_eq!(o.status.code(), Some(137), "{}\n{}", text(&o), c.log_tail());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = ev.kill();
    let _ = ev.wait();
    let events = std::fs::read_to_string(&events_file).unwrap_or_default();
    assert!(events.contains("/tasks/oom"), "no OOM event in:\n{events}");
    assert_gone(&c, "oom");
}

#[test]
fn pause_stops_the_programs_until_resume() {
    let c = Containerd::start();
    let host = c.dir.join("ticks");
    std::fs::create_dir_all(&host).unwrap();
    let m = format!(
        "type=bind,src={},dst=/data,options=rbind:rw",
        host.display()
    );
    let o = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        "--mount",
        &m,
        IMAGE,
        "ticker",
        "sh",
        "-c",
        "while true; do echo t >> /data/ticks; sleep 0.05; done",
    ]);
    assert!(o.status.success(), "{}\n{}", text(&o), c.log_tail());
    let size = || std::fs::metadata(host.join("ticks")).map_or(0, |m| m.len());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(size() > 0, "the ticker runs");
    assert!(c.ctr(&["task", "pause", "ticker"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let paused_at = size();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(size(), paused_at, "nothing runs while paused");
    assert!(c.ctr(&["task", "resume", "ticker"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(size() > paused_at, "it runs again after resume");
    kill_and_remove(&c, "ticker", "KILL", 137);
}
