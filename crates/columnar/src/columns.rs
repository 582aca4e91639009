//! The one table of columns: every column of the Parquet files and the Glue table, in AWS's
//! native names where AWS has the field, then our own.
//!
//! Everything else derives from [`COLUMNS`]: the Parquet schema ([`crate::schema`]), the writer's
//! row buffers, the reader's mapping back to the NDJSON record of `docs/record.md`, and the
//! mapping table in that document (a test holds the two equal). A name AWS corrects, or one we
//! confirm later, is a change of one line here.
//!
//! AWS's names come from the S3 user guide page "Log format in CloudWatch Logs"
//! (`sal-cw-log-format`), whose table, as far as it could be read here, gives the fields up to
//! `http_status` with their types ([`Origin::Native`]). The fields after it are named by AWS's
//! list of the record fields of an S3 server access log delivery (the AWS CDK reference's
//! `CfnBucketS3ServerAccessLogsRecordFields`), which gives names but no types
//! ([`Origin::NameOnly`]): three of them differ from the text format's field names
//! (`bytes_sent_size`, `total_duration`, `turn_around_duration`).

use std::sync::LazyLock;

use s3_access_log::Field;

/// Which column of [`COLUMNS`] a value belongs to; the discriminant is its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnId {
    /// `bucket_name`.
    BucketName,
    /// `request_time`.
    RequestTime,
    /// `bucket_owner_id`.
    BucketOwnerId,
    /// `remote_ip`.
    RemoteIp,
    /// `requester`.
    Requester,
    /// `request_id`.
    RequestId,
    /// `operation`.
    Operation,
    /// `key_name`.
    KeyName,
    /// `request_uri`.
    RequestUri,
    /// `http_status`.
    HttpStatus,
    /// `error_code`.
    ErrorCode,
    /// `bytes_sent_size`.
    BytesSent,
    /// `object_size`.
    ObjectSize,
    /// `total_duration`.
    TotalTime,
    /// `turn_around_duration`.
    TurnAroundTime,
    /// `referer`.
    Referer,
    /// `user_agent`.
    UserAgent,
    /// `version_id`.
    VersionId,
    /// `host_id`.
    HostId,
    /// `signature_version`.
    SignatureVersion,
    /// `cipher_suite`.
    CipherSuite,
    /// `authentication_type`.
    AuthenticationType,
    /// `host_header`.
    HostHeader,
    /// `tls_version`.
    TlsVersion,
    /// `access_point_arn`.
    AccessPointArn,
    /// `acl_required`.
    AclRequired,
    /// `source_region`.
    SourceRegion,
    /// `schema_version`.
    SchemaVersion,
    /// `record_id`.
    RecordId,
    /// `extra_fields`.
    ExtraFields,
    /// `log_file`.
    LogFile,
    /// `parse_error`.
    ParseError,
    /// `raw_line`.
    RawLine,
}

/// What a column holds, which fixes its Glue type and its Parquet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text: Glue `string`, Parquet `BYTE_ARRAY` annotated `STRING`.
    Text,
    /// Glue `int`, Parquet `INT32`.
    Int32,
    /// Glue `bigint`, Parquet `INT64`.
    Int64,
    /// An instant in UTC with millisecond precision: Glue `timestamp`, Parquet `INT64`
    /// annotated `TIMESTAMP(MILLIS, isAdjustedToUTC=true)`.
    Timestamp,
    /// Glue `array<string>`, Parquet three-level `LIST` of optional `STRING`.
    TextList,
}

impl Kind {
    /// The type as Glue and Athena DDL spell it.
    pub const fn glue_type(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Int32 => "int",
            Kind::Int64 => "bigint",
            Kind::Timestamp => "timestamp",
            Kind::TextList => "array<string>",
        }
    }

    /// The Parquet physical type and logical annotation, as `docs/record.md` spells them.
    pub const fn parquet_type(self) -> &'static str {
        match self {
            Kind::Text => "BYTE_ARRAY (STRING)",
            Kind::Int32 => "INT32",
            Kind::Int64 => "INT64",
            Kind::Timestamp => "INT64 (TIMESTAMP(MILLIS, UTC))",
            Kind::TextList => "LIST of BYTE_ARRAY (STRING)",
        }
    }
}

