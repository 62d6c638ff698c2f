//! Names: bind(2) to a path (a socket node in a sandbox file system,
//! made through the VFS) or to an abstract name (this stack's table),
//! autobind (Linux's five-hex-digit abstract names), and finding the
//! socket an address names (connect, sendto).

use std::sync::{Arc, Weak};

use super::{UnixSocket, CAP_DAC_OVERRIDE};
use crate::abi::socket::{SockAddr, UnixAddr};
use crate::errno::{Errno, SysResult};
use crate::vfs::{Start, TaskContext};

/// What a socket node in a file system keeps: the socket, weakly (a
/// closed socket's node refuses connections).
pub struct Endpoint {
    sock: Weak<UnixSocket>,
}

/// Autobind names: 2^20 of them.
const AUTOBIND_NAMES: u32 = 1 << 20;

/// bind(2).
pub fn bind(s: &UnixSocket, ctx: &dyn TaskContext, addr: &SockAddr) -> SysResult<()> {
    let SockAddr::Unix(a) = addr else {
        return Err(Errno::EINVAL);
    };
    match a {
        UnixAddr::Unnamed => autobind(s),
        UnixAddr::Abstract(n) => {
            let mut st = s.lock();
            if st.addr.is_some() {
                return Err(Errno::EINVAL);
            }
            let mut names = s.ns().names();
            let key = (s.ty, n.clone());
            if names.get(&key).is_some_and(|w| w.strong_count() > 0) {
                return Err(Errno::EADDRINUSE);
            }
            names.insert(key, s.me.clone());
            st.addr = Some(a.clone());
            Ok(())
        }
        UnixAddr::Path(p) => {
            let cwd = ctx.cwd();
            let start = Start::cwd(ctx, &cwd);
            let cred = ctx.ucred();
            let endpoint: Arc<dyn std::any::Any + Send + Sync> =
                Arc::new(Endpoint { sock: s.me.clone() });
            let vfs = ctx.fs_root().unwrap_or_else(|| s.stack.vfs.clone());
            let mode = 0o777 & !ctx.umask();
            vfs.bind_socket(&start, p, mode, (cred.uid, cred.gid), endpoint)?;
            let mut st = s.lock();
            if st.addr.is_some() {
                // Already bound: as Linux, the node made is removed again.
                drop(st);
                let _ = vfs.unlink(&start, p, false);
                return Err(Errno::EINVAL);
            }
            st.addr = Some(a.clone());
            Ok(())
        }
    }
}

/// Binds an unbound socket to a free five-hex-digit abstract name; a bound
/// one keeps its name.
pub fn autobind(s: &UnixSocket) -> SysResult<()> {
    let mut st = s.lock();
    if st.addr.is_some() {
        return Ok(());
    }
    let mut next = s.ns().next_auto.lock().unwrap_or_else(|p| p.into_inner());
    let mut names = s.ns().names();
    for _ in 0..AUTOBIND_NAMES {
        let n = format!("{:05x}", *next % AUTOBIND_NAMES).into_bytes();
        *next = next.wrapping_add(1) % AUTOBIND_NAMES;
        let key = (s.ty, n.clone());
        if names.get(&key).is_some_and(|w| w.strong_count() > 0) {
            continue;
        }
        names.insert(key, s.me.clone());
        st.addr = Some(UnixAddr::Abstract(n));
        return Ok(());
    }
    Err(Errno::ENOSPC)
}

/// The socket `addr` names, for a socket of type `ty`: ENOENT for a
/// missing path, ECONNREFUSED for no socket (or a closed one), EACCES
/// without write permission on the node, EPROTOTYPE for another type.
pub fn lookup(
    s: &UnixSocket,
    ctx: &dyn TaskContext,
    addr: &SockAddr,
) -> SysResult<Arc<UnixSocket>> {
    let SockAddr::Unix(a) = addr else {
        return Err(Errno::EINVAL);
    };
    let target = match a {
        UnixAddr::Unnamed => return Err(Errno::EINVAL),
        UnixAddr::Abstract(n) => s
            .ns()
            .names()
            .get(&(s.ty, n.clone()))
            .and_then(Weak::upgrade)
            .ok_or(Errno::ECONNREFUSED)?,
        UnixAddr::Path(p) => {
            let cwd = ctx.cwd();
            let start = Start::cwd(ctx, &cwd);
            let vfs = ctx.fs_root().unwrap_or_else(|| s.stack.vfs.clone());
            let (st, endpoint) = vfs.bound_socket(&start, p)?;
            may_write(ctx, &st)?;
            let e = endpoint
                .downcast::<Endpoint>()
                .map_err(|_| Errno::ECONNREFUSED)?;
            e.sock.upgrade().ok_or(Errno::ECONNREFUSED)?
        }
    };
    if target.ty != s.ty {
        super::drop_later(vec![target]);
        return Err(Errno::EPROTOTYPE);
    }
    Ok(target)
}

/// Write permission on a socket node (connect and sendto need it).
fn may_write(ctx: &dyn TaskContext, st: &crate::vfs::Stat) -> SysResult<()> {
    let c = ctx.ucred();
    if c.uid == 0 && ctx.capable(CAP_DAC_OVERRIDE) {
        return Ok(());
    }
    let bits = if st.uid == c.uid {
        (st.mode >> 6) & 7
    } else if st.gid == c.gid {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    if bits & 2 != 0 {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}
