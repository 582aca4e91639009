//! S3 through the SDK: the [`ObjectSource`] both functions read with, the delivery markers'
//! store, and the one classification of SDK errors into [`Failure`] classes (the preprocessor's
//! Firehose edge uses it too).
//!
//! The client is built for Lambda: connections must come up in 3 s, a response must start within
//! 10 s, and a body that stalls for 5 s fails (and is resumed by the bridge) instead of holding
//! the invocation until its timeout. The SDK retries a failed call itself (standard mode, up to
//! five attempts with jittered backoff from 100 ms); a body that breaks after the headers is beyond
//! the SDK and is resumed by [`crate::bridge`] with a Range request.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::StalledStreamProtectionConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use crate::Error;
use crate::disposition::Failure;
use crate::event::ObjectRef;
use crate::marks::DeliveryMarks;
use crate::source::{Object, ObjectSource, Resume};

/// A connection must be up within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A response must start within this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A download that moves no bytes for this long fails (and is resumed).
pub const STALL_GRACE: Duration = Duration::from_secs(5);
/// Attempts the SDK makes for one call, the first included.
pub const SDK_ATTEMPTS: u32 = 5;

/// Error codes that mean "slow down" whatever the HTTP status.
const THROTTLING: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "ServiceUnavailableException",
    "SlowDown",
    "RequestLimitExceeded",
];

/// Objects read with `GetObject`, markers kept with `PutObject` / `HeadObject`.
#[derive(Clone, Debug)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    /// A client for the standard environment (region, credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_environment() -> Self {
        S3Objects::new(&aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// A client for `sdk`. With an endpoint override (moto, a local S3) path-style addressing is
    /// used, since `bucket.127.0.0.1` does not resolve.
    pub fn new(sdk: &SdkConfig) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build();
        let retries = RetryConfig::standard()
            .with_max_attempts(SDK_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5));
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .retry_config(retries)
            .timeout_config(timeouts)
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled()
                    .grace_period(STALL_GRACE)
                    .build(),
            )
            .build();
        S3Objects {
            client: Client::from_conf(config),
        }
    }
}

impl ObjectSource for S3Objects {
    async fn get(&self, object: &ObjectRef, resume: Option<Resume<'_>>) -> Result<Object, Error> {
        let mut request = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version.clone());
        if let Some(resume) = resume {
            request = request
                .range(format!("bytes={}-", resume.from))
                .if_match(resume.etag);
        }
        let output = request.send().await.map_err(|error| {
            let (failure, message) = classify(&error);
            Error::S3 {
                object: object.describe(),
                message,
                failure,
            }
        })?;
        Ok(Object {
            size: output
                .content_length()
                .and_then(|length| u64::try_from(length).ok()),
            start: output.content_range().and_then(range_start).unwrap_or(0),
            etag: output.e_tag().map(str::to_owned),
            body: Box::pin(output.body.into_async_read()),
        })
    }
}

/// The first byte of a `Content-Range: bytes START-END/SIZE` answer.
fn range_start(content_range: &str) -> Option<u64> {
    content_range
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Delivery markers as empty objects under a prefix of one bucket.
#[derive(Clone, Debug)]
pub struct S3Marks {
    client: Client,
    bucket: String,
}

impl S3Marks {
    /// Markers in `bucket`, written with the same client settings as `objects`.
    pub fn new(objects: &S3Objects, bucket: impl Into<String>) -> Self {
        S3Marks {
            client: objects.client.clone(),
            bucket: bucket.into(),
        }
    }
}

impl DeliveryMarks for S3Marks {
    async fn is_marked(&self, key: &str) -> Result<bool, Error> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => match classify(&error) {
                (Failure::Gone, _) => Ok(false),
                (failure, message) => Err(Error::S3 {
                    object: format!("s3://{}/{key}", self.bucket),
                    message,
                    failure,
                }),
            },
        }
    }

    async fn mark(&self, key: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                let (failure, message) = classify(&error);
                Error::S3 {
                    object: format!("s3://{}/{key}", self.bucket),
                    message,
                    failure,
                }
            })
    }
}

/// Sorts an SDK error (any service) into a failure class, with a message for logs: a service
/// error by its code and message (the full context would dump the raw response into logs and
/// Batch Operations reports), anything else by its source chain.
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> (Failure, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error.raw_response().map(|response| response.status().as_u16());
    let code = error.code();
    let failure = match error {
        SdkError::ConstructionFailure(_) => Failure::Internal,
        SdkError::DispatchFailure(failure) if failure.is_user() => Failure::Internal,
        SdkError::ServiceError(_) => service_failure(status, code),
        // Timeouts, dropped connections, unreadable responses.
        _ => Failure::Transient,
    };
    let message = match (error, code) {
        (SdkError::ServiceError(_), Some(code)) => format!(
            "{code}: {} (HTTP {})",
            error.message().unwrap_or("no message"),
            status.unwrap_or_default()
        ),
        _ => DisplayErrorContext(error).to_string(),
    };
    (failure, message)
}

/// The class of a service's error answer, by status and code.
fn service_failure(status: Option<u16>, code: Option<&str>) -> Failure {
    let code = code.unwrap_or_default();
    if matches!(code, "NoSuchKey" | "NoSuchVersion" | "NoSuchBucket" | "NotFound") || status == Some(404) {
        Failure::Gone
    } else if code == "PreconditionFailed" || status == Some(412) {
        Failure::Changed
    } else if THROTTLING.contains(&code) || status.is_some_and(|status| status >= 500 || status == 429) {
        Failure::Transient
    } else if code == "AccessDenied" || code.starts_with("KMS.") || status == Some(403) {
        Failure::Denied
    } else {
        Failure::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_by_status_and_code() {
        let cases = [
            (Some(404), Some("NoSuchKey"), Failure::Gone),
            (Some(404), Some("NoSuchBucket"), Failure::Gone),
            (Some(404), Some("NoSuchVersion"), Failure::Gone),
            (Some(404), None, Failure::Gone),
            (Some(412), Some("PreconditionFailed"), Failure::Changed),
            (Some(503), Some("SlowDown"), Failure::Transient),
            (Some(500), Some("InternalError"), Failure::Transient),
            (Some(400), Some("ThrottlingException"), Failure::Transient),
            (Some(429), None, Failure::Transient),
            (Some(403), Some("AccessDenied"), Failure::Denied),
            (Some(400), Some("KMS.DisabledException"), Failure::Denied),
            (Some(400), Some("ResourceNotFoundException"), Failure::Rejected),
            (Some(400), Some("InvalidObjectState"), Failure::Rejected),
        ];
        for (status, code, expected) in cases {
            assert_eq!(service_failure(status, code), expected, "{status:?} {code:?}");
        }
    }

    #[test]
    fn reads_the_start_of_a_content_range() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("items 1-2/3"), None);
    }
}
