//! The keeper: the process `create` forks to hold a container. It hosts
//! the shim's pod backend (`crate::containerd::pod::Pod`: the sentry and
//! the gofer are its children, tied to it by PR_SET_PDEATHSIG), answers
//! requests on `<root>/<id>/keeper.sock` (see `wire`), records the state,
//! forwards the signals it gets to the container's init, and when the
//! init ends it tears the sandbox down and exits the way the init did
//! (its code, or killed by the same signal): its pid is the container's
//! pid for conmon and containerd-shim-runc-v2, which reap it as their child
//! (a subreaper's) to learn the container's exit status.

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};

use containerd_shim_protos::api::CreateTaskRequest;
use containerd_shim_protos::protobuf::well_known_types::any::Any;

use super::hooks;
use super::state::{self, Record};
use super::wire::{self, Reply, Request};
use crate::containerd::backend::{Backend, BackendError, ExtraFds, NoEvents, OpenStdio, Stdio};
use crate::containerd::options::RuntimeOptions;
use crate::containerd::pod::{CreateWith, Pod};

/// What the keeper needs from `create`.
pub struct KeeperArgs {
    /// Container id.
    pub id: String,
    /// Its state directory.
    pub dir: PathBuf,
    /// The record to keep (pid and start time filled in here).
    pub record: Record,
    /// Runtime options (global flags over the options file).
    pub options: RuntimeOptions,
    /// The terminal's slave when process.terminal.
    pub terminal: Option<OwnedFd>,
    /// Where to say "ok" or why it failed.
    pub ready: OwnedFd,
    /// config.json asks for a new network namespace (an entry without a
    /// path) and the network mode uses one: the keeper makes it, so that
    /// the create hooks can set it up (Docker's prestart hook moves the
    /// container's veth into /proc/PID/ns/net) before the sandbox takes
    /// its interfaces.
    pub new_netns: bool,
    /// runc's --preserve-fds: descriptors 3 .. 3+N go to the init.
    pub preserve_fds: u32,
}

enum Event {
    /// The init exited with this status.
    InitExited(u32),
    /// End a container whose init never started, as if killed by this signal.
    End(i32),
}

struct Keeper {
    id: String,
    dir: PathBuf,
    pod: Pod,
    rec: Mutex<Record>,
    events: mpsc::Sender<Event>,
    terminal: Option<OwnedFd>,
    seq: AtomicU64,
    /// Held (shared) while a request is answered: the keeper does not
    /// exit under a request (an init that exits at once would otherwise
    /// end the keeper before `start` got its answer).
    busy: RwLock<()>,
}

/// Signals forwarded to the init.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGALRM,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGPWR,
];

static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from the stack.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// The write end of the signal pipe, once installed.
pub fn signal_pipe_writer() -> Option<RawFd> {
    Some(SIGNAL_PIPE.load(Ordering::Relaxed)).filter(|&f| f >= 0)
}

/// Installs the forwarding handlers; returns the read end of their pipe.
pub fn install_signals() -> std::io::Result<OwnedFd> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nothing else; the write end lives
    // for the whole process (the handler uses it).
    let r = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // The read end blocks (the signal thread waits on it).
    // SAFETY: F_SETFL on our descriptor.
    unsafe { libc::fcntl(fds[0], libc::F_SETFL, 0) };
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for &s in FORWARDED {
        // SAFETY: a zeroed sigaction with our handler (async-signal-safe)
        // and SA_RESTART; installing it is sound.
        unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            a.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            a.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut a.sa_mask);
            libc::sigaction(s, &a, std::ptr::null_mut());
        }
    }
    for s in [libc::SIGTTIN, libc::SIGTTOU, libc::SIGTSTP, libc::SIGPIPE] {
        // SAFETY: ignoring job-control stops and SIGPIPE.
        unsafe { libc::signal(s, libc::SIG_IGN) };
    }
    Ok(r)
}

