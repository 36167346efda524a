//! API idempotency keys: a request is run once, its final answer replayed to repeats; a key stays
//! bound to the request it was first used with.
//!
//! A row is `running` (a request with the key is being answered by its `owner` instance), `done`
//! (the answer is saved for replay) or `unsettled` (the request wrote something and has no final
//! answer yet: the same request runs again, another one is refused). A request running in
//! another instance that is alive is waited for, so that both answer the same.

use std::time::{Duration, Instant};

use super::sql::{OptionalExtension, alive, params};

use super::connections::Connections;
use crate::ledger::{IdemBegin, Result, now};

/// A request left running by its owner for this long (seconds) is taken to have died with it.
const RUNNING_FOR_AT_MOST: i64 = 600;
/// How long a request waits for the same request running in another instance.
const WAIT_FOR_OTHER_INSTANCE: Duration = Duration::from_secs(120);
/// How often it looks whether the other instance has answered.
const POLL_OTHER_INSTANCE: Duration = Duration::from_millis(20);

/// A row of `api_idempotency`: request hash, state, owner, status, response, created, request.
type IdemRow = (
    String,
    String,
    String,
    Option<u16>,
    Option<Vec<u8>>,
    i64,
    Option<Vec<u8>>,
);

/// See [`crate::ledger::Ledger::idem_begin`]. A request with the key running in another live
/// instance is waited for (its answer is then replayed), up to [`WAIT_FOR_OTHER_INSTANCE`].
pub(super) fn idem_begin(
    db: &Connections,
    scope: &str,
    key: &str,
    request_hash: &str,
    request: &[u8],
    owner: &str,
) -> Result<IdemBegin> {
    let deadline = Instant::now() + WAIT_FOR_OTHER_INSTANCE;
    loop {
        if let Some(begun) = begin_once(db, scope, key, request_hash, request, owner)? {
            return Ok(begun);
        }
        if Instant::now() >= deadline {
            return Ok(IdemBegin::InProgress);
        }
        std::thread::sleep(POLL_OTHER_INSTANCE);
    }
}

/// One try of [`idem_begin`]: none while another live instance runs the request.
fn begin_once(
    db: &Connections,
    scope: &str,
    key: &str,
    request_hash: &str,
    request: &[u8],
    owner: &str,
) -> Result<Option<IdemBegin>> {
    db.write(|tx| {
        let existing: Option<IdemRow> = tx
            .prepare_cached(
                "SELECT request_hash, state, owner, status_code, response, created_at, request
                 FROM api_idempotency WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![scope, key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .optional()?;
        let result = match existing {
            None => {
                tx.prepare_cached(
                    "INSERT INTO api_idempotency (scope, key, request_hash, state, owner,
                        created_at, request)
                     VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)",
                )?
                .execute(params![
                    scope,
                    key,
                    request_hash,
                    owner,
                    now(),
                    request
                ])?;
                IdemBegin::Run
            }
            Some((hash, .., first)) if hash != request_hash => IdemBegin::Mismatch {
                request: first.unwrap_or_default(),
            },
            Some((_, state, _, Some(status), Some(body), ..)) if state == "done" => {
                IdemBegin::Replay { status, body }
            }
            // Running in this process, unless it has been for too long (its task died).
            Some((_, state, prev_owner, _, _, created, _))
                if state == "running"
                    && prev_owner == owner
                    && created > now() - RUNNING_FOR_AT_MOST =>
            {
                IdemBegin::InProgress
            }
            // Running in another instance that is alive: its answer will be this one's.
            Some((_, state, prev_owner, _, _, created, _))
                if state == "running"
                    && created > now() - RUNNING_FOR_AT_MOST
                    && alive(tx, &prev_owner)? =>
            {
                return Ok(None);
            }
            Some(_) => {
                // Unsettled, or started by a process that is gone: run it again (the handlers
                // are idempotent on their own keys, derived from this one and the request).
                tx.prepare_cached(
                    "UPDATE api_idempotency SET owner = ?3, state = 'running', created_at = ?4
                     WHERE scope = ?1 AND key = ?2",
                )?
                .execute(params![scope, key, owner, now()])?;
                IdemBegin::Run
            }
        };
        Ok(Some(result))
    })
}

/// See [`crate::ledger::Ledger::idem_finish`].
pub(super) fn idem_finish(
    db: &Connections,
    scope: &str,
    key: &str,
    status: u16,
    body: &[u8],
) -> Result<()> {
    db.write(|conn| {
        conn.prepare_cached(
            "UPDATE api_idempotency SET state = 'done', status_code = ?3, response = ?4
             WHERE scope = ?1 AND key = ?2",
        )?
        .execute(params![scope, key, status, body])?;
        Ok(())
    })
}

/// See [`crate::ledger::Ledger::idem_unsettled`].
pub(super) fn idem_unsettled(db: &Connections, scope: &str, key: &str) -> Result<()> {
    db.write(|conn| {
        conn.prepare_cached(
            "UPDATE api_idempotency SET state = 'unsettled' WHERE scope = ?1 AND key = ?2",
        )?
        .execute(params![scope, key])?;
        Ok(())
    })
}

/// See [`crate::ledger::Ledger::idem_abort`].
pub(super) fn idem_abort(db: &Connections, scope: &str, key: &str) -> Result<()> {
    db.write(|conn| {
        conn.prepare_cached("DELETE FROM api_idempotency WHERE scope = ?1 AND key = ?2")?
            .execute(params![scope, key])?;
        Ok(())
    })
}
