//! Transactions: the list with its filters (status, gateway, customer, period), a transaction's
//! page (its refunds, captures, disputes and the intent log's operations; what the customer
//! must do when a bank asks for 3-D Secure), and capture (in part), void and refund (in part),
//! each confirmed.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use crate::api::views::{CaptureView, DisputeView, NextActionView, RefundView, TransactionView};
use crate::ledger::{Operation, TxnFilter, TxnStatus};
use crate::payments::operator::{OperatorOutcome, OperatorSettlement};
use crate::time::parse_time;

use super::super::error_page::error_page;
use super::super::format::{datetime, parse_amount, safe_link};
use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, after_form, domain_error, render, segment};

/// Transactions on one page of the list.
const PAGE: u32 = 50;

/// The list's filters.
#[derive(Debug, Default, Deserialize)]
pub struct TxnQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `yes`: only those flagged for an operator.
    #[serde(default)]
    attention: String,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "console/transactions.html")]
struct TransactionsPage {
    chrome: Chrome,
    status: String,
    gateway: String,
    customer: String,
    from: String,
    to: String,
    attention: bool,
    statuses: Vec<&'static str>,
    gateways: Vec<String>,
    transactions: Vec<TransactionView>,
    next: Option<String>,
}

/// `GET /console/transactions`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<TxnQuery>,
) -> Response {
    let filter = TxnFilter {
        customer: Some(q.customer.trim().to_string()).filter(|c| !c.is_empty()),
        gateway: Some(q.gateway.clone()).filter(|g| !g.is_empty()),
        statuses: TxnStatus::parse(&q.status).into_iter().collect(),
        from: parse_time(&q.from),
        to: parse_time(&q.to),
        attention: (q.attention == "yes").then_some(true),
        before_id: q.before,
        limit: PAGE,
        ..Default::default()
    };
    let rows = match st.service.db.run(move |l| l.transactions(&filter)).await {
        Ok(r) => r,
        Err(e) => return domain_error(&e.into()),
    };
    let next = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|t| t.id))
        .flatten()
        .map(|last| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("status", &q.status)
                .append_pair("gateway", &q.gateway)
                .append_pair("customer", &q.customer)
                .append_pair("from", &q.from)
                .append_pair("to", &q.to)
                .append_pair("attention", &q.attention)
                .append_pair("before", &last.to_string())
                .finish();
            format!("/console/transactions?{query}")
        });
    render(&TransactionsPage {
        chrome: Chrome::new(&st, &signed, "transactions"),
        statuses: TxnStatus::ALL.iter().map(|s| s.as_str()).collect(),
        gateways: st.service.gateways.names(),
        transactions: rows.iter().map(TransactionView::from).collect(),
        status: q.status,
        gateway: q.gateway,
        customer: q.customer,
        from: q.from,
        to: q.to,
        attention: q.attention == "yes",
        next,
    })
}

/// An operation of the intent log, for people.
pub struct OperationRow {
    /// Its id.
    pub id: i64,
    /// What it does.
    pub kind: String,
    /// Where it stands.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl From<&Operation> for OperationRow {
    fn from(o: &Operation) -> Self {
        OperationRow {
            id: o.id,
            kind: o.kind.to_string(),
            state: o.state.to_string(),
            attempts: o.attempts,
            last_error: o.last_error.clone(),
            created_at: datetime(o.created_at),
            updated_at: datetime(o.updated_at),
        }
    }
}

/// What the customer must do, for people.
pub struct ActionView {
    /// The action.
    pub action: NextActionView,
    /// Its page, when it is a link that can be shown.
    pub link: Option<String>,
    /// What to tell the customer.
    pub explanation: String,
}

#[derive(Template)]
#[template(path = "console/transaction.html")]
struct TransactionPage {
    chrome: Chrome,
    t: TransactionView,
    customer_path: String,
    captured: String,
    refunded: String,
    fee: Option<String>,
    remaining_capture: String,
    remaining_refund: String,
    can_capture: bool,
    can_void: bool,
    can_refund: bool,
    action: Option<ActionView>,
    refunds: Vec<RefundView>,
    captures: Vec<CaptureView>,
    disputes: Vec<DisputeView>,
    operations: Vec<OperationRow>,
}

