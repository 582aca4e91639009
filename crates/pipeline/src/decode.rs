//! Opens an object's bytes as plain text whether or not they are gzipped, and says why when
//! they cannot be read as text at all.
//!
//! Detection is by magic bytes, never by key or `Content-Encoding`: S3 writes logs
//! uncompressed, users backfill gzipped copies, Firehose writes gzip without saying so in the
//! object metadata, and moto (the test double) does not compress at all. Firehose output can be
//! several gzip members back to back, so the multi-member decoder is used.
//!
//! Content that cannot be read as log lines is not an error of the object: [`Decoded`] reports
//! it as an [`Unreadable`] reason, and the readers above it ([`crate::ingest`],
//! [`crate::audit`]) keep every line read before it and record the rest as quarantined. Only a
//! failure of the underlying reader (the network, the disk) is an I/O error a retry may fix;
//! the source is watched so that a broken connection inside a gzip stream is never mistaken
//! for corrupt data.

use std::fmt;
use std::io::{self, BufReader, Chain, Cursor, Read};

use flate2::bufread::MultiGzDecoder;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const READ_BUFFER: usize = 256 * 1024;

/// Compressed and archive formats recognised by their magic bytes but not decoded. Their bytes
/// would otherwise be "parsed" into thousands of garbage lines.
const UNSUPPORTED: &[(&[u8], &str)] = &[
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
    (b"PK\x03\x04", "zip"),
];

/// File formats recognised by their first bytes that hold no server access log lines,
/// compressed or not: a Parquet file of records (Firehose's record format conversion, `s3logs
/// parse --format parquet`) dropped where raw logs belong, whose pages would otherwise be
/// "parsed" into garbage lines; and a CloudFront access log (W3C extended format, opening with
/// its `#Version:` directive), which lands among server access logs where one log bucket takes
/// both (DigitalOcean Spaces writes its CDN's logs under the same prefix), and whose every line
/// would otherwise be a parse error.
const NOT_LOGS: &[(&[u8], &str)] = &[
    (b"PAR1", PARQUET_FORMAT),
    (b"#Version: ", "CloudFront access log"),
];

/// The format name of a Parquet file, for the commands that read Parquet files of records.
pub const PARQUET_FORMAT: &str = "Parquet file";

/// bzip2 starts with the printable `BZh` and a level digit, so the block or end-of-stream
/// magic that follows is checked too: a text line could begin with `BZh9`, not with these.
const BZIP2_BLOCK_MAGIC: [&[u8]; 2] = [
    &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59],
    &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90],
];

/// Bytes sniffed before deciding how to decode: enough for every magic above.
const HEAD: usize = 10;

/// Why the rest of an object cannot be read as log lines. The names are stable: they appear in
/// `ParseError`, in the `QuarantinedContent` metric's `Reason` dimension and in alarms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unreadable {
    /// The gzip stream is corrupt or ends part-way; the lines before the damage were read.
    TruncatedGzip,
    /// A compression or archive format that is not decoded (zstd, bzip2, xz, zip).
    UnsupportedCompression(&'static str),
    /// Content of another kind (a Parquet file, a CloudFront log, JSON that is not AWS's native
    /// records); nothing of it was read.
    UnsupportedFormat(&'static str),
    /// The object decodes to more bytes than the cap; nothing past the cap was read.
    SizeCap,
    /// A Parquet object of records that cannot be read on (cut short, corrupt, or not of the
    /// records' columns); the rows before the damage were read.
    UnreadableParquet(&'static str),
}

impl Unreadable {
    /// Whether the content is of another kind altogether (records, a CloudFront log, JSON):
    /// reading it again never gives log lines, where a cut or corrupt download, a compression
    /// undone or a size under the cap would.
    pub fn is_another_format(&self) -> bool {
        matches!(self, Unreadable::UnsupportedFormat(_))
    }

    /// The stable kebab-case name: `truncated-gzip`, `unsupported-compression`,
    /// `unsupported-format`, `size-cap` or `unreadable-parquet`.
    pub fn name(&self) -> &'static str {
        match self {
            Unreadable::TruncatedGzip => "truncated-gzip",
            Unreadable::UnsupportedCompression(_) => "unsupported-compression",
            Unreadable::UnsupportedFormat(_) => "unsupported-format",
            Unreadable::SizeCap => "size-cap",
            Unreadable::UnreadableParquet(_) => "unreadable-parquet",
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::TruncatedGzip => f.write_str("truncated-gzip (corrupt or cut-short gzip data)"),
            Unreadable::UnsupportedCompression(format) => {
                write!(
                    f,
                    "unsupported-compression ({format} is not supported; decompress it first)"
                )
            }
            Unreadable::UnsupportedFormat(format) => {
                write!(f, "unsupported-format (a {format}, not a server access log)")
            }
            Unreadable::SizeCap => f.write_str("size-cap (decoded size over the object cap)"),
            Unreadable::UnreadableParquet(detail) => write!(f, "unreadable-parquet ({detail})"),
        }
    }
}

/// Where and why an object stopped being readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnreadableContent {
    /// Why.
    pub reason: Unreadable,
    /// Offset in the decoded bytes where readable lines end: every line before it was read, and
    /// whatever follows (a cut-off line, the data past the cap) is quarantined.
    pub offset: u64,
}

