//! `--strace`: one line per system call, runsc-style.
//!
//! `[pid:tid] comm E name(inputs)` when a call that can block starts, and
//! `[pid:tid] comm X name(args) = result (elapsed)` when a call returns
//! (`[ctr pid:tid]` when the task belongs to a named container). Arguments
//! are decoded by the kinds the table gives them ([`Arg`]): flags and
//! constants by name, strings and buffers escaped and cut at the log size,
//! structs read from app memory. A pointer that cannot be read is shown as
//! its address; nothing here fails the call. Every line is bounded: strings
//! and buffers by the log size, arrays by [`MAX_ELEMS`] entries.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{lookup, name_of, Arg, Args, Flags, Syscall};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

/// Array entries shown (argv, envp, pollfds, iovecs…) before "...".
pub const MAX_ELEMS: usize = 64;
pub use crate::kernel::strace_config::DEFAULT_LOG_SIZE;
/// The largest `--strace-log-size` accepted.
pub const MAX_LOG_SIZE: usize = 1 << 20;

pub use crate::kernel::strace_config::StraceConfig;

/// A bad `--strace-syscalls` or `--strace-log-size`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StraceConfigError {
    /// A name that is no x86-64 system call.
    #[error("--strace-syscalls: unknown system call {0:?}")]
    UnknownSyscall(String),
    /// An empty list.
    #[error("--strace-syscalls: empty list")]
    Empty,
    /// A log size out of range.
    #[error("--strace-log-size: {0} is not between 1 and {MAX_LOG_SIZE}")]
    LogSize(usize),
}

impl StraceConfig {
    /// A config from the flags' values: `list` is comma-separated names.
    pub fn from_flags(
        list: Option<&str>,
        log_size: Option<usize>,
    ) -> Result<StraceConfig, StraceConfigError> {
        let syscalls = list.map(parse_syscalls).transpose()?;
        let log_size = log_size.unwrap_or(DEFAULT_LOG_SIZE);
        if log_size == 0 || log_size > MAX_LOG_SIZE {
            return Err(StraceConfigError::LogSize(log_size));
        }
        Ok(StraceConfig { syscalls, log_size })
    }

    /// Whether calls of `nr` are traced.
    pub fn traces(&self, nr: u64) -> bool {
        self.syscalls.as_ref().is_none_or(|s| s.contains(&nr))
    }
}

/// The numbers of the comma-separated syscall names in `list`.
pub fn parse_syscalls(list: &str) -> Result<BTreeSet<u64>, StraceConfigError> {
    let mut out = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let nr = super::NAMES
            .iter()
            .position(|n| !n.is_empty() && *n == name)
            .or_else(|| super::TABLE.iter().find(|s| s.name == name).map(|s| s.nr))
            .ok_or_else(|| StraceConfigError::UnknownSyscall(name.to_string()))?;
        out.insert(nr as u64);
    }
    if out.is_empty() {
        return Err(StraceConfigError::Empty);
    }
    Ok(out)
}

/// Calls that can block: traced with an `E` line when they start.
const BLOCKING: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "accept",
    "accept4",
    "connect",
    "wait4",
    "waitid",
    "futex",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "nanosleep",
    "clock_nanosleep",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "pause",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "flock",
    "msgrcv",
    "msgsnd",
    "semop",
    "semtimedop",
    "mq_timedreceive",
    "mq_timedsend",
    "sendfile",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "open",
    "openat",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "vfork",
];

/// Whether `name` gets an `E` line.
pub fn is_blocking(name: &str) -> bool {
    BLOCKING.contains(&name)
}

/// A call being traced: what its `X` line needs.
pub struct Pending {
    nr: u64,
    entry: Option<&'static Syscall>,
    args: Args,
    /// The arguments as read when the call started (inputs decoded).
    inputs: Vec<Option<String>>,
    started: Instant,
}

/// Called before the handler runs: None when the call is not traced;
/// writes the `E` line of a blocking call.
pub fn enter(task: &mut Task, nr: u64, args: &Args) -> Option<Pending> {
    if !task.kernel.tracing() || !task.kernel.config.strace.traces(nr) {
        return None;
    }
    let entry = lookup(nr);
    let size = task.kernel.config.strace.log_size;
    let inputs: Vec<Option<String>> = match entry {
        Some(s) => (0..s.args.len())
            .map(|i| render_in(task, s.args, i, args, size))
            .collect(),
        None => Vec::new(),
    };
    let p = Pending {
        nr,
        entry,
        args: *args,
        inputs,
        started: Instant::now(),
    };
    if entry.is_some_and(|s| is_blocking(s.name)) {
        let call = call_text(&p, p.inputs.iter().map(|s| s.as_deref()));
        let line = format!("{} E {call}", prefix(task));
        task.kernel.strace_line(&line);
    }
    Some(p)
}

/// Called after the handler: writes the `X` line.
pub fn exit(task: &mut Task, p: Pending, res: &SysResult<u64>) {
    let elapsed = p.started.elapsed();
    let size = task.kernel.config.strace.log_size;
    let outs: Vec<Option<String>> = match p.entry {
        Some(s) => (0..s.args.len())
            .map(|i| match p.inputs.get(i) {
                Some(Some(v)) if !is_output(s.args[i]) => Some(v.clone()),
                Some(None) => None,
                _ => render_out(task, s.args, i, &p.args, res, size),
            })
            .collect(),
        None => Vec::new(),
    };
    let call = call_text(&p, outs.iter().map(|s| s.as_deref()));
    let ret_addr = p.entry.is_some_and(|s| s.flags.contains(Flags::RET_ADDR));
    // exit and exit_group do not return to the app.
    let result = if p
        .entry
        .is_some_and(|s| matches!(s.name, "exit" | "exit_group"))
    {
        "?".to_string()
    } else {
        format_result(res, ret_addr)
    };
    let line = format!(
        "{} X {call} = {result} ({})",
        prefix(task),
        format_elapsed(elapsed)
    );
    task.kernel.strace_line(&line);
}

fn prefix(task: &Task) -> String {
    let comm = &task.comm;
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    let comm = String::from_utf8_lossy(&comm[..end]);
    let ctr = &task.handle.tg.container.id;
    if ctr.is_empty() {
        format!("[{}:{}] {comm}", task.pid, task.tid)
    } else {
        format!("[{ctr} {}:{}] {comm}", task.pid, task.tid)
    }
}

fn call_text<'a>(p: &Pending, parts: impl Iterator<Item = Option<&'a str>>) -> String {
    match p.entry {
        Some(s) => {
            let v: Vec<&str> = parts.flatten().collect();
            format!("{}({})", s.name, v.join(", "))
        }
        None => {
            let name = name_of(p.nr);
            let a = &p.args;
            let name = if name.is_empty() {
                format!("syscall_{}", p.nr)
            } else {
                name.to_string()
            };
            format!(
                "{name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
                a[0], a[1], a[2], a[3], a[4], a[5]
            )
        }
    }
}

