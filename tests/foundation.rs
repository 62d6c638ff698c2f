//! Foundation tests: static programs (busybox and small C programs) run under `gvisor do`
//! and, where meaningful, are compared with the same program run natively.
//!
//! Requires: a built `gvisor` (`cargo build -p shim`, or `GVISOR_BIN`), /dev/kvm,
//! gcc + libc6-dev (static libc), and busybox-static.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

fn stdout_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs busybox with `args` natively and sandboxed and asserts same stdout and exit status.
/// Returns (native, sandboxed).
fn busybox_compare(args: &[&str]) -> (Output, Output) {
    let bb = busybox();
    let native = run_native(&bb, args);
    let sandboxed = run_sandboxed(&bb, args, NO_FLAGS);
    assert_same(&native, &sandboxed);
    (native, sandboxed)
}

// ---------------------------------------------------------------------------------------------
// busybox
// ---------------------------------------------------------------------------------------------

#[test]
fn busybox_echo() {
    let (native, sandboxed) = busybox_compare(&["echo", "hello", "world"]);
    assert_eq!(stdout_str(&native), "hello world\n");
    assert_eq!(stdout_str(&sandboxed), "hello world\n");
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
}

#[test]
fn busybox_true() {
    let (_, sandboxed) = busybox_compare(&["true"]);
    assert_eq!(sandboxed.status.code(), Some(0), "{}", describe(&sandboxed));
    assert!(sandboxed.stdout.is_empty());
}

#[test]
fn busybox_false() {
    let (_, sandboxed) = busybox_compare(&["false"]);
    assert_eq!(sandboxed.status.code(), Some(1), "{}", describe(&sandboxed));
    assert!(sandboxed.stdout.is_empty());
}

#[test]
fn busybox_cat_host_file() {
    let path = scratch_dir().join("cat-input.txt");
    let mut content = String::from("first line\nsecond line with tabs\tand spaces  \n");
    for i in 0..500 {
        content.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
    }
    content.push_str("no trailing newline");
    std::fs::write(&path, &content).unwrap();
    let p = path.to_str().unwrap();
    let (_, sandboxed) = busybox_compare(&["cat", p]);
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    assert!(
        sandboxed.stdout == content.as_bytes(),
        "cat output differs from file content"
    );
}

#[test]
fn busybox_ls_root() {
    let (native, sandboxed) = busybox_compare(&["ls", "/"]);
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    let listing = stdout_str(&native);
    for dir in ["bin", "etc", "usr"] {
        assert!(
            listing.lines().any(|l| l == dir),
            "native ls / lacks {dir}: {listing}"
        );
    }
}

#[test]
fn busybox_uname() {
    let bb = busybox();
    let native = run_native(&bb, &["uname", "-a"]);
    assert!(native.status.success(), "{}", describe(&native));
    // The sandbox may report its own kernel name/version: only check the shape.
    let sandboxed = run_sandboxed(&bb, &["uname", "-a"], NO_FLAGS);
    assert_eq!(sandboxed.status.code(), Some(0), "{}", describe(&sandboxed));
    let out = stdout_str(&sandboxed);
    assert_eq!(
        out.lines().count(),
        1,
        "expected one line\n{}",
        describe(&sandboxed)
    );
    assert!(out.contains("Linux"), "no 'Linux' in {out:?}");
    assert!(out.contains("x86_64"), "no 'x86_64' in {out:?}");
}

