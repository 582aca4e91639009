//! Throughput, packing and memory of the preprocessor's real code path, without a network.
//!
//! The handler runs on an S3 notification as in Lambda; its object source generates log lines
//! (or reads standard input, e.g. the `s3-access-log` corpus example) and its record sink only
//! counts. Prints lines/s, MB/s, Firehose records and billed 5 KB units per 1,000 lines, the
//! billed bytes per line against the raw line (what Firehose bills for a stream with
//! `OutputFormat=parquet` when `--record-keys compact`), `PutRecordBatch` calls per 100,000
//! lines and the process's peak RSS.
//!
//! ```text
//! cargo run --release -p preprocessor --example throughput -- --bytes 1000000000 [--packing line|gzip]
//! corpus --bytes N | cargo run --release -p preprocessor --example throughput -- --stdin [--record-keys compact]
//! ```

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use lambda_adapter::{Body, Failure, Object, ObjectRef, ObjectSource, Resume};
use lambda_runtime::{Context, LambdaEvent};
use pipeline::packing::{BILLING_UNIT, billed_units};
use preprocessor::{Config, Error, FailedEntry, Handler, RecordSink};
use s3_access_log::KeyStyle;
use serde_json::json;
use testkit::corpus::LogLines;
use tokio::io::{AsyncRead, ReadBuf};

/// Generated log text, produced as it is read.
struct Generated {
    lines: LogLines,
    left: usize,
    buffer: Vec<u8>,
    at: usize,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at == this.buffer.len() && this.left > 0 {
            this.buffer.clear();
            this.at = 0;
            let want = this.left.min(256 * 1024);
            this.lines.fill(&mut this.buffer, want);
            this.left = this.left.saturating_sub(this.buffer.len());
        }
        let n = out.remaining().min(this.buffer.len() - this.at);
        out.put_slice(&this.buffer[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

enum Input {
    Generate(usize),
    Stdin,
}

struct Source(std::sync::Mutex<Option<Input>>);

impl ObjectSource for Source {
    async fn get(&self, object: &ObjectRef, _: Option<Resume<'_>>) -> Result<Object, lambda_adapter::Error> {
        let input = self.0.lock().ok().and_then(|mut input| input.take());
        let body: Body = match input {
            Some(Input::Generate(bytes)) => Box::pin(Generated {
                lines: LogLines::new(1),
                left: bytes,
                buffer: Vec::new(),
                at: 0,
            }),
            Some(Input::Stdin) => Box::pin(tokio::io::stdin()),
            None => {
                return Err(lambda_adapter::Error::S3 {
                    object: object.describe(),
                    message: "the input is read once".into(),
                    failure: Failure::Gone,
                });
            }
        };
        Ok(Object {
            size: None,
            start: 0,
            etag: None,
            body,
        })
    }
}

/// Accepts everything and counts.
#[derive(Default)]
struct Counting {
    calls: AtomicU64,
    records: AtomicU64,
    units: AtomicU64,
    largest: AtomicU64,
}

/// The sink handed to the handler; the bench keeps another handle on the counts.
struct Sink(Arc<Counting>);

impl RecordSink for Sink {
    async fn put_batch(&self, records: &[Vec<u8>]) -> Result<Vec<FailedEntry>, Error> {
        let counts = &self.0;
        counts.calls.fetch_add(1, Ordering::Relaxed);
        counts.records.fetch_add(records.len() as u64, Ordering::Relaxed);
        for record in records {
            counts
                .units
                .fetch_add(billed_units(record.len()), Ordering::Relaxed);
            counts.largest.fetch_max(record.len() as u64, Ordering::Relaxed);
        }
        Ok(Vec::new())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn usage() -> ! {
    eprintln!(
        "usage: throughput (--bytes N | --stdin) [--packing packed|line|gzip] [--max-record N] \
         [--record-keys full|compact] [--object BUCKET/KEY]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = None;
    let mut config = Config::new("bench");
    // The raw object's name is every record's `LogFile`, so its length counts in the bytes sent.
    let (mut bucket, mut key) = ("bench".to_owned(), "logs/bench-object".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bytes" => {
                input = Some(Input::Generate(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| usage()),
                ))
            }
            "--stdin" => input = Some(Input::Stdin),
            "--packing" => {
                config.packing = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--record-keys" => {
                config.key_style = args
                    .next()
                    .and_then(|name| KeyStyle::from_name(&name))
                    .unwrap_or_else(|| usage())
            }
            "--object" => {
                let object = args.next().unwrap_or_else(|| usage());
                let (b, k) = object.split_once('/').unwrap_or_else(|| usage());
                (bucket, key) = (b.to_owned(), k.to_owned());
            }
            "--max-record" => {
                config.max_record_bytes = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let Some(input) = input else { usage() };
    let packing = config.packing;
    let key_style = config.key_style;
    let counting = Arc::new(Counting::default());
    let handler = Handler::new(
        config,
        Source(std::sync::Mutex::new(Some(input))),
        Sink(Arc::clone(&counting)),
    );
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "bench"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "bench"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "eTag": "0", "sequencer": "0"}}}]});

    let started = Instant::now();
    let invocation = handler.run(LambdaEvent::new(event, Context::default())).await;
    let seconds = started.elapsed().as_secs_f64();
    invocation.result?;
    let delivery = invocation.totals.delivery;
    let lines = delivery.ingest.lines.max(1) as f64;
    let records = counting.records.load(Ordering::Relaxed) as f64;
    let units = counting.units.load(Ordering::Relaxed) as f64;
    let calls = counting.calls.load(Ordering::Relaxed) as f64;
    println!("packing                         {packing}");
    println!("record keys                     {key_style:?}");
    println!(
        "input                           {:.1} MB, {} lines ({:.0} B/line), {:.1} MB of records",
        delivery.ingest.bytes_in as f64 / 1e6,
        delivery.ingest.lines,
        delivery.ingest.bytes_in as f64 / lines,
        delivery.ingest.bytes_out as f64 / 1e6
    );
    println!("time                            {seconds:.2} s");
    println!("lines/s                         {:.0}", lines / seconds);
    println!(
        "MB/s (raw log in)               {:.1}",
        delivery.ingest.bytes_in as f64 / 1e6 / seconds
    );
    println!("Firehose records / 1,000 lines  {:.2}", records * 1000.0 / lines);
    println!("billed 5 KB units / 1,000 lines {:.1}", units * 1000.0 / lines);
    // Firehose bills each record rounded up to 5 KB (BILLING_UNIT): per line, against the raw
    // line (its `\n` included) and against the record bytes sent.
    let billed_bytes = units * BILLING_UNIT as f64;
    println!(
        "billed bytes / line             {:.0} ({:.3}x the raw line, {:.3}x the records sent)",
        billed_bytes / lines,
        billed_bytes / delivery.ingest.bytes_in.max(1) as f64,
        billed_bytes / delivery.ingest.bytes_out.max(1) as f64
    );
    println!("PutRecordBatch calls / 100,000  {:.1}", calls * 100_000.0 / lines);
    println!(
        "largest record                  {} B",
        counting.largest.load(Ordering::Relaxed)
    );
    println!(
        "peak RSS (VmHWM)                {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}
