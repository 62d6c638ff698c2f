//! Connections (stream and seqpacket): listen, accept, connect; and the
//! byte-stream transfer of SOCK_STREAM (seqpacket records go through
//! `dgram.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use super::queue::Message;
use super::{drop_later, name, Listen, Remote, UnixSocket, RCV_SHUTDOWN, SEND_SHUTDOWN};
use crate::abi::socket::{SockAddr, Ucred, UnixAddr};
use crate::errno::{Errno, SysResult};
use crate::vfs::socket::{Control, Received};
use crate::vfs::{FileDescription, TaskContext};
use crate::waiter::block_until;

/// The largest piece of a stream write queued as one message (Linux's
/// skb limit for unix streams).
const STREAM_SKB_MAX: usize = 32768 + 3584;

/// listen(2).
pub fn listen(s: &UnixSocket, ctx: &dyn TaskContext, backlog: i32) -> SysResult<()> {
    if !s.connection_oriented() {
        return Err(Errno::EOPNOTSUPP);
    }
    let backlog = backlog.max(0) as usize;
    {
        let mut st = s.lock();
        if st.addr.is_none() || st.connected {
            return Err(Errno::EINVAL);
        }
        match &mut st.listen {
            Some(l) => l.backlog = backlog,
            None => {
                st.listen = Some(Listen {
                    backlog,
                    queue: VecDeque::new(),
                    cred: ctx.ucred(),
                });
                st.peercred = Some(ctx.ucred());
            }
        }
    }
    // A larger backlog may let waiting connectors in.
    s.notify();
    Ok(())
}

/// accept4(2).
pub fn accept(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    flags: u32,
) -> SysResult<(Arc<dyn FileDescription>, SockAddr)> {
    if !s.connection_oriented() {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = s.nonblocking(0);
    let deadline = s.lock().opts.deadline(false);
    let child = block_until(ctx, &[s.wq()], deadline, Errno::EAGAIN, || {
        let mut st = s.lock();
        let Some(l) = st.listen.as_mut() else {
            return Some(Err(Errno::EINVAL));
        };
        if let Some(c) = l.queue.pop_front() {
            return Some(Ok(c));
        }
        nonblock.then_some(Err(Errno::EAGAIN))
    })?;
    // Room in the queue for a waiting connector.
    s.notify();
    let passcred = s.lock().opts.passcred;
    let peer_addr = {
        let mut cs = child.lock();
        cs.embryo = false;
        cs.opts.passcred = passcred;
        let live = cs.peer.as_ref().and_then(Weak::upgrade);
        let cached = cs.peer_addr.clone();
        drop(cs);
        let a = live.as_ref().and_then(|p| p.name()).or(cached);
        drop_later(live.into_iter().collect());
        a
    };
    child.owner.store(
        super::owner_of(ctx.ucred()),
        std::sync::atomic::Ordering::Relaxed,
    );
    child.nonblock.store(
        flags & libc::SOCK_NONBLOCK as u32 != 0,
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok((
        child,
        SockAddr::Unix(peer_addr.unwrap_or(UnixAddr::Unnamed)),
    ))
}

/// connect(2) of a stream or seqpacket socket.
pub fn connect(s: &UnixSocket, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
    match addr {
        SockAddr::Unix(UnixAddr::Unnamed) => return Err(Errno::EINVAL),
        SockAddr::Unix(_) => {}
        _ => return Err(Errno::EINVAL),
    }
    if s.lock().opts.passcred {
        name::autobind(s)?;
    }
    let me = s.arc()?;
    let listener = name::lookup(s, ctx, addr)?;
    let l = Remote::of(&listener);
    drop_later(vec![listener]);
    connect_to(s, &me, ctx, &l)
}

fn connect_to(
    s: &UnixSocket,
    me: &Arc<UnixSocket>,
    ctx: &dyn TaskContext,
    l: &Remote,
) -> SysResult<()> {
    let l_addr = l
        .with(|l| {
            let ls = l.lock();
            if ls.listen.is_none() || ls.shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::ECONNREFUSED);
            }
            Ok(ls.addr.clone())
        })
        .ok_or(Errno::ECONNREFUSED)??;
    {
        let st = s.lock();
        if st.connected {
            return Err(Errno::EISCONN);
        }
        if st.listen.is_some() {
            return Err(Errno::EINVAL);
        }
    }
    // The server end, ready before it is queued: the acceptor may write
    // to it at once.
    let child = UnixSocket::create(&s.stack, ctx, s.ty, false);
    let my_addr = s.name();
    {
        let mut cs = child.lock();
        cs.peer = Some(Arc::downgrade(me));
        cs.peer_addr = my_addr;
        cs.connected = true;
        cs.embryo = true;
        cs.addr = l_addr.clone();
        cs.peercred = Some(ctx.ucred());
    }
    let nonblock = s.nonblocking(0);
    let deadline = s.lock().opts.deadline(true);
    let mut pending = Some(child.clone());
    let r: SysResult<Ucred> = block_until(ctx, &[l.wq(), s.wq()], deadline, Errno::EAGAIN, || {
        l.with(|l| {
            let _gc = s.ns().gc_lock.read().unwrap_or_else(|p| p.into_inner());
            let mut ls = l.lock();
            if ls.shutdown & RCV_SHUTDOWN != 0 {
                return Some(Err(Errno::ECONNREFUSED));
            }
            let Some(lq) = ls.listen.as_mut() else {
                return Some(Err(Errno::ECONNREFUSED));
            };
            if lq.queue.len() > lq.backlog {
                return nonblock.then_some(Err(Errno::EAGAIN));
            }
            let c = pending.take()?;
            lq.queue.push_back(c);
            Some(Ok(lq.cred))
        })
        .unwrap_or(Some(Err(Errno::ECONNREFUSED)))
    });
    let cred = match r {
        Ok(c) => c,
        Err(e) => {
            drop(pending);
            drop_later(vec![child]);
            return Err(e);
        }
    };
    l.wq().notify_all();
    {
        let mut st = s.lock();
        st.peer = Some(Arc::downgrade(&child));
        st.peer_addr = l_addr;
        st.connected = true;
        st.peercred = Some(cred);
    }
    s.notify();
    drop_later(vec![child]);
    Ok(())
}

