//! The schema of the PostgreSQL ledger: the numbered files of `migrations/` beside this module,
//! compiled in, applied in order inside a transaction each and recorded in `schema_migrations`,
//! while holding an advisory lock, so that instances starting together apply each once.

use postgres::Client;

use super::compat::pg_error;
use crate::ledger::{LedgerError, Result, now};

/// The migrations, in order: (version, file name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_ledger.sql",
        include_str!("migrations/0001_ledger.sql"),
    ),
    (
        2,
        "0002_cluster.sql",
        include_str!("migrations/0002_cluster.sql"),
    ),
    (
        3,
        "0003_held_for_review_attention.sql",
        include_str!("migrations/0003_held_for_review_attention.sql"),
    ),
];

/// The advisory lock held while migrating (the first key of the ledger's advisory locks).
pub(super) const MIGRATION_LOCK: i64 = 0x6f6d_6e69_0001;

/// Applies the migrations not applied yet; returns the versions applied now. A database at a
/// version newer than this build knows is refused.
pub(super) fn migrate(client: &mut Client) -> Result<Vec<i64>> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_error)?;
    let result = apply(client);
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_error);
    let applied = result?;
    unlocked?;
    Ok(applied)
}

fn apply(client: &mut Client) -> Result<Vec<i64>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .map_err(pg_error)?;
    let newest: Option<i64> = client
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .map_err(pg_error)?
        .get(0);
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
        let mut tx = client.transaction().map_err(pg_error)?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .map_err(pg_error)?
            .is_some();
        if !done {
            tx.batch_execute(sql)
                .map_err(|e| LedgerError::Migration(format!("{name}: {}", pg_error(e))))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[version, name, &now()],
            )
            .map_err(pg_error)?;
            applied.push(*version);
        }
        tx.commit().map_err(pg_error)?;
    }
    Ok(applied)
}

/// The applied migration versions, in order.
pub(super) fn applied(client: &mut Client) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}
