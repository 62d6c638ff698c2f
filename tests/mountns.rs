//! Mount and UTS namespaces: a C program (tests/c/mountns.c) unshares, mounts
//! tmpfs, proc and sysfs, makes bind mounts (also recursive ones and of a
//! file), remounts read-only, stacks mounts, changes propagation types,
//! lists /proc/self/mounts and mountinfo, unmounts (busy, expiring,
//! detached), checks the isolation of namespaces with forked children, and
//! prints the errors of hostile paths, flags and pointers. Run natively in a
//! scratch directory under `unshare -m -u --propagation private` (the host's
//! mounts stay untouched) and sandboxed in /tmp; the outputs must be the same.
//!
//! Requires: a built `gvisor` (`cargo build -p shim`, or `GVISOR_BIN`),
//! /dev/kvm, gcc + libc6-dev (static libc), root and util-linux `unshare`.

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

#[test]
fn c_mount_unshare_uts_match_native() {
    let prog = compile_c("mountns");
    let dir = scratch_dir().join("mountns-scratch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "-u", "--propagation", "private"])
        .arg(&prog)
        .arg(&dir);
    let native = run_command(c);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &["/tmp"], NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(out.contains("  info g root /x rw\n"), "{out}");
    assert!(out.contains("child inherited nodename mountns-test\n"));
    assert!(out.ends_with("done\n"));
}
