//! System V IPC (shared memory, semaphores, message queues) and POSIX
//! message queues (the objects live in `kernel::ipc`; this file only
//! decodes the arguments).

use crate::errno::SysResult;
use crate::kernel::ipc::{mqueue, msg, sem, shm};
use crate::kernel::Task;

use super::Args;

pub(crate) fn shmget(t: &mut Task, a: &Args) -> SysResult<u64> {
    shm::shmget(t, a.int(0), a.len(1) as u64, a.int(2))
}

pub(crate) fn shmat(t: &mut Task, a: &Args) -> SysResult<u64> {
    shm::shmat(t, a.int(0), a.ptr(1), a.int(2))
}

pub(crate) fn shmdt(t: &mut Task, a: &Args) -> SysResult<u64> {
    shm::shmdt(t, a.ptr(0))
}

pub(crate) fn shmctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    shm::shmctl(t, a.int(0), a.int(1), a.ptr(2))
}

pub(crate) fn semget(t: &mut Task, a: &Args) -> SysResult<u64> {
    sem::semget(t, a.int(0), a.int(1), a.int(2))
}

pub(crate) fn semop(t: &mut Task, a: &Args) -> SysResult<u64> {
    sem::semtimedop(t, a.int(0), a.ptr(1), a.uint(2), 0)
}

pub(crate) fn semtimedop(t: &mut Task, a: &Args) -> SysResult<u64> {
    sem::semtimedop(t, a.int(0), a.ptr(1), a.uint(2), a.ptr(3))
}

pub(crate) fn semctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    sem::semctl(t, a.int(0), a.int(1), a.int(2), a.raw(3))
}

pub(crate) fn msgget(t: &mut Task, a: &Args) -> SysResult<u64> {
    msg::msgget(t, a.int(0), a.int(1))
}

pub(crate) fn msgsnd(t: &mut Task, a: &Args) -> SysResult<u64> {
    msg::msgsnd(t, a.int(0), a.ptr(1), a.long(2), a.int(3))
}

pub(crate) fn msgrcv(t: &mut Task, a: &Args) -> SysResult<u64> {
    msg::msgrcv(t, a.int(0), a.ptr(1), a.long(2), a.long(3), a.int(4))
}

pub(crate) fn msgctl(t: &mut Task, a: &Args) -> SysResult<u64> {
    msg::msgctl(t, a.int(0), a.int(1), a.ptr(2))
}

pub(crate) fn mq_open(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_open(t, a.ptr(0), a.int(1), a.uint(2), a.ptr(3))
}

pub(crate) fn mq_unlink(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_unlink(t, a.ptr(0))
}

pub(crate) fn mq_timedsend(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_timedsend(t, a.int(0), a.ptr(1), a.len(2) as u64, a.uint(3), a.ptr(4))
}

pub(crate) fn mq_timedreceive(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_timedreceive(t, a.int(0), a.ptr(1), a.len(2) as u64, a.ptr(3), a.ptr(4))
}

pub(crate) fn mq_notify(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_notify(t, a.int(0), a.ptr(1))
}

pub(crate) fn mq_getsetattr(t: &mut Task, a: &Args) -> SysResult<u64> {
    mqueue::mq_getsetattr(t, a.int(0), a.ptr(1), a.ptr(2))
}
