//! getdents64.

use super::Harness;
use crate::errno::Errno;
use libc::{O_DIRECTORY, O_RDONLY};

/// (name, d_type) of each linux_dirent64 record in `b`, checking the
/// record lengths.
fn parse(b: &[u8]) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < b.len() {
        let reclen = u16::from_ne_bytes([b[off + 16], b[off + 17]]) as usize;
        assert_eq!(reclen % 8, 0, "records are 8-byte aligned");
        assert!(reclen >= 20 && off + reclen <= b.len());
        let ino = u64::from_ne_bytes(b[off..off + 8].try_into().unwrap());
        assert_ne!(ino, 0);
        let name = &b[off + 19..off + reclen];
        let end = name.iter().position(|&c| c == 0).expect("NUL-terminated");
        out.push((
            String::from_utf8_lossy(&name[..end]).into_owned(),
            b[off + 18],
        ));
        off += reclen;
    }
    out
}

#[test]
fn getdents64_lists_a_directory_once() {
    let mut h = Harness::new();
    let d = h.cstr("/d");
    h.call("mkdir", &[d, 0o755]).unwrap();
    h.create_file("/d/a", b"");
    h.create_file("/d/b", b"");
    let sub = h.cstr("/d/sub");
    h.call("mkdir", &[sub, 0o755]).unwrap();
    let t = h.cstr("a");
    let l = h.cstr("/d/l");
    h.call("symlink", &[t, l]).unwrap();
    let fd = h.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let buf = h.alloc(4096);
    let n = h.call("getdents64", &[fd, buf, 4096]).unwrap();
    assert!(n > 0);
    let bytes = h.read(buf, n as usize);
    let mut got = parse(&bytes);
    got.sort();
    let want: Vec<(String, u8)> = [
        (".", libc::DT_DIR),
        ("..", libc::DT_DIR),
        ("a", libc::DT_REG),
        ("b", libc::DT_REG),
        ("l", libc::DT_LNK),
        ("sub", libc::DT_DIR),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), *t))
    .collect();
    assert_eq!(got, want);
    // The end of the directory: 0.
    assert_eq!(h.call("getdents64", &[fd, buf, 4096]), Ok(0));
    // Rewinding lists it again.
    h.call("lseek", &[fd, 0, libc::SEEK_SET as u64]).unwrap();
    assert_eq!(h.call("getdents64", &[fd, buf, 4096]), Ok(n));
}

#[test]
fn getdents64_small_buffers_and_errors() {
    let mut h = Harness::new();
    let d = h.cstr("/d");
    h.call("mkdir", &[d, 0o755]).unwrap();
    for i in 0..20 {
        h.create_file(&format!("/d/file-with-a-longer-name-{i:02}"), b"");
    }
    let fd = h.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
    // Too small for even one record.
    let buf = h.alloc(4096);
    assert_eq!(h.call("getdents64", &[fd, buf, 8]), Err(Errno::EINVAL));
    // A buffer of 100 bytes takes a few records per call; together the
    // calls list every entry exactly once.
    let mut names = Vec::new();
    loop {
        let n = h.call("getdents64", &[fd, buf, 100]).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= 100);
        let b = h.read(buf, n as usize);
        names.extend(parse(&b).into_iter().map(|(n, _)| n));
    }
    assert_eq!(names.len(), 22);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 22);
    // Not a directory, not open, a bad buffer.
    h.create_file("/f", b"");
    let f = h.open("/f", O_RDONLY, 0).unwrap();
    assert_eq!(h.call("getdents64", &[f, buf, 4096]), Err(Errno::ENOTDIR));
    assert_eq!(h.call("getdents64", &[99, buf, 4096]), Err(Errno::EBADF));
    let fd2 = h.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
    assert_eq!(h.call("getdents64", &[fd2, 0, 4096]), Err(Errno::EFAULT));
}
