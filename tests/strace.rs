//! `--strace` as runsc's (issue 15 item 2): decoded arguments and structs,
//! signed results with errno names, E/X lines for blocking calls, the
//! `--strace-syscalls` filter and `--strace-log-size`, and bounded lines
//! for a hostile program.

use std::process::Output;
use std::time::Duration;

use gvisor_tests::*;

const LIMIT: Duration = Duration::from_secs(120);

fn traced(prog: &str, flags: &[&str]) -> Output {
    let bin = compile_c(prog);
    let mut f = vec!["--strace"];
    f.extend_from_slice(flags);
    run_command_timeout(sandboxed_command(&bin, &[] as &[&str], &f), LIMIT)
}

/// The trace lines of stderr (`[pid:tid] comm E|X ...`).
fn trace_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with('['))
        .map(str::to_string)
        .collect()
}

/// The call of a trace line: "name(args) = result (elapsed)".
fn call_of(line: &str) -> &str {
    let rest = line.split_once("] ").map_or("", |(_, r)| r);
    let rest = rest.split_once(' ').map_or("", |(_, r)| r);
    rest.get(2..).unwrap_or("")
}

fn find(lines: &[String], what: &str, out: &Output) -> usize {
    lines
        .iter()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no trace line with {what:?}\n{}", describe(out)))
}

