//! Raw log object in, records out: decode, split into lines, encode each line.
//!
//! This is the preprocessor's core and `s3logs parse`, so both write identical records for the
//! same object. An object whose first line is one of AWS's native JSON records (with
//! `schema_version_id`, see `columnar::NativeEncoder`) is read as native records, each
//! converted into the record its request would have in a text log; one whose first line is
//! other JSON (our own records, a CloudTrail file) is one `unsupported-format` quarantine record. Records go whole to a
//! [`RecordWriter`]: NDJSON bytes in a buffer the caller drains, or the rows of a
//! [`ParquetWriter`] written straight from the lines. [`RecordReader`] makes every decision
//! (blank lines, cut lines, quarantine, unreadable content) for both, so a Parquet file reads
//! back as the very records of the NDJSON output. Memory is the line reader's fixed buffer plus
//! whatever the caller lets the output grow to.

use std::io::{self, Read, Write};

use columnar::{NativeEncoder, ParquetWriter, is_native_record};
use s3_access_log::{KeyStyle, Outcome, RecordEncoder, record_id};
use xxhash_rust::xxh3::Xxh3;

use crate::Error;
use crate::decode::Decoded;
pub use crate::decode::{Unreadable, UnreadableContent};
use crate::lines::{DEFAULT_MAX_LINE, Line, LineReader};
use crate::packing::MAX_RECORD;

/// A decoded-size cap sized for real log objects (S3 writes them far smaller): 1 GiB. Past it,
/// an object (a gzip bomb, a stray archive) ends in a `size-cap` quarantine record.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;

/// Bounds on what one object may produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line kept whole; longer lines are quarantined with a prefix.
    pub max_line: usize,
    /// Largest JSON record, `\n` included; a record that would be larger is quarantined with a
    /// shorter `RawLine`. Give the packer the same number ([`MAX_RECORD`] by default).
    pub max_record: usize,
    /// Most decoded bytes read from one object.
    pub max_decoded: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_record: MAX_RECORD,
            max_decoded: u64::MAX,
        }
    }
}

/// Objects that ended in unreadable content, per reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnreadableCounts([u64; 5]);

impl UnreadableCounts {
    /// Objects that ended for `reason` (the format of an unsupported compression or file, the
    /// detail of an unreadable Parquet object, not told apart).
    pub fn get(&self, reason: Unreadable) -> u64 {
        self.0[slot(reason)]
    }

    /// `(reason name, objects)` for every reason seen, for metrics and summaries.
    pub fn seen(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            Unreadable::TruncatedGzip,
            Unreadable::UnsupportedCompression(""),
            Unreadable::UnsupportedFormat(""),
            Unreadable::SizeCap,
            Unreadable::UnreadableParquet(""),
        ]
        .into_iter()
        .map(|reason| (reason.name(), self.get(reason)))
        .filter(|&(_, count)| count > 0)
    }

    fn add(&mut self, reason: Unreadable) {
        self.0[slot(reason)] += 1;
    }
}

fn slot(reason: Unreadable) -> usize {
    match reason {
        Unreadable::TruncatedGzip => 0,
        Unreadable::UnsupportedCompression(_) => 1,
        Unreadable::SizeCap => 2,
        Unreadable::UnreadableParquet(_) => 3,
        Unreadable::UnsupportedFormat(_) => 4,
    }
}

/// Counts for one object (or, summed with `+=`, for many), for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Non-blank lines read.
    pub lines: u64,
    /// Records written: one per non-blank line, plus one for unreadable content.
    pub records: u64,
    /// Records that carry `ParseError` (the unreadable-content record included).
    pub parse_errors: u64,
    /// Lines cut to fit the line or record limit (counted in `parse_errors` too).
    pub truncated: u64,
    /// Blank lines skipped (they carry no request; see [`s3_access_log::is_blank`]).
    pub blank_lines: u64,
    /// Decoded bytes read.
    pub bytes_in: u64,
    /// JSON bytes written (none for a writer of rows, see [`RecordWriter::json_len`]).
    pub bytes_out: u64,
    /// Where and why the object stopped being readable, if it did. In a sum, the first seen.
    pub unreadable: Option<UnreadableContent>,
    /// Objects that ended in unreadable content, per reason (0 or 1 for one object).
    pub unreadable_objects: UnreadableCounts,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.lines += other.lines;
        self.records += other.records;
        self.parse_errors += other.parse_errors;
        self.truncated += other.truncated;
        self.blank_lines += other.blank_lines;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.unreadable = self.unreadable.or(other.unreadable);
        for (total, count) in self
            .unreadable_objects
            .0
            .iter_mut()
            .zip(other.unreadable_objects.0)
        {
            *total += count;
        }
    }
}

