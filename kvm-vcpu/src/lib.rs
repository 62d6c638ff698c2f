//! The KVM platform of gvisor-rs as a standalone API: `/dev/kvm`, the VM and
//! its memory file, guest page tables, vCPUs and their pool, typed exits.
//! It knows x86-64 and KVM, not Linux; `sentry-core`'s platform adapter wraps
//! it. See docs/ARCHITECTURE.md and the guest layout in `entry-asm`.

pub mod memfile;
pub mod paging;
pub mod vcpu;
pub mod vm;
pub mod x86;

pub use memfile::{MemoryError, MemoryFile};
pub use paging::{AddressSpace, PagingError, Perms};
pub use vcpu::{kick_signal, Interrupter, Vcpu, VcpuError, VcpuExit};
pub use vm::{Backend, Vm, VmConfig, VmError};

/// Guest page size.
pub const PAGE_SIZE: u64 = entry_asm::PAGE_SIZE;

/// The app-visible register state of a task (what `kvm_regs` holds, plus the
/// FS/GS bases that live in segment registers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
    pub fs_base: u64,
    pub gs_base: u64,
}

impl UserRegs {
    /// Copies the general registers, RIP and RFLAGS from KVM's layout (the
    /// segment bases are left alone).
    pub(crate) fn load(&mut self, r: &kvm_bindings::kvm_regs) {
        self.rax = r.rax;
        self.rbx = r.rbx;
        self.rcx = r.rcx;
        self.rdx = r.rdx;
        self.rsi = r.rsi;
        self.rdi = r.rdi;
        self.rsp = r.rsp;
        self.rbp = r.rbp;
        self.r8 = r.r8;
        self.r9 = r.r9;
        self.r10 = r.r10;
        self.r11 = r.r11;
        self.r12 = r.r12;
        self.r13 = r.r13;
        self.r14 = r.r14;
        self.r15 = r.r15;
        self.rip = r.rip;
        self.rflags = r.rflags;
    }

    /// Copies into KVM's layout.
    pub(crate) fn store(&self, r: &mut kvm_bindings::kvm_regs) {
        r.rax = self.rax;
        r.rbx = self.rbx;
        r.rcx = self.rcx;
        r.rdx = self.rdx;
        r.rsi = self.rsi;
        r.rdi = self.rdi;
        r.rsp = self.rsp;
        r.rbp = self.rbp;
        r.r8 = self.r8;
        r.r9 = self.r9;
        r.r10 = self.r10;
        r.r11 = self.r11;
        r.r12 = self.r12;
        r.r13 = self.r13;
        r.r14 = self.r14;
        r.r15 = self.r15;
        r.rip = self.rip;
        r.rflags = self.rflags;
    }
}
