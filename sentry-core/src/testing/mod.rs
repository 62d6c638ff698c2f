//! Kernel behaviour tested on the fake platform: a [`Harness`] builds a
//! kernel over [`FakePlatform`] with a tmpfs root and one task (pid 1) that
//! runs no app code, and lets a test make that task's system calls one by
//! one, as `syscalls::dispatch` serves them when the app traps. Arguments
//! that point at memory point into a scratch mapping of the task's address
//! space ([`Harness::cstr`], [`Harness::alloc`], [`Harness::read`]).
//!
//! Every test here runs in milliseconds and needs no KVM. Calls that would
//! run app code (execve, a signal handler) or wait for another task are out
//! of scope: a call that would block polls until its condition holds, so
//! tests use O_NONBLOCK or write before they read.
//!
//! The tests are grouped by syscall family, one file each.

use std::sync::{Arc, Mutex};

use crate::errno::Errno;
use crate::fsimpl::tmpfs::TmpFs;
use crate::kernel::task::{default_rlimits, FsContext, Task};
use crate::kernel::{Kernel, KernelConfig};
use crate::mm::MemoryManager;
use crate::platform::fake::FakePlatform;
use crate::platform::{
    AddressSpace, Context, Event, FpuState, Interrupter, Platform, PlatformError, Registers,
};
use crate::vfs::{FdTable, Vfs};

mod attr;
mod creds;
mod dirents;
mod fd;
mod file;
mod inet;
mod info;
mod link;
mod mm;
mod namespace;
mod pipe;
mod seccomp;
mod signal;
mod stat;
mod unix;
mod xattr;

/// `AT_FDCWD` as a syscall argument.
pub(crate) const AT_FDCWD: u64 = libc::AT_FDCWD as u64;

/// Size of the scratch mapping the helpers hand out memory from.
const SCRATCH: u64 = 1 << 20;

/// A context that cannot run app code: the harness calls handlers directly.
struct NoAppContext;

impl Context for NoAppContext {
    fn switch(
        &mut self,
        _regs: &mut Registers,
        _fpu: &mut FpuState,
        _space: &dyn AddressSpace,
    ) -> Result<Event, PlatformError> {
        Err(PlatformError::Unsupported(
            "the test harness runs no app code".into(),
        ))
    }
    fn interrupter(&self) -> Interrupter {
        Interrupter::new(|| {})
    }
    fn exits(&self) -> u64 {
        0
    }
    fn flush(&mut self, _space: &dyn AddressSpace) -> Result<(), PlatformError> {
        Ok(())
    }
    fn save_fpu(&mut self) -> Result<Vec<u8>, PlatformError> {
        Ok(Vec::new())
    }
    fn restore_fpu(&mut self, _state: &[u8]) -> Result<(), PlatformError> {
        Ok(())
    }
}

/// A kernel on the fake platform with one task whose syscalls a test makes.
pub(crate) struct Harness {
    /// The task (pid 1, cwd `/`, no open descriptors, umask 022).
    pub task: Task,
    /// The tmpfs mounted at `/` (for setting up files without syscalls).
    pub root: Arc<TmpFs>,
    /// Start of the scratch mapping.
    scratch: u64,
    /// Next free byte of it.
    next: u64,
}

impl Harness {
    /// Root (uid 0, every capability), host name "gvisor".
    pub fn new() -> Harness {
        Harness::with_config(KernelConfig {
            cpus: 2,
            ..KernelConfig::default()
        })
    }

    /// An unprivileged task: `uid`/`gid` in all four slots, no capabilities,
    /// supplementary groups `groups`.
    pub fn user(uid: u32, gid: u32, groups: &[u32]) -> Harness {
        Harness::with_config(KernelConfig {
            uid,
            gid,
            groups: groups.to_vec(),
            cpus: 2,
            ..KernelConfig::default()
        })
    }

