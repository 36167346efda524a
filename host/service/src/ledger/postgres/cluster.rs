//! What several instances on one database share beyond the ledger's rows.
//!
//! - Billing-run claims: a run claims its next batch of due transactions with `FOR UPDATE SKIP
//!   LOCKED`, marking each with its owner and a lease (on the transaction's own row, so that a
//!   claimant that waited for a row's lock re-checks the lease it finds there). Another run
//!   skips rows claimed under an unexpired lease; once a lease expires (its instance died) the
//!   next claim takes the row over. Claims only split the work: the charge itself stays
//!   exactly-once through its intent (`begin_charge`) and its idempotency key.
//! - Pacing: one row per gateway holds the next free start slot, taken and pushed forward in one
//!   statement on the database's clock, so calls are spaced across every instance.
//! - Session locks: advisory locks held by one dedicated connection per instance for as long as
//!   it lives: leadership of a background job, and the presence of the instance that owns the
//!   API requests it runs (another instance finds it alive while it holds the lock). When an
//!   instance dies its connection closes and the server frees its locks.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use super::compat::{OptionalExtension, OwnedClient, params, pg_error};
use super::connections::Connections;
use super::transactions::{TXN_COLS, txn_row};
use crate::ledger::{DueClaim, Result, Transaction};

/// The database's clock, in milliseconds since the epoch.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
/// The database's clock, in microseconds since the epoch.
const NOW_US: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

/// The first key of the advisory locks that elect a job's leader.
pub(super) const LEADER_LOCKS: i32 = 0x6f6d_0002;
/// The first key of the advisory locks that show an instance alive.
pub(super) const PRESENCE_LOCKS: i32 = 0x6f6d_0003;

/// See [`crate::ledger::Ledger::claim_due_transactions`].
pub(super) fn claim_due_transactions(
    db: &Connections,
    claim: &DueClaim,
) -> Result<Vec<Transaction>> {
    let sql = format!(
        "UPDATE transactions SET claimed_by = ?1, claim_expires_ms = {NOW_MS} + ?2
         WHERE id IN (
             SELECT id FROM transactions
             WHERE status = 'pending' AND kind = 'charge' AND invoice_id IS NULL AND id <= ?3
               AND claimed_by IS DISTINCT FROM ?1
               AND (claim_expires_ms IS NULL OR claim_expires_ms < {NOW_MS})
             ORDER BY id LIMIT ?4
             FOR UPDATE SKIP LOCKED)
         RETURNING {TXN_COLS}"
    );
    let lease_ms = i64::try_from(claim.lease.as_millis()).unwrap_or(i64::MAX / 2);
    let mut rows: Vec<Transaction> = db.write_read_committed(|conn| {
        conn.prepare_cached(&sql)?
            .query_map(
                params![claim.owner, lease_ms, claim.up_to_id, claim.limit],
                txn_row,
            )?
            .collect()
    })?;
    rows.sort_by_key(|t| t.id);
    Ok(rows)
}

/// See [`crate::ledger::Ledger::due_claimed_elsewhere`].
pub(super) fn due_claimed_elsewhere(
    db: &Connections,
    claim: &DueClaim,
) -> Result<Option<Duration>> {
    let sql = format!(
        "SELECT MIN(claim_expires_ms) - {NOW_MS} FROM transactions
         WHERE status = 'pending' AND kind = 'charge' AND invoice_id IS NULL AND id <= ?2
           AND claimed_by <> ?1 AND claim_expires_ms >= {NOW_MS}"
    );
    let left: Option<i64> = db.read(|conn| {
        conn.query_row(&sql, params![claim.owner, claim.up_to_id], |r| r.get(0))
            .map_err(Into::into)
    })?;
    Ok(left.map(|ms| Duration::from_millis(ms.max(0) as u64)))
}