#[test]
fn busybox_sha256sum_10mb() {
    let path = scratch_dir().join("random-10m.bin");
    write_pseudo_random_file(&path, 10 << 20, 0x6776_6973_6f72_2d72);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 10 << 20);
    let p = path.to_str().unwrap();
    let (native, sandboxed) = busybox_compare(&["sha256sum", p]);
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    let out = stdout_str(&native);
    let hash = out.split_whitespace().next().unwrap_or_default();
    assert_eq!(hash.len(), 64, "unexpected sha256sum output {out:?}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        out.trim_end().ends_with(p),
        "unexpected sha256sum output {out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// C programs (tests/c/*.c, built with gcc -static)
// ---------------------------------------------------------------------------------------------

#[test]
fn c_mem256() {
    let prog = compile_c("mem256");
    let native = run_native(&prog, NO_FLAGS);
    assert_eq!(stdout_str(&native), "ok\n", "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(sandboxed.status.code(), Some(0), "{}", describe(&sandboxed));
}

/// Runs `prog args` natively and sandboxed; both must die by `signo`, the sandboxed `gvisor`
/// must exit with 128 + signo and name the signal on stderr, and stdout must match.
fn assert_dies_by_signal(prog: &Path, args: &[&str], signo: i32, name: &str, expect_stdout: &str) {
    let native = run_native(prog, args);
    assert_eq!(
        native.status.signal(),
        Some(signo),
        "natively expected death by {name}\n{}",
        describe(&native)
    );
    assert_eq!(stdout_str(&native), expect_stdout);

    let sandboxed = run_sandboxed(prog, args, NO_FLAGS);
    assert_eq!(
        sandboxed.status.code(),
        Some(128 + signo),
        "sandboxed: expected exit code {} ({name})\n{}",
        128 + signo,
        describe(&sandboxed)
    );
    assert_eq!(
        stdout_str(&sandboxed),
        expect_stdout,
        "{}",
        describe(&sandboxed)
    );
    let err = stderr_str(&sandboxed);
    assert!(
        err.contains(name),
        "stderr does not name {name}\n{}",
        describe(&sandboxed)
    );
    assert!(!err.contains("panicked"), "{}", describe(&sandboxed));
}

#[test]
fn c_mprotect_segv() {
    let prog = compile_c("mprotect_segv");
    assert_dies_by_signal(&prog, &[], libc::SIGSEGV, "SIGSEGV", "written\nprotected\n");
}

#[test]
fn c_fault_null_deref_sigsegv() {
    let prog = compile_c("faults");
    assert_dies_by_signal(&prog, &["null"], libc::SIGSEGV, "SIGSEGV", "faulting\n");
}

#[test]
fn c_fault_ud2_sigill() {
    let prog = compile_c("faults");
    assert_dies_by_signal(&prog, &["ud2"], libc::SIGILL, "SIGILL", "faulting\n");
}

#[test]
fn c_fault_div0_sigfpe() {
    let prog = compile_c("faults");
    assert_dies_by_signal(&prog, &["div0"], libc::SIGFPE, "SIGFPE", "faulting\n");
}

#[test]
fn c_enosys() {
    let prog = compile_c("enosys");
    let native = run_native(&prog, NO_FLAGS);
    assert_eq!(stdout_str(&native), "ENOSYS ok\n", "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(sandboxed.status.code(), Some(0));
}

#[test]
fn c_efault() {
    let prog = compile_c("efault");
    let native = run_native(&prog, NO_FLAGS);
    assert_eq!(stdout_str(&native), "EFAULT ok\n", "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(sandboxed.status.code(), Some(0));
}

/// Parsed output of tests/c/auxv.c.
struct AuxvReport {
    argv: Vec<String>,
    envp: Vec<String>,
    keys: BTreeMap<String, String>,
}

fn parse_auxv_output(o: &Output) -> AuxvReport {
    assert_eq!(o.status.code(), Some(0), "{}", describe(o));
    let text = stdout_str(o);
    let mut argv = Vec::new();
    let mut envp = Vec::new();
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("malformed line {line:?}\n{}", describe(o)));
        if k.starts_with("argv[") {
            argv.push(v.to_string());
        } else if k.starts_with("envp[") {
            envp.push(v.to_string());
        } else {
            assert!(
                keys.insert(k.to_string(), v.to_string()).is_none(),
                "duplicate key {k}"
            );
        }
    }
    AuxvReport { argv, envp, keys }
}

fn hex_value(s: &str) -> u64 {
    let digits = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("not hex: {s:?}"));
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("not hex: {s:?}: {e}"))
}

fn check_auxv_report(r: &AuxvReport, prog: &Path, args: &[&str], elf: &ElfInfo, who: &str) {
    let prog_str = prog.to_str().unwrap();
    let mut expect_argv = vec![prog_str.to_string()];
    expect_argv.extend(args.iter().map(|s| s.to_string()));
    assert_eq!(r.argv, expect_argv, "{who}: argv");
    assert_eq!(r.keys["argc"], expect_argv.len().to_string(), "{who}: argc");
    assert_eq!(r.keys["envc"], r.envp.len().to_string(), "{who}: envc");
    assert!(
        !r.keys.contains_key("argv_terminator"),
        "{who}: argv[argc] != NULL"
    );

    let k = |name: &str| -> &str {
        r.keys
            .get(name)
            .unwrap_or_else(|| panic!("{who}: {name} missing"))
    };
    assert_eq!(k("AT_PAGESZ"), "4096", "{who}: AT_PAGESZ");
    assert_eq!(k("AT_PHENT"), "56", "{who}: AT_PHENT");
    assert_eq!(k("AT_PHNUM"), elf.e_phnum.to_string(), "{who}: AT_PHNUM");
    assert_eq!(k("AT_CLKTCK"), "100", "{who}: AT_CLKTCK");
    assert_eq!(k("AT_SECURE"), "0", "{who}: AT_SECURE");
    assert_eq!(k("AT_RANDOM"), "nonnull", "{who}: AT_RANDOM");
    assert_eq!(k("AT_EXECFN"), prog_str, "{who}: AT_EXECFN");
    assert_eq!(
        hex_value(k("AT_ENTRY")),
        elf.e_entry,
        "{who}: AT_ENTRY vs ELF e_entry"
    );
    let phdr = elf
        .phdr_vaddr()
        .expect("program headers inside a PT_LOAD segment");
    assert_eq!(hex_value(k("AT_PHDR")), phdr, "{who}: AT_PHDR");
    for id in ["AT_UID", "AT_EUID", "AT_GID", "AT_EGID"] {
        k(id)
            .parse::<u32>()
            .unwrap_or_else(|e| panic!("{who}: {id}={:?} not numeric: {e}", k(id)));
    }
    hex_value(k("AT_HWCAP"));
}

