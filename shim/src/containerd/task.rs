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
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::topics;
use containerd_shim_protos::ttrpc::{self, r#async::TtrpcContext, Code};
use tokio::sync::watch;

use super::backend::{Backend, BackendError, Events, ExitSink, Stdio};

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
        let stdio = Stdio::fifos(&req.stdin, &req.stdout, &req.stderr, req.terminal);
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
        let stdio = Stdio::fifos(&req.stdin, &req.stdout, &req.stderr, req.terminal);
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
mod tests;
