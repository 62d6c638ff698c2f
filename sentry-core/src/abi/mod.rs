//! The Linux x86-64 ABI as the sandboxed program sees it: constants and
//! structure layouts that several layers share. Defined once here (or taken
//! from the `libc` crate where it has them); any layer may use this module,
//! and it uses nothing of the sentry's but [`crate::errno`].

pub mod dirent;
pub mod names;
pub mod socket;
pub mod stat;
pub mod termios;

/// The size of a page.
pub const PAGE_SIZE: u64 = 4096;

/// The end of the user address range: the highest mappable address + 1
/// (one page below 2^47, as Linux leaves a guard page).
pub const USER_END: u64 = 0x7fff_ffff_f000;

/// The highest signal number; signals are 1..=NSIG.
pub const NSIG: u32 = 64;

/// Whether `sig` names a signal (1..=[`NSIG`]); 0 is the "check only"
/// signal of kill(2) and is not one.
pub fn is_signal(sig: u64) -> bool {
    (1..=NSIG as u64).contains(&sig)
}

/// What uname(2) and /proc report as the operating system.
pub const SYSNAME: &str = "Linux";
/// What uname(2) and /proc report as the kernel release.
pub const RELEASE: &str = "6.1.0";
/// What uname(2) and /proc report as the kernel version.
pub const VERSION: &str = "#1 SMP gvisor-rs";
/// What uname(2) reports as the machine.
pub const MACHINE: &str = "x86_64";
