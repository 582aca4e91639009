//! The postprocessor end to end against a real moto_server: an object in S3, the handler run
//! with its S3 event, the hit lines and metrics captured from the handler's output.
//!
//! One moto_server serves the whole file (each test uses its own bucket); it is started on
//! first use and exits with the test process.
// Test helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use lambda_adapter::{Disposition, S3Objects};
use lambda_runtime::{Context, LambdaEvent};
use postprocessor::{Config, Error, Handler, Output, Response};
use s3_access_log::RecordEncoder;
use serde_json::Value;
use testkit::{FaultProxy, Moto, S3Fault, Scenario};

fn moto() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start().unwrap_or_else(|error| panic!("{error}")))
        .endpoint()
}

/// What the handler wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The handler's output, split into hit lines and EMF lines.
struct Findings {
    hits: Vec<Value>,
    metrics: Vec<Value>,
}

impl Captured {
    fn findings(&self) -> Findings {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        let (metrics, hits) = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .partition(|value| value.get("_aws").is_some());
        Findings { hits, metrics }
    }
}

/// A raw 27-field log line.
struct Req<'a> {
    requester: &'a str,
    status: &'a str,
    error: &'a str,
    agent: &'a str,
    sig: &'a str,
    tls: &'a str,
    acl: &'a str,
}

const BASE: Req<'static> = Req {
    requester: "arn:aws:iam::418927365012:user/nightly-backup",
    status: "200",
    error: "-",
    agent: "aws-cli/2.15.0",
    sig: "SigV4",
    tls: "TLSv1.2",
    acl: "-",
};

fn raw(n: u32, r: &Req<'_>) -> String {
    format!(
        "5d2a8f0c1b7e4a9f8c3d6e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f photo-archive \
         [14/Mar/2025:09:{:02}:{:02} +0000] 198.51.100.{} {} 7QW2KX9RB3YH{n:04} REST.GET.OBJECT albums/img_{n}.jpg \
         \"GET /albums/img_{n}.jpg HTTP/1.1\" {} {} 5120 5120 41 12 \"-\" \"{}\" - \
         hG3kV9pQ2wT8rY1uE5iO7aS4dF6gJ0lZxC+vB/nM= {} ECDHE-RSA-AES128-GCM-SHA256 AuthHeader \
         photo-archive.s3.eu-west-1.amazonaws.com {} - {} eu-west-1",
        n / 60 % 60,
        n % 60,
        n % 250,
        r.requester,
        r.status,
        r.error,
        r.agent,
        r.sig,
        r.tls,
        r.acl
    )
}

/// NDJSON records of `lines`, as the preprocessor sends them through Firehose.
fn records(lines: &[String]) -> Vec<u8> {
    let encoder = RecordEncoder::new("s3://access-logs/photo-archive/2025-03-14-09-45-00-0A1B2C3D4E5F6071");
    let mut out = Vec::new();
    for line in lines {
        encoder.encode(line.as_bytes(), &mut out);
    }
    out
}

/// Gzip with a member per `member_lines` lines, like Firehose's multi-member objects.
fn gzip_members(ndjson: &[u8], member_lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let lines: Vec<&[u8]> = ndjson.split_inclusive(|&b| b == b'\n').collect();
    for chunk in lines.chunks(member_lines.max(1)) {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        for line in chunk {
            encoder.write_all(line).unwrap();
        }
        out.extend(encoder.finish().unwrap());
    }
    out
}

fn config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

/// The S3 event of the fixture, pointed at `bucket` and the URL-encoded `key`.
fn event(bucket: &str, encoded_key: &str) -> LambdaEvent<Value> {
    let fixture = include_str!("../../../events/s3-firehose-output.json");
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    value["Records"][0]["s3"]["bucket"]["name"] = bucket.into();
    value["Records"][0]["s3"]["object"]["key"] = encoded_key.into();
    LambdaEvent::new(value, Context::default())
}