/// Where a column's name comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A field of AWS's native structured records, read in AWS's field table, with the type
    /// AWS gives it there.
    Native(&'static str),
    /// A field of AWS's native records whose name AWS's list of the delivery's record fields
    /// gives, but whose type could not be read in AWS's table; ours is the text format's.
    NameOnly,
    /// Our own column, with no native counterpart.
    Ours,
}

/// One column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Which column this is (its index in [`COLUMNS`]).
    pub id: ColumnId,
    /// Column name in Parquet and Glue.
    pub name: &'static str,
    /// The key of the same value in the NDJSON record (`docs/record.md`).
    pub record_key: &'static str,
    /// The text log field it comes from, if any.
    pub field: Option<Field>,
    /// What it holds.
    pub kind: Kind,
    /// Where the name comes from.
    pub origin: Origin,
    /// When it is null, in a few words for `docs/record.md`.
    pub nulls: &'static str,
    /// Whether the value is URL-encoded, in a few words (`no` when it is not).
    pub url_encoding: &'static str,
    /// Whether the writer may dictionary-encode it: yes for columns whose values can repeat,
    /// where the writer then keeps a dictionary in each row group only if it makes the chunk
    /// smaller (`crate::dictionary`); no where every value is new by nature (ids, keys, raw
    /// lines), which spares counting their values.
    pub dictionary: bool,
}

const NATIVE_STRING: Origin = Origin::Native("string");
const NAME_ONLY: Origin = Origin::NameOnly;
const DASH: &str = "`-` in the log";
const NOT_ENCODED: &str = "no";

#[allow(clippy::too_many_arguments)] // One call per table row reads best with positional values.
const fn column(
    id: ColumnId,
    name: &'static str,
    field: Option<Field>,
    record_key: &'static str,
    kind: Kind,
    origin: Origin,
    nulls: &'static str,
    url_encoding: &'static str,
    dictionary: bool,
) -> Column {
    Column {
        id,
        name,
        record_key,
        field,
        kind,
        origin,
        nulls,
        url_encoding,
        dictionary,
    }
}

const fn text(id: ColumnId, name: &'static str, field: Field, origin: Origin, dictionary: bool) -> Column {
    column(
        id,
        name,
        Some(field),
        field.json_key(),
        Kind::Text,
        origin,
        DASH,
        NOT_ENCODED,
        dictionary,
    )
}

const fn number(id: ColumnId, name: &'static str, field: Field, kind: Kind, origin: Origin) -> Column {
    column(
        id,
        name,
        Some(field),
        field.json_key(),
        kind,
        origin,
        DASH,
        NOT_ENCODED,
        true,
    )
}

use ColumnId as C;
use Field as F;

