//! The SIGSYS reporter: a filter violation prints which host system call it
//! was (without allocating) before the process dies by SIGSYS.

use anyhow::{bail, Result};

use super::bpf::DIE_SYSCALL;

fn write_stderr(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: write of a valid buffer to fd 2 (async-signal-safe).
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
}

fn hex(mut v: u64, out: &mut [u8; 18]) -> &[u8] {
    out[0] = b'0';
    out[1] = b'x';
    for i in (2..18).rev() {
        out[i] = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
    &out[..]
}

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSYS; for
    // SECCOMP_RET_TRAP its syscall number is the int at offset 24
    // (si_call_addr at 16, si_syscall at 24).
    let nr = unsafe { *(info as *const u8).add(24).cast::<i32>() };
    let name = usize::try_from(nr)
        .ok()
        .and_then(|n| sentry_core::syscalls::names::NAMES.get(n))
        .copied()
        .unwrap_or("?");
    // SAFETY: ctx is the ucontext of the interrupted thread.
    let (ip, sp) = unsafe {
        let uc = &*(ctx as *const libc::ucontext_t);
        (
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] as u64,
            uc.uc_mcontext.gregs[libc::REG_RSP as usize] as u64,
        )
    };
    let mut b1 = [0u8; 18];
    let mut b2 = [0u8; 18];
    let mut b3 = [0u8; 18];
    let nr_hex = hex(nr as u64, &mut b3);
    write_stderr(&[
        b"gvisor: forbidden host system call ",
        nr_hex,
        b" (",
        name.as_bytes(),
        b") at ip ",
        hex(ip, &mut b1),
        b" sp ",
        hex(sp, &mut b2),
        b"\n",
    ]);
    if cfg!(debug_assertions) {
        // Debug builds: enough to find the caller (offsets against the
        // printed symbols, then addr2line).
        let mut a = [0u8; 18];
        let mut c = [0u8; 18];
        write_stderr(&[
            b"  on_sigsys ",
            hex(on_sigsys as *const () as u64, &mut a),
            b" libc write ",
            hex(libc::write as *const () as u64, &mut c),
            b"\n",
        ]);
        for i in 0..48u64 {
            // SAFETY: reading the interrupted thread's own stack, above sp.
            let w = unsafe { *((sp + i * 8) as *const u64) };
            let mut d = [0u8; 18];
            write_stderr(&[b"  stack ", hex(w, &mut d), b"\n"]);
        }
    }
    // Die by SIGSYS through the kill filter, so the launcher reports it.
    // SAFETY: a raw syscall that the kill filter turns into process death.
    unsafe {
        libc::syscall(DIE_SYSCALL);
        libc::_exit(159);
    }
}

/// Makes a filter violation print which host syscall it was before the
/// process dies (the filter traps rather than kills at once).
pub fn report_violations() -> Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting point; the handler only
    // makes async-signal-safe calls and does not allocate.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        // Reset and not blocked in the handler, so its raise kills at once.
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            bail!(
                "installing the SIGSYS handler: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}
