//! Tiny guest programs run on this machine's /dev/kvm: each event kind,
//! interrupts, map/unmap/protect, CR3 switches and register preservation.

// A test stops loudly: its helpers unwrap like the tests themselves (the
// workspace lints exempt only #[test] functions and #[cfg(test)] modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use kvm_vcpu::{AddressSpace, Perms, UserRegs, Vcpu, VcpuExit, Vm, VmConfig, PAGE_SIZE};

core::arch::global_asm!(
    r#"
    .pushsection .rodata.guest_progs, "a", @progbits
    .balign 16
    .globl prog_syscall_start, prog_syscall_end
prog_syscall_start:
    mov eax, 39
    syscall
    mov rdi, rax
    mov eax, 60
    syscall
    ud2
prog_syscall_end:

    .globl prog_ud2_start, prog_ud2_end
prog_ud2_start:
    ud2
prog_ud2_end:

    .globl prog_int3_start, prog_int3_end
prog_int3_start:
    int3
    ud2
prog_int3_end:

    .globl prog_div0_start, prog_div0_end
prog_div0_start:
    xor ecx, ecx
    xor edx, edx
    mov eax, 1
    div rcx
    ud2
prog_div0_end:

    .globl prog_touch_start, prog_touch_end
prog_touch_start:
    mov rbx, qword ptr [rdi]
    mov eax, 1
    syscall
    jmp prog_touch_start
prog_touch_end:

    .globl prog_write_start, prog_write_end
prog_write_start:
    mov qword ptr [rdi], rsi
    mov eax, 1
    syscall
    jmp prog_write_start
prog_write_end:

    .globl prog_spin_start, prog_spin_end
prog_spin_start:
    jmp prog_spin_start
prog_spin_end:

    .globl prog_regs_start, prog_regs_end
prog_regs_start:
    syscall
    syscall
    mov rbx, qword ptr fs:[0]
    mov rax, 2
    syscall
    ud2
prog_regs_end:

    .globl prog_avx_start, prog_avx_end
prog_avx_start:
    vmovdqu ymm0, [rdi + 0]
    vmovdqu ymm1, [rdi + 32]
    vmovdqu ymm2, [rdi + 64]
    vmovdqu ymm3, [rdi + 96]
    vmovdqu ymm4, [rdi + 128]
    vmovdqu ymm5, [rdi + 160]
    vmovdqu ymm6, [rdi + 192]
    vmovdqu ymm7, [rdi + 224]
    vmovdqu ymm8, [rdi + 256]
    vmovdqu ymm9, [rdi + 288]
    vmovdqu ymm10, [rdi + 320]
    vmovdqu ymm11, [rdi + 352]
    vmovdqu ymm12, [rdi + 384]
    vmovdqu ymm13, [rdi + 416]
    vmovdqu ymm14, [rdi + 448]
    vmovdqu ymm15, [rdi + 480]
    mov eax, 1
    syscall
    mov rax, qword ptr [rdx]
    mov eax, 1
    syscall
    vmovdqu [rsi + 0], ymm0
    vmovdqu [rsi + 32], ymm1
    vmovdqu [rsi + 64], ymm2
    vmovdqu [rsi + 96], ymm3
    vmovdqu [rsi + 128], ymm4
    vmovdqu [rsi + 160], ymm5
    vmovdqu [rsi + 192], ymm6
    vmovdqu [rsi + 224], ymm7
    vmovdqu [rsi + 256], ymm8
    vmovdqu [rsi + 288], ymm9
    vmovdqu [rsi + 320], ymm10
    vmovdqu [rsi + 352], ymm11
    vmovdqu [rsi + 384], ymm12
    vmovdqu [rsi + 416], ymm13
    vmovdqu [rsi + 448], ymm14
    vmovdqu [rsi + 480], ymm15
    mov eax, 2
    syscall
    ud2
prog_avx_end:
    .popsection
"#
);

macro_rules! prog {
    ($start:ident, $end:ident) => {{
        extern "C" {
            static $start: u8;
            static $end: u8;
        }
        // SAFETY: both symbols are defined in the global_asm above, in one
        // read-only section, start before end; only the bytes between them are read.
        unsafe {
            let s = core::hint::black_box(core::ptr::addr_of!($start));
            let e = core::hint::black_box(core::ptr::addr_of!($end));
            std::slice::from_raw_parts(s, e as usize - s as usize)
        }
    }};
}

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;

