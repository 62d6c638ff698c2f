//! procfs: the sandbox's /proc, generated from the sentry's own state (never
//! the host's). Files are snapshots taken at open.

use std::any::Any;
use std::sync::{Arc, OnceLock, Weak};

use crate::errno::{Errno, SysResult};
use crate::fsimpl::synthetic::SyntheticFile;
use crate::kernel::{Kernel, TaskHandle};
use crate::vfs::TaskContext;
use crate::vfs::{FileDescription, Fs, Stat, S_IFDIR, S_IFLNK, S_IFREG};

pub mod net;
pub mod ns;
pub mod rw;

/// The task asking (for /proc/self and permission checks), if a task is.
fn caller(ctx: &dyn TaskContext) -> Option<&crate::kernel::Task> {
    ctx.as_any().downcast_ref::<crate::kernel::Task>()
}

/// /proc/cpuinfo: the host CPU's description once per sandbox CPU.
fn cpuinfo(host: &crate::kernel::hostinfo::HostInfo, cpus: usize) -> Vec<u8> {
    let mut s = String::new();
    let cpus = cpus.max(1);
    for i in 0..cpus {
        s.push_str(&format!("processor\t: {i}\n"));
        if host.cpu.is_empty() {
            s.push_str("model name\t: unknown\nflags\t\t: \n");
        }
        for (k, v) in &host.cpu {
            let v = match k.as_str() {
                "processor" => continue,
                "physical id" => "0".to_string(),
                "siblings" | "cpu cores" => cpus.to_string(),
                "core id" | "apicid" | "initial apicid" => i.to_string(),
                _ => v.clone(),
            };
            // The kernel pads keys with tabs to 8-column stops.
            let tabs = if k.len() < 8 { "\t\t" } else { "\t" };
            if v.is_empty() {
                s.push_str(&format!("{k}{tabs}:\n"));
            } else {
                s.push_str(&format!("{k}{tabs}: {v}\n"));
            }
        }
        s.push('\n');
    }
    s.into_bytes()
}

