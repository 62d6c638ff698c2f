//! The system call table, as data: number → (name, handler, support level,
//! argument kinds for strace), and the dispatcher. One file per family.
//!
//! A number without an entry returns ENOSYS and is logged once per number.
//! docs/SYSCALLS.md is generated from this table (`gvisor syscalls --markdown`).

use std::sync::OnceLock;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

mod at;
pub use crate::abi::names;
pub mod strace;
pub mod sys_attr;
pub mod sys_cred;
pub mod sys_dir;
#[cfg(feature = "example-syscall")]
pub mod sys_example;
pub mod sys_fcntl;
pub mod sys_info;
pub mod sys_inotify;
pub mod sys_ioctl;
pub mod sys_ipc;
pub mod sys_link;
pub mod sys_mmap;
pub mod sys_mount;
pub mod sys_open;
pub mod sys_pidfd;
pub mod sys_pipe;
pub mod sys_poll;
pub mod sys_priv;
pub mod sys_process;
pub mod sys_read;
pub mod sys_sched;
pub mod sys_seccomp;
pub mod sys_signal;
pub mod sys_socket;
pub mod sys_stat;
pub mod sys_sync;
pub mod sys_thread;
pub mod sys_time;
pub mod sys_uts;
pub mod sys_vm;
pub mod sys_xattr;

pub use names::{NAMES, NR_SYSCALLS};

/// The six syscall arguments (rdi, rsi, rdx, r10, r8, r9), with typed views
/// that truncate as Linux does when a handler's C parameter is narrower
/// than a register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Args(pub [u64; 6]);

impl std::ops::Deref for Args {
    type Target = [u64; 6];
    fn deref(&self) -> &[u64; 6] {
        &self.0
    }
}

impl From<[u64; 6]> for Args {
    fn from(a: [u64; 6]) -> Args {
        Args(a)
    }
}

impl Args {
    /// Argument `i` as the register holds it (0 past the sixth).
    pub fn raw(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// A file descriptor (`int` or `unsigned int fd`): the low 32 bits as
    /// i32, so -1 and AT_FDCWD keep their sign.
    pub fn fd(&self, i: usize) -> i32 {
        self.raw(i) as u32 as i32
    }

    /// An `int`: the low 32 bits, signed.
    pub fn int(&self, i: usize) -> i32 {
        self.raw(i) as u32 as i32
    }

    /// An `unsigned int` (flags, modes, uids): the low 32 bits.
    pub fn uint(&self, i: usize) -> u32 {
        self.raw(i) as u32
    }

    /// A `long` or `off_t`: all 64 bits, signed.
    pub fn long(&self, i: usize) -> i64 {
        self.raw(i) as i64
    }

    /// A `size_t`: all 64 bits (usize is 64 bits on x86-64).
    pub fn len(&self, i: usize) -> usize {
        self.raw(i) as usize
    }

    /// A user address: all 64 bits, checked when it is accessed.
    pub fn ptr(&self, i: usize) -> u64 {
        self.raw(i)
    }
}

/// A syscall handler.
pub type Handler = fn(&mut Task, &Args) -> SysResult<u64>;

/// How completely a syscall is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// As Linux does it.
    Full,
    /// Implemented with the stated limits.
    Partial(&'static str),
    /// Deliberately answers this errno (the app copes), without a log line:
    /// ENOSYS where the call is left out, another where Linux without the
    /// feature answers that (a socket of an unsupported family is
    /// EAFNOSUPPORT).
    Refuses(Errno, &'static str),
}

/// What dispatch does around a call besides running its handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// Nothing besides the handler.
    pub const NONE: Flags = Flags(0);
    /// The call changes the address space: afterwards, when threads share
    /// the memory manager, its page-table changes are applied and the other
    /// threads re-enter ([`crate::kernel::process::flush_shared_mm`]).
    pub const FLUSH_MM: Flags = Flags(1);
    /// strace prints the return value as an address (hexadecimal).
    pub const RET_ADDR: Flags = Flags(2);

    /// Both sets of flags.
    pub const fn union(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }

    /// Whether every flag of `o` is set.
    pub const fn contains(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }
}

/// How strace prints an argument (decoded in [`strace`]). `(n)` names
/// the argument that gives a length, a count or a selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A C `int`: the low 32 bits, signed decimal.
    Int,
    /// A `long`, `size_t` or `off_t`: 64 bits, signed decimal.
    Long,
    /// Hexadecimal.
    Hex,
    /// A pointer not decoded (NULL or hexadecimal).
    Ptr,
    /// A mode in octal.
    Oct,
    /// A file descriptor (AT_FDCWD shown by name).
    Fd,
    /// A NUL-terminated string (path, name).
    Path,
    /// A buffer written by the app whose length is argument `n`.
    InBuf(u8),
    /// A buffer the call fills (the result's bytes, at most argument `n`).
    OutBuf(u8),
    /// open flags (O_RDONLY|O_CREAT|…).
    OpenFlags,
    /// O_CLOEXEC/O_NONBLOCK-style flags without an access mode (pipe2,
    /// dup3).
    FdFlags,
    /// A creation mode, shown when the open flags (argument `n`) create.
    OpenMode(u8),
    /// mmap/mprotect protection.
    Prot,
    /// mmap flags.
    MmapFlags,
    /// A signal number.
    Signal,
    /// rt_sigprocmask's how.
    SigHow,
    /// A pointer to a signal set read by the call.
    SigSet,
    /// A pointer to a signal set the call fills.
    SigSetOut,
    /// A pointer to a struct sigaction read by the call.
    SigAction,
    /// A pointer to a struct sigaction the call fills.
    SigActionOut,
    /// clone flags and exit signal.
    CloneFlags,
    /// clone3's struct clone_args.
    CloneArgs,
    /// A socket address family.
    SockFamily,
    /// A socket type with SOCK_NONBLOCK/SOCK_CLOEXEC.
    SockType,
    /// A socket protocol of the family in argument `n`.
    SockProto(u8),
    /// A socket option level.
    SockLevel,
    /// A socket option name of the level in argument `n`.
    SockOpt(u8),
    /// An ioctl request.
    Ioctl,
    /// ioctl's argument, by the request in argument `n` (an int read or
    /// written, a struct winsize, else the address).
    IoctlArg(u8),
    /// An fcntl command.
    FcntlCmd,
    /// fcntl's third argument, by the command in argument `n`.
    FcntlArg(u8),
    /// *at flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, AT_REMOVEDIR…).
    AtFlags,
    /// access(2) mode.
    AccessMode,
    /// wait4/waitid options.
    WaitOptions,
    /// A pointer to a wait status the call fills.
    WaitStatus,
    /// A pollfd array of argument `n` entries (revents shown on exit).
    PollFds(u8),
    /// epoll_ctl op.
    EpollOp,
    /// A pointer to a struct epoll_event read by the call.
    EpollEvent,
    /// epoll_event array the call fills (as many as the result).
    EpollEventsOut,
    /// A futex operation.
    FutexOp,
    /// futex's timeout (a timespec for waits; val2 otherwise, by the op
    /// in argument `n`).
    FutexTimeout(u8),
    /// lseek whence.
    Whence,
    /// madvise advice.
    Advice,
    /// prctl option.
    PrctlOption,
    /// arch_prctl code.
    ArchPrctlCode,
    /// A resource limit.
    Rlimit,
    /// A clock id.
    ClockId,
    /// TIMER_ABSTIME.
    TimerFlags,
    /// A pointer to a struct timespec read by the call.
    Timespec,
    /// A pointer to a struct timespec the call fills.
    TimespecOut,
    /// A pointer to a struct timeval read by the call.
    Timeval,
    /// A pointer to a struct timeval the call fills.
    TimevalOut,
    /// A sockaddr read by the call, of argument `n` bytes.
    SockaddrIn(u8),
    /// A sockaddr the call fills, its length pointer in argument `n`.
    SockaddrOut(u8),
    /// A pointer to an `int` the call fills (a socklen_t, shown "[16]").
    IntOut,
    /// An iovec array of argument `n` entries (sizes).
    Iovec(u8),
    /// A struct msghdr (name, iovec sizes, control length, flags).
    Msghdr,
    /// send/recv flags.
    MsgFlags,
    /// A pointer to a struct stat the call fills.
    StatOut,
    /// A pointer to a struct statx the call fills.
    StatxOut,
    /// A pointer to the two descriptors pipe/socketpair fill.
    PipeFds,
    /// A NULL-terminated array of strings (execve's argv and envp).
    Argv,
}

