//! The runc-compatible command line: runc's global flags (before the
//! subcommand) and runsc-style runtime flags, and runc's subcommands, so
//! podman (`--runtime`) and Docker (containerd-shim-runc-v2 with a
//! `runtimes` entry) drive gvisor-rs as they drive runc. `create` forks a
//! keeper (`keeper`) that holds the container through the shim's pod
//! backend; the other commands talk to it over `<root>/<id>/keeper.sock`
//! (`wire`) or read `<root>/<id>/state.json` (`state`). See
//! docs/RUNC-CLI.md.

pub mod hooks;
pub mod keeper;
pub mod report;
pub mod spec;
pub mod state;
pub mod stats;
pub mod wire;

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::containerd::options::RuntimeOptions;
use state::{Record, StateError};
use wire::{Reply, Request};

/// runc's global flags and our runtime options, before the subcommand.
#[derive(clap::Args, Clone, Debug)]
pub struct GlobalFlags {
    /// Root directory of the containers' state.
    #[arg(long, value_name = "DIR", default_value = "/run/gvisor")]
    pub root: PathBuf,
    /// Write errors and warnings to this file (default stderr).
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// The --log format: text or json.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub log_format: String,
    /// Debug logging (the sandbox's debug log at debug level).
    #[arg(long)]
    pub debug: bool,
    /// systemd cgroup management (refused: cgroupfs paths only).
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (true, false or auto).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility (checkpoints are not supported).
    #[arg(long, value_name = "PATH", hide = true)]
    pub criu: Option<String>,
    /// The sandbox's network: sandbox (default), host or none.
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Debug logs of the sandbox's processes (directory or pattern, as the
    /// shim's debug-log option).
    #[arg(long, value_name = "DIR|PATTERN")]
    pub debug_log: Option<String>,
    /// The debug logs' format: text or json.
    #[arg(long, value_name = "FORMAT")]
    pub debug_log_format: Option<String>,
    /// `--strace` and its options (into the debug log).
    #[command(flatten)]
    pub strace: crate::cli::strace_flags::StraceFlags,
    /// Write a profile at the init's exit into the debug-log directory.
    #[arg(long)]
    pub profile: bool,
    /// The platform (only kvm).
    #[arg(long, value_name = "NAME")]
    pub platform: Option<String>,
    /// Root file system overlay: memory (default) or none.
    #[arg(long, value_name = "MODE")]
    pub overlay: Option<String>,
    /// Log the sandbox's network frames into its debug log.
    #[arg(long)]
    pub log_packets: bool,
}

