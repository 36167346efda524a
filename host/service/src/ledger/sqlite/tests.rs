//! Tests of the SQLite ledger: the backend-independent suite on a file and in memory, then what
//! only SQLite has (pragmas, migration files, query plans, group commit).

use std::sync::Arc;

use rusqlite::Connection;

use super::customers::CARD_COLS;
use super::gateway_events::{DISPUTE_COLS, DISPUTES_OF_TXN};
use super::operations::{OP_COLS, operations_for_query};
use super::refunds::REFUND_COLS;
use super::transactions::TXN_COLS;
use super::*;
use crate::ledger::suite::{Backend, new_txn};

/// A fresh ledger in a file of a temporary directory, durable as in production.
fn on_file() -> Backend {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ledger =
        SqliteLedger::open(&dir.path().join("ledger.db"), Durability::Full).expect("ledger");
    Backend::new(Arc::new(ledger)).keeping(dir)
}

/// A fresh in-memory ledger (one connection for reads and writes).
fn in_memory() -> Backend {
    Backend::new(Arc::new(SqliteLedger::in_memory().expect("ledger")))
}

mod suite_on_file {
    crate::ledger::suite::ledger_suite!(super::on_file());
}

mod suite_in_memory {
    crate::ledger::suite::ledger_suite!(super::in_memory());
}

/// One pragma of a connection, as text.
fn pragma(c: &Connection, name: &str) -> String {
    c.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(s) => s,
        other => format!("{other:?}"),
    })
    .unwrap()
}

#[test]
fn durability_sets_synchronous_and_the_file_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    for (durability, synchronous) in [(Durability::Full, "2"), (Durability::Normal, "1")] {
        let path = dir.path().join(format!("{durability:?}.db"));
        let l = SqliteLedger::open(&path, durability).unwrap();
        l.db.with_writer(|c| {
            assert_eq!(pragma(c, "synchronous"), synchronous, "{durability:?}");
            assert_eq!(pragma(c, "journal_mode"), "wal");
            assert_eq!(pragma(c, "foreign_keys"), "1");
        });
        // Readers answer from the same file and cannot write.
        l.db.read(|c| {
            assert_eq!(pragma(c, "query_only"), "1");
            assert!(
                c.execute("DELETE FROM transactions", []).is_err(),
                "a read connection refuses writes"
            );
            Ok(())
        })
        .unwrap();
    }
    let l = SqliteLedger::in_memory().unwrap();
    l.db.with_writer(|c| {
        assert_eq!(pragma(c, "synchronous"), "1");
        assert_eq!(pragma(c, "foreign_keys"), "1");
    });
}

#[test]
fn migrations_are_recorded_and_every_file_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let l = SqliteLedger::open(&path, Durability::Full).unwrap();
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(l.applied_migrations().unwrap(), all);
    drop(l);
    let l = SqliteLedger::open(&path, Durability::Normal).unwrap();
    assert!(l.migrate().unwrap().is_empty(), "reopening applies nothing");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<String> = MIGRATIONS.iter().map(|m| m.1.to_string()).collect();
    assert_eq!(
        files, listed,
        "every migration file must be listed in MIGRATIONS, in order"
    );
    for (i, (v, name, _)) in MIGRATIONS.iter().enumerate() {
        assert_eq!(*v, i as i64 + 1);
        assert!(name.starts_with(&format!("{v:04}_")));
    }
}

#[test]
fn a_ledger_migrated_from_version_5_flags_its_held_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let l = SqliteLedger::open(&path, Durability::Full).unwrap();
    let (held, _) = l.insert_transaction(&new_txn("c1", 500, "k-held")).unwrap();
    let (plain, _) = l
        .insert_transaction(&new_txn("c1", 500, "k-plain"))
        .unwrap();
    drop(l);
    // As version 5 left a charge held for review: why in `last_error` only.
    let c = Connection::open(&path).unwrap();
    c.execute(
        "UPDATE transactions SET status = 'held_for_review', last_error = 'broke the contract'
         WHERE id = ?1",
        [held.id],
    )
    .unwrap();
    c.execute("DELETE FROM schema_migrations WHERE version >= 6", [])
        .unwrap();
    drop(c);
    let l = SqliteLedger::open(&path, Durability::Full).unwrap();
    let attention = |id| l.transaction(id).unwrap().unwrap().attention;
    assert_eq!(attention(held.id).as_deref(), Some("broke the contract"));
    assert_eq!(attention(plain.id), None);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(SqliteLedger::open(&path, Durability::Full).unwrap());
    let c = Connection::open(&path).unwrap();
    c.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)", [])
        .unwrap();
    drop(c);
    assert!(matches!(
        SqliteLedger::open(&path, Durability::Full),
        Err(LedgerError::Migration(_))
    ));
}

