//! Firehose record packing: whole NDJSON lines into records, records into `PutRecordBatch` calls.
//!
//! Firehose bills ingestion per record rounded up to the next 5 KB, so ~600-byte records sent one
//! line per record are billed about eight times their size. The S3 destination concatenates the
//! records it receives, so packing many whole lines into one record writes the very same NDJSON
//! objects at a fraction of the billed volume. This module is the AWS-free half of the
//! preprocessor's delivery: [`Packer`] turns lines into records, [`BatchBuilder`] turns records
//! into calls within the API limits, and [`billed_units`] says what a record costs.
//!
//! [`Packing::Gzip`] goes one step further: each record is a complete gzip member of packed
//! lines, and the delivery stream stores records as they come (no Firehose compression) under a
//! `.gz` extension. Concatenated gzip members are one valid gzip file, so the objects read the
//! same, while Firehose bills the compressed bytes: about a sixth of the JSON.
//!
//! Limits, from the Firehose API reference (`PutRecordBatch`, `Record`): a record's data is at most
//! 1,000 KiB before base64 encoding; one call carries at most 500 records and 4 MiB.
//! <https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html>

use std::fmt;
use std::io::Write;
use std::mem;
use std::str::FromStr;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Largest record Firehose accepts: 1,000 KiB of data before base64 encoding.
pub const FIREHOSE_MAX_RECORD: usize = 1_000 * 1024;

/// Room left for gzip's framing in [`Packing::Gzip`]: lines that do not compress at all grow by
/// a 18-byte header and trailer plus 5 bytes per 64 KiB stored block, far below this.
const GZIP_FRAMING: usize = 1024;

/// The largest record line (`\n` included) anything in the pipeline writes or reads: ingest
/// quarantines a line whose record would be larger, every [`Packing`] mode carries a record of
/// this size (gzip's framing included, it fits in [`FIREHOSE_MAX_RECORD`]), and the record
/// readers (`s3logs audit`, the postprocessor) keep lines of this size whole. One number, so
/// nothing the writer produces is refused or misread downstream.
pub const MAX_RECORD: usize = FIREHOSE_MAX_RECORD - GZIP_FRAMING;

/// Most records in one `PutRecordBatch` call.
pub const MAX_BATCH_RECORDS: usize = 500;

/// Most record bytes in one `PutRecordBatch` call (4 MiB).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Firehose ingestion is billed per record in increments of this many bytes (5 KB).
pub const BILLING_UNIT: usize = 5 * 1024;

/// How lines are put into Firehose records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Packing {
    /// As many whole lines per record as fit: the cheap default.
    #[default]
    Packed,
    /// One line per record, for consumers that need a record to be a line (a transformation
    /// Lambda, say), at about eight times the billed volume.
    Line,
    /// Packed, and each record gzipped into one gzip member. The delivery stream must not
    /// compress again (`CompressionFormat: UNCOMPRESSED`, `FileExtension: .gz`).
    Gzip,
}

impl Packing {
    /// The name used in configuration: `packed` or `line`.
    pub fn as_str(self) -> &'static str {
        match self {
            Packing::Packed => "packed",
            Packing::Line => "line",
            Packing::Gzip => "gzip",
        }
    }
}

impl FromStr for Packing {
    type Err = PackError;

    fn from_str(name: &str) -> Result<Self, PackError> {
        match name {
            "packed" => Ok(Packing::Packed),
            "line" => Ok(Packing::Line),
            "gzip" => Ok(Packing::Gzip),
            _ => Err(PackError::UnknownMode),
        }
    }
}

impl fmt::Display for Packing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a line, a record or a setting was refused. Nothing is ever cut or dropped instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// A packing mode other than `packed` or `line`.
    #[error("unknown packing mode: expected `packed`, `line` or `gzip`")]
    UnknownMode,
    /// A record size or batch limit outside what Firehose accepts.
    #[error("{what} of {value} is outside 1..={max}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// The value given.
        value: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A line longer than a whole record: the caller must keep records within the size it packs
    /// to (the ingest limits do, by quarantining over-long lines).
    #[error("line of {len} bytes does not fit in a record of {max} bytes")]
    LineTooLong {
        /// The line's length, terminator included.
        len: usize,
        /// The record size.
        max: usize,
    },
    /// A line without its `\n`: packed records are only valid NDJSON if every line is terminated.
    #[error("line is not terminated by a newline")]
    Unterminated,
}