/// Reads a log object and writes its records.
pub struct RecordReader<R: Read> {
    lines: LineReader<Decoded<R>>,
    encoder: RecordEncoder,
    native: NativeEncoder,
    /// Whether the object holds native JSON records, decided by its first non-blank line.
    is_native: Option<bool>,
    /// The JSON record of a line that is measured before it is written (see
    /// [`may_outgrow_record`]) or of a native record.
    scratch: Vec<u8>,
    log_file: String,
    limits: Limits,
    stats: Stats,
    ended: bool,
}

impl<R: Read> RecordReader<R> {
    /// Reads `input` (plain or gzip) as the log object named `log_file`. Fails only if `input`
    /// fails while its first bytes are sniffed.
    pub fn new(input: R, log_file: &str, limits: Limits) -> Result<Self, Error> {
        let decoded = Decoded::new(input, limits.max_decoded).map_err(Error::Io)?;
        Ok(RecordReader {
            lines: LineReader::new(decoded, limits.max_line),
            encoder: RecordEncoder::new(log_file),
            native: NativeEncoder::new(log_file),
            is_native: None,
            scratch: Vec::new(),
            log_file: log_file.to_owned(),
            limits,
            stats: Stats::default(),
            ended: false,
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

    /// Appends the next record to `out`; `false` at the end of the input. Content that cannot
    /// be read as lines ends the input with one quarantine record; only a failure of the
    /// underlying reader is an error.
    pub fn next_record(&mut self, out: &mut Vec<u8>) -> Result<bool, Error> {
        self.write_next(out)
    }

    /// Writes the next record into `out`, NDJSON or rows alike; `false` at the end of the
    /// input. As [`Self::next_record`], and a failure of `out` is an error too.
    pub fn write_next<W: RecordWriter + ?Sized>(&mut self, out: &mut W) -> Result<bool, Error> {
        if self.ended {
            return Ok(false);
        }
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.ended = true;
                    return Ok(false);
                }
                Err(error) => {
                    let reason = self.lines.get_ref().classify(error).map_err(Error::Io)?;
                    self.quarantine_rest(reason, out)?;
                    return Ok(true);
                }
            };
            let object = LogObject {
                log_file: &self.log_file,
                encoder: &self.encoder,
            };
            let max_record = self.limits.max_record;
            let before = out.json_len();
            let quarantined = match line {
                Line::Blank => {
                    self.stats.blank_lines += 1;
                    continue;
                }
                Line::Whole(bytes) => {
                    let native = match self.is_native {
                        Some(native) => native,
                        None => match first_line_kind(bytes) {
                            Ok(native) => *self.is_native.insert(native),
                            Err(format) => {
                                let whole = UnreadableContent {
                                    reason: Unreadable::UnsupportedFormat(format),
                                    offset: 0,
                                };
                                self.quarantine(whole, false, out)?;
                                return Ok(true);
                            }
                        },
                    };
                    if !native && !may_outgrow_record(bytes.len(), self.log_file.len(), max_record) {
                        match out.write_line(object, bytes).map_err(Error::Io)? {
                            Outcome::Skipped => continue,
                            Outcome::Parsed => false,
                            Outcome::Quarantined(_) => true,
                        }
                    } else {
                        // Measured as JSON first: its size decides whether the line is cut,
                        // whatever the format it is written in.
                        self.scratch.clear();
                        let quarantined = match native {
                            true => self.native.encode(bytes, &mut self.scratch),
                            false => match self.encoder.encode(bytes, &mut self.scratch) {
                                Outcome::Skipped => continue,
                                Outcome::Parsed => false,
                                Outcome::Quarantined(_) => true,
                            },
                        };
                        if self.scratch.len() > max_record {
                            let id = record_id(bytes);
                            write_cut(out, object, max_record, bytes, id, bytes.len() as u64)?;
                            self.stats.truncated += 1;
                            true
                        } else {
                            out.write_record(&self.scratch).map_err(Error::Io)?;
                            quarantined
                        }
                    }
                }
                Line::Truncated { prefix, len, id } => {
                    write_cut(out, object, max_record, prefix, id, len)?;
                    self.stats.truncated += 1;
                    true
                }
            };
            self.stats.parse_errors += u64::from(quarantined);
            self.stats.lines += 1;
            self.stats.records += 1;
            self.stats.bytes_out += (out.json_len() - before) as u64;
            return Ok(true);
        }
    }

