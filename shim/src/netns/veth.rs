//! The network of `gvisor do --network=sandbox`: a namespace of its own
//! (`gvisor-do-PID`), a veth pair (the host end `gvdPID` with the first
//! address of a free /30 of 10.213.0.0/16, the sandbox end `eth0` with the
//! second and a default route via the host end), IPv4 forwarding and an
//! iptables MASQUERADE rule for the /30 (so the sandbox reaches what the
//! host reaches), plus FORWARD accept rules for the veth. Everything goes
//! when the [`DoNetwork`] is dropped; what a killed launcher left is swept
//! by the next one ([`sweep_stale`]). IPv4 forwarding, a host-wide
//! setting, is given back its value when the last such namespace goes (the
//! value before is kept in [`FORWARD_SAVED`]; the namespaces and that file
//! change under the lock [`LOCK`]).
//!
//! It runs `ip` (iproute2) and `iptables`, as a user would by hand.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Result};

/// Prefix of the namespaces, and the iptables comment of the rules.
pub const PREFIX: &str = "gvisor-do-";
/// Prefix of the host ends of the veth pairs.
pub const HOST_IF_PREFIX: &str = "gvd";
/// IPv4 forwarding's value before the first live `gvisor do` network.
pub const FORWARD_SAVED: &str = "/run/gvisor-do-ip_forward";
/// Taken while namespaces are added or removed and forwarding changes.
pub const LOCK: &str = "/run/gvisor-do.lock";
const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// An exclusive flock on [`LOCK`], released on drop (or when the process
/// dies).
struct Locked {
    _file: Option<std::fs::File>,
}

fn lock() -> Locked {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK);
    match f {
        Ok(f) => {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on our descriptor; blocks until granted.
            while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } < 0 {
                if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break;
                }
            }
            Locked { _file: Some(f) }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot take {LOCK}");
            Locked { _file: None }
        }
    }
}

/// The `gvisor do` namespaces whose launcher is alive.
fn live_namespaces() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.strip_prefix(PREFIX)
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        })
        .collect()
}

/// Turns IPv4 forwarding on, saving its value if this is the first
/// network to need it. Under the lock.
fn forwarding_on() -> Result<()> {
    let now =
        std::fs::read_to_string(IP_FORWARD).map_err(|e| anyhow!("reading {IP_FORWARD}: {e}"))?;
    if now.trim() != "1" {
        if !std::path::Path::new(FORWARD_SAVED).exists() {
            std::fs::write(FORWARD_SAVED, now.trim())
                .map_err(|e| anyhow!("writing {FORWARD_SAVED}: {e}"))?;
        }
        std::fs::write(IP_FORWARD, "1")
            .map_err(|e| anyhow!("enabling IPv4 forwarding ({IP_FORWARD}): {e}"))?;
    }
    Ok(())
}

/// Gives IPv4 forwarding its saved value back when no `gvisor do` network
/// is left. Under the lock.
fn forwarding_restore_if_last() {
    if !live_namespaces().is_empty() {
        return;
    }
    if let Ok(v) = std::fs::read_to_string(FORWARD_SAVED) {
        if let Err(e) = std::fs::write(IP_FORWARD, v.trim()) {
            tracing::warn!(error = %e, "restoring IPv4 forwarding");
        }
        let _ = std::fs::remove_file(FORWARD_SAVED);
    }
}

fn run(prog: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(prog).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!("network mode sandbox for `gvisor do` needs {prog} (not found in PATH)")
        } else {
            anyhow!("running {prog}: {e}")
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.lines().next().unwrap_or("failed").trim().to_string();
        bail!("{prog} {}: {line}", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespace, veth pair and NAT rules of one `gvisor do`.
#[derive(Debug)]
pub struct DoNetwork {
    name: String,
    host_if: String,
    /// The host end's address.
    pub host_addr: Ipv4Addr,
    /// The sandbox's address.
    pub sandbox_addr: Ipv4Addr,
    rules: Vec<Vec<String>>,
    ns_made: bool,
    veth_made: bool,
}

fn overlaps(a: Ipv4Addr, ap: u8, b: Ipv4Addr, bp: u8) -> bool {
    let p = ap.min(bp) as u32;
    if p == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - p);
    u32::from(a) & mask == u32::from(b) & mask
}

/// A /30 of 10.213.0.0/16 that no address or route of the host's namespace
/// overlaps, starting the search from `seed`.
fn free_subnet(seed: u32) -> Result<Ipv4Addr> {
    let mut nl = super::netlink::Netlink::open()?;
    let mut used: Vec<(Ipv4Addr, u8)> = Vec::new();
    for a in nl.addrs()? {
        if let IpAddr::V4(v) = a.addr {
            used.push((v, a.prefix));
        }
    }
    for r in nl.routes()? {
        if let IpAddr::V4(v) = r.dst {
            if r.prefix > 0 {
                used.push((v, r.prefix));
            }
        }
    }
    for i in 0..16384u32 {
        let k = (seed.wrapping_add(i)) % 16384;
        let net = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 213, 0, 0)) | (k << 2));
        if !used.iter().any(|&(u, p)| overlaps(u, p, net, 30)) {
            return Ok(net);
        }
    }
    bail!("no free /30 left in 10.213.0.0/16 for the sandbox's veth pair")
}

