//! Loading a static ELF into a fresh memory manager and building the initial
//! stack (argv, envp, auxv).

use crate::errno::Errno;
use crate::loader::{self, ElfImage, StackSpec};
use crate::mm::{self, MemoryManager, VmaKind, PAGE};
use crate::platform::{Perms, Registers};

use super::KernelError;

/// Where ET_DYN (static-pie) images are placed, as Linux's ELF_ET_DYN_BASE.
pub const DYN_BASE: u64 = 0x5555_5555_4000;

/// What a program is started with.
pub struct ExecArgs<'a> {
    /// argv.
    pub argv: &'a [Vec<u8>],
    /// envp.
    pub envp: &'a [Vec<u8>],
    /// The path the program was executed as (AT_EXECFN).
    pub execfn: &'a [u8],
    /// Credentials for the auxv.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

fn setup(what: &'static str) -> impl Fn(Errno) -> KernelError {
    move |errno| KernelError::Setup { what, errno }
}

fn perms(p: loader::Prot) -> Perms {
    Perms {
        read: p.read,
        write: p.write,
        exec: p.exec,
    }
}

/// x86 CPUID.1:EDX, what Linux passes as AT_HWCAP.
fn hwcap() -> u64 {
    let r = core::arch::x86_64::__cpuid(1);
    r.edx as u64
}

/// Maps `image` (from `bytes`) into `mm`, builds the stack and returns the
/// registers to start it with.
pub fn load(
    mm: &mut MemoryManager,
    image: &ElfImage,
    bytes: &[u8],
    name: &str,
    args: &ExecArgs<'_>,
) -> Result<Registers, KernelError> {
    let bias = image.load_bias_for(DYN_BASE);
    let mut brk = 0u64;
    for seg in &image.segments {
        let vaddr = seg.vaddr.wrapping_add(bias);
        let start = vaddr & !(PAGE - 1);
        let end = vaddr
            .checked_add(seg.memsz)
            .and_then(|e| e.checked_add(PAGE - 1))
            .map(|e| e & !(PAGE - 1))
            .ok_or_else(|| loader::LoadError::Malformed("segment overflows".into()))?;
        mm.map_anon(
            start,
            end - start,
            perms(seg.prot),
            true,
            VmaKind::File(name.to_string()),
        )
        .map_err(setup("mapping an ELF segment"))?;
        if seg.filesz > 0 {
            let file_start = seg.file_offset - (vaddr - start);
            let file_end = seg.file_offset + seg.filesz;
            let data = bytes
                .get(file_start as usize..file_end as usize)
                .ok_or_else(|| loader::LoadError::Malformed("segment outside the file".into()))?;
            mm.write_force(start, data)
                .map_err(setup("copying an ELF segment"))?;
        }
        brk = brk.max(end);
    }
    mm.set_brk_start(brk);

    mm.map_anon(
        mm::STACK_TOP - mm::STACK_SIZE,
        mm::STACK_SIZE,
        Perms::RW,
        true,
        VmaKind::Stack,
    )
    .map_err(setup("mapping the stack"))?;
    let mut random = [0u8; 16];
    getrandom(&mut random);
    let phdr = image
        .phdr_vaddr()
        .map(|p| p.wrapping_add(bias))
        .unwrap_or(0);
    let entry = image.entry.wrapping_add(bias);
    let auxv = vec![
        (loader::AT_PHDR, phdr),
        (loader::AT_PHENT, image.phentsize as u64),
        (loader::AT_PHNUM, image.phnum as u64),
        (loader::AT_PAGESZ, PAGE),
        (loader::AT_BASE, 0),
        (loader::AT_FLAGS, 0),
        (loader::AT_ENTRY, entry),
        (loader::AT_UID, args.uid as u64),
        (loader::AT_EUID, args.uid as u64),
        (loader::AT_GID, args.gid as u64),
        (loader::AT_EGID, args.gid as u64),
        (loader::AT_SECURE, 0),
        (loader::AT_HWCAP, hwcap()),
        (loader::AT_HWCAP2, 0),
        (loader::AT_CLKTCK, 100),
    ];
    let spec = StackSpec {
        argv: args.argv,
        envp: args.envp,
        execfn: args.execfn,
        random,
        platform: b"x86_64",
        auxv,
    };
    let stack = loader::stack::build(mm::STACK_TOP, &spec)?;
    mm.write_force(stack.sp, &stack.bytes)
        .map_err(setup("writing the initial stack"))?;
    Ok(Registers {
        rip: entry,
        rsp: stack.sp,
        rflags: 0x202,
        ..Default::default()
    })
}

/// Fills `buf` from the host's random source.
pub fn getrandom(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most buf.len()-done bytes into the rest of buf.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
}
