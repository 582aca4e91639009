//! AWS's native structured server access log records (JSON, one per line, as AWS delivers them
//! to S3 or CloudWatch Logs) into the NDJSON records of `docs/record.md`, so every rule of the
//! audit runs on natively delivered logs too.
//!
//! The mapping is the column table itself: each column of [`COLUMNS`] that comes from a log
//! field has its native name, and a native record's value under that name becomes the record's
//! value under the column's record key. A corrected native name is therefore one line in
//! `columns.rs`, for the Parquet files and for this conversion alike. Of the native fields no
//! column names, the two AWS documents that a text line has no counterpart for
//! (`schema_version_id`, the marker, and `bucket_arn`) are left out; any other (a field AWS adds)
//! is kept in `ExtraFields` as `name=value`, as a text line's fields past the known ones are, so
//! nothing AWS delivers is dropped.
//!
//! Values: `request_time` is ISO 8601 (`2026-06-01T12:34:56.789Z`; an offset is honoured) and
//! becomes the record's `YYYY-MM-DD HH:MM:SS` in UTC, milliseconds dropped as the text log has
//! none; numbers may also come as strings of digits; `null`, an absent field and `-` (the text
//! log's "no value") are null, as in a record from a text line. A record that is not JSON, a
//! JSON object without `schema_version_id` (a line of something else in a file of native
//! records), or a field of the wrong type gives a record with `ParseError` naming it and the
//! native line in `RawLine` (the other fields are kept), so nothing is lost. `RecordId` hashes the native line
//! as it does a text line, and `LogFile` names the file the records came from.

use s3_access_log::{KeyStyle, LogTime, SCHEMA_VERSION, record_id, record_id_text, write_json_string};
use serde_json::{Map, Value};

use crate::columns::{COLUMNS, ColumnId, Kind, RECORD_ORDER};

/// The field that marks a native record: AWS's schema version, which no record of ours has.
const MARKER: &str = "schema_version_id";

/// Native fields AWS documents that have no column, since a text line has no counterpart: the
/// marker, and the bucket's ARN (its name is `bucket_name`).
const DOCUMENTED_WITHOUT_COLUMN: [&str; 2] = [MARKER, "bucket_arn"];

/// Whether `line` is one of AWS's native records: a JSON object with `schema_version_id`.
pub fn is_native_record(line: &[u8]) -> bool {
    serde_json::from_slice::<Map<String, Value>>(line.trim_ascii())
        .is_ok_and(|fields| fields.contains_key(MARKER))
}

/// Writes the records of native lines read from one file.
#[derive(Clone, Debug)]
pub struct NativeEncoder {
    log_file: String,
    style: KeyStyle,
}

/// A record's value of one column, converted from the native field.
enum Converted {
    Null,
    Text(String),
    Number(u64),
    Time(LogTime),
    /// `ExtraFields`: the native fields nothing else takes, as `name=value`.
    List(Vec<String>),
}

impl NativeEncoder {
    /// An encoder for native lines read from `log_file` (`s3://bucket/key`, or a local path).
    pub fn new(log_file: &str) -> Self {
        NativeEncoder::with_style(log_file, KeyStyle::Full)
    }

    /// An encoder writing its records in `style`, as `s3_access_log::RecordEncoder` does.
    pub fn with_style(log_file: &str, style: KeyStyle) -> Self {
        NativeEncoder {
            log_file: log_file.to_owned(),
            style,
        }
    }

