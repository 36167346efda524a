//! The ledger on PostgreSQL, shared by several service instances.
//!
//! Every query is the SQLite ledger's (`ledger/queries/`, compiled here against `sql`), run
//! through a rusqlite-shaped layer (`compat`) over a pool of synchronous `postgres` clients
//! (`connections`); each write is one serializable transaction,
//! run again when PostgreSQL reports a conflict with a concurrent one, so the compare-and-set
//! writes of the intent log hold across instances as they do for SQLite's single writer. The
//! schema is applied at start under an advisory lock (`migrations`).
//!
//! What several instances need beyond that lives in `cluster`: billing-run claims with leases,
//! the shared pacing of gateway calls, leadership of background jobs and the liveness of the
//! instances that own running API requests (`idempotency`).
//!
//! The password never appears in the configuration: it is given apart (from the environment) and
//! refused inside the URL; [`redacted`] shows a URL without it. TLS is the URL's `sslmode`, the
//! server's certificate always verified (`tls`).

#![expect(
    clippy::duplicate_mod,
    reason = "the queries of `ledger/queries/` are compiled once in each SQL backend, by design"
)]

#[path = "../queries/captures.rs"]
mod captures;
#[path = "../queries/claims.rs"]
mod claims;
mod cluster;
mod compat;
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
mod tls;
#[path = "../queries/totals.rs"]
mod totals;
#[path = "../queries/transactions.rs"]
mod transactions;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use self::cluster::SessionLocks;
use self::connections::Connections;
pub use self::migrations::MIGRATIONS;
use crate::ledger::{
    Begun, CaptureRecord, CaptureStatus, Card, CardDetails, CustomerLink, Dispute, DisputeUpdate,
    DueClaim, IdemBegin, Invoice, InvoiceFilter, InvoicePatch, InvoiceStatus, Ledger, LedgerError,
    LedgerFigures, LedgerTotals, NewCard, NewInvoice, NewOperation, NewTransaction, OpKind,
    OpState, Operation, PaymentChangeBuilder, Refund, RefundStatus, Result, Transaction, Ts,
    TxnFilter, TxnPatch, TxnStatus,
};

/// Connections of the pool by default.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// How to reach the database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/database` (or a key=value connection string), without a
    /// password.
    pub url: String,
    /// The password, from the environment; none for trust or peer authentication.
    pub password: Option<String>,
    /// Connections of the pool, at most.
    pub pool_size: u32,
    /// A PEM file of the authorities the server's certificate may come from, trusted beside the
    /// public web's (a private CA, a cloud provider's).
    pub ca_pem: Option<PathBuf>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redacted(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("pool_size", &self.pool_size)
            .field("ca_pem", &self.ca_pem)
            .finish()
    }
}

/// Whether `database` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// Whether a connection string names `sslmode`: without it the connection is plain TCP (as
/// `sslmode=disable`), not the driver's `prefer`, so that a server offering TLS with a
/// certificate nobody configured trust for is reached as before rather than refused.
pub fn names_ssl_mode(url: &str) -> bool {
    url.contains("sslmode=")
}

/// `url` with any password replaced by `***`, for logs and messages.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an unreadable database URL)".to_string(),
    }
}

/// The PostgreSQL ledger.
pub struct PgLedger {
    db: Connections,
    locks: SessionLocks,
}

impl PgLedger {
    /// Connects, and applies pending migrations (one instance at a time).
    pub fn open(options: &PgOptions) -> Result<Self> {
        let shown = redacted(&options.url);
        let mut config = postgres::Config::from_str(&options.url)
            .map_err(|e| LedgerError::Database(format!("database URL {shown}: {e}")))?;
        if config.get_password().is_some() {
            return Err(LedgerError::Database(format!(
                "database URL {shown}: the password belongs in the environment, not in the URL"
            )));
        }
        if let Some(p) = &options.password {
            config.password(p);
        }
        config
            .application_name("omnicrm-pay")
            .connect_timeout(Duration::from_secs(10));
        if !names_ssl_mode(&options.url) {
            tracing::warn!(database = %shown, "the connection to PostgreSQL is not encrypted: add `sslmode=require` to the URL unless the network is private");
            config.ssl_mode(postgres::config::SslMode::Disable);
        }
        let connector = tls::connector(options.ca_pem.as_deref())?;
        // One connection first, for the migrations: a server that can not be reached, or not
        // trusted, is told at once and why (the pool retries until its timeout and keeps the
        // outermost error only).
        let mut client = connections::connect(&config, &connector)
            .map_err(|e| LedgerError::Database(format!("{shown}: {e}")))?;
        migrations::migrate(&mut client)?;
        let db = Connections::open(config, connector, options.pool_size)
            .map_err(|e| LedgerError::Database(format!("{shown}: {e}")))?;
        Ok(PgLedger {
            db,
            locks: SessionLocks::default(),
        })
    }

    /// Applies the migrations not applied yet; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<i64>> {
        migrations::migrate(&mut *self.db.dedicated()?)
    }

    /// The applied migration versions.
    pub fn applied_migrations(&self) -> Result<Vec<i64>> {
        migrations::applied(&mut *self.db.dedicated()?)
    }
}

impl Ledger for PgLedger {
    crate::ledger::queries::ledger_methods!();

    fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        request: &[u8],
        owner: &str,
    ) -> Result<IdemBegin> {
        self.locks.hold_presence(&self.db, owner)?;
        idempotency::idem_begin(&self.db, scope, key, request_hash, request, owner)
    }
    fn shared(&self) -> bool {
        true
    }

    fn claim_due_transactions(&self, claim: &DueClaim) -> Result<Vec<Transaction>> {
        cluster::claim_due_transactions(&self.db, claim)
    }

    fn due_claimed_elsewhere(&self, claim: &DueClaim) -> Result<Option<Duration>> {
        cluster::due_claimed_elsewhere(&self.db, claim)
    }

    fn release_claims(&self, owner: &str) -> Result<()> {
        cluster::release_claims(&self.db, owner)
    }

    fn pace(&self, gateway: &str, interval: Duration) -> Result<Duration> {
        cluster::pace(&self.db, gateway, interval)
    }

    fn lead(&self, role: &str) -> Result<bool> {
        self.locks.lead(&self.db, role)
    }
}
