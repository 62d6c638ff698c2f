//! The process model and file system: shells, coreutils, dynamic binaries,
//! fork/exec/wait, pipes, signals, and writes that stay in the sandbox.
//! Each test compares the sandboxed run with the native one.

use std::path::Path;

use gvisor_tests::*;

const NO_FLAGS: &[&str] = &[];

fn script(name: &str) -> String {
    workspace_root()
        .join("tests/scripts")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ls_sort_wc_pipeline_matches_native() {
    let args = ["-c", "ls -la /usr/bin | sort | wc -l"];
    let native = run_native("/bin/sh", &args);
    let sandboxed = run_sandboxed("/bin/sh", &args, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let args = ["-c", "ls -la /usr/bin | sort | md5sum"];
    assert_same(
        &run_native("/bin/sh", &args),
        &run_sandboxed("/bin/sh", &args, NO_FLAGS),
    );
}

#[test]
fn dash_script_functions_pipes_jobs_traps() {
    let s = script("dash-features.sh");
    let native = run_native("/bin/sh", &[&s]);
    let sandboxed = run_sandboxed("/bin/sh", &[&s], NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    for want in ["got USR1", "killed status 143", "bg done 0", "HERE DOC 5"] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}

#[test]
fn coreutils_and_tar_match_native() {
    let s = script("coreutils.sh");
    assert_same(
        &run_native("/bin/sh", &[&s]),
        &run_sandboxed("/bin/sh", &[&s], NO_FLAGS),
    );
}

#[test]
fn writes_stay_inside_the_sandbox() {
    let marker = format!("/tmp/gvisor-escape-check-{}", std::process::id());
    let cmd = format!("echo inside > {marker} && cat {marker} && mkdir {marker}.d && rm /etc/hostname && echo removed");
    let out = run_sandboxed("/bin/sh", &["-c", &cmd], NO_FLAGS);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "inside\nremoved\n",
        "{}",
        describe(&out)
    );
    assert!(
        !Path::new(&marker).exists(),
        "the sandbox wrote to the host"
    );
    assert!(!Path::new(&format!("{marker}.d")).exists());
    assert!(
        Path::new("/etc/hostname").exists(),
        "the sandbox deleted a host file"
    );
}

#[test]
fn c_process_model_battery() {
    let bin = compile_c("proc");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(!out.contains("FAIL"), "{out}");
    assert!(
        out.lines().filter(|l| l.starts_with("ok ")).count() >= 20,
        "{out}"
    );
}

#[test]
fn dynamic_coreutils_match_native() {
    for (prog, args) in [
        ("/bin/ls", vec!["-l", "/etc/hostname"]),
        ("/usr/bin/sha256sum", vec!["/etc/os-release"]),
        ("/usr/bin/env", vec!["-i", "A=1", "/usr/bin/printenv", "A"]),
        ("/usr/bin/expr", vec!["6", "*", "7"]),
    ] {
        assert_same(
            &run_native(prog, &args),
            &run_sandboxed(prog, &args, NO_FLAGS),
        );
    }
}

#[test]
fn python_threads_subprocess_fork_tempfile_hashlib() {
    let s = script("python-basics.py");
    assert_same(
        &run_native("/usr/bin/python3", &[&s]),
        &run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS),
    );
}

#[test]
fn python_multiprocessing_pool() {
    let s = script("python-pool.py");
    assert_same(
        &run_native("/usr/bin/python3", &[&s]),
        &run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS),
    );
}

#[test]
fn c_threads_mutex_and_munmap() {
    let bin = compile_c_with("threads", &["-pthread"]);
    assert_same(
        &run_native(&bin, NO_FLAGS),
        &run_sandboxed(&bin, NO_FLAGS, NO_FLAGS),
    );
}

#[test]
fn c_shared_memory_semaphore_across_fork() {
    let bin = compile_c_with("shared_sem", &["-pthread"]);
    let out = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "count=60000\n",
        "{}",
        describe(&out)
    );
}

#[test]
fn procfs_describes_the_sandbox_not_the_host() {
    let cmd = "readlink /proc/self/exe; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
               grep -c . /proc/self/maps >/dev/null && echo maps-ok; ps -o pid=,comm= | head -1; \
               cat /proc/sys/kernel/ostype";
    let out = run_sandboxed("/bin/sh", &["-c", cmd], NO_FLAGS);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"/usr/bin/readlink"),
        "{}",
        describe(&out)
    );
    assert!(lines[1].starts_with("/bin/sh -c"), "{text}");
    assert_eq!(lines[2], "maps-ok");
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["1", "sh"],
        "{text}"
    );
    assert_eq!(lines[4], "Linux");
    assert!(!text.contains("gvisor"), "the host's /proc leaked: {text}");
}

