//! Workspace integration tests: they run the `gvisor` binary on real programs and compare with native runs.
//!
//! Helpers shared by the test files:
//! - [`gvisor_bin`]: the `gvisor` binary under test (`$GVISOR_BIN`, else `target/debug/gvisor`).
//! - [`run_native`] / [`run_sandboxed`]: run a program on the host or under `gvisor do`, with a
//!   hard timeout so a wedged sandbox fails the test instead of hanging it.
//! - [`compile_c`]: build `tests/c/<name>.c` with `gcc -static`, once per test process.
//! - [`busybox`]: the static busybox binary from Debian's `busybox-static`.
//! - [`ElfInfo`]: a tiny ELF64 header / program-header reader.

pub mod ctrd;
pub mod e2e;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single program run (native or sandboxed) may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The workspace root (the parent of this package's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Path to the `gvisor` binary under test: `$GVISOR_BIN` if set, else `<workspace>/target/debug/gvisor`.
///
/// Panics with instructions if the binary does not exist.
pub fn gvisor_bin() -> PathBuf {
    let path = match std::env::var_os("GVISOR_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join("target/debug/gvisor"),
    };
    if !path.is_file() {
        panic!(
            "gvisor binary not found at {} — build it first: cargo build -p shim \
             (or set GVISOR_BIN to its path)",
            path.display()
        );
    }
    path
}

/// Path to the static busybox (Debian package `busybox-static` installs `/bin/busybox`).
///
/// Panics if it is missing or not a static x86-64 ELF executable.
pub fn busybox() -> PathBuf {
    let path = PathBuf::from("/bin/busybox");
    let elf = ElfInfo::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — install it: apt-get install busybox-static",
            path.display()
        )
    });
    assert!(
        elf.is_static(),
        "{} is dynamically linked (interpreter {:?}); install the busybox-static package",
        path.display(),
        elf.interp
    );
    path
}

/// Per-process scratch directory under `<workspace>/target/gvisor-tests/`.
///
/// Directories left behind by earlier test processes that are no longer running are removed.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = workspace_root().join("target/gvisor-tests");
        std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("run-"))
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        dir
    })
}

/// Compiles `tests/c/<name>.c` with `gcc -static -no-pie -O1` into the scratch directory and
/// returns the executable's path. Each program is compiled at most once per test process.
pub fn compile_c(name: &str) -> PathBuf {
    compile_c_with(name, &[])
}

/// Like [`compile_c`], with extra gcc flags (e.g. `-pthread`).
pub fn compile_c_with(name: &str, extra: &[&str]) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // Holding the lock while compiling keeps two tests from building the same file at once.
    let mut cache = cache.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(p) = cache.get(name) {
        return p.clone();
    }
    let src = workspace_root().join("tests/c").join(format!("{name}.c"));
    assert!(src.is_file(), "C source {} not found", src.display());
    let out = scratch_dir().join(name);
    let tmp = scratch_dir().join(format!("{name}.partial"));
    let result = Command::new("gcc")
        .args(["-static", "-no-pie", "-O1", "-Wall"])
        .args(extra)
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("run gcc (is it installed? apt-get install gcc libc6-dev): {e}")
        });
    assert!(
        result.status.success(),
        "gcc -static failed for {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("rename to {}: {e}", out.display()));
    cache.insert(name.to_string(), out.clone());
    out
}

/// A `Command` running `prog args` natively, with stdin from /dev/null.
pub fn native_command<S: AsRef<OsStr>>(prog: impl AsRef<OsStr>, args: &[S]) -> Command {
    let mut cmd = Command::new(prog);
    cmd.args(args);
    cmd
}

/// A `Command` running `gvisor do [extra_flags] -- prog args`.
pub fn sandboxed_command<S: AsRef<OsStr>, F: AsRef<OsStr>>(
    prog: impl AsRef<OsStr>,
    args: &[S],
    extra_flags: &[F],
) -> Command {
    let mut cmd = Command::new(gvisor_bin());
    cmd.arg("do")
        .args(extra_flags)
        .arg("--")
        .arg(prog)
        .args(args);
    cmd
}

