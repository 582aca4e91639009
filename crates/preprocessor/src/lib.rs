//! The preprocessor Lambda: raw S3 server access log objects in, NDJSON records out to Firehose.
//!
//! ```text
//! event (S3 | SQS | EventBridge | Batch Operations)
//!   └─ event::      which objects, keys decoded, skips decided
//!      └─ deliver:: GetObject stream ─▶ pipeline (parse, pack, batch) ─▶ PutRecordBatch, retried
//!         └─ handler:: answer per event kind, one summary log per object, one EMF line
//! ```
//!
//! Only [`aws`] knows the AWS SDK; the rest works on the [`ObjectSource`] and [`RecordSink`]
//! traits, so the same engine is driven by tests, benches and the Lambda runtime alike.

pub mod aws;
pub mod config;
pub mod deliver;
mod error;
pub mod event;
pub mod handler;
pub mod retry;

pub use config::{Config, Tuning};
pub use deliver::{FailedEntry, Object, ObjectSource, RecordSink};
pub use error::Error;
pub use handler::{Handler, Invocation, Totals};
