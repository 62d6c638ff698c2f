//! The shim's sandbox backend: one sentry per pod, one gofer per container.
//!
//! The first container created (a CRI pod's sandbox container, or the only
//! container of a plain `ctr run`) starts the sentry (`gvisor boot
//! --control-fd 3`) and the sandbox cgroup; every container gets its own
//! gofer (`gvisor gofer`, pivot_root'ed into the container's rootfs) whose
//! channels, with the container's stdio, are handed to the sentry over the
//! control socket. Processes are identified by their pid inside the
//! sandbox; containerd is told the sentry's host pid.

mod metrics;
mod oom;
mod reaper;
mod spawn;
mod stdio;

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use containerd_shim_protos::api::CreateTaskRequest;
use containerd_shim_protos::protobuf::well_known_types::any::Any;

use crate::cgroup::{self, Cgroup};
use crate::containerd::backend::{Backend, BackendError, Events, ExitSink, Stdio};
use crate::containerd::options::RuntimeOptions;
use crate::control::{self, Client, ControlError, Op};

use oom::OomWatch;
pub use reaper::start_reaper;
use reaper::{kill_and_forget, zombie};
use spawn::Spawner;
use stdio::{extra_fds, open_stdio, StdinWriter};

/// The CRI annotation naming a container's pod sandbox.
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
/// The CRI annotation saying whether a container is the pod's sandbox
/// ("sandbox") or one of its containers ("container").
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// What the runc CLI's keeper sets itself when it creates a container.
pub struct CreateWith<'a> {
    /// The init's stdio (open descriptors, not the request's FIFOs).
    pub stdio: Stdio,
    /// Applied to the config.json the sentry gets (rlimit clamping).
    pub adjust: &'a dyn Fn(&mut serde_json::Value),
    /// The network namespace to use instead of config.json's (a
    /// namespace made for an entry without a path, so that hooks could
    /// set it up first).
    pub network_ns: Option<PathBuf>,
}

struct ProcEntry {
    /// pid inside the sandbox.
    pid: i32,
    stdin: Option<StdinWriter>,
}

struct Ctr {
    rootfs_mounted: Option<PathBuf>,
    gofer_pid: i32,
    procs: HashMap<String, ProcEntry>,
    /// `profile = true`: the init's command and the debug-log directory.
    profile: Option<(Vec<String>, PathBuf)>,
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
    /// Mode `sandbox`: the pod namespace's addresses and routes, given back
    /// when the sandbox container's process exits (before containerd
    /// hears of it and has CNI tear the namespace down) or at shutdown.
    give_back: GiveBackSlot,
}

type GiveBackSlot = Arc<Mutex<Option<crate::netns::GiveBack>>>;

/// Gives the pod's interfaces back if that is still to be done.
fn give_back_now(slot: &GiveBackSlot) {
    let g = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(g) = g {
        if let Err(e) = g.give_back() {
            tracing::warn!(error = %format!("{e:#}"), "giving the pod's interfaces back");
        }
    }
}

#[derive(Default)]
struct State {
    sandbox: Option<Sandbox>,
    containers: HashMap<String, Ctr>,
}

