//! x86-64 descriptor tables and control-register values for the guest.

use entry_asm::{gdt, layout, tss};

/// CR0: PE, MP, ET, NE, WP, AM, PG.
pub const CR0: u64 = 1 | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 18) | (1 << 31);
/// CR4: PAE, OSFXSR, OSXMMEXCPT, OSXSAVE.
pub const CR4: u64 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 18);
/// EFER: SCE, LME, LMA, NXE.
pub const EFER: u64 = 1 | (1 << 8) | (1 << 10) | (1 << 11);

/// MSR numbers.
pub mod msr {
    /// SYSCALL target selectors.
    pub const STAR: u32 = 0xc000_0081;
    /// 64-bit SYSCALL target.
    pub const LSTAR: u32 = 0xc000_0082;
    /// Compat-mode SYSCALL target.
    pub const CSTAR: u32 = 0xc000_0083;
    /// RFLAGS bits cleared on SYSCALL.
    pub const SFMASK: u32 = 0xc000_0084;
}

/// RFLAGS bits.
pub mod rflags {
    /// Carry.
    pub const CF: u64 = 1;
    /// Reserved, always 1.
    pub const FIXED: u64 = 1 << 1;
    /// Parity.
    pub const PF: u64 = 1 << 2;
    /// Adjust.
    pub const AF: u64 = 1 << 4;
    /// Zero.
    pub const ZF: u64 = 1 << 6;
    /// Sign.
    pub const SF: u64 = 1 << 7;
    /// Trap.
    pub const TF: u64 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u64 = 1 << 9;
    /// Direction.
    pub const DF: u64 = 1 << 10;
    /// Overflow.
    pub const OF: u64 = 1 << 11;
    /// Nested task.
    pub const NT: u64 = 1 << 14;
    /// Resume.
    pub const RF: u64 = 1 << 16;
    /// Alignment check.
    pub const AC: u64 = 1 << 18;
    /// CPUID available.
    pub const ID: u64 = 1 << 21;
    /// Bits an app may set; IOPL, NT, VM, VIF, VIP and the rest are ours.
    pub const USER_MASK: u64 = CF | PF | AF | ZF | SF | TF | DF | OF | AC | ID | RF;
    /// What SYSCALL clears (Linux's SFMASK).
    pub const SYSCALL_MASK: u64 = TF | DF | IF | AC | NT;
}

/// Sanitizes an app-controlled RFLAGS value: only user-settable bits survive,
/// IF and the fixed bit are always set.
pub fn sanitize_rflags(v: u64) -> u64 {
    (v & rflags::USER_MASK) | rflags::FIXED | rflags::IF
}

/// Whether `va` is canonical (bits 63..47 all equal).
pub fn is_canonical(va: u64) -> bool {
    let top = (va as i64) >> 47;
    top == 0 || top == -1
}

const fn seg(access: u64, flags: u64) -> u64 {
    // base 0, limit 0xfffff
    0xffff | (access << 40) | (0xf << 48) | (flags << 52)
}

/// The 10 GDT slots of one vCPU, with its TSS at `tss_va`.
pub fn gdt(tss_va: u64) -> [u64; gdt::ENTRIES] {
    let mut g = [0u64; gdt::ENTRIES];
    // access: P | DPL | S | type ; flags: G | D/B | L
    g[(gdt::KERNEL_CS / 8) as usize] = seg(0x9b, 0xa); // code, DPL0, L
    g[(gdt::KERNEL_DS / 8) as usize] = seg(0x93, 0xc); // data, DPL0
    g[(gdt::USER32_CS / 8) as usize] = seg(0xfb, 0xc); // code, DPL3, 32-bit
    g[(gdt::USER_DS / 8) as usize] = seg(0xf3, 0xc); // data, DPL3
    g[(gdt::USER_CS / 8) as usize] = seg(0xfb, 0xa); // code, DPL3, L
    let limit = (tss::SIZE - 1) as u64;
    let i = (gdt::TSS / 8) as usize;
    g[i] = (limit & 0xffff)
        | ((tss_va & 0xff_ffff) << 16)
        | (0x89 << 40) // present, available 64-bit TSS
        | (((limit >> 16) & 0xf) << 48)
        | (((tss_va >> 24) & 0xff) << 56);
    g[i + 1] = tss_va >> 32;
    g
}