/// One row of the table.
pub struct Syscall {
    /// Number.
    pub nr: usize,
    /// Name.
    pub name: &'static str,
    /// Handler.
    pub handler: Handler,
    /// Support level.
    pub support: Support,
    /// Argument kinds, for strace.
    pub args: &'static [Arg],
    /// What dispatch does besides calling the handler.
    pub flags: Flags,
}

use Arg::*;
use Support::*;

/// Builds [`TABLE`] from the rows below. A row is
/// `NR name => handler, support, [arg kinds] (, flags: A | B)?;` and may carry
/// outer attributes such as `#[cfg(feature = "...")]`: a row whose cfg is off
/// is not in the table (its number answers ENOSYS), so a feature-gated
/// syscall is one handler file plus one line here (docs/ADDING-A-SYSCALL.md).
/// Array elements cannot carry `#[cfg]`, so the rows are statements of a
/// const block that counts them and then fills an array of that length.
macro_rules! table {
    ($($(#[$m:meta])* $nr:literal $name:ident => $h:path, $sup:expr, [$($a:expr),*] $(, flags: $($f:ident)|+)?;)*) => {
        const TABLE_LEN: usize = {
            #[allow(unused_mut)]
            let mut n = 0;
            $($(#[$m])* { n += 1; })*
            n
        };

        static TABLE_ROWS: [Syscall; TABLE_LEN] = {
            const EMPTY: Syscall = Syscall {
                nr: 0,
                name: "",
                handler: empty_row,
                support: Full,
                args: &[],
                flags: Flags::NONE,
            };
            let mut t = [EMPTY; TABLE_LEN];
            #[allow(unused_mut, unused_variables)]
            let mut i = 0;
            $($(#[$m])* {
                t[i] = Syscall {
                    nr: $nr,
                    name: stringify!($name),
                    handler: $h,
                    support: $sup,
                    args: &[$($a),*],
                    flags: Flags::NONE$($(.union(Flags::$f))+)?,
                };
                i += 1;
            })*
            t
        };

        /// Every implemented syscall (the rows whose cfg is on).
        pub static TABLE: &[Syscall] = &TABLE_ROWS;
    };
}

/// The placeholder handler of the table's array before its rows are filled
/// in (never in the final table).
fn empty_row(_: &mut Task, _: &Args) -> SysResult<u64> {
    Err(Errno::ENOSYS)
}

table! {
    0 read => sys_read::read, Full, [Fd, OutBuf(2), Long];
    1 write => sys_read::write, Full, [Fd, InBuf(2), Long];
    2 open => sys_open::open, Full, [Path, OpenFlags, OpenMode(1)];
    3 close => sys_open::close, Full, [Fd];
    4 stat => sys_stat::stat, Full, [Path, StatOut];
    5 fstat => sys_stat::fstat, Full, [Fd, StatOut];
    6 lstat => sys_stat::lstat, Full, [Path, StatOut];
    7 poll => sys_poll::poll, Full, [PollFds(1), Long, Int];
    8 lseek => sys_read::lseek, Full, [Fd, Long, Whence];
    9 mmap => sys_mmap::mmap, Partial("regular files map their page cache (tmpfs data, or the host file read on demand); a mapping keeps the pages of a file truncated under it where Linux unmaps them (no SIGBUS after truncate); procfs/sysfs files are mapped as copies; MAP_HUGETLB, MAP_SYNC ignored"), [Ptr, Long, Prot, MmapFlags, Fd, Hex], flags: FLUSH_MM | RET_ADDR;
    10 mprotect => sys_mmap::mprotect, Full, [Ptr, Long, Prot], flags: FLUSH_MM;
    11 munmap => sys_mmap::munmap, Full, [Ptr, Long], flags: FLUSH_MM;
    12 brk => sys_mmap::brk, Full, [Ptr], flags: FLUSH_MM | RET_ADDR;
    13 rt_sigaction => sys_signal::rt_sigaction, Full, [Signal, SigAction, SigActionOut, Long];
    14 rt_sigprocmask => sys_signal::rt_sigprocmask, Full, [SigHow, SigSet, SigSetOut, Long];
    15 rt_sigreturn => sys_signal::rt_sigreturn, Full, [];
    16 ioctl => sys_ioctl::ioctl, Partial("FIONBIO, FIOCLEX, FIONCLEX on any fd; pseudo-terminals: termios get/set, window size, FIONREAD, TIOCOUTQ, TCFLSH, TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK, TIOCGPTPEER, TIOCSCTTY, TIOCNOTTY, TIOCGPGRP/TIOCSPGRP, TIOCGSID; FIONREAD on pipes; TCGETS and TIOCGWINSZ on a host terminal given as stdio; ENOTTY otherwise"), [Fd, Ioctl, IoctlArg(1)];
    17 pread64 => sys_read::pread64, Full, [Fd, OutBuf(2), Long, Long];
    18 pwrite64 => sys_read::pwrite64, Full, [Fd, InBuf(2), Long, Long];
    19 readv => sys_read::readv, Full, [Fd, Iovec(2), Int];
    20 writev => sys_read::writev, Full, [Fd, Iovec(2), Int];
    21 access => sys_stat::access, Full, [Path, AccessMode];
    22 pipe => sys_pipe::pipe, Full, [PipeFds];
    23 select => sys_poll::select, Full, [Int, Ptr, Ptr, Ptr, Timeval];
    24 sched_yield => sys_thread::sched_yield, Full, [];
    25 mremap => sys_mmap::mremap, Partial("MREMAP_DONTUNMAP not supported"), [Ptr, Long, Long, Hex, Ptr], flags: FLUSH_MM;
    26 msync => sys_mmap::msync, Full, [Ptr, Long, Hex];
    27 mincore => sys_mmap::mincore, Full, [Ptr, Long, Ptr];
    28 madvise => sys_mmap::madvise, Partial("MADV_DONTNEED zero-fills; other advice is accepted and ignored"), [Ptr, Long, Advice], flags: FLUSH_MM;
    29 shmget => sys_ipc::shmget, Full, [Int, Long, Oct];
    30 shmat => sys_ipc::shmat, Full, [Int, Ptr, Hex], flags: FLUSH_MM | RET_ADDR;
    31 shmctl => sys_ipc::shmctl, Full, [Int, Int, Ptr];
    32 dup => sys_open::dup, Full, [Fd];
    33 dup2 => sys_open::dup2, Full, [Fd, Fd];
    34 pause => sys_signal::pause, Full, [];
    35 nanosleep => sys_time::nanosleep, Full, [Timespec, TimespecOut];
    36 getitimer => sys_time::getitimer, Partial("ITIMER_REAL; the CPU-time timers read as disarmed"), [Int, Ptr];
    37 alarm => sys_time::alarm, Full, [Int];
    38 setitimer => sys_time::setitimer, Partial("ITIMER_REAL only"), [Int, Ptr, Ptr];
    39 getpid => sys_thread::getpid, Full, [];
    40 sendfile => sys_read::sendfile, Full, [Fd, Fd, Ptr, Long];
    41 socket => sys_socket::socket, Partial("AF_UNIX, AF_INET, AF_INET6 (TCP, UDP, ICMP echo), AF_NETLINK (NETLINK_ROUTE); SOCK_RAW and AF_PACKET are refused (EPERM/EAFNOSUPPORT)"), [SockFamily, SockType, SockProto(0)];
    42 connect => sys_socket::connect, Full, [Fd, SockaddrIn(2), Int];
    43 accept => sys_socket::accept, Full, [Fd, SockaddrOut(2), IntOut];
    44 sendto => sys_socket::sendto, Full, [Fd, InBuf(2), Long, MsgFlags, SockaddrIn(5), Int];
    45 recvfrom => sys_socket::recvfrom, Full, [Fd, OutBuf(2), Long, MsgFlags, SockaddrOut(5), IntOut];
    46 sendmsg => sys_socket::sendmsg, Partial("control messages: SCM_RIGHTS and SCM_CREDENTIALS on unix sockets; IP-level ones are accepted and ignored"), [Fd, Msghdr, MsgFlags];
    47 recvmsg => sys_socket::recvmsg, Partial("control messages: SCM_RIGHTS and SCM_CREDENTIALS; no timestamps, no MSG_ERRQUEUE"), [Fd, Msghdr, MsgFlags];
    48 shutdown => sys_socket::shutdown, Full, [Fd, Int];
    49 bind => sys_socket::bind, Full, [Fd, SockaddrIn(2), Int];
    50 listen => sys_socket::listen, Full, [Fd, Int];
    51 getsockname => sys_socket::getsockname, Full, [Fd, SockaddrOut(2), IntOut];
    52 getpeername => sys_socket::getpeername, Full, [Fd, SockaddrOut(2), IntOut];
    53 socketpair => sys_socket::socketpair, Partial("AF_UNIX only (EOPNOTSUPP for inet, as Linux)"), [SockFamily, SockType, SockProto(0), PipeFds];
    54 setsockopt => sys_socket::setsockopt, Partial("the options each family lists in docs/ARCHITECTURE.md; others ENOPROTOOPT"), [Fd, SockLevel, SockOpt(1), InBuf(4), Int];
    55 getsockopt => sys_socket::getsockopt, Partial("as setsockopt"), [Fd, SockLevel, SockOpt(1), Ptr, IntOut];
    56 clone => sys_process::clone, Partial("CLONE_VM without CLONE_THREAD or CLONE_VFORK is not supported; of the namespaces only CLONE_NEWNS and CLONE_NEWUTS (the others EPERM)"), [CloneFlags, Ptr, Ptr, Ptr, Hex];
    57 fork => sys_process::fork, Full, [];
    58 vfork => sys_process::vfork, Partial("the child gets a copy-on-write copy, the parent waits for its exec or exit"), [];
    59 execve => sys_process::execve, Full, [Path, Argv, Argv];
    60 exit => sys_thread::exit, Full, [Int];
    61 wait4 => sys_process::wait4, Partial("rusage zeroed"), [Int, WaitStatus, WaitOptions, Ptr];
    62 kill => sys_signal::kill, Full, [Int, Signal];
    63 uname => sys_uts::uname, Full, [Ptr];
    64 semget => sys_ipc::semget, Full, [Int, Int, Oct];
    65 semop => sys_ipc::semop, Full, [Int, Ptr, Int];
    66 semctl => sys_ipc::semctl, Full, [Int, Int, Int, Hex];
    67 shmdt => sys_ipc::shmdt, Full, [Ptr], flags: FLUSH_MM;
    68 msgget => sys_ipc::msgget, Full, [Int, Oct];
    69 msgsnd => sys_ipc::msgsnd, Full, [Int, Ptr, Long, Hex];
    70 msgrcv => sys_ipc::msgrcv, Full, [Int, Ptr, Long, Long, Hex];
    71 msgctl => sys_ipc::msgctl, Full, [Int, Int, Ptr];
    72 fcntl => sys_fcntl::fcntl, Partial("no leases or notifications"), [Fd, FcntlCmd, FcntlArg(1)];
    73 flock => sys_fcntl::flock, Full, [Fd, Hex];
    74 fsync => sys_sync::fsync, Partial("no-op: sandbox files live in memory; files of read-write bind mounts are left to the host kernel's writeback"), [Fd];
    75 fdatasync => sys_sync::fsync, Partial("no-op: sandbox files live in memory; files of read-write bind mounts are left to the host kernel's writeback"), [Fd];
    76 truncate => sys_attr::truncate, Full, [Path, Long];
    77 ftruncate => sys_attr::ftruncate, Full, [Fd, Long];
    78 getdents => sys_dir::getdents, Full, [Fd, Ptr, Long];
    79 getcwd => sys_dir::getcwd, Full, [OutBuf(1), Long];
    80 chdir => sys_dir::chdir, Full, [Path];
    81 fchdir => sys_dir::fchdir, Full, [Fd];
    82 rename => sys_link::rename, Partial("host directories cannot be moved (EXDEV)"), [Path, Path];
    83 mkdir => sys_link::mkdir, Full, [Path, Oct];
    84 rmdir => sys_link::rmdir, Full, [Path];
    85 creat => sys_open::creat, Full, [Path, Oct];
    86 link => sys_link::link, Full, [Path, Path];
    87 unlink => sys_link::unlink, Full, [Path];
    88 symlink => sys_link::symlink, Full, [Path, Path];
    89 readlink => sys_link::readlink, Full, [Path, OutBuf(2), Long];
    90 chmod => sys_attr::chmod, Full, [Path, Oct];
    91 fchmod => sys_attr::fchmod, Full, [Fd, Oct];
    92 chown => sys_attr::chown, Full, [Path, Int, Int];
    93 fchown => sys_attr::fchown, Full, [Fd, Int, Int];
    94 lchown => sys_attr::lchown, Full, [Path, Int, Int];
    95 umask => sys_attr::umask, Full, [Oct];
    96 gettimeofday => sys_time::gettimeofday, Full, [TimevalOut, Ptr];
    97 getrlimit => sys_info::getrlimit, Full, [Rlimit, Ptr];
    98 getrusage => sys_time::getrusage, Partial("CPU time (counted as user time); other fields zero"), [Int, Ptr];
    99 sysinfo => sys_info::sysinfo, Full, [Ptr];
    100 times => sys_time::times, Partial("CPU time counted as user time"), [Ptr];
    102 getuid => sys_cred::getuid, Full, [];
    104 getgid => sys_cred::getgid, Full, [];
    105 setuid => sys_cred::setuid, Full, [Int];
    106 setgid => sys_cred::setgid, Full, [Int];
    107 geteuid => sys_cred::geteuid, Full, [];
    108 getegid => sys_cred::getegid, Full, [];
    109 setpgid => sys_thread::setpgid, Full, [Int, Int];
    110 getppid => sys_thread::getppid, Full, [];
    111 getpgrp => sys_thread::getpgrp, Full, [];
    112 setsid => sys_thread::setsid, Full, [];
    113 setreuid => sys_cred::setreuid, Full, [Int, Int];
    114 setregid => sys_cred::setregid, Full, [Int, Int];
    115 getgroups => sys_cred::getgroups, Full, [Int, Ptr];
    116 setgroups => sys_cred::setgroups, Full, [Int, Ptr];
    117 setresuid => sys_cred::setresuid, Full, [Int, Int, Int];
    118 getresuid => sys_cred::getresuid, Full, [Ptr, Ptr, Ptr];
    119 setresgid => sys_cred::setresgid, Full, [Int, Int, Int];
    120 getresgid => sys_cred::getresgid, Full, [Ptr, Ptr, Ptr];
    121 getpgid => sys_thread::getpgid, Full, [Int];
    122 setfsuid => sys_cred::setfsuid, Full, [Int];
    123 setfsgid => sys_cred::setfsgid, Full, [Int];
    124 getsid => sys_thread::getsid, Full, [Int];
    125 capget => sys_cred::capget, Partial("reports the process's sets (from the OCI spec, or all for root); permission checks in the sentry go by uid"), [Ptr, Ptr];
    126 capset => sys_cred::capset, Partial("changes the caller's own sets within Linux's rules; not consulted by permission checks, and exec does not recompute them"), [Ptr, Ptr];
    127 rt_sigpending => sys_signal::rt_sigpending, Full, [SigSetOut, Long];
    128 rt_sigtimedwait => sys_signal::rt_sigtimedwait, Full, [SigSet, Ptr, Timespec, Long];
    129 rt_sigqueueinfo => sys_signal::rt_sigqueueinfo, Full, [Int, Signal, Ptr];
    130 rt_sigsuspend => sys_signal::rt_sigsuspend, Full, [SigSet, Long];
    131 sigaltstack => sys_signal::sigaltstack, Partial("recorded"), [Ptr, Ptr];
    132 utime => sys_attr::utime, Full, [Path, Ptr];
    133 mknod => sys_link::mknod, Partial("FIFOs and regular files; device nodes are EPERM"), [Path, Oct, Hex];
    134 uselib => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    135 personality => sys_info::personality, Partial("PER_LINUX only"), [Hex];
    137 statfs => sys_stat::statfs, Partial("generic figures (tmpfs-like)"), [Path, Ptr];
    138 fstatfs => sys_stat::fstatfs, Partial("generic figures (tmpfs-like)"), [Fd, Ptr];
    140 getpriority => sys_info::getpriority, Partial("per-process nice value, kept and reported; the host scheduler does not see it"), [Int, Int];
    141 setpriority => sys_info::setpriority, Partial("per-process nice value, kept and reported; the host scheduler does not see it"), [Int, Int, Int];
    142 sched_setparam => sys_sched::sched_setparam, Partial("kept and reported per thread with Linux's checks; the host schedules the sandbox's threads"), [Int, Ptr];
    143 sched_getparam => sys_sched::sched_getparam, Full, [Int, Ptr];
    144 sched_setscheduler => sys_sched::sched_setscheduler, Partial("kept and reported per thread with Linux's checks; the host schedules the sandbox's threads"), [Int, Int, Ptr];
    145 sched_getscheduler => sys_sched::sched_getscheduler, Full, [Int];
    146 sched_get_priority_max => sys_sched::sched_get_priority_max, Full, [Int];
    147 sched_get_priority_min => sys_sched::sched_get_priority_min, Full, [Int];
    148 sched_rr_get_interval => sys_sched::sched_rr_get_interval, Full, [Int, Ptr];
    149 mlock => sys_mmap::mlock, Partial("accepted: sandbox memory is never swapped"), [Ptr, Long];
    150 munlock => sys_mmap::mlock, Partial("accepted"), [Ptr, Long];
    151 mlockall => sys_mmap::mlockall, Partial("accepted"), [Hex];
    152 munlockall => sys_mmap::munlockall, Partial("accepted"), [];
    153 vhangup => sys_priv::vhangup, Refuses(Errno::EPERM, "EPERM as without CAP_SYS_TTY_CONFIG"), [];
    156 _sysctl => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    157 prctl => sys_thread::prctl, Partial("PR_SET/GET_NAME, DUMPABLE, PDEATHSIG, NO_NEW_PRIVS, SECCOMP, CAPBSET_READ"), [PrctlOption, Hex, Hex, Hex, Hex];
    158 arch_prctl => sys_thread::arch_prctl, Full, [ArchPrctlCode, Hex];
    159 adjtimex => sys_time::adjtimex, Partial("reads an unsynchronised clock (TIME_ERROR); changes are EPERM (no CAP_SYS_TIME in the sandbox)"), [Ptr];
    160 setrlimit => sys_info::setrlimit, Partial("as prlimit64"), [Int, Rlimit];
    161 chroot => sys_dir::chroot, Partial("/proc/PID/root, /proc/PID/cwd and /proc/self/exe still show paths from the sandbox's root"), [Path];
    162 sync => sys_sync::sync, Partial("no-op: sandbox files live in memory; files of read-write bind mounts are left to the host kernel's writeback"), [];
    163 acct => sys_priv::acct, Refuses(Errno::EPERM, "no process accounting (EPERM as without CAP_SYS_PACCT)"), [Path];
    164 settimeofday => sys_time::settimeofday, Partial("EPERM after Linux's argument checks: the sandbox never sets the host clock"), [Ptr, Ptr];
    165 mount => sys_mount::mount, Partial("tmpfs (mode=; size=, nr_inodes= checked, not enforced), proc, sysfs, bind mounts (MS_BIND, MS_REC) of a directory or file, MS_REMOUNT with or without MS_BIND changing only read-only; propagation flags accepted (mounts never propagate: every mount table is private); MS_MOVE EINVAL; other file system types ENODEV; the other MS_* flags (nosuid, noexec...) accepted and ignored"), [Path, Path, Path, Hex, Ptr];
    166 umount2 => sys_mount::umount2, Partial("EBUSY for a mount with mounts below it or holding the caller's working directory, not for one holding open files"), [Path, Hex];
    167 swapon => sys_priv::swapon, Refuses(Errno::EPERM, "no swap (EPERM as without CAP_SYS_ADMIN, after the flags check)"), [Path, Hex];
    168 swapoff => sys_priv::swapoff, Refuses(Errno::EPERM, "no swap (EPERM as without CAP_SYS_ADMIN)"), [Path];
    169 reboot => sys_priv::reboot, Refuses(Errno::EPERM, "EPERM as without CAP_SYS_BOOT; with it, bad magic is EINVAL and the rest EPERM"), [Hex, Hex, Hex, Ptr];
    170 sethostname => sys_uts::sethostname, Full, [InBuf(1), Long];
    171 setdomainname => sys_uts::setdomainname, Full, [InBuf(1), Long];
    172 iopl => sys_priv::iopl, Partial("level 0 only: higher levels EPERM (no I/O ports)"), [Int];
    173 ioperm => sys_priv::ioperm, Partial("turning access off only: granting EPERM (no I/O ports)"), [Hex, Long, Int];
    174 create_module => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    175 init_module => sys_priv::modules, Refuses(Errno::EPERM, "no kernel modules (EPERM as without CAP_SYS_MODULE)"), [Ptr, Long, Path];
    176 delete_module => sys_priv::modules, Refuses(Errno::EPERM, "no kernel modules (EPERM as without CAP_SYS_MODULE)"), [Path, Hex];
    177 get_kernel_syms => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    178 query_module => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    180 nfsservctl => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    181 getpmsg => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    182 putpmsg => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    183 afs_syscall => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    184 tuxcall => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    185 security => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    186 gettid => sys_thread::gettid, Full, [];
    187 readahead => sys_sync::readahead, Partial("argument checks; no effect (data is read when the program reads it)"), [Fd, Long, Long];
    188 setxattr => sys_xattr::setxattr, Partial("user.* (and trusted./security. for root) on files the sandbox created or copied up; host attributes are not shown"), [Path, Path, InBuf(3), Long, Hex];
    189 lsetxattr => sys_xattr::lsetxattr, Partial("as setxattr"), [Path, Path, InBuf(3), Long, Hex];
    190 fsetxattr => sys_xattr::fsetxattr, Partial("as setxattr"), [Fd, Path, InBuf(3), Long, Hex];
    191 getxattr => sys_xattr::getxattr, Partial("as setxattr"), [Path, Path, OutBuf(3), Long];
    192 lgetxattr => sys_xattr::lgetxattr, Partial("as setxattr"), [Path, Path, OutBuf(3), Long];
    193 fgetxattr => sys_xattr::fgetxattr, Partial("as setxattr"), [Fd, Path, OutBuf(3), Long];
    194 listxattr => sys_xattr::listxattr, Partial("as setxattr"), [Path, Ptr, Long];
    195 llistxattr => sys_xattr::llistxattr, Partial("as setxattr"), [Path, Ptr, Long];
    196 flistxattr => sys_xattr::flistxattr, Partial("as setxattr"), [Fd, Ptr, Long];
    197 removexattr => sys_xattr::removexattr, Partial("as setxattr"), [Path, Path];
    198 lremovexattr => sys_xattr::lremovexattr, Partial("as setxattr"), [Path, Path];
    199 fremovexattr => sys_xattr::fremovexattr, Partial("as setxattr"), [Fd, Path];
    200 tkill => sys_signal::tkill, Full, [Int, Signal];
    201 time => sys_time::time, Full, [Ptr];
    202 futex => sys_thread::futex, Full, [Ptr, FutexOp, Int, FutexTimeout(1), Ptr, Hex];
    203 sched_setaffinity => sys_info::sched_setaffinity, Partial("accepted, no effect"), [Int, Long, Ptr];
    204 sched_getaffinity => sys_thread::sched_getaffinity, Full, [Int, Long, Ptr];
    212 lookup_dcookie => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    213 epoll_create => sys_poll::epoll_create, Full, [Int];
    214 epoll_ctl_old => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    215 epoll_wait_old => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    217 getdents64 => sys_dir::getdents64, Full, [Fd, Ptr, Long];
    218 set_tid_address => sys_thread::set_tid_address, Full, [Ptr];
    219 restart_syscall => sys_priv::restart_syscall, Full, [];
    220 semtimedop => sys_ipc::semtimedop, Full, [Int, Ptr, Int, Timespec];
    221 fadvise64 => sys_sync::fadvise64, Partial("accepted, no effect"), [Fd, Long, Long, Int];
    222 timer_create => sys_time::timer_create, Partial("CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME; SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE"), [ClockId, Ptr, Ptr];
    223 timer_settime => sys_time::timer_settime, Full, [Int, TimerFlags, Ptr, Ptr];
    224 timer_gettime => sys_time::timer_gettime, Full, [Int, Ptr];
    225 timer_getoverrun => sys_time::timer_getoverrun, Full, [Int];
    226 timer_delete => sys_time::timer_delete, Full, [Int];
    227 clock_settime => sys_time::clock_settime, Partial("EPERM after Linux's argument checks: the sandbox never sets the host clock"), [ClockId, Ptr];
    228 clock_gettime => sys_time::clock_gettime, Full, [ClockId, TimespecOut];
    229 clock_getres => sys_time::clock_getres, Full, [ClockId, TimespecOut];
    230 clock_nanosleep => sys_time::clock_nanosleep, Full, [ClockId, TimerFlags, Timespec, TimespecOut];
    231 exit_group => sys_thread::exit_group, Full, [Int];
    232 epoll_wait => sys_poll::epoll_wait, Partial("EPOLLET may report an extra event (any notification of the file counts), never misses one"), [Fd, EpollEventsOut, Int, Int];
    233 epoll_ctl => sys_poll::epoll_ctl, Full, [Fd, EpollOp, Fd, EpollEvent];
    234 tgkill => sys_signal::tgkill, Full, [Int, Int, Signal];
    235 utimes => sys_attr::utimes, Full, [Path, Ptr];
    236 vserver => sys_priv::removed, Refuses(Errno::ENOSYS, "removed from Linux, which answers ENOSYS"), [];
    240 mq_open => sys_ipc::mq_open, Full, [Path, OpenFlags, Oct, Ptr];
    241 mq_unlink => sys_ipc::mq_unlink, Full, [Path];
    242 mq_timedsend => sys_ipc::mq_timedsend, Full, [Fd, Ptr, Long, Int, Timespec];
    243 mq_timedreceive => sys_ipc::mq_timedreceive, Full, [Fd, Ptr, Long, Ptr, Timespec];
    244 mq_notify => sys_ipc::mq_notify, Partial("SIGEV_SIGNAL and SIGEV_NONE; SIGEV_THREAD (glibc's netlink notification) answers ENOSYS; a registration ends when its process exits, not when it closes the descriptor"), [Fd, Ptr];
    245 mq_getsetattr => sys_ipc::mq_getsetattr, Full, [Fd, Ptr, Ptr];
    246 kexec_load => sys_priv::kexec, Refuses(Errno::EPERM, "no kexec (EPERM as without CAP_SYS_BOOT)"), [Hex, Long, Ptr, Hex];
    247 waitid => sys_process::waitid, Full, [Int, Int, Ptr, WaitOptions];
    251 ioprio_set => sys_sched::ioprio_set, Partial("kept and reported with Linux's checks; the host does the I/O"), [Int, Int, Hex];
    252 ioprio_get => sys_sched::ioprio_get, Full, [Int, Int];
    253 inotify_init => sys_inotify::inotify_init, Full, [];
    254 inotify_add_watch => sys_inotify::inotify_add_watch, Partial("events of changes made in the sandbox (not of the host behind a gofer mount); watches see one container's mount table; IN_DELETE_SELF waits for the last close only of files opened while a watch existed, not for an mmap or a working directory; a host file renamed in the overlay loses its watches"), [Fd, Path, Hex];
    255 inotify_rm_watch => sys_inotify::inotify_rm_watch, Full, [Fd, Int];
    257 openat => sys_open::openat, Full, [Fd, Path, OpenFlags, OpenMode(2)];
    258 mkdirat => sys_link::mkdirat, Full, [Fd, Path, Oct];
    259 mknodat => sys_link::mknodat, Partial("FIFOs and regular files; device nodes are EPERM"), [Fd, Path, Oct, Hex];
    260 fchownat => sys_attr::fchownat, Full, [Fd, Path, Int, Int, AtFlags];
    261 futimesat => sys_attr::futimesat, Full, [Fd, Path, Ptr];
    262 newfstatat => sys_stat::newfstatat, Full, [Fd, Path, StatOut, AtFlags];
    263 unlinkat => sys_link::unlinkat, Full, [Fd, Path, AtFlags];
    264 renameat => sys_link::renameat, Partial("as rename"), [Fd, Path, Fd, Path];
    265 linkat => sys_link::linkat, Full, [Fd, Path, Fd, Path, AtFlags];
    266 symlinkat => sys_link::symlinkat, Full, [Path, Fd, Path];
    267 readlinkat => sys_link::readlinkat, Full, [Fd, Path, OutBuf(3), Long];
    268 fchmodat => sys_attr::fchmodat, Full, [Fd, Path, Oct];
    269 faccessat => sys_stat::faccessat, Full, [Fd, Path, AccessMode];
    270 pselect6 => sys_poll::pselect6, Full, [Int, Ptr, Ptr, Ptr, Timespec, Ptr];
    271 ppoll => sys_poll::ppoll, Full, [PollFds(1), Long, Timespec, SigSet, Long];
    272 unshare => sys_mount::unshare, Partial("CLONE_FILES, CLONE_FS, CLONE_SYSVSEM, CLONE_NEWNS (a copy of the mount table), CLONE_NEWUTS; CLONE_NEWUSER, NEWIPC, NEWNET, NEWPID, NEWCGROUP and NEWTIME are EINVAL (one such namespace for the whole sandbox)"), [CloneFlags];
    273 set_robust_list => sys_thread::set_robust_list, Full, [Ptr, Long];
    274 get_robust_list => sys_thread::get_robust_list, Full, [Int, Ptr, Ptr];
    275 splice => sys_read::splice, Partial("a copy through the sentry; SPLICE_F_* flags ignored"), [Fd, Ptr, Fd, Ptr, Long, Hex];
    276 tee => sys_read::tee, Full, [Fd, Fd, Long, Hex];
    277 sync_file_range => sys_sync::sync_file_range, Partial("argument checks, then as fsync"), [Fd, Long, Long, Hex];
    278 vmsplice => sys_read::vmsplice, Partial("a copy, as writev/readv on the pipe; SPLICE_F_NONBLOCK follows the pipe's O_NONBLOCK"), [Fd, Iovec(2), Long, Hex];
    280 utimensat => sys_attr::utimensat, Full, [Fd, Path, Ptr, AtFlags];
    281 epoll_pwait => sys_poll::epoll_pwait, Partial("as epoll_wait"), [Fd, EpollEventsOut, Int, Int, SigSet, Long];
    282 signalfd => sys_signal::signalfd, Full, [Fd, SigSet, Long];
    283 timerfd_create => sys_time::timerfd_create, Partial("CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME"), [ClockId, Hex];
    284 eventfd => sys_poll::eventfd, Full, [Int];
    285 fallocate => sys_attr::fallocate, Partial("tmpfs: allocate, KEEP_SIZE, PUNCH_HOLE; other files: mode 0 grows the file"), [Fd, Int, Long, Long];
    286 timerfd_settime => sys_time::timerfd_settime, Full, [Fd, TimerFlags, Ptr, Ptr];
    287 timerfd_gettime => sys_time::timerfd_gettime, Full, [Fd, Ptr];
    288 accept4 => sys_socket::accept4, Full, [Fd, SockaddrOut(2), IntOut, SockType];
    289 signalfd4 => sys_signal::signalfd4, Full, [Fd, SigSet, Long, Hex];
    290 eventfd2 => sys_poll::eventfd2, Full, [Int, Hex];
    291 epoll_create1 => sys_poll::epoll_create1, Full, [Hex];
    292 dup3 => sys_open::dup3, Full, [Fd, Fd, FdFlags];
    293 pipe2 => sys_pipe::pipe2, Full, [PipeFds, FdFlags];
    294 inotify_init1 => sys_inotify::inotify_init1, Full, [Hex];
    295 preadv => sys_read::preadv, Full, [Fd, Iovec(2), Int, Long, Long];
    296 pwritev => sys_read::pwritev, Full, [Fd, Iovec(2), Int, Long, Long];
    297 rt_tgsigqueueinfo => sys_signal::rt_tgsigqueueinfo, Full, [Int, Int, Signal, Ptr];
    299 recvmmsg => sys_socket::recvmmsg, Partial("as recvmsg"), [Fd, Ptr, Int, MsgFlags, Timespec];
    302 prlimit64 => sys_info::prlimit64, Partial("own process only"), [Int, Rlimit, Ptr, Ptr];
    305 clock_adjtime => sys_time::clock_adjtime, Partial("CLOCK_REALTIME as adjtimex; other clocks EOPNOTSUPP"), [ClockId, Ptr];
    306 syncfs => sys_sync::syncfs, Partial("as sync"), [Fd];
    307 sendmmsg => sys_socket::sendmmsg, Partial("as sendmsg"), [Fd, Ptr, Int, MsgFlags];
    308 setns => sys_mount::setns, Partial("/proc/PID/ns/uts and /proc/PID/ns/mnt files only (the sandbox makes no other namespace); pidfds are EINVAL"), [Fd, CloneFlags];
    309 getcpu => sys_info::getcpu, Partial("always CPU 0, node 0"), [Ptr, Ptr, Ptr];
    310 process_vm_readv => sys_vm::process_vm_readv, Full, [Int, Iovec(2), Long, Ptr, Long, Hex];
    311 process_vm_writev => sys_vm::process_vm_writev, Full, [Int, Iovec(2), Long, Ptr, Long, Hex];
    312 kcmp => sys_pidfd::kcmp, Full, [Int, Int, Int, Long, Long];
    313 finit_module => sys_priv::modules, Refuses(Errno::EPERM, "no kernel modules (EPERM as without CAP_SYS_MODULE)"), [Fd, Path, Hex];
    314 sched_setattr => sys_sched::sched_setattr, Partial("SCHED_DEADLINE fails admission (EBUSY); no utilization clamping (EOPNOTSUPP); kept, not enforced"), [Int, Ptr, Hex];
    315 sched_getattr => sys_sched::sched_getattr, Full, [Int, Ptr, Int, Hex];
    316 renameat2 => sys_link::renameat2, Partial("RENAME_NOREPLACE; RENAME_EXCHANGE within the writable layer"), [Fd, Path, Fd, Path, Hex];
    317 seccomp => sys_seccomp::seccomp, Partial("strict mode and classic-BPF filters (TSYNC, TSYNC_ESRCH, LOG, SPEC_ALLOW; every action; run in the sentry beside the OCI profile); user-space notification (NEW_LISTENER, WAIT_KILLABLE_RECV) answers EINVAL, as a kernel without it; RET_TRACE answers ENOSYS (no ptrace)"), [Int, Hex, Ptr];
    318 getrandom => sys_info::getrandom, Full, [OutBuf(1), Long, Hex];
    319 memfd_create => sys_mmap::memfd_create, Partial("no sealing"), [Path, Hex];
    320 kexec_file_load => sys_priv::kexec, Refuses(Errno::EPERM, "no kexec (EPERM as without CAP_SYS_BOOT)"), [Fd, Fd, Long, Path, Hex];
    322 execveat => sys_process::execveat, Partial("absolute paths or AT_FDCWD"), [Fd, Path, Argv, Argv, AtFlags];
    324 membarrier => sys_thread::membarrier, Partial("no MEMBARRIER_CMD_*_RSEQ (there is no rseq)"), [Hex, Hex, Int];
    325 mlock2 => sys_mmap::mlock2, Partial("accepted"), [Ptr, Long, Hex];
    326 copy_file_range => sys_read::copy_file_range, Full, [Fd, Ptr, Fd, Ptr, Long, Hex];
    327 preadv2 => sys_read::preadv2, Partial("RWF_ATOMIC and RWF_DONTCACHE are EOPNOTSUPP (no direct I/O, no page cache); RWF_NOWAIT checks readiness first"), [Fd, Iovec(2), Int, Long, Long, Hex];
    328 pwritev2 => sys_read::pwritev2, Partial("RWF_ATOMIC and RWF_DONTCACHE are EOPNOTSUPP (no direct I/O, no page cache); RWF_NOWAIT checks readiness first"), [Fd, Iovec(2), Int, Long, Long, Hex];
    329 pkey_mprotect => sys_priv::pkey_mprotect, Partial("keys -1 and 0 only (no protection keys to allocate)"), [Ptr, Long, Prot, Int], flags: FLUSH_MM;
    330 pkey_alloc => sys_priv::pkey_alloc, Refuses(Errno::ENOSPC, "no protection keys (ENOSPC after the argument checks)"), [Hex, Hex];
    331 pkey_free => sys_priv::pkey_free, Refuses(Errno::EINVAL, "no key is ever allocated"), [Int];
    332 statx => sys_stat::statx, Partial("basic fields"), [Fd, Path, AtFlags, Hex, StatxOut];
    334 rseq => sys_thread::rseq, Refuses(Errno::ENOSYS, "restartable sequences are not supported; glibc falls back"), [Ptr, Int, Hex, Hex];
    #[cfg(feature = "example-syscall")]
    400 square => sys_example::square, Full, [Long];
    424 pidfd_send_signal => sys_pidfd::pidfd_send_signal, Full, [Fd, Signal, Ptr, Hex];
    434 pidfd_open => sys_pidfd::pidfd_open, Full, [Int, Hex];
    435 clone3 => sys_process::clone3, Partial("as clone"), [CloneArgs, Long];
    436 close_range => sys_open::close_range, Full, [Int, Int, Hex];
    437 openat2 => sys_open::openat2, Full, [Fd, Path, Hex, Long];
    438 pidfd_getfd => sys_pidfd::pidfd_getfd, Full, [Fd, Int, Hex];
    439 faccessat2 => sys_stat::faccessat2, Full, [Fd, Path, AccessMode, AtFlags];
    441 epoll_pwait2 => sys_poll::epoll_pwait2, Partial("as epoll_wait"), [Fd, EpollEventsOut, Int, Timespec, SigSet, Long];
    447 memfd_secret => sys_priv::removed, Refuses(Errno::ENOSYS, "as Linux booted without secretmem.enable"), [Hex];
}

fn index() -> &'static [Option<&'static Syscall>] {
    static INDEX: OnceLock<Vec<Option<&'static Syscall>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v = vec![None; NR_SYSCALLS.max(TABLE.iter().map(|s| s.nr + 1).max().unwrap_or(0))];
        for s in TABLE {
            v[s.nr] = Some(s);
        }
        v
    })
}

/// The table entry of `nr`.
pub fn lookup(nr: u64) -> Option<&'static Syscall> {
    usize::try_from(nr)
        .ok()
        .and_then(|n| index().get(n).copied().flatten())
}

