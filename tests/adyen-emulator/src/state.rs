//! The emulator's in-memory state: payments, stored payment methods per shopper, modifications
//! waiting to settle, checkout sessions, 3-D Secure actions in progress, idempotency keys and the
//! webhook hub. Everything lives behind one mutex held only for the (synchronous, cheap) execution
//! of a request.

use std::collections::{BTreeMap, HashMap};

use emulator_support::Clock;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::cards::{Outcome, ThreeDs};
use crate::currency::Amount;
use crate::dates;
use crate::idempotency::IdempotencyStore;
use crate::notifications::Event;
use crate::webhooks::Hub;

/// The Checkout API version the emulator serves, under `/v{API_VERSION}`.
pub const API_VERSION: u32 = 71;

/// A card as the emulator keeps it. The number never leaves the emulator: answers show the last
/// four digits, the BIN and the brand.
#[derive(Debug, Clone)]
pub struct Card {
    /// The full number.
    pub number: String,
    /// Adyen's brand code.
    pub brand: &'static str,
    /// `CREDIT`, `DEBIT`, `PREPAID`.
    pub funding: &'static str,
    /// Issuing country.
    pub country: &'static str,
    /// 1..=12.
    pub expiry_month: u8,
    /// Four digits.
    pub expiry_year: u16,
    /// The name on the card.
    pub holder_name: Option<String>,
    /// Its 3-D Secure 2 path.
    pub three_ds: ThreeDs,
}

impl Card {
    /// The last four digits.
    pub fn last_four(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    /// The first six digits.
    pub fn bin(&self) -> &str {
        &self.number[..self.number.len().min(6)]
    }

    /// Whether the card has expired at `now` (valid through the end of its expiry month).
    pub fn expired(&self, now: i64) -> bool {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(now) else {
            return false;
        };
        let (year, month) = (t.year(), u8::from(t.month()));
        i32::from(self.expiry_year) < year
            || (i32::from(self.expiry_year) == year && self.expiry_month < month)
    }
}

/// A stored payment method (token) of a shopper.
#[derive(Debug, Clone)]
pub struct StoredMethod {
    /// `storedPaymentMethodId` / `recurringDetailReference`.
    pub id: String,
    /// The merchant account it belongs to.
    pub merchant_account: String,
    /// The shopper it belongs to.
    pub shopper_reference: String,
    /// The card.
    pub card: Card,
    /// When it was stored.
    pub created: i64,
    /// The scheme's id of the payment that stored it, quoted by later merchant-initiated payments.
    pub network_tx_reference: String,
    /// The payment that stored it.
    pub first_psp_reference: String,
    /// Refuses charges with this outcome (set by a test through the admin API): the next `n`, or
    /// every one until cleared when `None`.
    pub forced_outcome: Option<(Outcome, Option<u32>)>,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for the shopper (3-D Secure).
    ActionRequired,
    /// `Received`: authorised later, by webhook.
    Received,
    /// Authorised (captured or not).
    Authorised,
    /// Refused.
    Refused,
    /// Error.
    Error,
    /// Cancelled (by fraud checks) before authorisation.
    Cancelled,
}

/// A modification kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModKind {
    /// `/captures`.
    Capture,
    /// `/cancels`.
    Cancel,
    /// `/refunds`.
    Refund,
    /// `/reversals`.
    Reversal,
    /// `POST /cancels` by merchant reference.
    TechnicalCancel,
}

impl ModKind {
    /// The eventCode of its notification.
    pub fn event_code(self) -> &'static str {
        match self {
            ModKind::Capture => "CAPTURE",
            ModKind::Cancel => "CANCELLATION",
            ModKind::Refund => "REFUND",
            ModKind::Reversal => "CANCEL_OR_REFUND",
            ModKind::TechnicalCancel => "TECHNICAL_CANCEL",
        }
    }
}

/// A chargeback's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeStage {
    /// `NOTIFICATION_OF_CHARGEBACK`: announced, no money moved.
    Notified,
    /// `CHARGEBACK`: the amount was debited.
    Chargeback,
    /// `CHARGEBACK_REVERSED`: won, the amount came back.
    Reversed,
    /// `SECOND_CHARGEBACK`: debited again.
    SecondChargeback,
}

/// A dispute of a payment.
#[derive(Debug, Clone)]
pub struct Dispute {
    /// The dispute's own reference (the same across its stages).
    pub psp_reference: String,
    /// Where it stands.
    pub stage: DisputeStage,
    /// The disputed amount.
    pub amount: Amount,
    /// The scheme's reason code.
    pub reason_code: String,
}

