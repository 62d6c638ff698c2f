//! Host-side confinement of the sandbox's processes: spawning into new
//! namespaces, pivot_root, closing descriptors, capabilities, no_new_privs
//! and the seccomp allowlists of the sentry (`gvisor boot`) and the gofer
//! (`gvisor gofer`).
//!
//! The allowlists are data (`sentry_allowlist`, `gofer_allowlist`): the
//! filters are compiled from them with seccompiler, `gvisor syscalls --host`
//! prints them, and docs/SECURITY.md explains every entry. Anything not on a
//! list traps (SECCOMP_RET_TRAP, never executed): a SIGSYS handler prints
//! which call it was, then the process dies by SIGSYS, which the launcher
//! reports.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// A condition on one syscall argument.
#[derive(Clone, Copy, Debug)]
pub enum Cond {
    /// The argument (low 32 bits) equals the value.
    Eq(u8, u64),
    /// The argument (64 bits) equals the value.
    Eq64(u8, u64),
    /// `arg & mask == value` (low 32 bits).
    Masked(u8, u64, u64),
}

impl std::fmt::Display for Cond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cond::Eq(a, v) | Cond::Eq64(a, v) => write!(f, "arg{a} == {v:#x}"),
            Cond::Masked(a, m, v) => write!(f, "arg{a} & {m:#x} == {v:#x}"),
        }
    }
}

/// One allowed host system call: allowed when any alternative's conditions
/// all hold (no alternatives: always).
#[derive(Clone, Debug)]
pub struct Allowed {
    /// Name.
    pub name: &'static str,
    /// x86-64 number.
    pub nr: i64,
    /// Alternatives, each a conjunction of conditions.
    pub when: Vec<Vec<Cond>>,
    /// Why the process needs it.
    pub why: &'static str,
}

fn allow(name: &'static str, nr: i64, why: &'static str) -> Allowed {
    Allowed {
        name,
        nr,
        when: Vec::new(),
        why,
    }
}

fn allow_if(name: &'static str, nr: i64, when: Vec<Vec<Cond>>, why: &'static str) -> Allowed {
    Allowed {
        name,
        nr,
        when,
        why,
    }
}

/// KVM ioctl requests the sentry issues after start-up.
pub const KVM_IOCTLS: [(&str, u64); 12] = [
    ("KVM_RUN", 0xae80),
    ("KVM_CREATE_VCPU", 0xae41),
    ("KVM_GET_VCPU_MMAP_SIZE", 0xae04),
    ("KVM_GET_SUPPORTED_CPUID", 0xc008_ae05),
    ("KVM_SET_CPUID2", 0x4008_ae90),
    ("KVM_GET_SREGS", 0x8138_ae83),
    ("KVM_SET_SREGS", 0x4138_ae84),
    ("KVM_SET_MSRS", 0x4008_ae89),
    ("KVM_GET_XSAVE", 0x9000_aea4),
    ("KVM_SET_XSAVE", 0x5000_aea5),
    ("KVM_SET_XCRS", 0x4188_aea7),
    ("KVM_SET_USER_MEMORY_REGION", 0x4020_ae46),
];

const AT_EMPTY: u64 = libc::AT_EMPTY_PATH as u64;

/// The fcntl commands both processes use: descriptor and status flags, and
/// F_DUPFD_CLOEXEC.
fn fcntl_commands() -> Vec<Vec<Cond>> {
    use libc::{F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL};
    [F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC]
        .iter()
        .map(|&c| vec![Cond::Eq(1, c as u64)])
        .collect()
}

