//! `--profile`: the app→sentry profile the sentry counts
//! (`sentry_core::kernel::profile`) and the sentry→host and gofer→host
//! profiles the launcher counts with tracefs ([`host`]), put together and
//! written as text (strace -c style) or JSON.
//!
//! The sentry and the launcher talk over a socket pair (`gvisor boot
//! --profile-fd N`, see [`link`]): the sentry says `ready` once the program
//! is loaded, the launcher starts counting host calls and answers `go`, the
//! sentry runs the program and at its end sends `app <json>`.

pub mod host;
pub mod link;
pub mod pod;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sentry_core::kernel::profile::{Counts, Snapshot, OTHER};
use sentry_core::syscalls::NAMES;
use serde::{Deserialize, Serialize};

/// The whole profile of one sandbox (the contract of issue 15; fields may
/// be added, not renamed).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// The sandbox's id (`gvisor run`, containerd) or the launcher's pid.
    pub sandbox: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// From the program's start to the end of the sandbox, nanoseconds.
    pub wall_ns: u64,
    /// The program's system calls as the sentry served them.
    pub app: App,
    /// The host system calls the sentry (all its threads) made.
    pub sentry_host: Host,
    /// The host system calls the gofer made.
    pub gofer_host: Host,
}

/// Totals of an app section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AppTotal {
    /// Calls.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Time in the sentry, nanoseconds.
    pub time_ns: u64,
    /// Distinct system calls.
    pub distinct: u64,
}

/// One app system call row.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AppRow {
    /// Its number (x86-64); numbers past the table are summed in one row
    /// with the table's size as number and the name "other".
    pub nr: u32,
    /// Its name.
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Time in the sentry, nanoseconds.
    pub time_ns: u64,
    /// time_ns / calls.
    pub mean_ns: u64,
}

/// One process of the app section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AppProcess {
    /// Its pid in the sandbox (0: the processes past the cap, summed).
    pub pid: i32,
    /// Its command when it last made a call.
    pub command: String,
    /// Its totals.
    pub total: AppTotal,
    /// Its calls, most made first.
    pub syscalls: Vec<AppRow>,
}

/// The app→sentry section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct App {
    /// The whole sandbox.
    pub total: AppTotal,
    /// The whole sandbox's calls, most made first.
    pub syscalls: Vec<AppRow>,
    /// Per process, in the order they made their first call.
    pub processes: Vec<AppProcess>,
    /// Why there are no counts (the sentry did not send them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// One host system call row.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HostRow {
    /// Its number (x86-64).
    pub nr: u64,
    /// Its name.
    pub name: String,
    /// Calls.
    pub calls: u64,
}

/// A sentry→host or gofer→host section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Host {
    /// How the calls were counted ("ftrace"), or None when they were not.
    pub source: Option<String>,
    /// Why they were not counted.
    pub unavailable: Option<String>,
    /// Calls.
    pub total: u64,
    /// Distinct system calls.
    pub distinct: u64,
    /// Events the trace buffer dropped (the counts are then low).
    pub lost: u64,
    /// The calls, most made first.
    pub syscalls: Vec<HostRow>,
}

impl Host {
    /// A section saying why nothing was counted.
    pub fn unavailable(why: impl Into<String>) -> Host {
        Host {
            unavailable: Some(why.into()),
            ..Default::default()
        }
    }

    /// A section from counts by number.
    pub fn from_counts(counts: &BTreeMap<u64, u64>, lost: u64) -> Host {
        let mut rows: Vec<HostRow> = counts
            .iter()
            .map(|(&nr, &calls)| HostRow {
                nr,
                name: host_name(nr),
                calls,
            })
            .collect();
        rows.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.nr.cmp(&b.nr)));
        Host {
            source: Some("ftrace".into()),
            unavailable: None,
            total: rows.iter().fold(0u64, |t, r| t.saturating_add(r.calls)),
            distinct: rows.len() as u64,
            lost,
            syscalls: rows,
        }
    }
}

/// The name of a host (x86-64) system call number.
pub fn host_name(nr: u64) -> String {
    match usize::try_from(nr).ok().and_then(|i| NAMES.get(i)) {
        Some(n) if !n.is_empty() => (*n).to_string(),
        _ => format!("syscall_{nr}"),
    }
}

/// The name of a sandbox system call number: the sentry's table first (it
/// may have rows Linux has not, as the `example-syscall` feature's
/// `square`), then Linux's list.
pub fn app_name(nr: u64) -> String {
    match sentry_core::syscalls::name_of(nr) {
        "" => format!("syscall_{nr}"),
        n => n.to_string(),
    }
}

fn app_rows(counts: &BTreeMap<u32, Counts>) -> (AppTotal, Vec<AppRow>) {
    let mut rows: Vec<AppRow> = counts
        .iter()
        .map(|(&nr, c)| AppRow {
            nr,
            name: if nr == OTHER {
                "other".into()
            } else {
                app_name(u64::from(nr))
            },
            calls: c.calls,
            errors: c.errors,
            time_ns: c.time_ns,
            mean_ns: c.time_ns.checked_div(c.calls).unwrap_or(0),
        })
        .collect();
    rows.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.nr.cmp(&b.nr)));
    let mut t = AppTotal {
        distinct: rows.len() as u64,
        ..Default::default()
    };
    for r in &rows {
        t.calls = t.calls.saturating_add(r.calls);
        t.errors = t.errors.saturating_add(r.errors);
        t.time_ns = t.time_ns.saturating_add(r.time_ns);
    }
    (t, rows)
}

