//! The process model: fork/clone, execve, exit, wait, kill.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::errno::{Errno, SysResult};
use crate::kernel::exec::{self, ExecArgs};
use crate::kernel::signal::{self, SigInfo, Signal};
use crate::kernel::task::{ExitStatus, FsContext, Task, TaskHandle, ThreadGroup};
use crate::kernel::Kernel;
use crate::mm::MemoryManager;
use crate::platform::FpuState;
use crate::waiter;

/// clone flags.
pub mod flags {
    #![allow(missing_docs)]
    pub const CSIGNAL: u64 = 0xff;
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_PIDFD: u64 = 0x1000;
    pub const CLONE_PTRACE: u64 = 0x2000;
    pub const CLONE_VFORK: u64 = 0x4000;
    pub const CLONE_PARENT: u64 = 0x8000;
    pub const CLONE_THREAD: u64 = 0x10000;
    pub const CLONE_NEWNS: u64 = 0x20000;
    pub const CLONE_SYSVSEM: u64 = 0x40000;
    pub const CLONE_SETTLS: u64 = 0x80000;
    pub const CLONE_PARENT_SETTID: u64 = 0x100000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
    pub const CLONE_DETACHED: u64 = 0x400000;
    pub const CLONE_UNTRACED: u64 = 0x800000;
    pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
    pub const CLONE_NEWCGROUP: u64 = 0x2000000;
    pub const CLONE_NEWUTS: u64 = 0x4000000;
    pub const CLONE_NEWIPC: u64 = 0x8000000;
    pub const CLONE_NEWUSER: u64 = 0x10000000;
    pub const CLONE_NEWPID: u64 = 0x20000000;
    pub const CLONE_NEWNET: u64 = 0x40000000;
    pub const CLONE_IO: u64 = 0x80000000;
    /// clone3 only: a new time namespace (in the byte clone(2) uses for the exit signal).
    pub const CLONE_NEWTIME: u64 = 0x80;
    /// clone3 only: the child's caught signals go back to their default.
    pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
    /// clone3 only: start the child in the cgroup `cgroup` names.
    pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
}
use flags::*;

