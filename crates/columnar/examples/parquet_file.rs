//! Writes one Parquet file from a raw log file or from NDJSON records, or reads one back into
//! NDJSON records, for whole-process figures: throughput per CPU second and peak resident size, which the criterion
//! bench cannot give on a busy machine.
//!
//! ```text
//! cargo run --release -p s3-access-log --example corpus -- --bytes 200000000 > bench-data/access.log
//! cargo build --release -p columnar --example parquet_file
//! /usr/bin/time -f '%U user %S sys %M KiB' target/release/examples/parquet_file write bench-data/access.log bench-data/access.parquet
//! target/release/examples/parquet_file write --gzip 6 bench-data/access.log bench-data/access-gzip.parquet
//! /usr/bin/time -f '%U user %S sys %M KiB' target/release/examples/parquet_file read bench-data/access.parquet > bench-data/access.ndjson
//! /usr/bin/time -f '%U user %S sys %M KiB' target/release/examples/parquet_file records bench-data/access.ndjson bench-data/records.parquet
//! ```
//!
//! Raw log MB/s on one core is the input size over user plus system time. `--gzip LEVEL` writes
//! gzip pages instead of the default Snappy ones (the compression Firehose's conversion uses in
//! this project's template).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use columnar::{Codec, ParquetWriter, RecordReader, WriterOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["write", input, output] => write(input, output, Input::Lines, Codec::Snappy),
        ["write", "--gzip", level, input, output] => match level.parse() {
            Ok(level) => write(input, output, Input::Lines, Codec::Gzip(level)),
            Err(error) => Err(format!("--gzip {level}: {error}").into()),
        },
        ["records", input, output] => write(input, output, Input::Records, Codec::Snappy),
        ["read", input] => read(input),
        _ => {
            eprintln!(
                "usage: parquet_file write [--gzip LEVEL] LOG_FILE PARQUET_FILE | records NDJSON_FILE PARQUET_FILE | read PARQUET_FILE"
            );
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("parquet_file: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the input file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    Lines,
    Records,
}

fn write(input: &str, output: &str, kind: Input, codec: Codec) -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(input)?);
    let sink = BufWriter::with_capacity(1 << 20, File::create(output)?);
    let options = WriterOptions {
        codec,
        ..WriterOptions::default()
    };
    let mut writer = ParquetWriter::new(sink, options)?;
    let (mut line, mut bytes) = (Vec::new(), 0u64);
    while reader.read_until(b'\n', &mut line)? > 0 {
        bytes += line.len() as u64;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        match kind {
            Input::Lines => writer.write_line(input, content).map(|_| ())?,
            Input::Records => writer.write_record(content)?,
        }
        line.clear();
    }
    let stats = writer.stats();
    let written = writer.finish()?.into_inner()?.metadata()?.len();
    eprintln!(
        "parquet_file: {bytes} bytes in, {} rows ({} quarantined), {} row groups, {written} bytes of Parquet",
        stats.rows, stats.quarantined, stats.row_groups
    );
    Ok(())
}

fn read(input: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = RecordReader::new(File::open(input)?)?;
    let mut stdout = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let (mut records, mut rows, mut bytes) = (Vec::new(), 0, 0);
    loop {
        records.clear();
        let read = reader.next_records(&mut records)?;
        if read == 0 {
            break;
        }
        rows += read;
        bytes += records.len();
        stdout.write_all(&records)?;
    }
    stdout.flush()?;
    eprintln!("parquet_file: {rows} records, {bytes} bytes of NDJSON");
    Ok(())
}
