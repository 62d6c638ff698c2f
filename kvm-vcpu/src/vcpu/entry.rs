//! Getting back into the guest: the plan for the next KVM_RUN (direct,
//! `sysretq` or an iret frame), the page-table store queue the PTE snippet
//! applies, and `flush`, which applies it without returning to the app.

use entry_asm::{gdt, layout, queue};
use kvm_ioctls::{SyncReg, VcpuExit as KvmExit};

use super::run::Exit;
use super::setup::{kernel_cs, kernel_ds};
use super::{Mode, Vcpu, VcpuError};
use crate::paging::AddressSpace;
use crate::x86::{self, rflags};
use crate::{UserRegs, PAGE_SIZE};

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
impl Vcpu {
    /// Writes the next batch of inflight stores into the queue.
    pub(super) fn write_queue_batch(&mut self) -> Result<(), VcpuError> {
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
    pub(super) fn prepare_entry(
        &mut self,
        regs: &UserRegs,
        space: &AddressSpace,
    ) -> Result<(), VcpuError> {
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

    pub(super) fn confirm_inflight(&mut self) {
        self.inflight.clear();
        self.inflight_flush = false;
        self.batch_pos = 0;
    }
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
