//! The HTTP JSON API: routes, views, auth ([`auth`]), errors and strict parsing ([`errors`]),
//! and the OpenAPI document ([`openapi`]).
//!
//! Every route under `/v1` needs an API key (`Authorization: Bearer <key>`): GET needs the
//! `read` scope, POST and DELETE the `write` scope (which includes reading). `/health`,
//! `/openapi.json` and `/webhooks/{gateway}` (verified by the gateway's plugin) do not.

pub mod auth;
pub mod errors;
pub mod openapi;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use serde_json::{Value, json};

use crate::Service;
use crate::currency::format_amount;
use crate::error::ServiceError;
use crate::invoices::InvoiceRequestIn;
use crate::ledger::*;
use crate::payments::TxnRequest;
use crate::reload::RetryPolicy;
use crate::time::{format_date, format_rfc3339};

use auth::{ApiKeys, ClientKey};
use errors::{Body, Query, path_id};

/// State shared by the handlers.
pub struct AppState {
    /// The service.
    pub service: Arc<Service>,
    /// The API keys.
    pub keys: ApiKeys,
}

type ApiResult = Result<Response, ServiceError>;

/// Registers routes and remembers them, so that the OpenAPI test can compare the two.
struct Routes {
    router: Router<Arc<AppState>>,
    list: Vec<(&'static str, String)>,
    prefix: &'static str,
}

impl Routes {
    fn new(prefix: &'static str) -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
            prefix,
        }
    }

    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, format!("{}{path}", self.prefix)));
        self
    }
}

fn v1_routes() -> Routes {
    Routes::new("/v1")
        .add("get", "/gateways", gateways)
        .add("post", "/customers", link_customer)
        .add("get", "/customers/{customer_id}", get_customer)
        .add("post", "/customers/{customer_id}/cards", add_card)
        .add("get", "/customers/{customer_id}/cards", list_cards)
        .add(
            "post",
            "/customers/{customer_id}/cards/{card_id}/default",
            set_default_card,
        )
        .add(
            "delete",
            "/customers/{customer_id}/cards/{card_id}",
            remove_card,
        )
        .add("get", "/cards/expiring", expiring_cards)
        .add("post", "/transactions", create_transaction)
        .add("get", "/transactions", list_transactions)
        .add("get", "/transactions/{id}", get_transaction)
        .add("post", "/transactions/{id}/capture", capture)
        .add("post", "/transactions/{id}/void", void)
        .add("post", "/transactions/{id}/refunds", refund)
        .add("post", "/invoices", create_invoice)
        .add("get", "/invoices", list_invoices)
        .add("get", "/invoices/{id}", get_invoice)
        .add("post", "/invoices/{id}/finalize", finalize_invoice)
        .add("post", "/invoices/{id}/pay", pay_invoice)
        .add("post", "/invoices/{id}/void", void_invoice)
        .add("get", "/summary", summary)
        .add("get", "/disputes", list_disputes)
}

fn public_routes() -> Routes {
    Routes::new("")
        .add("get", "/health", health)
        .add("get", "/openapi.json", openapi_doc)
        .add("post", "/webhooks/{gateway}", crate::webhooks::receive)
}

/// Every route the router serves: (method, path template).
pub fn route_table() -> Vec<(&'static str, String)> {
    let mut all = public_routes().list;
    all.extend(v1_routes().list);
    all
}

/// The router of the whole API.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = v1_routes()
        .router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    public_routes()
        .router
        .nest("/v1", v1)
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ServiceError {
    ServiceError::new_status(404, "not_found", "path", "no such route; see /openapi.json")
}

fn ok(status: StatusCode, v: Value) -> ApiResult {
    Ok((status, axum::Json(v)).into_response())
}

fn client_key(k: Option<Extension<ClientKey>>) -> Option<String> {
    k.map(|Extension(ClientKey(k))| k)
}

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

async fn health(State(st): State<Arc<AppState>>) -> ApiResult {
    let db_ok = st
        .service
        .db
        .run(|l| l.customer_links("").map(|_| ()))
        .await
        .is_ok();
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    ok(
        status,
        json!({
            "status": if db_ok { "ok" } else { "degraded" },
            "ledger": if db_ok { "ok" } else { "unavailable" },
            "gateways": st.service.gateways.names(),
        }),
    )
}

async fn openapi_doc() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi::document().to_string(),
    )
        .into_response()
}

async fn gateways(State(st): State<Arc<AppState>>) -> ApiResult {
    ok(
        StatusCode::OK,
        json!({
            "contract": format!("{}@{}", omnicrm_host::contract::CONTRACT_PACKAGE, omnicrm_host::contract::CONTRACT_VERSION),
            "default": st.service.gateways.default_name(),
            "gateways": st.service.gateways.statuses(),
        }),
    )
}

