//! The ledger: the service's durable record of customers, cards, transactions, refunds,
//! invoices, disputes, the intent log of gateway operations, API idempotency keys and processed
//! webhook events.
//!
//! Storage sits behind one seam, the [`Ledger`] trait. The trait is synchronous; async code goes through
//! [`Db`], which runs each call on Tokio's blocking pool. [`sqlite::SqliteLedger`] is the embedded
//! default; [`postgres::PgLedger`] is shared by several instances.
//!
//! Every state change of a transaction, refund, invoice or dispute is a compare-and-set: it names
//! the states it may start from, so that the synchronous path, the reconciler and webhooks can
//! apply the same outcome in any order and converge.
//!
//! The backend-independent types live in `status` (stored states and kinds), `model` (rows,
//! filters, patches, time stamps and keys) and `error`, all re-exported here; the behaviour every
//! backend must show is the test suite of `suite`, run by each backend's own tests.

mod error;
mod model;
mod queries;
mod status;

pub mod postgres;
pub mod sqlite;
#[cfg(test)]
mod suite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::{LedgerError, Result};
pub use model::*;
pub use status::*;

/// Builds the operation that changes an authorized transaction, and the capture it makes, from
/// the transaction as it stands and the amount that remains to capture (see
/// [`Ledger::begin_payment_change`]).
pub type PaymentChangeBuilder<'a> =
    dyn Fn(&Transaction, i64) -> Result<(NewOperation, Option<NewCapture>)> + 'a;

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

