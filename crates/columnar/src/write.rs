//! Writes rows into a Parquet file of [`crate::COLUMNS`], one row group at a time.
//!
//! Rows come from raw log lines ([`ParquetWriter::write_line`], the same parse as
//! `s3_access_log::RecordEncoder::encode`), from lines too long to keep
//! ([`ParquetWriter::write_truncated`]) or from NDJSON records ([`ParquetWriter::write_record`]).
//! A row from a line names the log object the line was read from (`log_file`), which the caller
//! passes with each line: one file can hold the rows of many objects (`s3logs run` files the rows
//! of one hour from every object that has some).
//! A row group is written once its buffered values reach [`WriterOptions::row_group_bytes`], so
//! memory stays near that figure whatever the input size.
//!
//! A number too large for its column (a `bigint` above 2^63 - 1, which only a damaged line
//! carries, and which the parser now quarantines, but which records written before that rule
//! hold) is stored as null, and the row says so in `parse_error`, value included: nothing is
//! lost, and Athena never meets a value it cannot read.

use std::io::Write;
use std::sync::Arc;

use parquet::basic::{Compression, Encoding, GzipLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use s3_access_log::{
    Field, LogRecord, LogTime, Outcome, ParseError, SCHEMA_VERSION, parse_partial, record_id, record_id_text,
};

use crate::batch::{Batch, WithoutDictionary};
use crate::columns::{COLUMNS, ColumnId, Kind, field_column};
use crate::error::Error;
use crate::record::RecordRow;
use crate::schema::parquet_schema;

/// How the writer sizes and compresses its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Buffered row bytes (about the raw log bytes) at which a row group is written. Memory
    /// use is about this much plus one column's compressed pages.
    pub row_group_bytes: usize,
    /// How column pages are compressed.
    pub codec: Codec,
}

impl Default for WriterOptions {
    /// 24 MiB of rows per row group (28,000 requests of the generated corpus, 646 bytes a
    /// line: 5.4 MB of Parquet, and 36 MiB peak resident size for a whole `parquet_file` run),
    /// compressed with Snappy.
    fn default() -> Self {
        WriterOptions {
            row_group_bytes: 24 << 20,
            codec: Codec::Snappy,
        }
    }
}

/// The compression of column pages: the two codecs Firehose's Parquet conversion offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Fast to write and to read; Firehose's default.
    Snappy,
    /// Gzip at a level from 1 to 9: at level 6, files about 30% smaller than Snappy's (so
    /// Athena scans and bills 30% fewer bytes) at about a third of the write speed.
    Gzip(u32),
}

/// What a writer has written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Rows written.
    pub rows: u64,
    /// Rows with `parse_error`.
    pub quarantined: u64,
    /// Row groups written.
    pub row_groups: u64,
}

