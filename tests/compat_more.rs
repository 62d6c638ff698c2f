//! Issue 17, second wave: memfd seals, openat2 and Linux AIO, each a C
//! program whose output sandboxed must equal its output natively.

use std::process::Output;

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

fn stdout_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn same_as_native(name: &str) -> String {
    let prog = compile_c(name);
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    stdout_str(&sandboxed)
}

/// memfd_create's flags (MFD_ALLOW_SEALING, MFD_EXEC, MFD_NOEXEC_SEAL),
/// F_ADD_SEALS/F_GET_SEALS and every seal's effect on write, pwrite,
/// ftruncate, fallocate, mmap and mprotect, EBUSY while writable shared
/// mappings (forked and split ones included) exist.
#[test]
fn c_memfd_seals_match_native() {
    let out = same_as_native("memfd_seals");
    assert!(out.contains("add WRITE with mapping                   -1 EBUSY\n"));
}

/// openat2: open_how sizes (EINVAL, E2BIG, EFAULT), Linux's flag and mode
/// checks, RESOLVE_CACHED, NO_SYMLINKS, BENEATH, IN_ROOT, NO_XDEV and
/// magic links under each restriction.
#[test]
fn c_openat2_matches_native() {
    let out = same_as_native("openat2");
    assert!(out.contains("IN_ROOT abs/file                     ok =file"));
}
