//! Tasks (threads of the app), thread groups (processes), and the run loop:
//! switch into app code, serve the syscall or fault that comes back, deliver
//! pending signals, repeat until the task exits. Each task runs on its own
//! host thread with its own platform context (vCPU).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::errno::Errno;
use crate::kernel::exec::{self, ExecArgs};
use crate::kernel::signal::{self, SigAction, Signal};
use crate::kernel::{Kernel, KernelError};
use crate::mm::{FaultError, MemoryManager};
use crate::platform::{Context, Event, FpuState, Interrupter, Registers};
use crate::vfs::{FdEntry, FdTable, FileDescription};
#[allow(unused_imports)]
use crate::waiter::{self, WaitQueue, Waker};

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit/exit_group with this status (0..=255).
    Exited(i32),
    /// Killed by a signal.
    Signaled(Signal),
}

impl ExitStatus {
    /// The shell-style code: status, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s.0 as i32,
        }
    }

    /// The wait(2) status word.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => (c & 0xff) << 8,
            ExitStatus::Signaled(s) => s.0 as i32 | if s.dumps_core() { 0x80 } else { 0 },
        }
    }
}

/// Resource limits (soft, hard), indexed by RLIMIT_*.
pub type Rlimits = [(u64, u64); 16];

/// The default limits the first task starts with.
pub fn default_rlimits() -> Rlimits {
    let inf = u64::MAX;
    let mut r = [(inf, inf); 16];
    r[libc::RLIMIT_STACK as usize] = (8 << 20, inf);
    r[libc::RLIMIT_NOFILE as usize] = (crate::vfs::MAX_FDS as u64, crate::vfs::MAX_FDS as u64);
    r[libc::RLIMIT_CORE as usize] = (0, inf);
    r[libc::RLIMIT_NPROC as usize] = (4096, 4096);
    r[libc::RLIMIT_MEMLOCK as usize] = (8 << 20, 8 << 20);
    r[libc::RLIMIT_SIGPENDING as usize] = (4096, 4096);
    r[libc::RLIMIT_MSGQUEUE as usize] = (819_200, 819_200);
    r
}

/// Process-wide state of a thread group.
#[derive(Debug)]
pub struct TgState {
    /// Parent's pid (0 for the sandbox's init).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Live children's pids (zombies included until reaped).
    pub children: Vec<i32>,
    /// Live threads.
    pub threads: Vec<Arc<TaskHandle>>,
    /// Set by exit_group or a fatal signal: every thread exits with it.
    pub group_exit: Option<ExitStatus>,
    /// Set when the last thread has exited: the process is a zombie.
    pub zombie: Option<ExitStatus>,
    /// Process-directed pending signals.
    pub pending: u64,
    /// Signal sent to the parent on exit (SIGCHLD for fork).
    pub exit_signal: u32,
    /// A vfork parent waits for this to become true (exec or exit of the child).
    pub vfork_released: bool,
    /// CPU time of exited threads, ns.
    pub exited_cpu_ns: u64,
    /// CPU time of reaped children, ns.
    pub children_cpu_ns: u64,
    /// PR_SET_PDEATHSIG: sent when the parent exits.
    pub pdeath_signal: u32,
    /// Nice value (-20..=19), inherited by children.
    pub nice: i32,
    /// membarrier registrations (MEMBARRIER_CMD_REGISTER_* bits); cleared at exec.
    pub membarrier: u32,
    /// Stopped by a job-control signal.
    pub stopped: bool,
    /// A stop not yet reported to wait(WUNTRACED): the signal.
    pub stop_report: Option<u32>,
    /// A continue not yet reported to wait(WCONTINUED).
    pub cont_report: bool,
    /// /proc/[pid]/oom_score_adj (-1000..=1000), inherited by children.
    pub oom_score_adj: i32,
    /// The lowest oom_score_adj a privileged writer set (inherited).
    pub oom_score_adj_min: i32,
}