/// send of a SOCK_STREAM socket: the whole of `data` unless non-blocking,
/// interrupted or timed out after some was queued.
pub fn send(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    data: &[u8],
    to: Option<&SockAddr>,
    control: Control,
    flags: u32,
) -> SysResult<usize> {
    let (connected, shut, passcred, sndbuf, deadline, my_addr) = {
        let st = s.lock();
        (
            st.connected,
            st.shutdown,
            st.opts.passcred,
            st.sndbuf(),
            st.opts.deadline(true),
            st.addr.clone(),
        )
    };
    if to.is_some() {
        return Err(if connected {
            Errno::EISCONN
        } else {
            Errno::EOPNOTSUPP
        });
    }
    if !connected {
        return Err(Errno::ENOTCONN);
    }
    if shut & SEND_SHUTDOWN != 0 {
        UnixSocket::sigpipe(ctx, flags);
        return Err(Errno::EPIPE);
    }
    if data.is_empty() && flags & libc::MSG_OOB as u32 == 0 {
        // Nothing to queue (files passed with no byte are dropped, as
        // Linux does), even to a peer that is gone.
        drop_later(control.rights);
        return Ok(0);
    }
    let Some(peer) = s.peer() else {
        UnixSocket::sigpipe(ctx, flags);
        return Err(Errno::EPIPE);
    };
    if flags & libc::MSG_OOB as u32 != 0 {
        // Out-of-band data (Linux's CONFIG_AF_UNIX_OOB) is not served.
        drop_later(vec![peer]);
        return Err(Errno::EOPNOTSUPP);
    }

    // A receiver not yet accepted gets credentials too (its acceptor
    // may want them), as Linux.
    let their_passcred = {
        let t = peer.lock();
        t.opts.passcred || t.embryo
    };
    let creds = UnixSocket::send_creds(ctx, control.creds, passcred, their_passcred);
    let peer = {
        let r = Remote::of(&peer);
        drop_later(vec![peer]);
        r
    };
    let nonblock = s.nonblocking(flags);
    let piece = (sndbuf / 2).saturating_sub(64).clamp(1, STREAM_SKB_MAX);
    if !control.rights.is_empty() {
        super::gc::on_operation(&s.stack);
    }
    let mut rights = Some(control.rights);
    let mut sent = 0usize;
    let mut result = Ok(());
    while sent < data.len() {
        let n = (data.len() - sent).min(piece);
        let chunk = &data[sent..sent + n];
        let r = block_until(ctx, &[s.wq(), peer.wq()], deadline, Errno::EAGAIN, || {
            let sndbuf = s.lock().sndbuf();
            peer.with(|p| {
                let _gc = s.ns().gc_lock.read().unwrap_or_else(|p| p.into_inner());
                let mut ps = p.lock();
                if ps.shutdown & RCV_SHUTDOWN != 0 {
                    return Some(Err(Errno::EPIPE));
                }
                if s.shared.wmem() >= sndbuf {
                    return nonblock.then_some(Err(Errno::EAGAIN));
                }
                let m = Message::new(
                    chunk.to_vec(),
                    rights.take().unwrap_or_default(),
                    creds,
                    my_addr.clone(),
                    &s.shared,
                    &s.ns().inflight,
                );
                ps.recv.push(m);
                Some(Ok(()))
            })
            .unwrap_or(Some(Err(Errno::EPIPE)))
        });
        match r {
            Ok(()) => {
                sent += n;
                peer.wq().notify_all();
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    drop_later(rights.unwrap_or_default());
    match result {
        Ok(()) => Ok(sent),
        Err(Errno::EPIPE) => {
            if sent == 0 {
                UnixSocket::sigpipe(ctx, flags);
                Err(Errno::EPIPE)
            } else {
                Ok(sent)
            }
        }
        Err(_) if sent > 0 => Ok(sent),
        Err(e) => Err(e),
    }
}

/// What one pass over the queue read.
enum Pass {
    /// Read something (or nothing more to read in this call): stop.
    Done,
    /// Nothing readable: wait (when the target is not met).
    Wait,
    /// An error before anything was read.
    Fail(Errno),
}

/// recv of a SOCK_STREAM socket: the bytes of consecutive messages, not
/// past one that carries files nor across a change of sender credentials
/// (when SO_PASSCRED), waiting for `MSG_WAITALL`'s whole length or
/// SO_RCVLOWAT.
pub fn recv(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    buf: &mut [u8],
    flags: u32,
) -> SysResult<Received> {
    let peek = flags & libc::MSG_PEEK as u32 != 0;
    let waitall = flags & libc::MSG_WAITALL as u32 != 0;
    let nonblock = s.nonblocking(flags);
    let (deadline, lowat) = {
        let st = s.lock();
        if !st.connected || st.listen.is_some() {
            return Err(Errno::EINVAL);
        }
        (st.opts.deadline(false), st.opts.rcvlowat.max(1) as usize)
    };
    let target = if waitall {
        buf.len()
    } else {
        lowat.min(buf.len())
    }
    .max(1);
    let mut out = Received::default();
    let mut copied = 0usize;
    // The credentials of the messages read so far (when SO_PASSCRED).
    let mut creds: Option<Option<Ucred>> = None;
    let mut got_addr = false;
    let mut garbage: Vec<Message> = Vec::new();
    loop {
        let pass = {
            let _gc = s.ns().gc_lock.read().unwrap_or_else(|p| p.into_inner());
            let mut st = s.lock();
            let passcred = st.opts.passcred;
            let mut pass = Pass::Wait;
            let mut i = 0usize;
            loop {
                let m = if peek {
                    st.recv.get(i)
                } else {
                    st.recv.front()
                };
                let Some(m) = m else { break };
                if passcred {
                    match &creds {
                        Some(c) if *c != m.creds => {
                            pass = Pass::Done;
                            break;
                        }
                        Some(_) => {}
                        None => creds = Some(m.creds),
                    }
                }
                if !got_addr {
                    out.from = m.from.clone().map(SockAddr::Unix);
                    got_addr = true;
                }
                let avail = m.unread();
                let n = avail.len().min(buf.len() - copied);
                buf[copied..copied + n].copy_from_slice(&avail[..n]);
                copied += n;
                let carries = m.has_rights();
                if peek {
                    if carries {
                        out.control.rights.extend(m.rights().iter().cloned());
                        pass = Pass::Done;
                        break;
                    }
                    i += 1;
                    if copied >= buf.len() {
                        pass = Pass::Done;
                        break;
                    }
                    continue;
                }
                st.recv.consume_front(n);
                if let Some(m) = st.recv.front_mut() {
                    if m.has_rights() {
                        out.control.rights = m.take_rights();
                    }
                }
                let left = st.recv.front().map_or(0, |m| m.unread().len());
                if left > 0 {
                    pass = Pass::Done;
                    break;
                }
                if let Some(m) = st.recv.pop() {
                    garbage.push(m);
                }
                if carries || copied >= buf.len() {
                    pass = Pass::Done;
                    break;
                }
            }
            if peek && copied > 0 {
                pass = Pass::Done;
            }
            if matches!(pass, Pass::Wait) && copied >= target {
                pass = Pass::Done;
            }
            if matches!(pass, Pass::Wait) && st.recv.is_empty() {
                if let Some(e) = st.err.take() {
                    if copied == 0 {
                        pass = Pass::Fail(e);
                    } else {
                        pass = Pass::Done;
                    }
                } else if st.shutdown & RCV_SHUTDOWN != 0 {
                    pass = Pass::Done;
                }
            }
            pass
        };
        match pass {
            Pass::Done => break,
            // Dropped here, outside the collection lock: a message's files
            // may be sockets whose release collects.
            Pass::Fail(e) => {
                drop_later(garbage);
                return Err(e);
            }
            Pass::Wait => {}
        }
        // Nothing more yet: wait for data, an error or the end.
        let r = block_until(ctx, &[s.wq()], deadline, Errno::EAGAIN, || {
            let st = s.lock();
            if !st.recv.is_empty() || st.err.is_some() || st.shutdown & RCV_SHUTDOWN != 0 {
                return Some(Ok(()));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        });
        if let Err(e) = r {
            if copied > 0 {
                break;
            }
            drop_later(garbage);
            return Err(e);
        }
    }
    let passcred = s.lock().opts.passcred;
    if passcred {
        out.control.creds = Some(creds.flatten().unwrap_or(super::NO_CRED));
    }
    drop_later(garbage);
    out.len = copied;
    out.msg_len = copied;
    Ok(out)
}
