//! The file implementations behind the [`crate::vfs`] interfaces: the file
//! systems a sandbox mounts (the gofer-backed root and its overlay, tmpfs,
//! host fds, devfs, sysfs, single-file binds) and the special files that
//! live in no file system (pipes, terminals, epoll, eventfd). procfs, which
//! shows the kernel's state, sits above the kernel in [`crate::procfs`].

pub mod devfs;
pub mod epoll;
pub mod eventfd;
pub mod filemount;
pub mod gofer;
pub mod host;
pub mod inotify;
pub mod overlay;
pub mod pipe;
pub mod synthetic;
pub mod sysfs;
pub mod tmpfs;
pub mod tty;
