//! ELF64 x86-64 executable parsing.
//!
//! [`parse`] validates an executable image and describes its loadable
//! segments. It never touches memory and never panics, whatever the input:
//! executables come from untrusted files, so every offset, size and address
//! is range-checked with overflow-safe arithmetic.
//!
//! Accepted: ELF64, little-endian, `EM_X86_64`, `ET_EXEC` (static) or
//! `ET_DYN` without `PT_INTERP` (static-pie). The returned addresses are the
//! *unbiased* link-time addresses; for `ET_DYN` add
//! [`ElfImage::load_bias_for`] to every address (segments, entry, AT_PHDR).
//!
//! Note: validation guarantees PT_LOAD ranges `[vaddr, vaddr + memsz)` do not
//! overlap, but two adjacent segments may still share a page once rounded to
//! page boundaries; the mapper must combine their protections for that page.

use goblin::container::Endian;
use goblin::elf::header::{
    EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, EM_X86_64, ET_DYN,
    ET_EXEC, SELFMAG, SIZEOF_IDENT,
};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, SIZEOF_PHDR};

use super::LoadError;

/// Guest page size assumed for alignment computations.
pub use crate::abi::PAGE_SIZE;

/// Exclusive upper bound of user virtual addresses (Linux x86-64 `TASK_SIZE`
/// with 4-level paging). No segment may extend beyond it.
pub use crate::abi::USER_END as USER_ADDR_LIMIT;

/// Linux refuses program header tables larger than this (`ELF_MIN_ALIGN`
/// sized 64 KiB limit in `load_elf_phdrs`).
const MAX_PHDR_TABLE: u64 = 65536;

/// Longest PT_INTERP path we report in an error message.
const MAX_INTERP_REPORT: usize = 4096;

/// The ELF object type of an accepted executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: fixed-address executable; load bias is 0.
    Exec,
    /// `ET_DYN` without interpreter: static-pie, relocatable anywhere.
    Dyn,
}

/// Memory protection of a segment (from `p_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prot {
    /// `PF_R`
    pub read: bool,
    /// `PF_W`
    pub write: bool,
    /// `PF_X`
    pub exec: bool,
}

impl Prot {
    fn from_flags(flags: u32) -> Prot {
        Prot {
            read: flags & PF_R != 0,
            write: flags & PF_W != 0,
            exec: flags & PF_X != 0,
        }
    }
}

/// One `PT_LOAD` segment (unbiased addresses).
///
/// Memory `[vaddr, vaddr + filesz)` is initialised from file bytes
/// `[file_offset, file_offset + filesz)`; `[vaddr + filesz, vaddr + memsz)` is
/// zero-filled (bss). Guaranteed by [`parse`]: `filesz <= memsz`, `memsz > 0`,
/// the file range lies inside the file, `vaddr + memsz <= USER_ADDR_LIMIT`,
/// and if `filesz > 0`, `file_offset % PAGE_SIZE == vaddr % PAGE_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Link-time virtual address of the first byte.
    pub vaddr: u64,
    /// Size in memory (including bss).
    pub memsz: u64,
    /// Offset of the segment's data in the file.
    pub file_offset: u64,
    /// Number of bytes taken from the file.
    pub filesz: u64,
    /// Access permissions.
    pub prot: Prot,
}

impl Segment {
    /// Exclusive end address `vaddr + memsz` (saturating).
    pub fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// A validated static x86-64 executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfImage {
    /// `ET_EXEC` or static-pie `ET_DYN`.
    pub kind: ElfKind,
    /// Unbiased entry point (`e_entry`).
    pub entry: u64,
    /// File offset of the program header table (`e_phoff`).
    pub phoff: u64,
    /// Size of one program header (`e_phentsize`, always 56); for AT_PHENT.
    pub phentsize: u16,
    /// Number of program headers (`e_phnum`); for AT_PHNUM.
    pub phnum: u16,
    /// `PT_LOAD` segments with `memsz > 0`, sorted by `vaddr`, non-overlapping,
    /// never empty.
    pub segments: Vec<Segment>,
    /// Whether `PT_GNU_STACK` asks for an executable stack (false if absent,
    /// as Linux does for x86-64 binaries).
    pub stack_exec: bool,
    /// `p_vaddr` of `PT_PHDR`, if the binary has one (unbiased).
    pub pt_phdr: Option<u64>,
    /// The `PT_INTERP` path (the dynamic loader), if any.
    pub interp: Option<Vec<u8>>,
}

fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

fn page_up(x: u64) -> u64 {
    x.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

impl ElfImage {
    /// Unbiased address of the program header table in memory (the value for
    /// `AT_PHDR` before adding the load bias): `PT_PHDR`'s vaddr if present,
    /// otherwise the address where file offset `phoff` lands inside a PT_LOAD
    /// segment whose file data covers the whole table. `None` if the table is
    /// not mapped at all.
    pub fn phdr_vaddr(&self) -> Option<u64> {
        if let Some(v) = self.pt_phdr {
            return Some(v);
        }
        let size = u64::from(self.phnum) * u64::from(self.phentsize);
        let end = self.phoff.checked_add(size)?;
        self.segments
            .iter()
            .find(|s| {
                s.file_offset <= self.phoff
                    && s.file_offset
                        .checked_add(s.filesz)
                        .is_some_and(|e| end <= e)
            })
            .and_then(|s| s.vaddr.checked_add(self.phoff - s.file_offset))
    }

    /// Load bias to add to every link-time address: 0 for `ET_EXEC`; for
    /// `ET_DYN`, the page-aligned `preferred_base` minus the page-aligned lowest
    /// segment vaddr, so the lowest segment page lands at `preferred_base`.
    /// Computed with wrapping arithmetic (a "negative" bias is valid).
    pub fn load_bias_for(&self, preferred_base: u64) -> u64 {
        match self.kind {
            ElfKind::Exec => 0,
            ElfKind::Dyn => {
                let lowest = self.segments.first().map_or(0, |s| page_down(s.vaddr));
                page_down(preferred_base).wrapping_sub(lowest)
            }
        }
    }

    /// Unbiased `(start, end)` of the whole image: lowest segment vaddr rounded
    /// down to a page, highest segment end rounded up to a page.
    pub fn span(&self) -> (u64, u64) {
        let start = self.segments.first().map_or(0, |s| page_down(s.vaddr));
        let end = self
            .segments
            .iter()
            .map(|s| page_up(s.end()))
            .max()
            .unwrap_or(start);
        (start, end)
    }
}

fn malformed(msg: impl Into<String>) -> LoadError {
    LoadError::Malformed(msg.into())
}

/// Returns `bytes[offset..offset + len]`, or a Malformed error naming `what`.
fn file_range<'a>(
    bytes: &'a [u8],
    offset: u64,
    len: u64,
    what: &str,
) -> Result<&'a [u8], LoadError> {
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= bytes.len() as u64)
        .ok_or_else(|| {
            malformed(format!(
                "{what} file range {offset:#x}+{len:#x} lies outside the file ({:#x} bytes)",
                bytes.len()
            ))
        })?;
    // Both bounds are <= bytes.len(), so they fit in usize.
    bytes
        .get(offset as usize..end as usize)
        .ok_or_else(|| malformed(format!("{what} file range out of bounds")))
}

