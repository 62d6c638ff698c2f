//! Starting the sandbox's processes: the spawner thread (their parent for
//! PR_SET_PDEATHSIG), a container's gofer and the pod's sentry with its
//! control client.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{anyhow, Context as _, Result};

use super::Pod;
use crate::confine;
use crate::containerd::backend::ExitSink;
use crate::containerd::options::RuntimeOptions;
use crate::control::{self, Client};

/// Runs closures on one long-lived thread: processes started there get
/// PR_SET_PDEATHSIG tied to that thread, which must outlive them.
pub(super) struct Spawner(Mutex<mpsc::Sender<Box<dyn FnOnce() + Send>>>);

impl Spawner {
    pub(super) fn new() -> std::io::Result<Spawner> {
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

fn cstrings(items: &[OsString]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| anyhow!("{s:?} contains a NUL byte")))
        .collect()
}

impl Pod {
    fn spawn(
        &self,
        argv: Vec<OsString>,
        env: Vec<OsString>,
        fds: Vec<OwnedFd>,
        first: RawFd,
        ns: libc::c_int,
        netns: Option<OwnedFd>,
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
            let r = confine::spawn_in(
                &exe,
                &argv,
                &env,
                &pairs,
                ns,
                netns.as_ref().map(|n| n.as_raw_fd()),
            );
            drop(netns);
            drop(fds);
            drop(log);
            r
        })?
    }

    /// Starts a gofer for `bundle`; returns its pid and the sentry's ends
    /// of its channels (root first, then the binds).
    pub(super) fn start_gofer(
        &self,
        b: &crate::oci::Bundle,
        env: &[OsString],
    ) -> Result<(i32, Vec<OwnedFd>)> {
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
            .spawn(
                argv,
                env.to_vec(),
                servers,
                3,
                confine::GOFER_NAMESPACES,
                None,
            )
            .context("starting the gofer")?;
        Ok((pid, clients))
    }

    /// Starts the sentry with `options` and the pod's network `net`;
    /// returns its pid and control client.
    pub(super) fn start_sentry(
        &self,
        id: &str,
        options: &RuntimeOptions,
        env: &[OsString],
        net: &crate::netns::Prepared,
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
        if options.profile {
            argv.push("--profile".into());
        }
        // The packet sockets follow the control socket (descriptor 3).
        let mut fds = vec![theirs];
        let mut net_fds = Vec::new();
        for f in net.fds() {
            net_fds.push(3 + fds.len() as RawFd);
            fds.push(f.try_clone().context("duplicating a packet socket")?);
        }
        argv.extend(crate::netns::args::encode(&net.config, &net_fds));
        let netns = net
            .join
            .as_ref()
            .map(|n| n.fd().try_clone())
            .transpose()
            .context("duplicating the network namespace's descriptor")?;
        let pid = self
            .spawn(argv, env.to_vec(), fds, 3, net.sentry_namespaces(), netns)
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
}
