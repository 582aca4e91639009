//! Writes records as one line of JSON each, straight into an output buffer.
//!
//! No `serde_json::Value` and no per-field allocation: the pipeline writes hundreds of megabytes
//! of records per invocation, and this is its hot path. Keys and their order follow the record
//! contract (`docs/record.md`); invalid UTF-8 is replaced with U+FFFD so the output is always
//! valid JSON, and the line carries no other penalty for it.
//!
//! One writer serves both key styles ([`KeyStyle`]): the full record, and the compact record
//! the preprocessor sends to Firehose for Parquet output, whose short keys, omitted nulls and
//! epoch-seconds time Firehose's deserializer turns into exactly the columns of the full one.

use xxhash_rust::xxh3::xxh3_64;

use crate::error::ParseError;
use crate::parse::{LastTime, LogRecord, TAIL, parse_counting};
use crate::{Field, LogTime};

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

/// How an encoder writes a record's keys; chosen once per encoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyStyle {
    /// The record of `docs/record.md`: every key, long names, `null` written out.
    #[default]
    Full,
    /// For Firehose's record format conversion only (`docs/record.md`, "Compact record"): the
    /// keys of [`crate::schema::COLUMNS`]' `compact_name`, null fields left out, the time as
    /// epoch seconds, and `LogFile` only on quarantined records. Firehose bills the JSON it
    /// receives, and this is about 36% less of it.
    Compact,
}

impl KeyStyle {
    /// The style named `full` or `compact`, as configuration spells it.
    pub fn from_name(name: &str) -> Option<KeyStyle> {
        match name {
            "full" => Some(KeyStyle::Full),
            "compact" => Some(KeyStyle::Compact),
            _ => None,
        }
    }

    /// Whether a null field is written (`"Key":null`) or left out.
    pub const fn writes_nulls(self) -> bool {
        matches!(self, KeyStyle::Full)
    }

    /// Whether a record names its log object (`LogFile`). The full record always does. The
    /// compact record does only when it carries `ParseError`, where the object is the way back
    /// to the damaged bytes: on a parsed line the name would be 87 of the 840 bytes a line that
    /// Firehose bills (`docs/record.md`, "Compact record"), the request's own fields locate it,
    /// and AWS's native records have no such column either.
    pub const fn writes_log_file(self, quarantined: bool) -> bool {
        matches!(self, KeyStyle::Full) || quarantined
    }

    /// Writes `time` as the value of `Timestamp` in this style: `"YYYY-MM-DD HH:MM:SS"` in UTC
    /// in the full record, epoch seconds (half the bytes) in the compact one.
    #[inline]
    pub fn write_time(self, out: &mut Vec<u8>, time: LogTime) {
        if self == KeyStyle::Compact {
            let seconds = time.unix_seconds();
            if COMPACT_EPOCH_SECONDS.contains(&seconds) {
                out.extend_from_slice(itoa::Buffer::new().format(seconds).as_bytes());
                return;
            }
        }
        out.push(b'"');
        time.write_utc(out);
        out.push(b'"');
    }

    /// The record's own keys (those that are no log field), each with what precedes its value.
    const fn own_members(self) -> &'static OwnMembers {
        match self {
            KeyStyle::Full => &OwnMembers {
                schema_version: "{\"SchemaVersion\":",
                record_id: ",\"RecordId\":\"",
                extra_fields: ",\"ExtraFields\":[",
                log_file: ",\"LogFile\":",
                parse_error: ",\"ParseError\":",
                raw_line: ",\"RawLine\":",
            },
            KeyStyle::Compact => &OwnMembers {
                schema_version: "{\"v\":",
                record_id: ",\"i\":\"",
                extra_fields: ",\"xf\":[",
                log_file: ",\"j\":",
                parse_error: ",\"pe\":",
                raw_line: ",\"rl\":",
            },
        }
    }
}

/// What the writer puts before the value of each key that is no log field.
struct OwnMembers {
    schema_version: &'static str,
    /// The opening quote of the id included.
    record_id: &'static str,
    /// The opening bracket of the array included.
    extra_fields: &'static str,
    log_file: &'static str,
    parse_error: &'static str,
    raw_line: &'static str,
}

