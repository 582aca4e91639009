//! One object from S3 to Firehose: the download, the engine thread and the sending side wired
//! together, and the one place their outcomes are combined.
//!
//! ```text
//!  lambda_adapter::bridge ──BodyReader──▶ produce (blocking thread) ──batches (bounded)──▶ send_all
//!   (GetObject, resumed                    RecordReader ─▶ Packer ─▶ BatchBuilder          PutRecordBatch,
//!    with Range + If-Match)                                                                 retried
//! ```
//!
//! Every queue is bounded, so memory is a few chunks and batches whatever the object's size. The
//! object is done only when every batch is. When something fails, the causes are ranked: a
//! sending failure first (the producer then only saw its channel close), then the download's own
//! failure (the engine only saw the bytes stop, whatever it made of them), then the engine's.

use std::sync::Arc;

use lambda_adapter::{ObjectRef, ObjectSource, bridge};
use pipeline::ingest::{Limits, Stats};
use pipeline::packing::Packer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::Error;
use crate::config::Config;
use crate::produce::produce;
use crate::send::send_all;
use crate::sink::RecordSink;
use crate::stats::{Delivery, SendCounters};

/// How an object went, when nothing failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every line is in Firehose.
    Delivered,
    /// The object has no bytes.
    Empty,
}

/// Streams one object into the sink, adding what happened to `delivery` even when it fails
/// part-way. `deadline` is when work must stop (already less any safety margin).
pub async fn deliver_object<S: ObjectSource, K: RecordSink>(
    source: &Arc<S>,
    sink: &Arc<K>,
    object: &ObjectRef,
    config: &Config,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
) -> Result<Outcome, Error> {
    let mut this = Delivery::default();
    let counters = Arc::new(SendCounters::default());
    let work = deliver(source, sink, object, config, deadline, &counters, &mut this);
    let result = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(Error::OutOfTime)),
        None => work.await,
    };
    counters.write_to(&mut this);
    delivery.add(&this);
    result
}

async fn deliver<S: ObjectSource, K: RecordSink>(
    source: &Arc<S>,
    sink: &Arc<K>,
    target: &ObjectRef,
    config: &Config,
    deadline: Option<Instant>,
    counters: &Arc<SendCounters>,
    delivery: &mut Delivery,
) -> Result<Outcome, Error> {
    let tuning = config.tuning;
    let download = bridge::open(source, target, tuning.read).await?;
    if download.size == Some(0) {
        return Ok(Outcome::Empty);
    }
    let packer = Packer::new(config.packing, config.max_record_bytes)?;
    // Records no larger than what the packer carries (less gzip framing with `Packing::Gzip`):
    // the packer never refuses a record the engine made.
    let limits = Limits {
        max_record: packer.max_record(),
        max_decoded: config.max_object_bytes,
        ..Limits::default()
    };
    let (batch_tx, mut batch_rx) = mpsc::channel(tuning.queued_batches.max(1));
    let log_file = target.log_file();
    let key_style = config.key_style;
    let reader = download.reader;
    let transfer = download.transfer;
    let mut producer = AbortOnDrop(tokio::task::spawn_blocking(move || {
        produce(reader, &log_file, limits, key_style, packer, batch_tx)
    }));

    let sent = send_all(sink, &mut batch_rx, &tuning, deadline, counters).await;
    // After a sending failure, closing the batch channel and stopping the download ends the
    // producer at once, whether it waits for bytes or for room for a batch.
    drop(batch_rx);
    if sent.is_err() {
        transfer.stop();
    }
    let (stats, produced) = match (&mut producer.0).await {
        Ok(produced) => produced,
        Err(error) => (
            Stats::default(),
            Err(Error::Internal(format!("parser thread failed: {error}"))),
        ),
    };
    delivery.ingest = stats;
    delivery.object_bytes = transfer.received();
    delivery.resumes = u64::from(transfer.resumes());
    sent?;
    if let Some(failure) = transfer.take_failure() {
        return Err(failure.into());
    }
    produced?;
    Ok(Outcome::Delivered)
}

