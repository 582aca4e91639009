//! The AWS side: S3 `GetObject` as an [`ObjectSource`], Firehose `PutRecordBatch` as a
//! [`RecordSink`]. The only module that knows the SDK.
//!
//! Both clients come from the standard environment (region, credentials, `AWS_ENDPOINT_URL`,
//! which tests point at moto). The SDK's own retries are off: the delivery loop retries with its
//! own backoff, so throttling, 5xx, timeouts and resets are all handled (and tested) in one
//! place, and a half-failed `PutRecordBatch` (HTTP 200 with `FailedPutCount > 0`) resends only
//! its failed entries.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_firehose::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;

use crate::Error;
use crate::config::Config;
use crate::deliver::{FailedEntry, Object, ObjectSource, RecordSink};

/// Connecting should be quick; a slow connect is retried rather than waited on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Error codes that mean "slow down" whatever the HTTP status.
const THROTTLING: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "ServiceUnavailableException",
    "SlowDown",
    "RequestLimitExceeded",
];

/// Loads the standard AWS configuration and builds both clients.
pub async fn clients(config: &Config) -> (S3Source, FirehoseSink) {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    (S3Source::new(&sdk), FirehoseSink::new(&sdk, config))
}

/// Reads objects with `GetObject`.
#[derive(Clone, Debug)]
pub struct S3Source {
    client: aws_sdk_s3::Client,
}

impl S3Source {
    /// A client for `sdk`. With an endpoint override (moto, a local S3) path-style addressing is
    /// used, since `bucket.127.0.0.1` does not resolve.
    pub fn new(sdk: &SdkConfig) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
            .build();
        S3Source {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }
}

impl ObjectSource for S3Source {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, Error> {
        match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => Ok(Object {
                size: output
                    .content_length()
                    .and_then(|length| u64::try_from(length).ok()),
                body: Box::pin(output.body.into_async_read()),
            }),
            Err(error) => Err(classify(
                &error,
                || format!("s3://{bucket}/{key}"),
                ErrorSide::Source,
            )),
        }
    }
}

/// Sends records with `PutRecordBatch` to one delivery stream.
#[derive(Clone, Debug)]
pub struct FirehoseSink {
    client: aws_sdk_firehose::Client,
    stream: String,
}

impl FirehoseSink {
    /// A client for `sdk` sending to `config.delivery_stream`; an attempt is abandoned after
    /// `config.tuning.attempt_timeout`.
    pub fn new(sdk: &SdkConfig, config: &Config) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(config.tuning.attempt_timeout)
            .build();
        let client_config = aws_sdk_firehose::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        FirehoseSink {
            client: aws_sdk_firehose::Client::from_conf(client_config),
            stream: config.delivery_stream.clone(),
        }
    }
}

impl RecordSink for FirehoseSink {
    async fn put_batch(&self, records: &[Vec<u8>]) -> Result<Vec<FailedEntry>, Error> {
        let entries = records
            .iter()
            .map(|record| Record::builder().data(Blob::new(record.clone())).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Error::Internal(error.to_string()))?;
        let output = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|error| classify(&error, || self.stream.clone(), ErrorSide::Sink))?;
        if output.failed_put_count() == 0 {
            return Ok(Vec::new());
        }
        let responses = output.request_responses();
        let failed: Vec<FailedEntry> = responses
            .iter()
            .enumerate()
            .filter_map(|(index, response)| {
                response.error_code().map(|code| FailedEntry {
                    index,
                    code: code.to_owned(),
                })
            })
            .collect();
        if responses.len() == records.len() && !failed.is_empty() {
            return Ok(failed);
        }
        // A failure count without a matching per-entry answer: resend everything rather than
        // guess (duplicates are removable, lost lines are not).
        Ok((0..records.len())
            .map(|index| FailedEntry {
                index,
                code: "UnmatchedResponse".to_owned(),
            })
            .collect())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ErrorSide {
    Source,
    Sink,
}

/// Sorts an SDK error into the crate's errors: what is transient (retried by the delivery
/// loop) and, for S3, what means the object is gone.
fn classify<E>(error: &SdkError<E, HttpResponse>, what: impl Fn() -> String, side: ErrorSide) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error.raw_response().map(|response| response.status().as_u16());
    let code = error.code();
    let retryable = match error {
        SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(failure) => !failure.is_user(),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => {
            status.is_some_and(|status| status >= 500 || status == 429)
                || code.is_some_and(|code| THROTTLING.contains(&code))
        }
        _ => true,
    };
    // A service error says enough in its code and message (the full context would dump the raw
    // response into logs and Batch Operations reports); the others need their source chain.
    let message = match (error, code) {
        (SdkError::ServiceError(_), Some(code)) => format!(
            "{}: {code}: {} (HTTP {})",
            what(),
            error.message().unwrap_or("no message"),
            status.unwrap_or_default()
        ),
        _ => format!("{}: {}", what(), DisplayErrorContext(error)),
    };
    let missing = status == Some(404) || matches!(code, Some("NoSuchKey" | "NoSuchBucket"));
    match side {
        ErrorSide::Source if missing => Error::NotFound(message),
        // Any other S3 failure (including access denied or a KMS key) keeps the event: once the
        // permission is fixed a retry delivers the object.
        ErrorSide::Source => Error::Source { message, retryable },
        ErrorSide::Sink => Error::Firehose { message, retryable },
    }
}
