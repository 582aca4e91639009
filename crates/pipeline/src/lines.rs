//! Splits a byte stream into lines with a fixed amount of memory.
//!
//! Lines are usually ~600 bytes, but presigned URLs and audit referrers make kilobyte lines, and
//! a non-log object dropped into the log bucket may have no newline at all. Lines up to the limit
//! are returned whole; a longer line is returned as its first `max_line` bytes plus its full
//! length and record id (hashed while streaming past it), so memory stays bounded and the line
//! is still accounted for.
//!
//! Blank lines (only ASCII whitespace, see [`s3_access_log::is_blank`]) are reported as
//! [`Line::Blank`] whatever their length, so every reader skips the same lines. A trailing `\r`
//! is not part of a line's length: a CRLF file keeps the same lines whole as its LF copy. Nor is
//! a byte-order mark at the start of a whole line part of it: a file saved by a Windows editor
//! starts with one (so do lines where such files were concatenated), and it would otherwise
//! become an invisible first character of the bucket owner, or hide a native JSON record.

use std::io::{self, Read};

use memchr::memchr;
use xxhash_rust::xxh3::Xxh3;

/// Default longest line kept whole: far above any real log line, small enough for a Lambda.
pub const DEFAULT_MAX_LINE: usize = 512 * 1024;

/// How much is read from the input at a time.
const BLOCK: usize = 256 * 1024;

/// U+FEFF in UTF-8, the byte-order mark.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// One line of input, without its `\n` terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line of nothing but ASCII whitespace (or nothing at all), of any length.
    Blank,
    /// A line no longer than the limit (a trailing `\r` not counted).
    Whole(&'a [u8]),
    /// A line longer than the limit.
    Truncated {
        /// Its first `max_line` bytes.
        prefix: &'a [u8],
        /// Its full length, without terminator and trailing `\r`.
        len: u64,
        /// Its record id, computed over the whole line as for any other line.
        id: u64,
    },
}

/// Reads lines from `R` through one fixed-size buffer.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes after `start` already searched for a newline.
    scanned: usize,
    max_line: usize,
    eof: bool,
    /// Bytes read from `inner` so far.
    read_total: u64,
    /// Offset in the input of the line after the last one returned.
    next_line_at: u64,
}

impl<R: Read> LineReader<R> {
    /// A reader that keeps lines of up to `max_line` bytes whole.
    pub fn new(inner: R, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        LineReader {
            inner,
            // One byte more than the longest line, for its `\r`.
            buf: vec![0; max_line + 1 + BLOCK],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            eof: false,
            read_total: 0,
            next_line_at: 0,
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Offset in the input where the next line starts: every line before it has been returned.
    pub fn next_line_at(&self) -> u64 {
        self.next_line_at
    }

    /// The start of the line being read when the input failed (at most `max_line` bytes; empty
    /// if the failure fell between lines). Meaningful only after [`LineReader::next_line`]
    /// returned an error.
    pub fn unfinished_line(&self) -> &[u8] {
        &self.buf[self.start..self.end.min(self.start + self.max_line)]
    }

    /// The next line, or `None` at the end of the input. A last line without `\n` is a line.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            if let Some(offset) = memchr(b'\n', &self.buf[self.start + self.scanned..self.end]) {
                let newline = self.start + self.scanned + offset;
                let line_start = self.start;
                self.start = newline + 1;
                self.scanned = 0;
                self.next_line_at = self.read_total - (self.end - self.start) as u64;
                return Ok(Some(bounded(&self.buf[line_start..newline], self.max_line)));
            }
            self.scanned = self.end - self.start;
            if self.end - self.start > self.max_line + 1 {
                return self.truncated_line().map(Some);
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line_start = self.start;
                self.start = self.end;
                self.scanned = 0;
                self.next_line_at = self.read_total;
                return Ok(Some(bounded(&self.buf[line_start..self.end], self.max_line)));
            }
            self.fill()?;
        }
    }

    /// Reads more input after compacting the buffer; sets `eof` when the input ends.
    fn fill(&mut self) -> io::Result<()> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    self.read_total += n as u64;
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Streams past the rest of an over-long line, hashing it, and returns its prefix.
    fn truncated_line(&mut self) -> io::Result<Line<'_>> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let keep = self.max_line;
        let mut hasher = LineHasher::default();
        hasher.update(&self.buf[..self.end]);
        // From here on, everything after the kept prefix is scratch space for reading.
        loop {
            let n = match self.inner.read(&mut self.buf[keep..]) {
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            self.read_total += n as u64;
            let read_end = keep + n;
            let newline = memchr(b'\n', &self.buf[keep..read_end]).map(|offset| keep + offset);
            hasher.update(&self.buf[keep..newline.unwrap_or(read_end)]);
            if n == 0 || newline.is_some() {
                self.eof = n == 0;
                self.start = newline.map_or(read_end, |at| at + 1);
                self.end = read_end;
                self.scanned = 0;
                self.next_line_at = self.read_total - (self.end - self.start) as u64;
                if hasher.blank {
                    return Ok(Line::Blank);
                }
                let (id, len) = hasher.finish();
                return Ok(Line::Truncated {
                    prefix: &self.buf[..keep],
                    len,
                    id,
                });
            }
        }
    }
}

