//! Reads a Parquet file of [`crate::COLUMNS`] back into NDJSON records, row group by row
//! group and a few thousand rows at a time.
//!
//! The records are byte for byte what `s3_access_log::RecordEncoder` writes for the same line
//! (same keys, order, escaping, and keys left out when they do not apply), so the audit engine,
//! which reads records, gives the same hits whichever format it was handed. Memory holds one
//! page per column and one batch of rows, whatever the file's size.
//!
//! Columns are found by name, so files written by other tools with the same schema (pyarrow in
//! the Firehose stand-in, Firehose itself) read the same; columns we do not know are ignored.

use parquet::column::reader::{ColumnReader, ColumnReaderImpl, get_typed_column_reader};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type, Int96, Int96Type};
use parquet::file::reader::{ChunkReader, FileReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::ColumnDescriptor;
use s3_access_log::{LogTime, write_json_string};

use crate::columns::{COLUMNS, Kind, RECORD_ORDER};
use crate::error::Error;

/// Rows decoded per column per step.
const BATCH_ROWS: usize = 4096;

/// `true` when `head` (the first bytes of a file or object) starts with Parquet's magic.
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(b"PAR1")
}

/// Reads the records of one Parquet file.
pub struct RecordReader<R: ChunkReader + 'static> {
    file: SerializedFileReader<R>,
    /// Leaf column index in the file of each of our columns.
    leaves: [usize; COLUMNS.len()],
    next_row_group: usize,
    cursor: Option<Cursor>,
}

impl<R: ChunkReader + 'static> RecordReader<R> {
    /// Opens `input` (a `File`, or `bytes::Bytes` of a whole object) and checks that it has
    /// every column of ours with our type.
    pub fn new(input: R) -> Result<Self, Error> {
        let file = SerializedFileReader::new(input)?;
        let schema = file.metadata().file_metadata().schema_descr_ptr();
        let mut leaves = [0; COLUMNS.len()];
        for column in &COLUMNS {
            let leaf = (0..schema.num_columns())
                .find(|&i| schema.column(i).path().parts()[0] == column.name)
                .ok_or_else(|| Error::Schema(format!("no column {}", column.name)))?;
            check_type(column.kind, &schema.column(leaf))
                .map_err(|found| Error::Schema(format!("{} is {found}", column.name)))?;
            leaves[column.id as usize] = leaf;
        }
        Ok(RecordReader {
            file,
            leaves,
            next_row_group: 0,
            cursor: None,
        })
    }

    /// Number of rows in the file, from its footer.
    pub fn rows(&self) -> u64 {
        self.file.metadata().file_metadata().num_rows().max(0) as u64
    }

    /// Appends the next records to `out`, each a line ending in `\n`; returns how many, `0`
    /// at the end of the file.
    pub fn next_records(&mut self, out: &mut Vec<u8>) -> Result<usize, Error> {
        loop {
            if let Some(cursor) = &mut self.cursor {
                let rows = cursor.read_batch()?;
                if rows > 0 {
                    cursor.write_records(rows, out);
                    return Ok(rows);
                }
                self.cursor = None;
            }
            if self.next_row_group == self.file.num_row_groups() {
                return Ok(0);
            }
            let row_group = self.file.get_row_group(self.next_row_group)?;
            self.next_row_group += 1;
            let schema = self.file.metadata().file_metadata().schema_descr_ptr();
            let columns = self
                .leaves
                .iter()
                .map(|&leaf| {
                    Ok(Column::new(
                        &schema.column(leaf),
                        row_group.get_column_reader(leaf)?,
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            self.cursor = Some(Cursor { columns });
        }
    }
}

/// A [`RecordReader`] as a byte stream of NDJSON records, for code that reads records from a
/// `Read` (the audit engine): a Parquet file then reads like a decompressed NDJSON object.
pub struct NdjsonRead<R: ChunkReader + 'static> {
    records: RecordReader<R>,
    buffer: Vec<u8>,
    at: usize,
}

impl<R: ChunkReader + 'static> RecordReader<R> {
    /// This reader as a stream of NDJSON bytes.
    pub fn into_ndjson(self) -> NdjsonRead<R> {
        NdjsonRead {
            records: self,
            buffer: Vec::new(),
            at: 0,
        }
    }
}

impl<R: ChunkReader + 'static> std::io::Read for NdjsonRead<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
            self.records
                .next_records(&mut self.buffer)
                .map_err(std::io::Error::other)?;
        }
        let count = out.len().min(self.buffer.len() - self.at);
        out[..count].copy_from_slice(&self.buffer[self.at..self.at + count]);
        self.at += count;
        Ok(count)
    }
}

