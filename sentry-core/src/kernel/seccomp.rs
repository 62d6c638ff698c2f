//! The container's own seccomp profile (OCI `linux.seccomp`), enforced by the
//! sentry on the program's system calls, as gVisor does: the program never
//! reaches the host kernel, so its filter is applied in `syscalls::dispatch`
//! before the handler runs.

use std::collections::HashMap;

/// What a matching rule (or the default) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the call.
    Allow,
    /// Run the call and log it.
    Log,
    /// Fail it with this errno.
    Errno(u32),
    /// Kill the calling thread's process with SIGSYS (KILL_THREAD is
    /// treated as KILL_PROCESS, as the sandbox's threads share one fate
    /// in most runtimes' use).
    Kill,
    /// Send SIGSYS (SYS_SECCOMP) to the caller.
    Trap,
}

/// A comparison of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// !=
    Ne,
    /// <
    Lt,
    /// <=
    Le,
    /// ==
    Eq,
    /// >=
    Ge,
    /// >
    Gt,
    /// (arg & mask) == value
    MaskedEq(u64),
}

/// A condition on argument `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCond {
    /// Argument 0..=5.
    pub index: usize,
    /// Compared value.
    pub value: u64,
    /// The comparison.
    pub op: Op,
}

impl ArgCond {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[self.index.min(5)];
        match self.op {
            Op::Ne => a != self.value,
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Eq => a == self.value,
            Op::Ge => a >= self.value,
            Op::Gt => a > self.value,
            Op::MaskedEq(m) => a & m == self.value,
        }
    }
}

/// One rule: when all its conditions hold, its action applies.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Conditions (all must hold; none: always).
    pub conds: Vec<ArgCond>,
    /// Action.
    pub action: Action,
}

/// A compiled profile.
#[derive(Clone, Debug)]
pub struct AppFilter {
    default: Action,
    rules: HashMap<u64, Vec<Rule>>,
}

impl AppFilter {
    /// A profile with `default` for calls no rule matches.
    pub fn new(default: Action) -> Self {
        AppFilter {
            default,
            rules: HashMap::new(),
        }
    }

    /// Adds a rule for syscall `nr`.
    pub fn add(&mut self, nr: u64, rule: Rule) {
        self.rules.entry(nr).or_default().push(rule);
    }

    /// The action for a call: the first matching rule's, else the default.
    pub fn decide(&self, nr: u64, args: &[u64; 6]) -> Action {
        self.rules
            .get(&nr)
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r.conds.iter().all(|c| c.holds(args)))
                    .map(|r| r.action)
            })
            .unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins_else_default() {
        let mut f = AppFilter::new(Action::Errno(1));
        f.add(
            1,
            Rule {
                conds: vec![ArgCond {
                    index: 0,
                    value: 2,
                    op: Op::Eq,
                }],
                action: Action::Errno(13),
            },
        );
        f.add(
            1,
            Rule {
                conds: vec![],
                action: Action::Allow,
            },
        );
        assert_eq!(f.decide(1, &[2, 0, 0, 0, 0, 0]), Action::Errno(13));
        assert_eq!(f.decide(1, &[1, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(f.decide(2, &[0; 6]), Action::Errno(1));
        let m = ArgCond {
            index: 1,
            value: 0x10,
            op: Op::MaskedEq(0xf0),
        };
        assert!(m.holds(&[0, 0x1f, 0, 0, 0, 0]));
        assert!(!m.holds(&[0, 0x2f, 0, 0, 0, 0]));
    }
}
