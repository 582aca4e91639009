//! Amazon S3 server access log lines: parse them, and write them as JSON records.
//!
//! This crate is the format and nothing else: no I/O, no async, no AWS types. The pipeline
//! (`pipeline` crate), the Lambdas and the `s3logs` CLI all turn lines into records through
//! [`RecordEncoder`], so a line gives the same record wherever it is processed.
//!
//! ```
//! use s3_access_log::{parse, RecordEncoder};
//!
//! let line = br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;
//! let record = parse(line).unwrap();
//! assert_eq!(record.operation, Some(&b"REST.GET.VERSIONING"[..]));
//! assert_eq!(record.field_count, 27);
//!
//! let mut json = Vec::new();
//! RecordEncoder::new("s3://logs/2019-02-06-00-00-38-EXAMPLE").encode(line, &mut json);
//! assert!(json.starts_with(b"{\"SchemaVersion\":1,\"RecordId\":\""));
//! ```

mod error;
mod field;
mod json;
mod parse;
mod render;
pub mod schema;
mod time;

pub use error::{ErrorKind, ParseError};
pub use field::Field;
pub use json::{
    KeyStyle, Outcome, RecordEncoder, SCHEMA_VERSION, is_blank, record_id, record_id_text, write_json_string,
};
pub use parse::{LogRecord, parse, parse_partial, trim_end};
pub use time::LogTime;