/// Checks a leaf column against the kind our table gives it; on a mismatch, says what it is.
/// A timestamp may also be `INT96`, which Hive-based writers (Firehose's conversion among
/// them) still produce.
fn check_type(kind: Kind, descriptor: &ColumnDescriptor) -> Result<(), String> {
    use parquet::basic::Type as Physical;
    let physical = descriptor.physical_type();
    let type_ok = match kind {
        Kind::Text | Kind::TextList => physical == Physical::BYTE_ARRAY,
        Kind::Int32 => physical == Physical::INT32,
        Kind::Int64 => physical == Physical::INT64,
        Kind::Timestamp => matches!(physical, Physical::INT64 | Physical::INT96),
    };
    if type_ok && (descriptor.max_rep_level() > 0) == (kind == Kind::TextList) {
        Ok(())
    } else {
        Err(format!(
            "{physical} with repetition level {}",
            descriptor.max_rep_level()
        ))
    }
}

/// How many units of an `INT64` timestamp make a second, from its annotation; milliseconds
/// when it has none.
fn units_per_second(descriptor: &ColumnDescriptor) -> i64 {
    use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
    match (descriptor.logical_type_ref(), descriptor.converted_type()) {
        (Some(LogicalType::Timestamp(t)), _) if t.unit == TimeUnit::MICROS => 1_000_000,
        (Some(LogicalType::Timestamp(t)), _) if t.unit == TimeUnit::NANOS => 1_000_000_000,
        (None, ConvertedType::TIMESTAMP_MICROS) => 1_000_000,
        _ => 1_000,
    }
}

/// The readers of one row group and the rows they last decoded.
struct Cursor {
    columns: Vec<Column>,
}

impl Cursor {
    /// Decodes the next rows of every column; returns the row count.
    fn read_batch(&mut self) -> Result<usize, Error> {
        let mut rows = None;
        for column in &mut self.columns {
            let read = column.read(BATCH_ROWS)?;
            if *rows.get_or_insert(read) != read {
                return Err(Error::Schema(
                    "columns of one row group have different row counts".into(),
                ));
            }
        }
        Ok(rows.unwrap_or(0))
    }

    fn write_records(&mut self, rows: usize, out: &mut Vec<u8>) {
        for _ in 0..rows {
            out.push(b'{');
            let mut first = true;
            for &(id, always_present) in RECORD_ORDER.iter() {
                let column = &mut self.columns[id as usize];
                let record = id.column();
                if !always_present && column.next_is_null() {
                    column.skip_row();
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.push(b'"');
                out.extend_from_slice(record.record_key.as_bytes());
                out.extend_from_slice(b"\":");
                column.write_value(record.kind, out);
            }
            out.extend_from_slice(b"}\n");
        }
    }
}

/// A typed reader and its decoded levels and values, consumed row by row.
struct Column {
    reader: Reader,
    defs: Vec<i16>,
    reps: Vec<i16>,
    /// Definition level of a present value; 0 for a `REQUIRED` column, which has no levels.
    max_def: i16,
    /// Whether a list's elements may be null (level `max_def - 1`).
    element_nullable: bool,
    /// Units per second of an `INT64` timestamp.
    units_per_second: i64,
    level: usize,
    value: usize,
}

enum Reader {
    Text(ColumnReaderImpl<ByteArrayType>, Vec<ByteArray>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Int96(ColumnReaderImpl<Int96Type>, Vec<Int96>),
}

impl Column {
    fn new(descriptor: &ColumnDescriptor, reader: ColumnReader) -> Self {
        let reader = match reader {
            ColumnReader::ByteArrayColumnReader(r) => Reader::Text(r, Vec::new()),
            ColumnReader::Int32ColumnReader(r) => Reader::Int32(r, Vec::new()),
            ColumnReader::Int96ColumnReader(r) => Reader::Int96(r, Vec::new()),
            // `check_type` admitted no other physical type.
            other => Reader::Int64(get_typed_column_reader(other), Vec::new()),
        };
        Column {
            reader,
            defs: Vec::new(),
            reps: Vec::new(),
            max_def: descriptor.max_def_level(),
            element_nullable: descriptor.self_type().is_optional(),
            units_per_second: units_per_second(descriptor),
            level: 0,
            value: 0,
        }
    }