/// The storage seam. Every method is a short, synchronous database call; see [`Db`] for async
/// callers.
pub trait Ledger: Send + Sync + 'static {
    /// Links (or re-links) a CRM customer to a gateway customer.
    fn upsert_customer(&self, link: &CustomerLink) -> Result<CustomerLink>;
    /// The customer's links, one per gateway.
    fn customer_links(&self, crm_customer_id: &str) -> Result<Vec<CustomerLink>>;
    /// Customer links whose CRM id, name or email contains `query` (case-insensitive; every
    /// link when empty), newest first, at most `limit`.
    fn search_customers(&self, query: &str, limit: u32) -> Result<Vec<CustomerLink>>;

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
    /// Updates a stored card the gateway describes again (a card-stored event): its expiry and
    /// last 4, and the brand, funding, fingerprint and network transaction id it reports. False
    /// when the ledger does not know the card.
    fn refresh_card(
        &self,
        gateway: &str,
        gateway_card_ref: &str,
        details: &CardDetails,
    ) -> Result<bool>;
    /// Records the network transaction id of a card's first payment, unless the card has one;
    /// whether it was recorded.
    fn set_card_network_transaction_id(&self, card_id: i64, id: &str) -> Result<bool>;

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

    /// The captures of a transaction, oldest first.
    fn captures(&self, transaction_id: i64) -> Result<Vec<CaptureRecord>>;
    /// The capture made by the operation with this key.
    fn capture_by_key(&self, idempotency_key: &str) -> Result<Option<CaptureRecord>>;
    /// Compare-and-set of a capture's status (from one of `from`), its gateway reference and
    /// last error, in one database transaction with its transaction: a succeeded capture raises
    /// the captured amount to what the succeeded captures sum to, and a final one moves an
    /// authorized transaction to `succeeded`. None when the capture was not in `from`.
    fn settle_capture(
        &self,
        id: i64,
        from: &[CaptureStatus],
        status: CaptureStatus,
        gateway_modification_ref: Option<&str>,
        last_error: Option<&str>,
    ) -> Result<Option<CaptureRecord>>;

    /// Creates an invoice from the customer's uninvoiced pending transactions in its currency,
    /// numbering it INV-YYYY-NNNNNN. None when there is nothing to invoice.
    fn create_invoice(&self, new: &NewInvoice) -> Result<Option<Invoice>>;
    /// One invoice.
    fn invoice(&self, id: i64) -> Result<Option<Invoice>>;
    /// The invoice of a gateway reference.
    fn invoice_by_ref(&self, gateway: &str, invoice_ref: &str) -> Result<Option<Invoice>>;
    /// The ledger invoice paid (or being paid) by a gateway payment.
    fn invoice_by_payment(&self, gateway: &str, payment_ref: &str) -> Result<Option<Invoice>>;
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
    /// Operations waiting for an outcome the gateway gives later, oldest first, with ids above
    /// `after_id`.
    fn waiting_operations(&self, after_id: i64, limit: u32) -> Result<Vec<Operation>>;
    /// The operations of a transaction or an invoice (and its refunds), oldest first.
    fn operations_for(
        &self,
        transaction_id: Option<i64>,
        invoice_id: Option<i64>,
    ) -> Result<Vec<Operation>>;
    /// Counts a reconciler's attempt of an unsettled operation: it is not repeated before
    /// `next_attempt_at`. With `flag` (the reason), the reconciler gives up: the operation is
    /// flagged (never repeated on its own again) and its transaction, if any, shows the reason
    /// as needing an operator.
    fn record_reconcile_attempt(
        &self,
        id: i64,
        next_attempt_at: Ts,
        flag: Option<&str>,
    ) -> Result<()>;
    /// Unsettled operations flagged for an operator, oldest first.
    fn flagged_operations(&self) -> Result<Vec<Operation>>;
    /// Settles by hand a charge flagged for an operator, as the operator found it at the
    /// gateway, in one database transaction: the compare-and-set of the transaction (`patch`,
    /// from one of `from`), the state of its flagged operation (`flagged_op`: its id and the
    /// state to set; None for a charge held for review, whose operation is already settled),
    /// its attention cleared and who settled it and why recorded. None (nothing written) when
    /// the transaction is not flagged, the operation is not its flagged, unsettled charge, or
    /// the transaction moved.
    fn settle_by_hand(
        &self,
        txn_id: i64,
        flagged_op: Option<(i64, OpState)>,
        from: &[TxnStatus],
        patch: &TxnPatch,
        operator: &str,
        note: &str,
    ) -> Result<Option<Transaction>>;
    /// Clears the flag of a charge the gateway's own word settled after the reconciler gave up
    /// on it (an event that arrived late), in one database transaction: when the transaction
    /// stands at `status` and has a flagged, unsettled charge operation, that operation gets
    /// `state` and the transaction's attention is cleared. Whether it had one.
    fn unflag_charge_settled_by_gateway(
        &self,
        txn_id: i64,
        status: TxnStatus,
        state: OpState,
    ) -> Result<bool>;
    /// Sets an operation's state and last error, counting an attempt when `attempted`.
    fn set_operation_state(
        &self,
        id: i64,
        state: OpState,
        last_error: Option<&str>,
        attempted: bool,
    ) -> Result<()>;

    /// Writes the operation that changes an authorized transaction (a capture or a void, built
    /// by `operation` from the transaction as it stands and the amount that remains to capture),
    /// and the capture it makes, in one database transaction, only while the transaction is
    /// `authorized` and no other capture or void of it is unsettled or waiting. With
    /// `concurrent_captures` (gateways with `multiple-captures`), a capture may be written while
    /// other captures wait for their outcome. The capture's key is the operation's.
    fn begin_payment_change(
        &self,
        transaction_id: i64,
        concurrent_captures: bool,
        operation: &PaymentChangeBuilder<'_>,
    ) -> Result<Begun<Transaction>>;
    /// Writes an operation of an invoice (finalize, pay or void, built by `operation` from the
    /// invoice as it stands), in one database transaction, only while the invoice's status is one
    /// of `allowed` and no other finalize, pay or void of it is unsettled. A payment counts an
    /// attempt on the invoice before `operation` is called (its key names the attempt).
    fn begin_invoice_op(
        &self,
        invoice_id: i64,
        kind: OpKind,
        allowed: &[InvoiceStatus],
        operation: &dyn Fn(&Invoice) -> Result<NewOperation>,
    ) -> Result<Begun<Invoice>>;
    /// Removes a charge the gateway refused as invalid input before anything happened there,
    /// with the transaction it was written with: both go, in one database transaction, only while
    /// the operation is `failed`, the transaction `failed` with no payment reference, refund,
    /// dispute, invoice or other operation. False when they are not such (nothing is removed).
    fn discard_refused_charge(&self, transaction_id: i64, operation_id: i64) -> Result<bool>;

    /// Starts an API request with an idempotency key: `request_hash` identifies the request,
    /// `request` (its method, path and body) is kept to tell a client what differs when the key
    /// comes back with another request.
    fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        request: &[u8],
        owner: &str,
    ) -> Result<IdemBegin>;
    /// Saves the response of a request started with [`Ledger::idem_begin`].
    fn idem_finish(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()>;
    /// Keeps the key bound to its request without an answer to replay: the request wrote
    /// something and has no final answer yet (the same request runs again; another is refused).
    fn idem_unsettled(&self, scope: &str, key: &str) -> Result<()>;
    /// Forgets a request that must not be replayed (it failed before doing anything).
    fn idem_abort(&self, scope: &str, key: &str) -> Result<()>;

    /// Whether a webhook event was processed before.
    fn webhook_seen(&self, gateway: &str, event_id: &str) -> Result<bool>;
    /// Records a processed webhook event; false when it was recorded before.
    fn record_webhook(&self, gateway: &str, event_id: &str, gateway_type: &str) -> Result<bool>;

    /// Sums of the ledger's own records for one currency over `[from, to)`, for cross-checks.
    fn totals(&self, currency: &str, from: Ts, to: Ts) -> Result<LedgerTotals>;
    /// Each gateway's figures for one currency over `[from, to)` (charges and refunds by when
    /// they were made, invoices by when they were paid, disputes by when they were opened);
    /// gateways with no activity are left out.
    fn figures(&self, currency: &str, from: Ts, to: Ts) -> Result<Vec<LedgerFigures>> {
        let mut whole = self.figures_by_period(currency, from, to, to - from)?;
        Ok(whole.pop().map(|(_, figures)| figures).unwrap_or_default())
    }
    /// [`Ledger::figures`] of each consecutive period of `period` seconds from `from` (the last
    /// one ends at `to`), in one pass over the ledger: each period with any activity, by its
    /// start, oldest first.
    fn figures_by_period(
        &self,
        currency: &str,
        from: Ts,
        to: Ts,
        period: i64,
    ) -> Result<Vec<(Ts, Vec<LedgerFigures>)>>;

    /// Whether several service instances may share this ledger (then billing runs split their
    /// work through claims, gateway pacing is shared and background jobs elect a leader).
    fn shared(&self) -> bool {
        false
    }
    /// A billing run's next batch of due transactions, oldest first, claimed for
    /// `claim.owner` until its lease expires. A shared ledger hands out each due transaction
    /// to one claimant at a time and never twice to the same owner; a claim whose lease expired
    /// (its instance died) is taken over. A ledger of one process answers from the cursor
    /// `claim.after_id`.
    fn claim_due_transactions(&self, claim: &DueClaim) -> Result<Vec<Transaction>>;
    /// How long until the first unexpired claim of another owner on a due transaction (up to
    /// `claim.up_to_id`) expires; none when no other owner holds any (always none for a ledger
    /// of one process).
    fn due_claimed_elsewhere(&self, _claim: &DueClaim) -> Result<Option<std::time::Duration>> {
        Ok(None)
    }
    /// Ends the claims of `owner` still held (its run is over): what it left due is free for
    /// others at once.
    fn release_claims(&self, _owner: &str) -> Result<()> {
        Ok(())
    }
    /// Takes the next start slot of calls to `gateway`, spaced `interval` apart across every
    /// instance sharing the ledger; how long to wait before starting. Zero for a ledger of one
    /// process (the in-process pacing is all there is).
    fn pace(&self, _gateway: &str, _interval: std::time::Duration) -> Result<std::time::Duration> {
        Ok(std::time::Duration::ZERO)
    }
    /// Whether this instance leads `role` (a background job that runs once across the
    /// instances sharing the ledger); a leader stays one until it stops. Always true for a
    /// ledger of one process.
    fn lead(&self, _role: &str) -> Result<bool> {
        Ok(true)
    }
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
