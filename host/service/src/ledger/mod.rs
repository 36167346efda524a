//! The ledger: the service's durable record of customers, cards, transactions, refunds,
//! invoices, disputes, the intent log of gateway operations, API idempotency keys and processed
//! webhook events.
//!
//! Storage sits behind one seam, the [`Ledger`] trait, so that another backend (PostgreSQL, for
//! several service instances) can follow. The trait is synchronous; async code goes through
//! [`Db`], which runs each call on Tokio's blocking pool. [`sqlite::SqliteLedger`] is the embedded
//! default.
//!
//! Every state change of a transaction, refund, invoice or dispute is a compare-and-set: it names
//! the states it may start from, so that the synchronous path, the reconciler and webhooks can
//! apply the same outcome in any order and converge.

pub mod sqlite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How hard the ledger flushes commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A commit survives a power cut (SQLite `synchronous=FULL`).
    #[default]
    Full,
    /// A commit survives a crash of the process; a power cut may lose the last ones (SQLite
    /// `synchronous=NORMAL`).
    Normal,
}

/// Seconds since the Unix epoch, UTC.
pub type Ts = i64;

/// The current time as [`Ts`].
pub fn now() -> Ts {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Errors of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A row this operation needs does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of row.
        kind: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The request conflicts with what is stored.
    #[error("{field}: {message}")]
    Conflict {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A refund asks for more than what remains to refund.
    #[error("amount: refund of {requested} exceeds the {remaining} that remains refundable")]
    RefundExceeds {
        /// Asked for.
        requested: i64,
        /// What can still be refunded.
        remaining: i64,
    },
    /// A migration failed or the schema is newer than this build.
    #[error("migration error: {0}")]
    Migration(String),
    /// The blocking task running the call failed.
    #[error("ledger task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Database(e.to_string())
    }
}

/// Result of ledger calls.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant),+
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored (and JSON) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Where a transaction stands.
    TxnStatus {
        /// Recorded, not charged yet (due for a billing run or an invoice).
        Pending => "pending",
        /// The gateway is working on it.
        Processing => "processing",
        /// The customer must authenticate (3-D Secure).
        RequiresAction => "requires_action",
        /// Authorized; waiting for capture or void.
        Authorized => "authorized",
        /// The money was taken (or, for a credit, granted).
        Succeeded => "succeeded",
        /// Declined or failed: no money was taken.
        Failed => "failed",
        /// Voided: no money was taken.
        Canceled => "canceled",
        /// Refunded in full.
        Refunded => "refunded",
        /// Refunded in part.
        PartiallyRefunded => "partially_refunded",
        /// The gateway call's outcome is unknown; the reconciler settles it.
        Unknown => "unknown",
    }
);

str_enum!(
    /// Charge (money from the customer) or credit (money owed to the customer).
    TxnKind {
        /// Taken from the customer's card.
        Charge => "charge",
        /// Owed to the customer; deducted on an invoice.
        Credit => "credit",
    }
);

str_enum!(
    /// When a charge is captured.
    Capture {
        /// At once.
        Automatic => "automatic",
        /// Authorize only; capture or void later.
        Manual => "manual",
    }
);

str_enum!(
    /// Where a refund stands.
    RefundStatus {
        /// Written, not confirmed by the gateway yet.
        Pending => "pending",
        /// The gateway needs an action.
        RequiresAction => "requires_action",
        /// Done.
        Succeeded => "succeeded",
        /// Failed: no money moved.
        Failed => "failed",
        /// Canceled: no money moved.
        Canceled => "canceled",
        /// The outcome is unknown; the reconciler settles it.
        Unknown => "unknown",
    }
);

str_enum!(
    /// The life of an invoice.
    InvoiceStatus {
        /// Being prepared.
        Draft => "draft",
        /// Finalized, waiting for payment.
        Open => "open",
        /// Paid in full.
        Paid => "paid",
        /// Cancelled.
        Void => "void",
        /// Written off (can still be paid or voided).
        Uncollectible => "uncollectible",
    }
);

str_enum!(
    /// Where a dispute stands.
    DisputeStatus {
        /// An inquiry; no money moved.
        Warning => "warning",
        /// Open; the amount was withdrawn.
        Open => "open",
        /// Closed in the merchant's favour.
        Won => "won",
        /// Closed in the cardholder's favour.
        Lost => "lost",
    }
);