/// /proc/meminfo: the sandbox's memory is its memory file (no bigger than
/// the host's); what is free is what the sentry has not handed out.
fn meminfo(k: &Kernel) -> Vec<u8> {
    let (total, free) = k.memory_kb();
    let used = total - free;
    // tmpfs file data (/tmp, /dev/shm) is shared memory, as on Linux.
    let shmem = (crate::mm::pagecache::tmpfs_pages() * 4).min(used);
    let mut s = String::new();
    for (name, v) in [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", used),
        ("Inactive", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", used - shmem),
        ("Mapped", 0),
        ("Shmem", shmem),
        ("CommitLimit", total),
        ("Committed_AS", used),
    ] {
        s.push_str(&format!("{:<16}{v:>8} kB\n", format!("{name}:")));
    }
    s.into_bytes()
}

/// /proc/loadavg from the process table: no load history is kept (0.00),
/// then runnable/total threads and the last pid handed out.
fn loadavg(k: &Kernel) -> Vec<u8> {
    let procs = k.procs();
    let total = procs.tasks.len().max(1);
    // The reader itself is running; others may be blocked.
    format!("0.00 0.00 0.00 1/{total} {}\n", procs.last_pid()).into_bytes()
}

/// The /proc file system.
#[derive(Default)]
pub struct ProcFs {
    kernel: OnceLock<Weak<Kernel>>,
    /// /proc/sys/kernel/random/boot_id: one per boot.
    boot_id: OnceLock<String>,
}

/// A random (version 4) UUID as Linux prints it.
fn uuid() -> String {
    let mut b = [0u8; 16];
    crate::platform::getrandom(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}\n",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// /proc/[pid]/ns: the namespaces (one of each kind, the initial ones'
/// inode numbers).
const NAMESPACES: [(&str, &str, u64); 10] = [
    ("cgroup", "cgroup", 4026531835),
    ("ipc", "ipc", 4026531839),
    ("mnt", "mnt", 4026531841),
    ("net", "net", 4026531840),
    ("pid", "pid", 4026531836),
    ("pid_for_children", "pid", 4026531836),
    ("time", "time", 4026531834),
    ("time_for_children", "time", 4026531834),
    ("user", "user", 4026531837),
    ("uts", "uts", 4026531838),
];

/// Top-level /proc/sys files that are constants of the sentry:
/// (path under /proc/sys, value).
const SYS_CONSTS: [(&str, &str); 10] = [
    ("kernel/ngroups_max", "65536"),
    ("kernel/cap_last_cap", "40"),
    ("kernel/yama/ptrace_scope", "1"),
    ("fs/nr_open", "1048576"),
    ("fs/pipe-max-size", "1048576"),
    ("fs/file-max", "9223372036854775807"),
    ("vm/overcommit_memory", "0"),
    ("vm/max_map_count", "65530"),
    ("vm/mmap_min_addr", "65536"),
    ("net/core/somaxconn", "4096"),
];

enum Node {
    Dir(Vec<(String, u32)>),
    File(Vec<u8>),
    Link(Vec<u8>),
}

const TOP_FILES: [&str; 8] = [
    "cpuinfo",
    "meminfo",
    "uptime",
    "loadavg",
    "version",
    "filesystems",
    "stat",
    "cmdline",
];
const PID_FILES: [&str; 24] = [
    "stat",
    "statm",
    "status",
    "cmdline",
    "comm",
    "maps",
    "mounts",
    "mountinfo",
    "environ",
    "limits",
    "mem",
    "uid_map",
    "gid_map",
    "setgroups",
    "oom_score",
    "oom_score_adj",
    "oom_adj",
    "io",
    "auxv",
    "personality",
    "wchan",
    "cgroup",
    "loginuid",
    "sessionid",
];
const PID_LINKS: [&str; 3] = ["exe", "cwd", "root"];

impl ProcFs {
    /// A procfs; `attach` gives it the kernel it describes.
    pub fn new() -> Arc<Self> {
        Arc::new(ProcFs::default())
    }

    /// Connects the kernel (after it is built).
    pub fn attach(&self, k: &Arc<Kernel>) {
        let _ = self.kernel.set(Arc::downgrade(k));
    }

    fn kernel(&self) -> SysResult<Arc<Kernel>> {
        self.kernel
            .get()
            .and_then(Weak::upgrade)
            .ok_or(Errno::ENOENT)
    }

    fn task(&self, k: &Kernel, pid: &str) -> SysResult<Arc<TaskHandle>> {
        let pid: i32 = pid.parse().map_err(|_| Errno::ENOENT)?;
        let procs = k.procs();
        let tg = procs.tgs.get(&pid).ok_or(Errno::ENOENT)?;
        let st = tg.lock();
        st.threads
            .iter()
            .find(|h| h.tid == pid)
            .or(st.threads.first())
            .cloned()
            .ok_or(Errno::ENOENT)
    }

    /// The open file a `[pid]/fd/N` (or `[pid]/task/[tid]/fd/N`) link
    /// names; None for other paths.
    pub fn fd_file(
        &self,
        ctx: &dyn TaskContext,
        path: &str,
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let (pid, n) = match parts.as_slice() {
            [pid, "fd", n] | [pid, "task", _, "fd", n] => (*pid, *n),
            [pid, "ns", kind] | [pid, "task", _, "ns", kind] => {
                let k = self.kernel()?;
                let h = self.task(&k, pid)?;
                let info = h.info.lock().unwrap_or_else(|p| p.into_inner());
                return Ok(Some(Arc::new(ns::NsFile(ns_of(&k, &info, kind)?))));
            }
            _ => return Ok(None),
        };
        let k = self.kernel()?;
        let h = self.task(&k, pid)?;
        // Another process's descriptors open only for its own user (or
        // root), as Linux's ptrace-read check.
        if let Some(cur) = caller(ctx) {
            if !Arc::ptr_eq(&cur.handle.tg, &h.tg) {
                let me = cur
                    .handle
                    .tg
                    .creds
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                let them = h.tg.creds.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let fsuid = me.uid[3];
                if me.uid[1] != 0 && them.uid[..3].iter().any(|&u| u != fsuid) {
                    return Err(Errno::EACCES);
                }
            }
        }
        let fds = h.info.lock().unwrap_or_else(|p| p.into_inner()).fds.clone();
        open_fd(&fds, n).map(Some)
    }

    /// The task and file name of `[pid]/f` or `[pid]/task/[tid]/f`.
    fn pid_file<'a>(&self, path: &'a str) -> Option<(Arc<TaskHandle>, &'a str)> {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let k = self.kernel().ok()?;
        match parts.as_slice() {
            [pid, f] => Some((self.task(&k, pid).ok()?, f)),
            [pid, "task", tid, f] => {
                let h = self.task(&k, pid).ok()?;
                let tid: i32 = tid.parse().ok()?;
                let t = h.tg.lock().threads.iter().find(|t| t.tid == tid).cloned()?;
                Some((t, f))
            }
            _ => None,
        }
    }

    /// Linux's ptrace-attach check for /proc/[pid]/mem and writes: the
    /// caller's own process, root, or a process all of whose user ids are
    /// the caller's real uid.
    fn may_attach(&self, ctx: &dyn TaskContext, h: &Arc<TaskHandle>) -> SysResult<()> {
        let Some(cur) = caller(ctx) else {
            return Ok(());
        };
        if Arc::ptr_eq(&cur.handle.tg, &h.tg) {
            return Ok(());
        }
        if !h.tg.ptrace_access_by(&cur.handle.tg, &cur.creds()) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    fn node(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Node> {
        let k = self.kernel()?;
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        // Emulated sysctls (OCI linux.sysctl): /proc/sys/a/b for "a.b".
        if let ["sys", rest @ ..] = parts.as_slice() {
            if !rest.is_empty() {
                let key = rest.join(".");
                if let Some(v) = k.config.sysctl.get(&key) {
                    return Ok(Node::File(format!("{v}\n").into_bytes()));
                }
                let prefix = format!("{key}.");
                let mut children: Vec<(String, u32)> = k
                    .config
                    .sysctl
                    .keys()
                    .filter_map(|s| s.strip_prefix(&prefix))
                    .map(|s| match s.split_once('.') {
                        Some((d, _)) => (d.to_string(), S_IFDIR),
                        None => (s.to_string(), S_IFREG),
                    })
                    .collect();
                children.dedup();
                let builtin = matches!(rest, ["kernel"] | ["vm"] | ["kernel", _] | ["vm", _])
                    || matches!(rest, ["fs"] | ["fs", _] | ["net"] | ["net", "core"]);
                if !children.is_empty() && !builtin {
                    return Ok(Node::Dir(children));
                }
            }
        }
        match parts.as_slice() {
            [] => {
                let mut v: Vec<(String, u32)> = vec![
                    ("self".into(), S_IFLNK),
                    ("thread-self".into(), S_IFLNK),
                    ("mounts".into(), S_IFLNK),
                    ("net".into(), S_IFLNK),
                    ("sys".into(), S_IFDIR),
                    ("sysvipc".into(), S_IFDIR),
                ];
                v.extend(TOP_FILES.iter().map(|f| (f.to_string(), S_IFREG)));
                let mut pids: Vec<i32> = k.procs().tgs.keys().copied().collect();
                pids.sort_unstable();
                v.extend(pids.into_iter().map(|p| (p.to_string(), S_IFDIR)));
                Ok(Node::Dir(v))
            }
            ["self"] => {
                let cur = caller(ctx).ok_or(Errno::ENOENT)?;
                Ok(Node::Link(cur.handle.tg.pid.to_string().into_bytes()))
            }
            ["net"] => Ok(Node::Link(b"self/net".to_vec())),
            // /proc/mounts: the reader's own mount table.
            ["mounts"] => Ok(Node::Link(b"self/mounts".to_vec())),
            ["sys", "kernel", "random"] => Ok(Node::Dir(vec![
                ("boot_id".into(), S_IFREG),
                ("uuid".into(), S_IFREG),
            ])),
            ["sys", "kernel", "random", "boot_id"] => Ok(Node::File(
                self.boot_id.get_or_init(uuid).clone().into_bytes(),
            )),
            ["sys", "kernel", "random", "uuid"] => Ok(Node::File(uuid().into_bytes())),
            ["sys", "kernel", "yama"] => Ok(Node::Dir(vec![("ptrace_scope".into(), S_IFREG)])),
            ["sys", "net"] => Ok(Node::Dir(vec![("core".into(), S_IFDIR)])),
            ["sys", "net", "core"] => Ok(Node::Dir(vec![("somaxconn".into(), S_IFREG)])),
            ["sys", a, b] | ["sys", a, _, b]
                if SYS_CONSTS.iter().any(|(p, _)| {
                    *p == parts[1..].join("/") && p.ends_with(b) && p.starts_with(a)
                }) =>
            {
                let key = parts[1..].join("/");
                let v = SYS_CONSTS
                    .iter()
                    .find(|(p, _)| *p == key)
                    .map_or("", |c| c.1);
                Ok(Node::File(format!("{v}\n").into_bytes()))
            }
            ["thread-self"] => {
                let cur = caller(ctx).ok_or(Errno::ENOENT)?;
                Ok(Node::Link(
                    format!("{}/task/{}", cur.handle.tg.pid, cur.tid).into_bytes(),
                ))
            }
            [f] if TOP_FILES.contains(f) => Ok(Node::File(top_file(&k, f))),
            ["sys"] => Ok(Node::Dir(vec![
                ("fs".into(), S_IFDIR),
                ("kernel".into(), S_IFDIR),
                ("net".into(), S_IFDIR),
                ("vm".into(), S_IFDIR),
            ])),
            ["sys", "fs"] => Ok(Node::Dir(vec![
                ("file-max".into(), S_IFREG),
                ("inotify".into(), S_IFDIR),
                ("mqueue".into(), S_IFDIR),
                ("nr_open".into(), S_IFREG),
                ("pipe-max-size".into(), S_IFREG),
            ])),
            ["sys", "fs", "inotify"] => Ok(Node::Dir(
                INOTIFY_LIMITS
                    .iter()
                    .map(|(n, _)| (n.to_string(), S_IFREG))
                    .collect(),
            )),
            ["sys", "fs", "inotify", f] => INOTIFY_LIMITS
                .iter()
                .find(|(n, _)| n == f)
                .map(|(_, v)| Node::File(format!("{v}\n").into_bytes()))
                .ok_or(Errno::ENOENT),
            ["sys", "fs", "mqueue"] => Ok(Node::Dir(
                crate::kernel::ipc::mqueue::SYSCTLS
                    .iter()
                    .map(|(n, _)| (n.to_string(), S_IFREG))
                    .collect(),
            )),
            ["sys", "fs", "mqueue", f] => crate::kernel::ipc::mqueue::SYSCTLS
                .iter()
                .find(|(n, _)| n == f)
                .map(|(_, v)| Node::File(format!("{v}\n").into_bytes()))
                .ok_or(Errno::ENOENT),
            ["sys", "kernel"] => {
                let mut v: Vec<(String, u32)> = [
                    "cap_last_cap",
                    "domainname",
                    "hostname",
                    "ngroups_max",
                    "ostype",
                    "osrelease",
                    "pid_max",
                    "version",
                ]
                .iter()
                .chain(crate::kernel::ipc::SYSCTLS.iter())
                .map(|n| (n.to_string(), S_IFREG))
                .collect();
                v.push(("random".into(), S_IFDIR));
                v.push(("yama".into(), S_IFDIR));
                Ok(Node::Dir(v))
            }
            ["sysvipc"] => Ok(Node::Dir(
                ["msg", "sem", "shm"]
                    .iter()
                    .map(|n| (n.to_string(), S_IFREG))
                    .collect(),
            )),
            ["sysvipc", f] => crate::kernel::ipc::proc_file(&k.ipc, f)
                .map(|s| Node::File(s.into_bytes()))
                .ok_or(Errno::ENOENT),
            ["sys", "vm"] => Ok(Node::Dir(
                ["max_map_count", "mmap_min_addr", "overcommit_memory"]
                    .iter()
                    .map(|n| (n.to_string(), S_IFREG))
                    .collect(),
            )),
            ["sys", "kernel", f] => Ok(Node::File(
                match *f {
                    // The reader's UTS namespace's names.
                    "hostname" | "domainname" => {
                        let uts = caller(ctx).and_then(|t| t.uts.clone());
                        let name = match (&uts, *f == "domainname") {
                            (Some(u), false) => &u.hostname,
                            (Some(u), true) => &u.domainname,
                            (None, false) => &k.hostname,
                            (None, true) => &k.domainname,
                        };
                        format!("{}\n", name.lock().unwrap_or_else(|p| p.into_inner()))
                    }
                    "ostype" => "Linux\n".into(),
                    "osrelease" => format!("{}\n", crate::abi::RELEASE),
                    "version" => format!("{}\n", crate::abi::VERSION),
                    "pid_max" => "4194304\n".into(),
                    f => match crate::kernel::ipc::sysctl(f) {
                        Some(v) => format!("{v}\n"),
                        None => return Err(Errno::ENOENT),
                    },
                }
                .into_bytes(),
            )),
            [pid, rest @ ..] => {
                let h = self.task(&k, pid)?;
                pid_node(&k, &h, rest, ctx.ucred().pid, None)
            }
        }
    }
}

/// The open file behind /proc/[pid]/fd/`n` of a process's descriptor table
/// (ENOENT when the table or the descriptor is gone).
fn open_fd(
    fds: &Weak<std::sync::Mutex<crate::vfs::FdTable>>,
    n: &str,
) -> SysResult<Arc<dyn FileDescription>> {
    let fds = fds.upgrade().ok_or(Errno::ENOENT)?;
    let fd: i64 = n.parse().map_err(|_| Errno::ENOENT)?;
    let f = fds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .file(fd)
        .map_err(|_| Errno::ENOENT);
    f
}

fn top_file(k: &Kernel, name: &str) -> Vec<u8> {
    match name {
        "cpuinfo" => cpuinfo(&k.config.host, k.config.cpus),
        "meminfo" => meminfo(k),
        "loadavg" => loadavg(k),
        "uptime" => {
            let u = k.boot.elapsed().as_secs_f64();
            format!("{u:.2} {u:.2}\n").into_bytes()
        }
        "version" => format!(
            "Linux version {} (gvisor-rs) {}\n",
            crate::abi::RELEASE,
            crate::abi::VERSION
        )
        .into_bytes(),
        "filesystems" => b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tdevpts\nnodev\tmqueue\nnodev\tpipefs\nnodev\tsockfs\nnodev\toverlay\n".to_vec(),
        "stat" => {
            let cpus = k.config.cpus.max(1);
            // Time in USER_HZ (100/s): the sandbox's uptime is idle time on
            // each CPU but what the processes' CPU time accounts for.
            let up = k.boot.elapsed().as_millis() as u64 / 10;
            let procs = k.procs();
            let busy_ns: u64 = procs
                .tgs
                .values()
                .map(|tg| {
                    let st = tg.lock();
                    st.exited_cpu_ns.saturating_add(st.children_cpu_ns)
                })
                .fold(0, u64::saturating_add);
            let user = (busy_ns / 10_000_000).min(up * cpus as u64);
            let idle = (up * cpus as u64).saturating_sub(user);
            let mut s = format!("cpu  {user} 0 0 {idle} 0 0 0 0 0 0\n");
            for i in 0..cpus {
                let (u, id) = (user / cpus as u64, idle / cpus as u64);
                s.push_str(&format!("cpu{i} {u} 0 0 {id} 0 0 0 0 0 0\n"));
            }
            let running = procs
                .tasks
                .values()
                .filter(|h| h.debug.syscall().is_none())
                .count()
                .max(1);
            let last = procs.last_pid();
            drop(procs);
            let boot = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
                .saturating_sub(k.boot.elapsed().as_secs());
            s.push_str(&format!(
                "intr 0\nctxt 0\nbtime {boot}\nprocesses {last}\nprocs_running {running}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"
            ));
            s.into_bytes()
        }
        "cmdline" => b"BOOT_IMAGE=gvisor-rs\n".to_vec(),
        _ => Vec::new(),
    }
}

fn fs_name(ty: u64) -> &'static str {
    match ty {
        0x794c_7630 => "overlay",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x1cd1 => "devpts",
        _ => "tmpfs",
    }
}

fn mounts(fs: &crate::vfs::Vfs) -> Vec<u8> {
    let mut s = String::new();
    for m in fs.mount_list() {
        let ty = m.fstype.clone().unwrap_or_else(|| fs_name(m.magic).into());
        let src = m.source.clone().unwrap_or_else(|| ty.clone());
        let rw = if m.ro { "ro" } else { "rw" };
        s.push_str(&format!("{src} {} {ty} {rw} 0 0\n", m.point));
    }
    s.into_bytes()
}

/// /proc/[pid]/mountinfo: id, parent id, dev, root, mount point, options,
/// separator, type, source, super options.
fn mountinfo(fs: &crate::vfs::Vfs) -> Vec<u8> {
    let mut s = String::new();
    for m in fs.mount_list() {
        let ty = m.fstype.clone().unwrap_or_else(|| fs_name(m.magic).into());
        let src = m.source.clone().unwrap_or_else(|| ty.clone());
        let rw = if m.ro { "ro" } else { "rw" };
        s.push_str(&format!(
            "{} {} 0:{} {} {} {rw},relatime - {ty} {src} rw\n",
            m.id,
            m.parent,
            m.id + 18,
            m.root,
            m.point
        ));
    }
    s.into_bytes()
}

fn limits(r: &crate::kernel::task::Rlimits) -> Vec<u8> {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let v = |x: u64| {
        if x == u64::MAX {
            "unlimited".to_string()
        } else {
            x.to_string()
        }
    };
    let mut s = format!(
        "{:<26}{:<21}{:<21}{:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        s.push_str(&format!(
            "{:<26}{:<21}{:<21}{:<10}\n",
            name,
            v(r[i].0),
            v(r[i].1),
            unit
        ));
    }
    s.into_bytes()
}

