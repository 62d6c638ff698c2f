//! Signals: numbers and default actions, sending, and delivery to handlers
//! with an x86-64 `rt_sigframe` (which carries the XSAVE state), rt_sigreturn,
//! and syscall restart.

use std::sync::Arc;

use crate::errno::Errno;
use crate::kernel::task::{ExitStatus, Task, ThreadGroup};

/// A signal number (1..=64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal(pub u32);

#[allow(missing_docs)]
impl Signal {
    pub const SIGHUP: Signal = Signal(1);
    pub const SIGINT: Signal = Signal(2);
    pub const SIGQUIT: Signal = Signal(3);
    pub const SIGILL: Signal = Signal(4);
    pub const SIGTRAP: Signal = Signal(5);
    pub const SIGABRT: Signal = Signal(6);
    pub const SIGBUS: Signal = Signal(7);
    pub const SIGFPE: Signal = Signal(8);
    pub const SIGKILL: Signal = Signal(9);
    pub const SIGSEGV: Signal = Signal(11);
    pub const SIGPIPE: Signal = Signal(13);
    pub const SIGALRM: Signal = Signal(14);
    pub const SIGTERM: Signal = Signal(15);
    pub const SIGCHLD: Signal = Signal(17);
    pub const SIGCONT: Signal = Signal(18);
    pub const SIGSTOP: Signal = Signal(19);

    /// The symbolic name, e.g. "SIGSEGV".
    pub fn name(self) -> String {
        const NAMES: [&str; 32] = [
            "",
            "SIGHUP",
            "SIGINT",
            "SIGQUIT",
            "SIGILL",
            "SIGTRAP",
            "SIGABRT",
            "SIGBUS",
            "SIGFPE",
            "SIGKILL",
            "SIGUSR1",
            "SIGSEGV",
            "SIGUSR2",
            "SIGPIPE",
            "SIGALRM",
            "SIGTERM",
            "SIGSTKFLT",
            "SIGCHLD",
            "SIGCONT",
            "SIGSTOP",
            "SIGTSTP",
            "SIGTTIN",
            "SIGTTOU",
            "SIGURG",
            "SIGXCPU",
            "SIGXFSZ",
            "SIGVTALRM",
            "SIGPROF",
            "SIGWINCH",
            "SIGIO",
            "SIGPWR",
            "SIGSYS",
        ];
        match self.0 {
            1..=31 => NAMES[self.0 as usize].to_string(),
            32..=64 => format!("SIGRT{}", self.0 - 32),
            n => format!("signal {n}"),
        }
    }

    /// Bit of this signal in a sigset.
    pub fn mask(self) -> u64 {
        1u64 << ((self.0.clamp(1, 64)) - 1)
    }

    /// Whether the default action dumps core (reported in the wait status).
    pub fn dumps_core(self) -> bool {
        matches!(self.0, 3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31)
    }

    /// The default action.
    pub fn default_action(self) -> DefaultAction {
        match self.0 {
            17 | 23 | 28 => DefaultAction::Ignore,
            18 => DefaultAction::Continue,
            19..=22 => DefaultAction::Stop,
            _ => DefaultAction::Terminate,
        }
    }
}

/// What an unhandled signal does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Ends the process (core dump or not).
    Terminate,
    /// Nothing.
    Ignore,
    /// Job-control stop.
    Stop,
    /// Job-control continue.
    Continue,
}

/// `struct sigaction` as the kernel ABI lays it out (32 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// Handler address, or SIG_DFL (0) / SIG_IGN (1).
    pub handler: u64,
    /// SA_* flags.
    pub flags: u64,
    /// sa_restorer.
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// sa_flags bits.
pub mod sa {
    #![allow(missing_docs)]
    pub const SA_SIGINFO: u64 = 4;
    pub const SA_ONSTACK: u64 = 0x0800_0000;
    pub const SA_RESTART: u64 = 0x1000_0000;
    pub const SA_NODEFER: u64 = 0x4000_0000;
    pub const SA_RESETHAND: u64 = 0x8000_0000;
    pub const SA_RESTORER: u64 = 0x0400_0000;
}

