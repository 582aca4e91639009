//! The record contract as data: every key of a JSON record, in order, with its column type
//! and its key in the compact record (`KeyStyle::Compact`).
//!
//! The Glue table in `template.yaml` and the Athena queries are written against these names; a
//! test compares the template's columns with this list so the two cannot drift apart.

use crate::Field;

/// The Athena/Glue type a key maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// JSON number that fits in 32 bits (`int`).
    Int,
    /// JSON number from 0 to 2^63 - 1 (`bigint`).
    BigInt,
    /// JSON string (`string`).
    String,
    /// JSON string `YYYY-MM-DD HH:MM:SS` in UTC (`timestamp`).
    Timestamp,
    /// JSON array of strings (`array<string>`).
    StringArray,
}

impl ColumnType {
    /// The type as Glue and Athena DDL spell it.
    pub const fn glue_type(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::BigInt => "bigint",
            ColumnType::String => "string",
            ColumnType::Timestamp => "timestamp",
            ColumnType::StringArray => "array<string>",
        }
    }
}

/// One key of the JSON record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The JSON key; the Glue column it fills is named in `columnar::COLUMNS`.
    pub name: &'static str,
    /// The key of the same value in the compact record, which Firehose's deserializer maps to
    /// the same column in Parquet mode.
    pub compact_name: &'static str,
    /// Its type.
    pub column_type: ColumnType,
    /// `false` for keys written only when they apply (`ExtraFields`, `ParseError`, `RawLine`).
    pub always_present: bool,
}

const fn column(
    name: &'static str,
    compact_name: &'static str,
    column_type: ColumnType,
    always_present: bool,
) -> Column {
    Column {
        name,
        compact_name,
        column_type,
        always_present,
    }
}

const fn field_column(field: Field) -> Column {
    let column_type = match field {
        Field::Timestamp => ColumnType::Timestamp,
        Field::HttpStatus => ColumnType::Int,
        Field::BytesSent | Field::ObjectSize | Field::TotalTime | Field::TurnAroundTime => ColumnType::BigInt,
        _ => ColumnType::String,
    };
    column(field.json_key(), field.compact_key(), column_type, true)
}

/// Every key of a record in the order it is written.
pub const COLUMNS: [Column; 33] = {
    let mut columns = [column("", "", ColumnType::String, true); 33];
    columns[0] = column("SchemaVersion", "v", ColumnType::Int, true);
    columns[1] = column("RecordId", "i", ColumnType::String, true);
    let mut index = 0;
    while index < Field::ALL.len() {
        columns[2 + index] = field_column(Field::ALL[index]);
        index += 1;
    }
    columns[29] = column("ExtraFields", "xf", ColumnType::StringArray, false);
    columns[30] = column("LogFile", "j", ColumnType::String, true);
    columns[31] = column("ParseError", "pe", ColumnType::String, false);
    columns[32] = column("RawLine", "rl", ColumnType::String, false);
    columns
};