/// The result as strace shows it.
pub fn format_result(res: &SysResult<u64>, ret_addr: bool) -> String {
    match res {
        Ok(v) if ret_addr => format!("{v:#x}"),
        Ok(v) => format!("{}", *v as i64),
        Err(e) if (512..=516).contains(&e.0) => {
            let name = match e.0 {
                512 => "ERESTARTSYS",
                513 => "ERESTARTNOINTR",
                514 => "ERESTARTNOHAND",
                515 => "ENOIOCTLCMD",
                _ => "ERESTART_RESTARTBLOCK",
            };
            format!("? {name} (To be restarted)")
        }
        Err(e) => format!("-1 {} ({})", e.name(), errno_text(*e)),
    }
}

/// Go-style duration, as runsc prints it ("12.345µs", "1.5ms").
pub fn format_elapsed(d: Duration) -> String {
    format!("{d:?}")
}

/// The C library's text of an errno (the common ones).
pub fn errno_text(e: Errno) -> &'static str {
    match e.0 {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        3 => "No such process",
        4 => "Interrupted system call",
        5 => "Input/output error",
        6 => "No such device or address",
        7 => "Argument list too long",
        8 => "Exec format error",
        9 => "Bad file descriptor",
        10 => "No child processes",
        11 => "Resource temporarily unavailable",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        14 => "Bad address",
        15 => "Block device required",
        16 => "Device or resource busy",
        17 => "File exists",
        18 => "Invalid cross-device link",
        19 => "No such device",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        23 => "Too many open files in system",
        24 => "Too many open files",
        25 => "Inappropriate ioctl for device",
        26 => "Text file busy",
        27 => "File too large",
        28 => "No space left on device",
        29 => "Illegal seek",
        30 => "Read-only file system",
        31 => "Too many links",
        32 => "Broken pipe",
        33 => "Numerical argument out of domain",
        34 => "Numerical result out of range",
        35 => "Resource deadlock avoided",
        36 => "File name too long",
        37 => "No locks available",
        38 => "Function not implemented",
        39 => "Directory not empty",
        40 => "Too many levels of symbolic links",
        61 => "No data available",
        62 => "Timer expired",
        75 => "Value too large for defined data type",
        84 => "Invalid or incomplete multibyte or wide character",
        88 => "Socket operation on non-socket",
        89 => "Destination address required",
        90 => "Message too long",
        91 => "Protocol wrong type for socket",
        92 => "Protocol not available",
        93 => "Protocol not supported",
        94 => "Socket type not supported",
        95 => "Operation not supported",
        97 => "Address family not supported by protocol",
        98 => "Address already in use",
        99 => "Cannot assign requested address",
        100 => "Network is down",
        101 => "Network is unreachable",
        103 => "Software caused connection abort",
        104 => "Connection reset by peer",
        105 => "No buffer space available",
        106 => "Transport endpoint is already connected",
        107 => "Transport endpoint is not connected",
        110 => "Connection timed out",
        111 => "Connection refused",
        113 => "No route to host",
        114 => "Operation already in progress",
        115 => "Operation now in progress",
        _ => "Unknown error",
    }
}

/// Escapes `bytes` as a C string literal; "..." after it when `more`.
pub fn escape(bytes: &[u8], more: bool) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

// ---- reading app memory (never failing the call) ----

fn read_bytes(task: &Task, addr: u64, len: usize) -> Option<Vec<u8>> {
    if addr == 0 {
        return None;
    }
    let mut b = vec![0u8; len];
    task.mm().copy_in(addr, &mut b).ok()?;
    Some(b)
}

fn read_u64(task: &Task, addr: u64) -> Option<u64> {
    let b = read_bytes(task, addr, 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A NUL-terminated string of at most `max` bytes: (bytes, cut short).
fn read_string(task: &Task, addr: u64, max: usize) -> Option<(Vec<u8>, bool)> {
    if addr == 0 {
        return None;
    }
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        let room = (max + 1).saturating_sub(out.len());
        let chunk = ((PAGE - at % PAGE) as usize).min(room);
        let mut buf = vec![0u8; chunk];
        if task.mm().copy_in(at, &mut buf).is_err() {
            // Unreadable: the address alone when nothing was read.
            return if out.is_empty() {
                None
            } else {
                Some((out, true))
            };
        }
        if let Some(i) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..i]);
            return Some((out, false));
        }
        out.extend_from_slice(&buf);
        if out.len() > max {
            out.truncate(max);
            return Some((out, true));
        }
        at = at.checked_add(chunk as u64)?;
    }
}

fn string_arg(task: &Task, addr: u64, max: usize) -> String {
    match read_string(task, addr, max) {
        Some((b, more)) => escape(&b, more),
        None => addr_text(addr),
    }
}

fn buf_arg(task: &Task, addr: u64, len: u64, max: usize) -> String {
    let n = usize::try_from(len).unwrap_or(usize::MAX).min(max);
    match read_bytes(task, addr, n) {
        Some(b) => escape(&b, len > n as u64),
        None => addr_text(addr),
    }
}

fn addr_text(addr: u64) -> String {
    if addr == 0 {
        "NULL".into()
    } else {
        format!("{addr:#x}")
    }
}

/// A NULL-terminated array of string pointers (argv, envp).
fn string_array(task: &Task, addr: u64, max: usize) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let mut parts = Vec::new();
    let mut more = false;
    for i in 0..=MAX_ELEMS as u64 {
        let Some(p) = i.checked_mul(8).and_then(|o| addr.checked_add(o)) else {
            break;
        };
        let Some(ptr) = read_u64(task, p) else {
            if i == 0 {
                return addr_text(addr);
            }
            parts.push(format!("{p:#x}"));
            break;
        };
        if ptr == 0 {
            break;
        }
        if i == MAX_ELEMS as u64 {
            more = true;
            break;
        }
        parts.push(string_arg(task, ptr, max));
    }
    format!("[{}{}]", parts.join(", "), if more { ", ..." } else { "" })
}

// ---- symbolic constants ----

fn flags(v: u64, table: &[(u64, &str)]) -> String {
    if v == 0 {
        return "0".into();
    }
    let mut names = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if bit != 0 && rest & bit == bit {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 || names.is_empty() {
        names.push(format!("{rest:#x}"));
    }
    names.join("|")
}

fn constant(v: u64, table: &[(u64, &str)]) -> String {
    table
        .iter()
        .find(|&&(c, _)| c == v)
        .map_or_else(|| format!("{}", v as i64), |&(_, n)| n.to_string())
}

const O_CREAT: u64 = 0o100;
const O_TMPFILE: u64 = 0o20200000;

const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
];

/// open(2) flags: the access mode, then the flags.
pub fn open_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let acc = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = v & !3;
    if rest == 0 {
        acc.to_string()
    } else {
        format!("{acc}|{}", flags(rest, OPEN_FLAGS))
    }
}

/// A mode in octal ("0644").
pub fn mode(v: u64) -> String {
    format!("0{:03o}", v & 0o7777_7777)
}

