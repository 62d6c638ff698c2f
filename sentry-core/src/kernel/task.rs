//! A task (thread of the app) and its run loop: switch into app code, serve
//! the syscall or fault that comes back, repeat until the task exits.

use std::sync::Arc;

use crate::errno::Errno;
use crate::kernel::exec::{self, ExecArgs};
use crate::kernel::signal::{Signal, SignalState};
use crate::kernel::{Kernel, KernelError};
use crate::loader;
use crate::mm::{FaultError, MemoryManager};
use crate::platform::{Context, Event, FpuState, Registers};
use crate::syscalls;
use crate::vfs::{FdEntry, FdTable, FileDescription};

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

/// A thread of the app.
pub struct Task {
    /// The kernel.
    pub kernel: Arc<Kernel>,
    /// Thread id (in the sandbox's PID namespace).
    pub tid: i32,
    /// Thread-group id.
    pub pid: i32,
    /// Parent's pid (0: started from outside the sandbox).
    pub ppid: i32,
    /// App registers.
    pub regs: Registers,
    /// FPU state.
    pub fpu: FpuState,
    /// Memory.
    pub mm: MemoryManager,
    /// Descriptors.
    pub fds: FdTable,
    /// Working directory (absolute path in the sandbox's file system).
    pub cwd: String,
    /// Signal actions and mask.
    pub signals: SignalState,
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
    /// umask.
    pub umask: u32,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// PR_SET_DUMPABLE.
    pub dumpable: bool,
    /// Set when the task has exited.
    pub exit: Option<ExitStatus>,
    /// Last fault address and how many times in a row it was seen.
    repeat_fault: (u64, u32),
    ctx: Box<dyn Context>,
}

impl Task {
    /// Creates the first task of the sandbox running `bytes` (an ELF file).
    pub fn new_init(
        kernel: Arc<Kernel>,
        bytes: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        execfn: &[u8],
        cwd: String,
        stdio: [Arc<dyn FileDescription>; 3],
    ) -> Result<Task, KernelError> {
        let image = loader::parse(bytes)?;
        let platform = kernel.platform.clone();
        let space = platform.new_address_space()?;
        let mut mm =
            MemoryManager::new(space, platform.memory().clone(), kernel.config.fault_around);
        let name = String::from_utf8_lossy(execfn).into_owned();
        let regs = exec::load(
            &mut mm,
            &image,
            bytes,
            &name,
            &ExecArgs {
                argv,
                envp,
                execfn,
                uid: kernel.config.uid,
                gid: kernel.config.gid,
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
        let mut comm = [0u8; 16];
        let base = execfn.rsplit(|&b| b == b'/').next().unwrap_or(execfn);
        let n = base.len().min(15);
        comm[..n].copy_from_slice(&base[..n]);
        let ctx = platform.new_context()?;
        Ok(Task {
            kernel,
            tid: 1,
            pid: 1,
            ppid: 0,
            regs,
            fpu: FpuState::default(),
            mm,
            fds,
            cwd,
            signals: SignalState::default(),
            clear_child_tid: 0,
            robust_list: 0,
            comm,
            rlimits: default_rlimits(),
            exe: execfn.to_vec(),
            umask: 0o022,
            no_new_privs: false,
            dumpable: true,
            exit: None,
            repeat_fault: (u64::MAX, 0),
            ctx,
        })
    }

    /// Hardware exits this task's context has taken.
    pub fn exits(&self) -> u64 {
        self.ctx.exits()
    }

    /// A handle that interrupts this task's run from another thread.
    pub fn interrupter(&self) -> crate::platform::Interrupter {
        self.ctx.interrupter()
    }

    /// Kills the task with `sig`, reporting why.
    fn die(&mut self, sig: Signal, why: &str) {
        tracing::info!(
            tid = self.tid,
            rip = format_args!("{:#x}", self.regs.rip),
            "killed by {}: {why}",
            sig.name()
        );
        self.exit = Some(ExitStatus::Signaled(sig));
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

    /// Runs the task until it exits.
    pub fn run(&mut self) -> Result<ExitStatus, KernelError> {
        loop {
            if let Some(st) = self.exit {
                return Ok(st);
            }
            let space = self.mm.address_space().clone();
            let ev = self.ctx.switch(&mut self.regs, &mut self.fpu, &*space)?;
            match ev {
                Event::Syscall => {
                    self.repeat_fault.1 = 0;
                    syscalls::dispatch(self)
                }
                Event::Fault {
                    addr,
                    access,
                    present: _,
                } => match self.mm.handle_fault(addr, access) {
                    Ok(()) if self.note_fault(addr) => self.die(
                        Signal::SIGBUS,
                        &format!("fault at {addr:#x} keeps recurring after being resolved (platform error)"),
                    ),
                    Ok(()) => {}
                    Err(FaultError::OutOfMemory) => {
                        self.die(Signal::SIGKILL, "out of memory in the sandbox")
                    }
                    Err(e) => {
                        let why = format!(
                            "{:?} access to {addr:#x} ({})",
                            access,
                            if e == FaultError::MapErr {
                                "no mapping"
                            } else {
                                "not permitted"
                            }
                        );
                        self.die(Signal::SIGSEGV, &why)
                    }
                },
                Event::Exception { vector, code } => {
                    let sig = match vector {
                        0 | 7 | 16 | 19 => Signal::SIGFPE,
                        1 | 3 => Signal::SIGTRAP,
                        6 => Signal::SIGILL,
                        11 | 12 | 17 => Signal::SIGBUS,
                        _ => Signal::SIGSEGV,
                    };
                    self.die(
                        sig,
                        &format!("CPU exception {vector} (error code {code:#x})"),
                    );
                }
                Event::Interrupted => {}
            }
        }
    }

    /// Reads a path argument from app memory.
    pub fn read_path(&mut self, addr: u64) -> Result<Vec<u8>, Errno> {
        let p = self.mm.read_cstring(addr, 4095)?;
        if p.is_empty() {
            return Err(Errno::ENOENT);
        }
        Ok(p)
    }
}