/// Builds the task a clone creates: the parent's registers (RAX 0, the new
/// stack and TLS), its fd table and fs context shared or copied per `fl`.
fn child_task(
    t: &Task,
    handle: Arc<TaskHandle>,
    mm: Arc<Mutex<MemoryManager>>,
    fl: u64,
    stack: u64,
    tls: u64,
    ctx: Box<dyn crate::platform::Context>,
) -> Task {
    let fds = if fl & CLONE_FILES != 0 {
        t.fds.clone()
    } else {
        Arc::new(Mutex::new(t.fds().clone()))
    };
    let fsctx = if fl & CLONE_FS != 0 {
        t.fsctx.clone()
    } else {
        let mut c: FsContext = t.fsctx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if fl & CLONE_NEWNS != 0 {
            c.root = Arc::new(c.root.copy_table());
        }
        Arc::new(Mutex::new(c))
    };
    let uts = if fl & CLONE_NEWUTS != 0 {
        let names =
            |m: &Mutex<String>| Mutex::new(m.lock().unwrap_or_else(|p| p.into_inner()).clone());
        Some(Arc::new(match &t.uts {
            Some(u) => crate::kernel::task::UtsNs {
                hostname: names(&u.hostname),
                domainname: names(&u.domainname),
            },
            None => crate::kernel::task::UtsNs {
                hostname: names(&t.kernel.hostname),
                domainname: names(&t.kernel.domainname),
            },
        }))
    } else {
        t.uts.clone()
    };
    let mut regs = t.regs;
    regs.rax = 0;
    if stack != 0 {
        regs.rsp = stack;
    }
    if fl & CLONE_SETTLS != 0 {
        regs.fs_base = tls;
    }
    let tid = handle.tid;
    let pid = if fl & CLONE_THREAD != 0 { t.pid } else { tid };
    // no_new_privs and the seccomp filters are inherited (under the process's
    // lock, so that a TSYNC of another thread is not half seen).
    {
        let _tg = t.handle.tg.lock();
        handle.no_new_privs.store(
            t.handle.no_new_privs.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        handle.seccomp.copy_from(&t.handle.seccomp);
    }
    Task {
        kernel: t.kernel.clone(),
        handle,
        tid,
        pid,
        regs,
        orig_rax: 0,
        fpu: FpuState::default(),
        mm,
        fds,
        fsctx,
        uts,
        clear_child_tid: 0,
        robust_list: 0,
        comm: t.comm,
        rlimits: t.rlimits,
        exe: t.exe.clone(),
        dumpable: t.dumpable,
        exit: None,
        altstack: if fl & CLONE_THREAD != 0 {
            Default::default()
        } else {
            t.altstack
        },
        pending_restart: None,
        saved_mask: None,
        repeat_fault: (u64::MAX, 0),
        ctx,
    }
}

/// A new context for a child, starting with the parent's FPU state.
fn child_context(t: &mut Task) -> SysResult<Box<dyn crate::platform::Context>> {
    let mut ctx = t.kernel.platform.new_context().map_err(|e| {
        tracing::warn!(error = %e, "no context for a new task");
        Errno::EAGAIN
    })?;
    if let Ok(fp) = t.ctx.save_fpu() {
        let _ = ctx.restore_fpu(&fp);
    }
    Ok(ctx)
}

/// Finishes a clone: the TID words, /proc's view, and the child's thread.
fn start_child(t: &Task, mut child: Task, fl: u64, ptid: u64, ctid: u64) -> SysResult<()> {
    let tid = child.tid;
    *child
        .handle
        .interrupter
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(child.ctx.interrupter());
    // The child exists from here on: as on Linux, a bad TID address is not an
    // error of the clone (put_user's result is ignored there), so a failed
    // store must not leave a registered child that never runs.
    if fl & CLONE_PARENT_SETTID != 0 {
        let _ = t.mm().copy_out(ptid, &tid.to_le_bytes());
    }
    if fl & CLONE_CHILD_SETTID != 0 {
        let _ = child.mm().copy_out(ctid, &tid.to_le_bytes());
    }
    if fl & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = ctid;
    }
    let (cmdline, environ, auxv) = {
        let i = t.handle.info.lock().unwrap_or_else(|p| p.into_inner());
        (i.cmdline.clone(), i.environ.clone(), i.auxv.clone())
    };
    child.publish_info(Some(cmdline));
    {
        let mut i = child.handle.info.lock().unwrap_or_else(|p| p.into_inner());
        i.environ = environ;
        i.auxv = auxv;
    }
    t.kernel.spawn(child).map_err(|_| Errno::EAGAIN)
}

/// Reserves a close-on-exec descriptor for CLONE_PIDFD (a pidfd of the caller until
/// [`fill_pidfd`] points it at the child).
fn reserve_pidfd(t: &Task) -> SysResult<i64> {
    let placeholder = Arc::new(crate::kernel::pidfd::PidFd::new(
        t.handle.tg.clone(),
        t.pid,
        false,
        false,
    ));
    t.fds().install(
        crate::vfs::FdEntry {
            file: placeholder,
            cloexec: true,
        },
        0,
    )
}

/// Points the reserved descriptor `fd` at the new child and stores it at `addr`.
fn fill_pidfd(t: &Task, fd: i64, tg: Arc<ThreadGroup>, tid: i32, thread: bool, addr: u64) {
    let file = Arc::new(crate::kernel::pidfd::PidFd::new(tg, tid, thread, false));
    let _ = t.fds().install_at(
        fd as usize,
        crate::vfs::FdEntry {
            file,
            cloexec: true,
        },
    );
    let _ = t.mm().copy_out(addr, &(fd as i32).to_le_bytes());
}

