//! One vCPU: its supervisor area (page-table store queue, GDT, TSS, kernel
//! stack), CPL3 start-up, and the run loop that turns KVM exits into typed
//! events. Registers go through the `kvm_run` sync area: no GET/SET ioctl on
//! the syscall or fault path.
//!
//! The vCPU is a small state machine over where the guest stopped:
//! - `User`: at CPL3 (after a syscall exit on the paravirtual backend, or an
//!   interrupt while the app ran). Resuming = loading the app's registers.
//! - `Kernel`: at CPL0 (after an exception stub, inside the PTE snippet).
//!   Resuming = writing an iret frame on the kernel stack and entering the lone
//!   `iretq` (or the snippet first, when stores are queued).
//! - `Sysret`: at the `sysretq` of the hardware stub; resumed by `sysretq` when
//!   the app's RIP/RFLAGS are untouched, else like `Kernel`.
//!
//! The files: this one holds the vCPU, its exits, errors and accessors;
//! `setup` creates it (supervisor area, segments, system registers, CPUID,
//! XCR0, syscall MSRs); `entry` gets back into the guest (the entry plan, the
//! iret frame, the page-table store queue and `flush`); `run` is the run loop
//! that decodes KVM exits; `kick` interrupts a vCPU from another thread.

mod entry;
mod kick;
mod run;
mod setup;

use std::sync::Arc;

use entry_asm::layout;
use kvm_bindings::kvm_xsave;
use kvm_ioctls::VcpuFd;

use crate::memfile::MemoryError;
use crate::paging::PteStore;
use crate::vm::{Backend, Shared};

use kick::Kick;
pub use kick::{kick_signal, Interrupter};

/// Why `run` returned to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuExit {
    /// The app executed `syscall`. `regs.rip` is the return address, `rax` the number.
    Syscall,
    /// A CPU exception in app code. `cr2` is the faulting address for #PF.
    Exception {
        /// Vector 0..32.
        vector: u8,
        /// Error code (0 when the vector has none).
        error_code: u64,
        /// CR2 at the time of the exit.
        cr2: u64,
    },
    /// Another thread interrupted the run; `regs` holds the app's state.
    Interrupted,
}

/// Errors that end a run: the sandbox cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// A KVM ioctl failed.
    #[error("KVM {op} on vCPU {vcpu}: {source}")]
    Kvm {
        /// Operation.
        op: &'static str,
        /// vCPU index.
        vcpu: usize,
        /// Cause.
        source: std::io::Error,
    },
    /// The guest stopped in a way the platform never asks for.
    #[error("vCPU {vcpu}: unexpected exit {what} at rip {rip:#x}")]
    UnexpectedExit {
        /// vCPU index.
        vcpu: usize,
        /// Description of the exit.
        what: String,
        /// Guest RIP.
        rip: u64,
    },
    /// Our own CPL0 code faulted (a platform bug, never the app's doing).
    #[error("vCPU {vcpu}: exception {vector} in platform code at rip {rip:#x} (error code {error_code:#x})")]
    KernelFault {
        /// vCPU index.
        vcpu: usize,
        /// Vector.
        vector: u8,
        /// Faulting RIP.
        rip: u64,
        /// Error code.
        error_code: u64,
    },
    /// Guest memory access.
    #[error("vCPU guest memory: {0}")]
    Memory(#[from] MemoryError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    User,
    Kernel,
    Sysret,
}

/// A virtual CPU of the sandbox's VM.
pub struct Vcpu {
    fd: VcpuFd,
    shared: Arc<Shared>,
    index: usize,
    backend: Backend,
    /// Guest VA and physical address of this vCPU's supervisor area.
    area_va: u64,
    area_phys: u64,
    mode: Mode,
    /// CPL of the last exit (for the backend probe).
    last_cpl: u8,
    /// Stores written to the queue whose application is not yet confirmed.
    inflight: Vec<PteStore>,
    inflight_flush: bool,
    /// Next inflight entry to hand to the snippet (when batches overflow).
    batch_pos: usize,
    kick: Arc<Kick>,
    exits: u64,
}

impl std::fmt::Debug for Vcpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vcpu")
            .field("index", &self.index)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Vcpu {
    /// The vCPU's index in the VM.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Exits taken so far (every KVM_RUN return).
    pub fn exits(&self) -> u64 {
        self.exits
    }

    pub(crate) fn reset_exit_count(&mut self) {
        self.exits = 0;
    }

    /// The sync-area registers of the last exit, for error messages.
    pub fn debug_state(&self) -> String {
        let s = self.fd.sync_regs();
        format!(
            "sync rip {:#x} rsp {:#x} rcx {:#x} cs {:#x} ss {:#x} cr0 {:#x} cr4 {:#x} efer {:#x}",
            s.regs.rip,
            s.regs.rsp,
            s.regs.rcx,
            s.sregs.cs.selector,
            s.sregs.ss.selector,
            s.sregs.cr0,
            s.sregs.cr4,
            s.sregs.efer
        )
    }

    /// CPL at the last exit.
    pub fn last_exit_cpl(&self) -> u8 {
        self.last_cpl
    }

    /// A handle to interrupt this vCPU from another thread.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.kick.clone())
    }

    /// Reads the FPU/SSE/AVX state (an ioctl: only when a task changes vCPU or
    /// a signal frame needs it).
    pub fn get_fpu(&self) -> Result<kvm_xsave, VcpuError> {
        self.fd.get_xsave().map_err(|e| self.err("get xsave", e))
    }

    /// Loads the FPU/SSE/AVX state.
    pub fn set_fpu(&self, state: &kvm_xsave) -> Result<(), VcpuError> {
        // SAFETY: `state` is a complete kvm_xsave obtained from get_xsave (or
        // zero-initialised, which KVM validates); the legacy-size ioctl reads
        // exactly size_of::<kvm_xsave>() bytes.
        unsafe { self.fd.set_xsave(state) }.map_err(|e| self.err("set xsave", e))
    }

    fn err(&self, op: &'static str, e: kvm_ioctls::Error) -> VcpuError {
        VcpuError::Kvm {
            op,
            vcpu: self.index,
            source: std::io::Error::from_raw_os_error(e.errno()),
        }
    }

    fn area_offset(&self, va: u64) -> Option<u64> {
        let off = va.checked_sub(self.area_va)?;
        (off < layout::VCPU_AREA_SIZE).then_some(off)
    }
}
