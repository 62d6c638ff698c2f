//! Errors and warnings as runc writes them: `time="..." level=error
//! msg="..."` lines on stderr, or with `--log` lines into that file (text,
//! or `{"level":"error","msg":"...","time":"..."}` with `--log-format
//! json`; podman and containerd read the last error line of the log) and
//! the bare message on stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where messages go.
#[derive(Clone, Debug, Default)]
pub struct Reporter {
    /// `--log`.
    pub log: Option<PathBuf>,
    /// `--log-format json`.
    pub json: bool,
}

static REPORTER: OnceLock<Reporter> = OnceLock::new();

/// Sets where messages go (once, from the global flags).
pub fn init(r: Reporter) {
    let _ = REPORTER.set(r);
}

/// RFC 3339 time, UTC, with nanoseconds as Go prints it (`time.RFC3339Nano`
/// trims trailing zeros; we keep whole seconds for log lines).
pub fn rfc3339(t: std::time::SystemTime, nanos: bool) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = crate::logging::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let base = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos && d.subsec_nanos() > 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    } else {
        format!("{base}Z")
    }
}

fn quote(s: &str) -> String {
    // logrus quotes with Go's %q; JSON string escaping is close enough.
    serde_json::Value::String(s.to_string()).to_string()
}

fn line(level: &str, msg: &str, json: bool) -> String {
    let time = rfc3339(std::time::SystemTime::now(), false);
    if json {
        let mut o = serde_json::Map::new();
        o.insert("level".into(), level.into());
        o.insert("msg".into(), msg.into());
        o.insert("time".into(), time.into());
        serde_json::Value::Object(o).to_string()
    } else {
        format!("time={} level={level} msg={}", quote(&time), quote(msg))
    }
}

fn emit(level: &str, msg: &str, stderr_plain: bool) {
    let r = REPORTER.get().cloned().unwrap_or_default();
    let mut to_stderr = true;
    if let Some(path) = &r.log {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut f) = opened {
            let _ = writeln!(f, "{}", line(level, msg, r.json));
            to_stderr = stderr_plain;
        }
        if to_stderr && stderr_plain {
            let _ = writeln!(std::io::stderr(), "{msg}");
            return;
        }
    }
    if to_stderr {
        let _ = writeln!(std::io::stderr(), "{}", line(level, msg, false));
    }
}

/// An error (the command then exits 1).
pub fn error(msg: &str) {
    emit("error", msg, true);
}

/// A warning (into the log only when there is one).
pub fn warn(msg: &str) {
    emit("warning", msg, false);
}