/// Bytes billed for one record of `len` bytes, in 5 KB units: a record is rounded up to the next
/// unit, and even an empty record costs one.
pub fn billed_units(len: usize) -> u64 {
    len.div_ceil(BILLING_UNIT).max(1) as u64
}

/// Packs whole lines into records of at most a fixed size of lines.
///
/// Lines go in whole and in order; a record is handed out when the next line would not fit, so
/// concatenating the records gives back exactly the lines that went in.
#[derive(Debug)]
pub struct Packer {
    mode: Packing,
    max_record: usize,
    current: Vec<u8>,
}

impl Packer {
    /// A packer putting at most `max_record` bytes of lines (at most [`MAX_RECORD`]) in one
    /// record, in every mode: pass it the same size ingest limits records to, and every record
    /// ingest writes is accepted. In [`Packing::Gzip`] mode the compressed record is at most
    /// that plus gzip's framing, which [`MAX_RECORD`] leaves room for.
    pub fn new(mode: Packing, max_record: usize) -> Result<Self, PackError> {
        check_limit("record size", max_record, MAX_RECORD)?;
        Ok(Packer {
            mode,
            max_record,
            current: Vec::new(),
        })
    }

    /// The most line bytes one record carries: no line may be longer.
    pub fn max_record(&self) -> usize {
        self.max_record
    }

    /// Adds one line (`\n` included). Returns a finished record if the line did not fit in the
    /// one being filled, or always in [`Packing::Line`] mode.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<Vec<u8>>, PackError> {
        if !line.ends_with(b"\n") {
            return Err(PackError::Unterminated);
        }
        if line.len() > self.max_record {
            return Err(PackError::LineTooLong {
                len: line.len(),
                max: self.max_record,
            });
        }
        if self.mode == Packing::Line {
            return Ok(Some(line.to_vec()));
        }
        let finished = if self.current.len() + line.len() > self.max_record {
            Some(self.take_record())
        } else {
            None
        };
        self.current.extend_from_slice(line);
        Ok(finished)
    }

    /// The last, partly filled record, if any lines are pending.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.current.is_empty()).then(|| self.take_record())
    }

    /// The record being filled, finished. The next one starts at its full size, so a record is one
    /// allocation instead of a chain of doubling reallocations (large short-lived buffers of every
    /// size are what fragment the allocator's heaps); a gzip record keeps refilling the same one.
    fn take_record(&mut self) -> Vec<u8> {
        match self.mode {
            Packing::Gzip => {
                let record = gzip_member(&self.current);
                self.current.clear();
                record
            }
            Packing::Packed | Packing::Line => {
                mem::replace(&mut self.current, Vec::with_capacity(self.max_record))
            }
        }
    }

    /// Bytes of lines waiting in the record being filled.
    pub fn pending(&self) -> usize {
        self.current.len()
    }
}

/// One gzip member holding `lines`. The fastest level: the preprocessor's time is billed too, and
/// level 1 already takes JSON records to about a sixth of their size.
fn gzip_member(lines: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(lines.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(lines);
    encoder.finish().unwrap_or_default()
}

/// Records for one `PutRecordBatch` call, within its limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    records: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    /// The records, in the order they were added.
    pub fn records(&self) -> &[Vec<u8>] {
        &self.records
    }

    /// Takes the records out.
    pub fn into_records(self) -> Vec<Vec<u8>> {
        self.records
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Total record bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Billed 5 KB units of all its records.
    pub fn billed_units(&self) -> u64 {
        self.records.iter().map(|record| billed_units(record.len())).sum()
    }

    fn push(&mut self, record: Vec<u8>) {
        self.bytes += record.len();
        self.records.push(record);
    }
}

/// Groups records into batches of at most [`MAX_BATCH_RECORDS`] records and
/// [`MAX_BATCH_BYTES`] bytes (or tighter limits).
#[derive(Debug)]
pub struct BatchBuilder {
    max_records: usize,
    max_bytes: usize,
    current: Batch,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        BatchBuilder {
            max_records: MAX_BATCH_RECORDS,
            max_bytes: MAX_BATCH_BYTES,
            current: Batch::default(),
        }
    }
}

