//! The state of runc-CLI containers under `--root`: `<root>/<id>/` (mode
//! 0700) holds `state.json` (0600, written by the keeper only, atomically:
//! a temporary file renamed over it), `keeper.sock` (the keeper's socket,
//! 0600) and `keeper.log` (the keeper's and its children's stderr).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What can go wrong with the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No such container under the root.
    #[error("container does not exist")]
    NotExist,
    /// A container with this id exists.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The state could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// What the keeper records about its container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Container id.
    pub id: String,
    /// The keeper's host pid (the container's pid as callers see it).
    pub pid: i32,
    /// created, running, paused or stopped.
    pub status: String,
    /// The bundle directory (absolute).
    pub bundle: String,
    /// The root file system (absolute).
    pub rootfs: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The owner (empty: root, as runc).
    #[serde(default)]
    pub owner: String,
    /// config.json's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The keeper's start time (field 22 of /proc/PID/stat), to tell it
    /// from a later process with the same pid.
    pub keeper_start: u64,
    /// The init's exit status once stopped (code, or 128 + signal).
    #[serde(default)]
    pub exit_status: Option<u32>,
    /// config.json's hooks (the poststop ones run at delete).
    #[serde(default)]
    pub hooks: Option<serde_json::Value>,
}

/// The state as `runc state` prints it (keys in runc's order).
#[derive(Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    id: &'a str,
    pid: i32,
    status: &'a str,
    bundle: &'a str,
    rootfs: &'a str,
    created: &'a str,
    owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

impl OciState<'_> {
    /// The pid shown.
    pub fn pid_value(&self) -> i32 {
        self.pid
    }

    /// The status shown.
    pub fn status_value(&self) -> &str {
        self.status
    }
}

/// The OCI runtime spec version we implement.
pub const OCI_VERSION: &str = "1.0.2";

impl Record {
    /// The status as it is now: the recorded one while the keeper lives,
    /// else stopped.
    pub fn live_status(&self) -> &str {
        if self.status != "stopped" && keeper_alive(self.pid, self.keeper_start) {
            // The keeper's step between created and running is not an OCI
            // status.
            if self.status == "starting" {
                "created"
            } else {
                &self.status
            }
        } else {
            "stopped"
        }
    }

    /// The OCI state (pid 0 once stopped, as runc).
    pub fn oci(&self) -> OciState<'_> {
        let status = self.live_status();
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: if status == "stopped" { 0 } else { self.pid },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }

    /// The OCI state with `status` instead (what hooks get).
    pub fn oci_json_as(&self, status: &str) -> String {
        let mut s = self.oci();
        s.status = status;
        s.pid = self.pid;
        serde_json::to_string(&s).unwrap_or_default()
    }
}

/// Field 22 (starttime) of /proc/PID/stat; None if gone or a zombie.
pub fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace();
    let state = f.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // After the state: ppid (4) ... starttime (22) is the 19th from here.
    f.nth(18)?.parse().ok()
}

/// Whether the keeper `pid` started at `start` still runs.
pub fn keeper_alive(pid: i32, start: u64) -> bool {
    pid > 0 && start_time(pid) == Some(start)
}

/// A container's directory.
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Makes the root (0700) and the container's directory; fails if it exists.
pub fn make_dir(root: &Path, id: &str) -> Result<PathBuf, StateError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| StateError::Io(format!("creating the state root {}: {e}", root.display())))?;
    let d = dir(root, id);
    match std::fs::DirBuilder::new().mode(0o700).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(StateError::Exists(id.to_string()))
        }
        Err(e) => Err(StateError::Io(format!("creating {}: {e}", d.display()))),
    }
}

/// Reads container `id`'s record.
pub fn load(root: &Path, id: &str) -> Result<Record, StateError> {
    if id == "." || id == ".." || crate::oci::check_id(id).is_err() {
        return Err(StateError::NotExist);
    }
    let p = dir(root, id).join("state.json");
    let text = match std::fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotExist),
        Err(e) => return Err(StateError::Io(format!("reading {}: {e}", p.display()))),
    };
    serde_json::from_slice(&text).map_err(|e| StateError::Io(format!("{}: {e}", p.display())))
}

/// Writes `rec` into `dir`/state.json atomically (0600).
pub fn save(dir: &Path, rec: &Record) -> Result<(), StateError> {
    let text = serde_json::to_vec(rec).map_err(|e| StateError::Io(e.to_string()))?;
    write_atomic(&dir.join("state.json"), &text)
}

/// Writes `data` to `path` through a temporary file renamed over it (0600).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let r = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    r.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        StateError::Io(format!("writing {}: {e}", path.display()))
    })
}

/// Every container under `root` (ids sorted), skipping unreadable ones.
pub fn list(root: &Path) -> Vec<Record> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    ids.sort();
    for id in ids {
        if let Ok(r) = load(root, &id) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record {
            id: id.into(),
            pid: std::process::id() as i32,
            status: "running".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            keeper_start: start_time(std::process::id() as i32).unwrap(),
            exit_status: None,
            hooks: None,
        }
    }

    #[test]
    fn records_round_trip_and_a_gone_keeper_means_stopped() {
        let root = std::env::temp_dir().join(format!("runc-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let d = make_dir(&root, "a").unwrap();
        assert!(matches!(make_dir(&root, "a"), Err(StateError::Exists(_))));
        let mut r = rec("a");
        save(&d, &r).unwrap();
        assert_eq!(load(&root, "a").unwrap().live_status(), "running");
        let text = serde_json::to_string(&load(&root, "a").unwrap().oci()).unwrap();
        assert!(
            text.starts_with(r#"{"ociVersion":"1.0.2","id":"a","pid":"#),
            "{text}"
        );
        assert!(!text.contains("annotations"), "{text}");
        r.keeper_start += 1;
        save(&d, &r).unwrap();
        let back = load(&root, "a").unwrap();
        assert_eq!(back.live_status(), "stopped");
        assert_eq!(back.oci().pid_value(), 0);
        assert!(matches!(load(&root, "nope"), Err(StateError::NotExist)));
        assert!(matches!(load(&root, ".."), Err(StateError::NotExist)));
        assert_eq!(list(&root).len(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
