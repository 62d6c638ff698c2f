//! Datagrams (SOCK_DGRAM) and the records of SOCK_SEQPACKET: one message
//! per send, read whole (the rest of a longer one is lost, MSG_TRUNC),
//! sent to an address or to the connected peer, bounded by the sender's
//! buffer and, from strangers, by the receiver's queue length.

use std::sync::{Arc, Weak};

use super::queue::Message;
use super::{drop_later, name, Remote, UnixSocket, MAX_DGRAM_QLEN, RCV_SHUTDOWN};
use crate::abi::socket::{SockAddr, UnixAddr};
use crate::errno::{Errno, SysResult};
use crate::vfs::socket::{Control, Received};
use crate::vfs::TaskContext;
use crate::waiter::block_until;

/// Whether `w` points at `s`.
fn is(w: &Option<Weak<UnixSocket>>, s: &UnixSocket) -> bool {
    w.as_ref()
        .is_some_and(|w| std::ptr::eq(w.as_ptr(), s as *const UnixSocket))
}

/// Forgets the default destination `old` (connect to another, AF_UNSPEC,
/// or a dead peer): unread datagrams are dropped and, when `old` was
/// connected back, it gets ECONNRESET (Linux's unix_dgram_disconnected).
fn disconnected(s: &UnixSocket, old: Option<Arc<UnixSocket>>) {
    let lost = s.lock().recv.take_all();
    if !lost.is_empty() {
        if let Some(o) = &old {
            let mut os = o.lock();
            if is(&os.peer, s) {
                os.err = Some(Errno::ECONNRESET);
                drop(os);
                o.notify();
            }
        }
    }
    s.notify();
    drop_later(lost);
    drop_later(old.into_iter().collect());
}

/// connect(2) of a datagram socket: sets (or with AF_UNSPEC clears) the
/// default destination and the only sender it receives from.
pub fn connect(s: &UnixSocket, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
    match addr {
        SockAddr::Unspec => {
            let old = {
                let mut st = s.lock();
                st.connected = false;
                st.peer_addr = None;
                st.peer.take()
            };
            if let Some(old) = old {
                disconnected(s, old.upgrade());
            }
            return Ok(());
        }
        SockAddr::Unix(UnixAddr::Unnamed) => return Err(Errno::EINVAL),
        SockAddr::Unix(_) => {}
        _ => return Err(Errno::EINVAL),
    }
    if s.lock().opts.passcred {
        name::autobind(s)?;
    }
    let target = name::lookup(s, ctx, addr)?;
    {
        let ts = target.lock();
        if ts.peer.is_some() && !is(&ts.peer, s) && !std::ptr::eq(&*target, s) {
            drop(ts);
            drop_later(vec![target]);
            return Err(Errno::EPERM);
        }
    }
    let taddr = target.name();
    let old = {
        let mut st = s.lock();
        let old = st.peer.replace(Arc::downgrade(&target));
        st.connected = true;
        st.peer_addr = taddr;
        old
    };
    if let Some(old) = old {
        if !std::ptr::eq(old.as_ptr(), Arc::as_ptr(&target)) {
            disconnected(s, old.upgrade());
        }
    }
    s.notify();
    drop_later(vec![target]);
    Ok(())
}