/// See [`crate::ledger::Ledger::release_claims`].
pub(super) fn release_claims(db: &Connections, owner: &str) -> Result<()> {
    db.write_read_committed(|conn| {
        conn.execute(
            "UPDATE transactions SET claim_expires_ms = NULL
             WHERE claimed_by = ?1 AND claim_expires_ms IS NOT NULL",
            params![owner],
        )?;
        Ok(())
    })
}

/// See [`crate::ledger::Ledger::pace`].
pub(super) fn pace(db: &Connections, gateway: &str, interval: Duration) -> Result<Duration> {
    let sql = format!(
        "INSERT INTO gateway_pacing (gateway, next_start_us) VALUES (?1, {NOW_US} + ?2)
         ON CONFLICT (gateway) DO UPDATE
            SET next_start_us = GREATEST(gateway_pacing.next_start_us, {NOW_US}) + ?2
         RETURNING next_start_us - ?2 - {NOW_US}"
    );
    let interval_us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX / 2);
    let wait: i64 = db.write_read_committed(|conn| {
        conn.query_row(&sql, params![gateway, interval_us], |r| r.get(0))
            .map_err(Into::into)
    })?;
    Ok(Duration::from_micros(wait.max(0) as u64))
}

/// The advisory locks this instance holds on its dedicated connection.
#[derive(Default)]
pub(super) struct SessionLocks {
    held: Mutex<Option<Held>>,
}

struct Held {
    client: OwnedClient,
    locks: HashSet<(i32, String)>,
}

impl SessionLocks {
    /// Takes (or finds held) the lock `(space, key)`; whether this instance holds it.
    fn take(&self, db: &Connections, space: i32, key: &str) -> Result<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.as_ref().is_some_and(|h| h.client.is_closed()) {
            // The connection died, and the server freed its locks with it.
            *held = None;
        }
        if held.is_none() {
            *held = Some(Held {
                client: db.dedicated()?,
                locks: HashSet::new(),
            });
        }
        let Some(h) = held.as_mut() else {
            return Ok(false);
        };
        if h.locks.contains(&(space, key.to_string())) {
            return Ok(true);
        }
        let taken: bool = h
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&space, &key],
            )
            .map_err(pg_error)?
            .get(0);
        if taken {
            h.locks.insert((space, key.to_string()));
        }
        Ok(taken)
    }

    /// See [`crate::ledger::Ledger::lead`].
    pub(super) fn lead(&self, db: &Connections, role: &str) -> Result<bool> {
        self.take(db, LEADER_LOCKS, role)
    }

    /// Shows `owner` (this instance's id) alive to the others for as long as it runs. An
    /// instance has one id: one named before is let go (that process is gone).
    pub(super) fn hold_presence(&self, db: &Connections, owner: &str) -> Result<()> {
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = held.as_mut() {
                let gone: Vec<String> = h
                    .locks
                    .iter()
                    .filter(|(space, key)| *space == PRESENCE_LOCKS && key != owner)
                    .map(|(_, key)| key.clone())
                    .collect();
                for key in gone {
                    h.client
                        .execute(
                            "SELECT pg_advisory_unlock($1, hashtext($2))",
                            &[&PRESENCE_LOCKS, &key],
                        )
                        .map_err(pg_error)?;
                    h.locks.remove(&(PRESENCE_LOCKS, key));
                }
            }
        }
        self.take(db, PRESENCE_LOCKS, owner).map(|_| ())
    }
}

/// Whether the instance `owner` is alive: it holds its presence lock. Asked inside a write
/// transaction; the probe's own lock ends with it.
pub(super) fn alive(conn: &super::compat::Connection<'_>, owner: &str) -> Result<bool> {
    let free: Option<bool> = conn
        .query_row(
            "SELECT pg_try_advisory_xact_lock(?1, hashtext(?2))",
            params![PRESENCE_LOCKS, owner],
            |r| r.get(0),
        )
        .optional()?;
    Ok(free == Some(false))
}