/// Runs `prog args` on the host and collects its output (fails the test after [`RUN_TIMEOUT`]).
pub fn run_native<S: AsRef<OsStr>>(prog: impl AsRef<OsStr>, args: &[S]) -> Output {
    run_command(native_command(prog, args))
}

/// Runs `gvisor do [extra_flags] -- prog args` and collects its output (fails the test after
/// [`RUN_TIMEOUT`]).
pub fn run_sandboxed<S: AsRef<OsStr>, F: AsRef<OsStr>>(
    prog: impl AsRef<OsStr>,
    args: &[S],
    extra_flags: &[F],
) -> Output {
    run_command(sandboxed_command(prog, args, extra_flags))
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr captured, with [`RUN_TIMEOUT`].
pub fn run_command(cmd: Command) -> Output {
    run_command_timeout(cmd, RUN_TIMEOUT)
}

/// Like [`run_command`] with an explicit timeout. The child is started in its own process group;
/// on timeout the whole group is killed with SIGKILL and the test panics.
pub fn run_command_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {desc}: {e}"));
    let pgid = child.id() as libc::pid_t;

    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    for (is_stdout, pipe) in [
        (
            true,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let mut pipe = pipe.expect("piped");
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((is_stdout, buf));
        });
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => panic!("waiting for {desc}: {e}"),
        }
        if Instant::now() >= deadline {
            // SAFETY: killpg only sends a signal to the process group we created above.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            let mut partial = (Vec::new(), Vec::new());
            while let Ok((is_stdout, buf)) = rx.recv_timeout(Duration::from_secs(2)) {
                if is_stdout {
                    partial.0 = buf;
                } else {
                    partial.1 = buf;
                }
            }
            panic!(
                "timed out after {timeout:?}, killed: {desc}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&partial.0),
                String::from_utf8_lossy(&partial.1)
            );
        }
        thread::sleep(Duration::from_millis(5));
    };

    // The process exited; its pipes should close promptly unless something it started lingers.
    let mut stdout = None;
    let mut stderr = None;
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((true, buf)) => stdout = Some(buf),
            Ok((false, buf)) => stderr = Some(buf),
            Err(_) => {
                // SAFETY: see above.
                unsafe {
                    libc::killpg(pgid, libc::SIGKILL);
                }
                panic!("{desc} exited ({status}) but its stdout/stderr stayed open (leftover child processes?)");
            }
        }
    }
    Output {
        status,
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
    }
}

/// A human-readable dump of an `Output`, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The shell-style exit code: the exit status, or 128 + signal number if killed by a signal.
pub fn shell_code(status: &ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => panic!("exit status {status:?} has neither code nor signal"),
    }
}

/// Asserts the sandboxed run produced the same stdout and exit status as the native one.
pub fn assert_same(native: &Output, sandboxed: &Output) {
    assert_eq!(
        shell_code(&sandboxed.status),
        shell_code(&native.status),
        "exit status differs\n=== native ===\n{}\n=== sandboxed ===\n{}",
        describe(native),
        describe(sandboxed)
    );
    assert!(
        sandboxed.stdout == native.stdout,
        "stdout differs\n=== native ===\n{}\n=== sandboxed ===\n{}",
        describe(native),
        describe(sandboxed)
    );
}

/// Asserts that text printed by the sandbox on failure is a single line with no Rust panic or
/// backtrace in it, and returns that line.
pub fn assert_one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "expected failure\n{}",
        describe(output)
    );
    for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(
            !stderr.contains(bad),
            "stderr contains {bad:?}\n{}",
            describe(output)
        );
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line of error on stderr\n{}",
        describe(output)
    );
    lines[0].to_string()
}

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;

/// One ELF64 program header (the fields the tests use).
#[derive(Debug, Clone, Copy)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
}

/// The parts of an x86-64 ELF64 little-endian file the tests look at.
#[derive(Debug, Clone)]
pub struct ElfInfo {
    pub e_type: u16,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_phentsize: u16,
    pub e_phnum: u16,
    pub phdrs: Vec<ProgramHeader>,
    /// The PT_INTERP path, if any.
    pub interp: Option<String>,
}