    /// A kernel with `config` and its first task.
    pub fn with_config(config: KernelConfig) -> Harness {
        let platform = Arc::new(FakePlatform::new(64 << 20).unwrap());
        let root = TmpFs::with_memory(0o755, 1, platform.memory().clone());
        let vfs = Arc::new(Vfs::new(root.clone()));
        let kernel = Kernel::new(platform.clone(), vfs.clone(), config, None);
        let space = platform.new_address_space().expect("fake address space");
        let mm = MemoryManager::new(space, platform.memory().clone(), kernel.config.fault_around);
        let (_tg, handle) = kernel.new_process(0, 0, 0, kernel.default_container.clone());
        let pid = handle.tid;
        let mut task = Task {
            kernel,
            handle,
            tid: pid,
            pid,
            regs: Registers::default(),
            orig_rax: 0,
            fpu: FpuState::default(),
            mm: Arc::new(Mutex::new(mm)),
            fds: Arc::new(Mutex::new(FdTable::default())),
            fsctx: Arc::new(Mutex::new(FsContext {
                root: vfs,
                cwd: "/".into(),
                umask: 0o022,
                chroot: None,
            })),
            uts: None,
            clear_child_tid: 0,
            robust_list: 0,
            comm: [0; 16],
            rlimits: default_rlimits(),
            exe: b"/harness".to_vec(),
            dumpable: true,
            exit: None,
            altstack: Default::default(),
            pending_restart: None,
            saved_mask: None,
            repeat_fault: (u64::MAX, 0),
            ctx: Box::new(NoAppContext),
        };
        task.set_comm(b"harness");
        task.publish_info(Some(b"harness".to_vec()));
        let mut h = Harness {
            task,
            root,
            scratch: 0,
            next: 0,
        };
        let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        h.scratch = h
            .call("mmap", &[0, SCRATCH, prot, flags, u64::MAX, 0])
            .expect("scratch mapping");
        h.next = h.scratch;
        h
    }

    /// The number of syscall `name`.
    pub fn nr(name: &str) -> u64 {
        crate::syscalls::NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no syscall named {name}")) as u64
    }

    /// Makes syscall `name` with `args` (missing ones are 0) as the app's
    /// `syscall` instruction would: through the dispatcher, so the table row
    /// (and the container's seccomp profile) decide what runs.
    pub fn call(&mut self, name: &str, args: &[u64]) -> Result<u64, Errno> {
        self.call_nr(Self::nr(name), args)
    }

    /// As [`Harness::call`], by number.
    pub fn call_nr(&mut self, nr: u64, args: &[u64]) -> Result<u64, Errno> {
        assert!(args.len() <= 6, "at most six arguments");
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        let r = &mut self.task.regs;
        r.rax = nr;
        r.rdi = a[0];
        r.rsi = a[1];
        r.rdx = a[2];
        r.r10 = a[3];
        r.r8 = a[4];
        r.r9 = a[5];
        crate::syscalls::dispatch(&mut self.task);
        // A restartable error shows as EINTR in RAX; report the real one.
        if let Some(e) = self.task.pending_restart.take() {
            return Err(e);
        }
        let rax = self.task.regs.rax;
        if (rax as i64) < 0 && (rax as i64) >= -4095 {
            Err(Errno(-(rax as i64) as i32))
        } else {
            Ok(rax)
        }
    }

    /// `len` zeroed bytes of scratch memory, 16-byte aligned.
    pub fn alloc(&mut self, len: usize) -> u64 {
        let addr = self.next;
        let end = addr + (len as u64).div_ceil(16) * 16;
        assert!(end <= self.scratch + SCRATCH, "scratch memory used up");
        self.next = end;
        self.write(addr, &vec![0; len]);
        addr
    }

    /// Copies `data` into new scratch memory.
    pub fn put(&mut self, data: &[u8]) -> u64 {
        let a = self.alloc(data.len());
        self.write(a, data);
        a
    }

