//! `gvisor boot --control-fd N`: the sentry of a pod, driven by the shim
//! over the control protocol (`control`). The first request (a container)
//! builds the kernel; later ones add containers, exec processes, signal,
//! list, pause, resize and report statistics. Every container gets its own
//! file systems (its gofer channels) and shares the kernel, its PID
//! namespace and its memory with the others.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use prost::Message;
use sentry_core::fsimpl::host::HostStdio;
use sentry_core::fsimpl::tty::{Pty, PtyRegistry};
use sentry_core::kernel::container::Container;
use sentry_core::kernel::signal::{self, SigInfo, Signal};
use sentry_core::kernel::task::{CapSets, Creds, ProcessSpec};
use sentry_core::kernel::{Kernel, KernelConfig, Task};
use sentry_core::platform::kvm::KvmPlatform;
use sentry_core::platform::Platform;
use sentry_core::procfs::ProcFs;
use sentry_core::vfs::FileDescription;

use crate::control::{
    self, frame, Created, Done, Exited, Op, PidList, Reply, Request, Response, Usage,
};
use crate::sentry::boot::{self, DoError};

/// How `gvisor boot --control-fd` was started.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The control socket.
    pub control_fd: RawFd,
    /// The debug log's descriptors (kept open through confinement).
    pub log_fds: Vec<RawFd>,
    /// Pages mapped per fault.
    pub fault_around: u64,
    /// The pod's network (its packet sockets are this process's).
    pub net: sentry_core::net::NetConfig,
    /// `--profile`: count the app's system calls (see [`Op::Profile`]).
    pub profile: bool,
    /// What strace traces and how much of a buffer it shows.
    pub strace: sentry_core::syscalls::strace::StraceConfig,
}

/// A failed request: errno-like code and message.
struct Failure(i32, String);

impl From<DoError> for Failure {
    fn from(e: DoError) -> Self {
        Failure(libc::EINVAL, format!("{:#}", e.error))
    }
}

type Answer = std::result::Result<Reply, Failure>;

fn not_found(what: String) -> Failure {
    Failure(libc::ENOENT, what)
}

struct ContainerState {
    spec: ProcessSpec,
}

/// A process made and not yet started.
struct Prepared {
    container: String,
    task: Task,
}

struct Server {
    kernel: Arc<Kernel>,
    procfs: Arc<ProcFs>,
    ptys: Arc<PtyRegistry>,
    sock: Arc<OwnedFd>,
    containers: HashMap<String, ContainerState>,
    prepared: HashMap<i32, Prepared>,
    consoles: HashMap<i32, Arc<Pty>>,
    /// Pids of processes that have exited (their consoles go).
    exited_tx: std::sync::mpsc::Sender<i32>,
    exited_rx: std::sync::mpsc::Receiver<i32>,
}

fn send(sock: &OwnedFd, id: u16, msg: &impl Message) {
    if let Err(e) = vfs_gofer::wire::send(sock.as_raw_fd(), id, &msg.encode_to_vec(), None) {
        tracing::warn!(error = %e, "control channel: sending");
    }
}

fn caps_or_uid(caps: Option<CapSets>, uid: u32) -> CapSets {
    caps.unwrap_or_else(|| CapSets::for_uid(uid))
}

