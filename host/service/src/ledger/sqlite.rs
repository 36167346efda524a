//! The embedded ledger on SQLite (WAL mode).
//!
//! Writes go through one writer connection with group commit: a write runs inside a savepoint
//! of the batch transaction that is open on the writer connection, and the last writer of a
//! burst (the one that finds nobody else waiting for the connection) commits the batch, with one
//! `fsync` for all of them. No write returns before the commit that holds it is durable, so an
//! intent written before a gateway call is on disk before the call, and an outcome is on disk
//! before the API answers; a write that fails rolls back its own savepoint only. Reads run on a
//! small pool of read connections, each read in its own snapshot of the last commit, without
//! waiting behind the writer (an in-memory ledger has a single connection for both).
//!
//! Migrations are the numbered files of `host/migrations/`, compiled in, applied in order inside
//! a transaction each and recorded in `schema_migrations`.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use super::*;

/// The migrations, in order: (version, file name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_ledger.sql",
        include_str!("../../migrations/0001_ledger.sql"),
    ),
    (
        2,
        "0002_lookup_indexes.sql",
        include_str!("../../migrations/0002_lookup_indexes.sql"),
    ),
];

/// Read connections of a ledger on a file.
const READERS: usize = 4;
/// At most this many writes share one commit.
const MAX_BATCH: usize = 256;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;

/// The SQLite ledger.
pub struct SqliteLedger {
    writer: Mutex<Writer>,
    /// Writes waiting for the writer connection: while there are some, a write leaves the batch
    /// open for them to join, and the last one commits.
    queued: AtomicUsize,
    /// Read connections (none for an in-memory ledger: reads use the writer's).
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// The writer connection and the batch transaction open on it, if any.
struct Writer {
    conn: Connection,
    batch: Option<Arc<Batch>>,
    size: usize,
}

/// One commit shared by the writes of a batch: its outcome once committed (or rolled back).
#[derive(Default)]
struct Batch {
    outcome: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

impl Batch {
    fn finish(&self, outcome: Result<(), String>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(o) = &*outcome {
                return o.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves the connection usable (an unfinished transaction is
    // rolled back before the connection is used again).
    m.lock().unwrap_or_else(|p| p.into_inner())
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
            reader.busy_timeout(std::time::Duration::from_secs(10))?;
            reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            reader.execute_batch("PRAGMA query_only=ON;")?;
            ledger.readers.push(Mutex::new(reader));
        }
        Ok(ledger)
    }

    /// An in-memory ledger (tests).
    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?, Durability::Normal)
    }

    fn setup(conn: Connection, durability: Durability) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let _mode: String = conn
            .prepare_cached("PRAGMA journal_mode=WAL")?
            .query_row([], |r| r.get(0))?;
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            Durability::Normal => "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        })?;
        let ledger = SqliteLedger {
            writer: Mutex::new(Writer {
                conn,
                batch: None,
                size: 0,
            }),
            queued: AtomicUsize::new(0),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Applies the migrations not applied yet; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<i64>> {
        let mut writer = lock(&self.writer);
        let conn = &mut writer.conn;
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

    /// The applied migration versions.
    pub fn applied_migrations(&self) -> Result<Vec<i64>> {
        self.read(|conn| {
            let mut st =
                conn.prepare_cached("SELECT version FROM schema_migrations ORDER BY version")?;
            let rows = st
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            Ok(rows)
        })
    }

    /// Runs `f` in one snapshot of the last commit, on a read connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.readers.is_empty() {
            return f(&lock(&self.writer).conn);
        }
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        let conn = (0..n)
            .find_map(|i| match self.readers[(start + i) % n].try_lock() {
                Ok(g) => Some(g),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            })
            .unwrap_or_else(|| lock(&self.readers[start]));
        if !conn.is_autocommit() {
            // Left open by a read that panicked.
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.execute_batch("BEGIN")?;
        let result = f(&conn);
        if conn.execute_batch("COMMIT").is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// Runs `f` as one write of the current batch (group commit); returns once the batch is
    /// committed. A write that fails (or panics) rolls back its own changes only.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut w = lock(&self.writer);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let batch = match &w.batch {
            Some(b) => b.clone(),
            None => {
                if !w.conn.is_autocommit() {
                    let _ = w.conn.execute_batch("ROLLBACK");
                }
                w.conn.execute_batch("BEGIN IMMEDIATE")?;
                let b = Arc::new(Batch::default());
                w.batch = Some(b.clone());
                w.size = 0;
                b
            }
        };
        let result = match w.conn.execute_batch("SAVEPOINT write") {
            Ok(()) => std::panic::catch_unwind(AssertUnwindSafe(|| f(&w.conn))),
            Err(e) => Ok(Err(e.into())),
        };
        let ok = matches!(result, Ok(Ok(_)));
        let end = if ok {
            "RELEASE write"
        } else {
            "ROLLBACK TO write; RELEASE write"
        };
        // A savepoint that cannot be ended leaves the batch in an unknown state: undo it all.
        let broken = w.conn.execute_batch(end).err();
        w.size += 1;
        let commit_now =
            broken.is_some() || w.size >= MAX_BATCH || self.queued.load(Ordering::SeqCst) == 0;
        let outcome = if commit_now {
            let outcome = match broken {
                Some(e) => Err(e.to_string()),
                None => w.conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
            };
            if outcome.is_err() && !w.conn.is_autocommit() {
                let _ = w.conn.execute_batch("ROLLBACK");
            }
            w.batch = None;
            drop(w);
            batch.finish(outcome.clone());
            outcome
        } else {
            drop(w);
            if !ok {
                // Nothing of it stays: no need to wait for the commit.
                Ok(())
            } else {
                batch.wait()
            }
        };
        match result {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok(v)) => outcome
                .map(|()| v)
                .map_err(|e| LedgerError::Database(format!("commit failed: {e}"))),
        }
    }
}

/// A row of `api_idempotency`: request hash, state, owner, status, response, created.
type IdemRow = (String, String, String, Option<u16>, Option<Vec<u8>>, i64);

const CARD_COLS: &str = "id, crm_customer_id, gateway, gateway_card_ref, brand, last4, exp_month, exp_year, \
     funding, fingerprint, nickname, is_default, created_at";

fn card_row(r: &Row<'_>) -> rusqlite::Result<Card> {
    Ok(Card {
        id: r.get(0)?,
        crm_customer_id: r.get(1)?,
        gateway: r.get(2)?,
        gateway_card_ref: r.get(3)?,
        brand: r.get(4)?,
        last4: r.get(5)?,
        exp_month: r.get(6)?,
        exp_year: r.get(7)?,
        funding: r.get(8)?,
        fingerprint: r.get(9)?,
        nickname: r.get(10)?,
        is_default: r.get(11)?,
        created_at: r.get(12)?,
    })
}

fn parse_enum<T>(idx: usize, s: String, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value {s:?}").into(),
        )
    })
}

const TXN_COLS: &str = "id, crm_customer_id, card_id, gateway, amount, currency, description, kind, capture, \
     status, amount_captured, amount_refunded, invoice_id, gateway_payment_ref, idempotency_key, attempted_at, \
     decline_code, decline_reason, last_error, created_at, updated_at";

fn txn_row(r: &Row<'_>) -> rusqlite::Result<Transaction> {
    Ok(Transaction {
        id: r.get(0)?,
        crm_customer_id: r.get(1)?,
        card_id: r.get(2)?,
        gateway: r.get(3)?,
        amount: r.get(4)?,
        currency: r.get(5)?,
        description: r.get(6)?,
        kind: parse_enum(7, r.get(7)?, TxnKind::parse)?,
        capture: parse_enum(8, r.get(8)?, Capture::parse)?,
        status: parse_enum(9, r.get(9)?, TxnStatus::parse)?,
        amount_captured: r.get(10)?,
        amount_refunded: r.get(11)?,
        invoice_id: r.get(12)?,
        gateway_payment_ref: r.get(13)?,
        idempotency_key: r.get(14)?,
        attempted_at: r.get(15)?,
        decline_code: r.get(16)?,
        decline_reason: r.get(17)?,
        last_error: r.get(18)?,
        created_at: r.get(19)?,
        updated_at: r.get(20)?,
    })
}

const REFUND_COLS: &str = "id, transaction_id, amount, currency, reason, status, gateway_refund_ref, \
     idempotency_key, last_error, created_at, updated_at";

