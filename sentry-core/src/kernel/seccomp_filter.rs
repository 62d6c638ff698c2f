//! Seccomp filters a sandboxed program installs on itself (seccomp(2),
//! prctl(PR_SET_SECCOMP)): classic-BPF programs over `struct seccomp_data`,
//! checked as Linux's `bpf_check_classic` + `seccomp_check_filter` check
//! them, interpreted in the sentry on every system call of a thread that
//! has some. They never reach the host kernel; the container's OCI profile
//! ([`super::seccomp`]) keeps applying beside them, and the sentry's own
//! host allowlist is a separate thing.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::errno::Errno;

/// AUDIT_ARCH_X86_64: `seccomp_data.arch` of every call.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// BPF_MAXINSNS: the longest program.
pub const BPF_MAXINSNS: usize = 4096;
/// MAX_INSNS_PER_PATH: instructions a call may run across the chain
/// (each earlier filter counts 4 more).
pub const MAX_INSNS_PER_PATH: usize = 32768;
/// sizeof(struct seccomp_data).
pub const SECCOMP_DATA_SIZE: u32 = 64;

/// Seccomp modes (/proc/PID/status, PR_GET_SECCOMP).
pub const MODE_DISABLED: u8 = 0;
/// Only read, write, _exit and rt_sigreturn.
pub const MODE_STRICT: u8 = 1;
/// Filters.
pub const MODE_FILTER: u8 = 2;

/// Filter return actions (the high 16 bits of a program's result).
pub mod ret {
    #![allow(missing_docs)]
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    pub const KILL_THREAD: u32 = 0x0000_0000;
    pub const TRAP: u32 = 0x0003_0000;
    pub const ERRNO: u32 = 0x0005_0000;
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    pub const TRACE: u32 = 0x7ff0_0000;
    pub const LOG: u32 = 0x7ffc_0000;
    pub const ALLOW: u32 = 0x7fff_0000;
    pub const ACTION_FULL: u32 = 0xffff_0000;
    pub const DATA: u32 = 0x0000_ffff;
}

/// Whether `action` (a full return value's action part) is one Linux knows
/// (SECCOMP_GET_ACTION_AVAIL).
pub fn action_known(action: u32) -> bool {
    matches!(
        action,
        ret::KILL_PROCESS
            | ret::KILL_THREAD
            | ret::TRAP
            | ret::ERRNO
            | ret::USER_NOTIF
            | ret::TRACE
            | ret::LOG
            | ret::ALLOW
    )
}

/// Linux's ACTION_ONLY: the action as a signed number; the smaller one
/// takes precedence (KILL_PROCESS is negative).
pub fn precedence(r: u32) -> i32 {
    (r & ret::ACTION_FULL) as i32
}

// Classic BPF opcodes seccomp accepts.
const LD_W_ABS: u16 = 0x20;
const LD_W_LEN: u16 = 0x80;
const LDX_W_LEN: u16 = 0x81;
const LD_IMM: u16 = 0x00;
const LDX_IMM: u16 = 0x01;
const LD_MEM: u16 = 0x60;
const LDX_MEM: u16 = 0x61;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU_ADD_K: u16 = 0x04;
const ALU_ADD_X: u16 = 0x0c;
const ALU_SUB_K: u16 = 0x14;
const ALU_SUB_X: u16 = 0x1c;
const ALU_MUL_K: u16 = 0x24;
const ALU_MUL_X: u16 = 0x2c;
const ALU_DIV_K: u16 = 0x34;
const ALU_DIV_X: u16 = 0x3c;
const ALU_OR_K: u16 = 0x44;
const ALU_OR_X: u16 = 0x4c;
const ALU_AND_K: u16 = 0x54;
const ALU_AND_X: u16 = 0x5c;
const ALU_LSH_K: u16 = 0x64;
const ALU_LSH_X: u16 = 0x6c;
const ALU_RSH_K: u16 = 0x74;
const ALU_RSH_X: u16 = 0x7c;
const ALU_NEG: u16 = 0x84;
const ALU_XOR_K: u16 = 0xa4;
const ALU_XOR_X: u16 = 0xac;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JEQ_X: u16 = 0x1d;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGT_X: u16 = 0x2d;
const JMP_JGE_K: u16 = 0x35;
const JMP_JGE_X: u16 = 0x3d;
const JMP_JSET_K: u16 = 0x45;
const JMP_JSET_X: u16 = 0x4d;
const RET_K: u16 = 0x06;
const RET_A: u16 = 0x16;
const MISC_TAX: u16 = 0x07;
const MISC_TXA: u16 = 0x87;
/// BPF_MEMWORDS: the scratch memory.
const MEMWORDS: u32 = 16;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

