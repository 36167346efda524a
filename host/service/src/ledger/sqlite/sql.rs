//! The SQLite driver as the shared queries (`ledger/queries/`) use it, and what they share: lists
//! of placeholders, stored enums read back, and rusqlite's errors as ledger errors.
//!
//! The PostgreSQL backend's `sql` module offers the same names over its own driver, so that each
//! query is written once and compiled against both.

use crate::ledger::{LedgerError, Result};

pub(super) use rusqlite::types::Value;
pub(super) use rusqlite::{Row, params, params_from_iter};

/// A connection (the lifetime is the PostgreSQL backend's, whose connections borrow a pool's).
pub(super) type Connection<'a> = rusqlite::Connection;

/// What reading a row gives.
pub(super) type RowResult<T> = rusqlite::Result<T>;

/// Case-insensitive `LIKE` (SQLite's `LIKE` is, for ASCII).
pub(super) const LIKE: &str = "LIKE";

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Database(e.to_string())
    }
}

/// rusqlite's `optional`, as a ledger result.
pub(super) trait OptionalExtension<T> {
    /// `None` for no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for rusqlite::Result<T> {
    fn optional(self) -> Result<Option<T>> {
        Ok(rusqlite::OptionalExtension::optional(self)?)
    }
}

/// Column `idx` holds what this build cannot read.
pub(super) fn column_error(idx: usize, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        e.to_string().into(),
    )
}

/// Whether the instance `owner` is alive: a ledger on SQLite has one process, so a request
/// another owner left running is never waited for.
pub(super) fn alive(_conn: &Connection<'_>, _owner: &str) -> Result<bool> {
    Ok(false)
}

pub(super) use crate::ledger::queries::{and_status_in, placeholders};

/// Reads back an enum stored as text in column `idx`; a spelling this build does not know is a
/// conversion error of that column.
pub(super) fn parse_enum<T>(idx: usize, s: String, parse: fn(&str) -> Option<T>) -> RowResult<T> {
    parse(&s).ok_or_else(|| column_error(idx, format!("unexpected value {s:?}")))
}
