//! Each event kind end to end against a real moto: raw log objects in S3, the handler, Firehose,
//! and what Firehose wrote read back and compared record by record with the parser's output.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use lambda_adapter::Event;
use lambda_adapter::Failure;
use lambda_runtime::{Context, LambdaEvent};
use pipeline::packing::Packing;
use preprocessor::Error;
use serde_json::{Value, json};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn s3_notification_delivers_every_record_of_every_object() {
    let world = World::start().await;
    let plain_key = "logs/2024-01-01-00-00-00-0A1B2C3D4E5F6789";
    let gz_key = "logs/backfill/2023 archive+€.log.gz";
    let plain = log_text(1, 2_000_000);
    let archived = log_text(2, 300_000);
    world.put(plain_key, &plain).await;
    world.put(gz_key, &gzip(&archived)).await;
    let handler = world.handler(world.config()).await;

    let event = s3_event(&[
        ("ObjectCreated:Put", RAW, plain_key, plain.len() as u64),
        ("ObjectRemoved:Delete", RAW, "logs/deleted", 0),
        ("ObjectCreated:CompleteMultipartUpload", RAW, gz_key, 1),
    ]);
    let invocation = invoke(&handler, event).await;
    let answer = invocation.result.unwrap();
    assert_eq!(answer["delivered"], 2, "{answer}");

    let mut expected = Expected::new();
    expected.add(RAW, plain_key, &plain).add(RAW, gz_key, &archived);
    let result = check(&expected, &world.delivered().await);
    assert_eq!(result.lost, 0, "{result:?}");
    assert_eq!(result.duplicates, 0, "{result:?}");

    let totals = invocation.totals;
    assert_eq!((totals.objects, totals.skipped, totals.failed), (2, 1, 0));
    assert_eq!(totals.delivery.ingest.lines, expected.lines);
    assert_eq!(totals.delivery.ingest.records, expected.lines);
    assert!(
        totals.delivery.ingest.parse_errors > 0,
        "the corpus has garbage lines"
    );
    assert_eq!(totals.delivery.retried_entries, 0);
    // Packed: a few records of up to ~1,000 KiB each, billed close to their size.
    let json_bytes = totals.delivery.ingest.bytes_out;
    assert_eq!(totals.delivery.firehose_bytes, json_bytes);
    assert!(
        totals.delivery.firehose_records <= json_bytes / 900_000 + 2,
        "{totals:?}"
    );
    assert!(totals.delivery.billed_units <= json_bytes.div_ceil(5120) + totals.delivery.firehose_records);
}

#[tokio::test]
async fn line_packing_sends_one_record_per_line() {
    let world = World::start().await;
    let key = "logs/2024-01-01-01-00-00-LINEMODE";
    let text = log_text(3, 700_000);
    world.put(key, &text).await;
    let mut config = world.config();
    config.packing = Packing::Line;
    let handler = world.handler(config).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, key, text.len() as u64)]),
    )
    .await;
    invocation.result.unwrap();
    let mut expected = Expected::new();
    expected.add(RAW, key, &text);
    let result = check(&expected, &world.delivered().await);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");
    let delivery = invocation.totals.delivery;
    assert_eq!(delivery.firehose_records, expected.lines);
    assert_eq!(delivery.firehose_batches, expected.lines.div_ceil(500));
    assert_eq!(
        delivery.billed_units, expected.lines,
        "each ~1.3 KB record is billed one 5 KB unit"
    );
}

#[tokio::test]
async fn s3_test_event_is_acknowledged_and_ignored() {
    let world = World::start().await;
    let handler = world.handler(world.config()).await;
    let event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-01-01T00:00:00.000Z",
        "Bucket": RAW, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"});
    let invocation = invoke(&handler, event.clone()).await;
    assert_eq!(invocation.result.unwrap()["ignored"], "s3:TestEvent");
    // The same test event arriving through SQS is done, not a failure.
    let invocation = invoke(&handler, sqs_event(&[("m-test", event.to_string())])).await;
    assert_eq!(invocation.result.unwrap()["batchItemFailures"], json!([]));
    assert!(world.delivered().await.is_empty());
}

