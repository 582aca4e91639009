//! One object from S3 to Firehose: stream it, parse it, pack it, send it, retry what failed.
//!
//! ```text
//!  ObjectSource body ──chunks──▶ blocking thread: RecordReader ─▶ Packer ─▶ BatchBuilder
//!   (async pump)    (bounded)                                        │ batches (bounded)
//!                                                                    ▼
//!                                   up to `max_in_flight` PutRecordBatch calls, each retried
//!                                   with backoff until every entry is accepted
//! ```
//!
//! Parsing is CPU work, so it runs on a blocking thread fed through a bounded channel; batches
//! come back through another. Every queue is bounded, so memory is a few batches whatever the
//! object's size, and a slow Firehose slows the download instead of filling memory. Nothing is
//! dropped: a batch is done only when Firehose accepted every entry, and an object is done only
//! when all its batches are. Any failure or the deadline stops the work and is returned, so the
//! invoker retries the object; lines delivered before that are delivered again, and their
//! `RecordId` lets queries remove the duplicates.

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pipeline::ingest::{Limits, RecordReader, Stats};
use pipeline::packing::{Batch, BatchBuilder, Packer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::Error;
use crate::config::{Config, Tuning};
use crate::event::ObjectRef;
use crate::retry::Backoff;

/// The bytes of an object, as they arrive.
pub type Body = Pin<Box<dyn AsyncRead + Send>>;

/// An object opened for reading.
pub struct Object {
    /// Its size, when the store says (`Content-Length`).
    pub size: Option<u64>,
    /// Its bytes.
    pub body: Body,
}

/// Where raw log objects come from (S3 in Lambda; memory or generators in tests and benches).
pub trait ObjectSource: Send + Sync {
    /// Opens `bucket`/`key`. A missing object is [`Error::NotFound`].
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Object, Error>> + Send;
}

/// A record Firehose did not accept in a call that otherwise succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedEntry {
    /// Its position in the records passed to [`RecordSink::put_batch`].
    pub index: usize,
    /// The per-entry error code (`ServiceUnavailableException`, `InternalFailure`).
    pub code: String,
}

/// Where records go (Firehose in Lambda; a counting sink in benches).
pub trait RecordSink: Send + Sync + 'static {
    /// Sends `records` in one call. `Ok` lists the entries that were not accepted (empty when all
    /// were); `Err` means the call as a whole failed and none can be assumed delivered.
    fn put_batch(&self, records: &[Vec<u8>]) -> impl Future<Output = Result<Vec<FailedEntry>, Error>> + Send;
}

/// What delivering objects did, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Lines read and records made.
    pub ingest: Stats,
    /// Bytes downloaded (compressed size for gzip objects).
    pub object_bytes: u64,
    /// Firehose records accepted.
    pub firehose_records: u64,
    /// Bytes in those records.
    pub firehose_bytes: u64,
    /// Batches fully delivered.
    pub firehose_batches: u64,
    /// `PutRecordBatch` calls made, retries included.
    pub put_calls: u64,
    /// Entries sent again after a failure (each one a possible duplicate).
    pub retried_entries: u64,
    /// Billed 5 KB units of the accepted records.
    pub billed_units: u64,
}

impl Delivery {
    /// Adds another object's counts.
    pub fn add(&mut self, other: &Delivery) {
        self.ingest += other.ingest;
        self.object_bytes += other.object_bytes;
        self.firehose_records += other.firehose_records;
        self.firehose_bytes += other.firehose_bytes;
        self.firehose_batches += other.firehose_batches;
        self.put_calls += other.put_calls;
        self.retried_entries += other.retried_entries;
        self.billed_units += other.billed_units;
    }
}

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
    source: &S,
    sink: &Arc<K>,
    object: &ObjectRef,
    config: &Config,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
) -> Result<Outcome, Error> {
    let mut this = Delivery::default();
    // Calls are counted as they are made, so a failed or cancelled object still reports them.
    let calls = Arc::new(Calls::default());
    let work = deliver(source, sink, object, config, deadline, &calls, &mut this);
    let result = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(Error::OutOfTime)),
        None => work.await,
    };
    this.put_calls = calls.put_calls.load(Ordering::Relaxed);
    this.retried_entries = calls.retried_entries.load(Ordering::Relaxed);
    delivery.add(&this);
    result
}

