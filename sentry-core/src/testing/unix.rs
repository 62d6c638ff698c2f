//! AF_UNIX sockets through the system calls: socket nodes in the root
//! tmpfs, permission to connect, /proc/net/unix, and the collection of
//! sockets left in flight in cycles. No call here waits.

use super::Harness;
use crate::errno::Errno;

impl Harness {
    /// socketpair(AF_UNIX, ty): the two fds.
    fn unix_pair(&mut self, ty: i32) -> (u64, u64) {
        let sv = self.alloc(8);
        self.call("socketpair", &[libc::AF_UNIX as u64, ty as u64, 0, sv])
            .expect("socketpair");
        (
            u64::from(self.read_u32(sv)),
            u64::from(self.read_u32(sv + 4)),
        )
    }

    /// A `struct sockaddr_un` for `path` (a leading '@' is an abstract
    /// name): (address, length).
    fn sun(&mut self, path: &str) -> (u64, u64) {
        let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        let abs = path.strip_prefix('@');
        match abs {
            Some(n) => {
                b.push(0);
                b.extend_from_slice(n.as_bytes());
            }
            None => {
                b.extend_from_slice(path.as_bytes());
                b.push(0);
            }
        }
        let len = b.len() as u64;
        (self.put(&b), len)
    }

    /// sendmsg(fd) of one byte with `fds` as SCM_RIGHTS.
    fn send_rights(&mut self, fd: u64, fds: &[u64]) -> Result<u64, Errno> {
        let data = self.put(b"r");
        let iov = self.put_struct(&libc::iovec {
            iov_base: data as *mut libc::c_void,
            iov_len: 1,
        });
        let mut control = ((16 + 4 * fds.len()) as u64).to_ne_bytes().to_vec();
        control.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        control.extend_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
        for f in fds {
            control.extend_from_slice(&(*f as i32).to_ne_bytes());
        }
        while !control.len().is_multiple_of(8) {
            control.push(0);
        }
        let clen = control.len();
        let c = self.put(&control);
        let mut m: libc::msghdr = unsafe_zeroed_msghdr();
        m.msg_iov = iov as *mut libc::iovec;
        m.msg_iovlen = 1;
        m.msg_control = c as *mut libc::c_void;
        m.msg_controllen = clen;
        let mp = self.put_struct(&m);
        self.call("sendmsg", &[fd, mp, 0])
    }

    /// Live unix sockets, after a collection (what the next release of
    /// any socket would run).
    fn live_unix(&self) -> usize {
        crate::net::unix::Namespace::collect_now(&self.task.kernel.net);
        self.task.kernel.net.unix.live()
    }
}

/// An all-zero `msghdr` (its pointers null).
fn unsafe_zeroed_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain data; all-zero is a valid value (null
    // pointers, zero lengths).
    unsafe { std::mem::zeroed() }
}