type Sinks = Arc<Mutex<HashMap<i32, ExitSink>>>;

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

    /// Creates container `req.id` as [`Backend::create`] does, with what
    /// the runc CLI's keeper sets itself (see [`CreateWith`]).
    pub fn create_with(
        &self,
        req: &CreateTaskRequest,
        with: CreateWith<'_>,
    ) -> Result<(), BackendError> {
        self.do_create(req, with)
    }

    /// The host pids of container `id`'s sandbox: its sentry and its gofer.
    pub fn host_pids(&self, id: &str) -> Result<Vec<i32>, BackendError> {
        let st = self.lock();
        let c = st
            .containers
            .get(id)
            .ok_or_else(|| BackendError::NotFound(format!("container {id}")))?;
        let mut pids: Vec<i32> = st.sandbox.iter().map(|s| s.sentry_pid).collect();
        pids.push(c.gofer_pid);
        Ok(pids)
    }

    fn do_create(&self, req: &CreateTaskRequest, with: CreateWith<'_>) -> Result<(), BackendError> {
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
            crate::containerd::options::resolve(req.options.as_ref().map(|a| a.value.as_slice()))
                .map_err(|e| BackendError::Invalid(format!("{e:#}")))?
        };
        if options.profile {
            let Some(dir) = options.debug_log_dir(&req.id) else {
                return Err(BackendError::Invalid(format!(
                    "container {}: profile = true needs debug-log (the profile is written into the container's debug-log directory)",
                    req.id
                )));
            };
            std::fs::create_dir_all(&dir).map_err(|e| {
                BackendError::Invalid(format!(
                    "container {}: profile = true: debug-log directory {}: {e}",
                    req.id,
                    dir.display()
                ))
            })?;
        }
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
        let r = self.create_mounted(req, &bundle, &spec, options, is_member, with);
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
        with: CreateWith<'_>,
    ) -> Result<(), BackendError> {
        let CreateWith {
            stdio,
            adjust,
            network_ns,
        } = with;
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
        adjust(&mut config);
        let config = serde_json::to_vec(&config)
            .map_err(|e| BackendError::Failed(format!("encoding config.json: {e}")))?;
        let (mut fds, stdin) = open_stdio(&stdio).map_err(failed)?;
        let extra = extra_fds(&stdio).map_err(failed)?;
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
        // The pod's network, from the sandbox (pause) container's
        // namespace: taken over (mode sandbox) before anything starts, so a
        // bad namespace leaves nothing behind.
        let net = if is_member {
            None
        } else {
            let mode = options.network_mode();
            let source = match network_ns {
                Some(p) if mode != sentry_core::net::NetMode::None => crate::netns::Source::Path(p),
                _ => crate::netns::source_of(mode, b.network_ns.as_ref()),
            };
            Some(
                crate::netns::prepare(mode, &source)
                    .map_err(|e| BackendError::Invalid(format!("{e:#}")))?,
            )
        };
        let profile_info = options
            .profile
            .then(|| options.debug_log_dir(&req.id))
            .flatten()
            .map(|d| (b.process.args.clone(), d));
        let (gofer_pid, channels) = self
            .start_gofer(&b, &env, &req.id, &options)
            .map_err(failed)?;
        fds.extend(channels);
        fds.extend(files);
        let extra_count = extra.len() as u32;
        fds.extend(extra);
        if let Some(mut net) = net {
            // Given back when dropped: on a failed start, at once.
            let give_back: GiveBackSlot = Arc::new(Mutex::new(net.give_back.take()));
            let started = self.start_sentry(&req.id, &options, &env, &net);
            drop(net);
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
                give_back,
            });
        } else if let Some(cg) = self.lock().sandbox.as_ref().and_then(|s| s.cgroup.clone()) {
            if let Err(e) = cg.add(gofer_pid) {
                tracing::warn!(error = %format!("{e:#}"), "moving a gofer into the sandbox cgroup");
            }
        }
        let client = self.client()?;
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let answer = client.create(
            control::Create {
                container: req.id.clone(),
                config,
                extra_fds: extra_count,
            },
            &raw,
        );
        drop(fds);
        let pid = match answer {
            Ok(pid) => pid,
            Err(e) => {
                kill_and_forget(gofer_pid);
                if !is_member {
                    self.shutdown_sandbox();
                }
                return Err(control_error(e));
            }
        };
        let mut procs = HashMap::new();
        procs.insert(String::new(), ProcEntry { pid, stdin });
        self.lock().containers.insert(
            req.id.clone(),
            Ctr {
                rootfs_mounted: None,
                gofer_pid,
                procs,
                profile: profile_info,
            },
        );
        Ok(())
    }

    /// `profile = true`, a container's init: counts host calls from now,
    /// and at its exit writes the profile before reporting the exit.
    fn profile_at_exit(
        &self,
        id: &str,
        exec_id: &str,
        sentry_pid: i32,
        client: &Arc<Client>,
        exited: ExitSink,
    ) -> ExitSink {
        if !exec_id.is_empty() {
            return exited;
        }
        let Some((command, dir, gofer_pid)) = self
            .lock()
            .containers
            .get(id)
            .and_then(|c| c.profile.clone().map(|(cmd, d)| (cmd, d, c.gofer_pid)))
        else {
            return exited;
        };
        let prof = crate::profile::pod::PodProfile::start(id, command, dir, sentry_pid, gofer_pid);
        let (client, id) = (client.clone(), id.to_string());
        Box::new(move |status| {
            // Called on the control reader: the profile request needs it
            // free, so the rest runs on a thread of its own.
            let sink = Arc::new(Mutex::new(Some(exited)));
            let sink2 = sink.clone();
            let spawned = std::thread::Builder::new()
                .name("profile".into())
                .spawn(move || {
                    let app = client
                        .profile(control::ProfileOf { container: id })
                        .map_err(|e| e.to_string());
                    prof.finish(app);
                    if let Some(s) = sink2.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        s(status);
                    }
                });
            if spawned.is_err() {
                if let Some(s) = sink.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    s(status);
                }
            }
        })
    }

    /// Ends the sentry and removes the sandbox cgroup.
    fn shutdown_sandbox(&self) {
        let Some(sb) = self.lock().sandbox.take() else {
            return;
        };
        if !sb.dead.load(Ordering::SeqCst) {
            let _ = sb.client.done(Op::Shutdown(control::Shutdown {}));
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
        give_back_now(&sb.give_back);
        tracing::info!(sandbox = %sb.id, "sandbox shut down");
    }
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
        let stdio = Stdio::fifos(&req.stdin, &req.stdout, &req.stderr, req.terminal);
        self.do_create(
            req,
            CreateWith {
                stdio,
                adjust: &|_| {},
                network_ns: None,
            },
        )
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
        let (mut fds, stdin) = open_stdio(stdio).map_err(failed)?;
        let extra = extra_fds(stdio).map_err(failed)?;
        let extra_count = extra.len() as u32;
        fds.extend(extra);
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let pid = client
            .exec(
                control::Exec {
                    container: id.to_string(),
                    config: spec.to_vec(),
                    extra_fds: extra_count,
                },
                &raw,
            )
            .map_err(control_error)?;
        drop(fds);
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.procs
                .insert(exec_id.to_string(), ProcEntry { pid, stdin });
        }
        Ok(())
    }

    fn start(&self, id: &str, exec_id: &str, exited: ExitSink) -> Result<u32, BackendError> {
        let pid = self.proc_pid(id, exec_id)?;
        let client = self.client()?;
        let (host_pid, slot) = self.lock().sandbox.as_ref().map_or((0, None), |s| {
            (
                s.sentry_pid,
                (s.id == id && exec_id.is_empty()).then(|| s.give_back.clone()),
            )
        });
        // The sandbox container's end is the pod's: its interfaces go back
        // before the exit is reported.
        let exited: ExitSink = match slot {
            Some(slot) => Box::new(move |status| {
                give_back_now(&slot);
                exited(status)
            }),
            None => exited,
        };
        let exited = self.profile_at_exit(id, exec_id, host_pid, &client, exited);
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, exited);
        if let Err(e) = client.done(Op::Start(control::Start { pid })) {
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
            .done(Op::Kill(control::Kill {
                container: id.to_string(),
                pid,
                signal,
                all: all && exec_id.is_empty(),
            }))
            .map_err(control_error)
    }

    fn pids(&self, id: &str) -> Result<Vec<u32>, BackendError> {
        let pids = self
            .client()?
            .pids(control::Pids {
                container: id.to_string(),
            })
            .map_err(control_error)?;
        Ok(pids.into_iter().map(|p| p as u32).collect())
    }

    fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
        let container = id.to_string();
        let op = if pause {
            Op::Pause(control::Pause { container })
        } else {
            Op::Resume(control::Resume { container })
        };
        self.client()?.done(op).map_err(control_error)
    }

    fn resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        let pid = self.proc_pid(id, exec_id)?;
        self.client()?
            .done(Op::ResizePty(control::ResizePty {
                pid,
                rows: height,
                cols: width,
            }))
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
            .stats(control::Stats {
                container: id.to_string(),
            })
            .map_err(control_error)?;
        let pids = self.pids(id)?.len() as u64;
        let cg = self
            .lock()
            .sandbox
            .as_ref()
            .and_then(|s| s.cgroup.as_ref().map(|c| c.usage()))
            .unwrap_or_default();
        metrics::encode(&r, pids, &cg)
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
                let _ = client.done(Op::Delete(control::Delete {
                    container: id.to_string(),
                    pid: p.pid,
                }));
            }
            return Ok(());
        }
        let c = self
            .lock()
            .containers
            .remove(id)
            .ok_or_else(|| BackendError::NotFound(format!("container {id}")))?;
        if let Ok(client) = self.client() {
            let _ = client.done(Op::Delete(control::Delete {
                container: id.to_string(),
                pid: 0,
            }));
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
