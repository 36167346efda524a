//! Refunds: the refund intent written with its operation, never exceeding what remains to
//! refund, and settled by the synchronous path, the reconciler or a webhook in any order.

use super::sql::{
    Connection, OptionalExtension, Row, RowResult, Value, and_status_in, params, params_from_iter,
    parse_enum,
};

use super::connections::Connections;
use super::operations::insert_op;
use super::transactions::{get_txn, recompute_refunded};
use crate::ledger::{
    LedgerError, NewOperation, Operation, Refund, RefundStatus, Result, Transaction, TxnKind,
    TxnStatus, now,
};

/// The columns [`refund_row`] reads, in order.
pub(super) const REFUND_COLS: &str = "id, transaction_id, amount, currency, reason, status, \
     gateway_refund_ref, idempotency_key, last_error, created_at, updated_at";

fn refund_row(r: &Row<'_>) -> RowResult<Refund> {
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

fn get_refund(conn: &Connection<'_>, id: i64) -> Result<Option<Refund>> {
    conn.prepare_cached(&format!("SELECT {REFUND_COLS} FROM refunds WHERE id = ?1"))?
        .query_row([id], refund_row)
        .optional()
}

/// See [`crate::ledger::Ledger::create_refund`].
pub(super) fn create_refund(
    db: &Connections,
    transaction_id: i64,
    amount: Option<i64>,
    reason: Option<&str>,
    idempotency_key: &str,
    operation: &dyn Fn(&Refund, &Transaction) -> Result<NewOperation>,
) -> Result<(Refund, Operation)> {
    db.write(|tx| {
        let txn = get_txn(tx, transaction_id)?.ok_or_else(|| LedgerError::NotFound {
            kind: "transaction",
            id: transaction_id.to_string(),
        })?;
        if let Some(existing) = tx
            .prepare_cached(&format!(
                "SELECT {REFUND_COLS} FROM refunds WHERE idempotency_key = ?1"
            ))?
            .query_row([idempotency_key], refund_row)
            .optional()?
        {
            // A repeat: its operation was written with it (written now for a refund row that an
            // older build left without one).
            let (op, _) = insert_op(tx, &operation(&existing, &txn)?)?;
            return Ok((existing, op));
        }
        check_refundable(&txn)?;
        let committed: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE transaction_id = ?1
                   AND status IN ('pending', 'unknown', 'succeeded', 'requires_action')",
            )?
            .query_row([transaction_id], |r| r.get(0))?;
        let remaining = txn.amount_captured - committed;
        let amount = amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(LedgerError::RefundExceeds {
                requested: amount,
                remaining,
            });
        }
        let ts = now();
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO refunds (transaction_id, amount, currency, reason, status,
                idempotency_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6) RETURNING id",
            )?
            .query_row(
                params![
                    transaction_id,
                    amount,
                    txn.currency,
                    reason,
                    idempotency_key,
                    ts
                ],
                |r| r.get(0),
            )?;
        let row =
            get_refund(tx, id)?.ok_or_else(|| LedgerError::Database("refund vanished".into()))?;
        // The intent: the refund and its operation are written together, before the call.
        let (op, _) = insert_op(tx, &operation(&row, &txn)?)?;
        Ok((row, op))
    })
}

/// Only a succeeded charge with a payment of its own can be refunded.
fn check_refundable(txn: &Transaction) -> Result<()> {
    if matches!(
        txn.status,
        TxnStatus::Succeeded | TxnStatus::PartiallyRefunded | TxnStatus::Refunded
    ) && txn.kind == TxnKind::Charge
        && txn.gateway_payment_ref.is_some()
    {
        return Ok(());
    }
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
    Err(LedgerError::Conflict {
        field: "transaction_id",
        message,
    })
}

/// See [`crate::ledger::Ledger::refund`].
pub(super) fn refund(db: &Connections, id: i64) -> Result<Option<Refund>> {
    db.read(|c| get_refund(c, id))
}

