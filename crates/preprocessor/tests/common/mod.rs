//! Shared set-up of the integration tests: a real moto with a raw-log bucket, a lake bucket and
//! a delivery stream writing into it; the handler wired to moto (Firehose optionally through the
//! fault proxy); event payloads of each kind; and the check that every input line arrived as
//! exactly the record the parser makes of it.

// Each test binary uses a part of it; a failed unwrap is a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use lambda_adapter::{S3Marks, S3Objects};
use lambda_runtime::{Context, LambdaEvent};
use preprocessor::aws::FirehoseSink;
use preprocessor::{Config, Handler, Invocation, Tuning};
use s3_access_log::{Outcome, RecordEncoder};
use serde_json::{Value, json};
use testkit::Moto;

/// Where raw logs are put.
pub const RAW: &str = "raw-logs";
/// Prefix of raw logs in [`RAW`].
pub const LOGS: &str = "logs/";
/// Where Firehose writes.
pub const LAKE: &str = "lake";
/// Prefix of Firehose's objects in [`LAKE`].
pub const RECORDS: &str = "records/";
/// The delivery stream.
pub const STREAM: &str = "s3-access-logs";

/// Moto with the buckets and the stream of the deployment.
pub struct World {
    pub moto: Moto,
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
}

impl World {
    pub async fn start() -> World {
        let moto = Moto::start().expect("starting moto_server");
        let sdk = testkit::sdk_config(moto.endpoint()).await;
        let s3 = testkit::s3_client(&sdk);
        testkit::create_bucket(&s3, RAW).await.unwrap();
        testkit::create_bucket(&s3, LAKE).await.unwrap();
        let firehose = testkit::firehose_client(&sdk);
        testkit::create_s3_delivery_stream(&firehose, STREAM, LAKE, RECORDS)
            .await
            .unwrap();
        World { moto, sdk, s3 }
    }

    /// The deployment's configuration with quick retries.
    pub fn config(&self) -> Config {
        let mut config = Config::new(STREAM);
        config.source_bucket = Some(RAW.to_owned());
        config.source_prefix = LOGS.to_owned();
        config.output_bucket = Some(LAKE.to_owned());
        config.output_prefix = RECORDS.to_owned();
        config.state_bucket = Some(LAKE.to_owned());
        config.tuning = fast_tuning();
        config
    }

    /// The handler reading from moto and writing to moto's Firehose.
    pub async fn handler(&self, config: Config) -> Handler<S3Objects, FirehoseSink> {
        let endpoint = self.moto.endpoint().to_owned();
        self.handler_via(config, &endpoint).await
    }

    /// The handler reading from moto and writing to Firehose at `firehose_endpoint` (a proxy).
    pub async fn handler_via(
        &self,
        config: Config,
        firehose_endpoint: &str,
    ) -> Handler<S3Objects, FirehoseSink> {
        let firehose_sdk = testkit::sdk_config(firehose_endpoint).await;
        let sink = FirehoseSink::new(&firehose_sdk, &config);
        let source = S3Objects::new(&self.sdk);
        let marks = config
            .state_bucket
            .as_deref()
            .map(|bucket| S3Marks::new(&source, bucket));
        Handler::new(config, source, sink).with_marks(marks)
    }

    /// The handler reading S3 at `s3_endpoint` (a proxy) and writing to moto's Firehose.
    pub async fn handler_reading_via(
        &self,
        config: Config,
        s3_endpoint: &str,
    ) -> Handler<S3Objects, FirehoseSink> {
        let s3_sdk = testkit::sdk_config(s3_endpoint).await;
        let sink = FirehoseSink::new(&self.sdk, &config);
        let source = S3Objects::new(&s3_sdk);
        let marks = config
            .state_bucket
            .as_deref()
            .map(|bucket| S3Marks::new(&source, bucket));
        Handler::new(config, source, sink).with_marks(marks)
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        testkit::put_object(&self.s3, RAW, key, body.to_vec())
            .await
            .unwrap();
    }

    /// Everything Firehose wrote, concatenated (one moto object per accepted call).
    pub async fn delivered(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for key in testkit::list_keys(&self.s3, LAKE, RECORDS).await.unwrap() {
            all.extend(testkit::read_object(&self.s3, LAKE, &key).await.unwrap());
        }
        all
    }
}

/// Retries fast enough for tests, deadlines as in Lambda.
pub fn fast_tuning() -> Tuning {
    let mut tuning = Tuning {
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(100),
        deadline_margin: Duration::from_millis(500),
        attempt_timeout: Duration::from_secs(5),
        ..Tuning::default()
    };
    tuning.read.backoff_base = Duration::from_millis(5);
    tuning.read.backoff_cap = Duration::from_millis(50);
    tuning
}

/// Runs the handler on a payload with no deadline.
pub async fn invoke(handler: &Handler<S3Objects, FirehoseSink>, payload: Value) -> Invocation {
    handler.run(LambdaEvent::new(payload, Context::default())).await
}

/// Deterministic log text of at least `bytes` bytes.
pub fn log_text(seed: u64, bytes: usize) -> Vec<u8> {
    testkit::corpus::LogLines::new(seed).take_bytes(bytes)
}

