//! Namespaces and mounts: unshare, mount, umount2.
//!
//! A mount namespace is a mount table ([`crate::vfs::Vfs`]) the tasks that
//! share it reach through their fs context; unshare(CLONE_NEWNS) gives the
//! caller a copy. A UTS namespace is the pair of names uname shows.

use std::sync::{Arc, Mutex};

use crate::errno::{Errno, SysResult};
use crate::fsimpl::sysfs::SysFs;
use crate::fsimpl::tmpfs::TmpFs;
use crate::kernel::process::flags::*;
use crate::kernel::task::FsContext;
use crate::kernel::Task;
use crate::vfs::mounts::{mnt, ms};
use crate::vfs::{Start, S_IFDIR, S_IFMT};

use super::Args;

const CAP_SYS_ADMIN: u32 = 21;
const PROC_MAGIC: u64 = 0x9fa0;
const SYSFS_MAGIC: u64 = 0x6265_6572;

pub(crate) fn unshare(t: &mut Task, a: &Args) -> SysResult<u64> {
    let mut fl = a.long(0) as u64;
    let known = CLONE_THREAD
        | CLONE_FS
        | CLONE_NEWNS
        | CLONE_SIGHAND
        | CLONE_VM
        | CLONE_FILES
        | CLONE_SYSVSEM
        | CLONE_NEWUTS
        | CLONE_NEWIPC
        | CLONE_NEWNET
        | CLONE_NEWUSER
        | CLONE_NEWPID
        | CLONE_NEWCGROUP
        | CLONE_NEWTIME;
    if fl & !known != 0 {
        return Err(Errno::EINVAL);
    }
    // The implied flags, as Linux's ksys_unshare.
    if fl & CLONE_NEWUSER != 0 {
        fl |= CLONE_THREAD | CLONE_FS;
    }
    if fl & CLONE_VM != 0 {
        fl |= CLONE_SIGHAND;
    }
    if fl & CLONE_SIGHAND != 0 {
        fl |= CLONE_THREAD;
    }
    if fl & CLONE_NEWNS != 0 {
        fl |= CLONE_FS;
    }
    // Threads, signal handlers and memory can be "unshared" only when not
    // shared (the caller is the only thread, its memory its own).
    if fl & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0 && t.handle.tg.lock().threads.len() > 1 {
        return Err(Errno::EINVAL);
    }
    if fl & CLONE_VM != 0 && Arc::strong_count(&t.mm) > 1 {
        return Err(Errno::EINVAL);
    }
    let namespaces = CLONE_NEWNS
        | CLONE_NEWUTS
        | CLONE_NEWIPC
        | CLONE_NEWNET
        | CLONE_NEWPID
        | CLONE_NEWCGROUP
        | CLONE_NEWTIME;
    if fl & namespaces != 0 && !super::sys_priv::capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    // Namespaces the sandbox does not make (one user, PID, network,
    // cgroup, time and IPC namespace for all its processes).
    if fl
        & (CLONE_NEWUSER
            | CLONE_NEWIPC
            | CLONE_NEWNET
            | CLONE_NEWPID
            | CLONE_NEWCGROUP
            | CLONE_NEWTIME)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    if fl & CLONE_FS != 0 {
        let mut c: FsContext = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if fl & CLONE_NEWNS != 0 {
            c.root = Arc::new(c.root.copy_table());
        }
        t.fsctx = Arc::new(Mutex::new(c));
    }
    if fl & CLONE_FILES != 0 {
        let copy = t.fds().clone();
        t.fds = Arc::new(Mutex::new(copy));
    }
    if fl & CLONE_NEWUTS != 0 {
        super::sys_uts::unshare_uts(t);
    }
    // CLONE_SYSVSEM: the semaphore undo list is the process's already.
    t.publish_info(None);
    Ok(0)
}

/// A string argument of mount(2): None for NULL.
fn mount_string(t: &mut Task, addr: u64) -> SysResult<Option<String>> {
    if addr == 0 {
        return Ok(None);
    }
    match t.mm().read_cstring(addr, 4095) {
        Ok(s) => Ok(Some(String::from_utf8_lossy(&s).into_owned())),
        Err(Errno::ENAMETOOLONG) => Err(Errno::EINVAL),
        Err(e) => Err(e),
    }
}

