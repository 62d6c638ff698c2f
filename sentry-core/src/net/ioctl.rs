//! The interface ioctls (SIOCGIF*) every socket answers, from the stack's
//! interface list, with Linux's `struct ifreq` / `struct ifconf` layouts.
//!
//! Two entry points, as Linux splits them:
//! - [`device_ioctl`]: what `dev_ioctl` serves for a socket of any family
//!   (SIOCGIFCONF, SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFINDEX,
//!   SIOCGIFHWADDR, SIOCGIFTXQLEN, SIOCGIFMETRIC, SIOCGIFMAP and the
//!   device setters). Unix, inet6 and netlink sockets fall back to it.
//! - [`interface_ioctl`]: the above plus the IPv4 address requests
//!   (SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFDSTADDR and their
//!   setters) that only an AF_INET socket answers on Linux (devinet_ioctl);
//!   elsewhere they are ENOTTY.
//!
//! Setters need CAP_NET_ADMIN (EPERM without, as Linux); with it they are
//! EOPNOTSUPP: the sandbox's interfaces are fixed.

use std::net::IpAddr;

use super::{Interface, Stack, CAP_NET_ADMIN};
use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;

/// `sizeof(struct ifreq)`.
const IFREQ_LEN: usize = 40;
/// `sizeof(struct ifconf)`.
const IFCONF_LEN: usize = 16;
/// IFNAMSIZ.
const IFNAMSIZ: usize = 16;
/// The ioctl type byte of the socket requests (SOCK_IOC_TYPE).
const SOCK_IOC_TYPE: u64 = 0x89;

const SIOCGIFNAME: u64 = 0x8910;
const SIOCGIFCONF: u64 = 0x8912;
const SIOCGIFFLAGS: u64 = 0x8913;
const SIOCSIFFLAGS: u64 = 0x8914;
const SIOCGIFADDR: u64 = 0x8915;
const SIOCSIFADDR: u64 = 0x8916;
const SIOCGIFDSTADDR: u64 = 0x8917;
const SIOCSIFDSTADDR: u64 = 0x8918;
const SIOCGIFBRDADDR: u64 = 0x8919;
const SIOCSIFBRDADDR: u64 = 0x891a;
const SIOCGIFNETMASK: u64 = 0x891b;
const SIOCSIFNETMASK: u64 = 0x891c;
const SIOCGIFMETRIC: u64 = 0x891d;
const SIOCSIFMETRIC: u64 = 0x891e;
const SIOCGIFMTU: u64 = 0x8921;
const SIOCSIFMTU: u64 = 0x8922;
const SIOCSIFNAME: u64 = 0x8923;
const SIOCSIFHWADDR: u64 = 0x8924;
const SIOCGIFHWADDR: u64 = 0x8927;
const SIOCADDMULTI: u64 = 0x8931;
const SIOCDELMULTI: u64 = 0x8932;
const SIOCGIFINDEX: u64 = 0x8933;
const SIOCSIFHWBROADCAST: u64 = 0x8937;
const SIOCGIFTXQLEN: u64 = 0x8942;
const SIOCSIFTXQLEN: u64 = 0x8943;
const SIOCGIFMAP: u64 = 0x8970;
const SIOCSIFMAP: u64 = 0x8971;

