//! Charges: made by payment intents; retrieve, list, update.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cards::Decline;
use crate::error::ApiError;
use crate::fees;
use crate::form::Params;
use crate::resources::balance::{self, NewTransaction};
use crate::state::{Object, Page, State, new_id, update_metadata};

/// A charge.
#[derive(Debug, Clone, Serialize)]
pub struct Charge {
    /// `ch_...`
    pub id: String,
    /// `charge`
    pub object: &'static str,
    /// Amount asked for.
    pub amount: i64,
    /// Amount captured.
    pub amount_captured: i64,
    /// Amount refunded (includes the part released by a partial capture or a cancel).
    pub amount_refunded: i64,
    /// The charge's balance transaction, once captured.
    pub balance_transaction: Option<String>,
    /// Billing details (opaque).
    pub billing_details: Value,
    /// Statement descriptor.
    pub calculated_statement_descriptor: &'static str,
    /// Whether captured.
    pub captured: bool,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Customer.
    pub customer: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether a dispute was opened.
    pub disputed: bool,
    /// Error code of a failed charge.
    pub failure_code: Option<String>,
    /// Error message of a failed charge.
    pub failure_message: Option<String>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Network outcome.
    pub outcome: Value,
    /// Whether it succeeded.
    pub paid: bool,
    /// The payment intent.
    pub payment_intent: Option<String>,
    /// The payment method.
    pub payment_method: String,
    /// Card details.
    pub payment_method_details: Value,
    /// Receipt e-mail.
    pub receipt_email: Option<String>,
    /// Receipt URL.
    pub receipt_url: String,
    /// Whether fully refunded.
    pub refunded: bool,
    /// `succeeded` or `failed`.
    pub status: &'static str,
    /// Funds available at once (`bypassPending`).
    #[serde(skip)]
    pub available_now: bool,
    /// The part of `amount_refunded` that was released without being captured.
    #[serde(skip)]
    pub released: i64,
    /// The dispute on it.
    #[serde(skip)]
    pub dispute: Option<String>,
}

impl Object for Charge {
    const NAME: &'static str = "charge";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl Charge {
    /// What may still be refunded.
    pub fn refundable(&self) -> i64 {
        self.amount_captured - (self.amount_refunded - self.released)
    }
}

/// How the charge ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// Authorized (and captured when `capture` is true).
    Succeeded {
        /// Captured at once.
        capture: bool,
    },
    /// Declined by the issuer.
    Declined(Decline),
    /// Failed because authentication was required off-session.
    AuthenticationRequired,
}

/// Creates a charge for a payment intent; a captured one gets its balance transaction.
pub fn create_for_intent(st: &mut State, pi_id: &str, pm_id: &str, outcome: Outcome) -> String {
    let Some(pi) = st.payment_intents.get(pi_id) else {
        return String::new();
    };
    let (amount, currency, customer, description, metadata, receipt_email) = (
        pi.amount,
        pi.currency.clone(),
        pi.customer.clone(),
        pi.description.clone(),
        pi.metadata.clone(),
        pi.receipt_email.clone(),
    );
    let (details, available_now) = match st.payment_methods.get(pm_id) {
        Some(pm) => (
            pm.charge_details(),
            matches!(
                pm.test_card().behaviour,
                crate::cards::Behaviour::BypassPending
            ),
        ),
        None => (Value::Null, false),
    };
    let id = new_id("ch");
    let (status, paid, captured, failure_code, failure_message, outcome_json) = match outcome {
        Outcome::Succeeded { capture } => (
            "succeeded",
            true,
            capture,
            None,
            None,
            json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                   "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"}),
        ),
        Outcome::Declined(d) => (
            "failed",
            false,
            false,
            Some(d.code.to_string()),
            Some(d.message.to_string()),
            json!({"network_status": "declined_by_network", "reason": d.decline_code, "risk_level": "normal",
                   "risk_score": 20, "seller_message": "The bank did not return any further details with this decline.",
                   "type": "issuer_declined"}),
        ),
        Outcome::AuthenticationRequired => (
            "failed",
            false,
            false,
            Some("authentication_required".to_string()),
            Some("Your card was declined. This transaction requires authentication.".to_string()),
            json!({"network_status": "declined_by_network", "reason": "authentication_required",
                   "risk_level": "normal", "risk_score": 20,
                   "seller_message": "The bank returned the decline code `authentication_required`.",
                   "type": "issuer_declined"}),
        ),
    };
    let charge = Charge {
        id: id.clone(),
        object: "charge",
        amount,
        amount_captured: if captured { amount } else { 0 },
        amount_refunded: 0,
        balance_transaction: None,
        billing_details: json!({"address": null, "email": null, "name": null, "phone": null}),
        calculated_statement_descriptor: "OMNICRM",
        captured,
        created: st.now,
        currency,
        customer,
        description,
        disputed: false,
        failure_code,
        failure_message,
        livemode: false,
        metadata,
        outcome: outcome_json,
        paid,
        payment_intent: Some(pi_id.to_string()),
        payment_method: pm_id.to_string(),
        payment_method_details: details,
        receipt_email,
        receipt_url: format!("https://pay.stripe.com/receipts/payment/{id}"),
        refunded: false,
        status,
        available_now,
        released: 0,
        dispute: None,
    };
    let seq = st.next_seq();
    st.charges.insert(seq, charge);
    if captured {
        record_capture(st, &id);
    }
    id
}

/// Records the balance transaction of a captured charge (fee on the captured amount).
pub fn record_capture(st: &mut State, charge_id: &str) {
    let Some(ch) = st.charges.get(charge_id) else {
        return;
    };
    let (amount, currency, available_now, description) = (
        ch.amount_captured,
        ch.currency.clone(),
        ch.available_now,
        ch.description.clone(),
    );
    let fee = fees::processing_fee(amount, &currency);
    let txn = balance::record(
        st,
        NewTransaction {
            amount,
            currency: &currency,
            fees: vec![(fee, "Stripe processing fees")],
            kind: "charge",
            category: "charge",
            source: charge_id,
            description,
            available_now,
        },
    );
    if let Some(ch) = st.charges.get_mut(charge_id) {
        ch.balance_transaction = Some(txn);
    }
}

/// `GET /v1/charges/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    if let Some(pi) = st.charges.get(id).and_then(|c| c.payment_intent.clone()) {
        super::payment_intents::expire_if_stale(st, &pi);
    }
    Ok(st.charges.find(id, "id")?.render(st))
}

/// `POST /v1/charges/{id}` (description, metadata, receipt_email).
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "description",
        "metadata",
        "receipt_email",
        "fraud_details",
        "shipping",
    ])?;
    let ch = st.charges.find(id, "id")?;
    let mut metadata = ch.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let description = p.str("description")?;
    let description = description.map(|d| (!d.is_empty()).then(|| d.to_string()));
    let ch = st.charges.find_mut(id, "id")?;
    ch.metadata = metadata;
    if let Some(d) = description {
        ch.description = d;
    }
    st.emit_for("charge.updated", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `GET /v1/charges` (filters: `customer`, `payment_intent`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "customer",
        "payment_intent",
        "transfer_group",
    ])?;
    super::payment_intents::expire_all_stale(st);
    let page = Page::parse(p)?;
    let customer = p.non_empty("customer")?;
    let pi = p.non_empty("payment_intent")?;
    let (items, has_more) = st.charges.page(&page, |c| {
        customer.is_none_or(|x| c.customer.as_deref() == Some(x))
            && pi.is_none_or(|x| c.payment_intent.as_deref() == Some(x))
    })?;
    Ok(st.render_list("/v1/charges", &items, has_more))
}
