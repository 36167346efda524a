//! The ledger's errors, independent of the backend that stores it.

/// Errors of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A row this operation needs does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of row.
        kind: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The request conflicts with what is stored.
    #[error("{field}: {message}")]
    Conflict {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A refund asks for more than what remains to refund.
    #[error("amount: refund of {requested} exceeds the {remaining} that remains refundable")]
    RefundExceeds {
        /// Asked for.
        requested: i64,
        /// What can still be refunded.
        remaining: i64,
    },
    /// A capture asks for more than what remains authorized.
    #[error("amount: capture of {requested} exceeds the {remaining} that remains authorized")]
    CaptureExceeds {
        /// Asked for.
        requested: i64,
        /// What can still be captured.
        remaining: i64,
    },
    /// A migration failed or the schema is newer than this build.
    #[error("migration error: {0}")]
    Migration(String),
    /// The blocking task running the call failed.
    #[error("ledger task failed: {0}")]
    Task(String),
}

/// Result of ledger calls.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
