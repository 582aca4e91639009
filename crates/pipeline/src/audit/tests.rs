//! Tests of the audit engine: every rule, the pre-check's soundness, raw/record equivalence,
//! summary mode, metrics and damaged input.

use std::io::{self, Write as _};

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use s3_access_log::RecordEncoder;
use serde_json::{Value, json};

use super::*;
use crate::decode::{Unreadable, UnreadableContent};
use crate::packing::MAX_RECORD;

const OWNER: &str = "3f1c9a0be2d84c7a9e65b0d1c2f3a4b5c6d7e8f90123456789abcdef01234567";

/// A raw log line of the 27-field format with the given request fields.
#[allow(clippy::too_many_arguments)] // One argument per field the cases vary keeps the tables readable.
fn raw(
    requester: &str,
    op: &str,
    status: &str,
    error: &str,
    agent: &str,
    sig: &str,
    tls: &str,
    acl: &str,
) -> String {
    format!(
        "{OWNER} photo-archive [14/Mar/2025:09:26:53 +0000] 198.51.100.23 {requester} 7QW2KX9RB3YHTM4E {op} \
         albums/2025/img_0042.jpg \"GET /photo-archive/albums/2025/img_0042.jpg HTTP/1.1\" {status} {error} 5120 5120 \
         41 12 \"-\" \"{agent}\" - hG3kV9pQ2wT8rY1uE5iO7aS4dF6gJ0lZxC+vB/nM= {sig} ECDHE-RSA-AES128-GCM-SHA256 \
         AuthHeader photo-archive.s3.eu-west-1.amazonaws.com {tls} - {acl} eu-west-1"
    )
}

const IAM: &str = "arn:aws:iam::210987654321:user/backup-agent";

/// The record of a raw line, as the preprocessor writes it.
fn record(line: &str) -> String {
    let mut out = Vec::new();
    RecordEncoder::new("s3://access-logs/photo-archive/2025-03-14-09-30-00-0A1B2C3D4E5F6071")
        .encode(line.as_bytes(), &mut out);
    String::from_utf8(out).unwrap().trim_end().to_owned()
}

fn auditor(rules: &str, exclude: &str, output: OutputMode) -> Auditor {
    Auditor::new(AuditConfig::new(rules, exclude, output).unwrap())
}

/// Runs `lines` (records) through an auditor and returns its output lines and totals.
fn audit_lines(auditor: &mut Auditor, lines: &[String]) -> (Vec<Value>, Totals) {
    let object = lines.join("\n");
    let mut out = Vec::new();
    auditor
        .audit_object(object.as_bytes(), "test", Format::Records, u64::MAX, &mut out)
        .unwrap();
    auditor.finish(&mut out).unwrap();
    let values = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (values, *auditor.totals())
}

/// The rules that existed before the catalogue; their selection must not change.
const ORIGINAL_SIX: &str = "sigv2,tls-legacy,acl-required,access-denied,anonymous,parse-errors";

#[test]
fn each_rule_selects_exactly_its_records() {
    let website = "WEBSITE.GET.OBJECT";
    let get = "REST.GET.OBJECT";
    // (line, rules expected to hit)
    let cases: Vec<(String, Vec<Rule>)> = vec![
        (
            raw(IAM, get, "200", "-", "aws-cli/2.15", "SigV4", "TLSv1.2", "-"),
            vec![],
        ),
        (
            raw(IAM, get, "200", "-", "aws-cli/2.15", "SigV2", "TLSv1.2", "-"),
            vec![Rule::Sigv2],
        ),
        (
            raw(IAM, get, "200", "-", "aws-cli/2.15", "sigv2", "TLSv1.2", "-"),
            vec![Rule::ParseErrors],
        ),
        (
            raw(IAM, get, "200", "-", "legacy/1.0", "SigV4", "TLSv1", "-"),
            vec![Rule::TlsLegacy],
        ),
        (
            raw(IAM, get, "200", "-", "legacy/1.0", "SigV4", "TLSV1.1", "-"),
            vec![Rule::TlsLegacy],
        ),
        (
            raw(IAM, get, "200", "-", "legacy/1.0", "SigV4", "TLSv1.0", "-"),
            vec![Rule::TlsLegacy],
        ),
        (
            raw(IAM, get, "200", "-", "modern/1.0", "SigV4", "TLSv1.3", "-"),
            vec![],
        ),
        (
            raw(IAM, get, "200", "-", "modern/1.0", "SigV4", "TLSv1.12", "-"),
            vec![],
        ),
        (
            raw(IAM, get, "200", "-", "acl-user/1.0", "SigV4", "TLSv1.2", "Yes"),
            vec![Rule::AclRequired],
        ),
        (
            raw(
                IAM,
                get,
                "403",
                "AccessDenied",
                "curl/8.5",
                "SigV4",
                "TLSv1.2",
                "-",
            ),
            vec![Rule::AccessDenied],
        ),
        (
            raw(
                IAM,
                get,
                "403",
                "SignatureDoesNotMatch",
                "curl/8.5",
                "SigV4",
                "TLSv1.2",
                "-",
            ),
            vec![Rule::AccessDenied],
        ),
        (
            raw(IAM, get, "404", "NoSuchKey", "curl/8.5", "SigV4", "TLSv1.2", "-"),
            vec![],
        ),
        (
            raw("-", get, "200", "-", "Mozilla/5.0", "-", "TLSv1.2", "-"),
            vec![Rule::Anonymous],
        ),
        (
            raw("Anonymous", get, "200", "-", "Mozilla/5.0", "-", "TLSv1.2", "-"),
            vec![Rule::Anonymous],
        ),
        (
            raw("-", website, "200", "-", "Mozilla/5.0", "-", "-", "-"),
            vec![],
        ),
        (
            raw("-", get, "403", "AccessDenied", "Mozilla/5.0", "-", "TLSv1", "-"),
            vec![Rule::TlsLegacy, Rule::AccessDenied, Rule::Anonymous],
        ),
        (
            raw(IAM, get, "200", "-", "old-sdk/0.9", "SigV2", "TLSv1.1", "Yes"),
            vec![Rule::Sigv2, Rule::TlsLegacy, Rule::AclRequired],
        ),
        (
            "this is not an access log line".to_owned(),
            vec![Rule::ParseErrors],
        ),
    ];
    for (line, expected) in cases {
        let mut auditor = auditor(ORIGINAL_SIX, "", OutputMode::Lines);
        let (hits, totals) = audit_lines(&mut auditor, &[record(&line)]);
        let rules: Vec<&str> = hits.iter().map(|hit| hit["Rule"].as_str().unwrap()).collect();
        let expected_names: Vec<&str> = expected.iter().map(|rule| rule.name()).collect();
        assert_eq!(rules, expected_names, "{line}");
        assert_eq!(totals.hits.total(), expected.len() as u64);
        assert_eq!(totals.bad_lines, 0);
    }
}

