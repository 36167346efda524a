//! The rows of the ledger, what is written to create them, the filters of its listings and the
//! patches of its compare-and-set updates; plus time stamps and idempotency keys.

use serde::{Deserialize, Serialize};

use super::status::{
    Capture, CaptureStatus, DisputeStatus, Initiator, InvoiceKeeper, InvoiceStatus, OpKind,
    OpState, RefundStatus, TxnKind, TxnStatus,
};

/// Seconds since the Unix epoch, UTC.
pub type Ts = i64;

/// The current time as [`Ts`].
pub fn now() -> Ts {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh random idempotency key: `prefix` then 32 hex digits (128 random bits).
pub fn new_key(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("{prefix}-{}", hex::encode(bytes))
}

/// A CRM customer linked to a gateway customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLink {
    /// The CRM's customer id.
    pub crm_customer_id: String,
    /// The gateway's configured name.
    pub gateway: String,
    /// The gateway's customer reference.
    pub gateway_customer_ref: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// When linked.
    pub created_at: Ts,
}

/// A stored card (a reference to the gateway's token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The ledger's card id.
    pub id: i64,
    /// The CRM customer.
    pub crm_customer_id: String,
    /// The gateway that keeps the card.
    pub gateway: String,
    /// The gateway's card reference.
    pub gateway_card_ref: String,
    /// Brand, lower case.
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// credit, debit, prepaid or unknown.
    pub funding: String,
    /// The gateway's fingerprint of the number.
    pub fingerprint: Option<String>,
    /// A name given by the customer ("Work Visa").
    pub nickname: Option<String>,
    /// Charged when no card is named.
    pub is_default: bool,
    /// The card network's id of the payment that stored the card (or of its first payment),
    /// quoted by later merchant-initiated charges.
    pub network_transaction_id: Option<String>,
    /// When stored.
    pub created_at: Ts,
}

/// A card to store.
#[derive(Debug, Clone)]
pub struct NewCard {
    /// The CRM customer.
    pub crm_customer_id: String,
    /// The gateway.
    pub gateway: String,
    /// The gateway's card reference.
    pub gateway_card_ref: String,
    /// Brand.
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// Funding.
    pub funding: String,
    /// Fingerprint.
    pub fingerprint: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Make it the customer's default (the first card always becomes the default).
    pub make_default: bool,
    /// The card network's id of the payment that stored the card, when the gateway gives it.
    pub network_transaction_id: Option<String>,
}

/// A stored card's details as the gateway reports them later (card updater, card stored).
#[derive(Debug, Clone, Default)]
pub struct CardDetails {
    /// Brand, when reported.
    pub brand: Option<String>,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// Funding, when reported.
    pub funding: Option<String>,
    /// Fingerprint, when reported.
    pub fingerprint: Option<String>,
    /// Network transaction id, when reported (kept when none).
    pub network_transaction_id: Option<String>,
}

/// What a customer must do before a payment can go on (3-D Secure, a bank's page), as the
/// ledger stores it (JSON with a `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomerAction {
    /// Send the customer's browser to `url` (`GET`, or `POST` of an HTML form with `fields`).
    Redirect {
        /// Where to.
        url: String,
        /// `GET` or `POST`.
        method: String,
        /// The form fields of a `POST`.
        fields: Vec<(String, String)>,
    },
    /// Let the gateway's client-side SDK run this action.
    ClientSdk {
        /// Which SDK (`stripe-js`, `adyen-web`, ...).
        sdk: String,
        /// What the SDK needs: the gateway's JSON, safe for the customer's browser.
        payload: String,
    },
    /// The customer must come back on-session and pay again.
    BringCustomerOnSession,
}

