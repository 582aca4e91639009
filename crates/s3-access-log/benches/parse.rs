//! Throughput of the parser and of the record writer over a realistic mix of lines.
//!
//! The corpus (8 MiB) comes from the same deterministic generator as the `corpus` example, so
//! these figures and whole-process runs over its output measure the same mix. `encode` is what
//! the pipeline pays per line (parse, record id, JSON); `parse` is the parser alone.
//!
//! ```text
//! cargo bench -p s3-access-log --bench parse
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use s3_access_log::{RecordEncoder, parse};

#[path = "../examples/corpus/generator.rs"]
mod generator;

const CORPUS_BYTES: usize = 8 << 20;

fn corpus() -> Vec<u8> {
    let mut corpus = Vec::with_capacity(CORPUS_BYTES + (1 << 18));
    generator::Generator::new().fill(&mut corpus, CORPUS_BYTES);
    corpus
}

fn lines(corpus: &[u8]) -> Vec<&[u8]> {
    corpus
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .collect()
}

fn mixed(c: &mut Criterion) {
    let corpus = corpus();
    let lines = lines(&corpus);
    let encoder = RecordEncoder::new("s3://example-access-logs/logs/2026-01-15-00-00-00-0123456789ABCDEF");
    let mut out = Vec::with_capacity(corpus.len() * 3);

    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.sample_size(20);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            for line in &lines {
                encoder.encode(line, &mut out);
            }
            black_box(out.len())
        });
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut clean = 0usize;
            for line in &lines {
                clean += usize::from(parse(black_box(line)).is_ok());
            }
            clean
        });
    });
    group.finish();
}

criterion_group!(benches, mixed);
criterion_main!(benches);
