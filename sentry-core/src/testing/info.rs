//! uname and sethostname.

use super::Harness;
use crate::errno::Errno;

/// The six fields of a `struct utsname` at `addr`.
fn utsname(h: &mut Harness, addr: u64) -> Vec<String> {
    let b = h.read(addr, 6 * 65);
    b.chunks(65)
        .map(|f| {
            let end = f.iter().position(|&c| c == 0).expect("NUL-terminated");
            String::from_utf8_lossy(&f[..end]).into_owned()
        })
        .collect()
}

#[test]
fn uname_fields() {
    let mut h = Harness::new();
    let buf = h.alloc(6 * 65);
    assert_eq!(h.call("uname", &[buf]), Ok(0));
    let u = utsname(&mut h, buf);
    assert_eq!(u[0], "Linux");
    assert_eq!(u[1], "gvisor", "the configured host name");
    assert!(
        u[2].chars().next().is_some_and(|c| c.is_ascii_digit()),
        "release {}",
        u[2]
    );
    assert!(!u[3].is_empty());
    assert_eq!(u[4], "x86_64");
    assert_eq!(h.call("uname", &[0]), Err(Errno::EFAULT));
}

#[test]
fn sethostname_shows_in_uname() {
    let mut h = Harness::new();
    let name = h.put(b"box.example");
    assert_eq!(h.call("sethostname", &[name, 3]), Ok(0));
    let buf = h.alloc(6 * 65);
    h.call("uname", &[buf]).unwrap();
    assert_eq!(utsname(&mut h, buf)[1], "box");
    // Longer than 64 bytes, or a bad pointer.
    let long = h.put(&[b'a'; 65]);
    assert_eq!(h.call("sethostname", &[long, 65]), Err(Errno::EINVAL));
    assert_eq!(h.call("sethostname", &[long, 64]), Ok(0));
    h.call("uname", &[buf]).unwrap();
    assert_eq!(utsname(&mut h, buf)[1], "a".repeat(64));
    assert_eq!(h.call("sethostname", &[0, 3]), Err(Errno::EFAULT));
    // An unprivileged task may not.
    let mut u = Harness::user(1000, 1000, &[]);
    let name = u.put(b"mine");
    assert_eq!(u.call("sethostname", &[name, 4]), Err(Errno::EPERM));
    let buf = u.alloc(6 * 65);
    u.call("uname", &[buf]).unwrap();
    assert_eq!(utsname(&mut u, buf)[1], "gvisor");
}