/// The name of `nr` (empty when unknown).
pub fn name_of(nr: u64) -> &'static str {
    match lookup(nr) {
        Some(s) => s.name,
        None => usize::try_from(nr)
            .ok()
            .and_then(|n| NAMES.get(n).copied())
            .unwrap_or(""),
    }
}

/// Serves the syscall in `task.regs` and writes the result to RAX.
pub fn dispatch(task: &mut Task) {
    let nr = task.regs.rax;
    task.orig_rax = nr;
    let r = &task.regs;
    let args = Args([r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]);
    let entry = lookup(nr);
    let traced = strace::enter(task, nr, &args);
    let profiled = task.kernel.profile().start();
    let res = match sys_seccomp::enforce(task, nr, &args) {
        sys_seccomp::Outcome::Skip(rax) => Ok(rax),
        sys_seccomp::Outcome::Fail(e) => Err(e),
        sys_seccomp::Outcome::Run { log } => match entry {
            Some(s) => {
                if log {
                    tracing::info!(nr, name = s.name, "seccomp: logged system call");
                }
                (s.handler)(task, &args)
            }
            None => {
                task.kernel.note_unimplemented(nr, name_of(nr));
                Err(Errno::ENOSYS)
            }
        },
    };
    if let Some(t0) = profiled {
        let tg = &task.handle.tg;
        let failed = res.is_err();
        task.kernel.profile().record(
            &tg.container.id,
            tg.pid,
            &task.comm,
            nr,
            t0.elapsed(),
            failed,
        );
    }
    task.regs.rax = match res {
        Ok(v) => v,
        Err(e) if (512..=516).contains(&e.0) => {
            // Resolved when signals are delivered: restart or EINTR.
            task.pending_restart = Some(e);
            (-(Errno::EINTR.0 as i64)) as u64
        }
        Err(e) => (-(e.0 as i64)) as u64,
    };
    if entry.is_some_and(|s| s.flags.contains(Flags::FLUSH_MM))
        && task.handle.tg.lock().threads.len() > 1
    {
        crate::kernel::process::flush_shared_mm(task);
    }
    if let Some(p) = traced {
        strace::exit(task, p, &res);
    }
}

