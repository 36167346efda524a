//! Captures of authorizations: written with the operation that makes them (see `claims`), and
//! settled by its answer or later (an event, a lookup), each settlement moving the transaction's
//! captured amount and status forward in the same database transaction.

use super::sql::{
    Connection, OptionalExtension, Row, RowResult, Value, and_status_in, params, params_from_iter,
    parse_enum,
};

use super::connections::Connections;
use crate::ledger::{CaptureRecord, CaptureStatus, NewCapture, Result, now};

/// The columns [`capture_row`] reads, in order.
const CAPTURE_COLS: &str = "id, transaction_id, amount, currency, final_capture, status, \
     gateway_modification_ref, idempotency_key, last_error, created_at, updated_at";

fn capture_row(r: &Row<'_>) -> RowResult<CaptureRecord> {
    Ok(CaptureRecord {
        id: r.get(0)?,
        transaction_id: r.get(1)?,
        amount: r.get(2)?,
        currency: r.get(3)?,
        final_capture: r.get(4)?,
        status: parse_enum(5, r.get(5)?, CaptureStatus::parse)?,
        gateway_modification_ref: r.get(6)?,
        idempotency_key: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn get_capture(conn: &Connection<'_>, id: i64) -> Result<Option<CaptureRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CAPTURE_COLS} FROM captures WHERE id = ?1"
    ))?
    .query_row([id], capture_row)
    .optional()
}

/// What the captures of a transaction hold or may still take: those pending, unknown or
/// succeeded.
pub(super) fn committed(conn: &Connection<'_>, transaction_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(amount), 0) FROM captures WHERE transaction_id = ?1
               AND status IN ('pending', 'unknown', 'succeeded')",
        )?
        .query_row([transaction_id], |r| r.get(0))?)
}

/// Writes the capture an operation with key `key` makes (nothing when one was written with it
/// before).
pub(super) fn insert_capture(
    conn: &Connection<'_>,
    transaction_id: i64,
    key: &str,
    c: &NewCapture,
) -> Result<()> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO captures (transaction_id, amount, currency, final_capture, status,
            idempotency_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )?
    .execute(params![
        transaction_id,
        c.amount,
        c.currency,
        c.final_capture,
        key,
        ts
    ])?;
    Ok(())
}

/// See [`crate::ledger::Ledger::captures`].
pub(super) fn captures(db: &Connections, transaction_id: i64) -> Result<Vec<CaptureRecord>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CAPTURE_COLS} FROM captures WHERE transaction_id = ?1 ORDER BY id"
        ))?;
        let rows = st
            .query_map([transaction_id], capture_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::capture_by_key`].
pub(super) fn capture_by_key(db: &Connections, key: &str) -> Result<Option<CaptureRecord>> {
    db.read(|conn| {
        conn.prepare_cached(&format!(
            "SELECT {CAPTURE_COLS} FROM captures WHERE idempotency_key = ?1"
        ))?
        .query_row([key], capture_row)
        .optional()
    })
}

/// See [`crate::ledger::Ledger::settle_capture`].
pub(super) fn settle_capture(
    db: &Connections,
    id: i64,
    from: &[CaptureStatus],
    status: CaptureStatus,
    gateway_modification_ref: Option<&str>,
    last_error: Option<&str>,
) -> Result<Option<CaptureRecord>> {
    db.write(|tx| {
        let ts = now();
        let mut sql = String::from(
            "UPDATE captures SET status = ?, last_error = ?, updated_at = ?,
                gateway_modification_ref = COALESCE(?, gateway_modification_ref)
             WHERE id = ?",
        );
        let mut args: Vec<Value> = vec![
            status.as_str().to_string().into(),
            last_error.map(str::to_string).into(),
            ts.into(),
            gateway_modification_ref.map(str::to_string).into(),
            id.into(),
        ];
        and_status_in(&mut sql, &mut args, from.iter().map(|s| s.as_str()));
        if tx.prepare_cached(&sql)?.execute(params_from_iter(args))? != 1 {
            return Ok(None);
        }
        let Some(c) = get_capture(tx, id)? else {
            return Ok(None);
        };
        if status == CaptureStatus::Succeeded {
            let captured: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(SUM(amount), 0) FROM captures
                     WHERE transaction_id = ?1 AND status = 'succeeded'",
                )?
                .query_row([c.transaction_id], |r| r.get(0))?;
            tx.prepare_cached(
                "UPDATE transactions SET amount_captured = CASE WHEN amount_captured > ?2 THEN amount_captured ELSE ?2 END,
                    status = CASE WHEN CAST(?3 AS BOOLEAN) AND status = 'authorized' THEN 'succeeded'
                                  ELSE status END,
                    updated_at = ?4
                 WHERE id = ?1",
            )?
            .execute(params![c.transaction_id, captured, c.final_capture, ts])?;
        }
        Ok(Some(c))
    })
}
