//! Writes a deterministic corpus of realistic S3 server access log lines to stdout, for
//! whole-process benchmarks of the pipeline and the CLI:
//!
//! ```text
//! cargo run --release -p s3-access-log --example corpus -- --bytes 200000000 > bench-data/access.log
//! ```
//!
//! `--span-hours H` after `--bytes N` makes time pass faster so the lines span about H hours
//! (by default about one second per line).
//!
//! The same bytes come out on every machine (see `generator.rs`, which the criterion bench
//! shares). The line count and average line length go to stderr.

use std::io::Write;
use std::process::ExitCode;

mod generator;

/// Lines are generated and written in chunks of about this size.
const CHUNK: usize = 1 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |at: usize| args.get(at).and_then(|n| n.parse::<u64>().ok());
    let (bytes, span_hours) = match (
        args.len(),
        args.first().map(String::as_str),
        args.get(2).map(String::as_str),
    ) {
        (2, Some("--bytes"), None) => (number(1), None),
        (4, Some("--bytes"), Some("--span-hours")) => (number(1), number(3)),
        _ => (None, None),
    };
    let Some(bytes) = bytes.filter(|_| args.len() == 2 || span_hours.is_some()) else {
        eprintln!("usage: corpus --bytes N [--span-hours H] > file   (writes at least N bytes of log lines)");
        return ExitCode::FAILURE;
    };
    let mut generator = generator::Generator::new();
    if let Some(hours) = span_hours {
        // The pace is one second per line; the line count is estimated from a sample.
        let mut sample = Vec::new();
        let sample_lines = generator::Generator::new().fill(&mut sample, CHUNK) as u64;
        let lines = (bytes * sample_lines / sample.len() as u64).max(1);
        generator.stretch_time((hours * 3600 + lines / 2) / lines);
    }
    let mut stdout = std::io::stdout().lock();
    let mut chunk = Vec::with_capacity(CHUNK + (1 << 18));
    let (mut written, mut lines) = (0u64, 0u64);
    while written < bytes {
        chunk.clear();
        let want = usize::try_from(bytes - written).map_or(CHUNK, |left| left.min(CHUNK));
        lines += generator.fill(&mut chunk, want) as u64;
        if let Err(error) = stdout.write_all(&chunk) {
            eprintln!("corpus: {error}");
            return ExitCode::FAILURE;
        }
        written += chunk.len() as u64;
    }
    if let Err(error) = stdout.flush() {
        eprintln!("corpus: {error}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "corpus: {written} bytes, {lines} lines, {:.0} bytes per line on average",
        written as f64 / lines.max(1) as f64
    );
    ExitCode::SUCCESS
}