fn refund_row(r: &Row<'_>) -> rusqlite::Result<Refund> {
    Ok(Refund {
        id: r.get(0)?,
        transaction_id: r.get(1)?,
        amount: r.get(2)?,
        currency: r.get(3)?,
        reason: r.get(4)?,
        status: parse_enum(5, r.get(5)?, RefundStatus::parse)?,
        gateway_refund_ref: r.get(6)?,
        idempotency_key: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

const INVOICE_COLS: &str = "id, number, crm_customer_id, gateway, currency, description, period_start, period_end, \
     due_date, status, subtotal, tax, total, amount_paid, gateway_invoice_ref, gateway_number, hosted_url, pdf_url, \
     idempotency_key, pay_attempts, last_error, created_at, updated_at";

fn invoice_row(r: &Row<'_>) -> rusqlite::Result<Invoice> {
    Ok(Invoice {
        id: r.get(0)?,
        number: r.get(1)?,
        crm_customer_id: r.get(2)?,
        gateway: r.get(3)?,
        currency: r.get(4)?,
        description: r.get(5)?,
        period_start: r.get(6)?,
        period_end: r.get(7)?,
        due_date: r.get(8)?,
        status: parse_enum(9, r.get(9)?, InvoiceStatus::parse)?,
        subtotal: r.get(10)?,
        tax: r.get(11)?,
        total: r.get(12)?,
        amount_paid: r.get(13)?,
        gateway_invoice_ref: r.get(14)?,
        gateway_number: r.get(15)?,
        hosted_url: r.get(16)?,
        pdf_url: r.get(17)?,
        idempotency_key: r.get(18)?,
        pay_attempts: r.get(19)?,
        last_error: r.get(20)?,
        created_at: r.get(21)?,
        updated_at: r.get(22)?,
    })
}

const DISPUTE_COLS: &str = "id, gateway, gateway_dispute_ref, transaction_id, gateway_payment_ref, amount, currency, \
     reason, status, created_at, updated_at";

fn dispute_row(r: &Row<'_>) -> rusqlite::Result<Dispute> {
    Ok(Dispute {
        id: r.get(0)?,
        gateway: r.get(1)?,
        gateway_dispute_ref: r.get(2)?,
        transaction_id: r.get(3)?,
        gateway_payment_ref: r.get(4)?,
        amount: r.get(5)?,
        currency: r.get(6)?,
        reason: r.get(7)?,
        status: parse_enum(8, r.get(8)?, DisputeStatus::parse)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

const OP_COLS: &str = "id, kind, gateway, transaction_id, refund_id, invoice_id, idempotency_key, params, state, \
     attempts, last_error, created_at, updated_at";

fn op_row(r: &Row<'_>) -> rusqlite::Result<Operation> {
    let params: String = r.get(7)?;
    Ok(Operation {
        id: r.get(0)?,
        kind: parse_enum(1, r.get(1)?, OpKind::parse)?,
        gateway: r.get(2)?,
        transaction_id: r.get(3)?,
        refund_id: r.get(4)?,
        invoice_id: r.get(5)?,
        idempotency_key: r.get(6)?,
        params: serde_json::from_str(&params).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?,
        state: parse_enum(8, r.get(8)?, OpState::parse)?,
        attempts: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn get_txn(conn: &Connection, id: i64) -> Result<Option<Transaction>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TXN_COLS} FROM transactions WHERE id = ?1"
        ))?
        .query_row([id], txn_row)
        .optional()?)
}

fn get_invoice(conn: &Connection, id: i64) -> Result<Option<Invoice>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {INVOICE_COLS} FROM invoices WHERE id = ?1"
        ))?
        .query_row([id], invoice_row)
        .optional()?)
}

fn get_refund(conn: &Connection, id: i64) -> Result<Option<Refund>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {REFUND_COLS} FROM refunds WHERE id = ?1"))?
        .query_row([id], refund_row)
        .optional()?)
}

/// Writes an operation unless its key was written before; the row, and whether it is new.
fn insert_op(conn: &Connection, op: &NewOperation) -> Result<(Operation, bool)> {
    let n = conn.prepare_cached("INSERT INTO operations (kind, gateway, transaction_id, refund_id, invoice_id, idempotency_key, params,
            state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)
         ON CONFLICT (idempotency_key) DO NOTHING")?.execute(params![
            op.kind.as_str(),
            op.gateway,
            op.transaction_id,
            op.refund_id,
            op.invoice_id,
            op.idempotency_key,
            op.params.to_string(),
            now()
        ],
    )?;
    let row = conn
        .prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations WHERE idempotency_key = ?1"
        ))?
        .query_row([&op.idempotency_key], op_row)?;
    Ok((row, n == 1))
}

/// Compare-and-set of a transaction: applies `patch` only when its status is one of `from` (any
/// when empty); the row when it applied.
fn update_txn(
    tx: &Connection,
    id: i64,
    from: &[TxnStatus],
    patch: &TxnPatch,
) -> Result<Option<Transaction>> {
    let mut sets: Vec<&str> = vec!["updated_at = ?"];
    let mut args: Vec<rusqlite::types::Value> = vec![now().into()];
    macro_rules! set {
        ($col:literal, $v:expr) => {{
            sets.push(concat!($col, " = ?"));
            args.push($v);
        }};
    }
    if let Some(s) = patch.status {
        set!("status", s.as_str().to_string().into());
    }
    if let Some(c) = patch.card_id {
        set!("card_id", c.into());
    }
    if let Some(g) = &patch.gateway {
        set!("gateway", g.clone().into());
    }
    if let Some(p) = &patch.gateway_payment_ref {
        set!("gateway_payment_ref", p.clone().into());
    }
    if let Some(a) = patch.amount_captured {
        set!("amount_captured", a.into());
    }
    if let Some(a) = patch.attempted_at {
        set!("attempted_at", a.into());
    }
    if let Some(v) = &patch.decline_code {
        set!("decline_code", v.clone().into());
    }
    if let Some(v) = &patch.decline_reason {
        set!("decline_reason", v.clone().into());
    }
    if let Some(v) = &patch.last_error {
        set!("last_error", v.clone().into());
    }
    if let Some(v) = patch.invoice_id {
        set!("invoice_id", v.into());
    }
    let mut sql = format!("UPDATE transactions SET {} WHERE id = ?", sets.join(", "));
    args.push(id.into());
    if !from.is_empty() {
        sql.push_str(&format!(" AND status IN ({})", placeholders(from.len())));
        args.extend(from.iter().map(|s| s.as_str().to_string().into()));
    }
    let n = tx.prepare_cached(&sql)?.execute(params_from_iter(args))?;
    let row = if n == 1 {
        recompute_refunded(tx, id)?;
        get_txn(tx, id)?
    } else {
        None
    };
    Ok(row)
}

/// Sets an operation's state and last error, counting an attempt when `attempted`.
fn set_op_state(
    conn: &Connection,
    id: i64,
    state: OpState,
    last_error: Option<&str>,
    attempted: bool,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE operations SET state = ?2, last_error = ?3, attempts = attempts + ?4, updated_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![id, state.as_str(), last_error, attempted as i64, now()])?;
    Ok(())
}

/// The query of [`Ledger::operations_for`]: one equality per id given, so that each is answered
/// from its index (none when neither is given).
fn operations_for_query(
    transaction_id: Option<i64>,
    invoice_id: Option<i64>,
) -> (Option<String>, Vec<i64>) {
    let cond = match (transaction_id, invoice_id) {
        (Some(_), Some(_)) => "transaction_id = ?1 OR invoice_id = ?2",
        (Some(_), None) => "transaction_id = ?1",
        (None, Some(_)) => "invoice_id = ?1",
        (None, None) => return (None, Vec::new()),
    };
    let sql = format!("SELECT {OP_COLS} FROM operations WHERE {cond} ORDER BY id");
    (
        Some(sql),
        transaction_id.into_iter().chain(invoice_id).collect(),
    )
}

/// Recomputes a transaction's refunded amount from its succeeded refunds, and its status from
/// that, when the transaction has been captured.
fn recompute_refunded(conn: &Connection, txn_id: i64) -> Result<()> {
    let refunded: i64 = conn.prepare_cached("SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE transaction_id = ?1 AND status = 'succeeded'")?.query_row([txn_id],
        |r| r.get(0),
    )?;
    conn.prepare_cached(
        "UPDATE transactions SET amount_refunded = ?2,
            status = CASE
                WHEN status NOT IN ('succeeded', 'partially_refunded', 'refunded') THEN status
                WHEN ?2 = 0 THEN 'succeeded'
                WHEN ?2 >= amount_captured THEN 'refunded'
                ELSE 'partially_refunded' END,
            updated_at = ?3
         WHERE id = ?1 AND amount_refunded != ?2",
    )?
    .execute(params![txn_id, refunded, now()])?;
    Ok(())
}