/// A record of an IAM user's GetObject (Friday 2025-03-14 09:26:53 UTC, aws-cli, 200) with
/// `changes` applied.
fn with(changes: &[(&str, Value)]) -> String {
    let base = record(&raw(
        IAM,
        "REST.GET.OBJECT",
        "200",
        "-",
        "aws-cli/2.15",
        "SigV4",
        "TLSv1.2",
        "-",
    ));
    let mut value: serde_json::Map<String, Value> = serde_json::from_str(&base).unwrap();
    for (key, new) in changes {
        assert!(value.contains_key(*key), "{key} is a record key");
        value.insert((*key).to_owned(), new.clone());
    }
    Value::Object(value).to_string()
}

/// Requests at `times` with `changes`.
fn at(times: &[&str], changes: &[(&str, Value)]) -> Vec<String> {
    times
        .iter()
        .map(|time| {
            let mut changes = changes.to_vec();
            changes.push(("Timestamp", json!(time)));
            with(&changes)
        })
        .collect()
}

#[test]
fn each_new_detection_has_positive_and_negative_lines() {
    let anonymous = ("Requester", Value::Null);
    let get = |status: u64| [("HTTPstatus", json!(status))];
    // (rule, settings, lines, expected hits as their WindowBy: "" for a rule on single records)
    let cases: Vec<(&str, &str, Vec<String>, Vec<&str>)> = vec![
        (
            "public-read",
            "",
            vec![with(std::slice::from_ref(&anonymous))],
            vec![""],
        ),
        (
            "public-read",
            "",
            vec![with(&[
                ("Requester", json!("Anonymous")),
                ("Operation", json!("REST.HEAD.OBJECT")),
            ])],
            vec![""],
        ),
        (
            "public-read",
            "",
            vec![with(&[anonymous.clone(), get(206)[0].clone()])],
            vec![""],
        ),
        (
            "public-read",
            "",
            vec![with(&[anonymous.clone(), get(403)[0].clone()])],
            vec![],
        ),
        ("public-read", "", vec![with(&[])], vec![]),
        (
            "public-read",
            "",
            vec![with(&[
                anonymous.clone(),
                ("Operation", json!("WEBSITE.GET.OBJECT")),
            ])],
            vec![],
        ),
        (
            "public-read",
            "",
            vec![with(&[
                anonymous.clone(),
                ("Operation", json!("REST.GET.BUCKET")),
            ])],
            vec![],
        ),
        (
            "anonymous",
            "",
            vec![
                with(&[anonymous.clone(), ("Operation", json!("REST.OPTIONS.PREFLIGHT"))]),
                with(&[anonymous.clone(), ("Operation", json!("WEBSITE.GET.OBJECT"))]),
            ],
            vec![],
        ),
        (
            "anonymous",
            "",
            vec![with(&[
                anonymous.clone(),
                ("Operation", json!("REST.GET.BUCKET")),
            ])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[("UserAgent", json!("curl/8.5.0"))])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[(
                "UserAgent",
                json!("sqlmap/1.7.2#stable (https://sqlmap.org)"),
            )])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[(
                "UserAgent",
                json!("Mozilla/5.0 (compatible; Googlebot/2.1)"),
            )])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[("UserAgent", json!("python-requests/2.31.0"))])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[(
                "UserAgent",
                json!("Boto3/1.34.0 md/Botocore#1.34.0 lang/python#3.11"),
            )])],
            vec![],
        ),
        (
            "suspicious-user-agent",
            "",
            vec![with(&[("UserAgent", Value::Null)])],
            vec![],
        ),
        ("suspicious-user-agent", "", vec![with(&[])], vec![]),
        (
            "suspicious-user-agent",
            "suspicious-user-agent.patterns=rclone/",
            vec![with(&[("UserAgent", json!("rclone/v1.65.0"))])],
            vec![""],
        ),
        (
            "suspicious-user-agent",
            "suspicious-user-agent.patterns=rclone/",
            vec![with(&[("UserAgent", json!("curl/8"))])],
            vec![],
        ),
        (
            "off-hours",
            "",
            at(
                &[
                    "2025-03-15 10:00:00",
                    "2025-03-12 07:59:59",
                    "2025-03-12 18:00:00",
                ],
                &[],
            ),
            vec!["", "", ""],
        ),
        (
            "off-hours",
            "",
            at(&["2025-03-12 08:00:00", "2025-03-12 17:59:59"], &[]),
            vec![],
        ),
        (
            "off-hours",
            "",
            at(&["2025-03-15 10:00:00"], std::slice::from_ref(&anonymous)),
            vec![],
        ),
        (
            "off-hours",
            "",
            vec![
                record(
                    "b854390a51155554b82ce2759564a1135bce83133d004f4d2001f157e13985d7 flow-log-test \
                     [15/Mar/2025:00:28:02 +0000] - AmazonS3 366DB3C4B325AB11 S3.EXPIRE.OBJECT 0/a.sst \"-\" - - \
                     - 317 - - \"-\" \"-\" qsEq9bDa2VyxyZ4c DMlPb9al4CvVBck150Cg - - - - - - -",
                ),
                with(&[
                    ("Timestamp", json!("2025-03-15 23:57:31")),
                    ("Requester", json!("svc:delivery.logs.amazonaws.com")),
                    ("Operation", json!("REST.PUT.OBJECT")),
                ]),
            ],
            vec![],
        ),
        (
            "off-hours",
            "off-hours.time-zone=America/New_York",
            at(&["2025-01-15 12:00:00", "2025-01-15 13:00:00"], &[]),
            vec![""],
        ),
        (
            "off-hours",
            "off-hours.days=sat-sun;off-hours.hours=00-24",
            at(&["2025-03-12 03:00:00", "2025-03-15 03:00:00"], &[]),
            vec![""],
        ),
        (
            "large-response",
            "",
            vec![with(&[("BytesSent", json!(1_073_741_825u64))])],
            vec![""],
        ),
        (
            "large-response",
            "",
            vec![
                with(&[("BytesSent", json!(1_073_741_824u64))]),
                with(&[("BytesSent", Value::Null)]),
            ],
            vec![],
        ),
        (
            "large-object",
            "",
            vec![with(&[("ObjectSize", json!(5_368_709_121u64))])],
            vec![""],
        ),
        (
            "large-object",
            "",
            vec![
                with(&[("ObjectSize", json!(5_368_709_120u64))]),
                with(&[("ObjectSize", Value::Null)]),
            ],
            vec![],
        ),
        (
            "bucket-config-change",
            "",
            vec![
                with(&[("Operation", json!("REST.PUT.BUCKETPOLICY"))]),
                with(&[
                    ("Operation", json!("REST.DELETE.PUBLIC_ACCESS_BLOCK")),
                    get(204)[0].clone(),
                ]),
                with(&[("Operation", json!("REST.PUT.LOGGING_STATUS"))]),
            ],
            vec!["", "", ""],
        ),
        (
            "bucket-config-change",
            "",
            vec![
                with(&[("Operation", json!("REST.GET.BUCKETPOLICY"))]),
                with(&[("Operation", json!("REST.PUT.BUCKETPOLICY")), get(403)[0].clone()]),
                with(&[("Operation", json!("REST.PUT.OBJECT"))]),
            ],
            vec![],
        ),
        // Anonymous: counted by IP only.
        (
            "enumeration",
            "enumeration.count=3",
            at(
                &[
                    "2025-03-14 09:25:00",
                    "2025-03-14 09:26:00",
                    "2025-03-14 09:29:59",
                ],
                &[anonymous.clone(), get(404)[0].clone()],
            ),
            vec!["RemoteIP"],
        ),
        // Signed: by IP and by requester; it fires once per window, not on the fourth.
        (
            "enumeration",
            "enumeration.count=3",
            at(
                &[
                    "2025-03-14 09:25:00",
                    "2025-03-14 09:26:00",
                    "2025-03-14 09:27:00",
                    "2025-03-14 09:28:00",
                ],
                &[get(403)[0].clone()],
            ),
            vec!["RemoteIP", "Requester"],
        ),
        // Across a window boundary (09:25) and mixed with a success: no burst.
        (
            "enumeration",
            "enumeration.count=3",
            at(
                &[
                    "2025-03-14 09:24:59",
                    "2025-03-14 09:25:00",
                    "2025-03-14 09:29:59",
                ],
                &[anonymous.clone(), get(404)[0].clone()],
            ),
            vec![],
        ),
        // Anonymous spelled the old way is no requester either: three IPs, no burst for one.
        (
            "enumeration",
            "enumeration.count=3",
            ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
                .map(|ip| {
                    with(&[
                        ("Requester", json!("Anonymous")),
                        ("RemoteIP", json!(ip)),
                        get(404)[0].clone(),
                    ])
                })
                .to_vec(),
            vec![],
        ),
        (
            "enumeration",
            "enumeration.count=3",
            [
                at(&["2025-03-14 09:26:00"; 2], &[get(404)[0].clone()]),
                at(&["2025-03-14 09:26:00"], &[]),
            ]
            .concat(),
            vec![],
        ),
        (
            "mass-deletion",
            "mass-deletion.count=3",
            [
                at(
                    &["2025-03-14 09:21:00", "2025-03-14 09:22:00"],
                    &[("Operation", json!("REST.DELETE.OBJECT")), get(204)[0].clone()],
                ),
                at(
                    &["2025-03-14 09:29:59"],
                    &[("Operation", json!("BATCH.DELETE.OBJECT")), get(204)[0].clone()],
                ),
            ]
            .concat(),
            vec!["Requester"],
        ),
        (
            "mass-deletion",
            "mass-deletion.count=3",
            at(
                &["2025-03-14 09:21:00"; 3],
                &[("Operation", json!("REST.POST.MULTI_OBJECT_DELETE"))],
            ),
            vec![],
        ),
        (
            "mass-deletion",
            "mass-deletion.count=3",
            at(
                &["2025-03-14 09:21:00"; 3],
                &[("Operation", json!("REST.DELETE.OBJECT")), get(403)[0].clone()],
            ),
            vec![],
        ),
        (
            "mass-deletion",
            "mass-deletion.count=3",
            [
                at(
                    &["2025-03-14 09:21:00"; 2],
                    &[("Operation", json!("REST.DELETE.OBJECT")), get(204)[0].clone()],
                ),
                at(
                    &["2025-03-14 09:21:00"],
                    &[
                        ("Operation", json!("REST.DELETE.OBJECT")),
                        get(204)[0].clone(),
                        ("Requester", json!("arn:aws:iam::210987654321:user/other")),
                    ],
                ),
            ]
            .concat(),
            vec![],
        ),
        (
            "bulk-download",
            "bulk-download.bytes=1000",
            at(
                &["2025-03-14 09:00:00", "2025-03-14 09:59:59"],
                &[anonymous.clone(), ("BytesSent", json!(600))],
            ),
            vec!["RemoteIP"],
        ),
        (
            "bulk-download",
            "bulk-download.bytes=1000",
            at(
                &["2025-03-14 08:59:59", "2025-03-14 09:00:00"],
                &[anonymous.clone(), ("BytesSent", json!(600))],
            ),
            vec![],
        ),
        (
            "bulk-download",
            "bulk-download.bytes=1000",
            [
                at(&["2025-03-14 09:10:00"], &[("BytesSent", json!(600))]),
                at(
                    &["2025-03-14 09:20:00"],
                    &[
                        ("BytesSent", json!(600)),
                        ("Requester", json!("arn:aws:iam::210987654321:user/other")),
                    ],
                ),
            ]
            .concat(),
            vec!["RemoteIP"],
        ),
    ];
    for (rule, settings, lines, expected) in cases {
        let mut config = AuditConfig::new(rule, "", OutputMode::Lines).unwrap();
        config.thresholds.apply(settings).unwrap();
        let mut auditor = Auditor::new(config);
        let (hits, totals) = audit_lines(&mut auditor, &lines);
        let by: Vec<&str> = hits
            .iter()
            .map(|hit| hit["WindowBy"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(by, expected, "{rule} {settings}: {lines:#?}");
        assert_eq!(totals.bad_lines, 0);
        for hit in &hits {
            let detection = Rule::from_name(rule).unwrap().detection();
            assert_eq!(hit["Rule"], rule);
            assert_eq!(hit["Severity"], detection.severity.name());
            assert_eq!(hit["Mitre"], detection.mitre_text());
        }
    }
}

#[test]
fn window_hits_name_their_window_and_total() {
    let mut config = AuditConfig::new("bulk-download", "", OutputMode::Lines).unwrap();
    config
        .thresholds
        .apply("bulk-download.bytes=1000;bulk-download.minutes=30")
        .unwrap();
    let lines = at(
        &[
            "2025-03-14 09:31:00",
            "2025-03-14 09:40:00",
            "2025-03-14 09:50:00",
        ],
        &[("Requester", Value::Null), ("BytesSent", json!(400))],
    );
    let (hits, _) = audit_lines(&mut Auditor::new(config), &lines);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["Timestamp"], "2025-03-14 09:50:00");
    assert_eq!(hits[0]["WindowBy"], "RemoteIP");
    assert_eq!(hits[0]["WindowStart"], "2025-03-14 09:30:00");
    assert_eq!(hits[0]["WindowTotal"], 1200);
}