/// The sentry's host system calls once confined. `pid` is its own pid (as
/// it sees it): signals go only to its own threads.
pub fn sentry_allowlist(pid: i32) -> Vec<Allowed> {
    use libc::*;
    let mut ioctls: Vec<Vec<Cond>> = KVM_IOCTLS
        .iter()
        .map(|&(_, r)| vec![Cond::Eq(1, r)])
        .collect();
    ioctls.push(vec![Cond::Eq(1, TCGETS)]);
    ioctls.push(vec![Cond::Eq(1, TIOCGWINSZ)]);
    vec![
        allow(
            "read",
            SYS_read,
            "stdio, donated host files, the memory file",
        ),
        allow("write", SYS_write, "stdio, the debug log"),
        allow(
            "pread64",
            SYS_pread64,
            "donated host files, page-cache fills",
        ),
        allow("pwrite64", SYS_pwrite64, "files of read-write bind mounts"),
        allow(
            "ftruncate",
            SYS_ftruncate,
            "files of read-write bind mounts",
        ),
        allow(
            "fchmod",
            SYS_fchmod,
            "fchmod of files of read-write bind mounts",
        ),
        allow(
            "fchown",
            SYS_fchown,
            "fchown of files of read-write bind mounts",
        ),
        allow_if(
            "utimensat",
            SYS_utimensat,
            vec![vec![Cond::Eq64(1, 0)]],
            "futimens of files of read-write bind mounts (no path)",
        ),
        allow("lseek", SYS_lseek, "donated host files"),
        allow("readv", SYS_readv, "stdio"),
        allow("writev", SYS_writev, "stdio, the debug log"),
        allow("close", SYS_close, "descriptors it owns"),
        allow_if(
            "fcntl",
            SYS_fcntl,
            fcntl_commands(),
            "descriptor flags; F_DUPFD_CLOEXEC for page caches of host files",
        ),
        allow_if(
            "newfstatat",
            SYS_newfstatat,
            vec![vec![Cond::Eq(3, AT_EMPTY)]],
            "fstat of descriptors it holds (AT_EMPTY_PATH only)",
        ),
        allow_if(
            "statx",
            SYS_statx,
            vec![vec![Cond::Masked(2, AT_EMPTY, AT_EMPTY)]],
            "Rust's File::metadata on descriptors it holds (AT_EMPTY_PATH only)",
        ),
        allow("fstat", SYS_fstat, "fstat of descriptors it holds"),
        allow(
            "getdents64",
            SYS_getdents64,
            "directories donated by the gofer",
        ),
        allow(
            "recvmsg",
            SYS_recvmsg,
            "gofer replies and donated descriptors",
        ),
        allow("sendmsg", SYS_sendmsg, "gofer requests"),
        allow("poll", SYS_poll, "readiness of host stdio"),
        allow("ppoll", SYS_ppoll, "readiness of host stdio"),
        allow_if(
            "ioctl",
            SYS_ioctl,
            ioctls,
            "the KVM calls on its VM and vCPUs; TCGETS and TIOCGWINSZ on host stdio",
        ),
        allow("mmap", SYS_mmap, "its heap, thread stacks, vCPU run areas"),
        allow("munmap", SYS_munmap, "its heap, thread stacks"),
        allow("mprotect", SYS_mprotect, "thread stack guards"),
        allow("mremap", SYS_mremap, "heap growth"),
        allow(
            "madvise",
            SYS_madvise,
            "memory-file population, freeing heap",
        ),
        allow("brk", SYS_brk, "heap"),
        allow_if(
            "fallocate",
            SYS_fallocate,
            vec![vec![Cond::Eq(
                1,
                (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) as u64,
            )]],
            "returning freed memory-file pages (punch hole only)",
        ),
        allow("futex", SYS_futex, "locks and condition variables"),
        allow("set_robust_list", SYS_set_robust_list, "thread start-up"),
        allow("rseq", SYS_rseq, "thread start-up (glibc)"),
        allow(
            "clone3",
            SYS_clone3,
            "new host threads for tasks (flags are in memory, so not checked)",
        ),
        allow_if(
            "clone",
            SYS_clone,
            vec![vec![Cond::Masked(
                0,
                CLONE_THREAD as u64,
                CLONE_THREAD as u64,
            )]],
            "new host threads (CLONE_THREAD only)",
        ),
        allow("exit", SYS_exit, "thread exit"),
        allow("exit_group", SYS_exit_group, "sandbox exit"),
        allow("rt_sigaction", SYS_rt_sigaction, "the vCPU kick signal"),
        allow("rt_sigprocmask", SYS_rt_sigprocmask, "thread signal masks"),
        allow(
            "rt_sigreturn",
            SYS_rt_sigreturn,
            "return from the kick signal",
        ),
        allow("sigaltstack", SYS_sigaltstack, "thread start-up (Rust)"),
        allow("restart_syscall", SYS_restart_syscall, "interrupted sleeps"),
        allow_if(
            "tgkill",
            SYS_tgkill,
            vec![vec![Cond::Eq(0, pid as u64)]],
            "kicking its own vCPU threads out of KVM_RUN (own pid only)",
        ),
        allow("gettid", SYS_gettid, "thread ids for kicks and CPU clocks"),
        allow("getpid", SYS_getpid, "its own pid for tgkill"),
        allow(
            "sched_yield",
            SYS_sched_yield,
            "spin-wait back-off, sched_yield",
        ),
        allow("sched_getaffinity", SYS_sched_getaffinity, "CPU count"),
        allow(
            "clock_gettime",
            SYS_clock_gettime,
            "clocks, thread CPU clocks",
        ),
        allow("clock_getres", SYS_clock_getres, "clock_getres"),
        allow("clock_nanosleep", SYS_clock_nanosleep, "sleeps"),
        allow("nanosleep", SYS_nanosleep, "sleeps"),
        allow(
            "getrandom",
            SYS_getrandom,
            "getrandom, AT_RANDOM, /dev/urandom",
        ),
        allow("sysinfo", SYS_sysinfo, "sysinfo, /proc/meminfo"),
        allow_if(
            "prctl",
            SYS_prctl,
            vec![vec![Cond::Eq(0, PR_SET_NAME as u64)]],
            "naming its threads (PR_SET_NAME only)",
        ),
        allow_if(
            "prlimit64",
            SYS_prlimit64,
            vec![vec![Cond::Eq64(2, 0)]],
            "reading its own limits (thread start-up; no new limit)",
        ),
    ]
}