/// A process: what its threads share.
#[derive(Debug)]
pub struct ThreadGroup {
    /// Process id (= the leader's tid).
    pub pid: i32,
    /// Mutable state.
    pub state: Mutex<TgState>,
    /// Signal actions (shared by CLONE_SIGHAND).
    pub actions: Mutex<[SigAction; 64]>,
    /// Notified when a child changes state (wait4) or a vfork child releases us.
    pub child_wq: WaitQueue,
    /// Notified when one of its threads exits (pidfd readiness).
    pub exit_wq: WaitQueue,
    /// siginfo of process-directed pending signals.
    pub infos: Mutex<signal::PendingInfos>,
    /// Credentials.
    pub creds: Mutex<Creds>,
    /// ITIMER_REAL / alarm.
    pub real_timer: Mutex<crate::kernel::timers::RealTimer>,
    /// What the timer service holds for ITIMER_REAL.
    pub real_timer_target: Arc<crate::kernel::timers::RealTimerTarget>,
    /// POSIX timers by id: (timer, clock).
    pub posix_timers:
        Mutex<std::collections::HashMap<u64, (Arc<crate::kernel::timers::IntervalTimer>, i32)>>,
    /// The kernel it belongs to.
    pub kernel: std::sync::Weak<Kernel>,
    /// The container it runs in (inherited on fork).
    pub container: Arc<crate::kernel::container::Container>,
}

