//! The SOL_SOCKET options every family shares, kept as Linux keeps them:
//! buffer sizes doubled and clamped, timeouts as `struct timeval`, flags
//! read back as set. A family's `setsockopt`/`getsockopt` asks
//! [`SocketOptions`] first and handles what it returns `None` for
//! (SO_ERROR, SO_ACCEPTCONN, SO_PEERCRED and its own levels).

use std::time::{Duration, Instant};

use crate::errno::{Errno, SysResult};

/// net.core.wmem_max / rmem_max: the most SO_SNDBUF/SO_RCVBUF may ask for
/// (the value kept is twice what was asked, as Linux doubles it).
pub const BUF_MAX: u32 = 212_992;
/// The least send buffer kept (SOCK_MIN_SNDBUF).
pub const MIN_SNDBUF: u32 = 4608;
/// The least receive buffer kept (SOCK_MIN_RCVBUF).
pub const MIN_RCVBUF: u32 = 2304;
/// The default of both (net.core.wmem_default / rmem_default).
pub const BUF_DEFAULT: u32 = 212_992;

/// An `int` option value: at least four bytes (EINVAL otherwise); more
/// are ignored, as Linux reads only the int.
pub fn int_of(val: &[u8]) -> SysResult<i32> {
    let b = val.get(..4).ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bytes of an `int` option value.
pub fn int_bytes(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// A `struct timeval` timeout option (SO_RCVTIMEO/SO_SNDTIMEO): None is
/// "no timeout" (0, 0). EDOM for microseconds out of range, as Linux.
fn timeout_of(val: &[u8]) -> SysResult<Option<Duration>> {
    let b = val.get(..16).ok_or(Errno::EINVAL)?;
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    let sec = i64::from_ne_bytes(s);
    s.copy_from_slice(&b[8..16]);
    let usec = i64::from_ne_bytes(s);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    if sec < 0 {
        // Linux keeps a negative timeout as "return at once".
        return Ok(Some(Duration::ZERO));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    Ok(Some(
        Duration::from_secs(sec as u64) + Duration::from_micros(usec as u64),
    ))
}

fn timeval_bytes(d: Option<Duration>) -> Vec<u8> {
    let (s, us) = d.map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_micros() as i64));
    let mut v = s.to_ne_bytes().to_vec();
    v.extend_from_slice(&us.to_ne_bytes());
    v
}

/// The SOL_SOCKET state of one socket.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    /// AF_* (SO_DOMAIN).
    pub domain: i32,
    /// SOCK_* (SO_TYPE).
    pub ty: i32,
    /// SO_PROTOCOL.
    pub protocol: i32,
    /// SO_REUSEADDR.
    pub reuseaddr: bool,
    /// SO_REUSEPORT.
    pub reuseport: bool,
    /// SO_KEEPALIVE.
    pub keepalive: bool,
    /// SO_BROADCAST.
    pub broadcast: bool,
    /// SO_OOBINLINE.
    pub oobinline: bool,
    /// SO_DONTROUTE.
    pub dontroute: bool,
    /// SO_PASSCRED.
    pub passcred: bool,
    /// SO_TIMESTAMP (accepted; no timestamps are attached yet).
    pub timestamp: bool,
    /// SO_LINGER: Some(seconds) when on.
    pub linger: Option<i32>,
    /// SO_SNDBUF as kept (twice what was asked).
    pub sndbuf: u32,
    /// SO_RCVBUF as kept.
    pub rcvbuf: u32,
    /// SO_RCVLOWAT.
    pub rcvlowat: i32,
    /// SO_PRIORITY.
    pub priority: i32,
    /// SO_MARK.
    pub mark: i32,
    /// SO_RCVTIMEO.
    pub rcvtimeo: Option<Duration>,
    /// SO_SNDTIMEO.
    pub sndtimeo: Option<Duration>,
    /// SO_BINDTODEVICE (the name).
    pub bound_device: Vec<u8>,
}

impl SocketOptions {
    /// Defaults for a new socket (buffers at net.core's defaults).
    pub fn new(domain: i32, ty: i32, protocol: i32) -> Self {
        SocketOptions {
            domain,
            ty,
            protocol,
            reuseaddr: false,
            reuseport: false,
            keepalive: false,
            broadcast: false,
            oobinline: false,
            dontroute: false,
            passcred: false,
            timestamp: false,
            linger: None,
            sndbuf: BUF_DEFAULT,
            rcvbuf: BUF_DEFAULT,
            rcvlowat: 1,
            priority: 0,
            mark: 0,
            rcvtimeo: None,
            sndtimeo: None,
            bound_device: Vec::new(),
        }
    }