/// Whether `sig`'s default action ends a process (so a death by it can be
/// mirrored).
fn terminating(sig: i32) -> bool {
    (1..=31).contains(&sig)
        && ![
            libc::SIGCHLD,
            libc::SIGCONT,
            libc::SIGSTOP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGURG,
            libc::SIGWINCH,
        ]
        .contains(&sig)
}

/// Ends this process the way status `status` (code, or 128 + signal) says.
fn mirror(status: u32) -> ! {
    let sig = status as i32 - 128;
    if status > 128 && terminating(sig) {
        // SAFETY: no core file; default action for `sig`, unblocked; then
        // the signal to ourselves. Nothing here touches memory.
        unsafe {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    // SAFETY: _exit ends the process without running destructors of other
    // threads' data (they are mid-flight).
    unsafe { libc::_exit((status & 0xff) as i32) }
}

/// Reaps the keeper's children (it is a subreaper), leaving running hooks
/// to their runner.
fn start_reaper() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| loop {
            // SAFETY: a zeroed siginfo_t is valid for waitid to fill.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waitid with a valid out-pointer; WNOWAIT only peeks.
            let r =
                unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if r != 0 {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
            // SAFETY: waitid filled si_pid for a child that exited.
            let pid = unsafe { info.si_pid() };
            if pid <= 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            let g = hooks::HOOK_PIDS.lock().unwrap_or_else(|p| p.into_inner());
            if g.as_ref().is_some_and(|s| s.contains(&pid)) {
                drop(g);
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            let mut st = 0;
            // SAFETY: waitpid of the child that waitid reported.
            unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
            drop(g);
        })
        .map(|_| ())
}

/// Closes every descriptor above 2 but `keep` (single-threaded callers).
pub fn close_other_fds(keep: &[RawFd]) {
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing a descriptor nothing in this (single-threaded)
            // process uses (the directory's own is already closed or
            // fails harmlessly).
            unsafe { libc::close(fd) };
        }
    }
}

