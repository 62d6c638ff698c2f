//! docs/ADDING-A-SYSCALL.md's worked example: syscall 400 `square(n)`,
//! compiled into the sentry only with the cargo feature `example-syscall`.
//!
//! The default binary (`GVISOR_BIN`) answers 400 with ENOSYS as Linux does.
//! The test builds a second gvisor with `cargo build -p shim --features
//! example-syscall` into its own target directory (target/example-syscall,
//! so the main build is untouched; the first build takes a few minutes,
//! later ones are incremental) and checks that the C program tests/c/square.c
//! gets 49 from syscall(400, 7), EOVERFLOW where n*n does not fit in 64
//! bits, that strace names the call, and that the generated syscall list
//! has the row. `GVISOR_EXAMPLE_BIN=PATH` uses an already built binary.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use gvisor_tests::*;

/// The gvisor binary with the example syscall, built once per test process.
fn example_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("GVISOR_EXAMPLE_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let root = workspace_root();
        let target = root.join("target/example-syscall");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "-p", "shim", "--bin", "gvisor"])
            .args(["--features", "example-syscall"]);
        // A cold build of the shim and its dependencies on two cores.
        let out = run_command_timeout(cmd, Duration::from_secs(1800));
        assert!(
            out.status.success(),
            "cargo build -p shim --features example-syscall:\n{}",
            describe(&out)
        );
        target.join("debug/gvisor")
    })
    .clone()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_with(bin: &PathBuf, flags: &[&str], args: &[&str]) -> Output {
    let prog = compile_c("square");
    let mut cmd = Command::new(bin);
    cmd.arg("do").args(flags).arg("--").arg(prog).args(args);
    let out = run_command(cmd);
    assert!(out.status.success(), "{}", describe(&out));
    out
}

#[test]
fn the_default_build_answers_enosys_as_linux() {
    let prog = compile_c("square");
    let native = run_native(&prog, &["7"]);
    assert_eq!(
        stdout(&native),
        "7 -> -1 errno 38\n",
        "{}",
        describe(&native)
    );
    let sandboxed = run_sandboxed(&prog, &["7"], &[] as &[&str]);
    assert_same(&native, &sandboxed);

    let out = run_sandboxed(&prog, &["7"], &["--strace"]);
    assert!(
        stderr(&out).contains("syscall_400(0x7, ") && stderr(&out).contains(" = -1 ENOSYS ("),
        "{}",
        describe(&out)
    );
    let mut cmd = Command::new(gvisor_bin());
    cmd.args(["syscalls", "--markdown"]);
    let md = stdout(&run_command(cmd));
    assert!(!md.contains("square"), "{md}");
}

#[test]
fn the_example_build_squares() {
    let bin = example_bin();
    let out = run_with(
        &bin,
        &[],
        &["7", "-3", "0", "3037000499", "3037000500", "4294967296"],
    );
    assert_eq!(
        stdout(&out),
        "7 -> 49 errno 0\n\
         -3 -> 9 errno 0\n\
         0 -> 0 errno 0\n\
         3037000499 -> 9223372030926249001 errno 0\n\
         3037000500 -> -1 errno 75\n\
         4294967296 -> -1 errno 75\n",
        "{}",
        describe(&out)
    );
}

#[test]
fn strace_names_square() {
    let bin = example_bin();
    let out = run_with(&bin, &["--strace"], &["7", "-3", "4294967296"]);
    let err = stderr(&out);
    for line in [
        "square(7) = 49",
        "square(-3) = 9",
        // The argument is a long: all 64 bits are shown.
        "square(4294967296) = -1 EOVERFLOW (",
    ] {
        assert!(err.contains(line), "no {line:?} in\n{err}");
    }
}

#[test]
fn the_generated_docs_list_square() {
    let bin = example_bin();
    let mut cmd = Command::new(&bin);
    cmd.args(["syscalls", "--markdown"]);
    let md = stdout(&run_command(cmd));
    assert!(md.contains("| 400 | square | full |  |\n"), "{md}");
    let mut cmd = Command::new(&bin);
    cmd.arg("syscalls");
    let list = stdout(&run_command(cmd));
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().take(2).eq(["400", "square"])),
        "{list}"
    );
    // The default build's list, committed as docs/SYSCALLS.md, has no row.
    let doc = std::fs::read_to_string(workspace_root().join("docs/SYSCALLS.md")).unwrap();
    assert!(!doc.contains("square"));
}

#[test]
fn the_profile_counts_square() {
    let bin = example_bin();
    let json = scratch_dir().join("square-profile.json");
    let flag = format!("--profile={}", json.display());
    run_with(&bin, &[&flag], &["7", "4294967296", "-3"]);
    let text = std::fs::read_to_string(&json).unwrap();
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = p["app"]["syscalls"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["nr"] == 400)
        .unwrap_or_else(|| panic!("no row for 400 in {text}"));
    assert_eq!(row["calls"], 3, "{row}");
    assert_eq!(row["errors"], 1, "{row}");
    assert_eq!(row["name"], "square", "{row}");
}