/// The records the parser makes of some objects, by record id: identical lines share an id
/// (within an object, or across objects with a different `LogFile`), hence a list with counts.
#[derive(Default)]
pub struct Expected {
    records: HashMap<u64, Vec<(Vec<u8>, u64)>>,
    pub lines: u64,
}

impl Expected {
    pub fn new() -> Self {
        Expected::default()
    }

    /// Adds every line of `text`, read from `s3://bucket/key`.
    pub fn add(&mut self, bucket: &str, key: &str, text: &[u8]) -> &mut Self {
        let encoder = RecordEncoder::new(&format!("s3://{bucket}/{key}"));
        for line in text.split(|&byte| byte == b'\n') {
            let mut record = Vec::new();
            if encoder.encode(line, &mut record) == Outcome::Skipped {
                continue;
            }
            let id = s3_access_log::record_id(line);
            self.lines += 1;
            let same_id = self.records.entry(id).or_default();
            match same_id.iter_mut().find(|(known, _)| *known == record) {
                Some((_, count)) => *count += 1,
                None => same_id.push((record, 1)),
            }
        }
        self
    }
}

/// How delivered records compare with the expected ones.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
}

/// Compares `delivered` NDJSON with `expected`: every delivered record must be byte for byte
/// the parser's record of an input line; missing lines are lost, extra copies duplicates.
pub fn check(expected: &Expected, delivered: &[u8]) -> Check {
    let mut seen: HashMap<(u64, usize), u64> = HashMap::new();
    let mut count = 0;
    for record in delivered.split_inclusive(|&byte| byte == b'\n') {
        assert!(
            record.ends_with(b"\n"),
            "a record without its newline: {}",
            String::from_utf8_lossy(record)
        );
        let id = record_id_of(record);
        let candidates = expected
            .records
            .get(&id)
            .unwrap_or_else(|| panic!("unexpected record {}", String::from_utf8_lossy(record)));
        let Some(index) = candidates.iter().position(|(wanted, _)| wanted == record) else {
            assert_eq!(
                String::from_utf8_lossy(record),
                String::from_utf8_lossy(&candidates[0].0),
                "record {id:016x} differs from the parser's"
            );
            unreachable!("records that differ failed the assertion");
        };
        *seen.entry((id, index)).or_default() += 1;
        count += 1;
    }
    let mut result = Check {
        expected: expected.lines,
        delivered: count,
        ..Check::default()
    };
    for (id, same_id) in &expected.records {
        for (index, (_, wanted)) in same_id.iter().enumerate() {
            let got = seen.get(&(*id, index)).copied().unwrap_or(0);
            result.lost += wanted.saturating_sub(got);
            result.duplicates += got.saturating_sub(*wanted);
        }
    }
    result
}

/// The `RecordId` of a record line.
pub fn record_id_of(record: &[u8]) -> u64 {
    const KEY: &[u8] = b"\"RecordId\":\"";
    let at = record
        .windows(KEY.len())
        .position(|window| window == KEY)
        .expect("a RecordId")
        + KEY.len();
    let hex = std::str::from_utf8(&record[at..at + 16]).expect("hex RecordId");
    u64::from_str_radix(hex, 16).expect("hex RecordId")
}

/// Form-encodes a key as S3 does in notifications and Batch Operations manifests.
pub fn url_encode(key: &str) -> String {
    let mut encoded = String::new();
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// An S3 notification with one record per `(event name, bucket, key, size)`.
pub fn s3_event(records: &[(&str, &str, &str, u64)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(name, bucket, key, size)| {
            json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2024-01-01T00:00:00.000Z", "eventName": name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "192.0.2.10"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {
                    "s3SchemaVersion": "1.0", "configurationId": "raw-logs",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": url_encode(key), "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An SQS event with one message per `(message id, body)`.
pub fn sqs_event(messages: &[(&str, String)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1704067200000",
                    "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1704067200001"},
                "messageAttributes": {}, "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:raw-logs-events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An EventBridge "Object Created" event (keys are not URL-encoded there).
pub fn eventbridge_event(bucket: &str, key: &str, size: u64) -> Value {
    json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "192.0.2.1", "reason": "PutObject"}
    })
}

/// A Batch Operations job of `schema` ("1.0" names buckets by ARN, "2.0" by name), one task per
/// `(task id, bucket, key)`.
pub fn batch_event(schema: &str, tasks: &[(&str, &str, &str)]) -> Value {
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|(id, bucket, key)| {
            let mut task = json!({"taskId": id, "s3Key": url_encode(key), "s3VersionId": null});
            if schema == "1.0" {
                task["s3BucketArn"] = json!(format!("arn:aws:s3:::{bucket}"));
            } else {
                task["s3Bucket"] = json!(bucket);
            }
            task
        })
        .collect();
    let mut job = json!({"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"});
    if schema == "2.0" {
        job["userArguments"] = json!({"backfill": "2024-01"});
    }
    json!({"invocationSchemaVersion": schema, "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo", "job": job, "tasks": tasks})
}