/// `GET /console/transactions/{id}`.
pub async fn show(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<i64>,
) -> Response {
    let txn = match st.service.transaction(id).await {
        Ok(t) => t,
        Err(e) => return domain_error(&e),
    };
    let related = st
        .service
        .db
        .run(move |l| {
            Ok((
                l.refunds(id)?,
                l.captures(id)?,
                l.disputes(Some(id))?,
                l.operations_for(Some(id), None)?,
            ))
        })
        .await;
    let (refunds, captures, disputes, operations) = match related {
        Ok(r) => r,
        Err(e) => return domain_error(&e.into()),
    };
    let refunded_or_pending: i64 = refunds
        .iter()
        .filter(|r| r.status.as_str() != "failed" && r.status.as_str() != "canceled")
        .map(|r| r.amount)
        .sum();
    let money = |a: i64| crate::currency::format_amount(a, &txn.currency);
    let refundable = (txn.amount_captured - refunded_or_pending).max(0);
    let action = txn.next_action.as_ref().map(|a| {
        let action = NextActionView::from(a);
        let explanation = match action.kind {
            "redirect" => "The customer's bank asks the customer to authenticate (3-D Secure): send the customer to the bank's page below; the payment goes on when they come back.".to_string(),
            "client_sdk" => format!(
                "The customer must confirm the payment in the gateway's own form ({}) on a page of the CRM, on-session.",
                action.sdk.clone().unwrap_or_default()
            ),
            _ => "The customer must come back on-session and pay again: the bank refused an off-session payment.".to_string(),
        };
        ActionView {
            link: safe_link(action.url.as_deref()),
            action,
            explanation,
        }
    });
    let status = txn.status;
    render(&TransactionPage {
        chrome: Chrome::new(&st, &signed, "transactions"),
        customer_path: segment(&txn.crm_customer_id),
        captured: money(txn.amount_captured),
        refunded: money(txn.amount_refunded),
        fee: txn.fee.map(money),
        remaining_capture: money((txn.amount - txn.amount_captured).max(0)),
        remaining_refund: money(refundable),
        can_capture: status == TxnStatus::Authorized,
        can_void: matches!(
            status,
            TxnStatus::Authorized | TxnStatus::RequiresAction | TxnStatus::Pending
        ),
        can_refund: matches!(status, TxnStatus::Succeeded | TxnStatus::PartiallyRefunded)
            && refundable > 0,
        action,
        refunds: refunds.iter().map(RefundView::from).collect(),
        captures: captures.iter().map(CaptureView::from).collect(),
        disputes: disputes.iter().map(DisputeView::from).collect(),
        operations: operations.iter().map(OperationRow::from).collect(),
        t: TransactionView::from(&txn),
    })
}

/// A capture, void, refund or settlement form.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: Option<String>,
    /// A settlement's outcome: `succeeded`, `authorized` or `failed`.
    #[serde(default)]
    outcome: String,
    /// A settlement's payment at the gateway.
    #[serde(default)]
    gateway_payment_ref: String,
}

/// Reads the optional amount of a form (none: the whole remainder).
async fn optional_amount(st: &ConsoleState, id: i64, text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let txn = st.service.transaction(id).await.map_err(|e| e.message)?;
    parse_amount(text, &txn.currency).map(Some)
}

/// `POST /console/transactions/{id}/{action}`: `capture` or `refund` (in part when an amount
/// is given), `void`, or `settle` (by hand, for an operator with the `admin` role); each
/// confirmed.
pub async fn act(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<ChangeForm>,
) -> Response {
    let operator = signed.0.operator.clone();
    let Some(operator) = operator.filter(|o| action != "settle" || o.can_settle()) else {
        return error_page(
            StatusCode::FORBIDDEN,
            "Settling by hand needs the admin role.",
        );
    };
    let back = format!("/console/transactions/{id}");
    let outcome = change(&st, id, &action, &operator.name, f).await;
    after_form(&st, &signed, &back, outcome)
}

/// Carries out a confirmed capture, void, refund or settlement by `operator`; what they are
/// told.
async fn change(
    st: &ConsoleState,
    id: i64,
    action: &str,
    operator: &str,
    f: ChangeForm,
) -> Result<String, String> {
    if f.confirm.is_none() {
        return Err("Tick the box to confirm.".into());
    }
    match action {
        "settle" => {
            let outcome = OperatorOutcome::parse(&f.outcome)
                .ok_or("Choose what you found at the gateway.")?;
            let settlement = OperatorSettlement {
                outcome,
                gateway_payment_ref: Some(f.gateway_payment_ref).filter(|r| !r.trim().is_empty()),
                operator: operator.to_string(),
                reason: f.reason,
            };
            let t = st
                .service
                .settle_by_operator(id, settlement)
                .await
                .map_err(|e| e.message)?;
            Ok(format!("Settled by hand: the transaction is {}.", t.status))
        }
        "capture" => {
            let amount = optional_amount(st, id, &f.amount).await?;
            let t = st
                .service
                .capture(id, amount)
                .await
                .map_err(|e| e.message)?;
            Ok(format!("Captured: the transaction is {}.", t.status))
        }
        "void" => {
            let t = st.service.void(id).await.map_err(|e| e.message)?;
            Ok(format!("Voided: the transaction is {}.", t.status))
        }
        "refund" => {
            let amount = optional_amount(st, id, &f.amount).await?;
            let reason = Some(f.reason).filter(|r| !r.is_empty());
            let (r, pending) = st
                .service
                .refund(id, amount, reason, None)
                .await
                .map_err(|e| e.message)?;
            let money = crate::currency::format_amount(r.amount, &r.currency);
            Ok(if pending {
                format!("Refund of {money} sent: the gateway settles it later.")
            } else {
                format!("Refund of {money} is {}.", r.status)
            })
        }
        _ => Err("No such action.".into()),
    }
}