#[tokio::test]
async fn sqs_reports_only_the_bad_message() {
    let world = World::start().await;
    let (a, b) = ("logs/2024-01-01-02-00-00-AAAA", "logs/2024-01-01-02-00-00-BBBB");
    let (text_a, text_b) = (log_text(4, 200_000), log_text(5, 200_000));
    world.put(a, &text_a).await;
    world.put(b, &text_b).await;
    let handler = world.handler(world.config()).await;

    let via_sns = json!({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:logs",
        "Message": s3_event(&[("ObjectCreated:Put", RAW, b, text_b.len() as u64)]).to_string()});
    let event = sqs_event(&[
        (
            "m-good",
            s3_event(&[("ObjectCreated:Put", RAW, a, text_a.len() as u64)]).to_string(),
        ),
        ("m-bad", "this is not an S3 notification".to_owned()),
        (
            "m-gone",
            s3_event(&[("ObjectCreated:Put", RAW, "logs/deleted-since", 10)]).to_string(),
        ),
        ("m-sns", via_sns.to_string()),
    ]);
    let invocation = invoke(&handler, event).await;
    let answer = invocation.result.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );

    let mut expected = Expected::new();
    expected.add(RAW, a, &text_a).add(RAW, b, &text_b);
    let result = check(&expected, &world.delivered().await);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");
    // The bad message is kept for retry (it alarms in the DLQ); the vanished object is gone,
    // logged and counted as skipped.
    assert_eq!(invocation.totals.objects, 2);
    assert_eq!(invocation.totals.failed, 1);
    assert_eq!(invocation.totals.skipped, 1);
}

#[tokio::test]
async fn eventbridge_object_created_is_delivered() {
    let world = World::start().await;
    // EventBridge keys are not URL-encoded: `+` is a plus here.
    let key = "logs/eventbridge/a+b 2024.log";
    let text = log_text(6, 150_000);
    world.put(key, &text).await;
    let handler = world.handler(world.config()).await;

    let invocation = invoke(&handler, eventbridge_event(RAW, key, text.len() as u64)).await;
    invocation.result.unwrap();
    let mut expected = Expected::new();
    expected.add(RAW, key, &text);
    let result = check(&expected, &world.delivered().await);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");

    let mut other = eventbridge_event(RAW, key, 1);
    other["detail-type"] = json!("Object Deleted");
    let invocation = invoke(&handler, other).await;
    invocation.result.unwrap();
    assert_eq!(invocation.totals.skipped, 1);
}

#[tokio::test]
async fn batch_operations_answer_each_task() {
    let world = World::start().await;
    let key = "logs/2023/12/31/2023-12-31-23-59-59-BACKFILL";
    let text = log_text(7, 250_000);
    world.put(key, &text).await;
    world.put("logs/empty", b"").await;
    let handler = world.handler(world.config()).await;

    let v1 = batch_event("1.0", &[("t-1", RAW, key), ("t-2", RAW, "logs/no-such-key")]);
    let answer = invoke(&handler, v1).await.result.unwrap();
    assert_eq!(answer["invocationSchemaVersion"], "1.0");
    assert_eq!(
        answer["invocationId"],
        "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    );
    assert_eq!(answer["treatMissingKeysAs"], "PermanentFailure");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["taskId"], "t-1");
    assert_eq!(results[0]["resultCode"], "Succeeded", "{answer}");
    assert_eq!(results[1]["taskId"], "t-2");
    assert_eq!(results[1]["resultCode"], "PermanentFailure", "{answer}");

    // Schema 2.0 names the bucket; a zero-byte object (no size in the task) is skipped.
    let v2 = batch_event("2.0", &[("t-3", RAW, "logs/empty")]);
    let answer = invoke(&handler, v2).await.result.unwrap();
    assert_eq!(answer["invocationSchemaVersion"], "2.0");
    assert_eq!(answer["results"][0]["resultCode"], "Succeeded", "{answer}");
    assert!(
        answer["results"][0]["resultString"]
            .as_str()
            .unwrap()
            .contains("zero-byte")
    );

    let mut expected = Expected::new();
    expected.add(RAW, key, &text);
    let result = check(&expected, &world.delivered().await);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");
}

#[tokio::test]
async fn batch_operations_keep_a_task_whose_stream_is_missing() {
    let world = World::start().await;
    let key = "logs/2024-02-01-00-00-00-NOSTREAM";
    world.put(key, &log_text(8, 50_000)).await;
    // A stream that does not exist: the object can be delivered once someone creates it, so
    // the task is kept (PermanentFailure is only for objects that can never be read).
    let mut config = world.config();
    config.delivery_stream = "no-such-stream".to_owned();
    let handler = world.handler(config).await;
    let answer = invoke(&handler, batch_event("2.0", &[("t-1", RAW, key)]))
        .await
        .result
        .unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "TemporaryFailure", "{answer}");
    assert!(
        answer["results"][0]["resultString"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFound"),
        "{answer}"
    );

    // The same object from an S3 notification: the event is kept (an error for Lambda to retry
    // and send to the on-failure destination), never acknowledged with its lines undelivered.
    let invocation = invoke(&handler, s3_event(&[("ObjectCreated:Put", RAW, key, 1)])).await;
    let error = invocation.result.unwrap_err();
    assert_eq!(error.failure(), Failure::Rejected, "{error}");
    assert!(matches!(error, Error::Firehose { .. }), "{error}");
    assert_eq!(invocation.totals.failed, 1);
}