/// clone(2) for new processes (fork, vfork, and clone without CLONE_THREAD).
pub fn clone(t: &mut Task, fl: u64, stack: u64, ptid: u64, ctid: u64, tls: u64) -> SysResult<u64> {
    clone_with_pidfd(t, fl, stack, ptid, ctid, tls, 0)
}

/// clone with CLONE_PIDFD: a pidfd for the child is installed in the caller and stored as
/// an int at `pidfd` (checked writable before anything is made, as Linux fails the clone
/// with EFAULT then).
pub fn clone_with_pidfd(
    t: &mut Task,
    fl: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
    pidfd: u64,
) -> SysResult<u64> {
    // Linux's copy_process checks, before anything is made.
    if fl & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS
        || fl & (CLONE_NEWUSER | CLONE_FS) == CLONE_NEWUSER | CLONE_FS
        || (fl & CLONE_THREAD != 0 && fl & CLONE_SIGHAND == 0)
        || (fl & CLONE_SIGHAND != 0 && fl & CLONE_VM == 0)
        || (fl & CLONE_THREAD != 0 && fl & (CLONE_NEWUSER | CLONE_NEWPID) != 0)
        || (fl & CLONE_PIDFD != 0 && fl & CLONE_DETACHED != 0)
    {
        return Err(Errno::EINVAL);
    }
    // An init (the sandbox's or a container's) has no parent to share: as
    // Linux refuses CLONE_PARENT from an unkillable init.
    if fl & CLONE_PARENT != 0 && t.handle.tg.lock().ppid == 0 {
        return Err(Errno::EINVAL);
    }
    if fl & CLONE_PIDFD != 0 {
        t.mm().copy_out(pidfd, &(-1i32).to_le_bytes())?;
    }
    // New mount and UTS namespaces need CAP_SYS_ADMIN; the sandbox makes
    // no other kind (EPERM, as for a caller without the capability).
    let unsupported = CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    if fl & unsupported != 0
        || (fl & (CLONE_NEWNS | CLONE_NEWUTS) != 0 && t.creds().caps.effective & CAP_SYS_ADMIN == 0)
    {
        return Err(Errno::EPERM);
    }
    if fl & CLONE_THREAD != 0 {
        if fl & CLONE_PIDFD == 0 {
            return clone_thread(t, fl, stack, ptid, ctid, tls);
        }
        // A pidfd for the new thread (PIDFD_THREAD), reserved before it starts.
        let slot = reserve_pidfd(t)?;
        let tid = match clone_thread(t, fl, stack, ptid, ctid, tls) {
            Ok(tid) => tid,
            Err(e) => {
                let _ = t.fds().close(slot);
                return Err(e);
            }
        };
        fill_pidfd(t, slot, t.handle.tg.clone(), tid as i32, true, pidfd);
        return Ok(tid);
    }
    if fl & CLONE_VM != 0 && fl & CLONE_VFORK == 0 {
        // A process sharing memory with its parent (not vfork) needs a shared
        // memory manager across processes: not supported yet.
        return Err(Errno::ENOSYS);
    }
    let kernel = t.kernel.clone();
    let platform = kernel.platform.clone();
    // Memory: copy-on-write (vfork too: the child only runs until exec/exit).
    let child_mm = {
        let mm_arc = t.mm.clone();
        let mut mm = mm_arc.lock().unwrap_or_else(|p| p.into_inner());
        // Other threads must not keep running on the old page tables, which
        // still map now-shared pages writable.
        t.quiesce_others();
        mm.fork(&*platform).map_err(|_| Errno::ENOMEM)?
    };
    let ctx = child_context(t)?;
    let (pgid, sid) = {
        let st = t.handle.tg.lock();
        (st.pgid, st.sid)
    };
    let parent_pid = if fl & CLONE_PARENT != 0 {
        t.handle.tg.lock().ppid
    } else {
        t.pid
    };
    // CLONE_PIDFD: a descriptor is reserved (EMFILE fails the clone before anything is made).
    let pidfd_slot = if fl & CLONE_PIDFD != 0 {
        Some(reserve_pidfd(t)?)
    } else {
        None
    };
    let (tg, handle) = kernel.new_process(parent_pid, pgid, sid, t.handle.tg.container.clone());
    {
        // The nice value and membarrier registrations (they belong to the memory, which
        // the child copies) carry over.
        let (nice, mb, oom, oom_min) = {
            let p = t.handle.tg.lock();
            (p.nice, p.membarrier, p.oom_score_adj, p.oom_score_adj_min)
        };
        let mut c = tg.lock();
        c.nice = nice;
        c.oom_score_adj = oom;
        c.oom_score_adj_min = oom_min;
        c.membarrier = mb;
    }
    {
        let creds = t.creds();
        *tg.creds.lock().unwrap_or_else(|p| p.into_inner()) = creds;
        let actions = *t
            .handle
            .tg
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut actions = actions;
        if fl & CLONE_CLEAR_SIGHAND != 0 {
            // Caught signals go back to the default; ignored ones stay ignored.
            for a in actions.iter_mut().filter(|a| a.handler > 1) {
                *a = Default::default();
            }
        }
        *tg.actions.lock().unwrap_or_else(|p| p.into_inner()) = actions;
        tg.lock().exit_signal = (fl & CSIGNAL) as u32;
    }
    handle.sig().blocked = t.handle.sig().blocked;
    *handle.sched.lock().unwrap_or_else(|p| p.into_inner()) = t.handle.sched_state().for_child();
    let child_pid = tg.pid;
    if let Some(parent) = kernel.procs().tgs.get(&parent_pid) {
        parent.lock().children.push(child_pid);
    }
    let child = child_task(
        t,
        handle,
        Arc::new(Mutex::new(child_mm)),
        fl,
        stack,
        tls,
        ctx,
    );
    if let Some(fd) = pidfd_slot {
        fill_pidfd(t, fd, tg.clone(), child_pid, false, pidfd);
    }
    start_child(t, child, fl, ptid, ctid)?;
    if fl & CLONE_VFORK != 0 {
        // The parent waits until the child has exec'd or exited.
        let ctg = tg.clone();
        let _ = waiter::block_until(
            &*t.handle,
            &[&t.handle.tg.child_wq],
            None,
            Errno::EINTR,
            || ctg.lock().vfork_released.then_some(Ok(())),
        );
    }
    Ok(child_pid as u64)
}

