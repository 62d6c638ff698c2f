//! fcntl (descriptor flags, status flags, record locks, pipe size) and
//! flock.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::vfs::FileDescription;

use super::sys_open::dup_to;
use super::Args;

/// fcntl commands the libc crate does not name.
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;
const F_ADD_SEALS: i32 = 1033;
const F_GET_SEALS: i32 = 1034;

/// The memfd behind `f`, if it is a tmpfs file.
fn tmp_file(f: &Arc<dyn FileDescription>) -> SysResult<&crate::fsimpl::tmpfs::TmpFile> {
    f.as_any()
        .downcast_ref::<crate::fsimpl::tmpfs::TmpFile>()
        .ok_or(Errno::EINVAL)
}

pub(crate) fn fcntl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fd = i64::from(a.fd(0));
    let cmd = a.int(1);
    let entry = t.fds().get(fd)?.clone();
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(a.long(2)).map_err(|_| Errno::EINVAL)?;
            if min >= crate::vfs::MAX_FDS {
                return Err(Errno::EINVAL);
            }
            dup_to(t, entry.file, min, cmd == libc::F_DUPFD_CLOEXEC)
        }
        libc::F_GETFD => Ok(entry.cloexec as u64),
        libc::F_SETFD => {
            t.fds().set_cloexec(fd, a.raw(2) & 1 != 0)?;
            Ok(0)
        }
        libc::F_GETFL => {
            let fasync = if t.kernel.fasync.is_async(&entry.file) {
                libc::O_ASYNC as u32
            } else {
                0
            };
            Ok((entry.file.status_flags() | fasync) as u64)
        }
        libc::F_SETFL => {
            let flags = a.uint(2);
            entry.file.set_status_flags(flags & !(libc::O_ASYNC as u32));
            set_async(t, &entry.file, flags & libc::O_ASYNC as u32 != 0);
            Ok(0)
        }
        libc::F_SETOWN => {
            let who = a.int(2);
            if who == i32::MIN {
                return Err(Errno::EINVAL);
            }
            let (kind, id) = if who < 0 {
                (crate::kernel::fasync::F_OWNER_PGRP, -who)
            } else {
                (crate::kernel::fasync::F_OWNER_PID, who)
            };
            let kernel = t.kernel.clone();
            kernel.fasync.set_owner(&kernel, &entry.file, kind, id)?;
            Ok(0)
        }
        libc::F_GETOWN => {
            let o = t.kernel.fasync.owner(&entry.file);
            Ok(if o.kind == crate::kernel::fasync::F_OWNER_PGRP {
                (-o.id) as i64 as u64
            } else {
                o.id as i64 as u64
            })
        }
        F_SETOWN_EX => {
            let mut b = [0u8; 8];
            t.mm().copy_in(a.ptr(2), &mut b)?;
            let kind = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let id = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            if !(0..=2).contains(&kind) || id < 0 {
                return Err(Errno::EINVAL);
            }
            let kernel = t.kernel.clone();
            kernel.fasync.set_owner(&kernel, &entry.file, kind, id)?;
            Ok(0)
        }
        F_GETOWN_EX => {
            let o = t.kernel.fasync.owner(&entry.file);
            let kind = if o.id == 0 {
                crate::kernel::fasync::F_OWNER_PID
            } else {
                o.kind
            };
            let mut b = kind.to_ne_bytes().to_vec();
            b.extend_from_slice(&o.id.to_ne_bytes());
            t.mm().copy_out(a.ptr(2), &b)?;
            Ok(0)
        }
        F_SETSIG => {
            t.kernel.fasync.set_sig(&entry.file, a.uint(2))?;
            Ok(0)
        }
        F_GETSIG => Ok(t.kernel.fasync.sig(&entry.file) as u64),
        libc::F_GETLK | libc::F_SETLK | libc::F_SETLKW | 36..=38 => {
            drop(entry);
            fcntl_lock(t, fd, cmd, a.ptr(2))
        }
        libc::F_GETPIPE_SZ => match entry
            .file
            .as_any()
            .downcast_ref::<crate::fsimpl::pipe::PipeEnd>()
        {
            Some(p) => Ok(p.capacity() as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_SETPIPE_SZ => match entry
            .file
            .as_any()
            .downcast_ref::<crate::fsimpl::pipe::PipeEnd>()
        {
            Some(p) => Ok(p.set_capacity(a.uint(2) as usize)? as u64),
            None => Err(Errno::EBADF),
        },
        F_ADD_SEALS => {
            // A read-only file is EPERM before anything else (Linux).
            let acc = entry.file.status_flags() as i32 & libc::O_ACCMODE;
            if acc == libc::O_RDONLY {
                return Err(Errno::EPERM);
            }
            if a.uint(2) & !0x3f != 0 {
                return Err(Errno::EINVAL);
            }
            tmp_file(&entry.file)?.add_seals(u64::from(a.uint(2)))?;
            Ok(0)
        }
        F_GET_SEALS => Ok(u64::from(tmp_file(&entry.file)?.get_seals()?)),
        _ => Err(Errno::EINVAL),
    }
}

