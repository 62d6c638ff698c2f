//! mmap, munmap, mprotect, mremap through the syscall table, and how
//! system calls see the memory they map.

use super::Harness;
use crate::errno::Errno;

const PAGE: u64 = 4096;
const RW: u64 = (libc::PROT_READ | libc::PROT_WRITE) as u64;
const R: u64 = libc::PROT_READ as u64;
const PRIV_ANON: u64 = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
const FD_NONE: u64 = u64::MAX;

#[test]
fn mmap_argument_errors() {
    let mut h = Harness::new();
    // Zero length; neither MAP_PRIVATE nor MAP_SHARED; MAP_FIXED unaligned.
    assert_eq!(
        h.call("mmap", &[0, 0, RW, PRIV_ANON, FD_NONE, 0]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        h.call(
            "mmap",
            &[0, PAGE, RW, libc::MAP_ANONYMOUS as u64, FD_NONE, 0]
        ),
        Err(Errno::EINVAL)
    );
    let fixed = PRIV_ANON | libc::MAP_FIXED as u64;
    assert_eq!(
        h.call("mmap", &[0x10_1001, PAGE, RW, fixed, FD_NONE, 0]),
        Err(Errno::EINVAL)
    );
    // A file mapping of a descriptor that is not open, or unaligned offset.
    let priv_ = libc::MAP_PRIVATE as u64;
    assert_eq!(
        h.call("mmap", &[0, PAGE, R, priv_, 77, 0]),
        Err(Errno::EBADF)
    );
    h.create_file("/f", b"abc");
    let fd = h.open("/f", libc::O_RDONLY, 0).unwrap();
    assert_eq!(
        h.call("mmap", &[0, PAGE, R, priv_, fd, 100]),
        Err(Errno::EINVAL)
    );
    // Writable shared mapping of a read-only descriptor.
    let shared = libc::MAP_SHARED as u64;
    assert_eq!(
        h.call("mmap", &[0, PAGE, RW, shared, fd, 0]),
        Err(Errno::EACCES)
    );
    // munmap/mprotect want aligned addresses; mprotect wants mapped ones.
    assert_eq!(h.call("munmap", &[0x10_1001, PAGE]), Err(Errno::EINVAL));
    assert_eq!(h.call("munmap", &[0x10_0000, 0]), Err(Errno::EINVAL));
    assert_eq!(
        h.call("mprotect", &[0x10_1001, PAGE, R]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        h.call("mprotect", &[0x10_0000, PAGE, R]),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn syscalls_see_protection_and_unmapping() {
    let mut h = Harness::new();
    let a = h
        .call("mmap", &[0, 4 * PAGE, RW, PRIV_ANON, FD_NONE, 0])
        .unwrap();
    assert_eq!(a % PAGE, 0);
    h.create_file("/f", b"file data");
    let fd = h.open("/f", libc::O_RDONLY, 0).unwrap();
    // read() into the mapping works ...
    assert_eq!(h.call("read", &[fd, a, 9]), Ok(9));
    assert_eq!(h.read(a, 9), b"file data");
    // ... and after mprotect(PROT_READ) is EFAULT.
    assert_eq!(h.call("mprotect", &[a, PAGE, R]), Ok(0));
    h.call("lseek", &[fd, 0, 0]).unwrap();
    assert_eq!(h.call("read", &[fd, a, 9]), Err(Errno::EFAULT));
    // Still readable: write() from it works.
    let w = h.open("/g", libc::O_CREAT | libc::O_WRONLY, 0o644).unwrap();
    assert_eq!(h.call("write", &[w, a, 9]), Ok(9));
    // Unmapped memory is EFAULT both ways; unmapping twice is fine.
    assert_eq!(h.call("munmap", &[a, 4 * PAGE]), Ok(0));
    assert_eq!(h.call("munmap", &[a, 4 * PAGE]), Ok(0));
    assert_eq!(h.call("write", &[w, a, 9]), Err(Errno::EFAULT));
    assert_eq!(h.call("read", &[fd, a, 9]), Err(Errno::EFAULT));
}

#[test]
fn mremap_grows_and_keeps_contents() {
    let mut h = Harness::new();
    let a = h
        .call("mmap", &[0, 2 * PAGE, RW, PRIV_ANON, FD_NONE, 0])
        .unwrap();
    h.write(a + PAGE, b"keep me");
    let maymove = libc::MREMAP_MAYMOVE as u64;
    let b = h
        .call("mremap", &[a, 2 * PAGE, 64 * PAGE, maymove])
        .unwrap();
    assert_eq!(h.read(b + PAGE, 7), b"keep me");
    assert_eq!(h.read(b + 63 * PAGE, 4), [0; 4]);
    // Unknown flags, unaligned address.
    assert_eq!(
        h.call("mremap", &[b, PAGE, 2 * PAGE, 0x80]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        h.call("mremap", &[b + 1, PAGE, 2 * PAGE, maymove]),
        Err(Errno::EINVAL)
    );
    // Shrinking in place returns the same address.
    assert_eq!(h.call("mremap", &[b, 64 * PAGE, PAGE, 0]), Ok(b));
}

#[test]
fn shared_file_mapping_and_read_write_agree() {
    let mut h = Harness::new();
    h.create_file("/f", b"0123456789");
    let fd = h.open("/f", libc::O_RDWR, 0).unwrap();
    let shared = libc::MAP_SHARED as u64;
    let m = h.call("mmap", &[0, PAGE, RW, shared, fd, 0]).unwrap();
    assert_eq!(h.read(m, 10), b"0123456789");
    // A write() shows in the mapping, a store in the mapping shows to read().
    let p = h.put(b"AB");
    assert_eq!(h.call("pwrite64", &[fd, p, 2, 0]), Ok(2));
    assert_eq!(h.read(m, 4), b"AB23");
    h.write(m + 8, b"yz");
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"AB234567yz");
}