impl fmt::Display for UnreadableContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at decoded byte {}", self.reason, self.offset)
    }
}

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(GZIP_MAGIC)
}

/// The name of the file format without log lines that `head` starts with, if any.
fn not_logs(head: &[u8]) -> Option<&'static str> {
    NOT_LOGS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, name)| name)
}

/// Why content starting with `head` cannot be read as lines, if it is of a known compression
/// (other than gzip) or format that holds no log lines.
fn unreadable_head(head: &[u8]) -> Option<Unreadable> {
    if let Some(format) = unsupported_compression(head) {
        return Some(Unreadable::UnsupportedCompression(format));
    }
    not_logs(head).map(Unreadable::UnsupportedFormat)
}

/// Why what a gzip stream decodes to, starting with `head`, cannot be read as lines: compressed
/// once more (a `.gz` gzipped again by a tool that did not look), or of a format without lines.
/// Its bytes would otherwise be "parsed" into garbage lines, as those of a file that is not
/// gzip at all would.
fn unreadable_inside_gzip(head: &[u8]) -> Option<Unreadable> {
    if is_gzip(head) {
        return Some(Unreadable::UnsupportedCompression("gzip inside gzip"));
    }
    unreadable_head(head)
}

/// The name of the unsupported compression `head` starts with, if any.
fn unsupported_compression(head: &[u8]) -> Option<&'static str> {
    if let Some(&(_, name)) = UNSUPPORTED.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(name);
    }
    let bzip2 = head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && BZIP2_BLOCK_MAGIC.iter().any(|magic| head[4..].starts_with(magic));
    bzip2.then_some("bzip2")
}

/// A reader of the decoded bytes of an object, with a cap on how many it will produce.
pub struct Decoded<R: Read> {
    inner: Inner<Chain<Cursor<Vec<u8>>, Watched<R>>>,
    limit: u64,
    produced: u64,
    /// Set once reading stopped at the cap with more data behind it.
    capped: bool,
}

enum Inner<R: Read> {
    Plain(BufReader<R>),
    Gzip(Box<MultiGzDecoder<BufReader<R>>>),
    Unsupported(Unreadable),
}

/// The underlying reader, remembering whether it failed, so that an error coming out of the
/// gzip decoder can be told apart: the source's own failure, or bad data.
struct Watched<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|error| {
            self.failed |= error.kind() != io::ErrorKind::Interrupted;
        })
    }
}

impl<R: Read> Decoded<R> {
    /// Sniffs the first bytes of `reader` and decodes accordingly. At most `limit` decoded bytes
    /// are returned; reading past that fails, and [`Decoded::classify`] says
    /// [`Unreadable::SizeCap`]. Fails only if `reader` fails.
    pub fn new(mut reader: R, limit: u64) -> io::Result<Self> {
        let mut head = [0u8; HEAD];
        let filled = read_head(&mut reader, &mut head)?;
        let head = &head[..filled];
        let buffered = BufReader::with_capacity(
            READ_BUFFER,
            Cursor::new(head.to_vec()).chain(Watched {
                inner: reader,
                failed: false,
            }),
        );
        let inner = if is_gzip(head) {
            Inner::Gzip(Box::new(MultiGzDecoder::new(buffered)))
        } else if let Some(reason) = unreadable_head(head) {
            Inner::Unsupported(reason)
        } else {
            Inner::Plain(buffered)
        };
        Ok(Decoded {
            inner,
            limit,
            produced: 0,
            capped: false,
        })
    }

