//! `profile = true` in a pod (containerd): per container, host calls are
//! counted from its init's start to its exit (the sentry is the pod's: its
//! count covers everything it did in that window), the app section comes
//! from the sentry over the control channel (`Op::Profile`), and both files
//! go into the container's debug-log directory.

use std::path::PathBuf;
use std::time::Instant;

use super::{host, App, Host, Profile};

/// A container being profiled.
pub struct PodProfile {
    id: String,
    command: Vec<String>,
    dir: PathBuf,
    tracer: Result<host::Tracer, String>,
    started: Instant,
}

impl PodProfile {
    /// Starts counting the host calls of the pod's sentry and of the
    /// container's gofer (host pids) for container `id`.
    pub fn start(id: &str, command: Vec<String>, dir: PathBuf, sentry: i32, gofer: i32) -> Self {
        let (s, g) = (format!("{id}-sentry"), format!("{id}-gofer"));
        PodProfile {
            id: id.to_string(),
            command,
            dir,
            tracer: host::Tracer::start(&[(s.as_str(), sentry), (g.as_str(), gofer)]),
            started: Instant::now(),
        }
    }

    /// At the init's exit: stops counting and writes
    /// `profile.<id>.txt` and `profile.<id>.json`; `app` is the sentry's
    /// answer to `Op::Profile` (its JSON) or why there is none.
    pub fn finish(self, app: Result<Vec<u8>, String>) {
        let wall_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let (sentry_host, gofer_host) = match self.tracer {
            Ok(t) => t.stop(),
            Err(why) => (Host::unavailable(why.clone()), Host::unavailable(why)),
        };
        let app =
            match app.and_then(|j| serde_json::from_slice::<App>(&j).map_err(|e| e.to_string())) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(container = %self.id, "the app profile: {e}");
                    App {
                        unavailable: Some(format!("the sentry's app profile: {e}")),
                        ..App::default()
                    }
                }
            };
        let p = Profile {
            sandbox: self.id.clone(),
            command: self.command,
            wall_ns,
            app,
            sentry_host,
            gofer_host,
        };
        for ext in ["txt", "json"] {
            let path = self.dir.join(format!("profile.{}.{ext}", self.id));
            if let Err(e) = p.write(Some(&path)) {
                tracing::warn!(container = %self.id, "{e:#}");
            }
        }
    }
}