/// The query plan of `sql`, one line per step.
fn plan(c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> String {
    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = st
        .query_map(args, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    rows.join("\n")
}

#[test]
fn hot_lookups_use_indexes() {
    let l = SqliteLedger::in_memory().unwrap();
    l.db.with_writer(|c| {
        let scans = |sql: &str, args: &[&dyn rusqlite::ToSql]| {
            let p = plan(c, sql, args);
            assert!(
                !p.lines().any(|s| s.starts_with("SCAN ")),
                "full scan in the plan of {sql}:\n{p}"
            );
            p
        };
        for (t, i) in [(Some(1), None), (None, Some(2)), (Some(1), Some(2))] {
            let (sql, args) = operations_for_query(t, i);
            let args: Vec<&dyn rusqlite::ToSql> =
                args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
            let p = scans(&sql.unwrap(), &args);
            assert!(p.contains("operations_"), "{p}");
        }
        let one = &1i64 as &dyn rusqlite::ToSql;
        let text = &"x" as &dyn rusqlite::ToSql;
        for (sql, args) in [
            (
                format!("SELECT {OP_COLS} FROM operations WHERE idempotency_key = ?1"),
                vec![text],
            ),
            (
                format!("SELECT {OP_COLS} FROM operations WHERE id = ?1"),
                vec![one],
            ),
            (
                format!("SELECT {TXN_COLS} FROM transactions WHERE id = ?1"),
                vec![one],
            ),
            (
                format!("SELECT {TXN_COLS} FROM transactions WHERE idempotency_key = ?1"),
                vec![text],
            ),
            (
                format!(
                    "SELECT {TXN_COLS} FROM transactions \
                     WHERE gateway = ?1 AND gateway_payment_ref = ?2"
                ),
                vec![text, text],
            ),
            (
                format!(
                    "SELECT {CARD_COLS} FROM cards \
                     WHERE crm_customer_id = ?1 AND removed_at IS NULL"
                ),
                vec![text],
            ),
            (
                "SELECT gateway_customer_ref FROM customers WHERE crm_customer_id = ?1".to_string(),
                vec![text],
            ),
            (
                format!("SELECT {REFUND_COLS} FROM refunds WHERE transaction_id = ?1"),
                vec![one],
            ),
            (
                format!("SELECT {DISPUTE_COLS} FROM disputes WHERE {DISPUTES_OF_TXN}"),
                vec![one],
            ),
            (
                "SELECT request_hash FROM api_idempotency WHERE scope = ?1 AND key = ?2"
                    .to_string(),
                vec![text, text],
            ),
        ] {
            scans(&sql, &args);
        }
    });
}

#[test]
fn concurrent_writes_share_commits_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let l = Arc::new(SqliteLedger::open(&dir.path().join("ledger.db"), Durability::Full).unwrap());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let l = l.clone();
            std::thread::spawn(move || {
                for j in 0..20 {
                    let key = format!("k-{i}-{j}");
                    let (t, created) = l.insert_transaction(&new_txn("c1", 100, &key)).unwrap();
                    assert!(created);
                    // Visible to reads at once: the write returned after its commit.
                    assert_eq!(l.transaction(t.id).unwrap().unwrap().idempotency_key, key);
                    // A failing write in the same batches undoes only itself.
                    let failed = l.db.write(|c| {
                        c.execute("DELETE FROM transactions WHERE id = ?1", [t.id])?;
                        Err::<(), _>(LedgerError::Database("refused".into()))
                    });
                    assert!(failed.is_err());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(l.transactions(&TxnFilter::default()).unwrap().len(), 320);
    assert!(!l.db.batch_open(), "no batch is left open");
    // A panicking write leaves the ledger usable.
    let l2 = l.clone();
    let panicked = std::thread::spawn(move || {
        l2.db.write(|c| -> Result<()> {
            c.execute("DELETE FROM transactions", [])?;
            panic!("boom")
        })
    })
    .join();
    assert!(panicked.is_err());
    assert_eq!(l.transactions(&TxnFilter::default()).unwrap().len(), 320);
    l.insert_transaction(&new_txn("c1", 100, "after")).unwrap();
    drop(l);
    let l = SqliteLedger::open(&dir.path().join("ledger.db"), Durability::Full).unwrap();
    assert_eq!(l.transactions(&TxnFilter::default()).unwrap().len(), 321);
}