/// The mount table a process sees: its container's.
/// The namespace /proc/[pid]/ns/`kind` names.
fn ns_of(k: &Kernel, info: &crate::kernel::task::TaskInfo, kind: &str) -> SysResult<ns::Ns> {
    match kind {
        "uts" => Ok(ns::Ns::Uts(info.uts.clone())),
        "mnt" => Ok(ns::Ns::Mnt(root_of(k, info))),
        _ => Err(Errno::ENOENT),
    }
}

fn root_of(k: &Kernel, info: &crate::kernel::task::TaskInfo) -> Arc<crate::vfs::Vfs> {
    info.fsctx
        .upgrade()
        .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()).root.clone())
        .unwrap_or_else(|| k.fs.clone())
}

/// A process's (or thread's) node; `reader` is the reading process's pid
/// (it is running while it reads).
fn pid_node(
    k: &Kernel,
    h: &Arc<TaskHandle>,
    rest: &[&str],
    reader: i32,
    thread_view: Option<i32>,
) -> SysResult<Node> {
    let info = h.info.lock().unwrap_or_else(|p| p.into_inner());
    let comm =
        String::from_utf8_lossy(&info.comm[..info.comm.iter().position(|&b| b == 0).unwrap_or(16)])
            .into_owned();
    let (ppid, pgid, sid, nthreads, zombie, stopped, oom_adj) = {
        let st = h.tg.lock();
        (
            st.ppid,
            st.pgid,
            st.sid,
            st.threads.len(),
            st.zombie.is_some(),
            st.stopped,
            st.oom_score_adj,
        )
    };
    let pid = h.tg.pid;
    let creds = h.tg.creds.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let caps = creds.caps;
    match rest {
        [] => {
            let mut v: Vec<(String, u32)> =
                PID_FILES.iter().map(|f| (f.to_string(), S_IFREG)).collect();
            v.extend(PID_LINKS.iter().map(|l| (l.to_string(), S_IFLNK)));
            v.push(("fd".into(), S_IFDIR));
            v.push(("fdinfo".into(), S_IFDIR));
            v.push(("net".into(), S_IFDIR));
            v.push(("ns".into(), S_IFDIR));
            // A thread's directory has no task/ of its own.
            if thread_view.is_none() {
                v.push(("task".into(), S_IFDIR));
            }
            Ok(Node::Dir(v))
        }
        ["ns"] => Ok(Node::Dir(
            NAMESPACES
                .iter()
                .map(|(n, _, _)| (n.to_string(), S_IFLNK))
                .collect(),
        )),
        // The namespaces the sentry models (setns can join them) by their own identity.
        ["ns", kind @ ("uts" | "mnt")] => {
            Ok(Node::Link(ns_of(k, &info, kind)?.link().into_bytes()))
        }
        ["ns", n] => NAMESPACES
            .iter()
            .find(|(name, _, _)| name == n)
            .map(|(_, kind, ino)| Node::Link(format!("{kind}:[{ino}]").into_bytes()))
            .ok_or(Errno::ENOENT),
        ["uid_map"] | ["gid_map"] => Ok(Node::File(
            format!("{:>10} {:>10} {:>10}\n", 0, 0, u32::MAX).into_bytes(),
        )),
        ["setgroups"] => Ok(Node::File(b"allow\n".to_vec())),
        ["oom_score_adj"] => Ok(Node::File(format!("{oom_adj}\n").into_bytes())),
        ["oom_adj"] => Ok(Node::File(
            format!("{}\n", rw::legacy_of(oom_adj)).into_bytes(),
        )),
        ["oom_score"] => {
            // Linux: (1000 + badness * 1000 / totalpages) * 2 / 3, badness
            // being the resident pages plus oom_score_adj's share.
            let rss = info.mm.upgrade().map_or(0, |mm| {
                mm.lock().unwrap_or_else(|p| p.into_inner()).resident_pages() as i64
            });
            let total = (k.memory_kb().0 / 4).max(1) as i64;
            let points = if oom_adj == rw::OOM_SCORE_ADJ_MIN {
                0
            } else {
                let badness = rss + oom_adj as i64 * (total / 1000);
                ((1000 + badness * 1000 / total) * 2 / 3).max(0)
            };
            Ok(Node::File(format!("{points}\n").into_bytes()))
        }
        ["io"] => Ok(Node::File(
            b"rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"
                .to_vec(),
        )),
        ["auxv"] => Ok(Node::File(info.auxv.clone())),
        ["personality"] => Ok(Node::File(b"00000000\n".to_vec())),
        // No kernel symbols: Linux shows "0" for a task not blocked (and
        // when symbols are hidden).
        ["wchan"] => Ok(Node::File(b"0".to_vec())),
        ["cgroup"] => Ok(Node::File(b"0::/\n".to_vec())),
        ["loginuid"] | ["sessionid"] => Ok(Node::File(u32::MAX.to_string().into_bytes())),
        // Opened through ProcFs::open (reads and writes of the memory).
        ["mem"] => Ok(Node::File(Vec::new())),
        ["exe"] => Ok(Node::Link(info.exe.clone())),
        ["net"] => Ok(Node::Dir(
            net::FILES
                .iter()
                .map(|f| (f.to_string(), S_IFREG))
                .collect(),
        )),
        ["net", f] => net::file(&k.net, f).map(Node::File).ok_or(Errno::ENOENT),
        ["root"] => Ok(Node::Link(b"/".to_vec())),
        ["cwd"] => {
            let f = info.fsctx.upgrade().ok_or(Errno::ENOENT)?;
            let c = f.lock().unwrap_or_else(|p| p.into_inner()).cwd.clone();
            Ok(Node::Link(c.into_bytes()))
        }
        ["cmdline"] => Ok(Node::File({
            let mut c = info.cmdline.clone();
            if !c.is_empty() {
                c.push(0);
            }
            c
        })),
        ["comm"] => Ok(Node::File(format!("{comm}\n").into_bytes())),
        ["environ"] => Ok(Node::File(info.environ.clone())),
        ["mounts"] => Ok(Node::File(mounts(&root_of(k, &info)))),
        ["mountinfo"] => Ok(Node::File(mountinfo(&root_of(k, &info)))),
        ["limits"] => Ok(Node::File(limits(&info.rlimits))),
        ["stat"] | ["statm"] | ["status"] | ["maps"] => {
            let (vsz, rss, maps) = match info.mm.upgrade() {
                Some(mm) => {
                    let mm = mm.lock().unwrap_or_else(|p| p.into_inner());
                    let vsz: u64 = mm.vmas().map(|v| v.end - v.start).sum();
                    let mut m = String::new();
                    for v in mm.vmas() {
                        let name = match &v.kind {
                            crate::mm::VmaKind::Image(n) => n.clone(),
                            crate::mm::VmaKind::File(f) => f.name.clone(),
                            crate::mm::VmaKind::Heap => "[heap]".into(),
                            crate::mm::VmaKind::Stack => "[stack]".into(),
                            _ => String::new(),
                        };
                        m.push_str(&format!(
                            "{:08x}-{:08x} {}{}{}{} {:08x} 00:00 0 {}\n",
                            v.start,
                            v.end,
                            if v.perms.read { 'r' } else { '-' },
                            if v.perms.write { 'w' } else { '-' },
                            if v.perms.exec { 'x' } else { '-' },
                            if v.is_shared() { 's' } else { 'p' },
                            match &v.kind {
                                crate::mm::VmaKind::File(f) => f.offset,
                                _ => 0,
                            },
                            name
                        ));
                    }
                    (vsz, mm.resident_pages() as u64, m)
                }
                None => (0, 0, String::new()),
            };
            // Linux's letters and words: a task in a system call (other
            // than the reader's own read) sleeps in the sentry.
            let (state, word) = if zombie {
                ('Z', "zombie")
            } else if stopped {
                ('T', "stopped")
            } else if h.tg.pid != reader && h.debug.syscall().is_some() {
                ('S', "sleeping")
            } else {
                ('R', "running")
            };
            let seccomp_mode = crate::kernel::seccomp_filter::effective_mode(h);
            let seccomp_filters = crate::kernel::seccomp_filter::filter_count(h);
            let nnp = u8::from(h.no_new_privs.load(std::sync::atomic::Ordering::SeqCst));
            let text = match rest[0] {
                "stat" => format!(
                    "{pid} ({comm}) {state} {ppid} {pgid} {sid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 {nthreads} 0 0 {vsz} {rss} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
                ),
                "statm" => format!("{} {rss} 0 0 0 0 0\n", vsz / 4096),
                "status" => format!(
                    "Name:\t{comm}\nState:\t{state} ({word})\nTgid:\t{pid}\nPid:\t{}\nPPid:\t{ppid}\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nVmSize:\t{} kB\nVmRSS:\t{} kB\nThreads:\t{nthreads}\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nNoNewPrivs:\t{nnp}\nSeccomp:\t{}\nSeccomp_filters:\t{seccomp_filters}\n",
                    h.tid,
                    creds.uid[0],
                    creds.uid[1],
                    creds.uid[2],
                    creds.uid[3],
                    creds.gid[0],
                    creds.gid[1],
                    creds.gid[2],
                    creds.gid[3],
                    vsz / 1024,
                    rss * 4,
                    caps.inheritable,
                    caps.permitted,
                    caps.effective,
                    caps.bounding,
                    seccomp_mode
                ),
                _ => maps,
            };
            Ok(Node::File(text.into_bytes()))
        }
        ["fd"] => {
            let fds = info.fds.upgrade().ok_or(Errno::ENOENT)?;
            let t = fds.lock().unwrap_or_else(|p| p.into_inner());
            Ok(Node::Dir(
                t.open_fds()
                    .into_iter()
                    .map(|f| (f.to_string(), S_IFLNK))
                    .collect(),
            ))
        }
        ["fd", n] => {
            let f = open_fd(&info.fds, n)?;
            let target = match f.path() {
                Some(p) => p,
                None if f.socket().is_some() => {
                    format!("socket:[{}]", f.stat().map(|s| s.ino).unwrap_or(0))
                }
                None => match f.anon_name() {
                    Some(n) => format!("anon_inode:{n}"),
                    None => format!("pipe:[{}]", f.stat().map(|s| s.ino).unwrap_or(0)),
                },
            };
            Ok(Node::Link(target.into_bytes()))
        }
        ["fdinfo"] => {
            let fds = info.fds.upgrade().ok_or(Errno::ENOENT)?;
            let t = fds.lock().unwrap_or_else(|p| p.into_inner());
            Ok(Node::Dir(
                t.open_fds()
                    .into_iter()
                    .map(|f| (f.to_string(), S_IFREG))
                    .collect(),
            ))
        }
        ["fdinfo", n] => {
            let fds = info.fds.upgrade().ok_or(Errno::ENOENT)?;
            let fd: i64 = n.parse().map_err(|_| Errno::ENOENT)?;
            let e = fds
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(fd)
                .map_err(|_| Errno::ENOENT)?
                .clone();
            let pos = e.file.seek(0, crate::vfs::Whence::Cur).unwrap_or(0);
            let mut flags = e.file.status_flags() as u64;
            if e.cloexec {
                flags |= libc::O_CLOEXEC as u64;
            }
            let ino = e.file.stat().map(|s| s.ino).unwrap_or(0);
            let mut text = format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t1\nino:\t{ino}\n");
            if let Some(i) = e
                .file
                .as_any()
                .downcast_ref::<crate::fsimpl::inotify::Inotify>()
            {
                text.push_str(&i.fdinfo());
            }
            Ok(Node::File(text.into_bytes()))
        }
        ["task"] if thread_view.is_none() => {
            let st = h.tg.lock();
            Ok(Node::Dir(
                st.threads
                    .iter()
                    .map(|t| (t.tid.to_string(), S_IFDIR))
                    .collect(),
            ))
        }
        ["task", tid, more @ ..] if thread_view.is_none() => {
            let tid: i32 = tid.parse().map_err(|_| Errno::ENOENT)?;
            let t =
                h.tg.lock()
                    .threads
                    .iter()
                    .find(|t| t.tid == tid)
                    .cloned()
                    .ok_or(Errno::ENOENT)?;
            drop(info);
            pid_node(k, &t, more, reader, Some(tid))
        }
        _ => Err(Errno::ENOENT),
    }
}

