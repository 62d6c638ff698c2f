//! The shim's children: reaping them (the shim is a subreaper), killing
//! one, telling whether one is gone.

use std::time::Duration;

pub(super) fn kill_and_forget(pid: i32) {
    if pid > 0 {
        // SAFETY: signals our own child; it is reaped by the reaper thread.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Reaps every child of the shim (it is a subreaper: orphans come here too).
pub fn start_reaper() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| loop {
            let mut st = 0;
            // SAFETY: waitpid with a valid out-pointer.
            let r = unsafe { libc::waitpid(-1, &mut st, 0) };
            if r > 0 {
                tracing::debug!(pid = r, status = st, "reaped");
            } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .map(|_| ())
}

pub(super) fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
