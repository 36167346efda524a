//! The intent log: operations written before a gateway call and settled after it, and the
//! charge intents written together with their transaction.

use super::sql::{
    Connection, OptionalExtension, Row, RowResult, column_error, params, params_from_iter,
    parse_enum,
};

use super::connections::Connections;
use super::transactions::{get_txn, insert_new_txn, txn_by_key, update_txn};
use crate::ledger::{
    LedgerError, NewOperation, NewTransaction, OpKind, OpState, Operation, Result, Transaction, Ts,
    TxnKind, TxnPatch, TxnStatus, now, settled_state,
};

/// The columns [`op_row`] reads, in order.
pub(super) const OP_COLS: &str = "id, kind, gateway, transaction_id, refund_id, invoice_id, \
     idempotency_key, params, state, attempts, last_error, created_at, updated_at, \
     reconcile_attempts, next_attempt_at, flagged_at";

pub(super) fn op_row(r: &Row<'_>) -> RowResult<Operation> {
    let params: String = r.get(7)?;
    Ok(Operation {
        id: r.get(0)?,
        kind: parse_enum(1, r.get(1)?, OpKind::parse)?,
        gateway: r.get(2)?,
        transaction_id: r.get(3)?,
        refund_id: r.get(4)?,
        invoice_id: r.get(5)?,
        idempotency_key: r.get(6)?,
        params: serde_json::from_str(&params).map_err(|e| column_error(7, e))?,
        state: parse_enum(8, r.get(8)?, OpState::parse)?,
        attempts: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        reconcile_attempts: r.get(13)?,
        next_attempt_at: r.get(14)?,
        flagged_at: r.get(15)?,
    })
}

/// Writes an operation unless its key was written before; the row, and whether it is new.
pub(super) fn insert_op(conn: &Connection<'_>, op: &NewOperation) -> Result<(Operation, bool)> {
    let n = conn
        .prepare_cached(
            "INSERT INTO operations (kind, gateway, transaction_id, refund_id, invoice_id,
                idempotency_key, params, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )?
        .execute(params![
            op.kind.as_str(),
            op.gateway,
            op.transaction_id,
            op.refund_id,
            op.invoice_id,
            op.idempotency_key,
            op.params.to_string(),
            now()
        ])?;
    let row = conn
        .prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations WHERE idempotency_key = ?1"
        ))?
        .query_row([&op.idempotency_key], op_row)?;
    Ok((row, n == 1))
}

/// Sets an operation's state and last error, counting an attempt when `attempted`.
fn set_op_state(
    conn: &Connection<'_>,
    id: i64,
    state: OpState,
    last_error: Option<&str>,
    attempted: bool,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE operations SET state = ?2, last_error = ?3, attempts = attempts + ?4,
            updated_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        state.as_str(),
        last_error,
        attempted as i64,
        now()
    ])?;
    Ok(())
}