impl SigAction {
    /// Decodes the 32-byte ABI form.
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3),
        }
    }

    /// Encodes the 32-byte ABI form.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, v) in [self.handler, self.flags, self.restorer, self.mask]
            .into_iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// Signals that can never be caught or blocked.
pub const UNBLOCKABLE: u64 = (1 << (9 - 1)) | (1 << (19 - 1));

/// sigaltstack state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    /// Base.
    pub sp: u64,
    /// Size.
    pub size: u64,
    /// SS_DISABLE etc.
    pub flags: u32,
}

/// SS_ONSTACK.
pub const SS_ONSTACK: u32 = 1;
/// SS_DISABLE.
pub const SS_DISABLE: u32 = 2;

/// The fields of a siginfo the sentry fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    /// Signal.
    pub signo: u32,
    /// si_code.
    pub code: i32,
    /// Sender pid / child pid.
    pub pid: i32,
    /// Sender uid.
    pub uid: u32,
    /// Child status (SIGCHLD).
    pub status: i32,
    /// Fault address.
    pub addr: u64,
    /// si_value (sigqueue, timers).
    pub value: u64,
    /// si_errno (a seccomp filter's data for SIGSYS).
    pub errno: i32,
    /// SIGSYS/SYS_SECCOMP: the system call number.
    pub syscall: i32,
    /// SIGSYS/SYS_SECCOMP: its AUDIT_ARCH_*.
    pub arch: u32,
}

impl SigInfo {
    /// From kill(2): SI_USER.
    pub fn user(pid: i32, uid: u32, sig: u32) -> Self {
        SigInfo {
            signo: sig,
            code: 0,
            pid,
            uid,
            ..Default::default()
        }
    }

    /// From the kernel (SI_KERNEL).
    pub fn kernel(sig: u32) -> Self {
        SigInfo {
            signo: sig,
            code: 0x80,
            ..Default::default()
        }
    }

    /// SIGCHLD for a child that ended with `st`.
    pub fn child(pid: i32, uid: u32, st: ExitStatus) -> Self {
        let (code, status) = match st {
            ExitStatus::Exited(c) => (1, c), // CLD_EXITED
            ExitStatus::Signaled(s) => (if s.dumps_core() { 3 } else { 2 }, s.0 as i32), // CLD_DUMPED / CLD_KILLED
        };
        SigInfo {
            signo: 17,
            code,
            pid,
            uid,
            status,
            ..Default::default()
        }
    }

    /// The 128-byte siginfo_t.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if self.signo == 31 && self.code == SYS_SECCOMP {
            // _sigsys: call address, syscall, arch.
            b[16..24].copy_from_slice(&self.addr.to_le_bytes());
            b[24..28].copy_from_slice(&self.syscall.to_le_bytes());
            b[28..32].copy_from_slice(&self.arch.to_le_bytes());
            return b;
        }
        match self.signo {
            4 | 5 | 7 | 8 | 11 => b[16..24].copy_from_slice(&self.addr.to_le_bytes()),
            _ => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                if self.signo == 17 {
                    b[24..28].copy_from_slice(&self.status.to_le_bytes());
                } else {
                    b[24..32].copy_from_slice(&self.value.to_le_bytes());
                }
            }
        }
        b
    }
}

