//! Figures: the gateway's financial summary (`/v1/summary`) and disputes (`/v1/disputes`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use crate::currency::format_amount;
use crate::ledger::now;
use crate::time::format_rfc3339;

use super::errors::ErrorResponse;
use super::extract::QueryParams;
use super::requests::{ListDisputes, SummaryQuery, bounded, non_blank};
use super::state::{ApiResult, AppState, ok};
use super::views::{DisputeList, DisputeView, SummaryView};

/// `GET /v1/summary`.
#[utoipa::path(
    get,
    path = "/summary",
    tag = "reports",
    summary = "Financial summary from the gateway: revenue, payments, refunds, fees, net, disputes, chargebacks",
    params(SummaryQuery),
    responses(
        (status = 200, description = "The summary, and the ledger's own sums", body = SummaryView),
        (status = 400, description = "Invalid parameter", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn summary(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<SummaryQuery>,
) -> ApiResult {
    let currency = non_blank("currency", q.currency)?;
    let to = q.to.map(|t| t.0).unwrap_or_else(|| now() + 1);
    let from = q.from.map(|t| t.0).unwrap_or(to - 30 * 86_400);
    let s = st
        .service
        .summary(q.gateway.as_deref(), from, to, &currency)
        .await?;
    let c = s.currency.clone();
    let ledger = st.service.db.run(move |l| l.totals(&c, from, to)).await?;
    let fmt = |a: i64| format_amount(a, &s.currency);
    ok(
        StatusCode::OK,
        SummaryView {
            gateway: st.service.gateway_name(q.gateway.as_deref())?,
            from: format_rfc3339(s.range.start),
            to: format_rfc3339(s.range.end),
            currency: s.currency.clone(),
            revenue: s.gross_volume,
            revenue_display: fmt(s.gross_volume),
            successful_payments: s.successful_payments,
            refunds: s.refunded_amount,
            refunds_display: fmt(s.refunded_amount),
            refund_count: s.refund_count,
            fees: s.fees,
            fees_display: fmt(s.fees),
            net: s.net,
            net_display: fmt(s.net),
            disputes: s.dispute_count,
            disputed_amount: s.disputed_amount,
            chargebacks: s.disputes_lost,
            chargeback_amount: s.disputes_lost_amount,
            ledger: ledger.into(),
        },
    )
}

/// `GET /v1/disputes`.
#[utoipa::path(
    get,
    path = "/disputes",
    tag = "reports",
    summary = "Disputes (chargebacks) reported by webhooks",
    params(ListDisputes),
    responses(
        (status = 200, description = "The disputes", body = DisputeList),
        (status = 400, description = "Invalid parameter", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list_disputes(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<ListDisputes>,
) -> ApiResult {
    let t = bounded("transaction_id", q.transaction_id, 1, i64::MAX)?;
    let rows = st.service.db.run(move |l| l.disputes(t)).await?;
    ok(
        StatusCode::OK,
        DisputeList {
            disputes: rows.iter().map(DisputeView::from).collect(),
        },
    )
}
