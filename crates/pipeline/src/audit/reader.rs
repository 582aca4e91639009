//! Reads an object for the audit: its record lines, whichever format it is in.
//!
//! A records object (Firehose output, `s3logs parse` output) is split into lines as it is; a raw
//! log object is encoded into records first, through [`RecordReader`] exactly as the
//! preprocessor does, so a raw line and its record give the same hit. Either way the auditor
//! sees record lines, and content that cannot be read as lines ends the object with
//! [`ObjectLines::end`] saying why instead of an error.

use std::io::{self, Read};

use crate::Error;
use crate::decode::{Decoded, UnreadableContent};
use crate::ingest::{Limits, RecordReader};
use crate::lines::{Line, LineReader};
use crate::packing::MAX_RECORD;

/// What the input of an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NDJSON records (Firehose output, `s3logs parse` output).
    Records,
    /// Logs as S3 delivers them: raw S3 server access log lines, or AWS's native JSON records.
    RawLog,
}

/// One item of an object, for the auditor.
pub(super) enum Item<'a> {
    /// A blank line: nothing to audit.
    Blank,
    /// A line to audit as a record (without its `\n`), and its 1-based line number (for a raw
    /// object, the record's ordinal).
    Record(&'a [u8], u64),
    /// A line that cannot be a record, its number and why.
    Bad(u64, String),
}

/// The record lines of one object.
pub(super) enum ObjectLines<R: Read> {
    Records {
        lines: LineReader<Decoded<R>>,
        number: u64,
        /// Why reading stopped early, sorted out by [`ObjectLines::end`].
        failure: Option<io::Error>,
    },
    RawLog {
        reader: Box<RecordReader<R>>,
        record: Vec<u8>,
        number: u64,
    },
}

impl<R: Read> ObjectLines<R> {
    /// Opens `input` as `format`, with at most `max_decoded` decoded bytes. Raw records are
    /// attributed to `name`.
    pub(super) fn open(input: R, name: &str, format: Format, max_decoded: u64) -> Result<Self, Error> {
        Ok(match format {
            Format::Records => ObjectLines::Records {
                // The longest record the pipeline writes is read whole.
                lines: LineReader::new(Decoded::new(input, max_decoded).map_err(Error::Io)?, MAX_RECORD),
                number: 0,
                failure: None,
            },
            Format::RawLog => {
                let limits = Limits {
                    max_decoded,
                    ..Limits::default()
                };
                ObjectLines::RawLog {
                    reader: Box::new(RecordReader::new(input, name, limits)?),
                    record: Vec::with_capacity(4096),
                    number: 0,
                }
            }
        })
    }

    /// The next item, `None` at the end of the object or when reading stopped early; then
    /// [`ObjectLines::end`] says why. `Err` only if the input itself failed.
    pub(super) fn next_item(&mut self) -> Result<Option<Item<'_>>, Error> {
        match self {
            ObjectLines::Records {
                lines,
                number,
                failure,
            } => {
                if failure.is_some() {
                    return Ok(None);
                }
                let line = match lines.next_line() {
                    Ok(Some(line)) => line,
                    Ok(None) => return Ok(None),
                    Err(error) => {
                        *failure = Some(error);
                        return Ok(None);
                    }
                };
                *number += 1;
                Ok(Some(match line {
                    Line::Blank => Item::Blank,
                    Line::Whole(bytes) => Item::Record(bytes, *number),
                    Line::Truncated { len, .. } => Item::Bad(
                        *number,
                        format!("line of {len} bytes is longer than the largest record ({MAX_RECORD} bytes)"),
                    ),
                }))
            }
            ObjectLines::RawLog {
                reader,
                record,
                number,
            } => {
                record.clear();
                if !reader.next_record(record)? {
                    return Ok(None);
                }
                *number += 1;
                Ok(Some(Item::Record(
                    record.strip_suffix(b"\n").unwrap_or(record),
                    *number,
                )))
            }
        }
    }

    /// Once [`ObjectLines::next_item`] has returned `None`: where and why the object stopped
    /// being readable as lines, if it did, or `Err` if the input itself failed.
    pub(super) fn end(&mut self) -> Result<Option<UnreadableContent>, Error> {
        match self {
            ObjectLines::Records { lines, failure, .. } => match failure.take() {
                None => Ok(None),
                Some(error) => {
                    let reason = lines.get_ref().classify(error).map_err(Error::Io)?;
                    Ok(Some(UnreadableContent {
                        reason,
                        offset: lines.next_line_at(),
                    }))
                }
            },
            ObjectLines::RawLog { reader, .. } => Ok(reader.stats().unreadable),
        }
    }

    /// Decoded bytes read so far.
    pub(super) fn decoded_bytes(&self) -> u64 {
        match self {
            ObjectLines::Records { lines, .. } => lines.get_ref().produced(),
            ObjectLines::RawLog { reader, .. } => reader.stats().bytes_in,
        }
    }
}

/// Reads an object and says whether it holds records or raw log lines: records if its first
/// non-blank line starts with `{` and is not one of AWS's native records (which are read as
/// raw logs are, converted by `ingest`). Reads at most 64 KiB of decoded text; an object that
/// cannot be read as text counts as raw, so that its quarantine record is written like any raw
/// line's.
pub fn sniff_format<R: Read>(input: R) -> Result<Format, Error> {
    let mut decoded = Decoded::new(input, u64::MAX).map_err(Error::Io)?;
    let mut head = [0u8; 64 * 1024];
    let mut filled = 0;
    while filled < head.len() {
        match decoded.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                // The whole first line is needed to tell AWS's native records from ours.
                let text = head[..filled].trim_ascii_start();
                if !text.is_empty() && (text[0] != b'{' || text.contains(&b'\n')) {
                    break;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                decoded.classify(error).map_err(Error::Io)?;
                break;
            }
        }
    }
    let text = head[..filled].trim_ascii_start();
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    // AWS's native records are JSON too, but not ours: they are converted as a raw log is.
    Ok(match text.first() {
        Some(b'{') if !columnar::is_native_record(first_line) => Format::Records,
        _ => Format::RawLog,
    })
}
