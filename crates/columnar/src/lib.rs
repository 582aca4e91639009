//! Parquet files of S3 server access log records, with AWS's native field names as columns.
//!
//! The NDJSON record of `docs/record.md` keeps its keys; this crate is its columnar form. One
//! table ([`COLUMNS`]) names every column (AWS's native names, such as `request_time` and
//! `http_status`, then ours, such as `record_id` and `raw_line`), its Glue and Parquet types
//! and the record key it maps to. [`ParquetWriter`] writes rows from raw log lines or from
//! records with bounded memory; [`RecordReader`] turns a file back into the very records the
//! line would have given, so everything that reads records reads Parquet too. [`NativeEncoder`]
//! turns AWS's own native JSON records into those records, through the same table.
//!
//! No I/O of its own beyond the `Write` and `ChunkReader` it is handed, no async, no AWS types:
//! the CLI and the Lambdas choose where bytes go.
//!
//! ```
//! use columnar::{ParquetWriter, RecordReader, WriterOptions, is_parquet};
//!
//! let line = br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;
//! let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
//! writer.write_line("s3://logs/2019-02-06-00-00-38-EXAMPLE", line).unwrap();
//! let file = bytes::Bytes::from(writer.finish().unwrap());
//! assert!(is_parquet(&file));
//!
//! let mut records = Vec::new();
//! RecordReader::new(file).unwrap().next_records(&mut records).unwrap();
//! let mut expected = Vec::new();
//! s3_access_log::RecordEncoder::new("s3://logs/2019-02-06-00-00-38-EXAMPLE").encode(line, &mut expected);
//! assert_eq!(records, expected);
//! ```

mod batch;
mod columns;
mod dictionary;
mod error;
mod native;
mod read;
mod record;
mod schema;
mod write;

pub use columns::{COLUMNS, Column, ColumnId, Kind, NATIVE_ONLY, Origin, field_column};
pub use error::Error;
pub use native::{NativeEncoder, is_native_record};
pub use read::{NdjsonRead, RecordReader, is_parquet};
pub use schema::parquet_schema;
pub use write::{Codec, ParquetWriter, WriteStats, WriterOptions};
