//! The compact record (`KeyStyle::Compact`, `docs/record.md` "Compact record"): read as
//! Firehose's OpenX JSON SerDe reads it for Parquet output (each column from the short key
//! mapped to it, an absent key null, an epoch-seconds number a time), it gives every column
//! exactly the value the full record gives it, `log_file` apart, which only a quarantined
//! compact record names; for every line the golden cases hold, for cut lines, and for
//! arbitrary bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::PathBuf;

use proptest::prelude::*;
use s3_access_log::schema::{COLUMNS, ColumnType};
use s3_access_log::{KeyStyle, LogTime, Outcome, RecordEncoder};
use serde_json::{Map, Value};

const LOG_FILE: &str = "s3://example-access-logs/logs/2026-04-14-09-20-00-0123456789ABCDEF";

fn object(json: &[u8]) -> Map<String, Value> {
    assert_eq!(json.last(), Some(&b'\n'), "one record, one line");
    assert_eq!(json.iter().filter(|&&b| b == b'\n').count(), 1);
    match serde_json::from_slice(json).unwrap() {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The value of each column, by full key, as the OpenX JSON SerDe reads the compact record
/// through the short-key mappings: absent is null, and a time may be epoch seconds.
fn columns_of_compact(compact: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let known: HashSet<&str> = COLUMNS.iter().map(|c| c.compact_name).collect();
    for key in compact.keys() {
        assert!(known.contains(key.as_str()), "{key} is no column's short key");
    }
    COLUMNS
        .iter()
        .map(|column| {
            let value = match compact.get(column.compact_name) {
                Some(Value::Number(seconds)) if column.column_type == ColumnType::Timestamp => {
                    let mut text = Vec::new();
                    LogTime::from_epoch_seconds(seconds.as_i64().unwrap()).write_utc(&mut text);
                    Value::String(String::from_utf8(text).unwrap())
                }
                Some(value) => value.clone(),
                None => Value::Null,
            };
            (column.name, value)
        })
        .collect()
}

/// The value of each column the compact record must give, from the full record: the same,
/// but no `LogFile` unless the record is quarantined.
fn columns_of_full(full: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let quarantined = full.contains_key("ParseError");
    COLUMNS
        .iter()
        .map(|column| {
            let value = match full.get(column.name) {
                Some(_) if column.name == "LogFile" && !quarantined => Value::Null,
                Some(value) => value.clone(),
                None => Value::Null,
            };
            (column.name, value)
        })
        .collect()
}

/// Encodes `line` in both styles and checks the compact record against the full one.
fn check_line(line: &[u8]) -> Outcome {
    let mut full = Vec::new();
    let outcome = RecordEncoder::new(LOG_FILE).encode(line, &mut full);
    let mut compact = Vec::new();
    let compact_outcome = RecordEncoder::with_style(LOG_FILE, KeyStyle::Compact).encode(line, &mut compact);
    assert_eq!(outcome, compact_outcome);
    if outcome == Outcome::Skipped {
        assert!(compact.is_empty());
        return outcome;
    }
    check_records(&full, &compact);
    outcome
}

fn check_records(full: &[u8], compact: &[u8]) {
    let compact_record = object(compact);
    assert!(
        compact_record.values().all(|value| !value.is_null()),
        "a null is left out: {}",
        String::from_utf8_lossy(compact)
    );
    assert_eq!(
        columns_of_compact(&compact_record),
        columns_of_full(&object(full)),
        "\nfull:    {}compact: {}",
        String::from_utf8_lossy(full),
        String::from_utf8_lossy(compact)
    );
    assert!(compact.len() < full.len());
}

fn golden_logs() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut logs: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    logs.sort();
    logs
}

#[test]
fn short_keys_are_unique_short_and_lowercase() {
    let mut seen = HashSet::new();
    for column in COLUMNS {
        let key = column.compact_name;
        assert!(seen.insert(key), "{key} is used twice");
        assert!((1..=2).contains(&key.len()), "{key}");
        assert!(key.bytes().all(|b| b.is_ascii_lowercase()), "{key}");
    }
    assert_eq!(seen.len(), COLUMNS.len());
}

/// `docs/record.md` lists every short key, in record order, as the code has it; the template
/// test reads that table (`infra/tests/test_template.py`).
#[test]
fn docs_record_md_lists_the_short_keys_of_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/record.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let section = docs
        .split("\n## Compact record (Parquet mode)\n")
        .nth(1)
        .expect("docs/record.md has a section \"Compact record (Parquet mode)\"")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<&str> = section.lines().filter(|line| line.starts_with("| `")).collect();
    let expected: Vec<String> = COLUMNS
        .iter()
        .map(|column| format!("| `{}` | `{}` |", column.name, column.compact_name))
        .collect();
    assert_eq!(rows, expected, "\nexpected rows:\n{}\n", expected.join("\n"));
}

