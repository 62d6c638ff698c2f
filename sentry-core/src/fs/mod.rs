//! File systems and special files implemented in the sentry.

pub mod pipe;