    /// `s` as a NUL-terminated string in scratch memory.
    pub fn cstr(&mut self, s: &str) -> u64 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.put(&b)
    }

    /// A plain-old-data value (a C struct from `libc`) in scratch memory.
    pub fn put_struct<T: Copy>(&mut self, v: &T) -> u64 {
        // SAFETY: T is Copy (plain data, as the libc structs are); the slice
        // covers exactly the bytes of `v`, which outlives it.
        let bytes = unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        self.put(bytes)
    }

    /// Writes `data` to app memory at `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        self.task
            .mm()
            .copy_out(addr, data)
            .expect("write app memory");
    }

    /// Reads `len` bytes of app memory at `addr`.
    pub fn read(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0; len];
        self.task
            .mm()
            .copy_in(addr, &mut b)
            .expect("read app memory");
        b
    }

    /// Reads a `T` (a plain-data C struct from `libc`) at `addr`.
    pub fn read_struct<T: Copy>(&mut self, addr: u64) -> T {
        let b = self.read(addr, std::mem::size_of::<T>());
        let mut v = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: `b` holds size_of::<T>() bytes, copied over all of `v`; the
        // libc structs this is used with are valid for any bit pattern.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr().cast::<u8>(), b.len());
            v.assume_init()
        }
    }

    /// Reads a native-endian u32 at `addr`.
    pub fn read_u32(&mut self, addr: u64) -> u32 {
        let b = self.read(addr, 4);
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Reads a native-endian u64 at `addr`.
    pub fn read_u64(&mut self, addr: u64) -> u64 {
        let b = self.read(addr, 8);
        u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Reads a NUL-terminated string at `addr`.
    pub fn read_cstr(&mut self, addr: u64) -> String {
        let b = self
            .task
            .mm()
            .read_cstring(addr, 4096)
            .expect("read string");
        String::from_utf8_lossy(&b).into_owned()
    }

    // Shorthands for the calls most tests make.

    /// open(path, flags, mode).
    pub fn open(&mut self, path: &str, flags: i32, mode: u32) -> Result<u64, Errno> {
        let p = self.cstr(path);
        self.call("open", &[p, flags as u64, mode as u64])
    }

    /// write(fd, data).
    pub fn write_fd(&mut self, fd: u64, data: &[u8]) -> Result<u64, Errno> {
        let b = self.put(data);
        self.call("write", &[fd, b, data.len() as u64])
    }

    /// read(fd, len): the bytes read.
    pub fn read_fd(&mut self, fd: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let b = self.alloc(len);
        let n = self.call("read", &[fd, b, len as u64])?;
        Ok(self.read(b, n as usize))
    }

    /// Creates `path` with `data` (O_CREAT|O_TRUNC, mode 0644) and closes it.
    pub fn create_file(&mut self, path: &str, data: &[u8]) {
        let fd = self
            .open(path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)
            .expect("create");
        assert_eq!(self.write_fd(fd, data), Ok(data.len() as u64));
        self.call("close", &[fd]).expect("close");
    }

    /// stat(path) or lstat(path).
    pub fn stat(&mut self, path: &str, follow: bool) -> Result<libc::stat, Errno> {
        let p = self.cstr(path);
        let buf = self.alloc(std::mem::size_of::<libc::stat>());
        self.call(if follow { "stat" } else { "lstat" }, &[p, buf])?;
        Ok(self.read_struct(buf))
    }
}

#[test]
fn harness_maps_scratch_memory_and_reports_unknown_calls() {
    let mut h = Harness::new();
    assert_eq!(h.task.pid, 1);
    let a = h.cstr("hello");
    assert_eq!(h.read_cstr(a), "hello");
    // Files made directly in the root tmpfs are there for the task.
    crate::vfs::Fs::mkdir(&*h.root, "pre", 0o700).unwrap();
    assert_eq!(h.stat("/pre", true).unwrap().st_mode & 0o7777, 0o700);
    assert_eq!(h.call("getpid", &[]), Ok(1));
    // A number without a row is ENOSYS, as Linux answers an unknown number.
    assert_eq!(h.call_nr(1000, &[]), Err(Errno::ENOSYS));
    // A closed descriptor is EBADF.
    assert_eq!(h.call("close", &[0]), Err(Errno::EBADF));
}