/// Every column, in file order: AWS's native fields in the order of AWS's table, then ours.
pub const COLUMNS: [Column; 33] = [
    text(C::BucketName, "bucket_name", F::Bucket, NATIVE_STRING, true),
    column(
        C::RequestTime,
        "request_time",
        Some(F::Timestamp),
        "Timestamp",
        Kind::Timestamp,
        Origin::Native("string, ISO 8601 with milliseconds in UTC (`timestamptz` in S3 Tables)"),
        "`-` or unreadable in the log",
        NOT_ENCODED,
        false,
    ),
    text(
        C::BucketOwnerId,
        "bucket_owner_id",
        F::BucketOwner,
        NATIVE_STRING,
        true,
    ),
    text(C::RemoteIp, "remote_ip", F::RemoteIp, NATIVE_STRING, true),
    column(
        C::Requester,
        "requester",
        Some(F::Requester),
        "Requester",
        Kind::Text,
        NATIVE_STRING,
        "anonymous request (`-` in the log)",
        NOT_ENCODED,
        true,
    ),
    text(C::RequestId, "request_id", F::RequestId, NATIVE_STRING, false),
    text(C::Operation, "operation", F::Operation, NATIVE_STRING, true),
    column(
        C::KeyName,
        "key_name",
        Some(F::Key),
        "Key",
        Kind::Text,
        NATIVE_STRING,
        "no object in the request (`-`)",
        "yes, as logged (`%2F`, `+`, ...)",
        false,
    ),
    column(
        C::RequestUri,
        "request_uri",
        Some(F::RequestUri),
        "RequestURI",
        Kind::Text,
        NATIVE_STRING,
        "`\"-\"` in the log",
        "as the client sent it",
        false,
    ),
    number(
        C::HttpStatus,
        "http_status",
        F::HttpStatus,
        Kind::Int32,
        Origin::Native("int"),
    ),
    text(C::ErrorCode, "error_code", F::ErrorCode, NAME_ONLY, true),
    number(
        C::BytesSent,
        "bytes_sent_size",
        F::BytesSent,
        Kind::Int64,
        NAME_ONLY,
    ),
    number(
        C::ObjectSize,
        "object_size",
        F::ObjectSize,
        Kind::Int64,
        NAME_ONLY,
    ),
    number(
        C::TotalTime,
        "total_duration",
        F::TotalTime,
        Kind::Int64,
        NAME_ONLY,
    ),
    number(
        C::TurnAroundTime,
        "turn_around_duration",
        F::TurnAroundTime,
        Kind::Int64,
        NAME_ONLY,
    ),
    column(
        C::Referer,
        "referer",
        Some(F::Referrer),
        "Referrer",
        Kind::Text,
        NAME_ONLY,
        "`\"-\"` in the log",
        "as the client sent it",
        true,
    ),
    text(C::UserAgent, "user_agent", F::UserAgent, NAME_ONLY, true),
    text(C::VersionId, "version_id", F::VersionId, NAME_ONLY, false),
    text(C::HostId, "host_id", F::HostId, NAME_ONLY, false),
    text(
        C::SignatureVersion,
        "signature_version",
        F::SignatureVersion,
        NAME_ONLY,
        true,
    ),
    text(C::CipherSuite, "cipher_suite", F::CipherSuite, NAME_ONLY, true),
    text(
        C::AuthenticationType,
        "authentication_type",
        F::AuthenticationType,
        NAME_ONLY,
        true,
    ),
    text(C::HostHeader, "host_header", F::HostHeader, NAME_ONLY, true),
    text(C::TlsVersion, "tls_version", F::TlsVersion, NAME_ONLY, true),
    text(
        C::AccessPointArn,
        "access_point_arn",
        F::AccessPointArn,
        NAME_ONLY,
        true,
    ),
    column(
        C::AclRequired,
        "acl_required",
        Some(F::AclRequired),
        "AclRequired",
        Kind::Text,
        NAME_ONLY,
        "no ACL was needed (`-`)",
        NOT_ENCODED,
        true,
    ),
    text(C::SourceRegion, "source_region", F::SourceRegion, NAME_ONLY, true),
    column(
        C::SchemaVersion,
        "schema_version",
        None,
        "SchemaVersion",
        Kind::Int32,
        Origin::Ours,
        "never",
        NOT_ENCODED,
        true,
    ),
    column(
        C::RecordId,
        "record_id",
        None,
        "RecordId",
        Kind::Text,
        Origin::Ours,
        "never",
        NOT_ENCODED,
        false,
    ),
    column(
        C::ExtraFields,
        "extra_fields",
        None,
        "ExtraFields",
        Kind::TextList,
        Origin::Ours,
        "no fields past the last known one",
        NOT_ENCODED,
        true,
    ),
    column(
        C::LogFile,
        "log_file",
        None,
        "LogFile",
        Kind::Text,
        Origin::Ours,
        "a parsed line Firehose converted (compact records name no object)",
        "no (`s3://bucket/key` as the key reads)",
        true,
    ),
    column(
        C::ParseError,
        "parse_error",
        None,
        "ParseError",
        Kind::Text,
        Origin::Ours,
        "line parsed cleanly",
        NOT_ENCODED,
        true,
    ),
    column(
        C::RawLine,
        "raw_line",
        None,
        "RawLine",
        Kind::Text,
        Origin::Ours,
        "line parsed cleanly",
        NOT_ENCODED,
        false,
    ),
];

