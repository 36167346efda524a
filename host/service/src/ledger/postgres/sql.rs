//! What the queries of the PostgreSQL ledger share: lists of placeholders and stored enums read
//! back.

use crate::ledger::{LedgerError, Result};

/// `n` placeholders separated by commas, for an `IN (...)` list.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Reads back an enum stored as text in column `idx`; a spelling this build does not know is an
/// error naming that column.
pub(super) fn parse_enum<T>(idx: usize, s: String, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(&s).ok_or_else(|| LedgerError::Database(format!("column {idx}: unexpected value {s:?}")))
}
