//! `s3logs audit` and `s3logs run`, as a user runs them: the built binary on files in a temp
//! directory, with mixed raw / NDJSON / gzip inputs and the sample logs of the repository.
// Test helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

mod support;
use support::Scratch;

/// The repository's `samples/` directory.
fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn s3logs(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Hit lines, sorted, so outputs of differently ordered runs compare.
fn sorted_lines(output: &Output) -> Vec<String> {
    let mut lines: Vec<String> = stdout(output).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn count_by_rule(lines: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        let hit: Value = serde_json::from_str(line).unwrap();
        *counts
            .entry(hit["Rule"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Copies the samples into `dir/samples`, so paths (and so `LogFile`) are the same in every
/// test, relative to `dir`.
fn copy_samples(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                fs::copy(&path, &target).unwrap();
            }
        }
    }
    copy(&samples(), &dir.join("samples"));
}

#[test]
fn the_samples_hold_a_finding_for_every_rule() {
    let dir = Scratch::new("audit-samples");
    copy_samples(&dir);
    let output = s3logs(&["audit", "--json", "samples"], &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let counts = count_by_rule(&sorted_lines(&output));
    // What the sample files were written to contain: boto2 and PHP clients signing with SigV2
    // (12); TLS 1.0/1.1 in four casings (14); a partner account reading and writing through ACLs
    // (6); denied requests, 403s that are not AccessDenied included (6); public reads outside the
    // website endpoint (10); a line cut short and two records glued into one line (2). Of the
    // catalogue's newer rules, the samples hold successful public object reads (7), curl and wget
    // (3; the AWS SDK for PHP, which names curl, is not suspicious) and signed requests at night
    // or at the weekend (14); nothing in them is large, changes a bucket setting, or bursts.
    let expected: BTreeMap<String, usize> = [
        ("sigv2", 12),
        ("tls-legacy", 14),
        ("acl-required", 6),
        ("access-denied", 6),
        ("anonymous", 10),
        ("parse-errors", 2),
        ("public-read", 7),
        ("suspicious-user-agent", 3),
        ("off-hours", 14),
    ]
    .into_iter()
    .map(|(rule, n)| (rule.to_owned(), n))
    .collect();
    assert_eq!(counts, expected);
    // The console and AWS Config are excluded by default, even where they used SigV2 or ACLs.
    assert!(!stdout(&output).contains("S3Console"));
    assert!(!stdout(&output).contains("AWSConfig"));

    let all_agents = s3logs(&["audit", "--json", "--exclude-user-agent", "", "samples"], &dir);
    let counts = count_by_rule(&sorted_lines(&all_agents));
    assert_eq!((counts["sigv2"], counts["acl-required"]), (13, 7));
}

#[test]
fn raw_logs_and_their_records_give_the_same_hits_plain_or_gzipped() {
    let dir = Scratch::new("audit-mixed");
    copy_samples(&dir);
    let from_raw = s3logs(&["audit", "--json", "samples"], &dir);

    // Records of the same logs, through `s3logs parse`: half plain, half gzipped.
    let parsed = s3logs(&["parse", "--quiet", "samples"], &dir);
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    let records = stdout(&parsed);
    let lines: Vec<&str> = records.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    fs::create_dir_all(dir.join("records")).unwrap();
    fs::write(dir.join("records/part-1.ndjson"), first.join("\n") + "\n").unwrap();
    fs::write(
        dir.join("records/part-2.ndjson.gz"),
        gzip((second.join("\n") + "\n").as_bytes()),
    )
    .unwrap();
    let from_records = s3logs(&["audit", "--json", "records"], &dir);
    assert!(from_records.status.success(), "{}", stderr(&from_records));
    assert_eq!(sorted_lines(&from_raw), sorted_lines(&from_records));

    // Both kinds in one call: every hit twice.
    let both = s3logs(&["audit", "--json", "samples", "records"], &dir);
    assert_eq!(sorted_lines(&both).len(), 2 * sorted_lines(&from_raw).len());
}

#[test]
fn the_table_lists_top_clients_per_rule_and_the_totals() {
    let dir = Scratch::new("audit-table");
    copy_samples(&dir);
    let output = s3logs(
        &["audit", "--rules", "sigv2,access-denied", "--top", "1", "samples"],
        &dir,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("sigv2 [low] (requests signed with Signature Version 2): 12 hits\n"),
        "{text}"
    );
    let sigv2_top = text.lines().nth(2).unwrap();
    assert!(
        sigv2_top.trim_start().starts_with("9  198.51.100.23"),
        "{sigv2_top}"
    );
    assert!(sigv2_top.contains("Boto/2.49.0"), "{sigv2_top}");
    assert!(text.contains("access-denied [low] (requests denied with HTTP 403 / AccessDenied): 6 hits"));
    assert!(text.contains("... and 4 more clients"), "{text}");
    assert!(!text.contains("tls-legacy"));
    assert!(
        text.ends_with(
            "4 files (4 of raw logs, 0 of records), 61 records, 0 bad lines, 0 damaged; 18 hits\n"
        ),
        "{text}"
    );
}

#[test]
fn escape_sequences_from_the_logs_do_not_reach_the_terminal() {
    let dir = Scratch::new("audit-escapes");
    // A User-Agent that erases the table's previous line and retitles the terminal.
    let line = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be finance-reports \
                [11/Nov/2026:10:00:01 +0000] 192.0.2.10 - 0000000000000001 REST.GET.OBJECT a.csv \
                \"GET /a.csv HTTP/1.1\" 200 - 10 10 12 8 \"-\" \"curl/8\u{1b}[1A\u{1b}[2K\u{1b}]0;ok\u{7}\" - \
                hostid= - ECDHE-RSA-AES128-GCM-SHA256 - finance-reports.s3.eu-west-1.amazonaws.com TLSv1.2 - - \
                eu-west-1\n";
    fs::write(dir.join("escapes.log"), line).unwrap();
    let output = s3logs(
        &["audit", "--rules", "suspicious-user-agent", "escapes.log"],
        &dir,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("curl/8\\u{1b}[1A\\u{1b}[2K"), "{text}");
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
}

#[test]
fn summary_lines_count_requests_per_client() {
    let dir = Scratch::new("audit-summary");
    copy_samples(&dir);
    let output = s3logs(
        &["audit", "--json", "--summary", "--rules", "sigv2", "samples"],
        &dir,
    );
    let groups: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let counts: Vec<(&str, &str, u64)> = groups
        .iter()
        .map(|g| {
            (
                g["RemoteIP"].as_str().unwrap(),
                g["Operation"].as_str().unwrap(),
                g["Count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("198.51.100.23", "REST.PUT.OBJECT", 6),
            ("198.51.100.140", "REST.PUT.OBJECT", 3),
            ("198.51.100.23", "REST.HEAD.OBJECT", 3),
        ]
    );
    assert_eq!(groups[0]["FirstSeen"], "2019-06-12 14:02:00");
    assert_eq!(groups[0]["LastSeen"], "2019-06-12 14:07:55");
}

#[test]
fn bad_lines_are_warnings_and_damaged_files_fail_the_run() {
    let dir = Scratch::new("audit-bad");
    copy_samples(&dir);
    let parsed = stdout(&s3logs(&["parse", "--quiet", "samples/photo-archive"], &dir));
    let mut with_bad_lines = parsed.clone();
    with_bad_lines.insert_str(0, "{\"not\":\"a record\"}\nplain text in a records file\n");
    fs::write(dir.join("bad-lines.ndjson"), &with_bad_lines).unwrap();
    let output = s3logs(&["audit", "--json", "bad-lines.ndjson"], &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(
        errors.contains("warning: bad-lines.ndjson: line 1: record has no `Bucket` key"),
        "{errors}"
    );
    assert!(
        errors.contains("warning: bad-lines.ndjson: line 2: not a JSON object"),
        "{errors}"
    );
    assert!(!sorted_lines(&output).is_empty());

    let gz = gzip(parsed.as_bytes());
    fs::write(dir.join("cut.ndjson.gz"), &gz[..gz.len() / 2]).unwrap();
    let output = s3logs(&["audit", "--json", "cut.ndjson.gz", "missing.log"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains(
            "error: cut.ndjson.gz: truncated-gzip (corrupt or cut-short gzip data) at decoded byte "
        ),
        "{errors}"
    );
    assert!(errors.contains("error: missing.log"), "{errors}");
}

#[test]
fn reads_standard_input_and_rejects_unknown_rules() {
    let gz = gzip(&fs::read(samples().join("photo-archive/2019-06-12-16-05-21-7E1D0C5F2A9B4C83")).unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(["audit", "--json", "--rules", "sigv2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let output = child.wait_with_output().unwrap();
    let lines = sorted_lines(&output);
    assert_eq!(lines.len(), 9);
    assert!(lines.iter().all(|line| line.contains(r#""LogFile":"-""#)));

    let output = s3logs(&["audit", "--rules", "sigv2,sigv4", "."], &samples());
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown rule `sigv4`; known rules: sigv2, tls-legacy"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_packs_hive_partitions_and_audits_them_like_the_raw_logs() {
    let dir = Scratch::new("audit-run");
    copy_samples(&dir);
    let output = s3logs(&["run", "samples", "--out", "out", "--json"], &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("61 records (2 with ParseError) packed into 14 gzip objects"),
        "{}",
        stderr(&output)
    );
    let raw = s3logs(&["audit", "--json", "samples"], &dir);
    assert_eq!(sorted_lines(&output), sorted_lines(&raw));

    // Partitioned by each record's hour; objects are gzip NDJSON, named like Firehose's with
    // the job, unit and sequence where Firehose has a UUID.
    let hour = dir.join("out/records/year=2019/month=06/day=12/hour=14");
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let objects = names(&hour);
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(
        objects[0].starts_with("s3logs-run-1-2019-06-12-14-00-00-"),
        "{objects:?}"
    );
    assert!(objects[0].ends_with("-0000-0000.gz"), "{objects:?}");
    let object = hour.join(&objects[0]);
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(fs::File::open(&object).unwrap()),
        &mut text,
    )
    .unwrap();
    assert_eq!(text.lines().count(), 14);
    assert!(
        text.lines()
            .all(|line| line.contains(r#""Timestamp":"2019-06-12 14:"#))
    );

    // Small objects roll over; with --fresh a second run replaces the first one's output.
    let output = s3logs(
        &[
            "run",
            "samples",
            "--out",
            "out",
            "--object-bytes",
            "2000",
            "--fresh",
        ],
        &dir,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let objects = names(&hour);
    assert!(objects.len() > 1, "{objects:?}");
    for (sequence, name) in objects.iter().enumerate() {
        assert!(name.ends_with(&format!("-0000-{sequence:04}.gz")), "{objects:?}");
    }
    assert!(stdout(&output).contains("sigv2 [low] (requests signed with Signature Version 2): 12 hits"));

    // Anything else in records/ is never deleted.
    fs::write(dir.join("out/records/notes.txt"), "mine").unwrap();
    let output = s3logs(&["run", "samples", "--out", "out", "--fresh"], &dir);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("holds files that `s3logs run` did not write"),
        "{}",
        stderr(&output)
    );
    assert!(dir.join("out/records/notes.txt").exists());
}

#[test]
fn list_prints_every_detection_with_severity_and_mitre_ids() {
    let dir = Scratch::new("audit-list");
    let output = s3logs(&["audit", "--list"], &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("ID") && header.contains("SEVERITY") && header.contains("MITRE ATT&CK"));
    for detection in pipeline::audit::CATALOGUE {
        let line = lines.next().unwrap();
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            columns[..3],
            [
                detection.rule.name(),
                detection.severity.name(),
                detection.mitre_text().as_str()
            ],
            "{line}"
        );
        assert!(line.ends_with(detection.title), "{line}");
    }
    assert_eq!(lines.next(), Some(""));
    for (name, default, _) in pipeline::audit::SETTINGS {
        assert!(text.contains(&format!("  {name} = {default}\n")), "{name}");
    }
}

#[test]
fn set_changes_a_threshold_and_rejects_unknown_settings() {
    let dir = Scratch::new("audit-set");
    // Three 404s from one anonymous IP within five minutes, as raw log lines.
    let lines: Vec<String> = ["09:25:01", "09:26:30", "09:29:59"]
        .iter()
        .map(|time| {
            format!(
                "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be photo-archive \
                 [14/Mar/2025:{time} +0000] 203.0.113.7 - 3E57427F3EXAMPLE REST.GET.OBJECT guess/{time} \
                 \"GET /guess HTTP/1.1\" 404 NoSuchKey 250 - 5 - \"-\" \"Mozilla/5.0\" - \
                 s9lzHYrFp76ZVxRcpX9= SigV4 ECDHE-RSA-AES128-GCM-SHA256 - photo-archive.s3.eu-west-1.amazonaws.com TLSv1.2 - -"
            )
        })
        .collect();
    fs::write(dir.join("log"), lines.join("\n") + "\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["audit", "--json", "--rules", "enumeration"];
        args.extend_from_slice(extra);
        args.push("log");
        s3logs(&args, &dir)
    };
    let default = run(&[]);
    assert!(default.status.success(), "{}", stderr(&default));
    assert_eq!(stdout(&default), "");
    let lowered = run(&["--set", "enumeration.count=3"]);
    let hits = sorted_lines(&lowered);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit: Value = serde_json::from_str(&hits[0]).unwrap();
    assert_eq!(
        (
            &hit["Rule"],
            &hit["Severity"],
            &hit["Mitre"],
            &hit["WindowBy"],
            &hit["RemoteIP"]
        ),
        (
            &Value::from("enumeration"),
            &Value::from("medium"),
            &Value::from("T1619,T1580"),
            &Value::from("RemoteIP"),
            &Value::from("203.0.113.7")
        )
    );
    assert_eq!(hit["WindowStart"], "2025-03-14 09:25:00");
    let unknown = run(&["--set", "enumeration.window=5"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown setting `enumeration.window`"),
        "{}",
        stderr(&unknown)
    );
}
