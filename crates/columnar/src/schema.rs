//! The Parquet schema of [`crate::COLUMNS`], built from the table and nothing else.
//!
//! Every column is `OPTIONAL`, as Firehose's record format conversion and pyarrow write them,
//! so files from the CLI and from Firehose have the same schema; which values can actually be
//! null is the table's `nulls` rule. `extra_fields` is the standard three-level list
//! (`optional group extra_fields (LIST) { repeated group list { optional binary element
//! (STRING); } }`), which Athena, DuckDB and pyarrow all read as `array<string>`.

use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::errors::ParquetError;
use parquet::schema::types::{Type, TypePtr};

use crate::columns::{COLUMNS, Column, Kind};

/// Name of the schema's root group.
const ROOT: &str = "s3_access_log_record";

/// The schema every file this crate writes has, and every file it reads must have.
pub fn parquet_schema() -> Result<TypePtr, ParquetError> {
    let fields = COLUMNS
        .iter()
        .map(|column| column_type(column).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(
        Type::group_type_builder(ROOT).with_fields(fields).build()?,
    ))
}

pub(crate) fn column_type(column: &Column) -> Result<Type, ParquetError> {
    let optional = |physical: PhysicalType, logical: Option<LogicalType>| {
        Type::primitive_type_builder(column.name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()
    };
    match column.kind {
        Kind::Text => optional(PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        Kind::Int32 => optional(PhysicalType::INT32, None),
        Kind::Int64 => optional(PhysicalType::INT64, None),
        Kind::Timestamp => optional(
            PhysicalType::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
        ),
        Kind::TextList => {
            let element = Type::primitive_type_builder("element", PhysicalType::BYTE_ARRAY)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(Some(LogicalType::String))
                .build()?;
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![Arc::new(element)])
                .build()?;
            Type::group_type_builder(column.name)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
        }
    }
}
