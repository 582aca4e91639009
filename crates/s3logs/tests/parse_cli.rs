//! `s3logs parse` run as a user runs it: the built binary, real files, stdin and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flate2::write::GzEncoder;
use serde_json::Value;

const MODERN: &str = r#"5c1bf4c1dbd6a8d3e0c7a63b4fe51f2e9a0c4c4f1b2a3d5e6f708192a3b4c5d6 example-logs [23/Nov/2026:10:15:01 +0000] 198.51.100.7 arn:aws:iam::111122223333:user/deploy 7Q2R9S1T3U5V7W9X REST.GET.OBJECT reports/2026/q3.csv "GET /reports/2026/q3.csv HTTP/1.1" 200 - 5120 5120 31 12 "-" "aws-cli/2.17.0 Python/3.12.4 Linux/6.1" - bXlIb3N0SWRGb3JUZXN0aW5nT25seQ== SigV4 TLS_AES_128_GCM_SHA256 AuthHeader example-logs.s3.eu-west-1.amazonaws.com TLSv1.3 - - eu-west-1"#;
const LEGACY: &str = r#"5c1bf4c1dbd6a8d3e0c7a63b4fe51f2e9a0c4c4f1b2a3d5e6f708192a3b4c5d6 example-logs [23/Nov/2026:10:16:44 +0000] 203.0.113.9 - 1A2B3C4D5E6F7A8B REST.GET.OBJECT index.html "GET /index.html HTTP/1.1" 403 AccessDenied 243 - 9 - "-" "curl/8.5.0" -"#;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("s3logs-parse-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s3logs(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn parses_files_directories_and_gzip_with_log_file_names() {
    let scratch = Scratch::new("mixed");
    let plain = scratch.write("logs/a.log", format!("{MODERN}\n{LEGACY}\n").as_bytes());
    let gzipped = scratch.write("logs/nested/b.log.gz", &gzip(format!("{LEGACY}\r\n").as_bytes()));

    let output = s3logs(&["parse", path_str(&scratch.0.join("logs"))], b"");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = records(&output.stdout);
    let names: Vec<&str> = records.iter().map(|r| r["LogFile"].as_str().unwrap()).collect();
    assert_eq!(names, [path_str(&plain), path_str(&plain), path_str(&gzipped)]);
    assert_eq!(records[0]["SourceRegion"], "eu-west-1");
    assert_eq!(records[1]["ErrorCode"], "AccessDenied");
    // The CRLF copy in the gzip file is the same line, so it has the same id.
    assert_eq!(records[2]["RecordId"], records[1]["RecordId"]);
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.contains("3 lines, 3 records, 0 parse errors"),
        "{summary}"
    );
}

#[test]
fn reads_standard_input_as_dash() {
    let output = s3logs(
        &["parse", "-"],
        format!("{LEGACY}\n\nnot a log line\n").as_bytes(),
    );

    assert!(output.status.success());
    let records = records(&output.stdout);
    assert_eq!(records.len(), 2, "the blank line yields no record");
    assert_eq!(records[0]["LogFile"], "-");
    assert_eq!(records[1]["RawLine"], "not a log line");
    assert!(
        records[1]["ParseError"]
            .as_str()
            .unwrap()
            .starts_with("Timestamp")
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 parse error,"));
}

#[test]
fn names_a_missing_path_fails_and_still_processes_the_others() {
    let scratch = Scratch::new("missing");
    let good = scratch.write("good.log", format!("{MODERN}\n").as_bytes());
    let missing = scratch.0.join("missing.log");

    let output = s3logs(&["parse", path_str(&missing), path_str(&good)], b"");

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(records(&output.stdout).len(), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: {}", missing.display())),
        "{stderr}"
    );
}

#[test]
fn writes_to_an_output_file() {
    let scratch = Scratch::new("output");
    let input = scratch.write("in.log", format!("{MODERN}\n{MODERN}\n").as_bytes());
    let out = scratch.0.join("records.ndjson");

    let output = s3logs(
        &["parse", "--quiet", path_str(&input), "--output", path_str(&out)],
        b"",
    );

    assert!(output.status.success());
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    assert_eq!(records(&std::fs::read(out).unwrap()).len(), 2);
}

#[test]
fn help_explains_the_command() {
    let output = s3logs(&["parse", "--help"], b"");

    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in ["Gzipped files are detected", "--output", "Examples:"] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
}
