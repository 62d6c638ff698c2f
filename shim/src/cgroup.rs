//! The sandbox's cgroup: the sentry and the gofers of a pod go into the
//! cgroup its first container's `linux.cgroupsPath` names (cgroup v1
//! controllers memory, cpu, cpuacct and pids, or the v2 unified tree). The
//! shim reads usage from it (Stats), writes limits to it (Create, Update)
//! and watches it for OOM kills.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

const ROOT: &str = "/sys/fs/cgroup";
const V1: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// Usage read from the cgroup.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Memory in use, bytes.
    pub memory: u64,
    /// Memory limit, bytes (0: none).
    pub memory_limit: u64,
    /// Peak memory, bytes.
    pub memory_max: u64,
    /// CPU time, ns.
    pub cpu_ns: u64,
    /// Processes (host: sentry threads count as tasks in v1 pids).
    pub pids: u64,
    /// Process limit (0: none).
    pub pids_limit: u64,
    /// OOM kills so far.
    pub oom_kills: u64,
}

/// Limits to apply (None: leave as is).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Limits {
    /// memory limit, bytes (-1: none).
    pub memory: Option<i64>,
    /// cpu shares (v1) / weight source.
    pub cpu_shares: Option<u64>,
    /// CFS quota, µs (-1: none).
    pub cpu_quota: Option<i64>,
    /// CFS period, µs.
    pub cpu_period: Option<u64>,
    /// pids limit (-1 or 0: none).
    pub pids: Option<i64>,
}

