//! A sandbox's resource limits (`--memory`, `--pids`, `--cpus`, or a
//! bundle's linux.resources): what the sentry enforces and the host cgroup
//! around it allows.

use std::ffi::OsString;

use anyhow::{anyhow, Result};

/// What a sandbox may use. The sentry enforces the memory and task limits
/// itself (its memory file is `memory` bytes; at most `pids` tasks, each
/// with its vCPU), so the program gets ENOMEM, EAGAIN or (for a page it
/// cannot have) SIGKILL, and the host cgroup around the sentry and the
/// gofer is a backstop with headroom for their own heaps and threads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Memory, bytes.
    pub memory: Option<u64>,
    /// Tasks (threads) in the sandbox.
    pub pids: Option<u64>,
    /// CPU time per period (µs) and the period (µs).
    pub cpu_quota: Option<(i64, u64)>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
}

/// Smallest memory limit (the sentry's page tables and vCPU areas live in
/// the sandbox's memory too).
pub const MIN_MEMORY: u64 = 32 << 20;
/// Host memory the cgroup allows besides the sandbox's memory file: the
/// sentry's and the gofer's own heaps.
pub const MEMORY_HEADROOM: u64 = 256 << 20;
/// Host threads the cgroup allows besides one per task: the sentry's and
/// the gofer's own threads.
pub const PIDS_HEADROOM: u64 = 64;

impl SandboxLimits {
    /// The host cgroup's limits for these.
    pub fn host_limits(&self) -> crate::cgroup::Limits {
        crate::cgroup::Limits {
            memory: self.memory.map(|m| (m + MEMORY_HEADROOM) as i64),
            cpu_shares: self.cpu_shares,
            cpu_quota: self.cpu_quota.map(|(q, _)| q),
            cpu_period: self.cpu_quota.map(|(_, p)| p),
            pids: self.pids.map(|p| (p + PIDS_HEADROOM) as i64),
        }
    }

    /// The `gvisor boot` flags that tell the sentry its limits.
    pub fn boot_flags(&self) -> Vec<OsString> {
        let mut f = Vec::new();
        if let Some(m) = self.memory {
            f.push("--memory-limit".into());
            f.push(m.to_string().into());
        }
        if let Some(p) = self.pids {
            f.push("--pids-limit".into());
            f.push(p.to_string().into());
        }
        f
    }
}

/// Parses a memory size: bytes, or with a K, M, G or T suffix (powers of
/// 1024; "512M", "1G", "1.5G").
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'B' => 1,
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => anyhow::bail!("size {s:?}: unknown unit {c:?} (use K, M, G or T)"),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| anyhow!("size {s:?}: not a number with an optional K, M, G or T"))?;
    if !(v.is_finite() && v > 0.0) || v * mul as f64 >= u64::MAX as f64 {
        anyhow::bail!("size {s:?}: out of range");
    }
    Ok((v * mul as f64) as u64)
}

/// Checks limits from the command line or a bundle.
pub fn check_limits(l: &SandboxLimits) -> Result<()> {
    if let Some(m) = l.memory {
        if m < MIN_MEMORY {
            anyhow::bail!(
                "memory limit {m} bytes: below the smallest sandbox ({} MiB)",
                MIN_MEMORY >> 20
            );
        }
    }
    if l.pids == Some(0) {
        anyhow::bail!("pids limit 0: the program needs at least one task");
    }
    Ok(())
}