    /// Writes the one record standing for everything from the first unreadable byte on: the
    /// unfinished line read so far (if any) goes into `RawLine`, and `RecordId` hashes object,
    /// reason and offset, so a re-run writes the same record and de-duplicates.
    fn quarantine_rest<W: RecordWriter + ?Sized>(
        &mut self,
        reason: Unreadable,
        out: &mut W,
    ) -> Result<(), Error> {
        let content = UnreadableContent {
            reason,
            offset: self.lines.next_line_at(),
        };
        self.quarantine(content, true, out)
    }

    /// Writes the one record standing for `content`, with the unfinished line in `RawLine` if
    /// `with_unfinished`, and ends the object.
    fn quarantine<W: RecordWriter + ?Sized>(
        &mut self,
        content: UnreadableContent,
        with_unfinished: bool,
        out: &mut W,
    ) -> Result<(), Error> {
        let reason = content.reason;
        let unfinished = if with_unfinished {
            self.lines.unfinished_line()
        } else {
            &[]
        };
        let kept = floor_char_boundary(
            unfinished,
            raw_line_room(self.limits.max_record).min(unfinished.len()),
        );
        let mut message = format!("{content}; every line before it was read");
        if kept > 0 {
            message.push_str(&format!(
                ", RawLine holds the first {kept} bytes of the line it cut"
            ));
        }
        let mut id = Xxh3::new();
        for part in [
            self.log_file.as_bytes(),
            reason.name().as_bytes(),
            &content.offset.to_le_bytes(),
        ] {
            id.update(&(part.len() as u64).to_le_bytes());
            id.update(part);
        }
        let object = LogObject {
            log_file: &self.log_file,
            encoder: &self.encoder,
        };
        let before = out.json_len();
        out.write_truncated(object, &unfinished[..kept], id.digest(), &message)
            .map_err(Error::Io)?;
        self.ended = true;
        self.stats.records += 1;
        self.stats.parse_errors += 1;
        self.stats.bytes_out += (out.json_len() - before) as u64;
        self.stats.unreadable = Some(content);
        self.stats.unreadable_objects.add(reason);
        Ok(())
    }

    /// Writes the records in `style` from now on (full by default): the preprocessor sends
    /// compact records to a stream that converts them to Parquet.
    pub fn with_key_style(mut self, style: KeyStyle) -> Self {
        self.encoder = RecordEncoder::with_style(&self.log_file, style);
        self.native = NativeEncoder::with_style(&self.log_file, style);
        self
    }

    /// Counts so far; complete once [`RecordReader::next_record`] has returned `false`.
    pub fn stats(&self) -> Stats {
        Stats {
            bytes_in: self.lines.get_ref().produced(),
            ..self.stats
        }
    }
}

/// What an object's first line says it holds: AWS's native records (`Ok(true)`), log lines
/// (`Ok(false)`), or, as `Err`, the format of JSON that is neither: our own NDJSON records
/// (`s3logs parse` output where raw logs are read) or other JSON (a CloudTrail file). No server
/// access log line starts with `{`, and quarantining every line of such a file would bury it in
/// parse errors. The line is parsed as JSON once.
fn first_line_kind(first_line: &[u8]) -> Result<bool, &'static str> {
    if is_native_record(first_line) {
        return Ok(true);
    }
    if !first_line.starts_with(b"{") {
        return Ok(false);
    }
    let ours = [b"{\"SchemaVersion\":".as_slice(), b"{\"v\":"];
    Err(match ours.iter().any(|start| first_line.starts_with(start)) {
        true => RECORDS_FORMAT,
        false => "JSON file",
    })
}

/// The format name of a file of our NDJSON records, for the commands that read them instead.
pub const RECORDS_FORMAT: &str = "file of NDJSON records";

