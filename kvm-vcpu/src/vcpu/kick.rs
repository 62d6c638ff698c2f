//! Kicking a vCPU out of KVM_RUN from another thread: a pending flag, the
//! running thread's id, and a host signal whose handler sets
//! `kvm_run.immediate_exit`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Once};

/// Shared between a vCPU and its interrupters.
#[derive(Debug, Default)]
pub(super) struct Kick {
    pub(super) pending: AtomicBool,
    /// Host thread id running this vCPU, 0 when not in `run`.
    pub(super) tid: AtomicI32,
}

/// A handle another thread uses to make a running (or the next) `run` return
/// `VcpuExit::Interrupted`.
#[derive(Clone, Debug)]
pub struct Interrupter(pub(super) Arc<Kick>);

impl Interrupter {
    /// Requests an interrupt. Safe to call from any thread at any time.
    pub fn interrupt(&self) {
        self.0.pending.store(true, Ordering::SeqCst);
        let tid = self.0.tid.load(Ordering::SeqCst);
        if tid != 0 {
            // SAFETY: tgkill with our own pid and a thread id of this process;
            // the kick signal's handler only sets immediate_exit. A stale tid
            // (thread left `run`) at worst interrupts a host syscall that the
            // handler's SA_RESTART restarts.
            unsafe {
                libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, kick_signal());
            }
        }
    }
}

thread_local! {
    /// `&kvm_run.immediate_exit` of the vCPU this thread is running, or null.
    pub(super) static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn kick_handler(_sig: libc::c_int) {
    let _ = IMMEDIATE_EXIT.try_with(|p| {
        let p = p.get();
        if !p.is_null() {
            // SAFETY: the pointer is set by `run` on this thread to the
            // immediate_exit byte of a kvm_run mapping that outlives the run,
            // and cleared before `run` returns.
            unsafe { p.write_volatile(1) };
        }
    });
}

/// The host signal used to kick vCPU threads out of KVM_RUN.
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

pub(super) fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that only performs a volatile byte store
        // through a thread-local pointer (async-signal-safe); the sigaction
        // struct is fully initialized.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = kick_handler as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

pub(super) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}