/// `PutRecordBatch` calls made for one object, shared by its send tasks.
#[derive(Default)]
struct Calls {
    put_calls: AtomicU64,
    retried_entries: AtomicU64,
}

async fn deliver<S: ObjectSource, K: RecordSink>(
    source: &S,
    sink: &Arc<K>,
    target: &ObjectRef,
    config: &Config,
    deadline: Option<Instant>,
    calls: &Arc<Calls>,
    delivery: &mut Delivery,
) -> Result<Outcome, Error> {
    let tuning = config.tuning;
    let object = open(source, target, &tuning, deadline).await?;
    if object.size == Some(0) {
        return Ok(Outcome::Empty);
    }

    let downloaded = Arc::new(AtomicU64::new(0));
    let (chunk_tx, chunk_rx) = mpsc::channel(tuning.queued_chunks.max(1));
    let download = AbortOnDrop(tokio::spawn(pump(
        object.body,
        chunk_tx,
        tuning.chunk_bytes.max(1),
        Arc::clone(&downloaded),
    )));

    let (batch_tx, mut batch_rx) = mpsc::channel(tuning.queued_batches.max(1));
    let log_file = target.log_file();
    let limits = Limits {
        max_record: config.max_record_bytes,
        ..Limits::default()
    };
    let packer = Packer::new(config.packing, config.max_record_bytes)?;
    let mut producer = AbortOnDrop(tokio::task::spawn_blocking(move || {
        produce(ChannelReader::new(chunk_rx), &log_file, limits, packer, batch_tx)
    }));

    let sent = send_all(sink, &mut batch_rx, &tuning, deadline, calls, delivery).await;
    delivery.object_bytes = downloaded.load(Ordering::Relaxed);
    // After a sending failure, closing both channels stops the producer at once, whether it is
    // waiting for bytes or for room for a batch.
    drop(batch_rx);
    if sent.is_err() {
        drop(download);
    }
    let produced = match (&mut producer.0).await {
        Ok(produced) => produced,
        Err(error) => Err(Error::Internal(format!("parser thread failed: {error}"))),
    };
    // A sending failure is the real cause; the producer then only saw its channel close.
    sent?;
    delivery.ingest = produced?;
    delivery.object_bytes = downloaded.load(Ordering::Relaxed);
    Ok(Outcome::Delivered)
}