    fn read(&mut self, rows: usize) -> Result<usize, Error> {
        self.defs.clear();
        self.reps.clear();
        self.level = 0;
        self.value = 0;
        let defs = Some(&mut self.defs);
        let reps = Some(&mut self.reps);
        let (records, _, _) = match &mut self.reader {
            Reader::Text(reader, values) => {
                values.clear();
                reader.read_records(rows, defs, reps, values)?
            }
            Reader::Int32(reader, values) => {
                values.clear();
                reader.read_records(rows, defs, reps, values)?
            }
            Reader::Int64(reader, values) => {
                values.clear();
                reader.read_records(rows, defs, reps, values)?
            }
            Reader::Int96(reader, values) => {
                values.clear();
                reader.read_records(rows, defs, reps, values)?
            }
        };
        Ok(records)
    }

    /// Whether the current row's value is null (for a list: the list itself).
    fn next_is_null(&self) -> bool {
        self.max_def > 0 && self.defs.get(self.level).is_none_or(|&level| level == 0)
    }

    /// Moves past a null row.
    fn skip_row(&mut self) {
        self.level += 1;
    }

    /// Writes the current row's value as JSON and moves to the next row.
    fn write_value(&mut self, kind: Kind, out: &mut Vec<u8>) {
        if kind == Kind::TextList {
            return self.write_list(out);
        }
        let present = self.max_def == 0 || self.defs.get(self.level) == Some(&self.max_def);
        self.level += 1;
        if !present {
            out.extend_from_slice(b"null");
            return;
        }
        let value = self.value;
        self.value += 1;
        match &self.reader {
            Reader::Text(_, values) => write_json_string(out, values[value].data()),
            Reader::Int32(_, values) => write_integer(out, i64::from(values[value])),
            Reader::Int64(_, values) if kind == Kind::Timestamp => {
                write_time(out, values[value].div_euclid(self.units_per_second));
            }
            Reader::Int64(_, values) => write_integer(out, values[value]),
            Reader::Int96(_, values) => write_time(out, values[value].to_seconds()),
        }
    }

