//! Exactly-once money movement: the intent log's executor ([`Service::execute`]) and the
//! payments of transactions (charges, captures, voids, refunds). Invoices go through the same
//! executor ([`crate::invoices`]).
//!
//! Every gateway call that moves money or changes an invoice follows the same steps:
//! 1. the intent is written to the ledger's operation log with its idempotency key (a fresh
//!    random key, stored) and the exact inputs of the call, before the gateway is called;
//! 2. the call is made with that key;
//! 3. the outcome is applied to the transaction, refund or invoice with a compare-and-set that
//!    only moves its state forward, then the operation is settled.
//!
//! A call whose outcome is unknown (timeout, trap, dropped connection: see
//! [`CallError::may_have_moved_money`]) leaves the operation `unknown` (the transaction's status
//! too); a crash leaves it `pending`. The reconciler ([`crate::reconcile`]) repeats such
//! operations with the same key and the same inputs: the gateway answers with the original
//! outcome without moving money twice. Webhooks apply the same compare-and-set updates, so the
//! synchronous path, the reconciler and webhooks converge in any order.

use serde::{Deserialize, Serialize};

use crate::Service;
use crate::error::ServiceError;
use crate::ledger::*;
use crate::reload::RetryPolicy;
use omnicrm_host::contract::{
    self, CaptureMode, ChargeRequest, CollectionMethod, GatewayError, InvoiceRequest, LineItem,
    Money, PaymentStatus, RefundReason, RefundRequest,
};
use omnicrm_host::error::CallError;

/// The inputs of a charge, stored with its operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeParams {
    /// Gateway customer.
    pub customer: String,
    /// Gateway card.
    pub card: String,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// automatic or manual.
    pub capture: Capture,
    /// Metadata.
    pub metadata: Vec<(String, String)>,
}

/// The inputs of a capture or cancel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentParams {
    /// Gateway payment.
    pub payment: String,
    /// Amount to capture (none: all).
    #[serde(default)]
    pub amount: Option<i64>,
    /// Why the service cancels on its own (recorded as the transaction's last error once the
    /// payment is canceled); none for captures and voids the CRM asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The inputs of a refund.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundParams {
    /// Gateway payment.
    pub payment: String,
    /// Amount.
    pub amount: i64,
    /// Reason.
    pub reason: Option<String>,
    /// Ledger transaction.
    pub transaction_id: i64,
}

/// One line of an invoice creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineParams {
    /// Description.
    pub description: String,
    /// Signed amount.
    pub unit_amount: i64,
    /// Ledger transaction.
    pub transaction_id: i64,
}

/// The inputs of an invoice creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceCreateParams {
    /// Gateway customer.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub items: Vec<LineParams>,
    /// Note.
    pub description: Option<String>,
    /// Days until due.
    pub days_until_due: u32,
    /// Our number.
    pub number: String,
}

/// The inputs of an invoice finalize, pay or void.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceParams {
    /// Gateway invoice.
    pub invoice: String,
    /// Card to pay with (none: the default).
    #[serde(default)]
    pub card: Option<String>,
}

/// How an operation ended this time.
#[derive(Debug, Clone)]
pub struct Exec {
    /// The operation's state now.
    pub state: OpState,
    /// The gateway's error, when the call failed.
    pub error: Option<CallError>,
    /// Whether another task of this process is running the operation now.
    pub in_flight: bool,
    /// The transaction as a charge's outcome left it (read in the same database transaction
    /// that settled the operation), so that callers need not read it again.
    pub txn: Option<Transaction>,
}

impl Exec {
    fn in_flight() -> Self {
        Exec {
            state: OpState::Pending,
            error: None,
            in_flight: true,
            txn: None,
        }
    }
}

/// What a failed call means for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing moved and nothing will: settle as failed.
    Final,
    /// Nothing happened: repeat later with the same key.
    Retry,
    /// Money may have moved: reconcile with the same key.
    Unknown,
}

/// Classifies a failed call.
pub fn classify(e: &CallError) -> ErrorClass {
    if e.may_have_moved_money() {
        return ErrorClass::Unknown;
    }
    match e {
        CallError::Gateway(GatewayError::IdempotencyConflict(_)) => ErrorClass::Unknown,
        CallError::Gateway(
            GatewayError::RateLimited(_)
            | GatewayError::NotAttempted(_)
            | GatewayError::Configuration(_),
        )
        | CallError::Host(_) => ErrorClass::Retry,
        _ => ErrorClass::Final,
    }
}

/// Order of transaction statuses: updates only move forward in it.
pub fn txn_rank(s: TxnStatus) -> u8 {
    match s {
        TxnStatus::Pending => 0,
        TxnStatus::Unknown => 1,
        TxnStatus::Processing | TxnStatus::RequiresAction => 2,
        TxnStatus::Authorized => 3,
        TxnStatus::Succeeded | TxnStatus::Failed | TxnStatus::Canceled => 4,
        TxnStatus::PartiallyRefunded | TxnStatus::Refunded => 5,
    }
}

/// The statuses a transaction may move to `new` from.
pub fn txn_from(new: TxnStatus) -> Vec<TxnStatus> {
    if new == TxnStatus::Unknown {
        return vec![TxnStatus::Pending, TxnStatus::Unknown];
    }
    TxnStatus::ALL
        .iter()
        .copied()
        .filter(|s| txn_rank(*s) < txn_rank(new))
        .collect()
}

fn invoice_rank(s: InvoiceStatus) -> u8 {
    match s {
        InvoiceStatus::Draft => 0,
        InvoiceStatus::Open => 1,
        InvoiceStatus::Uncollectible => 2,
        InvoiceStatus::Paid | InvoiceStatus::Void => 3,
    }
}