impl ThreadGroup {
    /// Whether a task of process `me_tg` with credentials `me` may inspect this process as
    /// ptrace's PTRACE_MODE_ATTACH_REALCREDS allows (/proc/PID/mem, process_vm_*,
    /// pidfd_getfd, kcmp, get_robust_list): its own process, root, or this process's real,
    /// effective and saved uids all equal to the caller's real uid.
    pub fn ptrace_access_by(&self, me_tg: &ThreadGroup, me: &Creds) -> bool {
        if std::ptr::eq(self, me_tg) || me.privileged() {
            return true;
        }
        let them = self.creds.lock().unwrap_or_else(|p| p.into_inner()).uid;
        them[..3].iter().all(|&u| u == me.uid[0])
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, TgState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The action for `sig`.
    pub fn action(&self, sig: u32) -> SigAction {
        let a = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        a.get(sig.wrapping_sub(1) as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// Capability sets (bit n = capability n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Bounding.
    pub bounding: u64,
}

/// Every capability Linux knows (0..=40).
pub const ALL_CAPS: u64 = (1 << 41) - 1;

impl CapSets {
    /// Root's sets: everything; others: nothing but the bounding set.
    pub fn for_uid(uid: u32) -> CapSets {
        let all = if uid == 0 { ALL_CAPS } else { 0 };
        CapSets {
            effective: all,
            permitted: all,
            inheritable: 0,
            bounding: ALL_CAPS,
        }
    }
}

/// A process's credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    /// Real, effective, saved, file-system user ids.
    pub uid: [u32; 4],
    /// Real, effective, saved, file-system group ids.
    pub gid: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Capability sets, as capget/capset see them. Permission checks in the
    /// sentry still go by uid (see `privileged`).
    pub caps: CapSets,
}

impl Creds {
    /// All ids equal.
    pub fn new(uid: u32, gid: u32) -> Self {
        Creds {
            uid: [uid; 4],
            gid: [gid; 4],
            groups: Vec::new(),
            caps: CapSets::for_uid(uid),
        }
    }

    /// Whether the effective user is root (holds every capability).
    pub fn privileged(&self) -> bool {
        self.uid[1] == 0
    }
}

/// Per-thread signal state.
#[derive(Debug, Default)]
pub struct TaskSig {
    /// Thread-directed pending signals.
    pub pending: u64,
    /// Their siginfo.
    pub infos: signal::PendingInfos,
    /// Blocked mask.
    pub blocked: u64,
}

/// The part of a task other threads can reach.
#[derive(Debug)]
pub struct TaskHandle {
    /// Thread id.
    pub tid: i32,
    /// Its process.
    pub tg: Arc<ThreadGroup>,
    /// Wakes it from a sentry-side wait.
    pub waker: Arc<Waker>,
    /// Kicks it out of app code.
    pub interrupter: Mutex<Option<Interrupter>>,
    /// Signal state.
    pub sig: Mutex<TaskSig>,
    /// Set when the task must exit (group exit, SIGKILL).
    pub killed: AtomicBool,
    /// What /proc shows of this task.
    pub info: Mutex<TaskInfo>,
    /// The host thread running it (its CPU clock is the task's).
    pub host_tid: std::sync::atomic::AtomicI32,
    /// True from taking the address space (under the memory manager's lock)
    /// until app code has stopped: what `quiesce` waits for.
    pub in_guest: AtomicBool,
    /// The system call it is in and its user rip/rsp (`gvisor debug --stacks`).
    pub debug: crate::kernel::debug::TaskDebug,
    /// Counts entries into app code (membarrier waits for it to move).
    pub guest_entries: std::sync::atomic::AtomicU64,
    /// Scheduling policy, priority and I/O priority as sched_setattr/ioprio_set left them.
    pub sched: Mutex<SchedState>,
    /// The set_robust_list head, as get_robust_list reports it to other threads.
    pub robust_list: std::sync::atomic::AtomicU64,
    /// PR_SET_NO_NEW_PRIVS (per thread; TSYNC sets it on the others).
    pub no_new_privs: AtomicBool,
    /// The program's own seccomp mode and filters.
    pub seccomp: crate::kernel::seccomp_filter::ThreadSeccomp,
}

/// What the scheduler calls of a thread record. The sandbox's threads run on host threads
/// the host schedules: these values are kept and reported, not enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedState {
    /// SCHED_OTHER (0), SCHED_FIFO (1), SCHED_RR (2), SCHED_BATCH (3), SCHED_IDLE (5).
    pub policy: u32,
    /// The real-time priority (1..=99 for FIFO and RR, else 0).
    pub priority: u32,
    /// SCHED_RESET_ON_FORK.
    pub reset_on_fork: bool,
    /// The ioprio_set value (class << 13 | data); 0: none set.
    pub ioprio: u32,
    /// A fair task's slice from sched_setattr's runtime, ns; 0: the default.
    pub slice: u64,
}

impl SchedState {
    /// What a child (fork or clone) starts with: the same, or the defaults for a real-time or
    /// negative-nice policy with SCHED_RESET_ON_FORK, as Linux.
    pub fn for_child(&self) -> SchedState {
        if self.reset_on_fork {
            let policy = if matches!(self.policy, 1 | 2) {
                0
            } else {
                self.policy
            };
            SchedState {
                policy,
                priority: 0,
                reset_on_fork: false,
                ioprio: self.ioprio,
                slice: self.slice,
            }
        } else {
            *self
        }
    }
}

impl TaskHandle {
    /// CPU time the task has used, ns (its host thread's CPU clock).
    pub fn cpu_ns(&self) -> u64 {
        let tid = self.host_tid.load(Ordering::SeqCst);
        if tid <= 0 {
            return 0;
        }
        // A thread CPU-time clock id: ~tid << 3 | CPUCLOCK_SCHED | per-thread.
        let clock = ((!tid) << 3) | 6;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid out-parameter; a stale tid only fails.
        if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
            return 0;
        }
        ts.tv_sec.max(0) as u64 * 1_000_000_000 + ts.tv_nsec.max(0) as u64
    }

    /// Locks the signal state.
    pub fn sig(&self) -> MutexGuard<'_, TaskSig> {
        self.sig.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a signal (or a kill) is waiting for this task.
    pub fn signal_pending(&self) -> bool {
        if self.killed.load(Ordering::SeqCst) {
            return true;
        }
        let s = self.sig();
        let tgp = self.tg.lock().pending;
        (s.pending | tgp) & !s.blocked != 0
    }

    /// Its scheduling record.
    pub fn sched_state(&self) -> SchedState {
        *self.sched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Interrupts app code, leaving a sentry-side wait alone.
    pub fn interrupt_guest(&self) {
        if let Some(i) = self
            .interrupter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            i.interrupt();
        }
    }

    /// Makes the task notice something: wakes a sentry-side wait and kicks
    /// app code.
    pub fn kick(&self) {
        self.waker.wake();
        self.interrupt_guest();
    }
}

