//! The engine's one error type.

use std::io;

/// Why reading an object failed. Bad *lines* are never errors (they become quarantined records);
/// these are failures of the object as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes could not be read; a retry may help.
    #[error("read failed: {0}")]
    Io(#[source] io::Error),
    /// The object is gzip but corrupt or cut short; a retry will not help.
    #[error("corrupt or truncated gzip data: {0}")]
    CorruptGzip(#[source] io::Error),
    /// The object decompresses to more than the configured cap (a gzip bomb, or a cap set too low).
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The cap that was hit.
        limit: u64,
    },
}

impl Error {
    /// Whether trying the same object again could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(_))
    }
}
