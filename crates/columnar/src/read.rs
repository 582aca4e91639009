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

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::reader::{ChunkReader, FileReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::ColumnDescriptor;
use s3_access_log::{LogTime, write_json_string};

use crate::columns::{COLUMNS, ColumnId, Kind};
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
    /// Our columns in the order their keys appear in a record, each with whether its key is
    /// written when the value is null.
    key_order: [(ColumnId, bool); COLUMNS.len()],
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
            key_order: key_order(),
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
                    cursor.write_records(rows, &self.key_order, out);
                    return Ok(rows);
                }
                self.cursor = None;
            }
            if self.next_row_group == self.file.num_row_groups() {
                return Ok(0);
            }
            let row_group = self.file.get_row_group(self.next_row_group)?;
            self.next_row_group += 1;
            let columns = self
                .leaves
                .iter()
                .zip(&COLUMNS)
                .map(|(&leaf, column)| Ok(Column::new(column.kind, row_group.get_column_reader(leaf)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            self.cursor = Some(Cursor { columns });
        }
    }
}

/// Our columns ordered as the record's keys (`s3_access_log::schema::COLUMNS`), with whether
/// the key is written when null.
fn key_order() -> [(ColumnId, bool); COLUMNS.len()] {
    let mut order = [(ColumnId::RecordId, true); COLUMNS.len()];
    for (slot, key) in order.iter_mut().zip(s3_access_log::schema::COLUMNS) {
        if let Some(column) = COLUMNS.iter().find(|column| column.record_key == key.name) {
            *slot = (column.id, key.always_present);
        }
    }
    order
}

/// Checks a leaf column against the kind our table gives it; on a mismatch, says what it is.
fn check_type(kind: Kind, descriptor: &ColumnDescriptor) -> Result<(), String> {
    use parquet::basic::Type as Physical;
    let expected = match kind {
        Kind::Text | Kind::TextList => Physical::BYTE_ARRAY,
        Kind::Int32 => Physical::INT32,
        Kind::Int64 | Kind::Timestamp => Physical::INT64,
    };
    let repeated = kind == Kind::TextList;
    if descriptor.physical_type() == expected && (descriptor.max_rep_level() > 0) == repeated {
        Ok(())
    } else {
        Err(format!(
            "{} with repetition level {}",
            descriptor.physical_type(),
            descriptor.max_rep_level()
        ))
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

    fn write_records(&mut self, rows: usize, key_order: &[(ColumnId, bool)], out: &mut Vec<u8>) {
        for _ in 0..rows {
            out.push(b'{');
            let mut first = true;
            for &(id, always_present) in key_order {
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
    /// Definition level of a present value (1, or 3 for a list element).
    present: i16,
    level: usize,
    value: usize,
}

enum Reader {
    Text(ColumnReaderImpl<ByteArrayType>, Vec<ByteArray>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
}

impl Column {
    fn new(kind: Kind, reader: ColumnReader) -> Self {
        let reader = match reader {
            ColumnReader::ByteArrayColumnReader(r) => Reader::Text(r, Vec::new()),
            ColumnReader::Int32ColumnReader(r) => Reader::Int32(r, Vec::new()),
            // `check_type` admitted only these three physical types.
            other => Reader::Int64(
                parquet::column::reader::get_typed_column_reader(other),
                Vec::new(),
            ),
        };
        Column {
            reader,
            defs: Vec::new(),
            reps: Vec::new(),
            present: if kind == Kind::TextList { 3 } else { 1 },
            level: 0,
            value: 0,
        }
    }

    fn read(&mut self, rows: usize) -> Result<usize, Error> {
        self.defs.clear();
        self.reps.clear();
        self.level = 0;
        self.value = 0;
        let reps = (self.present > 1).then_some(&mut self.reps);
        let (records, _, _) = match &mut self.reader {
            Reader::Text(reader, values) => {
                values.clear();
                reader.read_records(rows, Some(&mut self.defs), reps, values)?
            }
            Reader::Int32(reader, values) => {
                values.clear();
                reader.read_records(rows, Some(&mut self.defs), reps, values)?
            }
            Reader::Int64(reader, values) => {
                values.clear();
                reader.read_records(rows, Some(&mut self.defs), reps, values)?
            }
        };
        Ok(records)
    }

    /// Whether the current row's value is null (for a list: the list itself).
    fn next_is_null(&self) -> bool {
        self.defs.get(self.level).is_none_or(|&level| level == 0)
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
        let present = self.defs.get(self.level) == Some(&self.present);
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
                out.push(b'"');
                LogTime::from_epoch_seconds(values[value].div_euclid(1000)).write_utc(out);
                out.push(b'"');
            }
            Reader::Int64(_, values) => write_integer(out, values[value]),
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
            match self.defs[self.level] {
                3 => {
                    if !first {
                        out.push(b',');
                    }
                    write_json_string(out, values[self.value].data());
                    self.value += 1;
                    first = false;
                }
                2 => {
                    if !first {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"null");
                    first = false;
                }
                _ => {}
            }
            self.level += 1;
            if self.reps.get(self.level).is_none_or(|&rep| rep == 0) {
                break;
            }
        }
        out.push(b']');
    }
}

fn write_integer(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}