#[test]
fn c_auxv_argv_envp() {
    let prog = compile_c("auxv");
    let elf = ElfInfo::read(&prog).unwrap();
    assert_eq!(
        elf.e_type, 2,
        "expected a non-PIE (ET_EXEC) static executable"
    );
    assert!(elf.is_static());

    let args = ["a", "b c", ""];
    let env = [
        ("FOO", "bar"),
        ("PATH", "/usr/bin:/bin"),
        ("EMPTY", ""),
        ("WITH_SPACES", "x y  z"),
        ("LANG", "C"),
    ];
    let mut native_cmd = native_command(&prog, &args);
    native_cmd.env_clear().envs(env);
    let native = parse_auxv_output(&run_command(native_cmd));

    let mut sandboxed_cmd = sandboxed_command(&prog, &args, NO_FLAGS);
    sandboxed_cmd.env_clear().envs(env);
    let sandboxed_out = run_command(sandboxed_cmd);
    let sandboxed = parse_auxv_output(&sandboxed_out);

    check_auxv_report(&native, &prog, &args, &elf, "native");
    check_auxv_report(&sandboxed, &prog, &args, &elf, "sandboxed");

    // The environment is exactly what we passed, in the same order as a native exec.
    let mut expect_env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut native_env_sorted = native.envp.clone();
    native_env_sorted.sort();
    expect_env.sort();
    assert_eq!(native_env_sorted, expect_env, "native envp");
    assert_eq!(
        sandboxed.envp,
        native.envp,
        "sandboxed envp differs from native\n{}",
        describe(&sandboxed_out)
    );
    assert!(sandboxed.envp.iter().any(|e| e == "FOO=bar"));
}

// ---------------------------------------------------------------------------------------------
// --strace
// ---------------------------------------------------------------------------------------------