impl DoNetwork {
    /// Makes the namespace, veth pair and rules of launcher `pid`.
    pub fn create(pid: u32) -> Result<DoNetwork> {
        let mut d = DoNetwork {
            name: format!("{PREFIX}{pid}"),
            host_if: format!("{HOST_IF_PREFIX}{pid}"),
            host_addr: Ipv4Addr::UNSPECIFIED,
            sandbox_addr: Ipv4Addr::UNSPECIFIED,
            rules: Vec::new(),
            ns_made: false,
            veth_made: false,
        };
        // On error the drop removes what was made.
        d.build(pid)?;
        Ok(d)
    }

    fn build(&mut self, pid: u32) -> Result<()> {
        let net = free_subnet(pid)?;
        self.host_addr = Ipv4Addr::from(u32::from(net) + 1);
        self.sandbox_addr = Ipv4Addr::from(u32::from(net) + 2);
        let (ns, hif) = (self.name.clone(), self.host_if.clone());
        let peer = format!("gvp{pid}");
        {
            let _l = lock();
            sweep_stale_locked();
            run("ip", &["netns", "add", &ns])?;
            self.ns_made = true;
            forwarding_on()?;
        }
        run(
            "ip",
            &["link", "add", &hif, "type", "veth", "peer", "name", &peer],
        )?;
        self.veth_made = true;
        run("ip", &["link", "set", &peer, "netns", &ns])?;
        run("ip", &["-n", &ns, "link", "set", &peer, "name", "eth0"])?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/30", self.host_addr),
                "dev",
                &hif,
            ],
        )?;
        run("ip", &["link", "set", &hif, "up"])?;
        run(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/30", self.sandbox_addr),
                "dev",
                "eth0",
            ],
        )?;
        run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
        run(
            "ip",
            &[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &self.host_addr.to_string(),
            ],
        )?;
        let subnet = format!("{net}/30");
        let comment = self.name.clone();
        let rules: Vec<Vec<String>> = vec![
            vec![
                "-t",
                "nat",
                "POSTROUTING",
                "-s",
                &subnet,
                "!",
                "-o",
                &hif,
                "-j",
                "MASQUERADE",
            ],
            vec!["-t", "filter", "FORWARD", "-i", &hif, "-j", "ACCEPT"],
            vec!["-t", "filter", "FORWARD", "-o", &hif, "-j", "ACCEPT"],
        ]
        .into_iter()
        .map(|r| {
            let mut v: Vec<String> = r.into_iter().map(String::from).collect();
            v.extend(["-m", "comment", "--comment", &comment].map(String::from));
            v
        })
        .collect();
        for r in rules {
            // -t TABLE -I CHAIN rest...
            let mut args: Vec<&str> = vec![&r[0], &r[1], "-I", &r[2]];
            args.extend(r[3..].iter().map(String::as_str));
            run(
                "iptables",
                &["-w"].iter().copied().chain(args).collect::<Vec<_>>(),
            )?;
            self.rules.push(r);
        }
        Ok(())
    }

    /// The namespace's path.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }
}

impl Drop for DoNetwork {
    fn drop(&mut self) {
        for r in self.rules.drain(..).rev() {
            let mut args: Vec<&str> = vec!["-w", &r[0], &r[1], "-D", &r[2]];
            args.extend(r[3..].iter().map(String::as_str));
            if let Err(e) = run("iptables", &args) {
                tracing::warn!(error = %e, "removing the sandbox's iptables rule");
            }
        }
        if self.veth_made {
            // Gone with the namespace if its end was moved; not otherwise.
            let _ = run("ip", &["link", "del", &self.host_if]);
        }
        if self.ns_made {
            let _l = lock();
            if let Err(e) = run("ip", &["netns", "del", &self.name]) {
                tracing::warn!(error = %e, "removing the sandbox's network namespace");
            }
            forwarding_restore_if_last();
        }
    }
}

/// Removes the namespaces, veths and rules of `gvisor do` launchers that
/// are gone (killed before they could clean up), and gives IPv4 forwarding
/// its value back if none is left.
pub fn sweep_stale() {
    let _l = lock();
    sweep_stale_locked();
    forwarding_restore_if_last();
}

fn sweep_stale_locked() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        remove_rules(&name);
        let _ = run("ip", &["link", "del", &format!("{HOST_IF_PREFIX}{pid}")]);
        let _ = run("ip", &["netns", "del", &name]);
    }
}

/// Deletes the iptables rules commented `comment`.
fn remove_rules(comment: &str) {
    for (table, chain) in [("nat", "POSTROUTING"), ("filter", "FORWARD")] {
        let Ok(text) = run("iptables", &["-w", "-t", table, "-S", chain]) else {
            continue;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let tagged = words
                .windows(2)
                .any(|w| w[0] == "--comment" && w[1].trim_matches('"') == comment);
            if !tagged || words.first() != Some(&"-A") {
                continue;
            }
            let mut args = vec!["-w", "-t", table, "-D"];
            args.extend(words[1..].iter().map(|w| w.trim_matches('"')));
            let _ = run("iptables", &args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap() {
        let a = Ipv4Addr::new(10, 213, 0, 4);
        assert!(overlaps(a, 30, Ipv4Addr::new(10, 213, 0, 6), 32));
        assert!(!overlaps(a, 30, Ipv4Addr::new(10, 213, 0, 8), 30));
        assert!(overlaps(a, 30, Ipv4Addr::new(10, 0, 0, 0), 8));
        assert!(overlaps(a, 30, Ipv4Addr::new(1, 2, 3, 4), 0));
    }
}
