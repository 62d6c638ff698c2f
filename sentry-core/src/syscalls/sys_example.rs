//! The worked example of docs/ADDING-A-SYSCALL.md: syscall 400 `square(n)`,
//! the one the gVisor study added to runsc's table ("Square"). Built only
//! with the cargo feature `example-syscall` (`cargo build -p shim --features
//! example-syscall`); without it 400 is what Linux has there: nothing
//! (ENOSYS).
//!
//! Its row in the table (syscalls/mod.rs):
//!
//! ```text
//! #[cfg(feature = "example-syscall")]
//! 400 square => sys_example::square, Full, [Int];
//! ```

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

/// `long square(long n)`: n*n, taking the first argument as a signed 64-bit
/// value (`Args::long`: all of rdi, so -3 squares to 9 and 2^32 is not
/// truncated to 0).
///
/// When n*n does not fit in 64 bits (|n| > 3037000499) the call fails with
/// EOVERFLOW ("value too large for defined data type", what Linux answers
/// when a result does not fit the type that returns it) rather than
/// returning a wrapped value. The result fits in 63 bits, so it is never in
/// -4095..-1, the range the C library reads as an error.
///
/// The study's Go handler (`num := args[0].Int(); return uintptr(num*num)`)
/// took the low 32 bits and let the product wrap; this one does neither.
pub fn square(_task: &mut Task, a: &Args) -> SysResult<u64> {
    square_of(a.long(0))
}

/// The arithmetic of [`square`].
fn square_of(n: i64) -> SysResult<u64> {
    let sq = n.checked_mul(n).ok_or(Errno::EOVERFLOW)?;
    // n*n is never negative, so the conversion cannot fail.
    u64::try_from(sq).map_err(|_| Errno::EOVERFLOW)
}

#[cfg(test)]
mod tests {
    use super::super::{lookup, markdown, name_of, Arg, Support};
    use super::*;

    #[test]
    fn squares_signed_64_bit_values() {
        assert_eq!(square_of(7), Ok(49));
        assert_eq!(square_of(-3), Ok(9));
        assert_eq!(square_of(0), Ok(0));
        assert_eq!(square_of(1 << 32), Err(Errno::EOVERFLOW));
        assert_eq!(
            square_of(3_037_000_499),
            Ok(3_037_000_499u64 * 3_037_000_499)
        );
        assert_eq!(square_of(3_037_000_500), Err(Errno::EOVERFLOW));
        assert_eq!(square_of(-3_037_000_500), Err(Errno::EOVERFLOW));
        assert_eq!(square_of(i64::MIN), Err(Errno::EOVERFLOW));
    }

    #[test]
    fn the_row_is_in_the_table_and_the_generated_doc() {
        let s = lookup(400).map(|s| (s.name, s.args, s.support));
        assert_eq!(s, Some(("square", &[Arg::Int][..], Support::Full)));
        assert_eq!(name_of(400), "square");
        let md = markdown();
        assert!(md.contains("| 400 | square | full |  |\n"), "{md}");
        assert!(md.contains("`square` (400)"), "{md}");
        // The neighbours are still Linux's.
        assert_eq!(name_of(399), "");
        assert!(lookup(401).is_none());
    }
}
