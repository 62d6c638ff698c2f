//! Kernel robustness (issue 11, items 4-7): orphans' exit signals and signals to init, flag
//! checks (clone3 and friends), wakes and splices that must not hang, and data that must not
//! be lost (writes to unlinked files on every file system, large blocking writes).
//!
//! Each C program prints what it sees; it runs natively and sandboxed and the outputs must match
//! (or, where the native run cannot be the same, the output is checked exactly).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use gvisor_tests::*;

/// A sandboxed run that must end well before [`RUN_TIMEOUT`]: a hang fails the test quickly.
const SHORT: Duration = Duration::from_secs(60);

fn sandboxed(prog: &Path, args: &[&str]) -> Output {
    run_command_timeout(sandboxed_command(prog, args, &[] as &[&str]), SHORT)
}

/// Runs `prog args` natively and sandboxed; asserts the same stdout and status.
fn same_as_native(prog: &Path, args: &[&str]) -> Output {
    let native = run_native(prog, args);
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = sandboxed(prog, args);
    assert_same(&native, &sandboxed);
    sandboxed
}

#[test]
fn orphan_with_exit_signal_sigstop_does_not_stop_init() {
    let prog = compile_c("rk_orphan_signal");
    let out = same_as_native(&prog, &["reparent", "19"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("still running"));
}

#[test]
fn orphan_with_exit_signal_sigkill_does_not_kill_init() {
    let prog = compile_c("rk_orphan_signal");
    let out = same_as_native(&prog, &["reparent", "9"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("still running"));
}

#[test]
fn init_ignores_stop_and_kill_from_inside() {
    // Sandbox only: natively pid 1 is the host's init.
    let prog = compile_c("rk_orphan_signal");
    let out = sandboxed(&prog, &["killinit"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kill(1,19)=0 tkill=0 tgkill=0\n\
         kill(1,9)=0 tkill=0 tgkill=0\n\
         kill(1,15)=0 tkill=0 tgkill=0\n\
         kill(1,2)=0 tkill=0 tgkill=0\n\
         init alive\n"
    );
}

#[test]
fn init_blocking_sigchld_and_sigterm_gets_them_through_signalfd() {
    // Blocked signals are never ignored, not even by an init (tini-style inits rely on it).
    let prog = compile_c("rk_orphan_signal");
    let out = same_as_native(&prog, &["signalfd"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SIGCHLD via signalfd: yes"));
}

#[test]
fn busybox_kill_stop_and_kill_of_init_do_nothing() {
    let bb = busybox();
    let out = sandboxed(
        &bb,
        &[
            "sh",
            "-c",
            "sh -c 'kill -STOP 1; kill -KILL 1; kill -TERM 1'; sleep 0.2; echo init alive",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "init alive\n");
}

#[test]
fn unknown_and_invalid_flags_give_einval_as_linux() {
    let prog = compile_c("rk_flags");
    same_as_native(&prog, &[] as &[&str]);
}

#[test]
fn pointers_that_wrap_are_efault_not_an_overflow() {
    let prog = compile_c("rk_wild_pointers");
    let out = same_as_native(&prog, &[] as &[&str]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("child exit 3"), "{out}");
    assert!(out.contains("child2 signaled 11"), "{out}");
}

#[test]
fn futex_wake_with_count_zero_wakes_one() {
    let prog = compile_c_with("rk_futex_wake", &["-pthread"]);
    let out = same_as_native(&prog, &[] as &[&str]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("wake 0: woke 1"));
}

#[test]
fn splice_and_tee_never_hang() {
    let prog = compile_c("rk_splice");
    same_as_native(&prog, &[] as &[&str]);
}

#[test]
fn large_blocking_writes_write_everything() {
    let prog = compile_c("rk_bigwrite");
    let out = same_as_native(&prog, &[] as &[&str]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pipe write 16777216: wrote 16777216"));
}

/// A host directory with a file `rk_existing` in it (fresh for each call).
fn dir_with_existing(name: &str) -> PathBuf {
    let dir = scratch_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rk_existing"), "existing-data\n").unwrap();
    dir
}

#[test]
fn unlinked_open_files_work_on_tmpfs_and_overlay() {
    let prog = compile_c("rk_unlinked");
    // /tmp and the scratch dir are the overlay (its upper tmpfs once written; rk_existing is a
    // host file copied up); /dev/shm is a tmpfs.
    let native_dir = dir_with_existing("unlinked-native");
    let native = run_native(&prog, &["/tmp", "/dev/shm", native_dir.to_str().unwrap()]);
    assert!(native.status.success(), "{}", describe(&native));
    let dir = dir_with_existing("unlinked-sandboxed");
    let out = sandboxed(&prog, &["/tmp", "/dev/shm", dir.to_str().unwrap()]);
    let want = String::from_utf8_lossy(&native.stdout)
        .replace(native_dir.to_str().unwrap(), dir.to_str().unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // The sandbox's unlink of the copied-up file did not reach the host.
    assert!(dir.join("rk_existing").exists());
}

#[test]
fn python_temporary_file_works() {
    let script = "import tempfile\n\
                  f = tempfile.TemporaryFile()\n\
                  f.write(b'abc' * 100000)\n\
                  f.seek(0)\n\
                  print(len(f.read()))\n";
    let out = sandboxed(Path::new("/usr/bin/python3"), &["-c", script]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "300000\n");
}

#[test]
fn unlinked_open_files_work_on_a_read_write_bind() {
    let prog = compile_c("rk_unlinked");
    let native_dir = dir_with_existing("unlinked-bind-native");
    // -r: read-only mappings (writable shared mappings of host files are not supported).
    let native = run_native(&prog, &["-r", native_dir.to_str().unwrap()]);
    assert!(native.status.success(), "{}", describe(&native));
    let want = String::from_utf8_lossy(&native.stdout).replace(native_dir.to_str().unwrap(), "/rw");

    let bundle = scratch_dir().join("bundle-unlinked");
    let _ = std::fs::remove_dir_all(&bundle);
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::create_dir_all(bundle.join("rootfs/rw")).unwrap();
    std::fs::copy(&prog, bundle.join("rootfs/bin/rk_unlinked")).unwrap();
    let share = dir_with_existing("unlinked-bind-share");
    let config = format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
"process":{{"args":["/bin/rk_unlinked","-r","/rw"],"env":["PATH=/bin"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
"mounts":[{{"destination":"/rw","type":"bind","source":"{}","options":["rbind","rw"]}}]}}"#,
        share.display()
    );
    std::fs::write(bundle.join("config.json"), config).unwrap();
    let mut c = Command::new(gvisor_bin());
    c.arg("run").arg("--bundle").arg(&bundle).arg("rk-unlinked");
    let out = run_command_timeout(c, SHORT);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // The unlinks reached the host: nothing is left in the shared directory.
    let left: Vec<_> = std::fs::read_dir(&share).unwrap().collect();
    assert!(left.is_empty(), "left in the bind: {left:?}");
}
