//! The preprocessor Lambda: raw S3 server access log objects in, NDJSON records out to Firehose.
//!
//! ```text
//! event (S3 | SQS | EventBridge | Batch Operations)
//!   └─ lambda_adapter::Event  which objects, keys decoded
//!      └─ handler:: skips, per object one disposition, answered per event kind; delivery markers
//!         └─ deliver:: lambda_adapter::bridge ─▶ produce (engine thread) ─▶ send (PutRecordBatch, retried)
//!            └─ stats::, metrics:: counts gathered one way, EMF lines
//! ```
//!
//! Only [`aws`] and the shared [`lambda_adapter`] know the AWS SDK; the rest works on the
//! [`lambda_adapter::ObjectSource`] and [`RecordSink`] traits, so the same engine is driven by
//! tests, benches and the Lambda runtime alike.

pub mod aws;
pub mod config;
pub mod deliver;
mod error;
pub mod handler;
pub mod metrics;
mod produce;
mod send;
pub mod sink;
pub mod stats;

pub use config::{Config, Tuning};
pub use error::Error;
pub use handler::{Handler, Invocation};
pub use metrics::Totals;
pub use sink::{FailedEntry, RecordSink};
pub use stats::Delivery;
