//! What the queries of the SQLite ledger share: lists of placeholders, stored enums read back,
//! and rusqlite's errors as ledger errors.

use crate::ledger::LedgerError;

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Database(e.to_string())
    }
}

/// `n` placeholders separated by commas, for an `IN (...)` list.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Reads back an enum stored as text in column `idx`; a spelling this build does not know is a
/// conversion error of that column.
pub(super) fn parse_enum<T>(
    idx: usize,
    s: String,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value {s:?}").into(),
        )
    })
}
