//! The VM: `/dev/kvm`, the memslot over the memory file, the supervisor half
//! shared by every address space, backend detection and the vCPU pool.

use std::sync::{Arc, Mutex};

use entry_asm::layout;
use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VmFd};

use crate::memfile::{MemoryError, MemoryFile};
use crate::paging::{
    AddressSpace, PagingError, Perms, PTE_A, PTE_D, PTE_NX, PTE_P, PTE_PS, PTE_U, PTE_W,
};
use crate::vcpu::{Vcpu, VcpuError, VcpuExit};
use crate::{UserRegs, PAGE_SIZE};

/// Which KVM the host provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Hardware VMX/SVM: a user `syscall` enters the CPL0 LSTAR stub.
    Hardware,
    /// The paravirtual KVM of our build machines: a user `syscall` lands at
    /// LSTAR still at CPL3, so LSTAR points at a user-executable stub.
    Paravirtual,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Hardware => "hardware KVM (VMX/SVM)",
            Backend::Paravirtual => "paravirtual KVM (CPL3 syscall entry)",
        })
    }
}

/// Errors creating or using the VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// `/dev/kvm` could not be opened.
    #[error("cannot open /dev/kvm: {0} (gvisor-rs needs KVM: check that /dev/kvm exists and that you may read and write it)")]
    NoKvm(std::io::Error),
    /// A KVM ioctl failed.
    #[error("KVM {op}: {source}")]
    Kvm {
        /// Which operation.
        op: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// The memory file.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Page tables.
    #[error(transparent)]
    Paging(#[from] PagingError),
    /// A vCPU.
    #[error(transparent)]
    Vcpu(#[from] VcpuError),
    /// Bad configuration.
    #[error("VM configuration: {0}")]
    Config(String),
    /// The backend probe saw something unexpected.
    #[error("backend probe: {0}")]
    Probe(String),
}

pub(crate) fn kvm_err(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmError {
    move |e| VmError::Kvm {
        op,
        source: std::io::Error::from_raw_os_error(e.errno()),
    }
}

/// VM parameters.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Size of the memory file (sparse; only touched pages cost host memory).
    pub memory_size: u64,
    /// Most vCPUs in the pool.
    pub max_vcpus: usize,
}

impl Default for VmConfig {
    fn default() -> Self {
        // One vCPU per live task (a task keeps its vCPU, and with it its
        // FPU state, for its whole life); idle ones are reused.
        VmConfig {
            memory_size: 8 << 30,
            max_vcpus: 256,
        }
    }
}

/// What vCPUs need from the VM.
pub(crate) struct Shared {
    pub(crate) mem: Arc<MemoryFile>,
    pub(crate) supervisor_pdpt: u64,
    /// PD of the 4 KiB supervisor region (PDPT slot 510).
    pub(crate) supervisor_pd: u64,
    pub(crate) cpuid: CpuId,
    pub(crate) xcr0: u64,
}

struct Pool {
    idle: Vec<Vcpu>,
    created: usize,
}

/// A KVM virtual machine hosting one sandbox.
pub struct Vm {
    _kvm: Kvm,
    fd: VmFd,
    shared: Arc<Shared>,
    backend: Backend,
    max_vcpus: usize,
    pool: Mutex<Pool>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Vm {
    /// Opens `/dev/kvm`, creates the VM and its memory, detects the backend.
    pub fn new(config: VmConfig) -> Result<Arc<Vm>, VmError> {
        if config.memory_size > layout::DIRECT_MAP_MAX || config.memory_size < (4 << 20) {
            return Err(VmError::Config(format!(
                "memory size {} out of range 4 MiB..{} GiB",
                config.memory_size,
                layout::DIRECT_MAP_MAX >> 30
            )));
        }
        let kvm =
            Kvm::new().map_err(|e| VmError::NoKvm(std::io::Error::from_raw_os_error(e.errno())))?;
        let fd = kvm.create_vm().map_err(kvm_err("create VM"))?;
        let mem = Arc::new(MemoryFile::new(config.memory_size)?);
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: mem.size(),
            userspace_addr: mem.host_base(),
        };
        // SAFETY: the region describes the memory file's host mapping, which
        // `mem` keeps alive for as long as the VM (it is dropped after `fd`:
        // the Vm holds both and the vCPUs hold `mem`).
        unsafe { fd.set_user_memory_region(region) }.map_err(kvm_err("set memory region"))?;

        let (supervisor_pdpt, supervisor_pd) = build_supervisor(&mem)?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm_err("get supported CPUID"))?;
        // XCR0: x87 and SSE always, AVX when the vCPU model offers it
        // (CPUID.(EAX=0DH,ECX=0):EAX lists the XSAVE components).
        let xsave_components = cpuid
            .as_slice()
            .iter()
            .find(|e| e.function == 0xd && e.index == 0)
            .map_or(0x3, |e| e.eax as u64);
        let xcr0 = 0x3 | (xsave_components & 0x4);
        let shared = Arc::new(Shared {
            mem,
            supervisor_pdpt,
            supervisor_pd,
            cpuid,
            xcr0,
        });
        let mut vm = Vm {
            _kvm: kvm,
            fd,
            shared,
            backend: Backend::Paravirtual,
            max_vcpus: config.max_vcpus.clamp(1, layout::MAX_VCPUS),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                created: 0,
            }),
        };
        vm.backend = vm.probe_backend()?;
        tracing::info!(backend = %vm.backend, memory = vm.shared.mem.size(), "KVM platform ready");
        Ok(Arc::new(vm))
    }

    /// The backend found at start-up.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The memory file.
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.shared.mem
    }

    /// A new, empty address space.
    pub fn new_address_space(&self) -> Result<AddressSpace, VmError> {
        Ok(AddressSpace::new(
            self.shared.mem.clone(),
            self.shared.supervisor_pdpt,
        )?)
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a vCPU from the pool, creating one if the pool is empty and the
    /// limit allows.
    pub fn acquire_vcpu(&self) -> Result<Vcpu, VmError> {
        let mut pool = self.lock_pool();
        if let Some(v) = pool.idle.pop() {
            return Ok(v);
        }
        if pool.created >= self.max_vcpus {
            return Err(VmError::Config(format!(
                "all {} vCPUs are in use",
                self.max_vcpus
            )));
        }
        let id = pool.created;
        let v = Vcpu::new(&self.fd, self.shared.clone(), id, self.backend)?;
        pool.created += 1;
        Ok(v)
    }

    /// Returns a vCPU to the pool.
    pub fn release_vcpu(&self, vcpu: Vcpu) {
        self.lock_pool().idle.push(vcpu);
    }

    /// Runs `syscall` in a throwaway address space and sees where it lands.
    fn probe_backend(&mut self) -> Result<Backend, VmError> {
        let mut vcpu = Vcpu::new(&self.fd, self.shared.clone(), 0, Backend::Paravirtual)?;
        let space = self.new_address_space()?;
        let code = self.shared.mem.alloc_page()?;
        // syscall; ud2
        self.shared.mem.write(code, &[0x0f, 0x05, 0x0f, 0x0b])?;
        space.map(0x1000, code, PAGE_SIZE, Perms::RX)?;
        let mut regs = UserRegs {
            rip: 0x1000,
            rflags: 0x202,
            ..Default::default()
        };
        let exit = vcpu.run(&mut regs, &space)?;
        let backend = match exit {
            VcpuExit::Syscall if vcpu.last_exit_cpl() == 3 => Backend::Paravirtual,
            VcpuExit::Syscall => Backend::Hardware,
            other => {
                return Err(VmError::Probe(format!(
                    "a syscall gave {other:?} (rip {:#x}, cpl {}, {})",
                    regs.rip,
                    vcpu.last_exit_cpl(),
                    vcpu.debug_state()
                )))
            }
        };
        self.shared.mem.free_page(code);
        vcpu.set_backend(backend)?;
        vcpu.reset_exit_count();
        // The probe vCPU becomes vCPU 0 of the pool.
        let mut pool = self.lock_pool();
        pool.created = 1;
        pool.idle.push(vcpu);
        Ok(backend)
    }
}