/// How many raw bytes a quarantined record's `RawLine` may hold so that even a line of control
/// characters (six JSON bytes each) leaves the record within `max_record`.
fn raw_line_room(max_record: usize) -> usize {
    const RECORD_OVERHEAD: usize = 4096;
    max_record.saturating_sub(RECORD_OVERHEAD) / 6
}

/// Whether the JSON record of a line of `line_len` bytes could be larger than `max_record`, so
/// that it must be measured before it is written. A record holds each byte of its line at most
/// twice (in a field and in `RawLine`), at most six JSON bytes each (a control character), plus
/// `LogFile` and keys and messages of fixed length; the bound is taken generously.
fn may_outgrow_record(line_len: usize, log_file_len: usize, max_record: usize) -> bool {
    const FIXED: usize = 8192;
    line_len
        .saturating_mul(16)
        .saturating_add(log_file_len.saturating_mul(8))
        .saturating_add(FIXED)
        > max_record
}

/// Quarantines a line too long to carry whole: its `RawLine` is cut so that even a line of
/// control characters (six JSON bytes each) fits in `max_record`.
fn write_cut<W: RecordWriter + ?Sized>(
    out: &mut W,
    object: LogObject<'_>,
    max_record: usize,
    bytes: &[u8],
    id: u64,
    len: u64,
) -> Result<(), Error> {
    let kept = floor_char_boundary(bytes, raw_line_room(max_record).min(bytes.len()));
    let reason = format!(
        "line of {len} bytes is over the limit; RawLine holds its first {kept} bytes and RecordId is of the whole line"
    );
    out.write_truncated(object, &bytes[..kept], id, &reason)
        .map_err(Error::Io)
}

/// The log object whose records a [`RecordWriter`] is given.
#[derive(Clone, Copy)]
pub struct LogObject<'a> {
    /// Its name, the `LogFile` of its records.
    pub log_file: &'a str,
    /// The encoder of its NDJSON records.
    pub encoder: &'a RecordEncoder,
}

