//! OCI bundles: config.json read with oci-spec and turned into what the
//! launcher, the gofer and the sentry need. Every field is either applied,
//! emulated in the sentry, or refused with an error that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::runtime::{
    LinuxNamespaceType, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, PosixRlimitType,
    Spec,
};
use sentry_core::kernel::seccomp::{Action, AppFilter, ArgCond, Op, Rule};

/// What the sentry mounts at a destination, in the spec's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SentryMount {
    /// The sentry's procfs.
    Proc,
    /// The sentry's sysfs.
    Sys,
    /// A tmpfs with this root mode.
    Tmpfs(u32),
    /// The sentry's devfs (a tmpfs on /dev in the spec).
    Dev,
    /// devpts (devfs provides /dev/pts): nothing to mount.
    Devpts,
    /// An empty read-only directory (mqueue, cgroup: not emulated yet).
    Empty,
    /// A host directory served by the gofer through channel `n`; writable.
    Bind(usize, bool),
    /// A host file (the n-th of `Bundle::files`, 1-based), copied into the
    /// sandbox when the container is made and mounted over its path;
    /// writable (writes stay in the sandbox).
    File(usize, bool),
}

/// The mount type the shim gives single-file binds in the config.json it
/// hands the sentry (which cannot look at host paths itself).
pub const FILE_MOUNT_TYPE: &str = "gvisor-file-copy";

/// A container's bundle, checked.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The root file system (absolute).
    pub root: PathBuf,
    /// root.readonly.
    pub root_readonly: bool,
    /// Host directories the gofer serves besides the root, with whether
    /// they are writable, in channel order.
    pub binds: Vec<(PathBuf, bool)>,
    /// Host files bound over single files, copied in (see
    /// [`SentryMount::File`]).
    pub files: Vec<PathBuf>,
    /// (destination, what) in the spec's order.
    pub mounts: Vec<(String, SentryMount)>,
    /// process.
    pub process: Process,
    /// process.rlimits as (resource, soft, hard).
    pub rlimits: Vec<(usize, u64, u64)>,
    /// hostname.
    pub hostname: Option<String>,
    /// linux.sysctl.
    pub sysctl: BTreeMap<String, String>,
    /// linux.maskedPaths.
    pub masked: Vec<String>,
    /// linux.seccomp, compiled.
    pub seccomp: Option<Arc<AppFilter>>,
    /// linux.resources: memory.limit, pids.limit, cpu shares/quota/period.
    pub limits: crate::limits::SandboxLimits,
    /// The network namespace entry of linux.namespaces: None without one,
    /// Some(None) for a new namespace, Some(Some(path)) to join one (the
    /// launcher checks the path; see `crate::netns::source_of`).
    pub network_ns: Option<Option<PathBuf>>,
}

fn rlimit_index(t: PosixRlimitType) -> usize {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => 0,
        RlimitFsize => 1,
        RlimitData => 2,
        RlimitStack => 3,
        RlimitCore => 4,
        RlimitRss => 5,
        RlimitNproc => 6,
        RlimitNofile => 7,
        RlimitMemlock => 8,
        RlimitAs => 9,
        RlimitLocks => 10,
        RlimitSigpending => 11,
        RlimitMsgqueue => 12,
        RlimitNice => 13,
        RlimitRtprio => 14,
        RlimitRttime => 15,
    }
}

/// Linux's number of capability `name` ("CAP_CHOWN" or "CHOWN").
fn cap_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let n = name.strip_prefix("CAP_").unwrap_or(name);
    NAMES.iter().position(|&c| c == n).map(|i| i as u32)
}

/// Checks a container id as runc does.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 1024
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c))
    {
        bail!("invalid container id {id:?}: use letters, digits and _ . - +");
    }
    Ok(())
}

/// The largest errno a system call can return (Linux's MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;

