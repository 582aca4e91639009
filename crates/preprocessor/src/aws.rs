//! The preprocessor's own AWS edge: Firehose `PutRecordBatch` as a [`RecordSink`], and the
//! clients built once at start-up. S3 is read through [`lambda_adapter::S3Objects`], shared with
//! the postprocessor.
//!
//! The Firehose client's own retries are off: the send loop retries with its own backoff, so
//! throttling, 5xx, timeouts and resets are all handled (and tested) in one place, and a
//! half-failed `PutRecordBatch` (HTTP 200 with `FailedPutCount > 0`) resends only its failed
//! entries.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::timeout::TimeoutConfig;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use lambda_adapter::{S3Marks, S3Objects};

use crate::Error;
use crate::config::Config;
use crate::sink::{FailedEntry, RecordSink};

/// Connecting should be quick; a slow connect is retried rather than waited on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The clients of one execution environment.
pub struct Clients {
    /// Where objects are read.
    pub source: S3Objects,
    /// Where records go.
    pub sink: FirehoseSink,
    /// Where delivery markers are kept, if a bucket is configured for them.
    pub marks: Option<S3Marks>,
}

/// Loads the standard AWS configuration and builds the clients.
pub async fn clients(config: &Config) -> Clients {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let source = S3Objects::new(&sdk);
    let marks = config
        .state_bucket
        .as_deref()
        .map(|bucket| S3Marks::new(&source, bucket));
    Clients {
        sink: FirehoseSink::new(&sdk, config),
        source,
        marks,
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
        // Copied, not moved: the SDK consumes its `Blob`s, and a failed entry is resent from
        // `records`.
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
            .map_err(|error| {
                let (failure, message) = lambda_adapter::s3::classify(&error);
                Error::Firehose {
                    message: format!("{}: {message}", self.stream),
                    failure,
                }
            })?;
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