/// Builds the shared PDPT of PML4 slot 511: the direct map of the memory file
/// (2 MiB pages, supervisor, NX) and the 4 KiB supervisor region with the code
/// blob and the IDT. Returns (pdpt, supervisor pd).
fn build_supervisor(mem: &MemoryFile) -> Result<(u64, u64), VmError> {
    let pdpt = mem.alloc_page()?;
    const GIB: u64 = 1 << 30;
    const MIB2: u64 = 2 << 20;
    let mut gb = 0;
    while gb * GIB < mem.size() {
        let pd = mem.alloc_page()?;
        for j in 0..512u64 {
            let phys = gb * GIB + j * MIB2;
            if phys >= mem.size() {
                break;
            }
            mem.write_u64(
                pd + j * 8,
                phys | PTE_P | PTE_W | PTE_A | PTE_D | PTE_PS | PTE_NX,
            )?;
        }
        mem.write_u64(pdpt + gb * 8, pd | PTE_P | PTE_W | PTE_A)?;
        gb += 1;
    }
    // The supervisor region. Upper levels carry U so that the one
    // user-executable stub page is reachable; every other leaf is U=0.
    let spd = mem.alloc_page()?;
    mem.write_u64(pdpt + 510 * 8, spd | PTE_P | PTE_W | PTE_U | PTE_A)?;
    let pt = mem.alloc_page()?;
    mem.write_u64(spd, pt | PTE_P | PTE_W | PTE_U | PTE_A)?;
    let blob = mem.alloc_contiguous(2, PAGE_SIZE)?;
    mem.write(blob, entry_asm::blob())?;
    // Page 0: user stub, read-only, executable, user.
    mem.write_u64(pt, blob | PTE_P | PTE_U | PTE_A)?;
    // Page 1: supervisor code, read-only.
    mem.write_u64(pt + 8, (blob + PAGE_SIZE) | PTE_P | PTE_A)?;
    let idt = mem.alloc_page()?;
    mem.write(idt, &crate::x86::idt())?;
    let idt_index = (layout::IDT_VA - layout::SUPERVISOR_BASE) / PAGE_SIZE;
    mem.write_u64(pt + idt_index * 8, idt | PTE_P | PTE_A | PTE_NX)?;
    Ok((pdpt, spd))
}
