//! The connections of the PostgreSQL ledger: an r2d2 pool of synchronous clients, each keeping
//! the statements prepared on it.
//!
//! A write runs in one `SERIALIZABLE` transaction and is run again (with a short random pause)
//! when PostgreSQL reports a serialization failure or a deadlock: the compare-and-set queries,
//! written for SQLite's single writer, then behave as if writes ran one at a time, across every
//! instance on the database. A read runs in one `REPEATABLE READ READ ONLY` transaction: one
//! snapshot of the last commits.

use std::time::Duration;

use rand::Rng;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::compat::{Connection, OwnedClient, Session, pg_error};
use crate::ledger::{LedgerError, Result};

/// A write that keeps meeting concurrent writes gives up after this many runs.
const MAX_RUNS: u32 = 50;
/// How long a caller waits for a free connection of the pool.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the pool's connections.
pub(super) struct Manager {
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        Ok(Session::new(self.config.connect(self.tls.clone())?))
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), postgres::Error> {
        session.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.is_closed()
    }
}

/// A connection outside any pool.
pub(super) fn connect(config: &postgres::Config, tls: &MakeRustlsConnect) -> Result<OwnedClient> {
    Ok(OwnedClient::new(
        config.connect(tls.clone()).map_err(pg_error)?,
    ))
}

/// The pool.
pub(super) struct Connections {
    pool: r2d2::Pool<Manager>,
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

impl Connections {
    /// A pool of at most `size` connections made with `config` and `tls`; fails when the server
    /// cannot be reached.
    pub(super) fn open(
        config: postgres::Config,
        tls: MakeRustlsConnect,
        size: u32,
    ) -> Result<Self> {
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(Manager {
                config: config.clone(),
                tls: tls.clone(),
            })
            .map_err(|e| LedgerError::Database(format!("connecting to PostgreSQL: {e}")))?;
        Ok(Connections { pool, config, tls })
    }

    /// A connection of its own, outside the pool: for what holds a session (advisory locks).
    pub(super) fn dedicated(&self) -> Result<OwnedClient> {
        connect(&self.config, &self.tls)
    }

    fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool
            .get()
            .map_err(|e| LedgerError::Database(format!("no PostgreSQL connection: {e}")))
    }

    /// Runs `f` in one snapshot of the last commits.
    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection<'_>) -> Result<T>) -> Result<T> {
        let mut session = self.checkout()?;
        let conn = Connection::new(&mut session);
        conn.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let result = f(&conn);
        result.and_then(|v| conn.execute_batch("COMMIT").map(|()| v))
    }

    /// Runs `f` as one serializable write, again when PostgreSQL asks for it; returns once it
    /// is committed.
    pub(super) fn write<T>(&self, f: impl Fn(&Connection<'_>) -> Result<T>) -> Result<T> {
        let mut run = 1;
        loop {
            let mut session = self.checkout()?;
            let conn = Connection::new(&mut session);
            conn.execute_batch("BEGIN ISOLATION LEVEL SERIALIZABLE")?;
            let result = f(&conn).and_then(|v| conn.execute_batch("COMMIT").map(|()| v));
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !conn.must_retry() || run >= MAX_RUNS {
                        return Err(e);
                    }
                }
            }
            drop(conn);
            drop(session);
            let pause = rand::rng().random_range(1..=(2 * run).min(50));
            std::thread::sleep(Duration::from_millis(pause.into()));
            run += 1;
        }
    }

    /// Runs `f` in one `READ COMMITTED` transaction, once: for statements that lock rows
    /// themselves (`FOR UPDATE SKIP LOCKED`), which a serializable snapshot would refuse.
    pub(super) fn write_read_committed<T>(
        &self,
        f: impl FnOnce(&Connection<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut session = self.checkout()?;
        let conn = Connection::new(&mut session);
        conn.execute_batch("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        f(&conn).and_then(|v| conn.execute_batch("COMMIT").map(|()| v))
    }
}