fn dup_cloexec(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC of a descriptor we hold; checked.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn say(ready: &OwnedFd, msg: &str) {
    let mut f = std::fs::File::from(ready.try_clone().unwrap_or_else(|_| {
        // SAFETY: -1 is never a valid descriptor; writes to it fail harmlessly.
        unsafe { OwnedFd::from_raw_fd(-1) }
    }));
    let _ = f.write_all(msg.as_bytes());
}

/// The next signal number the handlers wrote to `pipe` (waiting for it);
/// None once the pipe is closed or broken.
pub fn next_signal(pipe: &OwnedFd) -> Option<i32> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: read one byte into a local buffer from our pipe.
        let n = unsafe { libc::read(pipe.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return Some(i32::from(b[0]));
        }
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// The keeper's life (in the child `create` forked); never returns.
pub fn run(args: KeeperArgs) -> ! {
    let ready = args.ready;
    let dir = args.dir.clone();
    let fail = |msg: String| -> ! {
        say(&ready, &format!("error {msg}"));
        let _ = std::fs::remove_dir_all(&dir);
        // SAFETY: _exit ends the process at once.
        unsafe { libc::_exit(1) }
    };
    // Descriptors the caller leaked into create (conmon's port
    // reservations, the docker shim's socket) are not the keeper's to keep.
    let mut keep = vec![ready.as_raw_fd()];
    keep.extend(args.terminal.as_ref().map(|t| t.as_raw_fd()));
    let preserved: Vec<i32> = (3..3 + args.preserve_fds as i32).collect();
    keep.extend(&preserved);
    close_other_fds(&keep);
    // The preserved ones, moved out of the way (close-on-exec duplicates).
    let mut extra = Vec::with_capacity(preserved.len());
    for fd in preserved {
        match dup_cloexec(fd) {
            Ok(f) => extra.push(f),
            Err(e) => fail(format!("--preserve-fds: descriptor {fd}: {e}")),
        }
        // SAFETY: closing an inherited descriptor now held as a duplicate.
        unsafe { libc::close(fd) };
    }
    // SAFETY: PR_SET_NAME with a NUL-terminated name of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"gvisor-keeper".as_ptr(), 0, 0, 0) };
    match setup(&args.dir, args.terminal.as_ref()) {
        Ok(()) => {}
        Err(e) => fail(e),
    }
    let stdio = match &args.terminal {
        Some(t) => [t.as_raw_fd(); 3],
        None => [0, 1, 2],
    };
    let mut open = Vec::new();
    for fd in stdio {
        match dup_cloexec(fd) {
            Ok(f) => open.push(f),
            Err(e) => fail(format!("duplicating the container's stdio: {e}")),
        }
    }
    if let Err(e) = redirect_own_stdio(&args.dir) {
        fail(e);
    }
    let sigpipe = match install_signals() {
        Ok(p) => p,
        Err(e) => fail(format!("installing signal handlers: {e}")),
    };
    crate::logging::init(None, crate::logging::Format::Text);
    // The create hooks run with the keeper (the pid they get) in the
    // container's new network namespace, before the sandbox reads it; the
    // keeper then returns to its own namespace and holds the new one.
    let mut rec = args.record;
    rec.pid = std::process::id() as i32;
    rec.keeper_start = state::start_time(rec.pid).unwrap_or(0);
    let (network_ns, _held_ns) = if args.new_netns {
        match enter_new_netns() {
            Ok((orig, new)) => {
                run_create_hooks(&rec).unwrap_or_else(|e| fail(e));
                // SAFETY: setns of the main thread back to the namespace
                // it came from (a descriptor we opened).
                if unsafe { libc::setns(orig.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    fail(format!(
                        "returning to the host network namespace: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                let path = PathBuf::from(format!(
                    "/proc/{}/fd/{}",
                    std::process::id(),
                    new.as_raw_fd()
                ));
                (Some(path), Some(new))
            }
            Err(e) => fail(e),
        }
    } else {
        run_create_hooks(&rec).unwrap_or_else(|e| fail(e));
        (None, None)
    };
    if let Err(e) = start_reaper() {
        fail(format!("starting the reaper: {e}"));
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let pod = match Pod::new(&exe, Arc::new(NoEvents)) {
        Ok(p) => p,
        Err(e) => fail(format!("{e:#}")),
    };
    let body = match toml::to_string(&args.options) {
        Ok(b) => b,
        Err(e) => fail(format!("encoding the runtime options: {e}")),
    };
    let cri = crate::containerd::options::CriOptions {
        type_url: String::new(),
        config_path: String::new(),
        config_body: body.into_bytes(),
    };
    let mut req = CreateTaskRequest::new();
    req.id = args.id.clone();
    req.bundle = rec.bundle.clone();
    req.terminal = args.terminal.is_some();
    let mut any = Any::new();
    any.value = prost::Message::encode_to_vec(&cri);
    req.options = Some(any).into();
    let arr: [OwnedFd; 3] = match open.try_into() {
        Ok(a) => a,
        Err(_) => fail("three stdio descriptors expected".into()),
    };
    let stdio = Stdio {
        terminal: args.terminal.is_some(),
        open: Some(OpenStdio(Arc::new(arr))),
        extra: Some(ExtraFds(Arc::new(extra))),
        ..Default::default()
    };
    let with = CreateWith {
        stdio,
        adjust: &clamp_rlimits,
        network_ns,
    };
    if let Err(e) = pod.create_with(&req, with) {
        fail(runc_words(&backend_text(e)));
    }
    if let Some(t) = &args.terminal {
        // The terminal's size so far (the caller may have set it).
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a local winsize.
        if unsafe { libc::ioctl(t.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            let _ = pod.resize(&args.id, "", u32::from(ws.ws_col), u32::from(ws.ws_row));
        }
    }
    if let Err(e) = state::save(&args.dir, &rec) {
        let _ = pod.delete(&args.id, "");
        fail(e.to_string());
    }
    let listener = match wire::listen(&args.dir.join("keeper.sock")) {
        Ok(l) => l,
        Err(e) => {
            let _ = pod.delete(&args.id, "");
            fail(format!(
                "listening on {}: {e}",
                args.dir.join("keeper.sock").display()
            ))
        }
    };
    let (tx, rx) = mpsc::channel();
    let k = Arc::new(Keeper {
        id: args.id.clone(),
        dir: args.dir.clone(),
        pod,
        rec: Mutex::new(rec),
        events: tx,
        terminal: args.terminal,
        seq: AtomicU64::new(0),
        busy: RwLock::new(()),
    });
    let k2 = k.clone();
    let serving = std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || loop {
            match wire::accept(&listener) {
                Ok(c) => {
                    let k3 = k2.clone();
                    let _ = std::thread::Builder::new()
                        .name("conn".into())
                        .spawn(move || k3.serve(c));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting on the keeper socket");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        });
    if let Err(e) = serving {
        let _ = k.pod.delete(&args.id, "");
        fail(format!("starting the socket thread: {e}"));
    }
    let k4 = k.clone();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || k4.signals(sigpipe));
    say(&ready, "ok");
    drop(ready);
    // The init's end (or the end of an unstarted container) ends the keeper.
    let status = match rx.recv() {
        Ok(Event::InitExited(s)) => s,
        Ok(Event::End(sig)) => 128 + sig as u32,
        Err(_) => 128 + libc::SIGKILL as u32,
    };
    k.finish(status)
}

/// The sentry's errno names in the words podman and Docker look for (they
/// map "no such file or directory" to exit 127, "permission denied" to 126).
fn runc_words(msg: &str) -> String {
    msg.replace("ENOENT (2)", "no such file or directory")
        .replace("EACCES (13)", "permission denied")
        .replace("ENOEXEC (8)", "exec format error")
}

/// prestart, createRuntime and createContainer, with the state as runc
/// gives it (status "creating").
fn run_create_hooks(rec: &Record) -> Result<(), String> {
    let st = rec.oci_json_as("creating");
    for kind in ["prestart", "createRuntime", "createContainer"] {
        hooks::run(rec.hooks.as_ref(), kind, &st)?;
    }
    Ok(())
}

/// Moves the (single-threaded) keeper into a new network namespace;
/// returns descriptors of the old one and of the new one.
fn enter_new_netns() -> Result<(OwnedFd, OwnedFd), String> {
    let open = || {
        std::fs::File::open("/proc/self/ns/net")
            .map(OwnedFd::from)
            .map_err(|e| format!("opening /proc/self/ns/net: {e}"))
    };
    let orig = open()?;
    // SAFETY: unshare with a constant flag; the keeper is single-threaded
    // here, so the whole process moves.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "creating the container's network namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((orig, open()?))
}

fn backend_text(e: BackendError) -> String {
    match e {
        BackendError::NotFound(m) => format!("{m}: not found"),
        BackendError::Invalid(m) | BackendError::Unsupported(m) | BackendError::Failed(m) => m,
    }
}

/// The keeper's own session and descriptors.
fn setup(dir: &std::path::Path, terminal: Option<&OwnedFd>) -> Result<(), String> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "becoming a subreaper: {}",
            std::io::Error::last_os_error()
        ));
    }
    if let Some(t) = terminal {
        // A session of its own with the terminal as its controlling one:
        // window size changes reach the keeper as SIGWINCH.
        // SAFETY: setsid and TIOCSCTTY on our own terminal descriptor.
        unsafe {
            libc::setsid();
            libc::ioctl(t.as_raw_fd(), libc::TIOCSCTTY, 0);
        }
    }
    std::env::set_current_dir(dir).map_err(|e| format!("entering {}: {e}", dir.display()))
}

/// Points the keeper's own 0 and 1 at /dev/null and 2 at keeper.log (the
/// container holds the caller's stdio, not the keeper).
fn redirect_own_stdio(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("opening /dev/null: {e}"))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join("keeper.log"))
        .map_err(|e| format!("opening {}: {e}", dir.join("keeper.log").display()))?;
    for (from, to) in [
        (null.as_raw_fd(), 0),
        (null.as_raw_fd(), 1),
        (log.as_raw_fd(), 2),
    ] {
        // SAFETY: dup2 onto the standard descriptors; both are valid.
        if unsafe { libc::dup2(from, to) } < 0 {
            return Err(format!(
                "redirecting descriptor {to}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Lowers process.rlimits above the caller's hard limits to them (podman's
/// nofile 1048576 is above these machines' 20000), with a warning.
fn clamp_rlimits(config: &mut serde_json::Value) {
    let Some(list) = config
        .get_mut("process")
        .and_then(|p| p.get_mut("rlimits"))
        .and_then(|r| r.as_array_mut())
    else {
        return;
    };
    for r in list {
        let Some(name) = r.get("type").and_then(|t| t.as_str()).map(str::to_string) else {
            continue;
        };
        let Some(res) = rlimit_resource(&name) else {
            continue;
        };
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit into a local struct.
        if unsafe { libc::getrlimit(res, &mut cur) } != 0 || cur.rlim_max == libc::RLIM_INFINITY {
            continue;
        }
        let max = cur.rlim_max;
        for key in ["hard", "soft"] {
            let v = r.get(key).and_then(|v| v.as_u64());
            if let Some(v) = v.filter(|&v| v > max) {
                super::report::warn(&format!(
                    "{name}: {key} limit {v} is above the caller's hard limit {max}: clamped to {max}"
                ));
                if let Some(o) = r.as_object_mut() {
                    o.insert(key.into(), max.into());
                }
            }
        }
    }
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        _ => return None,
    })
}

impl Keeper {
    fn rec(&self) -> std::sync::MutexGuard<'_, Record> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_status(&self, status: &str) {
        let mut r = self.rec();
        r.status = status.to_string();
        if let Err(e) = state::save(&self.dir, &r) {
            tracing::warn!(error = %e, "saving the state");
        }
    }

    fn status(&self) -> String {
        self.rec().status.clone()
    }

    /// Tears the sandbox down, records the end and exits as the init did.
    fn finish(&self, status: u32) -> ! {
        let _quiet = self.busy.write().unwrap_or_else(|p| p.into_inner());
        let _ = self.pod.delete(&self.id, "");
        {
            let mut r = self.rec();
            r.status = "stopped".into();
            r.exit_status = Some(status);
            let _ = state::save(&self.dir, &r);
        }
        let _ = std::fs::remove_file(self.dir.join("keeper.sock"));
        mirror(status)
    }

    fn signals(&self, pipe: OwnedFd) {
        while let Some(sig) = next_signal(&pipe) {
            if sig == libc::SIGWINCH {
                if let Some(t) = &self.terminal {
                    self.resize_from(t.as_raw_fd());
                    continue;
                }
            }
            match self.status().as_str() {
                "running" | "paused" => {
                    if let Err(e) = self.pod.kill(&self.id, "", sig as u32, false) {
                        tracing::warn!(signal = sig, error = %backend_text(e), "forwarding a signal");
                    }
                }
                "created" if terminating(sig) => {
                    let _ = self.events.send(Event::End(sig));
                }
                _ => {}
            }
        }
    }

    fn resize_from(&self, fd: RawFd) {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a local winsize.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            let _ = self
                .pod
                .resize(&self.id, "", u32::from(ws.ws_col), u32::from(ws.ws_row));
        }
    }

    /// Serves one connection.
    fn serve(&self, conn: OwnedFd) {
        let Ok(Some((req, fds))) = wire::recv::<Request>(&conn) else {
            return;
        };
        let _busy = self.busy.read().unwrap_or_else(|p| p.into_inner());
        let reply = match req {
            Request::Exec { process } => {
                drop(_busy);
                return self.exec(&conn, process, fds);
            }
            other => self.handle(other),
        };
        let _ = wire::send(&conn, &reply, &[]);
    }

    fn handle(&self, req: Request) -> Reply {
        let status = self.status();
        let r: Result<Reply, String> = match req {
            Request::Start => self.start(&status),
            Request::Kill { signal, all } => match status.as_str() {
                "stopped" => Err("container not running".into()),
                "created" => {
                    if signal != 0 && terminating(signal as i32) {
                        let _ = self.events.send(Event::End(signal as i32));
                    }
                    Ok(Reply::default())
                }
                _ => self
                    .pod
                    .kill(&self.id, "", signal, all)
                    .map(|()| Reply::default())
                    .map_err(backend_text),
            },
            Request::Pause => match status.as_str() {
                "running" => self
                    .pod
                    .pause(&self.id, true)
                    .map(|()| {
                        self.set_status("paused");
                        Reply::default()
                    })
                    .map_err(backend_text),
                "paused" => Err("container already paused".into()),
                _ => Err("container not running".into()),
            },
            Request::Resume => match status.as_str() {
                "paused" => self
                    .pod
                    .pause(&self.id, false)
                    .map(|()| {
                        self.set_status("running");
                        Reply::default()
                    })
                    .map_err(backend_text),
                _ => Err("container not paused".into()),
            },
            Request::Ps => {
                let pids = if status == "created" {
                    Ok(Vec::new())
                } else {
                    self.pod.pids(&self.id).map_err(backend_text)
                };
                pids.and_then(|p| {
                    Ok(Reply {
                        pids: p.into_iter().map(|x| x as i32).collect(),
                        host_pids: self.pod.host_pids(&self.id).map_err(backend_text)?,
                        ..Default::default()
                    })
                })
            }
            Request::Stats => self
                .pod
                .stats(&self.id)
                .map_err(backend_text)
                .and_then(|a| super::stats::runc_stats(&a.value))
                .map(|s| Reply {
                    stats: Some(s),
                    ..Default::default()
                }),
            Request::Update { resources } => {
                let mut any = Any::new();
                any.value = serde_json::to_vec(&resources).unwrap_or_default();
                self.pod
                    .update(&self.id, &any)
                    .map(|()| Reply::default())
                    .map_err(backend_text)
            }
            Request::Resize { .. } | Request::Signal { .. } => {
                Err("resize and signal go on an exec's connection".into())
            }
            Request::Exec { .. } => Err("exec: unexpected".into()),
            Request::Delete { force } => match status.as_str() {
                "created" => {
                    let _ = self.events.send(Event::End(libc::SIGKILL));
                    Ok(Reply::default())
                }
                "stopped" => Ok(Reply::default()),
                s if !force => Err(format!(
                    "cannot delete container {} that is not stopped: {s}",
                    self.id
                )),
                _ => {
                    if self
                        .pod
                        .kill(&self.id, "", libc::SIGKILL as u32, true)
                        .is_err()
                    {
                        let _ = self.events.send(Event::End(libc::SIGKILL));
                    }
                    Ok(Reply::default())
                }
            },
        };
        r.unwrap_or_else(Reply::err)
    }

    fn start(&self, status: &str) -> Result<Reply, String> {
        match status {
            "created" => {}
            "stopped" => return Err("cannot start a container that has stopped".into()),
            "running" => return Err("cannot start an already running container".into()),
            s => return Err(format!("cannot start a container in the {s} state")),
        }
        // One start wins.
        {
            let mut r = self.rec();
            if r.status != "created" {
                return Err("cannot start an already running container".into());
            }
            r.status = "starting".into();
        }
        let (hooks_v, st) = {
            let r = self.rec();
            (r.hooks.clone(), r.oci_json_as("created"))
        };
        if let Err(e) = hooks::run(hooks_v.as_ref(), "startContainer", &st) {
            let _ = self.events.send(Event::End(libc::SIGKILL));
            return Err(e);
        }
        let tx = self.events.clone();
        if let Err(e) = self.pod.start(
            &self.id,
            "",
            Box::new(move |status| {
                let _ = tx.send(Event::InitExited(status));
            }),
        ) {
            self.set_status("created");
            return Err(backend_text(e));
        }
        self.set_status("running");
        let st = self.rec().oci_json_as("running");
        if let Err(e) = hooks::run(hooks_v.as_ref(), "poststart", &st) {
            let _ = self.pod.kill(&self.id, "", libc::SIGKILL as u32, true);
            return Err(e);
        }
        Ok(Reply::default())
    }

    fn exec(&self, conn: &OwnedFd, process: serde_json::Value, fds: Vec<OwnedFd>) {
        let r = self.exec_start(process, fds);
        let (rx, exec_id) = match r {
            Ok(x) => x,
            Err(e) => {
                let _ = wire::send(conn, &Reply::err(e), &[]);
                return;
            }
        };
        let _ = wire::send(conn, &Reply::default(), &[]);
        // Resize and Signal requests come on the same connection while it
        // runs.
        if let Ok(c2) = conn.try_clone() {
            let (rtx, rrx) = mpsc::channel::<Request>();
            let _ = std::thread::Builder::new()
                .name("exec-conn".into())
                .spawn(move || {
                    while let Ok(Some((req, _))) = wire::recv::<Request>(&c2) {
                        if rtx.send(req).is_err() {
                            break;
                        }
                    }
                });
            loop {
                match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                    Ok(status) => {
                        let _ = wire::send(
                            conn,
                            &Reply {
                                exit: Some(status),
                                ..Default::default()
                            },
                            &[],
                        );
                        break;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        while let Ok(req) = rrx.try_recv() {
                            match req {
                                Request::Resize { cols, rows } => {
                                    let _ = self.pod.resize(&self.id, &exec_id, cols, rows);
                                }
                                Request::Signal { signal } => {
                                    let _ = self.pod.kill(&self.id, &exec_id, signal, false);
                                }
                                _ => {}
                            }
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        let _ = self.pod.delete(&self.id, &exec_id);
    }

    fn exec_start(
        &self,
        process: serde_json::Value,
        fds: Vec<OwnedFd>,
    ) -> Result<(mpsc::Receiver<u32>, String), String> {
        match self.status().as_str() {
            "stopped" => return Err("cannot exec in a stopped state".into()),
            "paused" => return Err("cannot exec in a paused state".into()),
            _ => {}
        }
        let mut fds = fds;
        if fds.len() < 3 {
            return Err(format!(
                "exec: {} stdio descriptors instead of 3",
                fds.len()
            ));
        }
        let extra = fds.split_off(3);
        let arr: [OwnedFd; 3] = fds.try_into().map_err(|v: Vec<OwnedFd>| {
            format!("exec: {} stdio descriptors instead of 3", v.len())
        })?;
        let terminal = process
            .get("terminal")
            .and_then(|t| t.as_bool())
            .unwrap_or(false);
        let exec_id = format!("exec-{}", self.seq.fetch_add(1, Ordering::SeqCst));
        let stdio = Stdio {
            terminal,
            open: Some(OpenStdio(Arc::new(arr))),
            extra: Some(ExtraFds(Arc::new(extra))),
            ..Default::default()
        };
        let mut wrapped = serde_json::json!({ "process": process });
        clamp_rlimits(&mut wrapped);
        let spec = serde_json::to_vec(&wrapped["process"]).map_err(|e| e.to_string())?;
        self.pod
            .exec(&self.id, &exec_id, &spec, &stdio)
            .map_err(|e| runc_words(&backend_text(e)))?;
        drop(stdio);
        let (tx, rx) = mpsc::channel();
        if let Err(e) = self.pod.start(
            &self.id,
            &exec_id,
            Box::new(move |s| {
                let _ = tx.send(s);
            }),
        ) {
            let _ = self.pod.delete(&self.id, &exec_id);
            return Err(backend_text(e));
        }
        Ok((rx, exec_id))
    }
}
