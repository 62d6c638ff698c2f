//! Seccomp filters installed by sandboxed programs themselves (seccomp(2),
//! prctl(PR_SET_SECCOMP)), compared with Linux: the API's checks, bad
//! filters, every action, precedence, strict mode, TSYNC, inheritance across
//! fork and exec, /proc/self/status; and the program's filters stacked on
//! the container's OCI profile.

use std::process::{Command, Output};

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

fn stdout_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// tests/c/seccomp_filter.c natively (as root) and sandboxed: the same output
/// and status. The EACCES case drops CAP_SYS_ADMIN with capset in a child.
#[test]
fn c_seccomp_filters_match_native() {
    let prog = compile_c_with("seccomp_filter", &["-pthread"]);
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let text = stdout_str(&native);
    if !text.contains("start: Seccomp:\t0\n") {
        eprintln!("the test runs under a seccomp filter natively; comparison skipped");
        return;
    }
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let text = stdout_str(&sandboxed);
    for want in [
        "filter without NNP = -1 EACCES\n",
        "getppid: ret 4242, handler ran 1: signo 31 code 1 errno 66 syscall 110 arch 0xc000003e call_addr==rip 1 rax 110",
        "== kill thread (of many)\nmain thread survived its thread's KILL_THREAD\n-> exited 0\n",
        "== strict kill\nseccomp strict = 0\n-> killed by signal 9\n",
        "4096-instruction filters attached: 7, then ENOMEM\n",
        "thread 0: nnp before 0 after 1, mode 2, getppid -1 EPERM\n",
        "after exec status: Seccomp_filters:\t3\n",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
}

/// Under a container's OCI profile the program's own filters stack on it,
/// as on a runtime that installs the profile as the first filter.
#[test]
fn own_filters_stack_on_the_oci_profile() {
    let prog = compile_c_with("seccomp_filter", &["-pthread"]);
    let dir = scratch_dir().join("bundle-seccomp-filter");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
    std::fs::create_dir_all(dir.join("rootfs/proc")).unwrap();
    std::fs::copy(&prog, dir.join("rootfs/bin/seccomp_filter")).unwrap();
    let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
"process":{"args":["/bin/seccomp_filter","oci"],"cwd":"/","user":{"uid":0,"gid":0},"noNewPrivileges":true},
"mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
{"names":["getpgrp"],"action":"SCMP_ACT_ERRNO","errnoRet":2}]}}}"#;
    std::fs::write(dir.join("config.json"), config).unwrap();
    let mut c = Command::new(gvisor_bin());
    c.arg("run").arg("--bundle").arg(&dir).arg("seccomp-oci");
    let out = run_command(c);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout_str(&out),
        "PR_GET_SECCOMP under the profile = 2\n\
         oci: NoNewPrivs:\t1\n\
         oci: Seccomp:\t2\n\
         oci: Seccomp_filters:\t1\n\
         getppid (profile) = -1 EPERM\n\
         strict under a profile = -1 EINVAL\n\
         own getppid ERRNO 22 = 0\n\
         getppid (newest of equal ones) = -1 EINVAL\n\
         own getpgrp LOG = 0\n\
         getpgrp (profile's ERRNO beats LOG) = -1 errno 2\n\
         own getsid ERRNO 9 = 0\n\
         getsid = -1 errno 9\n\
         oci: NoNewPrivs:\t1\n\
         oci: Seccomp:\t2\n\
         oci: Seccomp_filters:\t4\n",
        "{}",
        describe(&out)
    );
}

/// man-db sandboxes its formatting pipeline with libseccomp (probing the
/// flags, then a filter under no_new_privs): the page still formats.
#[test]
fn man_db_formats_a_page_under_its_own_filter() {
    let man = std::path::Path::new("/usr/bin/man");
    if !man.exists() || std::env::var_os("MAN_DISABLE_SECCOMP").is_some() {
        eprintln!("man-db not installed (or its sandbox disabled); skipped");
        return;
    }
    let page = scratch_dir().join("seccomp-hello.1");
    std::fs::write(
        &page,
        ".TH HELLO 1\n.SH NAME\nhello \\- say hello\n.SH DESCRIPTION\nHello from a man page.\n",
    )
    .unwrap();
    let mut c = Command::new(gvisor_bin());
    c.args([
        "do",
        "--strace",
        "--",
        "/usr/bin/env",
        "MANPAGER=cat",
        "/usr/bin/man",
        "-l",
    ])
    .arg(&page);
    let out = run_command(c);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout_str(&out).contains("Hello from a man page."),
        "{}",
        describe(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains(" seccomp(1, 0x0, ") && l.contains(") = 0 ")),
        "no filter installed:\n{err}"
    );
}