impl Insn {
    /// From the 8 bytes of a `struct sock_filter`.
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: u16::from_le_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

fn is_cond_jump(code: u16) -> bool {
    matches!(
        code,
        JMP_JEQ_K
            | JMP_JEQ_X
            | JMP_JGT_K
            | JMP_JGT_X
            | JMP_JGE_K
            | JMP_JGE_X
            | JMP_JSET_K
            | JMP_JSET_X
    )
}

/// Checks a program as Linux does before a seccomp filter is attached, and
/// returns it with `LD|W|LEN`/`LDX|W|LEN` turned into loads of
/// sizeof(struct seccomp_data). Any fault: EINVAL.
pub fn check(prog: &[Insn]) -> Result<Vec<Insn>, Errno> {
    let flen = prog.len();
    if flen == 0 || flen > BPF_MAXINSNS {
        return Err(Errno::EINVAL);
    }
    let mut out = Vec::with_capacity(flen);
    for (pc, i) in prog.iter().enumerate() {
        let mut i = *i;
        match i.code {
            LD_W_ABS => {
                if i.k >= SECCOMP_DATA_SIZE || i.k & 3 != 0 {
                    return Err(Errno::EINVAL);
                }
            }
            LD_W_LEN => {
                i.code = LD_IMM;
                i.k = SECCOMP_DATA_SIZE;
            }
            LDX_W_LEN => {
                i.code = LDX_IMM;
                i.k = SECCOMP_DATA_SIZE;
            }
            ALU_DIV_K if i.k == 0 => return Err(Errno::EINVAL),
            ALU_LSH_K | ALU_RSH_K if i.k >= 32 => return Err(Errno::EINVAL),
            LD_MEM | LDX_MEM | ST | STX if i.k >= MEMWORDS => return Err(Errno::EINVAL),
            JMP_JA => {
                // k >= flen - pc - 1 would leave the program.
                if u64::from(i.k) >= (flen - pc - 1) as u64 {
                    return Err(Errno::EINVAL);
                }
            }
            c if is_cond_jump(c) => {
                if pc + i.jt as usize + 1 >= flen || pc + i.jf as usize + 1 >= flen {
                    return Err(Errno::EINVAL);
                }
            }
            RET_K | RET_A | ALU_ADD_K | ALU_ADD_X | ALU_SUB_K | ALU_SUB_X | ALU_MUL_K
            | ALU_MUL_X | ALU_DIV_K | ALU_DIV_X | ALU_AND_K | ALU_AND_X | ALU_OR_K | ALU_OR_X
            | ALU_XOR_K | ALU_XOR_X | ALU_LSH_K | ALU_LSH_X | ALU_RSH_K | ALU_RSH_X | ALU_NEG
            | LD_IMM | LDX_IMM | MISC_TAX | MISC_TXA | LD_MEM | LDX_MEM | ST | STX => {}
            // Everything else, MOD, packet loads and RET X included.
            _ => return Err(Errno::EINVAL),
        }
        out.push(i);
    }
    if !matches!(prog[flen - 1].code, RET_K | RET_A) {
        return Err(Errno::EINVAL);
    }
    check_loads_and_stores(&out)?;
    Ok(out)
}

/// Linux's check_load_and_stores: a scratch cell is read only after every
/// path to the read has stored it.
fn check_loads_and_stores(prog: &[Insn]) -> Result<(), Errno> {
    let mut masks = vec![u16::MAX; prog.len()];
    let mut valid: u16 = 0;
    for (pc, i) in prog.iter().enumerate() {
        valid &= masks[pc];
        match i.code {
            ST | STX => valid |= 1 << (i.k & 15),
            LD_MEM | LDX_MEM if valid & (1 << (i.k & 15)) == 0 => return Err(Errno::EINVAL),
            JMP_JA => {
                if let Some(m) = masks.get_mut(pc + 1 + i.k as usize) {
                    *m &= valid;
                }
                valid = u16::MAX;
            }
            c if is_cond_jump(c) => {
                for off in [i.jt, i.jf] {
                    if let Some(m) = masks.get_mut(pc + 1 + off as usize) {
                        *m &= valid;
                    }
                }
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `struct seccomp_data` of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// The system call number (orig_rax as an int).
    pub nr: i32,
    /// AUDIT_ARCH_*.
    pub arch: u32,
    /// The address after the `syscall` instruction.
    pub ip: u64,
    /// The six argument registers.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `k` (aligned, below 64: checked).
    fn word(&self, k: u32) -> u32 {
        match k {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.ip as u32,
            12 => (self.ip >> 32) as u32,
            16..=63 => {
                let a = self.args[((k - 16) / 8) as usize % 6];
                if k.is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => 0,
        }
    }
}

/// Runs a checked program. Division by X == 0 ends it with 0, as Linux's
/// converted program does.
pub fn run(prog: &[Insn], d: &SeccompData) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS as usize];
    let mut pc = 0usize;
    // Jumps only go forward, so the program ends within its length.
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let k = i.k;
        match i.code {
            LD_W_ABS => a = d.word(k),
            LD_IMM => a = k,
            LDX_IMM => x = k,
            LD_MEM => a = mem[(k & 15) as usize],
            LDX_MEM => x = mem[(k & 15) as usize],
            ST => mem[(k & 15) as usize] = a,
            STX => mem[(k & 15) as usize] = x,
            ALU_ADD_K => a = a.wrapping_add(k),
            ALU_ADD_X => a = a.wrapping_add(x),
            ALU_SUB_K => a = a.wrapping_sub(k),
            ALU_SUB_X => a = a.wrapping_sub(x),
            ALU_MUL_K => a = a.wrapping_mul(k),
            ALU_MUL_X => a = a.wrapping_mul(x),
            ALU_DIV_K => a = a.checked_div(k).unwrap_or(0),
            ALU_DIV_X => match a.checked_div(x) {
                Some(v) => a = v,
                None => return 0,
            },
            ALU_AND_K => a &= k,
            ALU_AND_X => a &= x,
            ALU_OR_K => a |= k,
            ALU_OR_X => a |= x,
            ALU_XOR_K => a ^= k,
            ALU_XOR_X => a ^= x,
            ALU_LSH_K => a = a.wrapping_shl(k),
            ALU_LSH_X => a = a.wrapping_shl(x),
            ALU_RSH_K => a = a.wrapping_shr(k),
            ALU_RSH_X => a = a.wrapping_shr(x),
            ALU_NEG => a = a.wrapping_neg(),
            MISC_TAX => x = a,
            MISC_TXA => a = x,
            JMP_JA => pc += k as usize,
            JMP_JEQ_K | JMP_JEQ_X | JMP_JGT_K | JMP_JGT_X | JMP_JGE_K | JMP_JGE_X | JMP_JSET_K
            | JMP_JSET_X => {
                let v = if i.code & 0x08 != 0 { x } else { k };
                let taken = match i.code & 0xf0 {
                    0x10 => a == v,
                    0x20 => a > v,
                    0x30 => a >= v,
                    _ => a & v != 0,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            RET_K => return k,
            RET_A => return a,
            _ => return 0,
        }
    }
    0
}

/// The length of the program Linux runs for a checked classic one (its
/// eBPF translation, which MAX_INSNS_PER_PATH counts): a 3-instruction
/// prologue; RET K 2, RET A 1; DIV X 5 (the divide-by-zero exit); a
/// conditional jump 1, or 2 when neither branch falls through (JSET with
/// jt != 0, any jump with both offsets set), plus 1 for a negative K moved
/// to a register; everything else 1.
pub fn translated_len(prog: &[Insn]) -> usize {
    3 + prog
        .iter()
        .map(|i| match i.code {
            RET_K => 2,
            RET_A => 1,
            ALU_DIV_X => 5,
            c if is_cond_jump(c) => {
                let neg_k = usize::from(c & 0x08 == 0 && (i.k as i32) < 0);
                let jumps = if i.jf == 0 || (i.jt == 0 && c & 0xf0 != 0x40) {
                    1
                } else {
                    2
                };
                neg_k + jumps
            }
            _ => 1,
        })
        .sum::<usize>()
}

/// One attached filter and the ones before it (shared by the threads and
/// children that inherited them).
#[derive(Debug)]
pub struct Filter {
    /// The checked program.
    pub prog: Vec<Insn>,
    /// SECCOMP_FILTER_FLAG_LOG: actions other than ALLOW are logged.
    pub log: bool,
    /// The filter attached before this one.
    pub prev: Option<Arc<Filter>>,
    /// Filters in the chain ending here (/proc's Seccomp_filters).
    pub count: u32,
    /// [`translated_len`] of `prog`.
    pub len: usize,
}

impl Filter {
    /// A filter over `prev`.
    pub fn new(prog: Vec<Insn>, log: bool, prev: Option<Arc<Filter>>) -> Filter {
        Filter {
            count: prev.as_ref().map_or(0, |p| p.count) + 1,
            len: translated_len(&prog),
            prog,
            log,
            prev,
        }
    }

    /// Instructions a call runs through this chain (translated, as Linux
    /// counts them), with Linux's 4-instruction penalty per filter before
    /// the newest.
    pub fn path_insns(&self) -> usize {
        let mut n = self.len;
        let mut f = self.prev.as_deref();
        while let Some(p) = f {
            n += p.len + 4;
            f = p.prev.as_deref();
        }
        n
    }

    /// Whether `ancestor` is this filter or one before it.
    pub fn descends_from(self: &Arc<Self>, ancestor: &Arc<Filter>) -> bool {
        let mut f = Some(self);
        while let Some(p) = f {
            if Arc::ptr_eq(p, ancestor) {
                return true;
            }
            f = p.prev.as_ref();
        }
        false
    }

    /// Runs the chain, newest first, and keeps the result of highest
    /// precedence (the first of equal ones): the result and whether its
    /// filter asked for logging.
    pub fn evaluate(self: &Arc<Self>, d: &SeccompData) -> (u32, bool) {
        let mut best = (ret::ALLOW, false);
        let mut f = Some(self);
        while let Some(p) = f {
            let r = run(&p.prog, d);
            if precedence(r) < precedence(best.0) {
                best = (r, p.log);
            }
            f = p.prev.as_ref();
        }
        best
    }
}

impl Drop for Filter {
    /// Drops a long chain without recursing once per filter.
    fn drop(&mut self) {
        let mut next = self.prev.take();
        while let Some(f) = next {
            match Arc::try_unwrap(f) {
                Ok(mut only) => next = only.prev.take(),
                Err(_) => break,
            }
        }
    }
}

/// A thread's seccomp state, in its [`super::TaskHandle`] so that TSYNC and
/// /proc reach it.
#[derive(Debug, Default)]
pub struct ThreadSeccomp {
    /// MODE_*; checked first on every call (a thread without filters pays
    /// one load).
    mode: AtomicU8,
    /// The newest filter.
    filter: Mutex<Option<Arc<Filter>>>,
}

impl ThreadSeccomp {
    /// The mode.
    pub fn mode(&self) -> u8 {
        self.mode.load(Ordering::Acquire)
    }

    /// Sets the mode.
    pub fn set_mode(&self, m: u8) {
        self.mode.store(m, Ordering::Release);
    }

    /// The newest filter, locked.
    pub fn filter(&self) -> MutexGuard<'_, Option<Arc<Filter>>> {
        self.filter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The filter chain (a clone of the reference).
    pub fn chain(&self) -> Option<Arc<Filter>> {
        self.filter().clone()
    }

    /// Number of filters attached.
    pub fn count(&self) -> u32 {
        self.filter().as_ref().map_or(0, |f| f.count)
    }

    /// A child's copy (clone, fork): same mode, same filters.
    pub fn copy_from(&self, parent: &ThreadSeccomp) {
        let f = parent.chain();
        let m = parent.mode();
        *self.filter() = f;
        self.set_mode(m);
    }
}

/// The mode the thread is in as Linux would show it: a container's OCI
/// profile counts as a filter installed before the program started.
pub fn effective_mode(h: &crate::kernel::TaskHandle) -> u8 {
    match h.seccomp.mode() {
        MODE_DISABLED if h.tg.container.seccomp.is_some() => MODE_FILTER,
        m => m,
    }
}

/// Filters attached, the container's OCI profile counted as one.
pub fn filter_count(h: &crate::kernel::TaskHandle) -> u32 {
    h.seccomp.count() + u32::from(h.tg.container.seccomp.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    fn data(nr: i32, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            ip: 0x1234_5678_9abc,
            args,
        }
    }

    #[test]
    fn checker_rejects_as_linux() {
        let ret = i(RET_K, 0, 0, ret::ALLOW);
        assert!(check(&[ret]).is_ok());
        assert_eq!(check(&[]), Err(Errno::EINVAL));
        assert_eq!(check(&vec![ret; 4097]), Err(Errno::EINVAL));
        assert!(check(&vec![ret; 4096]).is_ok());
        // Not ending in RET.
        assert_eq!(check(&[i(LD_IMM, 0, 0, 0)]), Err(Errno::EINVAL));
        // Offsets: aligned, inside seccomp_data.
        assert!(check(&[i(LD_W_ABS, 0, 0, 60), ret]).is_ok());
        assert_eq!(check(&[i(LD_W_ABS, 0, 0, 64), ret]), Err(Errno::EINVAL));
        assert_eq!(check(&[i(LD_W_ABS, 0, 0, 2), ret]), Err(Errno::EINVAL));
        // Half-word loads, MOD, RET X, indirect loads: not for seccomp.
        for code in [0x28, 0x30, 0x94, 0x9c, 0x0e, 0x40, 0xb1, 0xff] {
            assert_eq!(
                check(&[i(code, 0, 0, 0), ret]),
                Err(Errno::EINVAL),
                "{code:#x}"
            );
        }
        assert_eq!(check(&[i(ALU_DIV_K, 0, 0, 0), ret]), Err(Errno::EINVAL));
        assert_eq!(check(&[i(ALU_LSH_K, 0, 0, 32), ret]), Err(Errno::EINVAL));
        assert!(check(&[i(ALU_LSH_K, 0, 0, 31), ret]).is_ok());
        assert_eq!(check(&[i(ST, 0, 0, 16), ret]), Err(Errno::EINVAL));
        // Jumps inside the program.
        assert_eq!(check(&[i(JMP_JA, 0, 0, 1), ret]), Err(Errno::EINVAL));
        assert_eq!(check(&[i(JMP_JA, 0, 0, u32::MAX), ret]), Err(Errno::EINVAL));
        assert!(check(&[i(JMP_JA, 0, 0, 0), ret]).is_ok());
        assert_eq!(check(&[i(JMP_JEQ_K, 1, 0, 0), ret]), Err(Errno::EINVAL));
        assert!(check(&[i(JMP_JEQ_K, 1, 0, 0), ret, ret]).is_ok());
        // Scratch memory read before every path stored it.
        assert_eq!(check(&[i(LD_MEM, 0, 0, 3), ret]), Err(Errno::EINVAL));
        assert!(check(&[i(ST, 0, 0, 3), i(LD_MEM, 0, 0, 3), ret]).is_ok());
        assert_eq!(
            check(&[
                i(JMP_JEQ_K, 0, 1, 0),
                i(ST, 0, 0, 3),
                i(LD_MEM, 0, 0, 3),
                ret
            ]),
            Err(Errno::EINVAL)
        );
        // LEN loads become the size of seccomp_data.
        let p = check(&[i(LD_W_LEN, 0, 0, 0), i(RET_A, 0, 0, 0)]).unwrap_or_default();
        assert_eq!(run(&p, &data(0, [0; 6])), 64);
    }

    #[test]
    fn interpreter_reads_seccomp_data_and_computes_in_32_bits() {
        let d = data(39, [0x1_0000_0002, 0, 0, 0, 0, 0xdead_beef_0000_0005]);
        let ld = |k| i(LD_W_ABS, 0, 0, k);
        let ra = i(RET_A, 0, 0, 0);
        let one = |p: &[Insn]| run(&check(p).unwrap_or_default(), &d);
        assert_eq!(one(&[ld(0), ra]), 39);
        assert_eq!(one(&[ld(4), ra]), AUDIT_ARCH_X86_64);
        assert_eq!(one(&[ld(8), ra]), 0x5678_9abc);
        assert_eq!(one(&[ld(12), ra]), 0x1234);
        assert_eq!(one(&[ld(16), ra]), 2);
        assert_eq!(one(&[ld(20), ra]), 1);
        assert_eq!(one(&[ld(56), ra]), 5);
        assert_eq!(one(&[ld(60), ra]), 0xdead_beef);
        // Wrapping arithmetic, shifts by X masked to 5 bits, NEG.
        assert_eq!(
            one(&[i(LD_IMM, 0, 0, u32::MAX), i(ALU_ADD_K, 0, 0, 2), ra]),
            1
        );
        assert_eq!(
            one(&[
                i(LD_IMM, 0, 0, 1),
                i(LDX_IMM, 0, 0, 33),
                i(ALU_LSH_X, 0, 0, 0),
                ra
            ]),
            2
        );
        assert_eq!(
            one(&[i(LD_IMM, 0, 0, 1), i(ALU_NEG, 0, 0, 0), ra]),
            u32::MAX
        );
        // DIV by X == 0 ends the program with 0 (KILL_THREAD).
        assert_eq!(
            one(&[
                i(LD_IMM, 0, 0, 7),
                i(LDX_IMM, 0, 0, 0),
                i(ALU_DIV_X, 0, 0, 0),
                i(RET_K, 0, 0, ret::ALLOW)
            ]),
            0
        );
        // Jumps: JEQ, JGT, JGE, JSET with K and X.
        let pick = |code, k| {
            one(&[
                ld(0),
                i(LDX_IMM, 0, 0, 39),
                i(code, 0, 1, k),
                i(RET_K, 0, 0, 1),
                i(RET_K, 0, 0, 2),
            ])
        };
        assert_eq!(pick(JMP_JEQ_K, 39), 1);
        assert_eq!(pick(JMP_JEQ_K, 40), 2);
        assert_eq!(pick(JMP_JGT_K, 38), 1);
        assert_eq!(pick(JMP_JGT_K, 39), 2);
        assert_eq!(pick(JMP_JGE_K, 39), 1);
        assert_eq!(pick(JMP_JSET_K, 0x08), 2);
        assert_eq!(pick(JMP_JSET_K, 0x01), 1);
        assert_eq!(pick(JMP_JEQ_X, 0), 1);
        assert_eq!(pick(JMP_JGT_X, 0), 2);
        // Scratch memory and TAX/TXA.
        assert_eq!(
            one(&[
                i(LD_IMM, 0, 0, 9),
                i(ST, 0, 0, 15),
                i(LD_IMM, 0, 0, 0),
                i(LDX_MEM, 0, 0, 15),
                i(MISC_TXA, 0, 0, 0),
                ra
            ]),
            9
        );
    }

    #[test]
    fn translated_lengths_are_linux_s() {
        let r = i(RET_K, 0, 0, ret::ALLOW);
        assert_eq!(translated_len(&[r]), 5);
        assert_eq!(translated_len(&[i(LD_IMM, 0, 0, 0), i(RET_A, 0, 0, 0)]), 5);
        assert_eq!(translated_len(&[i(JMP_JEQ_K, 1, 0, 5), r, r]), 8);
        assert_eq!(translated_len(&[i(JMP_JEQ_K, 0, 1, 5), r, r]), 8);
        assert_eq!(translated_len(&[i(JMP_JSET_K, 0, 1, 5), r, r]), 9);
        assert_eq!(translated_len(&[i(JMP_JEQ_K, 1, 1, 5), r, r]), 9);
        assert_eq!(translated_len(&[i(JMP_JEQ_K, 1, 0, 1 << 31), r, r]), 9);
        assert_eq!(translated_len(&[i(JMP_JEQ_X, 1, 0, 1 << 31), r, r]), 8);
        assert_eq!(translated_len(&[i(JMP_JSET_K, 1, 1, 1 << 31), r, r]), 10);
        assert_eq!(
            translated_len(&[
                i(LD_IMM, 0, 0, 0),
                i(LDX_IMM, 0, 0, 1),
                i(ALU_DIV_X, 0, 0, 0),
                i(RET_A, 0, 0, 0)
            ]),
            11
        );
        let mut big = vec![i(LD_IMM, 0, 0, 0); 4095];
        big.push(r);
        assert_eq!(translated_len(&big), 4100);
    }

    #[test]
    fn chain_keeps_the_result_of_highest_precedence() {
        let f = |r: u32, prev: Option<Arc<Filter>>| {
            Arc::new(Filter::new(vec![i(RET_K, 0, 0, r)], false, prev))
        };
        let d = data(0, [0; 6]);
        let a = f(ret::ERRNO | 11, None);
        let b = f(ret::ERRNO | 22, Some(a.clone()));
        assert_eq!(b.evaluate(&d).0, ret::ERRNO | 22);
        let c = f(ret::TRAP | 1, Some(b.clone()));
        let e = f(ret::LOG, Some(c.clone()));
        assert_eq!(e.evaluate(&d).0, ret::TRAP | 1);
        let k = f(ret::KILL_PROCESS, Some(e.clone()));
        let t = f(ret::KILL_THREAD, Some(k.clone()));
        assert_eq!(t.evaluate(&d).0, ret::KILL_PROCESS);
        assert_eq!(t.count, 6);
        assert!(t.descends_from(&a));
        assert!(!a.descends_from(&t));
        assert_eq!(b.path_insns(), 5 + 9);
        assert!(precedence(ret::USER_NOTIF) < precedence(ret::TRACE));
        assert!(precedence(ret::TRACE) < precedence(ret::LOG));
        assert!(action_known(ret::ALLOW) && !action_known(0x0001_0000));
    }

    #[test]
    fn a_long_chain_drops_without_deep_recursion() {
        let mut f: Option<Arc<Filter>> = None;
        for _ in 0..200_000 {
            f = Some(Arc::new(Filter::new(
                vec![i(RET_K, 0, 0, ret::ALLOW)],
                false,
                f.take(),
            )));
        }
        let shared = f.as_ref().and_then(|x| x.prev.clone());
        drop(f);
        assert_eq!(shared.map(|s| s.count), Some(199_999));
    }
}