/// runc's subcommands (`run` is `crate::cli`'s, which calls [`run_detached`]
/// for `run -d`).
#[derive(clap::Subcommand, Debug)]
pub enum RuncCmd {
    /// Create a container (the init prepared, not started).
    Create(CreateArgs),
    /// Start the init of a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the state of a container (OCI state JSON).
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal (default SIGTERM) to the init.
    Kill {
        /// Send it to every process of the container.
        #[arg(long, short = 'a')]
        all: bool,
        /// Container id.
        id: String,
        /// Signal: a name (KILL, SIGKILL) or a number.
        signal: Option<String>,
    },
    /// Delete a container (its sandbox and state).
    Delete {
        /// Kill it first if it runs.
        #[arg(long, short = 'f')]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// List the container's processes.
    Ps {
        /// table or json (json: the sandbox's host pids).
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        /// Container id.
        id: String,
        /// ps options (ignored).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Suspend every process of the container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Resume a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Print statistics events.
    Events {
        /// Print them once.
        #[arg(long)]
        stats: bool,
        /// Interval between events (5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Container id.
        id: String,
    },
    /// List the containers under --root.
    List {
        /// Ids only.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// table or json.
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
    },
    /// Write a default config.json.
    Spec {
        /// Into this bundle directory.
        #[arg(long, short = 'b', value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// A spec for rootless containers (adds a user namespace).
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports (JSON).
    Features,
    /// Change the container's resources.
    Update(UpdateArgs),
    /// Not supported: checkpoints.
    Checkpoint {
        /// Ignored arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Not supported: restoring checkpoints.
    Restore {
        /// Ignored arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `create`'s flags (and `run -d`'s).
#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// The bundle directory.
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's pid here.
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Send the terminal's master to this unix socket.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted (there is no pivot_root of the container's own).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted (the sandbox has no host keyring).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Extra descriptors to pass (only 0 is supported).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

/// `exec`'s flags.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The process as an OCI process JSON file.
    #[arg(long, short = 'p', value_name = "PATH")]
    pub process: Option<PathBuf>,
    /// Return at once; the pid-file's process waits for it.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// A terminal (needs --console-socket).
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Send the terminal's master to this unix socket.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the pid of the process that exits with it here.
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Environment variables (NAME=VALUE).
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<String>,
    /// uid[:gid].
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(long, short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add.
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Accepted (no SELinux).
    #[arg(long)]
    pub process_label: Option<String>,
    /// Accepted (no AppArmor).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Extra descriptors (only 0 is supported).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `update`'s flags.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON file, or - for stdin.
    #[arg(long, short = 'r', value_name = "PATH")]
    pub resources: Option<String>,
    /// Memory limit (bytes, or 512M / 1G).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory reservation.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Accepted (kernel memory limits are gone from Linux).
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// CPU CFS period (µs).
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (µs).
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPU shares.
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPUs allowed.
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Most tasks.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Block IO weight.
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Container id.
    pub id: String,
}

/// A failed command: the message, and the exit code.
struct Fail(String, u8);

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail(s, 1)
    }
}

impl From<StateError> for Fail {
    fn from(e: StateError) -> Fail {
        Fail(e.to_string(), 1)
    }
}

type Res<T> = Result<T, Fail>;

/// Sets up error reporting from the global flags.
pub fn init_reporting(g: &GlobalFlags) -> Result<(), String> {
    let json = match g.log_format.as_str() {
        "text" => false,
        "json" => true,
        other => return Err(format!("unknown log-format {other:?}")),
    };
    report::init(report::Reporter {
        log: g.log.clone(),
        json,
    });
    Ok(())
}

/// Runs a runc subcommand.
pub fn main(g: &GlobalFlags, cmd: RuncCmd) -> ExitCode {
    if let Err(e) = init_reporting(g) {
        report::error(&e);
        return ExitCode::from(1);
    }
    let r = match cmd {
        RuncCmd::Create(a) => create(g, &a).map(|_| ExitCode::SUCCESS),
        RuncCmd::Start { id } => start(g, &id).map(|()| ExitCode::SUCCESS),
        RuncCmd::State { id } => print_state(g, &id),
        RuncCmd::Kill { all, id, signal } => kill(g, &id, signal.as_deref(), all),
        RuncCmd::Delete { force, id } => delete(g, &id, force),
        RuncCmd::Exec(a) => exec(g, &a),
        RuncCmd::Ps { format, id, .. } => ps(g, &id, &format),
        RuncCmd::Pause { id } => simple(g, &id, Request::Pause),
        RuncCmd::Resume { id } => simple(g, &id, Request::Resume),
        RuncCmd::Events {
            stats,
            interval,
            id,
        } => events(g, &id, stats, &interval),
        RuncCmd::List { quiet, format } => list(g, quiet, &format),
        RuncCmd::Spec { bundle, rootless } => write_spec(bundle.as_deref(), rootless),
        RuncCmd::Features => Ok(out(&format!(
            "{}\n",
            spec::pretty(&spec::features(), b"    ")
        ))),
        RuncCmd::Update(a) => update(g, &a),
        RuncCmd::Checkpoint { .. } => {
            Err(Fail("checkpoint is not supported by gvisor-rs".into(), 1))
        }
        RuncCmd::Restore { .. } => Err(Fail(
            "restore is not supported by gvisor-rs (no checkpoints)".into(),
            1,
        )),
    };
    finish(r)
}

fn finish(r: Res<ExitCode>) -> ExitCode {
    match r {
        Ok(c) => c,
        Err(Fail(msg, code)) => {
            report::error(&msg);
            ExitCode::from(code)
        }
    }
}

/// Writes to stdout; a closed pipe ends quietly.
fn out(text: &str) -> ExitCode {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
    ExitCode::SUCCESS
}

/// Runtime options: the options file (`$GVISOR_CONFIG` or
/// /etc/containerd/gvisor.toml, if any) under the global flags.
pub fn runtime_options(g: &GlobalFlags) -> Result<RuntimeOptions, String> {
    let mut o = crate::containerd::options::resolve(None).map_err(|e| format!("{e:#}"))?;
    o.debug |= g.debug;
    o.strace |= g.strace.strace;
    o.profile |= g.profile;
    o.log_packets |= g.log_packets;
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            slot.clone_from(v);
        }
    };
    set(&mut o.network, &g.network);
    set(&mut o.debug_log, &g.debug_log);
    set(&mut o.debug_log_format, &g.debug_log_format);
    set(&mut o.strace_syscalls, &g.strace.strace_syscalls);
    set(&mut o.platform, &g.platform);
    set(&mut o.overlay, &g.overlay);
    if g.strace.strace_log_size.is_some() {
        o.strace_log_size = g.strace.strace_log_size;
    }
    let text = toml::to_string(&o).map_err(|e| format!("runtime options: {e}"))?;
    RuntimeOptions::parse(&text, "runtime flags").map_err(|e| format!("{e:#}"))
}

fn check_id(id: &str) -> Result<(), String> {
    if id == "." || id == ".." {
        return Err(format!("invalid container id format: {id}"));
    }
    crate::oci::check_id(id).map_err(|_| format!("invalid container id format: {id}"))
}

/// Writes `pid` into `path` (atomically, as runc).
fn write_pid_file(path: &Path, pid: i32) -> Result<(), String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("pid file: {e}"))?
            .join(path)
    };
    state::write_atomic(&abs, pid.to_string().as_bytes()).map_err(|e| e.to_string())
}