#[test]
fn strace_shows_syscalls() {
    let bb = busybox();
    let out = run_sandboxed(&bb, &["echo", "traced"], &["--strace"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "traced\n", "{}", describe(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains("write("),
        "no write( in strace output\n{}",
        describe(&out)
    );
    assert!(
        err.contains("exit_group("),
        "no exit_group( in strace output\n{}",
        describe(&out)
    );
    assert!(!err.contains("panicked"), "{}", describe(&out));
}

// ---------------------------------------------------------------------------------------------
// Errors: one clear line on stderr, nonzero exit, never a panic.
// ---------------------------------------------------------------------------------------------

#[test]
fn error_nonexistent_program() {
    let out = run_sandboxed("/nonexistent", NO_FLAGS, NO_FLAGS);
    let line = assert_one_line_error(&out);
    let lower = line.to_lowercase();
    assert!(
        line.contains("/nonexistent")
            || lower.contains("no such file")
            || lower.contains("not found"),
        "error does not say what is missing: {line:?}"
    );
}

#[test]
fn error_not_an_elf() {
    let path = scratch_dir().join("not-elf.sh");
    std::fs::write(&path, "echo this is a text file, not an ELF executable\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Natively, execve of a file without ELF magic or shebang fails with ENOEXEC.
    let err = native_command(&path, NO_FLAGS)
        .output()
        .expect_err("native exec of a text file should fail");
    assert_eq!(err.raw_os_error(), Some(libc::ENOEXEC), "native: {err}");

    let out = run_sandboxed(&path, NO_FLAGS, NO_FLAGS);
    let line = assert_one_line_error(&out);
    let lower = line.to_lowercase();
    assert!(
        lower.contains("elf") || lower.contains("exec format"),
        "error does not say the file is not an ELF executable: {line:?}"
    );
}

#[test]
fn dynamic_elf_runs_like_native() {
    let path = Path::new("/bin/echo");
    let elf = ElfInfo::read(path).unwrap();
    assert!(
        elf.interp.is_some(),
        "/bin/echo (coreutils) was expected to be dynamically linked"
    );
    let args = ["dynamic", "hello"];
    assert_same(
        &run_native(path, &args),
        &run_sandboxed(path, &args, NO_FLAGS),
    );
}

/// clock_settime, settimeofday, adjtimex and clock_adjtime answer as Linux
/// answers a process without CAP_SYS_TIME (the native run drops it, so the
/// host's clock is never set).
#[test]
fn c_clock_setting_is_refused_as_without_cap_sys_time() {
    let prog = compile_c("clockset");
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_eq!(sandboxed.status.code(), Some(0), "{}", describe(&sandboxed));
    let text = stdout_str(&sandboxed);
    for want in [
        "clock_settime -1 Operation not permitted\n",
        "clock_settime(bad ns) -1 Invalid argument\n",
        "clock_settime(monotonic) -1 Invalid argument\n",
        "settimeofday -1 Operation not permitted\n",
        "adjtimex(read) ok\n",
        "adjtimex(set) -1 Operation not permitted\n",
        "adjtimex(ss read) ok\n",
        "clock_adjtime(read) ok\n",
    ] {
        assert!(text.contains(want), "{want:?} missing: {text}");
    }
    let capsh = std::path::Path::new("/usr/sbin/capsh");
    if capsh.exists() {
        let mut c = std::process::Command::new(capsh);
        c.arg("--drop=cap_sys_time").arg("--").arg("-c").arg(&prog);
        let native = run_command(c);
        assert_eq!(stdout_str(&native), text, "{}", describe(&native));
    }
}

/// sync, syncfs, sync_file_range, readahead and setdomainname with good and
/// bad arguments, as Linux answers them (natively in a new UTS namespace).
#[test]
fn c_sync_readahead_domainname_match_native() {
    let prog = compile_c("syncmisc");
    let mut c = std::process::Command::new("unshare");
    c.arg("-u").arg(&prog);
    let native = run_command(c);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(stdout_str(&sandboxed).contains("domainname sandbox.example\n"));
}

/// sched_* (policies, priorities, sched_attr sizes and flags, reset-on-fork),
/// ioprio_get/set, get_robust_list and membarrier (with threads spinning in app
/// code while barriers run) as Linux answers them.
#[test]
fn c_sched_ioprio_robust_membarrier_match_native() {
    let prog = compile_c_with("schedprio", &["-pthread"]);
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(stdout_str(&sandboxed).contains("barriers with spinning threads: 0 failed\n"));
}

/// preadv, pwritev, preadv2, pwritev2 (offsets, -1, RWF_* flags, pipes,
/// O_APPEND), the legacy getdents and utime, utimes, futimesat, natively in a
/// scratch directory and sandboxed in the sandbox's /tmp.
#[test]
fn c_vectored_io_getdents_utimes_match_native() {
    let prog = compile_c("vecio");
    let dir = scratch_dir().join("vecio-scratch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let native = run_native(&prog, &[dir.to_str().expect("utf-8 path")]);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &["/tmp"], NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(stdout_str(&sandboxed).contains("entry link type 10 reclen 24\n"));
}

/// Calls a process without capabilities is refused (swap, reboot, accounting, vhangup),
/// calls Linux removed (ENOSYS), setrlimit, restart_syscall and protection keys, after the
/// program dropped every capability, as Linux answers them; then the answers that depend on
/// how a kernel is built (I/O ports, modules, kexec, secret memory) as the sandbox gives them.
#[test]
fn c_privileged_and_removed_calls_match_native() {
    let prog = compile_c("privcalls");
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &["all"], NO_FLAGS);
    assert!(sandboxed.status.success(), "{}", describe(&sandboxed));
    let text = stdout_str(&sandboxed);
    let (common, own) = text
        .split_once("--- sandbox only ---\n")
        .unwrap_or_else(|| panic!("no sandbox-only section: {text}"));
    assert_eq!(common, stdout_str(&native), "{}", describe(&sandboxed));
    let want = "iopl 0 0\niopl 3 -1 Operation not permitted\niopl 4 -1 Invalid argument\n\
        ioperm off 0\nioperm on -1 Operation not permitted\n\
        ioperm past end -1 Invalid argument\nioperm wrap -1 Invalid argument\n\
        init_module -1 Operation not permitted\nfinit_module -1 Operation not permitted\n\
        finit_module bad flags -1 Operation not permitted\n\
        delete_module -1 Operation not permitted\nkexec_load -1 Operation not permitted\n\
        kexec_file_load -1 Operation not permitted\nmemfd_secret -1 Function not implemented\n";
    assert_eq!(own, want);
}

/// /proc/self/fd links of descriptors without a path: Linux's anon_inode names for eventfd,
/// epoll, timerfd, signalfd, inotify and pidfd; pipe:[N] and socket:[N]; a device's path.
#[test]
fn c_anonymous_fd_links_match_native() {
    let prog = compile_c("anonfd");
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(stdout_str(&sandboxed).contains("epoll: anon_inode:[eventpoll]\n"));
}
