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

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Once};

use entry_asm::{gdt, layout, queue};
use kvm_bindings::{kvm_msr_entry, kvm_segment, kvm_sregs, kvm_xcrs, kvm_xsave, Msrs};
use kvm_ioctls::{SyncReg, VcpuExit as KvmExit, VcpuFd, VmFd};

use crate::memfile::{MemoryError, MemoryFile};
use crate::paging::{AddressSpace, PteStore, PTE_A, PTE_NX, PTE_P, PTE_U, PTE_W};
use crate::vm::{kvm_err, Backend, Shared, VmError};
use crate::x86::{self, msr, rflags};
use crate::{UserRegs, PAGE_SIZE};

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

/// A KVM exit, detached from the borrow of the vCPU.
enum Exit {
    Out(u16),
    /// An `in`/`ins` (only ever the app's: the sentry's stubs never read ports).
    In(u16),
    Other(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    User,
    Kernel,
    Sysret,
}

/// How the next KVM_RUN gets back to the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Already at CPL3: load the registers.
    Direct,
    /// At the hardware stub's `sysretq`, app RIP/RFLAGS untouched.
    Sysret,
    /// Through an iret frame on the kernel stack, after the PTE snippet when
    /// stores are queued.
    Iret {
        /// Run the snippet first.
        snippet: bool,
    },
}

fn plan_entry(mode: Mode, queued: bool, regs: &UserRegs) -> Entry {
    match mode {
        Mode::User if !queued => Entry::Direct,
        // sysretq loads RIP from RCX and RFLAGS from R11; a non-canonical RCX
        // would fault at CPL0 with the app's stack (the classic sysret hole).
        Mode::Sysret
            if !queued
                && regs.rcx == regs.rip
                && regs.r11 == regs.rflags
                && x86::is_canonical(regs.rip) =>
        {
            Entry::Sysret
        }
        _ => Entry::Iret { snippet: queued },
    }
}

/// Shared between a vCPU and its interrupters.
#[derive(Debug, Default)]
struct Kick {
    pending: AtomicBool,
    /// Host thread id running this vCPU, 0 when not in `run`.
    tid: AtomicI32,
}

/// A handle another thread uses to make a running (or the next) `run` return
/// `VcpuExit::Interrupted`.
#[derive(Clone, Debug)]
pub struct Interrupter(Arc<Kick>);

impl Interrupter {
    /// Requests an interrupt. Safe to call from any thread at any time.
    pub fn interrupt(&self) {
        self.0.pending.store(true, Ordering::SeqCst);
        let tid = self.0.tid.load(Ordering::SeqCst);
        if tid != 0 {
            // SAFETY: tgkill with our own pid and a thread id of this process;
            // the kick signal's handler only sets immediate_exit. A stale tid
            // (thread left `run`) at worst interrupts a host syscall that the
            // handler's SA_RESTART restarts.
            unsafe {
                libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, kick_signal());
            }
        }
    }
}

