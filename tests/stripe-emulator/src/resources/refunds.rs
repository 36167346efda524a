//! Refunds: full, partial, and over-refunds refused; pending ones settled later when a delay is
//! set (see [`crate::delays`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::delays::{Settle, Settlement};
use crate::error::ApiError;
use crate::fees;
use crate::form::Params;
use crate::resources::balance::{self, NewTransaction};
use crate::state::{Object, Page, State, new_id, update_metadata};

/// A refund.
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    /// `re_...`
    pub id: String,
    /// `refund`
    pub object: &'static str,
    /// Amount refunded.
    pub amount: i64,
    /// Its balance transaction.
    pub balance_transaction: Option<String>,
    /// The charge refunded.
    pub charge: String,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Card refund details.
    pub destination_details: Value,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// The payment intent refunded.
    pub payment_intent: Option<String>,
    /// duplicate / fraudulent / requested_by_customer
    pub reason: Option<String>,
    /// Always null.
    pub receipt_number: Option<String>,
    /// `succeeded`, or `pending` then `succeeded` or `failed` when delayed.
    pub status: &'static str,
    /// Why a refund failed (`expired_or_canceled_card`).
    pub failure_reason: Option<String>,
}

impl Object for Refund {
    const NAME: &'static str = "refund";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

/// `POST /v1/refunds` (`payment_intent` or `charge`, optional `amount` and `reason`).
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "metadata",
        "refund_application_fee",
        "reverse_transfer",
        "instructions_email",
        "origin",
    ])?;
    let amount = p.int("amount")?;
    if amount.is_some_and(|a| a < 1) {
        return Err(ApiError::invalid_param(
            "amount",
            "This value must be greater than or equal to 1.",
        ));
    }
    let reason = p.non_empty("reason")?.map(str::to_string);
    if let Some(r) = &reason
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&r.as_str())
    {
        return Err(ApiError::invalid_param(
            "reason",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        ));
    }
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let charge_id = match (p.non_empty("charge")?, p.non_empty("payment_intent")?) {
        (Some(ch), _) => st.charges.find(ch, "charge")?.id.clone(),
        (None, Some(pi_id)) => {
            super::payment_intents::expire_if_stale(st, pi_id);
            let pi = st.payment_intents.find(pi_id, "payment_intent")?;
            let charge = pi
                .latest_charge
                .as_deref()
                .and_then(|c| st.charges.get(c))
                .filter(|c| c.status == "succeeded" && c.captured);
            match charge {
                Some(c) => c.id.clone(),
                None => {
                    return Err(ApiError::invalid_state(
                        "charge_not_refundable",
                        format!("This PaymentIntent ({pi_id}) does not have a successful charge to refund."),
                    )
                    .with_param("payment_intent"));
                }
            }
        }
        (None, None) => {
            return Err(ApiError::invalid_param(
                "charge",
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .with_code("parameter_missing"));
        }
    };
    let ch = st.charges.find(&charge_id, "charge")?;
    if ch.status != "succeeded" || !ch.captured {
        return Err(ApiError::invalid_state(
            "charge_not_refundable",
            format!(
                "Charge {charge_id} has not been captured or did not succeed, so it cannot be refunded."
            ),
        ));
    }
    if let Some(du) = ch.dispute.as_deref().and_then(|d| st.disputes.get(d))
        && !du.is_inquiry()
        && du.status != "won"
    {
        return Err(ApiError::invalid_state(
            "charge_disputed",
            format!("Charge {charge_id} has been charged back; cannot issue a refund."),
        ));
    }
    let remaining = ch.refundable();
    let currency = ch.currency.clone();
    if amount.is_none() && remaining == 0 {
        return Err(ApiError::invalid_state(
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
        ));
    }
    if let Some(a) = amount {
        fees::check_charge_amount(a, &currency, "amount")?;
    }
    let amount = amount.unwrap_or(remaining);
    if amount > remaining {
        return Err(ApiError::invalid_state(
            "amount_too_large",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                fees::display_amount(amount, &currency),
                fees::display_amount(remaining, &currency)
            ),
        )
        .with_param("amount"));
    }
    let payment_intent = ch.payment_intent.clone();
    let id = new_id("re");
    let delay = st.delays.take_refund();
    // A delayed refund's money moves when it succeeds.
    let txn = match delay {
        Some(_) => None,
        None => Some(record_refund(st, &id, amount, &currency)),
    };
    let refund = Refund {
        id: id.clone(),
        object: "refund",
        amount,
        balance_transaction: txn,
        charge: charge_id.clone(),
        created: st.now,
        currency,
        destination_details: json!({"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"}),
        metadata,
        payment_intent,
        reason,
        receipt_number: None,
        status: if delay.is_some() {
            "pending"
        } else {
            "succeeded"
        },
        failure_reason: None,
    };
    let seq = st.next_seq();
    st.refunds.insert(seq, refund);
    if let Some(d) = delay {
        st.schedule(
            d.after,
            Settlement::Refund {
                id: id.clone(),
                settle: d.settle,
            },
        );
    }
    if let Some(ch) = st.charges.get_mut(&charge_id) {
        ch.amount_refunded += amount;
        ch.refunded = ch.refundable() == 0;
    }
    st.emit_for("refund.created", &id);
    st.emit_for("charge.refunded", &charge_id);
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// Records the balance transaction of a refund (money leaving the account).
fn record_refund(st: &mut State, id: &str, amount: i64, currency: &str) -> String {
    balance::record(
        st,
        NewTransaction {
            amount: -amount,
            currency,
            fees: Vec::new(),
            kind: "refund",
            category: "refund",
            source: id,
            description: Some("REFUND FOR CHARGE".to_string()),
            available_now: true,
        },
    )
}

/// Ends a pending refund (a delayed settlement): it succeeds, with its balance transaction, or
/// fails, its amount refundable again. Emits `charge.refund.updated`.
pub fn settle(st: &mut State, id: &str, settle: Settle) {
    let Some(r) = st.refunds.get(id) else {
        return;
    };
    if r.status != "pending" {
        return;
    }
    let (amount, currency, charge) = (r.amount, r.currency.clone(), r.charge.clone());
    match settle {
        Settle::Succeed => {
            let txn = record_refund(st, id, amount, &currency);
            if let Some(r) = st.refunds.get_mut(id) {
                r.status = "succeeded";
                r.balance_transaction = Some(txn);
            }
        }
        Settle::Fail => {
            if let Some(r) = st.refunds.get_mut(id) {
                r.status = "failed";
                r.failure_reason = Some("expired_or_canceled_card".to_string());
            }
            if let Some(ch) = st.charges.get_mut(&charge) {
                ch.amount_refunded -= amount;
                ch.refunded = ch.refundable() == 0;
            }
        }
    }
    st.emit_for("charge.refund.updated", id);
}

/// `GET /v1/refunds/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.refunds.find(id, "id")?.render(st))
}

/// `GET /v1/refunds` (filters: `charge`, `payment_intent`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "charge",
        "payment_intent",
    ])?;
    let page = Page::parse(p)?;
    let charge = p.non_empty("charge")?;
    let pi = p.non_empty("payment_intent")?;
    let (items, has_more) = st.refunds.page(&page, |r| {
        charge.is_none_or(|c| r.charge == c)
            && pi.is_none_or(|x| r.payment_intent.as_deref() == Some(x))
    })?;
    Ok(st.render_list("/v1/refunds", &items, has_more))
}