/// What /proc shows of a task, published by the task itself.
#[derive(Default, Debug)]
pub struct TaskInfo {
    /// comm.
    pub comm: [u8; 16],
    /// The executable.
    pub exe: Vec<u8>,
    /// argv joined by NULs.
    pub cmdline: Vec<u8>,
    /// envp, each NUL-terminated (/proc/[pid]/environ).
    pub environ: Vec<u8>,
    /// The auxiliary vector exec gave the program (/proc/[pid]/auxv).
    pub auxv: Vec<u8>,
    /// Resource limits (/proc/[pid]/limits).
    pub rlimits: Rlimits,
    /// Memory.
    pub mm: std::sync::Weak<Mutex<MemoryManager>>,
    /// Descriptors.
    pub fds: std::sync::Weak<Mutex<FdTable>>,
    /// cwd.
    pub fsctx: std::sync::Weak<Mutex<FsContext>>,
    /// The UTS namespace (None: the initial one), for /proc/[pid]/ns/uts.
    pub uts: Option<Arc<UtsNs>>,
}

/// The working directory and umask (shared by CLONE_FS).
#[derive(Clone, Debug)]
pub struct FsContext {
    /// The mount table (the container's file systems).
    pub root: Arc<crate::vfs::Vfs>,
    /// Absolute path.
    pub cwd: String,
    /// umask.
    pub umask: u32,
    /// The real path of the root directory set by chroot(2); None: "/".
    pub chroot: Option<String>,
}

/// A UTS namespace made by unshare(CLONE_NEWUTS): its host and domain
/// names (the initial namespace's are the kernel's).
#[derive(Debug, Default)]
pub struct UtsNs {
    /// sethostname.
    pub hostname: Mutex<String>,
    /// setdomainname.
    pub domainname: Mutex<String>,
}

/// What a process started from outside the sandbox's programs gets.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// Its container's file systems.
    pub root: Arc<crate::vfs::Vfs>,
    /// Its container.
    pub container: Arc<crate::kernel::container::Container>,
    /// Credentials.
    pub creds: Creds,
    /// Resource limits.
    pub rlimits: Rlimits,
    /// Starts with no_new_privs.
    pub no_new_privs: bool,
}

/// A thread of the app, owned by the host thread that runs it.
pub struct Task {
    /// The kernel.
    pub kernel: Arc<Kernel>,
    /// What other threads see of this task.
    pub handle: Arc<TaskHandle>,
    /// Thread id (in the sandbox's PID namespace).
    pub tid: i32,
    /// Thread-group id.
    pub pid: i32,
    /// App registers.
    pub regs: Registers,
    /// RAX at syscall entry (for restarts).
    pub orig_rax: u64,
    /// FPU state.
    pub fpu: FpuState,
    /// Memory.
    pub mm: Arc<Mutex<MemoryManager>>,
    /// Descriptors.
    pub fds: Arc<Mutex<FdTable>>,
    /// cwd and umask.
    pub fsctx: Arc<Mutex<FsContext>>,
    /// The UTS namespace (None: the kernel's, the initial one).
    pub uts: Option<Arc<UtsNs>>,
    /// set_tid_address.
    pub clear_child_tid: u64,
    /// set_robust_list head.
    pub robust_list: u64,
    /// prctl(PR_SET_NAME).
    pub comm: [u8; 16],
    /// Resource limits.
    pub rlimits: Rlimits,
    /// Path of the running program (/proc/self/exe).
    pub exe: Vec<u8>,
    /// PR_SET_DUMPABLE.
    pub dumpable: bool,
    /// Set when this task has finished (the run loop stops).
    pub exit: Option<ExitStatus>,
    /// sigaltstack.
    pub altstack: signal::AltStack,
    /// A syscall result that asks for a restart, resolved at signal delivery.
    pub pending_restart: Option<Errno>,
    /// The mask to restore after a handler run from rt_sigsuspend.
    pub saved_mask: Option<u64>,
    /// Last fault address and how many times in a row it was seen.
    pub(crate) repeat_fault: (u64, u32),
    pub(crate) ctx: Box<dyn Context>,
}

