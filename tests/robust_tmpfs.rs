//! tmpfs file data lives in the memory file (issue 11, item 9): file
//! operations on tmpfs behave as on a native tmpfs, and a large file in /tmp
//! costs the sentry memory-file pages (shared memory), not heap, and gives
//! them back when it is deleted.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

/// The output of `rt_tmpfs` in `dir`, natively: in a fresh directory of the
/// host's /dev/shm (a tmpfs).
fn native_tmpfs_run(bin: &std::path::Path) -> std::process::Output {
    let dir = format!("/dev/shm/rt-tmpfs-{}", std::process::id());
    let out = run_native(bin, &[&dir]);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn tmpfs_file_operations_match_native_tmpfs() {
    let bin = compile_c("rt_tmpfs");
    let native = native_tmpfs_run(&bin);
    assert!(native.status.success(), "{}", describe(&native));
    let text = String::from_utf8_lossy(&native.stdout);
    assert!(text.ends_with("done\n") && !text.contains("FAIL"), "{text}");
    // /tmp is the root overlay's tmpfs upper layer; /dev/shm a tmpfs mount.
    for dir in ["/tmp/rt-tmpfs", "/dev/shm/rt-tmpfs"] {
        let sandboxed = run_sandboxed(&bin, &[dir], NO_FLAGS);
        assert_same(&native, &sandboxed);
    }
}

/// The direct children of `pid` whose argv[0] is `name`.
fn child_named(pid: u32, name: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some((_, after)) = stat.rsplit_once(") ") else {
            continue;
        };
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if ppid != pid {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        if cmd.split(|&b| b == 0).next() == Some(name.as_bytes()) {
            return Some(p);
        }
    }
    None
}

/// A field of /proc/<pid>/status in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in the status of {pid}:\n{s}"))
}

#[test]
fn large_tmpfs_file_is_not_sentry_heap_and_is_freed_on_delete() {
    const MIB: u64 = 512;
    let bin = compile_c("rt_bigfile");
    let mut child = Command::new(gvisor_bin())
        .args(["do", "--"])
        .arg(&bin)
        .args(["/tmp/rt-big", &MIB.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let launcher = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let kill = |child: &mut std::process::Child, why: String| -> ! {
        let _ = child.kill();
        let out = child.wait_with_output_stderr();
        panic!("{why}\n--- stderr ---\n{out}");
    };
    let expect = |child: &mut std::process::Child, want: &str| match rx
        .recv_timeout(Duration::from_secs(120))
    {
        Ok(l) if l == want => {}
        other => kill(child, format!("expected {want:?}, got {other:?}")),
    };
    expect(&mut child, "written");
    let deadline = Instant::now() + Duration::from_secs(10);
    let sentry = loop {
        if let Some(p) = child_named(launcher, "gvisor-sentry") {
            break p;
        }
        if Instant::now() > deadline {
            kill(&mut child, "no gvisor-sentry child".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let anon = status_kb(sentry, "RssAnon");
    let shmem = status_kb(sentry, "RssShmem");
    eprintln!("with a {MIB} MiB file: RssAnon {anon} kB, RssShmem {shmem} kB");
    if anon >= 128 << 10 {
        kill(
            &mut child,
            format!("the sentry's heap holds the file: RssAnon {anon} kB"),
        );
    }
    if shmem < (MIB * 3 / 4) << 10 {
        kill(
            &mut child,
            format!("the file is not in the memory file: RssShmem {shmem} kB"),
        );
    }
    stdin.write_all(b"\n").unwrap();
    expect(&mut child, "unlinked");
    let after = status_kb(sentry, "RssShmem");
    eprintln!("after unlink: RssShmem {after} kB");
    if after + ((MIB * 3 / 4) << 10) > shmem {
        kill(
            &mut child,
            format!("deleting the file did not free its pages: RssShmem {shmem} -> {after} kB"),
        );
    }
    stdin.write_all(b"\n").unwrap();
    expect(&mut child, "done");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

trait StderrOf {
    fn wait_with_output_stderr(&mut self) -> String;
}

impl StderrOf for std::process::Child {
    fn wait_with_output_stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        let _ = self.wait();
        s
    }
}

#[test]
fn tmpfs_statfs_counts_file_pages() {
    let bin = compile_c("rt_statfs");
    let native = run_native(&bin, &["/dev/shm"]);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&bin, &["/dev/shm"], NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        "statfs: 0\ntmpfs: 1 bsize 4096\nsane: 1\n64 MiB file uses >= 63 MiB: 1\n\
         a hole costs < 1 MiB: 1\nfreed on delete: 1\n"
    );
}

/// tmpfs data may take half of the sandbox's memory, as Linux's default tmpfs
/// size: a full /tmp is ENOSPC and the programs still get memory (before, the
/// files took all of it and the next page fault, of whichever program, was an
/// out-of-memory kill, init's included).
#[test]
fn a_full_tmpfs_is_enospc_and_leaves_memory_for_programs() {
    let bin = compile_c("rt_full");
    let out = run_sandboxed(&bin, NO_FLAGS, &["--memory", "256M"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tmpfs full: ENOSPC after 128 MiB"), "{text}");
    assert!(
        text.contains("64 MiB of anonymous memory touched"),
        "{text}"
    );
}
