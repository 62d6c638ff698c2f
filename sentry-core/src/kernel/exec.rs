//! Loading a program into a fresh memory manager: `#!` scripts, static ELF,
//! dynamic ELF with its PT_INTERP loader, and the initial stack.

use crate::errno::{Errno, SysResult};
use crate::loader::{self, ElfImage, StackSpec};
use crate::mm::{self, MemoryManager, VmaKind, PAGE};
use crate::platform::{Perms, Registers};
use crate::vfs::{Start, TaskContext, Vfs};

use super::KernelError;

/// Where ET_DYN (PIE) programs are placed, as Linux's ELF_ET_DYN_BASE.
pub const DYN_BASE: u64 = 0x5555_5555_4000;
/// Largest file exec reads.
const MAX_EXEC_FILE: u64 = 512 << 20;
/// Most nested `#!` interpreters.
const MAX_SHEBANG_DEPTH: usize = 4;

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

/// The result of loading.
pub struct Loaded {
    /// Registers to start with.
    pub regs: Registers,
    /// The path of the executable (for /proc/self/exe).
    pub exe: Vec<u8>,
    /// The auxiliary vector as laid out on the stack, AT_NULL pair included
    /// (/proc/[pid]/auxv).
    pub auxv: Vec<u8>,
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

/// Reads a whole executable of the sandbox's file system for exec: it must
/// be a regular file with an execute bit.
pub fn read_exec_file(
    ctx: &dyn TaskContext,
    fs: &Vfs,
    cwd: &str,
    path: &[u8],
) -> SysResult<Vec<u8>> {
    let st = fs.stat(&Start::cwd(ctx, cwd), path, true)?;
    if st.mode & crate::vfs::S_IFMT != crate::vfs::S_IFREG || st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    read_exec_file_any(ctx, fs, cwd, path)
}

/// Splits a `#!` line into (interpreter, optional argument).
fn parse_shebang(bytes: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = bytes.strip_prefix(b"#!")?;
    let line = &rest[..rest
        .iter()
        .take(255)
        .position(|&b| b == b'\n')
        .unwrap_or(rest.len().min(255))];
    let line: &[u8] = {
        let s = line.iter().position(|&b| b != b' ' && b != b'\t')?;
        let e = line
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t' && b != b'\r')?;
        &line[s..=e]
    };
    match line.iter().position(|&b| b == b' ' || b == b'\t') {
        None => Some((line.to_vec(), None)),
        Some(i) => {
            let arg = &line[i..];
            let s = arg.iter().position(|&b| b != b' ' && b != b'\t')?;
            Some((line[..i].to_vec(), Some(arg[s..].to_vec())))
        }
    }
}

/// Maps the segments of `image` at `bias`; returns the end of the image.
fn map_image(
    mm: &mut MemoryManager,
    image: &ElfImage,
    bytes: &[u8],
    bias: u64,
    name: &str,
) -> Result<u64, KernelError> {
    let mut end_max = 0u64;
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
            VmaKind::Image(name.to_string()),
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
            mm.map_populated(start, end);
        }
        end_max = end_max.max(end);
    }
    Ok(end_max)
}

