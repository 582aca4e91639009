//! Reads a Parquet object of records (the table of the `columnar` crate) for the audit, as the
//! NDJSON records its rows stand for.
//!
//! [`columnar::RecordReader`] gives back, row group by row group and a few thousand rows at a
//! time, exactly the records the lines were encoded into, so the auditor reads them as it reads
//! a records object and finds the same hits. What sets a Parquet object apart is how it fails:
//! its footer, at the end, is needed before the first row, so a cut-short object yields no row
//! at all, and a corrupt page ends it part-way. Both are damaged content (reading the same bytes
//! again gives the same result), reported as [`Unreadable::UnreadableParquet`] after every row
//! before the damage; only a failure of the file underneath is an I/O error a retry may fix.

use std::io::{self, Read};

use columnar::{NdjsonRead, RecordReader};
use parquet::errors::ParquetError;
use parquet::file::reader::ChunkReader;

use crate::decode::Unreadable;

/// Parquet's magic, which also ends a whole file (after the footer).
const MAGIC: &[u8] = b"PAR1";

/// The records of a Parquet object as NDJSON bytes; reads as ended where the object stopped
/// being readable, and [`ParquetRecords::failure`] says why.
pub(super) struct ParquetRecords<R: ChunkReader + 'static> {
    records: Option<NdjsonRead<R>>,
    failure: Option<Unreadable>,
}

impl<R: ChunkReader + 'static> ParquetRecords<R> {
    /// Opens `input`. A file that cannot be read at all is no error: it reads as empty, with its
    /// failure. `Err` only when reading the file underneath failed.
    pub(super) fn open(input: R) -> io::Result<Self> {
        let len = input.len();
        // The smallest Parquet file is the magic, a footer length and the magic again.
        let whole = len >= 12
            && match input.get_bytes(len - MAGIC.len() as u64, MAGIC.len()) {
                Ok(tail) => &tail[..] == MAGIC,
                Err(error) => {
                    classify(columnar::Error::Parquet(error))?;
                    false
                }
            };
        if !whole {
            return Ok(ParquetRecords::failed(Unreadable::UnreadableParquet(
                "cut short: it does not end with a footer",
            )));
        }
        match RecordReader::new(input) {
            Ok(records) => Ok(ParquetRecords {
                records: Some(records.into_ndjson()),
                failure: None,
            }),
            Err(error) => Ok(ParquetRecords::failed(classify(error)?)),
        }
    }

    fn failed(reason: Unreadable) -> Self {
        ParquetRecords {
            records: None,
            failure: Some(reason),
        }
    }

    /// Why the object stopped being readable, if it did.
    pub(super) fn failure(&self) -> Option<Unreadable> {
        self.failure
    }
}

impl<R: ChunkReader + 'static> Read for ParquetRecords<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(records) = &mut self.records else {
            return Ok(0);
        };
        match records.read(buf) {
            Ok(n) => Ok(n),
            Err(error) => {
                self.failure = Some(classify(error.downcast::<columnar::Error>()?)?);
                self.records = None;
                Ok(0)
            }
        }
    }
}

/// The unreadable content an error of the reader stands for, or the I/O error underneath it.
/// An unexpected end or invalid data read from the file is content: the file is whole (its
/// footer was there), so what it says does not fit its bytes.
fn classify(error: columnar::Error) -> io::Result<Unreadable> {
    let detail = match error {
        columnar::Error::Parquet(ParquetError::External(inner)) => match inner.downcast::<io::Error>() {
            Ok(error)
                if !matches!(
                    error.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
                ) =>
            {
                return Err(*error);
            }
            _ => CORRUPT,
        },
        columnar::Error::Parquet(_) => CORRUPT,
        columnar::Error::Schema(_) | columnar::Error::Record(_) => "not a file of S3 access log records",
    };
    Ok(Unreadable::UnreadableParquet(detail))
}