/// AWS's native fields that no text log line carries, so no column of ours holds them: the
/// union view with natively delivered records fills them with `NULL` on our side.
pub const NATIVE_ONLY: [&str; 2] = ["schema_version_id", "bucket_arn"];

impl ColumnId {
    /// The column's entry in [`COLUMNS`].
    pub const fn column(self) -> &'static Column {
        &COLUMNS[self as usize]
    }
}

/// The column of each text log field, indexed by the field's position minus one.
pub(crate) const FIELD_COLUMNS: [ColumnId; 27] = {
    let mut ids = [ColumnId::BucketName; 27];
    let mut index = 0;
    while index < COLUMNS.len() {
        if let Some(field) = COLUMNS[index].field {
            ids[field as usize] = COLUMNS[index].id;
        }
        index += 1;
    }
    ids
};

/// Our columns in the order their keys appear in an NDJSON record
/// (`s3_access_log::schema::COLUMNS`), each with whether the key is written when the value is
/// null.
pub(crate) static RECORD_ORDER: LazyLock<[(ColumnId, bool); COLUMNS.len()]> = LazyLock::new(|| {
    let mut order = [(ColumnId::RecordId, true); COLUMNS.len()];
    for (slot, key) in order.iter_mut().zip(s3_access_log::schema::COLUMNS) {
        if let Some(column) = COLUMNS.iter().find(|column| column.record_key == key.name) {
            *slot = (column.id, key.always_present);
        }
    }
    order
});

/// The column of a text log field.
pub const fn field_column(field: Field) -> ColumnId {
    FIELD_COLUMNS[field as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_indexes() {
        for (index, column) in COLUMNS.iter().enumerate() {
            assert_eq!(column.id as usize, index, "{}", column.name);
        }
    }

    #[test]
    fn every_log_field_has_its_column() {
        for field in Field::ALL {
            let column = field_column(field).column();
            assert_eq!(column.field, Some(field));
            assert_eq!(column.record_key, field.json_key());
        }
    }

    #[test]
    fn every_record_key_has_one_column_of_its_type() {
        use s3_access_log::schema::ColumnType;
        for key in s3_access_log::schema::COLUMNS {
            let matching: Vec<_> = COLUMNS.iter().filter(|c| c.record_key == key.name).collect();
            assert_eq!(matching.len(), 1, "{}", key.name);
            let expected = match key.column_type {
                ColumnType::Int => Kind::Int32,
                ColumnType::BigInt => Kind::Int64,
                ColumnType::String => Kind::Text,
                ColumnType::Timestamp => Kind::Timestamp,
                ColumnType::StringArray => Kind::TextList,
            };
            assert_eq!(matching[0].kind, expected, "{}", key.name);
        }
        assert_eq!(COLUMNS.len(), s3_access_log::schema::COLUMNS.len());
    }

    #[test]
    fn aws_types_agree_with_ours() {
        for column in &COLUMNS {
            if let Origin::Native(aws_type) = column.origin {
                let agrees = match column.kind {
                    Kind::Int32 => aws_type == "int",
                    // AWS delivers times as ISO 8601 strings; we store the instant.
                    Kind::Text | Kind::Timestamp => aws_type.starts_with("string"),
                    Kind::Int64 | Kind::TextList => false,
                };
                assert!(agrees, "{}: AWS says {aws_type}", column.name);
            }
        }
    }

    #[test]
    fn record_order_is_the_encoders() {
        let keys: Vec<&str> = RECORD_ORDER
            .iter()
            .map(|(id, _)| id.column().record_key)
            .collect();
        let expected: Vec<&str> = s3_access_log::schema::COLUMNS
            .iter()
            .map(|key| key.name)
            .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn names_are_unique_snake_case() {
        for (index, column) in COLUMNS.iter().enumerate() {
            assert!(
                column.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                column.name
            );
            assert!(
                COLUMNS[..index].iter().all(|other| other.name != column.name),
                "{} twice",
                column.name
            );
            assert!(!NATIVE_ONLY.contains(&column.name));
        }
    }
}