/// A TSS with RSP0 = `rsp0` and an I/O bitmap that lets CPL3 use only `port`.
pub fn tss(rsp0: u64, port: u16) -> Vec<u8> {
    let mut t = vec![0u8; tss::SIZE];
    t[tss::RSP0_OFFSET..tss::RSP0_OFFSET + 8].copy_from_slice(&rsp0.to_le_bytes());
    t[tss::IOMAP_BASE_OFFSET..tss::IOMAP_BASE_OFFSET + 2]
        .copy_from_slice(&(tss::IOMAP_BASE as u16).to_le_bytes());
    for b in &mut t[tss::IOMAP_BASE..] {
        *b = 0xff;
    }
    let p = port as usize;
    t[tss::IOMAP_BASE + p / 8] &= !(1 << (p % 8));
    t
}

/// The IDT: interrupt gates for vectors 0..32 to the blob's exception stubs.
/// #BP (3) and #OF (4) have DPL3 so `int3`/`into` reach them from the app.
pub fn idt() -> Vec<u8> {
    let mut t = vec![0u8; 4096];
    for v in 0..entry_asm::EXCEPTION_VECTORS as u8 {
        let target = layout::BLOB_VA + entry_asm::exception_stub(v) as u64;
        let dpl: u64 = if v == 3 || v == 4 { 3 } else { 0 };
        let lo = (target & 0xffff)
            | ((gdt::KERNEL_CS as u64) << 16)
            | ((0x8e | (dpl << 5)) << 40) // present, 64-bit interrupt gate
            | (((target >> 16) & 0xffff) << 48);
        let hi = target >> 32;
        let o = v as usize * 16;
        t[o..o + 8].copy_from_slice(&lo.to_le_bytes());
        t[o + 8..o + 16].copy_from_slice(&hi.to_le_bytes());
    }
    t
}

/// IDT limit: only the 32 architectural vectors are present.
pub const IDT_LIMIT: u16 = (entry_asm::EXCEPTION_VECTORS * 16 - 1) as u16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_entries() {
        let g = gdt(0xffff_ffff_8010_1000);
        assert_eq!(g[2], 0x00af_9b00_0000_ffff);
        assert_eq!(g[3], 0x00cf_9300_0000_ffff);
        assert_eq!(g[5], 0x00cf_f300_0000_ffff);
        assert_eq!(g[6], 0x00af_fb00_0000_ffff);
        // TSS base reassembles
        let base = ((g[8] >> 16) & 0xff_ffff) | (((g[8] >> 56) & 0xff) << 24) | (g[9] << 32);
        assert_eq!(base, 0xffff_ffff_8010_1000);
        assert_eq!((g[8] >> 40) & 0xff, 0x89);
    }

    #[test]
    fn tss_bitmap_allows_one_port() {
        let t = tss(0x1234_5000, 0x10);
        let bm = &t[tss::IOMAP_BASE..tss::IOMAP_BASE + tss::IOMAP_BYTES];
        assert_eq!(bm[2], 0xfe);
        assert_eq!(bm.iter().filter(|&&b| b != 0xff).count(), 1);
        assert_eq!(t[tss::SIZE - 1], 0xff);
        assert_eq!(&t[4..12], &0x1234_5000u64.to_le_bytes());
    }

    #[test]
    fn idt_gates_point_at_stubs() {
        let t = idt();
        for v in 0..32usize {
            let lo = u64::from_le_bytes(t[v * 16..v * 16 + 8].try_into().unwrap());
            let hi = u64::from_le_bytes(t[v * 16 + 8..v * 16 + 16].try_into().unwrap());
            let target = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | (hi << 32);
            assert_eq!(
                target,
                layout::BLOB_VA + entry_asm::exception_stub(v as u8) as u64
            );
            let dpl = (lo >> 45) & 3;
            assert_eq!(dpl, if v == 3 || v == 4 { 3 } else { 0 });
        }
    }

    #[test]
    fn rflags_sanitized() {
        let v = sanitize_rflags(u64::MAX);
        assert_eq!(v & (3 << 12), 0, "IOPL cleared");
        assert_eq!(v & rflags::NT, 0);
        assert_eq!(v & (1 << 17), 0, "VM cleared");
        assert_ne!(v & rflags::IF, 0);
        assert!(is_canonical(0x7fff_ffff_f000));
        assert!(is_canonical(0xffff_8000_0000_0000));
        assert!(!is_canonical(0x0000_8000_0000_0000));
    }
}
