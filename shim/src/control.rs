//! The control protocol between the shim and a pod's sentry.
//!
//! One SOCK_SEQPACKET socket per sandbox; frames are prost messages with
//! host fds passed by SCM_RIGHTS (the framing of `vfs_gofer::wire`). The
//! shim sends one [`Request`] at a time and reads its [`Response`]. A
//! request carries one operation ([`Op`]: one message each, named as the
//! containerd Task RPC it serves), a response one answer ([`Reply`]). The
//! sentry also sends [`Exited`] frames, unprompted, whenever a process the
//! shim started (a container's init or an exec) ends.
//!
//! Fds carried by a request, in order:
//! - [`Create`]: stdin, stdout, stderr, the root gofer channel, then one
//!   gofer channel per bind mount of the bundle, in the bundle's order, then
//!   the host files of single-file binds (read-only), in the bundle's order.
//! - [`Exec`]: stdin, stdout, stderr.

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

/// shim → sentry: one operation, named as the Task RPC it serves.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    /// Sequence number, echoed in the response.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    /// The operation.
    #[prost(oneof = "Op", tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20")]
    pub op: Option<Op>,
}

/// The operations of a [`Request`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Op {
    /// Prepare a container's init (not yet running); answers its pid.
    #[prost(message, tag = "2")]
    Create(Create),
    /// Start a prepared process.
    #[prost(message, tag = "3")]
    Start(Start),
    /// Prepare a process in a container; answers its pid. Start runs it.
    #[prost(message, tag = "4")]
    Exec(Exec),
    /// Send a signal to a process, or to every process of a container.
    #[prost(message, tag = "5")]
    Kill(Kill),
    /// List the pids of a container.
    #[prost(message, tag = "6")]
    Pids(Pids),
    /// Pause a container.
    #[prost(message, tag = "7")]
    Pause(Pause),
    /// Resume a paused container.
    #[prost(message, tag = "8")]
    Resume(Resume),
    /// CPU time, memory and process count of a container.
    #[prost(message, tag = "9")]
    Stats(Stats),
    /// Set the window size of a process's terminal.
    #[prost(message, tag = "10")]
    ResizePty(ResizePty),
    /// Forget a container, or one of its prepared, never-started processes.
    #[prost(message, tag = "11")]
    Delete(Delete),
    /// The sentry ends: every process is killed.
    #[prost(message, tag = "12")]
    Shutdown(Shutdown),
    /// The app→sentry profile of a container (`--profile`).
    #[prost(message, tag = "20")]
    Profile(ProfileOf),
}

impl Op {
    /// The operation's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Create(_) => "Create",
            Op::Start(_) => "Start",
            Op::Exec(_) => "Exec",
            Op::Kill(_) => "Kill",
            Op::Pids(_) => "Pids",
            Op::Pause(_) => "Pause",
            Op::Resume(_) => "Resume",
            Op::Stats(_) => "Stats",
            Op::ResizePty(_) => "ResizePty",
            Op::Delete(_) => "Delete",
            Op::Shutdown(_) => "Shutdown",
            Op::Profile(_) => "Profile",
        }
    }
}

/// Prepare a container's init (not yet running) from `config`; answers its
/// pid ([`Reply::Create`]).
#[derive(Clone, PartialEq, Message)]
pub struct Create {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
    /// The bundle's config.json.
    #[prost(bytes = "vec", tag = "2")]
    pub config: Vec<u8>,
    /// Descriptors after the others, given to the init as 3, 4, ...
    /// (runc's --preserve-fds).
    #[prost(uint32, tag = "3")]
    pub extra_fds: u32,
}

/// Start the prepared process `pid`.
#[derive(Clone, PartialEq, Message)]
pub struct Start {
    /// The process.
    #[prost(int32, tag = "1")]
    pub pid: i32,
}

/// Prepare a process in `container` from `config`; answers its pid
/// ([`Reply::Exec`]). [`Start`] runs it.
#[derive(Clone, PartialEq, Message)]
pub struct Exec {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
    /// An OCI process, as JSON.
    #[prost(bytes = "vec", tag = "2")]
    pub config: Vec<u8>,
    /// Descriptors after stdio, given to the process as 3, 4, ...
    #[prost(uint32, tag = "3")]
    pub extra_fds: u32,
}

