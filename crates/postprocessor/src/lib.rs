//! The postprocessor Lambda: audits the records Firehose writes and prints the findings.
//!
//! Firehose delivers the preprocessor's NDJSON records to S3 as gzip objects (several gzip
//! members back to back), or, with `OutputFormat=parquet`, converted into Parquet objects of
//! the `columnar` table; each new object triggers this function through an S3 ObjectCreated
//! notification. The format is told by the object's first bytes, never by its key. A gzip or
//! plain NDJSON object is streamed, never held whole: the S3 body is bridged to a blocking
//! thread as a `Read`, decoded and run through the audit rules of [`pipeline::audit`]. A
//! Parquet object is read from its footer, so it is first copied to ephemeral storage
//! ([`spool`], at most `MAX_SPOOL_BYTES`) and then read row group by row group, back into the
//! same records. Either way each hit is one JSON line on stdout, identical for the same
//! records, which Lambda sends to CloudWatch Logs, where Logs Insights queries
//! (`infra/insights/`) read them; one EMF line per rule with hits turns them into the
//! `S3AccessLogs` / `Hits` metric the SigV2 alarm watches.
//!
//! Layout: [`config`] reads the environment once, [`handler`] is the event logic over the
//! shared [`lambda_adapter::ObjectSource`], [`spool`] copies a Parquet object to local disk;
//! the AWS SDK lives in [`lambda_adapter`] only ([`lambda_adapter::S3Objects`], with the same
//! timeouts, retries and Range resume as the preprocessor's reads). Logs are JSON on stderr ([`lambda_adapter::init_tracing`]), so stdout
//! carries only findings and metrics.

pub mod config;
pub mod error;
pub mod handler;
pub mod spool;

pub use config::Config;
pub use error::Error;
pub use handler::{Handler, Output, Response};
