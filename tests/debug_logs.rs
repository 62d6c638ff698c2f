//! Debug logs as runsc names them (`--debug-log` directory or pattern, one
//! file per process per run), `--debug-log-format json`, `--log-packets`,
//! `gvisor debug --stacks`, and the containerd shim's `debug-log` option.
//!
//! Requires: root, /dev/kvm, `cargo build -p shim`; the containerd test
//! also containerd, runc, umoci (see tests/ctrd.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gvisor_tests::{
    assert_one_line_error, describe, gvisor_bin, run_command, run_command_timeout,
    sandboxed_command, scratch_dir,
};

fn fresh(name: &str) -> PathBuf {
    let d = scratch_dir().join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn run_do(flags: &[&str], prog: &str, args: &[&str]) -> std::process::Output {
    let o = run_command(sandboxed_command(prog, args, flags));
    assert!(o.status.success(), "{}", describe(&o));
    o
}

/// Checks with python3's json module that every line of `text` is a JSON
/// object with time, level, target and msg; returns the targets.
fn json_targets(name: &str, text: &str) -> Vec<String> {
    let script = "import json,sys\nfor l in sys.stdin:\n    v=json.loads(l)\n    assert isinstance(v,dict) and all(k in v for k in ('time','level','target','msg')), l\n    print(v['target'])\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(text.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{name}: not JSON lines: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `YYYYMMDD-HHMMSS.micros`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 22
        && b[8] == b'-'
        && b[15] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || i == 15 || c.is_ascii_digit())
}

#[test]
fn a_directory_gets_one_file_per_process_per_run_and_nothing_is_overwritten() {
    let dir = fresh("dl-dir");
    let d = format!("{}/", dir.display());
    run_do(&["--debug-log", &d], "/bin/echo", &["one"]);
    run_do(&["--debug-log", &d], "/bin/echo", &["two"]);
    let names = files(&dir);
    assert_eq!(names.len(), 6, "{names:?}");
    let mut runs = std::collections::BTreeMap::<String, Vec<String>>::new();
    for n in &names {
        // gvisor.%TIMESTAMP%.%ID%.%COMMAND%.log
        let parts: Vec<&str> = n.split('.').collect();
        assert_eq!(parts.len(), 6, "{n}");
        assert_eq!(parts[0], "gvisor", "{n}");
        assert!(is_timestamp(&format!("{}.{}", parts[1], parts[2])), "{n}");
        assert!(parts[3].parse::<u32>().is_ok(), "%ID% of do is a pid: {n}");
        assert_eq!(parts[5], "log");
        runs.entry(format!("{}.{}.{}", parts[1], parts[2], parts[3]))
            .or_default()
            .push(parts[4].to_string());
        assert!(
            !read(&dir.join(n)).is_empty(),
            "{n} is empty: every process logs"
        );
    }
    assert_eq!(runs.len(), 2, "{names:?}");
    for cmds in runs.values() {
        assert_eq!(cmds, &["boot", "do", "gofer"], "{names:?}");
    }
    // The launcher names its children's files; the sentry's says it ran.
    let boot = names.iter().find(|n| n.ends_with(".boot.log")).unwrap();
    assert!(read(&dir.join(boot)).contains("sandbox starting"));
    let gofer = names.iter().find(|n| n.ends_with(".gofer.log")).unwrap();
    assert!(read(&dir.join(gofer)).contains("gofer starting"));

    // A fixed name: later runs get suffixes, the first file keeps its text.
    let fixed = fresh("dl-fixed");
    let pat = format!("{}/same.log", fixed.display());
    run_do(&["--debug-log", &pat], "/bin/true", &[]);
    let first = read(&fixed.join("same.log"));
    run_do(&["--debug-log", &pat], "/bin/true", &[]);
    let names = files(&fixed);
    assert_eq!(
        names,
        [
            "same.log",
            "same.log.1",
            "same.log.2",
            "same.log.3",
            "same.log.4",
            "same.log.5"
        ],
        "{names:?}"
    );
    assert_eq!(
        read(&fixed.join("same.log")),
        first,
        "same.log was rewritten"
    );
}

#[test]
fn pattern_variables_expand() {
    let dir = fresh("dl-pattern");
    let pat = format!("{}/%ID%/%COMMAND%-%PID%-%TIMESTAMP%.txt", dir.display());
    let o = run_command(sandboxed_command(
        "/bin/true",
        &[] as &[&str],
        &["--debug-log", &pat],
    ));
    assert!(o.status.success(), "{}", describe(&o));
    let ids = files(&dir);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].parse::<u32>().is_ok(), "{ids:?}");
    let names = files(&dir.join(&ids[0]));
    assert_eq!(names.len(), 3, "{names:?}");
    let mut cmds = Vec::new();
    let mut pids = Vec::new();
    for n in &names {
        let stem = n.strip_suffix(".txt").unwrap();
        let mut it = stem.splitn(3, '-');
        let (cmd, pid, ts) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        cmds.push(cmd.to_string());
        let pid: u32 = pid.parse().unwrap_or_else(|_| panic!("%PID% in {n}"));
        pids.push(pid);
        assert!(is_timestamp(ts), "{n}");
    }
    assert_eq!(cmds, ["boot", "do", "gofer"]);
    // The launcher's pid is the id; the children's host pids differ from it.
    let launcher: u32 = ids[0].parse().unwrap();
    assert_eq!(pids[1], launcher, "{names:?}");
    assert!(
        pids[0] != launcher && pids[2] != launcher && pids[0] != pids[2],
        "{names:?}"
    );
}

