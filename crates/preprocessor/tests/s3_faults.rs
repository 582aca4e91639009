//! S3 faults through a real HTTP path: the fault proxy sits between the handler and moto's S3
//! and breaks `GetObject` calls on purpose (a reset or a clean close half-way through the body,
//! 503 SlowDown, 500, a slow body). Every line must arrive exactly once: a broken body is
//! resumed from the first byte not received, never read again from byte 0.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use pipeline::packing::Packing;
use preprocessor::Totals;
use serde_json::Value;
use testkit::{FaultProxy, S3Fault, Scenario};

/// Delivers a ~3 MB object read through the proxy with `scenario`; every line exactly once.
async fn run(name: &str, scenario: Scenario) -> (Totals, Value) {
    let world = World::start().await;
    let proxy = FaultProxy::start(world.moto.endpoint(), &scenario).unwrap();
    let key = format!("logs/2024-04-01-00-00-00-{name}");
    let text = log_text(name.len() as u64 + 100, 3_000_000);
    world.put(&key, &text).await;
    let mut config = world.config();
    config.packing = Packing::Line;
    let handler = world.handler_reading_via(config, proxy.endpoint()).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, &key, text.len() as u64)]),
    )
    .await;
    if let Err(error) = &invocation.result {
        panic!("{name}: not delivered: {error}");
    }
    let mut expected = Expected::new();
    expected.add(RAW, &key, &text);
    let check = check(&expected, &world.delivered().await);
    let stats = proxy.stats().unwrap();
    eprintln!("S3 fault scenario {name}: {check:?}, proxy {stats}");
    assert_eq!((check.lost, check.duplicates), (0, 0), "{name}: {check:?}");
    assert_eq!(invocation.totals.delivery.object_bytes, text.len() as u64);
    (invocation.totals, stats)
}

fn injected(stats: &Value, fault: &str) -> u64 {
    stats["injected_s3"][fault].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_reset_body_is_resumed_with_range_requests() {
    let (totals, stats) = run("reset", Scenario::s3(&[S3Fault::ResetBody], 2)).await;
    assert_eq!(injected(&stats, "reset_body"), 2);
    // The first response broke, and the first resume too: two Range requests.
    assert_eq!(stats["range_requests"], 2);
    assert_eq!(totals.delivery.resumes, 2);
}

#[tokio::test]
async fn a_truncated_body_is_resumed_with_range_requests() {
    let (totals, stats) = run("truncate", Scenario::s3(&[S3Fault::TruncateBody], 1)).await;
    assert_eq!(injected(&stats, "truncate_body"), 1);
    assert_eq!(stats["range_requests"], 1);
    assert_eq!(totals.delivery.resumes, 1);
}

#[tokio::test]
async fn slowdown_and_server_errors_are_retried() {
    let scenario = Scenario::s3(&[S3Fault::SlowDown, S3Fault::Error500], 4);
    let (totals, stats) = run("errors", scenario).await;
    assert_eq!(
        (injected(&stats, "slowdown"), injected(&stats, "error500")),
        (2, 2)
    );
    assert_eq!(stats["get_object_calls"], 5);
    assert_eq!(totals.delivery.resumes, 0);
}

#[tokio::test]
async fn a_slow_body_is_waited_for() {
    let scenario = Scenario::s3(&[S3Fault::SlowBody], 1).with_delay(Duration::from_secs(2));
    let (totals, stats) = run("slow", scenario).await;
    assert_eq!(injected(&stats, "slow_body"), 1);
    assert_eq!(totals.delivery.resumes, 0);
}

#[tokio::test]
async fn every_fault_in_turn_on_one_object() {
    let faults = [
        S3Fault::SlowDown,
        S3Fault::ResetBody,
        S3Fault::Error500,
        S3Fault::TruncateBody,
        S3Fault::SlowBody,
    ];
    let scenario = Scenario::s3(&faults, 5).with_delay(Duration::from_millis(500));
    let (totals, stats) = run("chaos", scenario).await;
    for fault in ["slowdown", "reset_body", "error500", "truncate_body", "slow_body"] {
        assert_eq!(injected(&stats, fault), 1, "{fault}: {stats}");
    }
    assert_eq!(totals.delivery.resumes, 2);
}

/// Finding 3: access denied kept an S3 event for retry but was a `PermanentFailure` in Batch
/// Operations. Now every event kind keeps it: an error, a batch item failure, a
/// `TemporaryFailure`; and once access is back, the object is delivered.
#[tokio::test]
async fn access_denied_is_kept_for_retry_by_every_event_kind() {
    let world = World::start().await;
    let key = "logs/2024-04-02-00-00-00-DENIED";
    let text = log_text(77, 100_000);
    world.put(key, &text).await;
    // One denial per event kind below, then access is back.
    let proxy = FaultProxy::start(world.moto.endpoint(), &Scenario::s3(&[S3Fault::Denied], 4)).unwrap();
    let handler = world.handler_reading_via(world.config(), proxy.endpoint()).await;
    let notification = s3_event(&[("ObjectCreated:Put", RAW, key, text.len() as u64)]);

    let s3 = invoke(&handler, notification.clone()).await;
    let error = s3.result.unwrap_err();
    assert_eq!(error.failure(), lambda_adapter::Failure::Denied, "{error}");
    assert_eq!(s3.totals.failed, 1);
    let eventbridge = invoke(&handler, eventbridge_event(RAW, key, text.len() as u64)).await;
    assert!(eventbridge.result.is_err());
    let sqs = invoke(&handler, sqs_event(&[("m-1", notification.to_string())])).await;
    assert_eq!(
        sqs.result.unwrap()["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-1"}])
    );
    let batch = invoke(&handler, batch_event("2.0", &[("t-1", RAW, key)])).await;
    let answer = batch.result.unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "TemporaryFailure", "{answer}");
    assert!(world.delivered().await.is_empty());

    invoke(&handler, notification).await.result.unwrap();
    let mut expected = Expected::new();
    expected.add(RAW, key, &text);
    let check = check(&expected, &world.delivered().await);
    assert_eq!((check.lost, check.duplicates), (0, 0), "{check:?}");
}
