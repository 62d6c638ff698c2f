//! Debug logs as runsc names them: `--debug-log` takes a directory or a file
//! name pattern, one file per process per run, never overwritten.
//!
//! A pattern may hold `%ID%` (the container or sandbox id; for `gvisor do`
//! the launcher's pid), `%COMMAND%` (boot, gofer, shim, run, do),
//! `%TIMESTAMP%` (when the launcher started, as runsc writes it:
//! `YYYYMMDD-HHMMSS.micros`, UTC here) and `%PID%` (the host pid of the
//! process writing the file). A directory (a path ending in `/`, or an
//! existing directory) means [`DIR_PATTERN`] in it. Files are created with
//! O_CREAT|O_EXCL; when the name is taken, `.1`, `.2`, … is appended.
//!
//! The sandbox's processes cannot open host files once confined (and the
//! sentry is pid 1 of its PID namespace), so the launcher (or the shim)
//! opens their files and hands them over as a descriptor
//! (`--debug-log-fd`); a `%PID%` in their name is filled in by renaming the
//! file once the child's host pid is known.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, bail, Context as _, Result};

/// The file name used in a `--debug-log` directory.
pub const DIR_PATTERN: &str = "gvisor.%TIMESTAMP%.%ID%.%COMMAND%.log";

/// The format of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// tracing's human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: time, level, target, msg and the fields.
    Json,
}

impl Format {
    /// The flag's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
        }
    }

    /// Parses a flag or option value.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// What to substitute in a pattern.
#[derive(Clone, Debug)]
pub struct Names {
    /// %ID%.
    pub id: String,
    /// %TIMESTAMP%.
    pub timestamp: String,
}

/// The full pattern for `--debug-log` `arg`: a directory becomes
/// `arg/`[`DIR_PATTERN`]. Checks the pattern.
pub fn pattern(arg: &Path) -> Result<String> {
    let s = arg
        .to_str()
        .ok_or_else(|| anyhow!("--debug-log {}: not valid UTF-8", arg.display()))?;
    if s.is_empty() {
        bail!("--debug-log: empty path");
    }
    let p = if s.ends_with('/') || arg.is_dir() {
        format!("{}/{DIR_PATTERN}", s.trim_end_matches('/'))
    } else {
        s.to_string()
    };
    check_pattern(&p)?;
    Ok(p)
}

fn check_pattern(p: &str) -> Result<()> {
    let mut rest = p;
    while let Some(i) = rest.find('%') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('%') else {
            bail!("--debug-log {p}: a lone '%' (known: %ID%, %COMMAND%, %TIMESTAMP%, %PID%)");
        };
        let name = &after[..j];
        if !matches!(name, "ID" | "COMMAND" | "TIMESTAMP" | "PID") {
            bail!("--debug-log {p}: unknown %{name}% (known: %ID%, %COMMAND%, %TIMESTAMP%, %PID%)");
        }
        rest = &after[j + 1..];
    }
    if Path::new(p).file_name().is_none() || p.ends_with('/') {
        bail!("--debug-log {p}: no file name");
    }
    Ok(())
}

/// `pattern` with its variables replaced (`pid`: None keeps `%PID%`).
pub fn expand(pattern: &str, names: &Names, command: &str, pid: Option<u32>) -> String {
    let mut s = pattern
        .replace("%ID%", &names.id)
        .replace("%COMMAND%", command)
        .replace("%TIMESTAMP%", &names.timestamp);
    if let Some(pid) = pid {
        s = s.replace("%PID%", &pid.to_string());
    }
    s
}

/// The current time as runsc's `%TIMESTAMP%`: `YYYYMMDD-HHMMSS.micros` (UTC).
pub fn timestamp_now() -> String {
    let (d, t, us) = civil_now();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}.{us:06}",
        d.0, d.1, d.2, t.0, t.1, t.2
    )
}

/// RFC 3339 with microseconds, UTC (the JSON lines' `time`).
fn rfc3339_now() -> String {
    let (d, t, us) = civil_now();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{us:06}Z",
        d.0, d.1, d.2, t.0, t.1, t.2
    )
}

type Date = (i64, u32, u32);
type Time = (u64, u64, u64);