impl Server {
    /// Prepares a process in `container`: resolves and loads the program,
    /// sets up stdio (a console when `terminal`) and watches its exit.
    fn prepare(
        &mut self,
        container: &str,
        spec: &ProcessSpec,
        p: &crate::oci::Process,
        mut stdio: Vec<OwnedFd>,
        extra: Vec<OwnedFd>,
        init: bool,
    ) -> std::result::Result<Created, Failure> {
        let (args, env, cwd, terminal) = (&p.args, &p.env, p.cwd.as_str(), p.terminal);
        if stdio.len() != 3 {
            return Err(Failure(
                libc::EINVAL,
                format!("{} stdio descriptors instead of 3", stdio.len()),
            ));
        }
        let envp: Vec<Vec<u8>> = env.iter().map(|e| e.clone().into_bytes()).collect();
        let program = args[0].as_bytes();
        let path = boot::resolve_program(&spec.root, cwd, &envp, program)?;
        let bytes = boot::read_program(&spec.root, cwd, &path)?;
        let argv: Vec<Vec<u8>> = args.iter().map(|a| a.clone().into_bytes()).collect();
        let stderr = stdio.pop();
        let stdout = stdio.pop();
        let stdin = stdio.pop();
        let (Some(stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            return Err(Failure(libc::EINVAL, "missing stdio".into()));
        };
        let mut console = None;
        let files: [Arc<dyn FileDescription>; 3] = if terminal {
            // The console's session is the process's own (it leads one);
            // its pid is known only once made, so the session is set below.
            let boot::Console {
                slave, pty, drain, ..
            } = boot::open_console(
                &self.kernel,
                &self.ptys,
                spec.creds.uid[0],
                0,
                stdin,
                stdout,
                None,
            )
            .map_err(|e| Failure(libc::EIO, format!("{e:#}")))?;
            drop(stderr);
            console = Some((pty, drain));
            [slave.clone(), slave.clone(), slave]
        } else {
            [
                Arc::new(HostStdio::from_owned(stdin)),
                Arc::new(HostStdio::from_owned(stdout)),
                Arc::new(HostStdio::from_owned(stderr)),
            ]
        };
        let task = Task::new_process(
            self.kernel.clone(),
            spec,
            &bytes,
            &argv,
            &envp,
            &path,
            cwd.to_string(),
            files,
        )
        .map_err(|e| Failure::from(boot::task_error(&path, e)))?;
        // runc's --preserve-fds: 3, 4, ... as they came (host files, pipes
        // and sockets read and written through the host descriptor).
        for (i, fd) in extra.into_iter().enumerate() {
            let entry = sentry_core::vfs::FdEntry {
                file: Arc::new(HostStdio::from_owned(fd)),
                cloexec: false,
            };
            task.fds
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .install_at(3 + i, entry)
                .map_err(|e| Failure(e.0, format!("installing preserved descriptor {}", 3 + i)))?;
        }
        let pid = task.pid;
        let drain = console.as_ref().map(|(_, d)| d.clone());
        if let Some((pty, _)) = console {
            pty.set_session(pid, pid);
            self.consoles.insert(pid, pty);
        }
        let sock = self.sock.clone();
        let kernel = Arc::downgrade(&self.kernel);
        let cid = container.to_string();
        let exited = self.exited_tx.clone();
        self.kernel.watch_exit(
            pid,
            Box::new(move |st| {
                // What it wrote to its terminal reaches the host first.
                if let Some(d) = &drain {
                    d.wait(std::time::Duration::from_secs(1));
                }
                let _ = exited.send(pid);
                send(
                    &sock,
                    frame::EXITED,
                    &Exited {
                        pid,
                        status: control::exit_code(st),
                    },
                );
                // As when a PID namespace's init dies: the rest of the
                // container goes (of the whole sandbox, for pid 1).
                if let (true, Some(k)) = (init, kernel.upgrade()) {
                    let rest = if pid == 1 {
                        k.all_processes()
                    } else {
                        k.container_processes(&cid)
                    };
                    for tg in rest {
                        signal::send_to_process(&tg, Signal::SIGKILL, SigInfo::kernel(9));
                    }
                }
            }),
        );
        self.prepared.insert(
            pid,
            Prepared {
                container: container.to_string(),
                task,
            },
        );
        Ok(Created { pid })
    }

    fn add_container(
        &mut self,
        id: &str,
        b: &crate::oci::Bundle,
        mut fds: Vec<OwnedFd>,
        extra: u32,
    ) -> std::result::Result<Created, Failure> {
        if self.containers.contains_key(id) {
            return Err(Failure(libc::EEXIST, format!("container {id} exists")));
        }
        let want = 4 + b.binds.len() + b.files.len() + extra as usize;
        if fds.len() != want {
            return Err(Failure(
                libc::EINVAL,
                format!("{} descriptors instead of {want}", fds.len()),
            ));
        }
        let extra = fds.split_off(want - extra as usize);
        let mut channels = fds.split_off(3);
        let files = channels.split_off(1 + b.binds.len());
        let mut channels = channels.into_iter();
        let root = channels
            .next()
            .ok_or_else(|| Failure(libc::EINVAL, "no root gofer channel".into()))?;
        let vfs = boot::build_bundle_vfs(
            b,
            root,
            channels.collect(),
            files,
            self.procfs.clone(),
            self.ptys.clone(),
        )
        .map_err(|e| Failure(libc::EINVAL, format!("{e:#}")))?;
        let mut rlimits = sentry_core::kernel::task::default_rlimits();
        for &(i, soft, hard) in &b.rlimits {
            rlimits[i] = (soft, hard);
        }
        let spec = ProcessSpec {
            root: vfs,
            container: Container::new(id, b.seccomp.clone()),
            creds: Creds {
                groups: b.process.groups.clone(),
                caps: caps_or_uid(b.process.caps, b.process.uid),
                ..Creds::new(b.process.uid, b.process.gid)
            },
            rlimits,
            no_new_privs: b.process.no_new_privs,
        };
        let r = self.prepare(id, &spec, &b.process, fds, extra, true)?;
        self.containers
            .insert(id.to_string(), ContainerState { spec });
        Ok(r)
    }

    fn container(&self, id: &str) -> std::result::Result<&ContainerState, Failure> {
        self.containers
            .get(id)
            .ok_or_else(|| not_found(format!("no container {id}")))
    }

    fn handle(&mut self, req: Request, fds: Vec<OwnedFd>) -> Answer {
        while let Ok(pid) = self.exited_rx.try_recv() {
            self.consoles.remove(&pid);
        }
        let Some(op) = req.op else {
            return Err(Failure(libc::EINVAL, "an empty request".into()));
        };
        match op {
            Op::Create(c) => {
                let b = crate::oci::parse(&c.config)
                    .map_err(|e| Failure(libc::EINVAL, format!("{e:#}")))?;
                self.add_container(&c.container, &b, fds, c.extra_fds)
                    .map(Reply::Create)
            }
            Op::Exec(x) => {
                let p = crate::oci::parse_process(&x.config)
                    .map_err(|e| Failure(libc::EINVAL, format!("{e:#}")))?;
                let base = &self.container(&x.container)?.spec;
                let spec = ProcessSpec {
                    creds: Creds {
                        groups: p.groups.clone(),
                        caps: caps_or_uid(p.caps, p.uid),
                        ..Creds::new(p.uid, p.gid)
                    },
                    no_new_privs: p.no_new_privs || base.no_new_privs,
                    ..base.clone()
                };
                let mut fds = fds;
                if fds.len() != 3 + x.extra_fds as usize {
                    return Err(Failure(
                        libc::EINVAL,
                        format!(
                            "{} descriptors instead of {}",
                            fds.len(),
                            3 + x.extra_fds as usize
                        ),
                    ));
                }
                let extra = fds.split_off(3);
                self.prepare(&x.container, &spec, &p, fds, extra, false)
                    .map(Reply::Exec)
            }
            Op::Start(st) => {
                let p = self
                    .prepared
                    .remove(&st.pid)
                    .ok_or_else(|| not_found(format!("no process {} to start", st.pid)))?;
                self.kernel
                    .spawn(p.task)
                    .map_err(|e| Failure(libc::EAGAIN, format!("starting a task thread: {e}")))?;
                Ok(Reply::Done(Done {}))
            }
            Op::Kill(k) => {
                if k.signal == 0 || k.signal > 64 {
                    return Err(Failure(libc::EINVAL, format!("signal {}", k.signal)));
                }
                let sig = Signal(k.signal);
                let targets = if k.all {
                    self.container(&k.container)?;
                    self.kernel.container_processes(&k.container)
                } else {
                    let tg = self.kernel.procs().tgs.get(&k.pid).cloned();
                    match tg {
                        Some(tg) if tg.lock().zombie.is_none() => vec![tg],
                        _ => return Err(not_found(format!("no process {}", k.pid))),
                    }
                };
                for tg in targets {
                    signal::send_to_process(&tg, sig, SigInfo::user(0, 0, k.signal));
                }
                Ok(Reply::Done(Done {}))
            }
            Op::Pids(p) => {
                self.container(&p.container)?;
                Ok(Reply::Pids(PidList {
                    pids: self
                        .kernel
                        .container_processes(&p.container)
                        .iter()
                        .map(|tg| tg.pid)
                        .collect(),
                }))
            }
            Op::Profile(p) => {
                let snap = self.kernel.profile().snapshot_of(Some(&p.container));
                let app = crate::profile::App::from_snapshot(&snap);
                serde_json::to_vec(&app)
                    .map(|json| Reply::Profile(control::ProfileData { json }))
                    .map_err(|e| Failure(libc::EIO, format!("encoding the profile: {e}")))
            }
            Op::Pause(p) => self.set_paused(&p.container, true),
            Op::Resume(r) => self.set_paused(&r.container, false),
            Op::Stats(st) => {
                self.container(&st.container)?;
                let mut cpu_ns = 0;
                let mut pages = 0u64;
                let mut seen = std::collections::HashSet::new();
                for tg in self.kernel.container_processes(&st.container) {
                    let threads = {
                        let st = tg.lock();
                        cpu_ns += st.exited_cpu_ns;
                        st.threads.clone()
                    };
                    for h in threads {
                        cpu_ns += h.cpu_ns();
                        let mm = h
                            .info
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .mm
                            .upgrade();
                        if let Some(mm) = mm {
                            if seen.insert(Arc::as_ptr(&mm) as usize) {
                                pages += mm
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .resident_pages()
                                    as u64;
                            }
                        }
                    }
                }
                Ok(Reply::Stats(Usage {
                    cpu_ns,
                    memory_bytes: pages * 4096,
                    sandbox_memory_bytes: self.kernel.platform.memory().pages_in_use() * 4096,
                }))
            }
            Op::ResizePty(r) => {
                let pty = self
                    .consoles
                    .get(&r.pid)
                    .ok_or_else(|| not_found(format!("process {} has no terminal", r.pid)))?;
                let rows = (r.rows.min(u16::MAX as u32) as u16).to_le_bytes();
                let cols = (r.cols.min(u16::MAX as u32) as u16).to_le_bytes();
                pty.set_winsize([rows[0], rows[1], cols[0], cols[1], 0, 0, 0, 0]);
                Ok(Reply::Done(Done {}))
            }
            Op::Delete(d) if d.pid != 0 => {
                // An exec process deleted without having run.
                self.prepared.remove(&d.pid);
                self.consoles.remove(&d.pid);
                Ok(Reply::Done(Done {}))
            }
            Op::Delete(d) => {
                self.prepared.retain(|_, p| p.container != d.container);
                self.containers.remove(&d.container);
                Ok(Reply::Done(Done {}))
            }
            // The serving loop ends the sentry before asking here.
            Op::Shutdown(_) => Err(Failure(libc::EINVAL, "unexpected Shutdown".into())),
        }
    }

    fn set_paused(&self, container: &str, paused: bool) -> Answer {
        let c = self.container(container)?.spec.container.clone();
        self.kernel.set_paused(&c, paused);
        Ok(Reply::Done(Done {}))
    }
}

fn receive(sock: &OwnedFd) -> Result<Option<(Request, Vec<OwnedFd>)>> {
    loop {
        match vfs_gofer::wire::recv_fds(sock.as_raw_fd()) {
            Ok(None) => return Ok(None),
            Ok(Some((frame::REQUEST, payload, fds))) => match Request::decode(payload.as_slice()) {
                Ok(req) => return Ok(Some((req, fds))),
                Err(e) => send(
                    sock,
                    frame::RESPONSE,
                    &Response {
                        seq: 0,
                        reply: Some(Reply::Error(control::Failure {
                            code: libc::EINVAL,
                            message: format!("undecodable control request: {e}"),
                        })),
                    },
                ),
            },
            Ok(Some((id, _, _))) => tracing::warn!(id, "control channel: unexpected frame"),
            Err(vfs_gofer::GoferError::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow!("control channel: {e}")),
        }
    }
}

/// Runs the sentry of a pod until the shim says Shutdown or goes away.
pub fn serve(opts: &ServeOptions, strace_out: Option<Box<dyn Write + Send>>) -> Result<()> {
    // SAFETY: the shim handed this descriptor over; nothing else owns it.
    let sock: Arc<OwnedFd> =
        Arc::new(unsafe { std::os::fd::FromRawFd::from_raw_fd(opts.control_fd) });
    let raw = sock.as_raw_fd();
    // The first request is the pod's first container: its spec gives the
    // sandbox's host name and sysctls.
    let Some((first, fds)) = receive(&sock)? else {
        return Ok(());
    };
    let first_seq = first.seq;
    let reply_err = |code: i32, msg: String| {
        send(
            &sock,
            frame::RESPONSE,
            &Response {
                seq: first_seq,
                reply: Some(Reply::Error(control::Failure { code, message: msg })),
            },
        );
    };
    let Some(Op::Create(create)) = first.op else {
        reply_err(
            libc::EINVAL,
            "the first request must add a container".into(),
        );
        let op = first.op.as_ref().map_or("empty", Op::name);
        return Err(anyhow!("the first control request was {op}"));
    };
    let bundle = match crate::oci::parse(&create.config) {
        Ok(b) => b,
        Err(e) => {
            reply_err(libc::EINVAL, format!("{e:#}"));
            return Err(e);
        }
    };
    boot::protect_from_oom_killer();
    // The pod's task limit: the first container's pids.limit, or the
    // pids.max in force for the sandbox's cgroup (the shim put the sentry
    // in it before this request), whichever is smaller.
    let pids_limit = match (bundle.limits.pids, crate::cgroup::own_pids_max()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(p) = pids_limit {
        tracing::info!(tasks = p, "the pod's task limit");
    }
    let platform = match KvmPlatform::new(boot::vm_config(None, pids_limit)) {
        Ok(p) => p,
        Err(e) => {
            reply_err(libc::EIO, format!("starting the sandbox: {e}"));
            return Err(anyhow!(e).context("starting the sandbox"));
        }
    };
    let platform: Arc<dyn Platform> = Arc::new(platform);
    let config = KernelConfig {
        cpus: boot::host_cpus(),
        fault_around: opts.fault_around,
        hostname: bundle.hostname.clone().unwrap_or_else(|| "gvisor".into()),
        sysctl: bundle.sysctl.clone(),
        syscalls: sentry_core::syscalls::dispatch,
        net: opts.net.clone(),
        strace: opts.strace.clone(),
        ..KernelConfig::default()
    };
    let procfs = ProcFs::new();
    let root = sentry_core::fsimpl::tmpfs::TmpFs::new(0o555, 0x2e);
    let kernel = Kernel::new(
        platform,
        Arc::new(sentry_core::vfs::Vfs::new(root)),
        config,
        strace_out,
    );
    if opts.profile {
        kernel.profile().enable();
    }
    procfs.attach(&kernel);
    let (exited_tx, exited_rx) = std::sync::mpsc::channel();
    let mut server = Server {
        kernel,
        procfs,
        ptys: Arc::new(PtyRegistry::default()),
        sock: sock.clone(),
        containers: HashMap::new(),
        prepared: HashMap::new(),
        consoles: HashMap::new(),
        exited_tx,
        exited_rx,
    };
    let mut keep: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    keep.extend(server.kernel.net.host_fds());
    keep.extend(&opts.log_fds);
    keep.extend(super::stacks::serve_stacks(&server.kernel)?);
    let answer = server
        .add_container(&create.container, &bundle, fds, create.extra_fds)
        .map(Reply::Create);
    // Every descriptor the sentry needs from now on is open (or arrives on
    // the control socket): confine.
    super::confine::confine_sentry(raw, None, &keep, opts.net.mode)
        .context("confining the sentry")?;
    let mut answer = Some((first_seq, answer));
    loop {
        let (seq, a) = match answer.take() {
            Some(a) => a,
            None => {
                let Some((req, fds)) = receive(&sock)? else {
                    break;
                };
                if let Some(Op::Shutdown(_)) = req.op {
                    let bye = Response {
                        seq: req.seq,
                        reply: Some(Reply::Done(Done {})),
                    };
                    send(&sock, frame::RESPONSE, &bye);
                    break;
                }
                (req.seq, server.handle(req, fds))
            }
        };
        let reply = a.unwrap_or_else(|Failure(code, message)| {
            Reply::Error(control::Failure { code, message })
        });
        let r = Response {
            seq,
            reply: Some(reply),
        };
        send(&sock, frame::RESPONSE, &r);
    }
    for tg in server.kernel.all_processes() {
        signal::send_to_process(&tg, Signal::SIGKILL, SigInfo::kernel(9));
    }
    Ok(())
}
