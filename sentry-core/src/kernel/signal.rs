//! Signal numbers and the per-task signal state that is recorded so far:
//! actions and the blocked mask. Delivery to handlers comes with the
//! process-model stage; a fault the kernel cannot resolve kills the task.

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
    pub const SIGTERM: Signal = Signal(15);
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
        1u64 << (self.0 - 1)
    }
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

/// The recorded signal state of a task.
#[derive(Clone, Debug)]
pub struct SignalState {
    /// Action per signal (index = signal - 1).
    pub actions: [SigAction; 64],
    /// Blocked mask.
    pub blocked: u64,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            actions: [SigAction::default(); 64],
            blocked: 0,
        }
    }
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
    }
}