impl BatchBuilder {
    /// A builder with Firehose's own limits.
    pub fn new() -> Self {
        BatchBuilder::default()
    }

    /// A builder with tighter limits than Firehose's (for tests, or to keep calls small).
    pub fn with_limits(max_records: usize, max_bytes: usize) -> Result<Self, PackError> {
        check_limit("records per batch", max_records, MAX_BATCH_RECORDS)?;
        check_limit("bytes per batch", max_bytes, MAX_BATCH_BYTES)?;
        Ok(BatchBuilder {
            max_records,
            max_bytes,
            current: Batch::default(),
        })
    }

    /// Adds a record. Returns the batch that was closed to make room for it, if any.
    pub fn push(&mut self, record: Vec<u8>) -> Result<Option<Batch>, PackError> {
        let max = self.max_bytes.min(FIREHOSE_MAX_RECORD);
        if record.len() > max {
            return Err(PackError::LineTooLong {
                len: record.len(),
                max,
            });
        }
        let full =
            self.current.len() == self.max_records || self.current.bytes + record.len() > self.max_bytes;
        let closed = if full && !self.current.is_empty() {
            Some(mem::take(&mut self.current))
        } else {
            None
        };
        self.current.push(record);
        Ok(closed)
    }

    /// The last batch, if any records are pending.
    pub fn finish(&mut self) -> Option<Batch> {
        (!self.current.is_empty()).then(|| mem::take(&mut self.current))
    }
}