async fn link_customer(State(st): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let b = Body::parse(&body, &["customer_id", "gateway", "email", "name", "phone"])?;
    let id = b.req_str("customer_id")?;
    let gateway = b.str("gateway")?;
    let (link, created) = st
        .service
        .link_customer(
            &id,
            gateway.as_deref(),
            b.str("email")?,
            b.str("name")?,
            b.str("phone")?,
        )
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "customer_id": link.crm_customer_id,
            "gateway": link.gateway,
            "gateway_customer_ref": link.gateway_customer_ref,
            "email": link.email,
            "name": link.name,
            "created_at_gateway": created,
        }),
    )
}

async fn get_customer(
    State(st): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
) -> ApiResult {
    let links = st.service.require_customer(&customer_id).await?;
    let id = customer_id.clone();
    let cards = st.service.db.run(move |l| l.cards(&id)).await?;
    let id = customer_id.clone();
    let uninvoiced = st
        .service
        .db
        .run(move |l| {
            l.transactions(&TxnFilter {
                customer: Some(id),
                statuses: vec![TxnStatus::Pending],
                invoiced: Some(false),
                ..Default::default()
            })
        })
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "customer_id": customer_id,
            "links": links.iter().map(|l| json!({
                "gateway": l.gateway, "gateway_customer_ref": l.gateway_customer_ref,
                "email": l.email, "name": l.name, "linked_at": format_rfc3339(l.created_at),
            })).collect::<Vec<_>>(),
            "cards": cards.iter().map(card_view).collect::<Vec<_>>(),
            "uninvoiced_pending": uninvoiced.len(),
        }),
    )
}

async fn add_card(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(customer_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b = Body::parse(&body, &["token", "nickname", "default", "gateway"])?;
    let token = b.req_str("token")?;
    let card = st
        .service
        .add_card(
            &customer_id,
            b.str("gateway")?.as_deref(),
            &token,
            b.str("nickname")?,
            b.bool("default")?.unwrap_or(false),
            client_key(key),
        )
        .await?;
    ok(StatusCode::CREATED, card_view(&card))
}

async fn list_cards(State(st): State<Arc<AppState>>, Path(customer_id): Path<String>) -> ApiResult {
    st.service.require_customer(&customer_id).await?;
    let cards = st.service.db.run(move |l| l.cards(&customer_id)).await?;
    ok(
        StatusCode::OK,
        json!({ "cards": cards.iter().map(card_view).collect::<Vec<_>>() }),
    )
}

async fn set_default_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    let card = st.service.set_default_card(&customer_id, card_id).await?;
    ok(StatusCode::OK, card_view(&card))
}

async fn remove_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    st.service.remove_card(&customer_id, card_id).await?;
    ok(StatusCode::OK, json!({ "removed": true, "id": card_id }))
}

async fn expiring_cards(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["within_days"])?;
    let days = q.int("within_days", 0, 3650)?.unwrap_or(60);
    let today = now();
    let (y0, m0, _) = crate::time::date_of(today);
    let (y1, m1, _) = crate::time::date_of(today + days * 86_400);
    let cards = st
        .service
        .db
        .run(move |l| l.expiring_cards((y0 as u16, m0 as u8), (y1 as u16, m1 as u8)))
        .await?;
    ok(
        StatusCode::OK,
        json!({ "within_days": days, "cards": cards.iter().map(card_view).collect::<Vec<_>>() }),
    )
}

async fn create_transaction(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    body: Bytes,
) -> ApiResult {
    let b = Body::parse(
        &body,
        &[
            "customer_id",
            "amount",
            "currency",
            "description",
            "kind",
            "card_id",
            "capture",
            "charge",
        ],
    )?;
    let customer_id = b.req_str("customer_id")?;
    let amount = b.req_i64("amount")?;
    if amount <= 0 {
        return Err(ServiceError::invalid(
            "amount",
            "must be a positive integer of minor units",
        ));
    }
    let currency = b.req_str("currency")?;
    let kind = match b.str("kind")?.as_deref() {
        None | Some("charge") => TxnKind::Charge,
        Some("credit") => TxnKind::Credit,
        Some(_) => return Err(ServiceError::invalid("kind", "must be charge or credit")),
    };
    let capture = match b.str("capture")?.as_deref() {
        None | Some("automatic") => Capture::Automatic,
        Some("manual") => Capture::Manual,
        Some(_) => {
            return Err(ServiceError::invalid(
                "capture",
                "must be automatic or manual",
            ));
        }
    };
    let charge_now = match b.str("charge")?.as_deref() {
        None | Some("now") => kind == TxnKind::Charge,
        Some("later") => false,
        Some(_) => return Err(ServiceError::invalid("charge", "must be now or later")),
    };
    let card_id = b.i64("card_id")?;
    let description = b.str("description")?;
    let (txn, err, _created) = st
        .service
        .create_transaction(TxnRequest {
            customer_id,
            amount,
            currency,
            description,
            kind,
            card_id,
            capture,
            charge_now,
            client_key: client_key(key),
        })
        .await?;
    if let Some(e) = err {
        return Err(e.with_details(json!({ "transaction": txn_view(&txn) })));
    }
    ok(StatusCode::CREATED, txn_view(&txn))
}

