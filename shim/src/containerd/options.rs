//! Runtime options of the shim, from a TOML file (like gVisor's
//! runsc.toml). containerd's CRI plugin names the file in the runtime's
//! `options` table (`ConfigPath = "/etc/containerd/gvisor.toml"`), which
//! reaches the shim as a `runtimeoptions.v1.Options` message; without one
//! the shim reads `$GVISOR_CONFIG`, then `/etc/containerd/gvisor.toml` if it
//! exists. Unknown keys and bad values are errors naming the key.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Deserialize;

/// The default options file.
pub const DEFAULT_PATH: &str = "/etc/containerd/gvisor.toml";

/// Options of one shim (one pod).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuntimeOptions {
    /// Platform: "kvm" (the only one).
    #[serde(default)]
    pub platform: Option<String>,
    /// Debug logging (shim log at debug level, sentry debug log).
    #[serde(default)]
    pub debug: bool,
    /// Debug logs of the shim, the sentry (and its strace output) and the
    /// gofers: a directory (ending in `/` or existing) or a file pattern;
    /// `%ID%` is the sandbox id (a gofer's: its container's), `%COMMAND%`
    /// shim, boot or gofer, `%TIMESTAMP%` and `%PID%` as for `gvisor do`
    /// (see `crate::logging`).
    #[serde(default)]
    pub debug_log: Option<String>,
    /// The debug logs' format: "text" (the default) or "json".
    #[serde(default)]
    pub debug_log_format: Option<String>,
    /// Log every network frame of the sandbox (headers) into its debug log.
    #[serde(default)]
    pub log_packets: bool,
    /// Trace every system call of the sandbox into the debug log.
    #[serde(default)]
    pub strace: bool,
    /// With `strace`: trace only these system calls (comma-separated
    /// names, `--strace-syscalls`).
    #[serde(default)]
    pub strace_syscalls: Option<String>,
    /// With `strace`: bytes of a string or buffer shown (`--strace-log-size`).
    #[serde(default)]
    pub strace_log_size: Option<usize>,
    /// Root file system overlay: "memory" (writes go to sandbox memory, the
    /// default) or "none" (the root is read-only).
    #[serde(default)]
    pub overlay: Option<String>,
    /// Network: "sandbox" (the default: the sentry's stack on the pod's
    /// interfaces), "host" (host sockets in the pod's namespace) or "none"
    /// (loopback only).
    #[serde(default)]
    pub network: Option<String>,
    /// `profile = true`: at each container's init exit, write
    /// `profile.<id>.txt` and `.json` (see `crate::profile`) into the
    /// container's debug-log directory (required).
    #[serde(default)]
    pub profile: bool,
}

impl RuntimeOptions {
    /// Parses TOML text; `what` names the file in errors.
    pub fn parse(text: &str, what: &str) -> Result<RuntimeOptions> {
        let o: RuntimeOptions = toml::from_str(text).map_err(|e| anyhow!("{what}: {e}"))?;
        match o.platform.as_deref() {
            None | Some("kvm") => {}
            Some(p) => bail!("{what}: platform {p:?} is not supported (only \"kvm\")"),
        }
        match o.overlay.as_deref() {
            None | Some("memory") | Some("none") => {}
            Some(v) => bail!("{what}: overlay {v:?}: expected \"memory\" or \"none\""),
        }
        if let Some(v) = o.debug_log_format.as_deref() {
            if crate::logging::Format::parse(v).is_none() {
                bail!("{what}: debug-log-format {v:?}: expected \"text\" or \"json\"");
            }
        }
        if let Some(d) = o.debug_log.as_deref() {
            crate::logging::pattern(Path::new(d)).map_err(|e| anyhow!("{what}: {e:#}"))?;
        }
        sentry_core::syscalls::strace::StraceConfig::from_flags(
            o.strace_syscalls.as_deref(),
            o.strace_log_size,
        )
        .map_err(|e| anyhow!("{what}: {e}"))?;
        if let Some(v) = o.network.as_deref() {
            if sentry_core::net::NetMode::parse(v).is_none() {
                bail!("{what}: network {v:?}: expected \"sandbox\", \"host\" or \"none\"");
            }
        }
        Ok(o)
    }

    /// Reads the options file at `path`.
    pub fn load(path: &Path) -> Result<RuntimeOptions> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading runtime options {}", path.display()))?;
        RuntimeOptions::parse(&text, &path.display().to_string())
    }

    /// The debug log directory for sandbox `id`: `debug-log` itself when
    /// it is a directory, else the directory of its file pattern; `%ID%`
    /// replaced by `id`.
    pub fn debug_log_dir(&self, id: &str) -> Option<PathBuf> {
        let d = self.debug_log.as_ref()?;
        let dir = if d.ends_with('/') || Path::new(d).is_dir() {
            d.as_str()
        } else {
            d.rsplit_once('/').map_or(".", |(a, _)| a)
        };
        Some(PathBuf::from(dir.replace("%ID%", id)))
    }

    /// The debug logs' full pattern (a directory made a pattern), if set.
    pub fn debug_log_pattern(&self) -> Option<String> {
        self.debug_log
            .as_ref()
            .and_then(|d| crate::logging::pattern(Path::new(d)).ok())
    }

    /// The debug logs' format.
    pub fn debug_log_format(&self) -> crate::logging::Format {
        self.debug_log_format
            .as_deref()
            .and_then(crate::logging::Format::parse)
            .unwrap_or_default()
    }

    /// The network mode (default `sandbox`).
    pub fn network_mode(&self) -> sentry_core::net::NetMode {
        self.network
            .as_deref()
            .and_then(sentry_core::net::NetMode::parse)
            .unwrap_or(sentry_core::net::NetMode::Sandbox)
    }

    /// Whether the root file system is read-only (overlay "none").
    pub fn read_only_root(&self) -> bool {
        self.overlay.as_deref() == Some("none")
    }
}

