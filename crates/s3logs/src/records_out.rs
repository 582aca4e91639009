//! Where a command's records go, in the format the user chose: NDJSON (the records of
//! `docs/record.md`, one per line) or one Parquet file of the `columnar` table (AWS's native
//! field names as columns, "Columnar records" in `docs/record.md`).
//!
//! The engine (`pipeline::ingest`) writes into either, so quarantine records, cut lines and
//! unreadable content are decided in one place: NDJSON records gathered and written a chunk at
//! a time, or Parquet rows straight from the lines, which read back as the very same records.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context, bail};
use columnar::{ParquetWriter, WriterOptions};
use pipeline::ingest::{RecordReader, Stats};

/// How many NDJSON bytes are gathered before each write.
pub const OUTPUT_CHUNK: usize = 1 << 20;

/// The format records are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// NDJSON, one record per line: what the preprocessor sends to Firehose.
    #[default]
    Json,
    /// Parquet (Snappy), columns in AWS's native field names: what Athena and DuckDB read
    /// fastest.
    Parquet,
}

impl RecordFormat {
    /// Refuses Parquet for a terminal: binary output there is useless and garbles the screen.
    /// `to_stdout` says whether the output is standard output.
    pub fn check_destination(self, to_stdout: bool) -> anyhow::Result<()> {
        if self == RecordFormat::Parquet && to_stdout && io::stdout().is_terminal() {
            bail!("Parquet is binary: write it to a file with --output FILE, or redirect standard output");
        }
        Ok(())
    }
}

/// A writer of records in a [`RecordFormat`].
pub enum RecordSink<W: Write + Send> {
    /// NDJSON bytes, written as they come.
    Json(W),
    /// Rows of one Parquet file (boxed: the writer holds a row group's column buffers).
    Parquet(Box<ParquetWriter<W>>),
}

impl<W: Write + Send> RecordSink<W> {
    /// A sink writing `format` into `out`.
    pub fn new(format: RecordFormat, out: W) -> anyhow::Result<Self> {
        Ok(match format {
            RecordFormat::Json => RecordSink::Json(out),
            RecordFormat::Parquet => {
                RecordSink::Parquet(Box::new(ParquetWriter::new(out, WriterOptions::default())?))
            }
        })
    }

    /// Writes every record of one log object, as `records` reads it, and returns its counts.
    pub fn write_object<R: Read>(&mut self, records: &mut RecordReader<R>) -> anyhow::Result<Stats> {
        match self {
            RecordSink::Json(out) => {
                let mut buffer = Vec::with_capacity(OUTPUT_CHUNK + 64 * 1024);
                loop {
                    let more = records.fill(&mut buffer, OUTPUT_CHUNK)?;
                    out.write_all(&buffer)?;
                    buffer.clear();
                    if !more {
                        break;
                    }
                }
            }
            RecordSink::Parquet(writer) => {
                while records
                    .write_next(writer.as_mut())
                    .context("writing a Parquet row")?
                {}
            }
        }
        Ok(records.stats())
    }

    /// Writes what is buffered (for Parquet, the last row group and the footer) and flushes.
    pub fn finish(self) -> anyhow::Result<()> {
        let mut out = match self {
            RecordSink::Json(out) => out,
            RecordSink::Parquet(writer) => writer.finish().context("writing the Parquet footer")?,
        };
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use pipeline::ingest::Limits;

    use super::*;

    const CLEAN: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;

    /// Log objects with every kind of record the engine decides on: clean, bad, blank and
    /// CRLF lines, a line over the line limit, a line under it whose record outgrows the record
    /// limit (control characters, six JSON bytes each), invalid UTF-8, and a gzip object cut
    /// in the middle of a line; then an object of AWS's native records.
    fn objects() -> Vec<(&'static str, Vec<u8>)> {
        let mut text = Vec::new();
        for line in [
            CLEAN.as_bytes(),
            b"not a log line",
            b"",
            b"   \t",
            &[&CLEAN.as_bytes()[..20], b"\xe9", &CLEAN.as_bytes()[21..]].concat(),
            &"k".repeat(pipeline::lines::DEFAULT_MAX_LINE + 100).into_bytes(),
            &[1u8; 100_000],
            format!("{CLEAN}\r").as_bytes(),
            CLEAN.as_bytes(),
        ] {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        text.extend_from_slice(&CLEAN.as_bytes()[..150]);
        let mut gzip = GzEncoder::new(Vec::new(), Compression::fast());
        gzip.write_all(&text).unwrap();
        gzip.flush().unwrap();
        let cut_gzip = gzip.get_ref().clone();
        let native = include_bytes!("../tests/native_data/native-records.json").to_vec();
        vec![
            ("s3://logs/plain", text),
            ("s3://logs/cut.gz", cut_gzip),
            ("s3://logs/native.json", native),
        ]
    }

    /// Every object through one sink of `format`: the bytes written and the engine's counts.
    fn write(format: RecordFormat) -> (Vec<u8>, Vec<Stats>) {
        let mut sink = RecordSink::new(format, Vec::new()).unwrap();
        let mut stats = Vec::new();
        for (name, bytes) in objects() {
            let mut records = RecordReader::new(&bytes[..], name, Limits::default()).unwrap();
            stats.push(sink.write_object(&mut records).unwrap());
        }
        let bytes = match sink {
            RecordSink::Json(bytes) => bytes,
            RecordSink::Parquet(writer) => writer.finish().unwrap(),
        };
        (bytes, stats)
    }

    #[test]
    fn parquet_rows_written_from_lines_read_back_as_the_ndjson_records() {
        let (json, json_stats) = write(RecordFormat::Json);
        let (parquet, parquet_stats) = write(RecordFormat::Parquet);
        let mut back = Vec::new();
        let mut reader = columnar::RecordReader::new(bytes::Bytes::from(parquet)).unwrap();
        while reader.next_records(&mut back).unwrap() > 0 {}
        let (json, back) = (String::from_utf8(json).unwrap(), String::from_utf8(back).unwrap());
        assert_eq!(back.lines().count(), json.lines().count());
        for (index, (row, record)) in back.lines().zip(json.lines()).enumerate() {
            assert_eq!(row, record, "record {index}");
        }

        // The fixture holds what it says: every kind of record, each decided once.
        let [plain, cut, native] = json_stats[..] else {
            panic!("three objects");
        };
        assert_eq!((plain.records, plain.blank_lines, plain.truncated), (8, 2, 2));
        assert_eq!((plain.parse_errors, plain.unreadable), (4, None));
        assert_eq!((cut.records, cut.parse_errors), (8, 4));
        assert!(cut.unreadable.is_some());
        assert!(native.records > 0);
        for (json, rows) in json_stats.iter().zip(&parquet_stats) {
            assert_eq!(
                Stats {
                    bytes_out: 0,
                    ..*json
                },
                *rows
            );
        }
    }
}
