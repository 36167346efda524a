//! The PostgreSQL driver as the shared queries (`ledger/queries/`) use it (the rusqlite-shaped
//! layer `compat`), and what they share: lists of placeholders and stored enums read back.
//!
//! The SQLite backend's `sql` module offers the same names over rusqlite, so that each query is
//! written once and compiled against both.

use crate::ledger::{LedgerError, Result};

pub(super) use super::cluster::alive;
pub(super) use super::compat::{
    Connection, OptionalExtension, Row, Value, params, params_from_iter,
};

/// What reading a row gives.
pub(super) type RowResult<T> = Result<T>;

/// Case-insensitive `LIKE`, as SQLite's.
pub(super) const LIKE: &str = "ILIKE";

/// Column `idx` holds what this build cannot read.
pub(super) fn column_error(idx: usize, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Database(format!("column {idx}: {e}"))
}

pub(super) use crate::ledger::queries::{and_status_in, placeholders};

/// Reads back an enum stored as text in column `idx`; a spelling this build does not know is an
/// error naming that column.
pub(super) fn parse_enum<T>(idx: usize, s: String, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(&s).ok_or_else(|| column_error(idx, format!("unexpected value {s:?}")))
}
