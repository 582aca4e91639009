//! Golden records: every shape of the S3 server access log format, and every trap in it.
//!
//! Each case is a log file in `tests/data/<case>.log`, written by us with the shape of real
//! lines, and `tests/data/<case>.json` holds the records it must become, in order, as the record
//! contract defines them. [`check`] runs every line of a case through both code paths and
//! compares each with the golden record:
//!
//! * `RecordEncoder::encode`, the writer the pipeline uses, whose output is compared key by key
//!   (as `serde_json::Value`) and for key order;
//! * `parse_partial`, turned into a record here with serde_json, independently of the crate's
//!   writer, so a bug in either shows up as a difference.
//!
//! `RecordId` is recomputed with `xxhash-rust` directly from the line bytes.
//!
//! After an intended change of output, `BLESS=1 cargo test -p s3-access-log --test golden`
//! rewrites the `.json` files from the encoder; review the diff before committing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use s3_access_log::schema::{COLUMNS, ColumnType};
use s3_access_log::{ErrorKind, Field, LogRecord, Outcome, ParseError, RecordEncoder, parse, parse_partial};
use serde_json::{Map, Value, json};
use xxhash_rust::xxh3::xxh3_64;

/// Written into every record as `LogFile`.
const LOG_FILE: &str = "s3://example-access-logs/logs/2026-04-14-09-20-00-0123456789ABCDEF";

/// What each line of a case must give, besides its golden record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A clean record of a line with this many of the 27 known fields.
    Parsed(usize),
    /// A record with `ParseError` naming this field and kind, and the whole line in `RawLine`.
    Quarantined(Field, ErrorKind),
}

use Expect::{Parsed, Quarantined};

/// One test per case: `name => [what each non-blank line gives]`.
macro_rules! golden {
    ($($name:ident => [$($expect:expr),* $(,)?],)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), &[$($expect),*]);
            }
        )*
    };
}

