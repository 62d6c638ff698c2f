//! Creating a vCPU: its supervisor area (queue, GDT, TSS, kernel stack),
//! segment and system registers, CPUID, XCR0 and the syscall MSRs.

use std::sync::Arc;

use entry_asm::{gdt, layout};
use kvm_bindings::{kvm_msr_entry, kvm_segment, kvm_sregs, kvm_xcrs, Msrs};
use kvm_ioctls::{SyncReg, VmFd};

use super::kick::{install_kick_handler, Kick};
use super::{Mode, Vcpu, VcpuError};
use crate::paging::{PTE_A, PTE_NX, PTE_P, PTE_U, PTE_W};
use crate::vm::{kvm_err, Backend, Shared, VmError};
use crate::x86::{self, msr, rflags};
use crate::PAGE_SIZE;

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

pub(super) fn kernel_cs() -> kvm_segment {
    kvm_segment {
        selector: gdt::KERNEL_CS,
        dpl: 0,
        ..user_cs()
    }
}

pub(super) fn kernel_ds() -> kvm_segment {
    kvm_segment {
        selector: gdt::KERNEL_DS,
        dpl: 0,
        ..user_ds()
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
}
