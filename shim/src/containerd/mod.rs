//! `containerd-shim-gvisor-v1`: the entry points containerd calls.
//!
//! - `start` (in the bundle directory): picks the shim of the container's
//!   pod (grouped by the CRI sandbox-id annotation, else by container id),
//!   starts it if it is not running, and prints only its socket address
//!   (containerd 1.6 takes the whole output as the address).
//! - `delete` (in the bundle directory, after a shim died): cleans up and
//!   prints only a `DeleteResponse`.
//! - no action, `-socket ADDR`: serves the Task API (registered as both
//!   `containerd.task.v2.Task` and `containerd.task.v3.Task`) until
//!   Shutdown with no container left.
//!
//! This is built on the containerd-shim crate (flags, `spawn`, socket
//! addresses, the event publisher, rootfs mounts) with our own `start`
//! and serve loop: the crate's stock entry point does not work with
//! containerd 1.6 (see ../shared/CONTAINERD-SHIM-NOTES.md).

pub mod backend;
pub mod options;
pub mod pod;
pub mod task;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Flags, StartOpts};
use containerd_shim_protos::api::DeleteResponse;
use containerd_shim_protos::protobuf::{Message as _, MessageDyn};
use containerd_shim_protos::ttrpc::r#async::transport::Listener;
use containerd_shim_protos::ttrpc::r#async::Server;
use tokio::sync::mpsc;

use backend::Events;
use pod::{Pod, SANDBOX_ID};
use task::TaskService;

/// Runtime name containerd knows this shim by.
pub const RUNTIME: &str = "io.containerd.gvisor.v1";

/// Events go through one queue so they reach containerd in order.
struct Publisher {
    tx: mpsc::UnboundedSender<(&'static str, Box<dyn MessageDyn>)>,
    /// Events queued and not yet handed to containerd's publisher.
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl Events for Publisher {
    fn publish(&self, topic: &'static str, event: Box<dyn MessageDyn>) {
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.tx.send((topic, event)).is_err() {
            self.pending
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            tracing::warn!(topic, "event dropped: the publisher has stopped");
        }
    }
}

fn socket_path(address: &str) -> &str {
    address.strip_prefix("unix://").unwrap_or(address)
}

/// The pod grouping of the container in bundle `dir`.
fn grouping(dir: &Path, id: &str) -> String {
    crate::oci::load_spec(&dir.join("config.json"))
        .ok()
        .and_then(|s| s.annotations().clone())
        .and_then(|a| a.get(SANDBOX_ID).cloned())
        .unwrap_or_else(|| id.to_string())
}

fn start_opts(flags: &Flags) -> StartOpts {
    StartOpts {
        id: flags.id.clone(),
        publish_binary: flags.publish_binary.clone(),
        address: flags.address.clone(),
        ttrpc_address: std::env::var("TTRPC_ADDRESS").unwrap_or_default(),
        namespace: flags.namespace.clone(),
        debug: flags.debug,
        ..Default::default()
    }
}

async fn start(flags: &Flags) -> Result<String> {
    let cwd = std::env::current_dir().context("the bundle directory")?;
    let group = grouping(&cwd, &flags.id);
    let opts = start_opts(flags);
    let address = opts.socket_address(&group);
    let path = socket_path(&address);
    // A shim already serves this pod: reuse it; a dead one's socket goes.
    if Path::new(path).exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            std::fs::write("address", &address).context("writing the address file")?;
            return Ok(address);
        }
        let _ = std::fs::remove_file(path);
    }
    let address = containerd_shim::spawn(opts, &group, Vec::new())
        .await
        .map_err(|e| anyhow!("starting the shim server: {e}"))?;
    std::fs::write("address", &address).context("writing the address file")?;
    Ok(address)
}

/// Cleans up after a dead shim: processes were its children and died with
/// it (PR_SET_PDEATHSIG); the rootfs mount goes.
fn delete() -> Result<DeleteResponse> {
    let rootfs = std::env::current_dir()?.join("rootfs");
    if let Ok(c) = std::ffi::CString::new(rootfs.as_os_str().as_encoded_bytes()) {
        // SAFETY: umount2 of the bundle's rootfs; failing (not mounted) is fine.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut ts = containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp::new();
    ts.seconds = now.as_secs() as i64;
    ts.nanos = now.subsec_nanos() as i32;
    Ok(DeleteResponse {
        exit_status: 128 + libc::SIGKILL as u32,
        exited_at: containerd_shim_protos::protobuf::MessageField::some(ts),
        ..Default::default()
    })
}

fn init_log(debug: bool) {
    let level = if debug { "debug" } else { "info" };
    // containerd copies the bundle's `log` FIFO into its own log.
    // Non-blocking: no reader (or a full pipe) must not stall the shim.
    // The sandbox's `debug-log` file is added when the sandbox is created
    // (its options arrive with it), see pod::spawn.
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("log");
    let base: Box<dyn std::io::Write + Send> = match file {
        Ok(f) => Box::new(f),
        Err(_) => Box::new(std::io::stderr()),
    };
    crate::logging::init_shim(base, level);
}

/// The `gvisor` binary: next to this one, else on PATH.
fn gvisor_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("gvisor")));
    match beside {
        Some(p) if p.exists() => p,
        _ => std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("gvisor"))
                    .find(|c| c.exists())
            })
            .unwrap_or_else(|| PathBuf::from("/usr/local/bin/gvisor")),
    }
}

