//! The kernel: shared state of the sandbox, its process table and tasks.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::errno::Errno;
use crate::platform::Platform;
use crate::vfs::Vfs;

pub mod container;
pub mod context;
pub mod debug;
pub mod exec;
pub mod fasync;
pub mod futex;
pub mod hostinfo;
pub mod ipc;
pub mod pidfd;
pub mod process;
pub mod profile;
pub mod seccomp;
pub mod seccomp_filter;
pub mod signal;
pub mod strace_config;
pub mod task;
pub mod timers;

pub use task::{ExitStatus, Task, TaskHandle, ThreadGroup};

/// Sandbox-wide settings.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// Pages mapped per page fault (fault-around window).
    pub fault_around: u64,
    /// Credentials every task starts with.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Host name reported by uname.
    pub hostname: String,
    /// Number of CPUs the app sees.
    pub cpus: usize,
    /// Supplementary groups of the first task.
    pub groups: Vec<u32>,
    /// Resource limits of the first task (None: the defaults).
    pub rlimits: Option<task::Rlimits>,
    /// The first task starts with no_new_privs.
    pub no_new_privs: bool,
    /// Capability sets of the first task (None: by uid).
    pub caps: Option<task::CapSets>,
    /// The container's seccomp profile, applied to every system call.
    pub app_seccomp: Option<Arc<seccomp::AppFilter>>,
    /// Emulated sysctls ("kernel.domainname" → value), shown in /proc/sys.
    pub sysctl: std::collections::BTreeMap<String, String>,
    /// The host's CPU model and memory size for /proc, read before
    /// confinement.
    pub host: hostinfo::HostInfo,
    /// What serves a system call: the syscall table's dispatcher
    /// (`syscalls::dispatch`), which sits above the kernel and is wired in
    /// by whoever builds it. By default every call answers ENOSYS.
    pub syscalls: SyscallHandler,
    /// The sandbox's network (mode, interfaces, routes, packet sockets),
    /// checked with [`crate::net::NetConfig::validate`] by whoever builds
    /// the kernel.
    pub net: crate::net::NetConfig,
    /// What `--strace` traces (the filter) and how much of a buffer it
    /// shows; used when the kernel has a strace writer.
    pub strace: strace_config::StraceConfig,
}

/// Serves the system call a task has just made (number and arguments in
/// its registers; the result goes back into them).
pub type SyscallHandler = fn(&mut Task);

/// The handler of a kernel built without a syscall table: ENOSYS for all.
fn no_syscalls(t: &mut Task) {
    t.regs.rax = (-(Errno::ENOSYS.0 as i64)) as u64;
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            fault_around: crate::mm::DEFAULT_FAULT_AROUND,
            uid: 0,
            gid: 0,
            hostname: "gvisor".into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            groups: Vec::new(),
            rlimits: None,
            no_new_privs: false,
            caps: None,
            app_seccomp: None,
            sysctl: Default::default(),
            host: hostinfo::HostInfo::probe(),
            syscalls: no_syscalls,
            net: crate::net::NetConfig::none(),
            strace: Default::default(),
        }
    }
}

/// Errors that end the sandbox (never caused by what the app does).
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The platform failed.
    #[error("platform: {0}")]
    Platform(#[from] crate::platform::PlatformError),
    /// The program could not be loaded.
    #[error("{0}")]
    Load(#[from] crate::loader::LoadError),
    /// Setting up a program failed.
    #[error("{what}: {errno}")]
    Setup {
        /// What.
        what: &'static str,
        /// Why.
        errno: Errno,
    },
}

impl KernelError {
    /// The errno execve reports for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            KernelError::Platform(_) => Errno::ENOMEM,
            KernelError::Load(l) => Errno(l.errno()),
            KernelError::Setup { errno, .. } => *errno,
        }
    }
}

/// Every process and thread of the sandbox.
#[derive(Default)]
pub struct ProcTable {
    /// pid → process.
    pub tgs: HashMap<i32, Arc<ThreadGroup>>,
    /// tid → thread.
    pub tasks: HashMap<i32, Arc<TaskHandle>>,
    next: i32,
}

