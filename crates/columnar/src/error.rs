//! Why a Parquet file could not be written or read.
//!
//! Bad log lines are never errors here: they become rows with `parse_error` and `raw_line`.
//! Errors are for what the caller must see: an output that cannot be written, an input that is
//! not a Parquet file of ours, or an NDJSON record that is not a record.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Parquet library failed (I/O underneath, or a corrupt file).
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The file's schema lacks a column of ours, or has it with another type.
    #[error("not a file of S3 access log records: {0}")]
    Schema(String),
    /// An NDJSON line that is not a record of `docs/record.md`.
    #[error("not a record: {0}")]
    Record(String),
}
