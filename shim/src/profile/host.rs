//! Counting the host system calls of the sentry and of the gofer with
//! tracefs: one private instance per process (`instances/gvisor-<launcher
//! pid>-<sentry|gofer>`) filtered on the process's threads with
//! `set_event_pid` and option `event-fork` (threads created later follow),
//! with `raw_syscalls/sys_enter` enabled; a thread per instance reads its
//! `trace_pipe` and counts the `NR n` of each line. At the end the
//! instances' `overrun` counts become "lost" and the instances are removed;
//! instances of launchers that died are swept at the next start.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Host;

/// Where tracefs is (mounted there if it is not).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Per-CPU trace buffer of an instance, KiB.
const BUFFER_KB: &str = "4096";

/// The most distinct numbers kept (the rest are summed under u64::MAX).
const MAX_NUMBERS: usize = 1024;

struct Instance {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<(BTreeMap<u64, u64>, u64)>>,
}

/// The running count (one instance per traced process).
pub struct Tracer {
    instances: Vec<Instance>,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Makes sure tracefs is at [`TRACEFS`] (mounting it if needed).
fn tracefs() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("host system calls are counted with tracefs, which needs root".into());
    }
    let root = PathBuf::from(TRACEFS);
    if !root.join("instances").is_dir() {
        mount_tracefs(&root)?;
    }
    if !root.join("events/raw_syscalls/sys_enter").is_dir() {
        return Err("the host kernel has no raw_syscalls/sys_enter trace event".into());
    }
    Ok(root)
}

fn mount_tracefs(root: &Path) -> Result<(), String> {
    // SAFETY: valid NUL-terminated strings; no data argument.
    let r = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 || !root.join("instances").is_dir() {
        return Err(format!(
            "tracefs is not mounted at {TRACEFS} and mounting it failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Removes the instances of launchers that are gone.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root.join("instances")) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("gvisor-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// The thread ids of process `pid`.
fn threads(pid: i32) -> Vec<String> {
    match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![pid.to_string()],
    }
}

/// The syscall number of one trace line (`... sys_enter: NR 16 (...)`).
pub fn parse_line(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("sys_enter: NR ")?;
    let digits: &str = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// `CPU:1 [LOST 12 EVENTS]` lines of trace_pipe.
fn parse_lost(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("[LOST ")?;
    rest.split(' ').next()?.parse().ok()
}

fn read_pipe(mut pipe: File, stop: Arc<AtomicBool>) -> (BTreeMap<u64, u64>, u64) {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut lost = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(10)),
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                let mut start = 0;
                while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
                    let line = String::from_utf8_lossy(&partial[start..start + i]);
                    if let Some(nr) = parse_line(&line) {
                        let key = if counts.len() < MAX_NUMBERS || counts.contains_key(&nr) {
                            nr
                        } else {
                            u64::MAX
                        };
                        let c = counts.entry(key).or_default();
                        *c = c.saturating_add(1);
                    } else if let Some(l) = parse_lost(&line) {
                        lost = lost.saturating_add(l);
                    }
                    start += i + 1;
                }
                partial.drain(..start);
                // A line never gets this long; drop garbage.
                if partial.len() > 64 * 1024 {
                    partial.clear();
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (counts, lost)
}

fn overruns(dir: &Path) -> u64 {
    let mut lost = 0u64;
    let Ok(cpus) = std::fs::read_dir(dir.join("per_cpu")) else {
        return 0;
    };
    for c in cpus.flatten() {
        let Ok(stats) = std::fs::read_to_string(c.path().join("stats")) else {
            continue;
        };
        for l in stats.lines() {
            if let Some(v) = l.strip_prefix("overrun:") {
                lost = lost.saturating_add(v.trim().parse().unwrap_or(0));
            }
        }
    }
    lost
}

fn remove(dir: &Path) {
    let _ = std::fs::write(dir.join("tracing_on"), "0");
    let _ = std::fs::write(dir.join("events/raw_syscalls/sys_enter/enable"), "0");
    let _ = std::fs::remove_dir(dir);
}

fn start_one(root: &Path, label: &str, pid: i32) -> Result<Instance, String> {
    let dir = root
        .join("instances")
        .join(format!("gvisor-{}-{label}", std::process::id()));
    if dir.exists() {
        remove(&dir);
    }
    std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let setup = || -> Result<File, String> {
        write(&dir.join("buffer_size_kb"), BUFFER_KB)?;
        write(&dir.join("options/event-fork"), "1")?;
        write(&dir.join("set_event_pid"), &threads(pid).join(" "))?;
        write(&dir.join("events/raw_syscalls/sys_enter/enable"), "1")?;
        write(&dir.join("tracing_on"), "1")?;
        let p = dir.join("trace_pipe");
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .map_err(|e| format!("opening {}: {e}", p.display()))
    };
    let pipe = match setup() {
        Ok(p) => p,
        Err(e) => {
            remove(&dir);
            return Err(e);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let reader = std::thread::Builder::new()
        .name(format!("trace-{label}"))
        .spawn(move || read_pipe(pipe, s))
        .map_err(|e| {
            remove(&dir);
            format!("starting a trace reader: {e}")
        })?;
    Ok(Instance {
        dir,
        stop,
        reader: Some(reader),
    })
}

impl Tracer {
    /// Starts counting the host calls of each `(label, pid)` (and of the
    /// threads and children they create from now on). The error says why
    /// it cannot (one line).
    pub fn start(procs: &[(&str, i32)]) -> Result<Tracer, String> {
        let root = tracefs()?;
        sweep(&root);
        let mut t = Tracer {
            instances: Vec::new(),
        };
        for (label, pid) in procs {
            t.instances.push(start_one(&root, label, *pid)?);
        }
        Ok(t)
    }

    /// Stops counting; one section per process, in the order given.
    pub fn stop(mut self) -> (Host, Host) {
        let mut out: Vec<Host> = Vec::new();
        for i in &mut self.instances {
            let _ = std::fs::write(i.dir.join("tracing_on"), "0");
            i.stop.store(true, Ordering::SeqCst);
            let (counts, lost) = i
                .reader
                .take()
                .and_then(|r| r.join().ok())
                .unwrap_or_default();
            let lost = lost.max(overruns(&i.dir));
            out.push(Host::from_counts(&counts, lost));
        }
        let mut it = out.into_iter();
        let missing = || Host::unavailable("not traced");
        (
            it.next().unwrap_or_else(missing),
            it.next().unwrap_or_else(missing),
        )
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        for i in &mut self.instances {
            i.stop.store(true, Ordering::SeqCst);
            if let Some(r) = i.reader.take() {
                let _ = r.join();
            }
            remove(&i.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_lines() {
        let l =
            "  gvisor-sentry-1234  [001] ..... 5678.123456: sys_enter: NR 16 (3, ae03, 0, 0, 0, 0)";
        assert_eq!(parse_line(l), Some(16));
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(parse_lost("CPU:1 [LOST 12 EVENTS]"), Some(12));
    }
}
