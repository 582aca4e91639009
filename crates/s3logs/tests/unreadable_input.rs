//! Inputs that cannot be read as log lines, run through the built binary as a user runs it:
//! a truncated gzip file keeps its readable lines and ends in one quarantine record (finding 8
//! of issue 10), and zstd, bzip2, xz or zip input is named as unsupported instead of being
//! parsed as garbage (finding 13). Either way stderr names the file, the reason and the offset,
//! and the exit status is 1 so scripts notice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use flate2::write::GzEncoder;
use serde_json::Value;

const LINE: &str = r#"5c1bf4c1dbd6a8d3e0c7a63b4fe51f2e9a0c4c4f1b2a3d5e6f708192a3b4c5d6 example-logs [23/Nov/2026:10:15:01 +0000] 198.51.100.7 arn:aws:iam::111122223333:user/deploy 7Q2R9S1T3U5V7W9X REST.GET.OBJECT reports/2026/q3.csv "GET /reports/2026/q3.csv HTTP/1.1" 200 - 5120 5120 31 12 "-" "aws-cli/2.17.0 Python/3.12.4 Linux/6.1" - bXlIb3N0SWRGb3JUZXN0aW5nT25seQ== SigV4 TLS_AES_128_GCM_SHA256 AuthHeader example-logs.s3.eu-west-1.amazonaws.com TLSv1.3 - - eu-west-1"#;

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("s3logs-unreadable-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s3logs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(args)
        .output()
        .unwrap()
}

fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Gzip of `text` as far as it was flushed: decodes to exactly `text`, then ends part-way, as
/// an interrupted upload or copy does.
fn truncated_gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.flush().unwrap();
    encoder.get_ref().clone()
}

#[test]
fn parse_writes_every_readable_line_of_a_truncated_gzip_file_then_a_quarantine_record() {
    let scratch = Scratch::new("truncated");
    let text = format!("{}{}", format!("{LINE}\n").repeat(823), &LINE[..120]);
    let cut = scratch.write("cut.log.gz", &truncated_gzip(&text));
    let good = scratch.write("good.log", format!("{LINE}\n").as_bytes());

    let output = s3logs(&["parse", &cut, &good]);

    assert_eq!(output.status.code(), Some(1), "scripts must notice");
    let records = records(&output.stdout);
    assert_eq!(records.len(), 823 + 1 + 1);
    assert!(
        records[..823]
            .iter()
            .all(|r| r.get("ParseError").is_none() && r["LogFile"] == cut.as_str())
    );
    let offset = 823 * (LINE.len() + 1);
    let quarantine = &records[823];
    assert_eq!(quarantine["LogFile"], cut.as_str());
    assert_eq!(quarantine["RawLine"], &LINE[..120]);
    let reason = quarantine["ParseError"].as_str().unwrap();
    assert!(reason.starts_with("truncated-gzip"), "{reason}");
    assert!(reason.contains(&format!("at decoded byte {offset}")), "{reason}");
    assert_eq!(
        records[824]["LogFile"],
        good.as_str(),
        "the next file is still read"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: {cut}: truncated-gzip"))
            && stderr.contains(&format!("at decoded byte {offset}")),
        "{stderr}"
    );
}

