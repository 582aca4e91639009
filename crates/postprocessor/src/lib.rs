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
//! Layout: [`config`] reads the environment once, [`handler`] is the AWS-free event logic over
//! the [`ObjectSource`] trait, [`aws`] is the only module that touches the AWS SDK.

pub mod aws;
pub mod config;
pub mod error;
pub mod handler;

pub use aws::S3Source;
pub use config::Config;
pub use error::Error;
pub use handler::{Handler, Notification, ObjectSource, Output, Response};

/// Structured logs as JSON on stderr, so stdout carries only audit findings and metrics: the
/// two streams read differently (`cargo lambda invoke` shows them apart), while Lambda sends
/// both to the same log group. The level comes from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