#[test]
fn window_counters_stay_within_their_bound() {
    // Ten IPs with two 404s each, in order, against room for four counters.
    let lines: Vec<String> = (0..10)
        .flat_map(|i| {
            at(
                &["2025-03-14 09:26:00"; 2],
                &[
                    ("Requester", Value::Null),
                    ("HTTPstatus", json!(404)),
                    ("RemoteIP", json!(format!("192.0.2.{i}"))),
                ],
            )
        })
        .collect();
    let mut config = AuditConfig::new("enumeration", "", OutputMode::Lines).unwrap();
    config.thresholds.apply("enumeration.count=2").unwrap();
    let mut auditor = Auditor::new(config).with_window_limit(4);
    let (hits, totals) = audit_lines(&mut auditor, &lines);
    // Each IP's pair is adjacent, so every burst is still seen whole; the dropped counters are
    // counted and reported as a metric.
    assert_eq!(hits.len(), 10);
    assert!(totals.window_evictions >= 6, "{totals:?}");
    let metrics = auditor.metric_lines("postprocessor", 0);
    assert!(
        metrics.last().unwrap().contains("\"WindowEvictions\":"),
        "{metrics:?}"
    );
}

#[test]
fn hit_lines_carry_the_documented_keys_in_order() {
    let line = raw(
        IAM,
        "REST.PUT.OBJECT",
        "200",
        "-",
        "S3Browser/9",
        "SigV2",
        "TLSv1.2",
        "-",
    );
    let mut auditor = auditor("sigv2", "", OutputMode::Lines);
    let mut out = Vec::new();
    auditor
        .audit_object(record(&line).as_bytes(), "t", Format::Records, u64::MAX, &mut out)
        .unwrap();
    let id = format!("{:016x}", s3_access_log::record_id(line.as_bytes()));
    let expected = format!(
        r#"{{"Rule":"sigv2","Severity":"low","Mitre":"-","Bucket":"photo-archive","Timestamp":"2025-03-14 09:26:53","RemoteIP":"198.51.100.23","Requester":"{IAM}","Operation":"REST.PUT.OBJECT","Key":"albums/2025/img_0042.jpg","RequestURI":"GET /photo-archive/albums/2025/img_0042.jpg HTTP/1.1","HTTPstatus":200,"ErrorCode":null,"BytesSent":5120,"ObjectSize":5120,"UserAgent":"S3Browser/9","SignatureVersion":"SigV2","TLSVersion":"TLSv1.2","AclRequired":null,"RecordId":"{id}","LogFile":"s3://access-logs/photo-archive/2025-03-14-09-30-00-0A1B2C3D4E5F6071"}}"#
    );
    assert_eq!(String::from_utf8(out).unwrap(), expected + "\n");
}

