//! Firehose faults through a real HTTP path: the fault proxy sits between the handler and moto
//! and breaks `PutRecordBatch` calls on purpose. In every scenario no line may be lost; lines
//! sent again after a failure whose records had in fact landed (a reset after forwarding, a
//! timeout on a slow answer) come out as duplicates, which are counted and reported here (the
//! `RecordId` lets queries remove them).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use lambda_runtime::{Context, LambdaEvent};
use pipeline::packing::Packing;
use preprocessor::{Config, Error, Totals};
use serde_json::Value;
use testkit::{Fault, FaultProxy, Scenario};

struct Run {
    check: Check,
    totals: Totals,
    stats: Value,
}

/// Delivers a ~3 MB object through the proxy with `scenario` and checks that nothing is lost.
async fn run(name: &str, scenario: Scenario, tune: impl FnOnce(&mut Config)) -> Run {
    let world = World::start().await;
    let proxy = FaultProxy::start(world.moto.endpoint(), &scenario).unwrap();
    let key = format!("logs/2024-03-01-00-00-00-{name}");
    let text = log_text(name.len() as u64, 3_000_000);
    world.put(&key, &text).await;
    let mut config = world.config();
    // One line per record: ~4,600 records in 10 calls of 500, so faults hit several calls.
    config.packing = Packing::Line;
    tune(&mut config);
    let handler = world.handler_via(config, proxy.endpoint()).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, &key, text.len() as u64)]),
    )
    .await;
    if let Err(error) = &invocation.result {
        panic!("{name}: not delivered despite retries: {error}");
    }
    let mut expected = Expected::new();
    expected.add(RAW, &key, &text);
    let check = check(&expected, &world.delivered().await);
    let stats = proxy.stats().unwrap();
    let totals = invocation.totals;
    eprintln!(
        "fault scenario {name}: {} lines, lost {}, duplicates {}, retried entries {}, \
         PutRecordBatch calls {} for {} batches, injected {}",
        check.expected,
        check.lost,
        check.duplicates,
        totals.delivery.retried_entries,
        totals.delivery.put_calls,
        totals.delivery.firehose_batches,
        stats["injected"]
    );
    assert_eq!(check.lost, 0, "{name}: lines lost: {check:?}");
    assert_eq!(totals.delivery.ingest.lines, check.expected);
    Run { check, totals, stats }
}

