//! Initial process stack construction (x86-64 SysV ABI, as Linux lays it out).
//!
//! [`build`] computes the exact bytes that must be placed just below
//! `stack_top` before jumping to the entry point with `rsp = sp`. From high
//! to low addresses:
//!
//! ```text
//! stack_top -> 8-byte NULL end marker
//!              execfn string (AT_EXECFN)
//!              envp strings  (env_start..env_end)
//!              argv strings  (arg_start..arg_end), argv[0] lowest
//!              (align 16)
//!              platform string (AT_PLATFORM), if non-empty
//!              16 random bytes (AT_RANDOM)
//!              padding so that sp ends up 16-byte aligned
//!              auxv (key, value) pairs, terminated by AT_NULL
//!              envp pointers, NULL
//!              argv pointers, NULL
//! sp        -> argc
//! ```

use super::LoadError;

/// End of the auxiliary vector.
pub const AT_NULL: u64 = 0;
/// Address of the program headers.
pub const AT_PHDR: u64 = 3;
/// Size of one program header.
pub const AT_PHENT: u64 = 4;
/// Number of program headers.
pub const AT_PHNUM: u64 = 5;
/// System page size.
pub const AT_PAGESZ: u64 = 6;
/// Interpreter base address.
pub const AT_BASE: u64 = 7;
/// Flags (unused, 0).
pub const AT_FLAGS: u64 = 8;
/// Program entry point.
pub const AT_ENTRY: u64 = 9;
/// Real uid.
pub const AT_UID: u64 = 11;
/// Effective uid.
pub const AT_EUID: u64 = 12;
/// Real gid.
pub const AT_GID: u64 = 13;
/// Effective gid.
pub const AT_EGID: u64 = 14;
/// Address of the platform string.
pub const AT_PLATFORM: u64 = 15;
/// CPU capability bits.
pub const AT_HWCAP: u64 = 16;
/// Clock ticks per second (for `times`).
pub const AT_CLKTCK: u64 = 17;
/// Secure mode (setuid-like exec).
pub const AT_SECURE: u64 = 23;
/// Address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;
/// More CPU capability bits.
pub const AT_HWCAP2: u64 = 26;
/// Address of the executed file name.
pub const AT_EXECFN: u64 = 31;
/// Minimal signal stack size.
pub const AT_MINSIGSTKSZ: u64 = 51;

/// Longest single argument/environment string, including its NUL (Linux
/// `MAX_ARG_STRLEN`, 32 pages); longer strings fail with E2BIG.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// Limit on argv + envp strings (with NULs) plus their pointers (Linux: a
/// quarter of the default 8 MiB stack rlimit); beyond it, E2BIG.
pub const MAX_ARG_TOTAL: usize = 2 * 1024 * 1024;

/// Keys [`build`] supplies itself; caller entries with these keys are dropped.
const RESERVED_KEYS: [u64; 4] = [AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM];

/// What to put on the initial stack.
#[derive(Debug, Clone)]
pub struct StackSpec<'a> {
    /// Argument strings, without NUL terminators.
    pub argv: &'a [Vec<u8>],
    /// Environment strings (`KEY=value`), without NUL terminators.
    pub envp: &'a [Vec<u8>],
    /// File name passed to execve (AT_EXECFN), without NUL.
    pub execfn: &'a [u8],
    /// The 16 bytes AT_RANDOM points at (libc seeds stack canaries from them).
    pub random: [u8; 16],
    /// Platform string for AT_PLATFORM, normally `b"x86_64"`; empty omits it.
    pub platform: &'a [u8],
    /// Auxiliary vector entries (AT_PHDR, AT_ENTRY, AT_PAGESZ, ...). Must not
    /// contain AT_RANDOM, AT_EXECFN, AT_PLATFORM or AT_NULL: `build` adds
    /// those itself (any such caller entries are ignored).
    pub auxv: Vec<(u64, u64)>,
}

/// The computed initial stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialStack {
    /// Initial `rsp`: 16-byte aligned, points at argc.
    pub sp: u64,
    /// Bytes to copy to guest address `sp`; `sp + bytes.len() == stack_top`.
    pub bytes: Vec<u8>,
    /// Number of arguments.
    pub argc: u64,
    /// Address of the argv pointer array (`sp + 8`).
    pub argv_ptrs: u64,
    /// Address of the envp pointer array.
    pub envp_ptrs: u64,
    /// Address of the auxiliary vector.
    pub auxv_ptr: u64,
    /// Start of the argv strings (`mm->arg_start`, for /proc/pid/cmdline).
    pub arg_start: u64,
    /// End of the argv strings (exclusive) == `env_start`.
    pub arg_end: u64,
    /// Start of the envp strings.
    pub env_start: u64,
    /// End of the envp strings (exclusive).
    pub env_end: u64,
    /// Address of the execfn string (AT_EXECFN).
    pub execfn_addr: u64,
    /// Address of the random bytes (AT_RANDOM).
    pub random_addr: u64,
    /// Address of the platform string (AT_PLATFORM), if any.
    pub platform_addr: Option<u64>,
}

