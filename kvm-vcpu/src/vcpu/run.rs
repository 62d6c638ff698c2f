//! The run loop: KVM_RUN until the app needs the kernel, with each KVM exit
//! decoded into a `VcpuExit` (syscall, exception, interrupt) or an error.

use std::sync::atomic::Ordering;

use entry_asm::layout;
use kvm_ioctls::{SyncReg, VcpuExit as KvmExit};

use super::kick::{gettid, Kick, IMMEDIATE_EXIT};
use super::{Mode, Vcpu, VcpuError, VcpuExit};
use crate::memfile::MemoryFile;
use crate::paging::AddressSpace;
use crate::UserRegs;

/// A KVM exit, detached from the borrow of the vCPU.
pub(super) enum Exit {
    Out(u16),
    /// An `in`/`ins` (only ever the app's: the sentry's stubs never read ports).
    In(u16),
    Other(String),
}
impl Vcpu {
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
                    if self.event_in_flight() {
                        // KVM stopped in the middle of delivering an event
                        // (say the app's #PF, interrupted by an exit while the
                        // CPU pushed its frame) and delivers it on the next
                        // KVM_RUN. Redirecting RIP now (to the PTE snippet or
                        // an iret) would deliver the app's fault there, in
                        // platform code; so let it land first: it exits
                        // through its stub and the kick is seen after that.
                        continue;
                    }
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

    /// Whether KVM holds an exception, NMI or interrupt it has begun to
    /// deliver (or must inject) on the next KVM_RUN. A backend that cannot
    /// tell counts as none.
    fn event_in_flight(&self) -> bool {
        match self.fd.get_vcpu_events() {
            Ok(ev) => {
                ev.exception.injected != 0
                    || ev.exception.pending != 0
                    || ev.nmi.injected != 0
                    || ev.interrupt.injected != 0
            }
            Err(_) => false,
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
    // The app's RIP: wrapping arithmetic, so no address can overflow.
    while is_prefix(byte(op)) && op.wrapping_sub(rip) < 4 {
        op = op.wrapping_add(1);
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
    while is_prefix(byte(start.wrapping_sub(1))) && rip.wrapping_sub(start) < 4 {
        start = start.wrapping_sub(1);
    }
    start
}
