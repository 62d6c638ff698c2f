//! Where a path lookup of an `*at` call starts: the `dirfd` convention
//! shared by the file families.

use crate::errno::SysResult;
use crate::kernel::Task;
use crate::vfs::{Start, Vfs};

pub(super) const AT_FDCWD: i32 = libc::AT_FDCWD;

pub(super) const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;

pub(super) const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

/// Runs `f` with the lookup start for `dirfd` and `path`.
pub(super) fn at<T>(
    t: &Task,
    dirfd: u64,
    path: &[u8],
    f: impl FnOnce(&Vfs, &Start<'_>) -> SysResult<T>,
) -> SysResult<T> {
    let fs = t.root();
    let d = dirfd as i32;
    if path.first() == Some(&b'/') || d == AT_FDCWD {
        f(&fs, &Start::Cwd(&t.cwd()))
    } else {
        let dir = t.fds().file(d as i64)?;
        f(&fs, &Start::Dir(&dir))
    }
}