/// The data argument of mount(2): at most a page, cut at a NUL.
fn mount_data(t: &mut Task, addr: u64) -> SysResult<String> {
    if addr == 0 {
        return Ok(String::new());
    }
    match t.mm().read_cstring(addr, 4095) {
        Ok(s) => Ok(String::from_utf8_lossy(&s).into_owned()),
        Err(Errno::ENAMETOOLONG) => {
            let mut b = vec![0u8; 4095];
            t.mm().copy_in(addr, &mut b)?;
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
        Err(e) => Err(e),
    }
}

/// A tmpfs size= value: bytes with an optional k/m/g/t/p/e suffix, or a
/// percentage of memory.
fn parse_size(v: &str) -> Option<u64> {
    let (num, mul) = match v.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() || c == '%' => (
            &v[..i],
            match c.to_ascii_lowercase() {
                'k' => 1u64 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                'e' => 1 << 60,
                '%' => 1,
                _ => return None,
            },
        ),
        _ => (v, 1),
    };
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mul)
}

/// The root mode of a tmpfs from its options (mode=, default 01777);
/// unknown options or bad values are EINVAL, as Linux.
fn tmpfs_mode(data: &str) -> SysResult<u32> {
    let mut mode = 0o1777;
    for opt in data.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k {
            "mode" => {
                mode = u32::from_str_radix(v, 8).map_err(|_| Errno::EINVAL)? & 0o7777;
            }
            "size" | "nr_blocks" | "nr_inodes" => {
                parse_size(v).ok_or(Errno::EINVAL)?;
            }
            "uid" | "gid" => {
                v.parse::<u32>().map_err(|_| Errno::EINVAL)?;
            }
            "huge" => {
                if !["never", "always", "within_size", "advise", "deny", "force"].contains(&v) {
                    return Err(Errno::EINVAL);
                }
            }
            // Options the mount flags also set.
            "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "noatime"
            | "strictatime" | "sync" | "async" => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(mode)
}

pub(crate) fn mount(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fstype = mount_string(t, a.ptr(2))?;
    let source = mount_string(t, a.ptr(0))?;
    let data = mount_data(t, a.ptr(4))?;
    let path = t.read_path(a.ptr(1))?;
    let mut flags = a.long(3) as u64;
    let root = t.root();
    let cwd = t.cwd();
    let target = root.resolve(&Start::cwd(t, &cwd), &path, true)?;
    let st = root.lstat_abs(t, &target.abs)?;
    if target.trailing_slash && st.mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if flags & ms::MGC_MSK == ms::MGC_VAL {
        flags &= !ms::MGC_MSK;
    }
    if flags & ms::NOUSER != 0 {
        return Err(Errno::EINVAL);
    }
    if !super::sys_priv::capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let ro = flags & ms::RDONLY != 0;
    if flags & (ms::REMOUNT | ms::BIND) == ms::REMOUNT | ms::BIND || flags & ms::REMOUNT != 0 {
        root.remount(&target.abs, ro)?;
        return Ok(0);
    }
    if flags & ms::BIND != 0 {
        let src = source.filter(|s| !s.is_empty()).ok_or(Errno::EINVAL)?;
        let s = root.resolve(&Start::cwd(t, &cwd), src.as_bytes(), true)?;
        let sst = root.lstat_abs(t, &s.abs)?;
        root.bind(&s.abs, &sst, &target.abs, &st, flags & ms::REC != 0)?;
        return Ok(0);
    }
    let propagation = ms::SHARED | ms::PRIVATE | ms::SLAVE | ms::UNBINDABLE;
    if flags & propagation != 0 {
        // Exactly one propagation type; accepted on a mount point (every
        // mount is private: nothing propagates between mount tables).
        let ty = flags & !(ms::REC | ms::SILENT);
        if ty.count_ones() != 1 || ty & propagation == 0 {
            return Err(Errno::EINVAL);
        }
        if !root.is_mount_point(&target.abs) {
            return Err(Errno::EINVAL);
        }
        return Ok(0);
    }
    if flags & ms::MOVE != 0 {
        return Err(Errno::EINVAL);
    }
    let fstype = fstype.ok_or(Errno::EINVAL)?;
    let source = source.unwrap_or_else(|| "none".into());
    let fs: Arc<dyn crate::vfs::Fs> = match fstype.as_str() {
        "tmpfs" => {
            let mode = tmpfs_mode(&data)?;
            static DEV: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x100);
            let dev = DEV.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            TmpFs::new(mode, dev)
        }
        "proc" => root
            .find_fs(PROC_MAGIC)
            .or_else(|| t.kernel.fs.find_fs(PROC_MAGIC))
            .ok_or(Errno::ENODEV)?,
        "sysfs" => match root.find_fs(SYSFS_MAGIC) {
            Some(fs) => fs,
            None => {
                let fs = SysFs::new(t.kernel.config.cpus);
                let devices: Arc<dyn crate::fsimpl::sysfs::NetDevices> = t.kernel.net.clone();
                fs.attach_net(Arc::downgrade(&devices));
                fs
            }
        },
        "" => return Err(Errno::ENODEV),
        _ => return Err(Errno::ENODEV),
    };
    root.mount_new(&target.abs, &st, fs, &source, &fstype, ro)?;
    Ok(0)
}

