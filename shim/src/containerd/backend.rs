//! What the Task service asks of a sandbox backend, and where task events
//! go.

use containerd_shim_protos::api::CreateTaskRequest;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::MessageDyn;

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

/// Where a process's stdio goes: containerd's FIFO paths (empty: none), or
/// descriptors already open (`open`, the runc CLI's: its caller's pipes,
/// sockets or a terminal), which win over the paths.
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
    /// stdin, stdout and stderr already open (duplicated for the sentry).
    pub open: Option<OpenStdio>,
    /// Open descriptors the process gets as 3, 4, ... (runc's
    /// --preserve-fds; duplicated for the sentry).
    pub extra: Option<ExtraFds>,
}

impl Stdio {
    /// containerd's FIFO paths (nothing already open).
    pub fn fifos(stdin: &str, stdout: &str, stderr: &str, terminal: bool) -> Stdio {
        Stdio {
            stdin: stdin.to_string(),
            stdout: stdout.to_string(),
            stderr: stderr.to_string(),
            terminal,
            ..Default::default()
        }
    }
}

/// Descriptors passed on as 3, 4, ...; equal when they are the same ones.
#[derive(Clone, Debug)]
pub struct ExtraFds(pub std::sync::Arc<Vec<std::os::fd::OwnedFd>>);

impl PartialEq for ExtraFds {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ExtraFds {}

/// Three open descriptors (stdin, stdout, stderr) shared by clones of a
/// [`Stdio`]; equal when they are the same three.
#[derive(Clone, Debug)]
pub struct OpenStdio(pub std::sync::Arc<[std::os::fd::OwnedFd; 3]>);

impl PartialEq for OpenStdio {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OpenStdio {}

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
