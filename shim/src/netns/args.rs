//! The sandbox's network on the `gvisor boot` command line: one
//! `--net-link` per interface and one `--net-route` per route, after
//! `--network MODE`.
//!
//! ```text
//! --net-link NAME,MAC,MTU,FD[,ADDR/PREFIX]...     FD: the packet socket's descriptor, or "-"
//! --net-route DST/PREFIX,GATEWAY,NAME,METRIC      GATEWAY: an address, or "-"
//! ```

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use sentry_core::net::{LinkConfig, NetConfig, NetMode, RouteConfig};

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    Some((a.parse().ok()?, p.parse().ok()?))
}

/// The boot arguments of `config`, the n-th link's socket being descriptor
/// `fds[n]` in the sentry.
pub fn encode(config: &NetConfig, fds: &[RawFd]) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["--network".into(), config.mode.name().into()];
    let mut next = fds.iter();
    for l in &config.links {
        let fd = match l.fd {
            Some(_) => next
                .next()
                .map_or_else(|| "-".to_string(), |f| f.to_string()),
            None => "-".to_string(),
        };
        let mut s = format!("{},{},{},{fd}", l.name, mac_text(&l.mac), l.mtu);
        for (a, p) in &l.addrs {
            s.push_str(&format!(",{a}/{p}"));
        }
        out.push("--net-link".into());
        out.push(s.into());
    }
    for r in &config.routes {
        let gw = r.gateway.map_or_else(|| "-".to_string(), |g| g.to_string());
        out.push("--net-route".into());
        out.push(format!("{}/{},{gw},{},{}", r.dst, r.prefix, r.link, r.metric).into());
    }
    out
}

/// Whether `fd` is an open socket.
fn is_socket(fd: RawFd) -> bool {
    // SAFETY: fstat into a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a descriptor number; fails harmlessly if closed.
    let r = unsafe { libc::fstat(fd, &mut st) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
}

fn parse_link(s: &str, taken: &mut Vec<RawFd>) -> Result<LinkConfig> {
    let what = || format!("--net-link {s:?}");
    let mut it = s.split(',');
    let (Some(name), Some(mac), Some(mtu), Some(fd)) = (it.next(), it.next(), it.next(), it.next())
    else {
        bail!("{}: expected NAME,MAC,MTU,FD[,ADDR/PREFIX]...", what());
    };
    let mac = parse_mac(mac).ok_or_else(|| anyhow!("{}: bad MAC address {mac:?}", what()))?;
    let mtu: u32 = mtu
        .parse()
        .map_err(|_| anyhow!("{}: bad MTU {mtu:?}", what()))?;
    let fd = match fd {
        "-" => None,
        f => {
            let n: RawFd = f
                .parse()
                .ok()
                .filter(|&n| n > 2)
                .ok_or_else(|| anyhow!("{}: bad descriptor {f:?}", what()))?;
            if taken.contains(&n) || !is_socket(n) {
                bail!(
                    "{}: descriptor {n} is not a packet socket given to it",
                    what()
                );
            }
            taken.push(n);
            // SAFETY: the launcher donated this descriptor for this link;
            // it is checked open, a socket and not claimed twice.
            Some(Arc::new(unsafe { OwnedFd::from_raw_fd(n) }))
        }
    };
    let mut addrs = Vec::new();
    for a in it {
        addrs.push(parse_net(a).ok_or_else(|| anyhow!("{}: bad address {a:?}", what()))?);
    }
    Ok(LinkConfig {
        name: name.to_string(),
        mac,
        mtu,
        addrs,
        fd,
    })
}

fn parse_route(s: &str) -> Result<RouteConfig> {
    let what = || format!("--net-route {s:?}");
    let parts: Vec<&str> = s.split(',').collect();
    let [dst, gw, link, metric] = parts[..] else {
        bail!("{}: expected DST/PREFIX,GATEWAY,NAME,METRIC", what());
    };
    let (dst, prefix) =
        parse_net(dst).ok_or_else(|| anyhow!("{}: bad destination {dst:?}", what()))?;
    let gateway = match gw {
        "-" => None,
        g => Some(
            g.parse()
                .map_err(|_| anyhow!("{}: bad gateway {g:?}", what()))?,
        ),
    };
    let metric = metric
        .parse()
        .map_err(|_| anyhow!("{}: bad metric {metric:?}", what()))?;
    Ok(RouteConfig {
        dst,
        prefix,
        gateway,
        link: link.to_string(),
        metric,
    })
}

/// The [`NetConfig`] of `gvisor boot`'s arguments; the packet sockets they
/// name become the links' (owned from now on). The result is validated.
pub fn parse(mode: NetMode, links: &[String], routes: &[String]) -> Result<NetConfig> {
    if mode == NetMode::None && !links.is_empty() {
        bail!("--net-link: network mode none has no interfaces");
    }
    let mut taken = Vec::new();
    let mut config = NetConfig {
        mode,
        links: Vec::new(),
        routes: Vec::new(),
    };
    for l in links {
        config.links.push(parse_link(l, &mut taken)?);
    }
    for r in routes {
        config.routes.push(parse_route(r)?);
    }
    config
        .validate()
        .map_err(|e| anyhow!("the sandbox's network: {e}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_sockets() {
        let c = NetConfig {
            mode: NetMode::Host,
            links: vec![LinkConfig {
                name: "eth0".into(),
                mac: [2, 0x42, 0xac, 0x11, 0, 2],
                mtu: 1500,
                addrs: vec![
                    ("10.1.2.3".parse().unwrap(), 24),
                    ("fe80::42:acff:fe11:2".parse().unwrap(), 64),
                ],
                fd: None,
            }],
            routes: vec![RouteConfig {
                dst: "0.0.0.0".parse().unwrap(),
                prefix: 0,
                gateway: Some("10.1.2.1".parse().unwrap()),
                link: "eth0".into(),
                metric: 100,
            }],
        };
        let args: Vec<String> = encode(&c, &[])
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args[3],
            "eth0,02:42:ac:11:00:02,1500,-,10.1.2.3/24,fe80::42:acff:fe11:2/64"
        );
        assert_eq!(args[5], "0.0.0.0/0,10.1.2.1,eth0,100");
        let back = parse(NetMode::Host, &[args[3].clone()], &[args[5].clone()]).unwrap();
        assert_eq!(back.links[0].addrs, c.links[0].addrs);
        assert_eq!(back.links[0].mac, c.links[0].mac);
        assert_eq!(back.routes, c.routes);
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = parse(NetMode::Host, &["eth0,zz,1500,-".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("bad MAC"), "{e}");
        let e = parse(NetMode::Host, &["eth0,02:00:00:00:00:01,20,-".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("MTU 20"), "{e}");
        let e = parse(
            NetMode::Sandbox,
            &["eth0,02:00:00:00:00:01,1500,999".into()],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a packet socket"), "{e}");
        let e = parse(
            NetMode::Sandbox,
            &["eth0,02:00:00:00:00:01,1500,-".into()],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("no packet socket"), "{e}");
        let e = parse(NetMode::Host, &[], &["0.0.0.0/0,-,eth9,0".into()]).unwrap_err();
        assert!(e.to_string().contains("eth9"), "{e}");
    }
}