impl ProcTable {
    /// The last pid handed out (/proc/loadavg).
    pub fn last_pid(&self) -> i32 {
        self.next
    }

    fn alloc_id(&mut self) -> i32 {
        loop {
            self.next = if self.next >= 4_194_303 {
                2
            } else {
                self.next + 1
            };
            if !self.tgs.contains_key(&self.next) && !self.tasks.contains_key(&self.next) {
                return self.next;
            }
        }
    }
}

/// The sandbox's kernel.
pub struct Kernel {
    me: std::sync::Weak<Kernel>,
    /// Where app code runs.
    pub platform: Arc<dyn Platform>,
    /// The file systems (mount table and path walk).
    pub fs: Arc<Vfs>,
    /// Settings.
    pub config: KernelConfig,
    /// Where `--strace` lines go, if enabled.
    strace: Option<Mutex<Box<dyn Write + Send>>>,
    /// Unimplemented syscall numbers already logged.
    unimplemented_seen: Mutex<HashSet<u64>>,
    /// When the sandbox started (CLOCK_BOOTTIME-like uptime).
    pub boot: Instant,
    /// Processes and threads.
    procs: Mutex<ProcTable>,
    /// The exit status of init (pid 1), once it has exited.
    init_exit: Mutex<Option<ExitStatus>>,
    init_cv: Condvar,
    /// Counters summed over finished tasks.
    pub stats: KernelStats,
    /// futex waiters.
    pub futexes: Arc<futex::Futexes>,
    /// alarm/setitimer deadlines.
    pub timers: Arc<timers::Timers>,
    /// The UTS host name (sethostname).
    pub hostname: Mutex<String>,
    /// The UTS (NIS) domain name (setdomainname).
    pub domainname: Mutex<String>,
    /// Advisory file locks.
    pub locks: crate::vfs::locks::Locks,
    /// The container of a sandbox started with one program (config's
    /// seccomp profile).
    pub default_container: Arc<container::Container>,
    /// Called once when a process (by pid) has exited.
    exit_watchers: Mutex<HashMap<i32, ExitWatcher>>,
    /// The app→sentry profile (`--profile`), off until enabled.
    profile: profile::Profiler,
    /// The sandbox's network: sockets of every family, shared by the
    /// containers of the pod.
    pub net: Arc<crate::net::Stack>,
    /// Owners and O_ASYNC of open files (signal-driven I/O).
    pub fasync: fasync::Fasync,
    /// System V IPC objects (one IPC namespace for the whole sandbox).
    pub ipc: Arc<ipc::Ipc>,
}

/// Connects the network devices of `net` to the sysfs mounted in `vfs`
/// (/sys/class/net): sysfs is below the network layer and gets them
/// through this provider.
pub fn attach_sysfs(vfs: &Vfs, net: &Arc<crate::net::Stack>) {
    let devices: Arc<dyn crate::fsimpl::sysfs::NetDevices> = net.clone();
    crate::fsimpl::sysfs::SysFs::attach_net_all(vfs, &Arc::downgrade(&devices));
}

/// What [`Kernel::watch_exit`] calls with a process's final status.
pub type ExitWatcher = Box<dyn FnOnce(ExitStatus) + Send>;

/// Counters summed over finished tasks.
#[derive(Default, Debug)]
pub struct KernelStats {
    /// VM exits.
    pub exits: std::sync::atomic::AtomicU64,
    /// Page faults resolved.
    pub faults: std::sync::atomic::AtomicU64,
    /// Pages populated.
    pub pages: std::sync::atomic::AtomicU64,
}

