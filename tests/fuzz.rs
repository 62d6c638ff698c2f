//! The syscall fuzzer (tests/c/fuzz.c) run inside the sandbox.
//!
//! - `fixed_seeds_leave_the_sandbox_standing` (CI): 100,000 calls over five fixed seeds. Fails
//!   on any sentry death (exit 125, "sentry was killed", a panic message), a hang past the
//!   timeout, a harness that did not finish, or a leftover host process, mount or temporary file.
//! - `fuzz_for_a_while` (ignored; `make fuzz`): random seeds for `FUZZ_SECONDS` (default 300),
//!   or the seed in `FUZZ_SEED`; prints a reproducer for any failure.
//!
//! A failure names the seed and the batch; the reproducer replays that one batch with every call
//! printed before it is made:
//! `gvisor do -- <fuzz> --seed S --calls N --batch K --only B -v`.
//!
//! Its own test binary: the leftover check needs no other sandbox running at the same time.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use gvisor_tests::*;

const BATCH: u32 = 200;

fn gvisor_processes() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                        c.starts_with(b"gvisor-sentry") || c.starts_with(b"gvisor-gofer")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What a sandbox could leave on the host: processes, mounts, files in /tmp and in the fuzzer's
/// directory.
#[derive(Debug, PartialEq)]
struct HostState {
    processes: usize,
    mounts: usize,
    tmp: Vec<String>,
    dir: Vec<String>,
}

fn host_state(fuzz_dir: &Path) -> HostState {
    HostState {
        processes: gvisor_processes(),
        mounts: std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| m.lines().count())
            .unwrap_or(0),
        tmp: names(Path::new("/tmp")),
        dir: names(fuzz_dir),
    }
}

/// The reason a fuzz run failed, or None.
fn verdict(out: &Output, timed_out: bool) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if timed_out {
        return Some("the sandbox hung past the timeout".into());
    }
    for bad in [
        "sentry was killed",
        "panicked",
        "the sentry",
        "SIGSYS",
        "stack backtrace",
    ] {
        if stderr.contains(bad) {
            return Some(format!("stderr contains {bad:?}"));
        }
    }
    if shell_code(&out.status) == 125 {
        return Some("exit status 125 (sandbox error)".into());
    }
    if let Some(l) = stdout.lines().find(|l| l.contains("HANG")) {
        return Some(l.to_string());
    }
    if !out.status.success() || !stdout.contains(" done") {
        return Some(format!(
            "the harness did not finish (status {})",
            out.status
        ));
    }
    None
}

/// Runs one seed; returns an error text with a reproducer on failure.
fn fuzz_seed(fuzz: &Path, seed: u64, calls: u32) -> Result<(), String> {
    let args = [
        "--seed".to_string(),
        seed.to_string(),
        "--calls".into(),
        calls.to_string(),
        "--batch".into(),
        BATCH.to_string(),
    ];
    let cmd = sandboxed_command(fuzz, &args, &[] as &[&str]);
    let timeout = Duration::from_secs(60 + u64::from(calls) / 200);
    let (out, timed_out) = run_command_catching_timeout(cmd, timeout);
    match verdict(&out, timed_out) {
        None => Ok(()),
        Some(why) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let batch = stdout
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("batch "))
                .unwrap_or("0")
                .trim()
                .to_string();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.contains("unimplemented syscall"))
                .collect();
            let last = last[last.len().saturating_sub(15)..].join("\n");
            Err(format!(
                "fuzz seed {seed} failed in batch {batch}: {why}\n\
                 reproduce: {} do -- {} --seed {seed} --calls {calls} --batch {BATCH} --only {batch} -v\n\
                 --- last stderr lines ---\n{last}",
                gvisor_bin().display(),
                fuzz.display()
            ))
        }
    }
}

/// Like `run_command_timeout`, but a timeout is a result, not a panic.
fn run_command_catching_timeout(cmd: std::process::Command, timeout: Duration) -> (Output, bool) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_command_timeout(cmd, timeout)
    })) {
        Ok(out) => (out, false),
        Err(_) => (
            Output {
                status: std::os::unix::process::ExitStatusExt::from_raw(9),
                stdout: Vec::new(),
                stderr: Vec::new(),
            },
            true,
        ),
    }
}

fn fuzz_binary() -> std::path::PathBuf {
    compile_c("fuzz")
}

/// The tests of this file run one at a time: the host check counts every sandbox.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn fixed_seeds_leave_the_sandbox_standing() {
    let _one = one_at_a_time();
    let fuzz = fuzz_binary();
    let dir = fuzz.parent().unwrap().to_path_buf();
    let before = host_state(&dir);
    // 5 seeds x 20,000 calls = 100,000 calls.
    let mut failures = Vec::new();
    for seed in [1u64, 2, 3, 4, 5] {
        if let Err(e) = fuzz_seed(&fuzz, seed, 20_000) {
            failures.push(e);
        }
    }
    let after = host_state(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(before, after, "the host changed (processes, mounts, files)");
}

/// `make fuzz`: random seeds for FUZZ_SECONDS (or the one seed FUZZ_SEED).
#[test]
#[ignore]
fn fuzz_for_a_while() {
    let _one = one_at_a_time();
    let fuzz = fuzz_binary();
    let dir = fuzz.parent().unwrap().to_path_buf();
    let calls: u32 = std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seeds: Vec<u64> = match std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let secs: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id());
    let mut total = 0u64;
    let mut i = 0;
    loop {
        let seed = if let Some(s) = seeds.get(i) {
            *s
        } else if !seeds.is_empty() || Instant::now() >= end {
            break;
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % 1_000_000_000
        };
        i += 1;
        let before = host_state(&dir);
        eprintln!("fuzz: seed {seed} ({calls} calls)");
        if let Err(e) = fuzz_seed(&fuzz, seed, calls) {
            panic!("{e}");
        }
        let after = host_state(&dir);
        assert_eq!(
            before, after,
            "seed {seed}: the host changed (processes, mounts, files)"
        );
        total += u64::from(calls);
    }
    eprintln!("fuzz: {total} calls over {i} seeds, no failure");
}

/// What the fuzzer found, one case at a time, compared with a native run.
#[test]
fn fuzzer_findings_behave_as_on_linux() {
    let _one = one_at_a_time();
    let prog = compile_c("fuzz_regress");
    let native = run_native(&prog, &[] as &[&str]);
    let sandboxed = run_sandboxed(&prog, &[] as &[&str], &[] as &[&str]);
    assert_same(&native, &sandboxed);
}