async fn list_transactions(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(
        q.as_deref(),
        &[
            "customer_id",
            "status",
            "invoiced",
            "kind",
            "from",
            "to",
            "limit",
            "before_id",
        ],
    )?;
    let statuses = match q.str("status") {
        None => vec![],
        Some(s) => s
            .split(',')
            .map(|x| TxnStatus::parse(x.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ServiceError::invalid(
                    "status",
                    format!(
                        "must be one or more (comma-separated) of: {}",
                        TxnStatus::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
    };
    let kind = match q.str("kind").as_deref() {
        None => None,
        Some(k) => Some(
            TxnKind::parse(k)
                .ok_or_else(|| ServiceError::invalid("kind", "must be charge or credit"))?,
        ),
    };
    if let Some(c) = q.str("customer_id") {
        st.service.require_customer(&c).await?;
    }
    let filter = TxnFilter {
        customer: q.str("customer_id"),
        statuses,
        invoiced: q.bool("invoiced")?,
        kind,
        from: q.time("from")?,
        to: q.time("to")?,
        before_id: q.int("before_id", 1, i64::MAX)?,
        limit: q.int("limit", 1, 1000)?.unwrap_or(100) as u32,
    };
    let limit = filter.limit as usize;
    let rows = st.service.db.run(move |l| l.transactions(&filter)).await?;
    let next = if rows.len() == limit {
        rows.last().map(|t| t.id)
    } else {
        None
    };
    ok(
        StatusCode::OK,
        json!({ "transactions": rows.iter().map(txn_view).collect::<Vec<_>>(), "next_before_id": next }),
    )
}

async fn get_transaction(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let (txn, refunds, disputes) = st
        .service
        .db
        .run(move |l| Ok((l.transaction(id)?, l.refunds(id)?, l.disputes(Some(id))?)))
        .await?;
    let txn = txn
        .ok_or_else(|| ServiceError::not_found("transaction_id", format!("no transaction {id}")))?;
    let mut v = txn_view(&txn);
    v["refunds"] = Value::Array(refunds.iter().map(refund_view).collect());
    v["disputes"] = Value::Array(disputes.iter().map(dispute_view).collect());
    ok(StatusCode::OK, v)
}

async fn capture(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let b = Body::parse(&body, &["amount"])?;
    let txn = st.service.capture(id, b.i64("amount")?).await?;
    ok(StatusCode::OK, txn_view(&txn))
}

async fn void(State(st): State<Arc<AppState>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    Body::parse(&body, &[])?;
    let txn = st.service.void(id).await?;
    ok(StatusCode::OK, txn_view(&txn))
}

async fn refund(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let b = Body::parse(&body, &["amount", "reason"])?;
    let amount = b.i64("amount")?;
    let refund = st
        .service
        .refund(id, amount, b.str("reason")?, client_key(key))
        .await?;
    let txn = st.service.db.run(move |l| l.transaction(id)).await?;
    let mut v = refund_view(&refund);
    v["transaction"] = txn.as_ref().map(txn_view).unwrap_or(Value::Null);
    ok(StatusCode::CREATED, v)
}

async fn create_invoice(
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
        return Err(ServiceError::invalid(
            "days_until_due",
            "must be from 0 to 365",
        ));
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

async fn list_invoices(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["customer_id", "status", "limit"])?;
    let statuses = match q.str("status") {
        None => vec![],
        Some(s) => s
            .split(',')
            .map(|x| InvoiceStatus::parse(x.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ServiceError::invalid("status", "must be draft, open, paid, void or uncollectible")
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

async fn get_invoice(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    let (inv, lines) = st
        .service
        .db
        .run(move |l| Ok((l.invoice(id)?, l.invoice_lines(id)?)))
        .await?;
    let inv =
        inv.ok_or_else(|| ServiceError::not_found("invoice_id", format!("no invoice {id}")))?;
    ok(StatusCode::OK, invoice_view(&inv, Some(&lines)))
}

async fn finalize_invoice(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    Body::parse(&body, &[])?;
    let inv = st.service.finalize_invoice(id).await?;
    ok(StatusCode::OK, invoice_view(&inv, None))
}

async fn pay_invoice(
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

async fn void_invoice(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("invoice_id", &id)?;
    Body::parse(&body, &[])?;
    let inv = st.service.void_invoice(id).await?;
    ok(StatusCode::OK, invoice_view(&inv, None))
}

async fn summary(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["from", "to", "currency", "gateway"])?;
    let currency = q
        .str("currency")
        .ok_or_else(|| ServiceError::invalid("currency", "is required"))?;
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

async fn list_disputes(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["transaction_id"])?;
    let t = q.int("transaction_id", 1, i64::MAX)?;
    let rows = st.service.db.run(move |l| l.disputes(t)).await?;
    ok(
        StatusCode::OK,
        json!({ "disputes": rows.iter().map(dispute_view).collect::<Vec<_>>() }),
    )
}

/// Lower-cased header names and raw values, as `verify-event` wants them.
pub fn raw_headers(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}