#[test]
fn common_calls_are_decoded() {
    let out = traced("strace_calls", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hi\n"), "{}", describe(&out));
    let port: u16 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("port "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port\n{}", describe(&out)));
    let lines = trace_lines(&out);
    for l in &lines {
        let (ids, rest) = l
            .split_once("] ")
            .unwrap_or_else(|| panic!("bad line {l:?}"));
        let (pid, tid) = ids[1..]
            .split_once(':')
            .unwrap_or_else(|| panic!("bad ids {l:?}"));
        assert!(
            pid.parse::<i32>().is_ok() && tid.parse::<i32>().is_ok(),
            "{l:?}"
        );
        let mut w = rest.splitn(3, ' ');
        let (_comm, kind) = (w.next(), w.next());
        assert!(matches!(kind, Some("E") | Some("X")), "{l:?}");
        if kind == Some("X") {
            assert!(l.contains(") = ") && l.ends_with(')'), "{l:?}");
        }
    }
    for want in [
        "[1:1] strace_calls X openat(AT_FDCWD, \"/tmp/strace-calls-x\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 3 (",
        "X write(3, \"hello\\n\", 6) = 6 (",
        "st_mode=S_IFREG|0644, st_nlink=1, st_uid=0, st_gid=0, st_size=6,",
        "X mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x",
        "X openat(AT_FDCWD, \"/nonexistent/strace\", O_RDONLY) = -1 ENOENT (No such file or directory) (",
        "X rt_sigaction(SIGUSR1, {sa_handler=0x",
        "X kill(1, SIGUSR1) = 0 (",
        "X socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = ",
        "X bind(3, {sa_family=AF_INET, addr=127.0.0.1:0}, 16) = 0 (",
        "X ioctl(4, FIONBIO, [1]) = 0 (",
        "X ioctl(4, FIONREAD, [0]) = 0 (",
        "X poll([{fd=3, events=POLLIN, revents=0}], 1, 10) = 0 (",
        "X clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000000}, NULL) = 0 (",
        "X clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, ",
        "X pipe2([3, 4], 0) = 0 (",
        "X wait4(2, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 2 (",
        "[1:1] strace_calls E execve(\"/bin/echo\", [\"echo\", \"hi\"], [\"STRACE_TEST=1\"])",
        "[1:1] echo X execve(\"/bin/echo\", [\"echo\", \"hi\"], [\"STRACE_TEST=1\"]) = 0 (",
        "X exit_group(0) = ? (",
    ] {
        find(&lines, want, &out);
    }
    find(
        &lines,
        &format!("X getsockname(3, {{sa_family=AF_INET, addr=127.0.0.1:{port}}}, [16]) = 0 ("),
        &out,
    );
    let e = find(
        &lines,
        &format!("E connect(4, {{sa_family=AF_INET, addr=127.0.0.1:{port}}}, 16)"),
        &out,
    );
    let x = find(
        &lines,
        &format!("X connect(4, {{sa_family=AF_INET, addr=127.0.0.1:{port}}}, 16) = 0 ("),
        &out,
    );
    assert!(e < x);
    // The read on the pipe blocks until the child (pid 2) writes: its E line
    // comes before the child's write starts, its X line (with the data) after.
    let e = find(&lines, "[1:1] strace_calls E read(3, 0x", &out);
    find(
        &lines,
        "[2:2] strace_calls X write(4, \"ping\", 4) = 4 (",
        &out,
    );
    let w = find(&lines, "[2:2] strace_calls E write(4, \"ping\", 4)", &out);
    let x = find(
        &lines,
        "[1:1] strace_calls X read(3, \"ping\", 16) = 4 (",
        &out,
    );
    assert!(
        e < w && w < x,
        "E read at {e}, child's write at {w}, X read at {x}"
    );
    // A call that cannot block has no E line.
    assert!(!lines.iter().any(|l| l.contains(" E socket(")));
}

#[test]
fn filter_shows_only_the_listed_calls() {
    let out = traced("strace_calls", &["--strace-syscalls=openat,execve"]);
    assert!(out.status.success(), "{}", describe(&out));
    let lines = trace_lines(&out);
    assert!(!lines.is_empty(), "{}", describe(&out));
    for l in &lines {
        let c = call_of(l);
        assert!(
            c.starts_with("openat(") || c.starts_with("execve("),
            "{l:?}"
        );
    }
    find(&lines, "X openat(AT_FDCWD, \"/tmp/strace-calls-x\"", &out);
    find(&lines, "X execve(\"/bin/echo\"", &out);
}

#[test]
fn unknown_filter_name_is_a_one_line_error() {
    let out = traced("strace_calls", &["--strace-syscalls=openat,nosuch"]);
    let line = assert_one_line_error(&out);
    assert_eq!(
        line,
        "gvisor: --strace-syscalls: unknown system call \"nosuch\""
    );
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
}

#[test]
fn log_size_cuts_strings_and_buffers() {
    let out = traced("strace_calls", &["--strace-log-size=8"]);
    assert!(out.status.success(), "{}", describe(&out));
    let lines = trace_lines(&out);
    find(
        &lines,
        "X openat(AT_FDCWD, \"/tmp/str\"..., O_WRONLY|O_CREAT",
        &out,
    );
    find(&lines, "X write(3, \"hello\\n\", 6) = 6", &out);
    find(
        &lines,
        "E execve(\"/bin/ech\"..., [\"echo\", \"hi\"], [\"STRACE_T\"...])",
        &out,
    );
}

#[test]
fn hostile_program_keeps_the_sentry_and_lines_bounded() {
    let out = traced("strace_hostile", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "survived\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for bad in ["panicked", "stack backtrace"] {
        assert!(!stderr.contains(bad), "{}", describe(&out));
    }
    let lines = trace_lines(&out);
    assert!(lines.len() > 500, "{} lines", lines.len());
    // Strings and buffers at most 1024 bytes (4 characters each escaped),
    // arrays at most 64 entries: no line comes near this.
    let longest = lines.iter().map(String::len).max().unwrap_or(0);
    assert!(longest < 600_000, "a line of {longest} bytes");
    find(
        &lines,
        "X write(1, 0xdead0000beef000, 1099511627776) = -1 EFAULT (Bad address) (",
        &out,
    );
    let big = &lines[find(
        &lines,
        "E execve(\"/nonexistent/strace-hostile\", [\"aaaa",
        &out,
    )];
    assert!(big.len() < 12_000, "execve line of {} bytes", big.len());
    assert!(big.contains("\"..., \"x\", \"x\""), "{big}");
    assert!(
        big.ends_with(", \"x\", ...], [\"aaaa") || big.contains(", ...], [\"aaa"),
        "{big}"
    );
    assert_eq!(big.matches("\"x\"").count(), 63, "{big}");
    find(
        &lines,
        "E execve(\"/nonexistent/strace-hostile\", [\"a\", 0xdead0000beef000], 0xdead0000beef000)",
        &out,
    );
}

/// Through containerd: the runtime options `strace`, `strace-syscalls`
/// and `strace-log-size` reach the pod's sentry, and each line names the
/// task's container.
#[test]
fn containerd_runtime_options_and_container_ids() {
    use gvisor_tests::ctrd::{Containerd, RUNTIME};
    let c = Containerd::start();
    let logs = c.dir.join("sentry-logs");
    std::fs::write(
        c.dir.join("gvisor.toml"),
        format!(
            "platform = \"kvm\"\ndebug-log = \"{}/%ID%/\"\nstrace = true\n\
             strace-syscalls = \"write,execve\"\nstrace-log-size = 5\n",
            logs.display()
        ),
    )
    .unwrap();
    let id = "strace-ctr";
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        RUNTIME,
        "docker.io/library/busybox:latest",
        id,
        "echo",
        "hello-strace",
    ]);
    assert!(out.status.success(), "{}\n{}", describe(&out), c.log_tail());
    let mut text = String::new();
    for e in std::fs::read_dir(logs.join(id)).unwrap().flatten() {
        text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("[{id} "))
            && l.contains("X write(1, \"hello\"..., 13) = 13 (")),
        "no traced write of {id}:\n{text}"
    );
    for l in &lines {
        let call = call_of(l);
        assert!(
            call.starts_with("write(") || call.starts_with("execve("),
            "{l:?}"
        );
    }
}

/// The fuzzer (tests/c/fuzz.c: every call with noise, wild pointers and
/// huge lengths) under --strace: the sandbox ends normally and no line
/// grows past the bounds.
#[test]
fn fuzzer_under_strace() {
    let fuzz = compile_c("fuzz");
    let cmd = sandboxed_command(
        &fuzz,
        &["--seed", "7", "--calls", "3000"],
        &["--strace", "--strace-log-size=256"],
    );
    let out = run_command_timeout(cmd, LIMIT);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" done"),
        "{}",
        describe(&out)
    );
    let lines = trace_lines(&out);
    assert!(lines.len() > 1000, "{} lines", lines.len());
    let longest = lines.iter().map(String::len).max().unwrap_or(0);
    // 256 bytes per string (4 characters each escaped), 64 entries per array.
    assert!(
        longest < 2 * 65 * (4 * 256 + 8) + 4096,
        "a line of {longest} bytes"
    );
}
