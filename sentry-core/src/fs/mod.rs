//! File systems and special files implemented in the sentry.

pub mod epoll;
pub mod eventfd;
pub mod locks;
pub mod pipe;
pub mod tty;
