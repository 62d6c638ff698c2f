//! sentry-core
pub mod loader;