#[test]
fn parse_error_hits_carry_the_reason_and_a_bounded_raw_line() {
    let long = format!("garbage {}", "x".repeat(5000));
    let mut auditor = auditor("parse-errors", DEFAULT_EXCLUDE_USER_AGENT, OutputMode::Lines);
    let (hits, _) = audit_lines(&mut auditor, &[record(&long)]);
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0]["ParseError"].as_str().unwrap().starts_with("Bucket") || hits[0]["ParseError"].is_string()
    );
    assert_eq!(hits[0]["RawLine"].as_str().unwrap().len(), MAX_RAW_LINE_IN_HIT);
    assert_eq!(hits[0]["UserAgent"], Value::Null);
}

/// The exclusion silences findings about client software only: a user agent is whatever the
/// client sends, and the console's own changes are what an audit must show.
#[test]
fn excluded_user_agents_are_skipped_by_the_client_software_rules_only() {
    let console = raw(
        IAM,
        "REST.GET.ACL",
        "200",
        "-",
        "S3Console/0.4, aws-internal/3",
        "SigV2",
        "TLSv1",
        "Yes",
    );
    let config_service = raw(
        IAM,
        "REST.GET.ACL",
        "403",
        "AccessDenied",
        "AWSConfig",
        "SigV4",
        "TLSv1.2",
        "-",
    );
    let user = raw(
        IAM,
        "REST.GET.ACL",
        "200",
        "-",
        "boto/2.49.0",
        "SigV2",
        "TLSv1.2",
        "-",
    );
    let console_policy = raw(
        IAM,
        "REST.PUT.BUCKETPOLICY",
        "204",
        "-",
        "S3Console/0.4, aws-internal/3",
        "SigV2",
        "TLSv1.2",
        "-",
    );
    let broken = "half a line".to_owned();
    let lines = [
        record(&console),
        record(&config_service),
        record(&user),
        record(&console_policy),
        record(&broken),
    ];
    let mut auditor = auditor("all", DEFAULT_EXCLUDE_USER_AGENT, OutputMode::Lines);
    let (hits, totals) = audit_lines(&mut auditor, &lines);
    let rules: Vec<(&str, &str)> = hits
        .iter()
        .map(|hit| {
            (
                hit["Rule"].as_str().unwrap(),
                hit["UserAgent"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("access-denied", "AWSConfig"),
            ("sigv2", "boto/2.49.0"),
            ("bucket-config-change", "S3Console/0.4, aws-internal/3"),
            ("parse-errors", "-"),
        ]
    );
    assert_eq!(totals.excluded, 3);
}

/// The record of an IAM user's GetObject over TLS 1.2 with boto, signed with `signature`.
fn boto_get_object(signature: &str) -> String {
    record(&raw(
        IAM,
        "REST.GET.OBJECT",
        "200",
        "-",
        "boto/2",
        signature,
        "TLSv1.2",
        "-",
    ))
}

#[test]
fn bad_lines_are_counted_with_their_line_numbers_and_the_rest_is_audited() {
    let hit = boto_get_object("SigV2");
    let lines = [
        hit.clone(),
        String::new(),
        "not json at all".to_owned(),
        hit[..hit.len() / 2].to_owned(),
        r#"{"SignatureVersion":"SigV2"}"#.to_owned(),
        r#"{"Rule":"a","Other":1}"#.to_owned(),
        hit.clone(),
    ];
    let object = lines.join("\n");
    let mut auditor = auditor("sigv2", "", OutputMode::Lines);
    let mut out = Vec::new();
    let report = auditor
        .audit_object(object.as_bytes(), "s3://b/k", Format::Records, u64::MAX, &mut out)
        .unwrap();
    assert_eq!(report.hits, 2);
    assert_eq!(report.records, 6);
    // Line 6 has no key a rule looks at; the pre-check passes it as a candidate all the same
    // (a required key is missing), so the full check reports it.
    assert_eq!(report.bad_lines, 4);
    let numbers: Vec<u64> = report.bad_line_examples.iter().map(|bad| bad.line).collect();
    assert_eq!(numbers, [3, 4, 5, 6]);
    assert_eq!(report.bad_line_examples[0].reason, "not a JSON object");
    assert!(
        report.bad_line_examples[2].reason.contains("has no `Bucket` key"),
        "{:?}",
        report.bad_line_examples[2]
    );
    assert!(report.damage.is_none());
}

#[test]
fn lines_missing_keys_are_reported_even_when_no_rule_looks_at_them() {
    let clean = boto_get_object("SigV4");
    let lines = [
        clean.clone(),
        // Both carry the key the rule checks, with a value it does not select: the pre-check
        // alone would let them through.
        r#"{"SchemaVersion":1,"RecordId":"0123456789abcdef","AclRequired":null}"#.to_owned(),
        r#"{"Bucket":"b","AclRequired":null}"#.to_owned(),
        clean,
    ];
    let mut auditor = auditor("acl-required", "", OutputMode::Lines);
    let mut out = Vec::new();
    let report = auditor
        .audit_object(
            lines.join("\n").as_bytes(),
            "s3://b/k",
            Format::Records,
            u64::MAX,
            &mut out,
        )
        .unwrap();
    assert_eq!((report.records, report.hits, report.bad_lines), (4, 0, 2));
    let numbers: Vec<u64> = report.bad_line_examples.iter().map(|bad| bad.line).collect();
    assert_eq!(numbers, [2, 3]);
    assert!(
        report
            .bad_line_examples
            .iter()
            .all(|bad| bad.reason.contains("has no")),
        "{:?}",
        report.bad_line_examples
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn damaged_objects_are_reported_after_auditing_what_could_be_read() {
    let hit = boto_get_object("SigV2");
    let body = format!("{hit}\n").repeat(2000);
    let mut two_members = gzip(body.as_bytes());
    two_members.extend(gzip(body.as_bytes()));

    let mut auditor = auditor("sigv2", "", OutputMode::Lines);
    let report = auditor
        .audit_object(&two_members[..], "k", Format::Records, u64::MAX, &mut io::sink())
        .unwrap();
    assert_eq!((report.hits, report.damage.is_none()), (4000, true));

    let cut = &two_members[..two_members.len() * 3 / 4];
    let report = auditor
        .audit_object(cut, "k", Format::Records, u64::MAX, &mut io::sink())
        .unwrap();
    let damage = report.damage.expect("damage reported");
    assert_eq!(damage.reason, Unreadable::TruncatedGzip);
    assert_eq!(
        damage.offset,
        report.decoded_bytes - (report.decoded_bytes % (hit.len() as u64 + 1))
    );
    assert!(report.hits > 2000 && report.hits < 4000, "{}", report.hits);

    let report = auditor
        .audit_object(&two_members[..], "k", Format::Records, 100_000, &mut io::sink())
        .unwrap();
    assert_eq!(report.damage.map(|d| d.reason), Some(Unreadable::SizeCap));
    assert_eq!(report.decoded_bytes, 100_000);

    let garbage = b"\x1f\x8b\x08\x00garbage that is not deflate";
    let report = auditor
        .audit_object(&garbage[..], "k", Format::Records, u64::MAX, &mut io::sink())
        .unwrap();
    assert_eq!(
        report.damage,
        Some(UnreadableContent {
            reason: Unreadable::TruncatedGzip,
            offset: 0
        })
    );
    assert_eq!(auditor.totals().damaged_objects, 3);
}

/// A raw object that ends in unreadable content: its lines are audited, and its quarantine
/// record is a `parse-errors` hit naming the reason.
#[test]
fn a_truncated_raw_object_is_audited_up_to_the_damage_and_quarantined() {
    let line = raw(
        IAM,
        "REST.GET.OBJECT",
        "200",
        "-",
        "boto/2",
        "SigV2",
        "TLSv1.2",
        "-",
    );
    let whole = gzip(format!("{line}\n").repeat(3000).as_bytes());
    let cut = &whole[..whole.len() / 2];
    let mut auditor = auditor("sigv2,parse-errors", "", OutputMode::Lines);
    let mut out = Vec::new();
    let report = auditor
        .audit_object(cut, "s3://logs/cut.gz", Format::RawLog, u64::MAX, &mut out)
        .unwrap();
    let damage = report.damage.expect("damage reported");
    assert_eq!(damage.reason, Unreadable::TruncatedGzip);
    let sigv2 = auditor.totals().hits.get(Rule::Sigv2);
    assert_eq!(damage.offset, sigv2 * (line.len() as u64 + 1));
    assert_eq!(auditor.totals().hits.get(Rule::ParseErrors), 1);
    assert_eq!(report.records, sigv2 + 1);
    let text = String::from_utf8(out).unwrap();
    let quarantine = text.lines().last().unwrap();
    assert!(
        quarantine.contains("\"ParseError\":\"truncated-gzip"),
        "{quarantine}"
    );
}

/// Finding 12 of issue 10: records over 512 KiB that the writer produces were bad lines to the
/// record reader. The reader now keeps the largest record the writer can produce whole.
#[test]
fn the_largest_record_the_writer_produces_is_audited_not_a_bad_line() {
    let mut auditor = auditor("parse-errors", "", OutputMode::Summary);
    let base = record("79a5 broken [line");
    let mut record = base.replacen(
        "\"RawLine\":\"",
        &format!("\"RawLine\":\"{}", "x".repeat(MAX_RECORD - 1 - base.len())),
        1,
    );
    assert_eq!(record.len() + 1, MAX_RECORD, "a record line of exactly the limit");
    record.push('\n');
    let report = auditor
        .audit_object(
            record.as_bytes(),
            "big",
            Format::Records,
            u64::MAX,
            &mut io::sink(),
        )
        .unwrap();
    assert_eq!((report.records, report.bad_lines, report.hits), (1, 0, 1));

    let over = format!("{}x{}", &record[..100], &record[100..]);
    let report = auditor
        .audit_object(
            over.as_bytes(),
            "over",
            Format::Records,
            u64::MAX,
            &mut io::sink(),
        )
        .unwrap();
    assert_eq!(
        (report.records, report.bad_lines),
        (1, 1),
        "one byte more is a bad line"
    );
}

#[test]
fn a_raw_line_and_its_record_give_the_same_hit_lines() {
    let lines = [
        raw(
            IAM,
            "REST.GET.OBJECT",
            "403",
            "AccessDenied",
            "boto/2 \"quoted\" \\ back",
            "SigV2",
            "TLSv1",
            "Yes",
        ),
        raw(
            "-",
            "REST.GET.OBJECT",
            "200",
            "-",
            "Mozilla/5.0 (X11; Linux) caf\u{e9}",
            "-",
            "TLSv1.1",
            "-",
        ),
        "79a5 broken [line".to_owned(),
        raw(IAM, "REST.GET.OBJECT", "200", "-", "ok", "SigV4", "TLSv1.3", "-"),
    ];
    let raw_object = lines.join("\r\n");
    let records: Vec<String> = lines.iter().map(|line| record(line)).collect();
    let name = "s3://access-logs/photo-archive/2025-03-14-09-30-00-0A1B2C3D4E5F6071";

    for output in [OutputMode::Lines, OutputMode::Summary] {
        let mut from_raw = Vec::new();
        let mut a = auditor("all", "", output);
        a.audit_object(
            raw_object.as_bytes(),
            name,
            Format::RawLog,
            u64::MAX,
            &mut from_raw,
        )
        .unwrap();
        a.finish(&mut from_raw).unwrap();
        let mut from_records = Vec::new();
        let mut b = auditor("all", "", output);
        b.audit_object(
            records.join("\n").as_bytes(),
            name,
            Format::Records,
            u64::MAX,
            &mut from_records,
        )
        .unwrap();
        b.finish(&mut from_records).unwrap();
        assert!(from_raw.len() > 100);
        assert_eq!(
            String::from_utf8(from_raw).unwrap(),
            String::from_utf8(from_records).unwrap()
        );
    }
}

#[test]
fn summary_mode_counts_hits_per_client() {
    let a = raw(
        IAM,
        "REST.GET.OBJECT",
        "200",
        "-",
        "boto/2",
        "SigV2",
        "TLSv1.2",
        "-",
    );
    let b = a.replace("14/Mar/2025:09:26:53", "14/Mar/2025:11:00:00");
    let other_ip = a.replace("198.51.100.23", "203.0.113.9");
    let lines = [record(&b), record(&a), record(&a), record(&other_ip)];
    let mut auditor = auditor("sigv2", "", OutputMode::Summary);
    let (groups, totals) = audit_lines(&mut auditor, &lines);
    assert_eq!(totals.hits.get(Rule::Sigv2), 4);
    assert_eq!(
        groups[0],
        json!({"Rule": "sigv2", "Severity": "low", "Mitre": "-", "Bucket": "photo-archive", "RemoteIP": "198.51.100.23", "Requester": IAM,
               "Operation": "REST.GET.OBJECT", "UserAgent": "boto/2", "Count": 3,
               "FirstSeen": "2025-03-14 09:26:53", "LastSeen": "2025-03-14 11:00:00"})
    );
    assert_eq!(groups[1]["RemoteIP"], "203.0.113.9");
    assert_eq!(groups[1]["Count"], 1);
    assert_eq!(groups.len(), 2);
}

#[test]
fn summary_groups_are_written_out_when_the_limit_is_reached() {
    let lines: Vec<String> = (0..5)
        .map(|i| {
            record(&raw(
                IAM,
                "REST.GET.OBJECT",
                "200",
                "-",
                &format!("client/{i}"),
                "SigV2",
                "-",
                "-",
            ))
        })
        .collect();
    let mut auditor = auditor("sigv2", "", OutputMode::Summary).with_group_limit(2);
    let (groups, _) = audit_lines(&mut auditor, &lines);
    assert_eq!(groups.len(), 5);
    assert!(groups.iter().all(|group| group["Count"] == 1));
}

#[test]
fn top_groups_keep_the_busiest_clients_within_the_limit() {
    let hit = |agent: &str| record(&raw(IAM, "REST.GET.OBJECT", "200", "-", agent, "SigV2", "-", "-"));
    // One busy client among a long tail of clients seen once each.
    let mut lines = Vec::new();
    for i in 0..100 {
        lines.push(hit("busy/1.0"));
        lines.push(hit(&format!("rare/{i}")));
    }
    let mut auditor = auditor("sigv2", "", OutputMode::Summary).with_top_groups(8);
    // At the end the kept groups are written as summary lines; none was written before.
    let (written, totals) = audit_lines(&mut auditor, &lines);
    assert_eq!(totals.hits.total(), 200);
    assert!(written.len() <= 8, "{}", written.len());
    let busy: Vec<_> = written
        .iter()
        .filter(|group| group["UserAgent"] == "busy/1.0")
        .collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(
        busy[0]["Count"], 100,
        "a client never forgotten keeps its exact count"
    );
    let kept: u64 = written.iter().map(|group| group["Count"].as_u64().unwrap()).sum();
    assert_eq!(
        kept + auditor.forgotten_hits(),
        200,
        "every hit is kept or counted as forgotten"
    );
    assert!(auditor.forgotten_hits() > 0);
}

#[test]
fn groups_kept_at_the_limit_keep_their_counts_and_time_ranges() {
    let hit = |agent: &str, time: &str| {
        let line = raw(IAM, "REST.GET.OBJECT", "200", "-", agent, "SigV2", "-", "-");
        record(&line.replace("14/Mar/2025:09:26:53", time))
    };
    let mut lines = Vec::new();
    for i in 0..60 {
        // The busy client's hits span the input; the rare ones make the groups be forgotten
        // and copied over again and again.
        lines.push(hit("busy/1.0", &format!("14/Mar/2025:10:{i:02}:00")));
        lines.push(hit(&format!("rare/{i}"), "14/Mar/2025:09:00:00"));
    }
    lines.push(hit("busy/1.0", "13/Mar/2025:23:59:59"));
    let mut auditor = auditor("sigv2", "", OutputMode::Summary).with_top_groups(6);
    let (written, _) = audit_lines(&mut auditor, &lines);
    let busy: Vec<_> = written
        .iter()
        .filter(|group| group["UserAgent"] == "busy/1.0")
        .collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0]["Count"], 61);
    assert_eq!(busy[0]["FirstSeen"], "2025-03-13 23:59:59");
    assert_eq!(busy[0]["LastSeen"], "2025-03-14 10:59:00");
}

#[test]
fn the_groups_kept_at_the_limit_do_not_depend_on_the_process() {
    // Every client hits once, so the busiest half is all ties: which ties are kept used to
    // follow the hash map's order, seeded anew in every auditor, so the same input gave a
    // different table on every run.
    let lines: Vec<String> = (0..200)
        .map(|i| {
            record(&raw(
                IAM,
                "REST.GET.OBJECT",
                "200",
                "-",
                &format!("client/{i}"),
                "SigV2",
                "-",
                "-",
            ))
        })
        .collect();
    let tables: Vec<Vec<Value>> = (0..2)
        .map(|_| {
            audit_lines(
                &mut auditor("sigv2", "", OutputMode::Summary).with_top_groups(8),
                &lines,
            )
            .0
        })
        .collect();
    assert_eq!(tables[0].len(), 8);
    assert_eq!(tables[0], tables[1]);
}

#[test]
fn summary_time_ranges_compare_timestamps_of_any_length() {
    // Records from another writer may carry fractions; the range is still by text order.
    let line = record(&raw(
        IAM,
        "REST.GET.OBJECT",
        "200",
        "-",
        "boto/2",
        "SigV2",
        "-",
        "-",
    ));
    let at = |time: &str| line.replace("2025-03-14 09:26:53", time);
    let lines = [
        at("2025-03-14 09:26:53.5"),
        at("2025-03-14 09:26:53"),
        at("2025-03-14 09:26:54.25"),
        at("2025-03-14 09:26:54"),
    ];
    let mut auditor = auditor("sigv2", "", OutputMode::Summary);
    let (groups, _) = audit_lines(&mut auditor, &lines);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["Count"], 4);
    assert_eq!(groups[0]["FirstSeen"], "2025-03-14 09:26:53");
    assert_eq!(groups[0]["LastSeen"], "2025-03-14 09:26:54.25");
}

#[test]
fn metric_lines_have_one_rule_dimension_each() {
    let lines = [
        record(&raw(
            IAM,
            "REST.GET.OBJECT",
            "200",
            "-",
            "boto/2",
            "SigV2",
            "TLSv1",
            "-",
        )),
        "not a record".to_owned(),
    ];
    let mut auditor = auditor("sigv2,tls-legacy,acl-required", "", OutputMode::Lines);
    audit_lines(&mut auditor, &lines);
    let metrics: Vec<Value> = auditor
        .metric_lines("postprocessor", 1_700_000_000_000)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(metrics.len(), 3, "{metrics:?}");
    assert_eq!(metrics[0]["Rule"], "sigv2");
    assert_eq!(metrics[0]["Function"], "postprocessor");
    assert_eq!(metrics[0]["Hits"], 1.0);
    assert_eq!(
        metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "Rule"]])
    );
    assert_eq!(
        metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "S3AccessLogs"
    );
    assert_eq!(metrics[1]["Rule"], "tls-legacy");
    assert_eq!(metrics[2]["BadLines"], 1.0);
    assert_eq!(metrics[2]["Records"], 2.0);
    assert_eq!(
        metrics[2]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function"]])
    );
}

