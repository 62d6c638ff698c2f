//! The shim's sandbox backend: one sentry per pod, one gofer per container.
//!
//! The first container created (a CRI pod's sandbox container, or the only
//! container of a plain `ctr run`) starts the sentry (`gvisor boot
//! --control-fd 3`) and the sandbox cgroup; every container gets its own
//! gofer (`gvisor gofer`, pivot_root'ed into the container's rootfs) whose
//! channels, with the container's stdio, are handed to the sentry over the
//! control socket. Processes are identified by their pid inside the
//! sandbox; containerd is told the sentry's host pid.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use containerd_shim_protos::api::CreateTaskRequest;
use containerd_shim_protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryOomControl, MemoryStat, Metrics, PidsStat,
};
use containerd_shim_protos::events::task::TaskOOM;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message as _, MessageField};
use containerd_shim_protos::topics;

use crate::cgroup::{self, Cgroup};
use crate::confine;
use crate::control::{self, op, Client, ControlError, Request};
use crate::options::RuntimeOptions;
use crate::task::{Backend, BackendError, Events, ExitSink, Stdio};

/// The CRI annotation naming a container's pod sandbox.
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
/// The CRI annotation saying whether a container is the pod's sandbox
/// ("sandbox") or one of its containers ("container").
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// Runs closures on one long-lived thread: processes started there get
/// PR_SET_PDEATHSIG tied to that thread, which must outlive them.
struct Spawner(Mutex<mpsc::Sender<Box<dyn FnOnce() + Send>>>);

impl Spawner {
    fn new() -> std::io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                while let Ok(f) = rx.recv() {
                    f();
                }
            })?;
        Ok(Spawner(Mutex::new(tx)))
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::channel();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| anyhow!("the spawner thread is gone"))?;
        rx.recv().map_err(|_| anyhow!("the spawner thread is gone"))
    }
}

/// One process's stdin relay: containerd's FIFO is copied into a pipe whose
/// read end the sandbox holds; CloseIO drops the write end.
type StdinWriter = Arc<Mutex<Option<OwnedFd>>>;

struct ProcEntry {
    /// pid inside the sandbox.
    pid: i32,
    stdin: Option<StdinWriter>,
}

struct Ctr {
    rootfs_mounted: Option<PathBuf>,
    gofer_pid: i32,
    procs: HashMap<String, ProcEntry>,
}

struct Sandbox {
    /// The container whose creation started it.
    id: String,
    sentry_pid: i32,
    client: Arc<Client>,
    cgroup: Option<Cgroup>,
    options: RuntimeOptions,
    dead: Arc<AtomicBool>,
    /// The OOM watcher: told to stop, it reads the counter a last time.
    oom_watch: Option<OomWatch>,
}

#[derive(Default)]
struct State {
    sandbox: Option<Sandbox>,
    containers: HashMap<String, Ctr>,
}

type Sinks = Arc<Mutex<HashMap<i32, ExitSink>>>;

/// The OOM watcher thread and what stops it (dropping the sender).
type OomWatch = (mpsc::Sender<()>, std::thread::JoinHandle<()>);

/// The pod backend.
pub struct Pod {
    gvisor: CString,
    events: Arc<dyn Events>,
    spawner: Spawner,
    state: Mutex<State>,
    /// Exit sinks by sandbox pid; never locked across a control call.
    sinks: Sinks,
}

fn failed(e: anyhow::Error) -> BackendError {
    BackendError::Failed(format!("{e:#}"))
}

fn control_error(e: ControlError) -> BackendError {
    if e.is_not_found() {
        BackendError::NotFound(e.to_string())
    } else if let ControlError::Sentry { code, message } = &e {
        if *code == libc::EINVAL {
            BackendError::Invalid(message.clone())
        } else {
            BackendError::Failed(message.clone())
        }
    } else {
        BackendError::Failed(e.to_string())
    }
}

fn cstrings(items: &[OsString]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| anyhow!("{s:?} contains a NUL byte")))
        .collect()
}

/// Opens an output of a process: containerd's FIFO (read-write, so the open
/// does not wait for a reader), a `file://` path, or /dev/null.
fn open_output(path: &str) -> Result<OwnedFd> {
    let f = if path.is_empty() {
        std::fs::OpenOptions::new().write(true).open("/dev/null")
    } else if let Some(p) = path.strip_prefix("file://") {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
    } else if path.starts_with("binary://") {
        anyhow::bail!("stdio {path}: binary log drivers are not supported");
    } else {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
    };
    Ok(f.with_context(|| format!("opening stdio {path:?}"))?.into())
}

