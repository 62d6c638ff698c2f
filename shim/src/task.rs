//! The containerd Task service (shim v2 task API), generic over the sandbox
//! backend, as runwasi's containerd-shimkit does: the service keeps the
//! containers' state machine (created → running → stopped → deleted), waits
//! and exit statuses, and maps failures to ttrpc codes; the backend starts
//! and signals the real sandboxes. Unit tests drive it with a stub backend,
//! without containerd.
//!
//! What is here: Create, Start, State, Wait, Kill (one process or all),
//! Pids, Delete, Connect, Shutdown. The other RPCs (Exec, ResizePty,
//! CloseIO, Pause, Resume, Stats, Update) answer UNIMPLEMENTED with a
//! message until their backend parts exist; Checkpoint answers
//! UNIMPLEMENTED by design. The `containerd-shim-gvisor-v1` binary that
//! serves it is not built yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use containerd_shim_protos::api::{
    ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse, DeleteRequest,
    DeleteResponse, KillRequest, PidsRequest, PidsResponse, ProcessInfo, ShutdownRequest,
    StartRequest, StartResponse, StateRequest, StateResponse, Status, WaitRequest, WaitResponse,
};
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::ttrpc::{self, r#async::TtrpcContext, Code};
use tokio::sync::watch;

/// A backend failure.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No such container or process.
    #[error("{0}: not found")]
    NotFound(String),
    /// The operation failed; the message says what and on what.
    #[error("{0}")]
    Failed(String),
}

/// Where a container's stdio goes (containerd's FIFO paths; empty: none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stdio {
    /// stdin FIFO.
    pub stdin: String,
    /// stdout FIFO.
    pub stdout: String,
    /// stderr FIFO.
    pub stderr: String,
    /// A terminal was asked for.
    pub terminal: bool,
}

/// Called once by the backend when a started container's init exits, with
/// its wait status as containerd reports it (code, or 128 + signal).
pub type ExitSink = Box<dyn FnOnce(u32) + Send>;

/// What runs the sandboxes.
pub trait Backend: Send + Sync + 'static {
    /// Prepares container `id` from its bundle; nothing runs yet.
    fn create(&self, id: &str, bundle: &str, stdio: &Stdio) -> Result<(), BackendError>;
    /// Starts it and returns the host pid containerd sees; `exited` is
    /// called when it ends.
    fn start(&self, id: &str, exited: ExitSink) -> Result<u32, BackendError>;
    /// Sends `signal` to its init (or to all its processes).
    fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), BackendError>;
    /// Its processes' pids.
    fn pids(&self, id: &str) -> Result<Vec<u32>, BackendError>;
    /// Releases everything it holds (after it stopped, or never started).
    fn delete(&self, id: &str) -> Result<(), BackendError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Exit {
    status: u32,
    at: SystemTime,
}

struct Container {
    bundle: String,
    stdio: Stdio,
    pid: u32,
    status: Status,
    exit: watch::Sender<Option<Exit>>,
}

/// The Task service over backend `B`.
pub struct TaskService<B: Backend> {
    backend: Arc<B>,
    containers: Arc<Mutex<HashMap<String, Container>>>,
    /// Becomes true when the shim should exit (Shutdown with nothing left).
    pub exit_requested: watch::Sender<bool>,
}

