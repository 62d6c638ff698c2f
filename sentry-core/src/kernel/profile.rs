//! The app→sentry profile (`--profile`): per process and per system call
//! number, how many calls, how many failed and how long the sentry spent
//! serving them.
//!
//! Off by default: `dispatch` then pays one relaxed atomic load per call
//! ([`Profiler::start`]). On, every call takes one short lock to add its
//! counts. Everything is bounded: a process's table has at most one row
//! per number below [`NR_SYSCALLS`] plus one "other" row for the numbers
//! past it, and at most [`MAX_PROCESSES`] processes are kept apart (entries
//! stay after the process exits); later ones are summed into one
//! "others" entry (pid 0).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::abi::names::NR_SYSCALLS;

/// Processes kept apart; the rest are summed into the pid-0 entry.
pub const MAX_PROCESSES: usize = 4096;

/// The row of numbers at or past [`NR_SYSCALLS`] ("other").
pub const OTHER: u32 = NR_SYSCALLS as u32;

/// The counts of one system call number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls made.
    pub calls: u64,
    /// Calls that returned an error (a negative result).
    pub errors: u64,
    /// Time spent in the sentry serving them, nanoseconds.
    pub time_ns: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.calls = self.calls.saturating_add(o.calls);
        self.errors = self.errors.saturating_add(o.errors);
        self.time_ns = self.time_ns.saturating_add(o.time_ns);
    }
}

/// One process's profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessProfile {
    /// Its container's id (empty outside a pod).
    pub container: String,
    /// Its pid in the sandbox (0: the processes past [`MAX_PROCESSES`]).
    pub pid: i32,
    /// Its command (comm) when it last made a call.
    pub command: String,
    /// Counts by number ([`OTHER`] for numbers past the table).
    pub syscalls: BTreeMap<u32, Counts>,
}

/// A copy of the whole profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Processes in the order they made their first call.
    pub processes: Vec<ProcessProfile>,
}

impl Snapshot {
    /// The sandbox's counts by number (all processes summed).
    pub fn total(&self) -> BTreeMap<u32, Counts> {
        let mut t: BTreeMap<u32, Counts> = BTreeMap::new();
        for p in &self.processes {
            for (nr, c) in &p.syscalls {
                t.entry(*nr).or_default().add(c);
            }
        }
        t
    }
}

#[derive(Default)]
struct Table {
    /// (container, pid) in the order of their first call.
    order: Vec<(String, i32)>,
    /// By container, then pid.
    by_container: BTreeMap<String, BTreeMap<i32, ProcessProfile>>,
    /// Entries in `by_container`.
    len: usize,
}

/// The profiler a kernel holds.
#[derive(Default)]
pub struct Profiler {
    on: AtomicBool,
    table: Mutex<Table>,
}

impl Profiler {
    /// Starts counting.
    pub fn enable(&self) {
        self.on.store(true, Ordering::SeqCst);
    }

    /// Whether it counts.
    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// When profiling: now, to time the call about to be served.
    pub fn start(&self) -> Option<Instant> {
        self.enabled().then(Instant::now)
    }

    /// Counts one call of `nr` by process `pid` (command `comm`) of
    /// container `container`, served in `took`, failed or not.
    pub fn record(
        &self,
        container: &str,
        pid: i32,
        comm: &[u8; 16],
        nr: u64,
        took: Duration,
        failed: bool,
    ) {
        let row = if nr < NR_SYSCALLS as u64 {
            nr as u32
        } else {
            OTHER
        };
        let time_ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let mut guard = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let t = &mut *guard;
        let known = t
            .by_container
            .get(container)
            .is_some_and(|c| c.contains_key(&pid));
        let key = if known || t.len < MAX_PROCESSES {
            pid
        } else {
            0
        };
        if !t.by_container.contains_key(container) {
            t.by_container
                .insert(container.to_string(), BTreeMap::new());
        }
        let Some(procs) = t.by_container.get_mut(container) else {
            return;
        };
        if !procs.contains_key(&key) {
            t.order.push((container.to_string(), key));
            t.len = t.len.saturating_add(1);
        }
        let p = procs.entry(key).or_insert_with(|| ProcessProfile {
            container: container.to_string(),
            pid: key,
            ..Default::default()
        });
        if key != 0 {
            let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            if p.command.as_bytes() != &comm[..end] {
                p.command = String::from_utf8_lossy(&comm[..end]).into_owned();
            }
        } else if p.command.is_empty() {
            p.command = "others".into();
        }
        p.syscalls.entry(row).or_default().add(&Counts {
            calls: 1,
            errors: u64::from(failed),
            time_ns,
        });
    }

    /// A copy of what was counted so far.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_of(None)
    }

    /// A copy of what the processes of `container` (all: None) made.
    pub fn snapshot_of(&self, container: Option<&str>) -> Snapshot {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        Snapshot {
            processes: t
                .order
                .iter()
                .filter(|(c, _)| container.is_none_or(|want| want == c))
                .filter_map(|(c, pid)| t.by_container.get(c).and_then(|m| m.get(pid)).cloned())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comm(s: &str) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[..s.len()].copy_from_slice(s.as_bytes());
        c
    }

    #[test]
    fn off_by_default_and_counts_when_on() {
        let p = Profiler::default();
        assert!(p.start().is_none());
        p.enable();
        assert!(p.start().is_some());
        for _ in 0..3 {
            p.record("", 1, &comm("sh"), 39, Duration::from_nanos(10), false);
        }
        p.record("", 1, &comm("sh"), 2, Duration::from_nanos(5), true);
        p.record("", 2, &comm("child"), 39, Duration::from_nanos(1), false);
        p.record(
            "",
            2,
            &comm("child"),
            100_000,
            Duration::from_nanos(1),
            true,
        );
        let s = p.snapshot();
        assert_eq!(s.processes.len(), 2);
        assert_eq!(s.processes[0].pid, 1);
        assert_eq!(s.processes[1].command, "child");
        let t = s.total();
        assert_eq!(
            t[&39],
            Counts {
                calls: 4,
                errors: 0,
                time_ns: 31
            }
        );
        assert_eq!(t[&2].errors, 1);
        assert_eq!(t[&OTHER].calls, 1);
    }

    #[test]
    fn processes_past_the_cap_are_summed() {
        let p = Profiler::default();
        p.enable();
        for pid in 1..=(MAX_PROCESSES as i32 + 10) {
            p.record("", pid, &comm("x"), 0, Duration::ZERO, false);
        }
        let s = p.snapshot();
        assert_eq!(s.processes.len(), MAX_PROCESSES + 1);
        let others = s.processes.iter().find(|p| p.pid == 0);
        assert_eq!(others.map(|o| o.syscalls[&0].calls), Some(10));
    }

    #[test]
    fn containers_kept_apart() {
        let p = Profiler::default();
        p.enable();
        p.record("a", 1, &comm("x"), 0, Duration::ZERO, false);
        p.record("b", 1, &comm("y"), 1, Duration::ZERO, false);
        p.record("b", 1, &comm("y"), 1, Duration::ZERO, false);
        let a = p.snapshot_of(Some("a"));
        assert_eq!(a.processes.len(), 1);
        assert_eq!(a.processes[0].command, "x");
        let b = p.snapshot_of(Some("b"));
        assert_eq!(b.total()[&1].calls, 2);
        assert_eq!(p.snapshot().processes.len(), 2);
    }
}
