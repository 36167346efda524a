//! Invoices: made from a customer's uninvoiced pending transactions, numbered per year, and
//! their compare-and-set updates, which settle or release their lines.

use super::sql::{
    Connection, OptionalExtension, Row, RowResult, Value, and_status_in, params, params_from_iter,
    parse_enum,
};

use super::connections::Connections;
use super::transactions::{TXN_COLS, txn_row};
use crate::ledger::{
    Invoice, InvoiceFilter, InvoiceKeeper, InvoicePatch, InvoiceStatus, NewInvoice, Result,
    Transaction, now,
};

const INVOICE_COLS: &str = "id, number, crm_customer_id, gateway, currency, description, \
     period_start, period_end, due_date, status, subtotal, tax, total, amount_paid, \
     gateway_invoice_ref, gateway_number, hosted_url, pdf_url, idempotency_key, pay_attempts, \
     last_error, created_at, updated_at, kept_by, paid_at, gateway_payment_ref, fee";

fn invoice_row(r: &Row<'_>) -> RowResult<Invoice> {
    Ok(Invoice {
        id: r.get(0)?,
        number: r.get(1)?,
        crm_customer_id: r.get(2)?,
        gateway: r.get(3)?,
        currency: r.get(4)?,
        description: r.get(5)?,
        period_start: r.get(6)?,
        period_end: r.get(7)?,
        due_date: r.get(8)?,
        status: parse_enum(9, r.get(9)?, InvoiceStatus::parse)?,
        subtotal: r.get(10)?,
        tax: r.get(11)?,
        total: r.get(12)?,
        amount_paid: r.get(13)?,
        gateway_invoice_ref: r.get(14)?,
        gateway_number: r.get(15)?,
        hosted_url: r.get(16)?,
        pdf_url: r.get(17)?,
        idempotency_key: r.get(18)?,
        pay_attempts: r.get(19)?,
        last_error: r.get(20)?,
        created_at: r.get(21)?,
        updated_at: r.get(22)?,
        kept_by: parse_enum(23, r.get(23)?, InvoiceKeeper::parse)?,
        paid_at: r.get(24)?,
        gateway_payment_ref: r.get(25)?,
        fee: r.get(26)?,
    })
}

pub(super) fn get_invoice(conn: &Connection<'_>, id: i64) -> Result<Option<Invoice>> {
    conn.prepare_cached(&format!(
        "SELECT {INVOICE_COLS} FROM invoices WHERE id = ?1"
    ))?
    .query_row([id], invoice_row)
    .optional()
}

/// A line to invoice: transaction id, amount, kind, created.
type Line = (i64, i64, String, i64);