/// Send `signal` to `pid`, or with `all` to every process of `container`.
#[derive(Clone, PartialEq, Message)]
pub struct Kill {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
    /// The process (without `all`).
    #[prost(int32, tag = "2")]
    pub pid: i32,
    /// Signal number.
    #[prost(uint32, tag = "3")]
    pub signal: u32,
    /// Every process of the container.
    #[prost(bool, tag = "4")]
    pub all: bool,
}

/// List the pids of `container` ([`Reply::Pids`]).
#[derive(Clone, PartialEq, Message)]
pub struct Pids {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
}

/// Pause `container`.
#[derive(Clone, PartialEq, Message)]
pub struct Pause {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
}

/// Resume `container`.
#[derive(Clone, PartialEq, Message)]
pub struct Resume {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
}

/// CPU time, memory and process count of `container` ([`Reply::Stats`]).
#[derive(Clone, PartialEq, Message)]
pub struct Stats {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
}

/// Set the window size of `pid`'s terminal.
#[derive(Clone, PartialEq, Message)]
pub struct ResizePty {
    /// The process.
    #[prost(int32, tag = "1")]
    pub pid: i32,
    /// Rows.
    #[prost(uint32, tag = "2")]
    pub rows: u32,
    /// Columns.
    #[prost(uint32, tag = "3")]
    pub cols: u32,
}

/// Forget `container`: drops a prepared, never-started init. With `pid`:
/// only that prepared process (an exec deleted unstarted).
#[derive(Clone, PartialEq, Message)]
pub struct Delete {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
    /// The process (0: the container).
    #[prost(int32, tag = "2")]
    pub pid: i32,
}

/// The sentry ends: every process is killed.
#[derive(Clone, PartialEq, Message)]
pub struct Shutdown {}

/// sentry → shim: the answer to one [`Request`].
#[derive(Clone, PartialEq, Message)]
pub struct Response {
    /// The request's sequence number.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    /// What the operation answers.
    #[prost(oneof = "Reply", tags = "2, 3, 4, 5, 6, 7, 20")]
    pub reply: Option<Reply>,
}

/// The answers of a [`Response`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Reply {
    /// The operation failed.
    #[prost(message, tag = "2")]
    Error(Failure),
    /// Done; the operation answers nothing else.
    #[prost(message, tag = "3")]
    Done(Done),
    /// [`Op::Create`]: the container's init.
    #[prost(message, tag = "4")]
    Create(Created),
    /// [`Op::Exec`]: the new process.
    #[prost(message, tag = "5")]
    Exec(Created),
    /// [`Op::Pids`].
    #[prost(message, tag = "6")]
    Pids(PidList),
    /// [`Op::Stats`].
    #[prost(message, tag = "7")]
    Stats(Usage),
    /// [`Op::Profile`].
    #[prost(message, tag = "20")]
    Profile(ProfileData),
}

/// The app→sentry profile of `container` ([`Reply::Profile`]).
#[derive(Clone, PartialEq, Message)]
pub struct ProfileOf {
    /// Container id.
    #[prost(string, tag = "1")]
    pub container: String,
}

/// A profile's app section as JSON (`crate::profile::App`).
#[derive(Clone, PartialEq, Message)]
pub struct ProfileData {
    /// The JSON.
    #[prost(bytes = "vec", tag = "1")]
    pub json: Vec<u8>,
}

/// A failed operation.
#[derive(Clone, PartialEq, Message)]
pub struct Failure {
    /// errno-like code (ENOENT: no such container or process).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What failed.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// An operation with nothing to answer is done.
#[derive(Clone, PartialEq, Message)]
pub struct Done {}

/// A process made (not yet started).
#[derive(Clone, PartialEq, Message)]
pub struct Created {
    /// Its pid in the sandbox.
    #[prost(int32, tag = "1")]
    pub pid: i32,
}

/// The pids of a container.
#[derive(Clone, PartialEq, Message)]
pub struct PidList {
    /// Pids in the sandbox.
    #[prost(int32, repeated, tag = "1")]
    pub pids: Vec<i32>,
}

/// What a container uses.
#[derive(Clone, PartialEq, Message)]
pub struct Usage {
    /// CPU time used (user + system), ns.
    #[prost(uint64, tag = "1")]
    pub cpu_ns: u64,
    /// Resident memory of the container's processes, bytes.
    #[prost(uint64, tag = "2")]
    pub memory_bytes: u64,
    /// Memory in use in the whole sandbox's memory file, bytes.
    #[prost(uint64, tag = "3")]
    pub sandbox_memory_bytes: u64,
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
                                    seq: 0,
                                    reply: Some(Reply::Error(Failure {
                                        code: libc::EIO,
                                        message: format!("undecodable response: {e}"),
                                    })),
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

