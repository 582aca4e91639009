//! Why a line could not be parsed cleanly.
//!
//! Errors are small `Copy` values that name the field, because the pipeline turns every error
//! into data (`ParseError` in the record) rather than a failure, and a user reading a quarantined
//! record needs to know where the line went wrong.

use crate::Field;

/// What went wrong with one field of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The line ended before this field.
    #[error("missing (line ends early)")]
    Missing,
    /// Two separators in a row where a value was expected.
    #[error("empty")]
    Empty,
    /// A quoted field whose closing quote could not be found.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// Not a whole number, and not `-`.
    #[error("not a number")]
    NotANumber,
    /// A number too large for its type.
    #[error("number out of range")]
    OutOfRange,
    /// Not `[dd/Mon/yyyy:HH:MM:SS +hhmm]`.
    #[error("expected [dd/Mon/yyyy:HH:MM:SS +hhmm]")]
    BadTime,
    /// A bare field that contains spaces where S3 never writes them; typically two records
    /// merged into one line.
    #[error("unexpected spaces")]
    UnexpectedSpaces,
    /// A value outside the field's documented set, which means the fields before it shifted.
    #[error("unexpected value")]
    UnexpectedValue,
    /// Another record's `[time]` inside or right after this field: a record was cut short and
    /// the next one appended to it, so the fields from here on belong to another request.
    #[error("runs into another record (two lines merged)")]
    MergedRecord,
}

/// A line that could not be parsed cleanly, with the field where parsing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct ParseError {
    /// The field that failed.
    pub field: Field,
    /// How it failed.
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) const fn new(field: Field, kind: ErrorKind) -> Self {
        ParseError { field, kind }
    }
}
