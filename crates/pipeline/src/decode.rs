//! Opens an object's bytes as plain text whether or not they are gzipped.
//!
//! Detection is by the gzip magic bytes, never by key or `Content-Encoding`: S3 writes logs
//! uncompressed, users backfill gzipped copies, Firehose writes gzip without saying so in the
//! object metadata, and moto (the test double) does not compress at all. Firehose output can be
//! several gzip members back to back, so the multi-member decoder is used.

use std::io::{self, BufReader, Chain, Cursor, Read};

use flate2::bufread::MultiGzDecoder;

use crate::Error;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 256 * 1024;

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// A reader of the decoded bytes of an object, with a cap on how many it will produce.
pub struct Decoded<R: Read> {
    inner: Inner<Chain<Cursor<Vec<u8>>, R>>,
    limit: u64,
    produced: u64,
}

enum Inner<R: Read> {
    Plain(BufReader<R>),
    Gzip(Box<MultiGzDecoder<BufReader<R>>>),
}

impl<R: Read> Decoded<R> {
    /// Sniffs the first bytes of `reader` and decodes accordingly. At most `limit` decoded bytes
    /// are returned; reading past that fails with [`Error::TooLarge`].
    pub fn new(mut reader: R, limit: u64) -> Result<Self, Error> {
        let mut head = [0u8; GZIP_MAGIC.len()];
        let filled = read_head(&mut reader, &mut head).map_err(Error::Io)?;
        let gzip = is_gzip(&head[..filled]);
        let buffered =
            BufReader::with_capacity(READ_BUFFER, Cursor::new(head[..filled].to_vec()).chain(reader));
        let inner = if gzip {
            Inner::Gzip(Box::new(MultiGzDecoder::new(buffered)))
        } else {
            Inner::Plain(buffered)
        };
        Ok(Decoded {
            inner,
            limit,
            produced: 0,
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

    /// Classifies an error returned by [`Read::read`] on this reader.
    pub fn classify(&self, error: io::Error) -> Error {
        match (error.kind(), &self.inner) {
            (io::ErrorKind::FileTooLarge, _) => Error::TooLarge { limit: self.limit },
            (
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof,
                Inner::Gzip(_),
            ) => Error::CorruptGzip(error),
            _ => Error::Io(error),
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.inner {
            Inner::Plain(reader) => reader.read(buf)?,
            Inner::Gzip(reader) => reader.read(buf)?,
        };
        self.produced += n as u64;
        if self.produced > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "decoded size limit exceeded",
            ));
        }
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

    fn read_all(bytes: &[u8], limit: u64) -> Result<Vec<u8>, Error> {
        let mut decoded = Decoded::new(bytes, limit)?;
        let mut out = Vec::new();
        decoded.read_to_end(&mut out).map_err(|e| decoded.classify(e))?;
        Ok(out)
    }

    #[test]
    fn passes_plain_text_through() {
        assert_eq!(read_all(b"a b c\n", 100).unwrap(), b"a b c\n");
        assert_eq!(read_all(b"", 100).unwrap(), b"");
        assert_eq!(read_all(b"\x1f", 100).unwrap(), b"\x1f");
    }

    #[test]
    fn decodes_every_gzip_member() {
        let mut two_members = gzip(b"first\n");
        two_members.extend(gzip(b"second\n"));
        assert_eq!(read_all(&two_members, 100).unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn reports_truncated_gzip_as_corrupt() {
        let whole = gzip(&b"line\n".repeat(1000));
        let error = read_all(&whole[..whole.len() / 2], u64::MAX).unwrap_err();
        assert!(matches!(error, Error::CorruptGzip(_)), "{error:?}");
        assert!(!error.is_retryable());
    }

    #[test]
    fn reports_garbage_after_magic_as_corrupt() {
        let error = read_all(b"\x1f\x8bthis is not deflate", u64::MAX).unwrap_err();
        assert!(matches!(error, Error::CorruptGzip(_)), "{error:?}");
    }

    #[test]
    fn stops_at_the_decoded_size_limit() {
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        let error = read_all(&bomb, 1000).unwrap_err();
        assert!(matches!(error, Error::TooLarge { limit: 1000 }), "{error:?}");
    }
}