    /// Whether the object turned out to be gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.inner, Inner::Gzip(_))
    }

    /// Decoded bytes produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Sorts an error returned by [`Read::read`] on this reader: `Ok` with the reason when the
    /// content is unreadable, `Err` with the error when the underlying reader failed.
    pub fn classify(&self, error: io::Error) -> Result<Unreadable, io::Error> {
        match &self.inner {
            Inner::Unsupported(reason) => Ok(*reason),
            _ if self.capped => Ok(Unreadable::SizeCap),
            Inner::Gzip(decoder) if !decoder.get_ref().get_ref().get_ref().1.failed => {
                Ok(Unreadable::TruncatedGzip)
            }
            _ => Err(error),
        }
    }

    /// Whether one more decoded byte exists. Reads a single byte, so at the cap the check
    /// costs nothing past it.
    fn has_more(&mut self) -> io::Result<bool> {
        let mut probe = [0u8; 1];
        loop {
            match self.read_inner(&mut probe) {
                Ok(n) => return Ok(n > 0),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(reader) => reader.read(buf),
            Inner::Gzip(reader) => reader.read(buf),
            Inner::Unsupported(reason) => Err(io::Error::new(io::ErrorKind::InvalidData, reason.to_string())),
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.limit - self.produced;
        if room == 0 {
            if buf.is_empty() || !self.has_more()? {
                return Ok(0);
            }
            self.capped = true;
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "decoded size limit exceeded",
            ));
        }
        // Never decode past the cap: a gzip bomb stops at the cap, not one buffer later.
        let len = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.read_inner(&mut buf[..len])?;
        // The first bytes a gzip stream decodes to are sniffed as a file's first bytes are.
        if self.produced == 0
            && self.is_gzip()
            && let Some(reason) = unreadable_inside_gzip(&buf[..n])
        {
            self.inner = Inner::Unsupported(reason);
            return self.read_inner(buf);
        }
        self.produced += n as u64;
        Ok(n)
    }
}