/// The query of [`crate::ledger::Ledger::operations_for`]: one equality per id given, so that
/// each is answered from its index (none when neither is given).
pub(super) fn operations_for_query(
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

/// See [`crate::ledger::Ledger::insert_operation`].
pub(super) fn insert_operation(db: &Connections, op: &NewOperation) -> Result<(Operation, bool)> {
    db.write(|c| insert_op(c, op))
}

/// See [`crate::ledger::Ledger::begin_charge`].
pub(super) fn begin_charge(
    db: &Connections,
    op: &NewOperation,
    card_id: i64,
) -> Result<Option<Operation>> {
    let Some(txn_id) = op.transaction_id else {
        return Err(LedgerError::Database(
            "a charge operation names no transaction".into(),
        ));
    };
    db.write(|tx| {
        let ts = now();
        let n = tx
            .prepare_cached(
                "UPDATE transactions SET card_id = ?2, gateway = ?3, attempted_at = ?4,
                    updated_at = ?4
                 WHERE id = ?1 AND kind = 'charge' AND status = 'pending' AND invoice_id IS NULL
                   AND attempted_at IS NULL",
            )?
            .execute(params![txn_id, card_id, op.gateway, ts])?;
        if n == 0 {
            // Voided, invoiced or charged meanwhile: nothing is written.
            return Ok(None);
        }
        let (row, _) = insert_op(tx, op)?;
        Ok(Some(row))
    })
}

/// See [`crate::ledger::Ledger::create_charge`].
pub(super) fn create_charge(
    db: &Connections,
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
    db.write(|tx| {
        let id = insert_new_txn(tx, t, now(), true)?;
        let Some(id) = id else {
            // A repeat: the row stored the first time, its intent untouched.
            return Ok((txn_by_key(tx, &t.idempotency_key)?, None));
        };
        let row =
            get_txn(tx, id)?.ok_or_else(|| LedgerError::Database("transaction vanished".into()))?;
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

/// See [`crate::ledger::Ledger::settle_charge`].
pub(super) fn settle_charge(
    db: &Connections,
    op_id: i64,
    txn_id: i64,
    from: &[TxnStatus],
    patch: Option<&TxnPatch>,
    state: OpState,
    last_error: Option<&str>,
) -> Result<(OpState, Option<Transaction>)> {
    db.write(|tx| {
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

/// See [`crate::ledger::Ledger::operation`].
pub(super) fn operation(db: &Connections, id: i64) -> Result<Option<Operation>> {
    db.read(|conn| {
        conn.prepare_cached(&format!("SELECT {OP_COLS} FROM operations WHERE id = ?1"))?
            .query_row([id], op_row)
            .optional()
    })
}

/// See [`crate::ledger::Ledger::unsettled_operations`].
pub(super) fn unsettled_operations(
    db: &Connections,
    updated_before: Ts,
    limit: u32,
) -> Result<Vec<Operation>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations
             WHERE state IN ('pending', 'unknown') AND updated_at <= ?1 AND flagged_at IS NULL
               AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)
             ORDER BY id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![updated_before, limit, now()], op_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::waiting_operations`].
pub(super) fn waiting_operations(
    db: &Connections,
    after_id: i64,
    limit: u32,
) -> Result<Vec<Operation>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations WHERE state = 'waiting' AND id > ?1
             ORDER BY id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![after_id, limit], op_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::operations_for`].
pub(super) fn operations_for(
    db: &Connections,
    transaction_id: Option<i64>,
    invoice_id: Option<i64>,
) -> Result<Vec<Operation>> {
    let (sql, args) = operations_for_query(transaction_id, invoice_id);
    let Some(sql) = sql else {
        return Ok(Vec::new());
    };
    db.read(|conn| {
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(params_from_iter(args), op_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::set_operation_state`].
pub(super) fn set_operation_state(
    db: &Connections,
    id: i64,
    state: OpState,
    last_error: Option<&str>,
    attempted: bool,
) -> Result<()> {
    db.write(|conn| set_op_state(conn, id, state, last_error, attempted))
}

/// See [`crate::ledger::Ledger::record_reconcile_attempt`].
pub(super) fn record_reconcile_attempt(
    db: &Connections,
    id: i64,
    next_attempt_at: Ts,
    flag: Option<&str>,
) -> Result<()> {
    db.write(|tx| {
        let ts = now();
        let txn: Option<i64> = tx
            .prepare_cached(
                "UPDATE operations SET reconcile_attempts = reconcile_attempts + 1,
                    next_attempt_at = ?2,
                    flagged_at = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN flagged_at ELSE ?4 END
                 WHERE id = ?1 RETURNING transaction_id",
            )?
            .query_row(params![id, next_attempt_at, flag, ts], |r| r.get(0))
            .optional()?
            .flatten();
        if let (Some(reason), Some(txn)) = (flag, txn) {
            tx.prepare_cached(
                "UPDATE transactions SET attention = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![txn, reason, ts])?;
        }
        Ok(())
    })
}

/// See [`crate::ledger::Ledger::flagged_operations`].
pub(super) fn flagged_operations(db: &Connections) -> Result<Vec<Operation>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {OP_COLS} FROM operations
             WHERE state IN ('pending', 'unknown') AND flagged_at IS NOT NULL ORDER BY id"
        ))?;
        let rows = st.query_map(params![], op_row)?.collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::settle_by_hand`].
pub(super) fn settle_by_hand(
    db: &Connections,
    txn_id: i64,
    flagged_op: Option<(i64, OpState)>,
    from: &[TxnStatus],
    patch: &TxnPatch,
    operator: &str,
    note: &str,
) -> Result<Option<Transaction>> {
    db.write(|tx| {
        let flagged: Option<i64> = tx
            .prepare_cached("SELECT id FROM transactions WHERE id = ?1 AND attention IS NOT NULL")?
            .query_row(params![txn_id], |r| r.get(0))
            .optional()?;
        if flagged.is_none() {
            return Ok(None);
        }
        if let Some((op_id, _)) = flagged_op {
            let op: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM operations WHERE id = ?1 AND transaction_id = ?2
                       AND kind = 'charge' AND state IN ('pending', 'unknown')
                       AND flagged_at IS NOT NULL",
                )?
                .query_row(params![op_id, txn_id], |r| r.get(0))
                .optional()?;
            if op.is_none() {
                return Ok(None);
            }
        }
        if update_txn(tx, txn_id, from, patch)?.is_none() {
            return Ok(None);
        }
        if let Some((op_id, state)) = flagged_op {
            let message = format!("settled by operator {operator}: {note}");
            set_op_state(tx, op_id, state, Some(&message), false)?;
        }
        tx.prepare_cached(
            "UPDATE transactions SET attention = NULL, settled_by = ?2, settled_note = ?3
             WHERE id = ?1",
        )?
        .execute(params![txn_id, operator, note])?;
        get_txn(tx, txn_id)
    })
}

/// See [`crate::ledger::Ledger::unflag_charge_settled_by_gateway`].
pub(super) fn unflag_charge_settled_by_gateway(
    db: &Connections,
    txn_id: i64,
    status: TxnStatus,
    state: OpState,
) -> Result<bool> {
    db.write(|tx| {
        let stands: Option<i64> = tx
            .prepare_cached("SELECT id FROM transactions WHERE id = ?1 AND status = ?2")?
            .query_row(params![txn_id, status.as_str()], |r| r.get(0))
            .optional()?;
        if stands.is_none() {
            return Ok(false);
        }
        let ts = now();
        let settled = tx
            .prepare_cached(
                "UPDATE operations SET state = ?2, last_error = ?3, updated_at = ?4
                 WHERE transaction_id = ?1 AND kind = 'charge' AND state IN ('pending', 'unknown')
                   AND flagged_at IS NOT NULL",
            )?
            .execute(params![
                txn_id,
                state.as_str(),
                "settled by the gateway's event after it was flagged",
                ts
            ])?;
        // Only a flagged charge's attention: a flagged capture or refund still needs one.
        if settled == 0 {
            return Ok(false);
        }
        tx.prepare_cached(
            "UPDATE transactions SET attention = NULL, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![txn_id, ts])?;
        Ok(true)
    })
}