fn file_mode(m: u64) -> String {
    let t = match m & 0o170000 {
        0o140000 => "S_IFSOCK",
        0o120000 => "S_IFLNK",
        0o100000 => "S_IFREG",
        0o060000 => "S_IFBLK",
        0o040000 => "S_IFDIR",
        0o020000 => "S_IFCHR",
        0o010000 => "S_IFIFO",
        _ => "",
    };
    if t.is_empty() {
        mode(m)
    } else {
        format!("{t}|{}", mode(m & 0o7777))
    }
}

/// mmap/mprotect protection.
pub fn prot(v: u64) -> String {
    if v == 0 {
        return "PROT_NONE".into();
    }
    flags(
        v,
        &[
            (1, "PROT_READ"),
            (2, "PROT_WRITE"),
            (4, "PROT_EXEC"),
            (0x0100_0000, "PROT_GROWSDOWN"),
            (0x0200_0000, "PROT_GROWSUP"),
        ],
    )
}

/// mmap flags.
pub fn mmap_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let kind = match v & 3 {
        1 => "MAP_SHARED",
        2 => "MAP_PRIVATE",
        3 => "MAP_SHARED_VALIDATE",
        _ => "0",
    };
    let rest = v & !3;
    if rest == 0 {
        return kind.to_string();
    }
    let f = flags(
        rest,
        &[
            (0x10, "MAP_FIXED"),
            (0x20, "MAP_ANONYMOUS"),
            (0x40, "MAP_32BIT"),
            (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"),
            (0x1000, "MAP_EXECUTABLE"),
            (0x2000, "MAP_LOCKED"),
            (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"),
            (0x10000, "MAP_NONBLOCK"),
            (0x20000, "MAP_STACK"),
            (0x40000, "MAP_HUGETLB"),
            (0x80000, "MAP_SYNC"),
            (0x100000, "MAP_FIXED_NOREPLACE"),
        ],
    );
    format!("{kind}|{f}")
}

/// A signal number by name.
pub fn signal(v: u64) -> String {
    let n = v as u32 as i32;
    match n {
        1..=64 => crate::kernel::signal::Signal(n as u32).name(),
        _ => n.to_string(),
    }
}

/// A signal set ("[SIGUSR1 SIGCHLD]", "~[SIGKILL]" when most are set).
pub fn sigset(v: u64) -> String {
    let (neg, bits) = if v.count_ones() > 32 {
        ("~", !v)
    } else {
        ("", v)
    };
    let names: Vec<String> = (0..64)
        .filter(|i| bits & (1u64 << i) != 0)
        .map(|i| signal(i + 1))
        .collect();
    format!("{neg}[{}]", names.join(" "))
}

const SA_FLAGS: &[(u64, &str)] = &[
    (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"),
    (4, "SA_SIGINFO"),
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
];

fn sigaction(task: &Task, addr: u64) -> String {
    let Some(b) = read_bytes(task, addr, 32) else {
        return addr_text(addr);
    };
    let handler = match le_u64(&b, 0) {
        0 => "SIG_DFL".to_string(),
        1 => "SIG_IGN".to_string(),
        h => format!("{h:#x}"),
    };
    format!(
        "{{sa_handler={handler}, sa_mask={}, sa_flags={}, sa_restorer={:#x}}}",
        sigset(le_u64(&b, 24)),
        flags(le_u64(&b, 8), SA_FLAGS),
        le_u64(&b, 16)
    )
}

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

/// clone flags with the exit signal in the low byte.
pub fn clone_flags(v: u64) -> String {
    let sig = v & 0xff;
    let rest = v & !0xff;
    let mut parts = Vec::new();
    if rest != 0 {
        parts.push(flags(rest, CLONE_FLAGS));
    }
    if sig != 0 || parts.is_empty() {
        parts.push(signal(sig));
    }
    parts.join("|")
}

fn clone_args(task: &Task, addr: u64) -> String {
    let Some(b) = read_bytes(task, addr, 64) else {
        return addr_text(addr);
    };
    let f = le_u64(&b, 0);
    format!(
        "{{flags={}, exit_signal={}, stack={:#x}, stack_size={:#x}, tls={:#x}}}",
        if f == 0 {
            "0".into()
        } else {
            flags(f, CLONE_FLAGS)
        },
        signal(le_u64(&b, 32)),
        le_u64(&b, 40),
        le_u64(&b, 48),
        le_u64(&b, 56)
    )
}

const FAMILIES: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
];

/// A socket type with SOCK_NONBLOCK/SOCK_CLOEXEC.
pub fn sock_type(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let t = constant(
        v & 0xf,
        &[
            (1, "SOCK_STREAM"),
            (2, "SOCK_DGRAM"),
            (3, "SOCK_RAW"),
            (4, "SOCK_RDM"),
            (5, "SOCK_SEQPACKET"),
            (10, "SOCK_PACKET"),
        ],
    );
    let rest = v & !0xf;
    if rest == 0 {
        t
    } else {
        format!(
            "{t}|{}",
            flags(
                rest,
                &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")]
            )
        )
    }
}

const IPPROTOS: &[(u64, &str)] = &[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (41, "IPPROTO_IPV6"),
    (58, "IPPROTO_ICMPV6"),
    (255, "IPPROTO_RAW"),
];

fn sock_proto(family: u64, v: u64) -> String {
    let v = v & 0xffff_ffff;
    match family & 0xffff_ffff {
        2 | 10 => constant(v, IPPROTOS),
        16 => constant(
            v,
            &[
                (0, "NETLINK_ROUTE"),
                (4, "NETLINK_SOCK_DIAG"),
                (9, "NETLINK_AUDIT"),
                (15, "NETLINK_KOBJECT_UEVENT"),
                (16, "NETLINK_GENERIC"),
            ],
        ),
        _ => format!("{}", v as i32),
    }
}

fn sock_level(v: u64) -> String {
    match v & 0xffff_ffff {
        1 => "SOL_SOCKET".into(),
        270 => "SOL_NETLINK".into(),
        v => constant(v, IPPROTOS),
    }
}

fn sock_opt(level: u64, v: u64) -> String {
    let v = v & 0xffff_ffff;
    let table: &[(u64, &str)] = match level & 0xffff_ffff {
        1 => &[
            (1, "SO_DEBUG"),
            (2, "SO_REUSEADDR"),
            (3, "SO_TYPE"),
            (4, "SO_ERROR"),
            (5, "SO_DONTROUTE"),
            (6, "SO_BROADCAST"),
            (7, "SO_SNDBUF"),
            (8, "SO_RCVBUF"),
            (9, "SO_KEEPALIVE"),
            (10, "SO_OOBINLINE"),
            (11, "SO_NO_CHECK"),
            (12, "SO_PRIORITY"),
            (13, "SO_LINGER"),
            (14, "SO_BSDCOMPAT"),
            (15, "SO_REUSEPORT"),
            (16, "SO_PASSCRED"),
            (17, "SO_PEERCRED"),
            (18, "SO_RCVLOWAT"),
            (19, "SO_SNDLOWAT"),
            (20, "SO_RCVTIMEO"),
            (21, "SO_SNDTIMEO"),
            (25, "SO_BINDTODEVICE"),
            (26, "SO_ATTACH_FILTER"),
            (29, "SO_TIMESTAMP"),
            (30, "SO_ACCEPTCONN"),
            (31, "SO_PEERSEC"),
            (32, "SO_SNDBUFFORCE"),
            (33, "SO_RCVBUFFORCE"),
            (34, "SO_PASSSEC"),
            (36, "SO_MARK"),
            (38, "SO_PROTOCOL"),
            (39, "SO_DOMAIN"),
        ],
        6 => &[
            (1, "TCP_NODELAY"),
            (2, "TCP_MAXSEG"),
            (3, "TCP_CORK"),
            (4, "TCP_KEEPIDLE"),
            (5, "TCP_KEEPINTVL"),
            (6, "TCP_KEEPCNT"),
            (7, "TCP_SYNCNT"),
            (8, "TCP_LINGER2"),
            (9, "TCP_DEFER_ACCEPT"),
            (10, "TCP_WINDOW_CLAMP"),
            (11, "TCP_INFO"),
            (12, "TCP_QUICKACK"),
            (13, "TCP_CONGESTION"),
            (18, "TCP_USER_TIMEOUT"),
            (23, "TCP_FASTOPEN"),
        ],
        0 => &[
            (1, "IP_TOS"),
            (2, "IP_TTL"),
            (3, "IP_HDRINCL"),
            (4, "IP_OPTIONS"),
            (8, "IP_PKTINFO"),
            (10, "IP_MTU_DISCOVER"),
            (11, "IP_RECVERR"),
            (12, "IP_RECVTTL"),
            (13, "IP_RECVTOS"),
            (32, "IP_MULTICAST_IF"),
            (33, "IP_MULTICAST_TTL"),
            (34, "IP_MULTICAST_LOOP"),
            (35, "IP_ADD_MEMBERSHIP"),
            (36, "IP_DROP_MEMBERSHIP"),
        ],
        41 => &[
            (16, "IPV6_UNICAST_HOPS"),
            (18, "IPV6_MULTICAST_HOPS"),
            (25, "IPV6_RECVERR"),
            (26, "IPV6_V6ONLY"),
            (49, "IPV6_RECVPKTINFO"),
            (67, "IPV6_TCLASS"),
        ],
        _ => &[],
    };
    constant(v, table)
}

/// An ioctl request by name.
pub fn ioctl_request(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let name = match v {
        0x5401 => "TCGETS",
        0x5402 => "TCSETS",
        0x5403 => "TCSETSW",
        0x5404 => "TCSETSF",
        0x540B => "TCFLSH",
        0x540E => "TIOCSCTTY",
        0x540F => "TIOCGPGRP",
        0x5410 => "TIOCSPGRP",
        0x5411 => "TIOCOUTQ",
        0x5413 => "TIOCGWINSZ",
        0x5414 => "TIOCSWINSZ",
        0x541B => "FIONREAD",
        0x5421 => "FIONBIO",
        0x5422 => "TIOCNOTTY",
        0x5429 => "TIOCGSID",
        0x5441 => "TIOCGPTPEER",
        0x5450 => "FIONCLEX",
        0x5451 => "FIOCLEX",
        0x5452 => "FIOASYNC",
        0x8004_5430 => "TIOCGPTN",
        0x4004_5431 => "TIOCSPTLCK",
        0x8004_5439 => "TIOCGPTLCK",
        0x8910 => "SIOCGIFNAME",
        0x8912 => "SIOCGIFCONF",
        0x8913 => "SIOCGIFFLAGS",
        0x8914 => "SIOCSIFFLAGS",
        0x8915 => "SIOCGIFADDR",
        0x8917 => "SIOCGIFDSTADDR",
        0x8919 => "SIOCGIFBRDADDR",
        0x891b => "SIOCGIFNETMASK",
        0x8921 => "SIOCGIFMTU",
        0x8927 => "SIOCGIFHWADDR",
        0x8933 => "SIOCGIFINDEX",
        0x8942 => "SIOCGIFTXQLEN",
        _ => return format!("{v:#x}"),
    };
    name.to_string()
}

const FCNTL_CMDS: &[(u64, &str)] = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
];

