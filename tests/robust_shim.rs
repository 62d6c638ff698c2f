//! Robustness of the launcher, the platform and bundle checking (issue 11,
//! items 3, 9 and 10): privileged instructions of the program, bad
//! config.json input, resource limits of `gvisor do`/`gvisor run`, and the
//! sentry's panic path.

use std::path::{Path, PathBuf};
use std::process::Command;

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