/// runc's --preserve-fds N: descriptors 3 .. 3+N must be open (the sandbox
/// holds at most 1024).
fn check_preserved(n: u32) -> Res<()> {
    if n as usize > sentry_core::vfs::MAX_FDS - 3 {
        return Err(Fail(
            format!(
                "--preserve-fds {n}: at most {} descriptors",
                sentry_core::vfs::MAX_FDS - 3
            ),
            1,
        ));
    }
    for fd in 3..3 + n as i32 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Fail(
                format!("--preserve-fds {n}: descriptor {fd} is not open"),
                1,
            ));
        }
    }
    Ok(())
}

/// The bundle, checked: absolute path, spec, record (pid 0).
fn prepare(a: &CreateArgs) -> Res<(PathBuf, serde_json::Value, Record)> {
    check_id(&a.id)?;
    check_preserved(a.preserve_fds)?;
    let bundle = a
        .bundle
        .canonicalize()
        .map_err(|e| format!("bundle {}: {e}", a.bundle.display()))?;
    let cfg = bundle.join("config.json");
    let text = match std::fs::read(&cfg) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Fail(
                "JSON specification file config.json not found".into(),
                1,
            ))
        }
        Err(e) => return Err(Fail(format!("reading {}: {e}", cfg.display()), 1)),
    };
    let config: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", cfg.display()))?;
    crate::oci::load(&bundle).map_err(|e| format!("{e:#}"))?;
    let root = config
        .get("root")
        .and_then(|r| r.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("rootfs");
    let rootfs = bundle.join(root);
    let annotations = config
        .get("annotations")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default();
    let rec = Record {
        id: a.id.clone(),
        pid: 0,
        status: "created".into(),
        bundle: bundle.display().to_string(),
        rootfs: rootfs.display().to_string(),
        created: report::rfc3339(std::time::SystemTime::now(), true),
        owner: String::new(),
        annotations,
        keeper_start: 0,
        exit_status: None,
        hooks: config.get("hooks").cloned(),
    };
    Ok((bundle, config, rec))
}

