//! Invoices: `/v1/invoices`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::error::Error;
use crate::invoices::InvoiceRequestIn;
use crate::ledger::{InvoiceFilter, InvoiceStatus};
use crate::retry::RetryPolicy;

use super::auth::{ClientKey, client_key};
use super::parse::{Body, Query, path_id};
use super::state::{ApiResult, AppState, ok};
use super::views::invoice_view;

/// `POST /v1/invoices`.
pub async fn create_invoice(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    body: Bytes,
) -> ApiResult {
    let b = Body::parse(
        &body,
        &[
            "customer_id",
            "currency",
            "gateway",
            "description",
            "period_start",
            "period_end",
            "days_until_due",
        ],
    )?;
    let days = b.i64("days_until_due")?.unwrap_or(30);
    if !(0..=365).contains(&days) {
        return Err(Error::invalid("days_until_due", "must be from 0 to 365").into());
    }
    let inv = st
        .service
        .create_invoice(InvoiceRequestIn {
            customer_id: b.req_str("customer_id")?,
            gateway: b.str("gateway")?,
            currency: b.req_str("currency")?,
            description: b.str("description")?,
            period_start: b.time("period_start")?,
            period_end: b.time("period_end")?,
            days_until_due: days as u32,
            client_key: client_key(key),
        })
        .await?;
    let id = inv.id;
    let lines = st.service.db.run(move |l| l.invoice_lines(id)).await?;
    ok(StatusCode::CREATED, invoice_view(&inv, Some(&lines)))
}

/// `GET /v1/invoices`.
pub async fn list_invoices(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["customer_id", "status", "limit"])?;
    let statuses = match q.str("status") {
        None => vec![],
        Some(s) => s
            .split(',')
            .map(|x| InvoiceStatus::parse(x.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Error::invalid("status", "must be draft, open, paid, void or uncollectible")
            })?,
    };
    if let Some(c) = q.str("customer_id") {
        st.service.require_customer(&c).await?;
    }
    let filter = InvoiceFilter {
        customer: q.str("customer_id"),
        statuses,
        limit: q.int("limit", 1, 1000)?.unwrap_or(100) as u32,
    };
    let rows = st.service.db.run(move |l| l.invoices(&filter)).await?;
    ok(
        StatusCode::OK,
        json!({ "invoices": rows.iter().map(|i| invoice_view(i, None)).collect::<Vec<_>>() }),
    )
}

/// `GET /v1/invoices/{id}`.
pub async fn get_invoice(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let (inv, lines) = st
        .service
        .db
        .run(move |l| Ok((l.invoice(id)?, l.invoice_lines(id)?)))
        .await?;
    let inv = inv.ok_or_else(|| Error::not_found("invoice_id", format!("no invoice {id}")))?;
    ok(StatusCode::OK, invoice_view(&inv, Some(&lines)))
}

/// `POST /v1/invoices/{id}/finalize`.
pub async fn finalize_invoice(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    Body::parse(&body, &[])?;
    let inv = st.service.finalize_invoice(id).await?;
    ok(StatusCode::OK, invoice_view(&inv, None))
}

/// `POST /v1/invoices/{id}/pay`.
pub async fn pay_invoice(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let b = Body::parse(&body, &["card_id"])?;
    let inv = st
        .service
        .pay_invoice(id, b.i64("card_id")?, RetryPolicy::INTERACTIVE)
        .await?;
    ok(StatusCode::OK, invoice_view(&inv, None))
}

/// `POST /v1/invoices/{id}/void`.
pub async fn void_invoice(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    Body::parse(&body, &[])?;
    let inv = st.service.void_invoice(id).await?;
    ok(StatusCode::OK, invoice_view(&inv, None))
}
