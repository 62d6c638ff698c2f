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