/// `create`: returns the keeper's pid once the container is created.
fn create(g: &GlobalFlags, a: &CreateArgs) -> Res<i32> {
    if g.systemd_cgroup {
        return Err(Fail(
            "--systemd-cgroup: systemd cgroup management is not supported by gvisor-rs (configure the cgroupfs manager: linux.cgroupsPath as a cgroupfs path)".into(),
            1,
        ));
    }
    let (_bundle, config, rec) = prepare(a)?;
    let options = runtime_options(g)?;
    let terminal = config
        .get("process")
        .and_then(|p| p.get("terminal"))
        .and_then(|t| t.as_bool())
        .unwrap_or(false);
    match (terminal, &a.console_socket) {
        (true, None) => {
            return Err(Fail(
                "cannot allocate tty if runc will detach without setting console socket".into(),
                1,
            ))
        }
        (false, Some(_)) => {
            return Err(Fail(
                "cannot use console socket if runc will not detach or allocate tty".into(),
                1,
            ))
        }
        _ => {}
    }
    if let Some(p) = &a.console_socket {
        // Checked before anything is made.
        match std::fs::metadata(p) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {}
            Ok(_) => {
                return Err(Fail(
                    format!("console socket {}: not a socket", p.display()),
                    1,
                ))
            }
            Err(e) => return Err(Fail(format!("console socket {}: {e}", p.display()), 1)),
        }
    }
    let new_netns = options.network_mode() != sentry_core::net::NetMode::None
        && config
            .get("linux")
            .and_then(|l| l.get("namespaces"))
            .and_then(|n| n.as_array())
            .is_some_and(|ns| {
                ns.iter().any(|n| {
                    n.get("type").and_then(|t| t.as_str()) == Some("network")
                        && n.get("path")
                            .and_then(|p| p.as_str())
                            .is_none_or(str::is_empty)
                })
            });
    let dir = state::make_dir(&g.root, &a.id)?;
    let cleanup = |f: Fail| {
        let _ = std::fs::remove_dir_all(&dir);
        f
    };
    let slave = match &a.console_socket {
        Some(sock) => {
            let (master, slave, name) = wire::open_pty()
                .map_err(|e| cleanup(format!("creating a terminal: {e}").into()))?;
            wire::send_console(sock, &master, &name).map_err(|e| cleanup(e.into()))?;
            Some(slave)
        }
        None => None,
    };
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(cleanup(
            format!("creating a pipe: {}", std::io::Error::last_os_error()).into(),
        ));
    }
    // SAFETY: fresh descriptors owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: this process is single-threaded here (no thread was
    // started), so the child may run Rust code freely.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(cleanup(
            format!("forking the keeper: {}", std::io::Error::last_os_error()).into(),
        ));
    }
    if pid == 0 {
        drop(r);
        keeper::run(keeper::KeeperArgs {
            id: a.id.clone(),
            dir: dir.clone(),
            record: rec,
            options,
            terminal: slave,
            ready: w,
            new_netns,
            preserve_fds: a.preserve_fds,
        });
    }
    drop(w);
    drop(slave);
    let mut msg = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut msg);
    if msg == "ok" {
        if let Some(p) = &a.pid_file {
            if let Err(e) = write_pid_file(p, pid) {
                // The container exists; the caller cannot track it: undo.
                let _ = call(g, &a.id, &Request::Delete { force: true }, &[]);
                wait_gone(pid, 0);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Fail(e, 1));
            }
        }
        return Ok(pid);
    }
    let mut st = 0;
    // SAFETY: waitpid of our own child, the keeper that failed.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    let _ = std::fs::remove_dir_all(&dir);
    let why = msg.strip_prefix("error ").unwrap_or(if msg.is_empty() {
        "the container's keeper process exited during create"
    } else {
        &msg
    });
    Err(Fail(format!("runc create failed: {why}"), 1))
}

/// `run -d`: create and start; returns the keeper's pid.
pub fn run_detached(g: &GlobalFlags, a: &CreateArgs) -> ExitCode {
    if let Err(e) = init_reporting(g) {
        report::error(&e);
        return ExitCode::from(1);
    }
    let r = create(g, a).and_then(|pid| match start(g, &a.id) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(f) => {
            let _ = call(g, &a.id, &Request::Delete { force: true }, &[]);
            wait_gone(pid, 0);
            let _ = std::fs::remove_dir_all(state::dir(&g.root, &a.id));
            Err(f)
        }
    });
    finish(r)
}

/// Sends `req` to the keeper of `id` and returns its reply (errors as
/// failures). A stopped container answers `stopped` (None).
fn call_live(
    g: &GlobalFlags,
    id: &str,
    req: &Request,
    fds: &[i32],
) -> Res<Option<(Reply, OwnedFd)>> {
    let rec = state::load(&g.root, id)?;
    if rec.live_status() == "stopped" {
        return Ok(None);
    }
    let sock = state::dir(&g.root, id).join("keeper.sock");
    let conn = match wire::connect(&sock) {
        Ok(c) => c,
        Err(_) if rec.live_status() == "stopped" => return Ok(None),
        Err(e) => return Err(Fail(format!("connecting to {}: {e}", sock.display()), 1)),
    };
    wire::send(&conn, req, fds).map_err(|e| format!("talking to the container's keeper: {e}"))?;
    match wire::recv::<Reply>(&conn) {
        Ok(Some((r, _))) => match r.error {
            Some(e) => Err(Fail(e, 1)),
            None => Ok(Some((r, conn))),
        },
        // The keeper ended while answering (the container stopped).
        Ok(None) => Ok(None),
        Err(e) => Err(Fail(format!("talking to the container's keeper: {e}"), 1)),
    }
}