/// /proc/sys/fs/inotify.
const INOTIFY_LIMITS: [(&str, usize); 3] = [
    ("max_queued_events", crate::vfs::notify::MAX_QUEUED_EVENTS),
    ("max_user_instances", crate::vfs::notify::MAX_USER_INSTANCES),
    ("max_user_watches", crate::vfs::notify::MAX_USER_WATCHES),
];

fn stat_of(path: &str, n: &Node) -> Stat {
    let name = path.rsplit('/').next().unwrap_or("");
    let in_pid = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .is_some_and(|c| c.parse::<i32>().is_ok());
    let ino = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let (mode, size, nlink) = match n {
        Node::Dir(_) => (S_IFDIR | 0o555, 0, 2),
        Node::File(_) if in_pid && name == "mem" => (S_IFREG | 0o600, 0, 1),
        Node::File(_) if in_pid && matches!(name, "oom_score_adj" | "oom_adj" | "loginuid") => {
            (S_IFREG | 0o644, 0, 1)
        }
        Node::File(_) if in_pid && matches!(name, "uid_map" | "gid_map" | "setgroups") => {
            (S_IFREG | 0o644, 0, 1)
        }
        Node::File(_) if in_pid && matches!(name, "auxv" | "environ") => (S_IFREG | 0o400, 0, 1),
        Node::File(_) if path.starts_with("/sys/") || path.starts_with("sys/") => {
            (S_IFREG | 0o644, 0, 1)
        }
        Node::File(_) => (S_IFREG | 0o444, 0, 1),
        Node::Link(l) => (S_IFLNK | 0o777, l.len() as i64, 1),
    };
    Stat {
        dev: 0x4,
        ino,
        nlink,
        mode,
        size,
        blksize: 4096,
        ..Default::default()
    }
}