/// Loads `bytes` (the file at `args.execfn`) into `mm`, following `#!` and
/// PT_INTERP, and builds the initial stack.
pub fn load_program(
    ctx: &dyn TaskContext,
    fs: &Vfs,
    mm: &mut MemoryManager,
    bytes: &[u8],
    cwd: &str,
    args: &ExecArgs<'_>,
) -> Result<Loaded, KernelError> {
    let mut bytes = std::borrow::Cow::Borrowed(bytes);
    let mut argv: Vec<Vec<u8>> = args.argv.to_vec();
    let mut path = args.execfn.to_vec();
    for depth in 0.. {
        let Some((interp, arg)) = parse_shebang(&bytes) else {
            break;
        };
        if depth >= MAX_SHEBANG_DEPTH {
            return Err(KernelError::Setup {
                what: "too many nested #! interpreters",
                errno: Errno::ELOOP,
            });
        }
        let mut new_argv = vec![interp.clone()];
        new_argv.extend(arg);
        new_argv.push(path.clone());
        new_argv.extend(argv.iter().skip(1).cloned());
        argv = new_argv;
        bytes = std::borrow::Cow::Owned(
            read_exec_file(ctx, fs, cwd, &interp).map_err(setup("reading the #! interpreter"))?,
        );
        path = interp;
    }
    let image = loader::parse(&bytes)?;
    let name = String::from_utf8_lossy(&path).into_owned();
    let bias = match image.kind {
        loader::ElfKind::Exec => 0,
        loader::ElfKind::Dyn => image.load_bias_for(DYN_BASE),
    };
    let brk = map_image(mm, &image, &bytes, bias, &name)?;
    mm.set_brk_start(brk);
    mm.map_anon(
        mm::STACK_TOP - mm::STACK_SIZE,
        mm::STACK_SIZE,
        Perms::RW,
        true,
        VmaKind::Stack,
    )
    .map_err(setup("mapping the stack"))?;

    let entry = image.entry.wrapping_add(bias);
    let mut start = entry;
    let mut interp_base = 0;
    if let Some(interp) = &image.interp {
        let ib = read_exec_file_any(ctx, fs, cwd, interp)
            .map_err(setup("reading the ELF interpreter"))?;
        let ii = loader::parse(&ib)?;
        if ii.interp.is_some() {
            return Err(KernelError::Setup {
                what: "the ELF interpreter has an interpreter",
                errno: Errno::ELOOP,
            });
        }
        let (lo, hi) = ii.span();
        let base = mm
            .map_anon(0, hi - lo, Perms::default(), false, VmaKind::Anon)
            .map_err(setup("reserving room for the ELF interpreter"))?;
        let ibias = base.wrapping_sub(lo);
        map_image(mm, &ii, &ib, ibias, &String::from_utf8_lossy(interp))?;
        interp_base = ibias;
        start = ii.entry.wrapping_add(ibias);
    }

    let mut random = [0u8; 16];
    crate::platform::getrandom(&mut random);
    let phdr = image
        .phdr_vaddr()
        .map(|p| p.wrapping_add(bias))
        .unwrap_or(0);
    let auxv = vec![
        (loader::AT_PHDR, phdr),
        (loader::AT_PHENT, image.phentsize as u64),
        (loader::AT_PHNUM, image.phnum as u64),
        (loader::AT_PAGESZ, PAGE),
        (loader::AT_BASE, interp_base),
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
        argv: &argv,
        envp: args.envp,
        execfn: args.execfn,
        random,
        platform: b"x86_64",
        auxv,
    };
    let stack = loader::stack::build(mm::STACK_TOP, &spec)?;
    mm.write_force(stack.sp, &stack.bytes)
        .map_err(setup("writing the initial stack"))?;
    mm.map_populated(stack.sp & !(PAGE - 1), mm::STACK_TOP);
    let auxv = saved_auxv(&stack);
    Ok(Loaded {
        auxv,
        regs: Registers {
            rip: start,
            rsp: stack.sp,
            rflags: 0x202,
            ..Default::default()
        },
        // /proc/self/exe is absolute and canonical whatever path was run.
        exe: fs
            .resolve(&Start::cwd(ctx, cwd), &path, true)
            .map(|r| r.abs.into_bytes())
            .unwrap_or(path),
    })
}

/// The auxiliary vector's bytes in `stack`, up to and including AT_NULL.
fn saved_auxv(stack: &loader::stack::InitialStack) -> Vec<u8> {
    let start = (stack.auxv_ptr.wrapping_sub(stack.sp)) as usize;
    let mut out = Vec::new();
    let Some(bytes) = stack.bytes.get(start..) else {
        return out;
    };
    for pair in bytes.chunks_exact(16) {
        out.extend_from_slice(pair);
        if pair[..8] == [0u8; 8] {
            break;
        }
    }
    out
}

/// Like [`read_exec_file`] without the execute-permission check (the loader
/// itself need only be readable, as on Linux).
fn read_exec_file_any(
    ctx: &dyn TaskContext,
    fs: &Vfs,
    cwd: &str,
    path: &[u8],
) -> SysResult<Vec<u8>> {
    let f = fs.open(&Start::cwd(ctx, cwd), path, libc::O_RDONLY as u32, 0)?;
    let size = f.stat()?.size.max(0) as u64;
    if size > MAX_EXEC_FILE {
        return Err(Errno::E2BIG);
    }
    let mut buf = vec![0u8; size as usize];
    let mut done = 0;
    while done < buf.len() {
        let n = f.pread(&mut buf[done..], done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// The FPU state of a freshly exec'd program (XSAVE layout): FCW 0x37f,
/// MXCSR 0x1f80, every component in its initial state.
pub fn initial_fpu() -> Result<Vec<u8>, Errno> {
    let mut x = vec![0u8; 4096];
    x[0..2].copy_from_slice(&0x37fu16.to_le_bytes());
    x[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
    x[28..32].copy_from_slice(&0xffffu32.to_le_bytes());
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some((b"/bin/sh".to_vec(), None))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"\x7fELF"), None);
    }
}