/// Opens stdin: /dev/null, or a pipe fed from containerd's FIFO by a thread.
fn open_input(path: &str) -> Result<(OwnedFd, Option<StdinWriter>)> {
    if path.is_empty() {
        let f = std::fs::File::open("/dev/null").context("opening /dev/null")?;
        return Ok((f.into(), None));
    }
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("opening stdin {path:?}"))?;
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(fifo.as_raw_fd(), libc::F_SETFL, 0) };
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!(
            "creating a stdin pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both are fresh descriptors owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let writer: StdinWriter = Arc::new(Mutex::new(Some(w)));
    let w2 = writer.clone();
    std::thread::Builder::new()
        .name("stdin-relay".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                // SAFETY: read into a local buffer from the FIFO we own.
                let n = unsafe { libc::read(fifo.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                let guard = w2.lock().unwrap_or_else(|p| p.into_inner());
                let Some(w) = guard.as_ref() else { break };
                if n <= 0 {
                    break;
                }
                let mut b = &buf[..n as usize];
                while !b.is_empty() {
                    // SAFETY: write of a valid buffer to the pipe we own.
                    let m = unsafe { libc::write(w.as_raw_fd(), b.as_ptr().cast(), b.len()) };
                    if m <= 0 {
                        return;
                    }
                    b = &b[m as usize..];
                }
            }
            // EOF from containerd: the sandbox sees EOF too.
            w2.lock().unwrap_or_else(|p| p.into_inner()).take();
        })
        .context("starting the stdin relay")?;
    Ok((r, Some(writer)))
}

/// Opens a process's three stdio descriptors for the sentry.
fn open_stdio(s: &Stdio) -> Result<(Vec<OwnedFd>, Option<StdinWriter>)> {
    let (stdin, writer) = open_input(&s.stdin)?;
    let stdout = open_output(&s.stdout)?;
    let stderr = if s.terminal {
        open_output("")?
    } else {
        open_output(&s.stderr)?
    };
    Ok((vec![stdin, stdout, stderr], writer))
}

