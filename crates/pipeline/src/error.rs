//! The engine's one error type.

use std::io;

/// Why reading an object failed. Bad *lines* are never errors (they become quarantined records),
/// and neither is content that cannot be read as lines (a truncated gzip tail, an unsupported
/// compression, bytes past the size cap): that becomes one quarantine record after the readable
/// lines (see [`crate::decode::Unreadable`]). What is left is a failure of the reader or writer
/// itself, which a retry may fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The underlying reader (network, disk) or the output failed.
    #[error("I/O failed: {0}")]
    Io(#[source] io::Error),
}