fn clone_thread(
    t: &mut Task,
    fl: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> SysResult<u64> {
    if fl & CLONE_SIGHAND == 0 || fl & CLONE_VM == 0 || fl & CLONE_VFORK != 0 {
        return Err(Errno::EINVAL);
    }
    let kernel = t.kernel.clone();
    let ctx = child_context(t)?;
    // From now on unmapped pages wait for a flush: another vCPU runs this space.
    t.mm().shared = true;
    let tg = t.handle.tg.clone();
    if tg.lock().group_exit.is_some() {
        return Err(Errno::EAGAIN);
    }
    let handle = kernel.new_thread(&tg);
    handle.sig().blocked = t.handle.sig().blocked;
    *handle.sched.lock().unwrap_or_else(|p| p.into_inner()) = t.handle.sched_state().for_child();
    let tid = handle.tid;
    let child = child_task(t, handle, t.mm.clone(), fl, stack, tls, ctx);
    start_child(t, child, fl, ptid, ctid)?;
    Ok(tid as u64)
}

/// After a syscall changed a memory manager shared by several threads:
/// applies the page-table changes now, frees what they unmapped, and makes
/// the other threads re-enter (hardware KVM flushes their TLBs on re-entry).
pub fn flush_shared_mm(t: &mut Task) {
    let mm_arc = t.mm.clone();
    let mut mm = mm_arc.lock().unwrap_or_else(|p| p.into_inner());
    if !mm.needs_flush() {
        return;
    }
    let space = mm.address_space().clone();
    t.quiesce_others();
    if let Err(e) = t.ctx.flush(&*space) {
        tracing::error!(error = %e, "flushing page-table changes failed");
        drop(mm);
        t.group_exit(ExitStatus::Signaled(Signal::SIGKILL));
        return;
    }
    mm.finish_flush();
    drop(mm);
    let others: Vec<_> = t.handle.tg.lock().threads.clone();
    for o in others {
        if o.tid != t.tid {
            o.kick();
        }
    }
}

/// Lets a vfork parent go on.
fn release_vfork_parent(t: &Task) {
    let tg = &t.handle.tg;
    let ppid = {
        let mut st = tg.lock();
        if st.vfork_released {
            return;
        }
        st.vfork_released = true;
        st.ppid
    };
    if let Some(p) = t.kernel.procs().tgs.get(&ppid) {
        p.child_wq.notify_all();
    }
}

/// execve(2): replaces the program of the calling process.
pub fn execve(t: &mut Task, path: &[u8], argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> SysResult<u64> {
    let kernel = t.kernel.clone();
    let cwd = t.cwd();
    let root = t.root();
    let bytes = exec::read_exec_file(t, &root, &cwd, path)?;
    let platform = kernel.platform.clone();
    let space = platform.new_address_space().map_err(|_| Errno::ENOMEM)?;
    let mut mm = MemoryManager::new(space, platform.memory().clone(), kernel.config.fault_around);
    let loaded = exec::load_program(
        t,
        &root,
        &mut mm,
        &bytes,
        &cwd,
        &ExecArgs {
            argv: &argv,
            envp: &envp,
            execfn: path,
            uid: t.creds().uid[1],
            gid: t.creds().gid[1],
        },
    )
    .map_err(|e| {
        tracing::debug!(error = %e, "execve failed");
        e.errno()
    })?;
    // Point of no return: the other threads go.
    kill_other_threads(t);
    t.mm = Arc::new(Mutex::new(mm));
    t.regs = loaded.regs;
    t.exe = loaded.exe.clone();
    t.set_comm(path);
    t.clear_child_tid = 0;
    t.robust_list = 0;
    t.handle
        .robust_list
        .store(0, std::sync::atomic::Ordering::Relaxed);
    t.handle.tg.lock().membarrier = 0;
    t.altstack = Default::default();
    // The fd table is no longer shared, and close-on-exec fds go.
    let table = t.fds().clone();
    t.fds = Arc::new(Mutex::new(table));
    t.fds().close_on_exec();
    // Caught signals return to their default action.
    {
        let mut a = t
            .handle
            .tg
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for act in a.iter_mut() {
            if act.handler > 1 {
                *act = Default::default();
            }
        }
    }
    if let Ok(fp) = exec::initial_fpu() {
        let _ = t.ctx.restore_fpu(&fp);
    }
    t.publish_info(Some(argv.join(&0u8)));
    t.publish_environ(&envp);
    t.handle.info.lock().unwrap_or_else(|p| p.into_inner()).auxv = loaded.auxv;
    release_vfork_parent(t);
    Ok(0)
}

/// execve in a multi-threaded process: every other thread exits first.
fn kill_other_threads(t: &mut Task) {
    let tg = t.handle.tg.clone();
    let others: Vec<_> = tg
        .lock()
        .threads
        .iter()
        .filter(|h| h.tid != t.tid)
        .cloned()
        .collect();
    if others.is_empty() {
        return;
    }
    for o in &others {
        o.killed.store(true, Ordering::SeqCst);
        o.kick();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tg.lock().threads.len() > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Robust futexes: every lock the dying thread still holds is marked
/// FUTEX_OWNER_DIED and one waiter is woken.
fn release_robust_list(t: &mut Task) {
    const OWNER_DIED: u32 = 0x4000_0000;
    const WAITERS: u32 = 0x8000_0000;
    const TID_MASK: u32 = 0x3fff_ffff;
    let head = t.robust_list;
    if head == 0 {
        return;
    }
    let read = |t: &Task, a: u64| t.mm().read_u64(a).ok();
    let (Some(mut entry), Some(offset), Some(pending)) = (
        read(t, head),
        read(t, head.wrapping_add(8)),
        read(t, head.wrapping_add(16)),
    ) else {
        return;
    };
    let handle = |t: &Task, e: u64| {
        let word = e.wrapping_add(offset as i64 as u64);
        let mut b = [0u8; 4];
        if t.mm().copy_in(word, &mut b).is_err() {
            return;
        }
        let v = u32::from_le_bytes(b);
        if v & TID_MASK != t.tid as u32 {
            return;
        }
        let nv = (v & WAITERS) | OWNER_DIED;
        if t.mm().copy_out(word, &nv.to_le_bytes()).is_ok() && v & WAITERS != 0 {
            if let Ok(key) = crate::kernel::futex::key_for(t, word, false) {
                t.kernel.futexes.wake(key, 1, u32::MAX);
            }
        }
    };
    for _ in 0..2048 {
        if entry == head || entry == 0 {
            break;
        }
        if entry != pending {
            handle(t, entry);
        }
        match read(t, entry) {
            Some(n) => entry = n,
            None => break,
        }
    }
    if pending != 0 {
        handle(t, pending);
    }
}

/// Tears a task down after its run loop ended: the last thread of a process
/// makes it a zombie, reparents its children and notifies its parent.
pub fn exit_task(t: &mut Task, status: ExitStatus) {
    let kernel = t.kernel.clone();
    kernel.add_stats(t);
    if t.clear_child_tid != 0
        && t.mm()
            .copy_out(t.clear_child_tid, &0u32.to_le_bytes())
            .is_ok()
    {
        let key =
            crate::kernel::futex::Key::Private(Arc::as_ptr(&t.mm) as usize, t.clear_child_tid);
        kernel.futexes.wake(key, 1, u32::MAX);
    }
    release_robust_list(t);
    release_vfork_parent(t);
    *t.handle
        .interrupter
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
    let tg = t.handle.tg.clone();
    kernel.locks.release_all(tg.pid);
    if tg.lock().threads.len() == 1 {
        // The last thread: as Linux's exit_sem and exit_mm before the
        // parent can see the zombie, the SEM_UNDO adjustments are applied
        // and the System V shared memory detached (the address space itself
        // goes when the task is dropped, after the parent was told).
        crate::kernel::ipc::sem::exit_undo(&mut kernel.ipc.sem(), tg.pid);
        t.mm().detach_shm();
    }
    let mut procs = kernel.procs();
    procs.tasks.remove(&t.tid);
    let cpu = t.handle.cpu_ns();
    let (last, ppid, children, final_status, exit_signal) = {
        let mut st = tg.lock();
        st.exited_cpu_ns += cpu;
        st.threads.retain(|h| h.tid != t.tid);
        let last = st.threads.is_empty();
        let fs = st.group_exit.unwrap_or(status);
        if last {
            st.zombie = Some(fs);
        }
        (
            last,
            st.ppid,
            if last {
                std::mem::take(&mut st.children)
            } else {
                Vec::new()
            },
            fs,
            st.exit_signal,
        )
    };
    if !last {
        // Notified without the process table held: a waiter's hook (O_ASYNC) may take it.
        drop(procs);
        tg.exit_wq.notify_all();
        return;
    }
    // (Already done above unless another thread exited at the same time.)
    crate::kernel::ipc::sem::exit_undo(&mut kernel.ipc.sem(), tg.pid);
    // Children with a parent-death signal get it.
    for c in &children {
        if let Some(ctg) = procs.tgs.get(c) {
            let sig = ctg.lock().pdeath_signal;
            if sig != 0 {
                signal::send_to_process(ctg, Signal(sig), SigInfo::kernel(sig));
            }
        }
    }
    // Reparent children to init (or drop them with init).
    if tg.pid != 1 {
        if let Some(init) = procs.tgs.get(&1).cloned() {
            let mut reaped_zombies = false;
            for c in &children {
                if let Some(ctg) = procs.tgs.get(c) {
                    let mut cs = ctg.lock();
                    cs.ppid = 1;
                    // As Linux: an orphan's exit signal becomes SIGCHLD, so a
                    // custom one (SIGKILL, SIGSTOP...) never reaches init.
                    cs.exit_signal = libc::SIGCHLD as u32;
                    reaped_zombies |= cs.zombie.is_some();
                }
            }
            init.lock().children.extend(children.iter().copied());
            if reaped_zombies {
                init.child_wq.notify_all();
            }
        }
    }
    let parent = procs.tgs.get(&ppid).cloned();
    drop(procs);
    tg.exit_wq.notify_all();
    if tg.pid == 1 {
        kernel.init_exited(final_status);
    }
    kernel.process_exited(tg.pid, final_status);
    if let Some(p) = parent {
        if exit_signal != 0 && !signal::init_ignores(&p, exit_signal) {
            let info = SigInfo::child(
                tg.pid,
                tg.creds.lock().unwrap_or_else(|p| p.into_inner()).uid[0],
                final_status,
            );
            signal::send_to_process(&p, Signal(exit_signal), info);
        }
        p.child_wq.notify_all();
    } else {
        // No parent to reap it (init's own children at shutdown): drop it.
        kernel.procs().tgs.remove(&tg.pid);
    }
}

/// wait4 options.
pub const WNOHANG: u64 = 1;
/// Report stopped children.
pub const WUNTRACED: u64 = 2;
/// Report continued children.
pub const WCONTINUED: u64 = 8;
/// Wait for all children, clone or not.
pub const WALL: u64 = 0x4000_0000;
/// Wait for clone children only.
pub const WCLONE: u64 = 0x8000_0000;
/// Wait only for children of this thread (accepted; every thread's children are the process's).
pub const WNOTHREAD: u64 = 0x2000_0000;
/// Leave the child waitable (waitid).
pub const WNOWAIT: u64 = 0x0100_0000;

/// Which children a wait selects.
#[derive(Clone, Copy, Debug)]
pub enum WaitFor {
    /// Any child.
    Any,
    /// This pid.
    Pid(i32),
    /// Children in this process group.
    Pgid(i32),
}

/// What a wait reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    /// The child ended.
    Exited(ExitStatus),
    /// The child was stopped by this signal.
    Stopped(u32),
    /// The child was continued.
    Continued,
}

impl WaitEvent {
    /// The wait(2) status word.
    pub fn status(self) -> i32 {
        match self {
            WaitEvent::Exited(e) => e.wait_status(),
            WaitEvent::Stopped(sig) => 0x7f | ((sig as i32) << 8),
            WaitEvent::Continued => 0xffff,
        }
    }
}

/// Waits for a child to change state; returns (pid, event) or None with WNOHANG.
pub fn wait_child(
    t: &mut Task,
    which: WaitFor,
    options: u64,
) -> SysResult<Option<(i32, WaitEvent)>> {
    let kernel = t.kernel.clone();
    let me = t.handle.tg.clone();
    waiter::block_until(&*t.handle, &[&me.child_wq], None, Errno::EINTR, || {
        let mut procs = kernel.procs();
        let children = me.lock().children.clone();
        let mut any = false;
        for c in children {
            let Some(ctg) = procs.tgs.get(&c).cloned() else {
                continue;
            };
            let matches = match which {
                WaitFor::Any => true,
                WaitFor::Pid(p) => p == c,
                WaitFor::Pgid(g) => ctg.lock().pgid == g,
            };
            if !matches {
                continue;
            }
            any = true;
            let z = ctg.lock().zombie;
            if let Some(st) = z {
                if options & WNOWAIT == 0 {
                    procs.tgs.remove(&c);
                    let (own, kids) = {
                        let cs = ctg.lock();
                        (cs.exited_cpu_ns, cs.children_cpu_ns)
                    };
                    let mut m = me.lock();
                    m.children.retain(|&x| x != c);
                    m.children_cpu_ns += own + kids;
                }
                return Some(Ok(Some((c, WaitEvent::Exited(st)))));
            }
            let mut cs = ctg.lock();
            if options & WUNTRACED != 0 {
                if let Some(sig) = cs.stop_report {
                    if options & WNOWAIT == 0 {
                        cs.stop_report = None;
                    }
                    return Some(Ok(Some((c, WaitEvent::Stopped(sig)))));
                }
            }
            if options & WCONTINUED != 0 && cs.cont_report {
                if options & WNOWAIT == 0 {
                    cs.cont_report = false;
                }
                return Some(Ok(Some((c, WaitEvent::Continued))));
            }
        }
        if !any {
            return Some(Err(Errno::ECHILD));
        }
        if options & WNOHANG != 0 {
            return Some(Ok(None));
        }
        None
    })
}

/// Sends `sig` to the processes `pid` selects, as kill(2).
pub fn kill(t: &mut Task, pid: i32, sig: u32) -> SysResult<u64> {
    if sig > crate::abi::NSIG {
        return Err(Errno::EINVAL);
    }
    let kernel = t.kernel.clone();
    let targets: Vec<Arc<ThreadGroup>> = {
        let procs = kernel.procs();
        let my_pgid = t.handle.tg.lock().pgid;
        let live = |tg: &&Arc<ThreadGroup>| tg.lock().zombie.is_none();
        match pid {
            p if p > 0 => procs.tgs.get(&p).into_iter().cloned().collect(),
            0 => procs
                .tgs
                .values()
                .filter(live)
                .filter(|tg| tg.lock().pgid == my_pgid)
                .cloned()
                .collect(),
            -1 => procs
                .tgs
                .values()
                .filter(live)
                .filter(|tg| tg.pid != 1 && tg.pid != t.pid)
                .cloned()
                .collect(),
            p => procs
                .tgs
                .values()
                .filter(live)
                .filter(|tg| tg.lock().pgid == -p)
                .cloned()
                .collect(),
        }
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = SigInfo::user(t.pid, t.creds().uid[0], sig);
    for tg in targets {
        // An init ignores signals it has no handler for (as Linux's init).
        if tg.pid != t.pid && signal::init_ignores(&tg, sig) {
            continue;
        }
        signal::send_to_process(&tg, Signal(sig), info);
    }
    Ok(0)
}

/// Sends `sig` from the kernel to every live process of group `pgid` (a
/// terminal's signal characters, hangup, window changes).
pub fn signal_pgrp(kernel: &Kernel, pgid: i32, sig: u32) {
    let targets: Vec<Arc<ThreadGroup>> = kernel
        .procs()
        .tgs
        .values()
        .filter(|tg| {
            let st = tg.lock();
            st.zombie.is_none() && st.pgid == pgid
        })
        .cloned()
        .collect();
    for tg in targets {
        signal::send_to_process(&tg, Signal(sig), SigInfo::kernel(sig));
    }
}

/// Marks every thread of the current process for exit.
pub fn exit_group(t: &mut Task, code: i32) {
    t.group_exit(ExitStatus::Exited(code & 0xff));
}

/// Whether `t` must stop running app code.
pub fn must_exit(t: &Task) -> bool {
    t.handle.killed.load(Ordering::SeqCst)
}

impl Kernel {
    /// Folds a finished task's counters into the kernel's.
    pub(crate) fn add_stats(&self, t: &Task) {
        let mm = t.mm();
        self.stats.exits.fetch_add(t.exits(), Ordering::Relaxed);
        self.stats
            .faults
            .fetch_add(mm.stats.faults, Ordering::Relaxed);
        self.stats
            .pages
            .fetch_add(mm.stats.pages, Ordering::Relaxed);
    }
}

/// CPU time of a whole process: its live threads and the exited ones, ns.
pub fn process_cpu_ns(tg: &ThreadGroup) -> u64 {
    let (threads, exited) = {
        let st = tg.lock();
        (st.threads.clone(), st.exited_cpu_ns)
    };
    exited + threads.iter().map(|h| h.cpu_ns()).sum::<u64>()
}
