//! The OOM watcher: OOM kills in the sandbox's cgroup become TaskOOM events.

use std::sync::mpsc;
use std::time::Duration;

use containerd_shim_protos::events::task::TaskOOM;
use containerd_shim_protos::topics;

use super::Pod;
use crate::cgroup::Cgroup;

/// The OOM watcher thread and what stops it (dropping the sender).
pub(super) type OomWatch = (mpsc::Sender<()>, std::thread::JoinHandle<()>);

impl Pod {
    /// Polls the sandbox cgroup's OOM-kill counter; each new kill publishes
    /// TaskOOM for the sandbox's container.
    pub(super) fn watch_oom(&self, id: &str, cg: Cgroup) -> Option<OomWatch> {
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
}
