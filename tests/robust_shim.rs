//! Robustness of the launcher, the platform and bundle checking (issue 11,
//! items 3, 9 and 10): privileged instructions of the program, bad
//! config.json input, resource limits of `gvisor do`/`gvisor run`, and the
//! sentry's panic path.

use gvisor_tests::*;

/// `in`/`out`/`ins`/`outs` (the sandbox's own syscall port included),
/// cli/sti/hlt, MSRs and control registers from user mode: SIGSEGV with
/// SI_KERNEL at the instruction, as natively (was SIGKILL plus an ERROR
/// log for `in` from port 0x10).
#[test]
fn privileged_instructions_give_sigsegv_as_natively() {
    let prog = compile_c("rs_privinsn");
    let native = run_native(&prog, &[] as &[&str]);
    let sandboxed = run_sandboxed(&prog, &[] as &[&str], &[] as &[&str]);
    assert_same(&native, &sandboxed);
    let err = String::from_utf8_lossy(&sandboxed.stderr);
    assert!(!err.contains("ERROR"), "{}", describe(&sandboxed));
}

/// A panic in the confined sentry, and a failed allocation (with
/// RUST_BACKTRACE=1, whose backtrace looked up the working directory:
/// getcwd, outside the allowlist), end in one line "the sentry panicked:
/// ..." and exit 125, not in "killed by SIGSYS". Debug builds only:
/// GVISOR_DEBUG_PANIC makes the sentry panic or fail an allocation after
/// confinement.
#[test]
fn sentry_panic_and_failed_allocation_give_a_message_not_sigsys() {
    for (what, expect) in [
        (
            "panic",
            "the sentry panicked: GVISOR_DEBUG_PANIC asked for a panic",
        ),
        ("alloc", "the sentry panicked: memory allocation of"),
    ] {
        let mut cmd = sandboxed_command("/bin/true", &[] as &[&str], &[] as &[&str]);
        cmd.env("GVISOR_DEBUG_PANIC", what)
            .env("RUST_BACKTRACE", "1");
        let out = run_command(cmd);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{what}: {}", describe(&out));
        assert!(err.contains(expect), "{what}: {}", describe(&out));
        assert!(!err.contains("SIGSYS"), "{what}: {}", describe(&out));
        assert!(
            !err.contains("forbidden host system call"),
            "{what}: {}",
            describe(&out)
        );
    }
    // The program still sees the caller's RUST_BACKTRACE.
    let mut cmd = sandboxed_command("/bin/sh", &["-c", "echo $RUST_BACKTRACE"], &[] as &[&str]);
    cmd.env("RUST_BACKTRACE", "full");
    let out = run_command(cmd);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "full\n",
        "{}",
        describe(&out)
    );
}

/// A bundle directory: busybox as the root file system, `config` as
/// config.json.
fn bundle(name: &str, config: &str) -> std::path::PathBuf {
    let dir = scratch_dir().join(format!("rs-bundle-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    for a in ["sh", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    std::fs::write(dir.join("config.json"), config).unwrap();
    dir
}

fn gvisor_run(dir: &std::path::Path, id: &str, flags: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new(gvisor_bin());
    c.arg("run").args(flags).arg("--bundle").arg(dir).arg(id);
    run_command(c)
}

const PROCESS: &str =
    r#""process":{"args":["/bin/sh","-c","echo ran"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

/// Binding the host's /proc, /sys or /dev (or something under them, such
/// as /dev/kvm), read-write or read-only, is refused with an error naming
/// the mount (it was accepted); type errors name the JSON path of the field
/// (they said only what serde expected); errnoRet past 4095 is refused.
#[test]
fn bad_bundles_are_refused_naming_the_field() {
    for (i, (src, opts)) in [
        ("/proc", r#""rbind","rw""#),
        ("/sys", r#""rbind","ro""#),
        ("/dev", r#""rbind""#),
        ("/dev/kvm", r#""bind","ro""#),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = bundle(
            &format!("hostbind{i}"),
            &format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},{PROCESS},"mounts":[{{"destination":"/host","type":"bind","source":"{src}","options":[{opts}]}}]}}"#
            ),
        );
        let out = gvisor_run(&dir, &format!("rs-hostbind{i}"), &[]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(125), "{src}: {}", describe(&out));
        assert!(
            line.contains("mounts[0].source") && line.contains(src),
            "{src}: {line}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
    }
    let dir = bundle(
        "badtype",
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh"],"cwd":"/","user":{"uid":0,"gid":"root"}}}"#,
    );
    let out = gvisor_run(&dir, "rs-badtype", &[]);
    let line = assert_one_line_error(&out);
    assert!(line.contains("process.user.gid: invalid type"), "{line}");
    let dir = bundle(
        "errnoret",
        &format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},{PROCESS},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}}]}}}}}}"#
        ),
    );
    let out = gvisor_run(&dir, "rs-errnoret", &[]);
    let line = assert_one_line_error(&out);
    assert!(
        line.contains("linux.seccomp.syscalls[0]: errnoRet 70000"),
        "{line}"
    );
}