struct Guest {
    vm: Arc<Vm>,
    space: AddressSpace,
    vcpu: Vcpu,
}

fn guest(code: &[u8]) -> Guest {
    let vm = Vm::new(VmConfig {
        memory_size: 256 << 20,
        max_vcpus: 2,
    })
    .expect("KVM VM (is /dev/kvm usable?)");
    let space = vm.new_address_space().unwrap();
    let page = vm.memory().alloc_page().unwrap();
    vm.memory().write(page, code).unwrap();
    space.map(CODE, page, PAGE_SIZE, Perms::RX).unwrap();
    let vcpu = vm.acquire_vcpu().unwrap();
    Guest { vm, space, vcpu }
}

impl Guest {
    fn data_page(&self, va: u64, fill: u64, perms: Perms) -> u64 {
        let p = self.vm.memory().alloc_page().unwrap();
        self.vm.memory().write_u64(p, fill).unwrap();
        self.space.map(va, p, PAGE_SIZE, perms).unwrap();
        p
    }
    fn run(&mut self, regs: &mut UserRegs) -> VcpuExit {
        self.vcpu.run(regs, &self.space).expect("vCPU run")
    }
}

fn start() -> UserRegs {
    UserRegs {
        rip: CODE,
        rflags: 0x202,
        rsp: DATA + PAGE_SIZE,
        ..Default::default()
    }
}

#[test]
fn backend_is_detected() {
    let g = guest(prog!(prog_ud2_start, prog_ud2_end));
    let b = g.vm.backend();
    // /sys/module/kvm_pvm exists exactly on the paravirtual backend.
    let pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    assert_eq!(b == kvm_vcpu::Backend::Paravirtual, pvm, "backend {b}");
}

#[test]
fn hardware_backend_msrs() {
    // The hardware path cannot run here; check its construction: LSTAR at the
    // supervisor `out; sysretq` stub, Linux's STAR selectors and SFMASK.
    let mut g = guest(prog!(prog_ud2_start, prog_ud2_end));
    g.vcpu.set_backend(kvm_vcpu::Backend::Hardware).unwrap();
    let (star, lstar, sfmask) = g.vcpu.syscall_msrs().unwrap();
    assert_eq!(
        lstar,
        entry_asm::layout::BLOB_VA + entry_asm::SUPERVISOR_SYSCALL_STUB as u64
    );
    assert_eq!(star, (0x23u64 << 48) | (0x10u64 << 32));
    assert_eq!(sfmask, 0x44700, "TF|IF|DF|NT|AC");
    g.vcpu.set_backend(kvm_vcpu::Backend::Paravirtual).unwrap();
    let (_, lstar, _) = g.vcpu.syscall_msrs().unwrap();
    assert_eq!(
        lstar,
        entry_asm::layout::BLOB_VA + entry_asm::USER_SYSCALL_STUB as u64
    );
    g.vcpu.set_backend(g.vm.backend()).unwrap();
}

#[test]
fn syscall_event_and_result() {
    let mut g = guest(prog!(prog_syscall_start, prog_syscall_end));
    let mut r = start();
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rax, 39);
    assert_eq!(r.rip, CODE + 7, "rip is the return address");
    assert_eq!(r.rcx, r.rip);
    r.rax = 1234;
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rax, 60);
    assert_eq!(r.rdi, 1234);
    assert_eq!(g.vcpu.exits(), 2, "one exit per syscall");
}

#[test]
fn exceptions_ud_bp_de() {
    let mut g = guest(prog!(prog_ud2_start, prog_ud2_end));
    let mut r = start();
    match g.run(&mut r) {
        VcpuExit::Exception { vector: 6, .. } => {}
        e => panic!("ud2 gave {e:?}"),
    }
    assert_eq!(r.rip, CODE);

    let mut g = guest(prog!(prog_int3_start, prog_int3_end));
    let mut r = start();
    match g.run(&mut r) {
        VcpuExit::Exception { vector: 3, .. } => {}
        e => panic!("int3 gave {e:?}"),
    }
    assert_eq!(r.rip, CODE + 1, "#BP is a trap: rip after int3");

    let mut g = guest(prog!(prog_div0_start, prog_div0_end));
    let mut r = start();
    match g.run(&mut r) {
        VcpuExit::Exception { vector: 0, .. } => {}
        e => panic!("div 0 gave {e:?}"),
    }
    assert_eq!(r.rip, CODE + 9, "#DE points at the div");
}