#[test]
fn configuration_errors_name_the_bad_value() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "sigv2,sigv3",
            "",
            "unknown rule `sigv3`; known rules: sigv2, tls-legacy",
        ),
        (" , ", "", "no rules selected"),
        ("sigv2", "(unclosed", "invalid user-agent exclusion pattern"),
    ];
    for &(rules, exclude, expected) in cases {
        let error = AuditConfig::new(rules, exclude, OutputMode::Lines)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
    assert!(
        OutputMode::parse("table")
            .unwrap_err()
            .to_string()
            .contains("`table`")
    );
    let config = AuditConfig::new(" sigv2 , anonymous,", "", OutputMode::Summary).unwrap();
    assert_eq!(config.rules.to_string(), "sigv2,anonymous");
    assert_eq!(RuleSet::parse("all").unwrap(), RuleSet::all());
}

#[test]
fn sniffs_records_and_raw_logs_plain_or_gzipped() {
    let raw_line = raw(IAM, "REST.GET.OBJECT", "200", "-", "x", "SigV4", "TLSv1.2", "-");
    let native = format!(
        "\n{{\"bucket_name\":\"b\",\"user_agent\":\"{}\",\"schema_version_id\":\"V_1_0\"}}\n",
        "x".repeat(20_000)
    );
    let cases: Vec<(Vec<u8>, Format)> = vec![
        (
            format!("\n  \n{}\n", record(&raw_line)).into_bytes(),
            Format::Records,
        ),
        (raw_line.clone().into_bytes(), Format::RawLog),
        (gzip(record(&raw_line).as_bytes()), Format::Records),
        (gzip(raw_line.as_bytes()), Format::RawLog),
        (Vec::new(), Format::RawLog),
        // AWS's native records are read as logs are (converted by `ingest`), also when the
        // first line takes more than one read to arrive whole.
        (native.clone().into_bytes(), Format::RawLog),
        (gzip(native.as_bytes()), Format::RawLog),
    ];
    for (bytes, expected) in cases {
        assert_eq!(sniff_format(&bytes[..]).unwrap(), expected);
    }
}

