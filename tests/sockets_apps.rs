//! Sockets from real programs (issue 13, item 5): Python's socket, selectors, asyncio,
//! socketserver and multiprocessing; busybox httpd, wget and nc; Debian's nginx serving a file
//! to a client in the same sandbox. Each runs natively (in a fresh network namespace with only
//! loopback, like the sandbox's) and sandboxed, and prints the same lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use gvisor_tests::*;

/// A sandboxed run must end well before [`RUN_TIMEOUT`].
const LIMIT: Duration = Duration::from_secs(100);

fn script(name: &str) -> PathBuf {
    workspace_root().join("tests/scripts/net").join(name)
}

/// Runs `prog args` natively in a new network namespace with lo up.
fn native_isolated(prog: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("unshare");
    c.arg("-n")
        .arg("sh")
        .arg("-c")
        .arg("ip link set lo up && exec \"$@\"")
        .arg("sh")
        .arg(prog)
        .args(args);
    run_command_timeout(c, LIMIT)
}

fn same_as_native(prog: &Path, args: &[&str]) -> String {
    let native = native_isolated(prog, args);
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = run_command_timeout(sandboxed_command(prog, args, &[] as &[&str]), LIMIT);
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        String::from_utf8_lossy(&native.stdout),
        "sandboxed output differs from native\n{}",
        describe(&sandboxed)
    );
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    String::from_utf8_lossy(&sandboxed.stdout).into_owned()
}

fn python(name: &str) -> String {
    let s = script(name);
    same_as_native(Path::new("/usr/bin/python3"), &[s.to_str().unwrap()])
}

#[test]
fn python_socket_basics() {
    let out = python("py_basic.py");
    assert!(out.contains("AF_INET echo 1048576 True"), "{out}");
    assert!(out.contains("refused"), "{out}");
}

#[test]
fn python_selectors_echo() {
    let out = python("py_selectors.py");
    assert!(out.contains("9 b'CLIENT 9'"), "{out}");
}

#[test]
fn python_asyncio_server_and_clients_in_one_loop() {
    let out = python("py_asyncio.py");
    assert!(out.contains("tcp 50"), "{out}");
}

#[test]
fn python_socketserver() {
    let out = python("py_socketserver.py");
    assert!(out.contains("ForkingTCPServer"), "{out}");
}

#[test]
fn python_multiprocessing_manager() {
    let out = python("py_multiprocessing.py");
    assert!(
        out.contains("manager [(0, 0), (1, 10), (2, 20), (3, 30)]"),
        "{out}"
    );
}

#[test]
fn busybox_httpd_wget_and_nc() {
    let s = script("busybox_net.sh");
    let out = same_as_native(&busybox(), &["sh", s.to_str().unwrap()]);
    assert!(out.contains("wget: hello from httpd"), "{out}");
    assert!(out.contains("nc: line through nc"), "{out}");
}

#[test]
fn nginx_serves_a_static_file_inside_the_sandbox() {
    let nginx = Path::new("/usr/sbin/nginx");
    assert!(
        nginx.is_file(),
        "/usr/sbin/nginx missing: deploy/install-deps.sh test installs it"
    );
    let s = script("nginx.sh");
    let native_dir = scratch_dir().join("nginx-native");
    let _ = std::fs::remove_dir_all(&native_dir);
    let native = native_isolated(
        &busybox(),
        &["sh", s.to_str().unwrap(), native_dir.to_str().unwrap()],
    );
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    // In the sandbox the scratch directory is the sandbox's own /tmp.
    let sandboxed = run_command_timeout(
        sandboxed_command(
            busybox(),
            &["sh", s.to_str().unwrap(), "/tmp/nginx"],
            &[] as &[&str],
        ),
        LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        String::from_utf8_lossy(&native.stdout),
        "{}",
        describe(&sandboxed)
    );
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(out.contains("index: static file served by nginx"), "{out}");
}
