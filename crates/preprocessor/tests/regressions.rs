//! Regression tests of issue 10's findings against moto: no object is acknowledged with lines
//! undelivered, a decoded-size cap stops gzip bombs, and a retried event does not resend the
//! objects an earlier attempt delivered.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use lambda_adapter::mark_key;
use pipeline::ingest::{Limits, RecordReader, Unreadable};
use pipeline::packing::Packing;
use serde_json::json;
use testkit::{FaultProxy, S3Fault, Scenario};

fn gzip(data: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Finding 1: a gzip log object cut short part-way was acknowledged with none of its readable
/// lines delivered. Now every whole line before the cut is delivered and the object is
/// acknowledged (its unreadable tail counted by reason).
#[tokio::test]
async fn a_truncated_gzip_object_delivers_every_readable_line() {
    let world = World::start().await;
    let key = "logs/2024-05-01-00-00-00-TRUNCATED.gz";
    let text = log_text(31, 600_000);
    let whole = gzip(&text, Compression::default());
    let cut = &whole[..whole.len() * 2 / 3];
    world.put(key, cut).await;
    let mut readable = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(cut).read_to_end(&mut readable);
    let end = readable.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let handler = world.handler(world.config()).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, key, cut.len() as u64)]),
    )
    .await;
    invocation.result.unwrap();
    let mut expected = Expected::new();
    expected.add(RAW, key, &readable[..end]);
    let delivered = world.delivered().await;
    // The readable lines, each once, and one quarantine record for the unreadable tail.
    let (quarantine, readable_records): (Vec<&[u8]>, Vec<&[u8]>) = delivered
        .split_inclusive(|&b| b == b'\n')
        .partition(|record| String::from_utf8_lossy(record).contains("truncated-gzip"));
    assert_eq!(quarantine.len(), 1);
    let readable_records = readable_records.concat();
    let result = check(&expected, &readable_records);
    assert_eq!((result.lost, result.duplicates), (0, 0), "{result:?}");
    assert!(result.expected > 100, "{result:?}");
    assert_eq!(invocation.totals.objects, 1);
    assert_eq!(invocation.totals.failed, 0);
    let unreadable = invocation.totals.delivery.ingest.unreadable_objects;
    assert_eq!(unreadable.get(Unreadable::TruncatedGzip), 1);
}

/// Finding 1: with `Packing=gzip`, one record in the last 1,024 bytes below ingest's limit (over
/// what the gzip packer accepted) made the whole object fail (`{"delivered":0,"failed":1}`),
/// delivering none of its lines.
#[tokio::test]
async fn gzip_packing_delivers_an_object_with_a_record_at_the_limit() {
    let world = World::start().await;
    let key = "logs/2024-05-01-00-00-00-HUGE";
    let mut text = log_text(32, 200_000);
    text.extend(line_with_record_near_the_limit(&format!("s3://{RAW}/{key}")));
    text.extend(log_text(33, 200_000));
    world.put(key, &text).await;
    let mut config = world.config();
    config.packing = Packing::Gzip;
    let handler = world.handler(config).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, key, text.len() as u64)]),
    )
    .await;
    let answer = invocation.result.unwrap();
    assert_eq!(answer["failed"], 0, "{answer}");
    assert_eq!(answer["delivered"], 1, "{answer}");
    // `delivered` reads the gzip members back as NDJSON.
    let records = world.delivered().await.split_inclusive(|&b| b == b'\n').count() as u64;
    assert_eq!(records, invocation.totals.delivery.ingest.lines);
    assert!(records > 500, "{records}");
}

/// A quarantined line of quotes whose record is within 1,024 bytes of the record limit (where the
/// gzip packer used to refuse it): the record grows by a fixed number of bytes per quote.
fn line_with_record_near_the_limit(log_file: &str) -> Vec<u8> {
    let limits = Limits::default();
    let packer_max = limits.max_record - 1024;
    let quotes = |n: usize| [vec![b'"'; n], b"\n".to_vec()].concat();
    let size_of = |n: usize| {
        let mut record = Vec::new();
        let line = quotes(n);
        RecordReader::new(&line[..], log_file, limits)
            .unwrap()
            .next_record(&mut record)
            .unwrap();
        record.len()
    };
    let (at, step) = (200_000, 1_000);
    let per_quote = (size_of(at + step) - size_of(at)) / step;
    let n = at + (packer_max + per_quote - size_of(at)).div_ceil(per_quote);
    assert!(size_of(n) > packer_max && size_of(n) <= limits.max_record);
    quotes(n)
}

