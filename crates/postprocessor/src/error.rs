//! The postprocessor's one error type, and which of its cases a retry can fix.
//!
//! Bad data is never an error here: a corrupt or truncated gzip, a line that is not a record,
//! an object over the size cap are counted, logged with the object key and line number, and the
//! invocation succeeds, because retrying the same bytes gives the same result. The handler
//! returns `Err` (so that Lambda retries the event and finally hands it to the on-failure
//! destination) only when S3 or the network failed.

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
    /// The object does not exist (deleted since the event): nothing to audit.
    #[error("object not found: {0}")]
    NotFound(String),
    /// `GetObject` failed, or the connection broke while the body was read.
    #[error("reading {object} failed: {message}")]
    Source {
        /// `s3://bucket/key`.
        object: String,
        /// What S3 or the connection said.
        message: String,
    },
    /// The decoded bytes could not be read, or the findings could not be written.
    #[error("auditing {object} failed: {source}")]
    Read {
        /// `s3://bucket/key`.
        object: String,
        /// The engine's error.
        #[source]
        source: pipeline::Error,
    },
    /// The engine thread failed; a bug.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// Whether trying the event again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Source { .. } | Error::Read { .. } | Error::Internal(_) => true,
            Error::InvalidVariable { .. } | Error::NotFound(_) => false,
        }
    }

    /// A short stable name for the kind of error, for `errorType` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidVariable { .. } => "InvalidVariable",
            Error::NotFound(_) => "NotFound",
            Error::Source { .. } => "SourceError",
            Error::Read { .. } => "ReadError",
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
    fn retries_only_what_a_retry_can_fix() {
        let read = |source| Error::Read {
            object: "s3://b/k".into(),
            source,
        };
        let cases = [
            (Error::NotFound("s3://b/k".into()), false),
            (
                Error::Source {
                    object: "s3://b/k".into(),
                    message: "503 SlowDown".into(),
                },
                true,
            ),
            (read(pipeline::Error::Io(io::Error::other("reset"))), true),
            (Error::Internal("panicked".into()), true),
        ];
        for (error, retryable) in cases {
            assert_eq!(error.is_retryable(), retryable, "{error}");
        }
        assert_eq!(
            Diagnostic::from(Error::NotFound("x".into())).error_type,
            "NotFound"
        );
    }
}
