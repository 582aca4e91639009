//! Where a command's records go, in the format the user chose: NDJSON (the records of
//! `docs/record.md`, one per line) or one Parquet file of the `columnar` table (AWS's native
//! field names as columns, "Columnar records" in `docs/record.md`).
//!
//! Commands produce NDJSON records with the engine (`pipeline::ingest`), so quarantine
//! records, cut lines and unreadable content are decided in one place; for Parquet each record
//! becomes one row, which reads back as the very same record.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, bail};
use columnar::{ParquetWriter, WriterOptions};

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

    /// Writes whole NDJSON records, each ending in `\n`, as the engine makes them.
    pub fn write_records(&mut self, records: &[u8]) -> anyhow::Result<()> {
        match self {
            RecordSink::Json(out) => out.write_all(records)?,
            RecordSink::Parquet(writer) => {
                for record in records.split(|&b| b == b'\n').filter(|record| !record.is_empty()) {
                    writer.write_record(record).context("writing a Parquet row")?;
                }
            }
        }
        Ok(())
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
    use super::*;

    /// Two records as the engine writes them: a clean line and one that does not parse.
    fn records() -> Vec<u8> {
        let encoder = s3_access_log::RecordEncoder::new("s3://logs/2019-02-06-00-00-38-EXAMPLE");
        let mut out = Vec::new();
        encoder.encode(
            br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#,
            &mut out,
        );
        encoder.encode(b"not a log line", &mut out);
        out
    }

    #[test]
    fn json_passes_records_through_and_parquet_reads_back_the_same_records() {
        let records = records();
        let mut json = RecordSink::new(RecordFormat::Json, Vec::new()).unwrap();
        json.write_records(&records).unwrap();
        let RecordSink::Json(bytes) = json else {
            panic!("a JSON sink");
        };
        assert_eq!(bytes, records);

        let mut parquet = RecordSink::new(RecordFormat::Parquet, Vec::new()).unwrap();
        parquet.write_records(&records).unwrap();
        let RecordSink::Parquet(writer) = parquet else {
            panic!("a Parquet sink");
        };
        let file = bytes::Bytes::from(writer.finish().unwrap());
        let mut back = Vec::new();
        let mut reader = columnar::RecordReader::new(file).unwrap();
        assert_eq!(reader.next_records(&mut back).unwrap(), 2);
        assert_eq!(
            String::from_utf8(back).unwrap(),
            String::from_utf8(records).unwrap()
        );
    }

    #[test]
    fn a_line_that_is_not_a_record_is_an_error() {
        let mut parquet = RecordSink::new(RecordFormat::Parquet, Vec::new()).unwrap();
        let error = parquet.write_records(b"{\"not\":\"a record\"}\n").unwrap_err();
        assert!(format!("{error:#}").contains("not a record"), "{error:#}");
    }
}