#[test]
fn json_lines_parse_as_json() {
    let dir = fresh("dl-json");
    let d = format!("{}/", dir.display());
    run_do(
        &["--debug-log", &d, "--debug-log-format", "json", "--strace"],
        "/bin/echo",
        &["json"],
    );
    let names = files(&dir);
    assert_eq!(names.len(), 3, "{names:?}");
    let mut strace = 0;
    for n in &names {
        let text = read(&dir.join(n));
        assert!(!text.is_empty(), "{n}");
        strace += json_targets(n, &text)
            .iter()
            .filter(|t| *t == "strace")
            .count();
    }
    assert!(strace > 3, "strace lines are JSON lines too ({strace})");
}

#[test]
fn log_packets_shows_a_tcp_syn() {
    let dir = fresh("dl-packets");
    let d = format!("{}/", dir.display());
    // A connection to TEST-NET-1 (it is refused or times out: either way
    // the SYN goes out on eth0).
    let o = run_command_timeout(
        sandboxed_command(
            "/usr/bin/timeout",
            &["2", "/bin/bash", "-c", "echo > /dev/tcp/192.0.2.1/80"],
            &["--network=sandbox", "--log-packets", "--debug-log", &d],
        ),
        Duration::from_secs(60),
    );
    let names = files(&dir);
    let boot = names
        .iter()
        .find(|n| n.ends_with(".boot.log"))
        .unwrap_or_else(|| panic!("{names:?}\n{}", describe(&o)));
    let text = read(&dir.join(boot));
    let syn = text
        .lines()
        .find(|l| l.contains("send eth0 IPv4") && l.contains(":80 TCP [SYN]"));
    assert!(syn.is_some(), "no SYN line in\n{text}");
    let syn = syn.unwrap();
    assert!(
        syn.contains("-> 192.0.2.1:80") && syn.contains("len="),
        "{syn}"
    );
    // Without the flag: no packet lines.
    let quiet = fresh("dl-packets-off");
    let q = format!("{}/", quiet.display());
    let _ = run_command_timeout(
        sandboxed_command(
            "/usr/bin/timeout",
            &["2", "/bin/bash", "-c", "echo > /dev/tcp/192.0.2.1/80"],
            &["--network=sandbox", "--debug-log", &q],
        ),
        Duration::from_secs(60),
    );
    for n in files(&quiet) {
        assert!(!read(&quiet.join(&n)).contains("TCP [SYN]"), "{n}");
    }
}

