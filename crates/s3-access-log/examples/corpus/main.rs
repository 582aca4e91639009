//! Writes a deterministic corpus of realistic S3 server access log lines to stdout, for
//! whole-process benchmarks of the pipeline and the CLI:
//!
//! ```text
//! cargo run --release -p s3-access-log --example corpus -- --bytes 200000000 > bench-data/access.log
//! ```
//!
//! The same bytes come out on every machine (see `generator.rs`, which the criterion bench
//! shares). The line count and average line length go to stderr.

use std::io::Write;
use std::process::ExitCode;

mod generator;

/// Lines are generated and written in chunks of about this size.
const CHUNK: usize = 1 << 20;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let bytes = match (
        args.next().as_deref(),
        args.next().map(|n| n.parse::<u64>()),
        args.next(),
    ) {
        (Some("--bytes"), Some(Ok(bytes)), None) => bytes,
        _ => {
            eprintln!("usage: corpus --bytes N > file   (writes at least N bytes of log lines)");
            return ExitCode::FAILURE;
        }
    };
    let mut generator = generator::Generator::new();
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