#[test]
fn page_fault_map_unmap_stale_trap() {
    let mut g = guest(prog!(prog_touch_start, prog_touch_end));
    let mut r = start();
    r.rdi = DATA + 0x10;
    // Not mapped: #PF, not-present, user, read.
    match g.run(&mut r) {
        VcpuExit::Exception {
            vector: 14,
            error_code,
            cr2,
        } => {
            assert_eq!(cr2, DATA + 0x10);
            assert_eq!(error_code & 0b111, 0b100);
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(r.rip, CODE);
    let p = g.vm.memory().alloc_page().unwrap();
    g.vm.memory().write_u64(p + 0x10, 0xfeed).unwrap();
    g.space.map(DATA, p, PAGE_SIZE, Perms::RW).unwrap();
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rbx, 0xfeed);
    // Touch, unmap, touch again: must fault (the backend's stale-mapping trap).
    g.space.unmap(DATA, PAGE_SIZE).unwrap();
    match g.run(&mut r) {
        VcpuExit::Exception {
            vector: 14, cr2, ..
        } => assert_eq!(cr2, DATA + 0x10),
        e => panic!("after unmap: {e:?}"),
    }
    // Map a different page at the same address: the new contents are seen.
    let q = g.vm.memory().alloc_page().unwrap();
    g.vm.memory().write_u64(q + 0x10, 0xbeef).unwrap();
    g.space.map(DATA, q, PAGE_SIZE, Perms::R).unwrap();
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rbx, 0xbeef);
    // Many unmaps in one batch, including whole 2 MiB blocks.
    let big = 0x1000_0000u64;
    let mut pages = Vec::new();
    for i in 0..1024 {
        pages.push((big + i * PAGE_SIZE, g.vm.memory().alloc_page().unwrap()));
    }
    g.space.map_pages(&pages, Perms::RW).unwrap();
    r.rdi = big + 1000 * PAGE_SIZE;
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    g.space.unmap(big, 1024 * PAGE_SIZE).unwrap();
    match g.run(&mut r) {
        VcpuExit::Exception { vector: 14, .. } => {}
        e => panic!("after big unmap: {e:?}"),
    }
}

#[test]
fn mprotect_read_only_then_write_faults() {
    let mut g = guest(prog!(prog_write_start, prog_write_end));
    let p = g.data_page(DATA, 0, Perms::RW);
    let mut r = start();
    r.rdi = DATA + 8;
    r.rsi = 0x1111;
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(g.vm.memory().read_u64(p + 8).unwrap(), 0x1111);
    g.space.protect(DATA, PAGE_SIZE, Perms::R).unwrap();
    r.rsi = 0x2222;
    match g.run(&mut r) {
        VcpuExit::Exception {
            vector: 14,
            error_code,
            cr2,
        } => {
            assert_eq!(cr2, DATA + 8);
            assert_eq!(error_code & 0b111, 0b111, "present, write, user");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(g.vm.memory().read_u64(p + 8).unwrap(), 0x1111);
    // Write access back: the write goes through.
    g.space.protect(DATA, PAGE_SIZE, Perms::RW).unwrap();
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(g.vm.memory().read_u64(p + 8).unwrap(), 0x2222);
}

#[test]
fn two_address_spaces_by_cr3() {
    let mut g = guest(prog!(prog_touch_start, prog_touch_end));
    let code_phys = g.space.lookup(CODE).unwrap().unwrap().0;
    g.data_page(DATA, 0xaaaa, Perms::R);
    let other = g.vm.new_address_space().unwrap();
    other.map(CODE, code_phys, PAGE_SIZE, Perms::RX).unwrap();
    let q = g.vm.memory().alloc_page().unwrap();
    g.vm.memory().write_u64(q, 0xbbbb).unwrap();
    other.map(DATA, q, PAGE_SIZE, Perms::R).unwrap();
    let mut r1 = start();
    r1.rdi = DATA;
    let mut r2 = r1;
    for _ in 0..3 {
        assert_eq!(g.vcpu.run(&mut r1, &g.space).unwrap(), VcpuExit::Syscall);
        assert_eq!(r1.rbx, 0xaaaa);
        assert_eq!(g.vcpu.run(&mut r2, &other).unwrap(), VcpuExit::Syscall);
        assert_eq!(r2.rbx, 0xbbbb);
    }
}

#[test]
fn interrupt_from_another_thread() {
    let mut g = guest(prog!(prog_spin_start, prog_spin_end));
    let mut r = start();
    let intr = g.vcpu.interrupter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        intr.interrupt();
    });
    assert_eq!(g.run(&mut r), VcpuExit::Interrupted);
    assert_eq!(r.rip, CODE, "stopped in the spin loop");
    t.join().unwrap();
    // An interrupt requested while not running is seen by the next run.
    g.vcpu.interrupter().interrupt();
    assert_eq!(g.run(&mut r), VcpuExit::Interrupted);
    // And the guest can be resumed and interrupted again.
    let intr = g.vcpu.interrupter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        intr.interrupt();
    });
    assert_eq!(g.run(&mut r), VcpuExit::Interrupted);
    t.join().unwrap();
}