/// A payment.
#[derive(Debug, Clone)]
pub struct Payment {
    /// Its pspReference.
    pub psp_reference: String,
    /// The merchant account.
    pub merchant_account: String,
    /// The merchant's `reference`.
    pub reference: String,
    /// Authorised amount.
    pub amount: Amount,
    /// Where it stands.
    pub status: PaymentStatus,
    /// The refusal, for refused (or error, cancelled) payments.
    pub refusal: Option<Outcome>,
    /// The card.
    pub card: Card,
    /// The stored method it was paid with.
    pub paid_with_stored: Option<String>,
    /// The stored method it created (or found already stored).
    pub stored_method: Option<(String, &'static str)>,
    /// `shopperReference`.
    pub shopper_reference: Option<String>,
    /// `shopperInteraction`.
    pub shopper_interaction: String,
    /// `recurringProcessingModel`.
    pub recurring_processing_model: Option<String>,
    /// Whether the request asked to store the method.
    pub store_requested: bool,
    /// `metadata`.
    pub metadata: BTreeMap<String, String>,
    /// Captured only by capture requests.
    pub manual_capture: bool,
    /// Captured automatically at this time (`captureDelayHours`).
    pub capture_at: Option<i64>,
    /// The outcome forced by a test value, applied once authenticated.
    pub forced: Option<Outcome>,
    /// Captured so far.
    pub captured: i64,
    /// Refunded so far.
    pub refunded: i64,
    /// Cancelled (the authorisation released).
    pub cancelled: bool,
    /// Creation time.
    pub created: i64,
    /// The checkout session it belongs to.
    pub session_id: Option<String>,
    /// `returnUrl`.
    pub return_url: String,
    /// `redirectFromIssuerMethod` is POST.
    pub redirect_back_with_post: bool,
    /// The scheme's transaction id.
    pub network_tx_reference: String,
    /// Test triggers: the next modifications of these kinds fail asynchronously.
    pub fail_next: Vec<ModKind>,
    /// Its dispute.
    pub dispute: Option<Dispute>,
    /// The final answer, replayed to a repeated `/payments/details`.
    pub final_response: Option<Value>,
}

impl Payment {
    /// What may still be captured.
    pub fn capturable(&self) -> i64 {
        if self.cancelled || self.status != PaymentStatus::Authorised {
            0
        } else {
            self.amount.value - self.captured
        }
    }
}

/// A modification request.
#[derive(Debug, Clone)]
pub struct Modification {
    /// Its pspReference.
    pub psp_reference: String,
    /// The kind.
    pub kind: ModKind,
    /// The payment (for `TechnicalCancel`, found at settlement).
    pub payment_psp: Option<String>,
    /// The merchant account.
    pub merchant_account: String,
    /// The amount asked (captures and refunds).
    pub amount: Option<Amount>,
    /// The merchant's reference of the modification.
    pub reference: Option<String>,
    /// `paymentReference` of a `TechnicalCancel`.
    pub payment_reference: Option<String>,
    /// When it was requested.
    pub created: i64,
    /// Settled (notification sent).
    pub settled: bool,
}

/// A 3-D Secure step in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Native flow: device fingerprint (`IdentifyShopper`).
    Fingerprint,
    /// Native flow: challenge (`ChallengeShopper`).
    Challenge,
    /// Redirect flow (`RedirectShopper`).
    Redirect,
}

/// A payment waiting for the shopper.
#[derive(Debug, Clone)]
pub struct PendingAction {
    /// The action's token (in its URL and `authorisationToken`).
    pub token: String,
    /// The payment.
    pub psp_reference: String,
    /// The step.
    pub stage: Stage,
    /// What the shopper did on the emulator's page: `Some(true)` authenticated.
    pub outcome: Option<bool>,
    /// The `redirectResult` minted when the shopper left the page.
    pub redirect_result: Option<String>,
}

/// A checkout session (`/sessions`).
#[derive(Debug, Clone)]
pub struct Session {
    /// `CS...`.
    pub id: String,
    /// The merchant account.
    pub merchant_account: String,
    /// The amount to pay (0 to only store a card).
    pub amount: Amount,
    /// The merchant's reference.
    pub reference: String,
    /// Where the shopper returns.
    pub return_url: String,
    /// `shopperReference`.
    pub shopper_reference: Option<String>,
    /// `storePaymentMethodMode`: `enabled`, `askForConsent` or `disabled`.
    pub store_mode: String,
    /// `recurringProcessingModel`.
    pub recurring_processing_model: Option<String>,
    /// `metadata`.
    pub metadata: BTreeMap<String, String>,
    /// `additionalData.manualCapture`.
    pub manual_capture: bool,
    /// `captureDelayHours`.
    pub capture_delay_hours: Option<i64>,
    /// When it expires.
    pub expires_at: i64,
    /// The payments made in it.
    pub payments: Vec<String>,
    /// The `sessionResult`s handed to the shopper's browser.
    pub results: Vec<String>,
}