/// JSON values a generated record may hold for a key: the interesting ones and noise.
fn value_strategy(interesting: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        proptest::sample::select(interesting).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn record_strategy() -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    let status = prop_oneof![
        Just(Value::Null),
        Just(json!(403)),
        Just(json!(404)),
        Just(json!(200)),
        Just(json!(204)),
        any::<u16>().prop_map(Value::from)
    ];
    (
        value_strategy(&["SigV2", "SigV4", "sigv2", "SigV2 "]),
        value_strategy(&["TLSv1", "TLSV1.1", "tlsv1.0", "TLSv1.2", "TLSv1.3", "TLSv1.1x"]),
        value_strategy(&["Yes", "yes", "-"]),
        status,
        value_strategy(&["AccessDenied", "NoSuchKey", "accessdenied"]),
        value_strategy(&["Anonymous", "-", "arn:aws:iam::1:user/a"]),
        value_strategy(&[
            "WEBSITE.GET.OBJECT",
            "REST.GET.OBJECT",
            "WEBSITE.",
            "REST.PUT.BUCKETPOLICY",
            "BATCH.DELETE.OBJECT",
        ]),
        value_strategy(&[
            "S3Console/0.4",
            "aws-cli/2",
            "\"SignatureVersion\":\"SigV2\"",
            "CURL/8",
            "sqlmap/1",
        ]),
        value_strategy(&[
            "2025-01-01 00:00:00",
            "2025-01-06 10:00:00",
            "2025-01-06T23:00:00",
        ]),
        prop_oneof![
            Just(Value::Null),
            Just(json!(0)),
            Just(json!(5)),
            Just(json!(20)),
            any::<u64>().prop_map(Value::from)
        ],
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            "[ -~]{0,8}".prop_map(|s| Some(Value::from(s)))
        ],
    )
        .prop_map(
            |(sig, tls, acl, status, error, requester, op, agent, time, bytes, parse_error)| {
                let mut fields = vec![
                    ("Bucket", json!("b")),
                    ("Timestamp", time),
                    ("RemoteIP", json!("192.0.2.1")),
                    ("Requester", requester),
                    ("Operation", op),
                    ("Key", json!("k")),
                    ("RequestURI", json!("GET / HTTP/1.1")),
                    ("HTTPstatus", status),
                    ("ErrorCode", error),
                    ("BytesSent", bytes.clone()),
                    ("ObjectSize", bytes),
                    ("UserAgent", agent),
                    ("SignatureVersion", sig),
                    ("TLSVersion", tls),
                    ("AclRequired", acl),
                    ("RecordId", json!("0011223344556677")),
                    ("LogFile", json!("s3://l/k")),
                ];
                if let Some(parse_error) = parse_error {
                    fields.push(("ParseError", parse_error));
                }
                fields
            },
        )
}