fn call(g: &GlobalFlags, id: &str, req: &Request, fds: &[i32]) -> Res<Option<Reply>> {
    Ok(call_live(g, id, req, fds)?.map(|(r, _)| r))
}

fn start(g: &GlobalFlags, id: &str) -> Res<()> {
    check_id(id).map_err(|_| Fail("container does not exist".into(), 1))?;
    match call(g, id, &Request::Start, &[])? {
        Some(_) => Ok(()),
        None => Err(Fail("cannot start a container that has stopped".into(), 1)),
    }
}

fn print_state(g: &GlobalFlags, id: &str) -> Res<ExitCode> {
    let rec = state::load(&g.root, id)?;
    let text = serde_json::to_string_pretty(&rec.oci()).map_err(|e| e.to_string())?;
    Ok(out(&format!("{text}\n")))
}

/// A signal by name (KILL, SIGKILL, kill) or number.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(format!("invalid signal: {s}"));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    const NAMES: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("IOT", libc::SIGIOT),
        ("BUS", libc::SIGBUS),
        ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("STKFLT", libc::SIGSTKFLT),
        ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        ("POLL", libc::SIGPOLL),
        ("PWR", libc::SIGPWR),
        ("SYS", libc::SIGSYS),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, v)| v)
        .ok_or_else(|| format!("unknown signal {s:?}"))
}

fn kill(g: &GlobalFlags, id: &str, signal: Option<&str>, all: bool) -> Res<ExitCode> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    match call(
        g,
        id,
        &Request::Kill {
            signal: sig as u32,
            all,
        },
        &[],
    )? {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => Err(Fail("container not running".into(), 1)),
    }
}

