//! Invoices: `/v1/invoices`.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

use crate::error::Error;
use crate::invoices::InvoiceRequestIn;
use crate::ledger::{InvoiceFilter, InvoiceStatus};
use crate::payments::Requester;
use crate::retry::RetryPolicy;

use super::errors::ErrorResponse;
use super::extract::{JsonBody, OptionalJsonBody, QueryParams, path_id};
use super::idempotency::{ClientKey, client_key};
use super::requests::{CreateInvoice, Empty, ListInvoices, PayInvoice, bounded, non_blank};
use super::state::{ApiResult, AppState, ok};
use super::views::{InvoiceList, InvoiceView};

/// `POST /v1/invoices`.
#[utoipa::path(
    post,
    path = "/invoices",
    tag = "invoices",
    summary = "Invoice a customer's uninvoiced pending transactions in one currency",
    request_body = CreateInvoice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat")),
    responses(
        (status = 201, description = "Created (a draft), with its lines", body = InvoiceView),
        (status = 400, description = "Invalid input, the field named", body = ErrorResponse),
        (status = 404, description = "No such customer", body = ErrorResponse),
        (status = 409, description = "Nothing to invoice", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn create_invoice(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    JsonBody(b): JsonBody<CreateInvoice>,
) -> ApiResult {
    let days = bounded("days_until_due", b.days_until_due, 0, 365)?.unwrap_or(30);
    let inv = st
        .service
        .create_invoice(InvoiceRequestIn {
            customer_id: non_blank("customer_id", b.customer_id)?,
            gateway: b.gateway,
            currency: non_blank("currency", b.currency)?,
            description: b.description,
            period_start: b.period_start.map(|t| t.0),
            period_end: b.period_end.map(|t| t.0),
            days_until_due: days as u32,
            client_key: client_key(key),
        })
        .await?;
    let id = inv.id;
    let lines = st.service.db.run(move |l| l.invoice_lines(id)).await?;
    ok(StatusCode::CREATED, InvoiceView::new(&inv, Some(&lines)))
}

/// `GET /v1/invoices`.
#[utoipa::path(
    get,
    path = "/invoices",
    tag = "invoices",
    summary = "Invoices, newest first",
    params(ListInvoices),
    responses(
        (status = 200, description = "The invoices", body = InvoiceList),
        (status = 400, description = "Invalid filter, the parameter named", body = ErrorResponse),
        (status = 404, description = "No such customer", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list_invoices(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<ListInvoices>,
) -> ApiResult {
    let statuses = match &q.status {
        None => vec![],
        Some(s) => s
            .split(',')
            .map(|x| InvoiceStatus::parse(x.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Error::invalid("status", "must be draft, open, paid, void or uncollectible")
            })?,
    };
    if let Some(c) = &q.customer_id {
        st.service.require_customer(c).await?;
    }
    let filter = InvoiceFilter {
        customer: q.customer_id,
        statuses,
        limit: bounded("limit", q.limit, 1, 1000)?.unwrap_or(100) as u32,
    };
    let rows = st.service.db.run(move |l| l.invoices(&filter)).await?;
    ok(
        StatusCode::OK,
        InvoiceList {
            invoices: rows.iter().map(|i| InvoiceView::new(i, None)).collect(),
        },
    )
}

/// `GET /v1/invoices/{id}`.
#[utoipa::path(
    get,
    path = "/invoices/{id}",
    tag = "invoices",
    summary = "An invoice with its lines",
    params(("id" = i64, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice", body = InvoiceView),
        (status = 404, description = "No such invoice", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get_invoice(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let (inv, lines) = st
        .service
        .db
        .run(move |l| Ok((l.invoice(id)?, l.invoice_lines(id)?)))
        .await?;
    let inv = inv.ok_or_else(|| Error::not_found("invoice_id", format!("no invoice {id}")))?;
    ok(StatusCode::OK, InvoiceView::new(&inv, Some(&lines)))
}

/// `POST /v1/invoices/{id}/finalize`.
#[utoipa::path(
    post,
    path = "/invoices/{id}/finalize",
    tag = "invoices",
    summary = "Finalize a draft invoice (it gets the gateway's number and links)",
    params(
        ("id" = i64, Path, description = "Invoice id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<Empty>, description = "Optional: `{}` or nothing"),
    responses(
        (status = 200, description = "Finalized", body = InvoiceView),
        (status = 404, description = "No such invoice", body = ErrorResponse),
        (status = 409, description = "Another step of the invoice is in progress, or it is not a draft", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn finalize_invoice(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(Empty {}): OptionalJsonBody<Empty>,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let key = client_key(key);
    let inv = st
        .service
        .finalize_invoice_for(id, Requester::Client(key.as_deref()))
        .await?;
    ok(StatusCode::OK, InvoiceView::new(&inv, None))
}

/// `POST /v1/invoices/{id}/pay`.
#[utoipa::path(
    post,
    path = "/invoices/{id}/pay",
    tag = "invoices",
    summary = "Pay an invoice with a stored card (default: the default card)",
    description = "One payment (or other step) of an invoice runs at a time: a request that finds another in progress is answered 409 without calling the gateway.",
    params(
        ("id" = i64, Path, description = "Invoice id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<PayInvoice>, description = "Optional: an empty body pays with the default card"),
    responses(
        (status = 200, description = "Paid", body = InvoiceView),
        (status = 402, description = "Declined; the invoice stays open (it is in `details`)", body = ErrorResponse),
        (status = 404, description = "No such invoice or card", body = ErrorResponse),
        (status = 409, description = "Another step of the invoice is in progress, or it cannot be paid", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn pay_invoice(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<PayInvoice>,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let key = client_key(key);
    let inv = st
        .service
        .pay_invoice_for(
            id,
            b.card_id,
            RetryPolicy::INTERACTIVE,
            Requester::Client(key.as_deref()),
        )
        .await?;
    ok(StatusCode::OK, InvoiceView::new(&inv, None))
}

/// `POST /v1/invoices/{id}/void`.
#[utoipa::path(
    post,
    path = "/invoices/{id}/void",
    tag = "invoices",
    summary = "Void an invoice (a draft is deleted at the gateway); its pending transactions become uninvoiced",
    params(
        ("id" = i64, Path, description = "Invoice id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<Empty>, description = "Optional: `{}` or nothing"),
    responses(
        (status = 200, description = "Voided", body = InvoiceView),
        (status = 404, description = "No such invoice", body = ErrorResponse),
        (status = 409, description = "Another step of the invoice is in progress, or it cannot be voided", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn void_invoice(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(Empty {}): OptionalJsonBody<Empty>,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let key = client_key(key);
    let inv = st
        .service
        .void_invoice_for(id, Requester::Client(key.as_deref()))
        .await?;
    ok(StatusCode::OK, InvoiceView::new(&inv, None))
}
