//! Transactions (charges and credits): recording them, finding them, and their compare-and-set
//! updates, including the refunded amount and status that their refunds make.

use super::sql::{
    Connection, OptionalExtension, Row, RowResult, Value, and_status_in, column_error, params,
    params_from_iter, parse_enum,
};

use super::connections::Connections;
use crate::ledger::{
    Capture, CustomerAction, Initiator, NewTransaction, Result, Transaction, Ts, TxnFilter,
    TxnKind, TxnPatch, TxnStatus, now,
};

/// The columns [`txn_row`] reads, in order.
pub(super) const TXN_COLS: &str = "id, crm_customer_id, card_id, gateway, amount, currency, \
     description, kind, capture, status, amount_captured, amount_refunded, invoice_id, \
     gateway_payment_ref, idempotency_key, attempted_at, decline_code, decline_reason, last_error, \
     created_at, updated_at, fee, decline_category, initiator, return_url, next_action, attention, \
     settled_by, settled_note";

/// A customer action as stored (JSON); a value this build cannot read is a conversion error of
/// column `idx`.
fn action_column(idx: usize, text: Option<String>) -> RowResult<Option<CustomerAction>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| column_error(idx, e)))
        .transpose()
}

/// A customer action as stored.
fn action_text(action: &Option<CustomerAction>) -> Option<String> {
    action
        .as_ref()
        .map(|a| serde_json::to_string(a).unwrap_or_default())
}

/// A transaction from the columns [`TXN_COLS`].
pub(super) fn txn_row(r: &Row<'_>) -> RowResult<Transaction> {
    Ok(Transaction {
        id: r.get(0)?,
        crm_customer_id: r.get(1)?,
        card_id: r.get(2)?,
        gateway: r.get(3)?,
        amount: r.get(4)?,
        currency: r.get(5)?,
        description: r.get(6)?,
        kind: parse_enum(7, r.get(7)?, TxnKind::parse)?,
        capture: parse_enum(8, r.get(8)?, Capture::parse)?,
        status: parse_enum(9, r.get(9)?, TxnStatus::parse)?,
        amount_captured: r.get(10)?,
        amount_refunded: r.get(11)?,
        invoice_id: r.get(12)?,
        gateway_payment_ref: r.get(13)?,
        idempotency_key: r.get(14)?,
        attempted_at: r.get(15)?,
        decline_code: r.get(16)?,
        decline_reason: r.get(17)?,
        last_error: r.get(18)?,
        created_at: r.get(19)?,
        updated_at: r.get(20)?,
        fee: r.get(21)?,
        decline_category: r.get(22)?,
        initiator: parse_enum(23, r.get(23)?, Initiator::parse)?,
        return_url: r.get(24)?,
        next_action: action_column(25, r.get(25)?)?,
        attention: r.get(26)?,
        settled_by: r.get(27)?,
        settled_note: r.get(28)?,
    })
}

/// One transaction, by id.
pub(super) fn get_txn(conn: &Connection<'_>, id: i64) -> Result<Option<Transaction>> {
    conn.prepare_cached(&format!(
        "SELECT {TXN_COLS} FROM transactions WHERE id = ?1"
    ))?
    .query_row([id], txn_row)
    .optional()
}

/// The transaction recorded with an idempotency key (there must be one).
pub(super) fn txn_by_key(conn: &Connection<'_>, idempotency_key: &str) -> Result<Transaction> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TXN_COLS} FROM transactions WHERE idempotency_key = ?1"
        ))?
        .query_row([idempotency_key], txn_row)?)
}

/// See [`crate::ledger::Ledger::insert_transaction`].
pub(super) fn insert_transaction(
    db: &Connections,
    t: &NewTransaction,
) -> Result<(Transaction, bool)> {
    db.write(|conn| {
        let created = insert_new_txn(conn, t, now(), false)?.is_some();
        Ok((txn_by_key(conn, &t.idempotency_key)?, created))
    })
}

/// Inserts `t`, created at `ts` (and attempted then, when its charge starts with it); its id,
/// or none when its idempotency key was used before (the row stored then is left as it is).
pub(super) fn insert_new_txn(
    conn: &Connection<'_>,
    t: &NewTransaction,
    ts: Ts,
    attempted: bool,
) -> Result<Option<i64>> {
    conn.prepare_cached(
        "INSERT INTO transactions (crm_customer_id, card_id, gateway, amount, currency,
            description, kind, capture, status, idempotency_key, attempted_at, created_at,
            updated_at, initiator, return_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )?
    .query_row(
        params![
            t.crm_customer_id,
            t.card_id,
            t.gateway,
            t.amount,
            t.currency,
            t.description,
            t.kind.as_str(),
            t.capture.as_str(),
            t.status.as_str(),
            t.idempotency_key,
            attempted.then_some(ts),
            ts,
            t.initiator.as_str(),
            t.return_url,
        ],
        |r| r.get(0),
    )
    .optional()
}

/// See [`crate::ledger::Ledger::transaction`].
pub(super) fn transaction(db: &Connections, id: i64) -> Result<Option<Transaction>> {
    db.read(|c| get_txn(c, id))
}

/// See [`crate::ledger::Ledger::transaction_by_payment`].
pub(super) fn transaction_by_payment(
    db: &Connections,
    gateway: &str,
    payment_ref: &str,
) -> Result<Option<Transaction>> {
    db.read(|conn| {
        conn.query_row(
            &format!(
                "SELECT {TXN_COLS} FROM transactions
                     WHERE gateway = ?1 AND gateway_payment_ref = ?2
                     ORDER BY id LIMIT 1"
            ),
            params![gateway, payment_ref],
            txn_row,
        )
        .optional()
    })
}