    /// When a receive (`send` false) or send started now must give up
    /// (EAGAIN), by SO_RCVTIMEO / SO_SNDTIMEO.
    pub fn deadline(&self, send: bool) -> Option<Instant> {
        let t = if send { self.sndtimeo } else { self.rcvtimeo };
        t.map(|d| Instant::now() + d)
    }

    /// setsockopt(SOL_SOCKET, name): None when the option is the family's
    /// to answer. `privileged`: CAP_NET_ADMIN (SO_*BUFFORCE, SO_MARK).
    pub fn set(&mut self, name: i32, val: &[u8], privileged: bool) -> Option<SysResult<()>> {
        Some(self.set_inner(name, val, privileged))
    }

    fn set_inner(&mut self, name: i32, val: &[u8], privileged: bool) -> SysResult<()> {
        let flag = |v: &[u8]| int_of(v).map(|i| i != 0);
        match name {
            libc::SO_REUSEADDR => self.reuseaddr = flag(val)?,
            libc::SO_REUSEPORT => self.reuseport = flag(val)?,
            libc::SO_KEEPALIVE => self.keepalive = flag(val)?,
            libc::SO_BROADCAST => self.broadcast = flag(val)?,
            libc::SO_OOBINLINE => self.oobinline = flag(val)?,
            libc::SO_DONTROUTE => self.dontroute = flag(val)?,
            libc::SO_PASSCRED => self.passcred = flag(val)?,
            libc::SO_TIMESTAMP | libc::SO_TIMESTAMPNS => self.timestamp = flag(val)?,
            libc::SO_DEBUG | libc::SO_NO_CHECK | libc::SO_BSDCOMPAT => {
                int_of(val)?;
            }
            libc::SO_SNDBUF | libc::SO_SNDBUFFORCE => {
                if name == libc::SO_SNDBUFFORCE && !privileged {
                    return Err(Errno::EPERM);
                }
                let v = int_of(val)?.max(0) as u32;
                let v = if name == libc::SO_SNDBUF {
                    v.min(BUF_MAX)
                } else {
                    v
                };
                self.sndbuf = v.saturating_mul(2).max(MIN_SNDBUF);
            }
            libc::SO_RCVBUF | libc::SO_RCVBUFFORCE => {
                if name == libc::SO_RCVBUFFORCE && !privileged {
                    return Err(Errno::EPERM);
                }
                let v = int_of(val)?.max(0) as u32;
                let v = if name == libc::SO_RCVBUF {
                    v.min(BUF_MAX)
                } else {
                    v
                };
                self.rcvbuf = v.saturating_mul(2).max(MIN_RCVBUF);
            }
            libc::SO_RCVLOWAT => {
                let v = int_of(val)?;
                self.rcvlowat = if v <= 0 { 1 } else { v };
            }
            libc::SO_SNDLOWAT => return Err(Errno::ENOPROTOOPT),
            libc::SO_PRIORITY => {
                let v = int_of(val)?;
                if !(0..=6).contains(&v) && !privileged {
                    return Err(Errno::EPERM);
                }
                self.priority = v;
            }
            libc::SO_MARK => {
                if !privileged {
                    return Err(Errno::EPERM);
                }
                self.mark = int_of(val)?;
            }
            libc::SO_LINGER => {
                let b = val.get(..8).ok_or(Errno::EINVAL)?;
                let on = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                let secs = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
                self.linger = (on != 0).then_some(secs.max(0));
            }
            libc::SO_RCVTIMEO => self.rcvtimeo = timeout_of(val)?,
            libc::SO_SNDTIMEO => self.sndtimeo = timeout_of(val)?,
            libc::SO_BINDTODEVICE => {
                if !privileged {
                    return Err(Errno::EPERM);
                }
                let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
                self.bound_device = val[..end.min(16)].to_vec();
            }
            libc::SO_TYPE
            | libc::SO_PROTOCOL
            | libc::SO_DOMAIN
            | libc::SO_ERROR
            | libc::SO_ACCEPTCONN
            | libc::SO_PEERCRED
            | libc::SO_PEERNAME => return Err(Errno::ENOPROTOOPT),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(SOL_SOCKET, name): None when the option is the family's
    /// to answer (SO_ERROR, SO_ACCEPTCONN, SO_PEERCRED, SO_PEERNAME...).
    pub fn get(&self, name: i32) -> Option<SysResult<Vec<u8>>> {
        let b = |v: bool| Some(Ok(int_bytes(v as i32)));
        match name {
            libc::SO_TYPE => Some(Ok(int_bytes(self.ty))),
            libc::SO_PROTOCOL => Some(Ok(int_bytes(self.protocol))),
            libc::SO_DOMAIN => Some(Ok(int_bytes(self.domain))),
            libc::SO_REUSEADDR => b(self.reuseaddr),
            libc::SO_REUSEPORT => b(self.reuseport),
            libc::SO_KEEPALIVE => b(self.keepalive),
            libc::SO_BROADCAST => b(self.broadcast),
            libc::SO_OOBINLINE => b(self.oobinline),
            libc::SO_DONTROUTE => b(self.dontroute),
            libc::SO_PASSCRED => b(self.passcred),
            libc::SO_TIMESTAMP | libc::SO_TIMESTAMPNS => b(self.timestamp),
            libc::SO_DEBUG | libc::SO_NO_CHECK | libc::SO_BSDCOMPAT => b(false),
            libc::SO_SNDBUF => Some(Ok(int_bytes(self.sndbuf as i32))),
            libc::SO_RCVBUF => Some(Ok(int_bytes(self.rcvbuf as i32))),
            libc::SO_RCVLOWAT => Some(Ok(int_bytes(self.rcvlowat))),
            libc::SO_SNDLOWAT => Some(Ok(int_bytes(1))),
            libc::SO_PRIORITY => Some(Ok(int_bytes(self.priority))),
            libc::SO_MARK => Some(Ok(int_bytes(self.mark))),
            libc::SO_LINGER => {
                let mut v = int_bytes(self.linger.is_some() as i32);
                v.extend_from_slice(&self.linger.unwrap_or(0).to_ne_bytes());
                Some(Ok(v))
            }
            libc::SO_RCVTIMEO => Some(Ok(timeval_bytes(self.rcvtimeo))),
            libc::SO_SNDTIMEO => Some(Ok(timeval_bytes(self.sndtimeo))),
            libc::SO_BINDTODEVICE => Some(Ok(self.bound_device.clone())),
            libc::SO_ERROR | libc::SO_ACCEPTCONN | libc::SO_PEERCRED | libc::SO_PEERNAME => None,
            libc::SO_COOKIE => None,
            _ => Some(Err(Errno::ENOPROTOOPT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_double_and_clamp_as_linux() {
        let mut o = SocketOptions::new(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        o.set(libc::SO_SNDBUF, &1000i32.to_ne_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!(o.sndbuf, 4608);
        o.set(libc::SO_RCVBUF, &i32::MAX.to_ne_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!(o.rcvbuf, 2 * BUF_MAX);
        assert_eq!(
            o.set(libc::SO_RCVBUF, &[1, 2], false).unwrap(),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            o.set(libc::SO_SNDBUFFORCE, &1i32.to_ne_bytes(), false)
                .unwrap(),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn timeouts_are_timevals() {
        let mut o = SocketOptions::new(libc::AF_INET, libc::SOCK_STREAM, 6);
        let mut tv = 2i64.to_ne_bytes().to_vec();
        tv.extend_from_slice(&500_000i64.to_ne_bytes());
        o.set(libc::SO_RCVTIMEO, &tv, false).unwrap().unwrap();
        assert_eq!(o.rcvtimeo, Some(Duration::from_millis(2500)));
        assert_eq!(o.get(libc::SO_RCVTIMEO).unwrap().unwrap(), tv);
        let mut bad = 0i64.to_ne_bytes().to_vec();
        bad.extend_from_slice(&1_000_000i64.to_ne_bytes());
        assert_eq!(
            o.set(libc::SO_SNDTIMEO, &bad, false).unwrap(),
            Err(Errno::EDOM)
        );
        assert!(o.get(libc::SO_ERROR).is_none());
        assert_eq!(o.get(libc::SO_TYPE).unwrap().unwrap(), int_bytes(1));
    }
}
