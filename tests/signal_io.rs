//! Signal-driven I/O (fcntl F_SETOWN, F_SETSIG, O_ASYNC, ioctl FIOASYNC), compared with a
//! native run.

use gvisor_tests::*;

#[test]
fn sigio_reaches_the_owner_as_on_linux() {
    let prog = compile_c("fasync");
    let native = run_native(&prog, &[] as &[&str]);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &[] as &[&str], &[] as &[&str]);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(out.contains("sigio on pipe data: 1"), "{out}");
}