#[test]
fn every_golden_line_gives_the_same_columns() {
    let mut records = 0;
    let mut quarantined = 0;
    for (name, log) in golden_logs() {
        for line in log.split(|&b| b == b'\n') {
            match check_line(line) {
                Outcome::Skipped => {}
                Outcome::Parsed => records += 1,
                Outcome::Quarantined(_) => {
                    records += 1;
                    quarantined += 1;
                }
            }
        }
        assert!(!name.is_empty());
    }
    assert!(records > 50, "the golden cases were read: {records}");
    assert!(
        quarantined > 5,
        "quarantined lines were among them: {quarantined}"
    );
}

#[test]
fn nulls_and_the_log_file_are_left_out_and_the_time_is_epoch_seconds() {
    let line = b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" -";
    let mut compact = Vec::new();
    RecordEncoder::with_style(LOG_FILE, KeyStyle::Compact).encode(line, &mut compact);
    let expected = format!(
        "{{\"v\":1,\"i\":\"{:016x}\",\"o\":\"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be\",\
         \"b\":\"amzn-s3-demo-bucket1\",\"t\":1549411238,\"a\":\"192.0.2.3\",\"q\":\"3E57427F3EXAMPLE\",\
         \"p\":\"REST.GET.VERSIONING\",\"u\":\"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1\",\"s\":200,\
         \"n\":113,\"m\":7,\"g\":\"S3Console/0.4\"}}\n",
        s3_access_log::record_id(line)
    );
    assert_eq!(String::from_utf8(compact).unwrap(), expected);
}

#[test]
fn a_time_outside_ten_digit_epoch_seconds_keeps_the_text_form() {
    for (time, written) in [
        ("[09/Sep/2001:01:46:39 +0000]", "\"t\":\"2001-09-09 01:46:39\""),
        ("[09/Sep/2001:01:46:40 +0000]", "\"t\":1000000000"),
        ("[01/Jan/1969:00:00:00 +0000]", "\"t\":\"1969-01-01 00:00:00\""),
    ] {
        let line = format!(
            "owner bucket {time} 192.0.2.3 - REQ REST.GET.OBJECT k \"GET /k HTTP/1.1\" 200 - 1 1 1 1 \"-\" \"ua\" -"
        );
        let mut compact = Vec::new();
        let outcome =
            RecordEncoder::with_style(LOG_FILE, KeyStyle::Compact).encode(line.as_bytes(), &mut compact);
        assert_eq!(outcome, Outcome::Parsed, "{line}");
        assert!(
            String::from_utf8_lossy(&compact).contains(written),
            "{time}: {}",
            String::from_utf8_lossy(&compact)
        );
        check_line(line.as_bytes());
    }
}

#[test]
fn a_cut_line_gives_the_same_columns() {
    let reason = "line of 600000 bytes is over the limit";
    let mut full = Vec::new();
    RecordEncoder::new(LOG_FILE).encode_truncated(b"owner bucket [06/Feb", 42, reason, &mut full);
    let mut compact = Vec::new();
    RecordEncoder::with_style(LOG_FILE, KeyStyle::Compact).encode_truncated(
        b"owner bucket [06/Feb",
        42,
        reason,
        &mut compact,
    );
    check_records(&full, &compact);
    let record = object(&compact);
    assert_eq!(record["pe"], reason);
    assert_eq!(record["rl"], "owner bucket [06/Feb");
    assert_eq!(record["j"], LOG_FILE, "a quarantined record names its object");
}

#[test]
fn full_is_the_default_style() {
    assert_eq!(KeyStyle::default(), KeyStyle::Full);
    assert_eq!(KeyStyle::from_name("full"), Some(KeyStyle::Full));
    assert_eq!(KeyStyle::from_name("compact"), Some(KeyStyle::Compact));
    assert_eq!(KeyStyle::from_name("Compact"), None);
    assert_eq!(KeyStyle::from_name(""), None);
}

proptest! {
    #[test]
    fn any_bytes_give_the_same_columns(line in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_line(&line);
    }

    /// Golden lines with bytes overwritten: damaged, quarantined and shifted shapes.
    #[test]
    fn damaged_golden_lines_give_the_same_columns(
        pick in any::<prop::sample::Index>(),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let logs = golden_logs();
        let lines: Vec<&[u8]> = logs
            .iter()
            .flat_map(|(_, log)| log.split(|&b| b == b'\n'))
            .filter(|line| !line.is_empty())
            .collect();
        let mut line = pick.get(&lines).to_vec();
        for (at, byte) in damage {
            let at = at.index(line.len());
            line[at] = byte;
        }
        check_line(&line);
    }
}
