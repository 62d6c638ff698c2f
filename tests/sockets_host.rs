//! Network mode `host` (issue 14): AF_INET/AF_INET6 sockets are host
//! sockets. Each test runs in a network namespace of its own (`unshare -n`
//! with lo up, gone when its last process exits), natively and in
//! `gvisor do --network=host`, so runs in parallel do not share ports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use gvisor_tests::*;

const LIMIT: Duration = Duration::from_secs(100);

fn script(name: &str) -> PathBuf {
    workspace_root().join("tests/scripts/net").join(name)
}

/// Runs `prog args` in a new network namespace with lo up.
fn in_netns(prog: &Path, args: &[&str]) -> Output {
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

#[test]
fn c_program_matches_native() {
    let prog = compile_c("host_inet");
    let p = prog.to_str().unwrap();
    let native = in_netns(&prog, &[]);
    assert!(native.status.success(), "native: {}", describe(&native));
    let gv = gvisor_bin();
    let sandboxed = in_netns(&gv, &["do", "--network=host", "--", p]);
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        String::from_utf8_lossy(&native.stdout),
        "{}",
        describe(&sandboxed)
    );
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(
        out.contains("connect refused: -1 Connection refused"),
        "{out}"
    );
    assert!(
        out.contains("bind same port: -1 Address already in use"),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}

#[test]
fn http_both_ways_across_the_sandbox() {
    let dir = scratch_dir().join(format!("host-http-{}", std::process::id()));
    let gv = gvisor_bin();
    let out = in_netns(
        Path::new("/bin/sh"),
        &[
            script("host_http.sh").to_str().unwrap(),
            gv.to_str().unwrap(),
            busybox().to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("host curl: served from the sandbox"), "{s}");
    assert!(s.contains("sandboxed wget: served from the host"), "{s}");
    assert!(
        s.contains("sandboxed wget of sandboxed server: served from the sandbox"),
        "{s}"
    );
}

#[test]
fn nginx_serves_a_host_client() {
    assert!(
        Path::new("/usr/sbin/nginx").is_file(),
        "/usr/sbin/nginx missing: deploy/install-deps.sh test installs it"
    );
    let dir = scratch_dir().join(format!("host-nginx-{}", std::process::id()));
    let gv = gvisor_bin();
    let out = in_netns(
        Path::new("/bin/sh"),
        &[
            script("host_nginx.sh").to_str().unwrap(),
            gv.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("index: static file served by nginx"), "{s}");
    assert!(
        s.contains("big: 300000 bytes, 7eff56d7eac2ce893e9dfea6b7194d0c"),
        "{s}"
    );
    assert!(s.contains("missing: 404"), "{s}");
    assert!(s.contains("keepalive: 2 lines"), "{s}");
}

#[test]
fn raw_sockets_are_refused_even_to_root() {
    // EPERM even though the sandbox's root has CAP_NET_RAW: the sentry
    // holds no CAP_NET_RAW on the host and makes no raw sockets.
    let gv = gvisor_bin();
    let code = "import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\n    print('raw: ok')\nexcept OSError as e:\n    print('raw:', e.errno)\ns = socket.socket()\ns.bind(('127.0.0.1', 80))\nprint('port 80:', s.getsockname()[1])\n";
    let out = in_netns(
        &gv,
        &["do", "--network=host", "--", "/usr/bin/python3", "-c", code],
    );
    assert!(out.status.success(), "{}", describe(&out));
    // The sandbox's root binds a privileged port: the sentry keeps
    // CAP_NET_BIND_SERVICE in host mode.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "raw: 1\nport 80: 80\n"
    );
}
