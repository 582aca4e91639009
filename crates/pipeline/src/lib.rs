//! The AWS-free engine of the S3 access log pipeline.
//!
//! Everything between "bytes of a log object" and "records, Firehose records, audit hits"
//! lives here, so the Lambdas, the `s3logs` CLI and the tests run the same code. The Lambda
//! crates only add AWS event handling and SDK calls around it.
//!
//! The engine is synchronous and pull-based (`std::io::Read`): parsing is CPU work, so the
//! Lambdas run it on a blocking thread and stream bytes in through a bridge, while the CLI reads
//! files directly. Every buffer is bounded, so memory does not grow with object size.

pub mod audit;
pub mod decode;
pub mod emf;
mod error;
pub mod ingest;
pub mod lines;
pub mod packing;

pub use error::Error;