/// A transaction: a charge or a credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The ledger's id.
    pub id: i64,
    /// The CRM customer.
    pub crm_customer_id: String,
    /// The card charged (fixed once the charge is attempted).
    pub card_id: Option<i64>,
    /// The gateway used (fixed once the charge is attempted).
    pub gateway: Option<String>,
    /// Positive amount in minor units.
    pub amount: i64,
    /// ISO 4217 currency, upper case.
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// charge or credit.
    pub kind: TxnKind,
    /// automatic or manual capture.
    pub capture: Capture,
    /// Where it stands.
    pub status: TxnStatus,
    /// How much was captured.
    pub amount_captured: i64,
    /// How much was refunded.
    pub amount_refunded: i64,
    /// The invoice it is on.
    pub invoice_id: Option<i64>,
    /// The gateway's payment reference.
    pub gateway_payment_ref: Option<String>,
    /// The idempotency key of the charge.
    pub idempotency_key: String,
    /// When the charge was first attempted (the intent was written).
    pub attempted_at: Option<Ts>,
    /// The decline code, for a declined charge.
    pub decline_code: Option<String>,
    /// The issuer's reason, for a declined charge.
    pub decline_reason: Option<String>,
    /// The normalized category of a decline (`insufficient_funds`, `expired_card`, ...).
    pub decline_category: Option<String>,
    /// The last error, for operators.
    pub last_error: Option<String>,
    /// The gateway's fee for the payment, in minor units of `currency`, once reported.
    pub fee: Option<i64>,
    /// Who starts the charge.
    pub initiator: Initiator,
    /// Where the customer comes back after an action (customer-initiated charges).
    pub return_url: Option<String>,
    /// What the customer must do, while the payment waits for them.
    pub next_action: Option<CustomerAction>,
    /// Why an operator must settle it by hand: the reconciler gave up on one of its operations
    /// (none otherwise, and once settled).
    pub attention: Option<String>,
    /// The operator who settled it by hand.
    pub settled_by: Option<String>,
    /// Why the operator settled it so (what they found at the gateway).
    pub settled_note: Option<String>,
    /// Created.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// A transaction to record.
#[derive(Debug, Clone)]
pub struct NewTransaction {
    /// The CRM customer.
    pub crm_customer_id: String,
    /// A chosen card.
    pub card_id: Option<i64>,
    /// The gateway of the chosen card.
    pub gateway: Option<String>,
    /// Positive amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// Kind.
    pub kind: TxnKind,
    /// Capture mode.
    pub capture: Capture,
    /// Initial status (pending for charges, pending for credits until invoiced).
    pub status: TxnStatus,
    /// The idempotency key of its charge. A repeat with the same key returns the first row.
    pub idempotency_key: String,
    /// Who starts the charge.
    pub initiator: Initiator,
    /// Where the customer comes back after an action.
    pub return_url: Option<String>,
}

/// Filters of a transaction listing.
#[derive(Debug, Clone, Default)]
pub struct TxnFilter {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only those made through this gateway.
    pub gateway: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<TxnStatus>,
    /// Only invoiced (true) or uninvoiced (false).
    pub invoiced: Option<bool>,
    /// Only those flagged for an operator (true: they carry `attention`) or not (false).
    pub attention: Option<bool>,
    /// Only charges or credits.
    pub kind: Option<TxnKind>,
    /// Created at or after.
    pub from: Option<Ts>,
    /// Created before.
    pub to: Option<Ts>,
    /// Only ids below this (pagination, newest first).
    pub before_id: Option<i64>,
    /// At most this many (0 = no limit).
    pub limit: u32,
}