/// The sandbox's cgroup directories (one per v1 controller, or the v2 one)
/// named `name`, anywhere in the first levels of /sys/fs/cgroup.
fn cgroup_dirs(name: &str) -> Vec<std::path::PathBuf> {
    fn walk(d: &std::path::Path, name: &str, depth: usize, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if !p.is_dir() || p.is_symlink() {
                continue;
            }
            if e.file_name().to_string_lossy() == name {
                out.push(p);
            } else if depth > 0 {
                walk(&p, name, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(std::path::Path::new("/sys/fs/cgroup"), name, 4, &mut out);
    out
}

/// `--memory 64M` and a program that touches 200 MB: the sentry refuses
/// the pages past the limit and kills the program with SIGKILL (as Linux's
/// OOM killer would), saying why; the launcher's status is 137. Within the
/// limit the same program runs.
#[test]
fn memory_limit_kills_the_program_not_the_sentry() {
    let prog = compile_c_with("rs_limits", &["-pthread"]);
    let out = run_sandboxed(&prog, &["mem", "200"], &["--memory", "64M"]);
    assert_eq!(out.status.code(), Some(137), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("out of memory"), "{}", describe(&out));
    assert!(
        err.contains("program killed by SIGKILL"),
        "{}",
        describe(&out)
    );
    assert!(!err.contains("sentry was killed"), "{}", describe(&out));
    let out = run_sandboxed(&prog, &["mem", "200"], &["--memory", "512M"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "touched 200 MB\n",
        "{}",
        describe(&out)
    );
    for bad in ["1K", "lots", "0", "-5M"] {
        let out = run_sandboxed("/bin/true", &[] as &[&str], &["--memory", bad]);
        let line = assert_one_line_error(&out);
        assert!(line.contains("memory"), "{bad}: {line}");
    }
}

/// `--pids 10` and a fork bomb (processes, then threads): fork and
/// pthread_create get EAGAIN once 10 tasks run, as at a cgroup's pids.max;
/// the sandbox survives and forks again once they are gone.
#[test]
fn pids_limit_gives_eagain() {
    let prog = compile_c_with("rs_limits", &["-pthread"]);
    for what in ["fork", "threads"] {
        let out = run_sandboxed(&prog, &[what, "100"], &["--pids", "10"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "made 9, then Resource temporarily unavailable\nfork after: ok\n",
            "{what}: {}",
            describe(&out)
        );
        assert_eq!(out.status.code(), Some(0), "{what}: {}", describe(&out));
    }
}

/// The sentry and the gofer run in a cgroup of their own (under the
/// launcher's) carrying the limits, and it is gone when the sandbox ends.
#[test]
fn sandbox_cgroup_exists_while_running_and_is_removed() {
    let mut cmd = sandboxed_command("/bin/sleep", &["3"], &["--pids", "20", "--memory", "100M"]);
    cmd.stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let name = format!("gvisor-do-{}", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut dirs = Vec::new();
    while dirs.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        dirs = cgroup_dirs(&name);
    }
    assert!(!dirs.is_empty(), "no cgroup {name} while the sandbox runs");
    let mut saw_pids = false;
    let mut saw_memory = false;
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        assert_eq!(procs.lines().count(), 2, "{}: {procs}", d.display());
        if let Ok(v) = std::fs::read_to_string(d.join("pids.max")) {
            assert_eq!(v.trim(), (20 + 64).to_string());
            saw_pids = true;
        }
        for f in ["memory.limit_in_bytes", "memory.max"] {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                assert_eq!(v.trim(), ((100u64 << 20) + (256 << 20)).to_string());
                saw_memory = true;
            }
        }
    }
    assert!(saw_pids && saw_memory, "{dirs:?}");
    let st = child.wait().unwrap();
    assert!(st.success(), "{st:?}");
    let left = cgroup_dirs(&name);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `gvisor run` takes linux.resources.pids.limit from the bundle.
#[test]
fn run_takes_pids_limit_from_the_spec() {
    let prog = compile_c_with("rs_limits", &["-pthread"]);
    let dir = bundle(
        "pidslimit",
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/limits","fork","100"],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{"resources":{"pids":{"limit":5},"memory":{"limit":268435456}}}}"#,
    );
    std::fs::copy(&prog, dir.join("rootfs/limits")).unwrap();
    let out = gvisor_run(&dir, "rs-pidslimit", &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "made 4, then Resource temporarily unavailable\nfork after: ok\n",
        "{}",
        describe(&out)
    );
    // A flag overrides the spec.
    let out = gvisor_run(&dir, "rs-pidslimit2", &["--pids", "8"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("made 7, then"),
        "{}",
        describe(&out)
    );
}

/// A launcher killed by SIGKILL cannot remove its cgroup; the next sandbox
/// removes such leftovers (empty, launcher gone).
#[test]
fn a_killed_launchers_cgroup_is_cleaned_by_the_next_sandbox() {
    let mut cmd = sandboxed_command("/bin/sleep", &["30"], &[] as &[&str]);
    cmd.stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let name = format!("gvisor-do-{}", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cgroup_dirs(&name).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!cgroup_dirs(&name).is_empty(), "no cgroup {name}");
    child.kill().unwrap();
    child.wait().unwrap();
    // The sentry and the gofer die with the launcher (parent-death signal).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = run_sandboxed("/bin/true", &[] as &[&str], &[] as &[&str]);
        assert!(out.status.success(), "{}", describe(&out));
        if cgroup_dirs(&name).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {:?}",
            cgroup_dirs(&name)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `gvisor run` takes linux.resources.memory.limit from the bundle: past
/// it the program is killed by SIGKILL, the sentry survives.
#[test]
fn run_takes_memory_limit_from_the_spec() {
    let prog = compile_c_with("rs_limits", &["-pthread"]);
    let dir = bundle(
        "memlimit",
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/limits","mem","200"],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{"resources":{"memory":{"limit":67108864}}}}"#,
    );
    std::fs::copy(&prog, dir.join("rootfs/limits")).unwrap();
    let out = gvisor_run(&dir, "rs-memlimit", &[]);
    assert_eq!(out.status.code(), Some(137), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("out of memory"),
        "{}",
        describe(&out)
    );
    let out = gvisor_run(&dir, "rs-memlimit2", &["--memory", "1G"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "touched 200 MB\n",
        "{}",
        describe(&out)
    );
}
