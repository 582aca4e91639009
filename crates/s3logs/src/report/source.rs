//! One input of `s3logs report` as a stream of NDJSON records, whatever its format, and a tee
//! that lets the report count every record line on its way to the audit engine.
//!
//! The format is sniffed per input as `s3logs audit` sniffs it ([`open_records`]). Raw lines
//! are encoded into records exactly as the preprocessor does, and Parquet rows are read back
//! into the records they were made from, so the three formats give the same report.

use std::io::{self, Read};

use anyhow::Context;
use pipeline::audit::Format;
use pipeline::decode::Decoded;
use pipeline::ingest::{Limits, RecordReader};
use pipeline::packing::MAX_RECORD;

use crate::inputs::Input;
use crate::records_in::{RecordInput, open_records};

/// Records pulled from a raw log at a time.
const RAW_BATCH_BYTES: usize = 256 * 1024;

/// What an input turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    /// Raw S3 server access log lines.
    RawLog,
    /// NDJSON records.
    Records,
    /// A Parquet file of records.
    Parquet,
}

impl InputKind {
    /// How the page names it.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::RawLog => "raw log",
            InputKind::Records => "NDJSON records",
            InputKind::Parquet => "Parquet",
        }
    }
}

/// Opens `input` and returns its records as NDJSON bytes.
pub fn records(input: &Input) -> anyhow::Result<(InputKind, Box<dyn Read>)> {
    Ok(match open_records(input)? {
        RecordInput::Parquet(file) => {
            let parquet = columnar::RecordReader::new(file).context("cannot read Parquet")?;
            (InputKind::Parquet, Box::new(parquet.into_ndjson()))
        }
        RecordInput::Lines {
            format: Format::Records,
            reader,
        } => (
            InputKind::Records,
            Box::new(Decoded::new(reader, u64::MAX).context("cannot read")?),
        ),
        RecordInput::Lines {
            format: Format::RawLog,
            reader,
        } => {
            let raw = RecordReader::new(reader, &input.name(), Limits::default())?;
            (
                InputKind::RawLog,
                Box::new(RawRecords {
                    raw,
                    buffer: Vec::new(),
                    at: 0,
                }),
            )
        }
    })
}

/// A raw log's records as a byte stream.
struct RawRecords<R: Read> {
    raw: RecordReader<R>,
    buffer: Vec<u8>,
    at: usize,
}

impl<R: Read> Read for RawRecords<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
            self.raw
                .fill(&mut self.buffer, RAW_BATCH_BYTES)
                .map_err(io::Error::other)?;
        }
        let count = out.len().min(self.buffer.len() - self.at);
        out[..count].copy_from_slice(&self.buffer[self.at..self.at + count]);
        self.at += count;
        Ok(count)
    }
}

/// Passes a record stream through unchanged and hands every complete line to `observe` as it
/// goes by. A line longer than the largest record is not handed over whole (the audit engine
/// reports it as a bad line); `observe` gets an empty line for it instead, so memory stays
/// bounded.
pub struct Tee<R, F> {
    inner: R,
    observe: F,
    partial: Vec<u8>,
    overlong: bool,
}

impl<R: Read, F: FnMut(&[u8])> Tee<R, F> {
    /// A tee over `inner`.
    pub fn new(inner: R, observe: F) -> Self {
        Tee {
            inner,
            observe,
            partial: Vec::new(),
            overlong: false,
        }
    }

    fn take(&mut self, mut bytes: &[u8]) {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            self.push(&bytes[..end]);
            self.end_line();
            bytes = &bytes[end + 1..];
        }
        self.push(bytes);
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.overlong || self.partial.len() + bytes.len() > MAX_RECORD {
            self.overlong = true;
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self) {
        (self.observe)(if self.overlong { b"\x00" } else { &self.partial });
        self.partial.clear();
        self.overlong = false;
    }
}

impl<R: Read, F: FnMut(&[u8])> Read for Tee<R, F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(out)?;
        if count == 0 {
            if !self.partial.is_empty() || self.overlong {
                self.end_line();
            }
        } else {
            self.take(&out[..count]);
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_every_line_of_any_chunking_and_passes_bytes_through() {
        let text = b"{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}";
        for chunk in [1, 3, 64] {
            let mut lines = Vec::new();
            let mut passed = Vec::new();
            let mut tee = Tee::new(Chunked(&text[..], chunk), |line: &[u8]| lines.push(line.to_vec()));
            tee.read_to_end(&mut passed).unwrap();
            drop(tee);
            assert_eq!(passed, text);
            assert_eq!(
                lines,
                [&b"{\"a\":1}"[..], b"", b"{\"b\":2}", b"{\"c\":3}"],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn hands_over_an_overlong_line_as_a_bad_one_without_keeping_it() {
        let mut text = vec![b'x'; 3 * MAX_RECORD];
        text.extend_from_slice(b"\n{}\n");
        let mut lines = Vec::new();
        let mut tee = Tee::new(&text[..], |line: &[u8]| lines.push(line.to_vec()));
        io::copy(&mut tee, &mut io::sink()).unwrap();
        // Vec growth may round up, but never to a second record's worth.
        assert!(tee.partial.capacity() <= 2 * MAX_RECORD);
        drop(tee);
        assert_eq!(lines, [&b"\x00"[..], b"{}"]);
    }

    /// A reader that returns at most `.1` bytes a call.
    struct Chunked<'a>(&'a [u8], usize);

    impl Read for Chunked<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let count = out.len().min(self.1).min(self.0.len());
            out[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }
}