/// Changes to a transaction. `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TxnPatch {
    /// New status.
    pub status: Option<TxnStatus>,
    /// Card (set when the charge is attempted).
    pub card_id: Option<i64>,
    /// Gateway (set when the charge is attempted).
    pub gateway: Option<String>,
    /// Payment reference.
    pub gateway_payment_ref: Option<String>,
    /// Captured amount.
    pub amount_captured: Option<i64>,
    /// When attempted.
    pub attempted_at: Option<Ts>,
    /// Decline code (Some(None) clears).
    pub decline_code: Option<Option<String>>,
    /// Decline reason (Some(None) clears).
    pub decline_reason: Option<Option<String>>,
    /// Last error (Some(None) clears).
    pub last_error: Option<Option<String>>,
    /// Invoice (Some(None) releases it from its invoice).
    pub invoice_id: Option<Option<i64>>,
    /// Decline category (Some(None) clears).
    pub decline_category: Option<Option<String>>,
    /// The gateway's fee.
    pub fee: Option<i64>,
    /// What the customer must do (Some(None) clears).
    pub next_action: Option<Option<CustomerAction>>,
    /// Why an operator must settle it (Some(None) clears).
    pub attention: Option<Option<String>>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The ledger's id.
    pub id: i64,
    /// The refunded transaction.
    pub transaction_id: i64,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Reason (duplicate, fraudulent, requested_by_customer).
    pub reason: Option<String>,
    /// Where it stands.
    pub status: RefundStatus,
    /// The gateway's reference.
    pub gateway_refund_ref: Option<String>,
    /// Its idempotency key (none for refunds made outside the service).
    pub idempotency_key: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// The ledger's id.
    pub id: i64,
    /// INV-YYYY-NNNNNN.
    pub number: String,
    /// The CRM customer.
    pub crm_customer_id: String,
    /// The gateway that keeps it.
    pub gateway: String,
    /// Currency.
    pub currency: String,
    /// Note printed on it.
    pub description: Option<String>,
    /// Billing period start.
    pub period_start: Ts,
    /// Billing period end.
    pub period_end: Ts,
    /// Due date.
    pub due_date: Option<Ts>,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Sum of lines.
    pub subtotal: i64,
    /// Tax.
    pub tax: i64,
    /// Total.
    pub total: i64,
    /// Paid so far.
    pub amount_paid: i64,
    /// The gateway's invoice reference, once created there.
    pub gateway_invoice_ref: Option<String>,
    /// The gateway's own number, once finalized.
    pub gateway_number: Option<String>,
    /// Hosted page.
    pub hosted_url: Option<String>,
    /// PDF.
    pub pdf_url: Option<String>,
    /// Base idempotency key of its gateway operations.
    pub idempotency_key: String,
    /// Payment attempts so far.
    pub pay_attempts: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Kept at the gateway or in the ledger.
    pub kept_by: InvoiceKeeper,
    /// When it was paid.
    pub paid_at: Option<Ts>,
    /// The payment that paid a ledger invoice.
    pub gateway_payment_ref: Option<String>,
    /// The gateway's fee for that payment, once reported.
    pub fee: Option<i64>,
    /// Created.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// An invoice to create from a customer's uninvoiced, unpaid transactions.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    /// The CRM customer.
    pub crm_customer_id: String,
    /// The gateway.
    pub gateway: String,
    /// Currency (only transactions in it are included).
    pub currency: String,
    /// Note.
    pub description: Option<String>,
    /// Only transactions created at or after.
    pub period_start: Option<Ts>,
    /// Only transactions created before.
    pub period_end: Option<Ts>,
    /// Due date.
    pub due_date: Option<Ts>,
    /// Base idempotency key.
    pub idempotency_key: String,
    /// Creation time (sets the number's year).
    pub now: Ts,
    /// Kept at the gateway or in the ledger.
    pub kept_by: InvoiceKeeper,
}

/// Changes to an invoice.
#[derive(Debug, Clone, Default)]
pub struct InvoicePatch {
    /// New status.
    pub status: Option<InvoiceStatus>,
    /// Gateway reference.
    pub gateway_invoice_ref: Option<String>,
    /// Gateway number.
    pub gateway_number: Option<String>,
    /// Hosted page.
    pub hosted_url: Option<String>,
    /// PDF.
    pub pdf_url: Option<String>,
    /// Paid so far.
    pub amount_paid: Option<i64>,
    /// Tax.
    pub tax: Option<i64>,
    /// Total.
    pub total: Option<i64>,
    /// Due date.
    pub due_date: Option<Ts>,
    /// Increment the payment attempts.
    pub bump_pay_attempts: bool,
    /// Last error (Some(None) clears).
    pub last_error: Option<Option<String>>,
    /// The payment that pays a ledger invoice.
    pub gateway_payment_ref: Option<String>,
    /// The gateway's fee for that payment.
    pub fee: Option<i64>,
}