/// How a generated record is spelled: what any JSON writer might do.
#[derive(Clone, Debug)]
struct Spelling {
    order: Vec<usize>,
    whitespace: Vec<&'static str>,
    escape_key: Vec<bool>,
    escape_value: Vec<bool>,
    decoy: bool,
}

fn spelling_strategy() -> impl Strategy<Value = Spelling> {
    (
        Just((0..18).collect::<Vec<usize>>()).prop_shuffle(),
        proptest::collection::vec(proptest::sample::select(&["", " ", "\t", " \n "][..]), 18),
        proptest::collection::vec(proptest::bool::weighted(0.1), 18),
        proptest::collection::vec(proptest::bool::weighted(0.1), 18),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(order, whitespace, escape_key, escape_value, decoy)| Spelling {
            order,
            whitespace,
            escape_key,
            escape_value,
            decoy,
        })
}

/// Writes a JSON string with its first character as a `\u` escape.
fn escaped(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if (first as u32) < 0x10000 => {
            let rest = serde_json::to_string(chars.as_str()).unwrap();
            format!("\"\\u{:04x}{}", first as u32, &rest[1..])
        }
        _ => serde_json::to_string(text).unwrap(),
    }
}

fn spell(fields: &[(&str, Value)], spelling: &Spelling) -> String {
    let mut members = Vec::new();
    if spelling.decoy {
        members.push(r#""Nested":{"SignatureVersion":null,"HTTPstatus":200,"ParseError":null}"#.to_owned());
    }
    for &index in spelling.order.iter().filter(|&&index| index < fields.len()) {
        let (key, value) = &fields[index];
        let ws = spelling.whitespace[index];
        let key = if spelling.escape_key[index] {
            escaped(key)
        } else {
            serde_json::to_string(key).unwrap()
        };
        let value = match value {
            Value::String(text) if spelling.escape_value[index] => escaped(text),
            other => other.to_string(),
        };
        members.push(format!("{key}{ws}:{ws}{value}"));
    }
    format!("{{{}}}", members.join(","))
}

/// Thresholds low enough for generated records to reach them.
fn small_thresholds() -> Thresholds {
    let mut thresholds = Thresholds::default();
    thresholds
        .apply("large-response.bytes=10;large-object.bytes=10")
        .unwrap();
    thresholds
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The pre-check accepts every line the full check accepts, however the JSON is spelled.
    #[test]
    fn precheck_never_rejects_a_hit(fields in record_strategy(), spelling in spelling_strategy()) {
        let line = spell(&fields, &spelling);
        let thresholds = small_thresholds();
        let all = PreCheck::new(Rule::ALL, &thresholds);
        if let Ok(view) = RecordView::parse(line.as_bytes()) {
            for rule in Rule::ALL {
                if rule.matches(&view, &thresholds) {
                    prop_assert!(PreCheck::new([rule], &thresholds).is_candidate(line.as_bytes()), "{rule}: {line}");
                    prop_assert!(all.is_candidate_for(rule, line.as_bytes()), "{rule}: {line}");
                }
            }
        }
    }

    /// The same for records our own encoder writes from arbitrary raw lines.
    #[test]
    fn precheck_never_rejects_a_hit_of_an_encoded_line(line in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut json = Vec::new();
        RecordEncoder::new("f").encode(&line, &mut json);
        let json = json.trim_ascii();
        let thresholds = small_thresholds();
        if let Ok(view) = RecordView::parse(json) {
            for rule in Rule::ALL {
                if rule.matches(&view, &thresholds) {
                    prop_assert!(PreCheck::new([rule], &thresholds).is_candidate(json));
                }
            }
        }
    }

    /// Arbitrary bytes never panic the engine, in either format.
    #[test]
    fn arbitrary_objects_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut auditor = auditor("all", "", OutputMode::Summary);
        for format in [Format::Records, Format::RawLog] {
            auditor.audit_object(&bytes[..], "x", format, u64::MAX, &mut io::sink()).unwrap();
        }
        auditor.finish(&mut io::sink()).unwrap();
    }
}