fn civil_now() -> (Date, Time, u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    (
        civil_from_days(days),
        (rem / 3600, rem % 3600 / 60, rem % 60),
        now.subsec_micros(),
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Creates `path` (and its directory) with O_CREAT|O_EXCL; a taken name
/// gets `.1`, `.2`, … appended. Returns the file and the name used.
pub fn create_exclusive(path: &Path) -> Result<(File, PathBuf)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating debug log directory {}", dir.display()))?;
    }
    for n in 0..1000u32 {
        let p = if n == 0 {
            path.to_path_buf()
        } else {
            let mut s = path.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&p)
        {
            Ok(f) => return Ok((f, p)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(anyhow!("creating debug log {}: {e}", p.display())),
        }
    }
    bail!(
        "creating debug log {}: 1000 files of that name exist",
        path.display()
    )
}

/// Renames `from` to `to` without replacing anything (a taken name gets a
/// suffix, as [`create_exclusive`]); returns the name used.
pub fn rename_exclusive(from: &Path, to: &Path) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let cfrom = std::ffi::CString::new(from.as_os_str().as_bytes())
        .map_err(|_| anyhow!("{}: a NUL byte", from.display()))?;
    for n in 0..1000u32 {
        let p = if n == 0 {
            to.to_path_buf()
        } else {
            let mut s = to.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        let cto = std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| anyhow!("{}: a NUL byte", p.display()))?;
        // SAFETY: two valid NUL-terminated paths.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                cfrom.as_ptr(),
                libc::AT_FDCWD,
                cto.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if r == 0 {
            return Ok(p);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            bail!(
                "renaming debug log {} to {}: {e}",
                from.display(),
                p.display()
            );
        }
    }
    bail!(
        "renaming debug log {}: 1000 files of that name exist",
        to.display()
    )
}

/// A log file opened for a child process (the sentry, a gofer).
#[derive(Debug)]
pub struct ChildLog {
    /// The open file.
    pub file: File,
    /// Its name now.
    pub path: PathBuf,
    /// The name once the child's pid is known (the pattern had %PID%).
    pattern: Option<String>,
    names: Names,
    command: String,
}

impl ChildLog {
    /// Opens the file for `command` (boot, gofer) under `pattern`.
    pub fn open(pattern: &str, names: &Names, command: &str) -> Result<ChildLog> {
        let has_pid = pattern.contains("%PID%");
        let name = expand(pattern, names, command, None);
        // Until the pid is known %PID% reads "pending".
        let first = name.replace("%PID%", "pending");
        let (file, path) = create_exclusive(Path::new(&first))?;
        Ok(ChildLog {
            file,
            path,
            pattern: has_pid.then(|| pattern.to_string()),
            names: names.clone(),
            command: command.to_string(),
        })
    }

    /// Fills `%PID%` in with the child's host pid (a rename).
    pub fn settle(&mut self, pid: i32) {
        let Some(p) = self.pattern.take() else {
            return;
        };
        let to = expand(&p, &self.names, &self.command, Some(pid.max(0) as u32));
        match rename_exclusive(&self.path, Path::new(&to)) {
            Ok(now) => self.path = now,
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "debug log name"),
        }
    }
}

/// The launcher's settings for its children's logs.
#[derive(Clone, Debug)]
pub struct ChildLogs {
    /// The full pattern.
    pub pattern: String,
    /// Its variables.
    pub names: Names,
    /// Format of the children's lines.
    pub format: Format,
}

static CHILDREN: OnceLock<ChildLogs> = OnceLock::new();
static SANDBOX_ID: OnceLock<String> = OnceLock::new();

/// The launcher's sandbox id (`gvisor run`'s container id, `gvisor do`'s pid).
pub fn sandbox_id() -> Option<&'static str> {
    SANDBOX_ID.get().map(String::as_str)
}

/// The launcher's settings for its children's logs, if `--debug-log` was given.
pub fn children() -> Option<&'static ChildLogs> {
    CHILDREN.get()
}

