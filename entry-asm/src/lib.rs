//! Guest-side code of the KVM platform, as bytes with exported offsets, and the
//! layout constants that `kvm-vcpu` shares with that code.
//!
//! The code is assembled into the host binary by `global_asm!` in its own
//! read-only section and is never executed on the host: `kvm-vcpu` copies
//! [`blob()`] into two guest pages of the supervisor region. Every entry point
//! sits at a fixed offset (pinned by `.org` and checked by the unit tests), so
//! the host knows from a guest RIP which stub exited.
//!
//! Page 0 of the blob is mapped user-executable (read-only): it holds the
//! one-instruction LSTAR stub used on the paravirtual KVM of our build machines,
//! where a user `syscall` lands at LSTAR still at CPL3. Page 1 is supervisor-only:
//! the hardware-KVM LSTAR stub (`out; sysretq`), the 32 exception stubs
//! (`out 0x80+vector; iretq`), a lone `iretq` used to return to the app, and the
//! CPL0 snippet that applies queued page-table stores on the way back to the app.

use core::arch::global_asm;

/// Size of the code blob: two 4 KiB pages.
pub const BLOB_SIZE: usize = 0x2000;
/// Guest page size.
pub const PAGE_SIZE: u64 = 0x1000;

/// Offset of the user-executable LSTAR stub (`out PORT_SYSCALL, al`) used on the
/// paravirtual backend. Page 0 of the blob.
pub const USER_SYSCALL_STUB: usize = 0x000;
/// Length of the user stub's exiting instruction: the exit RIP is stub + this.
pub const USER_SYSCALL_EXIT_LEN: usize = 2;
/// Offset of the supervisor LSTAR stub (`out PORT_SYSCALL, al; sysretq`) used on
/// hardware VMX/SVM. Page 1 of the blob.
pub const SUPERVISOR_SYSCALL_STUB: usize = 0x1000;
/// Offset of the `sysretq` inside the supervisor stub (the exit RIP).
pub const SUPERVISOR_SYSRET: usize = SUPERVISOR_SYSCALL_STUB + 2;
/// Offset of a lone `iretq`: the host writes an iret frame on the kernel stack,
/// points RSP at it and resumes here to return to CPL3.
pub const IRET_ONLY: usize = 0x1080;
/// Offset of the first exception stub; vector `v` is at `EXCEPTION_STUBS + v * EXCEPTION_STUB_STRIDE`.
pub const EXCEPTION_STUBS: usize = 0x1100;
/// Distance between two exception stubs.
pub const EXCEPTION_STUB_STRIDE: usize = 16;
/// Number of exception vectors with a stub (all architectural exceptions).
pub const EXCEPTION_VECTORS: usize = 32;
/// Offset of the page-table store snippet (CPL0). Entered with RSP pointing at an
/// iret frame near the top of the vCPU's kernel stack.
pub const PTE_SNIPPET: usize = 0x1400;
/// Offset where the snippet re-reads its queue after a `PORT_SNIPPET_MORE` exit.
pub const PTE_SNIPPET_LOOP: usize = PTE_SNIPPET + 5;

/// I/O port the syscall stubs write: an app system call.
pub const PORT_SYSCALL: u16 = 0x10;
/// I/O port the snippet writes when the host asked it to stop for more entries.
pub const PORT_SNIPPET_MORE: u16 = 0x11;
/// Exception vector `v` exits on port `PORT_EXCEPTION_BASE + v`.
pub const PORT_EXCEPTION_BASE: u16 = 0x80;

/// Whether the CPU pushes an error code for this exception vector.
pub const fn vector_has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10 | 11 | 12 | 13 | 14 | 17 | 21 | 29 | 30)
}