/// The epoch seconds the compact record writes a time as: the ten-digit numbers the Firehose
/// documentation shows for the OpenX JSON SerDe (2001-09-09 to 2286-11-20). A time outside them,
/// which only a damaged line has, is written as the full record writes it, which the SerDe
/// also reads.
const COMPACT_EPOCH_SECONDS: std::ops::RangeInclusive<i64> = 1_000_000_000..=9_999_999_999;

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
    style: KeyStyle,
    log_file_member: Vec<u8>,
    /// The time of the line encoded last, which the next line often repeats.
    last_time: LastTime,
}

impl RecordEncoder {
    /// An encoder of full records for lines read from `log_file` (`s3://bucket/key`, or a
    /// local path).
    pub fn new(log_file: &str) -> Self {
        RecordEncoder::with_style(log_file, KeyStyle::Full)
    }

    /// An encoder writing its records in `style`.
    pub fn with_style(log_file: &str, style: KeyStyle) -> Self {
        let mut log_file_member = style.own_members().log_file.as_bytes().to_vec();
        write_json_string(&mut log_file_member, log_file.as_bytes());
        RecordEncoder {
            style,
            log_file_member,
            last_time: LastTime::default(),
        }
    }

    /// Appends the record of `line` (without its terminator) and a `\n` to `out`.
    pub fn encode(&self, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        let line = strip_cr(line);
        if is_blank(line) {
            return Outcome::Skipped;
        }
        let mut record = LogRecord::default();
        let outcome = parse_counting(line, &self.last_time, &mut record);
        let text = Text::of_line(line, outcome.ok());
        let error = outcome.err();
        self.write(
            out,
            xxh3_64(line),
            &record,
            text,
            error.map(|e| (e.to_string(), line)),
        );
        error.map_or(Outcome::Parsed, Outcome::Quarantined)
    }

    /// Appends a quarantined record for a line that was too long to keep whole: `RawLine`
    /// holds its first bytes, `id` is the record id of the whole line and `reason` says what
    /// was cut, so the record still says everything the pipeline could carry.
    pub fn encode_truncated(&self, prefix: &[u8], id: u64, reason: &str, out: &mut Vec<u8>) {
        self.write(
            out,
            id,
            &LogRecord::default(),
            Text::Unchecked,
            Some((reason.to_owned(), prefix)),
        );
    }

    /// Writes the record; `text` tells how far the fields and the raw line are known to be
    /// valid UTF-8.
    // Not inlined: both copies of the writer inlined into `encode` made the parser's code
    // around them slower.
    #[inline(never)]
    fn write(
        &self,
        out: &mut Vec<u8>,
        id: u64,
        r: &LogRecord<'_>,
        text: Text,
        quarantine: Option<(String, &[u8])>,
    ) {
        // Each arm inlines its own copy of the writer with the style a constant, so the full
        // record (the hot path of JSON output) pays nothing for the compact record's branches;
        // and plain text (nearly every line) gets its own, whose values are copied without a
        // look at how each must be written.
        match (self.style, text) {
            (KeyStyle::Full, Text::Plain) => {
                self.write_in(KeyStyle::Full, out, id, r, Text::Plain, quarantine)
            }
            (KeyStyle::Full, text) => self.write_in(KeyStyle::Full, out, id, r, text, quarantine),
            (KeyStyle::Compact, Text::Plain) => {
                self.write_in(KeyStyle::Compact, out, id, r, Text::Plain, quarantine)
            }
            (KeyStyle::Compact, text) => self.write_in(KeyStyle::Compact, out, id, r, text, quarantine),
        }
    }

