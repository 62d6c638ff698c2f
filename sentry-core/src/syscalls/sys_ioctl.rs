//! ioctl: the requests every fd answers here; the rest go to the file.

use crate::errno::SysResult;
use crate::kernel::Task;

use super::Args;

pub(crate) fn ioctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    let fd = i64::from(a.fd(0));
    let file = t.fds().file(fd)?;
    let req = u64::from(a.uint(1));
    match req {
        // FIONBIO
        0x5421 => {
            let mut b = [0u8; 4];
            t.mm().copy_in(a.ptr(2), &mut b)?;
            let nb = libc::O_NONBLOCK as u32;
            let fl = file.status_flags();
            file.set_status_flags(if i32::from_le_bytes(b) != 0 {
                fl | nb
            } else {
                fl & !nb
            });
            Ok(0)
        }
        // FIOASYNC
        0x5452 => {
            let mut b = [0u8; 4];
            t.mm().copy_in(a.ptr(2), &mut b)?;
            super::sys_fcntl::set_async(t, &file, i32::from_ne_bytes(b) != 0);
            Ok(0)
        }
        // FIOCLEX, FIONCLEX
        0x5451 | 0x5450 => {
            t.fds().set_cloexec(fd, req == 0x5451)?;
            Ok(0)
        }
        _ => file.ioctl(t, req, a[2]),
    }
}