/// Writes one Parquet file.
pub struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    batch: Batch,
    without_dictionary: WithoutDictionary,
    options: WriterOptions,
    stats: WriteStats,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer into `sink`, which receives the file's bytes in order (no seeking).
    pub fn new(sink: W, options: WriterOptions) -> Result<Self, Error> {
        let schema = parquet_schema()?;
        let without_dictionary = WithoutDictionary {
            schema: SchemaDescriptor::new(schema.clone()),
            properties: Arc::new(properties(options.codec, false)?),
        };
        let properties = Arc::new(properties(options.codec, true)?);
        let file = SerializedFileWriter::new(sink, schema, properties)?;
        Ok(ParquetWriter {
            file,
            batch: Batch::new(),
            without_dictionary,
            options,
            stats: WriteStats::default(),
        })
    }

    /// Writes the row of one raw log line (without its terminator) read from `log_file`
    /// (`s3://bucket/key` of the raw log object, or the local path), exactly as
    /// `RecordEncoder::encode` would make its record: blank lines make no row, a line that
    /// does not parse cleanly makes a row with `parse_error` and `raw_line`. The outcome is the
    /// parser's; a row can also be quarantined for a number beyond its column's range (see the
    /// module documentation), which [`WriteStats::quarantined`] counts.
    pub fn write_line(&mut self, log_file: &str, line: &[u8]) -> Result<Outcome, Error> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(Outcome::Skipped);
        }
        self.write_parsed(log_file, line, parse_partial(line))
    }

    /// Writes the row of a line already parsed with `s3_access_log::parse_partial`, for a
    /// caller that needs the line's time before it chooses the file (one parse, not two): as
    /// [`Self::write_line`], for a `line` that is not blank. As there, a trailing `\r` is the
    /// end of a CRLF line, not part of it, and only that one is taken off: here, once.
    pub fn write_parsed(
        &mut self,
        log_file: &str,
        line: &[u8],
        (record, error): (LogRecord<'_>, Option<ParseError>),
    ) -> Result<Outcome, Error> {
        let id = record_id(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Fields are cut at ASCII separators, so they are valid UTF-8 when the line is.
        let valid = std::str::from_utf8(line).is_ok();
        let b = &mut self.batch;
        b.push_int(ColumnId::SchemaVersion, Some(i64::from(SCHEMA_VERSION)));
        push_record_id(b, id);
        let time = record.time.map(|time| time.unix_seconds() * 1000);
        b.push_int(ColumnId::RequestTime, time);
        let mut overflow = None;
        for field in Field::ALL {
            let id = field_column(field);
            match id.column().kind {
                Kind::Text if valid => b.push_valid_text(id, record.text(field)),
                Kind::Text => b.push_text(id, record.text(field)),
                Kind::Int32 | Kind::Int64 => {
                    if let Err(message) = push_number(b, id, record.number(field)) {
                        overflow.get_or_insert(message);
                    }
                }
                // The time was pushed above, from the parsed `LogTime`; no field is a list.
                Kind::Timestamp | Kind::TextList => {}
            }
        }
        let extra = record.extra_fields.map(|_| record.extra_fields());
        b.push_list(ColumnId::ExtraFields, extra);
        b.push_text(ColumnId::LogFile, Some(log_file.as_bytes()));
        let reason = match (error, overflow) {
            (Some(error), _) => Some(error.to_string()),
            (None, overflow) => overflow,
        };
        let quarantined = reason.is_some();
        b.push_text(ColumnId::ParseError, reason.as_deref().map(str::as_bytes));
        b.push_text(ColumnId::RawLine, quarantined.then_some(line));
        self.end_row(quarantined)?;
        Ok(error.map_or(Outcome::Parsed, Outcome::Quarantined))
    }

    /// Writes the quarantined row of a line too long to keep whole, as
    /// `RecordEncoder::encode_truncated` does: `log_file` is the object it was read from,
    /// `raw_line` holds `prefix`, `id` is the record id of the whole line and `reason` says what
    /// was cut.
    pub fn write_truncated(
        &mut self,
        log_file: &str,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> Result<(), Error> {
        let b = &mut self.batch;
        for column in &COLUMNS {
            match column.id {
                ColumnId::SchemaVersion => b.push_int(column.id, Some(i64::from(SCHEMA_VERSION))),
                ColumnId::RecordId => push_record_id(b, id),
                ColumnId::LogFile => b.push_text(column.id, Some(log_file.as_bytes())),
                ColumnId::ParseError => b.push_text(column.id, Some(reason.as_bytes())),
                ColumnId::RawLine => b.push_text(column.id, Some(prefix)),
                ColumnId::ExtraFields => b.push_list(column.id, None::<std::iter::Empty<&[u8]>>),
                _ if column.kind == Kind::Text => b.push_text(column.id, None),
                _ => b.push_int(column.id, None),
            }
        }
        self.end_row(true)
    }

    /// Writes the row of one NDJSON record of `docs/record.md` (one line, terminator optional).
    /// Its `LogFile` is the record's own. A line that is not a record is an error and writes
    /// nothing.
    pub fn write_record(&mut self, record: &[u8]) -> Result<(), Error> {
        let row = RecordRow::parse(record)?;
        let quarantined = row.push_into(&mut self.batch);
        self.end_row(quarantined)
    }

    /// What has been written so far (rows still buffered included).
    pub fn stats(&self) -> WriteStats {
        self.stats
    }

    /// Bytes of rows buffered for the next row group. A caller with many writers open at once
    /// (one per output partition) can keep their sum under a budget by calling
    /// [`Self::flush_row_group`] on the largest.
    pub fn buffered_bytes(&self) -> usize {
        self.batch.bytes()
    }

    /// Writes the buffered rows as a row group now, if there are any.
    pub fn flush_row_group(&mut self) -> Result<(), Error> {
        if self.batch.rows() > 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the last row group and the footer, and returns the sink.
    pub fn finish(mut self) -> Result<W, Error> {
        self.flush_row_group()?;
        Ok(self.file.into_inner()?)
    }

    fn end_row(&mut self, quarantined: bool) -> Result<(), Error> {
        self.batch.end_row();
        self.stats.rows += 1;
        self.stats.quarantined += u64::from(quarantined);
        if self.batch.bytes() >= self.options.row_group_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let mut row_group = self.file.next_row_group()?;
        self.batch.write_to(&mut row_group, &self.without_dictionary)?;
        row_group.close()?;
        self.stats.row_groups += 1;
        Ok(())
    }
}

/// Writes the record id as the record does ([`record_id_text`]).
fn push_record_id(batch: &mut Batch, id: u64) {
    batch.push_text(ColumnId::RecordId, Some(&record_id_text(id)));
}

/// Pushes a number into its integer column, or null with the reason when it does not fit.
pub(crate) fn push_number(batch: &mut Batch, id: ColumnId, value: Option<u64>) -> Result<(), String> {
    let column = id.column();
    let max = if column.kind == Kind::Int32 {
        i32::MAX as u64
    } else {
        i64::MAX as u64
    };
    match value {
        Some(value) if value > max => {
            batch.push_int(id, None);
            Err(format!(
                "{}: {value} is out of range for {}",
                column.record_key,
                column.kind.glue_type()
            ))
        }
        value => {
            batch.push_int(id, value.map(|v| v as i64));
            Ok(())
        }
    }
}

/// Millisecond timestamp of a record's `Timestamp` text.
pub(crate) fn timestamp_millis(text: &str) -> Option<i64> {
    LogTime::parse_utc(text.as_bytes())
        .ok()
        .map(|time| time.unix_seconds() * 1000)
}

/// The codec asked for, Parquet v1 pages, and dictionaries where the table asks for them, or
/// none at all when `dictionaries` is false (the properties of a dictionary candidate's chunk
/// that [`crate::dictionary::pays`] turned down for its row group). Min/max statistics per column
/// chunk (what engines prune row groups on) for numbers, times and dictionary candidates, with
/// or without their dictionary, so that a column's statistics do not come and go with its
/// encoding from one row group to the next (a query on `remote_ip` can still skip a row group);
/// none for nearly unique text, where no query prunes on them and comparing every value costs
/// time.
///
/// Encodings are chosen for the bytes a query reads (an Athena query pays for the compressed
/// column chunks of the columns it names; for 1 M requests of the generated corpus,
/// `scripts/bench-columnar.sh`):
/// - times are `DELTA_BINARY_PACKED`: log lines run nearly in time order, so the deltas fit in
///   a few bits (`request_time` 1.9 MB -> 1.0 MB with gzip pages);
/// - text without a dictionary is `DELTA_LENGTH_BYTE_ARRAY`: the lengths go apart, bit-packed,
///   so the codec sees the values back to back (`record_id`, which every query over
///   `records_dedup` reads, 10.0 MB -> 8.7 MB);
/// - a dictionary candidate keeps its dictionary in a row group only where that makes the chunk
///   smaller, judged from the row group's own values ([`crate::dictionary`]): the corpus draws a
///   fresh client address for nearly every request, so `remote_ip` goes without one (8.76 MB ->
///   6.78 MB), while addresses drawn from 20,000 with Zipf weights, as a bucket whose clients
///   repeat, keep theirs (3.09 MB either way). A fixed smaller dictionary limit, tried before,
///   cut the corpus's column but grew a repeating one;
/// - a dictionary that still outgrows the parquet crate's 1 MiB limit in a row group falls back
///   to `DELTA_LENGTH_BYTE_ARRAY` too, not to `PLAIN`.
///
/// Athena (Trino), DuckDB, pyarrow and this crate's reader read all of these in v1 pages; the
/// Parquet format prefers `DELTA_LENGTH_BYTE_ARRAY` to `PLAIN` for byte arrays, and Trino's own
/// writer falls back to it too.
fn properties(codec: Codec, dictionaries: bool) -> Result<WriterProperties, Error> {
    let compression = match codec {
        Codec::Snappy => Compression::SNAPPY,
        Codec::Gzip(level) => Compression::GZIP(GzipLevel::try_new(level)?),
    };
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("s3logs columnar {}", env!("CARGO_PKG_VERSION")));
    for column in &COLUMNS {
        let path = match column.kind {
            Kind::TextList => ColumnPath::from(vec![
                column.name.to_owned(),
                "list".to_owned(),
                "element".to_owned(),
            ]),
            _ => ColumnPath::from(column.name),
        };
        let statistics = if column.kind == Kind::Text && !column.dictionary {
            EnabledStatistics::None
        } else {
            EnabledStatistics::Chunk
        };
        builder = builder
            .set_column_dictionary_enabled(path.clone(), dictionaries && column.dictionary)
            .set_column_statistics_enabled(path.clone(), statistics);
        builder = match column.kind {
            Kind::Timestamp => builder.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
            // Without a dictionary this is the encoding; with one, the fallback.
            Kind::Text => builder.set_column_encoding(path, Encoding::DELTA_LENGTH_BYTE_ARRAY),
            Kind::Int32 | Kind::Int64 | Kind::TextList => builder,
        };
    }
    Ok(builder.build())
}
