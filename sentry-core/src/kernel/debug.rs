//! What `gvisor debug --stacks` shows of a running sandbox: every task with
//! its state, the system call it is in and its user rip/rsp.
//!
//! Each task publishes, in its [`TaskHandle`], the system call it is in (or
//! none: app code) and the user registers at the last exit from app code:
//! three relaxed atomic stores per system call, read by [`dump`] without
//! stopping anything (a snapshot, each field consistent on its own).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::kernel::task::{TaskHandle, ThreadGroup};
use crate::kernel::Kernel;

/// No system call: the task is in app code (or not started).
const USER: i64 = -1;

/// A task's published position.
#[derive(Debug)]
pub struct TaskDebug {
    syscall: AtomicI64,
    rip: AtomicU64,
    rsp: AtomicU64,
}

impl Default for TaskDebug {
    fn default() -> TaskDebug {
        TaskDebug {
            syscall: AtomicI64::new(USER),
            rip: AtomicU64::new(0),
            rsp: AtomicU64::new(0),
        }
    }
}

impl TaskDebug {
    /// The task entered system call `nr` from user `rip`/`rsp`.
    pub fn enter(&self, nr: u64, rip: u64, rsp: u64) {
        self.rip.store(rip, Ordering::Relaxed);
        self.rsp.store(rsp, Ordering::Relaxed);
        self.syscall
            .store(i64::try_from(nr).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// The task left its system call (back to app code).
    pub fn leave(&self) {
        self.syscall.store(USER, Ordering::Relaxed);
    }

    /// The task left app code for something else than a system call (a
    /// fault, an interrupt) at `rip`/`rsp`.
    pub fn user(&self, rip: u64, rsp: u64) {
        self.rip.store(rip, Ordering::Relaxed);
        self.rsp.store(rsp, Ordering::Relaxed);
    }

    /// The system call the task is in, if any.
    pub fn syscall(&self) -> Option<u64> {
        u64::try_from(self.syscall.load(Ordering::Relaxed)).ok()
    }
}

/// Most tasks a dump lists (the rest are counted).
pub const MAX_TASKS: usize = 4096;

/// One line per task (and per zombie process) of the sandbox, sorted by
/// pid and tid, after a header line:
/// `PID TID COMM STATE SYSCALL RIP RSP`. States: running (in app code),
/// sleeping (in a system call, in the sentry), stopped (job control),
/// zombie (exited, not yet reaped).
pub fn dump(kernel: &Kernel) -> String {
    let tgs: Vec<Arc<ThreadGroup>> = {
        let p = kernel.procs();
        p.tgs.values().cloned().collect()
    };
    let mut rows: Vec<(i32, i32, String)> = Vec::new();
    let mut more = 0usize;
    for tg in &tgs {
        let (threads, zombie, stopped): (Vec<Arc<TaskHandle>>, bool, bool) = {
            let st = tg.lock();
            (st.threads.clone(), st.zombie.is_some(), st.stopped)
        };
        if zombie || threads.is_empty() {
            if rows.len() < MAX_TASKS {
                rows.push((
                    tg.pid,
                    tg.pid,
                    row(tg.pid, tg.pid, "", "zombie", None, 0, 0),
                ));
            } else {
                more += 1;
            }
            continue;
        }
        for h in threads {
            if rows.len() >= MAX_TASKS {
                more += 1;
                continue;
            }
            let comm = {
                let i = h.info.lock().unwrap_or_else(|p| p.into_inner());
                let end = i.comm.iter().position(|&b| b == 0).unwrap_or(i.comm.len());
                String::from_utf8_lossy(&i.comm[..end]).into_owned()
            };
            let sc = h.debug.syscall();
            let state = if stopped {
                "stopped"
            } else if sc.is_some() {
                "sleeping"
            } else {
                "running"
            };
            rows.push((
                tg.pid,
                h.tid,
                row(
                    tg.pid,
                    h.tid,
                    &comm,
                    state,
                    sc,
                    h.debug.rip.load(Ordering::Relaxed),
                    h.debug.rsp.load(Ordering::Relaxed),
                ),
            ));
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let mut out = format!(
        "{:>7} {:>7} {:<16} {:<8} {:<24} {:>18} {:>18}\n",
        "PID", "TID", "COMM", "STATE", "SYSCALL", "RIP", "RSP"
    );
    for (_, _, r) in rows {
        out.push_str(&r);
    }
    if more > 0 {
        let _ = writeln!(out, "... and {more} more tasks");
    }
    out
}

fn row(pid: i32, tid: i32, comm: &str, state: &str, sc: Option<u64>, rip: u64, rsp: u64) -> String {
    let call = match sc {
        Some(nr) => match usize::try_from(nr)
            .ok()
            .and_then(|i| crate::abi::names::NAMES.get(i).copied())
            .unwrap_or("")
        {
            "" => format!("syscall_{nr}({nr})"),
            name => format!("{name}({nr})"),
        },
        None if state == "zombie" => "-".to_string(),
        None => "user".to_string(),
    };
    let comm: String = comm
        .chars()
        .map(|c| if c.is_control() || c == ' ' { '?' } else { c })
        .collect();
    let comm = if comm.is_empty() { "-".into() } else { comm };
    format!("{pid:>7} {tid:>7} {comm:<16} {state:<8} {call:<24} {rip:#18x} {rsp:#18x}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let d = TaskDebug::default();
        assert_eq!(d.syscall(), None);
        d.enter(35, 0x401000, 0x7ffc0000);
        assert_eq!(d.syscall(), Some(35));
        d.leave();
        assert_eq!(d.syscall(), None);
        let r = row(1, 2, "sleep", "sleeping", Some(35), 0x401000, 0x7ffc0000);
        assert!(r.contains("nanosleep(35)"), "{r}");
        assert!(r.contains("0x401000"), "{r}");
        let r = row(3, 3, "", "zombie", None, 0, 0);
        assert!(r.contains(" - "), "{r}");
    }
}
