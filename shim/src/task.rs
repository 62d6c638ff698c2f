//! The containerd Task service (shim v2 task API), generic over the sandbox
//! backend, as runwasi's containerd-shimkit does: the service keeps the
//! state machine of every container and exec process (created → running ⇄
//! paused → stopped → deleted), waits and exit statuses, publishes the task
//! events, and maps failures to ttrpc codes; the backend runs the real
//! sandbox. Unit tests drive it with a stub backend, without containerd.
//!
//! Every RPC is served; Checkpoint answers UNIMPLEMENTED.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use containerd_shim_protos::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, ExecProcessRequest, KillRequest, PauseRequest, PidsRequest,
    PidsResponse, ProcessInfo, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, Status,
    UpdateTaskRequest, WaitRequest, WaitResponse,
};
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{MessageDyn, MessageField};
use containerd_shim_protos::topics;
use containerd_shim_protos::ttrpc::{self, r#async::TtrpcContext, Code};
use tokio::sync::watch;

/// A backend failure.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No such container or process.
    #[error("{0}: not found")]
    NotFound(String),
    /// The request is not valid (bad spec, bad options).
    #[error("{0}")]
    Invalid(String),
    /// Not supported by this backend.
    #[error("{0}")]
    Unsupported(String),
    /// The operation failed; the message says what and on what.
    #[error("{0}")]
    Failed(String),
}

/// Where a process's stdio goes (containerd's FIFO paths; empty: none).
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

/// Called once by the backend when a started process exits, with its
/// status as containerd reports it (code, or 128 + signal).
pub type ExitSink = Box<dyn FnOnce(u32) + Send>;

/// Where task events go (containerd's publisher in the shim; a recorder in
/// tests). Calls come from any thread and must not block.
pub trait Events: Send + Sync + 'static {
    /// Publishes `event` under `topic` (one of containerd's task topics).
    fn publish(&self, topic: &'static str, event: Box<dyn MessageDyn>);
}

/// Events that go nowhere.
pub struct NoEvents;

