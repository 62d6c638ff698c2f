//! pipe and pipe2 with read and write; no call here waits.

use super::Harness;
use crate::errno::Errno;
use libc::{O_CLOEXEC, O_NONBLOCK};

impl Harness {
    /// pipe2(flags): (read end, write end).
    fn pipe2(&mut self, flags: i32) -> Result<(u64, u64), Errno> {
        let fds = self.alloc(8);
        self.call("pipe2", &[fds, flags as u64])?;
        Ok((
            u64::from(self.read_u32(fds)),
            u64::from(self.read_u32(fds + 4)),
        ))
    }
}

#[test]
fn pipe_carries_bytes_in_order() {
    let mut h = Harness::new();
    let fds = h.alloc(8);
    assert_eq!(h.call("pipe", &[fds]), Ok(0));
    let (r, w) = (u64::from(h.read_u32(fds)), u64::from(h.read_u32(fds + 4)));
    assert_eq!((r, w), (0, 1));
    // Write first, then read: nothing waits.
    assert_eq!(h.write_fd(w, b"hello "), Ok(6));
    assert_eq!(h.write_fd(w, b"world"), Ok(5));
    assert_eq!(h.read_fd(r, 3).unwrap(), b"hel");
    assert_eq!(h.read_fd(r, 100).unwrap(), b"lo world");
    // Each end has one direction.
    assert_eq!(h.write_fd(r, b"x"), Err(Errno::EBADF));
    assert_eq!(h.read_fd(w, 1), Err(Errno::EBADF));
    // Pipes do not seek and stat as FIFOs.
    assert_eq!(h.call("lseek", &[r, 0, 0]), Err(Errno::ESPIPE));
    let st = h.alloc(std::mem::size_of::<libc::stat>());
    h.call("fstat", &[r, st]).unwrap();
    assert_eq!(
        h.read_struct::<libc::stat>(st).st_mode & libc::S_IFMT,
        libc::S_IFIFO
    );
    // The access modes as F_GETFL shows them.
    let fl_r = h.call("fcntl", &[r, libc::F_GETFL as u64]).unwrap() as i32;
    let fl_w = h.call("fcntl", &[w, libc::F_GETFL as u64]).unwrap() as i32;
    assert_eq!(fl_r & libc::O_ACCMODE, libc::O_RDONLY);
    assert_eq!(fl_w & libc::O_ACCMODE, libc::O_WRONLY);
    // With the write end closed and the pipe drained, read returns 0 (EOF).
    h.write_fd(w, b"last").unwrap();
    h.call("close", &[w]).unwrap();
    assert_eq!(h.read_fd(r, 100).unwrap(), b"last");
    assert_eq!(h.read_fd(r, 100).unwrap(), b"");
    assert_eq!(h.call("pipe", &[0]), Err(Errno::EFAULT));
}

#[test]
fn pipe2_flags_and_nonblocking_eagain() {
    let mut h = Harness::new();
    assert_eq!(h.pipe2(libc::O_RDWR), Err(Errno::EINVAL));
    let (r, w) = h.pipe2(O_NONBLOCK | O_CLOEXEC).unwrap();
    assert_eq!(h.call("fcntl", &[r, libc::F_GETFD as u64]), Ok(1));
    assert_eq!(h.call("fcntl", &[w, libc::F_GETFD as u64]), Ok(1));
    let fl = h.call("fcntl", &[r, libc::F_GETFL as u64]).unwrap() as i32;
    assert_eq!(fl & O_NONBLOCK, O_NONBLOCK);
    // Empty: EAGAIN instead of waiting.
    assert_eq!(h.read_fd(r, 10), Err(Errno::EAGAIN));
    // Full (64 KiB by default): a big write takes what fits, the next one
    // is EAGAIN.
    let big = vec![7u8; 100_000];
    assert_eq!(h.write_fd(w, &big), Ok(65536));
    assert_eq!(h.write_fd(w, b"x"), Err(Errno::EAGAIN));
    assert_eq!(h.read_fd(r, 65536).unwrap().len(), 65536);
    assert_eq!(h.read_fd(r, 1), Err(Errno::EAGAIN));
    // A blocking pipe made non-blocking with F_SETFL.
    let (r2, _w2) = h.pipe2(0).unwrap();
    h.call("fcntl", &[r2, libc::F_SETFL as u64, O_NONBLOCK as u64])
        .unwrap();
    assert_eq!(h.read_fd(r2, 10), Err(Errno::EAGAIN));
}

#[test]
fn write_without_reader_is_epipe_and_sigpipe() {
    let mut h = Harness::new();
    // Blocked, so that it stays pending (rt_sigpending shows pending
    // signals that are blocked).
    let mask = h.put(&(1u64 << (libc::SIGPIPE - 1)).to_ne_bytes());
    h.call("rt_sigprocmask", &[libc::SIG_BLOCK as u64, mask, 0, 8])
        .unwrap();
    let (r, w) = h.pipe2(O_NONBLOCK).unwrap();
    h.call("close", &[r]).unwrap();
    assert_eq!(h.write_fd(w, b"x"), Err(Errno::EPIPE));
    // SIGPIPE is now pending for the process.
    let set = h.alloc(8);
    assert_eq!(h.call("rt_sigpending", &[set, 8]), Ok(0));
    let pending = h.read_u64(set);
    assert_ne!(pending & (1 << (libc::SIGPIPE - 1)), 0);
}
