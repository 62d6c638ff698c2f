//! A minimal sysfs: /sys/devices/system/cpu/{online,possible,present} and
//! the network devices, /sys/class/net/NAME (a link to
//! /sys/devices/virtual/net/NAME, as Linux) with the attributes programs
//! read (address, mtu, flags, ifindex, operstate, type, carrier,
//! tx_queue_len, statistics/...).
//!
//! The network devices belong to the kernel's network stack, a layer above
//! this one: the kernel attaches a [`NetDevices`] provider when it is built
//! ([`SysFs::attach_net`]); until then (and without one) there are none.

use std::any::Any;
use std::sync::{Arc, OnceLock, Weak};

use super::synthetic::SyntheticFile;
use crate::errno::{Errno, SysResult};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Fs, Stat, Vfs, S_IFDIR, S_IFLNK, S_IFREG};

/// One network device as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDevice {
    /// Name ("lo").
    pub name: String,
    /// Index.
    pub index: u32,
    /// The device's IFF_* flags as set (`dev->flags`: no IFF_RUNNING).
    pub flags: u32,
    /// MTU.
    pub mtu: u32,
    /// Hardware address.
    pub mac: [u8; 6],
    /// ARPHRD_* type.
    pub hw_type: u16,
    /// Transmit queue length.
    pub txqlen: u32,
    /// "unknown", "up", "down"...
    pub operstate: &'static str,
    /// Whether the carrier is up.
    pub carrier: bool,
    /// Counters by statistics/ file name (those absent read 0).
    pub stats: Vec<(&'static str, u64)>,
}

/// Where sysfs gets the network devices from (the kernel's stack).
pub trait NetDevices: Send + Sync {
    /// The devices, as now.
    fn net_devices(&self) -> Vec<NetDevice>;
}

/// The /sys file system.
pub struct SysFs {
    cpus: usize,
    net: OnceLock<Weak<dyn NetDevices>>,
}

enum Node {
    Dir(Vec<(String, u32)>),
    File(Vec<u8>),
    Link(Vec<u8>),
}

/// The files of a network device directory.
const NET_FILES: [&str; 24] = [
    "addr_assign_type",
    "addr_len",
    "address",
    "broadcast",
    "carrier",
    "carrier_changes",
    "carrier_down_count",
    "carrier_up_count",
    "dev_id",
    "dev_port",
    "dormant",
    "flags",
    "gro_flush_timeout",
    "ifalias",
    "ifindex",
    "iflink",
    "link_mode",
    "mtu",
    "napi_defer_hard_irqs",
    "netdev_group",
    "operstate",
    "proto_down",
    "tx_queue_len",
    "type",
];
/// The counters of statistics/.
const NET_STATS: [&str; 23] = [
    "collisions",
    "multicast",
    "rx_bytes",
    "rx_compressed",
    "rx_crc_errors",
    "rx_dropped",
    "rx_errors",
    "rx_fifo_errors",
    "rx_frame_errors",
    "rx_length_errors",
    "rx_missed_errors",
    "rx_nohandler",
    "rx_over_errors",
    "rx_packets",
    "tx_aborted_errors",
    "tx_bytes",
    "tx_carrier_errors",
    "tx_compressed",
    "tx_dropped",
    "tx_errors",
    "tx_fifo_errors",
    "tx_heartbeat_errors",
    "tx_packets",
];

fn names(v: &[&str], mode: u32) -> Vec<(String, u32)> {
    v.iter().map(|n| (n.to_string(), mode)).collect()
}

fn mac_text(m: &[u8; 6]) -> String {
    let parts: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}\n", parts.join(":"))
}

impl SysFs {
    /// With `cpus` CPUs online.
    pub fn new(cpus: usize) -> Arc<Self> {
        Arc::new(SysFs {
            cpus: cpus.max(1),
            net: OnceLock::new(),
        })
    }

    /// Connects the network devices (once; later calls are ignored).
    pub fn attach_net(&self, net: Weak<dyn NetDevices>) {
        let _ = self.net.set(net);
    }

