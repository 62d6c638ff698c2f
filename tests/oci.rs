//! OCI bundles under `gvisor run --bundle DIR ID`: process, user, limits,
//! hostname, mounts (proc, sysfs, tmpfs, devpts, mqueue, cgroup, read-only
//! binds), sysctls, masked paths and the container's seccomp profile; and
//! malformed or unsupported configs give one clear error.

use std::path::{Path, PathBuf};
use std::process::Command;

use gvisor_tests::*;

/// A bundle: busybox as the root file system, `config` as config.json
/// (with @SHARE@ replaced by a host directory holding `file`).
fn make_bundle(name: &str, config: &str) -> PathBuf {
    let dir = scratch_dir().join(format!("bundle-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("rootfs/tmp")).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    for a in [
        "sh", "echo", "cat", "ls", "id", "hostname", "mkdir", "true", "mv", "rm", "ln", "grep",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("file"), "shared-data\n").unwrap();
    let config = config.replace("@SHARE@", &share.to_string_lossy());
    std::fs::write(dir.join("config.json"), config).unwrap();
    dir
}

fn run_bundle(dir: &Path, id: &str) -> std::process::Output {
    let mut c = Command::new(gvisor_bin());
    c.arg("run").arg("--bundle").arg(dir).arg(id);
    run_command(c)
}

#[test]
fn busybox_bundle_runs_with_its_config() {
    let config =
        std::fs::read_to_string(workspace_root().join("tests/bundles/busybox-config.json"))
            .unwrap();
    let dir = make_bundle("busybox", &config);
    let out = run_bundle(&dir, "c1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    for want in [
        "hello from oci",
        "uid=1000 gid=1000 groups=10,20",
        "oci-box",
        "/tmp",
        "shared-data",
        "32",
        "1024",
        "mkdir denied",
        "bind is read-only",
        "CapEff:\t0000000000000021",
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing {want:?} in:\n{text}"
        );
    }
    // The bind source is untouched.
    assert!(!dir.join("share/new").exists());
    assert_eq!(std::fs::read_dir(dir.join("share")).unwrap().count(), 1);
}

#[test]
fn bad_configs_are_one_clear_error() {
    let base = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/true"],"cwd":"/","user":{"uid":0,"gid":0}}"#;
    let cases: [(&str, String, &str); 5] = [
        ("syntax", "{".to_string(), "config.json"),
        (
            "noproc",
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#.to_string(),
            "process",
        ),
        (
            "badmount",
            format!(r#"{base},"mounts":[{{"destination":"/x","type":"nfs","source":"a"}}]}}"#),
            "mounts[0].type",
        ),
        (
            "devbind",
            format!(
                r#"{base},"mounts":[{{"destination":"/x","type":"bind","source":"/dev/null","options":["rbind"]}}]}}"#
            ),
            "mounts[0].source /dev/null: binding the host's /dev into the sandbox is refused",
        ),
        (
            "userns",
            format!(r#"{base},"linux":{{"namespaces":[{{"type":"user"}}]}}}}"#),
            "user namespaces",
        ),
    ];
    for (name, config, want) in cases {
        let dir = make_bundle(name, &config);
        let out = run_bundle(&dir, "c2");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{name}: {}", describe(&out));
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert!(!err.contains("panicked"));
    }
    let dir = make_bundle("badid", &format!("{base}}}"));
    let out = run_bundle(&dir, "bad/id");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid container id"));
}

#[test]
fn read_write_bind_writes_reach_the_host() {
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh","-c","echo written > /rw/out && cat /rw/out && mkdir /rw/d && mv /rw/out /rw/d/out2 && rm /rw/file && ln -s /etc/passwd /rw/d/link && ls /rw /rw/d"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}},
"mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs"},{"destination":"/rw","type":"bind","source":"@SHARE@","options":["rbind","rw"]}]}"#;
    let dir = make_bundle("rw", config);
    let out = run_bundle(&dir, "c4");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("written\n"));
    let share = dir.join("share");
    assert_eq!(
        std::fs::read_to_string(share.join("d/out2")).unwrap(),
        "written\n"
    );
    assert!(!share.join("file").exists(), "rm reached the host");
    assert_eq!(
        std::fs::read_link(share.join("d/link")).unwrap(),
        Path::new("/etc/passwd")
    );
}

#[test]
fn readonly_root_refuses_writes() {
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"process":{"args":["sh","-c","echo x > /tmp/f || echo read-only root"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}}}"#;
    let dir = make_bundle("ro", config);
    let out = run_bundle(&dir, "c3");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("read-only root"));
}

#[test]
fn terminal_true_gives_the_program_a_pty() {
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"terminal":true,"args":["sh","-c","tty; test -t 0 && echo stdin-is-a-tty; read line; echo got:$line"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}},
"mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs"},{"destination":"/proc","type":"proc","source":"proc"}]}"#;
    let dir = make_bundle("tty", config);
    let mut c = Command::new(gvisor_bin());
    c.arg("run").arg("--bundle").arg(&dir).arg("t1");
    c.stdin(std::process::Stdio::piped());
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text.contains("/dev/pts/0\r\n"), "{text:?}");
    assert!(text.contains("stdin-is-a-tty\r\n"), "{text:?}");
    assert!(text.contains("got:typed\r\n"), "{text:?}");
}

#[test]
fn single_file_binds_on_a_read_only_root() {
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "process":{"args":["/bin/sh","-c","cat /etc/shared; echo x > /etc/shared || echo refused; echo y > /tmp/rw; cat /tmp/rw"],"cwd":"/","user":{"uid":0,"gid":0}},
        "mounts":[
          {"destination":"/etc/shared","type":"bind","source":"@SHARE@/file","options":["rbind","ro"]},
          {"destination":"/tmp/rw","type":"bind","source":"@SHARE@/file","options":["rbind","rw"]}]}"#;
    let dir = make_bundle("filebinds", config);
    let out = run_bundle(&dir, "fb");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "shared-data\nrefused\ny\n",
        "{}",
        describe(&out)
    );
    // The writable file mount kept its write in the sandbox.
    assert_eq!(
        std::fs::read_to_string(dir.join("share/file")).unwrap(),
        "shared-data\n"
    );
}

/// A read-only bind mount is shared with the host: a file the host
/// rewrites while the sandbox runs shows its new size and content (as
/// gVisor's "shared" file access for mounts); web servers send
/// Content-Length from stat.
#[test]
fn read_only_bind_sees_host_changes() {
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh","-c","cat /ro/file; busybox stat -c %s /ro/file; i=0; while [ ! -e /ro/go ] && [ $i -lt 300 ]; do busybox sleep 0.1; i=$((i+1)); done; busybox stat -c %s /ro/file; cat /ro/file; ls /ro"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}},
"mounts":[{"destination":"/ro","type":"bind","source":"@SHARE@","options":["rbind","ro"]}]}"#;
    let dir = make_bundle("roshared", config);
    let mut c = Command::new(gvisor_bin());
    c.arg("run").arg("--bundle").arg(&dir).arg("rs1");
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    use std::io::{BufRead, Read};
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "shared-data\n12\n");
    let share = dir.join("share");
    std::fs::write(share.join("file"), "new host data, longer\n").unwrap();
    std::fs::write(share.join("go"), "").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        rest,
        "22\nnew host data, longer\nfile\ngo\n",
        "{}",
        describe(&out)
    );
}