impl Kernel {
    /// A kernel over `platform` and `fs`.
    pub fn new(
        platform: Arc<dyn Platform>,
        fs: Arc<Vfs>,
        config: KernelConfig,
        strace: Option<Box<dyn Write + Send>>,
    ) -> Arc<Kernel> {
        let hostname = config.hostname.clone();
        let config_seccomp = config.app_seccomp.clone();
        // tmpfs file data lives in this kernel's memory file.
        crate::mm::pagecache::set_file_memory(platform.memory());
        let net = crate::net::Stack::with_config(fs.clone(), config.net.clone());
        attach_sysfs(&fs, &net);
        Arc::new_cyclic(|me| Kernel {
            me: me.clone(),
            platform,
            fs,
            net,
            fasync: Default::default(),
            ipc: Default::default(),
            config,
            strace: strace.map(Mutex::new),
            unimplemented_seen: Mutex::new(HashSet::new()),
            boot: Instant::now(),
            procs: Mutex::new(ProcTable::default()),
            init_exit: Mutex::new(None),
            init_cv: Condvar::new(),
            stats: KernelStats::default(),
            futexes: Arc::new(futex::Futexes::default()),
            timers: Arc::new(timers::Timers::default()),
            hostname: Mutex::new(hostname),
            domainname: Mutex::new("(none)".into()),
            locks: Default::default(),
            default_container: container::Container::new("", config_seccomp),
            exit_watchers: Mutex::new(HashMap::new()),
            profile: profile::Profiler::default(),
        })
    }

    /// The process table, locked.
    pub fn procs(&self) -> MutexGuard<'_, ProcTable> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process table if nobody holds it now (callers that may run
    /// inside a section holding it).
    pub fn try_procs(&self) -> Option<MutexGuard<'_, ProcTable>> {
        match self.procs.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Creates a process with one thread and registers both.
    pub fn new_process(
        &self,
        ppid: i32,
        pgid: i32,
        sid: i32,
        container: Arc<container::Container>,
    ) -> (Arc<ThreadGroup>, Arc<TaskHandle>) {
        let mut procs = self.procs();
        let pid = procs.alloc_id();
        let pgid = if pgid == 0 { pid } else { pgid };
        let sid = if sid == 0 { pid } else { sid };
        let tg = Arc::new_cyclic(|me_tg| ThreadGroup {
            real_timer_target: Arc::new(timers::RealTimerTarget(me_tg.clone())),
            posix_timers: Mutex::new(HashMap::new()),
            pid,
            state: Mutex::new(task::TgState {
                ppid,
                pgid,
                sid,
                children: Vec::new(),
                threads: Vec::new(),
                group_exit: None,
                zombie: None,
                pending: 0,
                exit_signal: libc::SIGCHLD as u32,
                vfork_released: false,
                pdeath_signal: 0,
                nice: 0,
                membarrier: 0,
                exited_cpu_ns: 0,
                children_cpu_ns: 0,
                stopped: false,
                stop_report: None,
                cont_report: false,
                oom_score_adj: 0,
                oom_score_adj_min: 0,
            }),
            actions: Mutex::new([signal::SigAction::default(); 64]),
            child_wq: crate::waiter::WaitQueue::default(),
            exit_wq: crate::waiter::WaitQueue::default(),
            infos: Mutex::new(Default::default()),
            real_timer: Mutex::new(timers::RealTimer::default()),
            creds: Mutex::new(task::Creds {
                groups: self.config.groups.clone(),
                caps: self
                    .config
                    .caps
                    .unwrap_or_else(|| task::CapSets::for_uid(self.config.uid)),
                ..task::Creds::new(self.config.uid, self.config.gid)
            }),
            kernel: self.me.clone(),
            container,
        });
        procs.tgs.insert(pid, tg.clone());
        let h = Self::add_thread(&mut procs, &tg, pid);
        (tg, h)
    }

    /// Creates thread `tid` of `tg` and registers it.
    fn add_thread(procs: &mut ProcTable, tg: &Arc<ThreadGroup>, tid: i32) -> Arc<TaskHandle> {
        let h = Arc::new(TaskHandle {
            tid,
            tg: tg.clone(),
            waker: Arc::new(crate::waiter::Waker::default()),
            interrupter: Mutex::new(None),
            sig: Mutex::new(task::TaskSig::default()),
            killed: Default::default(),
            in_guest: Default::default(),
            info: Mutex::new(task::TaskInfo::default()),
            host_tid: Default::default(),
            debug: Default::default(),
            guest_entries: Default::default(),
            sched: Default::default(),
            robust_list: Default::default(),
            no_new_privs: Default::default(),
            seccomp: Default::default(),
        });
        tg.lock().threads.push(h.clone());
        procs.tasks.insert(tid, h.clone());
        h
    }