#[test]
fn unsupported_compression_is_named_not_parsed_as_garbage() {
    let scratch = Scratch::new("compressed");
    // The frame headers of each format, followed by bytes a parser would turn into lines.
    let cases: &[(&str, &[u8])] = &[
        (
            "zstd",
            b"\x28\xb5\x2f\xfd\x24\x00\x01\x00\x00garbage\nmore garbage\n",
        ),
        ("bzip2", b"BZh91AY&SY\x4e\xec\xe8\x36\ngarbage\nmore garbage\n"),
        (
            "xz",
            b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46\ngarbage\nmore garbage\n",
        ),
    ];
    for &(format, bytes) in cases {
        let path = scratch.write(&format!("log.{format}"), bytes);

        let output = s3logs(&["parse", &path]);

        assert_eq!(output.status.code(), Some(1), "{format}");
        let records = records(&output.stdout);
        assert_eq!(
            records.len(),
            1,
            "{format}: one quarantine record, no garbage lines"
        );
        let reason = records[0]["ParseError"].as_str().unwrap();
        assert!(reason.starts_with("unsupported-compression"), "{reason}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "error: {path}: unsupported-compression ({format} is not supported"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn parse_help_says_what_happens_to_unreadable_content() {
    let output = s3logs(&["parse", "--help"]);

    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "Exit status is 1",
        "truncated or corrupt gzip",
        "quarantine record",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
}

/// A Parquet file of records where raw logs belong was parsed into lines of garbage; `parse`
/// quarantines it as one record and says which commands read it, and `run` packs that one
/// record instead of garbage.
#[test]
fn a_parquet_file_among_raw_logs_is_one_quarantine_record_and_parse_names_the_way_out() {
    let scratch = Scratch::new("parquet");
    let log = scratch.write("a.log", format!("{LINE}\n").repeat(50).as_bytes());
    let parquet = scratch.0.join("requests.parquet");
    let made = s3logs(&[
        "parse",
        &log,
        "--format",
        "parquet",
        "-o",
        parquet.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let parquet = parquet.to_str().unwrap();

    let output = s3logs(&["parse", parquet]);

    assert_eq!(output.status.code(), Some(1));
    let records = records(&output.stdout);
    assert_eq!(records.len(), 1, "one quarantine record, no garbage lines");
    assert_eq!(
        records[0]["ParseError"].as_str().unwrap(),
        "unsupported-format (a Parquet file, not a server access log) at decoded byte 0; every line before it was read"
    );
    assert_eq!(records[0]["LogFile"], parquet);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {parquet}: unsupported-format (a Parquet file, not a server access log) at decoded byte 0"
        )) && stderr.contains("this is a Parquet file of records: use `s3logs audit` or `s3logs report`"),
        "{stderr}"
    );

    let out = scratch.0.join("out");
    let run = s3logs(&["run", parquet, "--out", out.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1 input, 1 record (1 with ParseError)"),
        "{stderr}"
    );
    // It stays a Parquet file: recorded as processed, not reported and read on every rerun.
    let rerun = s3logs(&["run", parquet, "--out", out.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert_eq!(rerun.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 inputs, 0 records"), "{stderr}");
}

/// `s3logs parse logs/ > logs/records.ndjson`, then `s3logs run logs/`: the records were read
/// as raw lines, a parse error each, into the output. They are one quarantine record naming
/// the commands that read records, reported once.
#[test]
fn records_among_raw_logs_are_one_quarantine_record_and_parse_names_the_way_out() {
    let scratch = Scratch::new("ndjson-records");
    std::fs::create_dir_all(scratch.0.join("logs")).unwrap();
    let log = scratch.write("logs/a.log", format!("{LINE}\n").repeat(20).as_bytes());
    let made = s3logs(&["parse", &log, "-q"]);
    assert!(made.status.success());
    let ndjson = scratch.write("logs/records.ndjson", &made.stdout);

    let output = s3logs(&["parse", &ndjson]);
    assert_eq!(output.status.code(), Some(1));
    let records = records(&output.stdout);
    assert_eq!(records.len(), 1, "one quarantine record, not one per record");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "unsupported-format (a file of NDJSON records, not a server access log) at decoded byte 0"
        ) && stderr.contains("use `s3logs audit` or `s3logs report`"),
        "{stderr}"
    );

    let logs = scratch.0.join("logs");
    let out = scratch.0.join("out");
    let run = |args: &[&str]| {
        s3logs(
            &[
                &["run", logs.to_str().unwrap(), "--out", out.to_str().unwrap()],
                args,
            ]
            .concat(),
        )
    };
    let first = run(&["--json"]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 inputs, 21 records (1 with ParseError)"),
        "{stderr}"
    );
    let again = run(&["--json"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// DigitalOcean Spaces writes its CDN's CloudFront-format logs under the same prefix as the
/// server access logs, and a CloudFront log among them made a parse error of every line. It
/// is one quarantine record naming it, in `parse` and in `run`, which reports it once.
#[test]
fn a_cloudfront_log_among_server_access_logs_is_one_quarantine_record() {
    let scratch = Scratch::new("cloudfront");
    std::fs::create_dir_all(scratch.0.join("logs")).unwrap();
    scratch.write(
        "logs/2026-11-30-10-15-02-0123456789ABCDEF",
        format!("{LINE}\n").repeat(3).as_bytes(),
    );
    let cloudfront = "#Version: 1.0\n\
        #Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status\n"
        .to_owned()
        + &"2026-11-30\t10:15:02\tAMS1-C1\t2417\t198.51.100.7\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\n".repeat(40);
    let gzipped = gzip_whole(&cloudfront);
    let cdn = scratch.write("logs/E2EXAMPLE.2026-11-30-10.a1b2c3d4.gz", &gzipped);
    let logs = scratch.0.join("logs");
    let logs = logs.to_str().unwrap();

    let output = s3logs(&["parse", logs]);
    assert_eq!(output.status.code(), Some(1));
    let records = records(&output.stdout);
    assert_eq!(records.len(), 4, "three log lines and one quarantine record");
    let quarantined: Vec<_> = records.iter().filter(|r| r["ParseError"].is_string()).collect();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0]["LogFile"], cdn.as_str());
    assert!(
        quarantined[0]["ParseError"].as_str().unwrap().starts_with(
            "unsupported-format (a CloudFront access log, not a server access log) at decoded byte 0"
        ),
        "{}",
        quarantined[0]
    );

    let out = scratch.0.join("out");
    let out = out.to_str().unwrap();
    let run = s3logs(&["run", logs, "--out", out, "--json"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 inputs, 4 records (1 with ParseError)"),
        "{stderr}"
    );
    let rerun = s3logs(&["run", logs, "--out", out, "--json"]);
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert_eq!(rerun.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("0 inputs, 0 records") && stderr.contains("2 inputs already processed"),
        "{stderr}"
    );
}

/// `run` recorded a damaged file in its manifest as processed, so a rerun skipped it silently
/// (exit status 0), and a good copy put in its place added its lines a second time. Now every
/// rerun reports it and reads it again, and the output holds each record once.
#[test]
fn run_reports_a_damaged_file_on_every_rerun_and_redoes_it_without_duplicates() {
    let scratch = Scratch::new("run-damaged");
    std::fs::create_dir_all(scratch.0.join("logs")).unwrap();
    let lines = support::log_lines(300, 0);
    let good = scratch.write("logs/a.log", support::log_lines(20, 1000).as_bytes());
    let cut = scratch.write(
        "logs/b.log.gz",
        &truncated_gzip(&format!("{lines}{}", &LINE[..120])),
    );
    let out = scratch.0.join("out");
    let run = || {
        let output = s3logs(&["run", &good, &cut, "--out", out.to_str().unwrap(), "--json"]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // RecordId -> (times seen, ParseError of the record).
    let packed = || {
        let mut ids: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for object in support::files_under(&out.join("records")) {
            for record in support::object_records(&object) {
                let entry = ids
                    .entry(record["RecordId"].as_str().unwrap().to_owned())
                    .or_default();
                entry.0 += 1;
                entry.1 = record["ParseError"].as_str().unwrap_or("").to_owned();
            }
        }
        ids
    };

    for attempt in ["first run", "rerun"] {
        let (status, stderr) = run();
        assert_eq!(status, Some(1), "{attempt}: {stderr}");
        assert!(
            stderr.contains(&format!("error: {cut}: truncated-gzip")),
            "{attempt}: {stderr}"
        );
        assert!(
            stderr.contains("not recorded as processed, so the next run reads them again"),
            "{attempt}: {stderr}"
        );
        let ids = packed();
        assert!(ids.values().all(|(count, _)| *count == 1), "{attempt}: {ids:?}");
        assert_eq!(ids.len(), 20 + 300 + 1, "{attempt}");
        assert_eq!(
            ids.values()
                .filter(|(_, error)| error.starts_with("truncated-gzip"))
                .count(),
            1,
            "{attempt}"
        );
    }

    // A good copy in its place: read again, the quarantine record gone, every line once.
    std::fs::write(&cut, gzip_whole(&lines)).unwrap();
    let (status, stderr) = run();
    assert_eq!(status, Some(0), "{stderr}");
    let ids = packed();
    assert_eq!(ids.len(), 20 + 300, "{ids:?}");
    assert!(
        ids.values().all(|(count, error)| *count == 1 && error.is_empty()),
        "{ids:?}"
    );
    let (status, stderr) = run();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("2 inputs already processed"), "{stderr}");

    let help = s3logs(&["run", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("A damaged file") && help.contains("not recorded as processed"),
        "{help}"
    );
}

fn gzip_whole(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}