    /// Writes the current row's list (`null`, `[]` or strings) and moves to the next row.
    fn write_list(&mut self, out: &mut Vec<u8>) {
        let Reader::Text(_, values) = &self.reader else {
            return;
        };
        if self.next_is_null() {
            self.level += 1;
            out.extend_from_slice(b"null");
            return;
        }
        out.push(b'[');
        let mut first = true;
        loop {
            let level = self.defs.get(self.level).copied().unwrap_or(self.max_def);
            let element = level == self.max_def;
            let null_element = self.element_nullable && level == self.max_def - 1;
            if element || null_element {
                if !first {
                    out.push(b',');
                }
                first = false;
                if element {
                    write_json_string(out, values[self.value].data());
                    self.value += 1;
                } else {
                    out.extend_from_slice(b"null");
                }
            }
            self.level += 1;
            if self.reps.get(self.level).is_none_or(|&rep| rep == 0) {
                break;
            }
        }
        out.push(b']');
    }
}

/// Writes a time as the record's `Timestamp`, `"YYYY-MM-DD HH:MM:SS"` in UTC.
fn write_time(out: &mut Vec<u8>, seconds: i64) {
    out.push(b'"');
    LogTime::from_epoch_seconds(seconds).write_utc(out);
    out.push(b'"');
}

fn write_integer(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use parquet::basic::{LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArrayType, Int32Type, Int64Type, Int96, Int96Type};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    use super::*;
    use crate::columns::ColumnId;
    use crate::schema::column_type;

    /// A one-row file as a Hive-based writer could make it: `request_time` is `INT96` and
    /// `record_id` is `REQUIRED`; every other column is ours, mostly null.
    fn hive_style_file() -> Bytes {
        let fields = COLUMNS
            .iter()
            .map(|column| {
                let built = match column.id {
                    ColumnId::RequestTime => Type::primitive_type_builder(column.name, Physical::INT96)
                        .with_repetition(Repetition::OPTIONAL)
                        .build(),
                    ColumnId::RecordId => Type::primitive_type_builder(column.name, Physical::BYTE_ARRAY)
                        .with_repetition(Repetition::REQUIRED)
                        .with_logical_type(Some(LogicalType::String))
                        .build(),
                    _ => column_type(column),
                };
                Arc::new(built.unwrap())
            })
            .collect();
        let schema = Arc::new(
            Type::group_type_builder("hive")
                .with_fields(fields)
                .build()
                .unwrap(),
        );
        let mut file = SerializedFileWriter::new(Vec::new(), schema, Default::default()).unwrap();
        let mut row_group = file.next_row_group().unwrap();
        for column in &COLUMNS {
            let mut writer = row_group.next_column().unwrap().unwrap();
            match (column.id, column.kind) {
                (ColumnId::RequestTime, _) => {
                    // 2019-02-06 00:00:38 UTC: Julian day 2458521, 38 s into the day.
                    let nanos: u64 = 38_000_000_000;
                    let mut time = Int96::new();
                    time.set_data(nanos as u32, (nanos >> 32) as u32, 2_458_521);
                    writer.typed::<Int96Type>().write_batch(&[time], Some(&[1]), None)
                }
                (ColumnId::RecordId, _) => writer.typed::<ByteArrayType>().write_batch(
                    &[ByteArray::from("00000000000000ff")],
                    None,
                    None,
                ),
                (ColumnId::LogFile, _) => writer.typed::<ByteArrayType>().write_batch(
                    &[ByteArray::from("s3://logs/hive")],
                    Some(&[1]),
                    None,
                ),
                (ColumnId::HttpStatus | ColumnId::SchemaVersion, _) => {
                    let value = if column.id == ColumnId::HttpStatus { 404 } else { 1 };
                    writer
                        .typed::<Int32Type>()
                        .write_batch(&[value], Some(&[1]), None)
                }
                (_, Kind::TextList) => {
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&[], Some(&[0]), Some(&[0]))
                }
                (_, Kind::Text) => writer.typed::<ByteArrayType>().write_batch(&[], Some(&[0]), None),
                (_, _) => writer.typed::<Int64Type>().write_batch(&[], Some(&[0]), None),
            }
            .unwrap();
            writer.close().unwrap();
        }
        row_group.close().unwrap();
        Bytes::from(file.into_inner().unwrap())
    }

    #[test]
    fn reads_int96_times_and_required_columns() {
        let mut reader = RecordReader::new(hive_style_file()).unwrap();
        let mut out = Vec::new();
        assert_eq!(reader.next_records(&mut out).unwrap(), 1);
        let record: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(record["Timestamp"], "2019-02-06 00:00:38");
        assert_eq!(record["RecordId"], "00000000000000ff");
        assert_eq!(record["HTTPstatus"], 404);
        assert_eq!(record["Bucket"], serde_json::Value::Null);
        assert_eq!(record["LogFile"], "s3://logs/hive");
        assert!(record.get("ExtraFields").is_none() && record.get("ParseError").is_none());
        assert_eq!(reader.next_records(&mut out).unwrap(), 0);
    }

    #[test]
    fn refuses_a_file_without_our_columns() {
        let schema = Arc::new(
            Type::group_type_builder("other")
                .with_fields(vec![Arc::new(
                    Type::primitive_type_builder("x", Physical::INT32)
                        .build()
                        .unwrap(),
                )])
                .build()
                .unwrap(),
        );
        let file = SerializedFileWriter::new(Vec::new(), schema, Default::default()).unwrap();
        let bytes = Bytes::from(file.into_inner().unwrap());
        let error = RecordReader::new(bytes).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("not a file of S3 access log records: no column bucket_name")
        );
    }
}
