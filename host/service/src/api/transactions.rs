//! Transactions, their captures, voids and refunds: `/v1/transactions`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::error::Error;
use crate::ledger::{Capture, TxnFilter, TxnKind, TxnStatus};
use crate::payments::TxnRequest;

use super::auth::{ClientKey, client_key};
use super::errors::ApiError;
use super::parse::{Body, Query, path_id};
use super::state::{ApiResult, AppState, ok};
use super::views::{dispute_view, refund_view, txn_view};

/// `POST /v1/transactions`.
pub async fn create_transaction(
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
        return Err(Error::invalid("amount", "must be a positive integer of minor units").into());
    }
    let currency = b.req_str("currency")?;
    let kind = match b.str("kind")?.as_deref() {
        None | Some("charge") => TxnKind::Charge,
        Some("credit") => TxnKind::Credit,
        Some(_) => return Err(Error::invalid("kind", "must be charge or credit").into()),
    };
    let capture = match b.str("capture")?.as_deref() {
        None | Some("automatic") => Capture::Automatic,
        Some("manual") => Capture::Manual,
        Some(_) => {
            return Err(Error::invalid("capture", "must be automatic or manual").into());
        }
    };
    let charge_now = match b.str("charge")?.as_deref() {
        None | Some("now") => kind == TxnKind::Charge,
        Some("later") => false,
        Some(_) => return Err(Error::invalid("charge", "must be now or later").into()),
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
        return Err(ApiError::from(e).with_details(json!({ "transaction": txn_view(&txn) })));
    }
    ok(StatusCode::CREATED, txn_view(&txn))
}

/// `GET /v1/transactions`.
pub async fn list_transactions(
    State(st): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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
                Error::invalid(
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
            TxnKind::parse(k).ok_or_else(|| Error::invalid("kind", "must be charge or credit"))?,
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

/// `GET /v1/transactions/{id}`.
pub async fn get_transaction(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let (txn, refunds, disputes) = st
        .service
        .db
        .run(move |l| Ok((l.transaction(id)?, l.refunds(id)?, l.disputes(Some(id))?)))
        .await?;
    let txn =
        txn.ok_or_else(|| Error::not_found("transaction_id", format!("no transaction {id}")))?;
    let mut v = txn_view(&txn);
    v["refunds"] = Value::Array(refunds.iter().map(refund_view).collect());
    v["disputes"] = Value::Array(disputes.iter().map(dispute_view).collect());
    ok(StatusCode::OK, v)
}

/// `POST /v1/transactions/{id}/capture`.
pub async fn capture(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let b = Body::parse(&body, &["amount"])?;
    let txn = st.service.capture(id, b.i64("amount")?).await?;
    ok(StatusCode::OK, txn_view(&txn))
}

/// `POST /v1/transactions/{id}/void`.
pub async fn void(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    Body::parse(&body, &[])?;
    let txn = st.service.void(id).await?;
    ok(StatusCode::OK, txn_view(&txn))
}

/// `POST /v1/transactions/{id}/refunds`.
pub async fn refund(
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
