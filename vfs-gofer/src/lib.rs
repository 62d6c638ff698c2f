//! The gofer protocol, server and client. Not built yet: in the foundation the sentry reads the host filesystem directly, read-only, behind `sentry_core::vfs::FileSystem`.
