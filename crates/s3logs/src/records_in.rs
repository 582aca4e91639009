//! Where a command's records come from: one input, sniffed once, as the format it holds.
//!
//! `s3logs audit`, `run`'s audit stage and `report` all take raw logs, AWS's native JSON records,
//! NDJSON records (gzipped or not) and Parquet files of records, so they all tell them apart
//! here: Parquet by its magic (`PAR1`), then records or raw log as the audit engine does
//! ([`sniff_format`]: records if the first non-blank line starts with `{` and is not one of AWS's
//! native records, which are read as raw lines are). `records_out` is the other end. Commands
//! that read raw logs only (`parse`) ask [`records_elsewhere`] which command reads a file of
//! records they were given.

use std::fs::File;
use std::io::{Cursor, Read};

use anyhow::{Context, bail};
use pipeline::audit::{Format, sniff_format};
use pipeline::decode::PARQUET_FORMAT;
use pipeline::ingest::{RECORDS_FORMAT, Unreadable};

use crate::inputs::Input;

/// Bytes read ahead of an input to tell its format (decoded from gzip if need be).
const SNIFF_BYTES: usize = 64 * 1024;

/// An opened input, by what it holds.
pub enum RecordInput {
    /// Lines to read from the start: the bytes sniffed are put back in front of the rest.
    Lines {
        /// Raw log lines (or native records), or NDJSON records.
        format: Format,
        /// The whole input, gzipped or not, as it was.
        reader: Box<dyn Read>,
    },
    /// A Parquet file of records, opened again to be read from its footer.
    Parquet(File),
}

/// Opens `input` and tells its format. Fails if it cannot be opened or read, or if standard
/// input holds Parquet, which can only be read from its end.
pub fn open_records(input: &Input) -> anyhow::Result<RecordInput> {
    let mut reader = input.open().context("cannot open")?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .context("cannot read")?;
    if columnar::is_parquet(&head) {
        let Input::File(path) = input else {
            bail!("standard input holds a Parquet file, which is read from its end: give its path instead");
        };
        // Opened anew: the reader above has moved past the head, and Parquet seeks.
        return Ok(RecordInput::Parquet(File::open(path).context("cannot open")?));
    }
    let format = sniff_format(&head[..]).unwrap_or(Format::RawLog);
    Ok(RecordInput::Lines {
        format,
        reader: Box::new(Cursor::new(head).chain(reader)),
    })
}

/// The way out for an input a raw-log reader gave up on as `reason`, when it is a file of
/// records (NDJSON, or Parquet): the commands that read records. `None` for anything else.
pub fn records_elsewhere(input: &Input, reason: Unreadable) -> Option<&'static str> {
    if reason == Unreadable::UnsupportedFormat(RECORDS_FORMAT) {
        return Some("this is a file of records: use `s3logs audit` or `s3logs report`, which read them");
    }
    let Input::File(path) = input else {
        return None;
    };
    let holds_records = reason == Unreadable::UnsupportedFormat(PARQUET_FORMAT)
        && File::open(path)
            .ok()
            .is_some_and(|file| columnar::RecordReader::new(file).is_ok());
    holds_records.then_some(
        "this is a Parquet file of records: use `s3logs audit` or `s3logs report`, which read them",
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const RAW: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be bucket \
        [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT k \"GET /k HTTP/1.1\" \
        200 - 1 1 1 1 \"-\" \"curl\" - - SigV4 - AuthHeader h TLSv1.2 - - us-east-1\n";

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// What an input of `bytes` opens as, and the bytes its reader gives back.
    fn open(name: &str, bytes: &[u8]) -> (Option<Format>, Vec<u8>) {
        // A file of its own straight in the temporary directory, removed below: a directory
        // shared by the tests running in parallel could not be removed by any of them.
        let path = std::env::temp_dir().join(format!("s3logs-records-in-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let opened = open_records(&Input::File(path.clone())).unwrap();
        std::fs::remove_file(&path).unwrap();
        match opened {
            RecordInput::Lines { format, mut reader } => {
                let mut back = Vec::new();
                reader.read_to_end(&mut back).unwrap();
                (Some(format), back)
            }
            RecordInput::Parquet(_) => (None, Vec::new()),
        }
    }

    #[test]
    fn tells_each_format_and_gives_back_every_byte() {
        let record = br#"{"RecordId":"1","Timestamp":"2019-02-06 00:00:38"}
"#;
        let native = br#"{"schema_version_id":"1","bucket_name":"b"}
"#;
        let long_raw = RAW.repeat(1000);
        let cases: [(&str, Vec<u8>, Option<Format>); 6] = [
            ("raw.log", RAW.as_bytes().to_vec(), Some(Format::RawLog)),
            ("long-raw.log", long_raw.into_bytes(), Some(Format::RawLog)),
            ("raw.log.gz", gzip(RAW.as_bytes()), Some(Format::RawLog)),
            ("records.ndjson", record.to_vec(), Some(Format::Records)),
            ("records.gz", gzip(record), Some(Format::Records)),
            ("native.json", native.to_vec(), Some(Format::RawLog)),
        ];
        for (name, bytes, format) in cases {
            assert_eq!(open(name, &bytes), (format, bytes), "{name}");
        }
        assert_eq!(open("a.parquet", b"PAR1 and the rest").0, None);
    }
}
