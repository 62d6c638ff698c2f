//! After every run, successful or not, nothing is left behind: no process,
//! no mount, no descriptor, no temporary directory. (Its own test binary, so
//! no other test's sandboxes run at the same time.)

use std::process::Command;

use gvisor_tests::*;

fn count_dir(p: &str) -> usize {
    std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0)
}

fn gvisor_processes() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.starts_with(b"gvisor-sentry") || c.starts_with(b"gvisor-gofer"))
        })
        .count()
}

fn snapshot() -> (usize, usize, usize, usize) {
    (
        gvisor_processes(),
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        count_dir("/proc/self/fd"),
        count_dir(&std::env::temp_dir().to_string_lossy()),
    )
}

#[test]
fn runs_leave_nothing_behind() {
    let before = snapshot();
    let runs: [&[&str]; 4] = [
        &["do", "--", "/bin/true"],
        &["do", "--", "/bin/false"],
        &["do", "--", "/nonexistent/program"],
        &["do", "--rootfs", "/nonexistent-rootfs", "/bin/true"],
    ];
    for args in runs {
        let mut c = Command::new(gvisor_bin());
        c.args(args);
        let out = run_command(c);
        assert!(out.status.code().is_some(), "{}", describe(&out));
    }
    // The sentry killed by its seccomp filter.
    let mut c = Command::new(gvisor_bin());
    c.args(["do", "--", "/bin/true"])
        .env("GVISOR_DEBUG_FORBIDDEN_SYSCALL", "1");
    assert_eq!(run_command(c).status.code(), Some(125));
    let after = snapshot();
    assert_eq!(
        before, after,
        "(gvisor processes, mounts, fds, temp entries) changed"
    );
}