thread_local! {
    /// `&kvm_run.immediate_exit` of the vCPU this thread is running, or null.
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn kick_handler(_sig: libc::c_int) {
    let _ = IMMEDIATE_EXIT.try_with(|p| {
        let p = p.get();
        if !p.is_null() {
            // SAFETY: the pointer is set by `run` on this thread to the
            // immediate_exit byte of a kvm_run mapping that outlives the run,
            // and cleared before `run` returns.
            unsafe { p.write_volatile(1) };
        }
    });
}

/// The host signal used to kick vCPU threads out of KVM_RUN.
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that only performs a volatile byte store
        // through a thread-local pointer (async-signal-safe); the sigaction
        // struct is fully initialized.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = kick_handler as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

fn user_cs() -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector: gdt::USER_CS,
        type_: 11,
        present: 1,
        dpl: 3,
        db: 0,
        s: 1,
        l: 1,
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

fn user_ds() -> kvm_segment {
    kvm_segment {
        selector: gdt::USER_DS,
        type_: 3,
        db: 1,
        l: 0,
        ..user_cs()
    }
}

fn kernel_cs() -> kvm_segment {
    kvm_segment {
        selector: gdt::KERNEL_CS,
        dpl: 0,
        ..user_cs()
    }
}

fn kernel_ds() -> kvm_segment {
    kvm_segment {
        selector: gdt::KERNEL_DS,
        dpl: 0,
        ..user_ds()
    }
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
    pub(crate) fn new(
        vm: &VmFd,
        shared: Arc<Shared>,
        index: usize,
        backend: Backend,
    ) -> Result<Vcpu, VmError> {
        install_kick_handler();
        let fd = vm
            .create_vcpu(index as u64)
            .map_err(kvm_err("create vCPU"))?;
        fd.set_cpuid2(&shared.cpuid).map_err(kvm_err("set CPUID"))?;

        // The supervisor area: queue, GDT, TSS, kernel stack.
        let mem = &shared.mem;
        let area_va = layout::VCPU_AREA_BASE + index as u64 * layout::VCPU_AREA_SIZE;
        let pages = layout::VCPU_AREA_SIZE / PAGE_SIZE;
        let area_phys = mem.alloc_contiguous(pages, PAGE_SIZE)?;
        let rel = area_va - layout::SUPERVISOR_BASE;
        let pde = shared.supervisor_pd + ((rel >> 21) & 0x1ff) * 8;
        let mut pt = mem.read_u64(pde)? & crate::paging::PTE_ADDR;
        if pt == 0 {
            pt = mem.alloc_page()?;
            mem.write_u64(pde, pt | PTE_P | PTE_W | PTE_U | PTE_A)?;
        }
        let first = (rel >> 12) & 0x1ff;
        for i in 0..pages {
            let off = i * PAGE_SIZE;
            let used = off < layout::QUEUE_OFFSET + layout::QUEUE_SIZE
                || (layout::GDT_OFFSET..layout::TSS_OFFSET + 3 * PAGE_SIZE).contains(&off)
                || off >= layout::STACK_OFFSET;
            if used {
                mem.write_u64(
                    pt + (first + i) * 8,
                    (area_phys + off) | PTE_P | PTE_W | PTE_A | crate::paging::PTE_D | PTE_NX,
                )?;
            }
        }
        let tss_va = area_va + layout::TSS_OFFSET;
        let gdt_bytes: Vec<u8> = x86::gdt(tss_va)
            .iter()
            .flat_map(|e| e.to_le_bytes())
            .collect();
        mem.write(area_phys + layout::GDT_OFFSET, &gdt_bytes)?;
        mem.write(
            area_phys + layout::TSS_OFFSET,
            &x86::tss(area_va + layout::STACK_TOP_OFFSET, entry_asm::PORT_SYSCALL),
        )?;

        let mut sregs: kvm_sregs = fd.get_sregs().map_err(kvm_err("get sregs"))?;
        sregs.cs = user_cs();
        sregs.ss = user_ds();
        sregs.ds = user_ds();
        sregs.es = user_ds();
        sregs.fs = user_ds();
        sregs.gs = user_ds();
        sregs.tr = kvm_segment {
            base: tss_va,
            limit: (entry_asm::tss::SIZE - 1) as u32,
            selector: gdt::TSS,
            type_: 11,
            present: 1,
            dpl: 0,
            db: 0,
            s: 0,
            l: 0,
            g: 0,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        sregs.ldt = kvm_segment {
            selector: 0,
            type_: 2,
            present: 0,
            unusable: 1,
            ..sregs.tr
        };
        sregs.gdt.base = area_va + layout::GDT_OFFSET;
        sregs.gdt.limit = (gdt::ENTRIES * 8 - 1) as u16;
        sregs.idt.base = layout::IDT_VA;
        sregs.idt.limit = x86::IDT_LIMIT;
        sregs.cr0 = x86::CR0;
        sregs.cr4 = x86::CR4;
        sregs.efer = x86::EFER;
        // Any valid root until the first run loads the app's.
        sregs.cr3 = 0;
        fd.set_sregs(&sregs).map_err(kvm_err("set sregs"))?;

        let mut xcrs = kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        xcrs.xcrs[0].value = shared.xcr0;
        fd.set_xcrs(&xcrs).map_err(kvm_err("set XCR0"))?;

        let mut vcpu = Vcpu {
            fd,
            shared,
            index,
            backend,
            area_va,
            area_phys,
            mode: Mode::User,
            last_cpl: 3,
            inflight: Vec::new(),
            inflight_flush: false,
            batch_pos: 0,
            kick: Arc::new(Kick::default()),
            exits: 0,
        };
        vcpu.set_backend(backend)?;
        vcpu.fd.set_sync_valid_reg(SyncReg::Register);
        vcpu.fd.set_sync_valid_reg(SyncReg::SystemRegister);
        // Seed the sync area with valid state: the first entry may mark sregs dirty.
        vcpu.fd.sync_regs_mut().sregs = sregs;
        Ok(vcpu)
    }

    /// Points LSTAR at the stub for `backend` and sets the SYSCALL MSRs.
    /// Only a vCPU of the detected backend can run app code correctly; tests
    /// use this to check the other backend's construction.
    pub fn set_backend(&mut self, backend: Backend) -> Result<(), VmError> {
        let lstar = layout::BLOB_VA
            + match backend {
                Backend::Paravirtual => entry_asm::USER_SYSCALL_STUB,
                Backend::Hardware => entry_asm::SUPERVISOR_SYSCALL_STUB,
            } as u64;
        let star = ((gdt::USER32_CS as u64) << 48) | ((gdt::KERNEL_CS as u64) << 32);
        let entries = [
            (msr::STAR, star),
            (msr::LSTAR, lstar),
            (msr::CSTAR, lstar),
            (msr::SFMASK, rflags::SYSCALL_MASK),
        ]
        .map(|(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        });
        let msrs = Msrs::from_entries(&entries).map_err(|e| VmError::Config(format!("{e:?}")))?;
        let n = self.fd.set_msrs(&msrs).map_err(kvm_err("set MSRs"))?;
        if n != entries.len() {
            return Err(VmError::Config(format!(
                "KVM accepted {n} of {} syscall MSRs",
                entries.len()
            )));
        }
        self.backend = backend;
        Ok(())
    }

    /// Reads back (STAR, LSTAR, SFMASK) (an ioctl; for tests and diagnostics).
    pub fn syscall_msrs(&self) -> Result<(u64, u64, u64), VcpuError> {
        let entries = [msr::STAR, msr::LSTAR, msr::SFMASK].map(|index| kvm_msr_entry {
            index,
            ..Default::default()
        });
        let mut msrs = Msrs::from_entries(&entries).map_err(|e| VcpuError::UnexpectedExit {
            vcpu: self.index,
            what: format!("MSR list: {e:?}"),
            rip: 0,
        })?;
        self.fd
            .get_msrs(&mut msrs)
            .map_err(|e| self.err("get MSRs", e))?;
        let v = msrs.as_slice();
        Ok((v[0].data, v[1].data, v[2].data))
    }

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

    /// Writes the next batch of inflight stores into the queue.
    fn write_queue_batch(&mut self) -> Result<(), VcpuError> {
        let mem = &self.shared.mem;
        let q = self.area_phys + layout::QUEUE_OFFSET;
        let rest = &self.inflight[self.batch_pos..];
        let n = rest.len().min(queue::CAPACITY);
        let mut buf = Vec::with_capacity(queue::ENTRIES + n * queue::ENTRY_SIZE);
        let more = self.batch_pos + n < self.inflight.len();
        buf.extend_from_slice(&(n as u64).to_le_bytes());
        buf.extend_from_slice(&(more as u64).to_le_bytes());
        buf.extend_from_slice(&((self.inflight_flush && !more) as u64).to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes());
        for s in &rest[..n] {
            buf.extend_from_slice(&s.entry_va.to_le_bytes());
            buf.extend_from_slice(&s.value.to_le_bytes());
            buf.extend_from_slice(&(s.va & !(PAGE_SIZE - 1)).to_le_bytes());
        }
        mem.write(q, &buf)?;
        self.batch_pos += n;
        Ok(())
    }

    /// Prepares the sync area so that the next KVM_RUN resumes the app with `regs`.
    fn prepare_entry(&mut self, regs: &UserRegs, space: &AddressSpace) -> Result<(), VcpuError> {
        let (mut stores, flush) = space.take_pending();
        self.inflight.append(&mut stores);
        self.inflight_flush |= flush;
        let queued = !self.inflight.is_empty() || self.inflight_flush;
        let rflags_user = x86::sanitize_rflags(regs.rflags);
        let area_va = self.area_va;

        let sync = self.fd.sync_regs_mut();
        let mut sregs_dirty = false;
        if sync.sregs.cr3 != space.root() {
            sync.sregs.cr3 = space.root();
            sregs_dirty = true;
        }
        if sync.sregs.fs.base != regs.fs_base {
            sync.sregs.fs.base = regs.fs_base;
            sregs_dirty = true;
        }
        if sync.sregs.gs.base != regs.gs_base {
            sync.sregs.gs.base = regs.gs_base;
            sregs_dirty = true;
        }
        regs.store(&mut sync.regs);

        let plan = plan_entry(self.mode, queued, regs);
        if plan == Entry::Direct {
            sync.regs.rflags = rflags_user;
        } else if plan == Entry::Sysret {
            sync.regs.r11 = rflags_user;
            sync.regs.rip = layout::BLOB_VA + entry_asm::SUPERVISOR_SYSRET as u64;
            sync.regs.rflags = rflags::FIXED;
        } else {
            if self.mode == Mode::User {
                sync.sregs.cs = kernel_cs();
                sync.sregs.ss = kernel_ds();
                sregs_dirty = true;
            }
            let frame_va = area_va + layout::STACK_TOP_OFFSET - 40;
            sync.regs.rsp = frame_va;
            sync.regs.rflags = rflags::FIXED;
            sync.regs.rip = layout::BLOB_VA
                + if queued {
                    entry_asm::PTE_SNIPPET
                } else {
                    entry_asm::IRET_ONLY
                } as u64;
            let frame = [
                regs.rip,
                (gdt::USER_CS) as u64,
                rflags_user,
                regs.rsp,
                (gdt::USER_DS) as u64,
            ];
            let bytes: Vec<u8> = frame.iter().flat_map(|v| v.to_le_bytes()).collect();
            let frame_phys = self.area_phys + (frame_va - area_va);
            if queued {
                self.batch_pos = 0;
                self.write_queue_batch()?;
            }
            self.shared.mem.write(frame_phys, &bytes)?;
        }
        self.fd.set_sync_dirty_reg(SyncReg::Register);
        if sregs_dirty {
            self.fd.set_sync_dirty_reg(SyncReg::SystemRegister);
        }
        Ok(())
    }

    /// Applies the stores queued for `space` now, in guest code, without
    /// returning to the app (the snippet exits on PORT_SNIPPET_MORE when done):
    /// used when other vCPUs run the same address space and freed pages must
    /// not stay reachable. One extra exit.
    pub fn flush(&mut self, space: &AddressSpace) -> Result<(), VcpuError> {
        let (mut stores, flush) = space.take_pending();
        self.inflight.append(&mut stores);
        self.inflight_flush |= flush;
        if self.inflight.is_empty() && !self.inflight_flush {
            return Ok(());
        }
        let area_va = self.area_va;
        let frame_va = area_va + layout::STACK_TOP_OFFSET - 40;
        {
            let sync = self.fd.sync_regs_mut();
            let mut sregs_dirty = false;
            if sync.sregs.cr3 != space.root() {
                sync.sregs.cr3 = space.root();
                sregs_dirty = true;
            }
            if self.mode == Mode::User {
                sync.sregs.cs = kernel_cs();
                sync.sregs.ss = kernel_ds();
                sregs_dirty = true;
            }
            sync.regs.rsp = frame_va;
            sync.regs.rflags = rflags::FIXED;
            sync.regs.rip = layout::BLOB_VA + entry_asm::PTE_SNIPPET as u64;
            self.fd.set_sync_dirty_reg(SyncReg::Register);
            if sregs_dirty {
                self.fd.set_sync_dirty_reg(SyncReg::SystemRegister);
            }
        }
        self.mode = Mode::Kernel;
        self.batch_pos = 0;
        self.write_flush_batch()?;
        loop {
            let res = self.fd.run().map(|exit| match exit {
                KvmExit::IoOut(port, _) => Exit::Out(port),
                other => Exit::Other(format!("{other:?}")),
            });
            self.exits += 1;
            let rip = self.fd.sync_regs().regs.rip;
            match res {
                Ok(Exit::Out(port)) if port == entry_asm::PORT_SNIPPET_MORE => {
                    if self.batch_pos < self.inflight.len() {
                        self.write_flush_batch()?;
                        continue;
                    }
                    self.confirm_inflight();
                    return Ok(());
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.fd.set_kvm_immediate_exit(0);
                    continue;
                }
                Err(e) => return Err(self.err("run (flush)", e)),
                Ok(Exit::In(port)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what: format!("read from I/O port {port:#x} while flushing"),
                        rip,
                    })
                }
                Ok(Exit::Out(port)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what: format!("write to I/O port {port:#x} while flushing"),
                        rip,
                    })
                }
                Ok(Exit::Other(what)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what,
                        rip,
                    })
                }
            }
        }
    }

    /// Like `write_queue_batch`, but always asks the snippet to exit after it.
    fn write_flush_batch(&mut self) -> Result<(), VcpuError> {
        self.write_queue_batch()?;
        let q = self.area_phys + layout::QUEUE_OFFSET;
        self.shared.mem.write_u64(q + queue::MORE as u64, 1)?;
        self.shared
            .mem
            .write_u64(q + queue::FLUSH_ALL as u64, self.inflight_flush as u64)?;
        Ok(())
    }

    fn confirm_inflight(&mut self) {
        self.inflight.clear();
        self.inflight_flush = false;
        self.batch_pos = 0;
    }

    /// Runs the app with `regs` in `space` until it needs the kernel. On return
    /// `regs` holds the app's state (for a syscall: `rip` = return address).
    pub fn run(
        &mut self,
        regs: &mut UserRegs,
        space: &AddressSpace,
    ) -> Result<VcpuExit, VcpuError> {
        let kick = self.kick.clone();
        let immediate_exit: *mut u8 = &mut self.fd.get_kvm_run().immediate_exit;
        IMMEDIATE_EXIT.with(|p| p.set(immediate_exit));
        kick.tid.store(gettid(), Ordering::SeqCst);
        let result = self.run_loop(regs, space, &kick);
        kick.tid.store(0, Ordering::SeqCst);
        IMMEDIATE_EXIT.with(|p| p.set(std::ptr::null_mut()));
        self.fd.set_kvm_immediate_exit(0);
        result
    }

    fn run_loop(
        &mut self,
        regs: &mut UserRegs,
        space: &AddressSpace,
        kick: &Kick,
    ) -> Result<VcpuExit, VcpuError> {
        if kick.pending.swap(false, Ordering::SeqCst) {
            return Ok(VcpuExit::Interrupted);
        }
        self.prepare_entry(regs, space)?;
        loop {
            let res = self.fd.run().map(|exit| match exit {
                KvmExit::IoOut(port, _) => Exit::Out(port),
                KvmExit::IoIn(port, _) => Exit::In(port),
                other => Exit::Other(format!("{other:?}")),
            });
            self.exits += 1;
            let sync = self.fd.sync_regs();
            let cpl = (sync.sregs.cs.selector & 3) as u8;
            self.last_cpl = cpl;
            let rip = sync.regs.rip;
            let stub = |off: usize| layout::BLOB_VA + off as u64;
            match res {
                Ok(Exit::Out(port)) if port == entry_asm::PORT_SYSCALL => {
                    // An `out` exit leaves RIP at the instruction on hardware
                    // KVM (which skips it on the next KVM_RUN if RIP is left
                    // unchanged) and after it on the paravirtual backend.
                    let at_out = |off: usize| {
                        rip == stub(off) || rip == stub(off + entry_asm::USER_SYSCALL_EXIT_LEN)
                    };
                    if at_out(entry_asm::USER_SYSCALL_STUB) {
                        // CPL0 here only in the backend probe on hardware.
                        self.mode = if cpl == 3 { Mode::User } else { Mode::Kernel };
                    } else if at_out(entry_asm::SUPERVISOR_SYSCALL_STUB) && cpl == 0 {
                        self.mode = Mode::Sysret;
                    } else {
                        // The app wrote the syscall port itself: Linux gives #GP.
                        if cpl == 3 {
                            return Ok(self.user_io_fault(&sync.regs, port, space, regs));
                        }
                        regs.load(&sync.regs);
                        self.mode = Mode::Kernel;
                        self.confirm_inflight();
                        return Ok(VcpuExit::Exception {
                            vector: 13,
                            error_code: 0,
                            cr2: 0,
                        });
                    }
                    regs.load(&sync.regs);
                    regs.rip = sync.regs.rcx;
                    regs.rflags = sync.regs.r11;
                    self.confirm_inflight();
                    return Ok(VcpuExit::Syscall);
                }
                Ok(Exit::Out(port)) if port == entry_asm::PORT_SNIPPET_MORE => {
                    self.write_queue_batch()?;
                    continue;
                }
                Ok(Exit::Out(port))
                    if (entry_asm::PORT_EXCEPTION_BASE
                        ..entry_asm::PORT_EXCEPTION_BASE + entry_asm::EXCEPTION_VECTORS as u16)
                        .contains(&port) =>
                {
                    let vector = (port - entry_asm::PORT_EXCEPTION_BASE) as u8;
                    return self.exception_exit(vector, regs);
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.fd.set_kvm_immediate_exit(0);
                    if cpl == 3 {
                        regs.load(&sync.regs);
                        regs.rip = rip;
                        regs.rflags = sync.regs.rflags;
                        self.mode = Mode::User;
                        self.confirm_inflight();
                        if kick.pending.swap(false, Ordering::SeqCst) {
                            return Ok(VcpuExit::Interrupted);
                        }
                        self.prepare_entry(regs, space)?;
                        continue;
                    }
                    let off = rip.wrapping_sub(layout::BLOB_VA) as usize;
                    if entry_asm::exception_vector_at(off).is_some()
                        || off == entry_asm::SUPERVISOR_SYSCALL_STUB
                    {
                        // Inside a stub before its `out`: finish it (bounded).
                        continue;
                    }
                    // In the snippet or the return path: nothing of the app ran.
                    // `regs` is unchanged; the stores stay inflight and are
                    // applied again on the next entry.
                    self.mode = Mode::Kernel;
                    if kick.pending.swap(false, Ordering::SeqCst) {
                        return Ok(VcpuExit::Interrupted);
                    }
                    continue;
                }
                Err(e) => return Err(self.err("run", e)),
                Ok(Exit::Out(port) | Exit::In(port)) if cpl == 3 => {
                    // The app used a port the I/O bitmap lets through (the
                    // syscall port, read instead of written, or written by
                    // a string instruction): a privileged instruction for a
                    // Linux program, so #GP as Linux gives it.
                    return Ok(self.user_io_fault(&sync.regs, port, space, regs));
                }
                Ok(Exit::In(port)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what: format!("read from I/O port {port:#x}"),
                        rip,
                    })
                }
                Ok(Exit::Out(port)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what: format!("write to I/O port {port:#x}"),
                        rip,
                    })
                }
                Ok(Exit::Other(what)) => {
                    return Err(VcpuError::UnexpectedExit {
                        vcpu: self.index,
                        what,
                        rip,
                    })
                }
            }
        }
    }

    /// A port I/O instruction of the app (CPL3) that reached the host:
    /// #GP at the instruction, as Linux reports a privileged instruction.
    /// KVM may hold the instruction's completion (the data of an `in`, the
    /// next round of a string instruction) for the next KVM_RUN, where it
    /// would land on the signal handler's registers: it is run off first
    /// with `immediate_exit` (KVM completes pending I/O before checking
    /// it), then the registers of the exit are restored.
    fn user_io_fault(
        &mut self,
        at_exit: &kvm_bindings::kvm_regs,
        port: u16,
        space: &AddressSpace,
        regs: &mut UserRegs,
    ) -> VcpuExit {
        self.fd.set_kvm_immediate_exit(1);
        for _ in 0..16 {
            // Ok: the completion exited for I/O again (a string
            // instruction's next round); Err (EINTR): nothing is pending.
            if self.fd.run().is_err() {
                break;
            }
        }
        self.fd.set_kvm_immediate_exit(0);
        let mut start = *at_exit;
        start.rip = io_insn_start(space, &self.shared.mem, at_exit.rip, port);
        regs.load(&start);
        self.fd.sync_regs_mut().regs = start;
        self.fd.set_sync_dirty_reg(SyncReg::Register);
        self.mode = Mode::User;
        self.confirm_inflight();
        VcpuExit::Exception {
            vector: 13,
            error_code: 0,
            cr2: 0,
        }
    }

    fn exception_exit(&mut self, vector: u8, regs: &mut UserRegs) -> Result<VcpuExit, VcpuError> {
        let sync = self.fd.sync_regs();
        let rsp = sync.regs.rsp;
        let frame_len = if entry_asm::vector_has_error_code(vector) {
            48
        } else {
            40
        };
        let in_stack = self.area_offset(rsp).is_some_and(|o| {
            o >= layout::STACK_OFFSET && o + frame_len <= layout::STACK_TOP_OFFSET
        });
        let fault = |rip, error_code| VcpuError::KernelFault {
            vcpu: self.index,
            vector,
            rip,
            error_code,
        };
        if !in_stack {
            return Err(fault(sync.regs.rip, 0));
        }
        let phys = self.area_phys + (rsp - self.area_va);
        let mut words = [0u64; 6];
        let mut buf = [0u8; 48];
        self.shared.mem.read(phys, &mut buf[..frame_len as usize])?;
        for (w, c) in words.iter_mut().zip(buf.chunks_exact(8)) {
            *w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        }
        let (error_code, frame) = if entry_asm::vector_has_error_code(vector) {
            (words[0], &words[1..6])
        } else {
            (0, &words[0..5])
        };
        let (f_rip, f_cs, f_rflags, f_rsp) = (frame[0], frame[1], frame[2], frame[3]);
        if f_cs & 3 != 3 {
            return Err(fault(f_rip, error_code));
        }
        regs.load(&sync.regs);
        regs.rip = f_rip;
        regs.rflags = f_rflags;
        regs.rsp = f_rsp;
        self.mode = Mode::Kernel;
        self.confirm_inflight();
        Ok(VcpuExit::Exception {
            vector,
            error_code,
            cr2: sync.sregs.cr2,
        })
    }
}