golden! {
    // Every generation of the format, and fields AWS has not defined yet.
    fields_17_2009 => [Parsed(17)],
    fields_18_version_id => [Parsed(18)],
    fields_24_2019 => [Parsed(24)],
    fields_25_access_point => [Parsed(25)],
    fields_26_acl_required => [Parsed(26)],
    fields_27_source_region => [Parsed(27)],
    fields_28_unknown_trailing => [Parsed(27)],
    fields_31_unknown_trailing => [Parsed(27)],

    // Quotes inside quoted fields: S3 does not escape them.
    quote_in_request_uri => [Parsed(24)],
    quote_escaped_in_request_uri => [Parsed(26)],
    quote_doubled_after_user_agent => [Parsed(24)],
    quote_leading_in_user_agent => [Parsed(26)],
    quote_escaped_in_user_agent => [Parsed(26)],
    quote_doubled_in_referrer => [Parsed(18)],
    spaces_in_referrer_and_user_agent => [Parsed(18)],

    // `-` and `"-"`, and the records S3 writes for itself.
    request_uri_quoted_dash => [Parsed(26)],
    batch_delete_bare_dashes => [Parsed(24)],
    copy_object_get_bare_dashes => [Parsed(26)],
    copy_object_get_18_fields => [Parsed(18)],
    lifecycle_expire => [Parsed(26)],
    lifecycle_transition_version => [Parsed(24)],
    log_delivery_dash_ip_and_status => [Parsed(25)],

    // Numbers.
    sizes_above_u32 => [Parsed(26)],
    size_bigint_max => [Parsed(26)],
    size_beyond_bigint => [Quarantined(Field::ObjectSize, ErrorKind::OutOfRange)],
    size_beyond_u64 => [Quarantined(Field::ObjectSize, ErrorKind::OutOfRange)],
    bytes_sent_not_a_number => [Quarantined(Field::BytesSent, ErrorKind::NotANumber)],
    http_status_out_of_range => [Quarantined(Field::HttpStatus, ErrorKind::OutOfRange)],

    // Requesters and operations.
    requester_cloudfront_oai_with_spaces => [Parsed(26)],
    requester_96_hex_canonical_id => [Parsed(26)],
    operation_four_parts_uuid_request_id => [Parsed(27)],
    operation_soap_2010 => [Parsed(18)],
    website_get_object => [Parsed(17)],

    // Addresses and endpoints.
    remote_ip_ipv6 => [Parsed(27)],
    host_header_with_port_plain_http => [Parsed(27)],
    host_header_custom_cname => [Parsed(24)],
    sigv2_tls11_uppercase => [Parsed(24)],

    // S3-compatible producers (Scality, OVHcloud, OneFS, Ceph): their own requesters, operations, hosts.
    s3_compatible_producers => [Parsed(27), Parsed(26)],
    // Dell PowerScale OneFS quotes the Host header: the User-Agent still ends where it does.
    host_header_quoted => [Parsed(26), Parsed(26), Parsed(26)],
    // Ceph's bucket logging: durations with their unit, keys not URL-encoded, a bare Referer.
    ceph_bucket_logging => [Parsed(26), Parsed(26), Parsed(26)],

    // The time: offsets are applied, so the record is UTC.
    time_offset_negative => [Parsed(17)],
    time_offset_across_leap_day => [Parsed(26)],
    time_offset_across_year => [Parsed(26)],
    time_offset_half_hour => [Parsed(26)],
    time_dash => [Parsed(26)],
    time_without_offset => [Quarantined(Field::Timestamp, ErrorKind::BadTime)],
    time_impossible_date => [Quarantined(Field::Timestamp, ErrorKind::BadTime)],
    time_month_any_case => [Parsed(27), Parsed(27), Parsed(27)],
    time_month_misspelt => [
        Quarantined(Field::Timestamp, ErrorKind::BadTime),
        Quarantined(Field::Timestamp, ErrorKind::BadTime),
    ],
    time_leap_second => [Parsed(27), Parsed(27), Parsed(27)],
    time_second_60_not_leap => [
        Quarantined(Field::Timestamp, ErrorKind::BadTime),
        Quarantined(Field::Timestamp, ErrorKind::BadTime),
    ],

    // Line endings, blank lines, bytes that are not UTF-8.
    crlf => [Parsed(26), Parsed(27)],
    trailing_space => [Parsed(26)],
    trailing_whitespace_mixed => [Parsed(24)],
    no_final_newline => [Parsed(17)],
    blank_lines_only => [],
    blank_lines_between_records => [Parsed(24), Parsed(25)],
    invalid_utf8 => [Parsed(26)],
    valid_utf8_non_ascii => [Parsed(26)],
    control_bytes => [Parsed(26)],

    // Keys and request lines as logged.
    key_double_encoded => [Parsed(26)],
    presigned_url_query_string => [Parsed(27)],
    options_request_line => [Parsed(26)],

    // Damaged lines: quarantined whole, never reported with shifted fields.
    merged_in_requester => [Quarantined(Field::Operation, ErrorKind::UnexpectedValue)],
    merged_in_key => [Quarantined(Field::HttpStatus, ErrorKind::NotANumber)],
    merged_in_request_uri => [Quarantined(Field::RequestUri, ErrorKind::MergedRecord)],
    merged_in_user_agent => [Quarantined(Field::UserAgent, ErrorKind::MergedRecord)],
    // The User-Agent ends at the last quote on the line, so it swallows the next record.
    merged_in_tail => [Quarantined(Field::UserAgent, ErrorKind::MergedRecord)],
    merged_after_last_field => [Quarantined(Field::UserAgent, ErrorKind::MergedRecord)],
    // A batch-delete record has no quotes: the next record lands in the tail fields.
    merged_batch_delete_in_tail => [Quarantined(Field::AuthenticationType, ErrorKind::MergedRecord)],
    merged_batch_delete_after_last_field => [Quarantined(Field::SourceRegion, ErrorKind::MergedRecord)],
    extra_token_before_host_id => [Quarantined(Field::SignatureVersion, ErrorKind::UnexpectedValue)],
    truncated_after_status => [Quarantined(Field::ErrorCode, ErrorKind::Missing)],
    truncated_after_bucket => [Quarantined(Field::Timestamp, ErrorKind::Missing)],
    truncated_in_user_agent => [Quarantined(Field::UserAgent, ErrorKind::UnterminatedQuote)],
    truncated_in_request_uri => [Quarantined(Field::RequestUri, ErrorKind::UnterminatedQuote)],
    double_space_between_fields => [Quarantined(Field::Operation, ErrorKind::Empty)],
    leading_space => [Quarantined(Field::BucketOwner, ErrorKind::Empty)],
    garbage_text => [Quarantined(Field::Timestamp, ErrorKind::BadTime)],
    garbage_json => [Quarantined(Field::Bucket, ErrorKind::Missing)],
    garbage_binary => [Quarantined(Field::Timestamp, ErrorKind::Missing)],
    single_dash => [Quarantined(Field::Bucket, ErrorKind::Missing)],
}

