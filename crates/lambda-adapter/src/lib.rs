//! The AWS edge both Lambdas share, so that they read S3 and answer failures the same way.
//!
//! ```text
//!  handler (preprocessor | postprocessor)
//!    ├─ s3::S3Objects ─▶ bridge::open ─▶ BodyReader (engine thread), resumed with Range + If-Match
//!    ├─ crate error ─▶ Failure ─▶ Disposition ─▶ answer per event kind   (disposition)
//!    ├─ event: payload -> Event (objects named), answers per event kind
//!    ├─ marks: which objects of a retried event were already delivered
//!    └─ logging::init_tracing, emf (metric lines), clock (epoch ms, deadline), event_key
//! ```
//!
//! `aws_sdk_s3` types stay in [`s3`], `aws_lambda_events` types in [`event`]; everything else works on the [`ObjectSource`] and
//! [`DeliveryMarks`] traits, so unit tests drive the same code from memory and integration tests
//! from moto through the fault proxy.

pub mod backoff;
pub mod bridge;
mod chunk_pool;
pub mod clock;
pub mod disposition;
mod error;
pub mod event;
pub mod event_key;
pub mod logging;
pub mod marks;
pub mod s3;
pub mod source;

/// CloudWatch Embedded Metric Format lines. The engine's audit writes them too (and the CLI's
/// audit shares that code), so the implementation stays in the engine and is re-exported here
/// for the functions.
pub use pipeline::emf;

pub use backoff::Backoff;
pub use bridge::{BodyReader, Download, ReadSettings, Transfer};
pub use disposition::{BatchResultCode, Disposition, Failure};
pub use error::Error;
pub use event::{BatchJob, Event, Message, ObjectRef, Target, Task, sqs_answer};
pub use logging::init_tracing;
pub use marks::{DeliveryMarks, mark_key};
pub use s3::{S3Marks, S3Objects};
pub use source::{Body, Object, ObjectSource, Resume};