fn fcntl_arg(cmd: u64, v: u64) -> Option<String> {
    match cmd & 0xffff_ffff {
        1 | 3 | 9 | 11 | 1025 | 1032 | 1034 => None,
        2 => Some(flags(v, &[(1, "FD_CLOEXEC")])),
        4 => Some(open_flags(v)),
        0 | 1030 | 8 | 10 | 1031 => Some(format!("{}", v as u32 as i32)),
        _ => Some(addr_text(v)),
    }
}

/// *at flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, AT_REMOVEDIR…).
pub fn at_flags(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    flags(
        v & 0xffff_ffff,
        &[
            (0x100, "AT_SYMLINK_NOFOLLOW"),
            (0x200, "AT_REMOVEDIR"),
            (0x400, "AT_SYMLINK_FOLLOW"),
            (0x800, "AT_NO_AUTOMOUNT"),
            (0x1000, "AT_EMPTY_PATH"),
            (0x2000, "AT_STATX_FORCE_SYNC"),
            (0x4000, "AT_STATX_DONT_SYNC"),
            (0x8000, "AT_RECURSIVE"),
        ],
    )
}

fn access_mode(v: u64) -> String {
    if v == 0 {
        return "F_OK".into();
    }
    flags(v & 0xffff_ffff, &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")])
}

fn wait_options(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    flags(
        v & 0xffff_ffff,
        &[
            (1, "WNOHANG"),
            (2, "WUNTRACED"),
            (4, "WEXITED"),
            (8, "WCONTINUED"),
            (0x0100_0000, "WNOWAIT"),
            (0x2000_0000, "__WNOTHREAD"),
            (0x4000_0000, "__WALL"),
            (0x8000_0000, "__WCLONE"),
        ],
    )
}

/// A wait status as strace shows it.
pub fn wait_status(s: u32) -> String {
    let sig = s & 0x7f;
    if sig == 0 {
        format!(
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]",
            (s >> 8) & 0xff
        )
    } else if sig == 0x7f {
        format!(
            "[{{WIFSTOPPED(s) && WSTOPSIG(s) == {}}}]",
            signal(((s >> 8) & 0xff) as u64)
        )
    } else if s == 0xffff {
        "[{WIFCONTINUED(s)}]".into()
    } else {
        format!(
            "[{{WIFSIGNALED(s) && WTERMSIG(s) == {}{}}}]",
            signal(sig as u64),
            if s & 0x80 != 0 {
                " && WCOREDUMP(s)"
            } else {
                ""
            }
        )
    }
}

/// poll events.
pub fn poll_events(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    flags(
        v,
        &[
            (1, "POLLIN"),
            (2, "POLLPRI"),
            (4, "POLLOUT"),
            (8, "POLLERR"),
            (0x10, "POLLHUP"),
            (0x20, "POLLNVAL"),
            (0x40, "POLLRDNORM"),
            (0x80, "POLLRDBAND"),
            (0x100, "POLLWRNORM"),
            (0x200, "POLLWRBAND"),
            (0x400, "POLLMSG"),
            (0x2000, "POLLRDHUP"),
        ],
    )
}

