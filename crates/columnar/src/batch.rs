//! The rows of one row group, held column by column until the row group is written.
//!
//! Parquet writes a row group one column at a time, so rows that arrive one by one must wait in
//! per-column buffers: text as one byte buffer plus end offsets, numbers as `i64`, and a
//! definition level per value (1 present, 0 null). [`Batch::bytes`] tells the writer when the
//! row group is big enough to flush, which is what bounds memory. Holding a whole row group also
//! lets each dictionary candidate's values be counted before its column is written
//! ([`crate::dictionary`]).
//!
//! Text is stored as valid UTF-8, with invalid sequences replaced by U+FFFD exactly as the JSON
//! record writer replaces them, so a row and its NDJSON record carry the same characters.

use bytes::Bytes;
use parquet::column::writer::{ColumnCloseResult, get_column_writer, get_typed_column_writer};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterPropertiesPtr;
use parquet::file::writer::{SerializedPageWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::SchemaDescriptor;

use crate::columns::{COLUMNS, ColumnId, Kind};
use crate::dictionary;

/// Rows handed to the Parquet column writer per call: bounds the temporary `ByteArray` vector.
const WRITE_CHUNK: usize = 4096;

/// Buffer bytes counted per value on top of its text: offsets and levels.
const VALUE_OVERHEAD: usize = 10;

/// One column's buffered values.
enum Buffer {
    /// Text: value bytes back to back, the end offset of each present value, a level per row.
    Text {
        data: Vec<u8>,
        ends: Vec<usize>,
        defs: Vec<i16>,
    },
    /// Integers and timestamps, one per present value, and a level per row.
    Int { values: Vec<i64>, defs: Vec<i16> },
    /// A list of text per row: elements back to back, and a definition and a repetition level
    /// per element (or per null or empty list), as Parquet stores them.
    List {
        data: Vec<u8>,
        ends: Vec<usize>,
        defs: Vec<i16>,
        reps: Vec<i16>,
    },
}

/// Definition levels of the three-level list: null list, empty list, null element, element.
const LIST_NULL: i16 = 0;
const LIST_ELEMENT: i16 = 3;

/// What a row group needs to write a dictionary candidate's chunk without its dictionary: the
/// file writer's properties are fixed for the file, so such a chunk is written into memory with
/// properties of its own and appended to the row group whole.
pub(crate) struct WithoutDictionary {
    /// The file's schema, for the column's descriptor.
    pub(crate) schema: SchemaDescriptor,
    /// The file's properties with every dictionary off.
    pub(crate) properties: WriterPropertiesPtr,
}

/// Buffered rows of one row group.
pub(crate) struct Batch {
    columns: Vec<Buffer>,
    rows: usize,
    bytes: usize,
}

impl Batch {
    pub(crate) fn new() -> Self {
        let columns = COLUMNS
            .iter()
            .map(|column| match column.kind {
                Kind::Text => Buffer::Text {
                    data: Vec::new(),
                    ends: Vec::new(),
                    defs: Vec::new(),
                },
                Kind::Int32 | Kind::Int64 | Kind::Timestamp => Buffer::Int {
                    values: Vec::new(),
                    defs: Vec::new(),
                },
                Kind::TextList => Buffer::List {
                    data: Vec::new(),
                    ends: Vec::new(),
                    defs: Vec::new(),
                    reps: Vec::new(),
                },
            })
            .collect();
        Batch {
            columns,
            rows: 0,
            bytes: 0,
        }
    }

    /// Rows buffered.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate bytes buffered.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends a text value (or null) to a text column.
    pub(crate) fn push_text(&mut self, id: ColumnId, value: Option<&[u8]>) {
        self.push_text_checked(id, value, false);
    }

    /// Appends a text value (or null) known to be valid UTF-8 (a piece of a line already
    /// checked whole, cut at ASCII separators), which saves checking each value again.
    pub(crate) fn push_valid_text(&mut self, id: ColumnId, value: Option<&[u8]>) {
        self.push_text_checked(id, value, true);
    }

    fn push_text_checked(&mut self, id: ColumnId, value: Option<&[u8]>, valid: bool) {
        if let Buffer::Text { data, ends, defs } = &mut self.columns[id as usize] {
            match value {
                Some(value) => {
                    if valid {
                        data.extend_from_slice(value);
                    } else {
                        push_utf8_lossy(data, value);
                    }
                    ends.push(data.len());
                    defs.push(1);
                    self.bytes += value.len() + VALUE_OVERHEAD;
                }
                None => {
                    defs.push(0);
                    self.bytes += VALUE_OVERHEAD;
                }
            }
        }
    }

    /// Appends an integer (or null) to an integer or timestamp column.
    pub(crate) fn push_int(&mut self, id: ColumnId, value: Option<i64>) {
        if let Buffer::Int { values, defs } = &mut self.columns[id as usize] {
            match value {
                Some(value) => {
                    values.push(value);
                    defs.push(1);
                }
                None => defs.push(0),
            }
            self.bytes += VALUE_OVERHEAD;
        }
    }

    /// Appends a list of text (or null) to a list column.
    pub(crate) fn push_list<'v>(&mut self, id: ColumnId, list: Option<impl Iterator<Item = &'v [u8]>>) {
        if let Buffer::List {
            data,
            ends,
            defs,
            reps,
        } = &mut self.columns[id as usize]
        {
            let Some(list) = list else {
                defs.push(LIST_NULL);
                reps.push(0);
                self.bytes += VALUE_OVERHEAD;
                return;
            };
            let start = defs.len();
            for element in list {
                push_utf8_lossy(data, element);
                ends.push(data.len());
                defs.push(LIST_ELEMENT);
                reps.push(if defs.len() - 1 == start { 0 } else { 1 });
                self.bytes += element.len() + VALUE_OVERHEAD;
            }
            if defs.len() == start {
                // An empty list: one level entry saying so.
                defs.push(LIST_ELEMENT - 2);
                reps.push(0);
            }
        }
    }

    /// Ends the current row; every column must have had exactly one push since the last.
    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
    }

    /// Writes every column into `row_group` and empties the batch. A text column the table
    /// marks for a dictionary gets one only where [`dictionary::pays`] for this row group's
    /// values; otherwise it goes through `without`.
    pub(crate) fn write_to<W: std::io::Write + Send>(
        &mut self,
        row_group: &mut SerializedRowGroupWriter<'_, W>,
        without: &WithoutDictionary,
    ) -> Result<(), ParquetError> {
        for (index, (buffer, column)) in self.columns.iter_mut().zip(COLUMNS.iter()).enumerate() {
            if let Buffer::Text { data, ends, defs } = buffer
                && column.dictionary
                && !dictionary::pays(data, ends)
            {
                let (chunk, close) = write_text_without_dictionary(index, without, data, ends, defs)?;
                row_group.append_column(&chunk, close)?;
                continue;
            }
            let mut writer = row_group
                .next_column()?
                .ok_or_else(|| ParquetError::General(format!("schema lacks {}", column.name)))?;
            match buffer {
                Buffer::Text { data, ends, defs } => {
                    let shared = write_text(writer.typed::<ByteArrayType>(), data, ends, defs, None)?;
                    writer.close()?;
                    reclaim(data, shared);
                }
                Buffer::List {
                    data,
                    ends,
                    defs,
                    reps,
                } => {
                    let shared = write_text(writer.typed::<ByteArrayType>(), data, ends, defs, Some(reps))?;
                    writer.close()?;
                    reclaim(data, shared);
                }
                Buffer::Int { values, defs } if column.kind == Kind::Int32 => {
                    let narrow: Vec<i32> = values.iter().map(|&v| v as i32).collect();
                    writer
                        .typed::<Int32Type>()
                        .write_batch(&narrow, Some(defs), None)?;
                    writer.close()?;
                    values.clear();
                    defs.clear();
                }
                Buffer::Int { values, defs } => {
                    writer
                        .typed::<Int64Type>()
                        .write_batch(values, Some(defs), None)?;
                    writer.close()?;
                    values.clear();
                    defs.clear();
                }
            }
        }
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// Writes text column `index` into a chunk of its own in memory with `without`'s properties,
/// and returns the chunk with what the row group needs to append it.
fn write_text_without_dictionary(
    index: usize,
    without: &WithoutDictionary,
    data: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    defs: &mut Vec<i16>,
) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
    let mut sink = TrackedWrite::new(Vec::new());
    let pages = Box::new(SerializedPageWriter::new(&mut sink));
    let descriptor = without.schema.column(index);
    let writer = get_column_writer(descriptor, without.properties.clone(), pages);
    let mut writer = get_typed_column_writer::<ByteArrayType>(writer);
    let shared = write_text(&mut writer, data, ends, defs, None)?;
    let close = writer.close()?;
    reclaim(data, shared);
    Ok((Bytes::from(sink.into_inner()?), close))
}

