//! The system call table, as data: number → (name, handler, support level,
//! argument kinds for strace), and the dispatcher. One file per family.
//!
//! A number without an entry returns ENOSYS and is logged once per number.
//! docs/SYSCALLS.md is generated from this table (`gvisor syscalls --markdown`).

use std::sync::OnceLock;
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

mod at;
pub mod names;
pub mod sys_attr;
pub mod sys_cred;
pub mod sys_dir;
#[cfg(feature = "example-syscall")]
pub mod sys_example;
pub mod sys_fcntl;
pub mod sys_info;
pub mod sys_ioctl;
pub mod sys_link;
pub mod sys_mmap;
pub mod sys_open;
pub mod sys_pipe;
pub mod sys_poll;
pub mod sys_process;
pub mod sys_read;
pub mod sys_signal;
pub mod sys_socket;
pub mod sys_stat;
pub mod sys_sync;
pub mod sys_thread;
pub mod sys_time;
pub mod sys_uts;
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

/// How strace prints an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Signed decimal.
    Int,
    /// Hexadecimal.
    Hex,
    /// A file descriptor (AT_FDCWD shown by name).
    Fd,
    /// A NUL-terminated path.
    Path,
    /// A buffer written by the app whose length is argument `n`.
    InBuf(u8),
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
    0 read => sys_read::read, Full, [Fd, Hex, Int];
    1 write => sys_read::write, Full, [Fd, InBuf(2), Int];
    2 open => sys_open::open, Full, [Path, Hex, Hex];
    3 close => sys_open::close, Full, [Fd];
    4 stat => sys_stat::stat, Full, [Path, Hex];
    5 fstat => sys_stat::fstat, Full, [Fd, Hex];
    6 lstat => sys_stat::lstat, Full, [Path, Hex];
    7 poll => sys_poll::poll, Full, [Hex, Int, Int];
    8 lseek => sys_read::lseek, Full, [Fd, Int, Int];
    9 mmap => sys_mmap::mmap, Partial("regular files map their page cache (tmpfs data, or the host file read on demand); a mapping keeps the pages of a file truncated under it where Linux unmaps them (no SIGBUS after truncate); procfs/sysfs files are mapped as copies; MAP_HUGETLB, MAP_SYNC ignored"), [Hex, Hex, Hex, Hex, Fd, Hex], flags: FLUSH_MM | RET_ADDR;
    10 mprotect => sys_mmap::mprotect, Full, [Hex, Hex, Hex], flags: FLUSH_MM;
    11 munmap => sys_mmap::munmap, Full, [Hex, Hex], flags: FLUSH_MM;
    12 brk => sys_mmap::brk, Full, [Hex], flags: FLUSH_MM | RET_ADDR;
    13 rt_sigaction => sys_signal::rt_sigaction, Full, [Int, Hex, Hex, Int];
    14 rt_sigprocmask => sys_signal::rt_sigprocmask, Full, [Int, Hex, Hex, Int];
    15 rt_sigreturn => sys_signal::rt_sigreturn, Full, [];
    16 ioctl => sys_ioctl::ioctl, Partial("FIONBIO, FIOCLEX, FIONCLEX on any fd; pseudo-terminals: termios get/set, window size, FIONREAD, TIOCOUTQ, TCFLSH, TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK, TIOCGPTPEER, TIOCSCTTY, TIOCNOTTY, TIOCGPGRP/TIOCSPGRP, TIOCGSID; FIONREAD on pipes; TCGETS and TIOCGWINSZ on a host terminal given as stdio; ENOTTY otherwise"), [Fd, Hex, Hex];
    17 pread64 => sys_read::pread64, Full, [Fd, Hex, Int, Int];
    18 pwrite64 => sys_read::pwrite64, Full, [Fd, InBuf(2), Int, Int];
    19 readv => sys_read::readv, Full, [Fd, Hex, Int];
    20 writev => sys_read::writev, Full, [Fd, Hex, Int];
    21 access => sys_stat::access, Full, [Path, Int];
    22 pipe => sys_pipe::pipe, Full, [Hex];
    23 select => sys_poll::select, Full, [Int, Hex, Hex, Hex, Hex];
    24 sched_yield => sys_thread::sched_yield, Full, [];
    25 mremap => sys_mmap::mremap, Partial("MREMAP_DONTUNMAP not supported"), [Hex, Hex, Hex, Hex, Hex], flags: FLUSH_MM;
    26 msync => sys_mmap::msync, Full, [Hex, Hex, Hex];
    27 mincore => sys_mmap::mincore, Full, [Hex, Hex, Hex];
    28 madvise => sys_mmap::madvise, Partial("MADV_DONTNEED zero-fills; other advice is accepted and ignored"), [Hex, Hex, Int], flags: FLUSH_MM;
    32 dup => sys_open::dup, Full, [Fd];
    33 dup2 => sys_open::dup2, Full, [Fd, Fd];
    34 pause => sys_signal::pause, Full, [];
    35 nanosleep => sys_time::nanosleep, Full, [Hex, Hex];
    36 getitimer => sys_time::getitimer, Partial("ITIMER_REAL; the CPU-time timers read as disarmed"), [Int, Hex];
    37 alarm => sys_time::alarm, Full, [Int];
    38 setitimer => sys_time::setitimer, Partial("ITIMER_REAL only"), [Int, Hex, Hex];
    39 getpid => sys_thread::getpid, Full, [];
    40 sendfile => sys_read::sendfile, Full, [Fd, Fd, Hex, Int];
    41 socket => sys_socket::socket, Partial("AF_UNIX, AF_INET, AF_INET6 (TCP, UDP, ICMP echo), AF_NETLINK (NETLINK_ROUTE); SOCK_RAW and AF_PACKET are refused (EPERM/EAFNOSUPPORT)"), [Int, Int, Int];
    42 connect => sys_socket::connect, Full, [Fd, Hex, Int];
    43 accept => sys_socket::accept, Full, [Fd, Hex, Hex];
    44 sendto => sys_socket::sendto, Full, [Fd, InBuf(2), Int, Hex, Hex, Int];
    45 recvfrom => sys_socket::recvfrom, Full, [Fd, Hex, Int, Hex, Hex, Hex];
    46 sendmsg => sys_socket::sendmsg, Partial("control messages: SCM_RIGHTS and SCM_CREDENTIALS on unix sockets; IP-level ones are accepted and ignored"), [Fd, Hex, Hex];
    47 recvmsg => sys_socket::recvmsg, Partial("control messages: SCM_RIGHTS and SCM_CREDENTIALS; no timestamps, no MSG_ERRQUEUE"), [Fd, Hex, Hex];
    48 shutdown => sys_socket::shutdown, Full, [Fd, Int];
    49 bind => sys_socket::bind, Full, [Fd, Hex, Int];
    50 listen => sys_socket::listen, Full, [Fd, Int];
    51 getsockname => sys_socket::getsockname, Full, [Fd, Hex, Hex];
    52 getpeername => sys_socket::getpeername, Full, [Fd, Hex, Hex];
    53 socketpair => sys_socket::socketpair, Partial("AF_UNIX only (EOPNOTSUPP for inet, as Linux)"), [Int, Int, Int, Hex];
    54 setsockopt => sys_socket::setsockopt, Partial("the options each family lists in docs/ARCHITECTURE.md; others ENOPROTOOPT"), [Fd, Int, Int, Hex, Int];
    55 getsockopt => sys_socket::getsockopt, Partial("as setsockopt"), [Fd, Int, Int, Hex, Hex];
    56 clone => sys_process::clone, Partial("CLONE_VM without CLONE_THREAD or CLONE_VFORK, and namespaces, are not supported"), [Hex, Hex, Hex, Hex, Hex];
    57 fork => sys_process::fork, Full, [];
    58 vfork => sys_process::vfork, Partial("the child gets a copy-on-write copy, the parent waits for its exec or exit"), [];
    59 execve => sys_process::execve, Full, [Path, Hex, Hex];
    60 exit => sys_thread::exit, Full, [Int];
    61 wait4 => sys_process::wait4, Partial("rusage zeroed"), [Int, Hex, Hex, Hex];
    62 kill => sys_signal::kill, Full, [Int, Int];
    63 uname => sys_uts::uname, Full, [Hex];
    72 fcntl => sys_fcntl::fcntl, Partial("no leases or notifications"), [Fd, Int, Hex];
    73 flock => sys_fcntl::flock, Full, [Fd, Hex];
    74 fsync => sys_sync::fsync, Partial("no-op: sandbox files live in memory; files of read-write bind mounts are left to the host kernel's writeback"), [Fd];
    75 fdatasync => sys_sync::fsync, Partial("no-op: sandbox files live in memory; files of read-write bind mounts are left to the host kernel's writeback"), [Fd];
    76 truncate => sys_attr::truncate, Full, [Path, Int];
    77 ftruncate => sys_attr::ftruncate, Full, [Fd, Int];
    79 getcwd => sys_dir::getcwd, Full, [Hex, Int];
    80 chdir => sys_dir::chdir, Full, [Path];
    81 fchdir => sys_dir::fchdir, Full, [Fd];
    82 rename => sys_link::rename, Partial("host directories cannot be moved (EXDEV)"), [Path, Path];
    83 mkdir => sys_link::mkdir, Full, [Path, Hex];
    84 rmdir => sys_link::rmdir, Full, [Path];
    85 creat => sys_open::creat, Full, [Path, Hex];
    86 link => sys_link::link, Full, [Path, Path];
    87 unlink => sys_link::unlink, Full, [Path];
    88 symlink => sys_link::symlink, Full, [Path, Path];
    89 readlink => sys_link::readlink, Full, [Path, Hex, Int];
    90 chmod => sys_attr::chmod, Full, [Path, Hex];
    91 fchmod => sys_attr::fchmod, Full, [Fd, Hex];
    92 chown => sys_attr::chown, Full, [Path, Int, Int];
    93 fchown => sys_attr::fchown, Full, [Fd, Int, Int];
    94 lchown => sys_attr::lchown, Full, [Path, Int, Int];
    95 umask => sys_attr::umask, Full, [Hex];
    96 gettimeofday => sys_time::gettimeofday, Full, [Hex, Hex];
    97 getrlimit => sys_info::getrlimit, Full, [Int, Hex];
    98 getrusage => sys_time::getrusage, Partial("CPU time (counted as user time); other fields zero"), [Int, Hex];
    99 sysinfo => sys_info::sysinfo, Full, [Hex];
    100 times => sys_time::times, Partial("CPU time counted as user time"), [Hex];
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
    115 getgroups => sys_cred::getgroups, Full, [Int, Hex];
    116 setgroups => sys_cred::setgroups, Full, [Int, Hex];
    117 setresuid => sys_cred::setresuid, Full, [Int, Int, Int];
    118 getresuid => sys_cred::getresuid, Full, [Hex, Hex, Hex];
    119 setresgid => sys_cred::setresgid, Full, [Int, Int, Int];
    120 getresgid => sys_cred::getresgid, Full, [Hex, Hex, Hex];
    121 getpgid => sys_thread::getpgid, Full, [Int];
    122 setfsuid => sys_cred::setfsuid, Full, [Int];
    123 setfsgid => sys_cred::setfsgid, Full, [Int];
    124 getsid => sys_thread::getsid, Full, [Int];
    125 capget => sys_cred::capget, Partial("reports the process's sets (from the OCI spec, or all for root); permission checks in the sentry go by uid"), [Hex, Hex];
    126 capset => sys_cred::capset, Partial("changes the caller's own sets within Linux's rules; not consulted by permission checks, and exec does not recompute them"), [Hex, Hex];
    127 rt_sigpending => sys_signal::rt_sigpending, Full, [Hex, Int];
    128 rt_sigtimedwait => sys_signal::rt_sigtimedwait, Full, [Hex, Hex, Hex, Int];
    129 rt_sigqueueinfo => sys_signal::rt_sigqueueinfo, Full, [Int, Int, Hex];
    130 rt_sigsuspend => sys_signal::rt_sigsuspend, Full, [Hex, Int];
    131 sigaltstack => sys_signal::sigaltstack, Partial("recorded"), [Hex, Hex];
    133 mknod => sys_link::mknod, Partial("FIFOs and regular files; device nodes are EPERM"), [Path, Hex, Hex];
    135 personality => sys_info::personality, Partial("PER_LINUX only"), [Hex];
    137 statfs => sys_stat::statfs, Partial("generic figures (tmpfs-like)"), [Path, Hex];
    138 fstatfs => sys_stat::fstatfs, Partial("generic figures (tmpfs-like)"), [Fd, Hex];
    140 getpriority => sys_info::getpriority, Partial("per-process nice value, kept and reported; the host scheduler does not see it"), [Int, Int];
    141 setpriority => sys_info::setpriority, Partial("per-process nice value, kept and reported; the host scheduler does not see it"), [Int, Int, Int];
    149 mlock => sys_mmap::mlock, Partial("accepted: sandbox memory is never swapped"), [Hex, Hex];
    150 munlock => sys_mmap::mlock, Partial("accepted"), [Hex, Hex];
    151 mlockall => sys_mmap::mlockall, Partial("accepted"), [Hex];
    152 munlockall => sys_mmap::munlockall, Partial("accepted"), [];
    157 prctl => sys_thread::prctl, Partial("PR_SET/GET_NAME, DUMPABLE, PDEATHSIG, NO_NEW_PRIVS, CAPBSET_READ"), [Int, Hex, Hex, Hex, Hex];
    158 arch_prctl => sys_thread::arch_prctl, Full, [Hex, Hex];
    170 sethostname => sys_uts::sethostname, Full, [Hex, Int];
    186 gettid => sys_thread::gettid, Full, [];
    188 setxattr => sys_xattr::setxattr, Partial("user.* (and trusted./security. for root) on files the sandbox created or copied up; host attributes are not shown"), [Path, Path, Hex, Int, Hex];
    189 lsetxattr => sys_xattr::lsetxattr, Partial("as setxattr"), [Path, Path, Hex, Int, Hex];
    190 fsetxattr => sys_xattr::fsetxattr, Partial("as setxattr"), [Fd, Path, Hex, Int, Hex];
    191 getxattr => sys_xattr::getxattr, Partial("as setxattr"), [Path, Path, Hex, Int];
    192 lgetxattr => sys_xattr::lgetxattr, Partial("as setxattr"), [Path, Path, Hex, Int];
    193 fgetxattr => sys_xattr::fgetxattr, Partial("as setxattr"), [Fd, Path, Hex, Int];
    194 listxattr => sys_xattr::listxattr, Partial("as setxattr"), [Path, Hex, Int];
    195 llistxattr => sys_xattr::llistxattr, Partial("as setxattr"), [Path, Hex, Int];
    196 flistxattr => sys_xattr::flistxattr, Partial("as setxattr"), [Fd, Hex, Int];
    197 removexattr => sys_xattr::removexattr, Partial("as setxattr"), [Path, Path];
    198 lremovexattr => sys_xattr::lremovexattr, Partial("as setxattr"), [Path, Path];
    199 fremovexattr => sys_xattr::fremovexattr, Partial("as setxattr"), [Fd, Path];
    200 tkill => sys_signal::tkill, Full, [Int, Int];
    201 time => sys_time::time, Full, [Hex];
    202 futex => sys_thread::futex, Full, [Hex, Int, Int, Hex, Hex, Hex];
    203 sched_setaffinity => sys_info::sched_setaffinity, Partial("accepted, no effect"), [Int, Int, Hex];
    204 sched_getaffinity => sys_thread::sched_getaffinity, Full, [Int, Int, Hex];
    213 epoll_create => sys_poll::epoll_create, Full, [Int];
    217 getdents64 => sys_dir::getdents64, Full, [Fd, Hex, Int];
    218 set_tid_address => sys_thread::set_tid_address, Full, [Hex];
    221 fadvise64 => sys_sync::fadvise64, Partial("accepted, no effect"), [Fd, Int, Int, Int];
    222 timer_create => sys_time::timer_create, Partial("CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME; SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE"), [Int, Hex, Hex];
    223 timer_settime => sys_time::timer_settime, Full, [Int, Hex, Hex, Hex];
    224 timer_gettime => sys_time::timer_gettime, Full, [Int, Hex];
    225 timer_getoverrun => sys_time::timer_getoverrun, Full, [Int];
    226 timer_delete => sys_time::timer_delete, Full, [Int];
    228 clock_gettime => sys_time::clock_gettime, Full, [Int, Hex];
    229 clock_getres => sys_time::clock_getres, Full, [Int, Hex];
    230 clock_nanosleep => sys_time::clock_nanosleep, Full, [Int, Int, Hex, Hex];
    231 exit_group => sys_thread::exit_group, Full, [Int];
    232 epoll_wait => sys_poll::epoll_wait, Partial("EPOLLET may report an extra event (any notification of the file counts), never misses one"), [Fd, Hex, Int, Int];
    233 epoll_ctl => sys_poll::epoll_ctl, Full, [Fd, Int, Fd, Hex];
    234 tgkill => sys_signal::tgkill, Full, [Int, Int, Int];
    247 waitid => sys_process::waitid, Full, [Int, Int, Hex, Hex];
    257 openat => sys_open::openat, Full, [Fd, Path, Hex, Hex];
    258 mkdirat => sys_link::mkdirat, Full, [Fd, Path, Hex];
    259 mknodat => sys_link::mknodat, Partial("FIFOs and regular files; device nodes are EPERM"), [Fd, Path, Hex, Hex];
    260 fchownat => sys_attr::fchownat, Full, [Fd, Path, Int, Int, Hex];
    262 newfstatat => sys_stat::newfstatat, Full, [Fd, Path, Hex, Hex];
    263 unlinkat => sys_link::unlinkat, Full, [Fd, Path, Hex];
    264 renameat => sys_link::renameat, Partial("as rename"), [Fd, Path, Fd, Path];
    265 linkat => sys_link::linkat, Full, [Fd, Path, Fd, Path, Hex];
    266 symlinkat => sys_link::symlinkat, Full, [Path, Fd, Path];
    267 readlinkat => sys_link::readlinkat, Full, [Fd, Path, Hex, Int];
    268 fchmodat => sys_attr::fchmodat, Full, [Fd, Path, Hex];
    269 faccessat => sys_stat::faccessat, Full, [Fd, Path, Int];
    270 pselect6 => sys_poll::pselect6, Full, [Int, Hex, Hex, Hex, Hex, Hex];
    271 ppoll => sys_poll::ppoll, Full, [Hex, Int, Hex, Hex, Int];
    273 set_robust_list => sys_thread::set_robust_list, Full, [Hex, Int];
    275 splice => sys_read::splice, Partial("a copy through the sentry; SPLICE_F_* flags ignored"), [Fd, Hex, Fd, Hex, Int, Hex];
    276 tee => sys_read::tee, Full, [Fd, Fd, Int, Hex];
    278 vmsplice => sys_read::vmsplice, Partial("a copy, as writev/readv on the pipe; SPLICE_F_NONBLOCK follows the pipe's O_NONBLOCK"), [Fd, Hex, Int, Hex];
    280 utimensat => sys_attr::utimensat, Full, [Fd, Path, Hex, Hex];
    281 epoll_pwait => sys_poll::epoll_pwait, Partial("as epoll_wait"), [Fd, Hex, Int, Int, Hex, Int];
    282 signalfd => sys_signal::signalfd, Full, [Fd, Hex, Int];
    283 timerfd_create => sys_time::timerfd_create, Partial("CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME"), [Int, Hex];
    284 eventfd => sys_poll::eventfd, Full, [Int];
    285 fallocate => sys_attr::fallocate, Partial("tmpfs: allocate, KEEP_SIZE, PUNCH_HOLE; other files: mode 0 grows the file"), [Fd, Int, Int, Int];
    286 timerfd_settime => sys_time::timerfd_settime, Full, [Fd, Hex, Hex, Hex];
    287 timerfd_gettime => sys_time::timerfd_gettime, Full, [Fd, Hex];
    288 accept4 => sys_socket::accept4, Full, [Fd, Hex, Hex, Hex];
    289 signalfd4 => sys_signal::signalfd4, Full, [Fd, Hex, Int, Hex];
    290 eventfd2 => sys_poll::eventfd2, Full, [Int, Hex];
    291 epoll_create1 => sys_poll::epoll_create1, Full, [Hex];
    292 dup3 => sys_open::dup3, Full, [Fd, Fd, Hex];
    293 pipe2 => sys_pipe::pipe2, Full, [Hex, Hex];
    297 rt_tgsigqueueinfo => sys_signal::rt_tgsigqueueinfo, Full, [Int, Int, Int, Hex];
    299 recvmmsg => sys_socket::recvmmsg, Partial("as recvmsg"), [Fd, Hex, Int, Hex, Hex];
    302 prlimit64 => sys_info::prlimit64, Partial("own process only"), [Int, Int, Hex, Hex];
    307 sendmmsg => sys_socket::sendmmsg, Partial("as sendmsg"), [Fd, Hex, Int, Hex];
    309 getcpu => sys_info::getcpu, Partial("always CPU 0, node 0"), [Hex, Hex, Hex];
    316 renameat2 => sys_link::renameat2, Partial("RENAME_NOREPLACE; RENAME_EXCHANGE within the writable layer"), [Fd, Path, Fd, Path, Hex];
    318 getrandom => sys_info::getrandom, Full, [Hex, Int, Hex];
    319 memfd_create => sys_mmap::memfd_create, Partial("no sealing"), [Path, Hex];
    322 execveat => sys_process::execveat, Partial("absolute paths or AT_FDCWD"), [Fd, Path, Hex, Hex, Hex];
    325 mlock2 => sys_mmap::mlock2, Partial("accepted"), [Hex, Hex, Hex];
    326 copy_file_range => sys_read::copy_file_range, Full, [Fd, Hex, Fd, Hex, Int, Hex];
    332 statx => sys_stat::statx, Partial("basic fields"), [Fd, Path, Hex, Hex, Hex];
    334 rseq => sys_thread::rseq, Refuses(Errno::ENOSYS, "restartable sequences are not supported; glibc falls back"), [Hex, Int, Hex, Hex];
    #[cfg(feature = "example-syscall")]
    400 square => sys_example::square, Full, [Int];
    435 clone3 => sys_process::clone3, Partial("as clone"), [Hex, Int];
    436 close_range => sys_open::close_range, Full, [Fd, Fd, Hex];
    439 faccessat2 => sys_stat::faccessat2, Full, [Fd, Path, Int, Hex];
    441 epoll_pwait2 => sys_poll::epoll_pwait2, Partial("as epoll_wait"), [Fd, Hex, Int, Hex, Hex, Int];
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
    let traced = task.kernel.tracing();
    let pre = traced.then(|| format_call(task, nr, entry, &args));
    let started = traced.then(Instant::now);
    let profiled = task.kernel.profile().start();
    let verdict = task
        .handle
        .tg
        .container
        .seccomp
        .as_ref()
        .map_or(crate::kernel::seccomp::Action::Allow, |f| {
            f.decide(nr, &args)
        });
    let res = match (verdict, entry) {
        (crate::kernel::seccomp::Action::Errno(e), _) => Err(Errno(e as i32)),
        (crate::kernel::seccomp::Action::Kill, _) => {
            task.die(
                crate::kernel::signal::Signal(31),
                "system call denied by the container's seccomp profile",
            );
            Err(Errno::ENOSYS)
        }
        (crate::kernel::seccomp::Action::Trap, _) => {
            // SYS_SECCOMP (1), as the kernel reports a trapped call.
            crate::kernel::signal::force_fault_signal(
                task,
                crate::kernel::signal::Signal(31),
                1,
                task.regs.rip,
            );
            Err(Errno::ENOSYS)
        }
        (action, Some(s)) => {
            if action == crate::kernel::seccomp::Action::Log {
                tracing::info!(nr, name = s.name, "seccomp profile: logged system call");
            }
            (s.handler)(task, &args)
        }
        (_, None) => {
            task.kernel.note_unimplemented(nr, name_of(nr));
            Err(Errno::ENOSYS)
        }
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
    if let (Some(pre), Some(t)) = (pre, started) {
        let ret = match res {
            Ok(v) if entry.is_some_and(|s| s.flags.contains(Flags::RET_ADDR)) => format!("{v:#x}"),
            Ok(v) => format!("{}", v as i64),
            Err(e) => format!("-1 {} ({})", e.name(), e.0),
        };
        task.kernel.strace_line(&format!(
            "[{:>4}] {pre} = {ret} <{:.6}>",
            task.tid,
            t.elapsed().as_secs_f64()
        ));
    }
}

fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(max) {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

fn format_call(task: &mut Task, nr: u64, entry: Option<&Syscall>, args: &Args) -> String {
    let Some(s) = entry else {
        let name = name_of(nr);
        let name = if name.is_empty() {
            format!("syscall_{nr}")
        } else {
            name.to_string()
        };
        return format!(
            "{name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
            args[0], args[1], args[2], args[3], args[4], args[5]
        );
    };
    let mut parts = Vec::with_capacity(s.args.len());
    for (i, kind) in s.args.iter().enumerate() {
        let v = args[i];
        parts.push(match kind {
            Int => format!("{}", v as i64),
            Hex => format!("{v:#x}"),
            Fd if v as i64 as i32 == libc::AT_FDCWD => "AT_FDCWD".to_string(),
            Fd => format!("{}", v as i64 as i32),
            Path => match task.mm().read_cstring(v, 4095) {
                Ok(p) => escape(&p, 256),
                Err(_) => format!("{v:#x}"),
            },
            InBuf(n) => {
                let len = args[*n as usize].min(32) as usize;
                let mut b = vec![0u8; len];
                match task.mm().copy_in(v, &mut b) {
                    Ok(()) => escape(&b, 32) + if args[*n as usize] > 32 { "..." } else { "" },
                    Err(_) => format!("{v:#x}"),
                }
            }
        });
    }
    format!("{}({})", s.name, parts.join(", "))
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
        assert_eq!(flushing, [9, 10, 11, 12, 25, 28]);
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