/// epoll events.
pub fn epoll_events(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    flags(
        v,
        &[
            (1, "EPOLLIN"),
            (2, "EPOLLPRI"),
            (4, "EPOLLOUT"),
            (8, "EPOLLERR"),
            (0x10, "EPOLLHUP"),
            (0x40, "EPOLLRDNORM"),
            (0x80, "EPOLLRDBAND"),
            (0x100, "EPOLLWRNORM"),
            (0x200, "EPOLLWRBAND"),
            (0x400, "EPOLLMSG"),
            (0x2000, "EPOLLRDHUP"),
            (1 << 28, "EPOLLEXCLUSIVE"),
            (1 << 29, "EPOLLWAKEUP"),
            (1 << 30, "EPOLLONESHOT"),
            (1 << 31, "EPOLLET"),
        ],
    )
}

fn pollfds(task: &Task, addr: u64, n: u64, out: bool) -> String {
    let shown = n.min(MAX_ELEMS as u64) as usize;
    let Some(b) = read_bytes(task, addr, shown * 8) else {
        return addr_text(addr);
    };
    let mut parts = Vec::with_capacity(shown);
    for i in 0..shown {
        let fd = le_u32(&b, i * 8) as i32;
        let ev = le_u16(&b, i * 8 + 4) as u64;
        let rev = le_u16(&b, i * 8 + 6) as u64;
        if out {
            parts.push(format!(
                "{{fd={fd}, events={}, revents={}}}",
                poll_events(ev),
                poll_events(rev)
            ));
        } else {
            parts.push(format!("{{fd={fd}, events={}}}", poll_events(ev)));
        }
    }
    let more = if n as usize > shown { ", ..." } else { "" };
    format!("[{}{more}]", parts.join(", "))
}

fn epoll_event_at(b: &[u8], at: usize) -> String {
    format!(
        "{{events={}, data={:#x}}}",
        epoll_events(le_u32(b, at) as u64),
        le_u64(b, at + 4)
    )
}

fn epoll_event(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 12) {
        Some(b) => epoll_event_at(&b, 0),
        None => addr_text(addr),
    }
}

fn epoll_events_out(task: &Task, addr: u64, n: u64) -> String {
    let shown = n.min(MAX_ELEMS as u64) as usize;
    let Some(b) = read_bytes(task, addr, shown * 12) else {
        return addr_text(addr);
    };
    let parts: Vec<String> = (0..shown).map(|i| epoll_event_at(&b, i * 12)).collect();
    let more = if n as usize > shown { ", ..." } else { "" };
    format!("[{}{more}]", parts.join(", "))
}

/// A futex operation ("FUTEX_WAIT_PRIVATE").
pub fn futex_op(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let cmd = constant(
        v & 0x7f,
        &[
            (0, "FUTEX_WAIT"),
            (1, "FUTEX_WAKE"),
            (2, "FUTEX_FD"),
            (3, "FUTEX_REQUEUE"),
            (4, "FUTEX_CMP_REQUEUE"),
            (5, "FUTEX_WAKE_OP"),
            (6, "FUTEX_LOCK_PI"),
            (7, "FUTEX_UNLOCK_PI"),
            (8, "FUTEX_TRYLOCK_PI"),
            (9, "FUTEX_WAIT_BITSET"),
            (10, "FUTEX_WAKE_BITSET"),
            (11, "FUTEX_WAIT_REQUEUE_PI"),
            (12, "FUTEX_CMP_REQUEUE_PI"),
            (13, "FUTEX_LOCK_PI2"),
        ],
    );
    let mut s = cmd;
    if v & 128 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & 256 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

fn futex_has_timeout(op: u64) -> bool {
    matches!(op & 0x7f, 0 | 6 | 9 | 11 | 13)
}

fn timespec(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 16) {
        Some(b) => format!(
            "{{tv_sec={}, tv_nsec={}}}",
            le_u64(&b, 0) as i64,
            le_u64(&b, 8) as i64
        ),
        None => addr_text(addr),
    }
}

fn timeval(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 16) {
        Some(b) => format!(
            "{{tv_sec={}, tv_usec={}}}",
            le_u64(&b, 0) as i64,
            le_u64(&b, 8) as i64
        ),
        None => addr_text(addr),
    }
}

/// A sockaddr's bytes as strace shows them.
pub fn sockaddr_bytes(b: &[u8]) -> String {
    if b.len() < 2 {
        return "{}".into();
    }
    let fam = le_u16(b, 0) as u64;
    let fname = constant(fam, FAMILIES);
    match fam {
        2 if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            format!("{{sa_family={fname}, addr={ip}:{port}}}")
        }
        10 if b.len() >= 24 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            let ip = std::net::Ipv6Addr::from(a);
            format!("{{sa_family={fname}, addr=[{ip}]:{port}}}")
        }
        1 => {
            let path = &b[2..];
            if path.first() == Some(&0) && path.len() > 1 {
                format!(
                    "{{sa_family={fname}, sun_path=@{}}}",
                    escape(&path[1..], false)
                )
            } else {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                format!(
                    "{{sa_family={fname}, sun_path={}}}",
                    escape(&path[..end], false)
                )
            }
        }
        16 if b.len() >= 12 => format!(
            "{{sa_family={fname}, nl_pid={}, nl_groups={:#x}}}",
            le_u32(b, 4),
            le_u32(b, 8)
        ),
        _ => format!("{{sa_family={fname}, ...}}"),
    }
}

fn sockaddr(task: &Task, addr: u64, len: u64) -> String {
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(128);
    match read_bytes(task, addr, len) {
        Some(b) => sockaddr_bytes(&b),
        None => addr_text(addr),
    }
}

fn sockaddr_out(task: &Task, addr: u64, lenp: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let Some(b) = read_bytes(task, lenp, 4) else {
        return addr_text(addr);
    };
    sockaddr(task, addr, le_u32(&b, 0) as u64)
}

fn iovecs(task: &Task, addr: u64, n: u64) -> String {
    let shown = n.min(MAX_ELEMS as u64) as usize;
    let Some(b) = read_bytes(task, addr, shown * 16) else {
        return addr_text(addr);
    };
    let parts: Vec<String> = (0..shown)
        .map(|i| {
            format!(
                "{{iov_base={:#x}, iov_len={}}}",
                le_u64(&b, i * 16),
                le_u64(&b, i * 16 + 8)
            )
        })
        .collect();
    let more = if n as usize > shown { ", ..." } else { "" };
    format!("[{}{more}]", parts.join(", "))
}

fn msghdr(task: &Task, addr: u64) -> String {
    let Some(b) = read_bytes(task, addr, 56) else {
        return addr_text(addr);
    };
    let name = le_u64(&b, 0);
    let namelen = le_u32(&b, 8) as u64;
    let name = if name == 0 {
        "NULL".to_string()
    } else {
        sockaddr(task, name, namelen)
    };
    format!(
        "{{msg_name={name}, msg_namelen={namelen}, msg_iov={}, msg_iovlen={}, msg_controllen={}, msg_flags={}}}",
        iovecs(task, le_u64(&b, 16), le_u64(&b, 24)),
        le_u64(&b, 24),
        le_u64(&b, 40),
        msg_flags(le_u32(&b, 48) as u64)
    )
}