/// See [`crate::ledger::Ledger::create_invoice`].
pub(super) fn create_invoice(db: &Connections, new: &NewInvoice) -> Result<Option<Invoice>> {
    db.write(|tx| {
        if let Some(existing) = tx
            .prepare_cached(&format!(
                "SELECT {INVOICE_COLS} FROM invoices WHERE idempotency_key = ?1"
            ))?
            .query_row([&new.idempotency_key], invoice_row)
            .optional()?
        {
            return Ok(Some(existing));
        }
        let period_start = new.period_start.unwrap_or(i64::MIN);
        let period_end = new.period_end.unwrap_or(i64::MAX);
        let lines: Vec<Line> = tx
            .prepare_cached(
                "SELECT id, amount, kind, created_at FROM transactions
                 WHERE crm_customer_id = ?1 AND currency = ?2 AND invoice_id IS NULL
                   AND status = 'pending' AND attempted_at IS NULL
                   AND created_at >= ?3 AND created_at < ?4
                 ORDER BY id",
            )?
            .query_map(
                params![new.crm_customer_id, new.currency, period_start, period_end],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect::<RowResult<_>>()?;
        if lines.is_empty() {
            return Ok(None);
        }
        let subtotal: i64 = lines
            .iter()
            .map(|(_, amount, kind, _)| if kind == "credit" { -amount } else { *amount })
            .sum();
        let first = lines.iter().map(|l| l.3).min().unwrap_or(new.now);
        let last = lines.iter().map(|l| l.3).max().unwrap_or(new.now);
        let number = next_number(tx, new.now)?;
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO invoices (number, crm_customer_id, gateway, currency, description,
                period_start, period_end, due_date, status, subtotal, tax, total, idempotency_key,
                created_at, updated_at, kept_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', ?9, 0, ?9, ?10, ?11, ?11, ?12)
             RETURNING id",
            )?
            .query_row(
                params![
                    number,
                    new.crm_customer_id,
                    new.gateway,
                    new.currency,
                    new.description,
                    new.period_start.unwrap_or(first),
                    new.period_end.unwrap_or(last + 1),
                    new.due_date,
                    subtotal,
                    new.idempotency_key,
                    new.now,
                    new.kept_by.as_str(),
                ],
                |r| r.get(0),
            )?;
        for (txn_id, ..) in &lines {
            tx.prepare_cached(
                "UPDATE transactions SET invoice_id = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![txn_id, id, new.now])?;
        }
        get_invoice(tx, id)
    })
}

/// The next invoice number of the year of `at`: INV-YYYY-NNNNNN, counted per year.
fn next_number(tx: &Connection<'_>, at: i64) -> Result<String> {
    let year = crate::time::year_of(at);
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO invoice_counters (year, last) VALUES (?1, 1)
             ON CONFLICT (year) DO UPDATE SET last = invoice_counters.last + 1 RETURNING last",
        )?
        .query_row([year], |r| r.get(0))?;
    Ok(format!("INV-{year:04}-{seq:06}"))
}

/// See [`crate::ledger::Ledger::invoice`].
pub(super) fn invoice(db: &Connections, id: i64) -> Result<Option<Invoice>> {
    db.read(|c| get_invoice(c, id))
}

/// See [`crate::ledger::Ledger::invoice_by_ref`].
pub(super) fn invoice_by_ref(
    db: &Connections,
    gateway: &str,
    invoice_ref: &str,
) -> Result<Option<Invoice>> {
    db.read(|conn| {
        conn.prepare_cached(&format!(
            "SELECT {INVOICE_COLS} FROM invoices
                 WHERE gateway = ?1 AND gateway_invoice_ref = ?2"
        ))?
        .query_row(params![gateway, invoice_ref], invoice_row)
        .optional()
    })
}

/// See [`crate::ledger::Ledger::invoice_by_payment`].
pub(super) fn invoice_by_payment(
    db: &Connections,
    gateway: &str,
    payment_ref: &str,
) -> Result<Option<Invoice>> {
    db.read(|conn| {
        conn.prepare_cached(&format!(
            "SELECT {INVOICE_COLS} FROM invoices
                 WHERE gateway = ?1 AND gateway_payment_ref = ?2 ORDER BY id LIMIT 1"
        ))?
        .query_row(params![gateway, payment_ref], invoice_row)
        .optional()
    })
}

/// See [`crate::ledger::Ledger::invoices`].
pub(super) fn invoices(db: &Connections, f: &InvoiceFilter) -> Result<Vec<Invoice>> {
    let mut sql = format!("SELECT {INVOICE_COLS} FROM invoices WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(c) = &f.customer {
        sql.push_str(" AND crm_customer_id = ?");
        args.push(c.clone().into());
    }
    and_status_in(&mut sql, &mut args, f.statuses.iter().map(|s| s.as_str()));
    sql.push_str(" ORDER BY id DESC");
    if f.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    db.read(|conn| {
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(params_from_iter(args), invoice_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::invoice_lines`].
pub(super) fn invoice_lines(db: &Connections, id: i64) -> Result<Vec<Transaction>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {TXN_COLS} FROM transactions WHERE invoice_id = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([id], txn_row)?.collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::update_invoice`].
pub(super) fn update_invoice(
    db: &Connections,
    id: i64,
    from: &[InvoiceStatus],
    patch: &InvoicePatch,
) -> Result<Option<Invoice>> {
    let ts = now();
    let mut sets: Vec<&str> = vec!["updated_at = ?"];
    let mut args: Vec<Value> = vec![ts.into()];
    macro_rules! set {
        ($col:literal, $v:expr) => {{
            sets.push(concat!($col, " = ?"));
            args.push($v);
        }};
    }
    if let Some(s) = patch.status {
        set!("status", s.as_str().to_string().into());
    }
    if let Some(v) = &patch.gateway_invoice_ref {
        set!("gateway_invoice_ref", v.clone().into());
    }
    if let Some(v) = &patch.gateway_number {
        set!("gateway_number", v.clone().into());
    }
    if let Some(v) = &patch.hosted_url {
        set!("hosted_url", v.clone().into());
    }
    if let Some(v) = &patch.pdf_url {
        set!("pdf_url", v.clone().into());
    }
    if let Some(v) = patch.amount_paid {
        set!("amount_paid", v.into());
    }
    if let Some(v) = patch.tax {
        set!("tax", v.into());
    }
    if let Some(v) = patch.total {
        set!("total", v.into());
    }
    if let Some(v) = patch.due_date {
        set!("due_date", v.into());
    }
    if let Some(v) = &patch.last_error {
        set!("last_error", v.clone().into());
    }
    if let Some(v) = &patch.gateway_payment_ref {
        set!("gateway_payment_ref", v.clone().into());
    }
    if let Some(v) = patch.fee {
        set!("fee", v.into());
    }
    if patch.status == Some(InvoiceStatus::Paid) {
        sets.push("paid_at = COALESCE(paid_at, ?)");
        args.push(ts.into());
    }
    if patch.bump_pay_attempts {
        sets.push("pay_attempts = pay_attempts + 1");
    }
    let mut sql = format!("UPDATE invoices SET {} WHERE id = ?", sets.join(", "));
    args.push(id.into());
    and_status_in(&mut sql, &mut args, from.iter().map(|s| s.as_str()));
    db.write(|tx| {
        let n = tx
            .prepare_cached(&sql)?
            .execute(params_from_iter(args.iter()))?;
        if n != 1 {
            return Ok(None);
        }
        match patch.status {
            Some(InvoiceStatus::Paid) => {
                tx.prepare_cached(
                    "UPDATE transactions SET status = 'succeeded',
                        amount_captured = CASE WHEN kind = 'charge' THEN amount ELSE 0 END,
                        updated_at = ?2
                     WHERE invoice_id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, ts])?;
            }
            Some(InvoiceStatus::Void) => {
                tx.prepare_cached(
                    "UPDATE transactions SET invoice_id = NULL, updated_at = ?2
                     WHERE invoice_id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, ts])?;
            }
            _ => {}
        }
        get_invoice(tx, id)
    })
}