impl Task {
    /// Creates the first task of the sandbox (pid 1) running `bytes` (an ELF file).
    #[allow(clippy::too_many_arguments)]
    pub fn new_init(
        kernel: Arc<Kernel>,
        bytes: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        execfn: &[u8],
        cwd: String,
        stdio: [Arc<dyn FileDescription>; 3],
    ) -> Result<Task, KernelError> {
        let c = &kernel.config;
        let spec = ProcessSpec {
            root: kernel.fs.clone(),
            container: kernel.default_container.clone(),
            creds: Creds {
                groups: c.groups.clone(),
                caps: c.caps.unwrap_or_else(|| CapSets::for_uid(c.uid)),
                ..Creds::new(c.uid, c.gid)
            },
            rlimits: c.rlimits.unwrap_or_else(default_rlimits),
            no_new_privs: c.no_new_privs,
        };
        Task::new_process(kernel, &spec, bytes, argv, envp, execfn, cwd, stdio)
    }

    /// A process with no parent, not yet running, in `spec`'s container
    /// (a container's init or a process exec'd into it from outside): it
    /// leads its own session and process group. The first one made is
    /// pid 1.
    #[allow(clippy::too_many_arguments)]
    pub fn new_process(
        kernel: Arc<Kernel>,
        spec: &ProcessSpec,
        bytes: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        execfn: &[u8],
        cwd: String,
        stdio: [Arc<dyn FileDescription>; 3],
    ) -> Result<Task, KernelError> {
        let platform = kernel.platform.clone();
        let space = platform.new_address_space()?;
        let mut mm =
            MemoryManager::new(space, platform.memory().clone(), kernel.config.fault_around);
        // A container's own /sys shows the pod's network devices.
        super::attach_sysfs(&spec.root, &kernel.net);
        let fsctx = FsContext {
            root: spec.root.clone(),
            cwd: cwd.clone(),
            umask: 0o022,
            chroot: None,
        };
        let loaded = exec::load_program(
            &crate::vfs::Detached,
            &spec.root,
            &mut mm,
            bytes,
            &cwd,
            &ExecArgs {
                argv,
                envp,
                execfn,
                uid: spec.creds.uid[1],
                gid: spec.creds.gid[1],
            },
        )?;
        let mut fds = FdTable::default();
        for (i, f) in stdio.into_iter().enumerate() {
            fds.install_at(
                i,
                FdEntry {
                    file: f,
                    cloexec: false,
                },
            )
            .map_err(|errno| KernelError::Setup {
                what: "installing stdio",
                errno,
            })?;
        }
        let ctx = platform.new_context()?;
        let kernel_rlimits = spec.rlimits;
        let kernel_nnp = spec.no_new_privs;
        let (tg, handle) = kernel.new_process(0, 0, 0, spec.container.clone());
        *tg.creds.lock().unwrap_or_else(|p| p.into_inner()) = spec.creds.clone();
        let pid = tg.pid;
        let mut t = Task {
            kernel,
            handle,
            tid: pid,
            pid,
            regs: loaded.regs,
            orig_rax: 0,
            fpu: FpuState::default(),
            mm: Arc::new(Mutex::new(mm)),
            fds: Arc::new(Mutex::new(fds)),
            fsctx: Arc::new(Mutex::new(fsctx)),
            uts: None,
            clear_child_tid: 0,
            robust_list: 0,
            comm: [0; 16],
            rlimits: kernel_rlimits,
            exe: loaded.exe.clone(),
            dumpable: true,
            exit: None,
            altstack: Default::default(),
            pending_restart: None,
            saved_mask: None,
            repeat_fault: (u64::MAX, 0),
            ctx,
        };
        t.handle.no_new_privs.store(kernel_nnp, Ordering::SeqCst);
        t.set_comm(execfn);
        t.publish_info(Some(argv.join(&0u8)));
        t.publish_environ(envp);
        t.handle.info.lock().unwrap_or_else(|p| p.into_inner()).auxv = loaded.auxv.clone();
        *t.handle
            .interrupter
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(t.ctx.interrupter());
        Ok(t)
    }

    /// Publishes the environment exec gave the program.
    pub fn publish_environ(&self, envp: &[Vec<u8>]) {
        let mut env = Vec::new();
        for e in envp {
            env.extend_from_slice(e);
            env.push(0);
        }
        self.handle
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .environ = env;
    }