/// Parses and validates a static x86-64 ELF executable.
///
/// Errors: [`LoadError::NotElf`] without the ELF magic,
/// [`LoadError::WrongArch`] for non-ELF64 / big-endian / non-x86-64 files,
/// [`LoadError::Dynamic`] if a `PT_INTERP` is present, and
/// [`LoadError::Malformed`] for any structural problem.
pub fn parse(bytes: &[u8]) -> Result<ElfImage, LoadError> {
    if bytes.get(..SELFMAG) != Some(&ELFMAG[..]) {
        return Err(LoadError::NotElf);
    }
    if bytes.len() < SIZEOF_IDENT {
        return Err(malformed("truncated ELF identification"));
    }
    match bytes[EI_CLASS] {
        ELFCLASS64 => {}
        c => {
            return Err(LoadError::WrongArch {
                expected: "ELFCLASS64",
                found: match c {
                    ELFCLASS32 => "ELFCLASS32".to_string(),
                    c => format!("ELF class {c}"),
                },
            })
        }
    }
    match bytes[EI_DATA] {
        ELFDATA2LSB => {}
        d => {
            return Err(LoadError::WrongArch {
                expected: "little-endian (ELFDATA2LSB)",
                found: match d {
                    ELFDATA2MSB => "big-endian (ELFDATA2MSB)".to_string(),
                    d => format!("ELF data encoding {d}"),
                },
            })
        }
    }
    if bytes.len() < SIZEOF_EHDR {
        return Err(malformed(format!(
            "truncated ELF header ({} bytes, need {SIZEOF_EHDR})",
            bytes.len()
        )));
    }
    let hdr = Header::parse(bytes).map_err(|e| malformed(format!("bad ELF header: {e}")))?;
    if hdr.e_machine != EM_X86_64 {
        return Err(LoadError::WrongArch {
            expected: "x86-64 (EM_X86_64)",
            found: format!("e_machine {}", hdr.e_machine),
        });
    }
    let kind = match hdr.e_type {
        ET_EXEC => ElfKind::Exec,
        ET_DYN => ElfKind::Dyn,
        t => {
            return Err(malformed(format!(
                "ELF type {t} is not an executable (need ET_EXEC or ET_DYN)"
            )))
        }
    };
    if usize::from(hdr.e_phentsize) != SIZEOF_PHDR {
        return Err(malformed(format!(
            "e_phentsize is {}, expected {SIZEOF_PHDR}",
            hdr.e_phentsize
        )));
    }
    if hdr.e_phnum == 0 {
        return Err(malformed("no program headers"));
    }
    let table_size = u64::from(hdr.e_phnum) * SIZEOF_PHDR as u64;
    if table_size > MAX_PHDR_TABLE {
        return Err(malformed(format!(
            "program header table too large ({} entries)",
            hdr.e_phnum
        )));
    }
    let table =
        file_range(bytes, hdr.e_phoff, table_size, "program header table").map_err(|_| {
            malformed(format!(
                "truncated program headers: {} entries at offset {:#x} exceed file size {:#x}",
                hdr.e_phnum,
                hdr.e_phoff,
                bytes.len()
            ))
        })?;
    let phdrs = ProgramHeader::parse(table, 0, usize::from(hdr.e_phnum), Endian::Little)
        .map_err(|e| malformed(format!("bad program headers: {e}")))?;

    let mut interp = None;
    if let Some(ph) = phdrs.iter().find(|p| p.p_type == PT_INTERP) {
        let data = file_range(bytes, ph.p_offset, ph.p_filesz, "PT_INTERP")?;
        let path = data.split(|&b| b == 0).next().unwrap_or(&[]);
        if path.is_empty() || path.len() > MAX_INTERP_REPORT {
            return Err(malformed("PT_INTERP path empty or too long"));
        }
        interp = Some(path.to_vec());
    }

    let mut segments: Vec<Segment> = Vec::new();
    let mut stack_exec = false;
    let mut pt_phdr = None;
    for (i, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            PT_LOAD => {
                if ph.p_filesz > ph.p_memsz {
                    return Err(malformed(format!(
                        "PT_LOAD #{i}: p_filesz {:#x} > p_memsz {:#x}",
                        ph.p_filesz, ph.p_memsz
                    )));
                }
                file_range(bytes, ph.p_offset, ph.p_filesz, &format!("PT_LOAD #{i}"))?;
                if ph.p_memsz == 0 {
                    continue;
                }
                let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or_else(|| {
                    malformed(format!(
                        "PT_LOAD #{i}: vaddr {:#x} + memsz {:#x} overflows",
                        ph.p_vaddr, ph.p_memsz
                    ))
                })?;
                if end > USER_ADDR_LIMIT {
                    return Err(malformed(format!(
                        "PT_LOAD #{i}: [{:#x}, {end:#x}) extends beyond the user address limit {USER_ADDR_LIMIT:#x}",
                        ph.p_vaddr
                    )));
                }
                if ph.p_filesz > 0 && ph.p_offset % PAGE_SIZE != ph.p_vaddr % PAGE_SIZE {
                    return Err(malformed(format!(
                        "PT_LOAD #{i}: offset {:#x} and vaddr {:#x} differ modulo the page size",
                        ph.p_offset, ph.p_vaddr
                    )));
                }
                if let Some(prev) = segments.last() {
                    if ph.p_vaddr < prev.vaddr {
                        return Err(malformed(format!(
                            "PT_LOAD #{i}: segments not sorted by vaddr ({:#x} after {:#x})",
                            ph.p_vaddr, prev.vaddr
                        )));
                    }
                    if ph.p_vaddr < prev.end() {
                        return Err(malformed(format!(
                            "PT_LOAD #{i}: [{:#x}, {end:#x}) overlaps previous segment [{:#x}, {:#x})",
                            ph.p_vaddr,
                            prev.vaddr,
                            prev.end()
                        )));
                    }
                }
                segments.push(Segment {
                    vaddr: ph.p_vaddr,
                    memsz: ph.p_memsz,
                    file_offset: ph.p_offset,
                    filesz: ph.p_filesz,
                    prot: Prot::from_flags(ph.p_flags),
                });
            }
            PT_GNU_STACK => stack_exec = ph.p_flags & PF_X != 0,
            PT_PHDR => pt_phdr = Some(ph.p_vaddr),
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(malformed("no PT_LOAD segment"));
    }

    Ok(ElfImage {
        kind,
        entry: hdr.e_entry,
        phoff: hdr.e_phoff,
        phentsize: hdr.e_phentsize,
        phnum: hdr.e_phnum,
        segments,
        stack_exec,
        pt_phdr,
        interp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Clone, Copy)]
    struct Ph {
        ty: u32,
        flags: u32,
        off: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    }

    fn load(flags: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            ty: PT_LOAD,
            flags,
            off,
            vaddr,
            filesz,
            memsz,
        }
    }

    fn other(ty: u32, flags: u32, off: u64, vaddr: u64, filesz: u64) -> Ph {
        Ph {
            ty,
            flags,
            off,
            vaddr,
            filesz,
            memsz: filesz,
        }
    }

    /// Builds a minimal ELF64 x86-64 image: header, phdrs at offset 64,
    /// zero-padded to `file_len`.
    fn synth(e_type: u16, entry: u64, phs: &[Ph], file_len: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&[0x7f, b'E', b'L', b'F', ELFCLASS64, ELFDATA2LSB, 1]);
        b.resize(16, 0);
        b.extend_from_slice(&e_type.to_le_bytes());
        b.extend_from_slice(&EM_X86_64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&entry.to_le_bytes());
        b.extend_from_slice(&64u64.to_le_bytes()); // phoff
        b.extend_from_slice(&0u64.to_le_bytes()); // shoff
        b.extend_from_slice(&0u32.to_le_bytes()); // flags
        b.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        b.extend_from_slice(&56u16.to_le_bytes()); // phentsize
        b.extend_from_slice(&(phs.len() as u16).to_le_bytes());
        b.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        b.extend_from_slice(&0u16.to_le_bytes()); // shnum
        b.extend_from_slice(&0u16.to_le_bytes()); // shstrndx
        assert_eq!(b.len(), 64);
        for p in phs {
            b.extend_from_slice(&p.ty.to_le_bytes());
            b.extend_from_slice(&p.flags.to_le_bytes());
            b.extend_from_slice(&p.off.to_le_bytes());
            b.extend_from_slice(&p.vaddr.to_le_bytes());
            b.extend_from_slice(&p.vaddr.to_le_bytes()); // paddr
            b.extend_from_slice(&p.filesz.to_le_bytes());
            b.extend_from_slice(&p.memsz.to_le_bytes());
            b.extend_from_slice(&PAGE_SIZE.to_le_bytes()); // align
        }
        if b.len() < file_len {
            b.resize(file_len, 0);
        }
        b
    }

    const RX: u32 = PF_R | PF_X;
    const RW: u32 = PF_R | PF_W;

    fn valid_phs() -> Vec<Ph> {
        vec![
            load(RX, 0, 0x40_0000, 0x1000, 0x1000),
            load(RW, 0x1000, 0x40_1000, 0x100, 0x2000),
            other(PT_GNU_STACK, RW, 0, 0, 0),
        ]
    }

    fn valid() -> Vec<u8> {
        synth(ET_EXEC, 0x40_0100, &valid_phs(), 0x1100)
    }

    fn expect_malformed(bytes: &[u8], needle: &str) {
        match parse(bytes) {
            Err(LoadError::Malformed(m)) => {
                assert!(m.contains(needle), "message {m:?} lacks {needle:?}")
            }
            other => panic!("expected Malformed({needle:?}), got {other:?}"),
        }
    }

    #[test]
    fn synthetic_exec() {
        let img = parse(&valid()).unwrap();
        assert_eq!(img.kind, ElfKind::Exec);
        assert_eq!(img.entry, 0x40_0100);
        assert_eq!((img.phoff, img.phentsize, img.phnum), (64, 56, 3));
        assert_eq!(
            img.segments,
            vec![
                Segment {
                    vaddr: 0x40_0000,
                    memsz: 0x1000,
                    file_offset: 0,
                    filesz: 0x1000,
                    prot: Prot {
                        read: true,
                        write: false,
                        exec: true
                    }
                },
                Segment {
                    vaddr: 0x40_1000,
                    memsz: 0x2000,
                    file_offset: 0x1000,
                    filesz: 0x100,
                    prot: Prot {
                        read: true,
                        write: true,
                        exec: false
                    }
                },
            ]
        );
        assert!(!img.stack_exec);
        assert_eq!(img.pt_phdr, None);
        assert_eq!(img.phdr_vaddr(), Some(0x40_0040));
        assert_eq!(img.span(), (0x40_0000, 0x40_3000));
        assert_eq!(img.load_bias_for(0x5555_5555_4000), 0);
    }

    #[test]
    fn pt_phdr_and_exec_stack() {
        let mut phs = vec![other(PT_PHDR, PF_R, 64, 0x40_0040, 3 * 56)];
        phs.extend(valid_phs());
        phs[3].flags = RW | PF_X;
        let img = parse(&synth(ET_EXEC, 0x40_0100, &phs, 0x1100)).unwrap();
        assert_eq!(img.pt_phdr, Some(0x40_0040));
        assert_eq!(img.phdr_vaddr(), Some(0x40_0040));
        assert!(img.stack_exec);
    }

    #[test]
    fn phdrs_not_mapped() {
        let phs = [load(RX, 0x1000, 0x40_1000, 0x100, 0x100)];
        let img = parse(&synth(ET_EXEC, 0x40_1000, &phs, 0x1100)).unwrap();
        assert_eq!(img.phdr_vaddr(), None);
    }

    #[test]
    fn synthetic_dyn_bias() {
        let phs = [
            load(RX, 0, 0, 0x1000, 0x1000),
            load(RW, 0x1000, 0x1000, 0x10, 0x10),
        ];
        let img = parse(&synth(ET_DYN, 0x100, &phs, 0x1100)).unwrap();
        assert_eq!(img.kind, ElfKind::Dyn);
        assert_eq!(img.load_bias_for(0x5555_5555_4123), 0x5555_5555_4000);
        assert_eq!(img.phdr_vaddr(), Some(0x40));
        assert_eq!(img.span(), (0, 0x2000));

        let phs = [load(RX, 0x123, 0x10_0123, 0x10, 0x10)];
        let img = parse(&synth(ET_DYN, 0x10_0123, &phs, 0x1100)).unwrap();
        assert_eq!(img.load_bias_for(0x5555_5555_4000), 0x5555_5545_4000);
        assert_eq!(img.span(), (0x10_0000, 0x10_1000));
    }

    #[test]
    fn not_elf_and_wrong_arch() {
        assert_eq!(parse(b""), Err(LoadError::NotElf));
        assert_eq!(parse(b"\x7fEL"), Err(LoadError::NotElf));
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), Err(LoadError::NotElf));
        expect_malformed(b"\x7fELF", "identification");

        let mut b = valid();
        b[EI_CLASS] = ELFCLASS32;
        assert!(
            matches!(parse(&b), Err(LoadError::WrongArch { found, .. }) if found == "ELFCLASS32")
        );
        let mut b = valid();
        b[EI_DATA] = ELFDATA2MSB;
        assert!(matches!(parse(&b), Err(LoadError::WrongArch { .. })));
        let mut b = valid();
        b[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        let e = parse(&b).unwrap_err();
        assert!(matches!(e, LoadError::WrongArch { .. }), "{e:?}");
        assert_eq!(e.errno(), libc::ENOEXEC);

        let mut b = valid();
        b[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        expect_malformed(&b, "not an executable");
        expect_malformed(&valid()[..40], "truncated ELF header");
    }

    #[test]
    fn interp_is_reported() {
        let interp = b"/lib64/ld-linux-x86-64.so.2\0";
        let mut phs = valid_phs();
        phs.insert(
            0,
            other(PT_INTERP, PF_R, 0x400, 0x40_0400, interp.len() as u64),
        );
        let mut b = synth(ET_DYN, 0x40_0100, &phs, 0x1100);
        b[0x400..0x400 + interp.len()].copy_from_slice(interp);
        let img = parse(&b).unwrap();
        assert_eq!(img.interp.as_deref(), Some(&interp[..interp.len() - 1]));
        // PT_INTERP pointing outside the file is malformed, not a panic.
        phs[0].off = 0x10_0000;
        expect_malformed(&synth(ET_DYN, 0, &phs, 0x1100), "PT_INTERP");
    }

    #[test]
    fn malformed_headers() {
        // Truncated program header table.
        let b = valid();
        expect_malformed(&b[..64 + 56], "truncated program headers");
        // Bad e_phentsize.
        let mut b = valid();
        b[54..56].copy_from_slice(&32u16.to_le_bytes());
        expect_malformed(&b, "e_phentsize");
        // No program headers.
        expect_malformed(&synth(ET_EXEC, 0, &[], 0x100), "no program headers");
        // Huge phoff.
        let mut b = valid();
        b[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        expect_malformed(&b, "truncated program headers");
        // phnum = 0xffff.
        let mut b = valid();
        b[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        expect_malformed(&b, "too large");
    }

    #[test]
    fn malformed_segments() {
        let ex = |phs: &[Ph], needle: &str| {
            expect_malformed(&synth(ET_EXEC, 0x40_0000, phs, 0x1100), needle)
        };
        ex(&[load(RX, 0, 0x40_0000, 0x2000, 0x1000)], "p_filesz");
        ex(
            &[load(RX, 0, 0x40_0000, 0x2000, 0x2000)],
            "outside the file",
        );
        ex(&[load(RX, u64::MAX, 0x40_0fff, 2, 2)], "outside the file");
        ex(&[load(RX, 0, u64::MAX - 0xfff, 0x10, 0x2000)], "overflows");
        ex(
            &[load(RX, 0, USER_ADDR_LIMIT - 0x1000, 0x10, 0x1001)],
            "user address limit",
        );
        ex(
            &[load(RX, 0, 0xffff_8000_0000_0000, 0x10, 0x10)],
            "user address limit",
        );
        ex(
            &[load(RX, 0x10, 0x40_0000, 0x10, 0x10)],
            "modulo the page size",
        );
        ex(
            &[
                load(RX, 0x1000, 0x40_1000, 0x10, 0x10),
                load(RX, 0, 0x40_0000, 0x10, 0x10),
            ],
            "not sorted",
        );
        ex(
            &[
                load(RX, 0, 0x40_0000, 0x1000, 0x1001),
                load(RW, 0x1000, 0x40_1000, 0x10, 0x10),
            ],
            "overlaps",
        );
        ex(&[other(PT_GNU_STACK, RW, 0, 0, 0)], "no PT_LOAD");
        // A zero-sized PT_LOAD is ignored, so it alone does not count.
        ex(&[load(RX, 0, 0x40_0000, 0, 0)], "no PT_LOAD");
        // Adjacent (touching) segments are fine.
        let phs = [
            load(RX, 0, 0x40_0000, 0x1000, 0x1000),
            load(RW, 0x1000, 0x40_1000, 0x10, 0x10),
        ];
        parse(&synth(ET_EXEC, 0x40_0000, &phs, 0x1100)).unwrap();
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Exercises every accessor on a successful parse; must not panic either.
    fn poke(bytes: &[u8]) {
        if let Ok(img) = parse(bytes) {
            let _ = img.phdr_vaddr();
            let _ = img.span();
            let _ = img.load_bias_for(0x5555_5555_4000);
            let _ = img.load_bias_for(u64::MAX);
            for s in &img.segments {
                assert!(s.filesz <= s.memsz && s.memsz > 0);
                assert!(s.end() <= USER_ADDR_LIMIT);
                assert!(s.file_offset + s.filesz <= bytes.len() as u64);
            }
        }
    }

    /// Mutates header/program-header bytes of `orig` in place (restoring them
    /// afterwards) and checks `parse` never panics.
    fn fuzz_image(orig: &mut [u8], rng: &mut Rng, rounds: usize) {
        let hdr_end = orig.len().min(64 + 56 * 16);
        const INTERESTING: [u64; 8] = [
            0,
            1,
            0xfff,
            0x1000,
            USER_ADDR_LIMIT,
            i64::MAX as u64,
            u64::MAX,
            u64::MAX - 0xfff,
        ];
        for _ in 0..rounds {
            let mut saved = Vec::new();
            let n = 1 + rng.next() as usize % 4;
            for _ in 0..n {
                let pos = rng.next() as usize % hdr_end;
                if rng.next() & 1 == 0 {
                    saved.push((pos, orig[pos]));
                    orig[pos] = rng.next() as u8;
                } else {
                    let pos = pos & !7;
                    let v = INTERESTING[rng.next() as usize % INTERESTING.len()].to_le_bytes();
                    for (k, byte) in v.iter().enumerate() {
                        if let Some(slot) = orig.get_mut(pos + k) {
                            saved.push((pos + k, *slot));
                            *slot = *byte;
                        }
                    }
                }
            }
            poke(orig);
            for (pos, old) in saved.into_iter().rev() {
                orig[pos] = old;
            }
        }
    }

    #[test]
    fn never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut images = vec![valid()];
        if let Ok(bb) = std::fs::read("/bin/busybox") {
            images.push(bb);
        }
        for img in &mut images {
            // Every truncation of the first 4 KiB, then coarser ones.
            for len in 0..img.len().min(4096) {
                poke(&img[..len]);
            }
            let mut len = 4096;
            while len < img.len() {
                poke(&img[..len]);
                len += 4093;
            }
            fuzz_image(img, &mut rng, 5000);
        }
        // Random garbage, with and without a forced ELF64 LE x86-64 prefix.
        for i in 0..5000 {
            let len = rng.next() as usize % 1024;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if i % 2 == 0 && buf.len() >= 20 {
                buf[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
                buf[16..20].copy_from_slice(&[2, 0, 62, 0]);
                if i % 4 == 0 && buf.len() >= 64 {
                    buf[32..40].copy_from_slice(&64u64.to_le_bytes());
                    buf[54..56].copy_from_slice(&56u16.to_le_bytes());
                    buf[56..58].copy_from_slice(&((rng.next() % 16) as u16).to_le_bytes());
                }
            }
            poke(&buf);
        }
    }

    // ---- real binaries -------------------------------------------------

    struct TempBin {
        dir: PathBuf,
        path: PathBuf,
    }

    impl Drop for TempBin {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Compiles a tiny C program with `gcc <flags>`; `None` if gcc is missing.
    fn compile(flags: &[&str]) -> Option<TempBin> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sentry-loader-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t.c");
        std::fs::write(
            &src,
            "int counter = 5;\nint main(void) { return counter - 5; }\n",
        )
        .unwrap();
        let bin = TempBin {
            path: dir.join("t"),
            dir,
        };
        match Command::new("gcc")
            .args(flags)
            .arg("-o")
            .arg(&bin.path)
            .arg(&src)
            .status()
        {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("gcc not found; skipping");
                None
            }
            Err(e) => panic!("running gcc: {e}"),
            Ok(st) => {
                assert!(st.success(), "gcc {flags:?} failed");
                Some(bin)
            }
        }
    }

    /// `(entry, number of LOAD lines)` according to `readelf`, if available.
    fn readelf(path: &Path) -> Option<(u64, usize)> {
        let out = Command::new("readelf").arg("-lW").arg(path).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let entry = text
            .lines()
            .find_map(|l| l.strip_prefix("Entry point 0x"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())?;
        let loads = text
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD "))
            .count();
        Some((entry, loads))
    }

    fn check_real(path: &Path, kind: ElfKind) -> ElfImage {
        let bytes = std::fs::read(path).unwrap();
        let img = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(img.kind, kind);
        let phdr = img.phdr_vaddr().expect("phdrs mapped");
        let (lo, hi) = img.span();
        assert!(lo <= phdr && phdr < hi);
        assert!(lo <= img.entry && img.entry < hi);
        // The entry point must be in an executable segment.
        assert!(img
            .segments
            .iter()
            .any(|s| s.prot.exec && s.vaddr <= img.entry && img.entry < s.end()));
        if let Some((entry, loads)) = readelf(path) {
            assert_eq!(img.entry, entry);
            assert_eq!(img.segments.len(), loads);
        }
        img
    }

    #[test]
    fn busybox() {
        let p = Path::new("/bin/busybox");
        let Ok(bytes) = std::fs::read(p) else {
            eprintln!("no /bin/busybox; skipping");
            return;
        };
        match parse(&bytes) {
            Ok(img) => {
                check_real(p, img.kind);
            }
            Err(e) => panic!("busybox: {e}"),
        }
    }

    #[test]
    fn gcc_static() {
        let Some(bin) = compile(&["-static", "-O1"]) else {
            return;
        };
        let img = check_real(&bin.path, ElfKind::Exec);
        assert_eq!(img.load_bias_for(0x5555_5555_4000), 0);
    }

    #[test]
    fn gcc_static_pie() {
        let Some(bin) = compile(&["-static-pie", "-fPIE", "-O1"]) else {
            return;
        };
        let img = check_real(&bin.path, ElfKind::Dyn);
        let bias = img.load_bias_for(0x5555_5555_4000);
        assert_eq!(img.span().0.wrapping_add(bias), 0x5555_5555_4000);
    }

    #[test]
    fn gcc_dynamic() {
        let Some(bin) = compile(&["-O1"]) else {
            return;
        };
        let bytes = std::fs::read(&bin.path).unwrap();
        let img = parse(&bytes).unwrap();
        let interp = String::from_utf8_lossy(img.interp.as_deref().unwrap()).into_owned();
        assert!(interp.contains("ld-linux-x86-64.so.2"), "{interp}");
    }
}
