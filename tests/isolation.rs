//! Isolation: the sentry and gofer processes are confined (namespaces,
//! pivot_root, capabilities, no_new_privs, seccomp), programs inside cannot
//! reach the host, a forbidden host syscall kills the sentry, and killing the
//! gofer or the sentry is reported without hangs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gvisor_tests::*;

/// The fields of /proc/<pid>/stat after "(comm)": state, ppid, ...; None
/// when the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z"))
}

/// The direct children of `pid` with their argv[0].
fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some(fields) = stat_fields(p) else {
            continue;
        };
        let ppid: u32 = fields.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let argv0 = cmd.split(|&b| b == 0).next().unwrap_or(&[]).to_vec();
            out.push((p, String::from_utf8_lossy(&argv0).into_owned()));
        }
    }
    out
}

/// Waits until `pid` has a child whose argv[0] is `name`.
fn wait_child(pid: u32, name: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((c, _)) = children(pid).into_iter().find(|(_, n)| n == name) {
            return c;
        }
        assert!(Instant::now() < deadline, "no {name} child of {pid}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status_field(pid: u32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in status of {pid}"))
        .trim()
        .to_string()
}

fn ns(pid: &str, kind: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill with a pid and a signal number.
    unsafe { libc::kill(pid as i32, sig) };
}

#[test]
fn sentry_and_gofer_are_confined() {
    let mut child = Command::new(gvisor_bin())
        .args(["do", "--", "/bin/sleep", "300"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let launcher = child.id();
    let sentry = wait_child(launcher, "gvisor-sentry");
    let gofer = wait_child(launcher, "gvisor-gofer");
    // Give the sentry time to finish confining itself (the program runs).
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_field(sentry, "Seccomp") != "2" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in [sentry, gofer] {
        assert_eq!(status_field(pid, "Seccomp"), "2", "seccomp filter on {pid}");
        assert_eq!(status_field(pid, "NoNewPrivs"), "1");
        for kind in ["mnt", "pid", "ipc", "uts"] {
            assert_ne!(
                ns(&pid.to_string(), kind),
                ns("self", kind),
                "{kind} namespace of {pid}"
            );
        }
    }
    assert_eq!(status_field(sentry, "CapEff"), "0000000000000000");
    assert_eq!(status_field(sentry, "CapBnd"), "0000000000000000");
    assert_eq!(
        status_field(gofer, "CapEff"),
        "000000000000001f",
        "gofer keeps CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID only"
    );
    assert_ne!(
        ns(&sentry.to_string(), "net"),
        ns("self", "net"),
        "network mode none: the sentry has an empty network namespace of its own"
    );
    assert_ne!(
        ns(&gofer.to_string(), "net"),
        ns("self", "net"),
        "the gofer has no network"
    );
    // The sentry's root is an empty directory.
    let root: Vec<_> = std::fs::read_dir(format!("/proc/{sentry}/root"))
        .unwrap()
        .collect();
    assert!(root.is_empty(), "sentry root not empty: {root:?}");
    // Every descriptor of the sentry is stdio, the gofer channel, KVM, the
    // memory file, or a file the gofer donated.
    for e in std::fs::read_dir(format!("/proc/{sentry}/fd"))
        .unwrap()
        .flatten()
    {
        let t = std::fs::read_link(e.path()).unwrap();
        let t = t.to_string_lossy();
        let n: i32 = e.file_name().to_string_lossy().parse().unwrap();
        // stdio (and its duplicates), the gofer channel, KVM, the memory
        // file, files the gofer donated.
        let ok = n <= 3
            || t.contains("kvm")
            || t.starts_with("/memfd:gvisor-memory")
            || t.starts_with("socket:")
            || t.starts_with("pipe:")
            || t.starts_with('/');
        assert!(ok, "unexpected sentry fd {n} -> {t}");
    }
    kill(launcher, libc::SIGTERM);
    let st = child.wait().unwrap();
    assert!(!st.success(), "sleep was terminated");
}

#[test]
fn forbidden_host_syscall_kills_the_sentry() {
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.args(["do", "--", "/bin/true"])
            .env("GVISOR_DEBUG_FORBIDDEN_SYSCALL", "1");
        c
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    assert!(err.contains("killed by SIGSYS"), "{err}");
    assert!(
        err.contains("forbidden host system call 0x0000000000000101 (openat)"),
        "{err}"
    );
    assert!(err.contains("seccomp allowlist"), "{err}");
}

#[test]
fn host_allowlists_are_printed() {
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.args(["syscalls", "--host"]);
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("# sentry (gvisor boot):"));
    assert!(text.contains("# gofer (gvisor gofer):"));
    assert!(
        text.contains("ioctl") && text.contains("0xae80"),
        "KVM_RUN allowed"
    );
    for forbidden in [" execve ", " openat ", " ptrace "] {
        let sentry_part = text.split("# gofer").next().unwrap();
        assert!(!sentry_part.contains(forbidden), "sentry allows{forbidden}");
    }
}

/// A root file system with just the escape program, and a host secret
/// outside it.
fn escape_setup(name: &str) -> (PathBuf, PathBuf, String) {
    let base = std::env::temp_dir().join(format!("gvisor-{name}-{}", std::process::id()));
    let rootfs = base.join("rootfs");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::copy(compile_c("escape"), rootfs.join("escape")).unwrap();
    let secret_path = base.join("secret");
    let secret = format!("secret-{}", std::process::id());
    std::fs::write(&secret_path, &secret).unwrap();
    (rootfs, secret_path, secret)
}

#[test]
fn escape_attempts_all_fail_and_the_host_is_untouched() {
    let (rootfs, secret_path, secret) = escape_setup("escape");
    let before = std::fs::metadata(&secret_path).unwrap();
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.arg("do")
            .arg("--rootfs")
            .arg(&rootfs)
            .arg("/escape")
            .arg(&secret_path)
            .arg(&secret)
            .arg(std::process::id().to_string());
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!text.contains("ESCAPED"), "{text}");
    assert!(text.contains("all blocked"), "{text}");
    assert!(text.lines().filter(|l| l.starts_with("blocked ")).count() >= 30);
    let after = std::fs::metadata(&secret_path).unwrap();
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), secret);
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    assert_eq!(
        std::fs::read_dir(&rootfs).unwrap().count(),
        1,
        "rootfs unchanged"
    );
    let _ = std::fs::remove_dir_all(rootfs.parent().unwrap());
}