fn compile_seccomp(s: &LinuxSeccomp) -> Result<AppFilter> {
    let action = |a: LinuxSeccompAction, errno: Option<u32>, what: &str| -> Result<Action> {
        use LinuxSeccompAction::*;
        Ok(match a {
            ScmpActAllow => Action::Allow,
            ScmpActLog => Action::Log,
            ScmpActErrno => {
                let e = errno.unwrap_or(libc::EPERM as u32);
                if e > MAX_ERRNO {
                    bail!("{what}: errnoRet {e} is out of range (0..={MAX_ERRNO})");
                }
                Action::Errno(e)
            }
            ScmpActKill | ScmpActKillThread | ScmpActKillProcess => Action::Kill,
            ScmpActTrap => Action::Trap,
            other => bail!("{what}: action {other:?} is not supported"),
        })
    };
    let mut f = AppFilter::new(action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?);
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let what = format!("linux.seccomp.syscalls[{i}]");
        let act = action(sc.action(), sc.errno_ret(), &what)?;
        let mut conds = Vec::new();
        for (j, a) in sc.args().iter().flatten().enumerate() {
            if a.index() > 5 {
                bail!(
                    "{what}.args[{j}].index {} is past the sixth argument",
                    a.index()
                );
            }
            use LinuxSeccompOperator::*;
            let op = match a.op() {
                ScmpCmpNe => Op::Ne,
                ScmpCmpLt => Op::Lt,
                ScmpCmpLe => Op::Le,
                ScmpCmpEq => Op::Eq,
                ScmpCmpGe => Op::Ge,
                ScmpCmpGt => Op::Gt,
                ScmpCmpMaskedEq => Op::MaskedEq(a.value()),
            };
            let value = match a.op() {
                ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                _ => a.value(),
            };
            conds.push(ArgCond {
                index: a.index(),
                value,
                op,
            });
        }
        for name in sc.names() {
            // Names of other architectures are skipped, as runc does.
            if let Some(nr) = sentry_core::syscalls::names::NAMES
                .iter()
                .position(|n| n == name)
            {
                f.add(
                    nr as u64,
                    Rule {
                        conds: conds.clone(),
                        action: act,
                    },
                );
            }
        }
    }
    Ok(f)
}

/// The host's kernel interfaces are never bound into a sandbox, read-only
/// or not (as runsc, which serves its own /proc, /sys and /dev): the
/// host's /proc and /sys describe and control the host, and its /dev holds
/// its devices (/dev/kvm included, which the sentry's own VM uses).
fn refuse_host_kernel_source(src: &Path, what: &str) -> Result<()> {
    let real = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    for top in ["/proc", "/sys", "/dev"] {
        if real.starts_with(top) || src.starts_with(top) {
            bail!(
                "{what}.source {}: binding the host's {top} into the sandbox is refused (the sandbox has its own {top}; mount type \"{}\" gives it)",
                src.display(),
                match top {
                    "/proc" => "proc",
                    "/sys" => "sysfs",
                    _ => "tmpfs",
                }
            );
        }
    }
    Ok(())
}

fn mount_options(opts: &Option<Vec<String>>) -> Vec<String> {
    opts.clone().unwrap_or_default()
}

/// Reads and checks `dir/config.json`, host paths included.
pub fn load(dir: &Path) -> Result<Bundle> {
    let path = dir.join("config.json");
    if let Err(e) = std::fs::metadata(&path) {
        bail!("bundle {}: cannot read config.json: {e}", dir.display());
    }
    let spec = load_spec(&path)?;
    from_spec(&spec, dir, true)
}

