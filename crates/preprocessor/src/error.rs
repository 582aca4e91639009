//! The preprocessor's one error type, and which of its cases a retry can fix.
//!
//! The handler returns an error to Lambda only when trying again can help: then Lambda's own
//! retries, the SQS redrive or the on-failure destination keep the event, so no line is lost.
//! A bad line is never an error (it becomes a quarantined record).

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
    /// The payload is none of the event kinds this function is wired to.
    #[error("unrecognized event: {0}")]
    UnknownEvent(String),
    /// The object does not exist (deleted since the event, or a wrong key): nothing to deliver.
    #[error("object not found: {0}")]
    NotFound(String),
    /// `GetObject` failed.
    #[error("reading the object failed: {message}")]
    Source {
        /// What S3 or the connection said.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// The object's bytes could not be read or decoded.
    #[error(transparent)]
    Read(#[from] pipeline::Error),
    /// `PutRecordBatch` failed as a whole.
    #[error("firehose: {message}")]
    Firehose {
        /// What Firehose or the connection said.
        message: String,
        /// Whether a retry may succeed (throttling, 5xx, timeouts, dropped connections).
        retryable: bool,
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
    /// Whether trying the same call again soon may succeed: throttling, 5xx, timeouts, dropped
    /// connections. The delivery loop retries these itself.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Source { retryable, .. } | Error::Firehose { retryable, .. } => *retryable,
            Error::Read(_) | Error::RetriesExhausted { .. } | Error::OutOfTime | Error::Internal(_) => true,
            Error::MissingVariable(_)
            | Error::InvalidVariable { .. }
            | Error::UnknownEvent(_)
            | Error::NotFound(_)
            | Error::Pack(_) => false,
        }
    }

    /// Whether the object itself can never be delivered (gone, or refused by the packer), so keeping
    /// the event for a retry would only repeat the failure. Every other error leaves lines
    /// undelivered that a later retry can deliver, so the event must be kept.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Error::NotFound(_) | Error::Pack(_))
    }

    /// A short stable name for the kind of error, for `errorType` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::MissingVariable(_) => "MissingVariable",
            Error::InvalidVariable { .. } => "InvalidVariable",
            Error::UnknownEvent(_) => "UnknownEvent",
            Error::NotFound(_) => "NotFound",
            Error::Source { .. } => "SourceError",
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

    #[test]
    fn retries_only_what_a_retry_can_fix() {
        let cases = [
            (Error::MissingVariable("X"), false),
            (Error::NotFound("s3://b/k".into()), false),
            (Error::Read(pipeline::Error::Io(io::Error::other("reset"))), true),
            (
                Error::Source {
                    message: "503".into(),
                    retryable: true,
                },
                true,
            ),
            (
                Error::Firehose {
                    message: "ResourceNotFound".into(),
                    retryable: false,
                },
                false,
            ),
            (Error::OutOfTime, true),
        ];
        for (error, retryable) in cases {
            assert_eq!(error.is_retryable(), retryable, "{error}");
        }
        let permanent = [
            (Error::NotFound("s3://b/k".into()), true),
            (
                Error::Firehose {
                    message: "ResourceNotFound".into(),
                    retryable: false,
                },
                false,
            ),
            (Error::OutOfTime, false),
        ];
        for (error, expected) in permanent {
            assert_eq!(error.is_permanent(), expected, "{error}");
        }
        let diagnostic = Diagnostic::from(Error::OutOfTime);
        assert_eq!(diagnostic.error_type, "OutOfTime");
    }
}