    /// Publishes what /proc shows of this task (`cmdline` None keeps it).
    pub fn publish_info(&self, cmdline: Option<Vec<u8>>) {
        let mut i = self.handle.info.lock().unwrap_or_else(|p| p.into_inner());
        i.comm = self.comm;
        i.rlimits = self.rlimits;
        i.exe = self.exe.clone();
        if let Some(c) = cmdline {
            i.cmdline = c;
        }
        i.mm = Arc::downgrade(&self.mm);
        i.fds = Arc::downgrade(&self.fds);
        i.fsctx = Arc::downgrade(&self.fsctx);
        i.uts = self.uts.clone();
    }

    /// Sets comm from a path's last component.
    pub fn set_comm(&mut self, path: &[u8]) {
        let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        let n = base.len().min(15);
        self.comm = [0; 16];
        self.comm[..n].copy_from_slice(&base[..n]);
    }

    /// The memory manager, locked.
    pub fn mm(&self) -> MutexGuard<'_, MemoryManager> {
        self.mm.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process's credentials (a copy).
    pub fn creds(&self) -> Creds {
        self.handle
            .tg
            .creds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The fd table, locked.
    pub fn fds(&self) -> MutexGuard<'_, FdTable> {
        self.fds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mount table this task sees (its container's).
    pub fn root(&self) -> Arc<crate::vfs::Vfs> {
        self.fsctx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .root
            .clone()
    }

    /// The working directory.
    pub fn cwd(&self) -> String {
        self.fsctx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cwd
            .clone()
    }

    /// Hardware exits this task's context has taken.
    pub fn exits(&self) -> u64 {
        self.ctx.exits()
    }

    /// A handle that interrupts this task's run from another thread.
    pub fn interrupter(&self) -> Interrupter {
        self.ctx.interrupter()
    }

    /// Kills the task's whole process with `sig`, reporting why.
    pub(crate) fn die(&mut self, sig: Signal, why: &str) {
        tracing::info!(
            tid = self.tid,
            rip = format_args!("{:#x}", self.regs.rip),
            "killed by {}: {why}",
            sig.name()
        );
        self.group_exit(ExitStatus::Signaled(sig));
    }

    /// Starts the exit of the whole thread group.
    pub fn group_exit(&mut self, status: ExitStatus) {
        let tg = self.handle.tg.clone();
        let others: Vec<Arc<TaskHandle>> = {
            let mut st = tg.lock();
            if st.group_exit.is_none() {
                st.group_exit = Some(status);
            }
            st.threads.clone()
        };
        for t in others {
            if t.tid != self.tid {
                t.killed.store(true, Ordering::SeqCst);
                t.kick();
            }
        }
        self.exit = Some(tg.lock().group_exit.unwrap_or(status));
    }

    /// Runs the task until it exits; then tears it down.
    pub fn run(mut self) -> Result<ExitStatus, KernelError> {
        // SAFETY: gettid has no arguments and cannot fail.
        let host_tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
        self.handle.host_tid.store(host_tid, Ordering::SeqCst);
        let r = self.run_loop();
        let status = self.exit.unwrap_or(ExitStatus::Signaled(Signal::SIGKILL));
        crate::kernel::process::exit_task(&mut self, status);
        r.map(|()| status)
    }

    fn run_loop(&mut self) -> Result<(), KernelError> {
        loop {
            if self.handle.killed.load(Ordering::SeqCst) && self.exit.is_none() {
                let st = self.handle.tg.lock().group_exit;
                self.exit = Some(st.unwrap_or(ExitStatus::Signaled(Signal::SIGKILL)));
            }
            if self.exit.is_some() {
                return Ok(());
            }
            signal::deliver(self);
            if self.exit.is_some() {
                return Ok(());
            }
            if self.handle.tg.lock().stopped {
                signal::wait_while_stopped(self);
                continue;
            }
            if self.handle.tg.container.is_paused() {
                self.handle.tg.container.wait_while_paused(&self.handle);
                continue;
            }
            let space = {
                let mm = self.mm();
                self.handle.guest_entries.fetch_add(1, Ordering::SeqCst);
                self.handle.in_guest.store(true, Ordering::SeqCst);
                mm.address_space().clone()
            };
            let ev = self.ctx.switch(&mut self.regs, &mut self.fpu, &*space);
            self.handle.in_guest.store(false, Ordering::SeqCst);
            if !matches!(ev, Ok(Event::Syscall)) {
                self.handle.debug.user(self.regs.rip, self.regs.rsp);
            }
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    // Logged here: once this task's exit is reported the
                    // sentry may end before `Kernel::spawn` logs the error.
                    tracing::error!(tid = self.tid, error = %e, "running app code failed; the process is killed");
                    self.group_exit(ExitStatus::Signaled(Signal::SIGKILL));
                    return Err(e.into());
                }
            };
            match ev {
                Event::Syscall => {
                    self.repeat_fault.1 = 0;
                    let d = &self.handle.debug;
                    d.enter(self.regs.rax, self.regs.rip, self.regs.rsp);
                    (self.kernel.config.syscalls)(self);
                    self.handle.debug.leave();
                }
                Event::Fault {
                    addr,
                    access,
                    present: _,
                } => {
                    let r = self.mm().handle_fault(addr, access);
                    match r {
                        Ok(()) if self.note_fault(addr) => self.die(
                            Signal::SIGBUS,
                            &format!(
                                "fault at {addr:#x} keeps recurring after being resolved (platform error)"
                            ),
                        ),
                        Ok(()) => {}
                        Err(FaultError::OutOfMemory) => {
                            // As Linux's OOM killer: the program goes, not the kernel.
                            tracing::warn!(
                                pid = self.pid,
                                "out of memory: the sandbox's memory is used up (its limit: --memory, linux.resources.memory.limit); the program is killed by SIGKILL"
                            );
                            self.die(Signal::SIGKILL, "out of memory in the sandbox")
                        }
                        Err(FaultError::Bus) => {
                            // BUS_ADRERR
                            signal::force_fault_signal(self, Signal::SIGBUS, 2, addr);
                        }
                        Err(e) => {
                            let code = if e == FaultError::MapErr { 1 } else { 2 };
                            signal::force_fault_signal(self, Signal::SIGSEGV, code, addr);
                        }
                    }
                }
                Event::Exception { vector, code } => {
                    let (sig, si_code) = match vector {
                        0 => (Signal::SIGFPE, 1), // FPE_INTDIV
                        7 | 16 | 19 => (Signal::SIGFPE, 0),
                        1 | 3 => (Signal::SIGTRAP, 1), // TRAP_BRKPT
                        6 => (Signal::SIGILL, 2),      // ILL_ILLOPN
                        11 | 12 | 17 => (Signal::SIGBUS, 2),
                        _ => (Signal::SIGSEGV, 0x80), // SI_KERNEL
                    };
                    tracing::debug!(vector, code, "CPU exception");
                    signal::force_fault_signal(self, sig, si_code, 0);
                }
                Event::Interrupted => {}
            }
        }
    }