/// See [`crate::ledger::Ledger::transactions`].
pub(super) fn transactions(db: &Connections, f: &TxnFilter) -> Result<Vec<Transaction>> {
    let mut sql = format!("SELECT {TXN_COLS} FROM transactions WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(c) = &f.customer {
        sql.push_str(" AND crm_customer_id = ?");
        args.push(c.clone().into());
    }
    if let Some(g) = &f.gateway {
        sql.push_str(" AND gateway = ?");
        args.push(g.clone().into());
    }
    and_status_in(&mut sql, &mut args, f.statuses.iter().map(|s| s.as_str()));
    match f.invoiced {
        Some(true) => sql.push_str(" AND invoice_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND invoice_id IS NULL"),
        None => {}
    }
    match f.attention {
        Some(true) => sql.push_str(" AND attention IS NOT NULL"),
        Some(false) => sql.push_str(" AND attention IS NULL"),
        None => {}
    }
    if let Some(k) = f.kind {
        sql.push_str(" AND kind = ?");
        args.push(k.as_str().to_string().into());
    }
    if let Some(from) = f.from {
        sql.push_str(" AND created_at >= ?");
        args.push(from.into());
    }
    if let Some(to) = f.to {
        sql.push_str(" AND created_at < ?");
        args.push(to.into());
    }
    if let Some(b) = f.before_id {
        sql.push_str(" AND id < ?");
        args.push(b.into());
    }
    sql.push_str(" ORDER BY id DESC");
    if f.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    db.read(|conn| {
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(params_from_iter(args), txn_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::update_transaction`].
pub(super) fn update_transaction(
    db: &Connections,
    id: i64,
    from: &[TxnStatus],
    patch: &TxnPatch,
) -> Result<Option<Transaction>> {
    db.write(|tx| update_txn(tx, id, from, patch))
}

/// Compare-and-set of a transaction: applies `patch` only when its status is one of `from` (any
/// when empty); the row when it applied.
pub(super) fn update_txn(
    tx: &Connection<'_>,
    id: i64,
    from: &[TxnStatus],
    patch: &TxnPatch,
) -> Result<Option<Transaction>> {
    let mut sets: Vec<&str> = vec!["updated_at = ?"];
    let mut args: Vec<Value> = vec![now().into()];
    macro_rules! set {
        ($col:literal, $v:expr) => {{
            sets.push(concat!($col, " = ?"));
            args.push($v);
        }};
    }
    if let Some(s) = patch.status {
        set!("status", s.as_str().to_string().into());
    }
    if let Some(c) = patch.card_id {
        set!("card_id", c.into());
    }
    if let Some(g) = &patch.gateway {
        set!("gateway", g.clone().into());
    }
    if let Some(p) = &patch.gateway_payment_ref {
        set!("gateway_payment_ref", p.clone().into());
    }
    if let Some(a) = patch.amount_captured {
        set!("amount_captured", a.into());
    }
    if let Some(a) = patch.attempted_at {
        set!("attempted_at", a.into());
    }
    if let Some(v) = &patch.decline_code {
        set!("decline_code", v.clone().into());
    }
    if let Some(v) = &patch.decline_reason {
        set!("decline_reason", v.clone().into());
    }
    if let Some(v) = &patch.last_error {
        set!("last_error", v.clone().into());
    }
    if let Some(v) = patch.invoice_id {
        set!("invoice_id", v.into());
    }
    if let Some(v) = &patch.decline_category {
        set!("decline_category", v.clone().into());
    }
    if let Some(v) = patch.fee {
        set!("fee", v.into());
    }
    if let Some(v) = &patch.next_action {
        set!("next_action", action_text(v).into());
    }
    if let Some(v) = &patch.attention {
        set!("attention", v.clone().into());
    }
    let mut sql = format!("UPDATE transactions SET {} WHERE id = ?", sets.join(", "));
    args.push(id.into());
    and_status_in(&mut sql, &mut args, from.iter().map(|s| s.as_str()));
    let n = tx.prepare_cached(&sql)?.execute(params_from_iter(args))?;
    let row = if n == 1 {
        recompute_refunded(tx, id)?;
        get_txn(tx, id)?
    } else {
        None
    };
    Ok(row)
}

/// See [`crate::ledger::Ledger::cancel_unattempted`].
pub(super) fn cancel_unattempted(db: &Connections, id: i64) -> Result<Option<Transaction>> {
    db.write(|tx| {
        let n = tx
            .prepare_cached(
                "UPDATE transactions SET status = 'canceled', updated_at = ?2
                 WHERE id = ?1 AND status = 'pending' AND attempted_at IS NULL
                   AND invoice_id IS NULL",
            )?
            .execute(params![id, now()])?;
        let row = if n == 1 { get_txn(tx, id)? } else { None };
        Ok(row)
    })
}

/// Recomputes a transaction's refunded amount from its succeeded refunds, and its status from
/// that, when the transaction has been captured.
pub(super) fn recompute_refunded(conn: &Connection<'_>, txn_id: i64) -> Result<()> {
    let refunded: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds
             WHERE transaction_id = ?1 AND status = 'succeeded'",
        )?
        .query_row([txn_id], |r| r.get(0))?;
    conn.prepare_cached(
        "UPDATE transactions SET amount_refunded = ?2,
            status = CASE
                WHEN status NOT IN ('succeeded', 'partially_refunded', 'refunded') THEN status
                WHEN ?2 = 0 THEN 'succeeded'
                WHEN ?2 >= amount_captured THEN 'refunded'
                ELSE 'partially_refunded' END,
            updated_at = ?3
         WHERE id = ?1 AND amount_refunded != ?2",
    )?
    .execute(params![txn_id, refunded, now()])?;
    Ok(())
}