    /// [`RecordEncoder::write`] in `style`.
    #[inline(always)]
    fn write_in(
        &self,
        style: KeyStyle,
        out: &mut Vec<u8>,
        id: u64,
        r: &LogRecord<'_>,
        text: Text,
        quarantine: Option<(String, &[u8])>,
    ) {
        let own = style.own_members();
        out.extend_from_slice(own.schema_version.as_bytes());
        write_number(out, u64::from(SCHEMA_VERSION));
        out.extend_from_slice(own.record_id.as_bytes());
        out.extend_from_slice(&record_id_text(id));
        out.push(b'"');
        write_text(out, style, Field::BucketOwner, r.bucket_owner, text);
        write_text(out, style, Field::Bucket, r.bucket, text);
        write_time(out, style, r.time);
        write_text(out, style, Field::RemoteIp, r.remote_ip, text);
        write_text(out, style, Field::Requester, r.requester, text);
        write_text(out, style, Field::RequestId, r.request_id, text);
        write_text(out, style, Field::Operation, r.operation, text);
        write_text(out, style, Field::Key, r.key, text);
        write_text(out, style, Field::RequestUri, r.request_uri, text);
        write_integer(out, style, Field::HttpStatus, r.http_status.map(u64::from));
        write_text(out, style, Field::ErrorCode, r.error_code, text);
        write_integer(out, style, Field::BytesSent, r.bytes_sent);
        write_integer(out, style, Field::ObjectSize, r.object_size);
        write_integer(out, style, Field::TotalTime, r.total_time);
        write_integer(out, style, Field::TurnAroundTime, r.turn_around_time);
        write_text(out, style, Field::Referrer, r.referrer, text);
        write_text(out, style, Field::UserAgent, r.user_agent, text);
        for (field, value) in TAIL.into_iter().zip(r.tail) {
            write_text(out, style, field, value, text);
        }
        if r.extra_fields.is_some() {
            out.extend_from_slice(own.extra_fields.as_bytes());
            for (index, extra) in r.extra_fields().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(out, extra, text);
            }
            out.push(b']');
        }
        if style.writes_log_file(quarantine.is_some()) {
            out.extend_from_slice(&self.log_file_member);
        }
        if let Some((reason, raw_line)) = quarantine {
            out.extend_from_slice(own.parse_error.as_bytes());
            write_string(out, reason.as_bytes(), Text::Utf8);
            out.extend_from_slice(own.raw_line.as_bytes());
            write_string(out, raw_line, text);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// What is known about the bytes of a line's fields before they are written.
#[derive(Clone, Copy)]
enum Text {
    /// Nothing to escape: ASCII without control characters, backslashes or quotes. Values are
    /// copied as they are.
    Plain,
    /// Known to be valid UTF-8 (an ASCII line, or a Rust string): only escapes are looked for.
    Utf8,
    /// Anything: each value is validated as it is written.
    Unchecked,
}

impl Text {
    /// What one look at the whole line tells about every value taken from it. Every field is a
    /// slice of the line, so this spares validating and scanning each field on its own; real
    /// lines are nearly always ASCII, and their only quotes are those around quoted fields.
    ///
    /// `delimiters` is how many of the line's quotes the parser took off quoted fields, for a
    /// line that parsed (a quarantined line is written whole, quotes and all). When the line
    /// holds no other quote, no value holds one.
    fn of_line(line: &[u8], delimiters: Option<usize>) -> Text {
        let (special, quotes) = scan_line(line);
        if special {
            return if line.is_ascii() {
                Text::Utf8
            } else {
                Text::Unchecked
            };
        }
        if delimiters == Some(quotes) {
            Text::Plain
        } else {
            Text::Utf8
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

// Inlined so each key is a constant: its copy becomes a few moves, not a call.
#[inline(always)]
fn write_text(out: &mut Vec<u8>, style: KeyStyle, field: Field, value: Option<&[u8]>, text: Text) {
    match value {
        Some(value) => {
            write_member_and(out, style, field, After::Quote);
            write_string_body(out, value, text);
            out.push(b'"');
        }
        None => write_null(out, style, field),
    }
}

/// A null field: `"Key":null` in the full record, nothing in the compact one.
#[inline(always)]
fn write_null(out: &mut Vec<u8>, style: KeyStyle, field: Field) {
    if style.writes_nulls() {
        write_member_and(out, style, field, After::Null);
    }
}

/// The request time, member and value ([`KeyStyle::write_time`]).
#[inline(always)]
fn write_time(out: &mut Vec<u8>, style: KeyStyle, time: Option<LogTime>) {
    match time {
        Some(time) => {
            write_member(out, style, Field::Timestamp);
            style.write_time(out, time);
        }
        None => write_null(out, style, Field::Timestamp),
    }
}

// Inlined: it is called for every text field of every record and is mostly one branch.
#[inline(always)]
fn write_string(out: &mut Vec<u8>, value: &[u8], text: Text) {
    out.push(b'"');
    write_string_body(out, value, text);
    out.push(b'"');
}

/// [`write_string`] without the quotes.
#[inline(always)]
fn write_string_body(out: &mut Vec<u8>, value: &[u8], text: Text) {
    match text {
        Text::Plain => out.extend_from_slice(value),
        Text::Utf8 => write_escaped(out, value),
        Text::Unchecked => write_json_body(out, value),
    }
}

// Inlined so each key is a constant: its copy becomes a few moves, not a call.
#[inline(always)]
fn write_integer(out: &mut Vec<u8>, style: KeyStyle, field: Field, value: Option<u64>) {
    match value {
        Some(value) => {
            write_member(out, style, field);
            write_number(out, value);
        }
        None => write_null(out, style, field),
    }
}

/// Writes `,"Key":` for `field`.
#[inline(always)]
fn write_member(out: &mut Vec<u8>, style: KeyStyle, field: Field) {
    write_member_and(out, style, field, After::Nothing);
}

/// Writes `,"Key":` for `field` and `after` it as one copy of a whole [`MEMBER_BLOCK`], cut back
/// to their length: a copy of known size is a few moves, where one of the member's own length
/// is a call to `memcpy` whenever the field is not a constant (the loop over the tail fields).
/// Taking the value's opening quote, or a whole `null`, into the same copy spares the record
/// an append of its own for each of its fields.
#[inline(always)]
fn write_member_and(out: &mut Vec<u8>, style: KeyStyle, field: Field, after: After) {
    let (block, len) = &MEMBERS[style as usize][after as usize][field as usize];
    let end = out.len() + len;
    out.extend_from_slice(block);
    out.truncate(end);
}

/// What a member's block holds after `,"Key":`.
#[derive(Clone, Copy)]
enum After {
    /// Nothing: a number or a time follows.
    Nothing,
    /// The opening quote of a string.
    Quote,
    /// The whole value `null`.
    Null,
}

/// The bytes of each [`After`], in declaration order.
const AFTER: [&str; 3] = ["", "\"", "null"];

/// The size of the blocks [`MEMBERS`] keeps the members in: more than the longest.
const MEMBER_BLOCK: usize = 32;

/// Members of one key style followed by one [`After`], in [`Field::ALL`] order.
type Members = [([u8; MEMBER_BLOCK], usize); Field::ALL.len()];

/// Each field's `,"Key":` and [`After`] at the start of a block of [`MEMBER_BLOCK`] bytes, with
/// their length, per [`KeyStyle`] and [`After`] (in declaration order) and in [`Field::ALL`]
/// order.
static MEMBERS: [[Members; 3]; 2] = [
    [
        members(KeyStyle::Full, AFTER[0]),
        members(KeyStyle::Full, AFTER[1]),
        members(KeyStyle::Full, AFTER[2]),
    ],
    [
        members(KeyStyle::Compact, AFTER[0]),
        members(KeyStyle::Compact, AFTER[1]),
        members(KeyStyle::Compact, AFTER[2]),
    ],
];

const fn members(style: KeyStyle, after: &str) -> Members {
    let mut members = [([0; MEMBER_BLOCK], 0); Field::ALL.len()];
    let mut index = 0;
    while index < Field::ALL.len() {
        let member = Field::ALL[index].member(style).as_bytes();
        let after = after.as_bytes();
        let len = member.len() + after.len();
        // A member longer than the block fails the build here.
        let (block, _) = members[index].0.split_at_mut(len);
        let (key, value) = block.split_at_mut(member.len());
        key.copy_from_slice(member);
        value.copy_from_slice(after);
        members[index].1 = len;
        index += 1;
    }
    members
}

fn write_number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Lower-case hex digits, for `\u00XX` escapes.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A record id as records and Parquet rows carry it: 16 lower-case hex digits, all computed at
/// once in one 128-bit word (the id is written for every record, and a digit at a time was a
/// table look-up each).
pub fn record_id_text(value: u64) -> [u8; 16] {
    const ONES: u128 = u128::from_ne_bytes([1; 16]);
    // Each nibble moved into a byte of its own, the lowest nibble into the lowest byte: halves,
    // quarters, bytes and nibbles of the value spread apart in turn.
    let mut nibbles = u128::from(value);
    nibbles = (nibbles | (nibbles << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    nibbles = (nibbles | (nibbles << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    nibbles = (nibbles | (nibbles << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    nibbles = (nibbles | (nibbles << 4)) & (ONES * 0x0f);
    // Bit 4 of `nibble + 6` is set exactly for the nibbles 10 to 15, which are letters: `a` is
    // 0x27 past where `0` plus ten would be. No byte carries into the next.
    let letters = ((nibbles + ONES * 6) >> 4) & ONES;
    let digits = nibbles + ONES * u128::from(b'0') + letters * 0x27;
    // Most significant first.
    digits.to_be_bytes()
}

/// The escape of each ASCII byte JSON needs escaped: the letter of its short escape, or `u`
/// for `\u00XX`. 0 copies as is.
const ESCAPES: [u8; 128] = {
    let mut table = [0u8; 128];
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
    table
};

/// U+FFFD, written for each maximal invalid UTF-8 sequence.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Writes `bytes` as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD, one per
/// maximal invalid sequence, as `String::from_utf8_lossy` does.
pub fn write_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    write_json_body(out, bytes);
    out.push(b'"');
}

/// [`write_json_string`] without the quotes.
fn write_json_body(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut rest = bytes;
    loop {
        // Validating the whole rest at once is the standard library's word-at-a-time check,
        // far cheaper than looking at each non-ASCII character separately.
        match std::str::from_utf8(rest) {
            Ok(_) => {
                write_escaped(out, rest);
                break;
            }
            Err(error) => {
                let (valid, invalid) = rest.split_at(error.valid_up_to());
                write_escaped(out, valid);
                out.extend_from_slice(REPLACEMENT);
                // No error length: the input ends inside a sequence, which is one more invalid one.
                rest = &invalid[error.error_len().map_or(invalid.len(), usize::from)..];
            }
        }
    }
}

/// Writes valid UTF-8 `text` with JSON's escapes, copying the runs between them whole.
fn write_escaped(out: &mut Vec<u8>, text: &[u8]) {
    if !has_escape(text) {
        out.extend_from_slice(text);
        return;
    }
    let mut copied = 0;
    for (at, &byte) in text.iter().enumerate() {
        let escape = ESCAPES.get(usize::from(byte)).copied().unwrap_or(0);
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&text[copied..at]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX_DIGITS[usize::from(byte >> 4)],
                HEX_DIGITS[usize::from(byte & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        copied = at + 1;
    }
    out.extend_from_slice(&text[copied..]);
}

/// Whether valid UTF-8 `text` holds a byte JSON needs escaped: a control character, `"` or `\\`
/// (bytes of multi-byte characters are all 0x80 or above, so never one of them).
///
/// Most values have none, so this is the common path. Whole 16-byte blocks are checked with no
/// early exit inside, which the compiler turns into a few vector compares each, and the end of
/// the value as one more block overlapping the last (or two overlapping 8-byte words for shorter
/// values), never byte by byte.
fn has_escape(text: &[u8]) -> bool {
    if let Some(last) = text.last_chunk::<16>() {
        let (blocks, _) = text.as_chunks::<16>();
        return blocks.iter().any(block_has_escape) || block_has_escape(last);
    }
    if let (Some(first), Some(last)) = (text.first_chunk::<8>(), text.last_chunk::<8>()) {
        return word_has_escape(first) || word_has_escape(last);
    }
    text.iter().any(|&b| needs_escape(b))
}

#[inline]
fn block_has_escape(block: &[u8; 16]) -> bool {
    block.iter().fold(false, |any, &b| any | needs_escape(b))
}

/// [`block_has_escape`] for eight bytes in a register: each test is the classic "some byte is
/// less than n" bit trick, exact as a yes/no answer.
#[inline]
fn word_has_escape(word: &[u8; 8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let x = u64::from_le_bytes(*word);
    let control = x.wrapping_sub(ONES * 0x20);
    let quote = (x ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (x ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    // XOR with an ASCII byte keeps each byte's top bit, so one mask of `x` serves all three.
    (control | quote | backslash) & !x & HIGH != 0
}

/// Whether `line` holds a byte that is not plain ASCII text (a control character, a backslash
/// or a byte of a multi-byte character), and how many quotes it holds.
///
/// Like [`has_escape`], whole 32-byte blocks are looked at with no early exit, each byte lane
/// keeping its own flag and quote count, which the compiler turns into a few vector operations
/// per block. A lane's count is added up every 255 blocks, before it can overflow its byte. The
/// last bytes are looked at as the line's last whole block, so they take the same few
/// operations.
fn scan_line(line: &[u8]) -> (bool, usize) {
    let (blocks, rest) = line.as_chunks::<32>();
    let mut special = [false; 32];
    let mut quotes = 0;
    for group in blocks.chunks(255) {
        let mut counts = [0u8; 32];
        for block in group {
            scan_block(block, &mut special, &mut counts);
        }
        quotes += sum_bytes(&counts);
    }
    let mut counts = [0u8; 32];
    match line.last_chunk::<32>() {
        // The line's last whole block, whose first bytes were scanned already: they are looked
        // at again, which sets no flag twice, but their quotes are not counted again. A copy of
        // the last bytes into a block of its own would cost a call to `memcpy`.
        Some(last) if !rest.is_empty() => {
            // Ones on the lanes not scanned yet: the last `rest.len()` of the block.
            let unscanned = &UNSCANNED[rest.len()..][..32];
            let lanes = special.iter_mut().zip(&mut counts).zip(last).zip(unscanned);
            for (((flag, count), &byte), &unscanned) in lanes {
                *flag |= is_special(byte);
                *count += u8::from(byte == b'"') & unscanned;
            }
        }
        Some(_) => {}
        // Shorter than a block: copied into a block of spaces.
        None => {
            let mut last = [b' '; 32];
            last[..rest.len()].copy_from_slice(rest);
            scan_block(&last, &mut special, &mut counts);
        }
    }
    quotes += sum_bytes(&counts);
    (special.contains(&true), quotes)
}

/// 32 zeros then 32 ones: the 32 bytes from offset `n` are ones on the last `n` lanes, a mask
/// read at once where a comparison per lane was not.
const UNSCANNED: [u8; 64] = {
    let mut mask = [0; 64];
    let mut lane = 32;
    while lane < 64 {
        mask[lane] = 1;
        lane += 1;
    }
    mask
};

#[inline(always)]
fn scan_block(block: &[u8; 32], special: &mut [bool; 32], counts: &mut [u8; 32]) {
    for ((flag, count), &byte) in special.iter_mut().zip(counts).zip(block) {
        *flag |= is_special(byte);
        *count += u8::from(byte == b'"');
    }
}

/// The sum of 32 byte counters, added as 16-bit lanes of four words: no lane can overflow
/// (4 words of 2 bytes of at most 255 each, then 4 lanes), and no byte is added up alone.
fn sum_bytes(counts: &[u8; 32]) -> usize {
    const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    let (words, _) = counts.as_chunks::<8>();
    let lanes: u64 = words
        .iter()
        .map(|word| {
            let word = u64::from_le_bytes(*word);
            (word & LOW_BYTES) + ((word >> 8) & LOW_BYTES)
        })
        .sum();
    // Multiplying by four ones adds the four 16-bit lanes into the top one.
    usize::from((lanes.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u16)
}

#[inline]
fn is_special(byte: u8) -> bool {
    (byte < 0x20) | (byte == b'\\') | (byte >= 0x80)
}

#[inline]
fn needs_escape(byte: u8) -> bool {
    (byte < 0x20) | (byte == b'"') | (byte == b'\\')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plain way to the same string: lossy decoding, then serde_json's escaping. The writer
    /// must match it byte for byte.
    fn reference(bytes: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&String::from_utf8_lossy(bytes)).unwrap_or_default()
    }

    fn written(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_json_string(&mut out, bytes);
        out
    }

    #[test]
    fn escapes_and_replaces_like_the_plain_way() {
        let long_clean = "a".repeat(40);
        let cases: [(&[u8], &str); 15] = [
            (b"", r#""""#),
            (
                b"GET /photos/2019/img.jpg HTTP/1.1",
                r#""GET /photos/2019/img.jpg HTTP/1.1""#,
            ),
            (b"say \"hi\" \\o/", r#""say \"hi\" \\o/""#),
            (
                b"\x00\x08\t\n\x0b\x0c\r\x1f\x7f",
                "\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\"",
            ),
            (
                "caf\u{e9} \u{20ac} \u{1f600}".as_bytes(),
                "\"caf\u{e9} \u{20ac} \u{1f600}\"",
            ),
            (
                "line\u{2028}separator\u{2029}".as_bytes(),
                "\"line\u{2028}separator\u{2029}\"",
            ),
            (b"\xff", "\"\u{FFFD}\""),
            (b"a\xe2\x82", "\"a\u{FFFD}\""),
            (b"\xe2\x82a", "\"\u{FFFD}a\""),
            (b"\xc0\xaf", "\"\u{FFFD}\u{FFFD}\""),
            (b"\xed\xa0\x80", "\"\u{FFFD}\u{FFFD}\u{FFFD}\""),
            (b"\xf0\x9f\x98\x80\xf0\x9f\x98", "\"\u{1f600}\u{FFFD}\""),
            (long_clean.as_bytes(), &format!("\"{long_clean}\"")),
            (
                b"0123456789abcde\"0123456789abcdef\\",
                r#""0123456789abcde\"0123456789abcdef\\""#,
            ),
            (
                b"0123456789abcdef0123456789abcdef\xe9\n",
                "\"0123456789abcdef0123456789abcdef\u{FFFD}\\n\"",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                String::from_utf8_lossy(&written(input)),
                expected,
                "{}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(
                written(input),
                reference(input),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// The id is written as `{:016x}` writes it, for every digit in every place.
    #[test]
    fn writes_ids_as_sixteen_hex_digits() {
        let values = (0..16).flat_map(|place| (0..16u64).map(move |digit| digit << (4 * place)));
        let more = [
            u64::MAX,
            0x0123_4567_89ab_cdef,
            0xfedc_ba98_7654_3210,
            0xa0a0_9f9f_0a0a_f9f9,
        ];
        for value in values.chain(more) {
            let mut out = b"x".to_vec();
            out.extend_from_slice(&record_id_text(value));
            assert_eq!(out, format!("x{value:016x}").into_bytes(), "{value:#x}");
        }
    }

    /// Every member, and what its block holds after it, is written whole and alone, whatever was
    /// written before it.
    #[test]
    fn writes_each_member_and_nothing_more() {
        for style in [KeyStyle::Full, KeyStyle::Compact] {
            for (after, text) in [After::Nothing, After::Quote, After::Null].into_iter().zip(AFTER) {
                let mut out = b"{".to_vec();
                let mut expected = out.clone();
                for field in Field::ALL {
                    write_member_and(&mut out, style, field, after);
                    expected.extend_from_slice(field.member(style).as_bytes());
                    expected.extend_from_slice(text.as_bytes());
                    assert_eq!(out, expected, "{field} {style:?} {text}");
                }
            }
        }
    }

    /// Quotes are counted exactly whatever their number and place, also past the 255 blocks
    /// after which the byte counters are added up, and one special byte anywhere is seen.
    #[test]
    fn counts_quotes_and_finds_special_bytes_anywhere() {
        for len in [0, 1, 31, 32, 33, 95, 8159, 8160, 8161, 8192, 20_000] {
            assert_eq!(scan_line(&vec![b'"'; len]), (false, len), "{len} quotes");
            let mut every_third = b"a\"b".repeat(len / 3);
            assert_eq!(scan_line(&every_third), (false, len / 3), "{len} / 3");
            for special in [0x00, b'\t', 0x1f, b'\\', 0x80, 0xff] {
                for at in [0, len / 2, len.saturating_sub(1)]
                    .into_iter()
                    .filter(|&at| at < len)
                {
                    let mut line = vec![b'x'; len];
                    line[at] = special;
                    assert_eq!(scan_line(&line), (true, 0), "{special:#x} at {at} of {len}");
                }
            }
            every_third.push(0x7f);
            assert!(!scan_line(&every_third).0, "DEL is not escaped");
        }
    }

    /// A modern line whose only quotes are those around its quoted fields.
    const PLAIN_LINE: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.OBJECT photos/a.jpg "GET /amzn-s3-demo-bucket1/photos/a.jpg HTTP/1.1" 200 - 113 113 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;

    /// Whatever the line is told to be, each field of its record is the parsed value, decoded
    /// and escaped as serde_json does; and only lines with nothing to escape are copied as is.
    #[test]
    fn values_are_copied_as_is_only_when_nothing_needs_escaping() {
        let cases: [(&str, &str, bool); 9] = [
            ("", "", true),
            ("photos/a.jpg HTTP", "photos/a\"b.jpg HTTP", false),
            ("\"S3Console/0.4\"", "\"S3Console/\"0.4\"\"", false),
            ("\"-\" \"S3", "\"https://a/?q=\"x\"\" \"S3", false),
            (" photos/a.jpg ", " photos/a\"b.jpg ", false),
            ("ECDHE-RSA", "ECDHE\"RSA", false),
            (" photos/a.jpg ", " photos\\a.jpg ", false),
            ("S3Console/0.4", "S3Console/0.4 caf\u{e9}", false),
            ("S3Console/0.4", "S3Console/0.4\t", false),
        ];
        let encoder = RecordEncoder::new("s3://logs/x");
        for (from, to, plain) in cases {
            let line = PLAIN_LINE.replacen(from, to, 1);
            let mut record = LogRecord::default();
            let delimiters = parse_counting(line.as_bytes(), &LastTime::default(), &mut record).expect(&line);
            assert_eq!(
                matches!(Text::of_line(line.as_bytes(), Some(delimiters)), Text::Plain),
                plain,
                "{line}"
            );
            let mut out = Vec::new();
            encoder.encode(line.as_bytes(), &mut out);
            let json: serde_json::Value = serde_json::from_slice(&out).expect(&line);
            for field in Field::ALL {
                if let Some(value) = record.text(field) {
                    assert_eq!(json[field.json_key()], *String::from_utf8_lossy(value), "{line}");
                }
            }
        }
    }

    /// Every length around the block and word sizes, every position, every kind of byte to
    /// escape, and neighbours of each that must not be taken for one (`!`, `#`, `[`, `]`, DEL,
    /// bytes of multi-byte characters).
    #[test]
    fn finds_an_escape_wherever_it_is() {
        let specials = [0x00, 0x01, b'\t', 0x1f, b'"', b'\\'];
        let lookalikes = [
            b' ', b'!', b'#', b'[', b']', b'|', 0x7f, 0x80, 0xa8, 0xbf, 0xc3, 0xe2, 0xf4,
        ];
        for len in 0..48 {
            for filler in lookalikes {
                let clean = vec![filler; len];
                assert!(!has_escape(&clean), "{len} x {filler:#x}");
                for at in 0..len {
                    for special in specials {
                        let mut text = clean.clone();
                        text[at] = special;
                        assert!(has_escape(&text), "{special:#x} at {at} of {len}");
                    }
                }
            }
        }
    }

    /// Bytes that take the writer off its fast path, mixed with anything.
    fn nasty_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            any::<u8>(),
            proptest::sample::select(vec![
                b'"', b'\\', b'\n', 0, 0x1f, 0x7f, 0x80, 0xa8, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff
            ]),
            Just(b'a'),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_are_written_as_the_plain_way_writes_them(
            bytes in proptest::collection::vec(nasty_byte(), 0..200)
        ) {
            prop_assert_eq!(written(&bytes), reference(&bytes));
        }

        #[test]
        fn any_text_is_written_as_the_plain_way_writes_it(text in any::<String>()) {
            prop_assert_eq!(written(text.as_bytes()), reference(text.as_bytes()));
        }

        /// The fast path for lines known to be valid UTF-8 writes what validating each value
        /// would have written.
        #[test]
        fn known_utf8_is_written_as_unchecked_text_is(text in "[\\x00-\\x7f\u{80}-\u{10ffff}]{0,80}") {
            let mut fast = Vec::new();
            write_string(&mut fast, text.as_bytes(), Text::Utf8);
            let mut checked = Vec::new();
            write_string(&mut checked, text.as_bytes(), Text::Unchecked);
            prop_assert_eq!(fast, checked);
        }
    }
}