/// Finding 2: no cap on decoded bytes, so a gzip bomb ran to the timeout. Now reading stops at
/// `MAX_OBJECT_BYTES` and the object is acknowledged, counted as `size-cap`.
#[tokio::test]
async fn a_gzip_bomb_stops_at_the_object_cap() {
    let world = World::start().await;
    let key = "logs/2024-05-01-00-00-00-BOMB.gz";
    // 256 MiB of one byte: 256 copies of a 1 MiB gzip member (a multi-member gzip is one
    // stream), well under 1 MiB stored.
    let member = gzip(&vec![b'a'; 1 << 20], Compression::best());
    let bomb = member.repeat(256);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    world.put(key, &bomb).await;
    let mut config = world.config();
    config.max_object_bytes = 8 << 20;
    let handler = world.handler(config).await;

    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, key, bomb.len() as u64)]),
    )
    .await;
    invocation.result.unwrap();
    let ingest = invocation.totals.delivery.ingest;
    assert!(ingest.bytes_in <= 9 << 20, "{ingest:?}");
    let unreadable = invocation.totals.delivery.ingest.unreadable_objects;
    assert_eq!(unreadable.get(Unreadable::SizeCap), 1);
}

/// Finding 4: an event whose second object failed was retried whole, so the first object's
/// lines were sent again. Now the retry skips the object delivered by the first attempt, for an
/// S3 notification and for an SQS message naming two objects alike: every line exactly once.
#[tokio::test]
async fn a_retried_event_does_not_resend_its_delivered_objects() {
    for wiring in ["s3", "sqs"] {
        let world = World::start().await;
        let first = format!("logs/2024-06-01-00-00-00-FIRST-{wiring}");
        let second = format!("logs/2024-06-01-00-00-00-SECOND-{wiring}");
        let (text_1, text_2) = (log_text(41, 300_000), log_text(42, 300_000));
        world.put(&first, &text_1).await;
        world.put(&second, &text_2).await;
        // Every attempt the SDK makes for the second object fails on the first invocation.
        let scenario = Scenario::s3(&[S3Fault::Error500], lambda_adapter::s3::SDK_ATTEMPTS).for_key("SECOND");
        let proxy = FaultProxy::start(world.moto.endpoint(), &scenario).unwrap();
        let handler = world.handler_reading_via(world.config(), proxy.endpoint()).await;
        let notification = s3_event(&[
            ("ObjectCreated:Put", RAW, &first, text_1.len() as u64),
            ("ObjectCreated:Put", RAW, &second, text_2.len() as u64),
        ]);
        let event = match wiring {
            "s3" => notification,
            _ => sqs_event(&[("m-1", notification.to_string())]),
        };

        let failed = invoke(&handler, event.clone()).await;
        match wiring {
            "s3" => assert!(failed.result.is_err(), "{wiring}: {:?}", failed.result),
            _ => assert_eq!(
                failed.result.unwrap()["batchItemFailures"],
                json!([{"itemIdentifier": "m-1"}])
            ),
        }
        assert_eq!((failed.totals.objects, failed.totals.failed), (1, 1), "{wiring}");
        let etag = "d41d8cd98f00b204e9800998ecf8427e";
        let marks = testkit::list_keys(&world.s3, LAKE, "_state/").await.unwrap();
        assert_eq!(marks, [mark_key(RAW, &first, etag).unwrap()], "{wiring}");

        let retried = invoke(&handler, event).await;
        match wiring {
            "s3" => {
                retried.result.unwrap();
            }
            _ => assert_eq!(retried.result.unwrap()["batchItemFailures"], json!([])),
        }
        assert_eq!(
            (retried.totals.objects, retried.totals.skipped),
            (1, 1),
            "{wiring}"
        );

        let mut expected = Expected::new();
        expected.add(RAW, &first, &text_1).add(RAW, &second, &text_2);
        let result = check(&expected, &world.delivered().await);
        assert_eq!((result.lost, result.duplicates), (0, 0), "{wiring}: {result:?}");
    }
}
