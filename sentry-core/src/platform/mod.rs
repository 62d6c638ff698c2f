//! The platform seam (as gVisor's `platform.Platform`): how app code runs and
//! how its address space is shaped. The kernel sees only these traits; the KVM
//! adapter is in [`kvm`], a recording fake for unit tests in [`fake`].

use std::any::Any;
use std::sync::Arc;

pub use kvm_vcpu::{MemoryFile, Perms, UserRegs as Registers};

pub mod fake;
pub mod kvm;

/// Errors of the platform: they end the sandbox, never the app's doing.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The KVM VM.
    #[error(transparent)]
    Vm(#[from] kvm_vcpu::VmError),
    /// A vCPU run.
    #[error(transparent)]
    Vcpu(#[from] kvm_vcpu::VcpuError),
    /// Page tables.
    #[error(transparent)]
    Paging(#[from] kvm_vcpu::PagingError),
    /// Something the platform does not support.
    #[error("platform: {0}")]
    Unsupported(String),
}

/// What kind of access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A read.
    Read,
    /// A write.
    Write,
    /// An instruction fetch.
    Exec,
}

/// Why `Context::switch` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The app made a system call (`regs.rax` = number, `regs.rip` = return address).
    Syscall,
    /// A page fault at `addr`; `present` is true when a mapping existed (protection fault).
    Fault {
        /// Faulting address.
        addr: u64,
        /// Access kind.
        access: Access,
        /// A mapping was present (protection violation) rather than absent.
        present: bool,
    },
    /// Any other CPU exception.
    Exception {
        /// Vector.
        vector: u8,
        /// Error code.
        code: u64,
    },
    /// Another thread asked this one to stop running app code.
    Interrupted,
}

/// FPU/SSE/AVX state of a task. On the KVM platform it stays inside the vCPU
/// the task's context owns; it is saved here only when it must move.
#[derive(Debug, Default)]
pub struct FpuState {
    /// Saved XSAVE image, if the state is not live in a vCPU.
    pub saved: Option<Box<[u8]>>,
}

/// A handle that makes a running (or the next) `switch` return `Interrupted`.
#[derive(Clone)]
pub struct Interrupter(Arc<dyn Fn() + Send + Sync>);

impl Interrupter {
    /// Wraps an interrupt function.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        Interrupter(Arc::new(f))
    }
    /// Interrupts.
    pub fn interrupt(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interrupter")
    }
}

/// A source of address spaces and execution contexts.
pub trait Platform: Send + Sync {
    /// Describes the platform (logged at start-up).
    fn describe(&self) -> String;
    /// The memory file every address space maps from.
    fn memory(&self) -> &Arc<MemoryFile>;
    /// A new, empty address space.
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError>;
    /// A new context to run app code on.
    fn new_context(&self) -> Result<Box<dyn Context>, PlatformError>;
}

/// A cache of mappings: the sentry's VMA tree is the truth.
pub trait AddressSpace: Send + Sync + Any {
    /// Maps `[va, va+len)` to memory-file offsets starting at `file_off`.
    fn map(&self, va: u64, file_off: u64, len: u64, perms: Perms) -> Result<(), PlatformError>;
    /// Maps single pages `(va, file_off)` with the same perms (fault-around).
    fn map_pages(&self, pages: &[(u64, u64)], perms: Perms) -> Result<(), PlatformError>;
    /// Changes the protection of whatever is mapped in `[va, va+len)`.
    fn protect(&self, va: u64, len: u64, perms: Perms) -> Result<(), PlatformError>;
    /// Removes mappings in `[va, va+len)`.
    fn unmap(&self, va: u64, len: u64) -> Result<(), PlatformError>;
    /// For the adapter that needs its concrete type back.
    fn as_any(&self) -> &dyn Any;
}

/// Runs app code until something needs the kernel.
pub trait Context: Send {
    /// Runs the app with `regs` in `space` until an event.
    fn switch(
        &mut self,
        regs: &mut Registers,
        fpu: &mut FpuState,
        space: &dyn AddressSpace,
    ) -> Result<Event, PlatformError>;
    /// A handle another thread uses to interrupt `switch`.
    fn interrupter(&self) -> Interrupter;
    /// Hardware exits (VM exits) taken so far, for benchmarks and stats.
    fn exits(&self) -> u64;
    /// Applies queued page-table changes of `space` now (before pages they
    /// unmapped are reused while other contexts run the same space).
    fn flush(&mut self, space: &dyn AddressSpace) -> Result<(), PlatformError>;
    /// The FPU/SSE/AVX state in XSAVE layout (for signal frames and fork).
    fn save_fpu(&mut self) -> Result<Vec<u8>, PlatformError>;
    /// Loads an XSAVE-layout FPU state (at most 4096 bytes; the rest keeps
    /// its current contents).
    fn restore_fpu(&mut self, state: &[u8]) -> Result<(), PlatformError>;
}

/// Fills `buf` from the host's random source.
pub fn getrandom(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most buf.len()-done bytes into the rest of buf.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
}
