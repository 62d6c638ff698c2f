//! Host side of gvisor-rs.