impl DisputeStatus {
    /// Position in the forward-only order warning < open < won|lost.
    pub fn rank(self) -> u8 {
        match self {
            DisputeStatus::Warning => 0,
            DisputeStatus::Open => 1,
            DisputeStatus::Won | DisputeStatus::Lost => 2,
        }
    }
}

str_enum!(
    /// What a gateway operation of the intent log does.
    OpKind {
        /// Charge (or authorize) a transaction.
        Charge => "charge",
        /// Capture an authorized transaction.
        Capture => "capture",
        /// Void an authorized transaction.
        Cancel => "cancel",
        /// Refund a transaction.
        Refund => "refund",
        /// Create an invoice at the gateway.
        InvoiceCreate => "invoice_create",
        /// Finalize an invoice.
        InvoiceFinalize => "invoice_finalize",
        /// Pay an invoice with a stored card.
        InvoicePay => "invoice_pay",
        /// Void an invoice.
        InvoiceVoid => "invoice_void",
    }
);

str_enum!(
    /// Where an operation of the intent log stands.
    OpState {
        /// Written; the call was not made or its result not recorded yet.
        Pending => "pending",
        /// The call's outcome is unknown: it must be repeated with the same key.
        Unknown => "unknown",
        /// Settled with the gateway's answer.
        Done => "done",
        /// Settled as failed (declined, rejected): nothing moved.
        Failed => "failed",
    }
);

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
    /// The last error, for operators.
    pub last_error: Option<String>,
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
}

/// Filters of a transaction listing.
#[derive(Debug, Clone, Default)]
pub struct TxnFilter {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<TxnStatus>,
    /// Only invoiced (true) or uninvoiced (false).
    pub invoiced: Option<bool>,
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
    /// First time (or the earlier attempt died with its process): run it.
    Run,
    /// Done before: replay this status and body.
    Replay {
        /// HTTP status.
        status: u16,
        /// Body.
        body: Vec<u8>,
    },
    /// The key was used with a different request.
    Mismatch,
    /// A request with this key is running now.
    InProgress,
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

/// The storage seam. Every method is a short, synchronous database call; see [`Db`] for async
/// callers.
pub trait Ledger: Send + Sync + 'static {
    /// Links (or re-links) a CRM customer to a gateway customer.
    fn upsert_customer(&self, link: &CustomerLink) -> Result<CustomerLink>;
    /// The customer's links, one per gateway.
    fn customer_links(&self, crm_customer_id: &str) -> Result<Vec<CustomerLink>>;

    /// Stores a card; storing the same gateway card again returns the stored row.
    fn insert_card(&self, card: &NewCard) -> Result<Card>;
    /// One card, unless removed.
    fn card(&self, id: i64) -> Result<Option<Card>>;
    /// The customer's cards: default first, then newest first.
    fn cards(&self, crm_customer_id: &str) -> Result<Vec<Card>>;
    /// Makes a card the customer's default; false when no such card.
    fn set_default_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool>;
    /// Removes a card; false when no such card.
    fn remove_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool>;
    /// Cards whose expiry month is between `from` and `to` (year, month), inclusive.
    fn expiring_cards(&self, from: (u16, u8), to: (u16, u8)) -> Result<Vec<Card>>;
    /// Updates a card's expiry and last 4 (card updater webhooks).
    fn update_card_details(
        &self,
        gateway: &str,
        gateway_card_ref: &str,
        exp_month: u8,
        exp_year: u16,
        last4: &str,
    ) -> Result<bool>;

    /// Records a transaction; `(row, false)` when its idempotency key was recorded before.
    fn insert_transaction(&self, t: &NewTransaction) -> Result<(Transaction, bool)>;
    /// One transaction.
    fn transaction(&self, id: i64) -> Result<Option<Transaction>>;
    /// The transaction of a gateway payment.
    fn transaction_by_payment(
        &self,
        gateway: &str,
        payment_ref: &str,
    ) -> Result<Option<Transaction>>;
    /// Transactions, newest first.
    fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>>;
    /// Compare-and-set: applies `patch` only when the status is one of `from` (any when empty).
    fn update_transaction(
        &self,
        id: i64,
        from: &[TxnStatus],
        patch: &TxnPatch,
    ) -> Result<Option<Transaction>>;

    /// Cancels a pending transaction that was never charged and is on no invoice
    /// (compare-and-set); none when it is not such a transaction (any more).
    fn cancel_unattempted(&self, id: i64) -> Result<Option<Transaction>>;