/// Starts `gvisor do PROG ARGS` in the background; returns it once its
/// sentry is recorded for `gvisor debug`.
fn start_sandbox(prog: &str, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(gvisor_bin());
    cmd.arg("do").arg("--").arg(prog).args(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("starting gvisor do");
    let state = format!("/run/gvisor-rs/{}.pid", child.id());
    for _ in 0..200 {
        if Path::new(&state).exists() {
            // Give the program a moment to reach its blocking call.
            std::thread::sleep(Duration::from_millis(500));
            return child;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{state} did not appear");
}

fn stacks(sandbox: &str) -> std::process::Output {
    let mut cmd = Command::new(gvisor_bin());
    cmd.args(["debug", "--stacks", sandbox]);
    run_command_timeout(cmd, Duration::from_secs(30))
}

#[test]
fn debug_stacks_lists_tasks_in_their_system_calls() {
    let mut sleeper = start_sandbox("/bin/sleep", &["30"]);
    let o = stacks(&sleeper.id().to_string());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(o.status.success(), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    for col in ["PID", "TID", "COMM", "STATE", "SYSCALL", "RIP", "RSP"] {
        assert!(header.contains(col), "{text}");
    }
    let task = lines
        .find(|l| l.contains(" sleep "))
        .unwrap_or_else(|| panic!("no sleep task:\n{text}"));
    let f: Vec<&str> = task.split_whitespace().collect();
    assert_eq!(&f[..4], ["1", "1", "sleep", "sleeping"], "{text}");
    assert!(f[4].contains("nanosleep("), "{text}");
    assert!(f[5].starts_with("0x") && f[5] != "0x0", "rip: {text}");
    assert!(f[6].starts_with("0x") && f[6] != "0x0", "rsp: {text}");

    // A task blocked in read, found through the sentry's own pid.
    let mut cat = start_sandbox("/bin/cat", &[]);
    let state = format!("/run/gvisor-rs/{}.pid", cat.id());
    let sentry = std::fs::read_to_string(&state).unwrap().trim().to_string();
    let o = stacks(&sentry);
    drop(cat.stdin.take());
    let _ = cat.wait();
    assert!(o.status.success(), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.contains(" cat ") && l.contains("sleeping") && l.contains("read(0)")),
        "{text}"
    );
    // The record goes with the sandbox.
    assert!(!Path::new(&state).exists(), "{state} left behind");

    // Not a sandbox: one line.
    let o = stacks("no-such-sandbox");
    let line = assert_one_line_error(&o);
    assert!(line.contains("no-such-sandbox"), "{line}");
    let o = stacks("1");
    let line = assert_one_line_error(&o);
    assert!(line.contains("not a running gvisor sentry"), "{line}");
}

#[test]
fn bad_patterns_and_unwritable_directories_are_one_line_errors() {
    let o = run_command(sandboxed_command(
        "/bin/true",
        &[] as &[&str],
        &["--debug-log", "/tmp/%NAME%.log"],
    ));
    let line = assert_one_line_error(&o);
    assert!(
        line.contains("--debug-log") && line.contains("%NAME%"),
        "{line}"
    );
    let o = run_command(sandboxed_command(
        "/bin/true",
        &[] as &[&str],
        &["--debug-log", "/proc/no-such-dir/"],
    ));
    let line = assert_one_line_error(&o);
    assert!(line.contains("/proc/no-such-dir"), "{line}");
    let o = run_command(sandboxed_command(
        "/bin/true",
        &[] as &[&str],
        &["--debug-log-format", "xml"],
    ));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("xml"),
        "{}",
        describe(&o)
    );
}

#[test]
fn the_containerd_shim_writes_its_files_into_the_option_directory() {
    use gvisor_tests::ctrd::{Containerd, RUNTIME};
    let c = Containerd::start();
    let logs = c.dir.join("logs");
    std::fs::write(
        c.dir.join("gvisor.toml"),
        format!(
            "platform = \"kvm\"\ndebug-log = \"{}/%ID%/\"\ndebug-log-format = \"json\"\nstrace = true\n",
            logs.display()
        ),
    )
    .unwrap();
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "docker.io/library/busybox:latest",
        "dlogs",
        "echo",
        "hello",
    ]);
    assert!(o.status.success(), "{}\n{}", describe(&o), c.log_tail());
    let dir = logs.join("dlogs");
    let names = files(&dir);
    for cmd in ["shim", "boot", "gofer"] {
        let n = names
            .iter()
            .find(|n| n.ends_with(&format!(".dlogs.{cmd}.log")))
            .unwrap_or_else(|| panic!("no {cmd} log in {names:?}"));
        let text = read(&dir.join(n));
        assert!(!text.is_empty(), "{n} is empty");
        json_targets(n, &text);
    }
    // `gvisor debug --stacks` finds a pod's sandbox by its id.
    let o = c.ctr(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        "docker.io/library/busybox:latest",
        "dsleep",
        "sleep",
        "30",
    ]);
    assert!(o.status.success(), "{}\n{}", describe(&o), c.log_tail());
    let mut listed = String::new();
    for _ in 0..50 {
        let o = stacks("dsleep");
        listed = String::from_utf8_lossy(&o.stdout).into_owned();
        if listed.contains("nanosleep(") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = c.ctr(&["task", "kill", "-s", "KILL", "dsleep"]);
    for _ in 0..50 {
        if c.ctr(&["task", "rm", "dsleep"]).status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = c.ctr(&["containers", "rm", "dsleep"]);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(" sleep ") && l.contains("nanosleep(")),
        "{listed}"
    );
    let boot = names.iter().find(|n| n.ends_with(".boot.log")).unwrap();
    let text = read(&dir.join(boot));
    assert!(
        json_targets(boot, &text).iter().any(|t| t == "strace"),
        "strace goes to the sentry's log:\n{text}"
    );
}

#[test]
fn gvisor_run_names_files_by_container_id() {
    let dir = scratch_dir().join("dl-bundle");
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("rootfs/tmp")).unwrap();
    std::fs::copy(gvisor_tests::busybox(), bin.join("busybox")).unwrap();
    for a in [
        "sh", "echo", "cat", "ls", "id", "hostname", "mkdir", "true", "mv", "rm", "ln", "grep",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("file"), "shared-data\n").unwrap();
    let config = std::fs::read_to_string(
        gvisor_tests::workspace_root().join("tests/bundles/busybox-config.json"),
    )
    .unwrap()
    .replace("@SHARE@", &share.to_string_lossy());
    std::fs::write(dir.join("config.json"), config).unwrap();
    let logs = fresh("dl-run");
    let mut c = Command::new(gvisor_bin());
    c.arg("run")
        .arg("--bundle")
        .arg(&dir)
        .arg("--debug-log")
        .arg(format!("{}/%ID%.%COMMAND%.log", logs.display()))
        .arg("logs-c1");
    let o = run_command(c);
    assert_eq!(o.status.code(), Some(7), "{}", describe(&o));
    assert_eq!(
        files(&logs),
        ["logs-c1.boot.log", "logs-c1.gofer.log", "logs-c1.run.log"]
    );
}