/// A line found whole in the buffer, cut to `max_line` like a streamed one would be, so the
/// result does not depend on how the input happened to be read.
fn bounded(line: &[u8], max_line: usize) -> Line<'_> {
    // Whether the line is whole is decided with its mark, as a streamed line's is, so a line
    // near the limit is cut or not whatever the read sizes; only a whole line loses its mark.
    let whole = line.strip_suffix(b"\r").unwrap_or(line).len() <= max_line;
    let content = match whole {
        true => line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(line),
        false => line,
    };
    if s3_access_log::is_blank(content) {
        return Line::Blank;
    }
    if whole {
        return Line::Whole(content);
    }
    let mut hasher = LineHasher::default();
    hasher.update(line);
    let (id, len) = hasher.finish();
    Line::Truncated {
        prefix: &line[..max_line],
        len,
        id,
    }
}

/// XXH3 over a line streamed in pieces, leaving out a trailing `\r` as [`s3_access_log::record_id`]
/// does, without knowing in advance which piece is the last. Also tells whether the line is
/// blank, which a streamed line cannot be asked after the fact.
struct LineHasher {
    hasher: Xxh3,
    len: u64,
    pending_cr: bool,
    blank: bool,
}

impl Default for LineHasher {
    fn default() -> Self {
        LineHasher {
            hasher: Xxh3::default(),
            len: 0,
            pending_cr: false,
            blank: true,
        }
    }
}

impl LineHasher {
    fn update(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        self.blank = self.blank && s3_access_log::is_blank(piece);
        if self.pending_cr {
            self.hasher.update(b"\r");
            self.len += 1;
        }
        let (body, cr) = match piece.split_last() {
            Some((b'\r', body)) => (body, true),
            _ => (piece, false),
        };
        self.hasher.update(body);
        self.len += body.len() as u64;
        self.pending_cr = cr;
    }

