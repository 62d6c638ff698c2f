//! The keeper's protocol: one JSON request per SOCK_SEQPACKET frame on
//! `<root>/<id>/keeper.sock` (descriptors by SCM_RIGHTS, see
//! `vfs_gofer::wire`), one JSON reply each; an exec's connection gets a
//! second reply when its process exits. Also the console socket (runc's
//! message: the terminal's name with its master by SCM_RIGHTS) and host
//! pseudo-terminals.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What a client asks of the keeper.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Start the created init.
    Start,
    /// Signal the init (or with `all` every process).
    Kill {
        /// Signal number.
        signal: u32,
        /// Every process of the container.
        all: bool,
    },
    /// Stop every task.
    Pause,
    /// Restart them.
    Resume,
    /// The sandbox's pids and the host pids of its processes.
    Ps,
    /// Statistics (containerd's Metrics, as runc's stats JSON).
    Stats,
    /// New resources (LinuxResources JSON).
    Update {
        /// The resources.
        resources: serde_json::Value,
    },
    /// Run an OCI process spec (with three stdio descriptors).
    Exec {
        /// The process.
        process: serde_json::Value,
    },
    /// Resize an exec's terminal (sent on its connection).
    Resize {
        /// Columns.
        cols: u32,
        /// Rows.
        rows: u32,
    },
    /// Signal an exec's process (sent on its connection).
    Signal {
        /// Signal number.
        signal: u32,
    },
    /// End the container (killing it when `force`) and exit.
    Delete {
        /// Kill a running container.
        force: bool,
    },
}

/// The keeper's answer.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Why it failed (None: done).
    #[serde(default)]
    pub error: Option<String>,
    /// Ps: pids in the sandbox.
    #[serde(default)]
    pub pids: Vec<i32>,
    /// Ps: host pids (sentry, gofer).
    #[serde(default)]
    pub host_pids: Vec<i32>,
    /// Stats: runc's stats object.
    #[serde(default)]
    pub stats: Option<serde_json::Value>,
    /// Exec: the process's pid in the sandbox.
    #[serde(default)]
    pub pid: Option<i32>,
    /// Exec: its exit status (second reply).
    #[serde(default)]
    pub exit: Option<u32>,
}

impl Reply {
    /// A failure.
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply {
            error: Some(msg.into()),
            ..Default::default()
        }
    }
}

fn sockaddr(path: &Path) -> std::io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    if b.len() >= a.sun_path.len() {
        return Err(std::io::Error::other(format!(
            "socket path {} is longer than {} bytes",
            path.display(),
            a.sun_path.len() - 1
        )));
    }
    for (d, s) in a.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    Ok((a, len as libc::socklen_t))
}

fn socket(kind: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Longest path a sockaddr_un holds (without its NUL).
const SUN_PATH_MAX: usize = 107;

/// Calls `f` with a name of `path` that fits in a sockaddr_un: the path
/// itself, or, when it is longer (Docker's default --root with a 64-digit
/// id is 110 bytes), its file name under `/proc/self/fd/N` of its directory
/// opened with O_PATH for the call.
fn short_path<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    use std::os::unix::fs::OpenOptionsExt;
    let d = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let short = Path::new("/proc/self/fd")
        .join(d.as_raw_fd().to_string())
        .join(name);
    let r = f(&short);
    drop(d);
    r
}

/// Listens on `path` (SOCK_SEQPACKET, mode 0600).
pub fn listen(path: &Path) -> std::io::Result<OwnedFd> {
    short_path(path, |p| listen_short(p, path))
}

