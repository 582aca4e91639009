//! The adapter's one error type: what reading an event, an object from S3 or a marker can fail
//! with, each case carrying its [`Failure`] class so the policy is decided from it.

use crate::disposition::Failure;

/// Why an S3 call or an object's download failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An S3 call failed; `failure` says how (gone, denied, transient, changed, rejected).
    #[error("{object}: {message}")]
    S3 {
        /// `s3://bucket/key`.
        object: String,
        /// What S3 or the connection said.
        message: String,
        /// The class of the failure.
        failure: Failure,
    },
    /// A payload, or an entry of it, is none of the event kinds the functions are wired to.
    #[error("unrecognized event: {0}")]
    Event(String),
    /// The body broke and could not be resumed within the allowed number of resumes.
    #[error("{object}: the download broke after {received} bytes and {resumes} resume(s): {message}")]
    Broken {
        /// `s3://bucket/key`.
        object: String,
        /// Bytes received before it broke for the last time.
        received: u64,
        /// Range requests made to continue it.
        resumes: u32,
        /// The last break.
        message: String,
    },
}

impl Error {
    /// The class of the failure, for the disposition.
    pub fn failure(&self) -> Failure {
        match self {
            Error::S3 { failure, .. } => *failure,
            Error::Broken { .. } => Failure::Transient,
            Error::Event(_) => Failure::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_download_is_transient_and_says_where_it_broke() {
        let error = Error::Broken {
            object: "s3://b/k".into(),
            received: 42,
            resumes: 3,
            message: "connection reset".into(),
        };
        assert_eq!(error.failure(), Failure::Transient);
        assert!(
            error.to_string().contains("after 42 bytes and 3 resume(s)"),
            "{error}"
        );
        let denied = Error::S3 {
            object: "s3://b/k".into(),
            message: "AccessDenied".into(),
            failure: Failure::Denied,
        };
        assert_eq!(denied.failure(), Failure::Denied);
    }
}
