//! The last words of the sentry and the gofer. Once confined they may make
//! only the host calls of their seccomp allowlists, and the standard
//! library's panic and allocation-failure paths make others (a backtrace
//! looks up the working directory; `abort` signals the process in ways the
//! filter refuses), which turned a sentry bug into "killed by SIGSYS". So:
//! a panic hook and a SIGABRT handler (the allocation-failure path ends in
//! `abort`) write one line with write(2) to stderr, without allocating, and
//! leave through exit_group(125): the launcher passes 125 on, and the line
//! says what happened.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The exit status of a sentry or gofer that panicked.
pub const PANIC_STATUS: i32 = 125;

/// Size of the last allocation that failed (0: none).
static FAILED_ALLOC: AtomicUsize = AtomicUsize::new(0);

/// "sentry" or "gofer" (a &'static str's pointer and length).
static WHO: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static WHO_LEN: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, remembering the size of a failed request for the
/// message of the allocation-failure path (callers that can handle a
/// failure, such as `try_reserve`, still get null as usual).
pub struct Allocator;

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only records failed sizes in an atomic.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            FAILED_ALLOC.store(layout.size().max(1), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            FAILED_ALLOC.store(layout.size().max(1), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            FAILED_ALLOC.store(new_size.max(1), Ordering::Relaxed);
        }
        p
    }
}

/// A fixed buffer that formats without allocating (and truncates).
struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; 1024],
            len: 0,
        }
    }

    /// Writes the line (newlines inside turned into "; ") to stderr and
    /// exits the whole process with [`PANIC_STATUS`].
    fn finish(mut self) -> ! {
        for b in &mut self.buf[..self.len] {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        if self.len == self.buf.len() {
            self.len -= 1;
        }
        self.buf[self.len] = b'\n';
        self.len += 1;
        let mut at = 0;
        while at < self.len {
            // SAFETY: write(2) of a local buffer to stderr, on the allowlist.
            let n = unsafe { libc::write(2, self.buf[at..].as_ptr().cast(), self.len - at) };
            if n <= 0 {
                break;
            }
            at += n as usize;
        }
        // SAFETY: exit_group is on the allowlist and ends every thread.
        unsafe { libc::_exit(PANIC_STATUS) }
    }
}

fn who() -> &'static str {
    let p = WHO.load(Ordering::Acquire);
    let n = WHO_LEN.load(Ordering::Acquire);
    if p.is_null() {
        return "sandbox";
    }
    // SAFETY: WHO/WHO_LEN are only ever set together from a &'static str
    // (set once at start-up, before any thread could read them).
    let bytes = unsafe { std::slice::from_raw_parts(p, n) };
    std::str::from_utf8(bytes).unwrap_or("sandbox")
}

/// The line of a panic: "gvisor: the sentry panicked: MESSAGE (at FILE:LINE)".
fn panic_line(line: &mut Line, info: &std::panic::PanicHookInfo<'_>) {
    use std::fmt::Write as _;
    let msg = info.payload_as_str().unwrap_or("(no message)");
    let _ = write!(line, "gvisor: the {} panicked: {msg}", who());
    if let Some(l) = info.location() {
        let _ = write!(line, " (at {}:{})", l.file(), l.line());
    }
}

extern "C" fn on_abort(_sig: libc::c_int) {
    use std::fmt::Write as _;
    let mut line = Line::new();
    let _ = write!(line, "gvisor: the {} panicked: ", who());
    match FAILED_ALLOC.load(Ordering::Relaxed) {
        0 => {
            let _ = write!(line, "aborted");
        }
        n => {
            let _ = write!(line, "memory allocation of {n} bytes failed");
        }
    }
    line.finish()
}

/// This process's environment as it was before [`install`] took the
/// backtrace variables out.
static ORIGINAL_ENV: std::sync::OnceLock<Vec<(std::ffi::OsString, std::ffi::OsString)>> =
    std::sync::OnceLock::new();

/// The environment this process was started with, in order, including the
/// variables [`install`] hid from the standard library: the program's
/// environment under `gvisor do`.
pub fn original_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    ORIGINAL_ENV
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::vars_os().collect())
}

/// Installs the panic hook and the SIGABRT handler for process `who`
/// ("sentry", "gofer"); call first thing in the process, before any other
/// thread starts. RUST_BACKTRACE and RUST_LIB_BACKTRACE are taken out of
/// the process's environment: with them the allocation-failure path prints
/// a backtrace, which looks up the working directory (getcwd, not on the
/// allowlist).
pub fn install(who: &'static str) {
    let _ = ORIGINAL_ENV.set(std::env::vars_os().collect());
    for k in ["RUST_BACKTRACE", "RUST_LIB_BACKTRACE"] {
        std::env::remove_var(k);
    }
    WHO_LEN.store(who.len(), Ordering::Release);
    WHO.store(who.as_ptr().cast_mut(), Ordering::Release);
    std::panic::set_hook(Box::new(|info| {
        let mut line = Line::new();
        panic_line(&mut line, info);
        line.finish()
    }));
    // SAFETY: a zeroed sigaction is a valid starting point; the handler
    // makes only async-signal-safe calls (write, _exit) and does not
    // allocate.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_abort as *const () as usize;
        libc::sigaction(libc::SIGABRT, &sa, std::ptr::null_mut());
    }
}

/// Debug builds only: `GVISOR_DEBUG_PANIC=panic` or `=alloc` makes the
/// confined sentry panic, or fail an allocation, so the tests can check the
/// last words (a release build ignores it).
pub fn debug_trigger() {
    if !cfg!(debug_assertions) {
        return;
    }
    match std::env::var("GVISOR_DEBUG_PANIC").as_deref() {
        Ok("panic") => panic!("GVISOR_DEBUG_PANIC asked for a panic"),
        Ok("alloc") => {
            let v: Vec<u8> = Vec::with_capacity(1 << 46);
            std::hint::black_box(v);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_truncate_without_allocating() {
        use std::fmt::Write as _;
        let mut l = Line::new();
        for _ in 0..200 {
            write!(l, "0123456789").unwrap();
        }
        assert_eq!(l.len, l.buf.len());
        assert_eq!(who(), "sandbox");
    }
}
