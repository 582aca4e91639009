//! The postprocessor Lambda: audits the records Firehose writes and prints the findings.
//!
//! Firehose delivers the preprocessor's NDJSON records to S3 as gzip objects (several gzip
//! members back to back); each new object triggers this function through an S3 ObjectCreated
//! notification. The object is streamed, never held whole: the S3 body is bridged to a blocking
//! thread as a `Read`, decoded (gzip by magic bytes, plain NDJSON too) and run through the audit
//! rules of [`pipeline::audit`]. Each hit is one JSON line on stdout, which Lambda sends to
//! CloudWatch Logs, where Logs Insights queries (`infra/insights/`) read them; one EMF line per
//! rule with hits turns them into the `S3AccessLogs` / `Hits` metric the SigV2 alarm watches.
//!
//! Layout: [`config`] reads the environment once, [`handler`] is the event logic over the
//! shared [`lambda_adapter::ObjectSource`]; the AWS SDK lives in [`lambda_adapter`] only
//! ([`lambda_adapter::S3Objects`], with the same timeouts, retries and Range resume as the
//! preprocessor's reads). Logs are JSON on stderr ([`lambda_adapter::init_tracing`]), so stdout
//! carries only findings and metrics.

pub mod config;
pub mod error;
pub mod handler;

pub use config::Config;
pub use error::Error;
pub use handler::{Handler, Output, Response};