/// The gofer's host system calls once confined.
pub fn gofer_allowlist() -> Vec<Allowed> {
    use libc::*;
    let nofollow = O_NOFOLLOW as u64;
    vec![
        allow_if(
            "openat",
            SYS_openat,
            vec![vec![Cond::Masked(2, nofollow, nofollow)]],
            "opening one path component at a time (O_NOFOLLOW only)",
        ),
        allow_if(
            "newfstatat",
            SYS_newfstatat,
            vec![
                vec![Cond::Masked(
                    3,
                    AT_SYMLINK_NOFOLLOW as u64,
                    AT_SYMLINK_NOFOLLOW as u64,
                )],
                vec![Cond::Eq(3, AT_EMPTY)],
            ],
            "lstat of one component (AT_SYMLINK_NOFOLLOW) or of an open descriptor",
        ),
        allow("fstat", SYS_fstat, "fstat of open descriptors"),
        allow_if(
            "statx",
            SYS_statx,
            vec![vec![Cond::Masked(2, AT_EMPTY, AT_EMPTY)]],
            "Rust's File::metadata on open descriptors",
        ),
        allow(
            "readlinkat",
            SYS_readlinkat,
            "symlink targets (never followed)",
        ),
        allow("mkdirat", SYS_mkdirat, "mkdir on read-write mounts"),
        allow(
            "unlinkat",
            SYS_unlinkat,
            "unlink, rmdir on read-write mounts",
        ),
        allow("renameat2", SYS_renameat2, "rename on read-write mounts"),
        allow("symlinkat", SYS_symlinkat, "symlink on read-write mounts"),
        allow_if(
            "linkat",
            SYS_linkat,
            vec![vec![Cond::Eq(4, 0)]],
            "hard links on read-write mounts (never following: flags 0)",
        ),
        allow(
            "fchmod",
            SYS_fchmod,
            "chmod through an O_NOFOLLOW descriptor",
        ),
        allow(
            "fchown",
            SYS_fchown,
            "chown through an O_NOFOLLOW descriptor",
        ),
        allow(
            "ftruncate",
            SYS_ftruncate,
            "truncate through an O_NOFOLLOW descriptor",
        ),
        allow_if(
            "utimensat",
            SYS_utimensat,
            vec![vec![Cond::Eq64(1, 0)]],
            "futimens through an O_NOFOLLOW descriptor (no path)",
        ),
        allow("getdents64", SYS_getdents64, "directory listings"),
        allow(
            "fstatfs",
            SYS_fstatfs,
            "telling the host's proc and sys apart",
        ),
        allow("lseek", SYS_lseek, "directory listings"),
        allow("close", SYS_close, "descriptors it opened"),
        allow_if("fcntl", SYS_fcntl, fcntl_commands(), "descriptor flags"),
        allow("recvmsg", SYS_recvmsg, "requests from the sentry"),
        allow("sendmsg", SYS_sendmsg, "replies and donated descriptors"),
        allow("write", SYS_write, "its log on stderr"),
        allow("mmap", SYS_mmap, "heap"),
        allow("munmap", SYS_munmap, "heap"),
        allow("mprotect", SYS_mprotect, "heap"),
        allow("mremap", SYS_mremap, "heap"),
        allow("madvise", SYS_madvise, "heap"),
        allow("brk", SYS_brk, "heap"),
        allow("futex", SYS_futex, "locks, joining its threads"),
        allow("rt_sigreturn", SYS_rt_sigreturn, "signal return"),
        allow("rt_sigprocmask", SYS_rt_sigprocmask, "signal masks (std)"),
        allow(
            "sigaltstack",
            SYS_sigaltstack,
            "Rust's stack overflow handler at exit",
        ),
        allow("clock_gettime", SYS_clock_gettime, "log timestamps"),
        allow("getrandom", SYS_getrandom, "hash map seeds"),
        allow("exit", SYS_exit, "exit"),
        allow("exit_group", SYS_exit_group, "exit"),
    ]
}