#[test]
fn killing_the_gofer_gives_eio_and_is_reported() {
    let prog = compile_c("gofer_loss");
    let mut child = Command::new(gvisor_bin())
        .args(["do", "--"])
        .arg(&prog)
        .arg("/etc/hostname")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let launcher = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let gofer = wait_child(launcher, "gvisor-gofer");
    kill(gofer, libc::SIGKILL);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "sandbox hung after the gofer died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        rest.iter().any(|l| l == "open failed: errno 5"),
        "{rest:?} {err}"
    );
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("gofer") && err.contains("killed by SIGKILL"),
        "launcher did not report the gofer's death: {err}"
    );
}

#[test]
fn killing_the_sentry_is_reported_and_the_gofer_reaped() {
    let mut child = Command::new(gvisor_bin())
        .args(["do", "--", "/bin/sleep", "30"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let launcher = child.id();
    let sentry = wait_child(launcher, "gvisor-sentry");
    let gofer = wait_child(launcher, "gvisor-gofer");
    kill(sentry, libc::SIGKILL);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(125));
    assert!(err.contains("the sentry was killed by SIGKILL"), "{err}");
    assert!(
        !Path::new(&format!("/proc/{gofer}")).exists(),
        "gofer {gofer} left behind"
    );
}

#[test]
fn security_md_lists_the_current_allowlists() {
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.args(["syscalls", "--host"]);
        c
    });
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let doc = std::fs::read_to_string(workspace_root().join("docs/SECURITY.md")).unwrap();
    assert!(
        doc.contains(&listing),
        "docs/SECURITY.md is stale: paste the output of `gvisor syscalls --host` into it"
    );
}

#[test]
fn bind_mount_escapes_fail() {
    let (rootfs, secret_path, secret) = escape_setup("escape-binds");
    let base = rootfs.parent().unwrap().to_path_buf();
    let rw = base.join("rw");
    let ro = base.join("ro");
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("file"), "ro-data").unwrap();
    let config = format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"{root}"}},"process":{{"args":["/escape","{sp}","{secret}","{pid}","binds"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
"mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},{{"destination":"/rw","type":"bind","source":"{rw}","options":["rbind","rw"]}},{{"destination":"/ro","type":"bind","source":"{ro}","options":["rbind","ro"]}}]}}"#,
        root = rootfs.display(),
        sp = secret_path.display(),
        pid = std::process::id(),
        rw = rw.display(),
        ro = ro.display(),
    );
    std::fs::write(base.join("config.json"), config).unwrap();
    let out = run_command({
        let mut c = Command::new(gvisor_bin());
        c.arg("run").arg("--bundle").arg(&base).arg("escape-binds");
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!text.contains("ESCAPED"), "{text}");
    assert!(
        text.contains("blocked absolute symlink planted in a rw bind"),
        "{text}"
    );
    assert!(
        text.contains("blocked open for writing in a read-only bind"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), secret);
    assert_eq!(std::fs::read_to_string(ro.join("file")).unwrap(), "ro-data");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 1);
    // The planted symlinks are on the host (as with any runtime), but
    // pointing at what they name; the secret's mode is unchanged.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_ne!(mode, 0o777);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn killing_the_launcher_takes_the_sandbox_with_it() {
    let mut child = Command::new(gvisor_bin())
        .args(["do", "--", "/bin/sleep", "30"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let launcher = child.id();
    let sentry = wait_child(launcher, "gvisor-sentry");
    let gofer = wait_child(launcher, "gvisor-gofer");
    kill(launcher, libc::SIGKILL);
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in [sentry, gofer] {
        // Gone, or a zombie waiting for init to reap it.
        while running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!running(pid), "{pid} still running");
    }
}