    /// Connects the network devices to every sysfs mounted in `vfs`.
    pub fn attach_net_all(vfs: &Vfs, net: &Weak<dyn NetDevices>) {
        for fs in vfs.file_systems() {
            if let Some(s) = fs.as_any().downcast_ref::<SysFs>() {
                s.attach_net(net.clone());
            }
        }
    }

    fn devices(&self) -> Vec<NetDevice> {
        self.net
            .get()
            .and_then(Weak::upgrade)
            .map(|n| n.net_devices())
            .unwrap_or_default()
    }

    fn device(&self, name: &str) -> Option<NetDevice> {
        self.devices().into_iter().find(|d| d.name == name)
    }

    fn cpu_list(&self) -> Vec<u8> {
        if self.cpus == 1 {
            "0\n".to_string()
        } else {
            format!("0-{}\n", self.cpus - 1)
        }
        .into_bytes()
    }

    fn node(&self, path: &str) -> Option<Node> {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let dev_names = || {
            self.devices()
                .into_iter()
                .map(|d| d.name)
                .collect::<Vec<String>>()
        };
        Some(match parts.as_slice() {
            [] => Node::Dir(names(&["class", "devices"], S_IFDIR)),
            ["class"] => Node::Dir(names(&["net"], S_IFDIR)),
            ["class", "net"] => Node::Dir(dev_names().into_iter().map(|n| (n, S_IFLNK)).collect()),
            ["class", "net", d] => {
                self.device(d)?;
                Node::Link(format!("../../devices/virtual/net/{d}").into_bytes())
            }
            ["devices"] => Node::Dir(names(&["system", "virtual"], S_IFDIR)),
            ["devices", "system"] => Node::Dir(names(&["cpu"], S_IFDIR)),
            ["devices", "system", "cpu"] => {
                Node::Dir(names(&["online", "possible", "present"], S_IFREG))
            }
            ["devices", "system", "cpu", "online" | "possible" | "present"] => {
                Node::File(self.cpu_list())
            }
            ["devices", "virtual"] => Node::Dir(names(&["net"], S_IFDIR)),
            ["devices", "virtual", "net"] => {
                Node::Dir(dev_names().into_iter().map(|n| (n, S_IFDIR)).collect())
            }
            ["devices", "virtual", "net", d, rest @ ..] => {
                let dev = self.device(d)?;
                net_node(&dev, rest)?
            }
            _ => return None,
        })
    }
}

/// A node inside /sys/devices/virtual/net/`dev.name`.
fn net_node(dev: &NetDevice, rest: &[&str]) -> Option<Node> {
    Some(match rest {
        [] => {
            let mut v = names(&NET_FILES, S_IFREG);
            v.push(("uevent".into(), S_IFREG));
            v.push(("statistics".into(), S_IFDIR));
            v.push(("subsystem".into(), S_IFLNK));
            Node::Dir(v)
        }
        ["subsystem"] => Node::Link(b"../../../../class/net".to_vec()),
        ["statistics"] => Node::Dir(names(&NET_STATS, S_IFREG)),
        ["statistics", s] if NET_STATS.contains(s) => {
            let v = dev
                .stats
                .iter()
                .find(|(n, _)| n == s)
                .map_or(0, |(_, v)| *v);
            Node::File(format!("{v}\n").into_bytes())
        }
        ["uevent"] => {
            Node::File(format!("INTERFACE={}\nIFINDEX={}\n", dev.name, dev.index).into_bytes())
        }
        [f] => {
            let text = match *f {
                "addr_assign_type"
                | "carrier_changes"
                | "carrier_down_count"
                | "carrier_up_count"
                | "dev_port"
                | "dormant"
                | "gro_flush_timeout"
                | "link_mode"
                | "napi_defer_hard_irqs"
                | "netdev_group"
                | "proto_down" => "0\n".to_string(),
                "addr_len" => "6\n".to_string(),
                "address" => mac_text(&dev.mac),
                // Ethernet's is all ones, loopback's all zero.
                "broadcast" => mac_text(&if dev.hw_type == 1 { [0xff; 6] } else { [0; 6] }),
                "carrier" => format!("{}\n", dev.carrier as u8),
                "dev_id" => "0x0\n".to_string(),
                "flags" => format!("{:#x}\n", dev.flags),
                "ifalias" => String::new(),
                "ifindex" | "iflink" => format!("{}\n", dev.index),
                "mtu" => format!("{}\n", dev.mtu),
                "operstate" => format!("{}\n", dev.operstate),
                "tx_queue_len" => format!("{}\n", dev.txqlen),
                "type" => format!("{}\n", dev.hw_type),
                _ => return None,
            };
            Node::File(text.into_bytes())
        }
        _ => return None,
    })
}

