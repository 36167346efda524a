//! The connections of the SQLite ledger: one writer with group commit, and a small pool of
//! read connections.
//!
//! A write runs inside a savepoint of the batch transaction that is open on the writer
//! connection, and the last writer of a burst (the one that finds nobody else waiting for the
//! connection) commits the batch, with one `fsync` for all of them. No write returns before the
//! commit that holds it is durable; a write that fails (or panics) rolls back its own savepoint
//! only. Reads run on the read connections, each in its own snapshot of the last commit, without
//! waiting behind the writer; without read connections (an in-memory ledger) reads use the
//! writer's.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

use rusqlite::Connection;

use crate::ledger::{LedgerError, Result};

/// At most this many writes share one commit.
const MAX_BATCH: usize = 256;

/// The writer connection, its waiting writes, and the read connections.
pub(super) struct Connections {
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

impl Connections {
    /// The set around a configured writer connection, with no read connections yet.
    pub(super) fn new(writer: Connection) -> Self {
        Connections {
            writer: Mutex::new(Writer {
                conn: writer,
                batch: None,
                size: 0,
            }),
            queued: AtomicUsize::new(0),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        }
    }

    /// Adds a configured read connection to the pool.
    pub(super) fn add_reader(&mut self, reader: Connection) {
        self.readers.push(Mutex::new(reader));
    }

    /// Runs `f` with the writer connection held, outside group commit: for the migrations, which
    /// run their own transactions.
    pub(super) fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut lock(&self.writer).conn)
    }

    /// Whether a batch transaction is open on the writer connection.
    #[cfg(test)]
    pub(super) fn batch_open(&self) -> bool {
        lock(&self.writer).batch.is_some()
    }

    /// Runs `f` in one snapshot of the last commit, on a read connection.
    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
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
    pub(super) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
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