/// send/recv flags.
pub fn msg_flags(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    flags(
        v & 0xffff_ffff,
        &[
            (1, "MSG_OOB"),
            (2, "MSG_PEEK"),
            (4, "MSG_DONTROUTE"),
            (8, "MSG_CTRUNC"),
            (0x20, "MSG_TRUNC"),
            (0x40, "MSG_DONTWAIT"),
            (0x80, "MSG_EOR"),
            (0x100, "MSG_WAITALL"),
            (0x4000, "MSG_NOSIGNAL"),
            (0x8000, "MSG_MORE"),
            (0x10000, "MSG_WAITFORONE"),
            (0x4000_0000, "MSG_CMSG_CLOEXEC"),
        ],
    )
}

fn stat_out(task: &Task, addr: u64) -> String {
    let Some(b) = read_bytes(task, addr, 144) else {
        return addr_text(addr);
    };
    format!(
        "{{st_dev={:#x}, st_ino={}, st_mode={}, st_nlink={}, st_uid={}, st_gid={}, st_size={}, st_blksize={}, st_blocks={}}}",
        le_u64(&b, 0),
        le_u64(&b, 8),
        file_mode(le_u32(&b, 24) as u64),
        le_u64(&b, 16),
        le_u32(&b, 28),
        le_u32(&b, 32),
        le_u64(&b, 48) as i64,
        le_u64(&b, 56),
        le_u64(&b, 64)
    )
}

fn statx_out(task: &Task, addr: u64) -> String {
    let Some(b) = read_bytes(task, addr, 256) else {
        return addr_text(addr);
    };
    format!(
        "{{stx_mask={:#x}, stx_mode={}, stx_nlink={}, stx_uid={}, stx_gid={}, stx_ino={}, stx_size={}, stx_blocks={}}}",
        le_u32(&b, 0),
        file_mode(le_u16(&b, 28) as u64),
        le_u32(&b, 16),
        le_u32(&b, 20),
        le_u32(&b, 24),
        le_u64(&b, 32),
        le_u64(&b, 40),
        le_u64(&b, 48)
    )
}

fn int_at(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 4) {
        Some(b) => format!("[{}]", le_u32(&b, 0) as i32),
        None => addr_text(addr),
    }
}

fn winsize(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 8) {
        Some(b) => format!(
            "{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}",
            le_u16(&b, 0),
            le_u16(&b, 2),
            le_u16(&b, 4),
            le_u16(&b, 6)
        ),
        None => addr_text(addr),
    }
}

fn pipe_fds(task: &Task, addr: u64) -> String {
    match read_bytes(task, addr, 8) {
        Some(b) => format!("[{}, {}]", le_u32(&b, 0) as i32, le_u32(&b, 4) as i32),
        None => addr_text(addr),
    }
}

fn fd(v: u64) -> String {
    let fd = v as u32 as i32;
    if fd == libc::AT_FDCWD {
        "AT_FDCWD".into()
    } else {
        fd.to_string()
    }
}

/// Whether the kind is decoded when the call returns.
fn is_output(kind: Arg) -> bool {
    use Arg::*;
    matches!(
        kind,
        OutBuf(_)
            | StatOut
            | StatxOut
            | PipeFds
            | WaitStatus
            | SockaddrOut(_)
            | IntOut
            | IoctlArg(_)
            | TimespecOut
            | TimevalOut
            | PollFds(_)
            | EpollEventsOut
            | SigSetOut
            | SigActionOut
            | Msghdr
    )
}