fn listen_short(short: &Path, path: &Path) -> std::io::Result<OwnedFd> {
    let s = socket(libc::SOCK_SEQPACKET)?;
    let (a, len) = sockaddr(short)?;
    // SAFETY: bind with a valid, initialised address of `len` bytes.
    if unsafe { libc::bind(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    // SAFETY: listen on our own socket.
    if unsafe { libc::listen(s.as_raw_fd(), 16) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(s)
}

/// Accepts one connection (retrying on EINTR).
pub fn accept(l: &OwnedFd) -> std::io::Result<OwnedFd> {
    loop {
        // SAFETY: accept4 without an address; the result is checked.
        let fd = unsafe {
            libc::accept4(
                l.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor owned by nothing else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

fn connect_kind(path: &Path, kind: libc::c_int) -> std::io::Result<OwnedFd> {
    short_path(path, |p| connect_short(p, kind))
}

fn connect_short(path: &Path, kind: libc::c_int) -> std::io::Result<OwnedFd> {
    let s = socket(kind)?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: connect with a valid, initialised address of `len` bytes.
    if unsafe { libc::connect(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(s)
}

/// Connects to a keeper's socket.
pub fn connect(path: &Path) -> std::io::Result<OwnedFd> {
    connect_kind(path, libc::SOCK_SEQPACKET)
}

/// Sends one message with descriptors.
pub fn send<T: Serialize>(sock: &OwnedFd, msg: &T, fds: &[RawFd]) -> Result<(), String> {
    let bytes = serde_json::to_vec(msg).map_err(|e| e.to_string())?;
    vfs_gofer::wire::send_fds(sock.as_raw_fd(), 0, &bytes, fds).map_err(|e| e.to_string())
}

/// Receives one message and its descriptors; None at EOF.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: &OwnedFd,
) -> Result<Option<(T, Vec<OwnedFd>)>, String> {
    loop {
        match vfs_gofer::wire::recv_fds(sock.as_raw_fd()) {
            Ok(None) => return Ok(None),
            Ok(Some((_, payload, fds))) => {
                let m =
                    serde_json::from_slice(&payload).map_err(|e| format!("bad message: {e}"))?;
                return Ok(Some((m, fds)));
            }
            Err(vfs_gofer::GoferError::Io(e)) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// A host pseudo-terminal: (master, slave, the slave's name).
pub fn open_pty() -> std::io::Result<(OwnedFd, OwnedFd, String)> {
    // SAFETY: posix_openpt with constant flags; checked.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if m < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt/unlockpt on the master we own.
    if unsafe { libc::grantpt(m) } != 0 || unsafe { libc::unlockpt(m) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes at most name.len() bytes, NUL included.
    if unsafe { libc::ptsname_r(m, name.as_mut_ptr(), name.len()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string into name.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let c = CString::new(name.clone()).map_err(std::io::Error::other)?;
    // SAFETY: open of a NUL-terminated path; checked.
    let s = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if s < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    // Raw: the sandbox's own terminal does the line discipline.
    // SAFETY: tcgetattr/tcsetattr on our terminal with a local termios.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(s, &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(s, libc::TCSANOW, &t);
        }
    }
    Ok((master, slave, name))
}

/// Sends `master` (named `name`) to the console socket at `path` as runc
/// does: one message whose data is the name, the descriptor by SCM_RIGHTS.
pub fn send_console(path: &Path, master: &OwnedFd, name: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {}
        Ok(_) => return Err(format!("console socket {}: not a socket", path.display())),
        Err(e) => return Err(format!("console socket {}: {e}", path.display())),
    }
    let s = connect_kind(path, libc::SOCK_STREAM)
        .map_err(|e| format!("connecting to the console socket {}: {e}", path.display()))?;
    let mut data = name.as_bytes().to_vec();
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cmsg = [0u64; 4];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    let fd = master.as_raw_fd();
    // SAFETY: CMSG_SPACE/LEN are computations; the control buffer (32
    // bytes) holds one header and one descriptor.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::copy_nonoverlapping((&fd as *const RawFd).cast::<u8>(), libc::CMSG_DATA(c), 4);
    }
    // SAFETY: msg is fully initialised and its buffers are alive.
    if unsafe { libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) } < 0 {
        return Err(format!(
            "sending the terminal to the console socket {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
