//! Allowlists compiled into seccomp BPF (with seccompiler) and installed,
//! with the kill filter the SIGSYS reporter dies through.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::{Allowed, Cond};

/// Compiles an allowlist into a filter that traps anything else.
pub fn compile(list: &[Allowed]) -> Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for a in list {
        let mut alts = Vec::new();
        for conj in &a.when {
            let conds = conj
                .iter()
                .map(|c| match *c {
                    Cond::Eq(i, v) => {
                        SeccompCondition::new(i, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)
                    }
                    Cond::Eq64(i, v) => {
                        SeccompCondition::new(i, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, v)
                    }
                    Cond::Masked(i, m, v) => SeccompCondition::new(
                        i,
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::MaskedEq(m),
                        v,
                    ),
                })
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("seccomp condition of {}", a.name))?;
            alts.push(
                SeccompRule::new(conds).with_context(|| format!("seccomp rule of {}", a.name))?,
            );
        }
        rules.insert(a.nr, alts);
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    BpfProgram::try_from(filter).context("compiling the seccomp filter")
}

/// A syscall Linux never implements (tuxcall): the SIGSYS handler makes it
/// to be killed by a second filter (see `install_seccomp`).
pub(super) const DIE_SYSCALL: i64 = libc::SYS_tuxcall;

/// Installs the allowlist on every thread of the process, plus a second
/// filter that kills the process on `DIE_SYSCALL`: a pid-namespace init
/// cannot kill itself with a signal, but the strictest action of all
/// filters wins, so the violation handler dies by SIGSYS through it.
pub fn install_seccomp(list: &[Allowed]) -> Result<()> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(DIE_SYSCALL, Vec::new());
    let die = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::KillProcess,
        TargetArch::x86_64,
    )
    .context("building the kill filter")?;
    let die = BpfProgram::try_from(die).context("compiling the kill filter")?;
    seccompiler::apply_filter_all_threads(&die).context("installing the kill filter")?;
    let prog = compile(list)?;
    seccompiler::apply_filter_all_threads(&prog).context("installing the seccomp filter")
}