async fn s3() -> aws_sdk_s3::Client {
    testkit::s3_client(&testkit::sdk_config(moto()).await)
}

/// The function's object source, pointed at moto.
async fn objects() -> S3Objects {
    S3Objects::new(&testkit::sdk_config(moto()).await)
}

/// Puts `body` at `key` in a new bucket and runs the handler on its event.
async fn run(
    bucket: &str,
    key: &str,
    encoded_key: &str,
    body: Vec<u8>,
    config: Config,
) -> (Result<Response, Error>, Findings) {
    let s3 = s3().await;
    testkit::create_bucket(&s3, bucket).await.unwrap();
    testkit::put_object(&s3, bucket, key, body).await.unwrap();
    let captured = Captured::default();
    let handler = Handler::new(config, objects().await, Output::new(captured.clone()));
    let result = handler.handle(event(bucket, encoded_key)).await;
    (result, captured.findings())
}

fn rules_of(hits: &[Value]) -> Vec<(String, u64)> {
    hits.iter()
        .map(|hit| {
            (
                hit["Rule"].as_str().unwrap().to_owned(),
                hit["HTTPstatus"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn reports_every_rule_from_a_multi_member_gzip_object() {
    let lines = vec![
        raw(1, &BASE),
        raw(
            2,
            &Req {
                sig: "SigV2",
                agent: "Boto/2.49.0 Python/2.7.17",
                ..BASE
            },
        ),
        raw(
            3,
            &Req {
                tls: "TLSV1.1",
                ..BASE
            },
        ),
        raw(4, &Req { acl: "Yes", ..BASE }),
        raw(
            5,
            &Req {
                status: "403",
                error: "AccessDenied",
                ..BASE
            },
        ),
        raw(
            6,
            &Req {
                requester: "-",
                sig: "-",
                ..BASE
            },
        ),
        "a line that is not an access log record".to_owned(),
        raw(
            8,
            &Req {
                sig: "SigV2",
                agent: "S3Console/0.4, aws-internal/3",
                ..BASE
            },
        ),
        raw(9, &BASE),
    ];
    let body = gzip_members(&records(&lines), 3);
    let key = "records/year=2025/month=03/day=14/hour=09/s3-access-logs-1-2025-03-14-09-36-07-abc def.gz";
    let encoded =
        "records/year%3D2025/month%3D03/day%3D14/hour%3D09/s3-access-logs-1-2025-03-14-09-36-07-abc+def.gz";
    let (result, findings) = run("rules", key, encoded, body, config(&[("RULES", SIX_RULES)])).await;

    let response = result.unwrap();
    assert_eq!(
        response,
        Response {
            objects: 1,
            records: 9,
            hits: 6,
            bad_lines: 0,
            damaged_objects: 0,
            skipped_objects: 0,
            failed_objects: 0
        }
    );
    let expected = [
        ("sigv2", 200),
        ("tls-legacy", 200),
        ("acl-required", 200),
        ("access-denied", 403),
        ("anonymous", 200),
        ("parse-errors", 0),
    ];
    let expected: Vec<(String, u64)> = expected.iter().map(|(r, s)| (r.to_string(), *s)).collect();
    assert_eq!(rules_of(&findings.hits), expected);
    let sigv2 = &findings.hits[0];
    assert_eq!(sigv2["UserAgent"], "Boto/2.49.0 Python/2.7.17");
    assert_eq!(sigv2["Timestamp"], "2025-03-14 09:00:02");
    assert_eq!(sigv2["SignatureVersion"], "SigV2");
    assert_eq!(
        sigv2["LogFile"],
        "s3://access-logs/photo-archive/2025-03-14-09-45-00-0A1B2C3D4E5F6071"
    );
    assert_eq!(findings.hits[1]["TLSVersion"], "TLSV1.1");
    assert_eq!(
        findings.hits[5]["RawLine"],
        "a line that is not an access log record"
    );

    // One EMF line per rule with hits, then the invocation's counters.
    let per_rule: Vec<(&str, f64)> = findings
        .metrics
        .iter()
        .filter_map(|m| Some((m["Rule"].as_str()?, m["Hits"].as_f64()?)))
        .collect();
    assert_eq!(per_rule.len(), 6);
    assert_eq!(per_rule[0], ("sigv2", 1.0));
    let last = findings.metrics.last().unwrap();
    assert_eq!(last["Function"], "postprocessor");
    assert_eq!(last["BadLines"], 0.0);
    assert_eq!(last["Records"], 9.0);
}

#[tokio::test]
async fn damaged_and_plain_objects_are_reported_and_never_retried() {
    let lines: Vec<String> = (0..3000)
        .map(|n| match n % 3 {
            0 => raw(n, &Req { sig: "SigV2", ..BASE }),
            _ => raw(n, &BASE),
        })
        .collect();
    let ndjson = records(&lines);
    let whole = gzip_members(&ndjson, 500);
    let sigv2 = config(&[]);

    // Plain NDJSON (not gzipped) is accepted as it is.
    let (result, findings) = run(
        "plain",
        "plain.ndjson",
        "plain.ndjson",
        ndjson.clone(),
        sigv2.clone(),
    )
    .await;
    assert_eq!(result.unwrap().hits, 1000);
    assert_eq!(findings.hits.len(), 1000);

    // Truncated: the members before the cut are audited, the object is counted as damaged.
    let cut = whole[..whole.len() * 2 / 3].to_vec();
    let (result, findings) = run("truncated", "cut.gz", "cut.gz", cut, sigv2.clone()).await;
    let response = result.unwrap();
    assert_eq!(response.damaged_objects, 1);
    assert!((300..1000).contains(&response.hits), "{response:?}");
    assert_eq!(findings.hits.len() as u64, response.hits);
    assert_eq!(findings.metrics.last().unwrap()["DamagedObjects"], 1.0);

    // Corrupt in the middle of a member.
    let mut corrupt = whole.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 64].fill(0x55);
    let (result, _) = run("corrupt", "corrupt.gz", "corrupt.gz", corrupt, sigv2.clone()).await;
    assert_eq!(result.unwrap().damaged_objects, 1);

    // Gzip magic followed by garbage.
    let garbage = b"\x1f\x8b\x08\x00this is not deflate data at all".to_vec();
    let (result, findings) = run("garbage", "garbage.gz", "garbage.gz", garbage, sigv2.clone()).await;
    assert_eq!(result.unwrap().damaged_objects, 1);
    assert!(findings.hits.is_empty());

    // Over the decompressed-size cap: a gzip bomb stops there.
    let capped = config(&[("MAX_DECOMPRESSED_BYTES", "100000")]);
    let (result, _) = run("capped", "bomb.gz", "bomb.gz", whole, capped).await;
    assert_eq!(result.unwrap().damaged_objects, 1);
}

#[tokio::test]
async fn bad_lines_are_counted_and_the_rest_is_audited() {
    let mut ndjson = records(&[raw(1, &Req { sig: "SigV2", ..BASE })]);
    ndjson.extend_from_slice(b"this is not json\n{\"SignatureVersion\":\"SigV2\"}\n{\"Rec");
    ndjson.extend_from_slice(b"\n\n");
    ndjson.extend(records(&[raw(2, &Req { sig: "SigV2", ..BASE })]));
    let body = gzip_members(&ndjson, 2);
    let (result, findings) = run("badlines", "bad.gz", "bad.gz", body, config(&[])).await;
    let response = result.unwrap();
    assert_eq!((response.hits, response.bad_lines, response.records), (2, 3, 5));
    assert_eq!(findings.hits.len(), 2);
    assert_eq!(findings.metrics.last().unwrap()["BadLines"], 3.0);
}

#[tokio::test]
async fn detection_settings_set_the_thresholds() {
    // Three denials by one requester in one minute, each from its own IP: a burst only when
    // DETECTION_SETTINGS lowers enumeration.count from its default of 50.
    let denied = Req {
        status: "403",
        error: "AccessDenied",
        ..BASE
    };
    let ndjson = records(&[raw(1, &denied), raw(2, &denied), raw(3, &denied)]);
    let cases = [("", None), ("enumeration.count=3", Some("albums/img_3.jpg"))];
    for (n, (settings, firing_key)) in cases.into_iter().enumerate() {
        let vars = [("RULES", "enumeration"), ("DETECTION_SETTINGS", settings)];
        let bucket = format!("settings-{n}");
        let (result, findings) = run(
            &bucket,
            "burst.gz",
            "burst.gz",
            gzip_members(&ndjson, 2),
            config(&vars),
        )
        .await;
        assert_eq!(result.unwrap().records, 3);
        let hits: Vec<(&str, &str, u64)> = findings
            .hits
            .iter()
            .map(|hit| {
                (
                    hit["WindowBy"].as_str().unwrap(),
                    hit["Key"].as_str().unwrap(),
                    hit["WindowTotal"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(&str, &str, u64)> =
            firing_key.map(|key| ("Requester", key, 3)).into_iter().collect();
        assert_eq!(hits, expected, "DETECTION_SETTINGS={settings:?}");
    }
}

#[tokio::test]
async fn summary_mode_prints_one_line_per_client() {
    let lines: Vec<String> = (0..40u32)
        .map(|n| {
            let agent = if n.is_multiple_of(4) {
                "old-sdk/1.0"
            } else {
                "Boto/2.49.0"
            };
            raw(
                n * 250,
                &Req {
                    sig: "SigV2",
                    agent,
                    ..BASE
                },
            )
        })
        .collect();
    let body = gzip_members(&records(&lines), 7);
    let (result, findings) = run("summary", "s.gz", "s.gz", body, config(&[("OUTPUT", "summary")])).await;
    assert_eq!(result.unwrap().hits, 40);
    let counts: Vec<(&str, u64)> = findings
        .hits
        .iter()
        .map(|line| {
            (
                line["UserAgent"].as_str().unwrap(),
                line["Count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("Boto/2.49.0", 30), ("old-sdk/1.0", 10)]);
    assert_eq!(findings.hits[0]["Rule"], "sigv2");
    assert_eq!(findings.hits[0]["RemoteIP"], "198.51.100.0");
    assert!(findings.hits[0].get("Key").is_none());
}

#[tokio::test]
async fn a_large_object_streams_through_and_matches_a_naive_count() {
    // Corpus lines (403s, garbage lines, non-ASCII agents) plus every third line a SigV2 one.
    let mut corpus = testkit::corpus::LogLines::new(7);
    let mut raw_bytes = Vec::new();
    for n in 0..1_500u32 {
        corpus.write_line(&mut raw_bytes);
        if n.is_multiple_of(3) {
            raw_bytes.extend_from_slice(
                raw(
                    n,
                    &Req {
                        sig: "SigV2",
                        tls: "TLSv1",
                        ..BASE
                    },
                )
                .as_bytes(),
            );
            raw_bytes.push(b'\n');
        }
    }
    let raw_lines: Vec<String> = String::from_utf8_lossy(&raw_bytes)
        .lines()
        .map(str::to_owned)
        .collect();
    let ndjson = records(&raw_lines);
    let expected = naive_counts(&ndjson);
    let body = gzip_members(&ndjson, 600);
    let (result, findings) = run(
        "large",
        "large.gz",
        "large.gz",
        body,
        config(&[("RULES", SIX_RULES), ("EXCLUDE_USER_AGENT", "")]),
    )
    .await;
    let response = result.unwrap();
    let mut found = std::collections::BTreeMap::new();
    for hit in &findings.hits {
        *found
            .entry(hit["Rule"].as_str().unwrap().to_owned())
            .or_insert(0u64) += 1;
    }
    assert_eq!(found, expected);
    assert!(
        expected["sigv2"] == 500 && expected["access-denied"] > 100,
        "{expected:?}"
    );
    assert_eq!(
        response.records as usize,
        raw_lines.iter().filter(|l| !l.trim().is_empty()).count()
    );
}

/// The rules these tests know the expected hits of; every detection of the catalogue has its
/// own positive and negative lines in the pipeline crate's audit tests.
const SIX_RULES: &str = "sigv2,tls-legacy,acl-required,access-denied,anonymous,parse-errors";

/// Hits per rule by the obvious method: parse every record fully and test its fields.
fn naive_counts(ndjson: &[u8]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let r: Value = serde_json::from_slice(line).unwrap();
        let s = |key: &str| r[key].as_str().map(str::to_owned);
        let rules = [
            ("sigv2", s("SignatureVersion").as_deref() == Some("SigV2")),
            (
                "tls-legacy",
                s("TLSVersion")
                    .is_some_and(|t| ["tlsv1", "tlsv1.0", "tlsv1.1"].contains(&t.to_lowercase().as_str())),
            ),
            ("acl-required", s("AclRequired").as_deref() == Some("Yes")),
            (
                "access-denied",
                r["HTTPstatus"] == 403 || s("ErrorCode").as_deref() == Some("AccessDenied"),
            ),
            (
                "anonymous",
                matches!(s("Requester").as_deref(), None | Some("Anonymous"))
                    && s("Operation").is_some_and(|op| !op.starts_with("WEBSITE.")),
            ),
            ("parse-errors", r.get("ParseError").is_some_and(Value::is_string)),
        ];
        for (rule, hit) in rules {
            if hit {
                *counts.entry(rule.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[tokio::test]
async fn the_s3_test_event_is_acknowledged() {
    let captured = Captured::default();
    let handler = Handler::new(config(&[]), objects().await, Output::new(captured.clone()));
    let test_event = serde_json::json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-23T10:00:00.000Z",
        "Bucket": "output-bucket", "RequestId": "5582A3E7D1F3C9B0", "HostId": "aG9zdC1pZA=="
    });
    let response = handler
        .handle(LambdaEvent::new(
            serde_json::from_value(test_event).unwrap(),
            Context::default(),
        ))
        .await
        .unwrap();
    assert_eq!(response, Response::default());
    assert!(captured.findings().hits.is_empty());
}

#[tokio::test]
async fn a_deleted_object_or_bucket_is_skipped() {
    let s3 = s3().await;
    testkit::create_bucket(&s3, "gone").await.unwrap();
    let captured = Captured::default();
    let handler = Handler::new(config(&[]), objects().await, Output::new(captured.clone()));
    let response = handler.handle(event("gone", "never-written.gz")).await.unwrap();
    assert_eq!(response.skipped_objects, 1);
    // NoSuchBucket is "gone" too, as in the preprocessor: nothing a retry could read.
    let response = handler.handle(event("no-such-bucket", "k.gz")).await.unwrap();
    assert_eq!((response.skipped_objects, response.failed_objects), (1, 0));
}

/// A server that answers every request with a gzip body cut off mid-stream: the connection
/// breaks, which must fail the invocation (a retry can succeed), not count as corrupt data.
#[tokio::test]
async fn a_connection_broken_mid_object_fails_the_invocation() {
    let body = gzip_members(
        &records(&(0..5000).map(|n| raw(n, &BASE)).collect::<Vec<_>>()),
        1000,
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        // Bounded in count (the SDK's 3 attempts at most) and in time.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while served < 3 && Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = stream.set_nonblocking(false);
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
        }
    });
    let mut config = config(&[]);
    // One resume, which this server answers with the whole object again (it ignores Range):
    // never spliced, so the download gives up.
    config.read.max_resumes = 1;
    let objects = S3Objects::new(&testkit::sdk_config(&endpoint).await);
    let handler = Handler::new(config, objects, Output::new(Captured::default()));
    let error = handler.handle(event("cut", "cut.gz")).await.unwrap_err();
    assert_eq!(error.disposition(), Disposition::Retry, "{error}");
    assert!(matches!(error, Error::Adapter(_)), "{error}");
}

/// S3 faults through the fault proxy: each scenario audits a ~2 MB Firehose object of
/// 3,000 SigV2 hits read through it; every hit line comes out exactly once (by `RecordId`), a
/// broken body being resumed with Range requests rather than read again from byte 0.
async fn audit_through_faults(name: &str, scenario: Scenario) -> Value {
    let lines: Vec<String> = (0..3_000)
        .map(|n| raw(n, &Req { sig: "SigV2", ..BASE }))
        .collect();
    let body = gzip_members(&records(&lines), 200);
    let s3 = s3().await;
    testkit::create_bucket(&s3, name).await.unwrap();
    testkit::put_object(&s3, name, "faults.gz", body).await.unwrap();
    let proxy = FaultProxy::start(moto(), &scenario).unwrap();
    let mut config = config(&[]);
    config.read.backoff_base = Duration::from_millis(5);
    config.read.backoff_cap = Duration::from_millis(50);
    let objects = S3Objects::new(&testkit::sdk_config(proxy.endpoint()).await);
    let captured = Captured::default();
    let handler = Handler::new(config, objects, Output::new(captured.clone()));
    let response = handler
        .handle(event(name, "faults.gz"))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let findings = captured.findings();
    let mut ids: Vec<&str> = findings
        .hits
        .iter()
        .map(|hit| hit["RecordId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(
        (before, ids.len()),
        (3_000, 3_000),
        "{name}: every hit exactly once"
    );
    assert_eq!((response.hits, response.damaged_objects), (3_000, 0), "{name}");
    proxy.stats().unwrap()
}

#[tokio::test]
async fn s3_faults_lose_and_repeat_no_hit() {
    let cases = [
        ("reset", Scenario::s3(&[S3Fault::ResetBody], 2), "reset_body", 2),
        (
            "truncate",
            Scenario::s3(&[S3Fault::TruncateBody], 1),
            "truncate_body",
            1,
        ),
        ("slowdown", Scenario::s3(&[S3Fault::SlowDown], 2), "slowdown", 0),
        ("error500", Scenario::s3(&[S3Fault::Error500], 2), "error500", 0),
        (
            "slowbody",
            Scenario::s3(&[S3Fault::SlowBody], 1).with_delay(Duration::from_secs(2)),
            "slow_body",
            0,
        ),
    ];
    for (name, scenario, fault, ranges) in cases {
        let stats = audit_through_faults(&format!("s3-fault-{name}"), scenario).await;
        assert!(
            stats["injected_s3"][fault].as_u64().unwrap() > 0,
            "{name}: {stats}"
        );
        assert_eq!(stats["range_requests"], ranges, "{name}: {stats}");
    }
}

/// Finding 3: access denied keeps the event for retry, as in the preprocessor.
#[tokio::test]
async fn access_denied_fails_the_invocation() {
    let s3 = s3().await;
    testkit::create_bucket(&s3, "denied").await.unwrap();
    testkit::put_object(&s3, "denied", "k.gz", gzip_members(&records(&[raw(1, &BASE)]), 1))
        .await
        .unwrap();
    let proxy = FaultProxy::start(moto(), &Scenario::s3(&[S3Fault::Denied], 1)).unwrap();
    let objects = S3Objects::new(&testkit::sdk_config(proxy.endpoint()).await);
    let handler = Handler::new(config(&[]), objects, Output::new(Captured::default()));
    let error = handler.handle(event("denied", "k.gz")).await.unwrap_err();
    assert_eq!(error.failure(), lambda_adapter::Failure::Denied, "{error}");
    assert_eq!(error.disposition(), Disposition::Retry);
    // Access is back: the retry audits the object.
    assert_eq!(handler.handle(event("denied", "k.gz")).await.unwrap().objects, 1);
}

#[test]
fn the_sample_event_decodes_to_the_firehose_object_key() {
    let payload = event("b", "records/year%3D2025/month%3D03/x+y.gz").payload;
    let Ok(lambda_adapter::Event::S3(targets)) = lambda_adapter::Event::from_value(payload) else {
        panic!("the sample event is an object notification");
    };
    let [lambda_adapter::Target::Object(object)] = &targets[..] else {
        panic!("one object: {targets:?}");
    };
    assert_eq!(object.key, "records/year=2025/month=03/x y.gz");
}

/// The records of `ndjson` as Firehose's conversion makes them: one Parquet row per record,
/// a row group every `row_group_bytes`.
fn parquet_of(ndjson: &[u8], row_group_bytes: usize) -> Vec<u8> {
    let options = columnar::WriterOptions {
        row_group_bytes,
        ..columnar::WriterOptions::default()
    };
    let mut writer = columnar::ParquetWriter::new(Vec::new(), options).unwrap();
    for record in ndjson.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
        writer.write_record(record).unwrap();
    }
    writer.finish().unwrap()
}

/// Corpus lines (403s, garbage, non-ASCII agents) with a SigV2 request every third line.
fn mixed_lines(count: u32) -> Vec<String> {
    let mut corpus = testkit::corpus::LogLines::new(11);
    let mut lines = Vec::new();
    for n in 0..count {
        let mut line = Vec::new();
        corpus.write_line(&mut line);
        lines.push(String::from_utf8_lossy(&line).trim_end().to_owned());
        if n.is_multiple_of(3) {
            lines.push(raw(
                n,
                &Req {
                    sig: "SigV2",
                    tls: "TLSv1",
                    ..BASE
                },
            ));
        }
    }
    lines
}

/// The metric lines without their timestamps, which differ between runs.
fn untimed(metrics: &[Value]) -> Vec<Value> {
    metrics
        .iter()
        .map(|metric| {
            let mut metric = metric.clone();
            metric["_aws"]["Timestamp"] = Value::Null;
            metric
        })
        .collect()
}

#[tokio::test]
async fn parquet_and_gzip_ndjson_of_the_same_records_give_identical_hits_and_metrics() {
    let lines = mixed_lines(1_200);
    let ndjson = records(&lines);
    let parquet = parquet_of(&ndjson, 150_000);
    let row_groups = parquet::file::reader::FileReader::num_row_groups(
        &parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(parquet.clone())).unwrap(),
    );
    assert!(row_groups >= 3, "{row_groups} row groups");
    let all = config(&[("RULES", "all"), ("EXCLUDE_USER_AGENT", "")]);
    let (gzip_result, gzip) = run("same-gz", "r.gz", "r.gz", gzip_members(&ndjson, 400), all.clone()).await;
    let (parquet_result, from_parquet) = run("same-parquet", "r.parquet", "r.parquet", parquet, all).await;

    let response = parquet_result.unwrap();
    assert_eq!(response, gzip_result.unwrap());
    let records = lines.iter().filter(|line| !line.trim().is_empty()).count() as u64;
    assert!(response.hits > 400 && response.records == records, "{response:?}");
    assert_eq!(from_parquet.hits, gzip.hits);
    assert_eq!(untimed(&from_parquet.metrics), untimed(&gzip.metrics));
}

#[tokio::test]
async fn damaged_empty_and_oversized_parquet_objects_are_reported_never_dropped() {
    let ndjson = records(
        &(0..3_000)
            .map(|n| raw(n, &Req { sig: "SigV2", ..BASE }))
            .collect::<Vec<_>>(),
    );
    let whole = parquet_of(&ndjson, 200_000);
    let sigv2 = config(&[]);

    // Cut short: no footer, so no row can be read; counted as damaged and acknowledged.
    let cut = whole[..whole.len() - 100].to_vec();
    let (result, findings) = run("parquet-cut", "cut.parquet", "cut.parquet", cut, sigv2.clone()).await;
    let response = result.unwrap();
    assert_eq!(
        (response.objects, response.damaged_objects, response.hits),
        (1, 1, 0)
    );
    assert!(findings.hits.is_empty());
    assert_eq!(findings.metrics.last().unwrap()["DamagedObjects"], 1.0);

    // A corrupt page in the second row group: the first row group's hits are printed.
    let metadata = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(whole.clone()))
        .map(|reader| parquet::file::reader::FileReader::metadata(&reader).clone())
        .unwrap();
    let mut corrupt = whole.clone();
    let page = metadata.row_group(1).column(0).data_page_offset() as usize;
    corrupt[page..page + 64].fill(0xff);
    let (result, findings) = run(
        "parquet-corrupt",
        "c.parquet",
        "c.parquet",
        corrupt,
        sigv2.clone(),
    )
    .await;
    let response = result.unwrap();
    let first_group = metadata.row_group(0).num_rows() as u64;
    assert_eq!((response.damaged_objects, response.hits), (1, first_group));
    assert_eq!(findings.hits.len() as u64, first_group);

    // An empty object and a Parquet file without rows: nothing to audit, nothing damaged.
    let no_rows = parquet_of(b"", 1 << 20);
    for (bucket, body) in [("empty-object", Vec::new()), ("parquet-no-rows", no_rows)] {
        let (result, findings) = run(bucket, "e.parquet", "e.parquet", body, sigv2.clone()).await;
        let response = result.unwrap();
        assert_eq!(
            (response.objects, response.records, response.damaged_objects),
            (1, 0, 0),
            "{bucket}"
        );
        assert_eq!(findings.metrics.last().unwrap()["Records"], 0.0, "{bucket}");
    }

    // Over MAX_SPOOL_BYTES: refused before it is spooled, and the event is kept for a redrive.
    let small = config(&[("MAX_SPOOL_BYTES", "10000")]);
    let (result, findings) = run("parquet-big", "big.parquet", "big.parquet", whole, small).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::TooLargeToSpool { max: 10_000, .. }),
        "{error}"
    );
    assert_eq!(error.disposition(), Disposition::Retry);
    assert!(error.to_string().contains("raise MAX_SPOOL_BYTES"), "{error}");
    assert!(findings.hits.is_empty());
    assert_eq!(findings.metrics[0]["ObjectsFailed"], 1.0);
}

/// A Parquet object's body broken twice while it is spooled: resumed with Range requests,
/// every hit printed exactly once.
#[tokio::test]
async fn a_parquet_object_is_spooled_through_broken_connections() {
    let lines: Vec<String> = (0..3_000)
        .map(|n| raw(n, &Req { sig: "SigV2", ..BASE }))
        .collect();
    let body = parquet_of(&records(&lines), 200_000);
    let s3 = s3().await;
    testkit::create_bucket(&s3, "parquet-faults").await.unwrap();
    testkit::put_object(&s3, "parquet-faults", "f.parquet", body)
        .await
        .unwrap();
    let proxy = FaultProxy::start(moto(), &Scenario::s3(&[S3Fault::ResetBody], 2)).unwrap();
    let mut config = config(&[]);
    config.read.backoff_base = Duration::from_millis(5);
    config.read.backoff_cap = Duration::from_millis(50);
    let objects = S3Objects::new(&testkit::sdk_config(proxy.endpoint()).await);
    let captured = Captured::default();
    let handler = Handler::new(config, objects, Output::new(captured.clone()));
    let response = handler
        .handle(event("parquet-faults", "f.parquet"))
        .await
        .unwrap();
    let mut ids: Vec<String> = captured
        .findings()
        .hits
        .iter()
        .map(|hit| hit["RecordId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (response.hits, ids.len(), response.damaged_objects),
        (3_000, 3_000, 0)
    );
    let stats = proxy.stats().unwrap();
    assert_eq!(stats["range_requests"], 2, "{stats}");
}