/// Markdown for docs/SYSCALLS.md, generated from the table: every number
/// with a name (Linux's, or a table row's where Linux has none, as the
/// `example-syscall` feature's `square`).
pub fn markdown() -> String {
    let mut out = String::from(
        "# System calls\n\nGenerated from `sentry-core/src/syscalls/mod.rs` by \
         `gvisor syscalls --markdown`; do not edit by hand. Every number not listed \
         as implemented answers ENOSYS and is logged once per number.\n\n",
    );
    let implemented = TABLE.len();
    let named = (0..index().len())
        .filter(|&nr| !name_of(nr as u64).is_empty())
        .count();
    out.push_str(&format!(
        "{implemented} of {named} x86-64 system calls have a handler.\n\n"
    ));
    let extra: Vec<String> = TABLE
        .iter()
        .filter(|s| NAMES.get(s.nr).is_none_or(|n| n.is_empty()))
        .map(|s| format!("`{}` ({})", s.name, s.nr))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!(
            "Not in Linux's table (built in by a cargo feature): {}.\n\n",
            extra.join(", ")
        ));
    }
    out.push_str("| nr | name | support | notes |\n|---:|---|---|---|\n");
    for nr in 0..index().len() {
        let name = name_of(nr as u64);
        if name.is_empty() {
            continue;
        }
        let (sup, note) = match lookup(nr as u64).map(|s| s.support) {
            Some(Full) => ("full".to_string(), ""),
            Some(Partial(n)) => ("partial".to_string(), n),
            Some(Refuses(e, n)) => (format!("{} (deliberate)", e.name()), n),
            None => ("unimplemented (ENOSYS)".to_string(), ""),
        };
        out.push_str(&format!("| {nr} | {name} | {sup} | {note} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for s in TABLE {
            assert!(seen.insert(s.nr), "duplicate {}", s.nr);
            assert!(s.nr < NR_SYSCALLS);
            // A row may name a number Linux leaves unassigned (a feature's
            // example syscall); otherwise the names agree.
            assert!(
                NAMES[s.nr].is_empty() || NAMES[s.nr] == s.name,
                "name of {}",
                s.nr
            );
            assert!(s.args.len() <= 6);
            for a in s.args {
                if let InBuf(n) = a {
                    assert!((*n as usize) < s.args.len());
                }
            }
        }
        assert_eq!(lookup(1).unwrap().name, "write");
        assert!(lookup(1000).is_none());
        assert!(lookup(u64::MAX).is_none());
        assert_eq!(name_of(56), "clone");
    }

    #[test]
    fn args_truncate_as_linux() {
        let a = Args([
            0x1_0000_0003,
            u64::MAX,
            0xffff_ff9c,
            7,
            0x8000_0000_0000_0000,
            0,
        ]);
        assert_eq!(a.fd(0), 3);
        assert_eq!(a.fd(1), -1);
        assert_eq!(a.fd(2), libc::AT_FDCWD);
        assert_eq!(a.int(1), -1);
        assert_eq!(a.uint(0), 3);
        assert_eq!(a.long(1), -1);
        assert_eq!(a.len(3), 7);
        assert_eq!(a.ptr(4), 0x8000_0000_0000_0000);
        assert_eq!(a.raw(6), 0);
    }

    #[test]
    fn flags_ride_on_the_rows() {
        let flushing: Vec<_> = TABLE
            .iter()
            .filter(|s| s.flags.contains(Flags::FLUSH_MM))
            .map(|s| s.nr)
            .collect();
        assert_eq!(flushing, [9, 10, 11, 12, 25, 28, 30, 67, 329]);
        assert!(lookup(12).is_some_and(|s| s.flags.contains(Flags::RET_ADDR)));
        assert!(lookup(0).is_some_and(|s| s.flags == Flags::NONE));
    }

    // docs/SYSCALLS.md is the default build's table.
    #[cfg(not(feature = "example-syscall"))]
    #[test]
    fn syscalls_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SYSCALLS.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            doc == markdown(),
            "docs/SYSCALLS.md is stale: run `target/debug/gvisor syscalls --markdown > docs/SYSCALLS.md`"
        );
    }
}