/// Whether a signal sent from inside the sandbox (kill, tkill, tgkill,
/// sigqueue, a child's exit signal) to `tg` is dropped: `tg` is an init (the
/// sandbox's pid 1, or the first process of a pod's container: no parent in
/// the sandbox) with no handler for it. SIGKILL and SIGSTOP included, as
/// Linux does for a pid namespace's init signalled from within. Signals from
/// the host side (the launcher, the shim's kill) do not go through this.
pub fn init_ignores(tg: &ThreadGroup, sig: u32) -> bool {
    // A blocked signal is never ignored (an init waiting with signalfd or
    // sigwaitinfo gets it), as Linux's sig_ignored.
    sig != 0 && tg.lock().ppid == 0 && tg.action(sig).handler <= 1 && !blocked_by_all(tg, sig)
}

/// Whether every thread of `tg` blocks `sig` (SIGKILL and SIGSTOP never are).
fn blocked_by_all(tg: &ThreadGroup, sig: u32) -> bool {
    if sig == 9 || sig == 19 || sig == 0 || sig > crate::abi::NSIG {
        return false;
    }
    // Threads are read under the process lock, masks after it is released
    // (a task takes its mask lock before the process lock).
    let threads = tg.lock().threads.clone();
    !threads.is_empty()
        && threads
            .iter()
            .all(|h| h.sig().blocked & Signal(sig).mask() != 0)
}

/// Sends a process-directed signal: queued on the process, one thread that
/// does not block it is woken.
pub fn send_to_process(tg: &Arc<ThreadGroup>, sig: Signal, info: SigInfo) {
    let action = tg.action(sig.0);
    // Blocked signals are never ignored at send time (a program waiting
    // for SIGCHLD with signalfd or sigwaitinfo blocks it), as Linux.
    let ignored = sig.0 != 9
        && sig.0 != 19
        && (action.handler == 1
            || (action.handler == 0 && sig.default_action() == DefaultAction::Ignore))
        && !blocked_by_all(tg, sig.0);
    if sig.0 == 18 {
        // SIGCONT resumes a stopped process whatever its disposition.
        let (was, threads, ppid) = {
            let mut st = tg.lock();
            let was = st.stopped;
            st.stopped = false;
            st.pending &=
                !(Signal(19).mask() | Signal(20).mask() | Signal(21).mask() | Signal(22).mask());
            if was {
                st.cont_report = true;
                st.stop_report = None;
            }
            (was, st.threads.clone(), st.ppid)
        };
        for t in &threads {
            t.kick();
        }
        if was {
            notify_parent(tg, ppid, 6);
        }
    }
    let threads = {
        let mut st = tg.lock();
        if st.zombie.is_some() {
            return;
        }
        if ignored {
            return;
        }
        st.pending |= sig.mask();
        st.threads.clone()
    };
    tg.infos
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sig.0, info);
    if sig.0 == 9 {
        for t in &threads {
            t.killed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        tg.lock()
            .group_exit
            .get_or_insert(ExitStatus::Signaled(sig));
    }
    let target = threads
        .iter()
        .find(|t| t.sig().blocked & sig.mask() == 0)
        .or(threads.first());
    if let Some(t) = target {
        t.kick();
    }
}

/// The siginfo of pending signals: real-time signals (32 and up) queue one
/// entry per send, in order; a standard signal keeps only its first.
#[derive(Debug, Default)]
pub struct PendingInfos(std::collections::HashMap<u32, std::collections::VecDeque<SigInfo>>);

/// Most queued real-time signals per queue (like RLIMIT_SIGPENDING).
const MAX_QUEUED: usize = 4096;

impl PendingInfos {
    /// Records a send of `sig`.
    pub fn insert(&mut self, sig: u32, info: SigInfo) {
        let total: usize = self.0.values().map(|q| q.len()).sum();
        let q = self.0.entry(sig).or_default();
        if q.is_empty() || (sig >= 32 && total < MAX_QUEUED) {
            q.push_back(info);
        }
    }

    /// Takes the oldest siginfo of `sig`.
    pub fn remove(&mut self, sig: &u32) -> Option<SigInfo> {
        let q = self.0.get_mut(sig)?;
        let i = q.pop_front();
        if q.is_empty() {
            self.0.remove(sig);
        }
        i
    }