/// Writes a text or list column in chunks of level entries, slicing values out of one shared
/// buffer instead of allocating each; returns that buffer, for [`reclaim`] once the column
/// writer is closed.
fn write_text(
    writer: &mut parquet::column::writer::ColumnWriterImpl<'_, ByteArrayType>,
    data: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    defs: &mut Vec<i16>,
    reps: Option<&mut Vec<i16>>,
) -> Result<Bytes, ParquetError> {
    let present = if reps.is_some() { LIST_ELEMENT } else { 1 };
    // A list's levels go in one call: a chunk must not start inside a row's list.
    let chunk_size = if reps.is_some() {
        defs.len().max(1)
    } else {
        WRITE_CHUNK
    };
    let shared = Bytes::from(std::mem::take(data));
    let mut values = Vec::with_capacity(WRITE_CHUNK);
    let (mut value, mut start) = (0, 0);
    for (chunk_index, levels) in defs.chunks(chunk_size).enumerate() {
        values.clear();
        for _ in levels.iter().filter(|&&level| level == present) {
            values.push(ByteArray::from(shared.slice(start..ends[value])));
            start = ends[value];
            value += 1;
        }
        let at = chunk_index * chunk_size;
        let rep_levels = reps.as_deref().map(|reps| &reps[at..at + levels.len()]);
        writer.write_batch(&values, Some(levels), rep_levels)?;
    }
    ends.clear();
    defs.clear();
    if let Some(reps) = reps {
        reps.clear();
    }
    Ok(shared)
}

/// Takes the value buffer's allocation back once the column writer has dropped its slices:
/// freeing and regrowing it for every row group costs page faults.
fn reclaim(data: &mut Vec<u8>, shared: Bytes) {
    if let Ok(unique) = shared.try_into_mut() {
        *data = Vec::from(unique);
        data.clear();
    }
}

/// Appends `bytes` as UTF-8, replacing invalid sequences with U+FFFD the way
/// `s3_access_log::write_json_string` does (one per maximal invalid sequence).
fn push_utf8_lossy(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(_) => out.extend_from_slice(bytes),
        Err(_) => out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
    }
}
