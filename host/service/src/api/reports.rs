//! Figures: the gateway's financial summary (`/v1/summary`) and disputes (`/v1/disputes`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::currency::format_amount;
use crate::error::Error;
use crate::ledger::now;
use crate::time::format_rfc3339;

use super::parse::Query;
use super::state::{ApiResult, AppState, ok};
use super::views::dispute_view;

/// `GET /v1/summary`.
pub async fn summary(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["from", "to", "currency", "gateway"])?;
    let currency = q
        .str("currency")
        .ok_or_else(|| Error::invalid("currency", "is required"))?;
    let to = q.time("to")?.unwrap_or_else(|| now() + 1);
    let from = q.time("from")?.unwrap_or(to - 30 * 86_400);
    let s = st
        .service
        .summary(q.str("gateway").as_deref(), from, to, &currency)
        .await?;
    let c = s.currency.clone();
    let ledger = st.service.db.run(move |l| l.totals(&c, from, to)).await?;
    let fmt = |a: i64| format_amount(a, &s.currency);
    ok(
        StatusCode::OK,
        json!({
            "gateway": st.service.gateway_name(q.str("gateway").as_deref())?,
            "from": format_rfc3339(s.range.start),
            "to": format_rfc3339(s.range.end),
            "currency": s.currency,
            "revenue": s.gross_volume,
            "revenue_display": fmt(s.gross_volume),
            "successful_payments": s.successful_payments,
            "refunds": s.refunded_amount,
            "refunds_display": fmt(s.refunded_amount),
            "refund_count": s.refund_count,
            "fees": s.fees,
            "fees_display": fmt(s.fees),
            "net": s.net,
            "net_display": fmt(s.net),
            "disputes": s.dispute_count,
            "disputed_amount": s.disputed_amount,
            "chargebacks": s.disputes_lost,
            "chargeback_amount": s.disputes_lost_amount,
            "ledger": ledger,
        }),
    )
}

/// `GET /v1/disputes`.
pub async fn list_disputes(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["transaction_id"])?;
    let t = q.int("transaction_id", 1, i64::MAX)?;
    let rows = st.service.db.run(move |l| l.disputes(t)).await?;
    ok(
        StatusCode::OK,
        json!({ "disputes": rows.iter().map(dispute_view).collect::<Vec<_>>() }),
    )
}