fn check_str(s: &[u8], what: &str) -> Result<u64, LoadError> {
    if s.contains(&0) {
        return Err(LoadError::InvalidArg(format!("{what} contains a NUL byte")));
    }
    if s.len() + 1 > MAX_ARG_STRLEN {
        return Err(LoadError::TooBig(format!(
            "{what} is {} bytes (limit {})",
            s.len(),
            MAX_ARG_STRLEN - 1
        )));
    }
    Ok(s.len() as u64 + 1)
}

/// Builds the initial stack that ends exactly at `stack_top` (exclusive).
///
/// Errors: [`LoadError::TooBig`] (E2BIG) if a string exceeds
/// [`MAX_ARG_STRLEN`], argv + envp exceed [`MAX_ARG_TOTAL`], or the stack
/// would extend below address 0; [`LoadError::InvalidArg`] if a string has an
/// interior NUL.
pub fn build(stack_top: u64, spec: &StackSpec) -> Result<InitialStack, LoadError> {
    // Validate and measure the strings.
    let mut strings_len: u64 = 0;
    let mut argv_len: u64 = 0;
    for (i, a) in spec.argv.iter().enumerate() {
        let n = check_str(a, &format!("argv[{i}]"))?;
        strings_len += n;
        argv_len += n;
    }
    for (i, e) in spec.envp.iter().enumerate() {
        strings_len += check_str(e, &format!("envp[{i}]"))?;
    }
    let ptrs_len = (spec.argv.len() as u64 + spec.envp.len() as u64).saturating_mul(8);
    if strings_len.saturating_add(ptrs_len) > MAX_ARG_TOTAL as u64 {
        return Err(LoadError::TooBig(format!(
            "{} argv/envp strings need {} bytes (limit {MAX_ARG_TOTAL})",
            spec.argv.len() + spec.envp.len(),
            strings_len.saturating_add(ptrs_len)
        )));
    }
    let execfn_len = check_str(spec.execfn, "execfn")?;
    let platform_len = if spec.platform.is_empty() {
        0
    } else {
        check_str(spec.platform, "platform")?
    };

    let no_room = || LoadError::TooBig(format!("initial stack does not fit below {stack_top:#x}"));
    let sub = |a: u64, b: u64| a.checked_sub(b).ok_or_else(no_room);

    // Strings area, top down.
    let marker_addr = sub(stack_top, 8)?;
    let execfn_addr = sub(marker_addr, execfn_len)?;
    let env_end = execfn_addr;
    let arg_start = sub(env_end, strings_len)?;
    let arg_end = arg_start + argv_len;
    let env_start = arg_end;
    let mut p = arg_start & !15;
    let platform_addr = if platform_len > 0 {
        p = sub(p, platform_len)?;
        Some(p)
    } else {
        None
    };
    let random_addr = sub(p, 16)?;

    // Auxiliary vector.
    let mut auxv: Vec<(u64, u64)> = spec
        .auxv
        .iter()
        .copied()
        .filter(|(k, _)| !RESERVED_KEYS.contains(k))
        .collect();
    if let Some(addr) = platform_addr {
        auxv.push((AT_PLATFORM, addr));
    }
    auxv.push((AT_RANDOM, random_addr));
    auxv.push((AT_EXECFN, execfn_addr));
    auxv.push((AT_NULL, 0));

    // Table: argc, argv[], NULL, envp[], NULL, auxv pairs.
    let words = (1 + spec.argv.len() + 1 + spec.envp.len() + 1) as u64 + 2 * auxv.len() as u64;
    let sp = sub(random_addr, words * 8)? & !15;
    let total = stack_top - sp;
    if total > (MAX_ARG_TOTAL as u64) * 2 {
        // Only reachable with a huge caller-supplied auxv.
        return Err(LoadError::TooBig(format!("initial stack of {total} bytes")));
    }

    let mut bytes = vec![0u8; total as usize];
    // All addresses below are within [sp, stack_top) by construction.
    let mut put = |addr: u64, data: &[u8]| {
        let off = (addr - sp) as usize;
        bytes[off..off + data.len()].copy_from_slice(data);
    };

    put(execfn_addr, spec.execfn); // NUL terminator and end marker already 0
    let mut str_ptrs = Vec::with_capacity(spec.argv.len() + spec.envp.len());
    let mut cur = arg_start;
    for s in spec.argv.iter().chain(spec.envp.iter()) {
        put(cur, s);
        str_ptrs.push(cur);
        cur += s.len() as u64 + 1;
    }
    if let Some(addr) = platform_addr {
        put(addr, spec.platform);
    }
    put(random_addr, &spec.random);

    let argc = spec.argv.len() as u64;
    let argv_ptrs = sp + 8;
    let envp_ptrs = argv_ptrs + (argc + 1) * 8;
    let auxv_ptr = envp_ptrs + (spec.envp.len() as u64 + 1) * 8;
    let mut w = sp;
    let mut put_word = |v: u64| {
        put(w, &v.to_le_bytes());
        w += 8;
    };
    put_word(argc);
    let (argv_addrs, envp_addrs) = str_ptrs.split_at(spec.argv.len());
    for &a in argv_addrs {
        put_word(a);
    }
    put_word(0);
    for &e in envp_addrs {
        put_word(e);
    }
    put_word(0);
    for &(k, v) in &auxv {
        put_word(k);
        put_word(v);
    }
    debug_assert!(w <= random_addr);

    Ok(InitialStack {
        sp,
        bytes,
        argc,
        argv_ptrs,
        envp_ptrs,
        auxv_ptr,
        arg_start,
        arg_end,
        env_start,
        env_end,
        execfn_addr,
        random_addr,
        platform_addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOP: u64 = 0x7fff_ffff_f000;

    /// Reads the produced stack back like a libc `_start` would.
    struct Reader<'a> {
        st: &'a InitialStack,
    }

    impl Reader<'_> {
        fn slice(&self, addr: u64, len: usize) -> &[u8] {
            assert!(addr >= self.st.sp, "{addr:#x} below sp");
            let off = (addr - self.st.sp) as usize;
            &self.st.bytes[off..off + len]
        }
        fn u64(&self, addr: u64) -> u64 {
            u64::from_le_bytes(self.slice(addr, 8).try_into().unwrap())
        }
        fn cstr(&self, addr: u64) -> Vec<u8> {
            let off = (addr - self.st.sp) as usize;
            let rest = &self.st.bytes[off..];
            let n = rest.iter().position(|&b| b == 0).expect("NUL");
            rest[..n].to_vec()
        }
    }

    struct Parsed {
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        auxv: Vec<(u64, u64)>,
    }

    fn parse_back(top: u64, st: &InitialStack) -> Parsed {
        assert_eq!(st.sp % 16, 0, "sp not 16-byte aligned");
        assert_eq!(st.sp + st.bytes.len() as u64, top);
        let r = Reader { st };
        // End marker.
        assert_eq!(r.slice(top - 8, 8), &[0u8; 8]);
        let argc = r.u64(st.sp);
        assert_eq!(argc, st.argc);
        let mut a = st.sp + 8;
        assert_eq!(a, st.argv_ptrs);
        let mut argv = Vec::new();
        for _ in 0..argc {
            argv.push(r.cstr(r.u64(a)));
            a += 8;
        }
        assert_eq!(r.u64(a), 0);
        a += 8;
        assert_eq!(a, st.envp_ptrs);
        let mut envp = Vec::new();
        while r.u64(a) != 0 {
            envp.push(r.cstr(r.u64(a)));
            a += 8;
        }
        a += 8;
        assert_eq!(a, st.auxv_ptr);
        let mut auxv = Vec::new();
        loop {
            let (k, v) = (r.u64(a), r.u64(a + 8));
            a += 16;
            if k == AT_NULL {
                assert_eq!(v, 0);
                break;
            }
            auxv.push((k, v));
        }
        assert!(a <= st.random_addr);
        Parsed { argv, envp, auxv }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn random() -> [u8; 16] {
        core::array::from_fn(|i| 0xa0 + i as u8)
    }

    #[test]
    fn layout_round_trip() {
        for argc in 0..5 {
            for envc in 0..4 {
                for top in [TOP, TOP - 8, 0x7fff_ffff_e123] {
                    let argv: Vec<Vec<u8>> = (0..argc)
                        .map(|i| format!("arg{i}-{}", "x".repeat(i)).into_bytes())
                        .collect();
                    let envp: Vec<Vec<u8>> = (0..envc)
                        .map(|i| format!("K{i}=v{i}").into_bytes())
                        .collect();
                    let spec = StackSpec {
                        argv: &argv,
                        envp: &envp,
                        execfn: b"/bin/prog",
                        random: random(),
                        platform: b"x86_64",
                        auxv: vec![
                            (AT_PHDR, 0x40_0040),
                            (AT_PHENT, 56),
                            (AT_PHNUM, 9),
                            (AT_PAGESZ, 4096),
                            (AT_ENTRY, 0x40_1000),
                            (AT_UID, 0),
                            (AT_SECURE, 0),
                            (AT_MINSIGSTKSZ, 2048),
                        ],
                    };
                    let st = build(top, &spec).unwrap();
                    let p = parse_back(top, &st);
                    assert_eq!(p.argv, argv);
                    assert_eq!(p.envp, envp);
                    let map: HashMap<u64, u64> = p.auxv.iter().copied().collect();
                    assert_eq!(map.len(), p.auxv.len(), "duplicate auxv keys");
                    for (k, v) in &spec.auxv {
                        assert_eq!(map[k], *v);
                    }
                    let r = Reader { st: &st };
                    assert_eq!(map[&AT_RANDOM], st.random_addr);
                    assert_eq!(r.slice(st.random_addr, 16), &random());
                    assert_eq!(map[&AT_EXECFN], st.execfn_addr);
                    assert_eq!(r.cstr(st.execfn_addr), b"/bin/prog");
                    // execfn sits right below the 8-byte end marker.
                    assert_eq!(st.execfn_addr + b"/bin/prog\0".len() as u64, top - 8);
                    assert_eq!(Some(map[&AT_PLATFORM]), st.platform_addr);
                    assert_eq!(r.cstr(map[&AT_PLATFORM]), b"x86_64");
                    // Strings are contiguous: argv then envp, ending at execfn.
                    let joined: Vec<u8> = argv
                        .iter()
                        .chain(envp.iter())
                        .flat_map(|s| s.iter().copied().chain([0]))
                        .collect();
                    assert_eq!(st.env_end - st.arg_start, joined.len() as u64);
                    assert_eq!(r.slice(st.arg_start, joined.len()), &joined[..]);
                    assert_eq!(st.arg_end, st.env_start);
                    assert_eq!(st.env_end, st.execfn_addr);
                    // Layout order, high to low.
                    let plat = st.platform_addr.unwrap();
                    assert!(plat + 7 <= st.arg_start);
                    assert!(st.random_addr + 16 <= plat);
                    assert!(st.auxv_ptr < st.random_addr);
                }
            }
        }
    }

    #[test]
    fn reserved_auxv_keys_and_empty_platform() {
        let argv = strs(&["a"]);
        let spec = StackSpec {
            argv: &argv,
            envp: &[],
            execfn: b"a",
            random: [7; 16],
            platform: b"",
            auxv: vec![
                (AT_PAGESZ, 4096),
                (AT_RANDOM, 1),
                (AT_EXECFN, 2),
                (AT_PLATFORM, 3),
                (AT_NULL, 0),
                (AT_HWCAP, 0x178bfbff),
            ],
        };
        let st = build(TOP, &spec).unwrap();
        let p = parse_back(TOP, &st);
        assert_eq!(st.platform_addr, None);
        assert_eq!(
            p.auxv,
            vec![
                (AT_PAGESZ, 4096),
                (AT_HWCAP, 0x178bfbff),
                (AT_RANDOM, st.random_addr),
                (AT_EXECFN, st.execfn_addr),
            ]
        );
    }

    #[test]
    fn limits() {
        let spec = |argv: &'static [Vec<u8>]| StackSpec {
            argv,
            envp: &[],
            execfn: b"x",
            random: [0; 16],
            platform: b"x86_64",
            auxv: vec![],
        };
        // One string over MAX_ARG_STRLEN.
        let big: &'static [Vec<u8>] =
            Box::leak(vec![vec![b'a'; MAX_ARG_STRLEN]].into_boxed_slice());
        let e = build(TOP, &spec(big)).unwrap_err();
        assert!(matches!(e, LoadError::TooBig(_)), "{e:?}");
        assert_eq!(e.errno(), libc::E2BIG);
        // Longest allowed single string is fine.
        let ok: &'static [Vec<u8>] =
            Box::leak(vec![vec![b'a'; MAX_ARG_STRLEN - 1]].into_boxed_slice());
        let st = build(TOP, &spec(ok)).unwrap();
        assert_eq!(parse_back(TOP, &st).argv[0].len(), MAX_ARG_STRLEN - 1);
        // Many strings over the total.
        let many: &'static [Vec<u8>] = Box::leak(vec![vec![b'b'; 100_000]; 21].into_boxed_slice());
        assert!(matches!(build(TOP, &spec(many)), Err(LoadError::TooBig(_))));
        // Interior NUL.
        let nul: &'static [Vec<u8>] = Box::leak(vec![b"a\0b".to_vec()].into_boxed_slice());
        let e = build(TOP, &spec(nul)).unwrap_err();
        assert!(matches!(e, LoadError::InvalidArg(_)), "{e:?}");
        // No room below a tiny stack_top.
        let one: &'static [Vec<u8>] = Box::leak(vec![b"a".to_vec()].into_boxed_slice());
        assert!(matches!(build(64, &spec(one)), Err(LoadError::TooBig(_))));
        assert!(matches!(build(0, &spec(one)), Err(LoadError::TooBig(_))));
    }
}
