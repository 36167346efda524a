//! The schema of the SQLite ledger: the numbered files of `host/service/migrations/`, compiled
//! in, applied in order inside a transaction each and recorded in `schema_migrations`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::ledger::{LedgerError, Result, now};

/// The migrations, in order: (version, file name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_ledger.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0001_ledger.sql"
        )),
    ),
    (
        2,
        "0002_lookup_indexes.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0002_lookup_indexes.sql"
        )),
    ),
    (
        3,
        "0003_idempotency_request.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0003_idempotency_request.sql"
        )),
    ),
    (
        4,
        "0004_gateway_capabilities.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0004_gateway_capabilities.sql"
        )),
    ),
    (
        5,
        "0005_reconcile_bounds.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0005_reconcile_bounds.sql"
        )),
    ),
    (
        6,
        "0006_held_for_review_attention.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/0006_held_for_review_attention.sql"
        )),
    ),
];

/// Applies the migrations not applied yet; returns the versions applied now. A database at a
/// version newer than this build knows is refused.
pub(super) fn migrate(conn: &mut Connection) -> Result<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let newest: Option<i64> = conn
        .prepare_cached("SELECT MAX(version) FROM schema_migrations")?
        .query_row([], |r| r.get(0))?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if let Some(v) = newest
        && v > known
    {
        return Err(LedgerError::Migration(format!(
            "the database is at schema version {v}, newer than this build ({known})"
        )));
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: bool = tx
            .prepare_cached("SELECT 1 FROM schema_migrations WHERE version = ?1")?
            .query_row([version], |_| Ok(()))
            .optional()?
            .is_some();
        if !done {
            tx.execute_batch(sql)
                .map_err(|e| LedgerError::Migration(format!("{name}: {e}")))?;
            tx.prepare_cached(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![version, name, now()])?;
            applied.push(*version);
        }
        tx.commit()?;
    }
    Ok(applied)
}

/// The applied migration versions, in order.
pub(super) fn applied(conn: &Connection) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached("SELECT version FROM schema_migrations ORDER BY version")?;
    let rows = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}