/// Compiles an allowlist into a filter that traps anything else.
pub fn compile(list: &[Allowed]) -> Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for a in list {
        let mut alts = Vec::new();
        for conj in &a.when {
            let conds = conj
                .iter()
                .map(|c| match *c {
                    Cond::Eq(i, v) => {
                        SeccompCondition::new(i, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)
                    }
                    Cond::Eq64(i, v) => {
                        SeccompCondition::new(i, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, v)
                    }
                    Cond::Masked(i, m, v) => SeccompCondition::new(
                        i,
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::MaskedEq(m),
                        v,
                    ),
                })
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("seccomp condition of {}", a.name))?;
            alts.push(
                SeccompRule::new(conds).with_context(|| format!("seccomp rule of {}", a.name))?,
            );
        }
        rules.insert(a.nr, alts);
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    BpfProgram::try_from(filter).context("compiling the seccomp filter")
}

/// A syscall Linux never implements (tuxcall): the SIGSYS handler makes it
/// to be killed by a second filter (see `install_seccomp`).
const DIE_SYSCALL: i64 = libc::SYS_tuxcall;

/// Installs the allowlist on every thread of the process, plus a second
/// filter that kills the process on `DIE_SYSCALL`: a pid-namespace init
/// cannot kill itself with a signal, but the strictest action of all
/// filters wins, so the violation handler dies by SIGSYS through it.
pub fn install_seccomp(list: &[Allowed]) -> Result<()> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(DIE_SYSCALL, Vec::new());
    let die = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::KillProcess,
        TargetArch::x86_64,
    )
    .context("building the kill filter")?;
    let die = BpfProgram::try_from(die).context("compiling the kill filter")?;
    seccompiler::apply_filter_all_threads(&die).context("installing the kill filter")?;
    let prog = compile(list)?;
    seccompiler::apply_filter_all_threads(&prog).context("installing the seccomp filter")
}

fn write_stderr(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: write of a valid buffer to fd 2 (async-signal-safe).
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
}

fn hex(mut v: u64, out: &mut [u8; 18]) -> &[u8] {
    out[0] = b'0';
    out[1] = b'x';
    for i in (2..18).rev() {
        out[i] = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
    &out[..]
}

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSYS; for
    // SECCOMP_RET_TRAP its syscall number is the int at offset 24
    // (si_call_addr at 16, si_syscall at 24).
    let nr = unsafe { *(info as *const u8).add(24).cast::<i32>() };
    let name = usize::try_from(nr)
        .ok()
        .and_then(|n| sentry_core::syscalls::names::NAMES.get(n))
        .copied()
        .unwrap_or("?");
    // SAFETY: ctx is the ucontext of the interrupted thread.
    let (ip, sp) = unsafe {
        let uc = &*(ctx as *const libc::ucontext_t);
        (
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] as u64,
            uc.uc_mcontext.gregs[libc::REG_RSP as usize] as u64,
        )
    };
    let mut b1 = [0u8; 18];
    let mut b2 = [0u8; 18];
    let mut b3 = [0u8; 18];
    let nr_hex = hex(nr as u64, &mut b3);
    write_stderr(&[
        b"gvisor: forbidden host system call ",
        nr_hex,
        b" (",
        name.as_bytes(),
        b") at ip ",
        hex(ip, &mut b1),
        b" sp ",
        hex(sp, &mut b2),
        b"\n",
    ]);
    if cfg!(debug_assertions) {
        // Debug builds: enough to find the caller (offsets against the
        // printed symbols, then addr2line).
        let mut a = [0u8; 18];
        let mut c = [0u8; 18];
        write_stderr(&[
            b"  on_sigsys ",
            hex(on_sigsys as *const () as u64, &mut a),
            b" libc write ",
            hex(libc::write as *const () as u64, &mut c),
            b"\n",
        ]);
        for i in 0..48u64 {
            // SAFETY: reading the interrupted thread's own stack, above sp.
            let w = unsafe { *((sp + i * 8) as *const u64) };
            let mut d = [0u8; 18];
            write_stderr(&[b"  stack ", hex(w, &mut d), b"\n"]);
        }
    }
    // Die by SIGSYS through the kill filter, so the launcher reports it.
    // SAFETY: a raw syscall that the kill filter turns into process death.
    unsafe {
        libc::syscall(DIE_SYSCALL);
        libc::_exit(159);
    }
}

