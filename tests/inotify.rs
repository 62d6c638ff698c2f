//! inotify: a C program (tests/c/inotify.c) makes a fresh directory under
//! /tmp, watches it and its files, changes them and prints every event
//! ("wd mask-names cookie name"), the errors of hostile arguments, read
//! sizes, readiness and the queue overflow; run natively and sandboxed,
//! the outputs must be the same. A Python script does the same through
//! ctypes (tests/scripts/python-inotify.py).
//!
//! Requires: a built `gvisor` (`cargo build -p shim`, or `GVISOR_BIN`),
//! /dev/kvm, gcc + libc6-dev (static libc).

use std::process::Output;

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

fn stdout_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn c_inotify_matches_native() {
    let prog = compile_c("inotify");
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = stdout_str(&sandboxed);
    // The comparison means something only if events were seen.
    for line in [
        "fd link: anon_inode:inotify\n",
        "  1 CREATE 0 f\n",
        "  1 MOVED_FROM c1 x\n  2 MOVED_TO c1 y\n  3 MOVE_SELF 0 -\n",
        "  3 DELETE_SELF 0 -\n  3 IGNORED 0 -\n",
        "events 16385 overflows 1 last mask 0x4000 wd -1\n",
        "blocking read, signal -> EINTR\n",
        "max_queued_events 16384\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn inotify_calls_are_named_in_strace() {
    let prog = compile_c("inotify");
    let out = run_sandboxed(&prog, NO_FLAGS, &["--strace"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for name in ["inotify_init1(", "inotify_add_watch(", "inotify_rm_watch("] {
        assert!(err.contains(name), "no {name} in the strace output");
    }
}

/// A fresh directory with a file `pre` and a subdirectory `sub`, made
/// before the program runs (sandboxed: in the overlay's host layer).
fn image_dir(name: &str) -> std::path::PathBuf {
    let d = scratch_dir().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("pre"), "pre\n").unwrap();
    d
}

#[test]
fn c_inotify_on_a_directory_of_the_image_matches_native() {
    let prog = compile_c("inotify");
    let nd = image_dir("inotify-image-native");
    let native = run_native(&prog, &[&nd]);
    assert!(native.status.success(), "{}", describe(&native));
    let sd = image_dir("inotify-image-sandboxed");
    let sandboxed = run_sandboxed(&prog, &[&sd], NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = stdout_str(&sandboxed);
    for line in [
        "  1 CREATE 0 new\n",
        "  1 MODIFY 0 pre\n  2 MODIFY 0 -\n",
        "  3 DELETE_SELF 0 -\n  3 IGNORED 0 -\n  1 DELETE|ISDIR 0 sub\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The host directory is untouched by the sandboxed run.
    assert!(sd.join("pre").exists() && sd.join("sub").exists());
}

#[test]
fn python_inotify_through_ctypes_matches_native() {
    let s = workspace_root()
        .join("tests/scripts/python-inotify.py")
        .to_string_lossy()
        .into_owned();
    let native = run_native("/usr/bin/python3", &[&s]);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(stdout_str(&sandboxed)
        .contains("  1 MOVED_FROM c1 data.txt\n  1 MOVED_TO c1 data.txt.old\n"));
}

#[test]
fn inotify_instances_are_limited_to_max_user_instances() {
    let prog = compile_c("inotify");
    let out = run_sandboxed(&prog, &["limits"], NO_FLAGS);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "instances 128 EMFILE\nafter close OK\n");
}