/// A cgroup made for one sandbox.
#[derive(Debug, Clone)]
pub struct Cgroup {
    /// v2: the one directory; v1: one per controller.
    dirs: Vec<(String, PathBuf)>,
    v2: bool,
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn keyed(p: &Path, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(p).ok()?;
    s.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

fn write(p: &Path, v: &str) -> Result<()> {
    std::fs::write(p, v).with_context(|| format!("writing {v:?} to {}", p.display()))
}

/// Writes a limit; a controller file the hierarchy does not offer (a
/// controller not enabled for this cgroup) is skipped with a warning.
fn write_limit(p: &Path, v: &str) -> Result<()> {
    if !p.exists() {
        tracing::warn!(file = %p.display(), value = v, "cgroup limit not applied: no such control file");
        return Ok(());
    }
    write(p, v)
}

impl Cgroup {
    /// Creates (or reuses) the cgroup at `path` (relative to each hierarchy
    /// root) and moves `pids` into it. None when the host has no usable
    /// cgroup file system.
    pub fn create(path: &str, pids: &[i32]) -> Result<Option<Cgroup>> {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            anyhow::bail!("linux.cgroupsPath {path:?}: not a usable cgroup path");
        }
        let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
        let dirs: Vec<(String, PathBuf)> = if v2 {
            vec![("unified".into(), Path::new(ROOT).join(rel))]
        } else {
            V1.iter()
                .filter(|c| Path::new(ROOT).join(c).join("cgroup.procs").exists())
                .map(|c| (c.to_string(), Path::new(ROOT).join(c).join(rel)))
                .collect()
        };
        if dirs.is_empty() {
            return Ok(None);
        }
        for (_, d) in &dirs {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating cgroup {}", d.display()))?;
        }
        if v2 {
            // Limits need the controllers enabled on the way down (best
            // effort: a parent may not offer one).
            let mut at = PathBuf::from(ROOT);
            for part in rel.split('/').filter(|p| !p.is_empty()) {
                for c in ["+memory", "+cpu", "+pids"] {
                    let _ = std::fs::write(at.join("cgroup.subtree_control"), c);
                }
                at.push(part);
            }
        }
        let cg = Cgroup { dirs, v2 };
        for &pid in pids {
            cg.add(pid)?;
        }
        Ok(Some(cg))
    }

    /// Creates the cgroup `name` under this process's own cgroup in every
    /// hierarchy (so the caller's limits and accounting still cover the
    /// sandbox) and moves `pids` into it. None when the host has no usable
    /// cgroup file system.
    pub fn create_nested(name: &str, pids: &[i32]) -> Result<Option<Cgroup>> {
        if name.is_empty() || name.contains('/') || name == ".." || name == "." {
            anyhow::bail!("cgroup name {name:?}: not a single path component");
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
        let mut dirs = Vec::new();
        for line in own.lines() {
            let mut it = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let rel = path.trim_start_matches('/');
            if v2 {
                if ctrls.is_empty() {
                    dirs.push(("unified".to_string(), Path::new(ROOT).join(rel).join(name)));
                }
                continue;
            }
            for c in ctrls.split(',') {
                if V1.contains(&c) && Path::new(ROOT).join(c).join("cgroup.procs").exists() {
                    dirs.push((c.to_string(), Path::new(ROOT).join(c).join(rel).join(name)));
                }
            }
        }
        // cpu and cpuacct may share one hierarchy (cpu,cpuacct): once.
        dirs.dedup_by(|a, b| a.1 == b.1);
        if dirs.is_empty() {
            return Ok(None);
        }
        for (_, d) in &dirs {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating cgroup {}", d.display()))?;
        }
        if v2 {
            if let Some(parent) = dirs[0].1.parent() {
                for c in ["+memory", "+cpu", "+pids"] {
                    let _ = std::fs::write(parent.join("cgroup.subtree_control"), c);
                }
            }
        }
        let cg = Cgroup { dirs, v2 };
        for &pid in pids {
            cg.add(pid)?;
        }
        Ok(Some(cg))
    }

    /// Removes the empty cgroups `PREFIX<pid>` beside this one whose
    /// launcher `pid` is gone (a launcher killed by SIGKILL cannot remove
    /// its own); a cgroup that still has processes cannot be removed.
    pub fn remove_stale_siblings(&self, prefix: &str) {
        for (_, d) in &self.dirs {
            let Some(parent) = d.parent() else { continue };
            let Ok(rd) = std::fs::read_dir(parent) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(prefix))
                    .and_then(|p| p.parse::<i32>().ok())
                else {
                    continue;
                };
                // SAFETY: kill with signal 0 only checks that the process exists.
                let gone = pid > 0
                    && unsafe { libc::kill(pid, 0) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
                if gone {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
    }

    /// The directories of the cgroup (one per v1 controller).
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    /// Moves process `pid` into the cgroup.
    pub fn add(&self, pid: i32) -> Result<()> {
        for (_, d) in &self.dirs {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        self.dirs
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Current usage.
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        if self.v2 {
            let Some(d) = self.dir("") else { return u };
            u.memory = read_u64(&d.join("memory.current")).unwrap_or(0);
            u.memory_limit = read_u64(&d.join("memory.max")).unwrap_or(0);
            u.memory_max = read_u64(&d.join("memory.peak")).unwrap_or(0);
            u.cpu_ns = keyed(&d.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000;
            u.pids = read_u64(&d.join("pids.current")).unwrap_or(0);
            u.pids_limit = read_u64(&d.join("pids.max")).unwrap_or(0);
            u.oom_kills = keyed(&d.join("memory.events"), "oom_kill").unwrap_or(0);
            return u;
        }
        if let Some(d) = self.dir("memory") {
            u.memory = read_u64(&d.join("memory.usage_in_bytes")).unwrap_or(0);
            u.memory_limit = read_u64(&d.join("memory.limit_in_bytes")).unwrap_or(0);
            u.memory_max = read_u64(&d.join("memory.max_usage_in_bytes")).unwrap_or(0);
            u.oom_kills = keyed(&d.join("memory.oom_control"), "oom_kill").unwrap_or(0);
        }
        if let Some(d) = self.dir("cpuacct") {
            u.cpu_ns = read_u64(&d.join("cpuacct.usage")).unwrap_or(0);
        }
        if let Some(d) = self.dir("pids") {
            u.pids = read_u64(&d.join("pids.current")).unwrap_or(0);
            u.pids_limit = read_u64(&d.join("pids.max")).unwrap_or(0);
        }
        u
    }

    /// Applies `l`.
    pub fn apply(&self, l: &Limits) -> Result<()> {
        if let Some(m) = l.memory {
            match (self.v2, self.dir("memory")) {
                (true, Some(d)) => write_limit(
                    &d.join("memory.max"),
                    &if m < 0 { "max".into() } else { m.to_string() },
                )?,
                (false, Some(d)) => write_limit(&d.join("memory.limit_in_bytes"), &m.to_string())?,
                _ => {}
            }
        }
        if let Some(d) = self.dir("cpu") {
            if self.v2 {
                if l.cpu_quota.is_some() || l.cpu_period.is_some() {
                    let q = l
                        .cpu_quota
                        .filter(|q| *q > 0)
                        .map_or("max".to_string(), |q| q.to_string());
                    let p = l.cpu_period.unwrap_or(100_000);
                    write_limit(&d.join("cpu.max"), &format!("{q} {p}"))?;
                }
                if let Some(s) = l.cpu_shares {
                    // The usual conversion from shares (2..262144) to weight (1..10000).
                    let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                    write_limit(&d.join("cpu.weight"), &w.to_string())?;
                }
            } else {
                if let Some(s) = l.cpu_shares {
                    write_limit(&d.join("cpu.shares"), &s.to_string())?;
                }
                if let Some(p) = l.cpu_period {
                    write_limit(&d.join("cpu.cfs_period_us"), &p.to_string())?;
                }
                if let Some(q) = l.cpu_quota {
                    write_limit(&d.join("cpu.cfs_quota_us"), &q.to_string())?;
                }
            }
        }
        if let (Some(p), Some(d)) = (l.pids, self.dir("pids")) {
            write_limit(
                &d.join("pids.max"),
                &if p <= 0 { "max".into() } else { p.to_string() },
            )?;
        }
        Ok(())
    }

    /// Removes the cgroup directories, waiting up to two seconds for the
    /// last processes (being reaped) to leave.
    pub fn remove(&self) {
        for (_, d) in &self.dirs {
            let mut tries = 0;
            loop {
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if tries < 100 && e.raw_os_error() == Some(libc::EBUSY) => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => {
                        tracing::warn!(dir = %d.display(), error = %e, "removing the sandbox cgroup");
                        break;
                    }
                }
            }
        }
    }
}

/// The smallest pids.max on the way from the hierarchy root to this
/// process's own cgroup (the limit in force for it), if any.
pub fn own_pids_max() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
    let rel = own.lines().find_map(|l| {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        let mine = if v2 {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == "pids")
        };
        mine.then(|| path.to_string())
    })?;
    let root = if v2 {
        PathBuf::from(ROOT)
    } else {
        Path::new(ROOT).join("pids")
    };
    pids_max_along(&root, &rel)
}

/// The smallest numeric `pids.max` in `root` and the directories of `rel`
/// below it ("max" and missing files do not limit).
fn pids_max_along(root: &Path, rel: &str) -> Option<u64> {
    let mut at = root.to_path_buf();
    let mut best = read_u64(&at.join("pids.max"));
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        at.push(part);
        if let Some(v) = read_u64(&at.join("pids.max")) {
            best = Some(best.map_or(v, |b| b.min(v)));
        }
    }
    best
}

/// Limits from an OCI `linux.resources`; zeros (CRI's "not set") are left
/// alone, a quota of 0 or less means no quota.
pub fn limits_of(r: &oci_spec::runtime::LinuxResources) -> Limits {
    Limits {
        memory: r
            .memory()
            .as_ref()
            .and_then(|m| m.limit())
            .filter(|&m| m != 0),
        cpu_shares: r
            .cpu()
            .as_ref()
            .and_then(|c| c.shares())
            .filter(|&s| s != 0),
        cpu_quota: r
            .cpu()
            .as_ref()
            .and_then(|c| c.quota())
            .map(|q| if q <= 0 { -1 } else { q }),
        cpu_period: r
            .cpu()
            .as_ref()
            .and_then(|c| c.period())
            .filter(|&p| p != 0),
        pids: r.pids().as_ref().map(|p| p.limit()).filter(|&p| p != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let dir = std::env::temp_dir().join(format!("cg-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("memory.events");
        std::fs::write(&f, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n").unwrap();
        assert_eq!(keyed(&f, "oom_kill"), Some(2));
        assert_eq!(keyed(&f, "nope"), None);
        std::fs::write(dir.join("n"), "42\n").unwrap();
        assert_eq!(read_u64(&dir.join("n")), Some(42));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Cgroup::create("/../x", &[]).is_err());
        // pids.max along a path: the smallest number wins, "max" does not limit.
        std::fs::create_dir_all(dir.join("kubepods/pod1/c1")).unwrap();
        std::fs::write(dir.join("pids.max"), "max\n").unwrap();
        std::fs::write(dir.join("kubepods/pids.max"), "1000\n").unwrap();
        std::fs::write(dir.join("kubepods/pod1/pids.max"), "50\n").unwrap();
        std::fs::write(dir.join("kubepods/pod1/c1/pids.max"), "max\n").unwrap();
        assert_eq!(pids_max_along(&dir, "/kubepods/pod1/c1"), Some(50));
        assert_eq!(pids_max_along(&dir, "/kubepods"), Some(1000));
        assert_eq!(pids_max_along(&dir, "/"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