#[test]
fn a_bound_socket_is_a_socket_node_in_the_file_system() {
    let mut h = Harness::new();
    let s = h
        .call(
            "socket",
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap();
    let (a, al) = h.sun("/srv.sock");
    assert_eq!(h.call("bind", &[s, a, al]), Ok(0));
    let st = h.stat("/srv.sock", false).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFSOCK);
    assert_eq!(st.st_mode & 0o777, 0o755);
    // Not a listener yet: refused; listening: accepted.
    let c = h
        .call(
            "socket",
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap();
    assert_eq!(h.call("connect", &[c, a, al]), Err(Errno::ECONNREFUSED));
    assert_eq!(h.call("listen", &[s, 4]), Ok(0));
    assert_eq!(h.call("connect", &[c, a, al]), Ok(0));
    let listing = h.task.kernel.net.proc_net("unix").unwrap();
    assert!(listing.starts_with("Num       RefCount Protocol Flags    Type St Inode Path\n"));
    assert!(
        listing.contains(" 00010000 0001 01 ") && listing.contains(" /srv.sock\n"),
        "{listing}"
    );
    // Closed: the node stays and refuses; unlinked: gone.
    h.call("close", &[s]).unwrap();
    let c2 = h
        .call(
            "socket",
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap();
    assert_eq!(h.call("connect", &[c2, a, al]), Err(Errno::ECONNREFUSED));
    let p = h.cstr("/srv.sock");
    assert_eq!(h.call("unlink", &[p]), Ok(0));
    assert_eq!(h.call("connect", &[c2, a, al]), Err(Errno::ENOENT));
    // An abstract name shows with '@'.
    let (ab, abl) = h.sun("@abs\0x");
    assert_eq!(h.call("bind", &[c2, ab, abl]), Ok(0));
    let listing = h.task.kernel.net.proc_net("unix").unwrap();
    assert!(listing.contains(" @abs@x\n"), "{listing}");
}

#[test]
fn connecting_needs_write_permission_on_the_node() {
    let mut h = Harness::user(1000, 1000, &[]);
    let d = h.cstr("/d");
    h.call("mkdir", &[d, 0o777]).unwrap_or(0);
    let s = h
        .call(
            "socket",
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap();
    let (a, al) = h.sun("/tmp.sock");
    // The root directory is root's: the harness's root tmpfs lets the
    // sandbox create there (the VFS checks no directory permission).
    assert_eq!(h.call("bind", &[s, a, al]), Ok(0));
    h.call("listen", &[s, 1]).unwrap();
    let c = h
        .call(
            "socket",
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap();
    let p = h.cstr("/tmp.sock");
    h.call("chmod", &[p, 0o555]).unwrap();
    assert_eq!(h.call("connect", &[c, a, al]), Err(Errno::EACCES));
    h.call("chmod", &[p, 0o755]).unwrap();
    assert_eq!(h.call("connect", &[c, a, al]), Ok(0));
}

#[test]
fn sockets_in_flight_in_cycles_are_collected() {
    let mut h = Harness::new();
    let base = h.live_unix();
    // A pair sending each end over the other, then closed.
    let (a, b) = h.unix_pair(libc::SOCK_STREAM);
    h.send_rights(a, &[b]).unwrap();
    h.send_rights(b, &[a]).unwrap();
    h.call("close", &[a]).unwrap();
    h.call("close", &[b]).unwrap();
    assert_eq!(h.live_unix(), base, "a cycle of two is freed");
    // A socket sent over itself.
    let (a, b) = h.unix_pair(libc::SOCK_DGRAM);
    h.send_rights(a, &[b]).unwrap();
    h.call("close", &[b]).unwrap();
    h.call("close", &[a]).unwrap();
    assert_eq!(h.live_unix(), base, "a socket in its own queue is freed");
    // In flight but reachable: kept while its carrier is open.
    let (a, b) = h.unix_pair(libc::SOCK_STREAM);
    let (c, d) = h.unix_pair(libc::SOCK_STREAM);
    h.send_rights(a, &[c, d]).unwrap();
    h.call("close", &[c]).unwrap();
    h.call("close", &[d]).unwrap();
    h.send_rights(a, &[a]).unwrap();
    assert_eq!(h.live_unix(), base + 4, "reachable from an open socket");
    h.call("close", &[a]).unwrap();
    assert_eq!(h.live_unix(), base + 4, "b is open and holds them");
    h.call("close", &[b]).unwrap();
    assert_eq!(h.live_unix(), base, "all freed with the last descriptor");
    // Without an explicit collection: a few more socket operations free
    // a closed cycle.
    let (a, b) = h.unix_pair(libc::SOCK_STREAM);
    h.send_rights(a, &[a, b]).unwrap();
    h.call("close", &[a]).unwrap();
    h.call("close", &[b]).unwrap();
    let mut made = Vec::new();
    for _ in 0..20 {
        made.push(
            h.call(
                "socket",
                &[libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0],
            )
            .unwrap(),
        );
    }
    assert_eq!(h.task.kernel.net.unix.live(), base + 20);
}

#[test]
fn a_long_chain_in_flight_is_released_without_deep_recursion() {
    let mut h = Harness::new();
    let base = h.live_unix();
    let (first, keep) = h.unix_pair(libc::SOCK_STREAM);
    let mut carrier = first;
    for _ in 0..2000 {
        let (x, y) = h.unix_pair(libc::SOCK_STREAM);
        h.send_rights(carrier, &[x, y]).unwrap();
        if carrier != first {
            h.call("close", &[carrier]).unwrap();
        }
        h.call("close", &[y]).unwrap();
        carrier = x;
    }
    h.call("close", &[carrier]).unwrap();
    assert_eq!(h.live_unix(), base + 4002);
    h.call("close", &[first]).unwrap();
    h.call("close", &[keep]).unwrap();
    assert_eq!(h.live_unix(), base);
}

#[test]
fn socket_types_and_protocols_as_linux() {
    let mut h = Harness::new();
    let af = libc::AF_UNIX as u64;
    assert_eq!(h.call("socket", &[af, 4, 0]), Err(Errno::ESOCKTNOSUPPORT));
    assert_eq!(h.call("socket", &[af, 1, 2]), Err(Errno::EPROTONOSUPPORT));
    let r = h.call("socket", &[af, libc::SOCK_RAW as u64, 0]).unwrap();
    let v = h.alloc(4);
    let l = h.put(&4u32.to_ne_bytes());
    h.call(
        "getsockopt",
        &[r, libc::SOL_SOCKET as u64, libc::SO_TYPE as u64, v, l],
    )
    .unwrap();
    assert_eq!(h.read_u32(v), libc::SOCK_DGRAM as u32);
    let (a, b) = h.unix_pair(libc::SOCK_STREAM);
    assert_eq!(h.write_fd(a, b"ping"), Ok(4));
    assert_eq!(h.read_fd(b, 10).unwrap(), b"ping");
    let n = h.alloc(4);
    assert_eq!(h.call("ioctl", &[b, libc::FIONREAD, n]), Ok(0));
    assert_eq!(h.read_u32(n), 0);
}
