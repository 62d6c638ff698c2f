//! stat, lstat, fstat, newfstatat.

use super::{Harness, AT_FDCWD};
use crate::errno::Errno;
use libc::{O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

const STAT_SIZE: usize = std::mem::size_of::<libc::stat>();

#[test]
fn stat_fields_of_a_file_and_a_directory() {
    let mut h = Harness::new();
    h.create_file("/f", b"hello");
    let st = h.stat("/f", true).unwrap();
    assert_eq!(st.st_mode & S_IFMT, S_IFREG);
    assert_eq!(st.st_mode & 0o7777, 0o644);
    assert_eq!(st.st_size, 5);
    assert_eq!(st.st_nlink, 1);
    assert_eq!((st.st_uid, st.st_gid), (0, 0));
    assert_ne!(st.st_ino, 0);
    let d = h.cstr("/d");
    h.call("mkdir", &[d, 0o777]).unwrap();
    let sd = h.stat("/d", true).unwrap();
    assert_eq!(sd.st_mode & S_IFMT, S_IFDIR);
    assert_eq!(sd.st_mode & 0o7777, 0o755, "0777 less the umask");
    assert_ne!(sd.st_ino, st.st_ino);
    assert_eq!(sd.st_dev, st.st_dev, "one file system");
    // A directory's link count: itself, its entry, and each subdirectory's "..".
    let sub = h.cstr("/d/sub");
    h.call("mkdir", &[sub, 0o755]).unwrap();
    assert_eq!(h.stat("/d", true).unwrap().st_nlink, 3);
    // Errors.
    assert_eq!(h.stat("/nope", true).err(), Some(Errno::ENOENT));
    assert_eq!(h.stat("/f/x", true).err(), Some(Errno::ENOTDIR));
    let buf = h.alloc(STAT_SIZE);
    assert_eq!(h.call("stat", &[0, buf]), Err(Errno::EFAULT));
    let p = h.cstr("/f");
    assert_eq!(h.call("stat", &[p, 0]), Err(Errno::EFAULT));
    let e = h.cstr("");
    assert_eq!(h.call("stat", &[e, buf]), Err(Errno::ENOENT));
}

#[test]
fn fstat_matches_stat() {
    let mut h = Harness::new();
    h.create_file("/f", b"0123456789");
    let fd = h.open("/f", O_RDONLY, 0).unwrap();
    let buf = h.alloc(STAT_SIZE);
    assert_eq!(h.call("fstat", &[fd, buf]), Ok(0));
    let a: libc::stat = h.read_struct(buf);
    let b = h.stat("/f", true).unwrap();
    assert_eq!(
        (a.st_ino, a.st_dev, a.st_mode),
        (b.st_ino, b.st_dev, b.st_mode)
    );
    assert_eq!(a.st_size, 10);
    // The size follows writes through another descriptor.
    let w = h.open("/f", O_WRONLY | libc::O_APPEND, 0).unwrap();
    h.write_fd(w, b"ab").unwrap();
    h.call("fstat", &[fd, buf]).unwrap();
    assert_eq!(h.read_struct::<libc::stat>(buf).st_size, 12);
    // An unlinked file is still there for fstat, with no links.
    let p = h.cstr("/f");
    h.call("unlink", &[p]).unwrap();
    h.call("fstat", &[fd, buf]).unwrap();
    assert_eq!(h.read_struct::<libc::stat>(buf).st_nlink, 0);
    assert_eq!(h.call("fstat", &[99, buf]), Err(Errno::EBADF));
    assert_eq!(h.call("fstat", &[fd, 0]), Err(Errno::EFAULT));
}

#[test]
fn newfstatat_flags_and_dirfd() {
    let mut h = Harness::new();
    let d = h.cstr("/d");
    h.call("mkdir", &[d, 0o755]).unwrap();
    h.create_file("/d/f", b"abc");
    let target = h.cstr("f");
    let link = h.cstr("/d/l");
    h.call("symlink", &[target, link]).unwrap();
    let buf = h.alloc(STAT_SIZE);
    // Relative to AT_FDCWD (cwd is /).
    let rel = h.cstr("d/f");
    assert_eq!(h.call("newfstatat", &[AT_FDCWD, rel, buf, 0]), Ok(0));
    assert_eq!(h.read_struct::<libc::stat>(buf).st_size, 3);
    // Relative to a directory descriptor; following the link or not.
    let dfd = h.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let l = h.cstr("l");
    h.call("newfstatat", &[dfd, l, buf, 0]).unwrap();
    let st: libc::stat = h.read_struct(buf);
    assert_eq!(st.st_mode & S_IFMT, S_IFREG);
    assert_eq!(st.st_size, 3);
    let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
    h.call("newfstatat", &[dfd, l, buf, nofollow]).unwrap();
    let st: libc::stat = h.read_struct(buf);
    assert_eq!(st.st_mode & S_IFMT, S_IFLNK);
    assert_eq!(st.st_size, 1, "a symlink's size is its target's length");
    // AT_EMPTY_PATH stats the descriptor itself.
    let empty = h.cstr("");
    let fd = h.open("/d/f", O_RDONLY, 0).unwrap();
    let empty_path = libc::AT_EMPTY_PATH as u64;
    assert_eq!(h.call("newfstatat", &[fd, empty, buf, empty_path]), Ok(0));
    assert_eq!(h.read_struct::<libc::stat>(buf).st_size, 3);
    assert_eq!(
        h.call("newfstatat", &[fd, empty, buf, 0]),
        Err(Errno::ENOENT)
    );
    // Errors: a file as dirfd, a closed dirfd, unknown flags.
    let f = h.cstr("f");
    assert_eq!(h.call("newfstatat", &[fd, f, buf, 0]), Err(Errno::ENOTDIR));
    assert_eq!(h.call("newfstatat", &[77, f, buf, 0]), Err(Errno::EBADF));
    assert_eq!(
        h.call("newfstatat", &[dfd, f, buf, 0x8000_0000]),
        Err(Errno::EINVAL)
    );
    // A dangling link: stat fails, lstat does not.
    let nowhere = h.cstr("/nowhere");
    let dangling = h.cstr("/dangling");
    h.call("symlink", &[nowhere, dangling]).unwrap();
    assert_eq!(h.stat("/dangling", true).err(), Some(Errno::ENOENT));
    assert_eq!(
        h.stat("/dangling", false).unwrap().st_mode & S_IFMT,
        S_IFLNK
    );
    // creat-style open through the link creates the target.
    h.open("/dangling", O_CREAT | O_WRONLY, 0o600).unwrap();
    assert_eq!(h.stat("/nowhere", true).unwrap().st_mode & 0o777, 0o600);
}