/// Reads up to `head.len()` bytes, retrying short reads, so that sniffing is not fooled by a
/// stream whose first read returns a single byte.
fn read_head<R: Read>(reader: &mut R, head: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// The decoded bytes, and how reading ended: `None` at a clean end.
    fn read_all(bytes: &[u8], limit: u64) -> (Vec<u8>, Option<Unreadable>) {
        let mut decoded = Decoded::new(bytes, limit).unwrap();
        let mut out = Vec::new();
        let end = decoded
            .read_to_end(&mut out)
            .err()
            .map(|error| decoded.classify(error).unwrap());
        (out, end)
    }

    /// Fails after handing out its data, like a connection reset mid-body.
    struct Breaks<'a>(&'a [u8]);

    impl Read for Breaks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::from(io::ErrorKind::ConnectionReset));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn passes_plain_text_through() {
        assert_eq!(read_all(b"a b c\n", 100), (b"a b c\n".to_vec(), None));
        assert_eq!(read_all(b"", 100), (Vec::new(), None));
        assert_eq!(read_all(b"\x1f", 100), (b"\x1f".to_vec(), None));
        assert_eq!(
            read_all(b"BZh91AY&SY", 100).1,
            Some(Unreadable::UnsupportedCompression("bzip2"))
        );
        assert_eq!(read_all(b"BZh9 is a line\n", 100).1, None);
    }

    #[test]
    fn decodes_every_gzip_member() {
        let mut two_members = gzip(b"first\n");
        two_members.extend(gzip(b"second\n"));
        assert_eq!(read_all(&two_members, 100), (b"first\nsecond\n".to_vec(), None));
    }

    #[test]
    fn reports_truncated_and_corrupt_gzip_after_the_readable_part() {
        let text = b"line\n".repeat(100_000);
        let whole = gzip(&text);
        let (read, end) = read_all(&whole[..whole.len() / 2], u64::MAX);
        assert_eq!(end, Some(Unreadable::TruncatedGzip));
        assert!(
            !read.is_empty() && text.starts_with(&read),
            "{} bytes",
            read.len()
        );
        assert_eq!(
            read_all(b"\x1f\x8bthis is not deflate", u64::MAX).1,
            Some(Unreadable::TruncatedGzip)
        );
    }

    #[test]
    fn recognises_unsupported_compression_by_magic_bytes() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x28\xb5\x2f\xfd\x24\x05\x29\x00\x00hello", "zstd"),
            (b"BZh91AY&SY\x00\x00\x00\x00", "bzip2"),
            (b"BZh9\x17\x72\x45\x38\x50\x90\x00\x00\x00\x00", "bzip2"),
            (b"\xfd7zXZ\x00\x00\x04\xe6\xd6", "xz"),
            (b"PK\x03\x04\x14\x00\x00\x00", "zip"),
        ];
        for &(bytes, format) in cases {
            assert_eq!(
                read_all(bytes, u64::MAX),
                (Vec::new(), Some(Unreadable::UnsupportedCompression(format))),
                "{format}"
            );
        }
    }

    /// Gzip around what is not text (gzip again, another compression, Parquet) was read as
    /// lines of garbage; it is named as the same content without the gzip would be.
    #[test]
    fn sniffs_what_gzip_decodes_to() {
        let text = b"line\n".repeat(1000);
        let cases: &[(Vec<u8>, Option<Unreadable>)] = &[
            (
                gzip(&gzip(&text)),
                Some(Unreadable::UnsupportedCompression("gzip inside gzip")),
            ),
            (
                gzip(b"\x28\xb5\x2f\xfd\x24\x05\x29\x00\x00hello"),
                Some(Unreadable::UnsupportedCompression("zstd")),
            ),
            (
                gzip(b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02"),
                Some(Unreadable::UnsupportedFormat("Parquet file")),
            ),
            (gzip(b""), None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(read_all(bytes, u64::MAX), (Vec::new(), *expected));
        }
        // Text in gzip, down to a single byte, is read as before.
        assert_eq!(read_all(&gzip(&text), u64::MAX), (text.clone(), None));
        assert_eq!(read_all(&gzip(b"\x1f"), u64::MAX), (b"\x1f".to_vec(), None));
    }

    /// A Parquet file among raw logs was read as lines of garbage; it is named instead, and
    /// nothing of it is read.
    #[test]
    fn recognises_a_parquet_file_as_no_log() {
        let parquet = b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00\nnot\na\nlog\n";
        let (read, end) = read_all(parquet, u64::MAX);
        assert_eq!(
            (read, end),
            (Vec::new(), Some(Unreadable::UnsupportedFormat("Parquet file")))
        );
        assert_eq!(
            end.unwrap().to_string(),
            "unsupported-format (a Parquet file, not a server access log)"
        );
        assert_eq!(read_all(b"PAR is a line\n", 100).1, None);
    }

    /// A CloudFront log among server access logs made a parse error of every line; it is named
    /// instead, gzipped (as CloudFront delivers it) or not.
    #[test]
    fn recognises_a_cloudfront_log_as_no_server_access_log() {
        let cloudfront = b"#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip\n2026-11-30\t10:15:02\tAMS1-C1\t2417\t198.51.100.7\n";
        let named = Some(Unreadable::UnsupportedFormat("CloudFront access log"));
        assert_eq!(read_all(cloudfront, u64::MAX), (Vec::new(), named));
        assert_eq!(read_all(&gzip(cloudfront), u64::MAX), (Vec::new(), named));
        // A line that merely starts with a hash is read.
        assert_eq!(read_all(b"#Versions of the log\n", 100).1, None);
    }

    #[test]
    fn stops_at_the_decoded_size_limit() {
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        let (read, end) = read_all(&bomb, 1000);
        assert_eq!((read.len(), end), (1000, Some(Unreadable::SizeCap)));
        let (read, end) = read_all(&vec![b'a'; 5000], 5000);
        assert_eq!(
            (read.len(), end),
            (5000, None),
            "exactly at the cap is not over it"
        );
    }

    #[test]
    fn a_source_failing_inside_gzip_is_an_io_error_not_corruption() {
        let whole = gzip(&b"line\n".repeat(100_000));
        let mut decoded = Decoded::new(Breaks(&whole[..whole.len() / 2]), u64::MAX).unwrap();
        let error = decoded.read_to_end(&mut Vec::new()).unwrap_err();
        let error = decoded.classify(error).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }
}