    /// Adds a thread to `tg` and registers it.
    pub fn new_thread(&self, tg: &Arc<ThreadGroup>) -> Arc<TaskHandle> {
        let mut procs = self.procs();
        let tid = procs.alloc_id();
        Self::add_thread(&mut procs, tg, tid)
    }

    /// The app→sentry profile (`--profile`).
    pub fn profile(&self) -> &profile::Profiler {
        &self.profile
    }

    /// Whether syscalls are traced.
    pub fn tracing(&self) -> bool {
        self.strace.is_some()
    }

    /// Writes one strace line.
    pub fn strace_line(&self, line: &str) {
        if let Some(s) = &self.strace {
            let mut w = s.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
    }

    /// Logs an unimplemented syscall, once per number.
    pub fn note_unimplemented(&self, nr: u64, name: &str) {
        let mut seen = self
            .unimplemented_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.insert(nr) {
            let name = if name.is_empty() { "unknown" } else { name };
            tracing::warn!("unimplemented syscall {nr} ({name}): returning ENOSYS");
        }
    }

    /// Runs `task` on a new host thread.
    pub fn spawn(self: &Arc<Kernel>, task: Task) -> std::io::Result<()> {
        let tid = task.tid;
        std::thread::Builder::new()
            .name(format!("task-{tid}"))
            .spawn(move || {
                if let Err(e) = task.run() {
                    tracing::debug!(tid, error = %e, "task ended with an error (logged when it happened)");
                }
            })
            .map(|_| ())
    }

    /// Calls `f` with the final status of process `pid` when it exits.
    /// Register before the process starts running.
    pub fn watch_exit(&self, pid: i32, f: ExitWatcher) {
        self.exit_watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, f);
    }

    /// Runs the exit watcher of `pid`, if any.
    pub(crate) fn process_exited(&self, pid: i32, st: ExitStatus) {
        let w = self
            .exit_watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pid);
        if let Some(f) = w {
            f(st);
        }
    }

    /// The live (not yet exited) processes of container `id`, by pid.
    pub fn container_processes(&self, id: &str) -> Vec<Arc<ThreadGroup>> {
        let mut v: Vec<Arc<ThreadGroup>> = self
            .procs()
            .tgs
            .values()
            .filter(|tg| tg.container.id == id && tg.lock().zombie.is_none())
            .cloned()
            .collect();
        v.sort_by_key(|tg| tg.pid);
        v
    }

    /// Every live process of the sandbox.
    pub fn all_processes(&self) -> Vec<Arc<ThreadGroup>> {
        self.procs()
            .tgs
            .values()
            .filter(|tg| tg.lock().zombie.is_none())
            .cloned()
            .collect()
    }

    /// Pauses (true) or resumes a container: paused tasks stop at their
    /// next return to the sentry; running app code is interrupted.
    pub fn set_paused(&self, c: &Arc<container::Container>, paused: bool) {
        c.set_paused(paused);
        if paused {
            for tg in self.container_processes(&c.id) {
                let threads = tg.lock().threads.clone();
                for h in threads {
                    h.interrupt_guest();
                }
            }
        }
    }

    /// Records init's exit (the sandbox ends with it).
    pub(crate) fn init_exited(&self, st: ExitStatus) {
        let mut e = self.init_exit.lock().unwrap_or_else(|p| p.into_inner());
        *e = Some(st);
        self.init_cv.notify_all();
    }

    /// Starts init and waits until it exits.
    pub fn run_init(self: &Arc<Kernel>, init: Task) -> Result<ExitStatus, KernelError> {
        self.spawn(init).map_err(|e| KernelError::Setup {
            what: "starting the init task thread",
            errno: Errno::from_io(&e),
        })?;
        let mut e = self.init_exit.lock().unwrap_or_else(|p| p.into_inner());
        while e.is_none() {
            e = self.init_cv.wait(e).unwrap_or_else(|p| p.into_inner());
        }
        Ok(e.unwrap_or(ExitStatus::Signaled(signal::Signal::SIGKILL)))
    }
}