/// GDT selectors, the same numbers Linux uses (on the paravirtual backend
/// `mov r, cs` at CPL3 returns the host's selectors, so they had better match).
pub mod gdt {
    /// Kernel 64-bit code.
    pub const KERNEL_CS: u16 = 0x10;
    /// Kernel data / stack.
    pub const KERNEL_DS: u16 = 0x18;
    /// User 32-bit code (STAR's SYSRET base).
    pub const USER32_CS: u16 = 0x23;
    /// User data / stack.
    pub const USER_DS: u16 = 0x2b;
    /// User 64-bit code.
    pub const USER_CS: u16 = 0x33;
    /// 64-bit TSS (two GDT slots: 8 and 9).
    pub const TSS: u16 = 0x40;
    /// Number of 8-byte GDT slots.
    pub const ENTRIES: usize = 10;
}

/// The 64-bit TSS with its I/O permission bitmap.
pub mod tss {
    /// Size of the architectural TSS fields.
    pub const HEADER_SIZE: usize = 104;
    /// Offset of RSP0 inside the TSS.
    pub const RSP0_OFFSET: usize = 4;
    /// Offset of the I/O map base field (a u16).
    pub const IOMAP_BASE_OFFSET: usize = 102;
    /// The I/O bitmap starts right after the header.
    pub const IOMAP_BASE: usize = HEADER_SIZE;
    /// One bit per port, 65536 ports.
    pub const IOMAP_BYTES: usize = 8192;
    /// Whole TSS: header, bitmap and the mandatory all-ones byte after it.
    pub const SIZE: usize = HEADER_SIZE + IOMAP_BYTES + 1;
}

/// Guest virtual layout. The app owns the lower half; PML4 slot 511 is shared
/// by every address space (slot 256 is unusable on the paravirtual backend).
pub mod layout {
    /// The PML4 slot holding everything the platform maps for itself.
    pub const SUPERVISOR_PML4_SLOT: usize = 511;
    /// Direct map of the memory file (2 MiB pages, supervisor, NX): guest
    /// physical address `p` is at `DIRECT_MAP_BASE + p`. The PTE snippet writes
    /// page tables through it.
    pub const DIRECT_MAP_BASE: u64 = 0xffff_ff80_0000_0000;
    /// Largest memory file the direct map covers (PDPT slots 0..=509).
    pub const DIRECT_MAP_MAX: u64 = 510 << 30;
    /// Start of the 4 KiB-mapped supervisor region (PDPT slot 510 of slot 511).
    pub const SUPERVISOR_BASE: u64 = 0xffff_ffff_8000_0000;
    /// Where the code blob is mapped (page 0 user-executable, page 1 supervisor).
    pub const BLOB_VA: u64 = SUPERVISOR_BASE;
    /// The IDT (shared by all vCPUs), one page.
    pub const IDT_VA: u64 = SUPERVISOR_BASE + 0x2000;
    /// First per-vCPU area. vCPU `i` uses `VCPU_AREA_BASE + i * VCPU_AREA_SIZE`.
    pub const VCPU_AREA_BASE: u64 = SUPERVISOR_BASE + 0x10_0000;
    /// Size and alignment of a per-vCPU area: the snippet finds its queue by
    /// rounding RSP down to this.
    pub const VCPU_AREA_SIZE: u64 = 0x4_0000;
    /// Queue of page-table stores (at the area's start).
    pub const QUEUE_OFFSET: u64 = 0;
    /// Bytes of the queue.
    pub const QUEUE_SIZE: u64 = 0x1_0000;
    /// The vCPU's GDT page.
    pub const GDT_OFFSET: u64 = 0x1_0000;
    /// The vCPU's TSS (3 pages).
    pub const TSS_OFFSET: u64 = 0x1_1000;
    /// Lowest address of the kernel stack.
    pub const STACK_OFFSET: u64 = 0x2_0000;
    /// Top of the kernel stack (TSS.RSP0), exclusive.
    pub const STACK_TOP_OFFSET: u64 = 0x4_0000;
    /// Most vCPUs the supervisor region has room for.
    pub const MAX_VCPUS: usize = 1024;
}