async fn serve(flags: &Flags) -> Result<()> {
    init_log(flags.debug);
    // SAFETY: prctl with constant arguments; the shim reaps its sandboxes
    // and anything they leave behind.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(anyhow!(
            "becoming a subreaper: {}",
            std::io::Error::last_os_error()
        ));
    }
    pod::start_reaper().context("starting the reaper")?;
    let ttrpc_address = std::env::var("TTRPC_ADDRESS").context("TTRPC_ADDRESS is not set")?;
    let publisher = RemotePublisher::new(&ttrpc_address)
        .await
        .map_err(|e| anyhow!("connecting the event publisher to {ttrpc_address}: {e}"))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, Box<dyn MessageDyn>)>();
    let namespace = flags.namespace.clone();
    let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = pending.clone();
    tokio::spawn(async move {
        while let Some((topic, ev)) = rx.recv().await {
            let ctx = containerd_shim_protos::ttrpc::context::Context::default();
            if let Err(e) = publisher.publish(ctx, topic, &namespace, ev).await {
                tracing::warn!(topic, error = %e, "publishing an event");
            }
            done.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let events = |tx| {
        Arc::new(Publisher {
            tx,
            pending: pending.clone(),
        })
    };
    let pod = Pod::new(&gvisor_binary(), events(tx.clone()))?;
    let svc = Arc::new(TaskService::new(Arc::new(pod), events(tx)));
    let mut services = containerd_shim_protos::shim_async::create_task(svc.clone());
    for (name, s) in containerd_shim_protos::shim_async::create_task(svc.clone()) {
        services.insert(name.replace(".v3.", ".v2."), s);
    }
    let path = socket_path(&flags.socket).to_string();
    if let Some(d) = Path::new(&path).parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let listener = match std::os::unix::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                // Another shim serves this pod already.
                redirect_stdout();
                return Ok(());
            }
            std::fs::remove_file(&path).with_context(|| format!("removing stale {path}"))?;
            std::os::unix::net::UnixListener::bind(&path)
                .with_context(|| format!("listening on {path}"))?
        }
        Err(e) => return Err(anyhow!("listening on {path}: {e}")),
    };
    let listener = Listener::try_from(listener).context("ttrpc listener")?;
    let mut server = Server::new()
        .add_listener(listener)
        .register_service(services);
    server
        .start()
        .await
        .map_err(|e| anyhow!("starting the ttrpc server: {e}"))?;
    redirect_stdout();
    tracing::info!(socket = %path, "gvisor-rs shim serving");
    let mut exit = svc.exit_requested.subscribe();
    let bundle = std::env::current_dir().unwrap_or_default();
    loop {
        tokio::select! {
            r = exit.changed() => {
                if r.is_err() || *exit.borrow() {
                    break;
                }
            }
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                // A shim whose start failed is never told to go: leave when
                // nothing runs and the bundle is gone.
                if svc.is_empty() && !bundle.join("config.json").exists() {
                    tracing::info!("no container and no bundle: exiting");
                    break;
                }
            }
        }
    }
    // The last events (TaskDelete, TaskOOM) reach containerd's publisher
    // queue, and the last replies (Shutdown's) go out, before the exit.
    // (containerd waits for the shim's exit in Delete: keep this short.)
    for _ in 0..200 {
        if pending.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = server.shutdown().await;
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// containerd (via `spawn`) waits for the server's stdout to close.
fn redirect_stdout() {
    // SAFETY: dup2 on the standard descriptors.
    unsafe { libc::dup2(2, 1) };
}

/// The shim's main: `start`, `delete`, or serve.
pub fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match containerd_shim::parse(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{RUNTIME}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if flags.version {
        println!("{RUNTIME} (gvisor-rs) {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{RUNTIME}: starting the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let r = match flags.action.as_str() {
        "start" => rt.block_on(start(&flags)).map(|address| {
            // Only the address: containerd 1.6 reads all of stdout (and
            // stderr) as the address.
            let mut out = std::io::stdout();
            let _ = out.write_all(address.as_bytes());
            let _ = out.flush();
        }),
        "delete" => delete().and_then(|resp| {
            let bytes = resp
                .write_to_bytes()
                .map_err(|e| anyhow!("encoding the delete response: {e}"))?;
            std::io::stdout()
                .write_all(&bytes)
                .context("writing the delete response")
        }),
        "" if !flags.socket.is_empty() => rt.block_on(serve(&flags)),
        other => Err(anyhow!(
            "unknown action {other:?} (start, delete, or -socket to serve)"
        )),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `start` must print nothing but the address: its failure goes
            // to containerd as the exit status and this one line.
            if flags.action != "start" {
                tracing::error!("{e:#}");
            }
            eprintln!("{RUNTIME}: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