    fn finish(&self) -> (u64, u64) {
        (self.hasher.digest(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delivers its data a few bytes per read, like a network stream.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn collect(data: &[u8], max_line: usize, step: usize) -> Vec<String> {
        let mut reader = LineReader::new(Trickle(data, step), max_line);
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            lines.push(match line {
                Line::Blank => "<blank>".to_owned(),
                Line::Whole(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Line::Truncated { prefix, len, id } => {
                    format!("{}...{len}:{id:016x}", String::from_utf8_lossy(prefix))
                }
            });
        }
        lines
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_a_whole_line() {
        let data = "\u{feff}one\r\ntwo\n\u{feff}three\n\u{feff}\nfour\u{feff}\n\u{feff}".as_bytes();
        for step in [1, 2, 5, 1000] {
            assert_eq!(
                collect(data, 64, step),
                ["one\r", "two", "three", "<blank>", "four\u{feff}", "<blank>"],
                "step {step}"
            );
        }
        // A line too long to keep whole keeps its mark in its prefix and its id, as it does
        // whatever the read sizes.
        let long = format!("\u{feff}{}", "x".repeat(20));
        let id = s3_access_log::record_id(long.as_bytes());
        for step in [1, 7, 1000] {
            assert_eq!(
                collect(long.as_bytes(), 10, step),
                [format!("\u{feff}xxxxxxx...23:{id:016x}")],
                "step {step}"
            );
        }
    }

    #[test]
    fn splits_lines_whatever_the_read_sizes() {
        let data = b"one\ntwo\r\n\nthree";
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                collect(data, 64, step),
                ["one", "two\r", "<blank>", "three"],
                "step {step}"
            );
        }
    }

    #[test]
    fn truncates_long_lines_and_hashes_them_whole() {
        let long = "x".repeat(1000);
        let data = format!("short\n{long}\r\nafter\n{long}");
        let id = s3_access_log::record_id(long.as_bytes());
        for step in [1, 5, 999, 100_000] {
            let lines = collect(data.as_bytes(), 10, step);
            let truncated = format!("xxxxxxxxxx...1000:{id:016x}");
            assert_eq!(
                lines,
                ["short", truncated.as_str(), "after", truncated.as_str()],
                "step {step}"
            );
        }
    }

    #[test]
    fn keeps_lines_up_to_the_limit_whole() {
        let line = "y".repeat(300_000);
        let data = format!("{line}\n{line}");
        assert_eq!(collect(data.as_bytes(), 300_000, 70_000), [line.clone(), line]);
    }

    /// Finding 13 of issue 10: a line of exactly the limit was cut when it ended in CRLF.
    #[test]
    fn a_trailing_cr_does_not_count_against_the_limit() {
        let line = "z".repeat(1000);
        for data in [
            format!("{line}\r\n{line}\n"),
            format!("{line}\n{line}\r"),
            format!("{line}\r\n"),
        ] {
            for step in [1, 999, 1000, 1001, 4096] {
                let lines = collect(data.as_bytes(), 1000, step);
                assert!(
                    lines.iter().all(|l| l.trim_end_matches('\r') == line),
                    "step {step}: {:?}",
                    lines.iter().map(String::len).collect::<Vec<_>>()
                );
            }
        }
        let longer = format!("{line}z\r\n");
        assert!(
            collect(longer.as_bytes(), 1000, 7)[0].contains("..."),
            "one byte more is cut"
        );
    }

    /// Finding 13 of issue 10: a blank line over the limit became a record, shorter ones not.
    #[test]
    fn blank_lines_are_blank_whatever_their_length() {
        for len in [0, 1, 10, 11, 5000] {
            let blank = " \t".repeat(len / 2);
            let data = format!("a\n{blank}\r\nb\n{blank}");
            for step in [1, 3, 4096] {
                let expected: &[&str] = if blank.is_empty() {
                    &["a", "<blank>", "b"]
                } else {
                    &["a", "<blank>", "b", "<blank>"]
                };
                assert_eq!(collect(data.as_bytes(), 10, step), expected, "{len} step {step}");
            }
        }
    }

    #[test]
    fn tells_where_the_next_line_starts_and_what_was_left_unfinished() {
        let data = b"first\nsecond line\nunfinished";
        let mut reader = LineReader::new(Trickle(data, 4), 64);
        assert_eq!(reader.next_line_at(), 0);
        reader.next_line().unwrap();
        assert_eq!(reader.next_line_at(), 6);
        reader.next_line().unwrap();
        assert_eq!(reader.next_line_at(), 18);
        reader.next_line().unwrap();
        assert_eq!(reader.next_line_at(), data.len() as u64);
    }
}