pub(crate) fn umount2(t: &mut Task, a: &Args) -> SysResult<u64> {
    let flags = a.uint(1);
    if flags & !(mnt::FORCE | mnt::DETACH | mnt::EXPIRE | mnt::NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(a.ptr(0))?;
    let root = t.root();
    let cwd = t.cwd();
    let target = root.resolve(&Start::cwd(t, &cwd), &path, flags & mnt::NOFOLLOW == 0)?;
    root.lstat_abs(t, &target.abs)?;
    if !super::sys_priv::capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if flags & mnt::EXPIRE != 0 && flags & (mnt::FORCE | mnt::DETACH) != 0 {
        return Err(Errno::EINVAL);
    }
    root.umount(&target.abs, flags, &cwd)?;
    Ok(0)
}

/// setns(2) with a /proc/[pid]/ns/uts or mnt file: the caller joins that
/// UTS or mount namespace (`nstype` 0 or the matching CLONE_NEW* flag).
pub(crate) fn setns(t: &mut Task, a: &Args) -> SysResult<u64> {
    use crate::procfs::ns::{Ns, NsFile};
    let f = t.fds().file(a.fd(0).into())?;
    let nstype = a.long(1) as u64;
    let Some(ns) = f.as_any().downcast_ref::<NsFile>().map(|n| n.0.clone()) else {
        // pidfds and other files name no namespace the sandbox makes.
        return Err(Errno::EINVAL);
    };
    let want = match ns {
        Ns::Uts(_) => CLONE_NEWUTS,
        Ns::Mnt(_) => CLONE_NEWNS,
    };
    if nstype != 0 && nstype != want {
        return Err(Errno::EINVAL);
    }
    if !super::sys_priv::capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    match ns {
        Ns::Uts(u) => t.uts = u,
        Ns::Mnt(vfs) => {
            const CAP_SYS_CHROOT: u32 = 18;
            if !super::sys_priv::capable(t, CAP_SYS_CHROOT) {
                return Err(Errno::EPERM);
            }
            // The fs context must not be shared (CLONE_FS): as Linux.
            if Arc::strong_count(&t.fsctx) > 1 {
                return Err(Errno::EINVAL);
            }
            // Root and working directory go to the namespace's root.
            let umask = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).umask;
            t.fsctx = Arc::new(Mutex::new(FsContext {
                root: vfs,
                cwd: "/".into(),
                umask,
                chroot: None,
            }));
        }
    }
    t.publish_info(None);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options() {
        assert_eq!(tmpfs_mode(""), Ok(0o1777));
        assert_eq!(tmpfs_mode("size=1m,mode=700"), Ok(0o700));
        assert_eq!(tmpfs_mode("mode=9"), Err(Errno::EINVAL));
        assert_eq!(tmpfs_mode("size=12x"), Err(Errno::EINVAL));
        assert_eq!(tmpfs_mode("bogus"), Err(Errno::EINVAL));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("99999999999e"), None);
        assert_eq!(parse_size(""), None);
    }
}
