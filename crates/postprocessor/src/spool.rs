//! Copies a Parquet object to local disk, where the audit can read it out of order.
//!
//! A Parquet file is read from its end (the footer says where every column chunk is), so it
//! cannot be audited as it streams in like gzip NDJSON. The object is copied, as the shared
//! bridge delivers it (resumed with Range requests when the body breaks), into an anonymous file
//! in the function's ephemeral storage (`/tmp` in Lambda): created, then unlinked at once, so its
//! space is freed when the handle closes, even if the function dies mid-object, and a warm
//! environment never fills up with leftovers. Memory stays at one copy buffer; the audit then
//! reads the file row group by row group.
//!
//! The copy is bounded by `MAX_SPOOL_BYTES`: an object over it is refused before any byte is
//! written when its size is known, or as soon as the cap is passed otherwise.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an object could not be spooled.
#[derive(Debug)]
pub enum SpoolError {
    /// The object is larger than the cap: `size` is its size, or the bytes read when passing
    /// the cap of an object of unknown size.
    TooLarge {
        /// Bytes of the object, or read so far.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// Reading the object or writing the file failed.
    Io(io::Error),
}

/// Copies the object, `head` (its first bytes, already read) then the rest of `body`, into an
/// anonymous file in `dir`, with at most `max` bytes; `size` is the object's size when the
/// store said it. Returns the file, ready to be read from any offset.
pub fn spool(
    head: &[u8],
    body: impl Read,
    size: Option<u64>,
    dir: &Path,
    max: u64,
) -> Result<File, SpoolError> {
    if let Some(size) = size.filter(|&size| size > max) {
        return Err(SpoolError::TooLarge { size, max });
    }
    let mut file = anonymous_file(dir).map_err(SpoolError::Io)?;
    file.write_all(head).map_err(SpoolError::Io)?;
    // One byte past the cap tells "exactly the cap" from "over it".
    let room = max.saturating_sub(head.len() as u64).saturating_add(1);
    let copied = io::copy(&mut body.take(room), &mut file).map_err(SpoolError::Io)?;
    let total = head.len() as u64 + copied;
    if total > max {
        return Err(SpoolError::TooLarge { size: total, max });
    }
    file.flush().map_err(SpoolError::Io)?;
    Ok(file)
}

/// A new file in `dir`, open for reading and writing, already unlinked.
fn anonymous_file(dir: &Path) -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!(
        "postprocessor-spool-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom};

    use super::*;

    fn read_back(mut file: File) -> Vec<u8> {
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn copies_head_and_body_up_to_the_cap_and_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let body = vec![7u8; 10_000];
        let cases: [(Option<u64>, u64, Option<u64>); 5] = [
            // (size the store says, cap, size refused)
            (Some(10_004), 10_004, None),
            (None, 10_004, None),
            (Some(10_004), 10_003, Some(10_004)),
            // A store that did not say: refused one byte past the cap, without reading on.
            (None, 10_003, Some(10_004)),
            (None, 100, Some(101)),
        ];
        for (size, max, refused) in cases {
            match (spool(b"PAR1", &body[..], size, &dir, max), refused) {
                (Ok(file), None) => {
                    let bytes = read_back(file);
                    assert_eq!((&bytes[..4], bytes.len()), (&b"PAR1"[..], 10_004));
                }
                (Err(SpoolError::TooLarge { size, max: cap }), Some(refused)) => {
                    assert_eq!((size, cap), (refused, max));
                }
                (other, _) => panic!("{size:?} {max}: {:?}", other.map(|_| ())),
            }
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "spool files are unlinked"
        );
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let missing = Path::new("/nonexistent/spool");
        assert!(matches!(
            spool(b"PAR1", &b""[..], None, missing, 100),
            Err(SpoolError::Io(_))
        ));
    }
}