/// O_ASYNC on or off (F_SETFL, FIOASYNC).
pub(crate) fn set_async(t: &Task, file: &Arc<dyn FileDescription>, on: bool) {
    let kernel = t.kernel.clone();
    kernel.fasync.set_async(&kernel, file, on);
}

fn read_flock(t: &Task, addr: u64, f: &Arc<dyn FileDescription>) -> SysResult<(i16, u64, u64)> {
    let mut b = [0u8; 32];
    t.mm().copy_in(addr, &mut b)?;
    let ty = i16::from_le_bytes([b[0], b[1]]);
    let whence = i16::from_le_bytes([b[2], b[3]]);
    let start = i64::from_le_bytes(b[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    let len = i64::from_le_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
    let base = match whence {
        0 => 0,
        1 => f.seek(0, crate::vfs::Whence::Cur).unwrap_or(0) as i64,
        2 => f.stat()?.size,
        _ => return Err(Errno::EINVAL),
    };
    let mut s = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let mut e = if len == 0 {
        i64::MAX
    } else {
        s.checked_add(len).ok_or(Errno::EOVERFLOW)?
    };
    if len < 0 {
        e = s;
        s = s.checked_add(len).ok_or(Errno::EOVERFLOW)?;
    }
    if s < 0 {
        return Err(Errno::EINVAL);
    }
    let end = if len == 0 { u64::MAX } else { e as u64 };
    Ok((ty, s as u64, end))
}

fn fcntl_lock(t: &mut Task, fd: i64, cmd: i32, addr: u64) -> SysResult<u64> {
    use crate::vfs::locks::{file_owner, Owner};
    const F_OFD_GETLK: i32 = 36;
    const F_OFD_SETLK: i32 = 37;
    const F_OFD_SETLKW: i32 = 38;
    let f = t.fds().file(fd)?;
    let (ty, start, end) = read_flock(t, addr, &f)?;
    let st = f.stat()?;
    let key = (st.dev, st.ino);
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    let owner = if ofd {
        file_owner(&f)
    } else {
        Owner::Process(t.pid)
    };
    let (rd, wr, un) = (
        libc::F_RDLCK as i16,
        libc::F_WRLCK as i16,
        libc::F_UNLCK as i16,
    );
    if ty != rd && ty != wr && ty != un {
        return Err(Errno::EINVAL);
    }
    let acc = f.status_flags() as i32 & libc::O_ACCMODE;
    match cmd {
        libc::F_GETLK | F_OFD_GETLK => {
            let mut b = [0u8; 32];
            t.mm().copy_in(addr, &mut b)?;
            match t.kernel.locks.test(key, &owner, start, end, ty == wr) {
                None => b[0..2].copy_from_slice(&un.to_le_bytes()),
                Some((w, s, e, pid)) => {
                    b[0..2].copy_from_slice(&(if w { wr } else { rd }).to_le_bytes());
                    b[2..4].copy_from_slice(&0i16.to_le_bytes());
                    b[8..16].copy_from_slice(&(s as i64).to_le_bytes());
                    let len = if e == u64::MAX {
                        0
                    } else {
                        e.saturating_sub(s) as i64
                    };
                    b[16..24].copy_from_slice(&len.to_le_bytes());
                    b[24..28].copy_from_slice(&pid.to_le_bytes());
                }
            }
            t.mm().copy_out(addr, &b)?;
            Ok(0)
        }
        _ => {
            if (ty == rd && acc == libc::O_WRONLY) || (ty == wr && acc == libc::O_RDONLY) {
                return Err(Errno::EBADF);
            }
            let wait = matches!(cmd, libc::F_SETLKW | F_OFD_SETLKW);
            t.kernel
                .locks
                .set(t, key, owner, start, end, ty == wr, ty == un, wait, false)?;
            Ok(0)
        }
    }
}

pub(crate) fn flock(t: &mut Task, a: &Args) -> SysResult<u64> {
    const LOCK_SH: u32 = 1;
    const LOCK_EX: u32 = 2;
    const LOCK_NB: u32 = 4;
    const LOCK_UN: u32 = 8;
    let f = t.fds().file(a.fd(0).into())?;
    let st = f.stat()?;
    let cmd = a.uint(1);
    let op = cmd & !LOCK_NB;
    if !matches!(op, LOCK_SH | LOCK_EX | LOCK_UN) {
        return Err(Errno::EINVAL);
    }
    let owner = crate::vfs::locks::file_owner(&f);
    t.kernel.locks.set(
        t,
        (st.dev, st.ino),
        owner,
        0,
        u64::MAX,
        op == LOCK_EX,
        op == LOCK_UN,
        cmd & LOCK_NB == 0,
        true,
    )?;
    Ok(0)
}