    /// Records a resolved fault; true when the same address has faulted too
    /// many times in a row (a mapping the platform fails to install), so a
    /// platform bug ends the program instead of spinning forever.
    fn note_fault(&mut self, addr: u64) -> bool {
        let page = addr & !0xfff;
        if self.repeat_fault.0 == page {
            self.repeat_fault.1 += 1;
        } else {
            self.repeat_fault = (page, 1);
        }
        self.repeat_fault.1 > 16
    }

    /// Stops the other threads of this process from running app code: call
    /// with the memory manager locked; returns once none of them is in the
    /// guest (they wait for the lock before entering again).
    pub fn quiesce_others(&self) {
        let others: Vec<Arc<TaskHandle>> = self
            .handle
            .tg
            .lock()
            .threads
            .iter()
            .filter(|h| h.tid != self.tid)
            .cloned()
            .collect();
        for o in &others {
            if o.in_guest.load(Ordering::SeqCst) {
                o.kick();
            }
        }
        for o in &others {
            while o.in_guest.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
    }

    /// Reads a path argument from app memory.
    pub fn read_path(&mut self, addr: u64) -> Result<Vec<u8>, Errno> {
        let p = self.mm().read_cstring(addr, 4095)?;
        if p.is_empty() {
            return Err(Errno::ENOENT);
        }
        Ok(p)
    }
}