/// A dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    /// The ledger's id.
    pub id: i64,
    /// The gateway.
    pub gateway: String,
    /// The gateway's dispute reference.
    pub gateway_dispute_ref: String,
    /// The disputed transaction, when known.
    pub transaction_id: Option<i64>,
    /// The disputed payment.
    pub gateway_payment_ref: Option<String>,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Cardholder's reason.
    pub reason: String,
    /// Where it stands.
    pub status: DisputeStatus,
    /// When evidence is due, for open disputes, when the gateway says.
    pub evidence_due_by: Option<Ts>,
    /// First seen.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// A dispute as a webhook reports it.
#[derive(Debug, Clone)]
pub struct DisputeUpdate {
    /// The gateway.
    pub gateway: String,
    /// The gateway's dispute reference.
    pub gateway_dispute_ref: String,
    /// The disputed payment.
    pub gateway_payment_ref: Option<String>,
    /// The disputed transaction, when the caller resolved it (else found by payment).
    pub transaction_id: Option<i64>,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Reason.
    pub reason: String,
    /// Status.
    pub status: DisputeStatus,
    /// When evidence is due, when the gateway says (kept when a later update does not).
    pub evidence_due_by: Option<Ts>,
}

/// A capture of an authorized transaction: made by an operation with the same idempotency key,
/// settled by its answer or (answered `pending`) later by an event or a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRecord {
    /// The ledger's id.
    pub id: i64,
    /// The captured transaction.
    pub transaction_id: i64,
    /// Amount asked for.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Whether it releases the rest of the authorization.
    pub final_capture: bool,
    /// Where it stands.
    pub status: CaptureStatus,
    /// The gateway's reference of the capture (Stripe: the payment's).
    pub gateway_modification_ref: Option<String>,
    /// The key of the operation that makes it.
    pub idempotency_key: String,
    /// Why it failed, or why it is overdue.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// A capture to write with its operation.
#[derive(Debug, Clone)]
pub struct NewCapture {
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Whether it releases the rest of the authorization.
    pub final_capture: bool,
}

/// An operation of the intent log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The ledger's id.
    pub id: i64,
    /// What it does.
    pub kind: OpKind,
    /// The gateway called.
    pub gateway: String,
    /// The transaction concerned.
    pub transaction_id: Option<i64>,
    /// The refund concerned.
    pub refund_id: Option<i64>,
    /// The invoice concerned.
    pub invoice_id: Option<i64>,
    /// The idempotency key sent with every attempt.
    pub idempotency_key: String,
    /// The call's exact inputs, so that a repeat sends the same.
    pub params: serde_json::Value,
    /// Where it stands.
    pub state: OpState,
    /// Attempts so far.
    pub attempts: i64,
    /// Of those, the reconciler's.
    pub reconcile_attempts: i64,
    /// The reconciler does not repeat it before this time (it backs off between attempts).
    pub next_attempt_at: Option<Ts>,
    /// When the reconciler gave up and flagged it for an operator.
    pub flagged_at: Option<Ts>,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Ts,
    /// Last changed.
    pub updated_at: Ts,
}

/// An operation to write before calling the gateway.
#[derive(Debug, Clone)]
pub struct NewOperation {
    /// What it does.
    pub kind: OpKind,
    /// The gateway.
    pub gateway: String,
    /// The transaction.
    pub transaction_id: Option<i64>,
    /// The refund.
    pub refund_id: Option<i64>,
    /// The invoice.
    pub invoice_id: Option<i64>,
    /// The key.
    pub idempotency_key: String,
    /// The inputs.
    pub params: serde_json::Value,
}

