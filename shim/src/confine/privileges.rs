//! What a confined process keeps: its descriptors, its capabilities,
//! no_new_privs.

use std::os::fd::RawFd;

use anyhow::Result;

use super::check;

/// Closes every descriptor not in `keep`.
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.to_vec();
    keep.sort_unstable();
    keep.dedup();
    let mut from: u32 = 0;
    for &k in &keep {
        if k < 0 {
            continue;
        }
        if (k as u32) > from {
            // SAFETY: closes a range of our own descriptors.
            unsafe { libc::syscall(libc::SYS_close_range, from, k as u32 - 1, 0u32) };
        }
        from = k as u32 + 1;
    }
    // SAFETY: as above, to the end of the table.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
}

/// Keeps only the capabilities in `keep` (numbers): the bounding set, the
/// permitted, effective and inheritable sets, and the ambient set.
pub fn drop_caps(keep: &[u32]) -> Result<()> {
    const CAP_LAST: u32 = 40;
    // SAFETY: prctl with integer arguments; checked.
    check(
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        },
        "clearing ambient capabilities",
    )
    .ok();
    for cap in 0..=CAP_LAST {
        if !keep.contains(&cap) {
            // SAFETY: prctl with integer arguments; EINVAL past the last
            // capability the kernel knows is fine.
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        }
    }
    let mut mask = [0u32; 2];
    for &c in keep {
        mask[(c / 32) as usize] |= 1 << (c % 32);
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: mask[0],
            permitted: mask[0],
            inheritable: 0,
        },
        Data {
            effective: mask[1],
            permitted: mask[1],
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a version-3 header and two data structs.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } as i32;
    check(rc, "dropping capabilities")
}

/// PR_SET_NO_NEW_PRIVS.
pub fn no_new_privs() -> Result<()> {
    // SAFETY: prctl with integer arguments; checked.
    check(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
        "setting no_new_privs",
    )
}

/// Capabilities a gofer keeps: reading and writing any file of its mounts
/// as the sentry's permission checks allow (CAP_DAC_OVERRIDE,
/// CAP_DAC_READ_SEARCH), and setting owners, modes and times on them for
/// the sandbox's users (CAP_CHOWN, CAP_FOWNER, CAP_FSETID).
pub const GOFER_CAPS: [u32; 5] = [0, 1, 2, 3, 4];
