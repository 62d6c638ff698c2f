//! The control protocol between the shim and a pod's sentry.
//!
//! One SOCK_SEQPACKET socket per sandbox; frames are prost messages with
//! host fds passed by SCM_RIGHTS (the framing of `vfs_gofer::wire`). The
//! shim sends one [`Request`] at a time and reads its [`Response`]; the
//! sentry also sends [`Exited`] frames, unprompted, whenever a process the
//! shim started (a container's init or an exec) ends.
//!
//! Fds carried by a request, in order:
//! - `ADD_CONTAINER`: stdin, stdout, stderr, the root gofer channel, then one
//!   gofer channel per bind mount of the bundle, in the bundle's order, then
//!   the host files of single-file binds (read-only), in the bundle's order.
//! - `EXEC`: stdin, stdout, stderr.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use prost::Message;

/// Frame ids.
pub mod frame {
    /// shim → sentry: a [`super::Request`].
    pub const REQUEST: u16 = 1;
    /// sentry → shim: a [`super::Response`] to the last request.
    pub const RESPONSE: u16 = 2;
    /// sentry → shim: an [`super::Exited`] notice.
    pub const EXITED: u16 = 3;
}

/// Request kinds.
pub mod op {
    /// Prepare a container's init (not yet running) from `config` (the
    /// bundle's config.json); answers its pid.
    pub const ADD_CONTAINER: u32 = 1;
    /// Start the prepared process `pid`.
    pub const START: u32 = 2;
    /// Prepare a process in container `container` from `config` (an OCI
    /// process as JSON); answers its pid. START runs it.
    pub const EXEC: u32 = 3;
    /// Send `signal` to `pid`, or with `all` to every process of `container`.
    pub const SIGNAL: u32 = 4;
    /// List the pids of `container`.
    pub const PIDS: u32 = 5;
    /// Pause (`flag` true) or resume `container`.
    pub const PAUSE: u32 = 6;
    /// CPU time, memory and process count of `container`.
    pub const STATS: u32 = 7;
    /// Set the window size (`rows`, `cols`) of `pid`'s terminal.
    pub const RESIZE: u32 = 8;
    /// Forget `container`: drops a prepared, never-started init (with
    /// `pid`: only that prepared process, an exec deleted unstarted).
    pub const REMOVE: u32 = 9;
    /// The sentry ends: every process is killed.
    pub const SHUTDOWN: u32 = 10;
}

/// shim → sentry.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    /// One of [`op`].
    #[prost(uint32, tag = "1")]
    pub op: u32,
    /// Container id.
    #[prost(string, tag = "2")]
    pub container: String,
    /// config.json (ADD_CONTAINER) or an OCI process (EXEC), as JSON.
    #[prost(bytes = "vec", tag = "3")]
    pub config: Vec<u8>,
    /// Target process.
    #[prost(int32, tag = "4")]
    pub pid: i32,
    /// Signal number.
    #[prost(uint32, tag = "5")]
    pub signal: u32,
    /// SIGNAL: every process of the container.
    #[prost(bool, tag = "6")]
    pub all: bool,
    /// PAUSE: pause (true) or resume.
    #[prost(bool, tag = "7")]
    pub flag: bool,
    /// RESIZE.
    #[prost(uint32, tag = "8")]
    pub rows: u32,
    /// RESIZE.
    #[prost(uint32, tag = "9")]
    pub cols: u32,
    /// Sequence number, echoed in the response.
    #[prost(uint64, tag = "10")]
    pub seq: u64,
}

/// sentry → shim.
#[derive(Clone, PartialEq, Message)]
pub struct Response {
    /// Empty on success; else what failed.
    #[prost(string, tag = "1")]
    pub error: String,
    /// errno-like code for `error` (ENOENT: no such container or process).
    #[prost(int32, tag = "2")]
    pub code: i32,
    /// ADD_CONTAINER, EXEC: the new process.
    #[prost(int32, tag = "3")]
    pub pid: i32,
    /// PIDS.
    #[prost(int32, repeated, tag = "4")]
    pub pids: Vec<i32>,
    /// STATS: CPU time used (user + system), ns.
    #[prost(uint64, tag = "5")]
    pub cpu_ns: u64,
    /// STATS: resident memory of the container's processes, bytes.
    #[prost(uint64, tag = "6")]
    pub memory_bytes: u64,
    /// STATS: memory in use in the whole sandbox's memory file, bytes.
    #[prost(uint64, tag = "7")]
    pub sandbox_memory_bytes: u64,
    /// The request's sequence number.
    #[prost(uint64, tag = "8")]
    pub seq: u64,
}

/// sentry → shim: a process the shim started has ended.
#[derive(Clone, PartialEq, Message)]
pub struct Exited {
    /// Its pid.
    #[prost(int32, tag = "1")]
    pub pid: i32,
    /// Exit status as containerd reports it: the code, or 128 + signal.
    #[prost(uint32, tag = "2")]
    pub status: u32,
}

/// Errors of the control channel.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket failed or closed.
    #[error("control channel to the sentry: {0}")]
    Channel(String),
    /// The sentry answered with an error.
    #[error("{message}")]
    Sentry {
        /// errno-like code.
        code: i32,
        /// What failed.
        message: String,
    },
}

impl ControlError {
    /// The sentry reported that the container or process does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ControlError::Sentry { code, .. } if *code == libc::ENOENT)
    }
}