fn check_limit(what: &'static str, value: usize, max: usize) -> Result<(), PackError> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(PackError::Limit { what, value, max })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(len: usize) -> Vec<u8> {
        let mut line = vec![b'x'; len - 1];
        line.push(b'\n');
        line
    }

    fn pack(mode: Packing, max: usize, lens: &[usize]) -> Vec<usize> {
        let mut packer = Packer::new(mode, max).unwrap();
        let mut records = Vec::new();
        for &len in lens {
            records.extend(packer.push(&line(len)).unwrap());
        }
        records.extend(packer.finish());
        records.iter().map(Vec::len).collect()
    }

    #[test]
    fn packs_greedily_in_order() {
        let cases: &[(Packing, usize, &[usize], &[usize])] = &[
            (Packing::Packed, 1000, &[400, 400, 400], &[800, 400]),
            (Packing::Packed, 1000, &[1000, 1, 999], &[1000, 1000]),
            (Packing::Packed, 1000, &[10, 1000, 10], &[10, 1000, 10]),
            (Packing::Packed, 1000, &[], &[]),
            (Packing::Line, 1000, &[400, 400, 400], &[400, 400, 400]),
            (Packing::Line, 1000, &[1000], &[1000]),
        ];
        for &(mode, max, lens, expected) in cases {
            assert_eq!(pack(mode, max, lens), expected, "{mode} {max} {lens:?}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_carry_whole() {
        let mut packer = Packer::new(Packing::Packed, 100).unwrap();
        assert_eq!(
            packer.push(&line(101)),
            Err(PackError::LineTooLong { len: 101, max: 100 })
        );
        assert_eq!(packer.push(b"no newline"), Err(PackError::Unterminated));
        assert_eq!(packer.pending(), 0);
        assert!(Packer::new(Packing::Packed, 0).is_err());
        assert!(Packer::new(Packing::Packed, MAX_RECORD + 1).is_err());
        assert!(Packer::new(Packing::Packed, MAX_RECORD).is_ok());
    }

    /// Finding 1b of issue 10: in gzip mode the packer took 1,024 bytes less than it was given,
    /// so a record ingest wrote could be refused. Now every mode takes the same size, and an
    /// incompressible record of that size still fits Firehose once gzipped.
    #[test]
    fn every_mode_carries_a_record_of_the_size_it_is_given() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut noise: Vec<u8> = (0..MAX_RECORD - 1)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b' ' + (state % 94) as u8
            })
            .collect();
        noise.push(b'\n');
        for mode in [Packing::Packed, Packing::Line, Packing::Gzip] {
            let mut packer = Packer::new(mode, MAX_RECORD).unwrap();
            assert_eq!(packer.max_record(), MAX_RECORD, "{mode}");
            let mut records: Vec<Vec<u8>> = packer.push(&noise).unwrap().into_iter().collect();
            records.extend(packer.finish());
            assert_eq!(records.len(), 1, "{mode}");
            assert!(
                records[0].len() <= FIREHOSE_MAX_RECORD,
                "{mode}: {}",
                records[0].len()
            );
        }
    }

    #[test]
    fn parses_modes() {
        assert_eq!("packed".parse(), Ok(Packing::Packed));
        assert_eq!("line".parse(), Ok(Packing::Line));
        assert_eq!("gzip".parse(), Ok(Packing::Gzip));
        assert_eq!("Packed".parse::<Packing>(), Err(PackError::UnknownMode));
        assert_eq!(Packing::default(), Packing::Packed);
    }

    fn batch_shapes(builder: &mut BatchBuilder, lens: &[usize]) -> Vec<(usize, usize)> {
        let mut batches = Vec::new();
        for &len in lens {
            batches.extend(builder.push(vec![b'r'; len]).unwrap());
        }
        batches.extend(builder.finish());
        batches.iter().map(|b| (b.len(), b.bytes())).collect()
    }

    #[test]
    fn batches_stay_within_firehose_limits() {
        // Record sizes in, (records, bytes) of each batch out.
        type Case = (&'static [usize], &'static [(usize, usize)]);
        let cases: &[Case] = &[
            (&[10; 501], &[(500, 5000), (1, 10)]),
            (&[10; 500], &[(500, 5000)]),
            (&[1_000_000; 5], &[(4, 4_000_000), (1, 1_000_000)]),
            (
                &[FIREHOSE_MAX_RECORD; 5],
                &[(4, 4 * FIREHOSE_MAX_RECORD), (1, FIREHOSE_MAX_RECORD)],
            ),
            (&[], &[]),
        ];
        for &(lens, expected) in cases {
            assert_eq!(batch_shapes(&mut BatchBuilder::new(), lens), expected, "{lens:?}");
        }
        assert!(
            BatchBuilder::new()
                .push(vec![0; FIREHOSE_MAX_RECORD + 1])
                .is_err()
        );
        assert!(BatchBuilder::with_limits(501, 10).is_err());
        assert!(BatchBuilder::with_limits(10, MAX_BATCH_BYTES + 1).is_err());
        let mut small = BatchBuilder::with_limits(2, 100).unwrap();
        assert_eq!(
            batch_shapes(&mut small, &[50, 50, 50, 60, 60]),
            [(2, 100), (1, 50), (1, 60), (1, 60)]
        );
    }

    #[test]
    fn billed_units_round_up_per_record() {
        let cases = [
            (0, 1),
            (1, 1),
            (5120, 1),
            (5121, 2),
            (15_360, 3),
            (1_022_976, 200),
        ];
        for (len, units) in cases {
            assert_eq!(billed_units(len), units, "{len}");
        }
    }

    #[test]
    fn packing_cuts_billed_units_eightfold_for_typical_lines() {
        let lens = vec![600; 1000];
        let units = |mode| -> u64 { pack(mode, 1_022_976, &lens).into_iter().map(billed_units).sum() };
        assert_eq!(units(Packing::Line), 1000);
        assert_eq!(units(Packing::Packed), 118);
    }

    /// Lines that look like records: JSON with varying values, so they compress as real ones do.
    fn json_lines(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                format!(
                    "{{\"SchemaVersion\":1,\"RecordId\":\"{:016x}\",\"Bucket\":\"photo-archive\",\"Timestamp\":\"2026-11-23 10:{:02}:{:02}\",\"RemoteIP\":\"198.51.100.{}\",\"Operation\":\"REST.GET.OBJECT\",\"Key\":\"albums/{}/img-{}.jpg\",\"HTTPstatus\":200,\"UserAgent\":\"aws-sdk-java/2.20.{} Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.9\",\"SignatureVersion\":\"SigV4\",\"LogFile\":\"s3://logs/2026-11-23-10-15-01-1A2B3C4D5E6F7A8B\"}}\n",
                    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    i % 60,
                    i * 7 % 60,
                    i % 250,
                    i % 97,
                    i,
                    i % 40
                )
                .into_bytes()
            })
            .collect()
    }

    fn gunzip(records: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&records.concat()[..]),
            &mut out,
        )
        .unwrap();
        out
    }

    fn pack_records(mode: Packing, max: usize, lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut packer = Packer::new(mode, max).unwrap();
        let mut records = Vec::new();
        for line in lines {
            records.extend(packer.push(line).unwrap());
        }
        records.extend(packer.finish());
        records
    }

    #[test]
    fn gzip_records_concatenate_into_one_gzip_file_of_the_same_lines() {
        let lines = json_lines(3000);
        let records = pack_records(Packing::Gzip, 64 * 1024, &lines);
        assert!(records.len() > 1, "several records, so several members");
        assert!(
            records
                .iter()
                .all(|r| r.starts_with(&[0x1f, 0x8b]) && r.len() <= 64 * 1024)
        );
        assert_eq!(gunzip(&records), lines.concat());
    }

    #[test]
    fn gzip_records_fit_even_when_lines_do_not_compress() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let lines: Vec<Vec<u8>> = (0..200)
            .map(|_| {
                let mut line: Vec<u8> = (0..999)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % 255) as u8 + u8::from(state % 255 >= 10)
                    })
                    .collect();
                line.push(b'\n');
                line
            })
            .collect();
        let records = pack_records(Packing::Gzip, 16 * 1024, &lines);
        assert!(
            records.iter().all(|r| r.len() <= 16 * 1024 + GZIP_FRAMING),
            "{:?}",
            records.iter().map(Vec::len).max()
        );
        assert_eq!(gunzip(&records), lines.concat());
    }

    #[test]
    fn gzip_packing_bills_a_fraction_of_plain_packing() {
        let lines = json_lines(5000);
        let units = |mode| -> u64 {
            pack_records(mode, MAX_RECORD, &lines)
                .iter()
                .map(|r| billed_units(r.len()))
                .sum()
        };
        let (packed, gzip) = (units(Packing::Packed), units(Packing::Gzip));
        assert!(gzip * 4 < packed, "gzip {gzip} units against packed {packed}");
    }

    proptest! {
        #[test]
        fn never_splits_a_line_nor_exceeds_the_record_size(
            lens in proptest::collection::vec(1usize..300, 0..200),
            max in 300usize..2000,
            line_mode in any::<bool>(),
        ) {
            let mode = if line_mode { Packing::Line } else { Packing::Packed };
            let lines: Vec<Vec<u8>> = lens
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let mut l = vec![b'a' + (i % 26) as u8; len - 1];
                    l.push(b'\n');
                    l
                })
                .collect();
            let mut packer = Packer::new(mode, max).unwrap();
            let mut records = Vec::new();
            for l in &lines {
                records.extend(packer.push(l).unwrap());
            }
            records.extend(packer.finish());
            let mut batches = Vec::new();
            let mut builder = BatchBuilder::with_limits(7, 4000).unwrap();
            for r in records.iter().cloned() {
                batches.extend(builder.push(r).unwrap());
            }
            batches.extend(builder.finish());

            // Every record is whole lines within the size, and nothing is lost or reordered.
            for record in &records {
                prop_assert!(record.len() <= max);
                prop_assert!(record.ends_with(b"\n"));
            }
            prop_assert_eq!(records.concat(), lines.concat());
            let mut boundaries = std::collections::BTreeSet::new();
            let mut at = 0;
            for l in &lines {
                at += l.len();
                boundaries.insert(at);
            }
            let mut at = 0;
            for record in &records {
                at += record.len();
                prop_assert!(boundaries.contains(&at));
            }
            // Batches keep their limits and the records' order.
            for batch in &batches {
                prop_assert!(batch.len() <= 7 && batch.bytes() <= 4000 && !batch.is_empty());
            }
            let rebatched: Vec<Vec<u8>> = batches.into_iter().flat_map(Batch::into_records).collect();
            prop_assert_eq!(rebatched, records);
        }
    }
}
