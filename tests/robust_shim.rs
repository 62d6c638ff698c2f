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