fn rpc_error(code: Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

fn backend_error(e: BackendError) -> ttrpc::Error {
    match e {
        BackendError::NotFound(m) => rpc_error(Code::NOT_FOUND, format!("{m}: not found")),
        BackendError::Failed(m) => rpc_error(Code::INTERNAL, m),
    }
}

fn timestamp(t: SystemTime) -> MessageField<Timestamp> {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let mut ts = Timestamp::new();
    ts.seconds = d.as_secs() as i64;
    ts.nanos = d.subsec_nanos() as i32;
    MessageField::some(ts)
}

fn no_exec(exec_id: &str) -> ttrpc::Result<()> {
    if exec_id.is_empty() {
        Ok(())
    } else {
        Err(rpc_error(
            Code::UNIMPLEMENTED,
            format!("exec process {exec_id}: exec is not supported yet"),
        ))
    }
}

impl<B: Backend> TaskService<B> {
    /// A service over `backend` with no containers.
    pub fn new(backend: Arc<B>) -> Self {
        TaskService {
            backend,
            containers: Arc::new(Mutex::new(HashMap::new())),
            exit_requested: watch::channel(false).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        // A panicking holder leaves consistent entries (single-step updates).
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Create.
    pub fn do_create(&self, req: &CreateTaskRequest) -> ttrpc::Result<CreateTaskResponse> {
        if req.id.is_empty() {
            return Err(rpc_error(
                Code::INVALID_ARGUMENT,
                "create: empty container id",
            ));
        }
        if !req.checkpoint.is_empty() {
            return Err(rpc_error(
                Code::UNIMPLEMENTED,
                "create from a checkpoint is not supported",
            ));
        }
        if self.lock().contains_key(&req.id) {
            return Err(rpc_error(
                Code::ALREADY_EXISTS,
                format!("container {} already exists", req.id),
            ));
        }
        let stdio = Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        self.backend
            .create(&req.id, &req.bundle, &stdio)
            .map_err(backend_error)?;
        self.lock().insert(
            req.id.clone(),
            Container {
                bundle: req.bundle.clone(),
                stdio,
                pid: 0,
                status: Status::CREATED,
                exit: watch::channel(None).0,
            },
        );
        Ok(CreateTaskResponse::default())
    }

    /// Start.
    pub fn do_start(&self, req: &StartRequest) -> ttrpc::Result<StartResponse> {
        no_exec(&req.exec_id)?;
        {
            let c = self.lock();
            let c = c.get(&req.id).ok_or_else(|| {
                rpc_error(Code::NOT_FOUND, format!("container {}: not found", req.id))
            })?;
            if c.status != Status::CREATED {
                return Err(rpc_error(
                    Code::FAILED_PRECONDITION,
                    format!("container {} is {:?}, not created", req.id, c.status),
                ));
            }
        }
        let containers = self.containers.clone();
        let id = req.id.clone();
        let sink: ExitSink = Box::new(move |status| {
            let mut map = containers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = map.get_mut(&id) {
                c.status = Status::STOPPED;
                // send_replace: Wait may not be listening yet.
                c.exit.send_replace(Some(Exit {
                    status,
                    at: SystemTime::now(),
                }));
            }
        });
        let pid = self.backend.start(&req.id, sink).map_err(backend_error)?;
        let mut map = self.lock();
        if let Some(c) = map.get_mut(&req.id) {
            c.pid = pid;
            if c.status == Status::CREATED {
                c.status = Status::RUNNING;
            }
        }
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    /// State.
    pub fn do_state(&self, req: &StateRequest) -> ttrpc::Result<StateResponse> {
        no_exec(&req.exec_id)?;
        let map = self.lock();
        let c = map.get(&req.id).ok_or_else(|| {
            rpc_error(Code::NOT_FOUND, format!("container {}: not found", req.id))
        })?;
        let exit = *c.exit.borrow();
        Ok(StateResponse {
            id: req.id.clone(),
            bundle: c.bundle.clone(),
            pid: c.pid,
            status: c.status.into(),
            stdin: c.stdio.stdin.clone(),
            stdout: c.stdio.stdout.clone(),
            stderr: c.stdio.stderr.clone(),
            terminal: c.stdio.terminal,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: exit.map_or(MessageField::none(), |e| timestamp(e.at)),
            ..Default::default()
        })
    }

    /// Wait: until the container's init has exited.
    pub async fn do_wait(&self, req: &WaitRequest) -> ttrpc::Result<WaitResponse> {
        no_exec(&req.exec_id)?;
        let mut rx = {
            let map = self.lock();
            map.get(&req.id)
                .ok_or_else(|| {
                    rpc_error(Code::NOT_FOUND, format!("container {}: not found", req.id))
                })?
                .exit
                .subscribe()
        };
        let exit = loop {
            if let Some(e) = *rx.borrow_and_update() {
                break e;
            }
            if rx.changed().await.is_err() {
                return Err(rpc_error(
                    Code::NOT_FOUND,
                    format!("container {} was deleted while waited for", req.id),
                ));
            }
        };
        Ok(WaitResponse {
            exit_status: exit.status,
            exited_at: timestamp(exit.at),
            ..Default::default()
        })
    }

    /// Kill.
    pub fn do_kill(&self, req: &KillRequest) -> ttrpc::Result<()> {
        no_exec(&req.exec_id)?;
        let status = self.lock().get(&req.id).map(|c| c.status).ok_or_else(|| {
            rpc_error(Code::NOT_FOUND, format!("container {}: not found", req.id))
        })?;
        match status {
            Status::RUNNING | Status::PAUSED => self
                .backend
                .kill(&req.id, req.signal, req.all)
                .map_err(backend_error),
            Status::STOPPED if req.all => Ok(()),
            _ => Err(rpc_error(
                Code::NOT_FOUND,
                format!(
                    "container {}: process already finished or not started",
                    req.id
                ),
            )),
        }
    }

    /// Pids.
    pub fn do_pids(&self, req: &PidsRequest) -> ttrpc::Result<PidsResponse> {
        if !self.lock().contains_key(&req.id) {
            return Err(rpc_error(
                Code::NOT_FOUND,
                format!("container {}: not found", req.id),
            ));
        }
        let pids = self.backend.pids(&req.id).map_err(backend_error)?;
        Ok(PidsResponse {
            processes: pids
                .into_iter()
                .map(|pid| ProcessInfo {
                    pid,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    /// Delete: a stopped (or never started) container.
    pub fn do_delete(&self, req: &DeleteRequest) -> ttrpc::Result<DeleteResponse> {
        no_exec(&req.exec_id)?;
        let (pid, status, exit) = {
            let map = self.lock();
            let c = map.get(&req.id).ok_or_else(|| {
                rpc_error(Code::NOT_FOUND, format!("container {}: not found", req.id))
            })?;
            let exit = *c.exit.borrow();
            (c.pid, c.status, exit)
        };
        if status == Status::RUNNING || status == Status::PAUSED {
            return Err(rpc_error(
                Code::FAILED_PRECONDITION,
                format!("container {} is still running: kill it first", req.id),
            ));
        }
        self.backend.delete(&req.id).map_err(backend_error)?;
        self.lock().remove(&req.id);
        let at = exit.map_or_else(SystemTime::now, |e| e.at);
        Ok(DeleteResponse {
            pid,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: timestamp(at),
            ..Default::default()
        })
    }

    /// Shutdown: the shim exits once no container is left (or at once with
    /// `now`).
    pub fn do_shutdown(&self, req: &ShutdownRequest) {
        if req.now || self.lock().is_empty() {
            self.exit_requested.send_replace(true);
        }
    }
}

fn unimplemented(what: &str) -> ttrpc::Error {
    rpc_error(
        Code::UNIMPLEMENTED,
        format!("{what} is not supported by gvisor-rs yet"),
    )
}

#[async_trait]
impl<B: Backend> containerd_shim_protos::shim_async::Task for TaskService<B> {
    async fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> ttrpc::Result<CreateTaskResponse> {
        self.do_create(&req)
    }
    async fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> ttrpc::Result<StartResponse> {
        self.do_start(&req)
    }
    async fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> ttrpc::Result<StateResponse> {
        self.do_state(&req)
    }
    async fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> ttrpc::Result<WaitResponse> {
        self.do_wait(&req).await
    }
    async fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> ttrpc::Result<Empty> {
        self.do_kill(&req).map(|()| Empty::new())
    }
    async fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> ttrpc::Result<PidsResponse> {
        self.do_pids(&req)
    }
    async fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: DeleteRequest,
    ) -> ttrpc::Result<DeleteResponse> {
        self.do_delete(&req)
    }
    async fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: ConnectRequest,
    ) -> ttrpc::Result<ConnectResponse> {
        let task_pid = self.lock().get(&req.id).map_or(0, |c| c.pid);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }
    async fn shutdown(&self, _ctx: &TtrpcContext, req: ShutdownRequest) -> ttrpc::Result<Empty> {
        self.do_shutdown(&req);
        Ok(Empty::new())
    }
    async fn checkpoint(
        &self,
        _ctx: &TtrpcContext,
        _req: containerd_shim_protos::api::CheckpointTaskRequest,
    ) -> ttrpc::Result<Empty> {
        Err(rpc_error(
            Code::UNIMPLEMENTED,
            "checkpoint is not supported",
        ))
    }
    async fn exec(
        &self,
        _ctx: &TtrpcContext,
        _req: containerd_shim_protos::api::ExecProcessRequest,
    ) -> ttrpc::Result<Empty> {
        Err(unimplemented("exec"))
    }
    async fn pause(
        &self,
        _ctx: &TtrpcContext,
        _req: containerd_shim_protos::api::PauseRequest,
    ) -> ttrpc::Result<Empty> {
        Err(unimplemented("pause"))
    }
    async fn resume(
        &self,
        _ctx: &TtrpcContext,
        _req: containerd_shim_protos::api::ResumeRequest,
    ) -> ttrpc::Result<Empty> {
        Err(unimplemented("resume"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Containers that "run" until killed or told to exit.
    #[derive(Default)]
    struct Stub {
        sinks: Mutex<HashMap<String, ExitSink>>,
        created: Mutex<Vec<String>>,
        deleted: Mutex<Vec<String>>,
    }

    impl Stub {
        fn exit(&self, id: &str, status: u32) {
            let sink = self.sinks.lock().unwrap().remove(id);
            if let Some(s) = sink {
                s(status);
            }
        }
    }

    impl Backend for Stub {
        fn create(&self, id: &str, bundle: &str, _stdio: &Stdio) -> Result<(), BackendError> {
            if bundle == "/bad" {
                return Err(BackendError::Failed(format!(
                    "{bundle}/config.json: missing"
                )));
            }
            self.created.lock().unwrap().push(id.into());
            Ok(())
        }
        fn start(&self, id: &str, exited: ExitSink) -> Result<u32, BackendError> {
            self.sinks.lock().unwrap().insert(id.into(), exited);
            Ok(4242)
        }
        fn kill(&self, id: &str, signal: u32, _all: bool) -> Result<(), BackendError> {
            self.exit(id, 128 + signal);
            Ok(())
        }
        fn pids(&self, _id: &str) -> Result<Vec<u32>, BackendError> {
            Ok(vec![4242, 4243])
        }
        fn delete(&self, id: &str) -> Result<(), BackendError> {
            self.deleted.lock().unwrap().push(id.into());
            Ok(())
        }
    }

    fn code(e: ttrpc::Error) -> Code {
        match e {
            ttrpc::Error::RpcStatus(s) => s.code(),
            other => panic!("not a status: {other:?}"),
        }
    }

    fn create_req(id: &str, bundle: &str) -> CreateTaskRequest {
        CreateTaskRequest {
            id: id.into(),
            bundle: bundle.into(),
            stdout: "/run/fifo-out".into(),
            ..Default::default()
        }
    }

    fn id_req<T: Default>(f: impl FnOnce(&mut T)) -> T {
        let mut t = T::default();
        f(&mut t);
        t
    }

    #[tokio::test]
    async fn lifecycle_create_start_wait_delete() {
        let stub = Arc::new(Stub::default());
        let svc = TaskService::new(stub.clone());
        svc.do_create(&create_req("c1", "/b")).unwrap();
        let st = svc
            .do_state(&id_req(|r: &mut StateRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
        assert_eq!(st.stdout, "/run/fifo-out");
        let started = svc
            .do_start(&id_req(|r: &mut StartRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(started.pid, 4242);
        let again = svc.do_start(&id_req(|r: &mut StartRequest| r.id = "c1".into()));
        assert_eq!(code(again.unwrap_err()), Code::FAILED_PRECONDITION);
        let del = svc.do_delete(&id_req(|r: &mut DeleteRequest| r.id = "c1".into()));
        assert_eq!(code(del.unwrap_err()), Code::FAILED_PRECONDITION, "running");
        // Wait, then the exit arrives.
        let svc = Arc::new(svc);
        let s2 = svc.clone();
        let waiter = tokio::spawn(async move {
            s2.do_wait(&id_req(|r: &mut WaitRequest| r.id = "c1".into()))
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        stub.exit("c1", 7);
        let w = waiter.await.unwrap().unwrap();
        assert_eq!(w.exit_status, 7);
        assert!(w.exited_at.is_some());
        // A Wait after the exit returns at once.
        let w2 = svc
            .do_wait(&id_req(|r: &mut WaitRequest| r.id = "c1".into()))
            .await
            .unwrap();
        assert_eq!(w2.exit_status, 7);
        let st = svc
            .do_state(&id_req(|r: &mut StateRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::STOPPED));
        let kill = svc.do_kill(&id_req(|r: &mut KillRequest| {
            r.id = "c1".into();
            r.signal = 15;
        }));
        assert_eq!(code(kill.unwrap_err()), Code::NOT_FOUND, "finished");
        let d = svc
            .do_delete(&id_req(|r: &mut DeleteRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!((d.pid, d.exit_status), (4242, 7));
        assert_eq!(*stub.deleted.lock().unwrap(), ["c1"]);
        let gone = svc.do_state(&id_req(|r: &mut StateRequest| r.id = "c1".into()));
        assert_eq!(code(gone.unwrap_err()), Code::NOT_FOUND);
        svc.do_shutdown(&ShutdownRequest::default());
        assert!(*svc.exit_requested.borrow());
    }

    #[tokio::test]
    async fn kill_reports_128_plus_signal_and_errors_map_to_codes() {
        let stub = Arc::new(Stub::default());
        let svc = TaskService::new(stub.clone());
        assert_eq!(
            code(svc.do_create(&create_req("", "/b")).unwrap_err()),
            Code::INVALID_ARGUMENT
        );
        assert_eq!(
            code(svc.do_create(&create_req("x", "/bad")).unwrap_err()),
            Code::INTERNAL
        );
        svc.do_create(&create_req("c2", "/b")).unwrap();
        assert_eq!(
            code(svc.do_create(&create_req("c2", "/b")).unwrap_err()),
            Code::ALREADY_EXISTS
        );
        svc.do_shutdown(&ShutdownRequest::default());
        assert!(!*svc.exit_requested.borrow(), "a container is left");
        svc.do_start(&id_req(|r: &mut StartRequest| r.id = "c2".into()))
            .unwrap();
        let pids = svc
            .do_pids(&id_req(|r: &mut PidsRequest| r.id = "c2".into()))
            .unwrap();
        assert_eq!(pids.processes.len(), 2);
        svc.do_kill(&id_req(|r: &mut KillRequest| {
            r.id = "c2".into();
            r.signal = 9;
        }))
        .unwrap();
        let w = svc
            .do_wait(&id_req(|r: &mut WaitRequest| r.id = "c2".into()))
            .await
            .unwrap();
        assert_eq!(w.exit_status, 137);
        let exec = svc.do_start(&id_req(|r: &mut StartRequest| {
            r.id = "c2".into();
            r.exec_id = "e1".into();
        }));
        assert_eq!(code(exec.unwrap_err()), Code::UNIMPLEMENTED);
        assert_eq!(
            code(
                svc.do_kill(&id_req(|r: &mut KillRequest| r.id = "nope".into()))
                    .unwrap_err()
            ),
            Code::NOT_FOUND
        );
    }
}