/// Layout of the page-table store queue read by the snippet.
pub mod queue {
    /// u64: number of entries to apply.
    pub const COUNT: usize = 0;
    /// u64: nonzero → after applying, exit on `PORT_SNIPPET_MORE` instead of returning.
    pub const MORE: usize = 8;
    /// u64: nonzero → reload CR3 after the stores (full TLB flush).
    pub const FLUSH_ALL: usize = 16;
    /// First entry: `{ pte_va: u64, value: u64, invlpg_va: u64 }`.
    pub const ENTRIES: usize = 32;
    /// Bytes per entry.
    pub const ENTRY_SIZE: usize = 24;
    /// Entries that fit in the queue.
    pub const CAPACITY: usize = (super::layout::QUEUE_SIZE as usize - ENTRIES) / ENTRY_SIZE;
}

global_asm!(
    r#"
    .pushsection .rodata.gvisor_entry_blob, "a", @progbits
    .balign 4096
    .globl gvisor_entry_blob
gvisor_entry_blob:

    // Page 0: user-executable. On the paravirtual backend a user `syscall`
    // arrives here at CPL3; the TSS I/O bitmap lets CPL3 write this one port.
    .globl gvisor_user_syscall_stub
gvisor_user_syscall_stub:
    out 0x10, al
    ud2

    // Page 1: supervisor only.
    .org gvisor_entry_blob + 0x1000, 0xcc
    .globl gvisor_supervisor_syscall_stub
gvisor_supervisor_syscall_stub:
    out 0x10, al
    sysretq

    .org gvisor_entry_blob + 0x1080, 0xcc
    .globl gvisor_iret_only
gvisor_iret_only:
    iretq

    .macro gvisor_exc_stub vec, has_err
    .org gvisor_entry_blob + 0x1100 + \vec * 16, 0xcc
    out 0x80 + \vec, al
    .if \has_err
    add rsp, 8
    .endif
    iretq
    .endm

    .org gvisor_entry_blob + 0x1100, 0xcc
    .globl gvisor_exception_stubs
gvisor_exception_stubs:
    gvisor_exc_stub 0, 0
    gvisor_exc_stub 1, 0
    gvisor_exc_stub 2, 0
    gvisor_exc_stub 3, 0
    gvisor_exc_stub 4, 0
    gvisor_exc_stub 5, 0
    gvisor_exc_stub 6, 0
    gvisor_exc_stub 7, 0
    gvisor_exc_stub 8, 1
    gvisor_exc_stub 9, 0
    gvisor_exc_stub 10, 1
    gvisor_exc_stub 11, 1
    gvisor_exc_stub 12, 1
    gvisor_exc_stub 13, 1
    gvisor_exc_stub 14, 1
    gvisor_exc_stub 15, 0
    gvisor_exc_stub 16, 0
    gvisor_exc_stub 17, 1
    gvisor_exc_stub 18, 0
    gvisor_exc_stub 19, 0
    gvisor_exc_stub 20, 0
    gvisor_exc_stub 21, 1
    gvisor_exc_stub 22, 0
    gvisor_exc_stub 23, 0
    gvisor_exc_stub 24, 0
    gvisor_exc_stub 25, 0
    gvisor_exc_stub 26, 0
    gvisor_exc_stub 27, 0
    gvisor_exc_stub 28, 0
    gvisor_exc_stub 29, 1
    gvisor_exc_stub 30, 1
    gvisor_exc_stub 31, 0

    // The page-table store snippet. Entered at CPL0 with RSP at an iret frame
    // on this vCPU's kernel stack; the queue sits at the start of the per-vCPU
    // area, found by rounding RSP down to the area size (0x40000).
    .org gvisor_entry_blob + 0x1400, 0xcc
    .globl gvisor_pte_snippet
gvisor_pte_snippet:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    .globl gvisor_pte_snippet_loop
gvisor_pte_snippet_loop:
    mov rsi, rsp
    and rsi, -0x40000
    mov rcx, qword ptr [rsi]
    lea rdx, [rsi + 32]
gvisor_pte_next:
    test rcx, rcx
    jz gvisor_pte_done
    mov rax, qword ptr [rdx]
    mov rdi, qword ptr [rdx + 8]
    mov qword ptr [rax], rdi
    mov rax, qword ptr [rdx + 16]
    invlpg byte ptr [rax]
    add rdx, 24
    dec rcx
    jmp gvisor_pte_next
gvisor_pte_done:
    mov qword ptr [rsi], 0
    cmp qword ptr [rsi + 16], 0
    je gvisor_pte_noflush
    mov rax, cr3
    mov cr3, rax
gvisor_pte_noflush:
    cmp qword ptr [rsi + 8], 0
    jne gvisor_pte_more
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    iretq
gvisor_pte_more:
    out 0x11, al
    jmp gvisor_pte_snippet_loop

    .org gvisor_entry_blob + 0x2000, 0xcc
    .popsection
"#
);

