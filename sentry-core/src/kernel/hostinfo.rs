//! What the sandbox is told of the host's hardware and of its own memory.

use std::sync::OnceLock;

use super::Kernel;

/// What /proc tells of the host's hardware, read once before the sentry is
/// confined (afterwards it may open no host file): the fields of the first
/// CPU of /proc/cpuinfo and the total memory.
#[derive(Clone, Debug, Default)]
pub struct HostInfo {
    /// `key: value` fields of one /proc/cpuinfo entry (model, flags, MHz...).
    pub cpu: Vec<(String, String)>,
    /// MemTotal of /proc/meminfo, in KiB.
    pub mem_total_kb: u64,
}

impl HostInfo {
    /// Reads the host's /proc/cpuinfo and /proc/meminfo the first time and
    /// returns the same values after (so that a call after confinement makes
    /// no host call). Must first be called before confinement.
    pub fn probe() -> HostInfo {
        static HOST: OnceLock<HostInfo> = OnceLock::new();
        HOST.get_or_init(|| {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
            HostInfo::parse(&cpuinfo, &meminfo)
        })
        .clone()
    }

    /// From the text of /proc/cpuinfo and /proc/meminfo.
    pub fn parse(cpuinfo: &str, meminfo: &str) -> HostInfo {
        let cpu = cpuinfo
            .split("\n\n")
            .next()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim_end().to_string(), v.trim().to_string()))
            .collect();
        let mem_total_kb = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        HostInfo { cpu, mem_total_kb }
    }
}

impl Kernel {
    /// The sandbox's memory in KiB, (total, free): its memory file (no bigger
    /// than the host's memory) and what the sentry has not handed out of it.
    /// /proc/meminfo and sysinfo(2) both report these.
    pub fn memory_kb(&self) -> (u64, u64) {
        let mem = self.platform.memory();
        let file_kb = mem.size() / 1024;
        let host_kb = self.config.host.mem_total_kb;
        let total = if host_kb == 0 {
            file_kb
        } else {
            file_kb.min(host_kb)
        };
        let used = (mem.pages_in_use() * crate::mm::PAGE / 1024).min(total);
        (total, total - used)
    }
}
