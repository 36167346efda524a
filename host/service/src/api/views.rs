//! The JSON views of the ledger's rows, as the API answers them.

use serde_json::{Value, json};

use crate::currency::format_amount;
use crate::ledger::{Card, Dispute, Invoice, Refund, Transaction};
use crate::time::{format_date, format_rfc3339};

/// JSON view of a card.
pub fn card_view(c: &Card) -> Value {
    json!({
        "id": c.id,
        "customer_id": c.crm_customer_id,
        "gateway": c.gateway,
        "gateway_card_ref": c.gateway_card_ref,
        "brand": c.brand,
        "last4": c.last4,
        "exp_month": c.exp_month,
        "exp_year": c.exp_year,
        "expiry": format!("{:02}/{}", c.exp_month, c.exp_year),
        "funding": c.funding,
        "nickname": c.nickname,
        "default": c.is_default,
        "created_at": format_rfc3339(c.created_at),
    })
}

/// JSON view of a transaction.
pub fn txn_view(t: &Transaction) -> Value {
    json!({
        "id": t.id,
        "customer_id": t.crm_customer_id,
        "kind": t.kind,
        "status": t.status,
        "amount": t.amount,
        "currency": t.currency,
        "amount_display": format_amount(t.amount, &t.currency),
        "amount_captured": t.amount_captured,
        "amount_refunded": t.amount_refunded,
        "description": t.description,
        "capture": t.capture,
        "card_id": t.card_id,
        "gateway": t.gateway,
        "gateway_payment_ref": t.gateway_payment_ref,
        "invoiced": t.invoice_id.is_some(),
        "invoice_id": t.invoice_id,
        "idempotency_key": t.idempotency_key,
        "decline_code": t.decline_code,
        "decline_reason": t.decline_reason,
        "last_error": t.last_error,
        "created_at": format_rfc3339(t.created_at),
        "updated_at": format_rfc3339(t.updated_at),
    })
}

/// JSON view of a refund.
pub fn refund_view(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "transaction_id": r.transaction_id,
        "amount": r.amount,
        "currency": r.currency,
        "amount_display": format_amount(r.amount, &r.currency),
        "reason": r.reason,
        "status": r.status,
        "gateway_refund_ref": r.gateway_refund_ref,
        "last_error": r.last_error,
        "created_at": format_rfc3339(r.created_at),
    })
}

/// JSON view of an invoice.
pub fn invoice_view(i: &Invoice, lines: Option<&[Transaction]>) -> Value {
    let mut v = json!({
        "id": i.id,
        "number": i.number,
        "customer_id": i.crm_customer_id,
        "gateway": i.gateway,
        "status": i.status,
        "currency": i.currency,
        "description": i.description,
        "period_start": format_date(i.period_start),
        "period_end": format_date(i.period_end),
        "due_date": i.due_date.map(format_date),
        "subtotal": i.subtotal,
        "tax": i.tax,
        "total": i.total,
        "total_display": format_amount(i.total, &i.currency),
        "amount_paid": i.amount_paid,
        "gateway_invoice_ref": i.gateway_invoice_ref,
        "gateway_number": i.gateway_number,
        "hosted_url": i.hosted_url,
        "pdf_url": i.pdf_url,
        "pay_attempts": i.pay_attempts,
        "last_error": i.last_error,
        "created_at": format_rfc3339(i.created_at),
        "updated_at": format_rfc3339(i.updated_at),
    });
    if let Some(lines) = lines {
        v["lines"] = Value::Array(lines.iter().map(txn_view).collect());
    }
    v
}

/// JSON view of a dispute.
pub fn dispute_view(d: &Dispute) -> Value {
    json!({
        "id": d.id,
        "gateway": d.gateway,
        "gateway_dispute_ref": d.gateway_dispute_ref,
        "transaction_id": d.transaction_id,
        "gateway_payment_ref": d.gateway_payment_ref,
        "amount": d.amount,
        "currency": d.currency,
        "amount_display": format_amount(d.amount, &d.currency),
        "reason": d.reason,
        "status": d.status,
        "created_at": format_rfc3339(d.created_at),
        "updated_at": format_rfc3339(d.updated_at),
    })
}