/// Where the port I/O instruction of an exit at `rip` starts: KVM reports
/// some I/O exits at the instruction (the backends differ, and string
/// instructions differ from the others) and some after it. When `rip` is
/// not at an I/O instruction for `port` (with its REP and operand-size
/// prefixes), the instruction ending at `rip` is measured backwards:
/// 2 bytes for the imm8 forms, 1 for the DX and string forms, plus those
/// prefixes. Unreadable code leaves `rip` as it is.
fn io_insn_start(space: &AddressSpace, mem: &MemoryFile, rip: u64, port: u16) -> u64 {
    let byte = |va: u64| -> Option<u8> {
        let (phys, _) = space.lookup(va).ok()??;
        let mut b = [0u8; 1];
        mem.read(phys + (va & 0xfff), &mut b).ok()?;
        Some(b[0])
    };
    let is_prefix = |b: Option<u8>| matches!(b, Some(0x66 | 0xf2 | 0xf3));
    let is_imm = |at: u64| {
        byte(at).is_some_and(|op| (0xe4..=0xe7).contains(&op))
            && byte(at.wrapping_add(1)) == Some(port as u8)
    };
    let is_dx = |at: u64| byte(at).is_some_and(|op| matches!(op, 0x6c..=0x6f | 0xec..=0xef));
    // At the instruction (after any prefixes)?
    let mut op = rip;
    while is_prefix(byte(op)) && op - rip < 4 {
        op += 1;
    }
    if is_imm(op) || is_dx(op) {
        return rip;
    }
    // After it.
    let mut start = if is_imm(rip.wrapping_sub(2)) {
        rip.wrapping_sub(2)
    } else if is_dx(rip.wrapping_sub(1)) {
        rip.wrapping_sub(1)
    } else {
        return rip;
    };
    while is_prefix(byte(start.wrapping_sub(1))) && rip - start < 4 {
        start = start.wrapping_sub(1);
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_plans() {
        let mut r = UserRegs {
            rip: 0x40_1000,
            rcx: 0x40_1000,
            rflags: 0x246,
            r11: 0x246,
            ..Default::default()
        };
        assert_eq!(plan_entry(Mode::User, false, &r), Entry::Direct);
        assert_eq!(
            plan_entry(Mode::User, true, &r),
            Entry::Iret { snippet: true }
        );
        assert_eq!(
            plan_entry(Mode::Kernel, false, &r),
            Entry::Iret { snippet: false }
        );
        // Hardware: sysretq only when RCX/R11 still hold RIP/RFLAGS …
        assert_eq!(plan_entry(Mode::Sysret, false, &r), Entry::Sysret);
        assert_eq!(
            plan_entry(Mode::Sysret, true, &r),
            Entry::Iret { snippet: true }
        );
        r.rcx = 0;
        assert_eq!(
            plan_entry(Mode::Sysret, false, &r),
            Entry::Iret { snippet: false }
        );
        // … and never with a non-canonical return address.
        r.rip = 0x0000_8000_0000_0000;
        r.rcx = r.rip;
        assert_eq!(
            plan_entry(Mode::Sysret, false, &r),
            Entry::Iret { snippet: false }
        );
    }
}
