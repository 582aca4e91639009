//! The preprocessor's one error type, and the failure class of each case.
//!
//! What becomes of an object that failed is not decided here: [`Error::failure`] names the class
//! and [`lambda_adapter::Failure::disposition`] decides, the same for every event kind and for
//! the postprocessor. A bad line is never an error (it becomes a quarantined record), and neither
//! is content that cannot be read as lines (one quarantine record after the readable lines).

use lambda_adapter::{Disposition, Failure};
use lambda_runtime::Diagnostic;

/// Why an event, an object or a start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required environment variable is not set.
    #[error("missing required environment variable {0}")]
    MissingVariable(&'static str),
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    InvalidVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// The shared edge failed: an event (or an entry of it) that cannot be read, or reading the
    /// object from S3 (gone, denied, throttled, broken beyond resuming).
    #[error(transparent)]
    Adapter(#[from] lambda_adapter::Error),
    /// The engine could not read the object's bytes.
    #[error(transparent)]
    Read(#[from] pipeline::Error),
    /// `PutRecordBatch` failed as a whole.
    #[error("firehose: {message}")]
    Firehose {
        /// What Firehose or the connection said.
        message: String,
        /// The class of the failure (transient ones are retried in place).
        failure: Failure,
    },
    /// Records still failed after the configured number of calls.
    #[error("firehose: {entries} record(s) still failing after {attempts} attempts (last: {last})")]
    RetriesExhausted {
        /// Records not delivered.
        entries: usize,
        /// Calls made for them.
        attempts: u32,
        /// The last failure seen.
        last: String,
    },
    /// The invocation is about to time out; work stopped so the retry can be arranged.
    #[error("stopped before the invocation deadline with the object not fully delivered")]
    OutOfTime,
    /// A record could not be packed; a bug, since the ingest limits keep records packable.
    #[error("packing: {0}")]
    Pack(#[from] pipeline::packing::PackError),
    /// A background task failed or was lost.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// The class of the failure, from which its disposition follows.
    pub fn failure(&self) -> Failure {
        match self {
            Error::MissingVariable(_) | Error::InvalidVariable { .. } => Failure::Rejected,
            Error::Adapter(error) => error.failure(),
            // Content the engine cannot read as lines is a quarantine record, not an error: what
            // it still reports is an I/O failure under it, which another read may not meet.
            Error::Read(_) => Failure::Transient,
            Error::Firehose { failure, .. } => *failure,
            Error::RetriesExhausted { .. } => Failure::Transient,
            Error::OutOfTime => Failure::OutOfTime,
            Error::Pack(_) | Error::Internal(_) => Failure::Internal,
        }
    }

    /// What becomes of the object: [`Failure::disposition`] of its class.
    pub fn disposition(&self) -> Disposition {
        self.failure().disposition()
    }

    /// A short stable name for the kind of error, for `errorType` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::MissingVariable(_) => "MissingVariable",
            Error::InvalidVariable { .. } => "InvalidVariable",
            Error::Adapter(lambda_adapter::Error::Event(_)) => "UnknownEvent",
            Error::Adapter(_) => "SourceError",
            Error::Read(_) => "ReadError",
            Error::Firehose { .. } => "FirehoseError",
            Error::RetriesExhausted { .. } => "RetriesExhausted",
            Error::OutOfTime => "OutOfTime",
            Error::Pack(_) => "PackError",
            Error::Internal(_) => "Internal",
        }
    }
}

/// What Lambda records as `errorType` / `errorMessage` (and the on-failure destination keeps).
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

    fn source(failure: Failure) -> Error {
        Error::Adapter(lambda_adapter::Error::S3 {
            object: "s3://b/k".into(),
            message: failure.name().into(),
            failure,
        })
    }

    #[test]
    fn every_case_has_its_class() {
        let cases = [
            (
                Error::Adapter(lambda_adapter::Error::Event("x".into())),
                Failure::Malformed,
            ),
            (source(Failure::Gone), Failure::Gone),
            (source(Failure::Denied), Failure::Denied),
            (
                Error::Read(pipeline::Error::Io(io::Error::other("reset"))),
                Failure::Transient,
            ),
            (
                Error::Firehose {
                    message: "ResourceNotFoundException".into(),
                    failure: Failure::Rejected,
                },
                Failure::Rejected,
            ),
            (
                Error::RetriesExhausted {
                    entries: 1,
                    attempts: 2,
                    last: "x".into(),
                },
                Failure::Transient,
            ),
            (Error::OutOfTime, Failure::OutOfTime),
            (Error::Internal("lost".into()), Failure::Internal),
        ];
        for (error, failure) in cases {
            assert_eq!(error.failure(), failure, "{error}");
        }
        // Access denied keeps the event, whatever invoked the function.
        assert_eq!(source(Failure::Denied).disposition(), Disposition::Retry);
        assert_eq!(Diagnostic::from(Error::OutOfTime).error_type, "OutOfTime");
    }
}
