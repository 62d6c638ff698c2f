//! OCI hooks (config.json `hooks`): each runs with the container's state
//! JSON on its stdin, its `args` (args[0] as argv[0]), only its `env`, and
//! its `timeout` (seconds) if any. prestart, createRuntime and
//! createContainer run in the keeper during `create`; startContainer just
//! before the init starts and poststart after (keeper, `start`); poststop
//! in `delete`.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Pids of running hooks: the keeper's reaper leaves them to their runner.
pub static HOOK_PIDS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

#[derive(Deserialize)]
struct Hook {
    path: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    timeout: Option<i64>,
}

/// Runs the hooks of `kind` (camelCase key of `hooks`) in order; the first
/// failure stops and is returned.
pub fn run(hooks: Option<&serde_json::Value>, kind: &str, state: &str) -> Result<(), String> {
    let Some(list) = hooks.and_then(|h| h.get(kind)) else {
        return Ok(());
    };
    let list: Vec<Hook> =
        serde_json::from_value(list.clone()).map_err(|e| format!("hooks.{kind}: {e}"))?;
    for (i, h) in list.iter().enumerate() {
        run_one(h, state).map_err(|e| format!("error running {kind} hook #{i}: {e}"))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &str) -> Result<(), String> {
    let mut c = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        c.arg0(first).args(rest);
    }
    c.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            c.env(k, v);
        }
    }
    c.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = {
        let mut g = HOOK_PIDS.lock().unwrap_or_else(|p| p.into_inner());
        let child = c.spawn().map_err(|e| format!("{}: {e}", h.path))?;
        g.get_or_insert_with(HashSet::new).insert(child.id() as i32);
        child
    };
    let pid = child.id() as i32;
    let forget = || {
        if let Some(s) = HOOK_PIDS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            s.remove(&pid);
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state.as_bytes());
    }
    // Its stderr (the last line goes into the error), read aside; a
    // descendant keeping it open does not hold us up.
    let (etx, erx) = std::sync::mpsc::channel::<String>();
    if let Some(mut e) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut e).take(64 * 1024).read_to_end(&mut buf);
            let _ = etx.send(String::from_utf8_lossy(&buf).into_owned());
        });
    }
    let said = move || -> String {
        erx.recv_timeout(Duration::from_secs(1))
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| format!(": {}", l.trim()))
            })
            .unwrap_or_default()
    };
    let deadline = h
        .timeout
        .filter(|&t| t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                forget();
                return Err(format!("{}: waiting: {e}", h.path));
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            forget();
            return Err(format!(
                "{}: timeout after {}s",
                h.path,
                h.timeout.unwrap_or(0)
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    forget();
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(format!("{}: killed by signal {sig}{}", h.path, said()))
    } else {
        Err(format!(
            "{}: exit status {}{}",
            h.path,
            status.code().unwrap_or(-1),
            said()
        ))
    }
}
