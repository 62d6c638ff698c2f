//! seccomp(2) and prctl(PR_SET_SECCOMP) through the dispatcher: what a filter
//! decides, hostile arguments, strict mode.

use super::Harness;
use crate::errno::Errno;
use crate::kernel::seccomp_filter::ret;

const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_SECCOMP: u64 = 21;
const PR_SET_SECCOMP: u64 = 22;

/// A `struct sock_fprog` over `insns` ((code, jt, jf, k) each) in scratch memory.
fn fprog(h: &mut Harness, insns: &[(u16, u8, u8, u32)]) -> u64 {
    let mut b = Vec::new();
    for &(code, jt, jf, k) in insns {
        b.extend_from_slice(&code.to_le_bytes());
        b.extend_from_slice(&[jt, jf]);
        b.extend_from_slice(&k.to_le_bytes());
    }
    let prog = h.put(&b);
    let mut hdr = [0u8; 16];
    hdr[0..2].copy_from_slice(&(insns.len() as u16).to_le_bytes());
    hdr[8..16].copy_from_slice(&prog.to_le_bytes());
    h.put(&hdr)
}

/// `action` for system call `nr`, ALLOW for the rest.
fn deny(h: &mut Harness, nr: u64, action: u32) -> u64 {
    fprog(
        h,
        &[
            (0x20, 0, 0, 0),
            (0x15, 0, 1, nr as u32),
            (0x06, 0, 0, action),
            (0x06, 0, 0, ret::ALLOW),
        ],
    )
}

#[test]
fn a_filter_fails_a_call_and_is_counted() {
    let mut h = Harness::new();
    let getppid = Harness::nr("getppid");
    assert_eq!(h.call("prctl", &[PR_GET_SECCOMP]), Ok(0));
    let p = deny(&mut h, getppid, ret::ERRNO | 13);
    assert_eq!(h.call("seccomp", &[1, 0, p]), Ok(0));
    assert_eq!(h.call("getppid", &[]), Err(Errno::EACCES));
    assert_eq!(h.call("getpid", &[]), Ok(1));
    assert_eq!(h.call("prctl", &[PR_GET_SECCOMP]), Ok(2));
    // A number with no handler still goes through the filter first.
    let p = deny(&mut h, 1000, ret::ERRNO | 1);
    assert_eq!(h.call("prctl", &[PR_SET_SECCOMP, 2, p]), Ok(0));
    assert_eq!(h.call_nr(1000, &[]), Err(Errno::EPERM));
    assert_eq!(h.task.handle.seccomp.count(), 2);
    // Strict mode cannot follow filters.
    assert_eq!(h.call("seccomp", &[0, 0, 0]), Err(Errno::EINVAL));
}

#[test]
fn hostile_arguments_get_linux_errors() {
    let mut h = Harness::new();
    let ok = fprog(&mut h, &[(0x06, 0, 0, ret::ALLOW)]);
    for (args, want) in [
        ([1, 1 << 3, ok], Errno::EINVAL), // NEW_LISTENER: not built
        ([1, 1 << 5, ok], Errno::EINVAL), // WAIT_KILLABLE_RECV alone
        ([1, 1 << 6, ok], Errno::EINVAL), // unknown flag
        ([1, 0, 0], Errno::EFAULT),       // no fprog
        ([1, 0, u64::MAX - 3], Errno::EFAULT),
        ([2, 0, 0], Errno::EFAULT), // GET_ACTION_AVAIL, no action
        ([3, 1, 0], Errno::EINVAL), // GET_NOTIF_SIZES with flags
        ([9, 0, 0], Errno::EINVAL),
        ([u64::MAX, u64::MAX, u64::MAX], Errno::EINVAL),
    ] {
        assert_eq!(h.call("seccomp", &args), Err(want), "{args:x?}");
    }
    let bad_len = h.put(&[0u8; 16]);
    assert_eq!(h.call("seccomp", &[1, 0, bad_len]), Err(Errno::EINVAL));
    assert_eq!(h.call("prctl", &[PR_SET_SECCOMP, 7]), Err(Errno::EINVAL));
    assert_eq!(h.task.handle.seccomp.count(), 0);
}

#[test]
fn without_cap_sys_admin_no_new_privs_is_required() {
    let mut h = Harness::user(1000, 1000, &[]);
    let ok = fprog(&mut h, &[(0x06, 0, 0, ret::ALLOW)]);
    assert_eq!(h.call("seccomp", &[1, 0, ok]), Err(Errno::EACCES));
    assert_eq!(h.call("prctl", &[PR_SET_NO_NEW_PRIVS, 1]), Ok(0));
    assert_eq!(h.call("seccomp", &[1, 0, ok]), Ok(0));
}

#[test]
fn strict_mode_kills_the_thread_on_other_calls() {
    let mut h = Harness::new();
    assert_eq!(h.call("prctl", &[PR_SET_SECCOMP, 1]), Ok(0));
    assert_eq!(h.call("write", &[1000, 0, 0]), Err(Errno::EBADF));
    assert!(h.task.exit.is_none());
    let _ = h.call("getpid", &[]);
    assert_eq!(
        h.task.exit,
        Some(crate::kernel::ExitStatus::Signaled(
            crate::kernel::signal::Signal::SIGKILL
        ))
    );
}