/// Opens the object, retrying transient failures (the SDK's own retries are off).
async fn open<S: ObjectSource>(
    source: &S,
    target: &ObjectRef,
    tuning: &Tuning,
    deadline: Option<Instant>,
) -> Result<Object, Error> {
    let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match source.get(&target.bucket, &target.key).await {
            Ok(object) => return Ok(object),
            Err(error) if error.is_retryable() && attempt < tuning.max_attempts => {
                wait(&mut backoff, attempt, deadline).await?;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sends batches as the producer makes them, a few calls at a time, until the producer is done
/// and every call has succeeded, or anything fails.
async fn send_all<K: RecordSink>(
    sink: &Arc<K>,
    batches: &mut mpsc::Receiver<(Batch, Stats)>,
    tuning: &Tuning,
    deadline: Option<Instant>,
    calls: &Arc<Calls>,
    delivery: &mut Delivery,
) -> Result<(), Error> {
    // Dropping the set (on error or deadline) aborts the calls still in flight.
    let mut in_flight = JoinSet::new();
    let mut producing = true;
    let max_in_flight = tuning.max_in_flight.max(1);
    loop {
        tokio::select! {
            received = batches.recv(), if producing && in_flight.len() < max_in_flight => match received {
                Some((batch, stats)) => {
                    delivery.ingest = stats;
                    in_flight.spawn(send_batch(Arc::clone(sink), batch, *tuning, deadline, Arc::clone(calls)));
                }
                None => producing = false,
            },
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                let sent = joined.map_err(|error| Error::Internal(format!("send task failed: {error}")))??;
                delivery.firehose_records += sent.records;
                delivery.firehose_bytes += sent.bytes;
                delivery.billed_units += sent.billed_units;
                delivery.firehose_batches += 1;
            },
            else => return Ok(()),
        }
    }
}

/// What one delivered batch carried.
struct Sent {
    records: u64,
    bytes: u64,
    billed_units: u64,
}

/// Delivers one batch: sends it, then resends exactly the entries that failed, with backoff,
/// until all are accepted or the attempts or the time run out.
async fn send_batch<K: RecordSink>(
    sink: Arc<K>,
    batch: Batch,
    tuning: Tuning,
    deadline: Option<Instant>,
    calls: Arc<Calls>,
) -> Result<Sent, Error> {
    let sent = Sent {
        records: batch.len() as u64,
        bytes: batch.bytes() as u64,
        billed_units: batch.billed_units(),
    };
    let mut pending = batch.into_records();
    let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
    let mut attempt = 0;
    loop {
        attempt += 1;
        calls.put_calls.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            calls
                .retried_entries
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
        }
        let last_failure = match sink.put_batch(&pending).await {
            Ok(failed) if failed.is_empty() => return Ok(sent),
            Ok(failed) => {
                let summary = format!(
                    "{} of {} entries failed ({})",
                    failed.len(),
                    pending.len(),
                    failed[0].code
                );
                pending = keep_failed(pending, &failed);
                summary
            }
            Err(error) if error.is_retryable() => error.to_string(),
            Err(error) => return Err(error),
        };
        if attempt >= tuning.max_attempts {
            return Err(Error::RetriesExhausted {
                entries: pending.len(),
                attempts: attempt,
                last: last_failure,
            });
        }
        tracing::debug!(attempt, pending = pending.len(), error = %last_failure, "retrying PutRecordBatch");
        wait(&mut backoff, attempt, deadline).await?;
    }
}

/// The records at the failed positions, in order. An index out of range is ignored (the sink
/// reports every entry as failed when it cannot tell which ones did).
fn keep_failed(records: Vec<Vec<u8>>, failed: &[FailedEntry]) -> Vec<Vec<u8>> {
    let mut retry = vec![false; records.len()];
    for entry in failed {
        if let Some(slot) = retry.get_mut(entry.index) {
            *slot = true;
        }
    }
    records
        .into_iter()
        .zip(retry)
        .filter_map(|(record, retry)| retry.then_some(record))
        .collect()
}

/// Sleeps before retry `attempt`, or gives up at once if the wait would pass the deadline.
async fn wait(backoff: &mut Backoff, attempt: u32, deadline: Option<Instant>) -> Result<(), Error> {
    let delay = backoff.delay(attempt);
    if deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
        return Err(Error::OutOfTime);
    }
    tokio::time::sleep(delay).await;
    Ok(())
}

/// Runs on the blocking thread: records out of the object, packed, batched, handed over with
/// the object's counts so far. Returns the final counts.
fn produce(
    input: ChannelReader,
    log_file: &str,
    limits: Limits,
    mut packer: Packer,
    batches: mpsc::Sender<(Batch, Stats)>,
) -> Result<Stats, Error> {
    let mut reader = RecordReader::new(input, log_file, limits)?;
    let mut builder = BatchBuilder::new();
    let mut line = Vec::with_capacity(4096);
    let hand_over = |batch: Batch, stats: Stats| {
        batches
            .blocking_send((batch, stats))
            .map_err(|_| Error::Internal("batch receiver closed".to_owned()))
    };
    while reader.next_record(&mut line)? {
        if let Some(record) = packer.push(&line)?
            && let Some(batch) = builder.push(record)?
        {
            hand_over(batch, reader.stats())?;
        }
        line.clear();
    }
    if let Some(record) = packer.finish()
        && let Some(batch) = builder.push(record)?
    {
        hand_over(batch, reader.stats())?;
    }
    if let Some(batch) = builder.finish() {
        hand_over(batch, reader.stats())?;
    }
    Ok(reader.stats())
}

