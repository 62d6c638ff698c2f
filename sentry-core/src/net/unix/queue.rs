//! Receive queues: the messages a unix socket holds for its reader, each
//! with its data, the files it carries (SCM_RIGHTS), the sender's
//! credentials and name, and the charge it makes on its sender's send
//! buffer until it is read (so a writer is bounded by its SO_SNDBUF, as
//! Linux's `sk_wmem_alloc`).
//!
//! Nothing here may be dropped while a socket's lock is held: a message's
//! files can be sockets whose release locks other sockets. Callers take
//! messages out under the lock and drop them after.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::abi::socket::{Ucred, UnixAddr};
use crate::vfs::FileDescription;
use crate::waiter::WaitQueue;

/// What a message costs its sender beyond its bytes (Linux charges an
/// skb's truesize: the data plus its bookkeeping). Bounds the memory of
/// many tiny messages too.
pub const MSG_OVERHEAD: usize = 512;

/// What each file carried costs its sender (the files in flight are
/// bounded by the send buffer too).
pub const FD_OVERHEAD: usize = 64;

/// What a socket shares with the messages it sent: its wait queue and the
/// bytes it has in flight.
#[derive(Default, Debug)]
pub struct Shared {
    /// Notified on every change of the socket's state.
    pub wq: WaitQueue,
    /// Charge of the messages sent and not yet read or dropped.
    pub wmem: AtomicUsize,
}

impl Shared {
    /// The bytes in flight.
    pub fn wmem(&self) -> usize {
        self.wmem.load(Ordering::SeqCst)
    }
}

/// The count of unix sockets in flight (carried in queued messages) in one
/// namespace: the collector runs only while it is not zero.
#[derive(Default, Debug)]
pub struct InFlight(AtomicUsize);

impl InFlight {
    /// The sockets in flight now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::SeqCst);
    }
    fn sub(&self, n: usize) {
        // Never below zero, whatever the order of updates.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

/// One message (one write of a stream, one datagram or record).
pub struct Message {
    /// The bytes.
    data: Vec<u8>,
    /// Bytes of a stream message already read.
    off: usize,
    /// SCM_RIGHTS.
    rights: Vec<Arc<dyn FileDescription>>,
    /// How many of `rights` are unix sockets (counted in flight).
    socks: usize,
    /// The sender's credentials, when attached at send time.
    pub creds: Option<Ucred>,
    /// The sender's name at send time.
    pub from: Option<UnixAddr>,
    /// The sender's accounting, and the charge made on it.
    sender: Arc<Shared>,
    charge: usize,
    inflight: Arc<InFlight>,
}

impl Message {
    /// A message charged to `sender` (the charge is taken now and given
    /// back when the message is dropped).
    pub fn new(
        data: Vec<u8>,
        rights: Vec<Arc<dyn FileDescription>>,
        creds: Option<Ucred>,
        from: Option<UnixAddr>,
        sender: &Arc<Shared>,
        inflight: &Arc<InFlight>,
    ) -> Message {
        let charge = data
            .len()
            .saturating_add(MSG_OVERHEAD)
            .saturating_add(rights.len().saturating_mul(FD_OVERHEAD));
        sender.wmem.fetch_add(charge, Ordering::SeqCst);
        let socks = rights.iter().filter(|f| is_unix(f.as_ref())).count();
        inflight.add(socks);
        Message {
            data,
            off: 0,
            rights,
            socks,
            creds,
            from,
            sender: sender.clone(),
            charge,
            inflight: inflight.clone(),
        }
    }

    /// The unread bytes.
    pub fn unread(&self) -> &[u8] {
        self.data.get(self.off..).unwrap_or_default()
    }

    /// The whole message's length.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Marks `n` more bytes read.
    pub fn consume(&mut self, n: usize) {
        self.off = self.off.saturating_add(n).min(self.data.len());
    }

    /// Whether it carries files.
    pub fn has_rights(&self) -> bool {
        !self.rights.is_empty()
    }

    /// The files carried, taken out (a read that passes them on).
    pub fn take_rights(&mut self) -> Vec<Arc<dyn FileDescription>> {
        self.inflight.sub(self.socks);
        self.socks = 0;
        std::mem::take(&mut self.rights)
    }

    /// The files carried, shared (MSG_PEEK, the collector).
    pub fn rights(&self) -> &[Arc<dyn FileDescription>] {
        &self.rights
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        self.inflight.sub(self.socks);
        let charge = self.charge;
        let _ = self
            .sender
            .wmem
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(charge))
            });
        self.sender.wq.notify_all();
    }
}

/// Whether `f` is a unix socket.
pub fn is_unix(f: &dyn FileDescription) -> bool {
    f.as_any().is::<super::UnixSocket>()
}

/// A receive queue.
#[derive(Default)]
pub struct Queue {
    msgs: VecDeque<Message>,
    /// Unread bytes of all messages.
    bytes: usize,
}

impl Queue {
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Unread bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends a message.
    pub fn push(&mut self, m: Message) {
        self.bytes = self.bytes.saturating_add(m.unread().len());
        self.msgs.push_back(m);
    }

    /// The first message.
    pub fn front(&self) -> Option<&Message> {
        self.msgs.front()
    }

    /// The `i`-th message.
    pub fn get(&self, i: usize) -> Option<&Message> {
        self.msgs.get(i)
    }

    /// The first message, to read from.
    pub fn front_mut(&mut self) -> Option<&mut Message> {
        self.msgs.front_mut()
    }

    /// Marks `n` bytes of the first message read.
    pub fn consume_front(&mut self, n: usize) {
        if let Some(m) = self.msgs.front_mut() {
            let n = n.min(m.unread().len());
            m.consume(n);
            self.bytes = self.bytes.saturating_sub(n);
        }
    }

    /// Removes the first message (to be dropped outside the lock).
    pub fn pop(&mut self) -> Option<Message> {
        let m = self.msgs.pop_front()?;
        self.bytes = self.bytes.saturating_sub(m.unread().len());
        Some(m)
    }

    /// Empties the queue (the messages to be dropped outside the lock).
    pub fn take_all(&mut self) -> Vec<Message> {
        self.bytes = 0;
        self.msgs.drain(..).collect()
    }

    /// Every message, for the collector and FIONREAD.
    pub fn iter(&self) -> impl Iterator<Item = &Message> {
        self.msgs.iter()
    }
}