/// Sets up logging of a launcher (`gvisor do`, `gvisor run`): with a
/// pattern its own file (COMMAND `command`), and the children's settings.
/// Without one, warnings to stderr.
pub fn init_launcher(
    debug_log: Option<&Path>,
    format: Format,
    id: &str,
    command: &str,
) -> Result<()> {
    let _ = SANDBOX_ID.set(id.to_string());
    let Some(arg) = debug_log else {
        init(None, format);
        return Ok(());
    };
    let pattern = pattern(arg)?;
    let names = Names {
        id: id.to_string(),
        timestamp: timestamp_now(),
    };
    let name = expand(&pattern, &names, command, Some(std::process::id()));
    let (file, _) = create_exclusive(Path::new(&name))?;
    init(Some(file), format);
    let _ = CHILDREN.set(ChildLogs {
        pattern,
        names,
        format,
    });
    tracing::info!(
        command = command,
        id = id,
        args = ?std::env::args().collect::<Vec<_>>(),
        "gvisor started"
    );
    Ok(())
}

/// Installs the global subscriber: into `file` at debug level (or
/// `$GVISOR_LOG`), else to stderr at warn level.
pub fn init(file: Option<File>, format: Format) {
    use tracing_subscriber::EnvFilter;
    let level = if file.is_some() { "debug" } else { "warn" };
    let filter = EnvFilter::try_from_env("GVISOR_LOG").unwrap_or_else(|_| level.into());
    match (file, format) {
        (Some(f), Format::Text) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Mutex::new(f))
            .with_ansi(false)
            .init(),
        (Some(f), Format::Json) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Mutex::new(f))
            .with_ansi(false)
            .event_format(JsonFormat)
            .init(),
        (None, Format::Text) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .init(),
        (None, Format::Json) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(JsonFormat)
            .init(),
    }
}

/// The containerd shim's log writer: everything goes to `base` (the
/// shim's log FIFO or stderr) and, once [`Tee::attach`] is called (the
/// sandbox's options arrive with its creation), to its debug-log file too:
/// text through this writer, JSON through [`JsonFileLayer`].
#[derive(Clone)]
pub struct Tee {
    file: std::sync::Arc<Mutex<Option<(File, Format)>>>,
    base: std::sync::Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Tee {
    /// A tee writing to `base`.
    pub fn new(base: Box<dyn Write + Send>) -> Tee {
        Tee {
            file: std::sync::Arc::new(Mutex::new(None)),
            base: std::sync::Arc::new(Mutex::new(base)),
        }
    }

    /// Adds `file` with its format (the first call wins).
    pub fn attach(&self, file: File, format: Format) {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some((file, format));
        }
    }

    /// Whether a file is attached.
    pub fn attached(&self) -> bool {
        self.file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Writes `buf` to the attached file if it has format `format`.
    fn to_file(&self, buf: &[u8], format: Format) {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((f, fmt)) = f.as_mut() {
            if *fmt == format {
                let _ = f.write_all(buf);
            }
        }
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        {
            let mut b = self.base.lock().unwrap_or_else(|p| p.into_inner());
            let _ = b.write_all(buf);
        }
        self.to_file(buf, Format::Text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Tee {
    type Writer = Tee;
    fn make_writer(&'a self) -> Tee {
        self.clone()
    }
}

/// Writes every event as a JSON line into the [`Tee`]'s file when it was
/// attached with format JSON.
pub struct JsonFileLayer(Tee);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for JsonFileLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let json = {
            let f = self.0.file.lock().unwrap_or_else(|p| p.into_inner());
            matches!(f.as_ref(), Some((_, Format::Json)))
        };
        if json {
            let mut line = json_event(event);
            line.push('\n');
            self.0.to_file(line.as_bytes(), Format::Json);
        }
    }
}

static SHIM_TEE: OnceLock<Tee> = OnceLock::new();

/// The shim's log writer (to attach its debug-log file to).
pub fn shim_tee() -> Option<&'static Tee> {
    SHIM_TEE.get()
}

/// Sets up the containerd shim's logging: to `base` at `level` (text), and
/// to its debug-log file once attached ([`shim_tee`]).
pub fn init_shim(base: Box<dyn Write + Send>, level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::EnvFilter;
    let tee = Tee::new(base);
    let _ = SHIM_TEE.set(tee.clone());
    let filter = EnvFilter::try_from_env("GVISOR_LOG").unwrap_or_else(|_| level.into());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(tee.clone())
                .with_ansi(false),
        )
        .with(JsonFileLayer(tee))
        .try_init();
}

/// One JSON object per event: `time`, `level`, `target`, `msg` and the
/// event's other fields (those of its spans are not included).
pub struct JsonFormat;

struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, serde_json::Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, serde_json::Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, value.into());
    }
}

impl JsonVisitor<'_> {
    fn put(&mut self, field: &tracing::field::Field, v: serde_json::Value) {
        let name = match field.name() {
            "message" => "msg".to_string(),
            // The line's own keys stay the line's.
            n @ ("time" | "level" | "target" | "msg") => format!("{n}_"),
            n => n.to_string(),
        };
        self.0.insert(name, v);
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        writeln!(writer, "{}", json_event(event))
    }
}

/// `event` as one JSON object (no newline).
fn json_event(event: &tracing::Event<'_>) -> String {
    let m = event.metadata();
    let mut map = serde_json::Map::new();
    map.insert("time".into(), rfc3339_now().into());
    map.insert("level".into(), m.level().as_str().into());
    map.insert("target".into(), m.target().into());
    event.record(&mut JsonVisitor(&mut map));
    serde_json::Value::Object(map).to_string()
}

/// A line as a JSON log line (the strace output in a JSON debug log).
pub fn json_line(target: &str, line: &str) -> String {
    let mut map = serde_json::Map::new();
    map.insert("time".into(), rfc3339_now().into());
    map.insert("level".into(), "INFO".into());
    map.insert("target".into(), target.into());
    map.insert("msg".into(), line.into());
    let mut s = serde_json::Value::Object(map).to_string();
    s.push('\n');
    s
}

/// Wraps every line written through it as a JSON log line (bounded: a
/// line longer than 64 KiB is cut).
pub struct JsonLines<W: Write> {
    inner: W,
    target: &'static str,
    buf: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    /// Lines into `inner` with `target`.
    pub fn new(inner: W, target: &'static str) -> JsonLines<W> {
        JsonLines {
            inner,
            target,
            buf: Vec::new(),
        }
    }
}

const MAX_LINE: usize = 64 << 10;

impl<W: Write> Write for JsonLines<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.buf).into_owned();
                self.buf.clear();
                self.inner
                    .write_all(json_line(self.target, &line).as_bytes())?;
            } else if self.buf.len() < MAX_LINE {
                self.buf.push(b);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = timestamp_now();
        assert_eq!(t.len(), "20240101-120000.000000".len(), "{t}");
        assert_eq!(&t[8..9], "-");
    }

    #[test]
    fn patterns() {
        let dir = std::env::temp_dir().join(format!("logpat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = pattern(&dir).unwrap();
        assert!(p.ends_with("/gvisor.%TIMESTAMP%.%ID%.%COMMAND%.log"), "{p}");
        assert_eq!(
            pattern(Path::new("/x/y/")).unwrap(),
            format!("/x/y/{DIR_PATTERN}")
        );
        let e = pattern(Path::new("/x/%FOO%.log")).unwrap_err();
        assert!(e.to_string().contains("%FOO%"), "{e}");
        assert!(pattern(Path::new("/x/a%b")).is_err());
        let names = Names {
            id: "c1".into(),
            timestamp: "T".into(),
        };
        assert_eq!(
            expand(
                "/l/%ID%-%COMMAND%-%TIMESTAMP%-%PID%",
                &names,
                "boot",
                Some(7)
            ),
            "/l/c1-boot-T-7"
        );
        let f = dir.join("a.log");
        let (_, p1) = create_exclusive(&f).unwrap();
        let (_, p2) = create_exclusive(&f).unwrap();
        assert_eq!(p1, f);
        assert_eq!(p2, dir.join("a.log.1"));
        let mut c = ChildLog::open(
            &format!("{}/x.%PID%.%COMMAND%", dir.display()),
            &names,
            "gofer",
        )
        .unwrap();
        assert!(c.path.ends_with("x.pending.gofer"));
        c.settle(42);
        assert!(c.path.ends_with("x.42.gofer"), "{}", c.path.display());
        assert!(c.path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_lines() {
        let mut out = Vec::new();
        {
            let mut j = JsonLines::new(&mut out, "strace");
            j.write_all(b"1 read(0, \"a\\\"\", 1) = 1\npart").unwrap();
            j.write_all(b"ial\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["msg"], "partial");
        assert_eq!(lines[0]["target"], "strace");
    }
}
