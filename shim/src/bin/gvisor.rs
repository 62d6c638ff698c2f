//! The `gvisor` command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sentry_core::kernel::ExitStatus;
use shim::sandbox::{self, DoOptions};

#[derive(Parser)]
#[command(
    name = "gvisor",
    version,
    about = "gvisor-rs: run programs in a KVM-hosted sandbox kernel"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run PROGRAM from the host file system in a new sandbox.
    Do {
        /// Print one line per system call (to stderr, or to the debug log).
        #[arg(long)]
        strace: bool,
        /// Write the sentry's debug log (and strace) into DIR.
        #[arg(long, value_name = "DIR")]
        debug_log: Option<PathBuf>,
        /// Pages mapped per page fault (1 disables fault-around).
        #[arg(long, default_value_t = sentry_core::mm::DEFAULT_FAULT_AROUND, hide = true)]
        fault_around: u64,
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
    /// Print the system call table.
    Syscalls {
        /// As the Markdown of docs/SYSCALLS.md.
        #[arg(long)]
        markdown: bool,
    },
}

fn init_logging(debug_log: Option<&PathBuf>) -> anyhow::Result<Option<std::fs::File>> {
    use tracing_subscriber::EnvFilter;
    match debug_log {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating debug log directory {}", dir.display()))?;
            let path = dir.join(format!("gvisor.{}.boot.log", std::process::id()));
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating debug log {}", path.display()))?;
            let strace = file.try_clone().context("duplicating the debug log")?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_env("GVISOR_LOG").unwrap_or_else(|_| "debug".into()),
                )
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .init();
            Ok(Some(strace))
        }
        None => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_env("GVISOR_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .without_time()
                .with_target(false)
                .init();
            Ok(None)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Syscalls { markdown } => {
            if markdown {
                print!("{}", sentry_core::syscalls::markdown());
            } else {
                for s in sentry_core::syscalls::TABLE {
                    println!("{:>4} {:<20} {:?}", s.nr, s.name, s.support);
                }
            }
            ExitCode::SUCCESS
        }
        Cmd::Do {
            strace,
            debug_log,
            fault_around,
            stats,
            rootfs,
            command,
        } => {
            let log_file = match init_logging(debug_log.as_ref()) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("gvisor: {e:#}");
                    return ExitCode::from(125);
                }
            };
            let strace_out: Option<Box<dyn Write + Send>> = match (strace, log_file) {
                (false, _) => None,
                (true, Some(f)) => Some(Box::new(f)),
                (true, None) => Some(Box::new(std::io::stderr())),
            };
            let mut it = command.into_iter();
            let Some(program) = it.next() else {
                eprintln!("gvisor: no program given");
                return ExitCode::from(125);
            };
            let opts = DoOptions {
                program,
                args: it.collect(),
                strace,
                debug_log,
                fault_around,
                stats,
                rootfs,
            };
            match sandbox::run(&opts, strace_out) {
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