/// Aborts a task when its owner goes away (error, deadline), so nothing outlives the object.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use lambda_adapter::{Body, Disposition, Failure, Object, Resume};
    use pipeline::ingest::RecordReader;
    use pipeline::packing::Packing;
    use s3_access_log::KeyStyle;
    use tokio::io::{AsyncRead, ReadBuf};

    use super::*;
    use crate::sink::FailedEntry;

    /// Log-ish lines: the engine does not care whether they parse.
    fn text(lines: usize) -> Vec<u8> {
        (0..lines)
            .flat_map(|n| {
                format!(
                    "line {n} of a log object, padded to look like one {}\n",
                    "x".repeat(n % 300)
                )
                .into_bytes()
            })
            .collect()
    }

    fn target() -> ObjectRef {
        ObjectRef::new("bucket", "logs/object", None)
    }

    /// The records the pipeline makes of `data`, one per line.
    fn records_of(data: &[u8], limits: Limits) -> Vec<Vec<u8>> {
        let mut reader = RecordReader::new(data, &target().log_file(), limits).unwrap();
        let mut out = Vec::new();
        while reader.next_record(&mut out).unwrap() {}
        out.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    }

    /// Serves one object from memory; each response breaks (connection reset) after
    /// `break_after` bytes, up to `breaks` times.
    struct Memory {
        data: Vec<u8>,
        break_after: usize,
        breaks: AtomicU64,
    }

    impl Memory {
        fn new(data: Vec<u8>) -> Self {
            Memory::breaking(data, 0, 0)
        }

        fn breaking(data: Vec<u8>, break_after: usize, breaks: u64) -> Self {
            Memory {
                data,
                break_after,
                breaks: AtomicU64::new(breaks),
            }
        }
    }

    struct Failing {
        data: io::Cursor<Vec<u8>>,
    }

    impl AsyncRead for Failing {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut chunk = [0u8; 1000];
            let n = io::Read::read(&mut self.data, &mut chunk[..buf.remaining().min(1000)])?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
            }
            buf.put_slice(&chunk[..n]);
            Poll::Ready(Ok(()))
        }
    }

    impl ObjectSource for Memory {
        async fn get(
            &self,
            object: &ObjectRef,
            resume: Option<Resume<'_>>,
        ) -> Result<Object, lambda_adapter::Error> {
            if object.key == "missing" {
                return Err(lambda_adapter::Error::S3 {
                    object: object.describe(),
                    message: "NoSuchKey".into(),
                    failure: Failure::Gone,
                });
            }
            let from = resume.map_or(0, |resume| resume.from as usize);
            let rest = self.data[from..].to_vec();
            let size = Some(rest.len() as u64);
            let broken = self
                .breaks
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
                .is_ok();
            let body: Body = if broken {
                Box::pin(Failing {
                    data: io::Cursor::new(rest[..self.break_after.min(rest.len())].to_vec()),
                })
            } else {
                Box::pin(io::Cursor::new(rest))
            };
            Ok(Object {
                size,
                start: from as u64,
                etag: Some("\"v1\"".into()),
                body,
            })
        }
    }

    /// Records what it accepts; fails calls as told.
    #[derive(Default)]
    struct Recorder {
        accepted: Mutex<Vec<Vec<u8>>>,
        calls: AtomicU64,
        in_flight: AtomicU64,
        most_in_flight: AtomicU64,
        /// Calls (by number, from 0) that fail entries at even positions.
        partial_calls: Vec<u64>,
        /// Calls that fail as a whole, transiently.
        throttled_calls: Vec<u64>,
        /// Every call fails, not transiently.
        broken: bool,
    }

    impl RecordSink for Recorder {
        async fn put_batch(&self, records: &[Vec<u8>]) -> Result<Vec<FailedEntry>, Error> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.broken {
                return Err(Error::Firehose {
                    message: "ResourceNotFoundException".into(),
                    failure: Failure::Rejected,
                });
            }
            if self.throttled_calls.contains(&call) {
                return Err(Error::Firehose {
                    message: "ThrottlingException".into(),
                    failure: Failure::Transient,
                });
            }
            let partial = self.partial_calls.contains(&call);
            let mut failed = Vec::new();
            let mut accepted = self.accepted.lock().unwrap();
            for (index, record) in records.iter().enumerate() {
                if partial && index % 2 == 0 {
                    failed.push(FailedEntry {
                        index,
                        code: "ServiceUnavailableException".into(),
                    });
                } else {
                    accepted.push(record.clone());
                }
            }
            Ok(failed)
        }
    }

    fn config(packing: Packing, max_record: usize) -> Config {
        let mut config = Config::new("test");
        config.packing = packing;
        config.max_record_bytes = max_record;
        config.tuning.backoff_base = Duration::from_millis(1);
        config.tuning.backoff_cap = Duration::from_millis(5);
        config.tuning.read.backoff_base = Duration::from_millis(1);
        config.tuning.read.backoff_cap = Duration::from_millis(2);
        config
    }

    async fn deliver(
        source: Memory,
        sink: Recorder,
        config: &Config,
        deadline: Option<Instant>,
    ) -> (Result<Outcome, Error>, Delivery, Arc<Recorder>) {
        let (source, sink) = (Arc::new(source), Arc::new(sink));
        let mut delivery = Delivery::default();
        let result = deliver_object(&source, &sink, &target(), config, deadline, &mut delivery).await;
        (result, delivery, sink)
    }

    /// The accepted records, unpacked into lines and sorted (a multiset).
    fn lines_of(sink: &Recorder) -> Vec<Vec<u8>> {
        let packed = sink.accepted.lock().unwrap().concat();
        let mut lines: Vec<Vec<u8>> = packed
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        lines.sort();
        lines
    }

    fn sorted(mut lines: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn delivers_every_record_whole_and_in_bounds() {
        let data = text(20_000);
        let expected = records_of(&data, Limits::default()).concat();
        for (packing, max_record) in [
            (Packing::Packed, 16 * 1024),
            (Packing::Packed, 1_000_000),
            (Packing::Line, 16 * 1024),
        ] {
            let mut config = config(packing, max_record);
            config.tuning.read.chunk_bytes = 7_777;
            let (result, delivery, sink) =
                deliver(Memory::new(data.clone()), Recorder::default(), &config, None).await;
            assert_eq!(result.unwrap(), Outcome::Delivered);
            let accepted = sink.accepted.lock().unwrap();
            // Records are whole lines, in order, within the size.
            assert_eq!(accepted.concat(), expected, "{packing} {max_record}");
            assert!(
                accepted
                    .iter()
                    .all(|record| record.len() <= max_record && record.ends_with(b"\n"))
            );
            assert_eq!(delivery.ingest.lines, 20_000);
            assert_eq!(delivery.firehose_records, accepted.len() as u64);
            assert_eq!(delivery.firehose_bytes, expected.len() as u64);
            assert_eq!(delivery.object_bytes, data.len() as u64);
            assert_eq!(delivery.put_calls, delivery.firehose_batches);
            assert!(sink.most_in_flight.load(Ordering::SeqCst) <= config.tuning.max_in_flight as u64);
        }
    }

    #[tokio::test]
    async fn compact_key_style_delivers_compact_records() {
        let line = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT k \"GET /k HTTP/1.1\" 200 - 113 113 7 6 \"-\" \"ua\" -\n";
        let data = line.repeat(500).into_bytes();
        let mut config = config(Packing::Packed, 16 * 1024);
        config.key_style = KeyStyle::Compact;
        let (result, delivery, sink) =
            deliver(Memory::new(data.clone()), Recorder::default(), &config, None).await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        let mut expected = Vec::new();
        let mut reader = RecordReader::new(&data[..], &target().log_file(), Limits::default())
            .unwrap()
            .with_key_style(KeyStyle::Compact);
        while reader.next_record(&mut expected).unwrap() {}
        assert_eq!(sink.accepted.lock().unwrap().concat(), expected);
        assert!(expected.starts_with(b"{\"v\":1,\"i\":\""));
        assert_eq!(delivery.ingest.lines, 500);
        assert_eq!(delivery.firehose_bytes, expected.len() as u64);
        let full = records_of(&data, Limits::default()).concat();
        assert!(
            expected.len() * 2 < full.len(),
            "{} against {}",
            expected.len(),
            full.len()
        );
    }

    #[tokio::test]
    async fn gzip_packing_delivers_gzip_members_of_every_record() {
        let data = text(20_000);
        let expected = records_of(&data, Limits::default()).concat();
        let config = config(Packing::Gzip, 16 * 1024);
        let (result, delivery, sink) = deliver(Memory::new(data), Recorder::default(), &config, None).await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        let accepted = sink.accepted.lock().unwrap();
        assert!(
            accepted
                .iter()
                .all(|r| r.len() <= 16 * 1024 && r.starts_with(&[0x1f, 0x8b]))
        );
        let mut lines = Vec::new();
        io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&accepted.concat()[..]),
            &mut lines,
        )
        .unwrap();
        assert_eq!(lines, expected);
        assert_eq!(delivery.ingest.lines, 20_000);
        assert!(
            delivery.firehose_bytes * 3 < expected.len() as u64,
            "{}",
            delivery.firehose_bytes
        );
    }

    /// Finding 1: with `Packing=gzip` a record up to the ingest limit but over what the packer
    /// accepted (1,024 bytes less) made the object fail with nothing delivered.
    #[tokio::test]
    async fn gzip_packing_delivers_a_record_at_the_size_limit() {
        let limits = Limits::default();
        // The gzip packer used to accept 1,024 bytes less than ingest allowed.
        let packer_max = limits.max_record - 1024;
        // A quarantined line of quotes: its record grows by a fixed number of JSON bytes per
        // quote, so a record a few bytes over that is one step from two measured.
        let quotes = |n: usize| [vec![b'"'; n], b"\n".to_vec()].concat();
        let size_of = |n: usize| records_of(&quotes(n), limits)[0].len();
        let (at, step) = (200_000, 1_000);
        let per_quote = (size_of(at + step) - size_of(at)) / step;
        let line = quotes(at + (packer_max + per_quote - size_of(at)).div_ceil(per_quote));
        let size = records_of(&line, limits)[0].len();
        assert!(size > packer_max && size <= limits.max_record, "{size}");
        let mut data = text(1_000);
        data.extend_from_slice(&line);
        data.extend(text(656));
        let config = config(Packing::Gzip, limits.max_record);
        let (result, delivery, sink) = deliver(Memory::new(data), Recorder::default(), &config, None).await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        assert_eq!(delivery.ingest.lines, 1_657);
        let mut lines = Vec::new();
        io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&sink.accepted.lock().unwrap().concat()[..]),
            &mut lines,
        )
        .unwrap();
        assert_eq!(lines.split_inclusive(|&b| b == b'\n').count(), 1_657);
    }

    /// Finding 1: a gzip object cut short part-way was acknowledged with none of its readable
    /// lines delivered (the producer dropped its pending batch on the error).
    #[tokio::test]
    async fn a_truncated_gzip_object_delivers_every_readable_line_and_is_acknowledged() {
        let data = text(3_000);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&data).unwrap();
        let gzip = encoder.finish().unwrap();
        let cut = gzip[..gzip.len() * 2 / 3].to_vec();
        let mut readable = Vec::new();
        let _ = io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&cut[..]), &mut readable);
        let whole_lines = readable
            .split_inclusive(|&b| b == b'\n')
            .filter(|line| line.ends_with(b"\n"))
            .count();
        assert!(whole_lines > 1_000, "{whole_lines}");

        let (result, _, sink) = deliver(
            Memory::new(cut),
            Recorder::default(),
            &config(Packing::Packed, 1_000_000),
            None,
        )
        .await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        let delivered = lines_of(&sink);
        let expected = sorted(records_of(&data, Limits::default())[..whole_lines].to_vec());
        // Every readable line arrived, and one quarantine record for the tail.
        assert!(expected.iter().all(|line| delivered.binary_search(line).is_ok()));
        assert_eq!(delivered.len(), whole_lines + 1);
    }

    /// Finding 2: a decoded-size cap; nothing past it is read, and the object is acknowledged.
    #[tokio::test]
    async fn the_object_cap_stops_a_gzip_bomb() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..64 {
            encoder.write_all(&vec![b'a'; 1 << 20]).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let mut config = config(Packing::Packed, 1_000_000);
        config.max_object_bytes = 4 << 20;
        let (result, delivery, _) = deliver(Memory::new(bomb), Recorder::default(), &config, None).await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        assert!(delivery.ingest.bytes_in <= (4 << 20) + (1 << 20), "{delivery:?}");
    }

    #[tokio::test]
    async fn resends_only_the_failed_entries() {
        let data = text(3_000);
        let sink = Recorder {
            partial_calls: vec![0, 1, 2],
            throttled_calls: vec![3, 4],
            ..Recorder::default()
        };
        let (result, delivery, sink) = deliver(
            Memory::new(data.clone()),
            sink,
            &config(Packing::Line, 16 * 1024),
            None,
        )
        .await;
        result.unwrap();
        // Nothing twice, nothing missing, whatever order the retries landed in.
        assert_eq!(lines_of(&sink), sorted(records_of(&data, Limits::default())));
        assert_eq!(delivery.firehose_records, 3_000);
        assert_eq!(delivery.put_calls, delivery.firehose_batches + 5);
        assert!(delivery.retried_entries >= 3 * 250, "{delivery:?}");
    }

    #[tokio::test]
    async fn gives_up_at_once_on_errors_a_retry_soon_cannot_fix() {
        let sink = Recorder {
            broken: true,
            ..Recorder::default()
        };
        let (result, delivery, _) = deliver(
            Memory::new(text(100)),
            sink,
            &config(Packing::Packed, 16 * 1024),
            None,
        )
        .await;
        let error = result.unwrap_err();
        assert_eq!(error.failure(), Failure::Rejected, "{error}");
        // Kept for retry all the same: fixing the stream and redriving delivers the object.
        assert_eq!(error.disposition(), Disposition::Retry);
        assert_eq!(delivery.put_calls, 1);
        assert_eq!(delivery.firehose_records, 0);
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_and_at_the_deadline() {
        let always = || Recorder {
            throttled_calls: (0..1000).collect(),
            ..Recorder::default()
        };
        let mut limited = config(Packing::Packed, 16 * 1024);
        limited.tuning.max_attempts = 4;
        let (result, delivery, _) = deliver(Memory::new(text(100)), always(), &limited, None).await;
        assert!(
            matches!(result, Err(Error::RetriesExhausted { attempts: 4, .. })),
            "{result:?}"
        );
        assert_eq!(delivery.put_calls, 4);
        // Each of the three retries resent the whole batch.
        let mut packer = Packer::new(Packing::Packed, 16 * 1024).unwrap();
        let mut count = 0;
        for line in records_of(&text(100), Limits::default()) {
            count += u64::from(packer.push(&line).unwrap().is_some());
        }
        count += u64::from(packer.finish().is_some());
        assert!(count > 1);
        assert_eq!(delivery.retried_entries, 3 * count);

        let mut patient = config(Packing::Packed, 16 * 1024);
        patient.tuning.backoff_cap = Duration::from_millis(20);
        let deadline = Instant::now() + Duration::from_millis(150);
        let (result, delivery, _) = deliver(Memory::new(text(100)), always(), &patient, Some(deadline)).await;
        assert!(matches!(result, Err(Error::OutOfTime)), "{result:?}");
        assert!(Instant::now() < deadline + Duration::from_millis(50));
        assert!(delivery.put_calls > 1);
    }

    /// Finding 6: entries Firehose accepted in a call that half failed were counted only once
    /// their whole batch was delivered, so a batch given up after it reported none of the
    /// records that landed (`FirehoseRecords`, `Billed5KBUnits` short of what was billed).
    #[tokio::test]
    async fn entries_accepted_before_giving_up_are_counted() {
        let sink = Recorder {
            partial_calls: vec![0],
            throttled_calls: (1..1000).collect(),
            ..Recorder::default()
        };
        let mut config = config(Packing::Line, 16 * 1024);
        config.tuning.max_attempts = 3;
        let (result, delivery, sink) = deliver(Memory::new(text(100)), sink, &config, None).await;
        assert!(
            matches!(result, Err(Error::RetriesExhausted { entries: 50, .. })),
            "{result:?}"
        );
        let accepted = sink.accepted.lock().unwrap();
        assert_eq!(accepted.len(), 50);
        assert_eq!(delivery.firehose_records, 50);
        assert_eq!(
            delivery.firehose_bytes,
            accepted.iter().map(Vec::len).sum::<usize>() as u64
        );
        assert_eq!(delivery.billed_units, 50, "one 5 KB unit per line record");
        assert_eq!(delivery.firehose_batches, 0, "the batch was not delivered whole");
    }

    /// Finding 4: a download that breaks mid-object continues from the first byte not received;
    /// every line is delivered exactly once.
    #[tokio::test]
    async fn a_broken_download_is_resumed_and_delivers_every_line_once() {
        let data = text(5_000);
        let source = Memory::breaking(data.clone(), 150_000, 3);
        let (result, delivery, sink) = deliver(
            source,
            Recorder::default(),
            &config(Packing::Line, 16 * 1024),
            None,
        )
        .await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        assert_eq!(lines_of(&sink), sorted(records_of(&data, Limits::default())));
        assert_eq!(delivery.resumes, 3);
        assert_eq!(delivery.object_bytes, data.len() as u64);
    }

    #[tokio::test]
    async fn a_download_broken_beyond_resuming_is_kept_after_delivering_what_was_read() {
        let data = text(5_000);
        let mut config = config(Packing::Line, 16 * 1024);
        config.tuning.read.max_resumes = 1;
        let source = Memory::breaking(data, 100_000, 10);
        let (result, delivery, sink) = deliver(source, Recorder::default(), &config, None).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Adapter(lambda_adapter::Error::Broken { .. })),
            "{error}"
        );
        assert_eq!(error.disposition(), Disposition::Retry);
        // Nothing read was dropped: the lines of the 200,000 bytes received went out.
        let received = records_of(&text(5_000)[..200_000], Limits::default());
        assert!(
            delivery.firehose_records as usize >= received.len() - 1,
            "{delivery:?}"
        );
        assert_eq!(
            delivery.firehose_records,
            sink.accepted.lock().unwrap().len() as u64
        );
    }

    #[tokio::test]
    async fn empty_and_missing_objects() {
        let (result, delivery, sink) = deliver(
            Memory::new(Vec::new()),
            Recorder::default(),
            &config(Packing::Packed, 16 * 1024),
            None,
        )
        .await;
        assert_eq!(result.unwrap(), Outcome::Empty);
        assert_eq!((delivery.put_calls, sink.calls.load(Ordering::SeqCst)), (0, 0));

        let (source, sink) = (Arc::new(Memory::new(Vec::new())), Arc::new(Recorder::default()));
        let mut delivery = Delivery::default();
        let missing = ObjectRef::new("bucket", "missing", None);
        let config = config(Packing::Packed, 16 * 1024);
        let result = deliver_object(&source, &sink, &missing, &config, None, &mut delivery).await;
        let error = result.unwrap_err();
        assert_eq!(error.disposition(), Disposition::Permanent, "{error}");
    }
}