impl Events for NoEvents {
    fn publish(&self, _topic: &'static str, _event: Box<dyn MessageDyn>) {}
}

/// What runs the sandboxes. `exec_id` is empty for a container's init.
pub trait Backend: Send + Sync + 'static {
    /// Prepares container `req.id` from its bundle and rootfs; nothing
    /// runs yet.
    fn create(&self, req: &CreateTaskRequest) -> Result<(), BackendError>;
    /// Prepares process `exec_id` in running container `id` from an OCI
    /// process spec (JSON).
    fn exec(&self, id: &str, exec_id: &str, spec: &[u8], stdio: &Stdio)
        -> Result<(), BackendError>;
    /// Starts a prepared process and returns the pid containerd sees;
    /// `exited` is called when it ends.
    fn start(&self, id: &str, exec_id: &str, exited: ExitSink) -> Result<u32, BackendError>;
    /// Sends `signal` to a process (or with `all` to every process of the
    /// container).
    fn kill(&self, id: &str, exec_id: &str, signal: u32, all: bool) -> Result<(), BackendError>;
    /// The container's processes' pids (inside the sandbox).
    fn pids(&self, id: &str) -> Result<Vec<u32>, BackendError>;
    /// Stops (true) or restarts every task of the container.
    fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError>;
    /// Sets the window size of a process's terminal.
    fn resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError>;
    /// Closes a process's stdin.
    fn close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError>;
    /// Metrics of the container (a containerd cgroups Metrics message).
    fn stats(&self, id: &str) -> Result<Any, BackendError>;
    /// Applies new resources (LinuxResources as containerd encodes them).
    fn update(&self, id: &str, resources: &Any) -> Result<(), BackendError>;
    /// Releases what a process holds (after it stopped, or never started);
    /// for the init, everything of the container.
    fn delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Exit {
    status: u32,
    at: SystemTime,
}

struct Proc {
    stdio: Stdio,
    pid: u32,
    status: Status,
    exit: watch::Sender<Option<Exit>>,
}

impl Proc {
    fn new(stdio: Stdio) -> Proc {
        Proc {
            stdio,
            pid: 0,
            status: Status::CREATED,
            exit: watch::channel(None).0,
        }
    }
}

struct Container {
    bundle: String,
    init: Proc,
    execs: HashMap<String, Proc>,
}

impl Container {
    fn proc(&self, exec_id: &str) -> Option<&Proc> {
        if exec_id.is_empty() {
            Some(&self.init)
        } else {
            self.execs.get(exec_id)
        }
    }
    fn proc_mut(&mut self, exec_id: &str) -> Option<&mut Proc> {
        if exec_id.is_empty() {
            Some(&mut self.init)
        } else {
            self.execs.get_mut(exec_id)
        }
    }
}

type Table = Arc<Mutex<HashMap<String, Container>>>;

/// The Task service over backend `B`.
pub struct TaskService<B: Backend> {
    backend: Arc<B>,
    events: Arc<dyn Events>,
    containers: Table,
    /// Becomes true when the shim should exit (Shutdown with nothing left).
    pub exit_requested: watch::Sender<bool>,
}

fn rpc_error(code: Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

fn backend_error(e: BackendError) -> ttrpc::Error {
    match e {
        BackendError::NotFound(m) => rpc_error(Code::NOT_FOUND, format!("{m}: not found")),
        BackendError::Invalid(m) => rpc_error(Code::INVALID_ARGUMENT, m),
        BackendError::Unsupported(m) => rpc_error(Code::UNIMPLEMENTED, m),
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

fn not_found(id: &str, exec_id: &str) -> ttrpc::Error {
    if exec_id.is_empty() {
        rpc_error(Code::NOT_FOUND, format!("container {id}: not found"))
    } else {
        rpc_error(
            Code::NOT_FOUND,
            format!("process {exec_id} of container {id}: not found"),
        )
    }
}

fn lock(t: &Table) -> MutexGuard<'_, HashMap<String, Container>> {
    // A panicking holder leaves consistent entries (single-step updates).
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl<B: Backend> TaskService<B> {
    /// A service over `backend` with no containers, publishing to `events`.
    pub fn new(backend: Arc<B>, events: Arc<dyn Events>) -> Self {
        TaskService {
            backend,
            events,
            containers: Arc::new(Mutex::new(HashMap::new())),
            exit_requested: watch::channel(false).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        lock(&self.containers)
    }

    /// The status of a process, or NOT_FOUND.
    fn status(&self, id: &str, exec_id: &str) -> ttrpc::Result<Status> {
        self.lock()
            .get(id)
            .and_then(|c| c.proc(exec_id))
            .map(|p| p.status)
            .ok_or_else(|| not_found(id, exec_id))
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
        self.backend.create(req).map_err(backend_error)?;
        self.lock().insert(
            req.id.clone(),
            Container {
                bundle: req.bundle.clone(),
                init: Proc::new(stdio.clone()),
                execs: HashMap::new(),
            },
        );
        self.events.publish(
            topics::TASK_CREATE_EVENT_TOPIC,
            Box::new(TaskCreate {
                container_id: req.id.clone(),
                bundle: req.bundle.clone(),
                rootfs: req.rootfs.clone(),
                io: MessageField::some(TaskIO {
                    stdin: stdio.stdin,
                    stdout: stdio.stdout,
                    stderr: stdio.stderr,
                    terminal: stdio.terminal,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
        Ok(CreateTaskResponse::default())
    }

    /// Exec: adds a process to a running container.
    pub fn do_exec(&self, req: &ExecProcessRequest) -> ttrpc::Result<()> {
        if req.exec_id.is_empty() {
            return Err(rpc_error(Code::INVALID_ARGUMENT, "exec: empty exec id"));
        }
        match self.status(&req.id, "")? {
            Status::RUNNING => {}
            s => {
                return Err(rpc_error(
                    Code::FAILED_PRECONDITION,
                    format!("container {} is {s:?}, not running", req.id),
                ))
            }
        }
        if self.status(&req.id, &req.exec_id).is_ok() {
            return Err(rpc_error(
                Code::ALREADY_EXISTS,
                format!(
                    "process {} of container {} already exists",
                    req.exec_id, req.id
                ),
            ));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .ok_or_else(|| rpc_error(Code::INVALID_ARGUMENT, "exec: no process spec"))?;
        let stdio = Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        self.backend
            .exec(&req.id, &req.exec_id, &spec, &stdio)
            .map_err(backend_error)?;
        if let Some(c) = self.lock().get_mut(&req.id) {
            c.execs.insert(req.exec_id.clone(), Proc::new(stdio));
        }
        self.events.publish(
            topics::TASK_EXEC_ADDED_EVENT_TOPIC,
            Box::new(TaskExecAdded {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                ..Default::default()
            }),
        );
        Ok(())
    }

    /// Start (the init or an exec process).
    pub fn do_start(&self, req: &StartRequest) -> ttrpc::Result<StartResponse> {
        let status = self.status(&req.id, &req.exec_id)?;
        if status != Status::CREATED {
            return Err(rpc_error(
                Code::FAILED_PRECONDITION,
                format!(
                    "process {:?} of {} is {status:?}, not created",
                    req.exec_id, req.id
                ),
            ));
        }
        let containers = self.containers.clone();
        let events = self.events.clone();
        let (id, exec_id) = (req.id.clone(), req.exec_id.clone());
        let sink: ExitSink = Box::new(move |status| {
            let at = SystemTime::now();
            let mut map = lock(&containers);
            let Some(p) = map.get_mut(&id).and_then(|c| c.proc_mut(&exec_id)) else {
                return;
            };
            p.status = Status::STOPPED;
            let pid = p.pid;
            // send_replace: Wait may not be listening yet.
            p.exit.send_replace(Some(Exit { status, at }));
            drop(map);
            events.publish(
                topics::TASK_EXIT_EVENT_TOPIC,
                Box::new(TaskExit {
                    container_id: id.clone(),
                    id: if exec_id.is_empty() {
                        id.clone()
                    } else {
                        exec_id
                    },
                    pid,
                    exit_status: status,
                    exited_at: timestamp(at),
                    ..Default::default()
                }),
            );
        });
        let pid = self
            .backend
            .start(&req.id, &req.exec_id, sink)
            .map_err(backend_error)?;
        if let Some(p) = self
            .lock()
            .get_mut(&req.id)
            .and_then(|c| c.proc_mut(&req.exec_id))
        {
            p.pid = pid;
            if p.status == Status::CREATED {
                p.status = Status::RUNNING;
            }
        }
        if req.exec_id.is_empty() {
            self.events.publish(
                topics::TASK_START_EVENT_TOPIC,
                Box::new(TaskStart {
                    container_id: req.id.clone(),
                    pid,
                    ..Default::default()
                }),
            );
        } else {
            self.events.publish(
                topics::TASK_EXEC_STARTED_EVENT_TOPIC,
                Box::new(TaskExecStarted {
                    container_id: req.id.clone(),
                    exec_id: req.exec_id.clone(),
                    pid,
                    ..Default::default()
                }),
            );
        }
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    /// State.
    pub fn do_state(&self, req: &StateRequest) -> ttrpc::Result<StateResponse> {
        let map = self.lock();
        let c = map.get(&req.id).ok_or_else(|| not_found(&req.id, ""))?;
        let p = c
            .proc(&req.exec_id)
            .ok_or_else(|| not_found(&req.id, &req.exec_id))?;
        let exit = *p.exit.borrow();
        Ok(StateResponse {
            id: req.id.clone(),
            bundle: c.bundle.clone(),
            pid: p.pid,
            status: p.status.into(),
            stdin: p.stdio.stdin.clone(),
            stdout: p.stdio.stdout.clone(),
            stderr: p.stdio.stderr.clone(),
            terminal: p.stdio.terminal,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: exit.map_or(MessageField::none(), |e| timestamp(e.at)),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    /// Wait: until the process has exited.
    pub async fn do_wait(&self, req: &WaitRequest) -> ttrpc::Result<WaitResponse> {
        let mut rx = {
            let map = self.lock();
            map.get(&req.id)
                .and_then(|c| c.proc(&req.exec_id))
                .ok_or_else(|| not_found(&req.id, &req.exec_id))?
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
        match self.status(&req.id, &req.exec_id)? {
            Status::RUNNING | Status::PAUSED => self
                .backend
                .kill(&req.id, &req.exec_id, req.signal, req.all)
                .map_err(backend_error),
            Status::STOPPED if req.all => Ok(()),
            _ => Err(rpc_error(
                Code::NOT_FOUND,
                format!(
                    "process {:?} of container {}: already finished or not started",
                    req.exec_id, req.id
                ),
            )),
        }
    }

    /// Pids.
    pub fn do_pids(&self, req: &PidsRequest) -> ttrpc::Result<PidsResponse> {
        self.status(&req.id, "")?;
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

    /// Pause (true) or Resume.
    pub fn do_pause(&self, id: &str, pause: bool) -> ttrpc::Result<()> {
        let (from, to) = if pause {
            (Status::RUNNING, Status::PAUSED)
        } else {
            (Status::PAUSED, Status::RUNNING)
        };
        let st = self.status(id, "")?;
        if st != from {
            return Err(rpc_error(
                Code::FAILED_PRECONDITION,
                format!("container {id} is {st:?}, not {from:?}"),
            ));
        }
        self.backend.pause(id, pause).map_err(backend_error)?;
        if let Some(c) = self.lock().get_mut(id) {
            for p in std::iter::once(&mut c.init).chain(c.execs.values_mut()) {
                if p.status == from {
                    p.status = to;
                }
            }
        }
        if pause {
            self.events.publish(
                topics::TASK_PAUSED_EVENT_TOPIC,
                Box::new(TaskPaused {
                    container_id: id.to_string(),
                    ..Default::default()
                }),
            );
        } else {
            self.events.publish(
                topics::TASK_RESUMED_EVENT_TOPIC,
                Box::new(TaskResumed {
                    container_id: id.to_string(),
                    ..Default::default()
                }),
            );
        }
        Ok(())
    }

    /// ResizePty.
    pub fn do_resize(&self, req: &ResizePtyRequest) -> ttrpc::Result<()> {
        self.status(&req.id, &req.exec_id)?;
        self.backend
            .resize(&req.id, &req.exec_id, req.width, req.height)
            .map_err(backend_error)
    }

    /// CloseIO.
    pub fn do_close_io(&self, req: &CloseIORequest) -> ttrpc::Result<()> {
        self.status(&req.id, &req.exec_id)?;
        if req.stdin {
            self.backend
                .close_stdin(&req.id, &req.exec_id)
                .map_err(backend_error)?;
        }
        Ok(())
    }

    /// Stats.
    pub fn do_stats(&self, req: &StatsRequest) -> ttrpc::Result<StatsResponse> {
        self.status(&req.id, "")?;
        let stats = self.backend.stats(&req.id).map_err(backend_error)?;
        Ok(StatsResponse {
            stats: MessageField::some(stats),
            ..Default::default()
        })
    }

    /// Update.
    pub fn do_update(&self, req: &UpdateTaskRequest) -> ttrpc::Result<()> {
        self.status(&req.id, "")?;
        let r = req
            .resources
            .as_ref()
            .ok_or_else(|| rpc_error(Code::INVALID_ARGUMENT, "update: no resources"))?;
        self.backend.update(&req.id, r).map_err(backend_error)
    }

    /// Delete: a stopped (or never started) process; for the init, the
    /// whole container.
    pub fn do_delete(&self, req: &DeleteRequest) -> ttrpc::Result<DeleteResponse> {
        let (pid, status, exit) = {
            let map = self.lock();
            let p = map
                .get(&req.id)
                .and_then(|c| c.proc(&req.exec_id))
                .ok_or_else(|| not_found(&req.id, &req.exec_id))?;
            let exit = *p.exit.borrow();
            (p.pid, p.status, exit)
        };
        if status == Status::RUNNING || status == Status::PAUSED {
            return Err(rpc_error(
                Code::FAILED_PRECONDITION,
                format!(
                    "process {:?} of container {} is still running: kill it first",
                    req.exec_id, req.id
                ),
            ));
        }
        self.backend
            .delete(&req.id, &req.exec_id)
            .map_err(backend_error)?;
        {
            let mut map = self.lock();
            if req.exec_id.is_empty() {
                map.remove(&req.id);
            } else if let Some(c) = map.get_mut(&req.id) {
                c.execs.remove(&req.exec_id);
            }
        }
        let at = exit.map_or_else(SystemTime::now, |e| e.at);
        if req.exec_id.is_empty() {
            self.events.publish(
                topics::TASK_DELETE_EVENT_TOPIC,
                Box::new(TaskDelete {
                    container_id: req.id.clone(),
                    pid,
                    exit_status: exit.map_or(0, |e| e.status),
                    exited_at: timestamp(at),
                    id: req.id.clone(),
                    ..Default::default()
                }),
            );
        }
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

    /// Whether no container is left.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
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
        let task_pid = self.lock().get(&req.id).map_or(0, |c| c.init.pid);
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
            "checkpoint is not supported by gvisor-rs",
        ))
    }
    async fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> ttrpc::Result<Empty> {
        self.do_exec(&req).map(|()| Empty::new())
    }
    async fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> ttrpc::Result<Empty> {
        self.do_pause(&req.id, true).map(|()| Empty::new())
    }
    async fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> ttrpc::Result<Empty> {
        self.do_pause(&req.id, false).map(|()| Empty::new())
    }
    async fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> ttrpc::Result<Empty> {
        self.do_resize(&req).map(|()| Empty::new())
    }
    async fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> ttrpc::Result<Empty> {
        self.do_close_io(&req).map(|()| Empty::new())
    }
    async fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> ttrpc::Result<StatsResponse> {
        self.do_stats(&req)
    }
    async fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> ttrpc::Result<Empty> {
        self.do_update(&req).map(|()| Empty::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes that "run" until killed or told to exit.
    #[derive(Default)]
    struct Stub {
        sinks: Mutex<HashMap<(String, String), ExitSink>>,
        created: Mutex<Vec<String>>,
        deleted: Mutex<Vec<(String, String)>>,
        paused: Mutex<Vec<(String, bool)>>,
        closed: Mutex<Vec<(String, String)>>,
    }

    impl Stub {
        fn exit(&self, id: &str, exec_id: &str, status: u32) {
            let sink = self
                .sinks
                .lock()
                .unwrap()
                .remove(&(id.to_string(), exec_id.to_string()));
            if let Some(s) = sink {
                s(status);
            }
        }
    }

    impl Backend for Stub {
        fn create(&self, req: &CreateTaskRequest) -> Result<(), BackendError> {
            if req.bundle == "/bad" {
                return Err(BackendError::Failed(format!(
                    "{}/config.json: missing",
                    req.bundle
                )));
            }
            self.created.lock().unwrap().push(req.id.clone());
            Ok(())
        }
        fn exec(&self, _: &str, _: &str, spec: &[u8], _: &Stdio) -> Result<(), BackendError> {
            if spec.is_empty() {
                return Err(BackendError::Invalid("empty process spec".into()));
            }
            Ok(())
        }
        fn start(&self, id: &str, exec_id: &str, exited: ExitSink) -> Result<u32, BackendError> {
            self.sinks
                .lock()
                .unwrap()
                .insert((id.into(), exec_id.into()), exited);
            Ok(if exec_id.is_empty() { 4242 } else { 4243 })
        }
        fn kill(&self, id: &str, exec_id: &str, signal: u32, _: bool) -> Result<(), BackendError> {
            self.exit(id, exec_id, 128 + signal);
            Ok(())
        }
        fn pids(&self, _id: &str) -> Result<Vec<u32>, BackendError> {
            Ok(vec![1, 2])
        }
        fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
            self.paused.lock().unwrap().push((id.into(), pause));
            Ok(())
        }
        fn resize(&self, _: &str, _: &str, w: u32, _: u32) -> Result<(), BackendError> {
            if w == 0 {
                return Err(BackendError::Invalid("width 0".into()));
            }
            Ok(())
        }
        fn close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
            self.closed
                .lock()
                .unwrap()
                .push((id.into(), exec_id.into()));
            Ok(())
        }
        fn stats(&self, _id: &str) -> Result<Any, BackendError> {
            Ok(Any {
                type_url: "test".into(),
                ..Default::default()
            })
        }
        fn update(&self, _: &str, r: &Any) -> Result<(), BackendError> {
            if r.value.is_empty() {
                return Err(BackendError::Invalid("no resources".into()));
            }
            Ok(())
        }
        fn delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
            self.deleted
                .lock()
                .unwrap()
                .push((id.into(), exec_id.into()));
            Ok(())
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<&'static str>>);

    impl Events for Recorder {
        fn publish(&self, topic: &'static str, _event: Box<dyn MessageDyn>) {
            self.0.lock().unwrap().push(topic);
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

    fn req<T: Default>(f: impl FnOnce(&mut T)) -> T {
        let mut t = T::default();
        f(&mut t);
        t
    }

    fn service() -> (Arc<Stub>, Arc<Recorder>, Arc<TaskService<Stub>>) {
        let stub = Arc::new(Stub::default());
        let rec = Arc::new(Recorder::default());
        let svc = Arc::new(TaskService::new(stub.clone(), rec.clone()));
        (stub, rec, svc)
    }

    #[tokio::test]
    async fn lifecycle_create_start_wait_delete() {
        let (stub, rec, svc) = service();
        svc.do_create(&create_req("c1", "/b")).unwrap();
        let st = svc
            .do_state(&req(|r: &mut StateRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
        assert_eq!(st.stdout, "/run/fifo-out");
        let started = svc
            .do_start(&req(|r: &mut StartRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(started.pid, 4242);
        let again = svc.do_start(&req(|r: &mut StartRequest| r.id = "c1".into()));
        assert_eq!(code(again.unwrap_err()), Code::FAILED_PRECONDITION);
        let del = svc.do_delete(&req(|r: &mut DeleteRequest| r.id = "c1".into()));
        assert_eq!(code(del.unwrap_err()), Code::FAILED_PRECONDITION, "running");
        // Wait, then the exit arrives.
        let s2 = svc.clone();
        let waiter = tokio::spawn(async move {
            s2.do_wait(&req(|r: &mut WaitRequest| r.id = "c1".into()))
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        stub.exit("c1", "", 7);
        let w = waiter.await.unwrap().unwrap();
        assert_eq!(w.exit_status, 7);
        assert!(w.exited_at.is_some());
        // A Wait after the exit returns at once.
        let w2 = svc
            .do_wait(&req(|r: &mut WaitRequest| r.id = "c1".into()))
            .await
            .unwrap();
        assert_eq!(w2.exit_status, 7);
        let st = svc
            .do_state(&req(|r: &mut StateRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::STOPPED));
        assert!(st.exited_at.is_some());
        let kill = svc.do_kill(&req(|r: &mut KillRequest| {
            r.id = "c1".into();
            r.signal = 15;
        }));
        assert_eq!(code(kill.unwrap_err()), Code::NOT_FOUND, "finished");
        let d = svc
            .do_delete(&req(|r: &mut DeleteRequest| r.id = "c1".into()))
            .unwrap();
        assert_eq!((d.pid, d.exit_status), (4242, 7));
        assert_eq!(
            *stub.deleted.lock().unwrap(),
            [("c1".into(), String::new())]
        );
        let gone = svc.do_state(&req(|r: &mut StateRequest| r.id = "c1".into()));
        assert_eq!(code(gone.unwrap_err()), Code::NOT_FOUND);
        svc.do_shutdown(&ShutdownRequest::default());
        assert!(*svc.exit_requested.borrow());
        assert_eq!(
            *rec.0.lock().unwrap(),
            [
                topics::TASK_CREATE_EVENT_TOPIC,
                topics::TASK_START_EVENT_TOPIC,
                topics::TASK_EXIT_EVENT_TOPIC,
                topics::TASK_DELETE_EVENT_TOPIC
            ]
        );
    }

    #[tokio::test]
    async fn kill_reports_128_plus_signal_and_errors_map_to_codes() {
        let (_stub, _rec, svc) = service();
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
        svc.do_start(&req(|r: &mut StartRequest| r.id = "c2".into()))
            .unwrap();
        let pids = svc
            .do_pids(&req(|r: &mut PidsRequest| r.id = "c2".into()))
            .unwrap();
        assert_eq!(pids.processes.len(), 2);
        svc.do_kill(&req(|r: &mut KillRequest| {
            r.id = "c2".into();
            r.signal = 9;
        }))
        .unwrap();
        let w = svc
            .do_wait(&req(|r: &mut WaitRequest| r.id = "c2".into()))
            .await
            .unwrap();
        assert_eq!(w.exit_status, 137);
        assert_eq!(
            code(
                svc.do_kill(&req(|r: &mut KillRequest| r.id = "nope".into()))
                    .unwrap_err()
            ),
            Code::NOT_FOUND
        );
        let cp = svc.do_exec(&req(|r: &mut ExecProcessRequest| {
            r.id = "c2".into();
            r.exec_id = "e".into();
        }));
        assert_eq!(code(cp.unwrap_err()), Code::FAILED_PRECONDITION, "stopped");
    }

    #[tokio::test]
    async fn exec_pause_resize_close_stats_update() {
        let (stub, rec, svc) = service();
        svc.do_create(&create_req("c", "/b")).unwrap();
        let exec = |id: &str, spec: &[u8]| {
            svc.do_exec(&req(|r: &mut ExecProcessRequest| {
                r.id = "c".into();
                r.exec_id = id.into();
                r.spec = MessageField::some(Any {
                    value: spec.to_vec(),
                    ..Default::default()
                });
            }))
        };
        assert_eq!(
            code(exec("e1", b"{}").unwrap_err()),
            Code::FAILED_PRECONDITION,
            "not started"
        );
        svc.do_start(&req(|r: &mut StartRequest| r.id = "c".into()))
            .unwrap();
        assert_eq!(code(exec("e1", b"").unwrap_err()), Code::INVALID_ARGUMENT);
        exec("e1", b"{}").unwrap();
        assert_eq!(code(exec("e1", b"{}").unwrap_err()), Code::ALREADY_EXISTS);
        let st = svc
            .do_state(&req(|r: &mut StateRequest| {
                r.id = "c".into();
                r.exec_id = "e1".into();
            }))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
        let p = svc
            .do_start(&req(|r: &mut StartRequest| {
                r.id = "c".into();
                r.exec_id = "e1".into();
            }))
            .unwrap();
        assert_eq!(p.pid, 4243);
        // Pause stops the container and its exec; resume undoes it.
        svc.do_pause("c", true).unwrap();
        assert_eq!(
            code(svc.do_pause("c", true).unwrap_err()),
            Code::FAILED_PRECONDITION
        );
        let st = svc
            .do_state(&req(|r: &mut StateRequest| {
                r.id = "c".into();
                r.exec_id = "e1".into();
            }))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::PAUSED));
        svc.do_pause("c", false).unwrap();
        assert_eq!(
            *stub.paused.lock().unwrap(),
            [("c".into(), true), ("c".into(), false)]
        );
        svc.do_resize(&req(|r: &mut ResizePtyRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
            r.width = 80;
            r.height = 24;
        }))
        .unwrap();
        let bad = svc.do_resize(&req(|r: &mut ResizePtyRequest| {
            r.id = "c".into();
            r.exec_id = "nope".into();
        }));
        assert_eq!(code(bad.unwrap_err()), Code::NOT_FOUND);
        svc.do_close_io(&req(|r: &mut CloseIORequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
            r.stdin = true;
        }))
        .unwrap();
        assert_eq!(
            *stub.closed.lock().unwrap(),
            [("c".to_string(), "e1".to_string())]
        );
        let s = svc
            .do_stats(&req(|r: &mut StatsRequest| r.id = "c".into()))
            .unwrap();
        assert_eq!(s.stats.type_url, "test");
        let u = svc.do_update(&req(|r: &mut UpdateTaskRequest| r.id = "c".into()));
        assert_eq!(code(u.unwrap_err()), Code::INVALID_ARGUMENT);
        // The exec ends and is deleted on its own; the container runs on.
        stub.exit("c", "e1", 3);
        let w = svc
            .do_wait(&req(|r: &mut WaitRequest| {
                r.id = "c".into();
                r.exec_id = "e1".into();
            }))
            .await
            .unwrap();
        assert_eq!(w.exit_status, 3);
        let d = svc
            .do_delete(&req(|r: &mut DeleteRequest| {
                r.id = "c".into();
                r.exec_id = "e1".into();
            }))
            .unwrap();
        assert_eq!((d.pid, d.exit_status), (4243, 3));
        let st = svc
            .do_state(&req(|r: &mut StateRequest| r.id = "c".into()))
            .unwrap();
        assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
        assert_eq!(
            *rec.0.lock().unwrap(),
            [
                topics::TASK_CREATE_EVENT_TOPIC,
                topics::TASK_START_EVENT_TOPIC,
                topics::TASK_EXEC_ADDED_EVENT_TOPIC,
                topics::TASK_EXEC_STARTED_EVENT_TOPIC,
                topics::TASK_PAUSED_EVENT_TOPIC,
                topics::TASK_RESUMED_EVENT_TOPIC,
                topics::TASK_EXIT_EVENT_TOPIC,
            ]
        );
    }
}
