//! Beginning operations that exclude each other: a capture or a void of one authorization, a
//! finalize, payment or void of one invoice. The check (the object's status, no other such
//! operation unsettled) and the write are one database transaction, so that of requests racing
//! for the same object exactly one writes its operation. Also the removal of a charge the gateway
//! refused as invalid input.

use super::sql::{Connection, OptionalExtension, Value, params, params_from_iter, placeholders};

use super::captures::{committed, insert_capture};
use super::connections::Connections;
use super::invoices::get_invoice;
use super::operations::{OP_COLS, insert_op, op_row};
use super::transactions::get_txn;
use crate::ledger::{
    Begun, Invoice, InvoiceStatus, LedgerError, NewOperation, OpKind, Operation,
    PaymentChangeBuilder, Result, Transaction, TxnStatus, now,
};

/// The kinds of operation that change an authorization; one at a time per transaction.
const PAYMENT_CHANGES: &[OpKind] = &[OpKind::Capture, OpKind::Cancel];
/// The kinds of operation that change an invoice after its creation; one at a time per invoice.
const INVOICE_STEPS: &[OpKind] = &[
    OpKind::InvoiceFinalize,
    OpKind::InvoicePay,
    OpKind::InvoiceVoid,
    OpKind::InvoiceCharge,
];

/// The oldest unsettled (pending, unknown or waiting) operation of one of `kinds` on a
/// transaction or invoice (`column` names which); with `skip_waiting_captures`, captures that
/// wait for their outcome are passed over.
fn unsettled_of(
    conn: &Connection<'_>,
    column: &str,
    id: i64,
    kinds: &[OpKind],
    skip_waiting_captures: bool,
) -> Result<Option<Operation>> {
    let skip = if skip_waiting_captures {
        " AND NOT (kind = 'capture' AND state = 'waiting')"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {OP_COLS} FROM operations
         WHERE {column} = ? AND state IN ('pending', 'unknown', 'waiting') AND kind IN ({}){skip}
         ORDER BY id LIMIT 1",
        placeholders(kinds.len())
    );
    let mut args: Vec<Value> = vec![id.into()];
    args.extend(kinds.iter().map(|k| k.as_str().to_string().into()));
    conn.prepare_cached(&sql)?
        .query_row(params_from_iter(args), op_row)
        .optional()
}

/// Writes `op`, checking that it is of `kinds` on the object `id` it was built for; an operation
/// written before with its key is answered as settled (it is not unsettled: that was checked).
fn insert_checked<T>(
    conn: &Connection<'_>,
    op: &NewOperation,
    kinds: &[OpKind],
    target: Option<i64>,
    id: i64,
) -> Result<Begun<T>> {
    if !kinds.contains(&op.kind) || target != Some(id) {
        return Err(LedgerError::Database(format!(
            "a {} operation was begun for another object",
            op.kind
        )));
    }
    let (row, created) = insert_op(conn, op)?;
    Ok(if created {
        Begun::Started(row)
    } else {
        Begun::Settled(row)
    })
}

/// See [`crate::ledger::Ledger::begin_payment_change`].
pub(super) fn begin_payment_change(
    db: &Connections,
    transaction_id: i64,
    concurrent_captures: bool,
    operation: &PaymentChangeBuilder<'_>,
) -> Result<Begun<Transaction>> {
    db.write(|tx| {
        let unsettled = unsettled_of(
            tx,
            "transaction_id",
            transaction_id,
            PAYMENT_CHANGES,
            concurrent_captures,
        )?;
        if let Some(op) = unsettled {
            return Ok(Begun::Busy(op));
        }
        let txn = get_txn(tx, transaction_id)?.ok_or_else(|| LedgerError::NotFound {
            kind: "transaction",
            id: transaction_id.to_string(),
        })?;
        if txn.status != TxnStatus::Authorized {
            return Ok(Begun::Refused(txn));
        }
        let remaining = txn.amount - committed(tx, transaction_id)?.max(txn.amount_captured);
        let (op, capture) = operation(&txn, remaining)?;
        let begun = insert_checked(tx, &op, PAYMENT_CHANGES, op.transaction_id, transaction_id)?;
        if let (Begun::Started(_), Some(c)) = (&begun, &capture) {
            insert_capture(tx, transaction_id, &op.idempotency_key, c)?;
        }
        Ok(begun)
    })
}

/// See [`crate::ledger::Ledger::begin_invoice_op`].
pub(super) fn begin_invoice_op(
    db: &Connections,
    invoice_id: i64,
    kind: OpKind,
    allowed: &[InvoiceStatus],
    operation: &dyn Fn(&Invoice) -> Result<NewOperation>,
) -> Result<Begun<Invoice>> {
    db.write(|tx| {
        if let Some(op) = unsettled_of(tx, "invoice_id", invoice_id, INVOICE_STEPS, false)? {
            return Ok(Begun::Busy(op));
        }
        let not_found = || LedgerError::NotFound {
            kind: "invoice",
            id: invoice_id.to_string(),
        };
        let invoice = get_invoice(tx, invoice_id)?.ok_or_else(not_found)?;
        if !allowed.contains(&invoice.status) {
            return Ok(Begun::Refused(invoice));
        }
        let invoice = if matches!(kind, OpKind::InvoicePay | OpKind::InvoiceCharge) {
            tx.prepare_cached(
                "UPDATE invoices SET pay_attempts = pay_attempts + 1, updated_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![invoice_id, now()])?;
            get_invoice(tx, invoice_id)?.ok_or_else(not_found)?
        } else {
            invoice
        };
        let op = operation(&invoice)?;
        if op.kind != kind {
            return Err(LedgerError::Database(format!(
                "a {} operation was begun as a {kind}",
                op.kind
            )));
        }
        insert_checked(tx, &op, INVOICE_STEPS, op.invoice_id, invoice_id)
    })
}

/// See [`crate::ledger::Ledger::discard_refused_charge`].
pub(super) fn discard_refused_charge(
    db: &Connections,
    transaction_id: i64,
    operation_id: i64,
) -> Result<bool> {
    db.write(|tx| {
        let only_this_failed_charge: bool = tx
            .prepare_cached(
                "SELECT
                    (SELECT COUNT(*) FROM operations WHERE transaction_id = ?1) = 1
                    AND EXISTS (SELECT 1 FROM operations WHERE id = ?2 AND transaction_id = ?1
                                  AND kind = 'charge' AND state = 'failed')
                    AND EXISTS (SELECT 1 FROM transactions WHERE id = ?1 AND status = 'failed'
                                  AND gateway_payment_ref IS NULL AND invoice_id IS NULL)
                    AND NOT EXISTS (SELECT 1 FROM refunds WHERE transaction_id = ?1)
                    AND NOT EXISTS (SELECT 1 FROM disputes WHERE transaction_id = ?1)",
            )?
            .query_row(params![transaction_id, operation_id], |r| r.get(0))?;
        if !only_this_failed_charge {
            return Ok(false);
        }
        tx.prepare_cached("DELETE FROM operations WHERE id = ?1")?
            .execute([operation_id])?;
        tx.prepare_cached("DELETE FROM transactions WHERE id = ?1")?
            .execute([transaction_id])?;
        Ok(true)
    })
}