fn data_path(name: &str, extension: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.{extension}"))
}

/// Splits a log object into lines the way the pipeline reads it: on `\n`, with a final line
/// that may lack its terminator.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines
}

/// The bytes `RecordId` hashes: the line without its terminator and one trailing `\r`.
fn id_bytes(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn expected_id(line: &[u8]) -> String {
    format!("{:016x}", xxh3_64(id_bytes(line)))
}

fn check(name: &str, expected: &[Expect]) {
    let log = std::fs::read(data_path(name, "log")).unwrap();
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut records = Vec::new();
    let mut outcomes = Vec::new();
    let mut encoded_records = Vec::new();
    for line in lines(&log) {
        let mut out = Vec::new();
        let outcome = encoder.encode(line, &mut out);
        if outcome == Outcome::Skipped {
            assert!(out.is_empty(), "{name}: a skipped line wrote {out:?}");
            assert!(
                line.iter().all(u8::is_ascii_whitespace),
                "{name}: skipped a non-blank line"
            );
            continue;
        }
        let record = check_encoded(name, line, &out);

        // The same line through `parse_partial`, written as a record by this test.
        let (parsed, error) = parse_partial(line);
        assert_eq!(
            parse(line).err(),
            error,
            "{name}: parse and parse_partial disagree"
        );
        assert_eq!(
            outcome,
            error.map_or(Outcome::Parsed, Outcome::Quarantined),
            "{name}: encode and parse_partial disagree"
        );
        check_invariants(name, &parsed, error);
        assert_eq!(
            record,
            record_from_parts(line, &parsed, error),
            "{name}: the encoder and parse_partial give different records"
        );

        outcomes.push(match error {
            None => Parsed(parsed.field_count),
            Some(ParseError { field, kind }) => Quarantined(field, kind),
        });
        records.push(record);
        encoded_records.push(out);
    }
    assert_eq!(outcomes, expected, "{name}: outcomes");

    let golden_path = data_path(name, "json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden_path, pretty(&encoded_records)).unwrap();
        return;
    }
    let golden: Vec<Value> = serde_json::from_slice(
        &std::fs::read(&golden_path).unwrap_or_else(|e| panic!("{}: {e}", golden_path.display())),
    )
    .unwrap();
    assert_eq!(records.len(), golden.len(), "{name}: number of records");
    for (index, (record, golden)) in records.iter().zip(&golden).enumerate() {
        assert_eq!(
            record, golden,
            "{name}: record {index} differs from its golden record"
        );
    }
}

/// Checks one line of encoder output against the contract, and returns it as a value.
fn check_encoded(name: &str, line: &[u8], out: &[u8]) -> Value {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{name}: output is not UTF-8: {e}"));
    assert_eq!(text.matches('\n').count(), 1, "{name}: one record, one line");
    assert!(text.ends_with('\n'), "{name}: the record ends with a newline");
    let record: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}\n{text}"));

    let keys = top_level_keys(text);
    let contract: Vec<&str> = COLUMNS
        .iter()
        .map(|column| column.name)
        .filter(|name| keys.iter().any(|key| key == name))
        .collect();
    assert_eq!(
        keys, contract,
        "{name}: keys out of contract order, or unknown keys"
    );
    // Byte for byte: compact, in contract order, escaped as serde_json escapes.
    let compact: Vec<String> = keys
        .iter()
        .map(|key| format!("{}:{}", serde_json::to_string(key).unwrap(), record[key.as_str()]))
        .collect();
    assert_eq!(
        text,
        format!("{{{}}}\n", compact.join(",")),
        "{name}: not the compact form"
    );
    for column in COLUMNS.iter().filter(|column| column.always_present) {
        assert!(
            record.get(column.name).is_some(),
            "{name}: {} missing",
            column.name
        );
    }
    assert_eq!(record["SchemaVersion"], json!(1), "{name}");
    assert_eq!(record["RecordId"], json!(expected_id(line)), "{name}: RecordId");
    assert_eq!(record["LogFile"], json!(LOG_FILE), "{name}");
    assert_eq!(
        record.get("ParseError").is_some(),
        record.get("RawLine").is_some(),
        "{name}: ParseError and RawLine go together"
    );
    if record.get("RawLine").is_some() {
        let raw = String::from_utf8_lossy(id_bytes(line));
        assert_eq!(record["RawLine"], json!(raw), "{name}: RawLine is the whole line");
    }
    record
}