/// The statuses an invoice may move to `new` from (or stay in, for updates of the same status).
pub fn invoice_from(new: InvoiceStatus) -> Vec<InvoiceStatus> {
    InvoiceStatus::ALL
        .iter()
        .copied()
        .filter(|s| invoice_rank(*s) < invoice_rank(new) || (*s == new && invoice_rank(new) < 3))
        .collect()
}

/// The ledger status of a gateway payment status.
pub fn txn_status_of(p: PaymentStatus) -> TxnStatus {
    match p {
        PaymentStatus::Succeeded => TxnStatus::Succeeded,
        PaymentStatus::Processing => TxnStatus::Processing,
        PaymentStatus::RequiresAction => TxnStatus::RequiresAction,
        PaymentStatus::RequiresCapture => TxnStatus::Authorized,
        PaymentStatus::Failed => TxnStatus::Failed,
        PaymentStatus::Canceled => TxnStatus::Canceled,
    }
}

/// The ledger status of a gateway refund status.
pub fn refund_status_of(s: contract::RefundStatus) -> RefundStatus {
    match s {
        contract::RefundStatus::Pending => RefundStatus::Pending,
        contract::RefundStatus::RequiresAction => RefundStatus::RequiresAction,
        contract::RefundStatus::Succeeded => RefundStatus::Succeeded,
        contract::RefundStatus::Failed => RefundStatus::Failed,
        contract::RefundStatus::Canceled => RefundStatus::Canceled,
    }
}

/// The ledger status of a gateway invoice status.
pub fn invoice_status_of(s: contract::InvoiceStatus) -> InvoiceStatus {
    match s {
        contract::InvoiceStatus::Draft => InvoiceStatus::Draft,
        contract::InvoiceStatus::Open => InvoiceStatus::Open,
        contract::InvoiceStatus::Paid => InvoiceStatus::Paid,
        contract::InvoiceStatus::Void => InvoiceStatus::Void,
        contract::InvoiceStatus::Uncollectible => InvoiceStatus::Uncollectible,
    }
}

fn reason_of(s: &str) -> Option<RefundReason> {
    match s {
        "duplicate" => Some(RefundReason::Duplicate),
        "fraudulent" => Some(RefundReason::Fraudulent),
        "requested_by_customer" => Some(RefundReason::RequestedByCustomer),
        _ => None,
    }
}

/// An operation's inputs as stored in the intent log.
pub(super) fn to_params<T: Serialize>(params: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(params).map_err(|e| ServiceError::internal(e.to_string()))
}