/// Settles what glibc would otherwise look up with a path once confined:
/// malloc reads /sys/devices/system/cpu/online (get_nprocs) when a new
/// thread needs an arena, and /proc/sys/vm/overcommit_memory when it shrinks
/// a thread arena's heap. With one arena neither happens. Call before any
/// thread starts.
pub fn settle_libc() {
    const M_ARENA_MAX: libc::c_int = -8;
    // SAFETY: mallopt with an integer option.
    unsafe { libc::mallopt(M_ARENA_MAX, 1) };
}

/// Makes a filter violation print which host syscall it was before the
/// process dies (the filter traps rather than kills at once).
pub fn report_violations() -> Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting point; the handler only
    // makes async-signal-safe calls and does not allocate.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        // Reset and not blocked in the handler, so its raise kills at once.
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            bail!(
                "installing the SIGSYS handler: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Prints an allowlist, one syscall per line.
pub fn describe(list: &[Allowed]) -> String {
    let mut s = String::new();
    for a in list {
        let when = if a.when.is_empty() {
            "always".to_string()
        } else {
            a.when
                .iter()
                .map(|c| {
                    c.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" && ")
                })
                .collect::<Vec<_>>()
                .join(" || ")
        };
        s.push_str(&format!(
            "{:>4} {:<18} {}  -- {}\n",
            a.nr, a.name, when, a.why
        ));
    }
    s
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{s:?} contains a NUL byte"))
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc < 0 {
        bail!("{what}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Spawns `exe` with `argv` and `envp` in new namespaces (`flags`: CLONE_NEW*),
/// with `fds` (source, target) as its only descriptors besides stdio.
/// Returns its pid.
pub fn spawn(
    exe: &CStr,
    argv: &[CString],
    envp: &[CString],
    fds: &[(RawFd, RawFd)],
    flags: libc::c_int,
) -> Result<libc::pid_t> {
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    let top = fds.iter().map(|&(_, t)| t).max().unwrap_or(2).max(2);
    // SAFETY: a fork-like clone (no CLONE_VM): the child gets a copy of the
    // address space and runs only async-signal-safe calls (dup2, fcntl,
    // close_range, execve, _exit) on data prepared above.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        bail!(
            "creating a process in new namespaces: {} (gvisor needs root or CAP_SYS_ADMIN)",
            std::io::Error::last_os_error()
        );
    }
    if pid > 0 {
        return Ok(pid as libc::pid_t);
    }
    // Child. It dies with the launcher (nothing is left behind if the
    // launcher is killed). (In a new PID namespace getppid() is 0, so a
    // launcher that died before this point cannot be detected here; the
    // window is the few instructions since clone.)
    // Then move the sources out of the way first, so that a source equal
    // to another pair's target is not clobbered.
    // SAFETY: prctl, then plain descriptor calls on our own table, then
    // exec or _exit.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        let base = 1000;
        for (i, &(src, _)) in fds.iter().enumerate() {
            if libc::dup2(src, base + i as RawFd) < 0 {
                libc::_exit(127);
            }
        }
        for (i, &(_, dst)) in fds.iter().enumerate() {
            if libc::dup2(base + i as RawFd, dst) < 0 {
                libc::_exit(127);
            }
        }
        libc::syscall(libc::SYS_close_range, (top + 1) as u32, u32::MAX, 0u32);
        libc::execve(exe.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
        libc::_exit(127);
    }
}

/// Makes every mount of this (new) mount namespace private, so nothing done
/// here propagates to the host.
pub fn make_mounts_private() -> Result<()> {
    // SAFETY: mount with NULL source/type/data and constant flags.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check(rc, "making mounts private")
}

fn mount_tmpfs(at: &CStr, opts: &CStr) -> Result<()> {
    // SAFETY: valid C strings; the result is checked.
    let rc = unsafe {
        libc::mount(
            c"none".as_ptr(),
            at.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            opts.as_ptr().cast(),
        )
    };
    check(rc, &format!("mounting a tmpfs on {}", at.to_string_lossy()))
}

/// A directory that exists on every system, to mount a private tmpfs on.
fn scratch_dir() -> Result<&'static CStr> {
    for c in [c"/tmp", c"/mnt", c"/dev", c"/run"] {
        if Path::new(c.to_str().unwrap_or("/")).is_dir() {
            return Ok(c);
        }
    }
    bail!("no directory to mount a private tmpfs on (tried /tmp, /mnt, /dev, /run)")
}