    /// Whether more sends of `sig` are queued.
    pub fn has(&self, sig: u32) -> bool {
        self.0.get(&sig).is_some_and(|q| !q.is_empty())
    }
}

/// Dequeues the next deliverable signal of `t`.
fn dequeue(t: &Task) -> Option<(Signal, SigInfo)> {
    let h = &t.handle;
    let mut ts = h.sig();
    let blocked = ts.blocked;
    let pick = |set: u64| -> Option<u32> {
        let avail = set & !blocked;
        if avail == 0 {
            return None;
        }
        // SIGKILL and SIGSTOP first, then the lowest number.
        if avail & Signal::SIGKILL.mask() != 0 {
            return Some(9);
        }
        Some(avail.trailing_zeros() + 1)
    };
    if let Some(s) = pick(ts.pending) {
        let info = ts.infos.remove(&s).unwrap_or(SigInfo::kernel(s));
        if !ts.infos.has(s) {
            ts.pending &= !Signal(s).mask();
        }
        return Some((Signal(s), info));
    }
    drop(ts);
    let mut st = h.tg.lock();
    let s = pick(st.pending)?;
    Some((Signal(s), take_process_info(h, &mut st, s)))
}

/// A fault signal the app cannot ignore: if blocked or ignored, it kills;
/// otherwise it is delivered to the handler with its siginfo.
pub fn force_fault_signal(t: &mut Task, sig: Signal, code: i32, addr: u64) {
    let act = t.handle.tg.action(sig.0);
    let blocked = t.handle.sig().blocked & sig.mask() != 0;
    if act.handler <= 1 || blocked {
        t.die(sig, &format!("fault (si_code {code}, address {addr:#x})"));
        return;
    }
    let mut ts = t.handle.sig();
    ts.pending |= sig.mask();
    ts.infos.insert(
        sig.0,
        SigInfo {
            signo: sig.0,
            code,
            addr,
            ..Default::default()
        },
    );
}

/// SIGSYS's si_code for a seccomp trap.
pub const SYS_SECCOMP: i32 = 1;

/// The SIGSYS a seccomp TRAP action (of a program's filter or the OCI
/// profile) forces: si_code SYS_SECCOMP, si_call_addr the address after the
/// `syscall` instruction, si_syscall, si_arch, si_errno the filter's data.
/// Blocked or ignored, it kills the process as a fault signal does.
pub fn force_sigsys(t: &mut Task, nr: i32, arch: u32, data: i32) {
    let sig = Signal(31);
    let act = t.handle.tg.action(sig.0);
    let blocked = t.handle.sig().blocked & sig.mask() != 0;
    if act.handler <= 1 || blocked {
        t.die(sig, &format!("seccomp trap of system call {nr}"));
        return;
    }
    let mut ts = t.handle.sig();
    ts.pending |= sig.mask();
    ts.infos.insert(
        sig.0,
        SigInfo {
            signo: sig.0,
            code: SYS_SECCOMP,
            addr: t.regs.rip,
            errno: data,
            syscall: nr,
            arch,
            ..Default::default()
        },
    );
}