/// An argument as shown when the call starts (outputs as addresses);
/// None hides it (open's mode without O_CREAT, fcntl's unused argument).
fn render_in(task: &Task, kinds: &[Arg], i: usize, a: &Args, size: usize) -> Option<String> {
    use Arg::*;
    let v = a.raw(i);
    let kind = *kinds.get(i)?;
    Some(match kind {
        Int => format!("{}", v as u32 as i32),
        Long => format!("{}", v as i64),
        Hex => format!("{v:#x}"),
        Ptr => addr_text(v),
        Oct => mode(v),
        Fd => fd(v),
        Path => string_arg(task, v, size),
        InBuf(n) => buf_arg(task, v, a.raw(n as usize), size),
        OpenFlags => open_flags(v),
        FdFlags => flags(v & 0xffff_ffff, OPEN_FLAGS),
        OpenMode(n) => {
            let f = a.raw(n as usize);
            if f & O_CREAT != 0 || f & O_TMPFILE == O_TMPFILE {
                mode(v)
            } else {
                return None;
            }
        }
        Prot => prot(v),
        MmapFlags => mmap_flags(v),
        Signal => signal(v),
        SigHow => constant(
            v & 0xffff_ffff,
            &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")],
        ),
        SigSet => match read_u64(task, v) {
            Some(s) => sigset(s),
            None => addr_text(v),
        },
        SigAction => sigaction(task, v),
        CloneFlags => clone_flags(v),
        CloneArgs => clone_args(task, v),
        SockFamily => constant(v & 0xffff_ffff, FAMILIES),
        SockType => sock_type(v),
        SockProto(n) => sock_proto(a.raw(n as usize), v),
        SockLevel => sock_level(v),
        SockOpt(n) => sock_opt(a.raw(n as usize), v),
        Ioctl => ioctl_request(v),
        IoctlArg(n) => match a.raw(n as usize) & 0xffff_ffff {
            // Ints the call reads.
            0x5421 | 0x5452 | 0x5410 | 0x4004_5431 => int_at(task, v),
            // Struct winsize the call reads.
            0x5414 => winsize(task, v),
            // None (FIOCLEX, FIONCLEX, TIOCNOTTY, TIOCSCTTY's is an int).
            0x5450 | 0x5451 | 0x5422 => return None,
            0x540E | 0x540B => format!("{}", v as u32 as i32),
            _ => addr_text(v),
        },
        FcntlCmd => constant(v & 0xffff_ffff, FCNTL_CMDS),
        FcntlArg(n) => return fcntl_arg(a.raw(n as usize), v),
        AtFlags => at_flags(v),
        AccessMode => access_mode(v),
        WaitOptions => wait_options(v),
        EpollOp => constant(
            v & 0xffff_ffff,
            &[
                (1, "EPOLL_CTL_ADD"),
                (2, "EPOLL_CTL_DEL"),
                (3, "EPOLL_CTL_MOD"),
            ],
        ),
        EpollEvent => epoll_event(task, v),
        FutexOp => futex_op(v),
        FutexTimeout(n) => {
            if futex_has_timeout(a.raw(n as usize)) {
                timespec(task, v)
            } else {
                format!("{}", v as u32)
            }
        }
        Whence => constant(
            v & 0xffff_ffff,
            &[
                (0, "SEEK_SET"),
                (1, "SEEK_CUR"),
                (2, "SEEK_END"),
                (3, "SEEK_DATA"),
                (4, "SEEK_HOLE"),
            ],
        ),
        Advice => constant(
            v & 0xffff_ffff,
            &[
                (0, "MADV_NORMAL"),
                (1, "MADV_RANDOM"),
                (2, "MADV_SEQUENTIAL"),
                (3, "MADV_WILLNEED"),
                (4, "MADV_DONTNEED"),
                (8, "MADV_FREE"),
                (9, "MADV_REMOVE"),
                (10, "MADV_DONTFORK"),
                (11, "MADV_DOFORK"),
                (12, "MADV_MERGEABLE"),
                (13, "MADV_UNMERGEABLE"),
                (14, "MADV_HUGEPAGE"),
                (15, "MADV_NOHUGEPAGE"),
                (16, "MADV_DONTDUMP"),
                (17, "MADV_DODUMP"),
                (18, "MADV_WIPEONFORK"),
                (19, "MADV_KEEPONFORK"),
                (20, "MADV_COLD"),
                (21, "MADV_PAGEOUT"),
                (100, "MADV_HWPOISON"),
            ],
        ),
        PrctlOption => constant(
            v & 0xffff_ffff,
            &[
                (1, "PR_SET_PDEATHSIG"),
                (2, "PR_GET_PDEATHSIG"),
                (3, "PR_GET_DUMPABLE"),
                (4, "PR_SET_DUMPABLE"),
                (7, "PR_GET_KEEPCAPS"),
                (8, "PR_SET_KEEPCAPS"),
                (15, "PR_SET_NAME"),
                (16, "PR_GET_NAME"),
                (21, "PR_GET_SECCOMP"),
                (22, "PR_SET_SECCOMP"),
                (23, "PR_CAPBSET_READ"),
                (24, "PR_CAPBSET_DROP"),
                (27, "PR_GET_SECUREBITS"),
                (28, "PR_SET_SECUREBITS"),
                (29, "PR_SET_TIMERSLACK"),
                (30, "PR_GET_TIMERSLACK"),
                (35, "PR_SET_MM"),
                (36, "PR_SET_CHILD_SUBREAPER"),
                (37, "PR_GET_CHILD_SUBREAPER"),
                (38, "PR_SET_NO_NEW_PRIVS"),
                (39, "PR_GET_NO_NEW_PRIVS"),
                (41, "PR_SET_THP_DISABLE"),
                (42, "PR_GET_THP_DISABLE"),
                (47, "PR_CAP_AMBIENT"),
                (0x5356_4d41, "PR_SET_VMA"),
            ],
        ),
        ArchPrctlCode => constant(
            v & 0xffff_ffff,
            &[
                (0x1001, "ARCH_SET_GS"),
                (0x1002, "ARCH_SET_FS"),
                (0x1003, "ARCH_GET_FS"),
                (0x1004, "ARCH_GET_GS"),
                (0x1011, "ARCH_GET_CPUID"),
                (0x1012, "ARCH_SET_CPUID"),
                (0x1021, "ARCH_GET_XCOMP_SUPP"),
                (0x1022, "ARCH_GET_XCOMP_PERM"),
                (0x1023, "ARCH_REQ_XCOMP_PERM"),
            ],
        ),
        Rlimit => constant(
            v & 0xffff_ffff,
            &[
                (0, "RLIMIT_CPU"),
                (1, "RLIMIT_FSIZE"),
                (2, "RLIMIT_DATA"),
                (3, "RLIMIT_STACK"),
                (4, "RLIMIT_CORE"),
                (5, "RLIMIT_RSS"),
                (6, "RLIMIT_NPROC"),
                (7, "RLIMIT_NOFILE"),
                (8, "RLIMIT_MEMLOCK"),
                (9, "RLIMIT_AS"),
                (10, "RLIMIT_LOCKS"),
                (11, "RLIMIT_SIGPENDING"),
                (12, "RLIMIT_MSGQUEUE"),
                (13, "RLIMIT_NICE"),
                (14, "RLIMIT_RTPRIO"),
                (15, "RLIMIT_RTTIME"),
            ],
        ),
        ClockId => constant(
            v & 0xffff_ffff,
            &[
                (0, "CLOCK_REALTIME"),
                (1, "CLOCK_MONOTONIC"),
                (2, "CLOCK_PROCESS_CPUTIME_ID"),
                (3, "CLOCK_THREAD_CPUTIME_ID"),
                (4, "CLOCK_MONOTONIC_RAW"),
                (5, "CLOCK_REALTIME_COARSE"),
                (6, "CLOCK_MONOTONIC_COARSE"),
                (7, "CLOCK_BOOTTIME"),
                (8, "CLOCK_REALTIME_ALARM"),
                (9, "CLOCK_BOOTTIME_ALARM"),
                (11, "CLOCK_TAI"),
            ],
        ),
        TimerFlags => flags(v & 0xffff_ffff, &[(1, "TIMER_ABSTIME")]),
        Timespec => timespec(task, v),
        Timeval => timeval(task, v),
        SockaddrIn(n) => sockaddr(task, v, a.raw(n as usize)),
        Iovec(n) => iovecs(task, v, a.raw(n as usize)),
        MsgFlags => msg_flags(v),
        Argv => string_array(task, v, size),
        PollFds(n) => pollfds(task, v, a.raw(n as usize), false),
        Msghdr => msghdr(task, v),
        OutBuf(_) | StatOut | StatxOut | PipeFds | WaitStatus | SockaddrOut(_) | IntOut
        | TimespecOut | TimevalOut | EpollEventsOut | SigSetOut | SigActionOut => addr_text(v),
    })
}