fn injected(stats: &Value, fault: &str) -> u64 {
    stats["injected"][fault].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn partial_failures_resend_exactly_the_failed_entries() {
    let run = run("partial", Scenario::new(&[Fault::Partial], 6), |_| {}).await;
    assert_eq!(injected(&run.stats, "partial"), 6);
    // The failed entries never landed, so resending them duplicates nothing...
    assert_eq!(run.check.duplicates, 0);
    // ...and exactly they were resent: one resend per entry per failure.
    assert_eq!(
        run.totals.delivery.retried_entries,
        run.stats["entries_failed"].as_u64().unwrap()
    );
    assert!(run.totals.delivery.retried_entries > 0);
}

#[tokio::test]
async fn throttling_bursts_are_waited_out() {
    let run = run(
        "throttle",
        Scenario::new(&[Fault::Throttle, Fault::Unavailable], 8),
        |_| {},
    )
    .await;
    assert_eq!(injected(&run.stats, "throttle"), 4);
    assert_eq!(injected(&run.stats, "unavailable"), 4);
    assert_eq!(run.check.duplicates, 0);
    assert_eq!(
        run.totals.delivery.put_calls,
        run.totals.delivery.firehose_batches + 8
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let run = run("error500", Scenario::new(&[Fault::Error500], 4), |_| {}).await;
    assert_eq!(injected(&run.stats, "error500"), 4);
    assert_eq!(run.check.duplicates, 0);
}

#[tokio::test]
async fn connections_dropped_before_forwarding_are_retried() {
    let run = run("reset_before", Scenario::new(&[Fault::ResetBefore], 4), |_| {}).await;
    assert_eq!(injected(&run.stats, "reset_before"), 4);
    assert_eq!(run.check.duplicates, 0);
}

#[tokio::test]
async fn connections_dropped_after_forwarding_duplicate_but_lose_nothing() {
    let run = run("reset_after", Scenario::new(&[Fault::ResetAfter], 3), |_| {}).await;
    assert_eq!(injected(&run.stats, "reset_after"), 3);
    // The three calls landed before their connections dropped, so their entries were sent
    // twice: at most three full batches of duplicates, and every one of them counted.
    assert!(
        run.check.duplicates > 0 && run.check.duplicates <= 3 * 500,
        "{:?}",
        run.check
    );
    assert!(run.totals.delivery.retried_entries >= run.check.duplicates);
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let scenario = Scenario::new(&[Fault::Slow], 2).with_delay(Duration::from_millis(2500));
    let run = run("slow", scenario, |config| {
        config.tuning.attempt_timeout = Duration::from_secs(1)
    })
    .await;
    assert_eq!(injected(&run.stats, "slow"), 2);
    // The slow calls did land, after the handler had given up on them.
    assert!(
        run.check.duplicates > 0 && run.check.duplicates <= 2 * 500,
        "{:?}",
        run.check
    );
}

#[tokio::test]
async fn every_fault_in_turn_with_packed_records() {
    let scenario = Scenario::chaos(14).with_delay(Duration::from_millis(1500));
    let run = run("chaos", scenario, |config| {
        // Small packed records, so the object still makes several batches.
        config.packing = Packing::Packed;
        config.max_record_bytes = 16 * 1024;
        config.tuning.attempt_timeout = Duration::from_secs(1);
    })
    .await;
    for fault in [
        "partial",
        "throttle",
        "unavailable",
        "error500",
        "reset_before",
        "reset_after",
        "slow",
    ] {
        assert_eq!(injected(&run.stats, fault), 2, "{fault}: {}", run.stats);
    }
    assert!(run.totals.delivery.firehose_records > 1);
}

#[tokio::test]
async fn stops_before_the_deadline_and_keeps_the_event() {
    let world = World::start().await;
    // Firehose throttles for longer than the invocation may run.
    let proxy = FaultProxy::start(
        world.moto.endpoint(),
        &Scenario::new(&[Fault::Throttle], 1_000_000),
    )
    .unwrap();
    let key = "logs/2024-03-02-00-00-00-DEADLINE";
    world.put(key, &log_text(99, 100_000)).await;
    let mut config = world.config();
    // Only the deadline may stop it, not the attempt count.
    config.tuning.max_attempts = u32::MAX;
    let handler = world.handler_via(config, proxy.endpoint()).await;

    let with_deadline = |payload: Value| {
        let mut context = Context::default();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        context.deadline = now + 2_000;
        (LambdaEvent::new(payload, context), now + 2_000)
    };

    // S3 notification: an error, so Lambda retries and the on-failure destination keeps it.
    let (event, deadline) = with_deadline(s3_event(&[("ObjectCreated:Put", RAW, key, 1)]));
    let invocation = handler.run(event).await;
    let returned = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(
        matches!(invocation.result, Err(Error::OutOfTime)),
        "{:?}",
        invocation.result
    );
    assert!(
        returned < deadline,
        "returned {}ms after the deadline",
        returned - deadline
    );
    assert!(invocation.totals.delivery.put_calls > 1);

    // SQS: the message is reported failed, to be redelivered.
    let (event, _) = with_deadline(sqs_event(&[(
        "m-1",
        s3_event(&[("ObjectCreated:Put", RAW, key, 1)]).to_string(),
    )]));
    let answer = handler.run(event).await.result.unwrap();
    assert_eq!(answer["batchItemFailures"][0]["itemIdentifier"], "m-1");

    // Batch Operations: a temporary failure, which Batch Operations retries.
    let (event, _) = with_deadline(batch_event("1.0", &[("t-1", RAW, key)]));
    let answer = handler.run(event).await.result.unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "TemporaryFailure", "{answer}");
    assert!(
        world.delivered().await.is_empty(),
        "nothing got through the throttling"
    );
}

/// A proxy whose first PutRecordBatch half fails and every later one is throttled.
fn half_landed_then_throttled(world: &World) -> FaultProxy {
    let faults = [[Fault::Partial].as_slice(), &[Fault::Throttle; 99]].concat();
    FaultProxy::start(world.moto.endpoint(), &Scenario::new(&faults, 100)).unwrap()
}

/// One record per line (a partial failure leaves part of the lines landed), one batch in flight,
/// and the object given up after three attempts.
fn line_by_line_giving_up(world: &World) -> Config {
    let mut config = world.config();
    config.packing = Packing::Line;
    config.tuning.max_attempts = 3;
    config.tuning.max_in_flight = 1;
    config
}

/// Finding 6: a batch that half landed and was then given up reported none of its landed
/// records. Now `FirehoseRecords` is what Firehose took, as the proxy counted it, and the task
/// is a `TemporaryFailure` saying how many entries still failed.
#[tokio::test]
async fn records_that_landed_are_counted_when_the_object_is_given_up() {
    let world = World::start().await;
    let proxy = half_landed_then_throttled(&world);
    let key = "logs/2024-03-03-00-00-00-GIVENUP";
    world.put(key, &log_text(98, 100_000)).await;
    let handler = world
        .handler_via(line_by_line_giving_up(&world), proxy.endpoint())
        .await;

    let invocation = invoke(&handler, batch_event("2.0", &[("t-1", RAW, key)])).await;
    let answer = invocation.result.unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "TemporaryFailure", "{answer}");
    let reason = answer["results"][0]["resultString"].as_str().unwrap();
    assert!(reason.contains("still failing after 3 attempts"), "{reason}");
    let forwarded = proxy.stats().unwrap()["entries_forwarded"].as_u64().unwrap();
    assert!(forwarded > 0);
    let delivery = invocation.totals.delivery;
    assert_eq!(delivery.firehose_records, forwarded, "{delivery:?}");
    assert_eq!(
        delivery.firehose_bytes,
        world.delivered().await.len() as u64,
        "{delivery:?}"
    );
}

