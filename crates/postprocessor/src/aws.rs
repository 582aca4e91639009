//! The only module that talks to AWS: `GetObject`, with the body bridged to a blocking `Read`.
//!
//! The audit engine is synchronous CPU work, so it runs on a blocking thread; the body is
//! handed to it through tokio-util's `SyncIoBridge`, which waits on the async stream from that
//! thread. The object is never held whole in memory: what is in flight is the SDK's buffers and
//! the engine's fixed line buffer.

use std::io::Read;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use tokio_util::io::SyncIoBridge;

use crate::Error;
use crate::handler::ObjectSource;

/// Objects read from S3.
#[derive(Clone, Debug)]
pub struct S3Source {
    client: Client,
}

impl S3Source {
    /// A source with the Lambda's own credentials and region.
    pub async fn from_environment() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        S3Source::new(Client::new(&config))
    }

    /// A source using `client` (tests point it at moto_server).
    pub fn new(client: Client) -> Self {
        S3Source { client }
    }
}

impl ObjectSource for S3Source {
    async fn open(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send>, Error> {
        let object = format!("s3://{bucket}/{key}");
        let response = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| match &error {
                SdkError::ServiceError(service) if matches!(service.err(), GetObjectError::NoSuchKey(_)) => {
                    Error::NotFound(object.clone())
                }
                _ => Error::Source {
                    object: object.clone(),
                    message: DisplayErrorContext(&error).to_string(),
                },
            })?;
        // Pinned on the heap so the bridge gets an `Unpin` reader whatever the SDK returns.
        let body = Box::pin(response.body.into_async_read());
        Ok(Box::new(SyncIoBridge::new(body)))
    }
}
