//! What gateways report on their own: disputes, which only move forward, and the webhook events
//! already processed.

use super::sql::{OptionalExtension, Row, RowResult, params, params_from_iter, parse_enum};

use super::connections::Connections;
use crate::ledger::{Dispute, DisputeStatus, DisputeUpdate, Result, now};

/// The columns [`dispute_row`] reads, in order.
pub(super) const DISPUTE_COLS: &str = "id, gateway, gateway_dispute_ref, transaction_id, \
     gateway_payment_ref, amount, currency, reason, status, created_at, updated_at, \
     evidence_due_by";

/// The condition of the disputes of transaction `?1`: those naming it, and those not resolved
/// to a transaction yet whose payment is the transaction's.
pub(super) const DISPUTES_OF_TXN: &str = "transaction_id = ?1
       OR (transaction_id IS NULL AND gateway_payment_ref IS NOT NULL AND gateway_payment_ref =
           (SELECT gateway_payment_ref FROM transactions WHERE id = ?1))";

fn dispute_row(r: &Row<'_>) -> RowResult<Dispute> {
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
        evidence_due_by: r.get(11)?,
    })
}

/// See [`crate::ledger::Ledger::upsert_dispute`].
pub(super) fn upsert_dispute(db: &Connections, u: &DisputeUpdate) -> Result<Dispute> {
    db.write(|tx| {
        let ts = now();
        let txn_id: Option<i64> = match &u.gateway_payment_ref {
            _ if u.transaction_id.is_some() => u.transaction_id,
            Some(p) => tx
                .prepare_cached(
                    "SELECT id FROM transactions WHERE gateway = ?1 AND gateway_payment_ref = ?2
                     ORDER BY id LIMIT 1",
                )?
                .query_row(params![u.gateway, p], |r| r.get(0))
                .optional()?,
            None => None,
        };
        let existing: Option<Dispute> = tx
            .prepare_cached(&format!(
                "SELECT {DISPUTE_COLS} FROM disputes
                 WHERE gateway = ?1 AND gateway_dispute_ref = ?2"
            ))?
            .query_row(params![u.gateway, u.gateway_dispute_ref], dispute_row)
            .optional()?;
        let id = match existing {
            None => tx
                .prepare_cached(
                    "INSERT INTO disputes (gateway, gateway_dispute_ref, transaction_id,
                        gateway_payment_ref, amount, currency, reason, status, created_at,
                        updated_at, evidence_due_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10) RETURNING id",
                )?
                .query_row(
                    params![
                        u.gateway,
                        u.gateway_dispute_ref,
                        txn_id,
                        u.gateway_payment_ref,
                        u.amount,
                        u.currency,
                        u.reason,
                        u.status.as_str(),
                        ts,
                        u.evidence_due_by,
                    ],
                    |r| r.get::<_, i64>(0),
                )?,
            Some(d) => {
                if u.status.rank() > d.status.rank() {
                    tx.prepare_cached(
                        "UPDATE disputes SET status = ?2, amount = ?3, reason = ?4, updated_at = ?5,
                            transaction_id = COALESCE(transaction_id, ?6)
                         WHERE id = ?1",
                    )?
                    .execute(params![d.id, u.status.as_str(), u.amount, u.reason, ts, txn_id])?;
                }
                if u.evidence_due_by.is_some() && u.evidence_due_by != d.evidence_due_by {
                    tx.prepare_cached(
                        "UPDATE disputes SET evidence_due_by = ?2, updated_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![d.id, u.evidence_due_by, ts])?;
                }
                d.id
            }
        };
        let row = tx
            .prepare_cached(&format!(
                "SELECT {DISPUTE_COLS} FROM disputes WHERE id = ?1"
            ))?
            .query_row([id], dispute_row)?;
        Ok(row)
    })
}

/// See [`crate::ledger::Ledger::disputes`].
pub(super) fn disputes(db: &Connections, transaction_id: Option<i64>) -> Result<Vec<Dispute>> {
    db.read(|conn| {
        let (sql, args): (String, Vec<i64>) = match transaction_id {
            Some(t) => (
                format!(
                    "SELECT {DISPUTE_COLS} FROM disputes WHERE {DISPUTES_OF_TXN} ORDER BY id DESC"
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
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::webhook_seen`].
pub(super) fn webhook_seen(db: &Connections, gateway: &str, event_id: &str) -> Result<bool> {
    db.read(|conn| {
        Ok(conn
            .prepare_cached("SELECT 1 FROM webhook_events WHERE gateway = ?1 AND event_id = ?2")?
            .query_row(params![gateway, event_id], |_| Ok(()))
            .optional()?
            .is_some())
    })
}

/// See [`crate::ledger::Ledger::record_webhook`].
pub(super) fn record_webhook(
    db: &Connections,
    gateway: &str,
    event_id: &str,
    gateway_type: &str,
) -> Result<bool> {
    db.write(|conn| {
        let n = conn
            .prepare_cached(
                "INSERT INTO webhook_events (gateway, event_id, gateway_type, received_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![gateway, event_id, gateway_type, now()])?;
        Ok(n == 1)
    })
}