    /// Writes a refund intent, the refund and the `operation` that makes it (built from the
    /// refund and its transaction), in one database transaction, after checking that it does
    /// not exceed what remains (captured minus refunds succeeded or in flight). `amount` none
    /// refunds what remains. A repeat of `idempotency_key` returns the refund and operation
    /// written the first time.
    fn create_refund(
        &self,
        transaction_id: i64,
        amount: Option<i64>,
        reason: Option<&str>,
        idempotency_key: &str,
        operation: &dyn Fn(&Refund, &Transaction) -> Result<NewOperation>,
    ) -> Result<(Refund, Operation)>;
    /// One refund.
    fn refund(&self, id: i64) -> Result<Option<Refund>>;
    /// A transaction's refunds.
    fn refunds(&self, transaction_id: i64) -> Result<Vec<Refund>>;
    /// Compare-and-set of a refund's status; recomputes the transaction's refunded amount and
    /// status in the same database transaction.
    fn settle_refund(
        &self,
        id: i64,
        from: &[RefundStatus],
        status: RefundStatus,
        gateway_refund_ref: Option<&str>,
        last_error: Option<&str>,
    ) -> Result<Option<Refund>>;
    /// A refund reported by a webhook: settles the matching row (by reference, or the single
    /// unsettled one of the same amount), or records it when it was made outside the service.
    fn observe_refund(
        &self,
        transaction_id: i64,
        gateway_refund_ref: &str,
        amount: i64,
        status: RefundStatus,
    ) -> Result<Option<Refund>>;

    /// Creates an invoice from the customer's uninvoiced pending transactions in its currency,
    /// numbering it INV-YYYY-NNNNNN. None when there is nothing to invoice.
    fn create_invoice(&self, new: &NewInvoice) -> Result<Option<Invoice>>;
    /// One invoice.
    fn invoice(&self, id: i64) -> Result<Option<Invoice>>;
    /// The invoice of a gateway reference.
    fn invoice_by_ref(&self, gateway: &str, invoice_ref: &str) -> Result<Option<Invoice>>;
    /// Invoices, newest first.
    fn invoices(&self, filter: &InvoiceFilter) -> Result<Vec<Invoice>>;
    /// The transactions on an invoice.
    fn invoice_lines(&self, id: i64) -> Result<Vec<Transaction>>;
    /// Compare-and-set of an invoice. Paid marks its pending lines succeeded; void releases its
    /// pending lines (they become uninvoiced again).
    fn update_invoice(
        &self,
        id: i64,
        from: &[InvoiceStatus],
        patch: &InvoicePatch,
    ) -> Result<Option<Invoice>>;

    /// Records or advances a dispute (status only moves forward).
    fn upsert_dispute(&self, update: &DisputeUpdate) -> Result<Dispute>;
    /// Disputes, newest first; of one transaction when given.
    fn disputes(&self, transaction_id: Option<i64>) -> Result<Vec<Dispute>>;