/// A backfill task that failed half-way (part of the object's records landed, the rest kept
/// failing) and its retry by Batch Operations: the retry delivers the object whole, so some lines
/// arrive twice, but every copy is the parser's record of its line under the line's `RecordId`.
/// The de-duplicated view (one row per `RecordId`) therefore holds each line once, and re-running
/// the job adds nothing to it.
#[tokio::test]
async fn a_task_retried_after_a_partial_delivery_adds_no_new_record() {
    let world = World::start().await;
    let proxy = half_landed_then_throttled(&world);
    let key = "logs/2024-03-04-00-00-00-HALFWAY";
    let text = log_text(97, 200_000);
    world.put(key, &text).await;
    let config = line_by_line_giving_up(&world);
    let task = batch_event("2.0", &[("t-1", RAW, key)]);

    let failing = world.handler_via(config.clone(), proxy.endpoint()).await;
    let answer = invoke(&failing, task.clone()).await.result.unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "TemporaryFailure", "{answer}");
    let mut expected = Expected::new();
    expected.add(RAW, key, &text);
    let half = check(&expected, &world.delivered().await);
    assert!(
        half.delivered > 0 && half.lost > 0,
        "part of the object landed: {half:?}"
    );

    let retry = world.handler(config).await;
    let answer = invoke(&retry, task).await.result.unwrap();
    assert_eq!(answer["results"][0]["resultCode"], "Succeeded", "{answer}");
    let both = check(&expected, &world.delivered().await);
    assert_eq!(both.lost, 0, "{both:?}");
    assert_eq!(
        both.duplicates, half.delivered,
        "only the first run's records twice: {both:?}"
    );
}
