//! System V IPC (shared memory, semaphores, message queues) and POSIX
//! message queues: C programs run natively in a fresh IPC namespace
//! (`unshare -i`: ids start at 0 and /proc/sysvipc is empty, as in a new
//! sandbox) and under `gvisor do`, outputs compared.
//!
//! Requires: a built `gvisor` (`cargo build -p shim`, or `GVISOR_BIN`),
//! /dev/kvm, gcc + libc6-dev (static libc), util-linux's unshare (run as
//! root).

use std::process::{Command, Output};

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

/// `tests/c/<name>.c` natively in a new IPC namespace and sandboxed: the
/// same output and status. Returns the sandboxed run.
fn compare(name: &str) -> Output {
    let prog = compile_c(name);
    let mut c = Command::new("unshare");
    c.arg("-i").arg(&prog);
    let native = run_command(c);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    sandboxed
}

fn stdout_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn sysv_shm_matches_native() {
    let out = stdout_str(&compare("sysv_shm"));
    // Spot checks that the comparison covered what it should.
    assert!(
        out.contains("attached: maps rw-s /SYSV00001234 (deleted)\n"),
        "{out}"
    );
    assert!(out.contains("parent reads 'from child'\n"), "{out}");
    assert!(
        out.contains("after exec: key=0x1234 mode=640 size=10000 nattch=1 "),
        "{out}"
    );
    assert!(out.contains("gone: IPC_STAT EINVAL\n"), "{out}");
}

#[test]
fn sysv_sem_matches_native() {
    let out = stdout_str(&compare("sysv_sem"));
    assert!(out.contains("parent 2\nchild 2\n"), "{out}");
    assert!(out.contains("after undo: 0 0 2 0\n"), "{out}");
    assert!(
        out.contains("child blocked then removed = -1 EIDRM\n"),
        "{out}"
    );
    assert!(out.contains("semop interrupted = -1 EINTR\n"), "{out}");
}

#[test]
fn sysv_msg_matches_native() {
    let out = stdout_str(&compare("sysv_msg"));
    assert!(
        out.contains("blocking receive: 4 type=42 'late'\n"),
        "{out}"
    );
    assert!(
        out.contains("blocking send woken by receiver = 0\n"),
        "{out}"
    );
    assert!(
        out.contains("child blocked then removed: -1 EIDRM\n"),
        "{out}"
    );
}

#[test]
fn posix_mqueue_matches_native() {
    let out = stdout_str(&compare("mqueue"));
    assert!(out.contains("receive: 2 'bb' prio 5\n"), "{out}");
    assert!(out.contains("signal 10 code -3 value 1234\n"), "{out}");
    assert!(
        out.contains("child blocking receive: 4 'wake' prio 2\n"),
        "{out}"
    );
    assert!(out.contains("full: poll 1 revents=0x1\n"), "{out}");
}
