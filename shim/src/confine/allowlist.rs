//! The allowlists: every host system call the sentry and the gofer may make
//! once confined, with the argument conditions and the reason for each.

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

pub(crate) fn allow(name: &'static str, nr: i64, why: &'static str) -> Allowed {
    Allowed {
        name,
        nr,
        when: Vec::new(),
        why,
    }
}

pub(crate) fn allow_if(
    name: &'static str,
    nr: i64,
    when: Vec<Vec<Cond>>,
    why: &'static str,
) -> Allowed {
    Allowed {
        name,
        nr,
        when,
        why,
    }
}

/// KVM ioctl requests the sentry issues after start-up.
pub const KVM_IOCTLS: [(&str, u64); 13] = [
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
    ("KVM_GET_VCPU_EVENTS", 0x8040_ae9f),
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

/// The sentry's host system calls once confined in network mode `mode`:
/// the base list and what the mode's network needs (moving frames through
/// the donated packet sockets for `sandbox`, the socket calls for `host`).
pub fn sentry_allowlist_for(pid: i32, mode: sentry_core::net::NetMode) -> Vec<Allowed> {
    use sentry_core::net::NetMode;
    let mut list = sentry_allowlist(pid);
    let extra = match mode {
        NetMode::None => Vec::new(),
        NetMode::Sandbox => super::net_packet::packet_calls(),
        NetMode::Host => super::net_host::hostinet_calls(),
    };
    for a in extra {
        match list.iter_mut().find(|b| b.nr == a.nr) {
            // A call the base list has with conditions gains the mode's
            // alternatives; one it allows outright stays so.
            Some(b) if !b.when.is_empty() && !a.when.is_empty() => b.when.extend(a.when),
            Some(b) if !b.when.is_empty() => b.when.clear(),
            Some(_) => {}
            None => list.push(a),
        }
    }
    list
}

/// The sentry's host system calls once confined (network mode `none`).
/// `pid` is its own pid (as it sees it): signals go only to its own
/// threads.
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