    /// Sends `op` with `fds` and waits (at most [`CALL_TIMEOUT`]) for its
    /// answer; a late answer to an earlier, timed-out request is dropped.
    pub fn call(&self, op: Op, fds: &[RawFd]) -> Result<Reply, ControlError> {
        let rx = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = op.name();
        let req = Request { seq, op: Some(op) };
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
                        "the sentry did not answer request {name} within {} s",
                        CALL_TIMEOUT.as_secs()
                    )))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ControlError::Channel("the sentry has exited".into()))
                }
            }
        };
        match r.reply {
            Some(Reply::Error(f)) => Err(ControlError::Sentry {
                code: f.code,
                message: f.message,
            }),
            Some(reply) => Ok(reply),
            None => Ok(Reply::Done(Done {})),
        }
    }

    /// [`Op::Create`]: answers the pid of the container's init.
    pub fn create(&self, req: Create, fds: &[RawFd]) -> Result<i32, ControlError> {
        match self.call(Op::Create(req), fds)? {
            Reply::Create(c) => Ok(c.pid),
            other => Err(unexpected("Create", &other)),
        }
    }

    /// [`Op::Exec`]: answers the pid of the new process.
    pub fn exec(&self, req: Exec, fds: &[RawFd]) -> Result<i32, ControlError> {
        match self.call(Op::Exec(req), fds)? {
            Reply::Exec(c) => Ok(c.pid),
            other => Err(unexpected("Exec", &other)),
        }
    }

    /// [`Op::Pids`].
    pub fn pids(&self, req: Pids) -> Result<Vec<i32>, ControlError> {
        match self.call(Op::Pids(req), &[])? {
            Reply::Pids(p) => Ok(p.pids),
            other => Err(unexpected("Pids", &other)),
        }
    }

    /// [`Op::Stats`].
    pub fn stats(&self, req: Stats) -> Result<Usage, ControlError> {
        match self.call(Op::Stats(req), &[])? {
            Reply::Stats(u) => Ok(u),
            other => Err(unexpected("Stats", &other)),
        }
    }

    /// [`Op::Profile`].
    pub fn profile(&self, req: ProfileOf) -> Result<Vec<u8>, ControlError> {
        match self.call(Op::Profile(req), &[])? {
            Reply::Profile(p) => Ok(p.json),
            other => Err(unexpected("Profile", &other)),
        }
    }

    /// An operation that answers nothing but success or failure.
    pub fn done(&self, op: Op) -> Result<(), ControlError> {
        self.call(op, &[]).map(|_| ())
    }
}