    /// Writes an operation; `(row, false)` when its key was written before.
    fn insert_operation(&self, op: &NewOperation) -> Result<(Operation, bool)>;
    /// Writes a charge's intent in one database transaction: the operation (`op`, naming its
    /// transaction) and the transaction's card, gateway and attempt time, only while the
    /// transaction is a pending charge that no invoice holds and no attempt started. None when
    /// it is not (voided, invoiced or charged meanwhile): nothing is written.
    fn begin_charge(&self, op: &NewOperation, card_id: i64) -> Result<Option<Operation>>;
    /// Records a charge to make at once together with its intent, in one database transaction:
    /// the transaction (a pending charge naming its card and gateway, attempt time set) and the
    /// operation `operation` builds from the stored row. A repeat of the transaction's key writes
    /// nothing and returns the row stored the first time and no operation (the caller goes
    /// through [`Ledger::operations_for`] and [`Ledger::begin_charge`]).
    ///
    /// The default writes the transaction, then the intent ([`Ledger::begin_charge`]).
    fn create_charge(
        &self,
        t: &NewTransaction,
        operation: &dyn Fn(&Transaction) -> Result<NewOperation>,
    ) -> Result<(Transaction, Option<Operation>)> {
        let Some(card_id) = t.card_id else {
            return Err(LedgerError::Conflict {
                field: "card_id",
                message: "a charge made at once names its card".into(),
            });
        };
        let (txn, created) = self.insert_transaction(t)?;
        if !created {
            return Ok((txn, None));
        }
        match self.begin_charge(&operation(&txn)?, card_id)? {
            Some(op) => {
                let txn = self.transaction(txn.id)?.unwrap_or(txn);
                Ok((txn, Some(op)))
            }
            None => Ok((txn, None)),
        }
    }
    /// Applies a charge's outcome and settles its operation in one database transaction: the
    /// compare-and-set of the transaction (`patch`, from one of `from`, when given), then the
    /// operation's `state` and last error, counting an attempt. An operation left `pending` (a
    /// failure that changed nothing) whose transaction is `unknown` stays `unknown`. Returns the
    /// operation's state and the transaction as it stands.
    ///
    /// The default makes the same calls one by one.
    fn settle_charge(
        &self,
        op_id: i64,
        txn_id: i64,
        from: &[TxnStatus],
        patch: Option<&TxnPatch>,
        state: OpState,
        last_error: Option<&str>,
    ) -> Result<(OpState, Option<Transaction>)> {
        if let Some(patch) = patch {
            self.update_transaction(txn_id, from, patch)?;
        }
        let txn = self.transaction(txn_id)?;
        let state = settled_state(state, txn.as_ref());
        self.set_operation_state(op_id, state, last_error, true)?;
        Ok((state, txn))
    }
    /// One operation.
    fn operation(&self, id: i64) -> Result<Option<Operation>>;
    /// Operations still pending or unknown, oldest first, updated at or before `updated_before`.
    fn unsettled_operations(&self, updated_before: Ts, limit: u32) -> Result<Vec<Operation>>;
    /// The operations of a transaction or an invoice (and its refunds), oldest first.
    fn operations_for(
        &self,
        transaction_id: Option<i64>,
        invoice_id: Option<i64>,
    ) -> Result<Vec<Operation>>;
    /// Sets an operation's state and last error, counting an attempt when `attempted`.
    fn set_operation_state(
        &self,
        id: i64,
        state: OpState,
        last_error: Option<&str>,
        attempted: bool,
    ) -> Result<()>;

    /// Starts an API request with an idempotency key.
    fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        owner: &str,
    ) -> Result<IdemBegin>;
    /// Saves the response of a request started with [`Ledger::idem_begin`].
    fn idem_finish(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()>;
    /// Forgets a request that must not be replayed (it failed before doing anything).
    fn idem_abort(&self, scope: &str, key: &str) -> Result<()>;

    /// Whether a webhook event was processed before.
    fn webhook_seen(&self, gateway: &str, event_id: &str) -> Result<bool>;
    /// Records a processed webhook event; false when it was recorded before.
    fn record_webhook(&self, gateway: &str, event_id: &str, gateway_type: &str) -> Result<bool>;

    /// Sums of the ledger's own records for one currency over `[from, to)`, for cross-checks.
    fn totals(&self, currency: &str, from: Ts, to: Ts) -> Result<LedgerTotals>;
}

/// The state a charge operation settles in: one left `pending` by a failure that changed nothing
/// stays `unknown` while its transaction is `unknown` (the earlier attempt may have moved money).
pub fn settled_state(state: OpState, txn: Option<&Transaction>) -> OpState {
    if state == OpState::Pending && txn.is_some_and(|t| t.status == TxnStatus::Unknown) {
        OpState::Unknown
    } else {
        state
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
    /// Transactions still pending or unknown.
    pub unsettled: u64,
}

/// Async access to a [`Ledger`]: each call runs on Tokio's blocking pool.
#[derive(Clone)]
pub struct Db(Arc<dyn Ledger>);

impl Db {
    /// Wraps a ledger.
    pub fn new(ledger: Arc<dyn Ledger>) -> Self {
        Db(ledger)
    }

    /// The ledger, for synchronous callers (tests, start-up).
    pub fn ledger(&self) -> &dyn Ledger {
        &*self.0
    }

    /// Runs `f` with the ledger on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Ledger) -> Result<T> + Send + 'static,
    {
        let ledger = self.0.clone();
        tokio::task::spawn_blocking(move || f(&*ledger))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))?
    }
}

/// A fresh random idempotency key: `prefix` then 32 hex digits (128 random bits).
pub fn new_key(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("{prefix}-{}", hex::encode(bytes))
}