/// What holds for every parsed line, clean or not.
fn check_invariants(name: &str, record: &LogRecord<'_>, error: Option<ParseError>) {
    assert!(record.field_count <= Field::ALL.len(), "{name}");
    if record.extra_fields.is_some() {
        assert_eq!(
            record.field_count,
            Field::ALL.len(),
            "{name}: extra fields after all known ones"
        );
    }
    if error.is_none() {
        assert!(
            record.field_count >= Field::MIN_COUNT,
            "{name}: a clean line has 17 fields or more"
        );
    }
    // Fields past `field_count` were not read.
    for (index, field) in Field::ALL.iter().enumerate().skip(record.field_count) {
        assert_eq!(record.text(*field), None, "{name}: {field} set past field_count");
        assert_eq!(
            record.number(*field),
            None,
            "{name}: {field} set past field_count"
        );
        if *field == Field::Timestamp {
            assert_eq!(record.time, None, "{name}: time set past field_count ({index})");
        }
    }
}

/// The record of a line, built from `parse_partial`'s result with serde_json as the contract
/// describes it, without the crate's JSON writer.
fn record_from_parts(line: &[u8], record: &LogRecord<'_>, error: Option<ParseError>) -> Value {
    let text = |bytes: &[u8]| Value::from(String::from_utf8_lossy(bytes).into_owned());
    let mut map = Map::new();
    map.insert("SchemaVersion".into(), json!(1));
    map.insert("RecordId".into(), json!(expected_id(line)));
    for (field, column) in Field::ALL.iter().zip(&COLUMNS[2..]) {
        assert_eq!(field.json_key(), column.name);
        let value = match column.column_type {
            ColumnType::Timestamp => record.time.map(|time| {
                let t = time.to_utc();
                json!(format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                ))
            }),
            ColumnType::Int | ColumnType::BigInt => record.number(*field).map(Value::from),
            ColumnType::String | ColumnType::StringArray => record.text(*field).map(text),
        };
        map.insert(column.name.into(), value.unwrap_or(Value::Null));
    }
    if record.extra_fields.is_some() {
        map.insert("ExtraFields".into(), record.extra_fields().map(text).collect());
    }
    map.insert("LogFile".into(), json!(LOG_FILE));
    if let Some(error) = error {
        map.insert("ParseError".into(), json!(error.to_string()));
        map.insert("RawLine".into(), text(id_bytes(line)));
    }
    Value::Object(map)
}

/// The keys of a flat JSON object, in the order they are written. `serde_json::Value` sorts
/// its keys, so the order is read from the text: a key is a string right after `{` or `,`.
fn top_level_keys(json: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut key_next = false;
    let mut current: Option<String> = None;
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if let Some(key) = current.take() {
                    keys.push(key);
                }
                continue;
            }
            if let Some(key) = current.as_mut() {
                key.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                if depth == 1 && key_next {
                    current = Some(String::new());
                }
                key_next = false;
            }
            '{' | '[' => {
                depth += 1;
                key_next = c == '{' && depth == 1;
            }
            '}' | ']' => depth -= 1,
            ',' => key_next = depth == 1,
            _ => {}
        }
    }
    keys
}

/// The golden file: an array of records, one key per line in contract order.
fn pretty(records: &[Vec<u8>]) -> String {
    let mut text = String::from("[");
    for (index, out) in records.iter().enumerate() {
        let json = std::str::from_utf8(out).unwrap();
        let record: Value = serde_json::from_str(json).unwrap();
        text.push_str(if index == 0 { "\n  {" } else { ",\n  {" });
        for (key_index, key) in top_level_keys(json).iter().enumerate() {
            let value = serde_json::to_string(&record[key.as_str()]).unwrap();
            let separator = if key_index == 0 { "" } else { "," };
            text.push_str(&format!("{separator}\n    \"{key}\": {value}"));
        }
        text.push_str("\n  }");
    }
    text.push_str(if records.is_empty() { "]\n" } else { "\n]\n" });
    text
}