/// containerd's `runtimeoptions.v1.Options` (type_url = 1, config_path = 2,
/// config_body = 3), as the CRI plugin sends it for non-runc runtimes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriOptions {
    /// TypeUrl.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// ConfigPath.
    #[prost(string, tag = "2")]
    pub config_path: String,
    /// ConfigBody.
    #[prost(bytes = "vec", tag = "3")]
    pub config_body: Vec<u8>,
}

/// The options for a sandbox: from the Create request's options (an encoded
/// `runtimeoptions.v1.Options`), else `$GVISOR_CONFIG`, else the default
/// file if it exists, else the defaults.
pub fn resolve(create_options: Option<&[u8]>) -> Result<RuntimeOptions> {
    if let Some(bytes) = create_options.filter(|b| !b.is_empty()) {
        let o = <CriOptions as prost::Message>::decode(bytes)
            .map_err(|e| anyhow!("runtime options from containerd: {e}"))?;
        if !o.config_body.is_empty() {
            let text = String::from_utf8_lossy(&o.config_body);
            return RuntimeOptions::parse(&text, "runtime options ConfigBody");
        }
        if !o.config_path.is_empty() {
            return RuntimeOptions::load(Path::new(&o.config_path));
        }
    }
    if let Some(p) = std::env::var_os("GVISOR_CONFIG") {
        return RuntimeOptions::load(Path::new(&p));
    }
    if Path::new(DEFAULT_PATH).exists() {
        return RuntimeOptions::load(Path::new(DEFAULT_PATH));
    }
    Ok(RuntimeOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let o = RuntimeOptions::parse(
            "platform = \"kvm\"\ndebug = true\ndebug-log = \"/tmp/g/%ID%/\"\nstrace = true\noverlay = \"none\"\nnetwork = \"none\"\n",
            "t.toml",
        )
        .unwrap();
        assert!(o.debug && o.strace && o.read_only_root());
        assert_eq!(o.debug_log_dir("abc"), Some(PathBuf::from("/tmp/g/abc/")));
        let o =
            RuntimeOptions::parse("debug-log = \"/tmp/g/%ID%/x.%COMMAND%.log\"\n", "t").unwrap();
        assert_eq!(o.debug_log_dir("abc"), Some(PathBuf::from("/tmp/g/abc")));
        let e = RuntimeOptions::parse("colour = 1\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = RuntimeOptions::parse("platform = \"ptrace\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("ptrace"), "{e}");
        let o = RuntimeOptions::parse("profile = true\n", "t.toml").unwrap();
        assert!(o.profile && !RuntimeOptions::default().profile);
        let o = RuntimeOptions::parse("network = \"host\"\n", "t.toml").unwrap();
        assert_eq!(o.network_mode(), sentry_core::net::NetMode::Host);
        assert_eq!(
            RuntimeOptions::default().network_mode(),
            sentry_core::net::NetMode::Sandbox
        );
        let o = RuntimeOptions::parse(
            "debug-log = \"/tmp/g/%ID%.%COMMAND%.log\"\ndebug-log-format = \"json\"\nlog-packets = true\n",
            "t.toml",
        )
        .unwrap();
        assert!(o.log_packets);
        assert_eq!(o.debug_log_format(), crate::logging::Format::Json);
        assert_eq!(
            o.debug_log_pattern().as_deref(),
            Some("/tmp/g/%ID%.%COMMAND%.log")
        );
        let e = RuntimeOptions::parse("debug-log-format = \"xml\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("debug-log-format \"xml\""), "{e}");
        let e = RuntimeOptions::parse("debug-log = \"/tmp/%X%.log\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("%X%"), "{e}");
        let e = RuntimeOptions::parse("network = \"bridge\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("network \"bridge\""), "{e}");
    }

    #[test]
    fn the_deployed_example_parses() {
        let o = RuntimeOptions::parse(
            include_str!("../../../deploy/gvisor.toml"),
            "deploy/gvisor.toml",
        )
        .unwrap();
        assert_eq!(o.platform.as_deref(), Some("kvm"));
        assert!(!o.read_only_root());
    }

    #[test]
    fn cri_options_carry_the_path() {
        let dir = std::env::temp_dir().join(format!("opt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("g.toml");
        std::fs::write(&f, "strace = true\n").unwrap();
        let msg = CriOptions {
            type_url: "io.containerd.gvisor.v1.options".into(),
            config_path: f.display().to_string(),
            config_body: Vec::new(),
        };
        let o = resolve(Some(&prost::Message::encode_to_vec(&msg))).unwrap();
        assert!(o.strace);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn strace_options() {
        let o = RuntimeOptions::parse(
            "strace = true\nstrace-syscalls = \"openat,read\"\nstrace-log-size = 64\n",
            "t",
        )
        .unwrap();
        assert_eq!(o.strace_syscalls.as_deref(), Some("openat,read"));
        assert_eq!(o.strace_log_size, Some(64));
        let e = RuntimeOptions::parse("strace-syscalls = \"nosuch\"\n", "t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t: --strace-syscalls: unknown system call \"nosuch\""
        );
    }
}