/// How long the shim waits for the sentry to answer one request.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The shim's end: requests go one at a time; exits go to `on_exit`.
pub struct Client {
    sock: Arc<OwnedFd>,
    calls: Mutex<mpsc::Receiver<Response>>,
    next: std::sync::atomic::AtomicU64,
}

impl Client {
    /// Starts the reader thread over `sock`. `on_exit` is called from it for
    /// every [`Exited`]; `on_close` once when the sentry's end closes.
    pub fn new(
        sock: OwnedFd,
        on_exit: impl Fn(Exited) + Send + 'static,
        on_close: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Client> {
        let sock = Arc::new(sock);
        let (tx, rx) = mpsc::channel();
        let reader = sock.clone();
        std::thread::Builder::new()
            .name("sentry-control".into())
            .spawn(move || {
                while let Ok(Some((id, payload, _fds))) =
                    vfs_gofer::wire::recv_fds(reader.as_raw_fd())
                {
                    match id {
                        frame::RESPONSE => {
                            let r =
                                Response::decode(payload.as_slice()).unwrap_or_else(|e| Response {
                                    error: format!("undecodable response: {e}"),
                                    code: libc::EIO,
                                    ..Default::default()
                                });
                            if tx.send(r).is_err() {
                                break;
                            }
                        }
                        frame::EXITED => {
                            if let Ok(e) = Exited::decode(payload.as_slice()) {
                                on_exit(e);
                            }
                        }
                        _ => {}
                    }
                }
                drop(tx);
                on_close();
            })?;
        Ok(Client {
            sock,
            calls: Mutex::new(rx),
            next: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// Sends `req` with `fds` and waits (at most [`CALL_TIMEOUT`]) for its
    /// answer; a late answer to an earlier, timed-out request is dropped.
    pub fn call(&self, req: &Request, fds: &[RawFd]) -> Result<Response, ControlError> {
        let rx = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let req = Request { seq, ..req.clone() };
        vfs_gofer::wire::send_fds(
            self.sock.as_raw_fd(),
            frame::REQUEST,
            &req.encode_to_vec(),
            fds,
        )
        .map_err(|e| ControlError::Channel(e.to_string()))?;
        let deadline = std::time::Instant::now() + CALL_TIMEOUT;
        let r = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) if r.seq == seq => break r,
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(ControlError::Channel(format!(
                        "the sentry did not answer request {} within {} s",
                        req.op,
                        CALL_TIMEOUT.as_secs()
                    )))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ControlError::Channel("the sentry has exited".into()))
                }
            }
        };
        if r.error.is_empty() {
            Ok(r)
        } else {
            Err(ControlError::Sentry {
                code: r.code,
                message: r.error,
            })
        }
    }
}

/// Exit status as containerd reports it.
pub fn exit_code(st: sentry_core::kernel::ExitStatus) -> u32 {
    match st {
        sentry_core::kernel::ExitStatus::Exited(c) => c as u32 & 0xff,
        sentry_core::kernel::ExitStatus::Signaled(s) => 128 + s.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_answer_over_a_socket_pair() {
        let (a, b) = vfs_gofer::wire::socketpair().unwrap();
        let (etx, erx) = mpsc::channel();
        let client = Client::new(a, move |e| etx.send(e).unwrap(), || {}).unwrap();
        let server = std::thread::spawn(move || {
            let (id, payload, fds) = vfs_gofer::wire::recv_fds(b.as_raw_fd()).unwrap().unwrap();
            assert_eq!(id, frame::REQUEST);
            assert_eq!(fds.len(), 2);
            let req = Request::decode(payload.as_slice()).unwrap();
            assert_eq!(req.op, op::PIDS);
            let ex = Exited {
                pid: 7,
                status: 137,
            };
            vfs_gofer::wire::send(b.as_raw_fd(), frame::EXITED, &ex.encode_to_vec(), None).unwrap();
            // A stale answer (another seq) is skipped.
            let stale = Response {
                seq: 999,
                ..Default::default()
            };
            vfs_gofer::wire::send(b.as_raw_fd(), frame::RESPONSE, &stale.encode_to_vec(), None)
                .unwrap();
            let resp = Response {
                pids: vec![1, 7],
                seq: req.seq,
                ..Default::default()
            };
            vfs_gofer::wire::send(b.as_raw_fd(), frame::RESPONSE, &resp.encode_to_vec(), None)
                .unwrap();
            let (_, payload, _) = vfs_gofer::wire::recv_fds(b.as_raw_fd()).unwrap().unwrap();
            let req = Request::decode(payload.as_slice()).unwrap();
            assert_eq!(req.container, "nope");
            let resp = Response {
                error: "no container nope".into(),
                code: libc::ENOENT,
                seq: req.seq,
                ..Default::default()
            };
            vfs_gofer::wire::send(b.as_raw_fd(), frame::RESPONSE, &resp.encode_to_vec(), None)
                .unwrap();
        });
        let r = client
            .call(
                &Request {
                    op: op::PIDS,
                    ..Default::default()
                },
                &[0, 1],
            )
            .unwrap();
        assert_eq!(r.pids, vec![1, 7]);
        assert_eq!(erx.recv().unwrap().status, 137);
        let e = client
            .call(
                &Request {
                    op: op::PIDS,
                    container: "nope".into(),
                    ..Default::default()
                },
                &[],
            )
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        server.join().unwrap();
    }
}