#[test]
fn python_epoll_and_eventfd() {
    let s = script("python-epoll.py");
    assert_same(
        &run_native("/usr/bin/python3", &[&s]),
        &run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS),
    );
}

#[test]
fn python_alarm_and_itimer() {
    let s = script("python-alarm.py");
    assert_same(
        &run_native("/usr/bin/python3", &[&s]),
        &run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS),
    );
}

#[test]
fn c_mremap_mincore_memfd_realloc() {
    let bin = compile_c("mremap");
    assert_same(
        &run_native(&bin, NO_FLAGS),
        &run_sandboxed(&bin, NO_FLAGS, NO_FLAGS),
    );
}

#[test]
fn sysfs_cpu_lists() {
    let args = [
        "/sys/devices/system/cpu/online",
        "/sys/devices/system/cpu/possible",
    ];
    assert_same(
        &run_native("/bin/cat", &args),
        &run_sandboxed("/bin/cat", &args, NO_FLAGS),
    );
}

#[test]
fn rootfs_is_a_host_directory_left_untouched() {
    let root = scratch_dir().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    let _ = std::os::unix::fs::symlink("busybox", root.join("bin/sh"));
    std::fs::write(root.join("etc/motd"), "inside the rootfs\n").unwrap();
    let out = run_command(sandboxed_command(
        "/bin/sh",
        &[
            "-c",
            "cat /etc/motd; echo new > /etc/new; cat /etc/new; rm /etc/motd; ls /etc",
        ],
        &["--rootfs", root.to_str().unwrap()],
    ));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "inside the rootfs\nnew\nnew\n",
        "{}",
        describe(&out)
    );
    assert!(
        root.join("etc/motd").exists(),
        "the sandbox deleted a rootfs file on the host"
    );
    assert!(
        !root.join("etc/new").exists(),
        "the sandbox wrote into the host rootfs"
    );
}

#[test]
fn c_job_control_sigtimedwait_sigqueue_signalfd() {
    let bin = compile_c("jobctl");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&sandboxed.stdout).contains("FAIL"));
}

#[test]
fn c_posix_timers_timerfd_itimer() {
    let bin = compile_c("timers");
    assert_same(
        &run_native(&bin, NO_FLAGS),
        &run_sandboxed(&bin, NO_FLAGS, NO_FLAGS),
    );
}

#[test]
fn c_credentials_rules() {
    let bin = compile_c("creds");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&sandboxed.stdout).contains("FAIL"));
}

#[test]
fn c_record_ofd_and_flock_locks() {
    let bin = compile_c("locks");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&sandboxed.stdout).contains("FAIL"));
}

#[test]
fn c_pdeathsig_pipe_size_nofile_and_info() {
    let bin = compile_c("misc");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&sandboxed.stdout).contains("FAIL"));
}

#[test]
fn fifo_between_shell_jobs() {
    let cmd = "d=$(mktemp -d); mkfifo $d/f; (echo through-fifo > $d/f &); cat $d/f; \
               ls -l $d/f | cut -c1; rm -r $d";
    assert_same(
        &run_native("/bin/sh", &["-c", cmd]),
        &run_sandboxed("/bin/sh", &["-c", cmd], NO_FLAGS),
    );
}

#[test]
fn c_vfs_battery() {
    let bin = compile_c("vfs");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    let out = String::from_utf8_lossy(&sandboxed.stdout);
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.lines().count() >= 60);
}

#[test]
fn c_robust_mutex_owner_died() {
    let bin = compile_c_with("robust", &["-pthread"]);
    let out = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "owner died: 1\n",
        "{}",
        describe(&out)
    );
}

#[test]
fn python_xattrs_on_sandbox_files() {
    let s = script("python-xattr.py");
    assert_same(
        &run_native("/usr/bin/python3", &[&s]),
        &run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS),
    );
}

#[test]
fn c_splice_file_to_pipe() {
    let bin = compile_c("splice");
    assert_same(
        &run_native(&bin, NO_FLAGS),
        &run_sandboxed(&bin, NO_FLAGS, NO_FLAGS),
    );
}

#[test]
fn hostile_arguments_get_errors_not_crashes() {
    let bin = compile_c("abuse");
    let out = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("survived "));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn c_cpu_clocks_rusage_times() {
    let bin = compile_c("cpuclock");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&sandboxed.stdout).contains("FAIL"));
}