/// Delivers pending signals before `t` returns to app code, and finishes a
/// syscall that asked to be restarted.
pub fn deliver(t: &mut Task) {
    let restart = t.pending_restart.take();
    while let Some((sig, info)) = dequeue(t) {
        if sig.0 == 9 {
            t.group_exit(ExitStatus::Signaled(sig));
            return;
        }
        let act = t.handle.tg.action(sig.0);
        match act.handler {
            1 => continue,
            0 => match sig.default_action() {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                DefaultAction::Stop => {
                    let ppid = {
                        let mut st = t.handle.tg.lock();
                        st.stopped = true;
                        st.stop_report = Some(sig.0);
                        st.cont_report = false;
                        st.ppid
                    };
                    for o in t.handle.tg.lock().threads.iter() {
                        if o.tid != t.tid {
                            o.kick();
                        }
                    }
                    notify_parent(&t.handle.tg, ppid, 5);
                    break;
                }
                DefaultAction::Terminate => {
                    t.group_exit(ExitStatus::Signaled(sig));
                    return;
                }
            },
            _ => {
                if let Some(e) = restart {
                    let restart_it = match e {
                        Errno::ERESTARTNOINTR => true,
                        Errno::ERESTARTSYS => act.flags & sa::SA_RESTART != 0,
                        _ => false,
                    };
                    if restart_it {
                        t.regs.rip = t.regs.rip.wrapping_sub(2);
                        t.regs.rax = t.orig_rax;
                    } else {
                        t.regs.rax = (-(Errno::EINTR.0 as i64)) as u64;
                    }
                }
                if setup_frame(t, sig, info, act).is_err() {
                    t.die(Signal::SIGSEGV, "could not write a signal frame");
                }
                return;
            }
        }
    }
    if let Some(m) = t.saved_mask.take() {
        t.handle.sig().blocked = m;
    }
    if let Some(e) = restart {
        match e {
            Errno::ERESTARTSYS | Errno::ERESTARTNOINTR | Errno::ERESTARTNOHAND => {
                t.regs.rip = t.regs.rip.wrapping_sub(2);
                t.regs.rax = t.orig_rax;
            }
            _ => t.regs.rax = (-(Errno::EINTR.0 as i64)) as u64,
        }
    }
}

const UC_FP_XSTATE: u64 = 1;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Bytes of XSAVE state saved in a frame (legacy area, header, AVX).
const XSTATE_SIZE: usize = 832;
/// Size of the kernel's rt_sigframe: pretcode, ucontext (304), siginfo (128).
const FRAME_SIZE: u64 = 8 + 304 + 128;

fn sigcontext(t: &Task, oldmask: u64, fpstate: u64) -> [u64; 32] {
    let r = &t.regs;
    let mut c = [0u64; 32];
    let vals = [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.rflags,
    ];
    c[..18].copy_from_slice(&vals);
    // cs, gs, fs, ss (u16 each)
    c[18] = 0x33 | (0x2b << 48);
    c[19] = 0; // err
    c[20] = 0; // trapno
    c[21] = oldmask;
    c[22] = 0; // cr2
    c[23] = fpstate;
    c
}