    /// Appends the record of one native line (without its terminator) and a `\n` to `out`.
    /// Returns whether the record is quarantined (carries `ParseError` and `RawLine`).
    pub fn encode(&self, line: &[u8], out: &mut Vec<u8>) -> bool {
        // Of the line as given: `record_id` takes off the one `\r` that ends a CRLF line.
        let line_id = record_id(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut values: Vec<Converted> = COLUMNS.iter().map(|_| Converted::Null).collect();
        let mut errors = Vec::new();
        match serde_json::from_slice::<Map<String, Value>>(line) {
            Ok(fields) => {
                if !fields.contains_key(MARKER) {
                    errors.push(format!("no {MARKER}, so not one of AWS's native records"));
                }
                for column in COLUMNS.iter().filter(|column| column.field.is_some()) {
                    match convert(column.kind, fields.get(column.name)) {
                        Ok(value) => values[column.id as usize] = value,
                        Err(wanted) => errors.push(format!("{}: not {wanted}", column.name)),
                    }
                }
                let extra = unknown_fields(&fields);
                if !extra.is_empty() {
                    values[ColumnId::ExtraFields as usize] = Converted::List(extra);
                }
            }
            Err(error) => errors.push(format!("not a JSON object: {error}")),
        }
        let reason = (!errors.is_empty()).then(|| format!("AWS native record: {}", errors.join("; ")));
        self.write(line, line_id, &values, reason.as_deref(), out);
        reason.is_some()
    }

    /// Writes the record of `line`, whose record id is `line_id`, in the encoder's key order
    /// (keys that do not apply left out).
    fn write(
        &self,
        line: &[u8],
        line_id: u64,
        values: &[Converted],
        reason: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        out.push(b'{');
        for (index, &(id, always_present)) in RECORD_ORDER.iter().enumerate() {
            let quarantine = matches!(id, ColumnId::ParseError | ColumnId::RawLine);
            let listed = matches!(values[id as usize], Converted::List(_));
            let applies = always_present || listed || (quarantine && reason.is_some());
            let null = matches!(values[id as usize], Converted::Null) && id.column().field.is_some();
            let unnamed_object = id == ColumnId::LogFile && !self.style.writes_log_file(reason.is_some());
            if !applies || unnamed_object || (null && !self.style.writes_nulls()) {
                continue;
            }
            if index > 0 {
                out.push(b',');
            }
            let key = match self.style {
                KeyStyle::Full => id.column().record_key,
                // RECORD_ORDER is the order of the record's key table, so the index is the key's.
                KeyStyle::Compact => s3_access_log::schema::COLUMNS[index].compact_name,
            };
            write_json_string(out, key.as_bytes());
            out.push(b':');
            match id {
                ColumnId::SchemaVersion => write_number(out, u64::from(SCHEMA_VERSION)),
                ColumnId::RecordId => write_json_string(out, &record_id_text(line_id)),
                ColumnId::LogFile => write_json_string(out, self.log_file.as_bytes()),
                ColumnId::ParseError => write_json_string(out, reason.unwrap_or_default().as_bytes()),
                ColumnId::RawLine => write_json_string(out, line),
                _ => match &values[id as usize] {
                    Converted::Null => out.extend_from_slice(b"null"),
                    Converted::Text(text) => write_json_string(out, text.as_bytes()),
                    Converted::Number(number) => write_number(out, *number),
                    Converted::Time(time) => self.style.write_time(out, *time),
                    Converted::List(items) => {
                        out.push(b'[');
                        for (index, item) in items.iter().enumerate() {
                            if index > 0 {
                                out.push(b',');
                            }
                            write_json_string(out, item.as_bytes());
                        }
                        out.push(b']');
                    }
                },
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The fields of a native record that neither a column nor [`DOCUMENTED_WITHOUT_COLUMN`] names,
/// as `name=value` in name order: a string as it is, any other value as its JSON text. A null
/// carries no value, as a null column does not, and is left out.
fn unknown_fields(fields: &Map<String, Value>) -> Vec<String> {
    fields
        .iter()
        .filter(|(name, value)| {
            !value.is_null()
                && !DOCUMENTED_WITHOUT_COLUMN.contains(&name.as_str())
                && !COLUMNS
                    .iter()
                    .any(|column| column.field.is_some() && column.name == name.as_str())
        })
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}={text}"),
            other => format!("{name}={other}"),
        })
        .collect()
}

/// Converts a native field's value for a column of `kind`; on a mismatch, says what was wanted.
fn convert(kind: Kind, value: Option<&Value>) -> Result<Converted, &'static str> {
    let value = match value {
        None | Some(Value::Null) => return Ok(Converted::Null),
        Some(Value::String(text)) if text == "-" => return Ok(Converted::Null),
        Some(value) => value,
    };
    match (kind, value) {
        (Kind::Text, Value::String(text)) => Ok(Converted::Text(text.clone())),
        (Kind::Text, Value::Number(_) | Value::Bool(_)) => Ok(Converted::Text(value.to_string())),
        (Kind::Int32 | Kind::Int64, Value::Number(number)) => number
            .as_u64()
            .map(Converted::Number)
            .ok_or("a whole number of 0 or more"),
        (Kind::Int32 | Kind::Int64, Value::String(text)) => text
            .parse()
            .map(Converted::Number)
            .map_err(|_| "a whole number of 0 or more"),
        (Kind::Timestamp, Value::String(text)) => parse_iso8601(text)
            .map(Converted::Time)
            .ok_or("an ISO 8601 time (2026-06-01T12:34:56.789Z)"),
        (Kind::Int32 | Kind::Int64, _) => Err("a whole number of 0 or more"),
        (Kind::Timestamp, _) => Err("an ISO 8601 time (2026-06-01T12:34:56.789Z)"),
        (Kind::Text | Kind::TextList, _) => Err("a string"),
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS`, optional fraction of a second, then `Z` or an offset
/// (`+HH:MM`, `+HHMM`); the fraction is dropped.
fn parse_iso8601(text: &str) -> Option<LogTime> {
    let bytes = text.as_bytes();
    let mut date_time: [u8; 19] = bytes.get(..19)?.try_into().ok()?;
    if date_time[10] != b'T' && date_time[10] != b't' {
        return None;
    }
    date_time[10] = b' ';
    let mut time = LogTime::parse_utc(&date_time).ok()?;
    let mut rest = &bytes[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    time.offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let number = |digits: [u8; 2]| -> Option<i16> {
                let text = std::str::from_utf8(&digits).ok()?;
                text.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse().ok())?
            };
            let (hours, minutes) = (number([*h1, *h2])?, number([*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    Some(time)
}

fn write_number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A native record written by hand from AWS's documented fields (docs/record.md, "AWS's
    /// native records"); the names past `http_status` are those AWS lists without their types.
    const NATIVE: &str = r#"{"schema_version_id":"V_1_0","bucket_arn":"arn:aws:s3:::amzn-s3-demo-bucket1","bucket_name":"amzn-s3-demo-bucket1","request_time":"2019-02-06T00:00:38.123Z","bucket_owner_id":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be","remote_ip":"192.0.2.3","requester":null,"request_id":"3E57427F3EXAMPLE","operation":"REST.GET.VERSIONING","key_name":null,"request_uri":"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1","http_status":200,"error_code":null,"bytes_sent_size":113,"object_size":null,"total_duration":7,"turn_around_duration":null,"referer":null,"user_agent":"S3Console/0.4","version_id":null,"host_id":"s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=","signature_version":"SigV2","cipher_suite":"ECDHE-RSA-AES128-GCM-SHA256","authentication_type":"AuthHeader","host_header":"amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com","tls_version":"TLSv1.2","access_point_arn":null,"acl_required":null,"source_region":"us-east-1"}"#;

    /// The text log line of the same request, anonymous, as S3 writes it.
    const TEXT: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSv1.2 - - us-east-1"#;

    fn encode(line: &str) -> (serde_json::Value, bool) {
        let mut out = Vec::new();
        let quarantined = NativeEncoder::new("native.json").encode(line.as_bytes(), &mut out);
        assert!(out.ends_with(b"}\n"));
        (serde_json::from_slice(&out).unwrap(), quarantined)
    }

    #[test]
    fn only_the_last_carriage_return_ends_a_line() {
        // A CRLF line's `\r` is not part of it; a `\r` before that one is, in the id as in
        // a text line's record.
        let encoder = NativeEncoder::new("native.json");
        let id_of = |line: &str| {
            let mut out = Vec::new();
            encoder.encode(line.as_bytes(), &mut out);
            serde_json::from_slice::<Value>(&out).unwrap()["RecordId"].clone()
        };
        assert_eq!(id_of(&format!("{NATIVE}\r")), id_of(NATIVE));
        assert_eq!(
            id_of(&format!("{NATIVE}\r\r")),
            format!(
                "{:016x}",
                xxhash_rust::xxh3::xxh3_64(format!("{NATIVE}\r").as_bytes())
            )
        );
    }

    #[test]
    fn a_native_record_becomes_the_record_of_the_same_text_line() {
        assert!(is_native_record(NATIVE.as_bytes()));
        let mut out = Vec::new();
        assert!(!NativeEncoder::new("native.json").encode(NATIVE.as_bytes(), &mut out));
        let mut expected = Vec::new();
        s3_access_log::RecordEncoder::new("native.json").encode(TEXT.as_bytes(), &mut expected);
        let mut record: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mut expected: serde_json::Value = serde_json::from_slice(&expected).unwrap();
        // The id hashes the line it came from, which differs; everything else is the same,
        // keys in the same order.
        assert_eq!(
            record["RecordId"],
            format!("{:016x}", record_id(NATIVE.as_bytes()))
        );
        record["RecordId"] = Value::Null;
        expected["RecordId"] = Value::Null;
        let keys = |value: &serde_json::Value| -> Vec<String> {
            value.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(record, expected);
        let text = String::from_utf8(out).unwrap();
        let order: Vec<&str> = s3_access_log::schema::COLUMNS
            .iter()
            .filter(|key| key.always_present)
            .map(|key| key.name)
            .collect();
        let mut at = 0;
        for key in &order {
            let found = text[at..]
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} in {text}"));
            at += found;
        }
        assert_eq!(keys(&record).len(), order.len());
    }

    #[test]
    fn a_compact_native_record_is_the_compact_record_of_the_same_text_line() {
        let mut out = Vec::new();
        NativeEncoder::with_style("native.json", KeyStyle::Compact).encode(NATIVE.as_bytes(), &mut out);
        let mut expected = Vec::new();
        s3_access_log::RecordEncoder::with_style("native.json", KeyStyle::Compact)
            .encode(TEXT.as_bytes(), &mut expected);
        let ids = [record_id(NATIVE.as_bytes()), record_id(TEXT.as_bytes())].map(|id| format!("{id:016x}"));
        let expected = String::from_utf8(expected).unwrap().replace(&ids[1], &ids[0]);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert!(expected.contains(",\"t\":1549411238,"), "{expected}");
        assert!(!expected.contains("null"), "{expected}");
        assert!(
            !expected.contains("\"j\":"),
            "a parsed compact record names no object: {expected}"
        );

        let mut quarantined = Vec::new();
        NativeEncoder::with_style("native.json", KeyStyle::Compact)
            .encode(br#"{"bucket_name":"b"}"#, &mut quarantined);
        let record: serde_json::Value = serde_json::from_slice(&quarantined).unwrap();
        assert!(record["pe"].is_string(), "{record}");
        assert_eq!(record["j"], "native.json", "a quarantined one does");
    }

    #[test]
    fn values_convert_by_the_column_kind() {
        let cases: &[(&str, &str, serde_json::Value)] = &[
            (
                r#""request_time":"2026-06-01T12:34:56.789Z""#,
                "Timestamp",
                "2026-06-01 12:34:56".into(),
            ),
            (
                r#""request_time":"2026-06-01T12:34:56Z""#,
                "Timestamp",
                "2026-06-01 12:34:56".into(),
            ),
            (
                r#""request_time":"2026-06-01T00:30:00.5+01:00""#,
                "Timestamp",
                "2026-05-31 23:30:00".into(),
            ),
            (
                r#""request_time":"2026-06-01T23:30:00-0100""#,
                "Timestamp",
                "2026-06-02 00:30:00".into(),
            ),
            (r#""http_status":"404""#, "HTTPstatus", 404.into()),
            (r#""bytes_sent_size":"-""#, "BytesSent", Value::Null),
            (r#""requester":"-""#, "Requester", Value::Null),
            (
                r#""requester":"arn:aws:iam::123456789012:user/a""#,
                "Requester",
                "arn:aws:iam::123456789012:user/a".into(),
            ),
            (r#""acl_required":true"#, "AclRequired", "true".into()),
            (
                r#""key_name":"photos/a%20b.jpg""#,
                "Key",
                "photos/a%20b.jpg".into(),
            ),
        ];
        for (field, key, expected) in cases {
            let (record, quarantined) = encode(&format!(r#"{{"schema_version_id":"V_1_0",{field}}}"#));
            assert!(!quarantined, "{field}: {record}");
            assert_eq!(&record[key], expected, "{field}");
        }
    }

    #[test]
    fn what_does_not_convert_is_quarantined_with_the_line() {
        let cases = [
            (
                r#"{"schema_version_id":"V_1_0","http_status":"OK","bucket_name":"b"}"#,
                "http_status: not a whole number",
            ),
            (
                r#"{"schema_version_id":"V_1_0","request_time":"06/Feb/2019:00:00:38"}"#,
                "request_time: not an ISO 8601 time",
            ),
            (
                r#"{"schema_version_id":"V_1_0","request_time":"2019-02-06T00:00:38"}"#,
                "request_time: not an ISO 8601 time",
            ),
            (
                r#"{"schema_version_id":"V_1_0","operation":["a"]}"#,
                "operation: not a string",
            ),
            (r#"{"schema_version_id":"V_1_0","#, "not a JSON object"),
            (r#"{"bucket_name":"b","http_status":200}"#, "no schema_version_id"),
        ];
        for (line, reason) in cases {
            let (record, quarantined) = encode(line);
            assert!(quarantined, "{line}");
            let error = record["ParseError"].as_str().unwrap();
            assert!(
                error.starts_with("AWS native record: ") && error.contains(reason),
                "{error}"
            );
            assert_eq!(record["RawLine"], line);
            assert_eq!(record["LogFile"], "native.json");
        }
        // The fields that did convert are kept.
        let (record, _) = encode(cases[0].0);
        assert_eq!(record["Bucket"], "b");
        assert_eq!(record["HTTPstatus"], Value::Null);
    }

    #[test]
    fn only_records_with_the_schema_version_are_native() {
        for (line, native) in [
            (NATIVE, true),
            (r#"{"SchemaVersion":1,"RecordId":"00"}"#, false),
            (r#"{"schema_version_id":"V_1_0"} trailing"#, false),
            (TEXT, false),
            ("", false),
        ] {
            assert_eq!(is_native_record(line.as_bytes()), native, "{line}");
        }
    }

    #[test]
    fn fields_aws_adds_are_kept_in_extra_fields() {
        let line = NATIVE.replace(
            r#""source_region":"us-east-1"}"#,
            r#""source_region":"us-east-1","zz_new":"v 1","aa_new":{"k":[1,2]},"nothing":null}"#,
        );
        let (record, quarantined) = encode(&line);
        assert!(!quarantined, "{record}");
        assert_eq!(
            record["ExtraFields"],
            serde_json::json!([r#"aa_new={"k":[1,2]}"#, "zz_new=v 1"])
        );
        assert_eq!(record["SourceRegion"], "us-east-1");
        // The documented fields without a column add nothing.
        let (record, _) = encode(NATIVE);
        assert!(record.get("ExtraFields").is_none(), "{record}");

        let mut out = Vec::new();
        NativeEncoder::with_style("native.json", KeyStyle::Compact).encode(line.as_bytes(), &mut out);
        let compact: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            compact["xf"],
            serde_json::json!([r#"aa_new={"k":[1,2]}"#, "zz_new=v 1"])
        );
    }
}