/// A hex digest usable inside idempotency keys.
pub fn digest(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// The last error of an authorization the gateway canceled before capture.
pub const AUTHORIZATION_EXPIRED: &str = "the authorization expired (or was canceled) at the \
    gateway before it was captured; card authorizations last about 7 days. No money was taken";

/// The charge operation of a transaction: its key (the transaction's), the card and the gateway
/// customer, and the exact inputs of the call.
fn charge_operation(
    txn: &Transaction,
    card: &Card,
    customer_ref: &str,
) -> Result<NewOperation, LedgerError> {
    let params = ChargeParams {
        customer: customer_ref.to_string(),
        card: card.gateway_card_ref.clone(),
        amount: txn.amount,
        currency: txn.currency.clone(),
        description: txn.description.clone(),
        capture: txn.capture,
        metadata: vec![
            ("crm_transaction_id".into(), txn.id.to_string()),
            ("crm_customer_id".into(), txn.crm_customer_id.clone()),
        ],
    };
    Ok(NewOperation {
        kind: OpKind::Charge,
        gateway: card.gateway.clone(),
        transaction_id: Some(txn.id),
        refund_id: None,
        invoice_id: None,
        idempotency_key: txn.idempotency_key.clone(),
        params: serde_json::to_value(&params)
            .map_err(|e| LedgerError::Database(format!("charge inputs: {e}")))?,
    })
}

/// A transaction to create, as the API receives it.
#[derive(Debug, Clone)]
pub struct TxnRequest {
    /// CRM customer.
    pub customer_id: String,
    /// Amount (positive).
    pub amount: i64,
    /// Currency (upper case).
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// charge or credit.
    pub kind: TxnKind,
    /// The card (none: the default at charge time).
    pub card_id: Option<i64>,
    /// automatic or manual capture.
    pub capture: Capture,
    /// Charge now (true) or leave pending for a billing run or an invoice.
    pub charge_now: bool,
    /// A key derived from the client's `Idempotency-Key`, when it sent one.
    pub client_key: Option<String>,
}

impl Service {
    pub(super) fn slot(
        &self,
        gateway: &str,
    ) -> Result<std::sync::Arc<crate::reload::GatewaySlot>, ServiceError> {
        self.gateways.get(gateway).ok_or_else(|| {
            ServiceError::invalid(
                "gateway",
                format!("no gateway named {gateway:?} is configured"),
            )
        })
    }

    /// The gateway to use when a request names `requested` (or none).
    pub fn gateway_name(&self, requested: Option<&str>) -> Result<String, ServiceError> {
        match requested {
            Some(g) => self.slot(g).map(|s| s.name().to_string()),
            None => self
                .gateways
                .default_name()
                .map(str::to_string)
                .ok_or_else(|| {
                    ServiceError::invalid("gateway", "no default gateway is configured: name one")
                }),
        }
    }

    /// Checks a currency against ISO 4217 and the gateway's own list.
    pub fn check_currency(
        &self,
        currency: &str,
        gateway: Option<&str>,
    ) -> Result<(), ServiceError> {
        if !crate::currency::is_iso4217(currency) {
            return Err(ServiceError::invalid(
                "currency",
                format!("{currency:?} is not an ISO 4217 currency code (upper case, e.g. USD)"),
            ));
        }
        if let Some(g) = gateway {
            let accepted = self.slot(g)?.currencies();
            if !accepted.is_empty() && !accepted.iter().any(|c| c == currency) {
                return Err(ServiceError::invalid(
                    "currency",
                    format!(
                        "gateway {g} does not accept {currency} (it accepts {})",
                        accepted.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Validates and records a transaction; charges it at once when asked. Returns the
    /// transaction and, when the charge failed in a way the client must hear about as an error
    /// (invalid input, gateway unavailable), that error; a decline is a `failed` transaction.
    pub async fn create_transaction(
        &self,
        req: TxnRequest,
    ) -> Result<(Transaction, Option<ServiceError>, bool), ServiceError> {
        if req.amount <= 0 {
            return Err(ServiceError::invalid(
                "amount",
                "must be a positive integer of minor units",
            ));
        }
        let charge_now = req.charge_now && req.kind == TxnKind::Charge;
        let (links, card) = self
            .customer_and_card(&req.customer_id, req.card_id, charge_now)
            .await?;
        let gateway = card
            .as_ref()
            .map(|c| c.gateway.clone())
            .or_else(|| self.gateways.default_name().map(str::to_string));
        self.check_currency(&req.currency, gateway.as_deref())?;
        if req.kind == TxnKind::Credit && req.capture == Capture::Manual {
            return Err(ServiceError::invalid(
                "capture",
                "a credit is not charged: capture does not apply",
            ));
        }
        let key = match &req.client_key {
            Some(k) => format!("txn-{k}"),
            None => new_key("txn"),
        };
        let new = NewTransaction {
            crm_customer_id: req.customer_id.clone(),
            card_id: card.as_ref().map(|c| c.id),
            gateway: card.as_ref().map(|c| c.gateway.clone()),
            amount: req.amount,
            currency: req.currency.clone(),
            description: req.description.clone(),
            kind: req.kind,
            capture: req.capture,
            status: TxnStatus::Pending,
            idempotency_key: key,
        };
        if charge_now
            && let Some(card) = card
            && let Some(link) = links.into_iter().find(|l| l.gateway == card.gateway)
        {
            // The transaction and its charge's intent in one commit, then the call.
            let customer_ref = link.gateway_customer_ref;
            let (txn, op) = self
                .db
                .run(move |l| l.create_charge(&new, &|t| charge_operation(t, &card, &customer_ref)))
                .await?;
            let Some(op) = op else {
                // A repeat of the client's key: settle (or report) the charge made the first time.
                let (txn, err) = self
                    .charge_transaction(txn.id, RetryPolicy::INTERACTIVE)
                    .await?;
                return Ok((txn, err, false));
            };
            let exec = match self.claim(op.id) {
                // Written just now: nothing else settled it, no need to read it again.
                Some(guard) => Some(
                    self.run_claimed(op, RetryPolicy::INTERACTIVE, guard)
                        .await?,
                ),
                None => Some(Exec::in_flight()),
            };
            let (txn, err) = self.charge_answer(txn.id, exec).await?;
            return Ok((txn, err, true));
        }
        let (txn, created) = self.db.run(move |l| l.insert_transaction(&new)).await?;
        if !charge_now {
            return Ok((txn, None, created));
        }
        let (txn, err) = self
            .charge_transaction(txn.id, RetryPolicy::INTERACTIVE)
            .await?;
        Ok((txn, err, created))
    }

    /// Charges a pending transaction (or settles one whose charge is unsettled): writes the
    /// charge operation with the transaction's key, then runs it.
    pub async fn charge_transaction(
        &self,
        txn_id: i64,
        policy: RetryPolicy,
    ) -> Result<(Transaction, Option<ServiceError>), ServiceError> {
        let txn = self
            .db
            .run(move |l| l.transaction(txn_id))
            .await?
            .ok_or_else(|| {
                ServiceError::not_found("transaction_id", format!("no transaction {txn_id}"))
            })?;
        if txn.kind != TxnKind::Charge {
            return Err(ServiceError::conflict(
                "transaction_id",
                "a credit is not charged",
            ));
        }
        let existing = self
            .db
            .run(move |l| l.operations_for(Some(txn_id), None))
            .await?;
        let op = match existing.into_iter().find(|o| o.kind == OpKind::Charge) {
            Some(op) => op,
            None => {
                if txn.status != TxnStatus::Pending {
                    return Ok((txn, None));
                }
                if txn.invoice_id.is_some() {
                    return Err(ServiceError::conflict(
                        "transaction_id",
                        "the transaction is on an invoice: pay the invoice instead",
                    ));
                }
                let card = match txn.card_id {
                    Some(id) => self.customer_card(&txn.crm_customer_id, id).await?,
                    None => self.default_card(&txn.crm_customer_id).await?,
                };
                let link = self
                    .customer_link(&txn.crm_customer_id, &card.gateway)
                    .await?;
                let new = charge_operation(&txn, &card, &link.gateway_customer_ref)?;
                // The intent: the operation (with its key and inputs) and the transaction's card,
                // written together before the gateway is called, while the transaction is still
                // a pending charge that no invoice holds (an invoice and a charge never both
                // collect it).
                let card_id = card.id;
                match self.db.run(move |l| l.begin_charge(&new, card_id)).await? {
                    Some(op) => op,
                    None => return self.charge_not_started(txn_id).await,
                }
            }
        };
        let exec = if matches!(op.state, OpState::Pending | OpState::Unknown) {
            Some(self.execute(op, policy).await?)
        } else {
            None
        };
        self.charge_answer(txn_id, exec).await
    }

    /// The transaction after a charge's run, and the error the client must hear about.
    async fn charge_answer(
        &self,
        txn_id: i64,
        mut exec: Option<Exec>,
    ) -> Result<(Transaction, Option<ServiceError>), ServiceError> {
        let txn = match exec.as_mut().and_then(|e| e.txn.take()) {
            Some(t) => t,
            None => self
                .db
                .run(move |l| l.transaction(txn_id))
                .await?
                .ok_or_else(|| ServiceError::internal("transaction vanished"))?,
        };
        let err = exec.and_then(|e| {
            if e.in_flight {
                return Some(ServiceError::conflict(
                    "transaction_id",
                    "the charge is in progress; look the transaction up later",
                ));
            }
            e.error.and_then(|err| match &err {
                CallError::Gateway(GatewayError::Declined(_) | GatewayError::ActionRequired(_)) => {
                    None
                }
                _ => Some(ServiceError::from_call(&err)),
            })
        });
        Ok((txn, err))
    }

    /// The answer when a charge's intent could not be written: another task started the charge,
    /// or the transaction was voided or invoiced meanwhile.
    async fn charge_not_started(
        &self,
        txn_id: i64,
    ) -> Result<(Transaction, Option<ServiceError>), ServiceError> {
        let txn = self.txn(txn_id).await?;
        if txn.invoice_id.is_some() && txn.attempted_at.is_none() {
            return Err(ServiceError::conflict(
                "transaction_id",
                "the transaction is on an invoice: pay the invoice instead",
            ));
        }
        let err = (txn.status == TxnStatus::Pending).then(|| {
            ServiceError::conflict(
                "transaction_id",
                "the charge is in progress; look the transaction up later",
            )
        });
        Ok((txn, err))
    }

    /// Runs an operation of the intent log with its stored key and inputs, applies the outcome
    /// and settles the operation. Returns at once when the operation is running in this process.
    pub async fn execute(&self, op: Operation, policy: RetryPolicy) -> Result<Exec, ServiceError> {
        let Some(guard) = self.claim(op.id) else {
            return Ok(Exec::in_flight());
        };
        // Settled meanwhile by another task?
        let op_id = op.id;
        let op = match self.db.run(move |l| l.operation(op_id)).await? {
            Some(o) if matches!(o.state, OpState::Pending | OpState::Unknown) => o,
            Some(o) => {
                return Ok(Exec {
                    state: o.state,
                    error: None,
                    in_flight: false,
                    txn: None,
                });
            }
            None => return Err(ServiceError::internal("operation vanished")),
        };
        self.run_claimed(op, policy, guard).await
    }

    /// Runs an unsettled operation this task has claimed (see [`Service::execute`]).
    async fn run_claimed(
        &self,
        op: Operation,
        policy: RetryPolicy,
        _guard: crate::Claim<'_>,
    ) -> Result<Exec, ServiceError> {
        let op_id = op.id;
        let slot = self.slot(&op.gateway)?;
        let bad_params =
            |e: serde_json::Error| ServiceError::internal(format!("operation {}: {e}", op.id));
        let key = op.idempotency_key.clone();
        tracing::debug!(op = op.id, kind = %op.kind, gateway = %op.gateway, attempt = op.attempts + 1, "calling the gateway");
        let (state, error) = match op.kind {
            OpKind::Charge => {
                let p: ChargeParams =
                    serde_json::from_value(op.params.clone()).map_err(bad_params)?;
                let request = ChargeRequest {
                    customer: p.customer.clone(),
                    card: p.card.clone(),
                    amount: Money {
                        amount: p.amount,
                        currency: p.currency.clone(),
                    },
                    description: p.description.clone(),
                    metadata: p.metadata.clone(),
                    capture: match p.capture {
                        Capture::Automatic => CaptureMode::Automatic,
                        Capture::Manual => CaptureMode::Manual,
                    },
                    idempotency_key: key.clone(),
                };
                let result = slot
                    .call("charge", policy, |g| {
                        let r = request.clone();
                        async move { g.charge(r).await }
                    })
                    .await;
                // The outcome and the operation's settlement in one commit.
                let txn_id = op.transaction_id.unwrap_or_default();
                let (patch, state, error) = Self::charge_outcome(result);
                if let Some(e) = &error {
                    tracing::info!(op = op.id, kind = %op.kind, state = %state, error = %e, "gateway call failed");
                }
                let message = error.as_ref().map(|e| e.to_string());
                let from = match patch.as_ref().and_then(|p| p.status) {
                    Some(s) => txn_from(s),
                    None => vec![TxnStatus::Pending, TxnStatus::Unknown],
                };
                let (state, txn) = self
                    .db
                    .run(move |l| {
                        l.settle_charge(
                            op_id,
                            txn_id,
                            &from,
                            patch.as_ref(),
                            state,
                            message.as_deref(),
                        )
                    })
                    .await?;
                return Ok(Exec {
                    state,
                    error,
                    in_flight: false,
                    txn,
                });
            }
            OpKind::Capture | OpKind::Cancel => {
                let p: PaymentParams =
                    serde_json::from_value(op.params.clone()).map_err(bad_params)?;
                let capture = op.kind == OpKind::Capture;
                let result = slot
                    .call(op.kind.as_str(), policy, |g| {
                        let (pay, k) = (p.payment.clone(), key.clone());
                        async move {
                            if capture {
                                g.capture(&pay, p.amount, &k).await
                            } else {
                                g.cancel(&pay, &k).await
                            }
                        }
                    })
                    .await;
                self.apply_payment_change(op.transaction_id.unwrap_or_default(), result, p.reason)
                    .await?
            }
            OpKind::Refund => {
                let p: RefundParams =
                    serde_json::from_value(op.params.clone()).map_err(bad_params)?;
                let request = RefundRequest {
                    payment: p.payment.clone(),
                    amount: Some(p.amount),
                    reason: p.reason.as_deref().and_then(reason_of),
                    metadata: vec![("crm_transaction_id".into(), p.transaction_id.to_string())],
                    idempotency_key: key.clone(),
                };
                let result = slot
                    .call("refund", policy, |g| {
                        let r = request.clone();
                        async move { g.refund_payment(r).await }
                    })
                    .await;
                self.apply_refund(op.refund_id.unwrap_or_default(), result)
                    .await?
            }
            OpKind::InvoiceCreate => {
                let p: InvoiceCreateParams =
                    serde_json::from_value(op.params.clone()).map_err(bad_params)?;
                let request = InvoiceRequest {
                    customer: p.customer.clone(),
                    currency: p.currency.clone(),
                    items: p
                        .items
                        .iter()
                        .map(|i| LineItem {
                            description: i.description.clone(),
                            unit_amount: i.unit_amount,
                            quantity: 1,
                            metadata: vec![(
                                "crm_transaction_id".into(),
                                i.transaction_id.to_string(),
                            )],
                        })
                        .collect(),
                    description: p.description.clone(),
                    collection: CollectionMethod::SendInvoice,
                    days_until_due: Some(p.days_until_due),
                    metadata: vec![
                        (
                            "crm_invoice_id".into(),
                            op.invoice_id.unwrap_or_default().to_string(),
                        ),
                        ("crm_invoice_number".into(), p.number.clone()),
                    ],
                    idempotency_key: key.clone(),
                };
                let result = slot
                    .call("create-invoice", policy, |g| {
                        let r = request.clone();
                        async move { g.create_invoice(r).await }
                    })
                    .await;
                self.apply_invoice(op.invoice_id.unwrap_or_default(), result)
                    .await?
            }
            OpKind::InvoiceFinalize | OpKind::InvoicePay | OpKind::InvoiceVoid => {
                let p: InvoiceParams =
                    serde_json::from_value(op.params.clone()).map_err(bad_params)?;
                let kind = op.kind;
                let result = slot
                    .call(kind.as_str(), policy, |g| {
                        let (inv, card, k) = (p.invoice.clone(), p.card.clone(), key.clone());
                        async move {
                            match kind {
                                OpKind::InvoiceFinalize => g.finalize_invoice(&inv, &k).await,
                                OpKind::InvoicePay => {
                                    g.pay_invoice(&inv, card.as_deref(), &k).await
                                }
                                _ => g.void_invoice(&inv, &k).await,
                            }
                        }
                    })
                    .await;
                self.apply_invoice(op.invoice_id.unwrap_or_default(), result)
                    .await?
            }
        };
        let message = error.as_ref().map(|e| e.to_string());
        if let Some(e) = &error {
            tracing::info!(op = op.id, kind = %op.kind, state = %state, error = %e, "gateway call failed");
        }
        self.db
            .run(move |l| l.set_operation_state(op_id, state, message.as_deref(), true))
            .await?;
        Ok(Exec {
            state,
            error,
            in_flight: false,
            txn: None,
        })
    }

    /// The next state of an operation whose call failed, and the transaction error to record.
    fn failed_state(prev: OpState, e: &CallError) -> OpState {
        match classify(e) {
            ErrorClass::Final => OpState::Failed,
            ErrorClass::Retry => prev,
            ErrorClass::Unknown => OpState::Unknown,
        }
    }

    /// What a charge's result means: the transaction's patch, the operation's next state (before
    /// [`settled_state`]) and the error.
    fn charge_outcome(
        result: Result<contract::Payment, CallError>,
    ) -> (Option<TxnPatch>, OpState, Option<CallError>) {
        match result {
            Ok(p) => {
                let status = txn_status_of(p.status);
                let decline = p.last_decline.clone();
                let patch = TxnPatch {
                    status: Some(status),
                    gateway_payment_ref: Some(p.id.clone()),
                    amount_captured: Some(p.amount_captured),
                    decline_code: Some(decline.as_ref().map(|d| d.code.clone())),
                    decline_reason: Some(decline.as_ref().and_then(|d| d.decline_reason.clone())),
                    last_error: Some(None),
                    ..Default::default()
                };
                let state = if status == TxnStatus::Failed {
                    OpState::Failed
                } else {
                    OpState::Done
                };
                (Some(patch), state, None)
            }
            Err(e) => {
                let patch = match &e {
                    CallError::Gateway(GatewayError::Declined(d)) => Some(TxnPatch {
                        status: Some(TxnStatus::Failed),
                        gateway_payment_ref: d.payment.clone(),
                        decline_code: Some(Some(d.code.clone())),
                        decline_reason: Some(d.decline_reason.clone()),
                        last_error: Some(Some(d.customer_message.clone())),
                        ..Default::default()
                    }),
                    CallError::Gateway(GatewayError::ActionRequired(a)) => Some(TxnPatch {
                        status: Some(TxnStatus::RequiresAction),
                        gateway_payment_ref: Some(a.payment.clone()),
                        last_error: Some(Some(a.customer_message.clone())),
                        ..Default::default()
                    }),
                    _ => match classify(&e) {
                        ErrorClass::Final => Some(TxnPatch {
                            status: Some(TxnStatus::Failed),
                            last_error: Some(Some(e.to_string())),
                            ..Default::default()
                        }),
                        ErrorClass::Unknown => Some(TxnPatch {
                            status: Some(TxnStatus::Unknown),
                            last_error: Some(Some(e.to_string())),
                            ..Default::default()
                        }),
                        ErrorClass::Retry => Some(TxnPatch {
                            last_error: Some(Some(e.to_string())),
                            ..Default::default()
                        }),
                    },
                };
                let state = match &e {
                    CallError::Gateway(GatewayError::ActionRequired(_)) => OpState::Done,
                    _ => Self::failed_state(OpState::Pending, &e),
                };
                (patch, state, Some(e))
            }
        }
    }

    /// Applies a capture's or cancel's outcome; `reason` (of a cancel the service made on its
    /// own) becomes the last error of a canceled transaction.
    async fn apply_payment_change(
        &self,
        txn_id: i64,
        result: Result<contract::Payment, CallError>,
        reason: Option<String>,
    ) -> Result<(OpState, Option<CallError>), ServiceError> {
        match result {
            Ok(p) => {
                let status = txn_status_of(p.status);
                // Stateless gateways (offline) answer with a new reference for the new state.
                let patch = TxnPatch {
                    status: Some(status),
                    gateway_payment_ref: Some(p.id.clone()),
                    amount_captured: Some(p.amount_captured),
                    last_error: Some(reason.filter(|_| status == TxnStatus::Canceled)),
                    ..Default::default()
                };
                // The gateway's answer to our own call is authoritative: it may also refresh a
                // status a webhook set first (with the captured amount).
                let mut from = txn_from(status);
                from.push(status);
                self.db
                    .run(move |l| l.update_transaction(txn_id, &from, &patch))
                    .await?;
                Ok((OpState::Done, None))
            }
            Err(e) => {
                let patch = TxnPatch {
                    last_error: Some(Some(e.to_string())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(txn_id, &[], &patch))
                    .await?;
                Ok((Self::failed_state(OpState::Pending, &e), Some(e)))
            }
        }
    }

    async fn apply_refund(
        &self,
        refund_id: i64,
        result: Result<contract::Refund, CallError>,
    ) -> Result<(OpState, Option<CallError>), ServiceError> {
        let open = [
            RefundStatus::Pending,
            RefundStatus::Unknown,
            RefundStatus::RequiresAction,
        ];
        match result {
            Ok(r) => {
                let status = refund_status_of(r.status);
                let state = if matches!(status, RefundStatus::Failed | RefundStatus::Canceled) {
                    OpState::Failed
                } else {
                    OpState::Done
                };
                self.db
                    .run(move |l| l.settle_refund(refund_id, &open, status, Some(&r.id), None))
                    .await?;
                Ok((state, None))
            }
            Err(e) => {
                let msg = e.to_string();
                let state = Self::failed_state(OpState::Pending, &e);
                let status = match state {
                    OpState::Failed => Some(RefundStatus::Failed),
                    OpState::Unknown => Some(RefundStatus::Unknown),
                    _ => None,
                };
                if let Some(status) = status {
                    self.db
                        .run(move |l| {
                            l.settle_refund(
                                refund_id,
                                &[RefundStatus::Pending, RefundStatus::Unknown],
                                status,
                                None,
                                Some(&msg),
                            )
                        })
                        .await?;
                }
                let prev = self.db.run(move |l| l.refund(refund_id)).await?;
                let state = match (state, prev.map(|r| r.status)) {
                    (OpState::Pending, Some(RefundStatus::Unknown)) => OpState::Unknown,
                    (s, _) => s,
                };
                Ok((state, Some(e)))
            }
        }
    }

    async fn apply_invoice(
        &self,
        invoice_id: i64,
        result: Result<contract::Invoice, CallError>,
    ) -> Result<(OpState, Option<CallError>), ServiceError> {
        match result {
            Ok(inv) => {
                let status = invoice_status_of(inv.status);
                let patch = InvoicePatch {
                    status: Some(status),
                    gateway_invoice_ref: Some(inv.id.clone()),
                    gateway_number: inv.number.clone(),
                    hosted_url: inv.hosted_url.clone(),
                    pdf_url: inv.pdf_url.clone(),
                    amount_paid: Some(inv.amount_paid),
                    tax: Some(inv.tax),
                    total: Some(inv.total),
                    due_date: inv.due_date,
                    last_error: Some(None),
                    bump_pay_attempts: false,
                };
                let from = invoice_from(status);
                self.db
                    .run(move |l| l.update_invoice(invoice_id, &from, &patch))
                    .await?;
                Ok((OpState::Done, None))
            }
            Err(e) => {
                let patch = InvoicePatch {
                    last_error: Some(Some(e.to_string())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_invoice(invoice_id, &[], &patch))
                    .await?;
                Ok((Self::failed_state(OpState::Pending, &e), Some(e)))
            }
        }
    }

    pub(super) async fn unsettled_op(
        &self,
        txn: Option<i64>,
        invoice: Option<i64>,
        kinds: &[OpKind],
    ) -> Result<Option<Operation>, ServiceError> {
        let ops = self.db.run(move |l| l.operations_for(txn, invoice)).await?;
        Ok(ops.into_iter().find(|o| {
            kinds.contains(&o.kind) && matches!(o.state, OpState::Pending | OpState::Unknown)
        }))
    }

    pub(super) async fn run_new_op(
        &self,
        new: NewOperation,
        policy: RetryPolicy,
    ) -> Result<Exec, ServiceError> {
        let (op, _) = self.db.run(move |l| l.insert_operation(&new)).await?;
        self.execute(op, policy).await
    }

    pub(super) fn exec_result(exec: Exec) -> Result<(), ServiceError> {
        if exec.in_flight {
            return Err(ServiceError::conflict(
                "status",
                "another request is changing this object now",
            ));
        }
        match exec.error {
            Some(e) => Err(ServiceError::from_call(&e)),
            None => Ok(()),
        }
    }

    /// Looks a transaction's payment up at the gateway; none when it has no payment.
    pub(super) async fn look_up_payment(
        &self,
        txn: &Transaction,
    ) -> Result<Option<contract::Payment>, ServiceError> {
        let (Some(gateway), Some(payment)) = (&txn.gateway, &txn.gateway_payment_ref) else {
            return Ok(None);
        };
        let slot = self.slot(gateway)?;
        slot.call("get-payment", RetryPolicy::BATCH, |g| {
            let payment = payment.clone();
            async move { g.get_payment(&payment).await }
        })
        .await
        .map(Some)
        .map_err(|e| ServiceError::from_call(&e))
    }

    /// Moves a transaction forward to what a lookup of its payment says (compare-and-set),
    /// recording `note` as its last error when given. Returns the row when it moved.
    pub(super) async fn apply_lookup(
        &self,
        txn_id: i64,
        p: &contract::Payment,
        note: Option<String>,
    ) -> Result<Option<Transaction>, ServiceError> {
        let status = txn_status_of(p.status);
        let patch = TxnPatch {
            status: Some(status),
            amount_captured: Some(p.amount_captured),
            decline_code: p.last_decline.as_ref().map(|d| Some(d.code.clone())),
            decline_reason: p.last_decline.as_ref().map(|d| d.decline_reason.clone()),
            last_error: note.map(Some),
            ..Default::default()
        };
        let from = txn_from(status);
        Ok(self
            .db
            .run(move |l| l.update_transaction(txn_id, &from, &patch))
            .await?)
    }

    /// Looks a transaction's payment up at the gateway and moves its status forward to what the
    /// gateway says (for payments left `processing`). Returns whether it moved.
    pub async fn refresh_payment(&self, txn: &Transaction) -> Result<bool, ServiceError> {
        match self.look_up_payment(txn).await? {
            Some(p) => Ok(self.apply_lookup(txn.id, &p, None).await?.is_some()),
            None => Ok(false),
        }
    }

    /// Settles an authorization from a lookup of its payment: one the gateway canceled (card
    /// authorizations expire after about 7 days) becomes `canceled` with
    /// [`AUTHORIZATION_EXPIRED`] as its last error; one captured elsewhere `succeeded`. Returns
    /// the transaction when it moved.
    pub async fn settle_authorization(
        &self,
        txn: &Transaction,
    ) -> Result<Option<Transaction>, ServiceError> {
        let Some(p) = self.look_up_payment(txn).await? else {
            return Ok(None);
        };
        let note = (p.status == PaymentStatus::Canceled).then(|| AUTHORIZATION_EXPIRED.into());
        self.apply_lookup(txn.id, &p, note).await
    }

    /// Captures an authorized transaction (all of it, or `amount`).
    pub async fn capture(
        &self,
        txn_id: i64,
        amount: Option<i64>,
    ) -> Result<Transaction, ServiceError> {
        self.payment_change(txn_id, OpKind::Capture, amount).await
    }

    /// Voids a transaction: cancels an authorization at the gateway, or cancels a pending
    /// transaction that was never charged.
    pub async fn void(&self, txn_id: i64) -> Result<Transaction, ServiceError> {
        let txn = self.txn(txn_id).await?;
        if txn.status == TxnStatus::Pending && txn.attempted_at.is_none() {
            if txn.invoice_id.is_some() {
                return Err(ServiceError::conflict(
                    "transaction_id",
                    "the transaction is on an invoice: void the invoice first",
                ));
            }
            // Compare-and-set: only while nobody started charging or invoicing it.
            if let Some(t) = self.db.run(move |l| l.cancel_unattempted(txn_id)).await? {
                return Ok(t);
            }
            return Err(ServiceError::conflict(
                "transaction_id",
                "the transaction is being charged or invoiced",
            ));
        }
        self.payment_change(txn_id, OpKind::Cancel, None).await
    }

    pub(super) async fn txn(&self, txn_id: i64) -> Result<Transaction, ServiceError> {
        self.db
            .run(move |l| l.transaction(txn_id))
            .await?
            .ok_or_else(|| {
                ServiceError::not_found("transaction_id", format!("no transaction {txn_id}"))
            })
    }

    async fn payment_change(
        &self,
        txn_id: i64,
        kind: OpKind,
        amount: Option<i64>,
    ) -> Result<Transaction, ServiceError> {
        let txn = self.txn(txn_id).await?;
        let op = match self
            .unsettled_op(Some(txn_id), None, &[OpKind::Capture, OpKind::Cancel])
            .await?
        {
            Some(op) => op,
            None => {
                if txn.status != TxnStatus::Authorized {
                    let what = if kind == OpKind::Capture {
                        "captured"
                    } else {
                        "voided"
                    };
                    let why = match &txn.last_error {
                        Some(e) if txn.status == TxnStatus::Canceled => format!(" ({e})"),
                        _ => String::new(),
                    };
                    return Err(ServiceError::conflict(
                        "transaction_id",
                        format!(
                            "a {} transaction cannot be {what}; only authorized ones{why}",
                            txn.status
                        ),
                    ));
                }
                if let Some(a) = amount
                    && (a <= 0 || a > txn.amount)
                {
                    return Err(ServiceError::invalid(
                        "amount",
                        format!("must be between 1 and the authorized {}", txn.amount),
                    ));
                }
                let payment = txn.gateway_payment_ref.clone().ok_or_else(|| {
                    ServiceError::conflict("transaction_id", "no payment at the gateway")
                })?;
                let new = NewOperation {
                    kind,
                    gateway: txn.gateway.clone().unwrap_or_default(),
                    transaction_id: Some(txn_id),
                    refund_id: None,
                    invoice_id: None,
                    idempotency_key: format!(
                        "{}:{}:{}",
                        txn.idempotency_key,
                        kind.as_str(),
                        digest(&[&new_key("x")])
                    ),
                    params: to_params(&PaymentParams {
                        payment,
                        amount,
                        reason: None,
                    })?,
                };
                let (op, _) = self.db.run(move |l| l.insert_operation(&new)).await?;
                op
            }
        };
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        if !exec.in_flight
            && let Some(e) = &exec.error
            && classify(e) == ErrorClass::Final
        {
            // Refused: the authorization may be gone at the gateway (expired, or settled
            // elsewhere). Look it up and move the transaction to what the gateway says (a
            // webhook may have told first).
            if let Err(e) = self.settle_authorization(&self.txn(txn_id).await?).await {
                tracing::warn!(transaction = txn_id, error = %e, "looking a payment up failed");
            }
            let status = self.txn(txn_id).await?.status;
            if status == TxnStatus::Canceled {
                // Canceled at the gateway before our call: say why on the row (rather than
                // the refusal's message).
                let patch = TxnPatch {
                    last_error: Some(Some(AUTHORIZATION_EXPIRED.into())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(txn_id, &[TxnStatus::Canceled], &patch))
                    .await?;
            }
            match (kind, status) {
                (OpKind::Capture, TxnStatus::Canceled) => {
                    return Err(ServiceError::conflict(
                        "transaction_id",
                        format!("the transaction cannot be captured: {AUTHORIZATION_EXPIRED}"),
                    ));
                }
                (OpKind::Capture, TxnStatus::Succeeded) | (OpKind::Cancel, TxnStatus::Canceled) => {
                    return self.txn(txn_id).await;
                }
                _ => {}
            }
        }
        Self::exec_result(exec)?;
        self.txn(txn_id).await
    }

    /// Refunds a transaction, in full (amount none) or in part.
    pub async fn refund(
        &self,
        txn_id: i64,
        amount: Option<i64>,
        reason: Option<String>,
        client_key: Option<String>,
    ) -> Result<Refund, ServiceError> {
        if let Some(a) = amount
            && a <= 0
        {
            return Err(ServiceError::invalid(
                "amount",
                "must be a positive integer of minor units",
            ));
        }
        if let Some(r) = &reason
            && reason_of(r).is_none()
        {
            return Err(ServiceError::invalid(
                "reason",
                "must be duplicate, fraudulent or requested_by_customer",
            ));
        }
        let key = match client_key {
            Some(k) => format!("refund-{k}"),
            None => new_key("refund"),
        };
        let operation = move |r: &Refund, t: &Transaction| -> Result<NewOperation, LedgerError> {
            let params = RefundParams {
                payment: t.gateway_payment_ref.clone().unwrap_or_default(),
                amount: r.amount,
                reason: r.reason.clone(),
                transaction_id: t.id,
            };
            Ok(NewOperation {
                kind: OpKind::Refund,
                gateway: t.gateway.clone().unwrap_or_default(),
                transaction_id: Some(t.id),
                refund_id: Some(r.id),
                invoice_id: None,
                idempotency_key: r.idempotency_key.clone().unwrap_or_default(),
                params: serde_json::to_value(params)
                    .map_err(|e| LedgerError::Database(e.to_string()))?,
            })
        };
        let (refund, op) = self
            .db
            .run(move |l| l.create_refund(txn_id, amount, reason.as_deref(), &key, &operation))
            .await?;
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        let refund_id = refund.id;
        let refund = self
            .db
            .run(move |l| l.refund(refund_id))
            .await?
            .ok_or_else(|| ServiceError::internal("refund vanished"))?;
        match exec.error {
            Some(e) if classify(&e) == ErrorClass::Final => Err(ServiceError::from_call(&e)),
            _ => Ok(refund),
        }
    }

    /// The gateway's financial summary for `[from, to)` in `currency`.
    pub async fn summary(
        &self,
        gateway: Option<&str>,
        from: Ts,
        to: Ts,
        currency: &str,
    ) -> Result<contract::FinancialSummary, ServiceError> {
        let gateway = self.gateway_name(gateway)?;
        self.check_currency(currency, Some(&gateway))?;
        if from >= to {
            return Err(ServiceError::invalid("to", "must be after `from`"));
        }
        let slot = self.slot(&gateway)?;
        slot.call("summarize", RetryPolicy::INTERACTIVE, |g| {
            let c = currency.to_string();
            async move {
                g.summarize(
                    contract::TimeRange {
                        start: from,
                        end: to,
                    },
                    &c,
                )
                .await
            }
        })
        .await
        .map_err(|e| ServiceError::from_call(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert_eq!(
            txn_from(TxnStatus::Unknown),
            vec![TxnStatus::Pending, TxnStatus::Unknown]
        );
        let to_succeeded = txn_from(TxnStatus::Succeeded);
        for s in [
            TxnStatus::Pending,
            TxnStatus::Unknown,
            TxnStatus::Processing,
            TxnStatus::RequiresAction,
            TxnStatus::Authorized,
        ] {
            assert!(to_succeeded.contains(&s), "{s}");
        }
        for s in [
            TxnStatus::Succeeded,
            TxnStatus::Failed,
            TxnStatus::Canceled,
            TxnStatus::Refunded,
        ] {
            assert!(!to_succeeded.contains(&s), "{s}");
        }
        // A late `processing` never overwrites a settled payment.
        assert!(!txn_from(TxnStatus::Processing).contains(&TxnStatus::Succeeded));
        assert!(invoice_from(InvoiceStatus::Paid).contains(&InvoiceStatus::Open));
        assert!(!invoice_from(InvoiceStatus::Paid).contains(&InvoiceStatus::Void));
        assert!(!invoice_from(InvoiceStatus::Open).contains(&InvoiceStatus::Paid));
        assert!(invoice_from(InvoiceStatus::Open).contains(&InvoiceStatus::Open));
    }

    #[test]
    fn errors_are_classified() {
        use omnicrm_host::contract::{Decline, Failure, RateLimited};
        let f = || Failure {
            message: "x".into(),
            request_id: None,
        };
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::OutcomeUnknown(f()))),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Timeout {
                after: std::time::Duration::from_secs(1)
            }),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Trap("boom".into())),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::NotAttempted(f()))),
            ErrorClass::Retry
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::RateLimited(
                RateLimited {
                    retry_after_ms: None,
                    message: "slow down".into(),
                    request_id: None
                }
            ))),
            ErrorClass::Retry
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::Declined(Decline {
                code: "card_declined".into(),
                decline_reason: None,
                customer_message: "no".into(),
                payment: None,
                request_id: None
            }))),
            ErrorClass::Final
        );
    }
}
