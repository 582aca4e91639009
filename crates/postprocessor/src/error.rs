//! The postprocessor's one error type, and the failure class of each case.
//!
//! Bad data is never an error here: a corrupt or truncated gzip or Parquet object, a line that
//! is not a record, an object over the decoded-size cap are counted, logged with the object key
//! and line number, and the object is acknowledged, because reading the same bytes again gives
//! the same result. A Parquet object too large to spool to local storage is the exception: none
//! of it could be read, so its event is kept ([`Failure::Rejected`]), to be redriven once
//! `MAX_SPOOL_BYTES` and the function's ephemeral storage are raised. What
//! becomes of an object that did fail is decided by [`lambda_adapter::Failure::disposition`],
//! as for the preprocessor: S3 or the network failing keeps the event for retry.

use lambda_adapter::{Disposition, Failure};
use lambda_runtime::Diagnostic;

/// Why start-up or an object failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    InvalidVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it and what is accepted.
        reason: String,
    },
    /// The shared edge failed: an event that cannot be read, or reading the object from S3
    /// (gone, denied, throttled, broken beyond resuming).
    #[error(transparent)]
    Adapter(#[from] lambda_adapter::Error),
    /// The decoded bytes could not be read, or the findings could not be written.
    #[error("auditing {object} failed: {source}")]
    Read {
        /// `s3://bucket/key`.
        object: String,
        /// The engine's error.
        #[source]
        source: pipeline::Error,
    },
    /// A Parquet object is larger than `MAX_SPOOL_BYTES`, so it cannot be copied to local
    /// storage to be read.
    #[error(
        "{object} is a Parquet object of at least {size} bytes, over MAX_SPOOL_BYTES ({max}); \
         raise MAX_SPOOL_BYTES and the function's ephemeral storage, then redrive the event"
    )]
    TooLargeToSpool {
        /// `s3://bucket/key`.
        object: String,
        /// Bytes of the object (its size, or what was read when passing the cap).
        size: u64,
        /// `MAX_SPOOL_BYTES`.
        max: u64,
    },
    /// Copying a Parquet object to local storage failed (the storage is full, the download
    /// broke).
    #[error("spooling {object} to local storage failed: {source}")]
    Spool {
        /// `s3://bucket/key`.
        object: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The engine thread failed; a bug.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// The class of the failure, from which its disposition follows.
    pub fn failure(&self) -> Failure {
        match self {
            Error::InvalidVariable { .. } => Failure::Rejected,
            Error::Adapter(error) => error.failure(),
            // Damaged content is a report, not an error: what the engine still returns is an
            // I/O failure (of the download or of the findings' output).
            Error::Read { .. } | Error::Spool { .. } => Failure::Transient,
            // A retry reads the same object against the same cap: only a redeploy helps.
            Error::TooLargeToSpool { .. } => Failure::Rejected,
            Error::Internal(_) => Failure::Internal,
        }
    }

    /// What becomes of the object: [`Failure::disposition`] of its class.
    pub fn disposition(&self) -> Disposition {
        self.failure().disposition()
    }

    /// A short stable name for the kind of error, for `errorType` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidVariable { .. } => "InvalidVariable",
            Error::Adapter(lambda_adapter::Error::Event(_)) => "UnknownEvent",
            Error::Adapter(_) => "SourceError",
            Error::Read { .. } => "ReadError",
            Error::TooLargeToSpool { .. } => "TooLargeToSpool",
            Error::Spool { .. } => "SpoolError",
            Error::Internal(_) => "Internal",
        }
    }
}

/// What Lambda records as `errorType` / `errorMessage`.
impl From<Error> for Diagnostic {
    fn from(error: Error) -> Diagnostic {
        Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn every_case_has_its_class() {
        let read = |source| Error::Read {
            object: "s3://b/k".into(),
            source,
        };
        let source = |failure| {
            Error::Adapter(lambda_adapter::Error::S3 {
                object: "s3://b/k".into(),
                message: "x".into(),
                failure,
            })
        };
        let cases = [
            (source(Failure::Gone), Failure::Gone),
            (source(Failure::Transient), Failure::Transient),
            (source(Failure::Denied), Failure::Denied),
            (
                read(pipeline::Error::Io(io::Error::other("reset"))),
                Failure::Transient,
            ),
            (Error::Internal("panicked".into()), Failure::Internal),
            (
                Error::TooLargeToSpool {
                    object: "s3://b/k".into(),
                    size: 2,
                    max: 1,
                },
                Failure::Rejected,
            ),
            (
                Error::Spool {
                    object: "s3://b/k".into(),
                    source: io::Error::other("no space left on device"),
                },
                Failure::Transient,
            ),
        ];
        for (error, failure) in cases {
            assert_eq!(error.failure(), failure, "{error}");
        }
        // Access denied keeps the event, as in the preprocessor.
        assert_eq!(source(Failure::Denied).disposition(), Disposition::Retry);
        assert_eq!(source(Failure::Gone).disposition(), Disposition::Permanent);
        assert_eq!(Diagnostic::from(source(Failure::Gone)).error_type, "SourceError");
    }
}
