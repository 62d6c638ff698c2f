//! Netlink route sockets, the interface ioctls, /proc/net and /sys/class/net (issue 13, items 1
//! and 4): what a program sees of the network in a sandbox, which has only loopback.
//!
//! Each check runs `tests/c/sock_netlink.c` (or busybox `ip`) natively inside a fresh network
//! namespace with only lo up (`unshare -n`, plus a fresh sysfs mount so /sys/class/net shows that
//! namespace) and sandboxed; the outputs must match. The C program leaves volatile values out
//! (counters, time stamps, port ids other than the first). The native side needs root (to
//! unshare); without it the tests say so and pass.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use gvisor_tests::*;

const SHORT: Duration = Duration::from_secs(60);

/// A new network namespace inherits the IPv4 `all`/`default` settings of the host's (Linux's
/// `devconf_inherit_init_net` default), so a host where CNI's bridge plugin turned
/// `ip_forward` on would show forwarding in /proc/net/snmp and `ip netconf`. The sandbox's
/// kernel never forwards; the native side pins the settings a fresh host has.
const PIN_SYSCTLS: &str = "for c in all default lo; do \
     echo 0 > /proc/sys/net/ipv4/conf/$c/forwarding && \
     echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter || exit 97; done && ";

/// `prog args` natively in a new network and mount namespace with lo up; None when this host
/// cannot make one (not root).
fn native_in_netns(prog: &Path, args: &[&str]) -> Option<Output> {
    let probe = Command::new("unshare").args(["-n", "-m", "true"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("skipped: cannot unshare a network namespace here (needs root)");
        return None;
    }
    let bb = busybox();
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "-m", "sh", "-c"])
        .arg(format!(
            "{bb} ip link set lo up && mount -t sysfs sysfs /sys && {PIN_SYSCTLS} exec \"$0\" \"$@\"",
            bb = bb.display()
        ))
        .arg(prog)
        .args(args);
    // A failing command (ip route get 8.8.8.8) fails the same way sandboxed: the status is
    // compared, not required to be 0.
    Some(run_command_timeout(cmd, SHORT))
}

fn sandboxed(prog: &Path, args: &[&str]) -> Output {
    run_command_timeout(sandboxed_command(prog, args, &[] as &[&str]), SHORT)
}

/// Runs the C battery section `what` both ways and compares.
fn same_as_native(what: &str) {
    let prog = compile_c("sock_netlink");
    let Some(native) = native_in_netns(&prog, &[what]) else {
        return;
    };
    assert!(
        native.status.success(),
        "native run failed\n{}",
        describe(&native)
    );
    let sandboxed = sandboxed(&prog, &[what]);
    assert_same(&native, &sandboxed);
}

/// Whether the sandbox serves AF_INET sockets yet (glibc's if_nametoindex and busybox's qlen go
/// through an inet or unix socket's ioctls).
fn sandbox_has_inet() -> bool {
    let prog = compile_c("sock_netlink");
    let out = sandboxed(&prog, &["inet"]);
    let has = !String::from_utf8_lossy(&out.stdout).contains("no inet");
    if !has {
        eprintln!("skipped: the sandbox has no AF_INET sockets yet");
    }
    has
}

#[test]
fn netlink_socket_calls_as_linux() {
    same_as_native("socket");
}

#[test]
fn netlink_route_dumps_as_linux() {
    same_as_native("dump");
}

#[test]
fn interface_ioctls_on_netlink_socket() {
    same_as_native("ioctl");
}

#[test]
fn interface_ioctls_on_inet_socket() {
    if sandbox_has_inet() {
        same_as_native("inet");
    }
}

#[test]
fn getifaddrs_and_if_nameindex() {
    if sandbox_has_inet() {
        same_as_native("ifaddrs");
    }
}

#[test]
fn getifaddrs_lists_loopback() {
    // The part of getifaddrs that is netlink only.
    let prog = compile_c("sock_netlink");
    let out = sandboxed(&prog, &["ifaddrs"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "ifaddr lo family 17 flags 0x10049 data 1 ll index 1 hatype 772 halen 6\n",
        "ifaddr lo family 2 flags 0x10049 data 0 addr 127.0.0.1 mask 255.0.0.0 brd 127.0.0.1\n",
        "ifaddr lo family 10 flags 0x10049 data 0 addr ::1 mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n",
        "nameindex 1 lo\n",
    ] {
        assert!(text.contains(want), "missing {want:?}\n{}", describe(&out));
    }
}

#[test]
fn proc_net_files_as_linux() {
    same_as_native("procnet");
}

#[test]
fn sys_class_net_as_linux() {
    same_as_native("sysfs");
}

fn busybox_ip(args: &[&str]) {
    let bb = busybox();
    let mut full = vec!["ip"];
    full.extend_from_slice(args);
    let Some(native) = native_in_netns(&bb, &full) else {
        return;
    };
    let sandboxed = sandboxed(&bb, &full);
    assert_same(&native, &sandboxed);
}

#[test]
fn busybox_ip_route() {
    busybox_ip(&["route"]);
    busybox_ip(&["-6", "route"]);
    busybox_ip(&["route", "show", "table", "local"]);
    busybox_ip(&["neigh"]);
}

#[test]
fn busybox_ip_route_get() {
    busybox_ip(&["route", "get", "127.0.0.1"]);
    busybox_ip(&["route", "get", "127.1.2.3"]);
    // No route off the machine: ENETUNREACH, as a namespace with only lo.
    busybox_ip(&["route", "get", "8.8.8.8"]);
    busybox_ip(&["-6", "route", "get", "::1"]);
    busybox_ip(&["-6", "route", "get", "2001:db8::1"]);
}

#[test]
fn busybox_ip_addr_and_link() {
    // The qlen and the device lookup by name are SIOCGIFTXQLEN / SIOCGIFINDEX on an inet socket.
    if sandbox_has_inet() {
        busybox_ip(&["addr"]);
        busybox_ip(&["link"]);
        busybox_ip(&["-4", "addr", "show", "dev", "lo"]);
    }
}

/// iproute2's `ip` (dynamically linked, from the host's root file system) where it is
/// installed: it asks more of netlink than busybox (strict checking, extended acks, the IPv6
/// view of links, rules, netconf).
fn iproute2(args: &[&str]) {
    let ip = Path::new("/usr/sbin/ip");
    if !ip.exists() {
        eprintln!("skipped: no /usr/sbin/ip");
        return;
    }
    let Some(native) = native_in_netns(ip, args) else {
        return;
    };
    let sandboxed = sandboxed(ip, args);
    assert_same(&native, &sandboxed);
}

#[test]
fn iproute2_ip_as_linux() {
    for args in [
        &["addr"][..],
        &["link"],
        &["-d", "link"],
        &["-s", "link"],
        &["-j", "-d", "addr"],
        &["-6", "link"],
        &["route"],
        &["-6", "route"],
        &["route", "show", "table", "all"],
        &["-6", "route", "show", "table", "all"],
        &["route", "get", "127.0.0.1"],
        &["route", "get", "10.1.2.3"],
        &["-6", "route", "get", "::1"],
        &["rule"],
        &["-6", "rule"],
        &["netconf"],
        &["neigh"],
    ] {
        iproute2(args);
    }
}

#[test]
fn iproute2_ip_needing_inet_ioctls() {
    // The IPv6 view of a link has no queue length: ip asks SIOCGIFTXQLEN of an inet socket.
    if sandbox_has_inet() {
        iproute2(&["-6", "addr"]);
    }
}
