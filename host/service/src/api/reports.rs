//! Figures: the financial summary (`/v1/summary`) and disputes (`/v1/disputes`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use crate::error::Error;
use crate::ledger::now;
use crate::time::format_rfc3339;

use super::errors::ErrorResponse;
use super::extract::QueryParams;
use super::requests::{ListDisputes, SummaryQuery, bounded, non_blank};
use super::state::{ApiResult, AppState, ok};
use super::summary_views::{FiguresView, GatewaySummaryView, SummaryView};
use super::views::{DisputeList, DisputeView};

/// `GET /v1/summary`.
#[utoipa::path(
    get,
    path = "/summary",
    tag = "reports",
    summary = "Financial summary from the ledger: revenue, payments, refunds, fees, net, disputes, chargebacks; per gateway and combined, the gateway's own figures beside",
    description = "Computed from the ledger for every gateway: revenue (captured charges paid by their own payment, by when they were made; paid invoices, by when they were paid), successful payments, refunds (succeeded), fees (as the gateway reported them with each payment), net (revenue less refunds, fees and the amounts of disputes open or lost), disputes opened in the period (inquiries left out) with how many were won and lost (chargebacks). The top level has the figures of `gateway` (the one asked, else the default gateway); `gateways` has every gateway's and `combined` their sum. For a gateway with metrics, its own figures are beside the ledger's (`gateway_figures`) with the figures on which they disagree (`differences`, `gateway - ledger`); when the gateway cannot answer, `gateway_figures_error` says why and the ledger's figures are still given.",
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
    let gateway = st.service.gateway_name(q.gateway.as_deref())?;
    let s = st
        .service
        .summary(q.gateway.as_deref(), from, to, &currency)
        .await?;
    let c = s.currency.clone();
    let ledger = st.service.db.run(move |l| l.totals(&c, from, to)).await?;
    let gateways: Vec<GatewaySummaryView> = s
        .gateways
        .iter()
        .map(|g| GatewaySummaryView::new(g, &s.currency))
        .collect();
    let top = gateways
        .iter()
        .find(|g| g.gateway == gateway)
        .cloned()
        .ok_or_else(|| Error::internal("the gateway asked has no figures"))?;
    let f = top.figures;
    ok(
        StatusCode::OK,
        SummaryView {
            gateway,
            from: format_rfc3339(s.from),
            to: format_rfc3339(s.to),
            currency: s.currency.clone(),
            source: "ledger",
            revenue: f.revenue,
            revenue_display: f.revenue_display,
            successful_payments: f.successful_payments,
            refunds: f.refunds,
            refunds_display: f.refunds_display,
            refund_count: f.refund_count,
            fees: f.fees,
            fees_display: f.fees_display,
            net: f.net,
            net_display: f.net_display,
            disputes: f.disputes,
            disputed_amount: f.disputed_amount,
            disputes_won: f.disputes_won.unwrap_or(0),
            chargebacks: f.chargebacks,
            chargeback_amount: f.chargeback_amount,
            ledger: ledger.into(),
            gateway_figures: top.gateway_figures,
            gateway_figures_error: top.gateway_figures_error,
            differences: top.differences,
            combined: FiguresView::of_ledger(&s.combined, &s.currency),
            gateways,
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