fn setup_frame(t: &mut Task, sig: Signal, info: SigInfo, act: SigAction) -> Result<(), Errno> {
    let cur_blocked = t.handle.sig().blocked;
    let old_blocked = t.saved_mask.take().unwrap_or(cur_blocked);
    let mut sp = t.regs.rsp;
    let on_alt = t.altstack.flags & SS_DISABLE == 0
        && t.altstack.size > 0
        && sp.wrapping_sub(t.altstack.sp) < t.altstack.size;
    if act.flags & sa::SA_ONSTACK != 0
        && t.altstack.flags & SS_DISABLE == 0
        && t.altstack.size > 0
        && !on_alt
    {
        sp = t.altstack.sp.wrapping_add(t.altstack.size);
    } else {
        sp = sp.wrapping_sub(128); // red zone
    }
    // FPU state, 64-byte aligned, with Linux's software-reserved bytes.
    let mut fp = t.ctx.save_fpu().map_err(|_| Errno::EFAULT)?;
    fp.resize(XSTATE_SIZE.max(fp.len()), 0);
    let mut fpbuf = fp[..XSTATE_SIZE].to_vec();
    let sw = [
        FP_XSTATE_MAGIC1,
        (XSTATE_SIZE + 4) as u32,
        7,
        0,
        XSTATE_SIZE as u32,
    ];
    for (i, v) in sw.iter().enumerate() {
        fpbuf[464 + i * 4..468 + i * 4].copy_from_slice(&v.to_le_bytes());
    }
    fpbuf.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    // The program chooses rsp and the alternate stack: the frame may wrap
    // around (then writing it faults, as on Linux), never overflow.
    let fpstate = sp.wrapping_sub(fpbuf.len() as u64) & !63;
    let frame = (fpstate.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    let restorer = if act.flags & sa::SA_RESTORER != 0 {
        act.restorer
    } else {
        return Err(Errno::EFAULT);
    };
    let mut f = Vec::with_capacity(FRAME_SIZE as usize);
    f.extend_from_slice(&restorer.to_le_bytes());
    f.extend_from_slice(&UC_FP_XSTATE.to_le_bytes()); // uc_flags
    f.extend_from_slice(&0u64.to_le_bytes()); // uc_link
    f.extend_from_slice(&t.altstack.sp.to_le_bytes());
    f.extend_from_slice(
        &(t.altstack.flags as u64 | if on_alt { SS_ONSTACK as u64 } else { 0 }).to_le_bytes(),
    );
    f.extend_from_slice(&t.altstack.size.to_le_bytes());
    for v in sigcontext(t, old_blocked, fpstate) {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(&old_blocked.to_le_bytes());
    f.extend_from_slice(&info.to_bytes());
    {
        let mut mm = t.mm();
        mm.copy_out(fpstate, &fpbuf)?;
        mm.copy_out(frame, &f)?;
    }
    t.regs.rsp = frame;
    t.regs.rip = act.handler;
    t.regs.rdi = sig.0 as u64;
    t.regs.rsi = frame + 8 + 304;
    t.regs.rdx = frame + 8;
    t.regs.rax = 0;
    t.regs.rflags &= !(0x400 | 0x100); // DF, TF
    let mut add = act.mask;
    if act.flags & sa::SA_NODEFER == 0 {
        add |= sig.mask();
    }
    t.handle.sig().blocked = (cur_blocked | add) & !UNBLOCKABLE;
    if act.flags & sa::SA_RESETHAND != 0 {
        let mut a = t
            .handle
            .tg
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(x) = a.get_mut(sig.0 as usize - 1) {
            *x = SigAction::default();
        }
    }
    Ok(())
}

/// rt_sigreturn: restores what `setup_frame` saved. Returns the restored RAX.
pub fn sigreturn(t: &mut Task) -> Result<u64, Errno> {
    let uc = t.regs.rsp; // the restorer's `ret` popped pretcode
    let mut b = vec![0u8; 304];
    t.mm().copy_in(uc, &mut b)?;
    let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let ss_sp = w(16);
    let ss_flags = w(24) as u32;
    let ss_size = w(32);
    let m = 40;
    let g = |i: usize| w(m + i * 8);
    let r = &mut t.regs;
    r.r8 = g(0);
    r.r9 = g(1);
    r.r10 = g(2);
    r.r11 = g(3);
    r.r12 = g(4);
    r.r13 = g(5);
    r.r14 = g(6);
    r.r15 = g(7);
    r.rdi = g(8);
    r.rsi = g(9);
    r.rbp = g(10);
    r.rbx = g(11);
    r.rdx = g(12);
    r.rax = g(13);
    r.rcx = g(14);
    r.rsp = g(15);
    r.rip = g(16);
    r.rflags = g(17);
    let fpstate = g(23);
    let mask = w(296);
    t.handle.sig().blocked = mask & !UNBLOCKABLE;
    t.altstack = AltStack {
        sp: ss_sp,
        size: ss_size,
        flags: ss_flags & SS_DISABLE,
    };
    if fpstate != 0 {
        let mut fp = vec![0u8; XSTATE_SIZE];
        t.mm().copy_in(fpstate, &mut fp)?;
        // Clear the software-reserved bytes and sanitize MXCSR before loading.
        fp[464..512].fill(0);
        let mxcsr = u32::from_le_bytes(fp[24..28].try_into().unwrap_or([0; 4])) & 0xffff;
        fp[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        if t.ctx.restore_fpu(&fp).is_err() {
            return Err(Errno::EFAULT);
        }
    }
    Ok(t.regs.rax)
}

/// Tells the parent of `tg` about a stop (CLD_STOPPED = 5) or continue
/// (CLD_CONTINUED = 6): SIGCHLD and a wake of its wait queue.
fn notify_parent(tg: &Arc<ThreadGroup>, ppid: i32, code: i32) {
    let parent = tg
        .kernel
        .upgrade()
        .and_then(|k| k.procs().tgs.get(&ppid).cloned());
    if let Some(p) = parent {
        let info = SigInfo {
            signo: 17,
            code,
            pid: tg.pid,
            status: 19,
            ..Default::default()
        };
        let flags = p.action(17).flags;
        if flags & 1 == 0 {
            // SA_NOCLDSTOP not set.
            send_to_process(&p, Signal::SIGCHLD, info);
        }
        p.child_wq.notify_all();
    }
}

/// Blocks a task of a stopped process until SIGCONT or SIGKILL.
pub fn wait_while_stopped(t: &mut Task) {
    let w = t.handle.waker.clone();
    loop {
        if !t.handle.tg.lock().stopped || t.handle.killed.load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        w.wait(Some(
            std::time::Instant::now() + std::time::Duration::from_millis(100),
        ));
    }
}

/// Takes a pending signal in `set` (blocked or not) for sigtimedwait and
/// signalfd.
pub fn dequeue_from(h: &crate::kernel::TaskHandle, set: u64) -> Option<(Signal, SigInfo)> {
    {
        let mut ts = h.sig();
        let avail = ts.pending & set;
        if avail != 0 {
            let s = avail.trailing_zeros() + 1;
            let info = ts.infos.remove(&s).unwrap_or(SigInfo::kernel(s));
            if !ts.infos.has(s) {
                ts.pending &= !Signal(s).mask();
            }
            return Some((Signal(s), info));
        }
    }
    let mut st = h.tg.lock();
    let avail = st.pending & set;
    if avail == 0 {
        return None;
    }
    let s = avail.trailing_zeros() + 1;
    Some((Signal(s), take_process_info(h, &mut st, s)))
}

/// Takes the oldest process-directed siginfo of `s` (the process state is
/// locked by the caller); the pending bit stays while more are queued.
fn take_process_info(
    h: &crate::kernel::TaskHandle,
    st: &mut crate::kernel::task::TgState,
    s: u32,
) -> SigInfo {
    let mut infos = h.tg.infos.lock().unwrap_or_else(|p| p.into_inner());
    let info = infos.remove(&s).unwrap_or(SigInfo::kernel(s));
    if !infos.has(s) {
        st.pending &= !Signal(s).mask();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_abi() {
        assert_eq!(Signal::SIGSEGV.name(), "SIGSEGV");
        assert_eq!(Signal(34).name(), "SIGRT2");
        let a = SigAction {
            handler: 1,
            flags: 2,
            restorer: 3,
            mask: 4,
        };
        assert_eq!(SigAction::from_bytes(&a.to_bytes()), a);
        assert_eq!(Signal::SIGKILL.mask() | Signal::SIGSTOP.mask(), UNBLOCKABLE);
        assert_eq!(Signal::SIGCHLD.default_action(), DefaultAction::Ignore);
        assert_eq!(Signal::SIGTERM.default_action(), DefaultAction::Terminate);
        assert_eq!(
            ExitStatus::Signaled(Signal::SIGSEGV).wait_status(),
            11 | 0x80
        );
        assert_eq!(ExitStatus::Exited(3).wait_status(), 3 << 8);
        let i = SigInfo::child(5, 0, ExitStatus::Exited(2)).to_bytes();
        assert_eq!(i[0], 17);
        assert_eq!(i[16], 5);
        assert_eq!(i[24], 2);
    }
}
