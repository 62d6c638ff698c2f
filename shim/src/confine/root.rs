//! pivot_root: a confined process's file system view (an empty read-only
//! tmpfs for the sentry, the container's rootfs and binds for a gofer).

use std::ffi::CStr;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::{check, cstr};

/// Makes every mount of this (new) mount namespace private, so nothing done
/// here propagates to the host.
pub fn make_mounts_private() -> Result<()> {
    // SAFETY: mount with NULL source/type/data and constant flags.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check(rc, "making mounts private")
}

fn mount_tmpfs(at: &CStr, opts: &CStr) -> Result<()> {
    // SAFETY: valid C strings; the result is checked.
    let rc = unsafe {
        libc::mount(
            c"none".as_ptr(),
            at.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            opts.as_ptr().cast(),
        )
    };
    check(rc, &format!("mounting a tmpfs on {}", at.to_string_lossy()))
}

/// A directory that exists on every system, to mount a private tmpfs on.
fn scratch_dir() -> Result<&'static CStr> {
    for c in [c"/tmp", c"/mnt", c"/dev", c"/run"] {
        if Path::new(c.to_str().unwrap_or("/")).is_dir() {
            return Ok(c);
        }
    }
    bail!("no directory to mount a private tmpfs on (tried /tmp, /mnt, /dev, /run)")
}

/// Moves the root of this mount namespace to `new_root` (already a mount
/// point) and detaches the old one.
fn pivot_here(new_root: &CStr) -> Result<()> {
    // SAFETY: chdir to a valid path; checked.
    check(
        unsafe { libc::chdir(new_root.as_ptr()) },
        "chdir to the new root",
    )?;
    // SAFETY: pivot_root(".", ".") stacks the old root on the new one.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) } as i32;
    if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // The old root is the initramfs (rootfs), which cannot be pivoted:
        // move the new root over it and chroot, as switch_root does.
        // SAFETY: MS_MOVE of "." onto "/"; checked.
        let rc = unsafe {
            libc::mount(
                c".".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_MOVE,
                std::ptr::null(),
            )
        };
        check(rc, "moving the new root over the initramfs")?;
        // SAFETY: chroot to the current directory; checked.
        check(unsafe { libc::chroot(c".".as_ptr()) }, "chroot")?;
        // SAFETY: chdir to "/".
        return check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /");
    }
    check(rc, "pivot_root")?;
    // SAFETY: detach the old root, now mounted on top of ".".
    check(
        unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) },
        "detaching the old root",
    )?;
    // SAFETY: chdir to "/".
    check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /")
}

/// pivot_root into an empty, read-only tmpfs: the process has no host
/// paths left.
pub fn pivot_into_empty() -> Result<()> {
    make_mounts_private()?;
    let dir = scratch_dir()?;
    mount_tmpfs(dir, c"size=4k,nr_inodes=4,mode=0555")?;
    pivot_here(dir)?;
    // SAFETY: remount the new root read-only; checked.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT
                | libc::MS_BIND
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    check(rc, "remounting the empty root read-only")
}

/// pivot_root into a small read-only tmpfs holding `/root`, a recursive
/// bind of `rootfs` (the host's /proc and /sys below it detached: the
/// sandbox has its own), and `/b1`, `/b2`, … read-only binds of `binds`.
/// Returns the directories to serve, the root first.
pub fn pivot_into(rootfs: &Path, binds: &[(std::path::PathBuf, bool)]) -> Result<Vec<String>> {
    make_mounts_private()?;
    if rootfs.starts_with("/proc") {
        bail!("refusing {} as a root file system", rootfs.display());
    }
    // The scratch mount goes on /proc, which the gofer hides anyway: it
    // cannot shadow part of the root file system (/tmp could).
    let dir = c"/proc";
    mount_tmpfs(dir, c"size=4k,nr_inodes=64,mode=0700")?;
    let mut served = Vec::new();
    // The root is never written through the gofer (the sentry's overlay
    // keeps writes): it is bound read-only like the read-only binds.
    let sources = std::iter::once((rootfs.to_path_buf(), false)).chain(binds.iter().cloned());
    for (i, (src_path, rw)) in sources.enumerate() {
        let name = if i == 0 {
            "/root".to_string()
        } else {
            format!("/b{i}")
        };
        let target_c = cstr(&format!("/proc{name}"))?;
        // SAFETY: mkdir in our private tmpfs; checked.
        check(
            unsafe { libc::mkdir(target_c.as_ptr(), 0o700) },
            "mkdir in the scratch root",
        )?;
        let src = cstr(
            src_path
                .to_str()
                .ok_or_else(|| anyhow!("path {} is not UTF-8", src_path.display()))?,
        )?;
        // SAFETY: bind mount between two valid paths; checked.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target_c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        check(rc, &format!("binding {}", src_path.display()))?;
        if !rw {
            // SAFETY: remount of the bind just made; checked.
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    target_c.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                    std::ptr::null(),
                )
            };
            check(
                rc,
                &format!("making the bind of {} read-only", src_path.display()),
            )?;
        }
        served.push(name);
    }
    pivot_here(dir)?;
    // Detach everything stacked on /proc and /sys below the served root
    // (the host's proc and sys, and the scratch copy when the rootfs is /).
    for sub in [c"/root/proc", c"/root/sys"] {
        for _ in 0..8 {
            // SAFETY: detaching a mount below the new root; EINVAL (not a
            // mount point any more) ends the loop.
            if unsafe { libc::umount2(sub.as_ptr(), libc::MNT_DETACH) } != 0 {
                break;
            }
        }
    }
    // SAFETY: remount the scratch root read-only; checked.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        )
    };
    check(rc, "remounting the gofer's root read-only")?;
    Ok(served)
}
