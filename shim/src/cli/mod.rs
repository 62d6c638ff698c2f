//! The `gvisor` command line: its arguments (clap) and what each command
//! runs. `do` and `run` launch a sandbox from this process (`launch`);
//! `boot` becomes the sentry (`crate::sentry`) and `gofer` a gofer
//! (`crate::gofer`).

pub mod debug_flags;
pub mod launch;
pub mod profile_flags;
pub mod runc;
pub mod strace_flags;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sentry_core::kernel::ExitStatus;

use crate::sentry::boot::{self, DoOptions};
use debug_flags::DebugFlags;
use profile_flags::ProfileFlags;
use strace_flags::StraceFlags;

#[derive(Parser)]
#[command(
    name = "gvisor",
    version,
    about = "gvisor-rs: run programs in a KVM-hosted sandbox kernel"
)]
struct Cli {
    /// runc's global flags and the runtime flags (before the subcommand).
    #[command(flatten)]
    global: runc::GlobalFlags,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run PROGRAM from the host file system in a new sandbox.
    Do {
        #[command(flatten)]
        strace: StraceFlags,
        #[command(flatten)]
        debug: DebugFlags,
        #[command(flatten)]
        profile: ProfileFlags,
        /// Pages mapped per page fault (1 disables fault-around).
        #[arg(long, default_value_t = sentry_core::mm::DEFAULT_FAULT_AROUND, hide = true)]
        fault_around: u64,
        /// The sandbox's network: "none" (loopback only), "sandbox" (the
        /// sentry's stack on a network namespace's interfaces) or "host"
        /// (host sockets in the network namespace: weaker isolation).
        #[arg(long, value_name = "MODE", default_value = "none", value_parser = parse_network)]
        network: sentry_core::net::NetMode,
        #[command(flatten)]
        limits: LimitFlags,
        /// Use the host directory DIR as the root file system (default: the host's /).
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        /// Print exits, faults and syscalls taken to stderr at the end (for benchmarks).
        #[arg(long, hide = true)]
        stats: bool,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// The sentry process (started by `gvisor do`; not for direct use).
    #[command(hide = true)]
    Boot {
        /// The gofer channel's descriptor.
        #[arg(long, default_value_t = -1)]
        gofer_fd: i32,
        /// Serve a pod over this control socket (from the shim) instead of
        /// running one program.
        #[arg(long)]
        control_fd: Option<i32>,
        /// The program's working directory in the sandbox.
        #[arg(long, default_value = "/")]
        cwd: String,
        #[command(flatten)]
        strace: StraceFlags,
        #[command(flatten)]
        debug: DebugFlags,
        #[command(flatten)]
        profile: ProfileFlags,
        #[arg(long, default_value_t = sentry_core::mm::DEFAULT_FAULT_AROUND)]
        fault_around: u64,
        #[arg(long)]
        stats: bool,
        /// The sandbox's memory, bytes (its memory file's size).
        #[arg(long)]
        memory_limit: Option<u64>,
        /// Most tasks in the sandbox.
        #[arg(long)]
        pids_limit: Option<u64>,
        /// Run the OCI bundle in DIR (its config.json) instead of COMMAND.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// The sandbox's network: "none" (loopback only), "sandbox" (the
        /// sentry's stack on a network namespace's interfaces) or "host"
        /// (host sockets in the network namespace: weaker isolation).
        #[arg(long, value_name = "MODE", default_value = "none", value_parser = parse_network)]
        network: sentry_core::net::NetMode,
        /// An interface of the sandbox: NAME,MAC,MTU,FD[,ADDR/PREFIX]...
        /// (FD: its packet socket, or "-"; see `crate::netns::args`).
        #[arg(long, value_name = "LINK")]
        net_link: Vec<String>,
        /// A route of the sandbox: DST/PREFIX,GATEWAY|-,NAME,METRIC.
        #[arg(long, value_name = "ROUTE")]
        net_route: Vec<String>,

        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Run the container of the OCI bundle in DIR (its config.json) in a new
    /// sandbox, as `runsc run`; exits with the container's status. With
    /// -d, create and start it as `create` + `start` do.
    Run {
        /// The bundle directory.
        #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
        /// Create and start the container, and return (see `create`).
        #[arg(long, short = 'd')]
        detach: bool,
        /// With -d: write the container's pid here.
        #[arg(long, value_name = "PATH")]
        pid_file: Option<PathBuf>,
        /// With -d: send the terminal's master to this unix socket.
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// Accepted (no pivot_root of the container's own).
        #[arg(long)]
        no_pivot: bool,
        /// Accepted (no host keyring).
        #[arg(long)]
        no_new_keyring: bool,
        /// Extra descriptors (only 0 is supported).
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
        #[command(flatten)]
        strace: StraceFlags,
        #[command(flatten)]
        debug: DebugFlags,
        #[command(flatten)]
        profile: ProfileFlags,
        /// Print exits, faults and pages to stderr at the end (benchmarks).
        #[arg(long, hide = true)]
        stats: bool,
        /// Limits (they override the bundle's linux.resources).
        #[command(flatten)]
        limits: LimitFlags,
        /// The sandbox's network: "none" (loopback only), "sandbox" (the
        /// sentry's stack on a network namespace's interfaces) or "host"
        /// (host sockets in the network namespace: weaker isolation).
        #[arg(long, value_name = "MODE", value_parser = parse_network)]
        network: Option<sentry_core::net::NetMode>,
        /// The container id.
        id: String,
    },
    /// A gofer process (started by `gvisor do`; not for direct use).
    #[command(hide = true)]
    Gofer {
        /// The root it serves.
        #[arg(long)]
        root: PathBuf,
        /// The channel's descriptor.
        #[arg(long)]
        fd: i32,
        /// A host directory to serve read-only on the next descriptor.
        #[arg(long)]
        bind: Vec<PathBuf>,
        /// The debug log, already open (given by the launcher).
        #[arg(long, value_name = "FD")]
        debug_log_fd: Option<i32>,
        /// The debug log's format.
        #[arg(long, value_name = "FORMAT", value_enum, default_value_t = crate::logging::Format::Text)]
        debug_log_format: crate::logging::Format,
    },
    /// Inspect a running sandbox (as `runsc debug`).
    Debug {
        /// Print every task of the sandbox: pid, tid, command, state, the
        /// system call it is in, and its user rip/rsp.
        #[arg(long)]
        stacks: bool,
        /// The sandbox: a `gvisor run` container id, a `gvisor do`
        /// launcher's pid, a pod sandbox id, or the sentry's host pid.
        sandbox: String,
    },
    /// Print the system call table.
    Syscalls {
        /// As the Markdown of docs/SYSCALLS.md.
        #[arg(long)]
        markdown: bool,
        /// Print the host system calls the sentry and the gofer may make
        /// (their seccomp allowlists) instead.
        #[arg(long)]
        host: bool,
    },
    #[command(flatten)]
    Runc(runc::RuncCmd),
}

/// Where strace lines go.
type StraceOut = Box<dyn Write + Send>;

/// Sets up the sentry's logging: into the file the launcher opened
/// (`--debug-log-fd`) or, run by hand with `--debug-log`, one it opens
/// itself; else warnings to stderr. Returns the strace output and the log's
/// descriptors (kept through confinement).
fn init_boot_logging(debug: &DebugFlags) -> anyhow::Result<(Option<StraceOut>, Vec<i32>)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let file = match (debug.debug_log_fd, &debug.debug_log) {
        (Some(fd), _) => {
            if fd < 3 {
                anyhow::bail!("--debug-log-fd {fd}: not a log descriptor");
            }
            // SAFETY: the launcher handed this descriptor over for the log;
            // nothing else owns it.
            Some(unsafe { std::fs::File::from_raw_fd(fd) })
        }
        (None, Some(arg)) => {
            let pattern = crate::logging::pattern(arg)?;
            let names = crate::logging::Names {
                id: std::process::id().to_string(),
                timestamp: crate::logging::timestamp_now(),
            };
            let name = crate::logging::expand(&pattern, &names, "boot", Some(std::process::id()));
            Some(crate::logging::create_exclusive(std::path::Path::new(&name))?.0)
        }
        (None, None) => None,
    };
    let Some(file) = file else {
        crate::logging::init(None, debug.debug_log_format);
        return Ok((None, Vec::new()));
    };
    let strace = file.try_clone().context("duplicating the debug log")?;
    let fds = vec![file.as_raw_fd(), strace.as_raw_fd()];
    crate::logging::init(Some(file), debug.debug_log_format);
    let out: Box<dyn Write + Send> = match debug.debug_log_format {
        crate::logging::Format::Text => Box::new(strace),
        crate::logging::Format::Json => Box::new(crate::logging::JsonLines::new(strace, "strace")),
    };
    Ok((Some(out), fds))
}

/// A `--network` value.
fn parse_network(s: &str) -> Result<sentry_core::net::NetMode, String> {
    sentry_core::net::NetMode::parse(s)
        .ok_or_else(|| format!("unknown network mode {s:?} (expected none, sandbox or host)"))
}

/// The sandbox's limits, shared by `gvisor do` and `gvisor run` (for `run`
/// they override the bundle's linux.resources).
#[derive(clap::Args)]
struct LimitFlags {
    /// Memory limit of the sandbox (512M, 1G): past it the program gets
    /// ENOMEM, or SIGKILL for a page it cannot have.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Most tasks (threads) in the sandbox: past it fork and clone give EAGAIN.
    #[arg(long, value_name = "N")]
    pids: Option<u64>,
    /// CPU time of the sandbox, in CPUs (0.5, 2).
    #[arg(long, value_name = "F")]
    cpus: Option<f64>,
}

/// The limits of `--memory`, `--pids` and `--cpus` over `base` (a bundle's).
fn limits_from_flags(
    base: crate::limits::SandboxLimits,
    flags: &LimitFlags,
) -> anyhow::Result<crate::limits::SandboxLimits> {
    let mut l = base;
    if let Some(m) = &flags.memory {
        l.memory = Some(crate::limits::parse_size(m).context("--memory")?);
    }
    if let Some(p) = flags.pids {
        l.pids = Some(p);
    }
    if let Some(c) = flags.cpus {
        if !(c.is_finite() && c > 0.0 && c <= 1024.0) {
            anyhow::bail!("--cpus {c}: expected a number of CPUs above 0");
        }
        let period = 100_000u64;
        l.cpu_quota = Some(((c * period as f64).max(1000.0) as i64, period));
    }
    crate::limits::check_limits(&l)?;
    Ok(l)
}

/// Starts a sandbox and turns how it ended into the exit code.
fn launch_and_report(opts: &launch::LaunchOptions, net: &crate::netns::Prepared) -> ExitCode {
    match launch::launch(opts, net) {
        Ok(launch::Outcome::Exited(code)) => ExitCode::from(code as u8),
        Ok(launch::Outcome::SentryOutOfMemory) => {
            eprintln!(
                "gvisor: the sentry was killed by the host's OOM killer: the sandbox's cgroup reached its memory limit (the sentry's own memory went past the {} MiB of headroom)",
                crate::limits::MEMORY_HEADROOM >> 20
            );
            ExitCode::from(125)
        }
        Ok(launch::Outcome::SentryKilled(sig)) => {
            eprintln!("gvisor: {}", launch::describe_sentry_death(sig));
            ExitCode::from(125)
        }
        Err(e) => {
            eprintln!("gvisor: {e:#}");
            ExitCode::from(125)
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly, not in a panic.
fn print_out(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gvisor: writing to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

/// A command-line error as runc reports it (exit 1; 3 for an unknown
/// command, as runc's "No help topic").
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(c) => Ok(c),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                Err(ExitCode::SUCCESS)
            }
            ErrorKind::InvalidSubcommand => {
                let name = e
                    .get(clap::error::ContextKind::InvalidSubcommand)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                runc::report::error(&format!("No help topic for '{name}'\n"));
                Err(ExitCode::from(3))
            }
            _ => {
                let text = e.render().to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ")
                    .to_string();
                runc::report::error(&format!("Incorrect Usage: {first}"));
                Err(ExitCode::from(1))
            }
        },
    }
}

/// The `gvisor` binary.
pub fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let global = cli.global;
    match cli.cmd {
        Cmd::Boot { .. } => crate::panic::install("sentry"),
        Cmd::Gofer { .. } => crate::panic::install("gofer"),
        _ => {}
    }
    if matches!(cli.cmd, Cmd::Boot { .. } | Cmd::Gofer { .. }) {
        crate::confine::settle_libc();
    }
    match cli.cmd {
        Cmd::Syscalls {
            markdown: _,
            host: true,
        } => {
            let s = crate::confine::sentry_allowlist(1);
            let g = crate::confine::gofer_allowlist();
            let p = crate::confine::packet_calls();
            let h = crate::confine::hostinet_calls();
            let text = format!(
                "# sentry (gvisor boot): {} host system calls\n{}# sentry, network mode sandbox: {} more (or more alternatives)\n{}# sentry, network mode host: {} more (or more alternatives)\n{}# gofer (gvisor gofer): {} host system calls\n{}",
                s.len(),
                crate::confine::describe(&s),
                p.len(),
                crate::confine::describe(&p),
                h.len(),
                crate::confine::describe(&h),
                g.len(),
                crate::confine::describe(&g)
            );
            print_out(&text)
        }
        Cmd::Gofer {
            root,
            fd,
            bind,
            debug_log_fd,
            debug_log_format,
        } => {
            let log = debug_log_fd.filter(|&l| l > 2).map(|l| {
                // SAFETY: the launcher handed this descriptor over for the
                // log; nothing else owns it.
                unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(l) }
            });
            crate::logging::init(log, debug_log_format);
            match crate::gofer::gofer_main(&root, &bind, fd, debug_log_fd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gvisor gofer: {e:#}");
                    ExitCode::from(125)
                }
            }
        }
        Cmd::Debug { stacks, sandbox } => {
            crate::logging::init(None, crate::logging::Format::Text);
            if !stacks {
                eprintln!("gvisor debug: nothing asked (use --stacks)");
                return ExitCode::from(2);
            }
            match crate::sentry::stacks::collect(&sandbox, std::time::Duration::from_secs(10)) {
                Ok(text) => print_out(&text),
                Err(e) => {
                    eprintln!("gvisor debug: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::Syscalls {
            markdown,
            host: false,
        } => {
            if markdown {
                print_out(&sentry_core::syscalls::markdown())
            } else {
                let mut text = String::new();
                for s in sentry_core::syscalls::TABLE {
                    text.push_str(&format!("{:>4} {:<20} {:?}\n", s.nr, s.name, s.support));
                }
                print_out(&text)
            }
        }
        Cmd::Do {
            strace,
            debug,
            profile,
            fault_around,
            stats,
            limits,
            rootfs,
            network,
            command,
        } => {
            if let Err(e) = crate::logging::init_launcher(
                debug.debug_log.as_deref(),
                debug.debug_log_format,
                &std::process::id().to_string(),
                "do",
            ) {
                eprintln!("gvisor: {e:#}");
                return ExitCode::from(125);
            }
            let limits = match limits_from_flags(Default::default(), &limits) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            let cwd = match &rootfs {
                Some(_) => "/".to_string(),
                None => std::env::current_dir()
                    .ok()
                    .and_then(|p| p.to_str().map(str::to_string))
                    .unwrap_or_else(|| "/".into()),
            };
            let mut boot_flags: Vec<OsString> = Vec::new();
            boot_flags.extend(strace.boot_args());
            boot_flags.extend(debug.boot_args());
            boot_flags.extend(profile.boot_args());
            if stats {
                boot_flags.push("--stats".into());
            }
            boot_flags.push("--fault-around".into());
            boot_flags.push(fault_around.to_string().into());
            boot_flags.extend(limits.boot_flags());
            let profile_request = profile.request(
                std::process::id().to_string(),
                command
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            );
            let opts = launch::LaunchOptions {
                rootfs: rootfs.unwrap_or_else(|| PathBuf::from("/")),
                binds: Vec::new(),
                files: Vec::new(),
                cwd,
                boot_flags,
                command,
                terminal: false,
                limits,
                cgroup_name: format!("{}{}", launch::STALE_PREFIX, std::process::id()),
                profile: profile_request,
            };
            // Mode sandbox: a namespace of its own with a veth pair to the
            // host and NAT, removed when this ends (the guard).
            let do_net = match network {
                sentry_core::net::NetMode::Sandbox => {
                    match crate::netns::veth::DoNetwork::create(std::process::id()) {
                        Ok(d) => Some(d),
                        Err(e) => {
                            eprintln!("gvisor: the sandbox's network: {e:#}");
                            return ExitCode::from(125);
                        }
                    }
                }
                _ => None,
            };
            let source = match &do_net {
                Some(d) => crate::netns::Source::Path(d.path()),
                None if network == sentry_core::net::NetMode::Host => crate::netns::Source::Own,
                None => crate::netns::Source::Empty,
            };
            let net = match crate::netns::prepare(network, &source) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            let code = launch_and_report(&opts, &net);
            drop(net);
            drop(do_net);
            code
        }
        Cmd::Runc(c) => runc::main(&global, c),
        Cmd::Run {
            bundle,
            detach: true,
            pid_file,
            console_socket,
            no_pivot,
            no_new_keyring,
            preserve_fds,
            id,
            ..
        } => runc::run_detached(
            &global,
            &runc::CreateArgs {
                bundle,
                pid_file,
                console_socket,
                no_pivot,
                no_new_keyring,
                preserve_fds,
                id,
            },
        ),
        Cmd::Run {
            bundle,
            mut strace,
            mut debug,
            profile,
            stats,
            limits,
            network,
            id,
            ..
        } => {
            // The global runtime flags apply too (the subcommand's win).
            strace.strace |= global.strace.strace;
            if strace.strace_syscalls.is_none() {
                strace
                    .strace_syscalls
                    .clone_from(&global.strace.strace_syscalls);
            }
            if strace.strace_log_size.is_none() {
                strace.strace_log_size = global.strace.strace_log_size;
            }
            if debug.debug_log.is_none() {
                debug.debug_log = global.debug_log.as_ref().map(PathBuf::from);
            }
            debug.log_packets |= global.log_packets;
            let network = match (network, global.network.as_deref()) {
                (Some(n), _) => n,
                (None, Some(g)) => match parse_network(g) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("gvisor: --network: {e}");
                        return ExitCode::from(125);
                    }
                },
                (None, None) => sentry_core::net::NetMode::Sandbox,
            };
            if let Err(e) = crate::oci::check_id(&id).and_then(|()| {
                crate::logging::init_launcher(
                    debug.debug_log.as_deref(),
                    debug.debug_log_format,
                    &id,
                    "run",
                )
            }) {
                eprintln!("gvisor: {e:#}");
                return ExitCode::from(125);
            }
            let loaded = crate::oci::check_id(&id).and_then(|()| crate::oci::load(&bundle));
            let b = match loaded {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            let limits = match limits_from_flags(b.limits.clone(), &limits) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            let bundle_abs = bundle.canonicalize().unwrap_or(bundle);
            let mut boot_flags: Vec<OsString> =
                vec!["--bundle".into(), bundle_abs.into_os_string()];
            if stats {
                boot_flags.push("--stats".into());
            }
            boot_flags.extend(strace.boot_args());
            boot_flags.extend(debug.boot_args());
            boot_flags.extend(profile.boot_args());
            boot_flags.extend(limits.boot_flags());
            let opts = launch::LaunchOptions {
                rootfs: b.root.clone(),
                binds: b.binds.clone(),
                files: b.files.clone(),
                cwd: b.process.cwd.clone(),
                boot_flags,
                command: Vec::new(),
                terminal: b.process.terminal,
                limits,
                cgroup_name: format!("gvisor-{id}"),
                profile: profile.request(id.clone(), b.process.args.clone()),
            };
            let source = crate::netns::source_of(network, b.network_ns.as_ref());
            let net = match crate::netns::prepare(network, &source) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            launch_and_report(&opts, &net)
        }
        Cmd::Boot {
            bundle,
            gofer_fd,
            control_fd,
            cwd,
            strace,
            debug,
            profile,
            fault_around,
            stats,
            memory_limit,
            pids_limit,
            network,
            net_link,
            net_route,
            command,
        } => {
            let profile_fd = profile.profile_fd;
            let strace_config = match strace.config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gvisor: {e}");
                    return ExitCode::from(125);
                }
            };
            let strace = strace.strace;
            let (log_file, log_fds) = match init_boot_logging(&debug) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            sentry_core::net::link::log_packets(debug.log_packets);
            let strace_out: Option<Box<dyn Write + Send>> = match (strace, log_file) {
                (false, _) => None,
                (true, Some(f)) => Some(f),
                (true, None) => Some(Box::new(std::io::stderr())),
            };
            let net = match crate::netns::args::parse(network, &net_link, &net_route) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            if let Some(control_fd) = control_fd {
                let opts = crate::sentry::serve::ServeOptions {
                    control_fd,
                    log_fds,
                    fault_around,
                    net,
                    profile: profile.profile.is_some(),
                    strace: strace_config,
                };
                return match crate::sentry::serve::serve(&opts, strace_out) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("gvisor: {e:#}");
                        ExitCode::from(125)
                    }
                };
            }
            let mut it = command.into_iter();
            let program = match (it.next(), &bundle) {
                (Some(p), _) => p,
                (None, Some(_)) => OsString::new(),
                (None, None) => {
                    eprintln!("gvisor: no program given");
                    return ExitCode::from(125);
                }
            };
            let opts = DoOptions {
                bundle,
                program,
                args: it.collect(),
                strace,
                log_fds,
                strace_config,
                fault_around,
                stats,
                cwd,
                gofer_fd,
                memory_limit,
                pids_limit,
                net,
                profile_fd,
            };
            match boot::run(&opts, strace_out) {
                Ok(ExitStatus::Exited(code)) => ExitCode::from(code as u8),
                Ok(st @ ExitStatus::Signaled(sig)) => {
                    eprintln!(
                        "gvisor: program killed by {} (signal {})",
                        sig.name(),
                        sig.0
                    );
                    ExitCode::from(st.code() as u8)
                }
                Err(e) => {
                    eprintln!("gvisor: {:#}", e.error);
                    ExitCode::from(e.code as u8)
                }
            }
        }
    }
}