/// Moves the root of this mount namespace to `new_root` (already a mount
/// point) and detaches the old one.
fn pivot_here(new_root: &CStr) -> Result<()> {
    // SAFETY: chdir to a valid path; checked.
    check(
        unsafe { libc::chdir(new_root.as_ptr()) },
        "chdir to the new root",
    )?;
    // SAFETY: pivot_root(".", ".") stacks the old root on the new one.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) } as i32;
    if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // The old root is the initramfs (rootfs), which cannot be pivoted:
        // move the new root over it and chroot, as switch_root does.
        // SAFETY: MS_MOVE of "." onto "/"; checked.
        let rc = unsafe {
            libc::mount(
                c".".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_MOVE,
                std::ptr::null(),
            )
        };
        check(rc, "moving the new root over the initramfs")?;
        // SAFETY: chroot to the current directory; checked.
        check(unsafe { libc::chroot(c".".as_ptr()) }, "chroot")?;
        // SAFETY: chdir to "/".
        return check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /");
    }
    check(rc, "pivot_root")?;
    // SAFETY: detach the old root, now mounted on top of ".".
    check(
        unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) },
        "detaching the old root",
    )?;
    // SAFETY: chdir to "/".
    check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /")
}

/// pivot_root into an empty, read-only tmpfs: the process has no host
/// paths left.
pub fn pivot_into_empty() -> Result<()> {
    make_mounts_private()?;
    let dir = scratch_dir()?;
    mount_tmpfs(dir, c"size=4k,nr_inodes=4,mode=0555")?;
    pivot_here(dir)?;
    // SAFETY: remount the new root read-only; checked.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT
                | libc::MS_BIND
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    check(rc, "remounting the empty root read-only")
}

/// pivot_root into a small read-only tmpfs holding `/root`, a recursive
/// bind of `rootfs` (the host's /proc and /sys below it detached: the
/// sandbox has its own), and `/b1`, `/b2`, … read-only binds of `binds`.
/// Returns the directories to serve, the root first.
pub fn pivot_into(rootfs: &Path, binds: &[(std::path::PathBuf, bool)]) -> Result<Vec<String>> {
    make_mounts_private()?;
    if rootfs.starts_with("/proc") {
        bail!("refusing {} as a root file system", rootfs.display());
    }
    // The scratch mount goes on /proc, which the gofer hides anyway: it
    // cannot shadow part of the root file system (/tmp could).
    let dir = c"/proc";
    mount_tmpfs(dir, c"size=4k,nr_inodes=64,mode=0700")?;
    let mut served = Vec::new();
    // The root is never written through the gofer (the sentry's overlay
    // keeps writes): it is bound read-only like the read-only binds.
    let sources = std::iter::once((rootfs.to_path_buf(), false)).chain(binds.iter().cloned());
    for (i, (src_path, rw)) in sources.enumerate() {
        let name = if i == 0 {
            "/root".to_string()
        } else {
            format!("/b{i}")
        };
        let target_c = cstr(&format!("/proc{name}"))?;
        // SAFETY: mkdir in our private tmpfs; checked.
        check(
            unsafe { libc::mkdir(target_c.as_ptr(), 0o700) },
            "mkdir in the scratch root",
        )?;
        let src = cstr(
            src_path
                .to_str()
                .ok_or_else(|| anyhow!("path {} is not UTF-8", src_path.display()))?,
        )?;
        // SAFETY: bind mount between two valid paths; checked.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target_c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        check(rc, &format!("binding {}", src_path.display()))?;
        if !rw {
            // SAFETY: remount of the bind just made; checked.
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    target_c.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                    std::ptr::null(),
                )
            };
            check(
                rc,
                &format!("making the bind of {} read-only", src_path.display()),
            )?;
        }
        served.push(name);
    }
    pivot_here(dir)?;
    // Detach everything stacked on /proc and /sys below the served root
    // (the host's proc and sys, and the scratch copy when the rootfs is /).
    for sub in [c"/root/proc", c"/root/sys"] {
        for _ in 0..8 {
            // SAFETY: detaching a mount below the new root; EINVAL (not a
            // mount point any more) ends the loop.
            if unsafe { libc::umount2(sub.as_ptr(), libc::MNT_DETACH) } != 0 {
                break;
            }
        }
    }
    // SAFETY: remount the scratch root read-only; checked.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        )
    };
    check(rc, "remounting the gofer's root read-only")?;
    Ok(served)
}

