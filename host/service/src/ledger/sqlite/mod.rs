//! The embedded ledger on SQLite (WAL mode).
//!
//! Writes go through one writer connection with group commit and reads through a small pool of
//! read connections (`connections`): no write returns before the commit that holds it is
//! durable, so an intent written before a gateway call is on disk before the call, and an
//! outcome is on disk before the API answers. An in-memory ledger has a single connection for
//! both.
//!
//! This module opens the connections, sets their pragmas and applies the migrations
//! (`migrations`); the queries, one module per job, are those both SQL backends share
//! (`ledger/queries/`), compiled here against rusqlite (`sql`), and [`SqliteLedger`]'s [`Ledger`]
//! methods hand each call to them.

#[path = "../queries/captures.rs"]
mod captures;
#[path = "../queries/claims.rs"]
mod claims;
mod connections;
#[path = "../queries/customers.rs"]
mod customers;
#[path = "../queries/gateway_events.rs"]
mod gateway_events;
#[path = "../queries/idempotency.rs"]
mod idempotency;
#[path = "../queries/invoices.rs"]
mod invoices;
mod migrations;
#[path = "../queries/operations.rs"]
mod operations;
#[path = "../queries/refunds.rs"]
mod refunds;
mod sql;
#[path = "../queries/totals.rs"]
mod totals;
#[path = "../queries/transactions.rs"]
mod transactions;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params};

use self::connections::Connections;
pub use self::migrations::MIGRATIONS;
use crate::ledger::{
    Begun, CaptureRecord, CaptureStatus, Card, CardDetails, CustomerLink, Dispute, DisputeUpdate,
    DueClaim, Durability, IdemBegin, Invoice, InvoiceFilter, InvoicePatch, InvoiceStatus, Ledger,
    LedgerError, LedgerFigures, LedgerTotals, NewCard, NewInvoice, NewOperation, NewTransaction,
    OpKind, OpState, Operation, PaymentChangeBuilder, Refund, RefundStatus, Result, Transaction,
    Ts, TxnFilter, TxnPatch, TxnStatus,
};

/// Read connections of a ledger on a file.
const READERS: usize = 4;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;
/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite ledger.
pub struct SqliteLedger {
    db: Connections,
}

impl SqliteLedger {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                LedgerError::Database(format!("creating {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        let mut ledger = Self::setup(conn, durability)?;
        for _ in 0..READERS {
            let reader = Connection::open(path)?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            reader.execute_batch("PRAGMA query_only=ON;")?;
            ledger.db.add_reader(reader);
        }
        Ok(ledger)
    }

    /// An in-memory ledger (tests).
    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?, Durability::Normal)
    }

    /// Sets the writer connection's pragmas and brings its schema up to date.
    fn setup(conn: Connection, durability: Durability) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let _mode: String = conn
            .prepare_cached("PRAGMA journal_mode=WAL")?
            .query_row([], |r| r.get(0))?;
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            Durability::Normal => "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        })?;
        let ledger = SqliteLedger {
            db: Connections::new(conn),
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Applies the migrations not applied yet; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<i64>> {
        self.db.with_writer(migrations::migrate)
    }

    /// The applied migration versions.
    pub fn applied_migrations(&self) -> Result<Vec<i64>> {
        self.db.read(migrations::applied)
    }
}

impl Ledger for SqliteLedger {
    crate::ledger::queries::ledger_methods!();

    fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        request: &[u8],
        owner: &str,
    ) -> Result<IdemBegin> {
        idempotency::idem_begin(&self.db, scope, key, request_hash, request, owner)
    }

    /// One process: the cursor is the claim.
    fn claim_due_transactions(&self, claim: &DueClaim) -> Result<Vec<Transaction>> {
        self.db.read(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {} FROM transactions
                 WHERE status = 'pending' AND kind = 'charge' AND invoice_id IS NULL
                   AND id > ?1 AND id <= ?2
                 ORDER BY id LIMIT ?3",
                transactions::TXN_COLS
            ))?;
            let rows = st
                .query_map(
                    params![claim.after_id, claim.up_to_id, claim.limit],
                    transactions::txn_row,
                )?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }
}