fn kill_and_forget(pid: i32) {
    if pid > 0 {
        // SAFETY: signals our own child; it is reaped by the reaper thread.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Reaps every child of the shim (it is a subreaper: orphans come here too).
pub fn start_reaper() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| loop {
            let mut st = 0;
            // SAFETY: waitpid with a valid out-pointer.
            let r = unsafe { libc::waitpid(-1, &mut st, 0) };
            if r > 0 {
                tracing::debug!(pid = r, status = st, "reaped");
            } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .map(|_| ())
}

fn annotations(spec: &oci_spec::runtime::Spec) -> HashMap<String, String> {
    spec.annotations().clone().unwrap_or_default()
}

impl Pod {
    /// A backend that runs `gvisor` (the sandbox binary) and publishes to
    /// `events`.
    pub fn new(gvisor: &Path, events: Arc<dyn Events>) -> Result<Pod> {
        Ok(Pod {
            gvisor: CString::new(gvisor.as_os_str().as_bytes())
                .map_err(|_| anyhow!("{} contains a NUL byte", gvisor.display()))?,
            events,
            spawner: Spawner::new().context("starting the spawner thread")?,
            state: Mutex::new(State::default()),
            sinks: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(
        &self,
        argv: Vec<OsString>,
        env: Vec<OsString>,
        fds: Vec<OwnedFd>,
        first: RawFd,
        ns: libc::c_int,
    ) -> Result<i32> {
        let exe = self.gvisor.clone();
        let argv = cstrings(&argv)?;
        let env = cstrings(&env)?;
        // Their stderr is the shim log (the bundle's `log` FIFO, which
        // containerd copies into its own log), when it can be opened.
        let log: Option<OwnedFd> = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open("log")
                .ok()
                .map(OwnedFd::from)
        };
        self.spawner.run(move || {
            let mut pairs: Vec<(RawFd, RawFd)> = fds
                .iter()
                .enumerate()
                .map(|(i, f)| (f.as_raw_fd(), first + i as RawFd))
                .collect();
            if let Some(l) = &log {
                pairs.push((l.as_raw_fd(), 2));
            }
            let r = confine::spawn(&exe, &argv, &env, &pairs, ns);
            drop(fds);
            drop(log);
            r
        })?
    }

    /// Starts a gofer for `bundle`; returns its pid and the sentry's ends
    /// of its channels (root first, then the binds).
    fn start_gofer(&self, b: &crate::oci::Bundle, env: &[OsString]) -> Result<(i32, Vec<OwnedFd>)> {
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..=b.binds.len() {
            let (c, s) = vfs_gofer::wire::socketpair().context("creating a gofer channel")?;
            clients.push(c);
            servers.push(s);
        }
        let mut argv: Vec<OsString> = vec![
            "gvisor-gofer".into(),
            "gofer".into(),
            "--root".into(),
            b.root.clone().into_os_string(),
            "--fd".into(),
            "3".into(),
        ];
        for (p, rw) in &b.binds {
            let mut a = OsString::from(if *rw { "rw:" } else { "ro:" });
            a.push(p);
            argv.push("--bind".into());
            argv.push(a);
        }
        let pid = self
            .spawn(argv, env.to_vec(), servers, 3, confine::GOFER_NAMESPACES)
            .context("starting the gofer")?;
        Ok((pid, clients))
    }

    /// Starts the sentry with `options`; returns its pid and control client.
    fn start_sentry(
        &self,
        id: &str,
        options: &RuntimeOptions,
        env: &[OsString],
    ) -> Result<(i32, Arc<Client>, Arc<AtomicBool>)> {
        let (mine, theirs) =
            vfs_gofer::wire::socketpair().context("creating the control socket")?;
        let mut argv: Vec<OsString> = vec![
            "gvisor-sentry".into(),
            "boot".into(),
            "--control-fd".into(),
            "3".into(),
        ];
        if let Some(d) = options.debug_log_dir(id) {
            argv.push("--debug-log".into());
            argv.push(d.into_os_string());
        }
        if options.strace {
            argv.push("--strace".into());
        }
        let pid = self
            .spawn(
                argv,
                env.to_vec(),
                vec![theirs],
                3,
                confine::SENTRY_NAMESPACES,
            )
            .context("starting the sentry")?;
        let sinks = self.sinks.clone();
        let sinks2 = self.sinks.clone();
        let dead = Arc::new(AtomicBool::new(false));
        let dead2 = dead.clone();
        let client = Client::new(
            mine,
            move |e: control::Exited| {
                let sink = sinks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&e.pid);
                if let Some(s) = sink {
                    s(e.status);
                }
            },
            move || {
                // The sentry is gone: everything in it has ended.
                dead2.store(true, Ordering::SeqCst);
                let all: Vec<ExitSink> = sinks2
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .drain()
                    .map(|(_, s)| s)
                    .collect();
                for s in all {
                    s(128 + libc::SIGKILL as u32);
                }
            },
        )
        .context("starting the control reader")?;
        Ok((pid, Arc::new(client), dead))
    }

    fn client(&self) -> Result<Arc<Client>, BackendError> {
        let st = self.lock();
        let sb = st
            .sandbox
            .as_ref()
            .ok_or_else(|| BackendError::Failed("the sandbox is not running".into()))?;
        if sb.dead.load(Ordering::SeqCst) {
            return Err(BackendError::Failed(
                "the sandbox's sentry has exited".into(),
            ));
        }
        Ok(sb.client.clone())
    }

    fn proc_pid(&self, id: &str, exec_id: &str) -> Result<i32, BackendError> {
        self.lock()
            .containers
            .get(id)
            .and_then(|c| c.procs.get(exec_id))
            .map(|p| p.pid)
            .ok_or_else(|| BackendError::NotFound(format!("process {exec_id:?} of container {id}")))
    }

    fn do_create(&self, req: &CreateTaskRequest) -> Result<(), BackendError> {
        crate::oci::check_id(&req.id).map_err(|e| BackendError::Invalid(format!("{e:#}")))?;
        let bundle = PathBuf::from(&req.bundle);
        let spec = crate::oci::load_spec(&bundle.join("config.json"))
            .map_err(|e| BackendError::Invalid(format!("{e:#}")))?;
        let ann = annotations(&spec);
        let is_member = ann.get(CONTAINER_TYPE).map(String::as_str) == Some("container");
        if is_member != self.lock().sandbox.is_some() {
            return Err(BackendError::Invalid(if is_member {
                format!(
                    "container {}: its pod's sandbox is not in this shim",
                    req.id
                )
            } else {
                format!("container {}: this shim already runs a sandbox", req.id)
            }));
        }
        // Runtime options come with the sandbox's creation.
        let options = if is_member {
            self.lock()
                .sandbox
                .as_ref()
                .map(|s| s.options.clone())
                .unwrap_or_default()
        } else {
            crate::options::resolve(req.options.as_ref().map(|a| a.value.as_slice()))
                .map_err(|e| BackendError::Invalid(format!("{e:#}")))?
        };
        // The rootfs arrives as mounts to make at bundle/rootfs.
        let mut mounted = None;
        if !req.rootfs.is_empty() {
            if req.rootfs.len() > 1 {
                return Err(BackendError::Unsupported(format!(
                    "container {}: {} rootfs mounts (one is supported)",
                    req.id,
                    req.rootfs.len()
                )));
            }
            let m = &req.rootfs[0];
            let target = bundle.join("rootfs");
            std::fs::create_dir_all(&target)
                .map_err(|e| BackendError::Failed(format!("creating {}: {e}", target.display())))?;
            containerd_shim::mount::mount_rootfs(
                Some(m.type_.as_str()).filter(|t| !t.is_empty()),
                Some(m.source.as_str()).filter(|s| !s.is_empty()),
                &m.options,
                &target,
            )
            .map_err(|e| {
                BackendError::Failed(format!("mounting the rootfs at {}: {e}", target.display()))
            })?;
            mounted = Some(target);
        }
        let r = self.create_mounted(req, &bundle, &spec, options, is_member);
        if r.is_err() {
            if let Some(t) = &mounted {
                unmount(t);
            }
        } else if let Some(c) = self.lock().containers.get_mut(&req.id) {
            c.rootfs_mounted = mounted;
        }
        r
    }

    fn create_mounted(
        &self,
        req: &CreateTaskRequest,
        bundle: &Path,
        spec: &oci_spec::runtime::Spec,
        options: RuntimeOptions,
        is_member: bool,
    ) -> Result<(), BackendError> {
        let b = crate::oci::load(bundle).map_err(|e| BackendError::Invalid(format!("{e:#}")))?;
        let mut config: serde_json::Value = serde_json::from_slice(
            &std::fs::read(bundle.join("config.json"))
                .map_err(|e| BackendError::Failed(format!("reading config.json: {e}")))?,
        )
        .map_err(|e| BackendError::Invalid(format!("config.json: {e}")))?;
        // The sentry cannot see host paths: it gets the checked ones, and
        // single-file binds marked as such.
        let root = config
            .get_mut("root")
            .and_then(|r| r.as_object_mut())
            .ok_or_else(|| BackendError::Invalid("config.json: root: missing".into()))?;
        root.insert(
            "path".into(),
            serde_json::Value::String(b.root.display().to_string()),
        );
        if options.read_only_root() {
            root.insert("readonly".into(), serde_json::Value::Bool(true));
        }
        for (i, (_, m)) in b.mounts.iter().enumerate() {
            if matches!(m, crate::oci::SentryMount::File(..)) {
                if let Some(obj) = config
                    .get_mut("mounts")
                    .and_then(|ms| ms.get_mut(i))
                    .and_then(|m| m.as_object_mut())
                {
                    obj.insert(
                        "type".into(),
                        serde_json::Value::String(crate::oci::FILE_MOUNT_TYPE.into()),
                    );
                }
            }
        }
        let config = serde_json::to_vec(&config)
            .map_err(|e| BackendError::Failed(format!("encoding config.json: {e}")))?;
        let stdio = Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let (mut fds, stdin) = open_stdio(&stdio).map_err(failed)?;
        let env: Vec<OsString> = if options.debug {
            vec!["GVISOR_LOG=debug".into()]
        } else {
            std::env::var_os("GVISOR_LOG")
                .map(|v| {
                    let mut e = OsString::from("GVISOR_LOG=");
                    e.push(v);
                    vec![e]
                })
                .unwrap_or_default()
        };
        let mut files = Vec::new();
        for f in &b.files {
            files.push(OwnedFd::from(std::fs::File::open(f).map_err(|e| {
                BackendError::Invalid(format!("bind mount source {}: {e}", f.display()))
            })?));
        }
        let (gofer_pid, channels) = self.start_gofer(&b, &env).map_err(failed)?;
        fds.extend(channels);
        fds.extend(files);
        if !is_member {
            let started = self.start_sentry(&req.id, &options, &env);
            let (sentry_pid, client, dead) = match started {
                Ok(s) => s,
                Err(e) => {
                    kill_and_forget(gofer_pid);
                    return Err(failed(e));
                }
            };
            let cgroup = match spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) {
                Some(p) => {
                    let cg = Cgroup::create(&p.to_string_lossy(), &[sentry_pid, gofer_pid]);
                    let cg = cg.and_then(|cg| {
                        if let (Some(cg), Some(r)) = (
                            &cg,
                            spec.linux().as_ref().and_then(|l| l.resources().clone()),
                        ) {
                            cg.apply(&cgroup::limits_of(&r))?;
                        }
                        Ok(cg)
                    });
                    match cg {
                        Ok(cg) => cg,
                        Err(e) => {
                            kill_and_forget(sentry_pid);
                            kill_and_forget(gofer_pid);
                            return Err(failed(e.context("setting up the sandbox cgroup")));
                        }
                    }
                }
                None => None,
            };
            let oom_watch = cgroup
                .as_ref()
                .and_then(|cg| self.watch_oom(&req.id, cg.clone()));
            self.lock().sandbox = Some(Sandbox {
                id: req.id.clone(),
                sentry_pid,
                client,
                cgroup,
                options,
                dead,
                oom_watch,
            });
        } else if let Some(cg) = self.lock().sandbox.as_ref().and_then(|s| s.cgroup.clone()) {
            if let Err(e) = cg.add(gofer_pid) {
                tracing::warn!(error = %format!("{e:#}"), "moving a gofer into the sandbox cgroup");
            }
        }
        let client = self.client()?;
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let answer = client.call(
            &Request {
                op: op::ADD_CONTAINER,
                container: req.id.clone(),
                config,
                ..Default::default()
            },
            &raw,
        );
        drop(fds);
        let resp = match answer {
            Ok(r) => r,
            Err(e) => {
                kill_and_forget(gofer_pid);
                if !is_member {
                    self.shutdown_sandbox();
                }
                return Err(control_error(e));
            }
        };
        let mut procs = HashMap::new();
        procs.insert(
            String::new(),
            ProcEntry {
                pid: resp.pid,
                stdin,
            },
        );
        self.lock().containers.insert(
            req.id.clone(),
            Ctr {
                rootfs_mounted: None,
                gofer_pid,
                procs,
            },
        );
        Ok(())
    }

    /// Polls the sandbox cgroup's OOM-kill counter; each new kill publishes
    /// TaskOOM for the sandbox's container.
    fn watch_oom(&self, id: &str, cg: Cgroup) -> Option<OomWatch> {
        let events = self.events.clone();
        let id = id.to_string();
        let (stop, stopped) = mpsc::channel::<()>();
        let r = std::thread::Builder::new()
            .name("oom-watch".into())
            .spawn(move || {
                let mut seen = cg.usage().oom_kills;
                loop {
                    // Every 200 ms, and once more when told to stop (an OOM
                    // kill is often what ended the sandbox).
                    let last = !matches!(
                        stopped.recv_timeout(Duration::from_millis(200)),
                        Err(mpsc::RecvTimeoutError::Timeout)
                    );
                    let now = cg.usage().oom_kills;
                    tracing::debug!(now, seen, last, "oom watch");
                    if now > seen {
                        events.publish(
                            topics::TASK_OOM_EVENT_TOPIC,
                            Box::new(TaskOOM {
                                container_id: id.clone(),
                                ..Default::default()
                            }),
                        );
                        seen = now;
                    }
                    if last {
                        break;
                    }
                }
            });
        match r {
            Ok(h) => Some((stop, h)),
            Err(e) => {
                tracing::warn!(error = %e, "starting the OOM watcher");
                None
            }
        }
    }

    /// Ends the sentry and removes the sandbox cgroup.
    fn shutdown_sandbox(&self) {
        let Some(sb) = self.lock().sandbox.take() else {
            return;
        };
        if !sb.dead.load(Ordering::SeqCst) {
            let _ = sb.client.call(
                &Request {
                    op: op::SHUTDOWN,
                    ..Default::default()
                },
                &[],
            );
        }
        // Wait (briefly) for the sentry to go, then make sure.
        let gone = |pid: i32| !Path::new(&format!("/proc/{pid}/stat")).exists() || zombie(pid);
        for _ in 0..100 {
            if gone(sb.sentry_pid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_and_forget(sb.sentry_pid);
        // The watcher reads the OOM counter a last time (an OOM kill is
        // often what ended the sandbox) before the cgroup goes.
        if let Some((stop, h)) = sb.oom_watch {
            drop(stop);
            let _ = h.join();
        }
        if let Some(cg) = &sb.cgroup {
            cg.remove();
        }
        tracing::info!(sandbox = %sb.id, "sandbox shut down");
    }
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn unmount(target: &Path) {
    if let Ok(c) = CString::new(target.as_os_str().as_bytes()) {
        // SAFETY: umount2 of a path we mounted; MNT_DETACH never blocks.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            tracing::warn!(target = %target.display(), error = %std::io::Error::last_os_error(), "unmounting the rootfs");
        }
    }
}

impl Backend for Pod {
    fn create(&self, req: &CreateTaskRequest) -> Result<(), BackendError> {
        self.do_create(req)
    }

    fn exec(
        &self,
        id: &str,
        exec_id: &str,
        spec: &[u8],
        stdio: &Stdio,
    ) -> Result<(), BackendError> {
        if !self.lock().containers.contains_key(id) {
            return Err(BackendError::NotFound(format!("container {id}")));
        }
        let client = self.client()?;
        let (fds, stdin) = open_stdio(stdio).map_err(failed)?;
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let resp = client
            .call(
                &Request {
                    op: op::EXEC,
                    container: id.to_string(),
                    config: spec.to_vec(),
                    ..Default::default()
                },
                &raw,
            )
            .map_err(control_error)?;
        drop(fds);
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.procs.insert(
                exec_id.to_string(),
                ProcEntry {
                    pid: resp.pid,
                    stdin,
                },
            );
        }
        Ok(())
    }

    fn start(&self, id: &str, exec_id: &str, exited: ExitSink) -> Result<u32, BackendError> {
        let pid = self.proc_pid(id, exec_id)?;
        let client = self.client()?;
        let host_pid = self.lock().sandbox.as_ref().map_or(0, |s| s.sentry_pid);
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, exited);
        if let Err(e) = client.call(
            &Request {
                op: op::START,
                pid,
                ..Default::default()
            },
            &[],
        ) {
            self.sinks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&pid);
            return Err(control_error(e));
        }
        Ok(host_pid as u32)
    }

    fn kill(&self, id: &str, exec_id: &str, signal: u32, all: bool) -> Result<(), BackendError> {
        let pid = self.proc_pid(id, exec_id)?;
        self.client()?
            .call(
                &Request {
                    op: op::SIGNAL,
                    container: id.to_string(),
                    pid,
                    signal,
                    all: all && exec_id.is_empty(),
                    ..Default::default()
                },
                &[],
            )
            .map(|_| ())
            .map_err(control_error)
    }

    fn pids(&self, id: &str) -> Result<Vec<u32>, BackendError> {
        let r = self
            .client()?
            .call(
                &Request {
                    op: op::PIDS,
                    container: id.to_string(),
                    ..Default::default()
                },
                &[],
            )
            .map_err(control_error)?;
        Ok(r.pids.into_iter().map(|p| p as u32).collect())
    }

    fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
        self.client()?
            .call(
                &Request {
                    op: op::PAUSE,
                    container: id.to_string(),
                    flag: pause,
                    ..Default::default()
                },
                &[],
            )
            .map(|_| ())
            .map_err(control_error)
    }

    fn resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        let pid = self.proc_pid(id, exec_id)?;
        self.client()?
            .call(
                &Request {
                    op: op::RESIZE,
                    pid,
                    rows: height,
                    cols: width,
                    ..Default::default()
                },
                &[],
            )
            .map(|_| ())
            .map_err(control_error)
    }

    fn close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        let w = self
            .lock()
            .containers
            .get(id)
            .and_then(|c| c.procs.get(exec_id))
            .map(|p| p.stdin.clone())
            .ok_or_else(|| {
                BackendError::NotFound(format!("process {exec_id:?} of container {id}"))
            })?;
        if let Some(w) = w {
            w.lock().unwrap_or_else(|p| p.into_inner()).take();
        }
        Ok(())
    }

    fn stats(&self, id: &str) -> Result<Any, BackendError> {
        let r = self
            .client()?
            .call(
                &Request {
                    op: op::STATS,
                    container: id.to_string(),
                    ..Default::default()
                },
                &[],
            )
            .map_err(control_error)?;
        let pids = self.pids(id)?.len() as u64;
        let cg = self
            .lock()
            .sandbox
            .as_ref()
            .and_then(|s| s.cgroup.as_ref().map(|c| c.usage()))
            .unwrap_or_default();
        // Container figures come from the sentry (its processes' CPU time
        // and resident memory); the sandbox's cgroup gives memory usage and
        // limit of the whole pod (sentry + gofers, host view).
        let m = Metrics {
            pids: MessageField::some(PidsStat {
                current: pids,
                limit: cg.pids_limit,
                ..Default::default()
            }),
            cpu: MessageField::some(CPUStat {
                usage: MessageField::some(CPUUsage {
                    total: r.cpu_ns,
                    user: r.cpu_ns,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory: MessageField::some(MemoryStat {
                rss: r.memory_bytes,
                total_rss: r.memory_bytes,
                usage: MessageField::some(MemoryEntry {
                    usage: if cg.memory > 0 {
                        cg.memory
                    } else {
                        r.sandbox_memory_bytes
                    },
                    limit: cg.memory_limit,
                    max: cg.memory_max,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_oom_control: MessageField::some(MemoryOomControl {
                oom_kill: cg.oom_kills,
                ..Default::default()
            }),
            ..Default::default()
        };
        let value = m
            .write_to_bytes()
            .map_err(|e| BackendError::Failed(format!("encoding metrics: {e}")))?;
        Ok(Any {
            type_url: "io.containerd.cgroups.v1.Metrics".into(),
            value,
            ..Default::default()
        })
    }

    fn update(&self, id: &str, resources: &Any) -> Result<(), BackendError> {
        if !self.lock().containers.contains_key(id) {
            return Err(BackendError::NotFound(format!("container {id}")));
        }
        let r: oci_spec::runtime::LinuxResources = crate::oci::from_json(&resources.value)
            .map_err(|e| BackendError::Invalid(format!("update: resources: {e:#}")))?;
        let cg = self.lock().sandbox.as_ref().and_then(|s| s.cgroup.clone());
        match cg {
            Some(cg) => cg.apply(&cgroup::limits_of(&r)).map_err(failed),
            None => Err(BackendError::Unsupported(
                "update: the sandbox has no cgroup (no linux.cgroupsPath)".into(),
            )),
        }
    }

    fn delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        if !exec_id.is_empty() {
            let mut st = self.lock();
            let c = st
                .containers
                .get_mut(id)
                .ok_or_else(|| BackendError::NotFound(format!("container {id}")))?;
            let p = c
                .procs
                .remove(exec_id)
                .ok_or_else(|| BackendError::NotFound(format!("process {exec_id} of {id}")))?;
            drop(st);
            // Unstarted, the sentry still holds it (and its stdio).
            if let Ok(client) = self.client() {
                let _ = client.call(
                    &Request {
                        op: op::REMOVE,
                        container: id.to_string(),
                        pid: p.pid,
                        ..Default::default()
                    },
                    &[],
                );
            }
            return Ok(());
        }
        let c = self
            .lock()
            .containers
            .remove(id)
            .ok_or_else(|| BackendError::NotFound(format!("container {id}")))?;
        if let Ok(client) = self.client() {
            let _ = client.call(
                &Request {
                    op: op::REMOVE,
                    container: id.to_string(),
                    ..Default::default()
                },
                &[],
            );
        }
        kill_and_forget(c.gofer_pid);
        if let Some(t) = &c.rootfs_mounted {
            unmount(t);
        }
        if self.lock().containers.is_empty() {
            self.shutdown_sandbox();
        }
        Ok(())
    }
}