/// The ioctls of a socket of any family that Linux's `dev_ioctl` serves;
/// ENOTTY for anything else.
pub fn device_ioctl(stack: &Stack, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
    let req = req & 0xffff_ffff;
    if (req >> 8) & 0xff != SOCK_IOC_TYPE {
        return Err(Errno::ENOTTY);
    }
    if req == SIOCGIFCONF {
        return ifconf(stack, ctx, arg);
    }
    let mut ifr = [0u8; IFREQ_LEN];
    ctx.mm()?.copy_in(arg, &mut ifr)?;
    if req == SIOCGIFNAME {
        let index = i32_at(&ifr, 16);
        let ifs = stack.interfaces();
        let i = ifs
            .iter()
            .find(|i| i.index as i32 == index)
            .ok_or(Errno::ENODEV)?;
        let n = i.name.len().min(IFNAMSIZ - 1);
        ifr[..n].copy_from_slice(&i.name.as_bytes()[..n]);
        ifr[n] = 0;
        ctx.mm()?.copy_out(arg, &ifr)?;
        return Ok(0);
    }
    ifr[IFNAMSIZ - 1] = 0;
    match req {
        SIOCGIFFLAGS | SIOCGIFMETRIC | SIOCGIFMTU | SIOCGIFMAP | SIOCGIFINDEX | SIOCGIFTXQLEN
        | SIOCGIFHWADDR => {
            let i = device(stack, &ifr)?;
            match req {
                SIOCGIFFLAGS => ifr[16..18].copy_from_slice(&(i.flags as u16).to_ne_bytes()),
                SIOCGIFMETRIC => ifr[16..20].copy_from_slice(&0i32.to_ne_bytes()),
                SIOCGIFMTU => ifr[16..20].copy_from_slice(&i.mtu.to_ne_bytes()),
                // mem_start, mem_end, base_addr, irq, dma, port.
                SIOCGIFMAP => ifr[16..37].fill(0),
                SIOCGIFINDEX => ifr[16..20].copy_from_slice(&i.index.to_ne_bytes()),
                SIOCGIFTXQLEN => {
                    ifr[16..20].copy_from_slice(&super::netlink::route::TXQLEN.to_ne_bytes())
                }
                _ => {
                    ifr[16..18].copy_from_slice(&i.hw_type.to_ne_bytes());
                    ifr[18..24].copy_from_slice(&i.mac);
                }
            }
            ctx.mm()?.copy_out(arg, &ifr)?;
            Ok(0)
        }
        SIOCSIFMAP | SIOCSIFTXQLEN | SIOCSIFFLAGS | SIOCSIFMETRIC | SIOCSIFMTU | SIOCSIFHWADDR
        | SIOCADDMULTI | SIOCDELMULTI | SIOCSIFHWBROADCAST | SIOCSIFNAME => {
            if !ctx.capable(CAP_NET_ADMIN) {
                return Err(Errno::EPERM);
            }
            device(stack, &ifr)?;
            Err(Errno::EOPNOTSUPP)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// The ioctls of an AF_INET socket: [`device_ioctl`] plus the IPv4
/// address requests (Linux's devinet_ioctl).
pub fn interface_ioctl(stack: &Stack, ctx: &dyn TaskContext, req: u64, arg: u64) -> SysResult<u64> {
    let r = req & 0xffff_ffff;
    let get = matches!(
        r,
        SIOCGIFADDR | SIOCGIFDSTADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK
    );
    let set = matches!(
        r,
        SIOCSIFADDR | SIOCSIFDSTADDR | SIOCSIFBRDADDR | SIOCSIFNETMASK
    );
    if !get && !set {
        return device_ioctl(stack, ctx, req, arg);
    }
    let mut ifr = [0u8; IFREQ_LEN];
    ctx.mm()?.copy_in(arg, &mut ifr)?;
    ifr[IFNAMSIZ - 1] = 0;
    if set && !ctx.capable(CAP_NET_ADMIN) {
        return Err(Errno::EPERM);
    }
    let i = device(stack, &ifr)?;
    if set {
        return Err(Errno::EOPNOTSUPP);
    }
    // The address whose label is the whole name (an alias "lo:1" has none).
    let label = name_of(&ifr);
    let (addr, plen) = i
        .addrs
        .iter()
        .filter(|_| label == i.name.as_bytes())
        .find_map(|&(a, p)| match a {
            IpAddr::V4(v4) => Some((v4, p)),
            IpAddr::V6(_) => None,
        })
        .ok_or(Errno::EADDRNOTAVAIL)?;
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(plen.min(32)))
    };
    let value = match r {
        SIOCGIFADDR | SIOCGIFDSTADDR => u32::from(addr),
        SIOCGIFNETMASK => mask,
        // Loopback has no broadcast address.
        _ => {
            if i.flags & libc::IFF_BROADCAST as u32 != 0 {
                u32::from(addr) | !mask
            } else {
                0
            }
        }
    };
    ifr[16..32].fill(0);
    ifr[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    ifr[20..24].copy_from_slice(&value.to_be_bytes());
    ctx.mm()?.copy_out(arg, &ifr)?;
    Ok(0)
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    i32::from_ne_bytes(w)
}

/// The name in an ifreq, up to its NUL.
fn name_of(ifr: &[u8; IFREQ_LEN]) -> &[u8] {
    let name = &ifr[..IFNAMSIZ];
    let end = name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
    &name[..end]
}

/// The device an ifreq names (an alias "lo:1" names lo); ENODEV if none.
fn device(stack: &Stack, ifr: &[u8; IFREQ_LEN]) -> SysResult<Interface> {
    let name = name_of(ifr);
    let dev = match name.iter().position(|&b| b == b':') {
        Some(c) => &name[..c],
        None => name,
    };
    stack
        .interfaces()
        .into_iter()
        .find(|i| i.name.as_bytes() == dev)
        .ok_or(Errno::ENODEV)
}

/// SIOCGIFCONF: one `struct ifreq` (name, sockaddr_in) per IPv4 address,
/// as many as fit; a null buffer asks for the length needed.
fn ifconf(stack: &Stack, ctx: &dyn TaskContext, arg: u64) -> SysResult<u64> {
    let mut raw = [0u8; IFCONF_LEN];
    ctx.mm()?.copy_in(arg, &mut raw)?;
    let len = i32_at(&raw, 0);
    let mut p = [0u8; 8];
    p.copy_from_slice(&raw[8..16]);
    let buf = u64::from_ne_bytes(p);
    let mut total: i32 = 0;
    for i in stack.interfaces() {
        for &(a, _) in &i.addrs {
            let IpAddr::V4(v4) = a else { continue };
            if buf == 0 {
                total = total.saturating_add(IFREQ_LEN as i32);
                continue;
            }
            if len.saturating_sub(total) < IFREQ_LEN as i32 {
                break;
            }
            let mut ifr = [0u8; IFREQ_LEN];
            let n = i.name.len().min(IFNAMSIZ - 1);
            ifr[..n].copy_from_slice(&i.name.as_bytes()[..n]);
            ifr[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            ifr[20..24].copy_from_slice(&v4.octets());
            let at = buf.checked_add(total as u64).ok_or(Errno::EFAULT)?;
            ctx.mm()?.copy_out(at, &ifr)?;
            total += IFREQ_LEN as i32;
        }
    }
    ctx.mm()?.copy_out(arg, &total.to_ne_bytes())?;
    Ok(0)
}

/// The devices /sys/class/net shows.
impl crate::fsimpl::sysfs::NetDevices for Stack {
    fn net_devices(&self) -> Vec<crate::fsimpl::sysfs::NetDevice> {
        let counts = self.inet.link_counts();
        self.interfaces()
            .into_iter()
            .map(|i| crate::fsimpl::sysfs::NetDevice {
                stats: counts
                    .iter()
                    .find(|c| c.0 == i.index)
                    .map(|(_, c)| {
                        vec![
                            ("rx_packets", c.rx[0]),
                            ("rx_bytes", c.rx[1]),
                            ("rx_errors", c.rx[2]),
                            ("rx_dropped", c.rx[3]),
                            ("multicast", c.rx[4]),
                            ("tx_packets", c.tx[0]),
                            ("tx_bytes", c.tx[1]),
                            ("tx_errors", c.tx[2]),
                            ("tx_dropped", c.tx[3]),
                        ]
                    })
                    .unwrap_or_default(),
                operstate: match super::netlink::route::operstate(&i) {
                    0 => "unknown",
                    6 => "up",
                    _ => "down",
                },
                carrier: i.flags & libc::IFF_RUNNING as u32 != 0,
                // dev->flags: IFF_RUNNING is computed, not set.
                flags: i.flags & !(libc::IFF_RUNNING as u32),
                txqlen: super::netlink::route::TXQLEN,
                name: i.name,
                index: i.index,
                mtu: i.mtu,
                mac: i.mac,
                hw_type: i.hw_type,
            })
            .collect()
    }
}