#[test]
fn relative_program_path_gives_absolute_proc_self_exe() {
    // ld.so asserts that /proc/self/exe is absolute ($ORIGIN handling).
    let out = run_command({
        let mut c = sandboxed_command("./readlink", &["/proc/self/exe"], NO_FLAGS);
        c.current_dir("/usr/bin");
        c
    });
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/usr/bin/readlink\n",
        "{}",
        describe(&out)
    );
}

#[test]
fn c_file_mappings_through_the_page_cache() {
    let bin = compile_c("mmapfile");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&native.stdout).contains("FAIL"));
}

#[test]
fn c_pseudo_terminals_line_discipline_and_ctty() {
    let bin = compile_c("pty");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&native.stdout).contains("FAIL"));
}

#[test]
fn python_pty_fork_matches_native() {
    let s = script("ptyfork.py");
    let native = run_native("/usr/bin/python3", &[&s]);
    let sandboxed = run_sandboxed("/usr/bin/python3", &[&s], NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(String::from_utf8_lossy(&sandboxed.stdout).contains("got 'typed text'"));
}

#[test]
fn c_epoll_edge_oneshot_exclusive() {
    let bin = compile_c("epoll");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&native.stdout).contains("FAIL"));
}

#[test]
fn c_signals_futex_misc_battery() {
    let bin = compile_c("sigfutex");
    let native = run_native(&bin, NO_FLAGS);
    let sandboxed = run_sandboxed(&bin, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(!String::from_utf8_lossy(&native.stdout).contains("FAIL"));
}

/// prctl(PR_SET_NAME) shows in /proc/PID/comm, stat and status at once:
/// busybox re-executes its applets through /proc/self/exe and renames the
/// child from "exe" to the applet (ps shows `{exe}` otherwise).
#[test]
fn pr_set_name_shows_in_proc() {
    let args = [
        "sh",
        "-c",
        "cat /proc/self/comm; grep Name: /proc/self/status; cut -d' ' -f2 /proc/self/stat",
    ];
    let bb = busybox();
    let bb = bb.to_str().unwrap();
    let native = run_native(bb, &args);
    let sandboxed = run_sandboxed(bb, &args, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        "cat\nName:\tgrep\n(cut)\n"
    );
}

/// /proc/PID/status's State line has Linux's letter and word: sleeping in
/// a system call, stopped by SIGSTOP, running for the reader itself.
#[test]
fn proc_status_state_words_match_native() {
    let args = [
        "-c",
        "sleep 30 & p=$!; sleep 1; grep State /proc/$p/status; cut -d' ' -f3 /proc/$p/stat; \
         kill -STOP $p; sleep 0.5; grep State /proc/$p/status; grep State /proc/self/status; \
         kill -9 $p; wait",
    ];
    let native = run_native("/bin/sh", &args);
    let sandboxed = run_sandboxed("/bin/sh", &args, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert_eq!(
        String::from_utf8_lossy(&sandboxed.stdout),
        "State:\tS (sleeping)\nS\nState:\tT (stopped)\nState:\tR (running)\n"
    );
}

/// pidfd_open, pidfd_send_signal, pidfd_getfd, waitid(P_PIDFD) (blocking and
/// non-blocking), CLONE_PIDFD through clone3, poll on pidfds (exit, reap) and
/// kcmp, as Linux answers them.
#[test]
fn c_pidfd_and_kcmp_match_native() {
    let prog = compile_c_with("pidfd", &["-pthread"]);
    let native = run_native(&prog, NO_FLAGS);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, NO_FLAGS, NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(String::from_utf8_lossy(&sandboxed.stdout).contains("waitid clone3 pidfd 0\n"));
}

/// chroot (capability, errors, absolute and relative lookups, "..", symlinks, getcwd,
/// exec and fork inside the new root, nesting) and process_vm_readv/writev between a
/// parent and its child, natively in a scratch directory and sandboxed in /tmp.
#[test]
fn c_chroot_and_process_vm_match_native() {
    let prog = compile_c("chrootvm");
    let dir = scratch_dir().join("chrootvm-scratch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let native = run_native(&prog, &[dir.to_str().expect("utf-8 path")]);
    assert!(native.status.success(), "{}", describe(&native));
    let sandboxed = run_sandboxed(&prog, &["/tmp"], NO_FLAGS);
    assert_same(&native, &sandboxed);
    assert!(String::from_utf8_lossy(&sandboxed.stdout).contains("exec inside the root\n"));
}
