//! Writes records as one line of JSON each, straight into an output buffer.
//!
//! No `serde_json::Value` and no per-field allocation: the pipeline writes hundreds of megabytes
//! of records per invocation, and this is its hot path. Keys and their order follow the record
//! contract (`docs/record.md`); invalid UTF-8 is replaced with U+FFFD so the output is always
//! valid JSON, and the line carries no other penalty for it.

use xxhash_rust::xxh3::xxh3_64;

use crate::Field;
use crate::error::ParseError;
use crate::parse::{LogRecord, TAIL, parse_partial};

/// Version of the record contract written into every record as `SchemaVersion`.
pub const SCHEMA_VERSION: u32 = 1;

/// The dedup key of a line: XXH3-64 of its bytes, line terminator and trailing `\r` excluded.
///
/// Same line, same id, on every machine and version, so replays and duplicate deliveries can be
/// removed downstream.
pub fn record_id(line: &[u8]) -> u64 {
    xxh3_64(strip_cr(line))
}

/// Whether a line is blank: nothing but ASCII whitespace (space, tab, `\r`, `\n`, form feed),
/// or empty. Blank lines carry no request, so they make no record, whatever their length.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// What happened to one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Blank line: no record, as the contract says.
    Skipped,
    /// A record with every field parsed.
    Parsed,
    /// A record carrying `ParseError` and `RawLine`.
    Quarantined(ParseError),
}

/// Writes the records of one log object.
///
/// Holds the `LogFile` value pre-rendered, since every record of an object repeats it.
#[derive(Clone, Debug)]
pub struct RecordEncoder {
    log_file_member: Vec<u8>,
}

impl RecordEncoder {
    /// An encoder for lines read from `log_file` (`s3://bucket/key`, or a local path).
    pub fn new(log_file: &str) -> Self {
        let mut log_file_member = b",\"LogFile\":".to_vec();
        write_json_string(&mut log_file_member, log_file.as_bytes());
        RecordEncoder { log_file_member }
    }

    /// Appends the record of `line` (without its terminator) and a `\n` to `out`.
    pub fn encode(&self, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        let line = strip_cr(line);
        if is_blank(line) {
            return Outcome::Skipped;
        }
        let (record, error) = parse_partial(line);
        self.write(out, xxh3_64(line), &record, error.map(|e| (e.to_string(), line)));
        error.map_or(Outcome::Parsed, Outcome::Quarantined)
    }

    /// Appends a quarantined record for a line that was too long to keep whole: `RawLine`
    /// holds its first bytes, `id` is the record id of the whole line and `reason` says what
    /// was cut, so the record still says everything the pipeline could carry.
    pub fn encode_truncated(&self, prefix: &[u8], id: u64, reason: &str, out: &mut Vec<u8>) {
        self.write(out, id, &LogRecord::default(), Some((reason.to_owned(), prefix)));
    }

    fn write(&self, out: &mut Vec<u8>, id: u64, r: &LogRecord<'_>, quarantine: Option<(String, &[u8])>) {
        out.extend_from_slice(b"{\"SchemaVersion\":");
        write_number(out, u64::from(SCHEMA_VERSION));
        out.extend_from_slice(b",\"RecordId\":\"");
        write_hex(out, id);
        out.push(b'"');
        write_text(out, Field::BucketOwner, r.bucket_owner);
        write_text(out, Field::Bucket, r.bucket);
        write_key(out, Field::Timestamp);
        match r.time {
            Some(time) => {
                out.push(b'"');
                time.write_utc(out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        write_text(out, Field::RemoteIp, r.remote_ip);
        write_text(out, Field::Requester, r.requester);
        write_text(out, Field::RequestId, r.request_id);
        write_text(out, Field::Operation, r.operation);
        write_text(out, Field::Key, r.key);
        write_text(out, Field::RequestUri, r.request_uri);
        write_integer(out, Field::HttpStatus, r.http_status.map(u64::from));
        write_text(out, Field::ErrorCode, r.error_code);
        write_integer(out, Field::BytesSent, r.bytes_sent);
        write_integer(out, Field::ObjectSize, r.object_size);
        write_integer(out, Field::TotalTime, r.total_time);
        write_integer(out, Field::TurnAroundTime, r.turn_around_time);
        write_text(out, Field::Referrer, r.referrer);
        write_text(out, Field::UserAgent, r.user_agent);
        for (field, value) in TAIL.into_iter().zip(r.tail) {
            write_text(out, field, value);
        }
        if r.extra_fields.is_some() {
            out.extend_from_slice(b",\"ExtraFields\":[");
            for (index, extra) in r.extra_fields().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_json_string(out, extra);
            }
            out.push(b']');
        }
        out.extend_from_slice(&self.log_file_member);
        if let Some((reason, raw_line)) = quarantine {
            out.extend_from_slice(b",\"ParseError\":");
            write_json_string(out, reason.as_bytes());
            out.extend_from_slice(b",\"RawLine\":");
            write_json_string(out, raw_line);
        }
        out.extend_from_slice(b"}\n");
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn write_key(out: &mut Vec<u8>, field: Field) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(field.json_key().as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_text(out: &mut Vec<u8>, field: Field, value: Option<&[u8]>) {
    write_key(out, field);
    match value {
        Some(value) => write_json_string(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_integer(out: &mut Vec<u8>, field: Field, value: Option<u64>) {
    write_key(out, field);
    match value {
        Some(value) => write_number(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_hex(out: &mut Vec<u8>, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(DIGITS[(value >> (shift * 4)) as usize & 0xf]);
    }
}

/// Escape class of each byte: 0 copies as is, `NON_ASCII` needs UTF-8 validation, anything
/// else is the letter of its short escape (`u` for `\u00XX`).
const NON_ASCII: u8 = 1;
const ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    let mut byte = 0x80;
    while byte < 0x100 {
        table[byte] = NON_ASCII;
        byte += 1;
    }
    table
};

/// Writes `bytes` as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD.
pub fn write_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let class = ESCAPES[usize::from(bytes[at])];
        if class == 0 {
            at += 1;
            continue;
        }
        out.extend_from_slice(&bytes[copied..at]);
        if class == NON_ASCII {
            at += copy_utf8_char(out, &bytes[at..]);
        } else {
            out.push(b'\\');
            out.push(class);
            if class == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let byte = bytes[at];
                out.extend_from_slice(&[
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
            }
            at += 1;
        }
        copied = at;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Copies the UTF-8 character at the start of `bytes`, or writes U+FFFD for the invalid
/// sequence there (one replacement per maximal invalid sequence, as `String::from_utf8_lossy`
/// does). Returns the number of input bytes consumed.
fn copy_utf8_char(out: &mut Vec<u8>, bytes: &[u8]) -> usize {
    let head = &bytes[..bytes.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default(),
    };
    match valid.chars().next() {
        Some(c) => {
            let len = c.len_utf8();
            out.extend_from_slice(&bytes[..len]);
            len
        }
        None => {
            out.extend_from_slice("\u{FFFD}".as_bytes());
            head.utf8_chunks()
                .next()
                .map_or(1, |chunk| chunk.invalid().len().max(1))
        }
    }
}
