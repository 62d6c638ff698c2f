//! The socket system calls' argument checks (issue 13, items 1 and 7): every family, flag,
//! length and pointer a hostile program could pass answers as on Linux. Compared with a native
//! run in a fresh network namespace (loopback only, like the sandbox).

use std::process::Command;
use std::time::Duration;

use gvisor_tests::*;

#[test]
fn socket_call_arguments_are_checked_as_linux() {
    let prog = compile_c("sock_calls");
    let mut c = Command::new("unshare");
    c.arg("-n").arg(&prog);
    let native = run_command_timeout(c, Duration::from_secs(60));
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &[] as &[&str], &[] as &[&str]);
    assert_same(&native, &sandboxed);
}