/// Waits (up to 10 s) for the keeper `pid` (started at `start`, 0: any) to
/// end; then kills it (its sandbox dies with it).
fn wait_gone(pid: i32, start: u64) {
    let alive = || match state::start_time(pid) {
        Some(s) => start == 0 || s == start,
        None => false,
    };
    for _ in 0..1000 {
        if !alive() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if alive() {
        // SAFETY: kill of the keeper we checked is still the same process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        for _ in 0..500 {
            if !alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn delete(g: &GlobalFlags, id: &str, force: bool) -> Res<ExitCode> {
    let rec = match state::load(&g.root, id) {
        Ok(r) => r,
        Err(StateError::NotExist) if force => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e.into()),
    };
    if rec.live_status() != "stopped" {
        call(g, id, &Request::Delete { force }, &[])?;
        wait_gone(rec.pid, rec.keeper_start);
    }
    let st = rec.oci_json_as("stopped");
    if let Err(e) = hooks::run(rec.hooks.as_ref(), "poststop", &st) {
        report::warn(&e);
    }
    let d = state::dir(&g.root, id);
    std::fs::remove_dir_all(&d).map_err(|e| format!("removing {}: {e}", d.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn simple(g: &GlobalFlags, id: &str, req: Request) -> Res<ExitCode> {
    match call(g, id, &req, &[])? {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => Err(Fail("container not running".into(), 1)),
    }
}

fn ps(g: &GlobalFlags, id: &str, format: &str) -> Res<ExitCode> {
    if format != "table" && format != "json" {
        return Err(Fail(format!("invalid format option {format:?}"), 1));
    }
    let Some(r) = call(g, id, &Request::Ps, &[])? else {
        return Err(Fail("container not running".into(), 1));
    };
    if format == "json" {
        let text = serde_json::to_string(&r.host_pids).map_err(|e| e.to_string())?;
        return Ok(out(&format!("{text}\n")));
    }
    let mut text = String::from("PID\n");
    for p in r.pids {
        text.push_str(&format!("{p}\n"));
    }
    Ok(out(&text))
}

/// "5s", "500ms", "2m", or plain seconds.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid interval {s:?}");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn events(g: &GlobalFlags, id: &str, once: bool, interval: &str) -> Res<ExitCode> {
    let every = parse_interval(interval)?;
    loop {
        let Some(r) = call(g, id, &Request::Stats, &[])? else {
            if once {
                return Err(Fail("container not running".into(), 1));
            }
            return Ok(ExitCode::SUCCESS);
        };
        let ev = serde_json::json!({"type": "stats", "id": id, "data": r.stats});
        out(&format!("{ev}\n"));
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(every);
    }
}

fn list(g: &GlobalFlags, quiet: bool, format: &str) -> Res<ExitCode> {
    let recs = state::list(&g.root);
    if quiet {
        let mut t = String::new();
        for r in &recs {
            t.push_str(&r.id);
            t.push('\n');
        }
        return Ok(out(&t));
    }
    match format {
        "json" => {
            if recs.is_empty() {
                return Ok(out("null\n"));
            }
            let all: Vec<_> = recs.iter().map(Record::oci).collect();
            let text = serde_json::to_string(&all).map_err(|e| e.to_string())?;
            Ok(out(&format!("{text}\n")))
        }
        "table" => {
            let mut rows = vec![[
                "ID".to_string(),
                "PID".into(),
                "STATUS".into(),
                "BUNDLE".into(),
                "CREATED".into(),
                "OWNER".into(),
            ]];
            for r in &recs {
                let s = r.oci();
                rows.push([
                    r.id.clone(),
                    s.pid_value().to_string(),
                    s.status_value().to_string(),
                    r.bundle.clone(),
                    r.created.clone(),
                    if r.owner.is_empty() {
                        "root".into()
                    } else {
                        r.owner.clone()
                    },
                ]);
            }
            let mut widths = [12usize; 6];
            for row in &rows {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.len() + 3);
                }
            }
            let mut t = String::new();
            for row in &rows {
                for (i, (w, c)) in widths.iter().zip(row).enumerate() {
                    if i == 5 {
                        t.push_str(c);
                    } else {
                        t.push_str(&format!("{c:<w$}"));
                    }
                }
                t.push('\n');
            }
            Ok(out(&t))
        }
        other => Err(Fail(format!("invalid format option {other:?}"), 1)),
    }
}

fn write_spec(bundle: Option<&Path>, rootless: bool) -> Res<ExitCode> {
    let dir = bundle.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let p = dir.join("config.json");
    if p.exists() {
        return Err(Fail("File config.json exists. Remove it first".into(), 1));
    }
    let text = spec::pretty(&spec::default_spec(rootless), b"\t");
    std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn update(g: &GlobalFlags, a: &UpdateArgs) -> Res<ExitCode> {
    let mut res: serde_json::Value = match a.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("reading resources from stdin: {e}"))?;
            serde_json::from_str(&s).map_err(|e| format!("resources: {e}"))?
        }
        Some(p) => {
            let s = std::fs::read_to_string(p).map_err(|e| format!("resources {p}: {e}"))?;
            serde_json::from_str(&s).map_err(|e| format!("resources {p}: {e}"))?
        }
        None => serde_json::json!({}),
    };
    let size = |s: &str| -> Result<i64, String> {
        if s == "-1" {
            return Ok(-1);
        }
        crate::limits::parse_size(s)
            .map(|v| v as i64)
            .map_err(|e| format!("{e:#}"))
    };
    let obj = res
        .as_object_mut()
        .ok_or_else(|| "resources: not a JSON object".to_string())?;
    let mut mem = serde_json::Map::new();
    if let Some(m) = &a.memory {
        mem.insert("limit".into(), size(m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        mem.insert("reservation".into(), size(m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        mem.insert("swap".into(), size(m)?.into());
    }
    if !mem.is_empty() {
        obj.insert("memory".into(), mem.into());
    }
    let mut cpu = serde_json::Map::new();
    if let Some(v) = a.cpu_period {
        cpu.insert("period".into(), v.into());
    }
    if let Some(v) = a.cpu_quota {
        cpu.insert("quota".into(), v.into());
    }
    if let Some(v) = a.cpu_shares {
        cpu.insert("shares".into(), v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu.insert("cpus".into(), v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        cpu.insert("mems".into(), v.clone().into());
    }
    if !cpu.is_empty() {
        obj.insert("cpu".into(), cpu.into());
    }
    if let Some(v) = a.pids_limit {
        obj.insert("pids".into(), serde_json::json!({ "limit": v }));
    }
    if let Some(v) = a.blkio_weight {
        obj.insert("blockIO".into(), serde_json::json!({ "weight": v }));
    }
    match call(g, &a.id, &Request::Update { resources: res }, &[])? {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => Err(Fail("container not running".into(), 1)),
    }
}

/// The process spec of `exec`: `--process`, or the container's own process
/// with the given command, terminal, env, cwd and user.
fn exec_process(rec: &Record, a: &ExecArgs) -> Res<serde_json::Value> {
    if let Some(p) = &a.process {
        let s = std::fs::read(p).map_err(|e| format!("process {}: {e}", p.display()))?;
        return Ok(serde_json::from_slice(&s).map_err(|e| format!("process {}: {e}", p.display()))?);
    }
    if a.command.is_empty() {
        return Err(Fail("exec: no command given (and no --process)".into(), 1));
    }
    let cfg = Path::new(&rec.bundle).join("config.json");
    let config: serde_json::Value = std::fs::read(&cfg)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    let mut p = config
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}));
    let o = p
        .as_object_mut()
        .ok_or_else(|| "config.json: process is not an object".to_string())?;
    o.insert("args".into(), a.command.clone().into());
    o.insert("terminal".into(), a.tty.into());
    o.remove("consoleSize");
    if !a.env.is_empty() {
        let mut env: Vec<serde_json::Value> = o
            .get("env")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        env.extend(a.env.iter().map(|e| serde_json::Value::from(e.clone())));
        o.insert("env".into(), env.into());
    }
    if let Some(c) = &a.cwd {
        o.insert("cwd".into(), c.clone().into());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let uid: u32 = uid
            .parse()
            .map_err(|_| format!("--user {u}: expected uid[:gid] numbers"))?;
        let gid: u32 = match gid {
            Some(g) => g
                .parse()
                .map_err(|_| format!("--user {u}: expected uid[:gid] numbers"))?,
            None => 0,
        };
        let mut user = serde_json::json!({"uid": uid, "gid": gid});
        if !a.additional_gids.is_empty() {
            user["additionalGids"] = a.additional_gids.clone().into();
        }
        o.insert("user".into(), user);
    }
    if a.no_new_privs {
        o.insert("noNewPrivileges".into(), true.into());
    }
    Ok(p)
}

fn exec(g: &GlobalFlags, a: &ExecArgs) -> Res<ExitCode> {
    check_preserved(a.preserve_fds)?;
    let rec = state::load(&g.root, &a.id)?;
    if rec.live_status() == "stopped" {
        return Err(Fail("cannot exec in a stopped state".into(), 1));
    }
    let process = exec_process(&rec, a)?;
    let tty = process
        .get("terminal")
        .and_then(|t| t.as_bool())
        .unwrap_or(false);
    let slave = if tty {
        let Some(sock) = &a.console_socket else {
            return Err(Fail(
                "exec with a terminal needs --console-socket (relaying a terminal through exec itself is not supported yet)".into(),
                1,
            ));
        };
        let (master, slave, name) =
            wire::open_pty().map_err(|e| format!("creating a terminal: {e}"))?;
        wire::send_console(sock, &master, &name)?;
        Some(slave)
    } else {
        if a.console_socket.is_some() {
            return Err(Fail(
                "cannot use console socket if runc will not detach or allocate tty".into(),
                1,
            ));
        }
        None
    };
    let mut fds = match &slave {
        Some(s) => vec![s.as_raw_fd(); 3],
        None => vec![0, 1, 2],
    };
    fds.extend(3..3 + a.preserve_fds as i32);
    // Signals are caught from now on (the waiter inherits the handlers,
    // so none is lost between its birth and its forwarding thread).
    let sigpipe = keeper::install_signals().ok();
    let Some((_, conn)) = call_live(g, &a.id, &Request::Exec { process }, &fds)? else {
        return Err(Fail("cannot exec in a stopped state".into(), 1));
    };
    if a.detach {
        // SAFETY: single-threaded here; the child only waits and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Fail(
                format!(
                    "forking the exec waiter: {}",
                    std::io::Error::last_os_error()
                ),
                1,
            ));
        }
        if pid == 0 {
            // The waiter: holds the connection, exits with the process.
            let mut keep = vec![conn.as_raw_fd()];
            keep.extend(slave.as_ref().map(|s| s.as_raw_fd()));
            keep.extend(sigpipe.as_ref().map(|p| p.as_raw_fd()));
            keep.extend(keeper::signal_pipe_writer());
            keeper::close_other_fds(&keep);
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                for t in 0..3 {
                    // SAFETY: dup2 of /dev/null onto the standard descriptors.
                    unsafe { libc::dup2(null.as_raw_fd(), t) };
                }
            }
            forward_signals(&conn, sigpipe);
            if let Some(t) = slave {
                follow_winsize(t, &conn);
            }
            let status = wait_exit(&conn);
            exit_like(status);
        }
        drop(slave);
        if let Some(p) = &a.pid_file {
            write_pid_file(p, pid)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(slave);
    if let Some(p) = &a.pid_file {
        write_pid_file(p, std::process::id() as i32)?;
    }
    forward_signals(&conn, sigpipe);
    let status = wait_exit(&conn);
    Ok(ExitCode::from((status & 0xff) as u8))
}

/// Sends the signals this exec process (or waiter) gets to the exec'd
/// process (the ones the keeper forwards to an init).
fn forward_signals(conn: &OwnedFd, pipe: Option<OwnedFd>) {
    let Some(pipe) = pipe else {
        return;
    };
    let Ok(conn2) = conn.try_clone() else { return };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Some(sig) = keeper::next_signal(&pipe) {
                let _ = wire::send(&conn2, &Request::Signal { signal: sig as u32 }, &[]);
            }
        });
}