#[tokio::test]
async fn skips_empty_objects_other_prefixes_and_its_own_output() {
    let world = World::start().await;
    world.put("logs/zero", b"").await;
    world.put("elsewhere/not-a-log", &log_text(9, 10_000)).await;
    testkit::put_object(
        &world.s3,
        LAKE,
        "records/2024/01/01/00/s3-access-logs-1",
        log_text(10, 10_000),
    )
    .await
    .unwrap();
    let handler = world.handler(world.config()).await;
    let event = s3_event(&[
        ("ObjectCreated:Put", RAW, "logs/zero", 0),
        ("ObjectCreated:Put", RAW, "elsewhere/not-a-log", 10_000),
        ("ObjectCreated:Put", "some-other-bucket", "logs/x", 10),
        (
            "ObjectCreated:Put",
            LAKE,
            "records/2024/01/01/00/s3-access-logs-1",
            10_000,
        ),
    ]);
    let invocation = invoke(&handler, event).await;
    assert_eq!(invocation.result.unwrap()["skipped"], 4);
    assert_eq!(invocation.totals.skipped, 4);
    assert_eq!(invocation.totals.delivery.ingest.lines, 0);
    let written = testkit::list_keys(&world.s3, LAKE, RECORDS).await.unwrap();
    assert_eq!(
        written,
        ["records/2024/01/01/00/s3-access-logs-1"],
        "nothing new was written"
    );
}

/// A Batch Operations task names the object the user asked for: one the configuration keeps the
/// function off is not read, so its task fails and says why in the completion report (a
/// `Succeeded` task means every line was delivered). Fixing the configuration (SOURCE_BUCKET and
/// SOURCE_PREFIX, or BackfillSources) and re-running the failures fixes it: TemporaryFailure.
#[tokio::test]
async fn batch_tasks_for_objects_it_may_not_read_fail_with_the_reason() {
    let world = World::start().await;
    world.put("elsewhere/not-a-log", &log_text(11, 10_000)).await;
    let own = "records/2024/01/01/00/s3-access-logs-1";
    testkit::put_object(&world.s3, LAKE, own, log_text(12, 10_000))
        .await
        .unwrap();
    let handler = world.handler(world.config()).await;
    let event = batch_event(
        "2.0",
        &[
            ("outside-prefix", RAW, "elsewhere/not-a-log"),
            ("other-bucket", "some-other-bucket", "logs/x"),
            ("own-output", LAKE, own),
        ],
    );
    let invocation = invoke(&handler, event).await;
    let answer = invocation.result.unwrap();
    let reasons = [
        "SOURCE_BUCKET/SOURCE_PREFIX",
        "SOURCE_BUCKET/SOURCE_PREFIX",
        "OUTPUT_BUCKET/OUTPUT_PREFIX",
    ];
    for (result, reason) in answer["results"].as_array().unwrap().iter().zip(reasons) {
        assert_eq!(result["resultCode"], "TemporaryFailure", "{answer}");
        let text = result["resultString"].as_str().unwrap();
        assert!(
            text.starts_with("not read: ") && text.contains(reason),
            "{answer}"
        );
    }
    assert_eq!(invocation.totals.delivery.ingest.lines, 0);
    assert_eq!(invocation.totals.failed, 3);
}

#[tokio::test]
async fn an_unknown_payload_is_an_error() {
    let world = World::start().await;
    let handler = world.handler(world.config()).await;
    let invocation = invoke(&handler, json!({"hello": "world"})).await;
    let error = invocation.result.unwrap_err();
    assert_eq!(error.failure(), Failure::Malformed, "{error}");
    assert_eq!(error.kind(), "UnknownEvent");
    // `handle` prints the metrics line and passes the error on for Lambda to report.
    let result = handler
        .handle(LambdaEvent::new(json!([1, 2, 3]), Context::default()))
        .await;
    assert!(result.is_err());
}

#[test]
fn the_sample_events_are_recognized() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut seen = Vec::new();
    for name in [
        "s3-put.json",
        "s3-test-event.json",
        "sqs.json",
        "eventbridge.json",
        "batch-operations.json",
    ] {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|error| panic!("events/{name}: {error}"));
        let value: Value = serde_json::from_str(&text).unwrap();
        let kind = match Event::from_value(value).unwrap_or_else(|error| panic!("events/{name}: {error}")) {
            Event::S3(_) => "s3",
            Event::S3Test => "test",
            Event::Sqs(_) => "sqs",
            Event::EventBridge(_) => "eventbridge",
            Event::BatchJob(_) => "batch",
        };
        seen.push(kind);
    }
    assert_eq!(seen, ["s3", "test", "sqs", "eventbridge", "batch"]);
}
