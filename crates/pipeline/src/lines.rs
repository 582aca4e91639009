//! Splits a byte stream into lines with a fixed amount of memory.
//!
//! Lines are usually ~600 bytes, but presigned URLs and audit referrers make kilobyte lines, and
//! a non-log object dropped into the log bucket may have no newline at all. Lines up to the limit
//! are returned whole; a longer line is returned as its first `max_line` bytes plus its full
//! length and record id (hashed while streaming past it), so memory stays bounded and the line
//! is still accounted for.

use std::io::{self, Read};

use memchr::memchr;
use xxhash_rust::xxh3::Xxh3;

/// Default longest line kept whole: far above any real log line, small enough for a Lambda.
pub const DEFAULT_MAX_LINE: usize = 512 * 1024;

/// How much is read from the input at a time.
const BLOCK: usize = 256 * 1024;

/// One line of input, without its `\n` terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line no longer than the limit.
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
}

impl<R: Read> LineReader<R> {
    /// A reader that keeps lines of up to `max_line` bytes whole.
    pub fn new(inner: R, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        LineReader {
            inner,
            buf: vec![0; max_line + BLOCK],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            eof: false,
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The next line, or `None` at the end of the input. A last line without `\n` is a line.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            if let Some(offset) = memchr(b'\n', &self.buf[self.start + self.scanned..self.end]) {
                let newline = self.start + self.scanned + offset;
                let line_start = self.start;
                self.start = newline + 1;
                self.scanned = 0;
                return Ok(Some(bounded(&self.buf[line_start..newline], self.max_line)));
            }
            self.scanned = self.end - self.start;
            if self.end - self.start > self.max_line {
                return self.truncated_line().map(Some);
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line_start = self.start;
                self.start = self.end;
                self.scanned = 0;
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
            let read_end = keep + n;
            let newline = memchr(b'\n', &self.buf[keep..read_end]).map(|offset| keep + offset);
            hasher.update(&self.buf[keep..newline.unwrap_or(read_end)]);
            if n == 0 || newline.is_some() {
                self.eof = n == 0;
                self.start = newline.map_or(read_end, |at| at + 1);
                self.end = read_end;
                self.scanned = 0;
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
    if line.len() <= max_line {
        return Line::Whole(line);
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
/// does, without knowing in advance which piece is the last.
#[derive(Default)]
struct LineHasher {
    hasher: Xxh3,
    len: u64,
    pending_cr: bool,
}

impl LineHasher {
    fn update(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
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
                Line::Whole(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Line::Truncated { prefix, len, id } => {
                    format!("{}...{len}:{id:016x}", String::from_utf8_lossy(prefix))
                }
            });
        }
        lines
    }

    #[test]
    fn splits_lines_whatever_the_read_sizes() {
        let data = b"one\ntwo\r\n\nthree";
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                collect(data, 64, step),
                ["one", "two\r", "", "three"],
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
}
