//! S3 Batch Operations tasks as a backfill job sends them, against a real moto (reads through the
//! fault proxy where a download breaks): the task's result code says exactly what happened to
//! the object the task names, and every line of a `Succeeded` task is delivered once.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use common::*;
use serde_json::{Value, json};
use testkit::{FaultProxy, S3Fault, Scenario};

/// The result codes of a job's answer, in task order.
fn codes(answer: &Value) -> Vec<&str> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["resultCode"].as_str().unwrap())
        .collect()
}

/// Finding 5: a task naming a version (`s3VersionId`, from the manifest of a versioned bucket)
/// read whichever version was current: an overwritten key delivered the new bytes instead of
/// the named ones, a key deleted since (a delete marker) was a `PermanentFailure` although its
/// version could still be read, and a version that does not exist was `Succeeded`. Now the named
/// version is read, also when a broken download is resumed.
#[tokio::test]
async fn a_task_reads_the_version_it_names() {
    let world = World::start().await;
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    world
        .s3
        .put_bucket_versioning()
        .bucket(RAW)
        .versioning_configuration(versioning)
        .send()
        .await
        .unwrap();
    let version_of = |key: &'static str| {
        let s3 = world.s3.clone();
        async move {
            let head = s3.head_object().bucket(RAW).key(key).send().await.unwrap();
            head.version_id().unwrap().to_owned()
        }
    };
    let (overwritten, deleted) = (
        "logs/2023-01-01-00-00-00-OVERWRITTEN",
        "logs/2023-01-01-00-00-00-DELETED",
    );
    let (named, deleted_text) = (log_text(61, 1_500_000), log_text(62, 200_000));
    world.put(overwritten, &named).await;
    let named_version = version_of(overwritten).await;
    world.put(overwritten, &log_text(63, 200_000)).await;
    world.put(deleted, &deleted_text).await;
    let deleted_version = version_of(deleted).await;
    world
        .s3
        .delete_object()
        .bucket(RAW)
        .key(deleted)
        .send()
        .await
        .unwrap();

    // The first download of the overwritten key breaks half-way: the resume must continue the
    // named version, not the current one.
    let scenario = Scenario::s3(&[S3Fault::ResetBody], 1).for_key("OVERWRITTEN");
    let proxy = FaultProxy::start(world.moto.endpoint(), &scenario).unwrap();
    let handler = world.handler_reading_via(world.config(), proxy.endpoint()).await;
    let mut job = batch_event(
        "2.0",
        &[
            ("t-1", RAW, overwritten),
            ("t-2", RAW, deleted),
            ("t-3", RAW, overwritten),
        ],
    );
    job["tasks"][0]["s3VersionId"] = json!(named_version);
    job["tasks"][1]["s3VersionId"] = json!(deleted_version);
    let missing_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY_MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo";
    job["tasks"][2]["s3VersionId"] = json!(missing_version);
    let invocation = invoke(&handler, job).await;
    let answer = invocation.result.unwrap();

    assert_eq!(
        codes(&answer),
        ["Succeeded", "Succeeded", "PermanentFailure"],
        "{answer}"
    );
    let reason = answer["results"][2]["resultString"].as_str().unwrap();
    assert!(reason.contains(missing_version), "{reason}");
    assert_eq!(invocation.totals.delivery.resumes, 1);
    let stats = proxy.stats().unwrap();
    assert_eq!(stats["injected_s3"]["reset_body"], 1, "{stats}");

    let mut expected = Expected::new();
    expected
        .add(RAW, overwritten, &named)
        .add(RAW, deleted, &deleted_text);
    let result = check(&expected, &world.delivered().await);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");
}

/// Keys as a manifest holds them (URL-encoded) with every character that needs care: each task
/// of both schemas reads its object, every line arrives once, and the `LogFile` of each
/// quarantined record is the key itself, escaped as JSON requires.
#[tokio::test]
async fn tasks_of_both_schemas_read_keys_with_any_character() {
    let keys = [
        "logs/2024 01/a+b=c&d.log",
        "logs/100%/%41%zz",
        "logs/café €/日本 😀",
        "logs/q\"uote\\back\ttab\u{1}ctl",
    ];
    for schema in ["1.0", "2.0"] {
        let world = World::start().await;
        let handler = world.handler(world.config()).await;
        let mut expected = Expected::new();
        for (n, key) in keys.iter().enumerate() {
            let text = [log_text(71 + n as u64, 20_000), b"not a log line\n".to_vec()].concat();
            world.put(key, &text).await;
            expected.add(RAW, key, &text);
        }
        let tasks: Vec<(&str, &str, &str)> = keys.iter().map(|key| ("t", RAW, *key)).collect();
        let answer = invoke(&handler, batch_event(schema, &tasks))
            .await
            .result
            .unwrap();
        assert_eq!(codes(&answer), ["Succeeded"; 4], "{schema}: {answer}");

        let delivered = world.delivered().await;
        let result = check(&expected, &delivered);
        assert_eq!((result.lost, result.duplicates), (0, 0), "{schema}: {result:?}");
        let mut log_files: Vec<String> = delivered
            .split(|&byte| byte == b'\n')
            .filter(|record| !record.is_empty())
            .filter_map(|record| {
                let record: Value = serde_json::from_slice(record).unwrap();
                record["LogFile"].as_str().map(str::to_owned)
            })
            .collect();
        log_files.sort();
        log_files.dedup();
        let mut wanted: Vec<String> = keys.iter().map(|key| format!("s3://{RAW}/{key}")).collect();
        wanted.sort();
        assert_eq!(log_files, wanted, "{schema}");
    }
}