fn ino(path: &str) -> u64 {
    path.bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
}

fn stat_of(path: &str, n: &Node) -> Stat {
    let base = Stat {
        dev: 0x6,
        ino: ino(path),
        nlink: 1,
        blksize: 4096,
        ..Default::default()
    };
    match n {
        Node::Dir(_) => Stat {
            mode: S_IFDIR | 0o555,
            nlink: 2,
            ..base
        },
        Node::File(_) => Stat {
            mode: S_IFREG | 0o444,
            size: 4096,
            ..base
        },
        Node::Link(l) => Stat {
            mode: S_IFLNK | 0o777,
            size: l.len() as i64,
            ..base
        },
    }
}

impl Fs for SysFs {
    fn lstat(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        let n = self.node(path).ok_or(Errno::ENOENT)?;
        Ok(stat_of(path, &n))
    }

    fn readlink(&self, _ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        match self.node(path).ok_or(Errno::ENOENT)? {
            Node::Link(l) => Ok(l),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(
        self: Arc<Self>,
        _ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        if flags as i32 & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EACCES);
        }
        let n = self.node(path).ok_or(Errno::ENOENT)?;
        let st = stat_of(path, &n);
        match n {
            Node::File(d) => Ok(SyntheticFile::file(d, st)),
            Node::Dir(entries) => Ok(SyntheticFile::dir(entries, st)),
            Node::Link(_) => Err(Errno::ELOOP),
        }
    }

    fn fs_type(&self) -> u64 {
        0x6265_6572
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Detached;

    struct Lo;
    impl NetDevices for Lo {
        fn net_devices(&self) -> Vec<NetDevice> {
            vec![NetDevice {
                name: "lo".into(),
                index: 1,
                flags: 9,
                mtu: 65536,
                mac: [0; 6],
                hw_type: 772,
                txqlen: 1000,
                operstate: "unknown",
                stats: Vec::new(),
                carrier: true,
            }]
        }
    }

    #[test]
    fn class_net_links_to_the_device() {
        let fs = SysFs::new(2);
        assert!(fs.lstat(&Detached, "class/net/lo").is_err());
        let lo: Arc<dyn NetDevices> = Arc::new(Lo);
        fs.attach_net(Arc::downgrade(&lo));
        assert_eq!(
            fs.readlink(&Detached, "class/net/lo").unwrap(),
            b"../../devices/virtual/net/lo"
        );
        let file = |p: &str| match fs.node(p) {
            Some(Node::File(d)) => String::from_utf8(d).unwrap(),
            _ => panic!("{p}"),
        };
        assert_eq!(file("devices/virtual/net/lo/flags"), "0x9\n");
        assert_eq!(file("devices/virtual/net/lo/operstate"), "unknown\n");
        assert_eq!(
            file("devices/virtual/net/lo/address"),
            "00:00:00:00:00:00\n"
        );
        assert_eq!(file("devices/virtual/net/lo/statistics/rx_bytes"), "0\n");
        assert_eq!(file("devices/system/cpu/online"), "0-1\n");
        assert!(fs.node("devices/virtual/net/eth0").is_none());
    }
}
