//! Raw log object in, NDJSON records out: decode, split into lines, encode each line.
//!
//! This is the preprocessor's core and `s3logs parse`, so both write identical records for the
//! same object. Records come out whole, one per line, into a buffer the caller drains; memory is
//! the line reader's fixed buffer plus whatever the caller lets the output grow to.

use std::io::Read;

use s3_access_log::{Outcome, RecordEncoder};

use crate::Error;
use crate::decode::Decoded;
use crate::lines::{DEFAULT_MAX_LINE, Line, LineReader};

/// Firehose's limit on one record is 1,000 KiB; records are kept comfortably below it.
pub const DEFAULT_MAX_RECORD: usize = 1_000 * 1024 - 1024;

/// Bounds on what one object may produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line kept whole; longer lines are quarantined with a prefix.
    pub max_line: usize,
    /// Largest JSON record; a record that would be larger is quarantined with a shorter `RawLine`.
    pub max_record: usize,
    /// Most decoded bytes read from one object.
    pub max_decoded: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_record: DEFAULT_MAX_RECORD,
            max_decoded: u64::MAX,
        }
    }
}

/// Counts for one object, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Non-blank lines read.
    pub lines: u64,
    /// Records written (one per non-blank line).
    pub records: u64,
    /// Records that carry `ParseError`.
    pub parse_errors: u64,
    /// Lines cut to fit the line or record limit (counted in `parse_errors` too).
    pub truncated: u64,
    /// Decoded bytes read.
    pub bytes_in: u64,
    /// JSON bytes written.
    pub bytes_out: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.lines += other.lines;
        self.records += other.records;
        self.parse_errors += other.parse_errors;
        self.truncated += other.truncated;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

/// Reads a log object and writes its records.
pub struct RecordReader<R: Read> {
    lines: LineReader<Decoded<R>>,
    encoder: RecordEncoder,
    limits: Limits,
    stats: Stats,
}

impl<R: Read> RecordReader<R> {
    /// Reads `input` (plain or gzip) as the log object named `log_file`.
    pub fn new(input: R, log_file: &str, limits: Limits) -> Result<Self, Error> {
        let decoded = Decoded::new(input, limits.max_decoded)?;
        Ok(RecordReader {
            lines: LineReader::new(decoded, limits.max_line),
            encoder: RecordEncoder::new(log_file),
            limits,
            stats: Stats::default(),
        })
    }

    /// Appends whole records to `out` until it holds at least `target` bytes or the input ends.
    /// Returns `false` once the input is exhausted.
    pub fn fill(&mut self, out: &mut Vec<u8>, target: usize) -> Result<bool, Error> {
        while out.len() < target {
            if !self.next_record(out)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Appends the next record to `out`; `false` at the end of the input.
    pub fn next_record(&mut self, out: &mut Vec<u8>) -> Result<bool, Error> {
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.stats.bytes_in = self.lines.get_ref().produced();
                    return Ok(false);
                }
                Err(error) => return Err(self.lines.get_ref().classify(error)),
            };
            let before = out.len();
            let quarantined = match line {
                Line::Whole(bytes) => match self.encoder.encode(bytes, out) {
                    Outcome::Skipped => continue,
                    _ if out.len() - before > self.limits.max_record => {
                        out.truncate(before);
                        encode_cut(
                            &self.encoder,
                            self.limits.max_record,
                            bytes,
                            s3_access_log::record_id(bytes),
                            bytes.len() as u64,
                            out,
                        );
                        self.stats.truncated += 1;
                        true
                    }
                    Outcome::Parsed => false,
                    Outcome::Quarantined(_) => true,
                },
                Line::Truncated { prefix, len, id } => {
                    encode_cut(&self.encoder, self.limits.max_record, prefix, id, len, out);
                    self.stats.truncated += 1;
                    true
                }
            };
            self.stats.parse_errors += u64::from(quarantined);
            self.stats.lines += 1;
            self.stats.records += 1;
            self.stats.bytes_out += (out.len() - before) as u64;
            return Ok(true);
        }
    }

    /// Counts so far; complete once [`RecordReader::next_record`] has returned `false`.
    pub fn stats(&self) -> Stats {
        Stats {
            bytes_in: self.lines.get_ref().produced(),
            ..self.stats
        }
    }
}

/// Quarantines a line too long to carry whole: its `RawLine` is cut so that even a line of
/// control characters (six JSON bytes each) fits in `max_record`.
fn encode_cut(
    encoder: &RecordEncoder,
    max_record: usize,
    bytes: &[u8],
    id: u64,
    len: u64,
    out: &mut Vec<u8>,
) {
    const RECORD_OVERHEAD: usize = 4096;
    let room = max_record.saturating_sub(RECORD_OVERHEAD) / 6;
    let kept = floor_char_boundary(bytes, room.min(bytes.len()));
    let reason = format!(
        "line of {len} bytes is over the limit; RawLine holds its first {kept} bytes and RecordId is of the whole line"
    );
    encoder.encode_truncated(&bytes[..kept], id, &reason, out);
}

/// Moves a cut point back off the middle of a UTF-8 sequence, so a cut line does not end in a
/// replacement character that was not in the input.
fn floor_char_boundary(bytes: &[u8], at: usize) -> usize {
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&i| i == 0 || i >= bytes.len() || bytes[i] & 0xC0 != 0x80)
        .unwrap_or(at)
}