/// send of a datagram or seqpacket socket: one message, all or nothing.
pub fn send(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    data: &[u8],
    to: Option<&SockAddr>,
    control: Control,
    flags: u32,
) -> SysResult<usize> {
    let seqpacket = s.ty == libc::SOCK_SEQPACKET;
    let (passcred, sndbuf, deadline, peer, connected) = {
        let mut st = s.lock();
        if seqpacket {
            if let Some(e) = st.err.take() {
                return Err(e);
            }
        }
        (
            st.opts.passcred,
            st.sndbuf(),
            st.opts.deadline(true),
            st.peer.clone(),
            st.connected,
        )
    };
    let to = if seqpacket {
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        None
    } else {
        to
    };
    if let Some(a) = to {
        match a {
            SockAddr::Unix(UnixAddr::Unnamed) => return Err(Errno::EINVAL),
            SockAddr::Unix(_) => {}
            _ => return Err(Errno::EINVAL),
        }
    } else if peer.is_none() {
        return Err(Errno::ENOTCONN);
    }
    if s.lock().shutdown & super::SEND_SHUTDOWN != 0 {
        return Err(Errno::EPIPE);
    }
    if passcred {
        name::autobind(s)?;
    }
    if data.len() > sndbuf.saturating_sub(32) {
        return Err(Errno::EMSGSIZE);
    }
    let target = match to {
        Some(a) => name::lookup(s, ctx, a)?,
        None => match peer.as_ref().and_then(Weak::upgrade) {
            Some(p) => p,
            None if seqpacket => return Err(Errno::EPIPE),
            None => {
                // The peer is gone: forget it, as Linux does on the first
                // send after.
                let old = {
                    let mut st = s.lock();
                    st.connected = false;
                    st.peer_addr = None;
                    st.peer.take()
                };
                if old.is_some() {
                    disconnected(s, None);
                }
                return Err(Errno::ECONNREFUSED);
            }
        },
    };
    // A receiver not yet accepted gets credentials too (its acceptor
    // may want them), as Linux.
    let their_passcred = {
        let t = target.lock();
        t.opts.passcred || t.embryo
    };
    let creds = UnixSocket::send_creds(ctx, control.creds, passcred, their_passcred);
    let my_addr = s.name();
    let nonblock = s.nonblocking(flags);
    let to_self = std::ptr::eq(&*target, s);
    let target = {
        let r = Remote::of(&target);
        drop_later(vec![target]);
        r
    };
    if !control.rights.is_empty() {
        super::gc::on_operation(&s.stack);
    }
    let mut rights = Some(control.rights);
    let gone = if seqpacket {
        Errno::EPIPE
    } else {
        Errno::ECONNREFUSED
    };
    let r = block_until(ctx, &[s.wq(), target.wq()], deadline, Errno::EAGAIN, || {
        let sndbuf = s.lock().sndbuf();
        target
            .with(|t| {
                push(s, t, to_self, sndbuf, nonblock, || {
                    Message::new(
                        data.to_vec(),
                        rights.take().unwrap_or_default(),
                        creds,
                        my_addr.clone(),
                        &s.shared,
                        &s.ns().inflight,
                    )
                })
            })
            .unwrap_or(Some(Err(gone)))
            .map(|r| r.map(|()| data.len()))
    });
    if r.is_ok() {
        target.wq().notify_all();
    }
    drop_later(rights.unwrap_or_default());
    r
}

/// Queues the message `make` builds on `t` when there is room: EPERM when
/// `t` is connected to another, EPIPE after its SHUT_RD; None to wait for
/// room (EAGAIN when `nonblock`).
fn push(
    s: &UnixSocket,
    t: &UnixSocket,
    to_self: bool,
    sndbuf: usize,
    nonblock: bool,
    make: impl FnOnce() -> Message,
) -> Option<SysResult<()>> {
    {
        let _gc = s.ns().gc_lock.read().unwrap_or_else(|p| p.into_inner());
        let mut ts = t.lock();
        if !to_self && ts.peer.is_some() && !is(&ts.peer, s) {
            return Some(Err(Errno::EPERM));
        }
        if ts.shutdown & RCV_SHUTDOWN != 0 {
            return Some(Err(Errno::EPIPE));
        }
        if s.shared.wmem() >= sndbuf {
            return nonblock.then_some(Err(Errno::EAGAIN));
        }
        if !to_self && !is(&ts.peer, s) && ts.recv.len() > MAX_DGRAM_QLEN {
            return nonblock.then_some(Err(Errno::EAGAIN));
        }
        ts.recv.push(make());
    }
    Some(Ok(()))
}

/// recv of a datagram or seqpacket socket: one message.
pub fn recv(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    buf: &mut [u8],
    flags: u32,
) -> SysResult<Received> {
    let peek = flags & libc::MSG_PEEK as u32 != 0;
    let seqpacket = s.ty == libc::SOCK_SEQPACKET;
    let nonblock = s.nonblocking(flags);
    let deadline = {
        let st = s.lock();
        if s.ty == libc::SOCK_SEQPACKET && !st.connected {
            return Err(Errno::ENOTCONN);
        }
        st.opts.deadline(false)
    };
    let mut garbage = None;
    let r = block_until(ctx, &[s.wq()], deadline, Errno::EAGAIN, || {
        let _gc = s.ns().gc_lock.read().unwrap_or_else(|p| p.into_inner());
        let mut st = s.lock();
        if let Some(e) = st.err.take() {
            return Some(Err(e));
        }
        let passcred = st.opts.passcred;
        let Some(m) = st.recv.front_mut() else {
            // End of file for a seqpacket (or a blocking datagram) read
            // after shutdown; a non-blocking datagram read finds nothing.
            if st.shutdown & RCV_SHUTDOWN != 0 && (seqpacket || !nonblock) {
                return Some(Ok(Received::default()));
            }
            return nonblock.then_some(Err(Errno::EAGAIN));
        };
        let mut out = Received::default();
        let data = m.unread();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        out.len = n;
        out.msg_len = m.len();
        if n < data.len() {
            out.flags |= libc::MSG_TRUNC as u32;
        }
        out.from = m.from.clone().map(SockAddr::Unix);
        if passcred {
            out.control.creds = Some(m.creds.unwrap_or(super::NO_CRED));
        }
        if peek {
            out.control.rights = m.rights().to_vec();
        } else {
            out.control.rights = m.take_rights();
            garbage = st.recv.pop();
        }
        Some(Ok(out))
    });
    drop_later(garbage.into_iter().collect());
    r
}