impl App {
    /// The section from the sentry's counts.
    pub fn from_snapshot(s: &Snapshot) -> App {
        let (total, syscalls) = app_rows(&s.total());
        let processes = s
            .processes
            .iter()
            .map(|p| {
                let (total, syscalls) = app_rows(&p.syscalls);
                AppProcess {
                    pid: p.pid,
                    command: p.command.clone(),
                    total,
                    syscalls,
                }
            })
            .collect();
        App {
            total,
            syscalls,
            processes,
            unavailable: None,
        }
    }
}

const APP_RULE: &str = "------ ----------- ----------- --------- --------- ----------------\n";
const HOST_RULE: &str = "--------- ----------------\n";

fn app_table(out: &mut String, total: &AppTotal, rows: &[AppRow]) {
    out.push_str("% time     seconds  usecs/call     calls    errors syscall\n");
    out.push_str(APP_RULE);
    let all = total.time_ns.max(1) as f64;
    for r in rows {
        let errors = if r.errors > 0 {
            r.errors.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>6.2} {:>11.6} {:>11} {:>9} {:>9} {}",
            r.time_ns as f64 * 100.0 / all,
            r.time_ns as f64 / 1e9,
            r.mean_ns / 1000,
            r.calls,
            errors,
            r.name
        );
    }
    out.push_str(APP_RULE);
    let errors = if total.errors > 0 {
        total.errors.to_string()
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{:>6.2} {:>11.6} {:>11} {:>9} {:>9} total",
        100.0,
        total.time_ns as f64 / 1e9,
        total.time_ns.checked_div(total.calls).unwrap_or(0) / 1000,
        total.calls,
        errors
    );
    let _ = writeln!(out, "distinct: {}", total.distinct);
}

fn host_table(out: &mut String, title: &str, h: &Host) {
    let _ = writeln!(out, "\n{title}");
    if let Some(why) = &h.unavailable {
        let _ = writeln!(out, "unavailable: {why}");
        return;
    }
    out.push_str("    calls syscall\n");
    out.push_str(HOST_RULE);
    for r in &h.syscalls {
        let _ = writeln!(out, "{:>9} {}", r.calls, r.name);
    }
    out.push_str(HOST_RULE);
    let _ = writeln!(out, "{:>9} total", h.total);
    let _ = writeln!(out, "distinct: {}", h.distinct);
    if h.lost > 0 {
        let _ = writeln!(out, "lost: {} (the counts above are low)", h.lost);
    }
}

impl Profile {
    /// The text form: one strace -c style table per section.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "gvisor profile: sandbox {}, command {:?}, {:.3} s",
            self.sandbox,
            self.command.join(" "),
            self.wall_ns as f64 / 1e9
        );
        let _ = writeln!(out, "\napp -> sentry (whole sandbox)");
        if let Some(why) = &self.app.unavailable {
            let _ = writeln!(out, "unavailable: {why}");
        }
        app_table(&mut out, &self.app.total, &self.app.syscalls);
        for p in &self.app.processes {
            let _ = writeln!(out, "\napp -> sentry: process {} ({})", p.pid, p.command);
            app_table(&mut out, &p.total, &p.syscalls);
        }
        host_table(&mut out, "sentry -> host", &self.sentry_host);
        host_table(&mut out, "gofer -> host", &self.gofer_host);
        out
    }

    /// Writes it: to stderr as text without a path; as JSON to a path
    /// ending in `.json`; as text to any other path.
    pub fn write(&self, path: Option<&Path>) -> Result<()> {
        match path {
            None => {
                eprint!("{}", self.text());
                Ok(())
            }
            Some(p) => {
                let body = if p.extension().is_some_and(|e| e == "json") {
                    let mut j = serde_json::to_string_pretty(self)
                        .context("encoding the profile as JSON")?;
                    j.push('\n');
                    j
                } else {
                    self.text()
                };
                std::fs::write(p, body)
                    .with_context(|| format!("--profile: writing {}", p.display()))
            }
        }
    }
}

/// What the launcher is asked to produce.
#[derive(Clone, Debug)]
pub struct Request {
    /// Where (None: stderr as text).
    pub path: Option<PathBuf>,
    /// The sandbox's name in the profile.
    pub sandbox: String,
    /// The command in the profile.
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sorted_by_calls_and_text_has_tables() {
        let mut counts = BTreeMap::new();
        counts.insert(
            39u32,
            Counts {
                calls: 1000,
                errors: 0,
                time_ns: 2_000_000,
            },
        );
        counts.insert(
            2u32,
            Counts {
                calls: 10,
                errors: 10,
                time_ns: 100_000,
            },
        );
        let snap = Snapshot {
            processes: vec![sentry_core::kernel::profile::ProcessProfile {
                container: String::new(),
                pid: 1,
                command: "a".into(),
                syscalls: counts,
            }],
        };
        let mut host = BTreeMap::new();
        host.insert(16u64, 5u64);
        host.insert(0u64, 7u64);
        let p = Profile {
            sandbox: "x".into(),
            command: vec!["a".into()],
            wall_ns: 1,
            app: App::from_snapshot(&snap),
            sentry_host: Host::from_counts(&host, 0),
            gofer_host: Host::unavailable("not root"),
        };
        assert_eq!(p.app.syscalls[0].name, "getpid");
        assert_eq!(p.app.syscalls[1].errors, 10);
        assert_eq!(p.app.total.distinct, 2);
        assert_eq!(p.sentry_host.syscalls[0].name, "read");
        let t = p.text();
        assert!(t.contains("% time     seconds  usecs/call     calls    errors syscall"));
        assert!(t.contains("distinct: 2"));
        assert!(t.contains("unavailable: not root"));
        let j = serde_json::to_string(&p).unwrap();
        let back: Profile = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
    }
}
