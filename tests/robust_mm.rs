//! Robustness of memory management, /proc and /sys, and the sizes programs
//! pass (issue 11): what an unprivileged program tried that killed the
//! sentry or corrupted the files other processes see.

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

/// Reading every file under /proc and /sys (as root and as uid 1000) never
/// kills the sandbox: /proc is generated from the sentry's state, no host
/// file is opened after confinement. cpuinfo has one entry per CPU,
/// meminfo and loadavg are well formed.
#[test]
fn every_proc_and_sys_file_reads_as_root_and_as_a_user() {
    let bin = compile_c("rm_procwalk");
    let out = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "root walk: files many, links many, dirs many\n\
         uid 1000 walk: files many\n\
         cpuinfo: one entry per cpu, model name yes, flags yes\n\
         meminfo: total ok, free ok, available ok\n\
         loadavg: ok\n",
        "{}",
        describe(&out)
    );
}

/// The tools that read /proc/cpuinfo, /proc/meminfo and /proc/loadavg work,
/// and sysinfo(2) reports the same memory as /proc/meminfo.
#[test]
fn cpu_and_memory_tools_work() {
    let cmd = "cat /proc/cpuinfo /proc/meminfo /proc/loadavg >/dev/null && nproc && \
               free | grep -c '^Mem:' && busybox free | grep -c 'Mem:' && \
               python3 -c 'import os; print(os.cpu_count())' && \
               free -k | awk '/^Mem:/{print $2}' && busybox free | awk '/Mem:/{print $2}'";
    let out = run_sandboxed("/bin/sh", &["-c", cmd], NO_FLAGS);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[1], "1", "{text}");
    assert_eq!(lines[2], "1", "{text}");
    assert_eq!(
        lines[0], lines[3],
        "nproc and os.cpu_count() differ: {text}"
    );
}

/// A file's open mode bounds its mappings (VM_MAYWRITE): a uid-1000 process
/// cannot make a read-only shared mapping of a root-owned file (on tmpfs,
/// or the program itself from the read-only root) writable, so the file and
/// the pages every other process maps stay intact; /dev/zero and /proc
/// behave as on Linux. Compared with a native run.
#[test]
fn open_mode_bounds_mmap_and_mprotect() {
    let bin = compile_c("rm_mmapperm");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let text = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(text.contains("program pages intact: 1"), "{text}");
    assert!(text.contains("file bytes intact: 1"), "{text}");
}

/// Huge sizes, counts and lengths (mlock of the whole address space,
/// mincore, msync, madvise, iovec counts, getdents, poll/select nfds,
/// epoll maxevents, groups, xattrs, readlink...) get Linux's answer, and
/// the sentry survives every one of them.
#[test]
fn huge_sizes_and_counts_match_native() {
    let bin = compile_c("rm_sizes");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
}

/// open(2) checks the file's mode bits against the caller's ids (it did not
/// check them at all: a uid-1000 process opened root's files read-write),
/// including a reopen through /proc/self/fd. Compared with a native run.
#[test]
fn open_checks_mode_bits_for_users() {
    let bin = compile_c("rm_openperm");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(
        String::from_utf8_lossy(&sandboxed.stdout).contains("0644 read-write: Permission denied"),
        "{}",
        describe(&sandboxed)
    );
}

/// Reopening through /proc/self/fd/N, /proc/PID/fd/N, /dev/fd/N and
/// /dev/std{in,out,err} works for pipes (either end), host stdio, regular
/// files and directories, and is ENXIO for eventfd and epoll, as natively.
#[test]
fn reopen_through_proc_fd_and_dev_std() {
    let script = workspace_root().join("tests/scripts/rm-reopen.sh");
    let script = script.to_str().unwrap();
    let cmd = format!("/bin/sh {script} 2>&1");
    let native = run_native("/bin/sh", &["-c", &cmd]);
    let sandboxed = run_sandboxed("/bin/sh", &["-c", &cmd], NO_FLAGS);
    assert_same(&native, &sandboxed);
    let text = String::from_utf8_lossy(&sandboxed.stdout);
    for want in [
        "to-stderr",
        "hi-devfd",
        "deleted-but-open",
        "eventfd: ENXIO",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
}