/// An output argument as shown when the call has returned.
fn render_out(
    task: &Task,
    kinds: &[Arg],
    i: usize,
    a: &Args,
    res: &SysResult<u64>,
    size: usize,
) -> Option<String> {
    use Arg::*;
    let v = a.raw(i);
    let kind = *kinds.get(i)?;
    let Ok(ret) = res else {
        // A failed call wrote nothing (pollfds and msghdr keep their inputs).
        return match kind {
            PollFds(n) => Some(pollfds(task, v, a.raw(n as usize), false)),
            Msghdr => Some(msghdr(task, v)),
            _ => Some(addr_text(v)),
        };
    };
    Some(match kind {
        OutBuf(n) => {
            // The call filled `ret` bytes (at most the length argument).
            let len = (*ret).min(a.raw(n as usize));
            buf_arg(task, v, len, size)
        }
        StatOut => stat_out(task, v),
        StatxOut => statx_out(task, v),
        PipeFds => pipe_fds(task, v),
        WaitStatus => {
            if v == 0 || *ret == 0 {
                addr_text(v)
            } else {
                match read_bytes(task, v, 4) {
                    Some(b) => wait_status(le_u32(&b, 0)),
                    None => addr_text(v),
                }
            }
        }
        SockaddrOut(n) => sockaddr_out(task, v, a.raw(n as usize)),
        IoctlArg(n) => match a.raw(n as usize) & 0xffff_ffff {
            // Ints the call writes.
            0x541B | 0x5411 | 0x540F | 0x5429 | 0x8004_5430 | 0x8004_5439 => int_at(task, v),
            0x5413 => winsize(task, v),
            _ => return render_in(task, kinds, i, a, size),
        },
        IntOut => match read_bytes(task, v, 4) {
            Some(b) => format!("[{}]", le_u32(&b, 0) as i32),
            None => addr_text(v),
        },
        TimespecOut => timespec(task, v),
        TimevalOut => timeval(task, v),
        PollFds(n) => pollfds(task, v, a.raw(n as usize), true),
        EpollEventsOut => epoll_events_out(task, v, *ret),
        SigSetOut => match read_u64(task, v) {
            Some(s) => sigset(s),
            None => addr_text(v),
        },
        SigActionOut => sigaction(task, v),
        Msghdr => msghdr(task, v),
        _ => return render_in(task, kinds, i, a, size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name() {
        assert_eq!(
            open_flags(0o1 | 0o100 | 0o1000 | 0o2000000),
            "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"
        );
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o2 | 0o4000), "O_RDWR|O_NONBLOCK");
        assert_eq!(open_flags(0o4010000), "O_RDONLY|O_SYNC");
        assert_eq!(open_flags(0x8000_0000), "O_RDONLY|0x80000000");
        assert_eq!(mode(0o644), "0644");
        assert_eq!(mode(0), "0000");
        assert_eq!(file_mode(0o100644), "S_IFREG|0644");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(mmap_flags(0x812), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
        assert_eq!(
            clone_flags(0x01200011),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(clone_flags(0), "0");
        assert_eq!(signal(10), "SIGUSR1");
        assert_eq!(signal(0), "0");
        assert_eq!(signal(u64::MAX), "-1");
        assert_eq!(sigset(1 << 9 | 1 << 16), "[SIGUSR1 SIGCHLD]");
        assert_eq!(sigset(!(1 << 8)), "~[SIGKILL]");
        assert_eq!(sock_type(1 | 0o2000000), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(sock_proto(2, 6), "IPPROTO_TCP");
        assert_eq!(sock_opt(1, 2), "SO_REUSEADDR");
        assert_eq!(sock_opt(6, 1), "TCP_NODELAY");
        assert_eq!(sock_level(1), "SOL_SOCKET");
        assert_eq!(ioctl_request(0x5413), "TIOCGWINSZ");
        assert_eq!(ioctl_request(0x8933), "SIOCGIFINDEX");
        assert_eq!(ioctl_request(0x1234), "0x1234");
        assert_eq!(at_flags(0x100), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(
            at_flags(0x1000 | 0x100),
            "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"
        );
        assert_eq!(access_mode(6), "R_OK|W_OK");
        assert_eq!(wait_options(1), "WNOHANG");
        assert_eq!(poll_events(5), "POLLIN|POLLOUT");
        assert_eq!(epoll_events(1 | 1 << 31), "EPOLLIN|EPOLLET");
        assert_eq!(futex_op(128), "FUTEX_WAIT_PRIVATE");
        assert_eq!(
            futex_op(9 | 128 | 256),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"
        );
        assert_eq!(msg_flags(0x4040), "MSG_DONTWAIT|MSG_NOSIGNAL");
        assert_eq!(fcntl_arg(2, 1).as_deref(), Some("FD_CLOEXEC"));
        assert_eq!(fcntl_arg(1, 0), None);
    }

    #[test]
    fn results_are_signed_with_errno_names() {
        assert_eq!(format_result(&Ok(3), false), "3");
        assert_eq!(format_result(&Ok(u64::MAX), false), "-1");
        assert_eq!(format_result(&Ok(0x7f00_0000_0000), true), "0x7f0000000000");
        assert_eq!(
            format_result(&Err(Errno::ENOENT), false),
            "-1 ENOENT (No such file or directory)"
        );
        assert_eq!(
            format_result(&Err(Errno(512)), false),
            "? ERESTARTSYS (To be restarted)"
        );
    }

    #[test]
    fn wait_statuses() {
        assert_eq!(wait_status(0), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
        assert_eq!(
            wait_status(3 << 8),
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"
        );
        assert_eq!(
            wait_status(9),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]"
        );
        assert_eq!(
            wait_status(0x137f),
            "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"
        );
    }

    #[test]
    fn sockaddrs() {
        let mut v4 = vec![2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.extend([0u8; 8]);
        assert_eq!(
            sockaddr_bytes(&v4),
            "{sa_family=AF_INET, addr=127.0.0.1:8080}"
        );
        let mut v6 = vec![10u8, 0, 0, 80, 0, 0, 0, 0];
        v6.extend([0u8; 15]);
        v6.push(1);
        assert_eq!(sockaddr_bytes(&v6), "{sa_family=AF_INET6, addr=[::1]:80}");
        let un = b"\x01\x00/tmp/s\x00junk";
        assert_eq!(
            sockaddr_bytes(un),
            "{sa_family=AF_UNIX, sun_path=\"/tmp/s\"}"
        );
        let abs = b"\x01\x00\x00abc";
        assert_eq!(
            sockaddr_bytes(abs),
            "{sa_family=AF_UNIX, sun_path=@\"abc\"}"
        );
        let nl = [16u8, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0];
        assert_eq!(
            sockaddr_bytes(&nl),
            "{sa_family=AF_NETLINK, nl_pid=5, nl_groups=0x1}"
        );
        assert_eq!(sockaddr_bytes(&[1]), "{}");
    }

    #[test]
    fn escaping_is_bounded() {
        assert_eq!(escape(b"hi\n\"\x01", false), "\"hi\\n\\\"\\x01\"");
        assert_eq!(escape(b"ab", true), "\"ab\"...");
    }

    #[test]
    fn filters() {
        let c = StraceConfig::from_flags(Some("openat, read,write"), Some(16)).unwrap();
        assert!(c.traces(0) && c.traces(1) && c.traces(257));
        assert!(!c.traces(2));
        assert_eq!(c.log_size, 16);
        assert_eq!(
            StraceConfig::from_flags(Some("read,foo"), None),
            Err(StraceConfigError::UnknownSyscall("foo".into()))
        );
        assert_eq!(
            StraceConfigError::UnknownSyscall("foo".into()).to_string(),
            "--strace-syscalls: unknown system call \"foo\""
        );
        assert_eq!(
            StraceConfig::from_flags(Some(","), None),
            Err(StraceConfigError::Empty)
        );
        assert!(StraceConfig::from_flags(None, Some(0)).is_err());
        assert!(StraceConfig::default().traces(12345));
    }

    #[test]
    fn every_row_uses_its_kinds_consistently() {
        use Arg::*;
        for s in super::super::TABLE {
            for a in s.args {
                let idx = match a {
                    InBuf(n) | OutBuf(n) | OpenMode(n) | SockProto(n) | SockOpt(n)
                    | FcntlArg(n) | IoctlArg(n) | FutexTimeout(n) | SockaddrIn(n)
                    | SockaddrOut(n) | Iovec(n) | PollFds(n) => Some(*n as usize),
                    _ => None,
                };
                if let Some(n) = idx {
                    assert!(n < s.args.len(), "{}: argument index {n}", s.name);
                }
            }
        }
    }
}