/// Closes every descriptor not in `keep`.
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.to_vec();
    keep.sort_unstable();
    keep.dedup();
    let mut from: u32 = 0;
    for &k in &keep {
        if k < 0 {
            continue;
        }
        if (k as u32) > from {
            // SAFETY: closes a range of our own descriptors.
            unsafe { libc::syscall(libc::SYS_close_range, from, k as u32 - 1, 0u32) };
        }
        from = k as u32 + 1;
    }
    // SAFETY: as above, to the end of the table.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
}

/// Keeps only the capabilities in `keep` (numbers): the bounding set, the
/// permitted, effective and inheritable sets, and the ambient set.
pub fn drop_caps(keep: &[u32]) -> Result<()> {
    const CAP_LAST: u32 = 40;
    // SAFETY: prctl with integer arguments; checked.
    check(
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        },
        "clearing ambient capabilities",
    )
    .ok();
    for cap in 0..=CAP_LAST {
        if !keep.contains(&cap) {
            // SAFETY: prctl with integer arguments; EINVAL past the last
            // capability the kernel knows is fine.
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        }
    }
    let mut mask = [0u32; 2];
    for &c in keep {
        mask[(c / 32) as usize] |= 1 << (c % 32);
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: mask[0],
            permitted: mask[0],
            inheritable: 0,
        },
        Data {
            effective: mask[1],
            permitted: mask[1],
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a version-3 header and two data structs.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } as i32;
    check(rc, "dropping capabilities")
}

/// PR_SET_NO_NEW_PRIVS.
pub fn no_new_privs() -> Result<()> {
    // SAFETY: prctl with integer arguments; checked.
    check(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
        "setting no_new_privs",
    )
}

/// Namespaces of the sentry (the network namespace stays the pod's).
pub const SENTRY_NAMESPACES: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
/// Namespaces of a gofer (it needs no network at all).
pub const GOFER_NAMESPACES: libc::c_int = SENTRY_NAMESPACES | libc::CLONE_NEWNET;
/// Capabilities a gofer keeps: reading and writing any file of its mounts
/// as the sentry's permission checks allow (CAP_DAC_OVERRIDE,
/// CAP_DAC_READ_SEARCH), and setting owners, modes and times on them for
/// the sandbox's users (CAP_CHOWN, CAP_FOWNER, CAP_FSETID).
pub const GOFER_CAPS: [u32; 5] = [0, 1, 2, 3, 4];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_compile_and_exclude_dangerous_calls() {
        let s = sentry_allowlist(1);
        let g = gofer_allowlist();
        compile(&s).unwrap();
        compile(&g).unwrap();
        for forbidden in [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_kill,
        ] {
            assert!(
                s.iter().all(|a| a.nr != forbidden),
                "sentry allows {forbidden}"
            );
        }
        for forbidden in [
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_socket,
            libc::SYS_mount,
            libc::SYS_clone,
        ] {
            assert!(
                g.iter().all(|a| a.nr != forbidden),
                "gofer allows {forbidden}"
            );
        }
        let text = describe(&s);
        assert!(text.contains("KVM") || text.contains("0xae80"));
        assert_eq!(text.lines().count(), s.len());
    }
}
