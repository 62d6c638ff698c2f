//! open, read, write, lseek, close on tmpfs.

use super::Harness;
use crate::errno::Errno;
use libc::{O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};

const SEEK_SET: u64 = libc::SEEK_SET as u64;
const SEEK_CUR: u64 = libc::SEEK_CUR as u64;
const SEEK_END: u64 = libc::SEEK_END as u64;

#[test]
fn open_read_write_lseek_close() {
    let mut h = Harness::new();
    assert_eq!(h.open("/f", O_RDWR, 0), Err(Errno::ENOENT));
    // No descriptors are open: the first one is 0.
    let fd = h.open("/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(fd, 0);
    assert_eq!(h.write_fd(fd, b"hello world"), Ok(11));
    assert_eq!(h.call("lseek", &[fd, 0, SEEK_CUR]), Ok(11));
    assert_eq!(h.call("lseek", &[fd, 0, SEEK_SET]), Ok(0));
    assert_eq!(h.read_fd(fd, 5).unwrap(), b"hello");
    assert_eq!(h.call("lseek", &[fd, -5i64 as u64, SEEK_END]), Ok(6));
    assert_eq!(h.read_fd(fd, 100).unwrap(), b"world");
    // At the end of the file a read returns 0 bytes.
    assert_eq!(h.read_fd(fd, 100).unwrap(), b"");
    // A negative resulting offset and an unknown whence are EINVAL.
    assert_eq!(
        h.call("lseek", &[fd, -100i64 as u64, SEEK_SET]),
        Err(Errno::EINVAL)
    );
    assert_eq!(h.call("lseek", &[fd, 0, 99]), Err(Errno::EINVAL));
    // Writing past the end leaves a hole that reads as zeros.
    assert_eq!(h.call("lseek", &[fd, 20, SEEK_SET]), Ok(20));
    assert_eq!(h.write_fd(fd, b"x"), Ok(1));
    assert_eq!(h.call("lseek", &[fd, 0, SEEK_END]), Ok(21));
    assert_eq!(h.call("lseek", &[fd, 11, SEEK_SET]), Ok(11));
    assert_eq!(h.read_fd(fd, 100).unwrap(), b"\0\0\0\0\0\0\0\0\0x");
    assert_eq!(h.call("close", &[fd]), Ok(0));
    assert_eq!(h.call("close", &[fd]), Err(Errno::EBADF));
    assert_eq!(h.read_fd(fd, 1), Err(Errno::EBADF));
    assert_eq!(h.call("lseek", &[fd, 0, SEEK_SET]), Err(Errno::EBADF));
}

#[test]
fn open_flags() {
    let mut h = Harness::new();
    h.create_file("/f", b"0123456789");
    assert_eq!(
        h.open("/f", O_CREAT | O_EXCL | O_RDWR, 0o644),
        Err(Errno::EEXIST)
    );
    // The access mode is enforced.
    let ro = h.open("/f", O_RDONLY, 0).unwrap();
    assert_eq!(h.write_fd(ro, b"x"), Err(Errno::EBADF));
    let wo = h.open("/f", O_WRONLY, 0).unwrap();
    assert_eq!(h.read_fd(wo, 1), Err(Errno::EBADF));
    // O_APPEND writes at the end, whatever the offset.
    let ap = h.open("/f", O_WRONLY | O_APPEND, 0).unwrap();
    assert_eq!(h.write_fd(ap, b"ab"), Ok(2));
    assert_eq!(h.read_fd(ro, 100).unwrap(), b"0123456789ab");
    // O_TRUNC empties the file.
    let tr = h.open("/f", O_WRONLY | O_TRUNC, 0).unwrap();
    assert_eq!(h.call("lseek", &[tr, 0, SEEK_END]), Ok(0));
    // Directories: not for writing, not readable with read, O_DIRECTORY
    // wants one.
    assert_eq!(h.open("/", O_WRONLY, 0), Err(Errno::EISDIR));
    assert_eq!(h.open("/f", O_RDONLY | O_DIRECTORY, 0), Err(Errno::ENOTDIR));
    let d = h.open("/", O_RDONLY | O_DIRECTORY, 0).unwrap();
    assert_eq!(h.read_fd(d, 10), Err(Errno::EISDIR));
    // A file in the middle of a path.
    assert_eq!(h.open("/f/x", O_RDONLY, 0), Err(Errno::ENOTDIR));
    // A bad path pointer.
    assert_eq!(h.call("open", &[0, O_RDONLY as u64, 0]), Err(Errno::EFAULT));
    // The created mode is masked by the umask (022).
    h.open("/g", O_CREAT | O_WRONLY, 0o666).unwrap();
    assert_eq!(h.stat("/g", true).unwrap().st_mode & 0o7777, 0o644);
}

#[test]
fn openat_relative_to_a_directory_fd() {
    let mut h = Harness::new();
    let dir = h.cstr("/d");
    h.call("mkdir", &[dir, 0o755]).unwrap();
    h.create_file("/d/f", b"in d");
    let dfd = h.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let name = h.cstr("f");
    let fd = h.call("openat", &[dfd, name, O_RDONLY as u64, 0]).unwrap();
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"in d");
    // Relative to a file descriptor that is not a directory.
    assert_eq!(
        h.call("openat", &[fd, name, O_RDONLY as u64, 0]),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        h.call("openat", &[99, name, O_RDONLY as u64, 0]),
        Err(Errno::EBADF)
    );
    // An absolute path ignores dirfd.
    let abs = h.cstr("/d/f");
    assert!(h.call("openat", &[99, abs, O_RDONLY as u64, 0]).is_ok());
}

#[test]
fn pread_and_pwrite_leave_the_offset() {
    let mut h = Harness::new();
    h.create_file("/f", b"abcdef");
    let fd = h.open("/f", O_RDWR, 0).unwrap();
    let buf = h.alloc(3);
    assert_eq!(h.call("pread64", &[fd, buf, 3, 2]), Ok(3));
    assert_eq!(h.read(buf, 3), b"cde");
    let x = h.put(b"XY");
    assert_eq!(h.call("pwrite64", &[fd, x, 2, 4]), Ok(2));
    assert_eq!(h.call("lseek", &[fd, 0, SEEK_CUR]), Ok(0));
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"abcdXY");
    assert_eq!(
        h.call("pread64", &[fd, buf, 3, -1i64 as u64]),
        Err(Errno::EINVAL)
    );
}