/// The detail of a file whose footer or pages do not decode.
const CORRUPT: &str = "corrupt: its footer or a page does not decode";

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use columnar::{ParquetWriter, WriterOptions};
    use parquet::basic::Type as Physical;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    use super::*;
    use crate::audit::{AuditConfig, Auditor, Format, OutputMode, Totals};
    use crate::decode::UnreadableContent;

    const LOG_FILE: &str = "s3://access-logs/photo-archive/2025-03-14-09-30-00-0A1B2C3D4E5F6071";

    /// Raw lines: every third a SigV2 request, every seventh a line that does not parse.
    fn lines(count: u32) -> Vec<String> {
        (0..count)
            .map(|n| match (n % 7, n % 3) {
                (0, _) => format!("not a log line {n}"),
                (_, sig) => format!(
                    "3f1c9a0be2d84c7a9e65b0d1c2f3a4b5c6d7e8f90123456789abcdef01234567 photo-archive \
                     [14/Mar/2025:09:{:02}:{:02} +0000] 198.51.100.{} - 7QW2KX9RB3Y{n:05} REST.GET.OBJECT \
                     albums/img_{n}.jpg \"GET /albums/img_{n}.jpg HTTP/1.1\" 200 - 5120 5120 41 12 \"-\" \
                     \"aws-cli/2.15.0\" - hG3kV9pQ2wT8rY1uE5iO7aS4dF6gJ0lZxC+vB/nM= {} \
                     ECDHE-RSA-AES128-GCM-SHA256 AuthHeader photo-archive.s3.eu-west-1.amazonaws.com \
                     TLSv1.2 - - eu-west-1",
                    n / 60 % 60,
                    n % 60,
                    n % 250,
                    if sig == 0 { "SigV2" } else { "SigV4" },
                ),
            })
            .collect()
    }

    fn ndjson(lines: &[String]) -> Vec<u8> {
        let encoder = s3_access_log::RecordEncoder::new(LOG_FILE);
        let mut out = Vec::new();
        for line in lines {
            encoder.encode(line.as_bytes(), &mut out);
        }
        out
    }

    /// The lines as a Parquet file with a row group every `row_group_bytes`.
    fn parquet(lines: &[String], row_group_bytes: usize) -> Bytes {
        let options = WriterOptions {
            row_group_bytes,
            ..WriterOptions::default()
        };
        let mut writer = ParquetWriter::new(Vec::new(), options).unwrap();
        for line in lines {
            writer.write_line(LOG_FILE, line.as_bytes()).unwrap();
        }
        Bytes::from(writer.finish().unwrap())
    }

    fn auditor() -> Auditor {
        Auditor::new(AuditConfig::new("sigv2,parse-errors", "", OutputMode::Lines).unwrap())
    }

    /// Audits a Parquet object with a fresh auditor: its output, report damage and totals.
    fn audit(file: Bytes) -> (Vec<u8>, Option<UnreadableContent>, Totals) {
        let mut auditor = auditor();
        let mut out = Vec::new();
        let report = auditor
            .audit_parquet(file, "k.parquet", u64::MAX, &mut out)
            .unwrap();
        auditor.finish(&mut out).unwrap();
        (out, report.damage, *auditor.totals())
    }

    /// What the audit of the same lines as NDJSON writes.
    fn audit_ndjson(lines: &[String]) -> Vec<u8> {
        let mut auditor = auditor();
        let mut out = Vec::new();
        auditor
            .audit_object(
                &ndjson(lines)[..],
                "k.ndjson",
                Format::Records,
                u64::MAX,
                &mut out,
            )
            .unwrap();
        auditor.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn gives_the_hits_and_counts_of_the_same_records_as_ndjson() {
        let lines = lines(3000);
        let mut auditor = auditor();
        let mut expected = Vec::new();
        auditor
            .audit_object(
                &ndjson(&lines)[..],
                "k.ndjson",
                Format::Records,
                u64::MAX,
                &mut expected,
            )
            .unwrap();
        auditor.finish(&mut expected).unwrap();
        let file = parquet(&lines, 200_000);
        let row_groups = SerializedFileReader::new(file.clone()).unwrap().num_row_groups();
        assert!(row_groups > 3, "{row_groups} row groups");

        let (out, damage, totals) = audit(file);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(damage, None);
        // Decoded bytes too: the rows read back as the very NDJSON records.
        assert_eq!(totals, *auditor.totals());
        assert_eq!((totals.records, totals.hits.total()), (3000, 857 + 429));
    }

    #[test]
    fn an_unreadable_file_is_damage_after_the_rows_before_it() {
        let lines = lines(3000);
        let file = parquet(&lines, 200_000);
        let metadata = SerializedFileReader::new(file.clone())
            .unwrap()
            .metadata()
            .clone();
        let first_group_rows = metadata.row_group(0).num_rows() as u64;
        let mut corrupt = file.to_vec();
        let page = metadata.row_group(1).column(0).data_page_offset() as usize;
        corrupt[page..page + 64].fill(0xff);
        let cut = file.slice(..file.len() / 2);
        let foreign = {
            let schema = Type::group_type_builder("other")
                .with_fields(vec![Arc::new(
                    Type::primitive_type_builder("x", Physical::INT32)
                        .build()
                        .unwrap(),
                )])
                .build()
                .unwrap();
            let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Default::default()).unwrap();
            Bytes::from(writer.into_inner().unwrap())
        };
        let cases = [
            (cut, "cut short: it does not end with a footer", 0),
            (Bytes::from(corrupt), CORRUPT, first_group_rows),
            (foreign, "not a file of S3 access log records", 0),
            (
                Bytes::from_static(b"PAR1"),
                "cut short: it does not end with a footer",
                0,
            ),
        ];
        for (file, detail, records) in cases {
            let (out, damage, totals) = audit(file);
            assert_eq!(out, audit_ndjson(&lines[..records as usize]), "{detail}");
            assert_eq!(
                damage,
                Some(UnreadableContent {
                    reason: Unreadable::UnreadableParquet(detail),
                    offset: totals.decoded_bytes,
                }),
                "{detail}"
            );
            assert_eq!((totals.records, totals.damaged_objects), (records, 1), "{detail}");
        }
    }

    #[test]
    fn a_file_without_rows_is_read_as_empty() {
        let (out, damage, totals) = audit(parquet(&[], 1 << 20));
        assert!(out.is_empty());
        assert_eq!(damage, None);
        assert_eq!(
            (totals.objects, totals.records, totals.damaged_objects),
            (1, 0, 0)
        );
    }
}