/// A piece of the download, or how it ended.
enum Chunk {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// Moves the body into the channel in chunks of up to `chunk_bytes`. Waiting on a full channel
/// is what bounds memory: the download goes no faster than parsing and sending.
async fn pump(mut body: Body, chunks: mpsc::Sender<Chunk>, chunk_bytes: usize, downloaded: Arc<AtomicU64>) {
    loop {
        let mut buffer = vec![0; chunk_bytes];
        let mut filled = 0;
        let end = loop {
            match body.read(&mut buffer[filled..]).await {
                Ok(0) => break None,
                Ok(n) => {
                    filled += n;
                    downloaded.fetch_add(n as u64, Ordering::Relaxed);
                    if filled == buffer.len() {
                        break Some(Ok(()));
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => break Some(Err(error)),
            }
        };
        if filled > 0 {
            buffer.truncate(filled);
            if chunks.send(Chunk::Data(buffer)).await.is_err() {
                return;
            }
        }
        match end {
            Some(Ok(())) => {}
            None => {
                let _ = chunks.send(Chunk::End).await;
                return;
            }
            Some(Err(error)) => {
                let _ = chunks.send(Chunk::Failed(error)).await;
                return;
            }
        }
    }
}

/// The blocking side of the download channel, as a `Read` for the pipeline.
struct ChannelReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ChannelReader {
    fn new(chunks: mpsc::Receiver<Chunk>) -> Self {
        ChannelReader {
            chunks,
            current: Vec::new(),
            at: 0,
            ended: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.chunks.blocking_recv() {
                Some(Chunk::Data(data)) => {
                    self.current = data;
                    self.at = 0;
                }
                Some(Chunk::End) => self.ended = true,
                Some(Chunk::Failed(error)) => return Err(error),
                // The pump is gone without saying the object ended: never mistake that for EOF.
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "download stopped before the end of the object",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
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
    use std::sync::Mutex;
    use std::time::Duration;

    use pipeline::packing::Packing;

    use super::*;

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

    /// The records the pipeline makes of `data`, concatenated.
    fn records_of(data: &[u8], object: &ObjectRef) -> Vec<u8> {
        let mut reader = RecordReader::new(data, &object.log_file(), Limits::default()).unwrap();
        let mut out = Vec::new();
        while reader.next_record(&mut out).unwrap() {}
        out
    }

    /// Serves one object from memory, optionally failing after some bytes.
    struct Memory {
        data: Vec<u8>,
        fail_after: Option<usize>,
    }

    struct Failing {
        data: io::Cursor<Vec<u8>>,
    }

    impl AsyncRead for Failing {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let mut chunk = [0u8; 1000];
            let n = io::Read::read(&mut self.data, &mut chunk)?;
            if n == 0 {
                return std::task::Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
            }
            buf.put_slice(&chunk[..n.min(buf.remaining())]);
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl ObjectSource for Memory {
        async fn get(&self, _: &str, key: &str) -> Result<Object, Error> {
            if key == "missing" {
                return Err(Error::NotFound(key.to_owned()));
            }
            let body: Body = match self.fail_after {
                Some(at) => Box::pin(Failing {
                    data: io::Cursor::new(self.data[..at].to_vec()),
                }),
                None => Box::pin(io::Cursor::new(self.data.clone())),
            };
            Ok(Object {
                size: Some(self.data.len() as u64),
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
        /// Every call fails, not retryably.
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
                    retryable: false,
                });
            }
            if self.throttled_calls.contains(&call) {
                return Err(Error::Firehose {
                    message: "ThrottlingException".into(),
                    retryable: true,
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
        config
    }

    async fn deliver(
        source: &Memory,
        sink: Recorder,
        config: &Config,
        deadline: Option<Instant>,
    ) -> (Result<Outcome, Error>, Delivery, Arc<Recorder>) {
        let sink = Arc::new(sink);
        let mut delivery = Delivery::default();
        let object = ObjectRef::new("bucket", "logs/object", None);
        let result = deliver_object(source, &sink, &object, config, deadline, &mut delivery).await;
        (result, delivery, sink)
    }

    fn concat(sink: &Recorder) -> Vec<u8> {
        sink.accepted.lock().unwrap().concat()
    }

    #[tokio::test]
    async fn delivers_every_record_whole_and_in_bounds() {
        let data = text(20_000);
        let source = Memory {
            data: data.clone(),
            fail_after: None,
        };
        let expected = records_of(&data, &ObjectRef::new("bucket", "logs/object", None));
        for (packing, max_record) in [
            (Packing::Packed, 16 * 1024),
            (Packing::Packed, 1_000_000),
            (Packing::Line, 16 * 1024),
        ] {
            let mut config = config(packing, max_record);
            config.tuning.chunk_bytes = 7_777;
            let (result, delivery, sink) = deliver(&source, Recorder::default(), &config, None).await;
            assert_eq!(result.unwrap(), Outcome::Delivered);
            // Records are whole lines, in order, within the size.
            assert_eq!(concat(&sink), expected, "{packing} {max_record}");
            let accepted = sink.accepted.lock().unwrap();
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
    async fn gzip_packing_delivers_gzip_members_of_every_record() {
        let data = text(20_000);
        let source = Memory {
            data: data.clone(),
            fail_after: None,
        };
        let expected = records_of(&data, &ObjectRef::new("bucket", "logs/object", None));
        let config = config(Packing::Gzip, 16 * 1024);
        let (result, delivery, sink) = deliver(&source, Recorder::default(), &config, None).await;
        assert_eq!(result.unwrap(), Outcome::Delivered);
        let accepted = sink.accepted.lock().unwrap();
        assert!(
            accepted
                .iter()
                .all(|r| r.len() <= 16 * 1024 && r.starts_with(&[0x1f, 0x8b]))
        );
        let mut lines = Vec::new();
        std::io::Read::read_to_end(
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

    #[tokio::test]
    async fn resends_only_the_failed_entries() {
        let data = text(3_000);
        let source = Memory {
            data: data.clone(),
            fail_after: None,
        };
        let sink = Recorder {
            partial_calls: vec![0, 1, 2],
            throttled_calls: vec![3, 4],
            ..Recorder::default()
        };
        let (result, delivery, sink) = deliver(&source, sink, &config(Packing::Line, 16 * 1024), None).await;
        result.unwrap();
        // Nothing twice, nothing missing, whatever order the retries landed in.
        let mut got = sink.accepted.lock().unwrap().clone();
        let mut want: Vec<Vec<u8>> = records_of(&data, &ObjectRef::new("bucket", "logs/object", None))
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(delivery.firehose_records, 3_000);
        assert_eq!(delivery.put_calls, delivery.firehose_batches + 5);
        assert!(delivery.retried_entries >= 3 * 250, "{delivery:?}");
    }

    #[tokio::test]
    async fn gives_up_at_once_on_errors_a_retry_cannot_fix() {
        let source = Memory {
            data: text(100),
            fail_after: None,
        };
        let sink = Recorder {
            broken: true,
            ..Recorder::default()
        };
        let (result, delivery, _) = deliver(&source, sink, &config(Packing::Packed, 16 * 1024), None).await;
        assert!(
            matches!(result, Err(Error::Firehose { retryable: false, .. })),
            "{result:?}"
        );
        assert_eq!(delivery.put_calls, 1);
        assert_eq!(delivery.firehose_records, 0);
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_and_at_the_deadline() {
        let source = Memory {
            data: text(100),
            fail_after: None,
        };
        let always = || Recorder {
            throttled_calls: (0..1000).collect(),
            ..Recorder::default()
        };
        let mut limited = config(Packing::Packed, 16 * 1024);
        limited.tuning.max_attempts = 4;
        let (result, delivery, _) = deliver(&source, always(), &limited, None).await;
        assert!(
            matches!(result, Err(Error::RetriesExhausted { attempts: 4, .. })),
            "{result:?}"
        );
        assert_eq!(delivery.put_calls, 4);
        // Each of the three retries resent the whole batch.
        let mut packer = Packer::new(Packing::Packed, 16 * 1024).unwrap();
        let records = records_of(&source.data, &ObjectRef::new("bucket", "logs/object", None));
        let mut count = 0;
        for line in records.split_inclusive(|&b| b == b'\n') {
            count += u64::from(packer.push(line).unwrap().is_some());
        }
        count += u64::from(packer.finish().is_some());
        assert!(count > 1);
        assert_eq!(delivery.retried_entries, 3 * count);

        let mut patient = config(Packing::Packed, 16 * 1024);
        patient.tuning.backoff_cap = Duration::from_millis(20);
        let deadline = Instant::now() + Duration::from_millis(150);
        let (result, delivery, _) = deliver(&source, always(), &patient, Some(deadline)).await;
        assert!(matches!(result, Err(Error::OutOfTime)), "{result:?}");
        assert!(Instant::now() < deadline + Duration::from_millis(50));
        assert!(delivery.put_calls > 1);
    }

    #[tokio::test]
    async fn a_broken_download_fails_retryably_after_delivering_what_was_read() {
        let data = text(5_000);
        let source = Memory {
            data,
            fail_after: Some(150_000),
        };
        let (result, delivery, sink) = deliver(
            &source,
            Recorder::default(),
            &config(Packing::Line, 16 * 1024),
            None,
        )
        .await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Read(_)) && error.is_retryable() && !error.is_permanent(),
            "{error}"
        );
        // The lines before the break went out; the retry will send them again (duplicates).
        assert!(delivery.firehose_records > 0);
        assert_eq!(
            delivery.firehose_records,
            sink.accepted.lock().unwrap().len() as u64
        );
    }

    #[tokio::test]
    async fn empty_and_missing_objects() {
        let empty = Memory {
            data: Vec::new(),
            fail_after: None,
        };
        let (result, delivery, sink) = deliver(
            &empty,
            Recorder::default(),
            &config(Packing::Packed, 16 * 1024),
            None,
        )
        .await;
        assert_eq!(result.unwrap(), Outcome::Empty);
        assert_eq!((delivery.put_calls, sink.calls.load(Ordering::SeqCst)), (0, 0));

        let sink = Arc::new(Recorder::default());
        let mut delivery = Delivery::default();
        let missing = ObjectRef::new("bucket", "missing", None);
        let result = deliver_object(
            &empty,
            &sink,
            &missing,
            &config(Packing::Packed, 16 * 1024),
            None,
            &mut delivery,
        )
        .await;
        assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    }

    #[test]
    fn keeps_the_failed_records_in_order() {
        let records: Vec<Vec<u8>> = (0..5u8).map(|n| vec![n]).collect();
        let failed = |indexes: &[usize]| -> Vec<FailedEntry> {
            indexes
                .iter()
                .map(|&index| FailedEntry {
                    index,
                    code: "X".into(),
                })
                .collect()
        };
        let cases: [(&[usize], Vec<Vec<u8>>); 4] = [
            (&[], vec![]),
            (&[4, 1], vec![vec![1], vec![4]]),
            (&[0, 1, 2, 3, 4], records.clone()),
            (&[2, 99], vec![vec![2]]),
        ];
        for (indexes, expected) in cases {
            assert_eq!(
                keep_failed(records.clone(), &failed(indexes)),
                expected,
                "{indexes:?}"
            );
        }
    }
}