extern "C" {
    static gvisor_entry_blob: [u8; BLOB_SIZE];
}

/// The guest code: [`BLOB_SIZE`] bytes to copy into two guest pages.
pub fn blob() -> &'static [u8; BLOB_SIZE] {
    // SAFETY: `gvisor_entry_blob` is defined above in a read-only section with
    // exactly BLOB_SIZE bytes (the final `.org` pins the size); it is never
    // written, so a shared 'static reference is sound.
    unsafe { &*core::ptr::addr_of!(gvisor_entry_blob) }
}

/// Offset of the exception stub of `vector` (0..32).
pub const fn exception_stub(vector: u8) -> usize {
    EXCEPTION_STUBS + vector as usize * EXCEPTION_STUB_STRIDE
}

/// The exception vector whose stub contains blob offset `off`, if any.
pub const fn exception_vector_at(off: usize) -> Option<u8> {
    if off >= EXCEPTION_STUBS && off < EXCEPTION_STUBS + EXCEPTION_VECTORS * EXCEPTION_STUB_STRIDE {
        Some(((off - EXCEPTION_STUBS) / EXCEPTION_STUB_STRIDE) as u8)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        static gvisor_user_syscall_stub: u8;
        static gvisor_supervisor_syscall_stub: u8;
        static gvisor_iret_only: u8;
        static gvisor_exception_stubs: u8;
        static gvisor_pte_snippet: u8;
        static gvisor_pte_snippet_loop: u8;
    }

    fn off(sym: *const u8) -> usize {
        // black_box: the optimizer assumes distinct statics never share an
        // address, which the first label and the blob symbol do by design.
        core::hint::black_box(sym as usize) - core::hint::black_box(blob().as_ptr() as usize)
    }

    #[test]
    fn symbols_sit_at_pinned_offsets() {
        let syms = [
            (
                core::ptr::addr_of!(gvisor_user_syscall_stub),
                USER_SYSCALL_STUB,
            ),
            (
                core::ptr::addr_of!(gvisor_supervisor_syscall_stub),
                SUPERVISOR_SYSCALL_STUB,
            ),
            (core::ptr::addr_of!(gvisor_iret_only), IRET_ONLY),
            (core::ptr::addr_of!(gvisor_exception_stubs), EXCEPTION_STUBS),
            (core::ptr::addr_of!(gvisor_pte_snippet), PTE_SNIPPET),
            (
                core::ptr::addr_of!(gvisor_pte_snippet_loop),
                PTE_SNIPPET_LOOP,
            ),
        ];
        for (sym, want) in syms {
            assert_eq!(off(sym), want);
        }
        assert_eq!(blob().as_ptr() as usize % 4096, 0, "blob is page aligned");
    }

    #[test]
    fn syscall_stubs_decode() {
        let b = blob();
        // out 0x10, al
        assert_eq!(
            &b[USER_SYSCALL_STUB..USER_SYSCALL_STUB + 2],
            &[0xe6, PORT_SYSCALL as u8]
        );
        // followed by ud2 so nothing falls through
        assert_eq!(
            &b[USER_SYSCALL_STUB + 2..USER_SYSCALL_STUB + 4],
            &[0x0f, 0x0b]
        );
        // out 0x10, al; sysretq (REX.W 0f 07)
        assert_eq!(
            &b[SUPERVISOR_SYSCALL_STUB..SUPERVISOR_SYSCALL_STUB + 5],
            &[0xe6, 0x10, 0x48, 0x0f, 0x07]
        );
        assert_eq!(SUPERVISOR_SYSRET, SUPERVISOR_SYSCALL_STUB + 2);
        // iretq = REX.W cf
        assert_eq!(&b[IRET_ONLY..IRET_ONLY + 2], &[0x48, 0xcf]);
    }

    #[test]
    fn exception_stubs_decode() {
        let b = blob();
        for v in 0..EXCEPTION_VECTORS as u8 {
            let s = exception_stub(v);
            assert_eq!(
                &b[s..s + 2],
                &[0xe6, PORT_EXCEPTION_BASE as u8 + v],
                "vector {v}"
            );
            let rest = if vector_has_error_code(v) {
                // add rsp, 8 (48 83 c4 08); iretq
                &b[s + 2..s + 8]
            } else {
                &b[s + 2..s + 4]
            };
            let want: &[u8] = if vector_has_error_code(v) {
                &[0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf]
            } else {
                &[0x48, 0xcf]
            };
            assert_eq!(rest, want, "vector {v}");
            assert_eq!(exception_vector_at(s + 2), Some(v));
        }
        assert_eq!(exception_vector_at(IRET_ONLY), None);
    }

    #[test]
    fn snippet_decodes() {
        let b = blob();
        // push rax, rcx, rdx, rsi, rdi
        assert_eq!(
            &b[PTE_SNIPPET..PTE_SNIPPET_LOOP],
            &[0x50, 0x51, 0x52, 0x56, 0x57]
        );
        // mov rsi, rsp; and rsi, -0x40000
        assert_eq!(
            &b[PTE_SNIPPET_LOOP..PTE_SNIPPET_LOOP + 3],
            &[0x48, 0x89, 0xe6]
        );
        assert_eq!(
            &b[PTE_SNIPPET_LOOP + 3..PTE_SNIPPET_LOOP + 10],
            &[0x48, 0x81, 0xe6, 0x00, 0x00, 0xfc, 0xff]
        );
        let snippet = &b[PTE_SNIPPET..PTE_SNIPPET + 0x100];
        // invlpg [rax] = 0f 01 38 ; mov cr3, rax = 0f 22 d8 ; out 0x11, al = e6 11
        assert!(snippet.windows(3).any(|w| w == [0x0f, 0x01, 0x38]));
        assert!(snippet.windows(3).any(|w| w == [0x0f, 0x22, 0xd8]));
        assert!(snippet
            .windows(2)
            .any(|w| w == [0xe6, PORT_SNIPPET_MORE as u8]));
        // the return path: pop rdi, rsi, rdx, rcx, rax; iretq
        assert!(snippet
            .windows(7)
            .any(|w| w == [0x5f, 0x5e, 0x5a, 0x59, 0x58, 0x48, 0xcf]));
    }

    #[test]
    fn layout_is_consistent() {
        use layout::*;
        const {
            assert!(
                DIRECT_MAP_BASE == 0xffff_0000_0000_0000 | ((SUPERVISOR_PML4_SLOT as u64) << 39)
            );
            assert!(SUPERVISOR_BASE - DIRECT_MAP_BASE == 510 << 30);
            assert!(VCPU_AREA_BASE.is_multiple_of(VCPU_AREA_SIZE));
            assert!(TSS_OFFSET + tss::SIZE as u64 <= STACK_OFFSET);
            assert!(QUEUE_OFFSET + QUEUE_SIZE <= GDT_OFFSET);
            assert!(queue::CAPACITY > 2000);
            assert!(
                VCPU_AREA_BASE + MAX_VCPUS as u64 * VCPU_AREA_SIZE <= SUPERVISOR_BASE + (1 << 30)
            );
            assert!(gdt::TSS as usize / 8 + 2 == gdt::ENTRIES);
            assert!(gdt::USER_CS == gdt::USER32_CS + 16);
            assert!(gdt::USER_DS == gdt::USER32_CS + 8);
            assert!(gdt::KERNEL_DS == gdt::KERNEL_CS + 8);
        }
    }
}
