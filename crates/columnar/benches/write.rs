//! Throughput of Parquet writing and reading over the generated corpus, in bytes of raw log.
//!
//! `lines` is what `s3logs run --format parquet` pays per line (parse, record id, row, Snappy
//! Parquet); `records` writes the same rows from NDJSON records, as the Firehose stand-in and
//! `run` over records do; `read` turns the file back into NDJSON records, as the postprocessor
//! and `s3logs audit` will. The target is 300 MB/s of raw log on one core for `lines`.
//!
//! ```text
//! cargo bench -p columnar --bench write
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use columnar::{ParquetWriter, RecordReader, WriterOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use s3_access_log::RecordEncoder;

#[path = "../../s3-access-log/examples/corpus/generator.rs"]
#[allow(dead_code)]
mod generator;

const CORPUS_BYTES: usize = 32 << 20;
const LOG_FILE: &str = "s3://example-access-logs/logs/2026-01-15-00-00-00-0123456789ABCDEF";

fn write_lines(lines: &[&[u8]]) -> Vec<u8> {
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    for line in lines {
        writer.write_line(LOG_FILE, line).unwrap();
    }
    writer.finish().unwrap()
}

fn throughput(c: &mut Criterion) {
    let mut corpus = Vec::with_capacity(CORPUS_BYTES + (1 << 18));
    generator::Generator::new().fill(&mut corpus, CORPUS_BYTES);
    let lines: Vec<&[u8]> = corpus.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut records = Vec::new();
    for line in &lines {
        encoder.encode(line, &mut records);
    }
    let file = Bytes::from(write_lines(&lines));
    eprintln!(
        "corpus: {} bytes of log, {} lines, {} bytes of NDJSON, {} bytes of Parquet",
        corpus.len(),
        lines.len(),
        records.len(),
        file.len()
    );

    let mut group = c.benchmark_group("parquet");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.sample_size(10);
    group.bench_function("lines", |b| b.iter(|| black_box(write_lines(&lines).len())));
    group.bench_function("records", |b| {
        b.iter(|| {
            let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
            for record in records.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
                writer.write_record(record).unwrap();
            }
            black_box(writer.finish().unwrap().len())
        });
    });
    group.bench_function("read", |b| {
        let mut out = Vec::with_capacity(1 << 22);
        b.iter(|| {
            let mut reader = RecordReader::new(file.clone()).unwrap();
            let mut total = 0;
            loop {
                out.clear();
                let rows = reader.next_records(&mut out).unwrap();
                if rows == 0 {
                    break;
                }
                total += out.len();
            }
            black_box(total)
        });
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