/// Where [`RecordReader`] writes records: NDJSON bytes or rows. It only writes what the reader
/// hands it; every decision about a line (whether it makes a record, whether it is cut) is the
/// reader's, so every writer holds the same records.
pub trait RecordWriter {
    /// Writes the record of one whole, non-blank text log line (terminator excluded, `\r`
    /// allowed) as `RecordEncoder::encode` makes it, and returns the parser's outcome.
    fn write_line(&mut self, object: LogObject<'_>, line: &[u8]) -> io::Result<Outcome>;
    /// Writes a quarantined record as `RecordEncoder::encode_truncated` makes it: `RawLine`
    /// holds `prefix`, `id` is its `RecordId` and `reason` its `ParseError`.
    fn write_truncated(
        &mut self,
        object: LogObject<'_>,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> io::Result<()>;
    /// Writes one NDJSON record the reader has made, `\n` included (a native record, or the
    /// record of a line measured against the record limit).
    fn write_record(&mut self, record: &[u8]) -> io::Result<()>;
    /// NDJSON bytes this writer holds, to count the bytes each record adds; a writer of rows
    /// counts none.
    fn json_len(&self) -> usize;
}

/// NDJSON records, one per line, appended to the buffer: what the preprocessor sends to
/// Firehose.
impl RecordWriter for Vec<u8> {
    fn write_line(&mut self, object: LogObject<'_>, line: &[u8]) -> io::Result<Outcome> {
        Ok(object.encoder.encode(line, self))
    }

    fn write_truncated(
        &mut self,
        object: LogObject<'_>,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> io::Result<()> {
        object.encoder.encode_truncated(prefix, id, reason, self);
        Ok(())
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        self.extend_from_slice(record);
        Ok(())
    }

    fn json_len(&self) -> usize {
        self.len()
    }
}

/// Rows of a Parquet file of the `columnar` table, written straight from the lines (no JSON
/// in between, about twice as fast); they read back as the records `Vec<u8>` would hold.
impl<W: Write + Send> RecordWriter for ParquetWriter<W> {
    fn write_line(&mut self, object: LogObject<'_>, line: &[u8]) -> io::Result<Outcome> {
        ParquetWriter::write_line(self, object.log_file, line).map_err(io::Error::other)
    }

    fn write_truncated(
        &mut self,
        object: LogObject<'_>,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> io::Result<()> {
        ParquetWriter::write_truncated(self, object.log_file, prefix, id, reason).map_err(io::Error::other)
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        ParquetWriter::write_record(self, record).map_err(io::Error::other)
    }

    fn json_len(&self) -> usize {
        0
    }
}

/// Moves a cut point back off the middle of a UTF-8 sequence, so a cut line does not end in a
/// replacement character that was not in the input.
fn floor_char_boundary(bytes: &[u8], at: usize) -> usize {
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&i| i == 0 || i >= bytes.len() || bytes[i] & 0xC0 != 0x80)
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use serde_json::Value;

    use super::*;
    use crate::packing::{Packer, Packing};

    const LINE: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be photo-archive \
        [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT img.jpg \
        \"GET /img.jpg HTTP/1.1\" 200 - 113 113 7 7 \"-\" \"curl/8.5\" - hostid= SigV4 \
        ECDHE-RSA-AES128-GCM-SHA256 AuthHeader photo-archive.s3.amazonaws.com TLSv1.2 - - us-east-1";

    /// Reads `input` through a [`RecordReader`] and returns its records and stats.
    fn read(input: &[u8], limits: Limits) -> (Vec<Value>, Stats) {
        let mut reader = RecordReader::new(input, "s3://logs/object", limits).unwrap();
        let mut out = Vec::new();
        while reader.next_record(&mut out).unwrap() {}
        let records = out
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        (records, reader.stats())
    }

    fn lines(count: usize) -> String {
        format!("{LINE}\n").repeat(count)
    }

    /// Gzip of `text` cut right after everything written so far was flushed: a stream that
    /// decodes to exactly `text` and then ends part-way, as a truncated upload does.
    fn truncated_gzip(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.flush().unwrap();
        encoder.get_ref().clone()
    }

    fn parse_error(record: &Value) -> &str {
        record["ParseError"].as_str().unwrap_or("")
    }

    /// Finding 1 of issue 10: a truncated gzip object delivered none of its 823 readable lines.
    #[test]
    fn a_truncated_gzip_object_gives_every_readable_line_and_one_quarantine_record() {
        let text = format!("{}{}", lines(823), &LINE[..100]);
        let (records, stats) = read(&truncated_gzip(&text), Limits::default());
        assert_eq!(records.len(), 824);
        assert!(records[..823].iter().all(|r| r.get("ParseError").is_none()));
        let offset = 823 * (LINE.len() as u64 + 1);
        let last = &records[823];
        assert!(
            parse_error(last).starts_with(&format!(
                "truncated-gzip (corrupt or cut-short gzip data) at decoded byte {offset}"
            )),
            "{last}"
        );
        assert_eq!(last["RawLine"], &LINE[..100]);
        assert_eq!(last["LogFile"], "s3://logs/object");
        assert_eq!((stats.lines, stats.records, stats.parse_errors), (823, 824, 1));
        assert_eq!(
            stats.unreadable,
            Some(UnreadableContent {
                reason: Unreadable::TruncatedGzip,
                offset
            })
        );
        assert_eq!(stats.unreadable_objects.get(Unreadable::TruncatedGzip), 1);
        assert_eq!(
            stats.unreadable_objects.seen().collect::<Vec<_>>(),
            [("truncated-gzip", 1)]
        );
    }

    /// Wherever a gzip object is cut, the records hold every byte that could be decoded: the
    /// whole lines, then the unfinished line in the quarantine record's `RawLine`.
    #[test]
    fn nothing_decodable_is_lost_wherever_the_gzip_is_cut() {
        let text: String = (0..400).map(|i| format!("{LINE} {i}\n")).collect();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        let whole = encoder.finish().unwrap();
        for cut in (20..whole.len() - 8).step_by(997) {
            let (records, stats) = read(&whole[..cut], Limits::default());
            let content = stats.unreadable.expect("cut gzip is unreadable content");
            let (last, lines) = records.split_last().unwrap();
            let mut rebuilt: String = lines
                .iter()
                .map(|record| format!("{LINE} {}\n", record["ExtraFields"][0].as_str().unwrap()))
                .collect();
            assert_eq!(rebuilt.len() as u64, content.offset, "cut at {cut}");
            rebuilt.push_str(last["RawLine"].as_str().unwrap());
            assert!(text.starts_with(&rebuilt), "cut at {cut}");
            assert_eq!(rebuilt.len() as u64, stats.bytes_in, "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_over_long_line_keeps_its_beginning() {
        let long = "y".repeat(5000);
        let limits = Limits {
            max_line: 1000,
            ..Limits::default()
        };
        let (records, stats) = read(&truncated_gzip(&format!("{LINE}\n{long}")), limits);
        assert_eq!((records.len(), stats.lines), (2, 1));
        assert_eq!(records[1]["RawLine"].as_str().map(str::len), Some(1000));
        assert_eq!(stats.unreadable.map(|u| u.offset), Some(LINE.len() as u64 + 1));
    }

    #[test]
    fn a_byte_order_mark_changes_no_record() {
        let native = r#"{"schema_version_id":"V_1_0","bucket_name":"b","http_status":200}"#;
        for text in [lines(3), format!("{native}\n{native}\n")] {
            let marked = format!("\u{feff}{text}\u{feff}{text}");
            let (plain, _) = read(format!("{text}{text}").as_bytes(), Limits::default());
            let (records, stats) = read(marked.as_bytes(), Limits::default());
            assert_eq!(records, plain, "{text}");
            assert_eq!(stats.parse_errors, 0, "{text}");
        }
    }

    #[test]
    fn the_quarantine_record_is_the_same_on_every_run_and_differs_per_object() {
        let object = truncated_gzip(&lines(10));
        let id = |name: &str| {
            let mut reader = RecordReader::new(&object[..], name, Limits::default()).unwrap();
            let mut out = Vec::new();
            while reader.next_record(&mut out).unwrap() {}
            let last: Value =
                serde_json::from_slice(out.trim_ascii_end().rsplit(|&b| b == b'\n').next().unwrap()).unwrap();
            last["RecordId"].as_str().unwrap().to_owned()
        };
        assert_eq!(id("s3://logs/a"), id("s3://logs/a"));
        assert_ne!(id("s3://logs/a"), id("s3://logs/b"));
    }

    #[test]
    fn unsupported_compression_is_one_quarantine_record_not_garbage_lines() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x28\xb5\x2f\xfd\x24\x05\x29\x00\x00hello\nworld\n", "zstd"),
            (b"BZh91AY&SY\x00\nline\nline\n", "bzip2"),
            (b"\xfd7zXZ\x00\x00\x04\xe6\xd6\nline\n", "xz"),
            (b"PK\x03\x04\x14\x00\x00\x00\nline\n", "zip"),
        ];
        for &(bytes, format) in cases {
            let (records, stats) = read(bytes, Limits::default());
            assert_eq!(records.len(), 1, "{format}");
            assert!(
                parse_error(&records[0]).starts_with(&format!(
                    "unsupported-compression ({format} is not supported; decompress it first) at decoded byte 0"
                )),
                "{}",
                records[0]
            );
            assert_eq!(records[0]["RawLine"], "");
            assert_eq!((stats.lines, stats.records), (0, 1));
            assert_eq!(
                stats.unreadable.map(|u| u.reason.name()),
                Some("unsupported-compression")
            );
        }
    }

    /// A Parquet file of records dropped among raw logs gave one garbage record per line its
    /// pages happened to hold; it is one quarantine record, counted under its own reason.
    #[test]
    fn a_parquet_file_is_one_quarantine_record_not_garbage_lines() {
        let parquet = b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00\nrow\nrow\nPAR1";
        let (records, stats) = read(parquet, Limits::default());
        assert_eq!(records.len(), 1);
        assert!(
            parse_error(&records[0]).starts_with(
                "unsupported-format (a Parquet file, not a server access log) at decoded byte 0"
            ),
            "{}",
            records[0]
        );
        assert_eq!((stats.lines, stats.records, stats.parse_errors), (0, 1, 1));
        assert_eq!(
            stats.unreadable_objects.seen().collect::<Vec<_>>(),
            [("unsupported-format", 1)]
        );
    }

    /// Records where raw logs are read (`s3logs parse` output fed back in) became a parse error
    /// per record, and a CloudTrail file one cut record; each is one quarantine record naming
    /// what it is, while AWS's native records are still read and a log after a blank line too.
    #[test]
    fn json_that_is_no_native_record_is_one_quarantine_record() {
        let text = lines(3);
        let mut reader = RecordReader::new(text.as_bytes(), "s3://logs/a", Limits::default()).unwrap();
        let mut ours = Vec::new();
        while reader.next_record(&mut ours).unwrap() {}
        let ours = String::from_utf8(ours).unwrap();
        let compact = r#"{"v":1,"id":"0123456789abcdef","j":"s3://logs/a"}"#.to_owned() + "\n";
        let cloudtrail = r#"{"Records":[{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}]}"#;
        let cases = [
            (format!("\n{ours}"), "a file of NDJSON records"),
            (compact.repeat(5), "a file of NDJSON records"),
            (format!("{cloudtrail}\n"), "a JSON file"),
        ];
        for (text, what) in cases {
            let (records, stats) = read(text.as_bytes(), Limits::default());
            assert_eq!(records.len(), 1, "{text}");
            assert_eq!(
                parse_error(&records[0]),
                format!(
                    "unsupported-format ({what}, not a server access log) at decoded byte 0; every line before it was read"
                )
            );
            assert_eq!(records[0]["RawLine"], "", "no line of it is kept: {}", records[0]);
            assert_eq!((stats.lines, stats.records, stats.parse_errors), (0, 1, 1));
        }
        let native = r#"{"schema_version_id":"V_1_0","bucket_name":"b","http_status":200}"#;
        let (records, _) = read(format!("{native}\n").as_bytes(), Limits::default());
        assert_eq!((records.len(), records[0]["Bucket"].as_str()), (1, Some("b")));
        let (records, _) = read(format!("\n\n{LINE}\n").as_bytes(), Limits::default());
        assert!(records.len() == 1 && records[0].get("ParseError").is_none());
    }

    #[test]
    fn nothing_past_the_size_cap_is_read() {
        let text = lines(100);
        let cap = 10 * (LINE.len() as u64 + 1) + 50;
        let limits = Limits {
            max_decoded: cap,
            ..Limits::default()
        };
        let (records, stats) = read(text.as_bytes(), limits);
        assert_eq!((records.len(), stats.lines, stats.bytes_in), (11, 10, cap));
        assert_eq!(records[10]["RawLine"], &LINE[..50]);
        assert!(
            parse_error(&records[10]).starts_with("size-cap"),
            "{}",
            records[10]
        );

        // A gzip bomb: 64 MiB of zeros in about 64 KiB; reading stops at the cap.
        let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
        bomb.write_all(&vec![0u8; 64 << 20]).unwrap();
        let bomb = bomb.finish().unwrap();
        let limits = Limits {
            max_decoded: 1 << 20,
            ..Limits::default()
        };
        let (records, stats) = read(&bomb, limits);
        assert_eq!((records.len(), stats.bytes_in), (1, 1 << 20));
        assert_eq!(stats.unreadable.map(|u| u.reason), Some(Unreadable::SizeCap));
    }

    /// Fails after its data, like a connection reset mid-body.
    struct Breaks<'a>(&'a [u8]);

    impl io::Read for Breaks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::from(io::ErrorKind::ConnectionReset));
            }
            let n = self.0.len().min(buf.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn only_a_failing_reader_is_an_error() {
        let text = lines(50);
        let gzipped = truncated_gzip(&text);
        for input in [text.as_bytes(), &gzipped[..]] {
            let mut reader = RecordReader::new(Breaks(input), "x", Limits::default()).unwrap();
            let mut out = Vec::new();
            let error = loop {
                match reader.next_record(&mut out) {
                    Ok(true) => {}
                    Ok(false) => panic!("a reset is not the end of the object"),
                    Err(error) => break error,
                }
            };
            let Error::Io(error) = error;
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(reader.stats().unreadable, None);
        }
    }

    /// A raw line whose record is `MAX_RECORD - slack` bytes, `\n` included, for `slack` 0 or 1:
    /// a long key that is also in `RawLine` because the status after it does not parse.
    fn line_with_record_of_the_limit() -> String {
        let line = |key: usize| {
            format!(
                "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be photo-archive \
                 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT {} \"-\" bad",
                "k".repeat(key)
            )
        };
        let record_len = |key: usize| {
            let mut out = Vec::new();
            RecordEncoder::new("s3://logs/object").encode(line(key).as_bytes(), &mut out);
            out.len()
        };
        let key = 400_000 + (MAX_RECORD - record_len(400_000)) / 2;
        line(key)
    }

    /// Finding 1b of issue 10: ingest allowed records 1,024 bytes longer than the gzip packer
    /// took, so one such record failed its whole object. One limit now serves both.
    #[test]
    fn a_record_just_under_the_limit_is_packed_in_every_mode() {
        let text = format!("{LINE}\n{}\n{LINE}\n", line_with_record_of_the_limit());
        let limits = Limits::default();
        let mut reader = RecordReader::new(text.as_bytes(), "s3://logs/object", limits).unwrap();
        let mut records = Vec::new();
        loop {
            let mut record = Vec::new();
            if !reader.next_record(&mut record).unwrap() {
                break;
            }
            records.push(record);
        }
        assert_eq!(reader.stats().truncated, 0, "the record is kept whole");
        assert!(records[1].len() >= MAX_RECORD - 1 && records[1].len() <= limits.max_record);
        for mode in [Packing::Packed, Packing::Line, Packing::Gzip] {
            let mut packer = Packer::new(mode, limits.max_record).unwrap();
            for record in &records {
                packer.push(record).unwrap_or_else(|e| panic!("{mode}: {e}"));
            }
        }
    }

    /// A line the reader writes without measuring its record must never make a record over
    /// the limit: the bound holds for the lines that grow most as JSON.
    #[test]
    fn the_record_bound_holds_for_the_lines_that_grow_most() {
        let log_file = "s3://logs/\u{1}\"".repeat(20);
        let encoder = RecordEncoder::new(&log_file);
        for (name, unit) in [
            ("control characters", &b"\x01"[..]),
            ("control characters between spaces", b"\x01 "),
            ("quotes", b"\""),
            ("invalid UTF-8", b"\xff"),
            ("backslashes and spaces", b"\\ "),
            ("a clean line", LINE.as_bytes()),
        ] {
            let line = unit.repeat(4000 / unit.len());
            let mut record = Vec::new();
            encoder.encode(&line, &mut record);
            let bound = 16 * line.len() + 8 * log_file.len() + 8192;
            assert!(!may_outgrow_record(line.len(), log_file.len(), bound), "{name}");
            assert!(record.len() <= bound, "{name}: {} > {bound}", record.len());
            assert!(
                may_outgrow_record(line.len(), log_file.len(), bound - 1),
                "{name}"
            );
        }
    }

    /// Finding 13 of issue 10: a blank line over the line limit became a record.
    #[test]
    fn blank_lines_make_no_record_whatever_their_length() {
        let long_blank = " ".repeat(DEFAULT_MAX_LINE + 10);
        let text = format!("{LINE}\n\n  \t\r\n{long_blank}\n{LINE}\n{long_blank}");
        let (records, stats) = read(text.as_bytes(), Limits::default());
        assert_eq!((records.len(), stats.lines, stats.blank_lines), (2, 2, 4));
    }

    /// Finding 13 of issue 10: a line of exactly the limit was quarantined as too long when it
    /// ended in CRLF, but kept when it ended in LF.
    #[test]
    fn a_line_of_the_limit_is_kept_whole_with_lf_or_crlf() {
        let long = "x ".repeat(DEFAULT_MAX_LINE / 2);
        for ending in ["\n", "\r\n"] {
            let text = format!("{long}{ending}{LINE}{ending}");
            let (records, stats) = read(text.as_bytes(), Limits::default());
            assert_eq!((records.len(), stats.truncated), (2, 0), "{ending:?}");
            assert_eq!(
                records[0]["RawLine"].as_str().map(str::len),
                Some(DEFAULT_MAX_LINE)
            );
        }
    }

    #[test]
    fn compact_key_style_reaches_text_and_native_records() {
        let native = r#"{"schema_version_id":"V_1_0","bucket_name":"b","request_time":"2019-02-06T00:00:38Z","http_status":200}"#;
        for object in [LINE, native] {
            let mut reader = RecordReader::new(object.as_bytes(), "s3://logs/object", Limits::default())
                .unwrap()
                .with_key_style(KeyStyle::Compact);
            let mut out = Vec::new();
            while reader.next_record(&mut out).unwrap() {}
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with("{\"v\":1,\"i\":\""), "{text}");
            assert!(
                text.contains(",\"t\":1549411238,") && !text.contains("null"),
                "{text}"
            );
            assert!(text.ends_with("}\n") && !text.contains("\"j\":"), "{text}");
        }
    }
}