/// Reads a config.json into a Spec; errors name the file and the JSON
/// path of the field.
pub fn load_spec(path: &Path) -> Result<Spec> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    from_json(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Deserializes `json`; an error names the field it is about as a JSON
/// path (`process.user.uid: invalid type: ...`), found from the position
/// serde_json reports.
pub fn from_json<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T> {
    serde_json::from_slice(json).map_err(|e| {
        let path = json_path_at(json, e.line(), e.column(), &e.to_string());
        if path.is_empty() {
            anyhow!("{e}")
        } else {
            anyhow!("{path}: {e}")
        }
    })
}

/// The JSON path (`linux.seccomp.syscalls[2].errnoRet`) of the value at
/// `line`:`column` (1-based, as serde_json reports) in `json`. For a
/// missing field the path is that of the object that lacks it.
fn json_path_at(json: &[u8], line: usize, column: usize, msg: &str) -> String {
    enum Level {
        Object { key: Option<String>, in_value: bool },
        Array(usize),
    }
    if line == 0 {
        return String::new();
    }
    let mut end = 0;
    let mut l = 1;
    while l < line && end < json.len() {
        if json[end] == b'\n' {
            l += 1;
        }
        end += 1;
    }
    let end = (end + column).min(json.len());
    let mut stack: Vec<Level> = Vec::new();
    let mut i = 0;
    while i < end {
        match json[i] {
            b'{' => stack.push(Level::Object {
                key: None,
                in_value: false,
            }),
            b'[' => stack.push(Level::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Level::Array(n)) => *n += 1,
                Some(Level::Object { in_value, .. }) => *in_value = false,
                None => {}
            },
            b':' => {
                if let Some(Level::Object { in_value, .. }) = stack.last_mut() {
                    *in_value = true;
                }
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(Level::Object { key, in_value }) = stack.last_mut() {
                    if !*in_value {
                        *key = Some(
                            String::from_utf8_lossy(&json[start..i.min(json.len())]).into_owned(),
                        );
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    if msg.starts_with("missing field") {
        if let Some(Level::Object { key, .. }) = stack.last_mut() {
            *key = None;
        }
    }
    let mut path = String::new();
    for lv in &stack {
        match lv {
            Level::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Level::Object { key: None, .. } => {}
            Level::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

/// Parses a config.json the shim has checked already, where the host's
/// files cannot be seen (in the sentry): host paths are taken as given.
pub fn parse(config: &[u8]) -> Result<Bundle> {
    let spec: Spec = from_json(config).map_err(|e| anyhow!("config.json: {e}"))?;
    from_spec(&spec, Path::new("/"), false)
}

/// An OCI process (exec) as JSON.
pub fn parse_process(json: &[u8]) -> Result<Process> {
    let p: oci_spec::runtime::Process =
        from_json(json).map_err(|e| anyhow!("process spec: {e}"))?;
    process_of(&p, "process spec: ")
}

/// The checked fields of an OCI process; `what` prefixes errors.
fn process_of(p: &oci_spec::runtime::Process, what: &str) -> Result<Process> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("{what}args: empty");
    }
    let cwd = p.cwd().to_string_lossy().into_owned();
    if !cwd.starts_with('/') {
        bail!("{what}cwd {cwd:?}: must be absolute");
    }
    Ok(Process {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd,
        uid: p.user().uid(),
        gid: p.user().gid(),
        groups: p.user().additional_gids().clone().unwrap_or_default(),
        terminal: p.terminal().unwrap_or(false),
        caps: p.capabilities().as_ref().map(cap_sets),
        no_new_privs: p.no_new_privileges().unwrap_or(false),
    })
}

/// A process: a container's init (config.json `process`) or one exec'd
/// into a running container.
#[derive(Debug, Clone)]
pub struct Process {
    /// args.
    pub args: Vec<String>,
    /// env.
    pub env: Vec<String>,
    /// cwd.
    pub cwd: String,
    /// user.uid.
    pub uid: u32,
    /// user.gid.
    pub gid: u32,
    /// user.additionalGids.
    pub groups: Vec<u32>,
    /// terminal: the program's stdio is a pseudo-terminal of the sentry.
    pub terminal: bool,
    /// capabilities (None: by uid).
    pub caps: Option<sentry_core::kernel::task::CapSets>,
    /// noNewPrivileges.
    pub no_new_privs: bool,
}

fn cap_sets(c: &oci_spec::runtime::LinuxCapabilities) -> sentry_core::kernel::task::CapSets {
    let set = |s: &Option<oci_spec::runtime::Capabilities>| -> u64 {
        s.iter()
            .flatten()
            .filter_map(|cap| cap_number(&cap.to_string()))
            .fold(0, |m, n| m | (1 << n))
    };
    sentry_core::kernel::task::CapSets {
        effective: set(c.effective()),
        permitted: set(c.permitted()),
        inheritable: set(c.inheritable()),
        bounding: set(c.bounding()),
    }
}

fn from_spec(spec: &Spec, dir: &Path, host: bool) -> Result<Bundle> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json: root: missing"))?;
    let root_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let root_path = if host {
        root_path
            .canonicalize()
            .with_context(|| format!("config.json: root.path {}", root.path().display()))?
    } else {
        root_path
    };
    if host && !root_path.is_dir() {
        bail!(
            "config.json: root.path {} is not a directory",
            root_path.display()
        );
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json: process: missing"))?;
    let proc_ = process_of(process, "config.json: process.")?;
    let mut rlimits = Vec::new();
    for r in process.rlimits().iter().flatten() {
        if r.soft() > r.hard() {
            bail!(
                "config.json: process.rlimits {:?}: soft above hard",
                r.typ()
            );
        }
        rlimits.push((rlimit_index(r.typ()), r.soft(), r.hard()));
    }
    let mut binds = Vec::new();
    let mut files = Vec::new();
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let what = format!("config.json: mounts[{i}]");
        let dest = m.destination().to_string_lossy().into_owned();
        if !dest.starts_with('/') {
            bail!("{what}.destination {dest:?}: must be absolute");
        }
        let opts = mount_options(m.options());
        let typ = m.typ().clone().unwrap_or_default();
        let is_bind = typ == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        if host && is_bind {
            if let Some(src) = m.source() {
                refuse_host_kernel_source(src, &what)?;
            }
        }
        let is_file = if host {
            is_bind && m.source().as_ref().is_some_and(|s| s.is_file())
        } else {
            typ == FILE_MOUNT_TYPE
        };
        let kind = if is_file {
            let src = m
                .source()
                .clone()
                .ok_or_else(|| anyhow!("{what}.source: missing for a bind mount"))?;
            files.push(src);
            SentryMount::File(files.len(), !opts.iter().any(|o| o == "ro"))
        } else if is_bind {
            let src = m
                .source()
                .as_ref()
                .ok_or_else(|| anyhow!("{what}.source: missing for a bind mount"))?;
            let src = if host {
                src.canonicalize()
                    .with_context(|| format!("{what}.source {}", src.display()))?
            } else {
                src.clone()
            };
            if host && !src.is_dir() {
                bail!(
                    "{what}.source {}: only directories and regular files can be bind-mounted",
                    src.display()
                );
            }
            let rw = !opts.iter().any(|o| o == "ro");
            binds.push((src, rw));
            SentryMount::Bind(binds.len(), rw)
        } else {
            match typ.as_str() {
                "proc" => SentryMount::Proc,
                "sysfs" => SentryMount::Sys,
                "tmpfs" if dest == "/dev" => SentryMount::Dev,
                "tmpfs" => {
                    let mode = opts
                        .iter()
                        .find_map(|o| o.strip_prefix("mode="))
                        .map(|m| u32::from_str_radix(m, 8))
                        .transpose()
                        .map_err(|_| anyhow!("{what}.options: bad mode"))?
                        .unwrap_or(0o1777);
                    SentryMount::Tmpfs(mode & 0o7777)
                }
                "devpts" => SentryMount::Devpts,
                "mqueue" | "cgroup" | "cgroup2" => SentryMount::Empty,
                other => bail!("{what}.type {other:?} is not supported (proc, sysfs, tmpfs, devpts, mqueue, cgroup, bind)"),
            }
        };
        mounts.push((dest, kind));
    }
    let mut sysctl = BTreeMap::new();
    let mut masked = Vec::new();
    let mut seccomp = None;
    let mut limits = crate::limits::SandboxLimits::default();
    // A container added to a running pod shares the pod's sentry, and so
    // its namespaces: the paths to the pod's namespaces it is given name
    // what it has already.
    let pod_member = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("io.kubernetes.cri.container-type"))
        .is_some_and(|t| t == "container");
    let mut network_ns = None;
    if let Some(linux) = spec.linux() {
        for ns in linux.namespaces().iter().flatten().filter(|_| !pod_member) {
            match ns.typ() {
                LinuxNamespaceType::User => {
                    bail!("config.json: linux.namespaces: user namespaces are not supported")
                }
                LinuxNamespaceType::Network => {
                    if network_ns.is_some() {
                        bail!("config.json: linux.namespaces: two network namespaces");
                    }
                    let path = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
                    if let Some(p) = &path {
                        if !p.is_absolute() {
                            bail!(
                                "config.json: linux.namespaces: network namespace path {}: not absolute",
                                p.display()
                            );
                        }
                    }
                    network_ns = Some(path);
                }
                _ => {}
            }
        }
        for (k, v) in linux.sysctl().iter().flatten() {
            if !(k.starts_with("kernel.")
                || k.starts_with("net.")
                || k.starts_with("vm.")
                || k.starts_with("fs."))
            {
                bail!("config.json: linux.sysctl: {k:?} is not a namespaced sysctl");
            }
            sysctl.insert(k.clone(), v.clone());
        }
        for p in linux.masked_paths().iter().flatten() {
            masked.push(p.clone());
        }
        for p in linux.readonly_paths().iter().flatten() {
            if !(p.starts_with("/proc") || p.starts_with("/sys")) {
                bail!("config.json: linux.readonlyPaths: {p:?}: only paths under /proc and /sys (read-only in the sandbox already) are supported");
            }
        }
        if let Some(s) = linux.seccomp() {
            seccomp = Some(Arc::new(compile_seccomp(s)?));
        }
        if let Some(r) = linux.resources() {
            let l = crate::cgroup::limits_of(r);
            limits.memory = match l.memory {
                Some(m) if m > 0 => Some(m as u64),
                Some(m) if m < -1 => {
                    bail!("config.json: linux.resources.memory.limit {m}: negative")
                }
                _ => None,
            };
            limits.pids = match l.pids {
                Some(p) if p > 0 => Some(p as u64),
                Some(p) if p < -1 => bail!("config.json: linux.resources.pids.limit {p}: negative"),
                _ => None,
            };
            limits.cpu_shares = l.cpu_shares;
            limits.cpu_quota = match l.cpu_quota {
                Some(q) if q > 0 => Some((q, l.cpu_period.unwrap_or(100_000))),
                _ => None,
            };
            crate::limits::check_limits(&limits)
                .map_err(|e| anyhow!("config.json: linux.resources: {e}"))?;
        }
    }
    Ok(Bundle {
        root: root_path,
        root_readonly: root.readonly().unwrap_or(false),
        binds,
        files,
        mounts,
        process: proc_,
        rlimits,
        hostname: spec.hostname().clone(),
        sysctl,
        masked,
        seccomp,
        limits,
        network_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: &str) -> Result<Bundle> {
        let dir =
            std::env::temp_dir().join(format!("oci-test-{}-{}", std::process::id(), config.len()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::write(dir.join("config.json"), config).unwrap();
        let r = load(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    const MIN: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

    #[test]
    fn minimal_and_errors_name_the_field() {
        let b = bundle(&format!("{MIN}}}")).unwrap();
        assert_eq!(b.process.args, ["/bin/sh"]);
        let e = bundle("{").unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        let e = bundle(r#"{"ociVersion":"1.0.2","root":{"path":"nope"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("root.path"), "{e}");
        let e = bundle(&format!(
            r#"{MIN},"mounts":[{{"destination":"/x","type":"nfs"}}]}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("mounts[0].type"), "{e}");
        let e = bundle(&format!(
            r#"{MIN},"linux":{{"namespaces":[{{"type":"user"}}]}}}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("user namespaces"), "{e}");
        let e = bundle(&format!(r#"{MIN},"linux":{{"sysctl":{{"abc":"1"}}}}}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.sysctl"), "{e}");
    }

    #[test]
    fn type_errors_name_the_json_path() {
        let e = bundle(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"/","user":{"uid":"zero","gid":0}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.user.uid: invalid type"), "{e}");
        let e = bundle(&format!(
            r#"{MIN},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"nope"}}]}}}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("linux.namespaces[1].type: unknown variant"),
            "{e}"
        );
        let e = bundle(&format!(
            r#"{MIN},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":-1}}]}}}}}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0].errnoRet: invalid value"),
            "{e}"
        );
        let e = bundle(&format!(
            r#"{MIN},"mounts":[{{"destination":"/a","type":"tmpfs"}},{{"type":"tmpfs"}}]}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("mounts[1]: missing field `destination`"), "{e}");
        assert_eq!(
            json_path_at(br#"{"a":[1,{"b\"c":{"d":true}}]}"#, 1, 22, ""),
            "a[1].b\\\"c.d"
        );
    }

    #[test]
    fn load_spec_names_the_file_and_the_field() {
        let dir = std::env::temp_dir().join(format!("oci-spec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("config.json");
        std::fs::write(
            &f,
            "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\"args\": [\"x\"], \"cwd\": \"/\", \"terminal\": \"yes\"}\n}\n",
        )
        .unwrap();
        let e = format!("{:#}", load_spec(&f).unwrap_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            e.contains("config.json: process.terminal: invalid type"),
            "{e}"
        );
        assert!(!e.contains("serde failed"), "{e}");
    }

    #[test]
    fn errno_ret_out_of_range_is_refused() {
        for (errno, ok) in [(0, true), (4095, true), (4096, false), (100000, false)] {
            let r = bundle(&format!(
                r#"{MIN},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":{errno}}}]}}}}}}"#
            ));
            match r {
                Ok(_) => assert!(ok, "errnoRet {errno} accepted"),
                Err(e) => {
                    assert!(!ok, "errnoRet {errno}: {e}");
                    assert!(
                        e.to_string()
                            .contains("linux.seccomp.syscalls[0]: errnoRet"),
                        "{e}"
                    );
                }
            }
        }
        let e = bundle(&format!(
            r#"{MIN},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000}}}}}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
    }

    #[test]
    fn host_kernel_interfaces_cannot_be_bound() {
        for (src, opts) in [
            ("/proc", "\"rbind\",\"rw\""),
            ("/proc", "\"rbind\",\"ro\""),
            ("/sys", "\"bind\""),
            ("/sys/fs/cgroup", "\"bind\",\"ro\""),
            ("/dev", "\"rbind\""),
            ("/dev/kvm", "\"bind\",\"ro\""),
            ("/proc/cpuinfo", "\"bind\",\"ro\""),
            ("/proc/self/root", "\"bind\""),
        ] {
            let e = bundle(&format!(
                r#"{MIN},"mounts":[{{"destination":"/x","type":"bind","source":"{src}","options":[{opts}]}}]}}"#
            ))
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("mounts[0].source") && e.contains("refused"),
                "{src}: {e}"
            );
        }
    }

    #[test]
    fn seccomp_profile_compiles() {
        let b = bundle(&format!(
            r#"{MIN},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["mkdir","no_such_call"],"action":"SCMP_ACT_ERRNO","errnoRet":1}},{{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":99,"op":"SCMP_CMP_EQ"}}]}}]}}}}}}"#
        ))
        .unwrap();
        let f = b.seccomp.unwrap();
        assert_eq!(f.decide(83, &[0; 6]), Action::Errno(1));
        assert_eq!(f.decide(1, &[99, 0, 0, 0, 0, 0]), Action::Errno(1));
        assert_eq!(f.decide(1, &[1, 0, 0, 0, 0, 0]), Action::Allow);
    }
}