impl Ledger for SqliteLedger {
    fn upsert_customer(&self, link: &CustomerLink) -> Result<CustomerLink> {
        self.write(|conn| {
        conn.prepare_cached("INSERT INTO customers (crm_customer_id, gateway, gateway_customer_ref, email, name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (crm_customer_id, gateway) DO UPDATE SET
                gateway_customer_ref = excluded.gateway_customer_ref,
                email = COALESCE(excluded.email, customers.email),
                name = COALESCE(excluded.name, customers.name)")?.execute(params![
                link.crm_customer_id,
                link.gateway,
                link.gateway_customer_ref,
                link.email,
                link.name,
                link.created_at
            ],
        )?;
        let row = conn.prepare_cached("SELECT crm_customer_id, gateway, gateway_customer_ref, email, name, created_at FROM customers
             WHERE crm_customer_id = ?1 AND gateway = ?2")?.query_row(params![link.crm_customer_id, link.gateway],
            customer_row,
        )?;
        Ok(row)
    })
    }

    fn customer_links(&self, crm_customer_id: &str) -> Result<Vec<CustomerLink>> {
        self.read(|conn| {
        let mut st = conn.prepare_cached(
            "SELECT crm_customer_id, gateway, gateway_customer_ref, email, name, created_at FROM customers
             WHERE crm_customer_id = ?1 ORDER BY created_at, gateway",
        )?;
        let rows = st
            .query_map([crm_customer_id], customer_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    })
    }

    fn insert_card(&self, card: &NewCard) -> Result<Card> {
        self.write(|tx| {
        let existing: Option<(i64, Option<i64>)> = tx.prepare_cached("SELECT id, removed_at FROM cards WHERE gateway = ?1 AND gateway_card_ref = ?2")?.query_row(params![card.gateway, card.gateway_card_ref],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let id = match existing {
            Some((_, Some(_))) => {
                return Err(LedgerError::Conflict {
                    field: "token",
                    message: "this card was removed and cannot be stored again".into(),
                });
            }
            Some((id, None)) => id,
            None => {
                let has_default: bool = tx.prepare_cached("SELECT 1 FROM cards WHERE crm_customer_id = ?1 AND is_default = 1 AND removed_at IS NULL")?.query_row([&card.crm_customer_id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                let make_default = card.make_default || !has_default;
                if make_default {
                    tx.prepare_cached("UPDATE cards SET is_default = 0 WHERE crm_customer_id = ?1")?.execute([&card.crm_customer_id],
                    )?;
                }
                tx.prepare_cached("INSERT INTO cards (crm_customer_id, gateway, gateway_card_ref, brand, last4, exp_month,
                        exp_year, funding, fingerprint, nickname, is_default, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?.execute(params![
                        card.crm_customer_id,
                        card.gateway,
                        card.gateway_card_ref,
                        card.brand,
                        card.last4,
                        card.exp_month,
                        card.exp_year,
                        card.funding,
                        card.fingerprint,
                        card.nickname,
                        make_default,
                        now()
                    ],
                )?;
                tx.last_insert_rowid()
            }
        };
        let row = tx.prepare_cached(&format!("SELECT {CARD_COLS} FROM cards WHERE id = ?1"))?.query_row([id],
            card_row,
        )?;
        Ok(row)
    })
    }

    fn card(&self, id: i64) -> Result<Option<Card>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {CARD_COLS} FROM cards WHERE id = ?1 AND removed_at IS NULL"
                ))?
                .query_row([id], card_row)
                .optional()?)
        })
    }

    fn cards(&self, crm_customer_id: &str) -> Result<Vec<Card>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {CARD_COLS} FROM cards WHERE crm_customer_id = ?1 AND removed_at IS NULL
             ORDER BY is_default DESC, created_at DESC, id DESC"
            ))?;
            let rows = st
                .query_map([crm_customer_id], card_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn set_default_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool> {
        self.write(|tx| {
            let exists = tx.prepare_cached("SELECT 1 FROM cards WHERE id = ?1 AND crm_customer_id = ?2 AND removed_at IS NULL")?.query_row(params![card_id, crm_customer_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
            if exists {
                tx.prepare_cached("UPDATE cards SET is_default = (id = ?2) WHERE crm_customer_id = ?1")?.execute(params![crm_customer_id, card_id],
                )?;
            }
            Ok(exists)
        })
    }

    fn remove_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool> {
        self.write(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE cards SET removed_at = ?3, is_default = 0
             WHERE id = ?1 AND crm_customer_id = ?2 AND removed_at IS NULL",
                )?
                .execute(params![card_id, crm_customer_id, now()])?;
            Ok(n == 1)
        })
    }

    fn expiring_cards(&self, from: (u16, u8), to: (u16, u8)) -> Result<Vec<Card>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {CARD_COLS} FROM cards WHERE removed_at IS NULL
               AND exp_year * 12 + exp_month BETWEEN ?1 AND ?2
             ORDER BY exp_year, exp_month, crm_customer_id, id"
            ))?;
            let a = from.0 as i64 * 12 + from.1 as i64;
            let b = to.0 as i64 * 12 + to.1 as i64;
            let rows = st
                .query_map(params![a, b], card_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn update_card_details(
        &self,
        gateway: &str,
        gateway_card_ref: &str,
        exp_month: u8,
        exp_year: u16,
        last4: &str,
    ) -> Result<bool> {
        self.write(|conn| {
        let n = conn.prepare_cached("UPDATE cards SET exp_month = ?3, exp_year = ?4, last4 = ?5 WHERE gateway = ?1 AND gateway_card_ref = ?2")?.execute(params![gateway, gateway_card_ref, exp_month, exp_year, last4],
        )?;
        Ok(n > 0)
    })
    }

    fn insert_transaction(&self, t: &NewTransaction) -> Result<(Transaction, bool)> {
        self.write(|conn| {
        let ts = now();
        let n = conn.prepare_cached("INSERT INTO transactions (crm_customer_id, card_id, gateway, amount, currency, description, kind,
                capture, status, idempotency_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT (idempotency_key) DO NOTHING")?.execute(params![
                t.crm_customer_id,
                t.card_id,
                t.gateway,
                t.amount,
                t.currency,
                t.description,
                t.kind.as_str(),
                t.capture.as_str(),
                t.status.as_str(),
                t.idempotency_key,
                ts
            ],
        )?;
        let row = conn.prepare_cached(&format!("SELECT {TXN_COLS} FROM transactions WHERE idempotency_key = ?1"))?.query_row([&t.idempotency_key],
            txn_row,
        )?;
        Ok((row, n == 1))
    })
    }

    fn transaction(&self, id: i64) -> Result<Option<Transaction>> {
        self.read(|c| get_txn(c, id))
    }

    fn transaction_by_payment(
        &self,
        gateway: &str,
        payment_ref: &str,
    ) -> Result<Option<Transaction>> {
        self.read(|conn| {
        Ok(conn
            .query_row(
                &format!(
                    "SELECT {TXN_COLS} FROM transactions WHERE gateway = ?1 AND gateway_payment_ref = ?2
                     ORDER BY id LIMIT 1"
                ),
                params![gateway, payment_ref],
                txn_row,
            )
            .optional()?)
    })
    }

    fn transactions(&self, f: &TxnFilter) -> Result<Vec<Transaction>> {
        let mut sql = format!("SELECT {TXN_COLS} FROM transactions WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(c) = &f.customer {
            sql.push_str(" AND crm_customer_id = ?");
            args.push(c.clone().into());
        }
        if !f.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                placeholders(f.statuses.len())
            ));
            args.extend(f.statuses.iter().map(|s| s.as_str().to_string().into()));
        }
        match f.invoiced {
            Some(true) => sql.push_str(" AND invoice_id IS NOT NULL"),
            Some(false) => sql.push_str(" AND invoice_id IS NULL"),
            None => {}
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.as_str().to_string().into());
        }
        if let Some(from) = f.from {
            sql.push_str(" AND created_at >= ?");
            args.push(from.into());
        }
        if let Some(to) = f.to {
            sql.push_str(" AND created_at < ?");
            args.push(to.into());
        }
        if let Some(b) = f.before_id {
            sql.push_str(" AND id < ?");
            args.push(b.into());
        }
        sql.push_str(" ORDER BY id DESC");
        if f.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", f.limit));
        }
        self.read(|conn| {
            let mut st = conn.prepare_cached(&sql)?;
            let rows = st
                .query_map(params_from_iter(args), txn_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn update_transaction(
        &self,
        id: i64,
        from: &[TxnStatus],
        patch: &TxnPatch,
    ) -> Result<Option<Transaction>> {
        self.write(|tx| update_txn(tx, id, from, patch))
    }

    fn cancel_unattempted(&self, id: i64) -> Result<Option<Transaction>> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE transactions SET status = 'canceled', updated_at = ?2
             WHERE id = ?1 AND status = 'pending' AND attempted_at IS NULL AND invoice_id IS NULL",
                )?
                .execute(params![id, now()])?;
            let row = if n == 1 { get_txn(tx, id)? } else { None };
            Ok(row)
        })
    }

    fn create_refund(
        &self,
        transaction_id: i64,
        amount: Option<i64>,
        reason: Option<&str>,
        idempotency_key: &str,
        operation: &dyn Fn(&Refund, &Transaction) -> Result<NewOperation>,
    ) -> Result<(Refund, Operation)> {
        self.write(|tx| {
        let txn = get_txn(tx, transaction_id)?.ok_or_else(|| LedgerError::NotFound {
            kind: "transaction",
            id: transaction_id.to_string(),
        })?;
        if let Some(existing) = tx.prepare_cached(&format!("SELECT {REFUND_COLS} FROM refunds WHERE idempotency_key = ?1"))?.query_row([idempotency_key],
                refund_row,
            )
            .optional()?
        {
            // A repeat: its operation was written with it (written now for a refund row that an
            // older build left without one).
            let (op, _) = insert_op(tx, &operation(&existing, &txn)?)?;
                return Ok((existing, op));
        }
        if !matches!(
            txn.status,
            TxnStatus::Succeeded | TxnStatus::PartiallyRefunded | TxnStatus::Refunded
        ) || txn.kind != TxnKind::Charge
            || txn.gateway_payment_ref.is_none()
        {
            let message = match (txn.kind, txn.invoice_id, txn.gateway_payment_ref.is_none()) {
                (TxnKind::Credit, ..) => "a credit cannot be refunded".to_string(),
                (_, Some(inv), true) => format!(
                    "the transaction was paid through invoice {inv}, not by a payment of its own: \
                     record a credit instead"
                ),
                _ => format!(
                    "a {} transaction cannot be refunded; only succeeded charges",
                    txn.status
                ),
            };
            return Err(LedgerError::Conflict {
                field: "transaction_id",
                message,
            });
        }
        let committed: i64 = tx.prepare_cached("SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE transaction_id = ?1
               AND status IN ('pending', 'unknown', 'succeeded', 'requires_action')")?.query_row([transaction_id],
            |r| r.get(0),
        )?;
        let remaining = txn.amount_captured - committed;
        let amount = amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(LedgerError::RefundExceeds {
                requested: amount,
                remaining,
            });
        }
        let ts = now();
        tx.prepare_cached("INSERT INTO refunds (transaction_id, amount, currency, reason, status, idempotency_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6)")?.execute(params![transaction_id, amount, txn.currency, reason, idempotency_key, ts],
        )?;
        let id = tx.last_insert_rowid();
        let row =
            get_refund(tx, id)?.ok_or_else(|| LedgerError::Database("refund vanished".into()))?;
        // The intent: the refund and its operation are written together, before the call.
        let (op, _) = insert_op(tx, &operation(&row, &txn)?)?;
        Ok((row, op))
    })
    }

    fn refund(&self, id: i64) -> Result<Option<Refund>> {
        self.read(|c| get_refund(c, id))
    }

    fn refunds(&self, transaction_id: i64) -> Result<Vec<Refund>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {REFUND_COLS} FROM refunds WHERE transaction_id = ?1 ORDER BY id"
            ))?;
            let rows = st
                .query_map([transaction_id], refund_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn settle_refund(
        &self,
        id: i64,
        from: &[RefundStatus],
        status: RefundStatus,
        gateway_refund_ref: Option<&str>,
        last_error: Option<&str>,
    ) -> Result<Option<Refund>> {
        self.write(|tx| {
            let mut sql = String::from(
            "UPDATE refunds SET status = ?, gateway_refund_ref = COALESCE(?, gateway_refund_ref),
                last_error = ?, updated_at = ? WHERE id = ?",
        );
            let mut args: Vec<rusqlite::types::Value> = vec![
                status.as_str().to_string().into(),
                gateway_refund_ref.map(str::to_string).into(),
                last_error.map(str::to_string).into(),
                now().into(),
                id.into(),
            ];
            if !from.is_empty() {
                sql.push_str(&format!(" AND status IN ({})", placeholders(from.len())));
                args.extend(from.iter().map(|s| s.as_str().to_string().into()));
            }
            let n = tx.prepare_cached(&sql)?.execute(params_from_iter(args))?;
            let row = if n == 1 {
                let r = get_refund(tx, id)?;
                if let Some(r) = &r {
                    recompute_refunded(tx, r.transaction_id)?;
                }
                r
            } else {
                None
            };
            Ok(row)
        })
    }

    fn observe_refund(
        &self,
        transaction_id: i64,
        gateway_refund_ref: &str,
        amount: i64,
        status: RefundStatus,
    ) -> Result<Option<Refund>> {
        self.write(|tx| {
        let ts = now();
        let settled_states = "('succeeded', 'failed', 'canceled')";
        let by_ref: Option<Refund> = tx.prepare_cached(&format!("SELECT {REFUND_COLS} FROM refunds WHERE gateway_refund_ref = ?1"))?.query_row([gateway_refund_ref],
                refund_row,
            )
            .optional()?;
        let target = match by_ref {
            Some(r) => Some(r.id),
            None => {
                let candidates: Vec<i64> = {
                    let mut st = tx.prepare_cached(
                        "SELECT id FROM refunds WHERE transaction_id = ?1 AND gateway_refund_ref IS NULL
                           AND amount = ?2 AND status IN ('pending', 'unknown', 'requires_action')",
                    )?;
                    st.query_map(params![transaction_id, amount], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?
                };
                match candidates.len() {
                    1 => Some(candidates[0]),
                    0 => {
                        let unsettled: i64 = tx.prepare_cached("SELECT COUNT(*) FROM refunds WHERE transaction_id = ?1
                               AND status IN ('pending', 'unknown', 'requires_action') AND gateway_refund_ref IS NULL")?.query_row([transaction_id],
                            |r| r.get(0),
                        )?;
                        if unsettled > 0 {
                            // Our own refunds are still settling: they will settle through the
                            // synchronous path or the reconciler.
                            None
                        } else {
                            let txn = get_txn(tx, transaction_id)?.ok_or_else(|| {
                                LedgerError::NotFound {
                                    kind: "transaction",
                                    id: transaction_id.to_string(),
                                }
                            })?;
                            tx.prepare_cached("INSERT INTO refunds (transaction_id, amount, currency, status, gateway_refund_ref,
                                    created_at, updated_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)")?.execute(params![transaction_id, amount, txn.currency, gateway_refund_ref, ts],
                            )?;
                            Some(tx.last_insert_rowid())
                        }
                    }
                    _ => None,
                }
            }
        };
        let row = match target {
            Some(id) => {
                tx.execute(
                    &format!(
                        "UPDATE refunds SET status = ?2, gateway_refund_ref = ?3, updated_at = ?4
                         WHERE id = ?1 AND status NOT IN {settled_states}"
                    ),
                    params![id, status.as_str(), gateway_refund_ref, ts],
                )?;
                recompute_refunded(tx, transaction_id)?;
                get_refund(tx, id)?
            }
            None => None,
        };
        Ok(row)
    })
    }

    fn create_invoice(&self, new: &NewInvoice) -> Result<Option<Invoice>> {
        self.write(|tx| {
        if let Some(existing) = tx.prepare_cached(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE idempotency_key = ?1"))?.query_row([&new.idempotency_key],
                invoice_row,
            )
            .optional()?
        {
            return Ok(Some(existing));
        }
        let period_start = new.period_start.unwrap_or(i64::MIN);
        let period_end = new.period_end.unwrap_or(i64::MAX);
        let lines: Vec<(i64, i64, String, i64)> = {
            let mut st = tx.prepare_cached(
                "SELECT id, amount, kind, created_at FROM transactions
                 WHERE crm_customer_id = ?1 AND currency = ?2 AND invoice_id IS NULL AND status = 'pending'
                   AND attempted_at IS NULL AND created_at >= ?3 AND created_at < ?4
                 ORDER BY id",
            )?;
            st.query_map(
                params![new.crm_customer_id, new.currency, period_start, period_end],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect::<rusqlite::Result<_>>()?
        };
        if lines.is_empty() {
            return Ok(None);
        }
        let subtotal: i64 = lines
            .iter()
            .map(|(_, amount, kind, _)| if kind == "credit" { -amount } else { *amount })
            .sum();
        let first = lines.iter().map(|l| l.3).min().unwrap_or(new.now);
        let last = lines.iter().map(|l| l.3).max().unwrap_or(new.now);
        let year = super::super::time::year_of(new.now);
        let seq: i64 = tx.prepare_cached("INSERT INTO invoice_counters (year, last) VALUES (?1, 1)
             ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last")?.query_row([year],
            |r| r.get(0),
        )?;
        let number = format!("INV-{year:04}-{seq:06}");
        tx.prepare_cached("INSERT INTO invoices (number, crm_customer_id, gateway, currency, description, period_start, period_end,
                due_date, status, subtotal, tax, total, idempotency_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', ?9, 0, ?9, ?10, ?11, ?11)")?.execute(params![
                number,
                new.crm_customer_id,
                new.gateway,
                new.currency,
                new.description,
                new.period_start.unwrap_or(first),
                new.period_end.unwrap_or(last + 1),
                new.due_date,
                subtotal,
                new.idempotency_key,
                new.now
            ],
        )?;
        let id = tx.last_insert_rowid();
        for (txn_id, ..) in &lines {
            tx.prepare_cached("UPDATE transactions SET invoice_id = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![txn_id, id, new.now],
            )?;
        }
        let row = get_invoice(tx, id)?;
        Ok(row)
    })
    }

    fn invoice(&self, id: i64) -> Result<Option<Invoice>> {
        self.read(|c| get_invoice(c, id))
    }

    fn invoice_by_ref(&self, gateway: &str, invoice_ref: &str) -> Result<Option<Invoice>> {
        self.read(|conn| {
        Ok(conn.prepare_cached(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE gateway = ?1 AND gateway_invoice_ref = ?2"))?.query_row(params![gateway, invoice_ref],
                invoice_row,
            )
            .optional()?)
    })
    }

    fn invoices(&self, f: &InvoiceFilter) -> Result<Vec<Invoice>> {
        let mut sql = format!("SELECT {INVOICE_COLS} FROM invoices WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(c) = &f.customer {
            sql.push_str(" AND crm_customer_id = ?");
            args.push(c.clone().into());
        }
        if !f.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                placeholders(f.statuses.len())
            ));
            args.extend(f.statuses.iter().map(|s| s.as_str().to_string().into()));
        }
        sql.push_str(" ORDER BY id DESC");
        if f.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", f.limit));
        }
        self.read(|conn| {
            let mut st = conn.prepare_cached(&sql)?;
            let rows = st
                .query_map(params_from_iter(args), invoice_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn invoice_lines(&self, id: i64) -> Result<Vec<Transaction>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {TXN_COLS} FROM transactions WHERE invoice_id = ?1 ORDER BY id"
            ))?;
            let rows = st
                .query_map([id], txn_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn update_invoice(
        &self,
        id: i64,
        from: &[InvoiceStatus],
        patch: &InvoicePatch,
    ) -> Result<Option<Invoice>> {
        let ts = now();
        let mut sets: Vec<&str> = vec!["updated_at = ?"];
        let mut args: Vec<rusqlite::types::Value> = vec![ts.into()];
        macro_rules! set {
            ($col:literal, $v:expr) => {{
                sets.push(concat!($col, " = ?"));
                args.push($v);
            }};
        }
        if let Some(s) = patch.status {
            set!("status", s.as_str().to_string().into());
        }
        if let Some(v) = &patch.gateway_invoice_ref {
            set!("gateway_invoice_ref", v.clone().into());
        }
        if let Some(v) = &patch.gateway_number {
            set!("gateway_number", v.clone().into());
        }
        if let Some(v) = &patch.hosted_url {
            set!("hosted_url", v.clone().into());
        }
        if let Some(v) = &patch.pdf_url {
            set!("pdf_url", v.clone().into());
        }
        if let Some(v) = patch.amount_paid {
            set!("amount_paid", v.into());
        }
        if let Some(v) = patch.tax {
            set!("tax", v.into());
        }
        if let Some(v) = patch.total {
            set!("total", v.into());
        }
        if let Some(v) = patch.due_date {
            set!("due_date", v.into());
        }
        if let Some(v) = &patch.last_error {
            set!("last_error", v.clone().into());
        }
        if patch.bump_pay_attempts {
            sets.push("pay_attempts = pay_attempts + 1");
        }
        let mut sql = format!("UPDATE invoices SET {} WHERE id = ?", sets.join(", "));
        args.push(id.into());
        if !from.is_empty() {
            sql.push_str(&format!(" AND status IN ({})", placeholders(from.len())));
            args.extend(from.iter().map(|s| s.as_str().to_string().into()));
        }
        self.write(|tx| {
        let n = tx.prepare_cached(&sql)?.execute(params_from_iter(args))?;
        if n == 1 {
            match patch.status {
                Some(InvoiceStatus::Paid) => {
                    tx.prepare_cached("UPDATE transactions SET status = 'succeeded',
                            amount_captured = CASE WHEN kind = 'charge' THEN amount ELSE 0 END, updated_at = ?2
                         WHERE invoice_id = ?1 AND status = 'pending'")?.execute(params![id, ts],
                    )?;
                }
                Some(InvoiceStatus::Void) => {
                    tx.prepare_cached("UPDATE transactions SET invoice_id = NULL, updated_at = ?2
                         WHERE invoice_id = ?1 AND status = 'pending'")?.execute(params![id, ts],
                    )?;
                }
                _ => {}
            }
        }
        let row = if n == 1 { get_invoice(tx, id)? } else { None };
        Ok(row)
    })
    }

    fn upsert_dispute(&self, u: &DisputeUpdate) -> Result<Dispute> {
        self.write(|tx| {
        let ts = now();
        let txn_id: Option<i64> = match &u.gateway_payment_ref {
            _ if u.transaction_id.is_some() => u.transaction_id,
            Some(p) => tx.prepare_cached("SELECT id FROM transactions WHERE gateway = ?1 AND gateway_payment_ref = ?2 ORDER BY id LIMIT 1")?.query_row(params![u.gateway, p],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let existing: Option<Dispute> = tx.prepare_cached(&format!("SELECT {DISPUTE_COLS} FROM disputes WHERE gateway = ?1 AND gateway_dispute_ref = ?2"))?.query_row(params![u.gateway, u.gateway_dispute_ref],
                dispute_row,
            )
            .optional()?;
        let id = match existing {
            None => {
                tx.prepare_cached("INSERT INTO disputes (gateway, gateway_dispute_ref, transaction_id, gateway_payment_ref, amount,
                        currency, reason, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)")?.execute(params![
                        u.gateway,
                        u.gateway_dispute_ref,
                        txn_id,
                        u.gateway_payment_ref,
                        u.amount,
                        u.currency,
                        u.reason,
                        u.status.as_str(),
                        ts
                    ],
                )?;
                tx.last_insert_rowid()
            }
            Some(d) => {
                if u.status.rank() > d.status.rank() {
                    tx.prepare_cached("UPDATE disputes SET status = ?2, amount = ?3, reason = ?4, updated_at = ?5,
                            transaction_id = COALESCE(transaction_id, ?6) WHERE id = ?1")?.execute(params![d.id, u.status.as_str(), u.amount, u.reason, ts, txn_id],
                    )?;
                }
                d.id
            }
        };
        let row = tx.prepare_cached(&format!("SELECT {DISPUTE_COLS} FROM disputes WHERE id = ?1"))?.query_row([id],
            dispute_row,
        )?;
        Ok(row)
    })
    }

    fn disputes(&self, transaction_id: Option<i64>) -> Result<Vec<Dispute>> {
        self.read(|conn| {
        let (sql, args): (String, Vec<i64>) = match transaction_id {
            Some(t) => (
                format!(
                    "SELECT {DISPUTE_COLS} FROM disputes WHERE transaction_id = ?1
                   OR (transaction_id IS NULL AND gateway_payment_ref IS NOT NULL AND gateway_payment_ref =
                       (SELECT gateway_payment_ref FROM transactions WHERE id = ?1))
                 ORDER BY id DESC"
                ),
                vec![t],
            ),
            None => (
                format!("SELECT {DISPUTE_COLS} FROM disputes ORDER BY id DESC"),
                vec![],
            ),
        };
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(params_from_iter(args), dispute_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    })
    }

    fn insert_operation(&self, op: &NewOperation) -> Result<(Operation, bool)> {
        self.write(|c| insert_op(c, op))
    }

    fn begin_charge(&self, op: &NewOperation, card_id: i64) -> Result<Option<Operation>> {
        let Some(txn_id) = op.transaction_id else {
            return Err(LedgerError::Database(
                "a charge operation names no transaction".into(),
            ));
        };
        self.write(|tx| {
            let ts = now();
            let n = tx.prepare_cached("UPDATE transactions SET card_id = ?2, gateway = ?3, attempted_at = ?4, updated_at = ?4
             WHERE id = ?1 AND kind = 'charge' AND status = 'pending' AND invoice_id IS NULL
               AND attempted_at IS NULL")?.execute(params![txn_id, card_id, op.gateway, ts],
        )?;
            if n == 0 {
                // Voided, invoiced or charged meanwhile: nothing is written.
                return Ok(None);
            }
            let (row, _) = insert_op(tx, op)?;
            Ok(Some(row))
        })
    }

    fn create_charge(
        &self,
        t: &NewTransaction,
        operation: &dyn Fn(&Transaction) -> Result<NewOperation>,
    ) -> Result<(Transaction, Option<Operation>)> {
        if t.kind != TxnKind::Charge || t.status != TxnStatus::Pending || t.gateway.is_none() {
            return Err(LedgerError::Conflict {
                field: "kind",
                message: "only a pending charge naming its gateway is made at once".into(),
            });
        }
        if t.card_id.is_none() {
            return Err(LedgerError::Conflict {
                field: "card_id",
                message: "a charge made at once names its card".into(),
            });
        }
        self.write(|tx| {
            let ts = now();
            let id: Option<i64> = tx
                .prepare_cached(
                    "INSERT INTO transactions (crm_customer_id, card_id, gateway, amount, currency, description,
                        kind, capture, status, idempotency_key, attempted_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11)
                     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                )?
                .query_row(
                    params![
                        t.crm_customer_id,
                        t.card_id,
                        t.gateway,
                        t.amount,
                        t.currency,
                        t.description,
                        t.kind.as_str(),
                        t.capture.as_str(),
                        t.status.as_str(),
                        t.idempotency_key,
                        ts
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                // A repeat: the row stored the first time, its intent untouched.
                let row = tx
                    .prepare_cached(&format!(
                        "SELECT {TXN_COLS} FROM transactions WHERE idempotency_key = ?1"
                    ))?
                    .query_row([&t.idempotency_key], txn_row)?;
                return Ok((row, None));
            };
            let row = get_txn(tx, id)?
                .ok_or_else(|| LedgerError::Database("transaction vanished".into()))?;
            let op = operation(&row)?;
            if op.transaction_id != Some(id) || op.kind != OpKind::Charge {
                return Err(LedgerError::Database(
                    "the charge operation names another transaction".into(),
                ));
            }
            let (op, _) = insert_op(tx, &op)?;
            Ok((row, Some(op)))
        })
    }

    fn settle_charge(
        &self,
        op_id: i64,
        txn_id: i64,
        from: &[TxnStatus],
        patch: Option<&TxnPatch>,
        state: OpState,
        last_error: Option<&str>,
    ) -> Result<(OpState, Option<Transaction>)> {
        self.write(|tx| {
            let txn = match patch {
                Some(patch) => match update_txn(tx, txn_id, from, patch)? {
                    Some(t) => Some(t),
                    None => get_txn(tx, txn_id)?,
                },
                None => get_txn(tx, txn_id)?,
            };
            let state = settled_state(state, txn.as_ref());
            set_op_state(tx, op_id, state, last_error, true)?;
            Ok((state, txn))
        })
    }

    fn operation(&self, id: i64) -> Result<Option<Operation>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {OP_COLS} FROM operations WHERE id = ?1"))?
                .query_row([id], op_row)
                .optional()?)
        })
    }

    fn unsettled_operations(&self, updated_before: Ts, limit: u32) -> Result<Vec<Operation>> {
        self.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations WHERE state IN ('pending', 'unknown') AND updated_at <= ?1
             ORDER BY id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![updated_before, limit], op_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    })
    }

    fn operations_for(
        &self,
        transaction_id: Option<i64>,
        invoice_id: Option<i64>,
    ) -> Result<Vec<Operation>> {
        let (sql, args) = operations_for_query(transaction_id, invoice_id);
        let Some(sql) = sql else {
            return Ok(Vec::new());
        };
        self.read(|conn| {
            let mut st = conn.prepare_cached(&sql)?;
            let rows = st
                .query_map(params_from_iter(args), op_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn set_operation_state(
        &self,
        id: i64,
        state: OpState,
        last_error: Option<&str>,
        attempted: bool,
    ) -> Result<()> {
        self.write(|conn| set_op_state(conn, id, state, last_error, attempted))
    }

    fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        owner: &str,
    ) -> Result<IdemBegin> {
        self.write(|tx| {
        let existing: Option<IdemRow> = tx.prepare_cached("SELECT request_hash, state, owner, status_code, response, created_at FROM api_idempotency
                 WHERE scope = ?1 AND key = ?2")?.query_row(params![scope, key],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let result = match existing {
            None => {
                tx.prepare_cached("INSERT INTO api_idempotency (scope, key, request_hash, state, owner, created_at)
                     VALUES (?1, ?2, ?3, 'running', ?4, ?5)")?.execute(params![scope, key, request_hash, owner, now()],
                )?;
                IdemBegin::Run
            }
            Some((hash, ..)) if hash != request_hash => IdemBegin::Mismatch,
            Some((_, state, _, Some(status), Some(body), _)) if state == "done" => {
                IdemBegin::Replay { status, body }
            }
            // Running in this process, unless it has been for ten minutes (its task died).
            Some((_, _, prev_owner, _, _, created))
                if prev_owner == owner && created > now() - 600 =>
            {
                IdemBegin::InProgress
            }
            Some(_) => {
                // Started by a process that is gone: run it again (the handlers are idempotent
                // on their own keys, derived from this one).
                tx.prepare_cached("UPDATE api_idempotency SET owner = ?3, state = 'running', created_at = ?4
                     WHERE scope = ?1 AND key = ?2")?.execute(params![scope, key, owner, now()],
                )?;
                IdemBegin::Run
            }
        };
        Ok(result)
    })
    }

    fn idem_finish(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()> {
        self.write(|conn| {
        conn.prepare_cached("UPDATE api_idempotency SET state = 'done', status_code = ?3, response = ?4 WHERE scope = ?1 AND key = ?2")?.execute(params![scope, key, status, body],
        )?;
        Ok(())
    })
    }

    fn idem_abort(&self, scope: &str, key: &str) -> Result<()> {
        self.write(|conn| {
            conn.prepare_cached("DELETE FROM api_idempotency WHERE scope = ?1 AND key = ?2")?
                .execute(params![scope, key])?;
            Ok(())
        })
    }

    fn webhook_seen(&self, gateway: &str, event_id: &str) -> Result<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM webhook_events WHERE gateway = ?1 AND event_id = ?2",
                )?
                .query_row(params![gateway, event_id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn record_webhook(&self, gateway: &str, event_id: &str, gateway_type: &str) -> Result<bool> {
        self.write(|conn| {
        let n = conn.prepare_cached("INSERT INTO webhook_events (gateway, event_id, gateway_type, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING")?.execute(params![gateway, event_id, gateway_type, now()],
        )?;
        Ok(n == 1)
    })
    }

    fn totals(&self, currency: &str, from: Ts, to: Ts) -> Result<LedgerTotals> {
        self.read(|conn| {
        let (charges, captured, refunded): (i64, i64, i64) = conn.prepare_cached("SELECT COUNT(*), COALESCE(SUM(amount_captured), 0), COALESCE(SUM(amount_refunded), 0)
             FROM transactions WHERE currency = ?1 AND kind = 'charge' AND created_at >= ?2 AND created_at < ?3
               AND status IN ('succeeded', 'partially_refunded', 'refunded')")?.query_row(params![currency, from, to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let failed: i64 = conn.prepare_cached("SELECT COUNT(*) FROM transactions WHERE currency = ?1 AND kind = 'charge' AND status = 'failed'
               AND created_at >= ?2 AND created_at < ?3")?.query_row(params![currency, from, to],
            |r| r.get(0),
        )?;
        let unsettled: i64 = conn.prepare_cached("SELECT COUNT(*) FROM transactions WHERE currency = ?1 AND kind = 'charge'
               AND (status IN ('unknown', 'processing') OR (status = 'pending' AND attempted_at IS NOT NULL))
               AND created_at >= ?2 AND created_at < ?3")?.query_row(params![currency, from, to],
            |r| r.get(0),
        )?;
        Ok(LedgerTotals {
            charges: charges as u64,
            captured,
            refunded,
            failed: failed as u64,
            unsettled: unsettled as u64,
        })
    })
    }
}

fn customer_row(r: &Row<'_>) -> rusqlite::Result<CustomerLink> {
    Ok(CustomerLink {
        crm_customer_id: r.get(0)?,
        gateway: r.get(1)?,
        gateway_customer_ref: r.get(2)?,
        email: r.get(3)?,
        name: r.get(4)?,
        created_at: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> SqliteLedger {
        SqliteLedger::in_memory().expect("ledger")
    }

    fn new_card(customer: &str, r: &str, default: bool) -> NewCard {
        NewCard {
            crm_customer_id: customer.into(),
            gateway: "stripe".into(),
            gateway_card_ref: r.into(),
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
            funding: "credit".into(),
            fingerprint: None,
            nickname: Some("Work Visa".into()),
            make_default: default,
        }
    }

    fn new_txn(customer: &str, amount: i64, key: &str) -> NewTransaction {
        NewTransaction {
            crm_customer_id: customer.into(),
            card_id: None,
            gateway: None,
            amount,
            currency: "USD".into(),
            description: Some("service".into()),
            kind: TxnKind::Charge,
            capture: Capture::Automatic,
            status: TxnStatus::Pending,
            idempotency_key: key.into(),
        }
    }

    fn succeed(l: &SqliteLedger, id: i64, amount: i64) {
        l.update_transaction(
            id,
            &[TxnStatus::Pending],
            &TxnPatch {
                status: Some(TxnStatus::Succeeded),
                amount_captured: Some(amount),
                gateway: Some("stripe".into()),
                gateway_payment_ref: Some(format!("pi_{id}")),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    }

    fn refund_op(r: &Refund, t: &Transaction) -> Result<NewOperation> {
        Ok(NewOperation {
            kind: OpKind::Refund,
            gateway: "stripe".into(),
            transaction_id: Some(t.id),
            refund_id: Some(r.id),
            invoice_id: None,
            idempotency_key: r.idempotency_key.clone().unwrap_or_default(),
            params: serde_json::json!({ "amount": r.amount }),
        })
    }

    fn refund(
        l: &SqliteLedger,
        txn: i64,
        amount: Option<i64>,
        reason: Option<&str>,
        key: &str,
    ) -> Result<Refund> {
        l.create_refund(txn, amount, reason, key, &refund_op)
            .map(|(r, _)| r)
    }

    fn new_invoice(customer: &str, key: &str, at: Ts) -> NewInvoice {
        NewInvoice {
            crm_customer_id: customer.into(),
            gateway: "stripe".into(),
            currency: "USD".into(),
            description: None,
            period_start: None,
            period_end: None,
            due_date: None,
            idempotency_key: key.into(),
            now: at,
        }
    }

    fn charge_op(txn: i64, key: &str) -> NewOperation {
        NewOperation {
            kind: OpKind::Charge,
            gateway: "stripe".into(),
            transaction_id: Some(txn),
            refund_id: None,
            invoice_id: None,
            idempotency_key: key.into(),
            params: serde_json::json!({ "amount": 1000 }),
        }
    }

    #[test]
    fn a_charge_intent_is_written_whole_and_only_for_a_free_pending_charge() {
        let l = ledger();
        let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
        let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
        let op = l.begin_charge(&charge_op(t.id, "k1"), card.id).unwrap();
        let op = op.expect("a pending charge can be started");
        assert_eq!(
            (op.state, op.transaction_id),
            (OpState::Pending, Some(t.id))
        );
        let t1 = l.transaction(t.id).unwrap().unwrap();
        assert_eq!(t1.card_id, Some(card.id));
        assert!(t1.attempted_at.is_some());
        // Started once: a second start (another task) writes nothing.
        assert!(
            l.begin_charge(&charge_op(t.id, "k1-again"), card.id)
                .unwrap()
                .is_none()
        );
        // Neither an invoice nor a void takes a transaction whose charge has started ...
        let inv = new_invoice("c1", "inv-1", now());
        assert!(l.create_invoice(&inv).unwrap().is_none());
        assert!(l.cancel_unattempted(t.id).unwrap().is_none());
        assert_eq!(
            l.transaction(t.id).unwrap().unwrap().status,
            TxnStatus::Pending
        );
        // ... and a charge never starts on an invoiced or voided transaction.
        let (u, _) = l.insert_transaction(&new_txn("c1", 500, "k2")).unwrap();
        let invoice = l.create_invoice(&inv).unwrap().expect("invoiced");
        assert_eq!(
            l.transaction(u.id).unwrap().unwrap().invoice_id,
            Some(invoice.id)
        );
        assert!(
            l.begin_charge(&charge_op(u.id, "k2"), card.id)
                .unwrap()
                .is_none()
        );
        assert!(l.cancel_unattempted(u.id).unwrap().is_none());
        let (v, _) = l.insert_transaction(&new_txn("c1", 700, "k3")).unwrap();
        let voided = l.cancel_unattempted(v.id).unwrap().expect("voided");
        assert_eq!(voided.status, TxnStatus::Canceled);
        assert!(
            l.begin_charge(&charge_op(v.id, "k3"), card.id)
                .unwrap()
                .is_none()
        );
        // Nothing was written for the refused starts.
        assert_eq!(l.unsettled_operations(now() + 1, 10).unwrap().len(), 1);
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

    #[test]
    fn cards_default_and_removal() {
        let l = ledger();
        let a = l.insert_card(&new_card("c1", "pm_a", false)).unwrap();
        assert!(a.is_default, "the first card becomes the default");
        let b = l.insert_card(&new_card("c1", "pm_b", false)).unwrap();
        assert!(!b.is_default);
        let again = l.insert_card(&new_card("c1", "pm_b", true)).unwrap();
        assert_eq!(again.id, b.id, "storing the same card again returns it");
        assert!(l.set_default_card("c1", b.id).unwrap());
        let cards = l.cards("c1").unwrap();
        assert_eq!(cards[0].id, b.id);
        assert!(cards[0].is_default && !cards[1].is_default);
        assert!(
            !l.set_default_card("c2", a.id).unwrap(),
            "another customer's card"
        );
        assert!(l.remove_card("c1", b.id).unwrap());
        assert!(!l.remove_card("c1", b.id).unwrap());
        assert!(l.card(b.id).unwrap().is_none());
        assert_eq!(l.cards("c1").unwrap().len(), 1);
        assert!(matches!(
            l.insert_card(&new_card("c1", "pm_b", false)),
            Err(LedgerError::Conflict { field: "token", .. })
        ));
        let exp = l.expiring_cards((2030, 1), (2030, 12)).unwrap();
        assert_eq!(exp.len(), 1);
        assert!(l.expiring_cards((2031, 1), (2031, 12)).unwrap().is_empty());
        assert!(
            l.update_card_details("stripe", "pm_a", 1, 2031, "1111")
                .unwrap()
        );
        assert_eq!(
            l.expiring_cards((2031, 1), (2031, 1)).unwrap()[0].last4,
            "1111"
        );
    }

    #[test]
    fn transactions_are_idempotent_and_compare_and_set() {
        let l = ledger();
        let (t, created) = l.insert_transaction(&new_txn("c1", 500, "k1")).unwrap();
        assert!(created);
        let (t2, created2) = l.insert_transaction(&new_txn("c1", 500, "k1")).unwrap();
        assert!(!created2);
        assert_eq!(t.id, t2.id);
        let moved = l
            .update_transaction(
                t.id,
                &[TxnStatus::Pending],
                &TxnPatch {
                    status: Some(TxnStatus::Unknown),
                    last_error: Some(Some("timeout".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(moved.unwrap().status, TxnStatus::Unknown);
        // A stale writer expecting `pending` loses.
        assert!(
            l.update_transaction(
                t.id,
                &[TxnStatus::Pending],
                &TxnPatch {
                    status: Some(TxnStatus::Failed),
                    ..Default::default()
                }
            )
            .unwrap()
            .is_none()
        );
        l.insert_transaction(&new_txn("c2", 700, "k2")).unwrap();
        let all = l.transactions(&TxnFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].crm_customer_id, "c2", "newest first");
        let f = TxnFilter {
            customer: Some("c1".into()),
            statuses: vec![TxnStatus::Unknown],
            ..Default::default()
        };
        assert_eq!(l.transactions(&f).unwrap().len(), 1);
        let f = TxnFilter {
            invoiced: Some(true),
            ..Default::default()
        };
        assert!(l.transactions(&f).unwrap().is_empty());
    }

    #[test]
    fn refunds_never_exceed_what_remains_and_converge() {
        let l = ledger();
        let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
        assert!(matches!(
            refund(&l, t.id, Some(100), None, "r0"),
            Err(LedgerError::Conflict { .. })
        ));
        succeed(&l, t.id, 1000);
        let (r1, op) = l
            .create_refund(t.id, Some(600), None, "r1", &refund_op)
            .unwrap();
        assert_eq!(r1.status, RefundStatus::Pending);
        // The refund and its operation are written together.
        assert_eq!(
            (op.kind, op.refund_id, op.idempotency_key.as_str(), op.state),
            (OpKind::Refund, Some(r1.id), "r1", OpState::Pending)
        );
        assert_eq!(
            l.create_refund(t.id, Some(600), None, "r1", &refund_op)
                .unwrap()
                .1
                .id,
            op.id,
            "a repeat finds the same operation"
        );
        assert!(matches!(
            refund(&l, t.id, Some(500), None, "r2"),
            Err(LedgerError::RefundExceeds {
                requested: 500,
                remaining: 400
            })
        ));
        // The same key returns the same refund.
        assert_eq!(refund(&l, t.id, Some(600), None, "r1").unwrap().id, r1.id);
        // A webhook arrives first and claims the single matching refund ...
        let seen = l
            .observe_refund(t.id, "re_1", 600, RefundStatus::Succeeded)
            .unwrap()
            .unwrap();
        assert_eq!(seen.id, r1.id);
        let t1 = l.transaction(t.id).unwrap().unwrap();
        assert_eq!(
            (t1.amount_refunded, t1.status),
            (600, TxnStatus::PartiallyRefunded)
        );
        // ... then the synchronous path settles the same outcome: no double counting.
        assert!(
            l.settle_refund(
                r1.id,
                &[RefundStatus::Pending, RefundStatus::Unknown],
                RefundStatus::Succeeded,
                Some("re_1"),
                None
            )
            .unwrap()
            .is_none()
        );
        assert_eq!(l.transaction(t.id).unwrap().unwrap().amount_refunded, 600);
        // The rest, by omitting the amount.
        let r2 = refund(&l, t.id, None, Some("requested_by_customer"), "r3").unwrap();
        assert_eq!(r2.amount, 400);
        l.settle_refund(
            r2.id,
            &[RefundStatus::Pending],
            RefundStatus::Succeeded,
            Some("re_2"),
            None,
        )
        .unwrap()
        .unwrap();
        let t2 = l.transaction(t.id).unwrap().unwrap();
        assert_eq!((t2.amount_refunded, t2.status), (1000, TxnStatus::Refunded));
        // A refund made outside the service is recorded once.
        let (u, _) = l.insert_transaction(&new_txn("c1", 300, "k2")).unwrap();
        succeed(&l, u.id, 300);
        let ext = l
            .observe_refund(u.id, "re_ext", 100, RefundStatus::Succeeded)
            .unwrap()
            .unwrap();
        assert!(ext.idempotency_key.is_none());
        l.observe_refund(u.id, "re_ext", 100, RefundStatus::Succeeded)
            .unwrap();
        assert_eq!(l.refunds(u.id).unwrap().len(), 1);
        assert_eq!(l.transaction(u.id).unwrap().unwrap().amount_refunded, 100);
    }

    #[test]
    fn invoices_take_uninvoiced_pending_transactions() {
        let l = ledger();
        let (a, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
        let mut credit = new_txn("c1", 250, "k2");
        credit.kind = TxnKind::Credit;
        let (b, _) = l.insert_transaction(&credit).unwrap();
        let mut eur = new_txn("c1", 999, "k3");
        eur.currency = "EUR".into();
        l.insert_transaction(&eur).unwrap();
        let (paid, _) = l.insert_transaction(&new_txn("c1", 5, "k4")).unwrap();
        succeed(&l, paid.id, 5);
        let ts = 1_767_225_600; // 2026-01-01
        let new = new_invoice("c1", "inv1", ts);
        let inv = l.create_invoice(&new).unwrap().unwrap();
        assert_eq!(inv.number, "INV-2026-000001");
        assert_eq!(
            (inv.subtotal, inv.total, inv.status),
            (750, 750, InvoiceStatus::Draft)
        );
        let lines = l.invoice_lines(inv.id).unwrap();
        assert_eq!(
            lines.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![a.id, b.id]
        );
        // Same key: same invoice.
        assert_eq!(l.create_invoice(&new).unwrap().unwrap().id, inv.id);
        // Nothing left to invoice in USD.
        let mut again = new.clone();
        again.idempotency_key = "inv2".into();
        assert!(l.create_invoice(&again).unwrap().is_none());
        // Void releases the lines; a new invoice takes them and gets the next number.
        l.update_invoice(
            inv.id,
            &[InvoiceStatus::Draft],
            &InvoicePatch {
                status: Some(InvoiceStatus::Void),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
        let inv2 = l.create_invoice(&again).unwrap().unwrap();
        assert_eq!(inv2.number, "INV-2026-000002");
        // Paying marks the lines succeeded; paying twice is refused by compare-and-set.
        let patch = InvoicePatch {
            status: Some(InvoiceStatus::Paid),
            amount_paid: Some(750),
            ..Default::default()
        };
        assert!(
            l.update_invoice(
                inv2.id,
                &[InvoiceStatus::Draft, InvoiceStatus::Open],
                &patch
            )
            .unwrap()
            .is_some()
        );
        assert!(
            l.update_invoice(
                inv2.id,
                &[InvoiceStatus::Draft, InvoiceStatus::Open],
                &patch
            )
            .unwrap()
            .is_none()
        );
        let lines = l.invoice_lines(inv2.id).unwrap();
        assert!(lines.iter().all(|t| t.status == TxnStatus::Succeeded));
        assert_eq!(lines[0].amount_captured, 1000);
        assert_eq!(lines[1].amount_captured, 0, "a credit captures nothing");
        let open = l
            .invoices(&InvoiceFilter {
                statuses: vec![InvoiceStatus::Paid],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(open.len(), 1);
    }

    #[test]
    fn disputes_only_move_forward() {
        let l = ledger();
        let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
        succeed(&l, t.id, 1000);
        let mut u = DisputeUpdate {
            gateway: "stripe".into(),
            gateway_dispute_ref: "du_1".into(),
            gateway_payment_ref: Some(format!("pi_{}", t.id)),
            transaction_id: None,
            amount: 1000,
            currency: "USD".into(),
            reason: "fraudulent".into(),
            status: DisputeStatus::Lost,
        };
        let d = l.upsert_dispute(&u).unwrap();
        assert_eq!(
            (d.status, d.transaction_id),
            (DisputeStatus::Lost, Some(t.id))
        );
        u.status = DisputeStatus::Open; // a late "opened" event
        assert_eq!(l.upsert_dispute(&u).unwrap().status, DisputeStatus::Lost);
        assert_eq!(l.disputes(Some(t.id)).unwrap().len(), 1);
    }

    #[test]
    fn operations_idempotency_and_webhooks() {
        let l = ledger();
        let op = NewOperation {
            kind: OpKind::Charge,
            gateway: "stripe".into(),
            transaction_id: None,
            refund_id: None,
            invoice_id: None,
            idempotency_key: "key-1".into(),
            params: serde_json::json!({"amount": 5}),
        };
        let (o, created) = l.insert_operation(&op).unwrap();
        assert!(created && o.state == OpState::Pending);
        let (o2, created2) = l.insert_operation(&op).unwrap();
        assert!(!created2 && o2.id == o.id);
        assert_eq!(l.unsettled_operations(now() + 1, 10).unwrap().len(), 1);
        l.set_operation_state(o.id, OpState::Done, None, true)
            .unwrap();
        assert!(l.unsettled_operations(now() + 1, 10).unwrap().is_empty());
        assert_eq!(l.operation(o.id).unwrap().unwrap().attempts, 1);

        assert_eq!(
            l.idem_begin("crm", "a", "h1", "p1").unwrap(),
            IdemBegin::Run
        );
        assert_eq!(
            l.idem_begin("crm", "a", "h1", "p1").unwrap(),
            IdemBegin::InProgress
        );
        assert_eq!(
            l.idem_begin("crm", "a", "h2", "p1").unwrap(),
            IdemBegin::Mismatch
        );
        l.idem_finish("crm", "a", 201, b"{}").unwrap();
        assert_eq!(
            l.idem_begin("crm", "a", "h1", "p1").unwrap(),
            IdemBegin::Replay {
                status: 201,
                body: b"{}".to_vec()
            }
        );
        assert_eq!(
            l.idem_begin("crm", "b", "h1", "p1").unwrap(),
            IdemBegin::Run
        );
        assert_eq!(
            l.idem_begin("crm", "b", "h1", "p2").unwrap(),
            IdemBegin::Run,
            "owner died"
        );
        assert_eq!(
            l.idem_begin("other", "a", "h1", "p1").unwrap(),
            IdemBegin::Run,
            "scoped per key"
        );

        assert!(!l.webhook_seen("stripe", "evt_1").unwrap());
        assert!(
            l.record_webhook("stripe", "evt_1", "charge.refunded")
                .unwrap()
        );
        assert!(
            !l.record_webhook("stripe", "evt_1", "charge.refunded")
                .unwrap()
        );
        assert!(l.webhook_seen("stripe", "evt_1").unwrap());
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
        let l = ledger();
        let w = lock(&l.writer);
        let c = &w.conn;
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
            (format!("SELECT {OP_COLS} FROM operations WHERE idempotency_key = ?1"), vec![text]),
            (format!("SELECT {OP_COLS} FROM operations WHERE id = ?1"), vec![one]),
            (format!("SELECT {TXN_COLS} FROM transactions WHERE id = ?1"), vec![one]),
            (
                format!("SELECT {TXN_COLS} FROM transactions WHERE idempotency_key = ?1"),
                vec![text],
            ),
            (
                format!(
                    "SELECT {TXN_COLS} FROM transactions WHERE gateway = ?1 AND gateway_payment_ref = ?2"
                ),
                vec![text, text],
            ),
            (
                format!(
                    "SELECT {CARD_COLS} FROM cards WHERE crm_customer_id = ?1 AND removed_at IS NULL"
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
                format!(
                    "SELECT {DISPUTE_COLS} FROM disputes WHERE transaction_id = ?1
                       OR (transaction_id IS NULL AND gateway_payment_ref IS NOT NULL AND gateway_payment_ref =
                           (SELECT gateway_payment_ref FROM transactions WHERE id = ?1))"
                ),
                vec![one],
            ),
            (
                "SELECT request_hash FROM api_idempotency WHERE scope = ?1 AND key = ?2".to_string(),
                vec![text, text],
            ),
        ] {
            scans(&sql, &args);
        }
    }

    #[test]
    fn a_charge_and_its_intent_are_written_together_then_settled_together() {
        let l = ledger();
        let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
        let mut t = new_txn("c1", 1000, "k1");
        t.card_id = Some(card.id);
        t.gateway = Some("stripe".into());
        let (txn, op) = l.create_charge(&t, &|t| Ok(charge_op(t.id, "k1"))).unwrap();
        let op = op.expect("a new charge gets its intent");
        assert_eq!(
            (op.transaction_id, op.state),
            (Some(txn.id), OpState::Pending)
        );
        assert!(txn.attempted_at.is_some() && txn.card_id == Some(card.id));
        // Started: neither an invoice nor a void takes it.
        assert!(l.cancel_unattempted(txn.id).unwrap().is_none());
        // A repeat of the key writes nothing.
        let (again, none) = l.create_charge(&t, &|t| Ok(charge_op(t.id, "k1"))).unwrap();
        assert_eq!((again.id, none), (txn.id, None));
        assert_eq!(l.operations_for(Some(txn.id), None).unwrap().len(), 1);
        // A builder that fails leaves nothing behind.
        let mut u = t.clone();
        u.idempotency_key = "k2".into();
        assert!(
            l.create_charge(&u, &|_| Err(LedgerError::Database("no".into())))
                .is_err()
        );
        let f = TxnFilter::default();
        assert_eq!(l.transactions(&f).unwrap().len(), 1);
        // Outcome: unknown, then a retry-class failure keeps the operation unknown.
        let patch = TxnPatch {
            status: Some(TxnStatus::Unknown),
            ..Default::default()
        };
        let (state, row) = l
            .settle_charge(
                op.id,
                txn.id,
                &[TxnStatus::Pending],
                Some(&patch),
                OpState::Unknown,
                Some("timeout"),
            )
            .unwrap();
        assert_eq!(
            (state, row.unwrap().status),
            (OpState::Unknown, TxnStatus::Unknown)
        );
        let (state, _) = l
            .settle_charge(
                op.id,
                txn.id,
                &[],
                None,
                OpState::Pending,
                Some("rate limited"),
            )
            .unwrap();
        assert_eq!(state, OpState::Unknown);
        let patch = TxnPatch {
            status: Some(TxnStatus::Succeeded),
            amount_captured: Some(1000),
            ..Default::default()
        };
        let (state, row) = l
            .settle_charge(
                op.id,
                txn.id,
                &[TxnStatus::Unknown],
                Some(&patch),
                OpState::Done,
                None,
            )
            .unwrap();
        assert_eq!(
            (state, row.unwrap().status),
            (OpState::Done, TxnStatus::Succeeded)
        );
        let op = l.operation(op.id).unwrap().unwrap();
        assert_eq!((op.state, op.attempts), (OpState::Done, 3));
        // A stale outcome does not move it back; the row as it stands is returned.
        let (_, row) = l
            .settle_charge(
                op.id,
                txn.id,
                &[TxnStatus::Pending],
                Some(&patch),
                OpState::Done,
                None,
            )
            .unwrap();
        assert_eq!(row.unwrap().status, TxnStatus::Succeeded);
    }

    #[test]
    fn concurrent_writes_share_commits_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let l =
            Arc::new(SqliteLedger::open(&dir.path().join("ledger.db"), Durability::Full).unwrap());
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
                        let failed = l.write(|c| {
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
        assert!(lock(&l.writer).batch.is_none(), "no batch is left open");
        // A panicking write leaves the ledger usable.
        let l2 = l.clone();
        let panicked = std::thread::spawn(move || {
            l2.write(|c| -> Result<()> {
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
}
