//! Reads one NDJSON record of `docs/record.md` into a row of [`crate::COLUMNS`].
//!
//! The CLI's `run` and the Firehose stand-in hold records, not lines, so they write Parquet
//! from records. Keys are looked up in the column table, so a record key and its column cannot
//! disagree; a key the table does not know is an error rather than a silently dropped value.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::batch::Batch;
use crate::columns::{COLUMNS, ColumnId, Kind, RECORD_ORDER};
use crate::error::Error;
use crate::write::{push_number, timestamp_millis};

/// One value of a record, borrowed from the JSON line where it needs no unescaping.
#[derive(Debug, Default)]
enum Value<'a> {
    /// Key absent or `null`.
    #[default]
    Null,
    Text(Cow<'a, str>),
    Number(u64),
    List(Vec<Cow<'a, str>>),
}

/// The values of one record, indexed like [`COLUMNS`].
pub(crate) struct RecordRow<'a> {
    values: [Value<'a>; COLUMNS.len()],
}

impl<'a> RecordRow<'a> {
    /// Parses one record line.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self, Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(line);
        let row = deserializer
            .deserialize_map(RowVisitor)
            .and_then(|row| deserializer.end().map(|()| row))
            .map_err(|error| Error::Record(error.to_string()))?;
        let time = &row.values[ColumnId::RequestTime as usize];
        if let Value::Text(text) = time
            && timestamp_millis(text).is_none()
        {
            return Err(Error::Record(format!(
                "Timestamp {text:?} is not YYYY-MM-DD HH:MM:SS"
            )));
        }
        Ok(row)
    }

    /// Pushes the row into `batch`; returns whether it is quarantined (has `parse_error`).
    pub(crate) fn push_into(mut self, batch: &mut Batch) -> bool {
        let mut overflow = None;
        let quarantine = [ColumnId::ParseError, ColumnId::RawLine];
        for column in COLUMNS.iter().filter(|column| !quarantine.contains(&column.id)) {
            match std::mem::take(&mut self.values[column.id as usize]) {
                Value::Text(text) if column.kind == Kind::Timestamp => {
                    batch.push_int(column.id, timestamp_millis(&text));
                }
                Value::Text(text) => batch.push_text(column.id, Some(text.as_bytes())),
                Value::Number(number) => {
                    if let Err(message) = push_number(batch, column.id, Some(number)) {
                        overflow.get_or_insert(message);
                    }
                }
                Value::List(list) => {
                    batch.push_list(column.id, Some(list.iter().map(|text| text.as_bytes())));
                }
                Value::Null => push_null(batch, column.id),
            }
        }
        let reason = match (self.text(ColumnId::ParseError), overflow) {
            (Some(reason), Some(overflow)) => Some(format!("{reason}; {overflow}")),
            (Some(reason), None) => Some(reason.to_owned()),
            (None, overflow) => overflow,
        };
        batch.push_text(ColumnId::ParseError, reason.as_deref().map(str::as_bytes));
        batch.push_text(ColumnId::RawLine, self.text(ColumnId::RawLine).map(str::as_bytes));
        reason.is_some()
    }

    fn text(&self, id: ColumnId) -> Option<&str> {
        match &self.values[id as usize] {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

fn push_null(batch: &mut Batch, id: ColumnId) {
    match id.column().kind {
        Kind::Text => batch.push_text(id, None),
        Kind::TextList => batch.push_list(id, None::<std::iter::Empty<&[u8]>>),
        Kind::Int32 | Kind::Int64 | Kind::Timestamp => batch.push_int(id, None),
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = RecordRow<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with the keys of docs/record.md")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut row = RecordRow {
            values: std::array::from_fn(|_| Value::Null),
        };
        // Keys nearly always come in the encoder's order: try the one after the last first.
        let mut next = 0;
        while let Some(BorrowedText(key)) = map.next_key()? {
            let at = (next..RECORD_ORDER.len())
                .chain(0..next)
                .find(|&at| RECORD_ORDER[at].0.column().record_key == key)
                .ok_or_else(|| de::Error::custom(format!("unknown key {key:?}")))?;
            next = at + 1;
            let column = RECORD_ORDER[at].0.column();
            row.values[column.id as usize] = map.next_value_seed(ValueSeed(column.kind))?;
        }
        Ok(row)
    }
}

/// Deserializes one value as its column's kind wants it.
struct ValueSeed(Kind);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            Kind::Text | Kind::Timestamp => Option::<BorrowedText<'de>>::deserialize(deserializer)?
                .map_or(Value::Null, |text| Value::Text(text.0)),
            Kind::Int32 | Kind::Int64 => {
                Option::<u64>::deserialize(deserializer)?.map_or(Value::Null, Value::Number)
            }
            Kind::TextList => Option::<Vec<BorrowedText<'de>>>::deserialize(deserializer)?
                .map_or(Value::Null, |list| {
                    Value::List(list.into_iter().map(|text| text.0).collect())
                }),
        })
    }
}

/// A JSON string, borrowed from the input when it has no escapes (a plain `Cow<str>` always
/// allocates).
#[derive(Deserialize)]
struct BorrowedText<'a>(#[serde(borrow)] Cow<'a, str>);
