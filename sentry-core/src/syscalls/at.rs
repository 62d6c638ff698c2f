//! Where a path lookup of an `*at` call starts: the `dirfd` convention
//! shared by the file families.

use crate::errno::SysResult;
use crate::kernel::Task;
use crate::vfs::{Start, Vfs};

pub(super) const AT_FDCWD: i32 = libc::AT_FDCWD;

pub(super) const AT_SYMLINK_NOFOLLOW: u32 = libc::AT_SYMLINK_NOFOLLOW as u32;

pub(super) const AT_EMPTY_PATH: u32 = libc::AT_EMPTY_PATH as u32;

/// Runs `f` with the lookup start for `dirfd` and `path`.
pub(super) fn at<T>(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    f: impl FnOnce(&Vfs, &Start<'_>) -> SysResult<T>,
) -> SysResult<T> {
    let fs = t.root();
    if path.first() == Some(&b'/') || dirfd == AT_FDCWD {
        f(&fs, &Start::cwd(t, &t.cwd()))
    } else {
        let dir = t.fds().file(dirfd.into())?;
        f(&fs, &Start::dir(t, &dir))
    }
}