/// What waits to be settled asynchronously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// A modification, by its pspReference.
    Modification(String),
    /// A `Received` payment to authorise, by its pspReference.
    Authorisation(String),
}

/// Account settings the emulator enforces.
#[derive(Debug, Clone)]
pub struct Account {
    /// Accepted merchant accounts (empty: any non-empty name).
    pub merchant_accounts: Vec<String>,
    /// Several partial captures per authorisation (otherwise a partial capture cancels the rest).
    pub multiple_partial_captures: bool,
}

/// All the emulator's state.
#[derive(Debug)]
pub struct State {
    /// The clock.
    pub clock: Clock,
    /// The time of the request being executed (read once per request).
    pub now: i64,
    /// The base URL of the listener the current request came through (for action URLs).
    pub base_url: String,
    /// Account settings.
    pub account: Account,
    /// Payments by pspReference.
    pub payments: HashMap<String, Payment>,
    /// Payments by (merchant account, reference), for `POST /cancels`.
    pub payments_by_reference: HashMap<(String, String), Vec<String>>,
    /// Stored methods by id.
    pub stored: HashMap<String, StoredMethod>,
    /// Stored method ids by (merchant account, shopper), oldest first.
    pub shoppers: HashMap<(String, String), Vec<String>>,
    /// Modifications by pspReference.
    pub modifications: HashMap<String, Modification>,
    /// What waits to settle, in request order.
    pub unsettled: Vec<Settle>,
    /// The settlement task's queue.
    pub settle_queue: mpsc::UnboundedSender<Settle>,
    /// Checkout sessions by id.
    pub sessions: HashMap<String, Session>,
    /// 3-D Secure actions by token.
    pub actions: HashMap<String, PendingAction>,
    /// Action tokens by the `redirectResult` minted for them.
    pub redirect_results: HashMap<String, String>,
    /// Session ids by `sessionResult`.
    pub session_results: HashMap<String, String>,
    /// Saved idempotent answers.
    pub idempotency: IdempotencyStore,
    /// Webhook endpoints and deliveries.
    pub webhooks: Hub,
}

impl State {
    /// Empty state.
    pub fn new(
        clock: Clock,
        account: Account,
        webhooks: Hub,
        settle_queue: mpsc::UnboundedSender<Settle>,
    ) -> State {
        let now = clock.now();
        State {
            clock,
            now,
            base_url: String::new(),
            account,
            payments: HashMap::new(),
            payments_by_reference: HashMap::new(),
            stored: HashMap::new(),
            shoppers: HashMap::new(),
            modifications: HashMap::new(),
            unsettled: Vec::new(),
            settle_queue,
            sessions: HashMap::new(),
            actions: HashMap::new(),
            redirect_results: HashMap::new(),
            session_results: HashMap::new(),
            idempotency: IdempotencyStore::default(),
            webhooks,
        }
    }

    /// Whether the merchant account may be used.
    pub fn accepts_merchant_account(&self, account: &str) -> bool {
        !account.trim().is_empty()
            && (self.account.merchant_accounts.is_empty()
                || self.account.merchant_accounts.iter().any(|a| a == account))
    }

    /// Stores a payment.
    pub fn insert_payment(&mut self, payment: Payment) {
        self.payments_by_reference
            .entry((payment.merchant_account.clone(), payment.reference.clone()))
            .or_default()
            .push(payment.psp_reference.clone());
        self.payments.insert(payment.psp_reference.clone(), payment);
    }

    /// Queues something to settle later.
    pub fn queue_settlement(&mut self, item: Settle) {
        self.unsettled.push(item.clone());
        // The receiver lives as long as the emulator; a send error only happens at shutdown.
        let _ = self.settle_queue.send(item);
    }

    /// An event dated now.
    pub fn event(
        &self,
        event_code: &'static str,
        psp_reference: &str,
        payment: Option<&Payment>,
        amount: Amount,
        success: bool,
        reason: &str,
    ) -> Event {
        Event {
            event_code,
            psp_reference: psp_reference.to_string(),
            original_reference: None,
            merchant_account: payment
                .map(|p| p.merchant_account.clone())
                .unwrap_or_default(),
            merchant_reference: payment.map(|p| p.reference.clone()).unwrap_or_default(),
            amount,
            success,
            reason: reason.to_string(),
            payment_method: payment.map(|p| p.card.brand.to_string()),
            event_date: dates::iso8601(self.now),
            operations: Vec::new(),
            additional_data: BTreeMap::new(),
        }
    }

    /// Sends an event to the webhook endpoints.
    pub fn emit(&self, event: &Event) {
        self.webhooks.emit(event.item());
    }
}