static WINCH_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; one byte from a constant.
        unsafe { libc::write(fd, b"w".as_ptr().cast(), 1) };
    }
}

/// The exec waiter with a terminal: a session of its own with the
/// terminal's slave as controlling tty, so size changes made on the master
/// (by conmon, the docker shim) arrive as SIGWINCH; each (and the size
/// now) goes to the keeper as a Resize on the exec's connection.
fn follow_winsize(slave: OwnedFd, conn: &OwnedFd) {
    // SAFETY: setsid and TIOCSCTTY in the (single-threaded) waiter on its
    // own terminal descriptor; failures leave the size unfollowed.
    unsafe {
        libc::setsid();
        libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0);
    }
    let send_size = move |conn: &OwnedFd| {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a local winsize.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0
            && ws.ws_col > 0
        {
            let _ = wire::send(
                conn,
                &Request::Resize {
                    cols: u32::from(ws.ws_col),
                    rows: u32::from(ws.ws_row),
                },
                &[],
            );
        }
    };
    send_size(conn);
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array; checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    // SAFETY: the read end is fresh and owned here; the write end lives as
    // long as the process (the handler uses it).
    let r = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    WINCH_PIPE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
    // SAFETY: a zeroed sigaction with an async-signal-safe handler.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_winch as extern "C" fn(libc::c_int) as usize;
        act.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(libc::SIGWINCH, &act, std::ptr::null_mut());
    }
    let Ok(conn2) = conn.try_clone() else { return };
    let _ = std::thread::Builder::new()
        .name("winch".into())
        .spawn(move || {
            let mut b = [0u8; 16];
            loop {
                // SAFETY: read into a local buffer from our pipe.
                let n = unsafe { libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
                if n <= 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return;
                }
                send_size(&conn2);
            }
        });
}

/// The exec's exit status from its connection (137 if the keeper vanished).
fn wait_exit(conn: &OwnedFd) -> u32 {
    loop {
        match wire::recv::<Reply>(conn) {
            Ok(Some((r, _))) => {
                if let Some(s) = r.exit {
                    return s;
                }
            }
            _ => return 128 + libc::SIGKILL as u32,
        }
    }
}

/// Exits with `status` (code, or 128 + signal: then killed by that signal).
fn exit_like(status: u32) -> ! {
    let sig = status as i32 - 128;
    if status > 128 && (1..=31).contains(&sig) && ![17, 18, 19, 20, 21, 22, 23, 28].contains(&sig) {
        // SAFETY: default action, no core file, then the signal to ourselves.
        unsafe {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // SAFETY: _exit ends the process.
    unsafe { libc::_exit((status & 0xff) as i32) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), 10);
        assert_eq!(parse_signal("2").unwrap(), 2);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("x").is_err());
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1.2_3").is_ok());
        assert!(check_id("..").is_err());
        assert!(check_id("a/b").is_err());
    }
}