impl Fs for ProcFs {
    fn magic_link(
        &self,
        ctx: &dyn TaskContext,
        path: &str,
    ) -> SysResult<Option<Arc<dyn FileDescription>>> {
        self.fd_file(ctx, path)
    }

    fn lstat(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Stat> {
        let n = self.node(ctx, path)?;
        Ok(stat_of(path, &n))
    }

    fn readlink(&self, ctx: &dyn TaskContext, path: &str) -> SysResult<Vec<u8>> {
        match self.node(ctx, path)? {
            Node::Link(l) => Ok(l),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(
        self: Arc<Self>,
        ctx: &dyn TaskContext,
        path: &str,
        flags: u32,
        _mode: u32,
    ) -> SysResult<Arc<dyn FileDescription>> {
        let acc = flags as i32 & libc::O_ACCMODE;
        if acc == libc::O_ACCMODE {
            return Err(Errno::EACCES);
        }
        let n = self.node(ctx, path)?;
        // O_CREAT of an existing file opens it (O_EXCL: EEXIST).
        if flags as i32 & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
            return Err(Errno::EEXIST);
        }
        let st = stat_of(path, &n);
        if let Some((h, name)) = self.pid_file(path) {
            match name {
                // The memory and what exec put in it need ptrace access.
                "auxv" | "environ" => self.may_attach(ctx, &h)?,
                "mem" => {
                    self.may_attach(ctx, &h)?;
                    let mm = h.info.lock().unwrap_or_else(|p| p.into_inner()).mm.clone();
                    return Ok(rw::ProcMem::new(mm, flags, st));
                }
                "oom_score_adj" | "oom_adj" if acc != libc::O_RDONLY => {
                    self.may_attach(ctx, &h)?;
                    let Node::File(data) = n else {
                        return Err(Errno::EISDIR);
                    };
                    let can_lower = ctx.capable(24); // CAP_SYS_RESOURCE
                    return Ok(rw::OomAdj::new(
                        SyntheticFile::file(data, st),
                        h.tg.clone(),
                        name == "oom_adj",
                        can_lower,
                        flags,
                    ));
                }
                // Root (CAP_DAC_OVERRIDE) opens a read-only file for
                // writing; writes then fail.
                _ if acc != libc::O_RDONLY && ctx.capable(1) => {
                    if let Node::File(data) = n {
                        return Ok(rw::NoWrite::new(SyntheticFile::file(data, st), flags));
                    }
                    return Err(Errno::EISDIR);
                }
                _ => {}
            }
        }
        if acc != libc::O_RDONLY {
            return Err(Errno::EACCES);
        }
        match n {
            Node::File(data) => Ok(SyntheticFile::file(data, st)),
            Node::Dir(entries) => Ok(SyntheticFile::dir(entries, st)),
            Node::Link(_) => Err(Errno::ELOOP),
        }
    }

    fn fs_type(&self) -> u64 {
        0x9fa0
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