fn unexpected(op: &str, reply: &Reply) -> ControlError {
    ControlError::Channel(format!("the sentry answered {op} with {reply:?}"))
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

    fn answer(sock: &OwnedFd, seq: u64, reply: Reply) {
        let r = Response {
            seq,
            reply: Some(reply),
        };
        vfs_gofer::wire::send(sock.as_raw_fd(), frame::RESPONSE, &r.encode_to_vec(), None).unwrap();
    }

    fn request(sock: &OwnedFd) -> (Request, usize) {
        let (id, payload, fds) = vfs_gofer::wire::recv_fds(sock.as_raw_fd())
            .unwrap()
            .unwrap();
        assert_eq!(id, frame::REQUEST);
        (Request::decode(payload.as_slice()).unwrap(), fds.len())
    }

    #[test]
    fn request_and_answer_over_a_socket_pair() {
        let (a, b) = vfs_gofer::wire::socketpair().unwrap();
        let (etx, erx) = mpsc::channel();
        let client = Client::new(a, move |e| etx.send(e).unwrap(), || {}).unwrap();
        let server = std::thread::spawn(move || {
            let (req, fds) = request(&b);
            assert_eq!(fds, 2);
            assert_eq!(
                req.op,
                Some(Op::Exec(Exec {
                    container: "c".into(),
                    config: b"{}".to_vec(),
                    extra_fds: 0,
                }))
            );
            let ex = Exited {
                pid: 7,
                status: 137,
            };
            vfs_gofer::wire::send(b.as_raw_fd(), frame::EXITED, &ex.encode_to_vec(), None).unwrap();
            // A stale answer (another seq) is skipped.
            answer(&b, 999, Reply::Exec(Created { pid: 3 }));
            answer(&b, req.seq, Reply::Exec(Created { pid: 7 }));
            let (req, _) = request(&b);
            assert_eq!(
                req.op,
                Some(Op::Pids(Pids {
                    container: "c".into()
                }))
            );
            answer(&b, req.seq, Reply::Pids(PidList { pids: vec![1, 7] }));
            let (req, _) = request(&b);
            let Some(Op::Kill(k)) = req.op else {
                panic!("{req:?}")
            };
            assert_eq!((k.container.as_str(), k.signal, k.all), ("c", 9, true));
            answer(&b, req.seq, Reply::Done(Done {}));
            let (req, _) = request(&b);
            assert_eq!(
                req.op,
                Some(Op::Stats(Stats {
                    container: "nope".into()
                }))
            );
            answer(
                &b,
                req.seq,
                Reply::Error(Failure {
                    code: libc::ENOENT,
                    message: "no container nope".into(),
                }),
            );
        });
        let pid = client
            .exec(
                Exec {
                    container: "c".into(),
                    config: b"{}".to_vec(),
                    extra_fds: 0,
                },
                &[0, 1],
            )
            .unwrap();
        assert_eq!(pid, 7);
        assert_eq!(erx.recv().unwrap().status, 137);
        let pids = client
            .pids(Pids {
                container: "c".into(),
            })
            .unwrap();
        assert_eq!(pids, vec![1, 7]);
        client
            .done(Op::Kill(Kill {
                container: "c".into(),
                pid: 0,
                signal: 9,
                all: true,
            }))
            .unwrap();
        let e = client
            .stats(Stats {
                container: "nope".into(),
            })
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(e.to_string(), "no container nope");
        server.join().unwrap();
    }

    #[test]
    fn every_op_round_trips_and_is_named_as_its_task_rpc() {
        let ops = [
            Op::Create(Create {
                container: "c".into(),
                config: b"{}".to_vec(),
                extra_fds: 2,
            }),
            Op::Start(Start { pid: 2 }),
            Op::Exec(Exec {
                container: "c".into(),
                config: vec![1],
                extra_fds: 1,
            }),
            Op::Kill(Kill {
                container: "c".into(),
                pid: 2,
                signal: 15,
                all: false,
            }),
            Op::Pids(Pids {
                container: "c".into(),
            }),
            Op::Pause(Pause {
                container: "c".into(),
            }),
            Op::Resume(Resume {
                container: "c".into(),
            }),
            Op::Stats(Stats {
                container: "c".into(),
            }),
            Op::ResizePty(ResizePty {
                pid: 2,
                rows: 24,
                cols: 80,
            }),
            Op::Delete(Delete {
                container: "c".into(),
                pid: 0,
            }),
            Op::Shutdown(Shutdown {}),
        ];
        let names: Vec<&str> = ops.iter().map(Op::name).collect();
        assert_eq!(
            names,
            [
                "Create",
                "Start",
                "Exec",
                "Kill",
                "Pids",
                "Pause",
                "Resume",
                "Stats",
                "ResizePty",
                "Delete",
                "Shutdown"
            ]
        );
        for op in ops {
            let req = Request {
                seq: 5,
                op: Some(op),
            };
            let back = Request::decode(req.encode_to_vec().as_slice()).unwrap();
            assert_eq!(back, req);
        }
        let r = Response {
            seq: 9,
            reply: Some(Reply::Stats(Usage {
                cpu_ns: 1,
                memory_bytes: 2,
                sandbox_memory_bytes: 3,
            })),
        };
        assert_eq!(Response::decode(r.encode_to_vec().as_slice()).unwrap(), r);
    }
}
