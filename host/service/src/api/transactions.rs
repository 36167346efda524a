//! Transactions, their captures, voids, refunds and customer actions: `/v1/transactions`.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::error::{Error, ErrorKind};
use crate::ledger::{Capture, Initiator, Transaction, TxnFilter, TxnKind, TxnStatus};
use crate::payments::operator::{OperatorOutcome, OperatorSettlement};
use crate::payments::{Requester, TxnRequest};

use super::auth::{Caller, CallerScopes};
use super::errors::{ApiError, ErrorResponse};
use super::extract::{JsonBody, OptionalJsonBody, QueryParams, path_id};
use super::idempotency::{ClientKey, client_key};
use super::requests::{
    CaptureBody, ChargeWhen, CompleteAction, CreateTransaction, Empty, ListTransactions,
    RefundBody, SettleBody, bounded, non_blank,
};
use super::state::{ApiResult, AppState, ok};
use super::views::{CaptureView, DisputeView, RefundView, TransactionList, TransactionView};

/// The error of a charge that did not settle as asked, with the transaction (and, for a payment
/// waiting for the customer, what they must do) in its details.
fn charge_error(e: Error, txn: &Transaction) -> ApiError {
    let view = TransactionView::from(txn);
    let mut details = json!({ "transaction": view });
    if e.kind == ErrorKind::ActionRequired {
        details["next_action"] = json!(view.next_action);
    }
    ApiError::from(e).with_details(details)
}

/// 202 when the gateway accepted a modification whose outcome comes later, else `done`.
fn accepted_or(pending: bool, done: StatusCode) -> StatusCode {
    if pending { StatusCode::ACCEPTED } else { done }
}

/// A transaction with its captures, as a capture or void leaves it.
async fn with_captures(st: &AppState, txn: &Transaction) -> Result<TransactionView, ApiError> {
    let id = txn.id;
    let captures = st.service.db.run(move |l| l.captures(id)).await?;
    let mut v = TransactionView::from(txn);
    v.captures = Some(captures.iter().map(CaptureView::from).collect());
    Ok(v)
}

