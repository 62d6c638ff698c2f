//! Sockets in flight in a cycle: a socket sent over itself, or A sent to B
//! and B to A, then every descriptor closed. Each is referenced only by a
//! message in the other's queue, so neither is ever released by counting.
//! As Linux's collector: when a unix socket is released while sockets are
//! in flight, find the sockets whose every reference is from a queued
//! message (candidates), keep those reachable from any other socket's
//! queue, and empty the queues of the rest, which frees them.
//!
//! The collector holds the namespace's collection lock exclusively; every
//! change to a queue holds it shared, so the queues it scans stay as seen.
//! References from elsewhere (descriptor tables, a call in progress)
//! only make a socket look alive: the check errs towards keeping.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{drop_later, Stack, UnixSocket};

/// Operations (socket creations, sends with files) between collections
/// they trigger.
const OPS_PER_COLLECTION: usize = 16;

/// A chance to collect on an operation that does not release a socket:
/// a cycle's last descriptor closes without the socket layer seeing it,
/// so creations and sends of files collect too, every few of them; the
/// garbage left meanwhile is bounded by what those few operations make.
pub fn on_operation(stack: &Arc<Stack>) {
    let ns = &stack.unix;
    if ns.inflight.get() == 0 {
        return;
    }
    if ns.gc_ops.fetch_add(1, Ordering::SeqCst) + 1 < OPS_PER_COLLECTION {
        return;
    }
    maybe_collect(stack);
}

/// Runs a collection if sockets are in flight and none is running (on
/// every release of a socket, as Linux).
pub fn maybe_collect(stack: &Arc<Stack>) {
    let ns = &stack.unix;
    if ns.inflight.get() == 0 {
        return;
    }
    ns.gc_ops.store(0, Ordering::SeqCst);
    if ns.gc_running.swap(true, Ordering::SeqCst) {
        return;
    }
    let garbage = collect(stack);
    // Released with the flag still set: the releases do not start more
    // collections.
    drop_later(garbage);
    ns.gc_running.store(false, Ordering::SeqCst);
}

/// Finds the unreachable sockets and takes their queues out (dropped by the
/// caller, outside every lock).
fn collect(stack: &Arc<Stack>) -> Vec<super::queue::Message> {
    let ns = &stack.unix;
    let socks = ns.sockets();
    let index: HashMap<*const UnixSocket, usize> = socks
        .iter()
        .enumerate()
        .map(|(i, s)| (Arc::as_ptr(s), i))
        .collect();
    let mut out = Vec::new();
    let mut embryos_out: Vec<Arc<UnixSocket>> = Vec::new();
    {
        let _gc = ns.gc_lock.write().unwrap_or_else(|p| p.into_inner());
        let n = socks.len();
        let mut inflight = vec![0usize; n];
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in socks.iter().enumerate() {
            let st = s.lock();
            let mut targets: Vec<*const UnixSocket> = Vec::new();
            for m in st.recv.iter() {
                for f in m.rights() {
                    if let Some(u) = f.as_any().downcast_ref::<UnixSocket>() {
                        targets.push(u as *const UnixSocket);
                    }
                }
            }
            if let Some(l) = &st.listen {
                targets.extend(l.queue.iter().map(Arc::as_ptr));
            }
            drop(st);
            for t in targets {
                if let Some(&j) = index.get(&t) {
                    inflight[j] += 1;
                    edges[i].push(j);
                }
            }
        }
        // References beyond the queues' and this collection's own.
        let candidate: Vec<bool> = socks
            .iter()
            .enumerate()
            .map(|(i, s)| inflight[i] > 0 && Arc::strong_count(s) == inflight[i] + 1)
            .collect();
        let mut alive: Vec<bool> = candidate.iter().map(|c| !c).collect();
        let mut stack_: Vec<usize> = (0..n).filter(|&i| alive[i]).collect();
        while let Some(i) = stack_.pop() {
            for &j in &edges[i] {
                if !alive[j] {
                    alive[j] = true;
                    stack_.push(j);
                }
            }
        }
        for (i, s) in socks.iter().enumerate() {
            if alive[i] {
                continue;
            }
            let mut st = s.lock();
            out.extend(st.recv.take_all());
            if let Some(l) = st.listen.as_mut() {
                embryos_out.extend(l.queue.drain(..));
            }
        }
    }
    drop_later(embryos_out);
    drop_later(socks);
    out
}
