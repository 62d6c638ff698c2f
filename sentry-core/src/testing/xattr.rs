//! setxattr, getxattr, listxattr, removexattr (and their l*/f* forms) on tmpfs.

use super::Harness;
use crate::errno::Errno;

const XATTR_CREATE: u64 = libc::XATTR_CREATE as u64;
const XATTR_REPLACE: u64 = libc::XATTR_REPLACE as u64;

#[test]
fn set_get_list_remove() {
    let mut h = Harness::new();
    h.create_file("/f", b"");
    let p = h.cstr("/f");
    let k = h.cstr("user.k");
    let v = h.put(b"value");
    assert_eq!(h.call("setxattr", &[p, k, v, 5, 0]), Ok(0));
    // Size 0 asks for the size.
    assert_eq!(h.call("getxattr", &[p, k, 0, 0]), Ok(5));
    let buf = h.alloc(64);
    assert_eq!(h.call("getxattr", &[p, k, buf, 64]), Ok(5));
    assert_eq!(h.read(buf, 5), b"value");
    // A buffer too small is ERANGE.
    assert_eq!(h.call("getxattr", &[p, k, buf, 2]), Err(Errno::ERANGE));
    // CREATE on an existing name, REPLACE on a missing one.
    assert_eq!(
        h.call("setxattr", &[p, k, v, 5, XATTR_CREATE]),
        Err(Errno::EEXIST)
    );
    let k2 = h.cstr("user.other");
    assert_eq!(
        h.call("setxattr", &[p, k2, v, 5, XATTR_REPLACE]),
        Err(Errno::ENODATA)
    );
    assert_eq!(h.call("setxattr", &[p, k2, v, 3, XATTR_CREATE]), Ok(0));
    assert_eq!(h.call("setxattr", &[p, k, v, 1, XATTR_REPLACE]), Ok(0));
    assert_eq!(h.call("getxattr", &[p, k, buf, 64]), Ok(1));
    // The list: NUL-terminated names; size 0 asks for its size.
    assert_eq!(h.call("listxattr", &[p, 0, 0]), Ok(18));
    assert_eq!(h.call("listxattr", &[p, buf, 64]), Ok(18));
    let mut names: Vec<Vec<u8>> = h
        .read(buf, 18)
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    names.sort();
    assert_eq!(names, vec![b"user.k".to_vec(), b"user.other".to_vec()]);
    assert_eq!(h.call("listxattr", &[p, buf, 5]), Err(Errno::ERANGE));
    // Remove.
    assert_eq!(h.call("removexattr", &[p, k]), Ok(0));
    assert_eq!(h.call("getxattr", &[p, k, buf, 64]), Err(Errno::ENODATA));
    assert_eq!(h.call("removexattr", &[p, k]), Err(Errno::ENODATA));
    assert_eq!(h.call("listxattr", &[p, 0, 0]), Ok(11));
    // Unknown flags, unknown namespace, missing file.
    assert_eq!(h.call("setxattr", &[p, k, v, 5, 4]), Err(Errno::EINVAL));
    let bad = h.cstr("nonamespace");
    assert_eq!(
        h.call("setxattr", &[p, bad, v, 5, 0]),
        Err(Errno::EOPNOTSUPP)
    );
    let missing = h.cstr("/missing");
    assert_eq!(
        h.call("getxattr", &[missing, k, buf, 64]),
        Err(Errno::ENOENT)
    );
}

#[test]
fn fd_and_nofollow_forms() {
    let mut h = Harness::new();
    h.create_file("/f", b"");
    let fd = h.open("/f", libc::O_RDONLY, 0).unwrap();
    let k = h.cstr("user.fd");
    let v = h.put(b"xyz");
    assert_eq!(h.call("fsetxattr", &[fd, k, v, 3, 0]), Ok(0));
    let p = h.cstr("/f");
    let buf = h.alloc(16);
    assert_eq!(h.call("getxattr", &[p, k, buf, 16]), Ok(3));
    assert_eq!(h.call("fgetxattr", &[fd, k, buf, 16]), Ok(3));
    assert_eq!(h.read(buf, 3), b"xyz");
    assert_eq!(h.call("flistxattr", &[fd, buf, 16]), Ok(8));
    assert_eq!(h.read(buf, 8), b"user.fd\0");
    // Through a symlink: the plain forms follow it, the l forms do not.
    let t = h.cstr("/f");
    let l = h.cstr("/l");
    h.call("symlink", &[t, l]).unwrap();
    assert_eq!(h.call("getxattr", &[l, k, buf, 16]), Ok(3));
    assert_eq!(h.call("lgetxattr", &[l, k, buf, 16]), Err(Errno::ENODATA));
    assert_eq!(h.call("llistxattr", &[l, buf, 16]), Ok(0));
    assert_eq!(h.call("fremovexattr", &[fd, k]), Ok(0));
    assert_eq!(h.call("fgetxattr", &[fd, k, buf, 16]), Err(Errno::ENODATA));
    assert_eq!(h.call("fgetxattr", &[99, k, buf, 16]), Err(Errno::EBADF));
}
