//! AWS's native JSON records as input to `s3logs parse` and `s3logs audit`: the built binary on
//! records written by hand from the documented format (`tests/native_data`, the field names of
//! docs/record.md), and on the sample logs turned into native records through the column table.
// Test helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value};

mod support;
use support::Scratch;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native_data")
}

fn s3logs(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn parse_converts_native_records_into_ours() {
    let dir = Scratch::new("native-parse");
    fs::copy(data().join("native-records.json"), dir.join("native.json")).unwrap();
    let output = s3logs(&["parse", "--quiet", "native.json"], &dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = json_lines(&output.stdout);
    assert_eq!(records.len(), 4, "the blank line makes no record");
    let first = &records[0];
    assert_eq!(first["Timestamp"], "2026-06-03 10:15:01");
    assert_eq!(first["Bucket"], "amzn-s3-demo-bucket1");
    assert_eq!(first["Requester"], "arn:aws:iam::123456789012:user/legacy-backup");
    assert_eq!(first["HTTPstatus"], 200);
    assert_eq!(first["BytesSent"], 2048);
    assert_eq!(first["SignatureVersion"], "SigV2");
    assert_eq!(first["LogFile"], "native.json");
    assert!(first.get("ParseError").is_none() && first.get("bucket_arn").is_none());
    assert_eq!(records[1]["Requester"], Value::Null);
    assert_eq!(records[1]["ErrorCode"], "AccessDenied");
    assert_eq!(records[2]["Key"], "uploads/photo%20one.jpg");
    // A time in the text log's form is not AWS's: the record says so and keeps the line.
    let bad = &records[3];
    assert!(
        bad["ParseError"]
            .as_str()
            .unwrap()
            .contains("request_time: not an ISO 8601 time"),
        "{bad}"
    );
    assert_eq!(
        bad["RawLine"].as_str().unwrap(),
        fs::read_to_string(data().join("native-records.json"))
            .unwrap()
            .lines()
            .nth(4)
            .unwrap()
    );
    let record_ids: BTreeSet<&str> = records.iter().map(|r| r["RecordId"].as_str().unwrap()).collect();
    assert_eq!(record_ids.len(), 4);

    // Gzipped, and as Parquet, the same records.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&fs::read(dir.join("native.json")).unwrap())
        .unwrap();
    fs::write(dir.join("native.json.gz"), gzip.finish().unwrap()).unwrap();
    let gzipped = s3logs(&["parse", "--quiet", "native.json.gz"], &dir);
    let mut expected = records.clone();
    for record in &mut expected {
        record["LogFile"] = "native.json.gz".into();
    }
    assert_eq!(json_lines(&gzipped.stdout), expected);
}

#[test]
fn audit_runs_the_rules_on_native_records() {
    let dir = Scratch::new("native-audit");
    fs::copy(data().join("native-records.json"), dir.join("native.json")).unwrap();
    let output = s3logs(
        &["audit", "--json", "--exclude-user-agent", "", "native.json"],
        &dir,
    );
    // The record that does not convert is a bad line, a warning.
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hits: BTreeSet<(String, String)> = json_lines(&output.stdout)
        .iter()
        .map(|hit| {
            let request = hit["RemoteIP"].as_str().unwrap_or("-").to_owned();
            (hit["Rule"].as_str().unwrap().to_owned(), request)
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("sigv2", "192.0.2.3"),
        ("tls-legacy", "192.0.2.3"),
        ("access-denied", "198.51.100.7"),
        ("anonymous", "198.51.100.7"),
        ("suspicious-user-agent", "198.51.100.7"),
        ("acl-required", "203.0.113.20"),
        ("parse-errors", "-"),
    ]
    .iter()
    .map(|(rule, ip)| ((*rule).to_owned(), (*ip).to_owned()))
    .collect();
    assert!(expected.is_subset(&hits), "{hits:?}");

    // The table counts a native file as logs, not as records of ours.
    let table = s3logs(&["audit", "--exclude-user-agent", "", "native.json"], &dir);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("1 file (1 of raw logs, 0 of records), 4 records"),
        "{table}"
    );
}

/// The sample logs' clean records turned into native records with the column table (names,
/// ISO 8601 times), as AWS would deliver the same requests: every rule finds the same hits.
#[test]
fn native_records_of_the_samples_give_the_hits_of_their_text_logs() {
    let dir = Scratch::new("native-samples");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let parsed = s3logs(&["parse", "--quiet", samples.to_str().unwrap()], &dir);
    let records: Vec<Value> = json_lines(&parsed.stdout)
        .into_iter()
        .filter(|record| record.get("ParseError").is_none())
        .collect();
    let mut ours = String::new();
    let mut native = String::new();
    for record in &records {
        ours.push_str(&format!("{record}\n"));
        let mut fields = Map::new();
        fields.insert("schema_version_id".into(), "V_1_0".into());
        for column in columnar::COLUMNS.iter().filter(|column| column.field.is_some()) {
            let mut value = record[column.record_key].clone();
            if column.record_key == "Timestamp" {
                value = format!("{}.000Z", value.as_str().unwrap().replace(' ', "T")).into();
            }
            fields.insert(column.name.into(), value);
        }
        native.push_str(&format!("{}\n", Value::Object(fields)));
    }
    fs::write(dir.join("ours.ndjson"), ours).unwrap();
    fs::write(dir.join("native.json"), native).unwrap();
    let audit = |file: &str| -> Vec<Value> {
        let output = s3logs(&["audit", "--json", "--exclude-user-agent", "", file], &dir);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut hits = json_lines(&output.stdout);
        for hit in &mut hits {
            // The line a record came from differs by format; the request does not.
            hit.as_object_mut()
                .unwrap()
                .retain(|key, _| key != "RecordId" && key != "LogFile");
        }
        hits
    };
    let from_ours = audit("ours.ndjson");
    let rules: BTreeSet<&str> = from_ours
        .iter()
        .map(|hit| hit["Rule"].as_str().unwrap())
        .collect();
    assert!(rules.len() >= 8, "{rules:?}");
    assert_eq!(audit("native.json"), from_ours);
}
