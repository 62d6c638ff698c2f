//! /proc as Linux has it: the top-level files, the per-process files (mem,
//! ns, uid_map, oom_score_adj, auxv, ...) and /proc/sys entries. A C program
//! prints each file's shape (values that must match exactly, normalized
//! forms of pids, times and sizes) natively and under `gvisor do`; the
//! outputs are compared.
//!
//! Requires: a built `gvisor` (`cargo build -p shim`, or `GVISOR_BIN`),
//! /dev/kvm, gcc + libc6-dev (static libc), run as root.

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

#[test]
fn c_procfs_more_match_native() {
    let prog = compile_c("procfs_more");
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout).into_owned();
    for want in [
        "/proc/self/uid_map: [         0          0 4294967295\n]",
        "child sees: abcdef",
        "uuid: uuid=1 fresh=1 v4=1",
        "auxv: whole=1 null_last=1 pagesz=1 entry=1 random=1 phdr=1",
        "/proc: dups=0 missing=\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// Files the host may not have (Yama) and the other namespaces' files.
#[test]
fn sandbox_only_proc_entries() {
    let out = run_sandboxed(
        "/bin/busybox",
        &[
            "sh",
            "-c",
            "cat /proc/sys/kernel/yama/ptrace_scope; readlink /proc/self/ns/uts; \
             readlink /proc/1/ns/uts; ls /proc/sys/net/core; \
             echo 5 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj",
        ],
        NO_FLAGS,
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\nuts:[4026531838]\nuts:[4026531838]\nsomaxconn\n5\n"
    );
}