#[test]
fn registers_and_fs_base_preserved() {
    let mut g = guest(prog!(prog_regs_start, prog_regs_end));
    g.data_page(DATA, 0x1234_5678_9abc_def0, Perms::R);
    let mut r = start();
    let pattern = |r: &mut UserRegs, k: u64| {
        let v = |i: u64| 0x0101_0101_0101_0101u64.wrapping_mul(i + k);
        r.rbx = v(1);
        r.rdx = v(2);
        r.rsi = v(3);
        r.rdi = v(4);
        r.rbp = v(5);
        r.r8 = v(6);
        r.r9 = v(7);
        r.r10 = v(8);
        r.r12 = v(9);
        r.r13 = v(10);
        r.r14 = v(11);
        r.r15 = v(12);
        r.rsp = v(13) & 0x7fff_ffff_fff0;
        r.rax = v(14);
    };
    pattern(&mut r, 0);
    r.fs_base = DATA;
    let mut want = r;
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    want.rcx = CODE + 2;
    want.r11 = r.r11;
    want.rip = CODE + 2;
    want.rflags = r.rflags;
    assert_eq!(r, want);
    pattern(&mut r, 7);
    let mut want = r;
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    want.rcx = CODE + 4;
    want.rip = CODE + 4;
    want.r11 = r.r11;
    want.rflags = r.rflags;
    assert_eq!(r, want);
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rbx, 0x1234_5678_9abc_def0, "fs:[0] read through FS base");
    assert_eq!(r.fs_base, DATA);
}

#[test]
fn avx_registers_preserved_across_exits() {
    if !std::is_x86_feature_detected!("avx") {
        eprintln!("host has no AVX: skipping");
        return;
    }
    let mut g = guest(prog!(prog_avx_start, prog_avx_end));
    let src = g.data_page(DATA, 0, Perms::R);
    let dst = g.data_page(DATA + PAGE_SIZE, 0, Perms::RW);
    let pattern: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    g.vm.memory().write(src, &pattern).unwrap();
    let mut r = start();
    r.rdi = DATA;
    r.rsi = DATA + PAGE_SIZE;
    r.rdx = DATA + 3 * PAGE_SIZE; // unmapped: a page-fault exit in between
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    match g.run(&mut r) {
        VcpuExit::Exception { vector: 14, .. } => {}
        e => panic!("{e:?}"),
    }
    g.data_page(DATA + 3 * PAGE_SIZE, 0, Perms::R);
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(g.run(&mut r), VcpuExit::Syscall);
    assert_eq!(r.rax, 2);
    let mut out = vec![0u8; 512];
    g.vm.memory().read(dst, &mut out).unwrap();
    assert_eq!(out, pattern, "ymm0..15 survived a syscall and a fault exit");
}
