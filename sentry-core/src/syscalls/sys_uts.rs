//! The UTS names: uname, sethostname, setdomainname.

use crate::abi::{MACHINE, RELEASE, SYSNAME, VERSION};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

use super::Args;

/// The host name (or with `domain` the domain name) of the task's UTS
/// namespace.
fn names(t: &Task, domain: bool) -> &std::sync::Mutex<String> {
    match (&t.uts, domain) {
        (Some(u), false) => &u.hostname,
        (Some(u), true) => &u.domainname,
        (None, false) => &t.kernel.hostname,
        (None, true) => &t.kernel.domainname,
    }
}

pub(crate) fn uname(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut b = [0u8; 65 * 6];
    let host = names(t, false)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let domain = names(t, true)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let fields = [
        SYSNAME,
        host.as_str(),
        RELEASE,
        VERSION,
        MACHINE,
        domain.as_str(),
    ];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        b[i * 65..i * 65 + n].copy_from_slice(&f.as_bytes()[..n]);
    }
    t.mm().copy_out(a.ptr(0), &b)?;
    Ok(0)
}

/// Reads a UTS name of `a[1]` bytes at `a[0]` (sethostname,
/// setdomainname): a length that is negative or longer than a UTS field is
/// EINVAL, a caller without privilege EPERM.
fn read_uts_name(t: &mut Task, a: &Args) -> SysResult<String> {
    let len = usize::try_from(a.int(1)).map_err(|_| Errno::EINVAL)?;
    if len > 64 {
        return Err(Errno::EINVAL);
    }
    if !t.creds().privileged() {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; len];
    t.mm().copy_in(a.ptr(0), &mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn sethostname(t: &mut Task, a: &Args) -> SysResult<u64> {
    let name = read_uts_name(t, a)?;
    *names(t, false).lock().unwrap_or_else(|p| p.into_inner()) = name;
    Ok(0)
}

/// As sethostname, for the domain name uname reports.
pub(crate) fn setdomainname(t: &mut Task, a: &Args) -> SysResult<u64> {
    let name = read_uts_name(t, a)?;
    *names(t, true).lock().unwrap_or_else(|p| p.into_inner()) = name;
    Ok(0)
}

/// A new UTS namespace for the task (unshare CLONE_NEWUTS), starting with
/// the names of its current one.
pub(crate) fn unshare_uts(t: &mut Task) {
    let host = names(t, false)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let domain = names(t, true)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    t.uts = Some(std::sync::Arc::new(crate::kernel::task::UtsNs {
        hostname: std::sync::Mutex::new(host),
        domainname: std::sync::Mutex::new(domain),
    }));
}
