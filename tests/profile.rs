//! `--profile` (issue 15 item 1): the app→sentry profile has exactly the
//! calls a program made; JSON and text agree; the sentry→host and
//! gofer→host profiles name the same host calls as `strace -f -C -p` of
//! the same processes over the same window; without tracefs the host
//! sections say why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gvisor_tests::{
    compile_c, describe, gvisor_bin, run_command, run_native, sandboxed_command, scratch_dir,
};
use serde_json::Value;

fn profile_json(prog: &Path, args: &[&str], name: &str) -> Value {
    let path = scratch_dir().join(name);
    let flag = format!("--profile={}", path.display());
    let out = run_command(sandboxed_command(prog, args, &[flag.as_str()]));
    assert!(out.status.success(), "{}", describe(&out));
    let text = std::fs::read_to_string(&path).expect("profile written");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("profile JSON: {e}\n{text}"))
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name} in {rows}"))
}

fn names(rows: &Value) -> BTreeSet<String> {
    rows.as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn sorted_by_calls(rows: &Value) -> bool {
    let calls: Vec<u64> = rows
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["calls"].as_u64()).collect())
        .unwrap_or_default();
    calls.windows(2).all(|w| w[0] >= w[1])
}

/// The names of an `strace -c` summary (after its "% time" header).
fn strace_summary_names(text: &str) -> BTreeSet<String> {
    let mut in_summary = false;
    let mut out = BTreeSet::new();
    for l in text.lines() {
        if l.starts_with("% time") {
            in_summary = true;
            continue;
        }
        if !in_summary || l.starts_with("---") {
            continue;
        }
        if let Some(name) = l.split_whitespace().last() {
            if name != "total" {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[test]
fn app_profile_counts_exactly_the_calls_made() {
    let prog = compile_c("profile_counts");
    let p = profile_json(&prog, &[] as &[&str], "counts.json");
    let app = &p["app"];
    let rows = &app["syscalls"];
    let getppid = row(rows, "getppid");
    assert_eq!(getppid["calls"], 1000, "{getppid}");
    assert_eq!(getppid["errors"], 0);
    let open = row(rows, "open");
    assert_eq!(
        (open["calls"].as_u64(), open["errors"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(row(rows, "write")["calls"], 3);
    assert!(sorted_by_calls(rows), "{rows}");
    // distinct: the rows, and the same names a native `strace -f -c` sees
    // (execve is the loader's, done by the sentry in the sandbox; exit_group
    // never returns so strace -c leaves it out).
    let got = names(rows);
    assert_eq!(app["total"]["distinct"].as_u64(), Some(got.len() as u64));
    let total_calls: u64 = rows
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["calls"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(app["total"]["calls"].as_u64(), Some(total_calls));
    let summary = scratch_dir().join("counts.native.strace");
    let out = run_native(
        "strace",
        &[
            "-f",
            "-c",
            "-o",
            summary.to_str().unwrap(),
            prog.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let mut native = strace_summary_names(&std::fs::read_to_string(&summary).unwrap());
    native.remove("execve");
    native.insert("exit_group".into());
    assert_eq!(got, native, "sandbox profile vs native strace -c");
    assert_eq!(p["command"][0].as_str(), prog.to_str());
    assert!(p["wall_ns"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn app_profile_has_a_row_per_process() {
    let prog = compile_c("profile_counts");
    let p = profile_json(&prog, &["fork"], "fork.json");
    let procs = p["app"]["processes"].as_array().expect("processes");
    assert_eq!(procs.len(), 2, "{procs:?}");
    assert_eq!(procs[0]["pid"], 1);
    assert_eq!(procs[0]["command"], "profile_counts");
    assert_eq!(row(&procs[0]["syscalls"], "getppid")["calls"], 1000);
    assert_eq!(row(&procs[0]["syscalls"], "fork")["calls"], 1);
    assert_eq!(procs[1]["command"], "profile_counts");
    assert_eq!(row(&procs[1]["syscalls"], "getpid")["calls"], 5);
    assert_eq!(procs[1]["total"]["distinct"], 2, "getpid and exit_group");
    assert_eq!(row(&p["app"]["syscalls"], "getpid")["calls"], 5);
    assert_eq!(row(&p["app"]["syscalls"], "exit_group")["calls"], 2);
}

/// calls and errors by name of the first table after `title`.
fn text_table(text: &str, title: &str) -> BTreeMap<String, (u64, u64)> {
    let mut rows = BTreeMap::new();
    let mut lines = text.lines().skip_while(|l| *l != title).skip(3);
    for l in lines.by_ref() {
        if l.starts_with("---") {
            break;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], name
        let (calls, errors) = match f.len() {
            5 => (f[3], "0"),
            6 => (f[3], f[4]),
            _ => panic!("bad row {l:?}"),
        };
        rows.insert(
            f[f.len() - 1].to_string(),
            (calls.parse().unwrap(), errors.parse().unwrap()),
        );
    }
    rows
}

#[test]
fn text_and_json_agree() {
    let prog = compile_c("profile_counts");
    let p = profile_json(&prog, &["fork"], "agree.json");
    // Without a path: text on stderr.
    let out = run_command(sandboxed_command(&prog, &["fork"], &["--profile"]));
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    // A path not ending in .json: text too.
    let txt = scratch_dir().join("agree.txt");
    let flag = format!("--profile={}", txt.display());
    let out = run_command(sandboxed_command(&prog, &["fork"], &[flag.as_str()]));
    assert!(out.status.success(), "{}", describe(&out));
    let file_text = std::fs::read_to_string(&txt).unwrap();
    for t in [&text, &file_text] {
        let whole = text_table(t, "app -> sentry (whole sandbox)");
        let json: BTreeMap<String, (u64, u64)> = p["app"]["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    (r["calls"].as_u64().unwrap(), r["errors"].as_u64().unwrap()),
                )
            })
            .collect();
        // rseq may or may not fail the same way run to run? It does: same
        // program, same sentry.
        assert_eq!(whole, json, "{t}");
        assert!(t.contains(&format!("distinct: {}", json.len())), "{t}");
        assert!(
            t.contains("app -> sentry: process 2 (profile_counts)"),
            "{t}"
        );
        assert!(t.contains("sentry -> host\n    calls syscall\n"), "{t}");
        assert!(t.contains("gofer -> host\n    calls syscall\n"), "{t}");
    }
}

fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for k in kids
            .split_whitespace()
            .filter_map(|k| k.parse::<u32>().ok())
        {
            let cmd = std::fs::read(format!("/proc/{k}/cmdline")).unwrap_or_default();
            let argv0 = cmd.split(|&b| b == 0).next().unwrap_or_default();
            out.push((k, String::from_utf8_lossy(argv0).into_owned()));
        }
    }
    out
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host calls strace saw: its -c summary plus the calls that never
/// returned (exit, exit_group, a call the process was killed in), which
/// strace shows as `= ?` and -c leaves out.
fn strace_names(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut names = strace_summary_names(&text);
    for l in text.lines() {
        if !l.trim_end().ends_with("= ?") {
            continue;
        }
        let rest = l.split_once(' ').map(|(_, r)| r.trim_start()).unwrap_or("");
        let name = rest
            .strip_prefix("<... ")
            .and_then(|r| r.split(' ').next())
            .or_else(|| rest.split('(').next());
        if let Some(n) = name {
            names.insert(n.to_string());
        }
    }
    names
}

#[test]
fn host_profiles_name_what_strace_sees() {
    let prog = compile_c("profile_host");
    let dir = scratch_dir().join("host");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("p.json");
    let hold = dir.join("hold");
    // Debug builds hold the program until `hold` exists, with the host
    // counting already on: both strace's attach and the profile's window
    // then start before the program's first instruction and end with the
    // processes.
    let mut cmd = Command::new(gvisor_bin());
    cmd.arg("do")
        .arg(format!("--profile={}", json.display()))
        .arg("--")
        .arg(&prog)
        .env("GVISOR_PROFILE_HOLD", &hold)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut launcher = cmd.spawn().unwrap();
    let lpid = launcher.id();
    // The gofer's instance is set up last; its event enabled last.
    let enabled = format!(
        "/sys/kernel/tracing/instances/gvisor-{lpid}-gofer/events/raw_syscalls/sys_enter/enable"
    );
    wait_until("the profile's trace instances", || {
        std::fs::read_to_string(&enabled).is_ok_and(|e| e.trim() == "1")
    });
    let kids = children(lpid);
    let pid_of = |suffix: &str| {
        kids.iter()
            .find(|(_, a)| a.ends_with(suffix))
            .map(|(p, _)| *p)
            .unwrap_or_else(|| panic!("no {suffix} child of the launcher: {kids:?}"))
    };
    let mut straces = Vec::new();
    for (what, pid) in [("sentry", pid_of("sentry")), ("gofer", pid_of("gofer"))] {
        let out = dir.join(format!("{what}.strace"));
        let err = dir.join(format!("{what}.strace.err"));
        let child = Command::new("strace")
            .args(["-f", "-C", "-o"])
            .arg(&out)
            .arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("strace (deploy/install-deps.sh run)");
        straces.push((what, child, out, err));
    }
    for (what, _, _, err) in &straces {
        wait_until(&format!("strace attached to the {what}"), || {
            std::fs::read_to_string(err).is_ok_and(|e| e.contains("attached"))
        });
    }
    std::fs::write(&hold, "").unwrap();
    let status = launcher.wait().unwrap();
    assert!(status.success(), "gvisor do: {status:?}");
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for (what, mut child, out, _) in straces {
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "strace of the {what} did not end"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let section = &p[format!("{what}_host")];
        assert_eq!(section["source"], "ftrace", "{section}");
        assert_eq!(section["lost"], 0, "{section}");
        assert!(sorted_by_calls(&section["syscalls"]));
        let profiled = names(&section["syscalls"]);
        assert_eq!(section["distinct"].as_u64(), Some(profiled.len() as u64));
        let seen = strace_names(&out);
        assert_eq!(
            profiled, seen,
            "{what}: profile (left) vs strace -f -C -p (right)"
        );
    }
    assert!(
        !std::fs::read_dir("/sys/kernel/tracing/instances")
            .unwrap()
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("gvisor-{lpid}-"))),
        "trace instances left behind"
    );
}

#[test]
fn without_tracefs_the_host_sections_say_unavailable() {
    // A mount namespace whose /sys/kernel is an empty tmpfs: no tracefs
    // there and nowhere to mount it.
    let prog = compile_c("profile_counts");
    let json = scratch_dir().join("notrace.json");
    let script = format!(
        "mount -t tmpfs none /sys/kernel && exec {} do --profile={} -- {}",
        gvisor_bin().display(),
        json.display(),
        prog.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    let out = run_command(cmd);
    assert!(out.status.success(), "{}", describe(&out));
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for s in ["sentry_host", "gofer_host"] {
        assert_eq!(p[s]["source"], Value::Null);
        let why = p[s]["unavailable"].as_str().unwrap_or("");
        assert!(why.contains("tracefs"), "{}", p[s]);
    }
    assert_eq!(row(&p["app"]["syscalls"], "getppid")["calls"], 1000);
}

#[test]
fn a_killed_sandbox_leaves_no_trace_instance() {
    // The launcher killed midway leaves its instances; the next start
    // sweeps instances whose launcher is gone.
    let prog = compile_c("profile_host");
    let hold = scratch_dir().join("never");
    let mut cmd = Command::new(gvisor_bin());
    cmd.arg("do")
        .arg("--profile=/dev/null")
        .arg("--")
        .arg(&prog)
        .env("GVISOR_PROFILE_HOLD", &hold)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut launcher = cmd.spawn().unwrap();
    let lpid = launcher.id();
    let instance = format!("/sys/kernel/tracing/instances/gvisor-{lpid}-sentry");
    wait_until("the trace instance", || Path::new(&instance).exists());
    let kids = children(lpid);
    // SAFETY: killing our own child and the processes it started.
    unsafe { libc::kill(lpid as i32, libc::SIGKILL) };
    for (k, _) in kids {
        // SAFETY: as above.
        unsafe { libc::kill(k as i32, libc::SIGKILL) };
    }
    let _ = launcher.wait();
    assert!(Path::new(&instance).exists());
    let out = run_command(sandboxed_command(
        compile_c("profile_counts"),
        &[] as &[&str],
        &["--profile=/dev/null"],
    ));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!Path::new(&instance).exists(), "{instance} not swept");
}

#[test]
fn containerd_runtime_option_writes_a_profile_per_container() {
    use gvisor_tests::ctrd::{Containerd, RUNTIME};
    const IMAGE: &str = "docker.io/library/busybox:latest";
    let c = Containerd::start();
    let dir = scratch_dir().join("ctrd-profile");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("gvisor.toml");
    std::fs::write(
        &toml,
        format!(
            "debug-log = \"{}/%ID%\"\nprofile = true\nnetwork = \"none\"\n",
            logs.display()
        ),
    )
    .unwrap();
    let toml_arg = toml.display().to_string();
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "--runtime-config-path",
        &toml_arg,
        IMAGE,
        "prof1",
        "sh",
        "-c",
        "cat /etc/passwd >/dev/null; echo hi",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "hi");
    let json = logs.join("prof1/profile.prof1.json");
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(p["sandbox"], "prof1");
    assert_eq!(p["command"][0], "sh");
    let procs = p["app"]["processes"].as_array().unwrap();
    assert!(procs.len() >= 2, "sh and cat: {procs:?}");
    assert!(procs.iter().any(|p| p["command"] == "cat"), "{procs:?}");
    assert!(p["app"]["total"]["distinct"].as_u64().unwrap_or(0) > 5);
    for s in ["sentry_host", "gofer_host"] {
        assert_eq!(p[s]["source"], "ftrace", "{}", p[s]);
        assert!(p[s]["distinct"].as_u64().unwrap_or(0) > 0, "{}", p[s]);
    }
    let text = std::fs::read_to_string(logs.join("prof1/profile.prof1.txt")).unwrap();
    assert!(text.contains("app -> sentry (whole sandbox)"), "{text}");

    // profile = true without a debug-log directory: one line at create.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "profile = true\nnetwork = \"none\"\n").unwrap();
    let bad_arg = bad.display().to_string();
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "--runtime-config-path",
        &bad_arg,
        IMAGE,
        "prof2",
        "true",
    ]);
    assert!(!o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("profile = true needs debug-log"),
        "{}",
        describe(&o)
    );
}

#[test]
fn gvisor_run_writes_the_profile_of_a_bundle() {
    let dir = scratch_dir().join("bundle-profile");
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(gvisor_tests::busybox(), bin.join("busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"args": ["/bin/sh", "-c", "echo hi; (echo sub); echo end"], "cwd": "/",
                        "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}}"#,
    )
    .unwrap();
    let json = dir.join("p.json");
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.arg("run")
            .arg(format!("--profile={}", json.display()))
            .arg("--bundle")
            .arg(&dir)
            .arg("prof-run");
        c
    });
    assert!(out.status.success(), "{}", describe(&out));
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(p["sandbox"], "prof-run");
    assert_eq!(p["command"][0], "/bin/sh");
    assert!(row(&p["app"]["syscalls"], "write")["calls"].as_u64() >= Some(2));
    assert!(p["app"]["processes"]
        .as_array()
        .is_some_and(|a| a.len() >= 2));
    assert_eq!(p["sentry_host"]["source"], "ftrace");
}