impl ElfInfo {
    /// Reads and parses `path`; errors if it is not an x86-64 ELF64 little-endian file.
    pub fn read(path: &Path) -> Result<ElfInfo, String> {
        let data = std::fs::read(path).map_err(|e| format!("read: {e}"))?;
        Self::parse(&data)
    }

    /// Parses an in-memory ELF image.
    pub fn parse(data: &[u8]) -> Result<ElfInfo, String> {
        let u16_at = |off: usize| -> Result<u16, String> {
            data.get(off..off + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .ok_or_else(|| format!("truncated at {off}"))
        };
        let u32_at = |off: usize| -> Result<u32, String> {
            data.get(off..off + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("truncated at {off}"))
        };
        let u64_at = |off: usize| -> Result<u64, String> {
            data.get(off..off + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("truncated at {off}"))
        };
        if data.len() < 64 || &data[0..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        if data[4] != 2 || data[5] != 1 {
            return Err("not a 64-bit little-endian ELF".into());
        }
        if u16_at(18)? != 62 {
            return Err("not an x86-64 ELF".into());
        }
        let e_type = u16_at(16)?;
        let e_entry = u64_at(24)?;
        let e_phoff = u64_at(32)?;
        let e_phentsize = u16_at(54)?;
        let e_phnum = u16_at(56)?;
        if e_phentsize != 56 {
            return Err(format!("unexpected e_phentsize {e_phentsize}"));
        }
        let mut phdrs = Vec::new();
        let mut interp = None;
        for i in 0..e_phnum as usize {
            let base = e_phoff as usize + i * e_phentsize as usize;
            let ph = ProgramHeader {
                p_type: u32_at(base)?,
                p_offset: u64_at(base + 8)?,
                p_vaddr: u64_at(base + 16)?,
                p_filesz: u64_at(base + 32)?,
            };
            if ph.p_type == PT_INTERP {
                let size = ph.p_filesz as usize;
                let start = ph.p_offset as usize;
                let bytes = data
                    .get(start..start + size)
                    .ok_or("PT_INTERP out of range")?;
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                interp = Some(String::from_utf8_lossy(&bytes[..end]).into_owned());
            }
            phdrs.push(ph);
        }
        Ok(ElfInfo {
            e_type,
            e_entry,
            e_phoff,
            e_phentsize,
            e_phnum,
            phdrs,
            interp,
        })
    }

    /// True if there is no PT_INTERP (statically linked).
    pub fn is_static(&self) -> bool {
        self.interp.is_none()
    }

    /// For a non-PIE executable (ET_EXEC): the virtual address of the program headers in memory,
    /// i.e. what the kernel passes as AT_PHDR. Uses the PT_LOAD segment containing `e_phoff`.
    pub fn phdr_vaddr(&self) -> Option<u64> {
        self.phdrs
            .iter()
            .find(|p| {
                p.p_type == PT_LOAD
                    && p.p_offset <= self.e_phoff
                    && self.e_phoff < p.p_offset + p.p_filesz
            })
            .map(|p| p.p_vaddr - p.p_offset + self.e_phoff)
    }
}

/// Writes `len` bytes of deterministic pseudo-random data (xorshift64*, fixed seed) to `path`.
pub fn write_pseudo_random_file(path: &Path, len: usize, seed: u64) {
    let mut state = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        data.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, &data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "timed out")]
    fn timeout_kills_and_fails() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        run_command_timeout(cmd, Duration::from_millis(300));
    }

    #[test]
    fn captures_output_and_signals() {
        let out = run_command(native_command(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
        ));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(shell_code(&out.status), 3);
        let out = run_command(native_command("sh", &["-c", "kill -SEGV $$"]));
        assert_eq!(shell_code(&out.status), 139);
    }

    #[test]
    fn elf_reader() {
        let bb = ElfInfo::read(&busybox()).unwrap();
        assert!(bb.is_static());
        assert!(bb.e_entry != 0);
        assert!(ElfInfo::parse(b"#!/bin/sh\necho hi\n").is_err());
    }

    #[test]
    fn pseudo_random_is_deterministic() {
        let a = scratch_dir().join("prng-a");
        let b = scratch_dir().join("prng-b");
        write_pseudo_random_file(&a, 1000, 7);
        write_pseudo_random_file(&b, 1000, 7);
        let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != a[0]));
    }
}
