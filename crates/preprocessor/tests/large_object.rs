//! A 200 MB log object through the real path (moto S3 → handler → moto Firehose → moto S3)
//! with bounded memory: the handler's peak RSS must stay well below the object's size, which
//! only streaming allows. Its own test binary, so the peak measured is this test's alone.
//!
//! The test keeps no copy of the object or of the output: it uploads the object in parts as it
//! generates them, remembers one hash per expected record, and reads Firehose's output back one
//! object at a time.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::*;
use s3_access_log::{Outcome, RecordEncoder};
use testkit::corpus::LogLines;
use xxhash_rust::xxh3::xxh3_64;

/// At least 200 MB of raw log text.
const OBJECT_BYTES: usize = 200_000_000;
/// Multipart upload part size (S3 wants at least 5 MiB but for the last part).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// The bound the handler's peak must stay under: less than the object itself.
const MAX_PEAK_BYTES: u64 = 160 * 1024 * 1024;

/// Peak resident set size of this process since the last reset, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

/// Restarts the peak RSS count from the current RSS (Linux `clear_refs`, value 5).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("resetting the peak RSS through /proc/self/clear_refs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_object_streams_through_with_bounded_memory() {
    let world = World::start().await;
    let key = "logs/2024-04-01-00-00-00-LARGEOBJECT";
    let log_file = format!("s3://{RAW}/{key}");
    let encoder = RecordEncoder::new(&log_file);

    // Expected records as (RecordId, hash of the exact record) with counts, computed part by
    // part as the parts are generated and uploaded.
    let mut expected: HashMap<(u64, u64), u64> = HashMap::new();
    let mut lines = LogLines::new(2024);
    let mut written = 0;
    let mut record = Vec::new();
    let parts = std::iter::from_fn(|| {
        if written >= OBJECT_BYTES {
            return None;
        }
        let part = lines.take_bytes(PART_BYTES);
        for line in part.split(|&byte| byte == b'\n') {
            record.clear();
            if encoder.encode(line, &mut record) != Outcome::Skipped {
                *expected
                    .entry((s3_access_log::record_id(line), xxh3_64(&record)))
                    .or_default() += 1;
            }
        }
        written += part.len();
        Some(part)
    });
    testkit::put_object_in_parts(&world.s3, RAW, key, parts)
        .await
        .unwrap();
    let expected_lines: u64 = expected.values().sum();

    let handler = world.handler(world.config()).await;
    reset_peak_rss();
    let baseline = peak_rss();
    let started = std::time::Instant::now();
    let invocation = invoke(
        &handler,
        s3_event(&[("ObjectCreated:Put", RAW, key, written as u64)]),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    invocation.result.expect("the large object is delivered");
    let delivery = invocation.totals.delivery;
    eprintln!(
        "large object: {:.0} MB raw, {} lines, {:.0} MB of records in {} Firehose records / {} calls, \
         {seconds:.1} s against moto; RSS before {:.1} MiB, peak during {:.1} MiB",
        written as f64 / 1e6,
        delivery.ingest.lines,
        delivery.ingest.bytes_out as f64 / 1e6,
        delivery.firehose_records,
        delivery.put_calls,
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0,
    );
    assert_eq!(delivery.ingest.lines, expected_lines);
    assert!(
        peak < MAX_PEAK_BYTES,
        "peak RSS {peak} bytes: the object was buffered"
    );

    // Read Firehose's output back one object at a time.
    let mut seen: HashMap<(u64, u64), u64> = HashMap::new();
    for output_key in testkit::list_keys(&world.s3, LAKE, RECORDS).await.unwrap() {
        let data = testkit::read_object(&world.s3, LAKE, &output_key).await.unwrap();
        for record in data.split_inclusive(|&byte| byte == b'\n') {
            *seen.entry((record_id_of(record), xxh3_64(record))).or_default() += 1;
        }
    }
    let mut lost = 0;
    let mut duplicates = 0;
    for (record, count) in &expected {
        let got = seen.get(record).copied().unwrap_or(0);
        lost += count.saturating_sub(got);
        duplicates += got.saturating_sub(*count);
    }
    let unexpected = seen
        .keys()
        .filter(|record| !expected.contains_key(record))
        .count();
    assert_eq!((lost, duplicates, unexpected), (0, 0, 0));
}