/// What to do with an API request that carries an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    /// First time, a repeat of a request that has no final answer yet, or a request whose
    /// process died: run it.
    Run,
    /// Done before: replay this status and body.
    Replay {
        /// HTTP status.
        status: u16,
        /// Body.
        body: Vec<u8>,
    },
    /// The key was used with a different request.
    Mismatch {
        /// The first request, as it was stored (empty when an earlier build stored none).
        request: Vec<u8>,
    },
    /// A request with this key is running now.
    InProgress,
}

/// How an operation that changes a transaction or an invoice was begun.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun<T> {
    /// Written now: run it.
    Started(Operation),
    /// Not written: this unsettled operation of a kind that excludes it (another capture or
    /// void of the transaction, another step of the invoice) is there.
    Busy(Operation),
    /// Not written: the object's status does not allow it. The object as it stands.
    Refused(T),
    /// Not written: an operation with the same key was written and settled before (the same
    /// request, repeated).
    Settled(Operation),
}

/// Filter of invoice listings.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<InvoiceStatus>,
    /// At most this many (0 = no limit).
    pub limit: u32,
}

/// One gateway's figures over a period in one currency, computed from the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFigures {
    /// The gateway.
    pub gateway: String,
    /// Money taken: captured charges paid by their own payment, and paid invoices.
    pub revenue: i64,
    /// How many such payments.
    pub successful_payments: u64,
    /// Refunds succeeded.
    pub refunds: i64,
    /// How many.
    pub refund_count: u64,
    /// The gateway's fees, as reported with the payments.
    pub fees: i64,
    /// Disputes opened (inquiries left out).
    pub disputes_opened: u64,
    /// Their amount.
    pub disputed_amount: i64,
    /// Disputes won.
    pub disputes_won: u64,
    /// Disputes lost (chargebacks).
    pub disputes_lost: u64,
    /// Lost to chargebacks.
    pub chargeback_amount: i64,
    /// Withdrawn for disputes still open.
    pub open_dispute_amount: i64,
}

impl LedgerFigures {
    /// What reached the account: revenue less refunds, fees, and the amounts of disputes open
    /// or lost.
    pub fn net(&self) -> i64 {
        self.revenue - self.refunds - self.fees - self.chargeback_amount - self.open_dispute_amount
    }

    /// Adds another gateway's figures (for the combined total).
    pub fn add(&mut self, o: &LedgerFigures) {
        self.revenue += o.revenue;
        self.successful_payments += o.successful_payments;
        self.refunds += o.refunds;
        self.refund_count += o.refund_count;
        self.fees += o.fees;
        self.disputes_opened += o.disputes_opened;
        self.disputed_amount += o.disputed_amount;
        self.disputes_won += o.disputes_won;
        self.disputes_lost += o.disputes_lost;
        self.chargeback_amount += o.chargeback_amount;
        self.open_dispute_amount += o.open_dispute_amount;
    }
}

/// Sums of the ledger's own records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTotals {
    /// Succeeded (or refunded) charges: count.
    pub charges: u64,
    /// Captured amount of those charges.
    pub captured: i64,
    /// Refunded amount.
    pub refunded: i64,
    /// Failed charges.
    pub failed: u64,
    /// Transactions still unsettled: charged and pending, processing, unknown or held for
    /// review.
    pub unsettled: u64,
}

/// A billing run's request for its next batch of due transactions (pending charges on no
/// invoice), see [`crate::ledger::Ledger::claim_due_transactions`].
#[derive(Debug, Clone)]
pub struct DueClaim {
    /// Who claims: one billing run of one instance.
    pub owner: String,
    /// Only ids above this (the run's cursor: what it has claimed so far).
    pub after_id: i64,
    /// Only ids up to this (the newest due when the run started).
    pub up_to_id: i64,
    /// At most this many.
    pub limit: u32,
    /// How long a claim keeps others away; an instance that dies leaves its claims to whoever
    /// claims after they expire.
    pub lease: std::time::Duration,
}
