//! `s3logs parse`: raw log files (or AWS's native JSON records, converted by `pipeline::ingest`)
//! in, NDJSON records out — what the preprocessor sends to
//! Firehose, one record per line — or, with `--format parquet`, the same records as the rows of
//! one Parquet file, written straight from the lines ([`crate::records_out`]).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::ingest::{Limits, RecordReader, Stats};

use crate::audit::{is_broken_pipe, plural};
use crate::inputs::{self, Input, Outputs};
use crate::records_in::records_elsewhere;
use crate::records_out::{OUTPUT_CHUNK, RecordFormat, RecordSink};

/// Arguments of `s3logs parse`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    s3logs parse access-logs/ > records.ndjson\n  \
    s3logs parse 2026-11-23-10-15-01-1A2B3C4D5E6F7A8B --output records.ndjson\n  \
    s3logs parse access-logs/ --format parquet --output requests.parquet\n  \
    aws s3 cp s3://my-log-bucket/logs/2026-11-23-10-15-01-1A2B3C4D5E6F7A8B - | s3logs parse -\n\n\
    Exit status is 1 if any input could not be read, or held content that cannot be read as log\n\
    lines (truncated or corrupt gzip, zstd/bzip2/xz/zip compression, which is not supported, a\n\
    Parquet file): its readable lines are still written, then one quarantine record naming the\n\
    reason and the byte offset, and stderr says which file. Parquet files of records are read by\n\
    `s3logs audit` and `s3logs report`.")]
pub struct ParseArgs {
    /// Log files or directories (read recursively); `-` or nothing reads standard input.
    /// Gzipped files are detected and decompressed. Files of AWS's native JSON records
    /// (`schema_version_id`) are detected and converted into our records.
    pub paths: Vec<PathBuf>,
    /// Write records to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// `json`: NDJSON records, one per line. `parquet`: one Parquet file whose columns take
    /// AWS's native field names (docs/record.md, "Columnar records"); it needs --output or a
    /// redirected standard output.
    #[arg(long, value_enum, default_value_t = RecordFormat::Json, hide_possible_values = true)]
    pub format: RecordFormat,
    /// Do not print the summary or the progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command; the exit code is non-zero if any input could not be read, also when the
/// reader of standard output went away first.
pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    args.format.check_destination(args.output.is_none())?;
    let outputs = match &args.output {
        Some(path) => Outputs::new().file(path),
        None => Outputs::new().stdout(),
    }
    .skip_run_outputs();
    // Expanded before the output is created, so a refused run has truncated nothing.
    let expansion = inputs::expand(&args.paths, &outputs)?;
    let inputs = expansion.inputs;
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            Box::new(BufWriter::with_capacity(OUTPUT_CHUNK, file))
        }
        None => Box::new(BufWriter::with_capacity(OUTPUT_CHUNK, io::stdout())),
    };
    let mut out = RecordSink::new(args.format, out)?;
    let progress = progress_bar(&inputs, args.quiet);
    let started = Instant::now();
    let mut total = Stats::default();
    let mut parsed_inputs: u64 = 0;
    let mut failures: Vec<String> = expansion.bad.iter().map(ToString::to_string).collect();
    let mut closed = false;
    for input in &inputs {
        match parse_one(input, &mut out, &progress) {
            Ok(stats) => {
                if let Some(unreadable) = stats.unreadable {
                    let mut failure = format!(
                        "{}: {unreadable}; the lines before it and a quarantine record were written",
                        input.name()
                    );
                    if let Some(way_out) = records_elsewhere(input, unreadable.reason) {
                        failure = format!("{failure}; {way_out}");
                    }
                    failures.push(failure);
                }
                total += stats;
                parsed_inputs += 1;
            }
            Err(error) if is_broken_pipe(&error) => {
                closed = true;
                break;
            }
            Err(error) => failures.push(format!("{}: {error:#}", input.name())),
        }
    }
    if !closed {
        match out.finish() {
            Err(error) if is_broken_pipe(&error) => closed = true,
            Err(error) => failures.push(format!("writing output: {error:#}")),
            Ok(()) => {}
        }
    }
    progress.finish_and_clear();
    for skipped in &expansion.skipped {
        eprintln!("s3logs: warning: {skipped}");
    }
    for failure in &failures {
        eprintln!("s3logs: error: {failure}");
    }
    if !args.quiet && !closed {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{}, {}, {}, {}, {:.1} MB in {:.2}s ({:.0} MB/s)",
            plural(parsed_inputs, "file"),
            plural(total.lines, "line"),
            plural(total.records, "record"),
            plural(total.parse_errors, "parse error"),
            total.bytes_in as f64 / 1e6,
            seconds,
            total.bytes_in as f64 / 1e6 / seconds.max(1e-9),
        );
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_one<W: Write + Send>(
    input: &Input,
    out: &mut RecordSink<W>,
    progress: &ProgressBar,
) -> anyhow::Result<Stats> {
    let reader = Progress {
        inner: input.open()?,
        bar: progress,
    };
    let mut records = RecordReader::new(reader, &input.name(), Limits::default())?;
    out.write_object(&mut records)
}

/// A progress bar over the inputs' total size, shown only on a terminal.
fn progress_bar(inputs: &[Input], quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = inputs.iter().filter_map(Input::len).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Counts bytes read into the progress bar.
struct Progress<'a> {
    inner: Box<dyn Read>,
    bar: &'a ProgressBar,
}

impl Read for Progress<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