#[test]
fn every_fixture_has_a_case() {
    let source = include_str!("golden.rs");
    for entry in std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert!(
            source.contains(&format!("\n    {stem} => [")),
            "{}: no case in golden.rs",
            path.display()
        );
        let twin = if path.extension().is_some_and(|e| e == "log") {
            "json"
        } else {
            "log"
        };
        assert!(
            data_path(&stem, twin).exists(),
            "{}: no .{twin} beside it",
            path.display()
        );
    }
}

/// Same bytes, same id: CRLF and LF versions of a line are one record for deduplication, while
/// any other byte (a trailing space) makes another.
#[test]
fn record_id_ignores_the_terminator_only() {
    let log = std::fs::read(data_path("fields_27_source_region", "log")).unwrap();
    let line = lines(&log)[0];
    let encoder = RecordEncoder::new(LOG_FILE);
    let id_of = |bytes: &[u8]| {
        let mut out = Vec::new();
        encoder.encode(bytes, &mut out);
        let record: Value = serde_json::from_slice(&out).unwrap();
        record["RecordId"].as_str().unwrap().to_owned()
    };
    let lf = id_of(line);
    let crlf = id_of(&[line, b"\r"].concat());
    let trailing_space = id_of(&[line, b" "].concat());
    assert_eq!(lf, crlf);
    assert_ne!(lf, trailing_space);
    assert_eq!(lf, format!("{:016x}", xxh3_64(line)));
    assert_eq!(lf.len(), 16);
    assert!(
        lf.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    // The trailing space does not change the fields, only the id.
    assert_eq!(parse(line), parse(&[line, b" "].concat()));
}

/// Known XXH3-64 values (seed 0), so the id cannot silently change algorithm or seed.
#[test]
fn record_id_is_xxh3_64() {
    assert_eq!(s3_access_log::record_id(b""), 0x2d06800538d394c2);
    for line in [&b"a"[..], b"abc", b"- - [06/Feb/2019:00:00:38 +0000]", b"line\r"] {
        assert_eq!(s3_access_log::record_id(line), xxh3_64(id_bytes(line)));
    }
}

/// Lines of hundreds of kilobytes (STS tokens in presigned URLs, audit referrers) parse whole.
#[test]
fn lines_of_hundreds_of_kilobytes() {
    let log = std::fs::read(data_path("presigned_url_query_string", "log")).unwrap();
    let line = lines(&log)[0];
    let golden: Vec<Value> =
        serde_json::from_slice(&std::fs::read(data_path("presigned_url_query_string", "json")).unwrap())
            .unwrap();
    let token = "x-amz-security-token=";
    let at = line
        .windows(token.len())
        .position(|w| w == token.as_bytes())
        .unwrap()
        + token.len();
    let filler = "IQoJb3JpZ2luX2VjEXAMPLE%2F%2B".repeat(12_000);
    let long = [&line[..at], filler.as_bytes(), &line[at..]].concat();
    assert!(long.len() > 300_000);

    let mut out = Vec::new();
    assert_eq!(
        RecordEncoder::new(LOG_FILE).encode(&long, &mut out),
        Outcome::Parsed
    );
    let record: Value = serde_json::from_slice(&out).unwrap();
    let mut expected = golden[0].clone();
    let uri = expected["RequestURI"]
        .as_str()
        .unwrap()
        .replacen(token, &format!("{token}{filler}"), 1);
    expected["RequestURI"] = json!(uri);
    expected["RecordId"] = json!(expected_id(&long));
    assert_eq!(record, expected);

    // A long User-Agent full of quotes and spaces does not move the fields after it.
    let ua = "Mozilla/5.0 \"quoted\" (x; y) ".repeat(10_000);
    let long_ua = String::from_utf8_lossy(line).replacen(
        "\"aws-sdk-java/2.25.11",
        &format!("\"{ua}aws-sdk-java/2.25.11"),
        1,
    );
    let parsed = parse(long_ua.as_bytes()).unwrap();
    assert_eq!(
        parsed.user_agent.map(<[u8]>::len),
        Some(ua.len() + golden[0]["UserAgent"].as_str().unwrap().len())
    );
    assert_eq!(parsed.tail[9], Some(&b"us-east-1"[..]));
}