/// `POST /v1/transactions`.
#[utoipa::path(
    post,
    path = "/transactions",
    tag = "transactions",
    summary = "Record a transaction; a charge is charged at once to the default (or named) card unless charge=later",
    description = "Every check (amount from 1 to 999999999999 minor units, an ISO 4217 currency the gateway takes, the customer and card, `initiator` and `return_url`) runs before anything is written. A charge the gateway refuses as invalid input leaves nothing behind. A charge that needs the customer (3-D Secure) is answered 402 `authentication_required` whose `details` carry the transaction (`requires_action`) and its `next_action`; once the customer acted, `POST /v1/transactions/{id}/complete-action` finishes it. A charge whose gateway answer breaks the contract is held for review: 502 `held_for_review` with the transaction (`held_for_review`: money may have moved; nothing moves it on its own and it is never counted; it carries `attention` until an operator settles it with `POST /v1/transactions/{id}/settle`) in `details`.",
    request_body = CreateTransaction,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat")),
    responses(
        (status = 201, description = "Recorded (a declined charge is a `failed` transaction)", body = TransactionView),
        (status = 400, description = "Invalid input, the field named; nothing was written", body = ErrorResponse),
        (status = 402, description = "`authentication_required`: the payment waits for the customer; `details` has the transaction and its `next_action`", body = ErrorResponse),
        (status = 404, description = "No such customer or card", body = ErrorResponse),
        (status = 409, description = "In progress, or not allowed in the object's state", body = ErrorResponse),
        (status = 422, description = "The Idempotency-Key was used with another request", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble (the transaction in `details`)", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn create_transaction(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    JsonBody(b): JsonBody<CreateTransaction>,
) -> ApiResult {
    let kind = b.kind.unwrap_or(TxnKind::Charge);
    let charge_now = match b.charge.unwrap_or_default() {
        ChargeWhen::Now => kind == TxnKind::Charge,
        ChargeWhen::Later => false,
    };
    let (txn, err, _created) = st
        .service
        .create_transaction(TxnRequest {
            customer_id: non_blank("customer_id", b.customer_id)?,
            amount: b.amount,
            currency: non_blank("currency", b.currency)?,
            description: b.description,
            kind,
            card_id: b.card_id,
            capture: b.capture.unwrap_or(Capture::Automatic),
            charge_now,
            initiator: b.initiator.unwrap_or(Initiator::MerchantUnscheduled),
            return_url: b.return_url,
            client_key: client_key(key),
        })
        .await?;
    if let Some(e) = err {
        return Err(charge_error(e, &txn));
    }
    ok(StatusCode::CREATED, TransactionView::from(&txn))
}

/// `GET /v1/transactions`.
#[utoipa::path(
    get,
    path = "/transactions",
    tag = "transactions",
    summary = "Transactions, newest first",
    params(ListTransactions),
    responses(
        (status = 200, description = "A page", body = TransactionList),
        (status = 400, description = "Invalid filter, the parameter named", body = ErrorResponse),
        (status = 404, description = "No such customer", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list_transactions(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<ListTransactions>,
) -> ApiResult {
    let statuses = match &q.status {
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
    if let Some(c) = &q.customer_id {
        st.service.require_customer(c).await?;
    }
    let filter = TxnFilter {
        customer: q.customer_id,
        gateway: q.gateway,
        statuses,
        invoiced: q.invoiced,
        attention: q.attention,
        kind: q.kind,
        from: q.from.map(|t| t.0),
        to: q.to.map(|t| t.0),
        before_id: bounded("before_id", q.before_id, 1, i64::MAX)?,
        limit: bounded("limit", q.limit, 1, 1000)?.unwrap_or(100) as u32,
    };
    let limit = filter.limit as usize;
    let rows = st.service.db.run(move |l| l.transactions(&filter)).await?;
    let next_before_id = if rows.len() == limit {
        rows.last().map(|t| t.id)
    } else {
        None
    };
    ok(
        StatusCode::OK,
        TransactionList {
            transactions: rows.iter().map(TransactionView::from).collect(),
            next_before_id,
        },
    )
}

/// `GET /v1/transactions/{id}`.
#[utoipa::path(
    get,
    path = "/transactions/{id}",
    tag = "transactions",
    summary = "A transaction with its refunds, captures and disputes",
    params(("id" = i64, Path, description = "Transaction id")),
    responses(
        (status = 200, description = "The transaction", body = TransactionView),
        (status = 404, description = "No such transaction", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get_transaction(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let (txn, refunds, captures, disputes) = st
        .service
        .db
        .run(move |l| {
            Ok((
                l.transaction(id)?,
                l.refunds(id)?,
                l.captures(id)?,
                l.disputes(Some(id))?,
            ))
        })
        .await?;
    let txn =
        txn.ok_or_else(|| Error::not_found("transaction_id", format!("no transaction {id}")))?;
    let mut v = TransactionView::from(&txn);
    v.refunds = Some(refunds.iter().map(RefundView::from).collect());
    v.captures = Some(captures.iter().map(CaptureView::from).collect());
    v.disputes = Some(disputes.iter().map(DisputeView::from).collect());
    ok(StatusCode::OK, v)
}

/// `POST /v1/transactions/{id}/capture`.
#[utoipa::path(
    post,
    path = "/transactions/{id}/capture",
    tag = "transactions",
    summary = "Capture an authorized transaction (all that remains, or amount)",
    description = "One capture or void of an authorization runs at a time: a request that finds another in progress, or the authorization already captured or voided, is answered 409 saying which. Where the gateway has multiple captures, `final_capture: false` keeps the rest of the authorization for further captures, which may be made while earlier ones are pending. A capture the gateway accepts to settle later is answered 202: it is in `captures` as `pending`, the transaction stays `authorized` until an event (or, where the gateway has lookups, the reconciler) settles it.",
    params(
        ("id" = i64, Path, description = "Transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<CaptureBody>, description = "Optional: an empty body captures all"),
    responses(
        (status = 200, description = "Captured (with its captures)", body = TransactionView),
        (status = 202, description = "Accepted by the gateway, which settles it later: the capture is `pending`", body = TransactionView),
        (status = 400, description = "Invalid amount, or `final_capture` false at a gateway that captures once", body = ErrorResponse),
        (status = 404, description = "No such transaction", body = ErrorResponse),
        (status = 409, description = "Another capture or void is in progress, or the transaction is not authorized", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn capture(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<CaptureBody>,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let key = client_key(key);
    let (txn, pending) = st
        .service
        .capture_for(
            id,
            b.amount,
            b.final_capture.unwrap_or(true),
            Requester::Client(key.as_deref()),
        )
        .await?;
    ok(
        accepted_or(pending, StatusCode::OK),
        with_captures(&st, &txn).await?,
    )
}

/// `POST /v1/transactions/{id}/void`.
#[utoipa::path(
    post,
    path = "/transactions/{id}/void",
    tag = "transactions",
    summary = "Void an authorization, or cancel a transaction not charged yet",
    description = "One capture or void of an authorization runs at a time: a request that finds another in progress, or the authorization already captured or voided, is answered 409 saying which. A void the gateway accepts to settle later is answered 202: the transaction stays `authorized` until an event (or, where the gateway has lookups, the reconciler) settles it.",
    params(
        ("id" = i64, Path, description = "Transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<Empty>, description = "Optional: `{}` or nothing"),
    responses(
        (status = 200, description = "Voided", body = TransactionView),
        (status = 202, description = "Accepted by the gateway, which settles it later", body = TransactionView),
        (status = 404, description = "No such transaction", body = ErrorResponse),
        (status = 409, description = "Another capture or void is in progress, or the transaction cannot be voided", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn void(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(Empty {}): OptionalJsonBody<Empty>,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let key = client_key(key);
    let (txn, pending) = st
        .service
        .void_for(id, Requester::Client(key.as_deref()))
        .await?;
    ok(
        accepted_or(pending, StatusCode::OK),
        with_captures(&st, &txn).await?,
    )
}

/// `POST /v1/transactions/{id}/settle`.
#[utoipa::path(
    post,
    path = "/transactions/{id}/settle",
    tag = "transactions",
    summary = "Settle by hand a transaction flagged for an operator (admin)",
    description = "For a charge whose outcome stayed unknown through every repeat the reconciler allows, or one held for review (`held_for_review`: the gateway's answer broke the contract): the transaction carries `attention`. An operator checks the payment at the gateway and records the outcome found there (`succeeded`, `authorized` or `failed`), with the gateway's payment reference unless `failed`, and a reason. The ledger moves as it would on a trustworthy answer; `settled_by` (the API key's name) and `settled_note` are kept. Needs a key with the `admin` scope. A transaction not flagged is refused (409).",
    params(
        ("id" = i64, Path, description = "Transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body = SettleBody,
    responses(
        (status = 200, description = "Settled", body = TransactionView),
        (status = 400, description = "A field is missing or wrong", body = ErrorResponse),
        (status = 403, description = "The key lacks the `admin` scope", body = ErrorResponse),
        (status = 404, description = "No such transaction", body = ErrorResponse),
        (status = 409, description = "The transaction is not flagged for an operator, or moved meanwhile", body = ErrorResponse),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn settle(
    State(st): State<Arc<AppState>>,
    Extension(Caller(operator)): Extension<Caller>,
    Extension(scopes): Extension<CallerScopes>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SettleBody>,
) -> ApiResult {
    if !scopes.is_admin() {
        return Err(ApiError::forbidden(format!(
            "the API key {operator:?} lacks the `admin` scope: settling by hand is for operators"
        )));
    }
    let id = path_id("transaction_id", &id)?;
    let outcome = OperatorOutcome::parse(&body.outcome).ok_or_else(|| {
        ApiError::invalid("outcome", "must be `succeeded`, `authorized` or `failed`")
    })?;
    let reason = non_blank("reason", body.reason)?;
    let txn = st
        .service
        .settle_by_operator(
            id,
            OperatorSettlement {
                outcome,
                gateway_payment_ref: body.gateway_payment_ref,
                operator,
                reason,
            },
        )
        .await?;
    ok(StatusCode::OK, TransactionView::from(&txn))
}

/// `POST /v1/transactions/{id}/refunds`.
#[utoipa::path(
    post,
    path = "/transactions/{id}/refunds",
    tag = "transactions",
    summary = "Refund a transaction in full or in part",
    description = "A refund the gateway accepts to settle later is answered 202 with the refund `pending`: an event (or, where the gateway has refund lookups, the reconciler) settles it; a failed one frees its amount again.",
    params(
        ("id" = i64, Path, description = "Transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<RefundBody>, description = "Optional: an empty body refunds what remains"),
    responses(
        (status = 201, description = "Refunded (with the transaction as it stands)", body = RefundView),
        (status = 202, description = "Accepted by the gateway, which settles it later: the refund is `pending`", body = RefundView),
        (status = 400, description = "Invalid amount or reason, or more than remains", body = ErrorResponse),
        (status = 404, description = "No such transaction", body = ErrorResponse),
        (status = 409, description = "The transaction cannot be refunded", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn refund(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<RefundBody>,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let (refund, pending) = st
        .service
        .refund(id, b.amount, b.reason, client_key(key))
        .await?;
    let txn = st.service.db.run(move |l| l.transaction(id)).await?;
    let mut v = RefundView::from(&refund);
    v.transaction = txn.as_ref().map(|t| Box::new(TransactionView::from(t)));
    ok(accepted_or(pending, StatusCode::CREATED), v)
}

/// `POST /v1/transactions/{id}/complete-action`.
#[utoipa::path(
    post,
    path = "/transactions/{id}/complete-action",
    tag = "transactions",
    summary = "Finish a payment that waited for the customer (3-D Secure), once they acted",
    description = "Calls the gateway's complete-action with what its page or SDK handed back (`details`) and settles the transaction with the answer. A transaction settled meanwhile (by an event or the reconciler) is answered as it stands. A payment that still waits (a new action) is 402 `authentication_required` with the transaction and its `next_action` in `details`; a gateway without customer actions is 501.",
    params(
        ("id" = i64, Path, description = "Transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    request_body(content = Option<CompleteAction>, description = "Optional: `{}`, or `{\"details\": {...}}`"),
    responses(
        (status = 200, description = "The transaction as the gateway now says it stands (`succeeded`, `authorized`, or `failed` with its decline)", body = TransactionView),
        (status = 402, description = "`authentication_required`: the payment still waits for the customer", body = ErrorResponse),
        (status = 404, description = "No such transaction", body = ErrorResponse),
        (status = 409, description = "The transaction waits for no customer action, or a completion is in progress", body = ErrorResponse),
        (status = 501, description = "The gateway does not complete customer actions", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn complete_action(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<CompleteAction>,
) -> ApiResult {
    let id = path_id("transaction_id", &id)?;
    let key = client_key(key);
    let details = b.details.unwrap_or_default().into_iter().collect();
    let (txn, err) = st
        .service
        .complete_action_for(id, details, Requester::Client(key.as_deref()))
        .await?;
    if let Some(e) = err {
        return Err(charge_error(e, &txn));
    }
    ok(StatusCode::OK, TransactionView::from(&txn))
}