/// See [`crate::ledger::Ledger::refunds`].
pub(super) fn refunds(db: &Connections, transaction_id: i64) -> Result<Vec<Refund>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {REFUND_COLS} FROM refunds WHERE transaction_id = ?1 ORDER BY id"
        ))?;
        let rows = st
            .query_map([transaction_id], refund_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::settle_refund`].
pub(super) fn settle_refund(
    db: &Connections,
    id: i64,
    from: &[RefundStatus],
    status: RefundStatus,
    gateway_refund_ref: Option<&str>,
    last_error: Option<&str>,
) -> Result<Option<Refund>> {
    db.write(|tx| {
        let mut sql = String::from(
            "UPDATE refunds SET status = ?, gateway_refund_ref = COALESCE(?, gateway_refund_ref),
                last_error = ?, updated_at = ? WHERE id = ?",
        );
        let mut args: Vec<Value> = vec![
            status.as_str().to_string().into(),
            gateway_refund_ref.map(str::to_string).into(),
            last_error.map(str::to_string).into(),
            now().into(),
            id.into(),
        ];
        and_status_in(&mut sql, &mut args, from.iter().map(|s| s.as_str()));
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

/// See [`crate::ledger::Ledger::observe_refund`].
pub(super) fn observe_refund(
    db: &Connections,
    transaction_id: i64,
    gateway_refund_ref: &str,
    amount: i64,
    status: RefundStatus,
) -> Result<Option<Refund>> {
    db.write(|tx| {
        let ts = now();
        let Some(id) = observed_refund_id(tx, transaction_id, gateway_refund_ref, amount, ts)?
        else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE refunds SET status = ?2, gateway_refund_ref = ?3, updated_at = ?4
             WHERE id = ?1 AND status NOT IN ('succeeded', 'failed', 'canceled')",
            params![id, status.as_str(), gateway_refund_ref, ts],
        )?;
        recompute_refunded(tx, transaction_id)?;
        get_refund(tx, id)
    })
}

/// The refund a webhook reports: the one with its reference, else the single unsettled one of
/// the same amount, else (when none of ours is settling) a new row for a refund made outside
/// the service. None when it cannot be told which of ours it is.
fn observed_refund_id(
    tx: &Connection<'_>,
    transaction_id: i64,
    gateway_refund_ref: &str,
    amount: i64,
    ts: i64,
) -> Result<Option<i64>> {
    let by_ref: Option<i64> = tx
        .prepare_cached("SELECT id FROM refunds WHERE gateway_refund_ref = ?1")?
        .query_row([gateway_refund_ref], |r| r.get(0))
        .optional()?;
    if by_ref.is_some() {
        return Ok(by_ref);
    }
    let candidates: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM refunds WHERE transaction_id = ?1 AND gateway_refund_ref IS NULL
               AND amount = ?2 AND status IN ('pending', 'unknown', 'requires_action')",
        )?
        .query_map(params![transaction_id, amount], |r| r.get(0))?
        .collect::<RowResult<_>>()?;
    match candidates.len() {
        1 => Ok(Some(candidates[0])),
        0 => {
            let unsettled: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM refunds WHERE transaction_id = ?1
                       AND status IN ('pending', 'unknown', 'requires_action')
                       AND gateway_refund_ref IS NULL",
                )?
                .query_row([transaction_id], |r| r.get(0))?;
            if unsettled > 0 {
                // Our own refunds are still settling: they will settle through the synchronous
                // path or the reconciler.
                return Ok(None);
            }
            let txn = get_txn(tx, transaction_id)?.ok_or_else(|| LedgerError::NotFound {
                kind: "transaction",
                id: transaction_id.to_string(),
            })?;
            let id = tx.prepare_cached(
                "INSERT INTO refunds (transaction_id, amount, currency, status, gateway_refund_ref,
                    created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5) RETURNING id",
            )?
            .query_row(params![
                transaction_id,
                amount,
                txn.currency,
                gateway_refund_ref,
                ts
            ], |r| r.get::<_, i64>(0))?;
            Ok(Some(id))
        }
        _ => Ok(None),
    }
}
