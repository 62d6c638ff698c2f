//! Pure ELF program loading logic (no KVM, no guest memory access).
//!
//! This module turns the raw bytes of an executable into a description of
//! what must be mapped where ([`elf::parse`] → [`ElfImage`]) and computes the
//! exact contents of the initial user stack a new process starts with
//! ([`stack::build`] → [`InitialStack`]). Copying segments and stack bytes
//! into guest memory, choosing the load base and setting up registers is the
//! caller's job; everything here is deterministic and unit-testable.
//!
//! Only static x86-64 executables are supported: `ET_EXEC` and static-pie
//! `ET_DYN` (an `ET_DYN` without `PT_INTERP`). Dynamically linked programs are
//! rejected with [`LoadError::Dynamic`]. The input bytes are treated as
//! untrusted: parsing never panics and rejects malformed images with
//! [`LoadError::Malformed`].

pub mod elf;
pub mod stack;

pub use elf::{parse, ElfImage, ElfKind, Prot, Segment, PAGE_SIZE, USER_ADDR_LIMIT};
pub use stack::{
    build, InitialStack, StackSpec, AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN,
    AT_FLAGS, AT_GID, AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT,
    AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_SECURE, AT_UID, MAX_ARG_STRLEN, MAX_ARG_TOTAL,
};

/// Why an executable could not be loaded (or its initial stack built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// A valid ELF, but not ELF64 / little-endian / x86-64.
    #[error("wrong architecture: expected {expected}, found {found}")]
    WrongArch {
        /// What we accept (e.g. "ELFCLASS64").
        expected: &'static str,
        /// What the file declares.
        found: String,
    },
    /// The ELF is structurally invalid; the string says why.
    #[error("malformed ELF: {0}")]
    Malformed(String),
    /// The ELF requests a program interpreter (dynamic linking).
    #[error("dynamically linked ELF (interpreter {interp}) is not supported yet")]
    Dynamic {
        /// The PT_INTERP path, e.g. `/lib64/ld-linux-x86-64.so.2`.
        interp: String,
    },
    /// Argument/environment strings exceed the size limits (E2BIG).
    #[error("argument list too long: {0}")]
    TooBig(String),
    /// An argument/environment string is not a valid C string (interior NUL).
    #[error("invalid argument: {0}")]
    InvalidArg(String),
}

impl LoadError {
    /// The Linux errno that `execve(2)` would return for this error.
    pub fn errno(&self) -> i32 {
        match self {
            LoadError::NotElf
            | LoadError::WrongArch { .. }
            | LoadError::Malformed(_)
            | LoadError::Dynamic { .. } => libc::ENOEXEC,
            LoadError::TooBig(_) => libc::E2BIG,
            LoadError::InvalidArg(_) => libc::EINVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        assert_eq!(LoadError::NotElf.errno(), libc::ENOEXEC);
        assert_eq!(
            LoadError::WrongArch {
                expected: "x",
                found: "y".into()
            }
            .errno(),
            libc::ENOEXEC
        );
        assert_eq!(LoadError::Malformed("x".into()).errno(), libc::ENOEXEC);
        assert_eq!(
            LoadError::Dynamic {
                interp: "/lib64/ld-linux-x86-64.so.2".into()
            }
            .errno(),
            libc::ENOEXEC
        );
        assert_eq!(LoadError::TooBig("x".into()).errno(), libc::E2BIG);
        assert_eq!(LoadError::InvalidArg("x".into()).errno(), libc::EINVAL);
        assert_eq!(
            LoadError::Dynamic {
                interp: "/lib64/ld-linux-x86-64.so.2".into()
            }
            .to_string(),
            "dynamically linked ELF (interpreter /lib64/ld-linux-x86-64.so.2) is not supported yet"
        );
    }
}
