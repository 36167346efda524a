//! Disputes: opened right after a charge on a `createDispute*` test card; retrieve, list, update
//! (evidence), close (concede). An admin route decides won/lost.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cards::Behaviour;
use crate::error::ApiError;
use crate::fees;
use crate::form::Params;
use crate::resources::balance::{self, NewTransaction};
use crate::state::{Object, Page, State, new_id, update_metadata};

/// Days the merchant has to answer.
const EVIDENCE_DAYS: i64 = 7;

/// A dispute.
#[derive(Debug, Clone, Serialize)]
pub struct Dispute {
    /// `du_...`
    pub id: String,
    /// `dispute`
    pub object: &'static str,
    /// Disputed amount.
    pub amount: i64,
    /// Its balance transactions (rendered as objects).
    pub balance_transactions: Vec<String>,
    /// The charge.
    pub charge: String,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Evidence submitted.
    pub evidence: Value,
    /// Evidence deadline.
    pub evidence_details: Value,
    /// Whether the charge may still be refunded (inquiries).
    pub is_charge_refundable: bool,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// The payment intent.
    pub payment_intent: Option<String>,
    /// Reason.
    pub reason: String,
    /// Status.
    pub status: &'static str,
}

impl Dispute {
    /// Whether it is an inquiry (no money moved).
    pub fn is_inquiry(&self) -> bool {
        self.status.starts_with("warning_")
    }
}

impl Object for Dispute {
    const NAME: &'static str = "dispute";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
    fn render(&self, state: &State) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        let txns: Vec<Value> = self
            .balance_transactions
            .iter()
            .filter_map(|t| state.render_id(t))
            .collect();
        v["balance_transactions"] = json!(txns);
        v
    }
}

/// Opens the dispute a `createDispute*` test card asks for, right after its charge was captured.
pub fn open_if_test_card(st: &mut State, charge_id: &str) {
    let Some(ch) = st.charges.get(charge_id) else {
        return;
    };
    let Some(Behaviour::Dispute { reason, inquiry }) = st
        .payment_methods
        .get(&ch.payment_method)
        .map(|pm| pm.test_card().behaviour)
    else {
        return;
    };
    let (amount, currency, payment_intent) = (
        ch.amount_captured,
        ch.currency.clone(),
        ch.payment_intent.clone(),
    );
    let id = new_id("du");
    let mut txns = Vec::new();
    if !inquiry {
        txns.push(balance::record(
            st,
            NewTransaction {
                amount: -amount,
                currency: &currency,
                fees: vec![(fees::dispute_fee(&currency), "Dispute fee")],
                kind: "adjustment",
                category: "dispute",
                source: &id,
                description: Some(format!("Chargeback withdrawal for {charge_id}")),
                available_now: true,
            },
        ));
    }
    let dispute = Dispute {
        id: id.clone(),
        object: "dispute",
        amount,
        balance_transactions: txns,
        charge: charge_id.to_string(),
        created: st.now,
        currency,
        evidence: json!({"customer_name": null, "product_description": null, "uncategorized_text": null}),
        evidence_details: json!({"due_by": st.now + EVIDENCE_DAYS * 86_400, "has_evidence": false, "past_due": false, "submission_count": 0}),
        is_charge_refundable: inquiry,
        livemode: false,
        metadata: BTreeMap::new(),
        payment_intent,
        reason: reason.to_string(),
        status: if inquiry {
            "warning_needs_response"
        } else {
            "needs_response"
        },
    };
    let seq = st.next_seq();
    st.disputes.insert(seq, dispute);
    if let Some(ch) = st.charges.get_mut(charge_id) {
        ch.disputed = true;
        ch.dispute = Some(id.clone());
    }
    st.emit_for("charge.dispute.created", &id);
    if !inquiry {
        st.emit_for("charge.dispute.funds_withdrawn", &id);
    }
}

/// `GET /v1/disputes/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.disputes.find(id, "dispute")?.render(st))
}

/// `GET /v1/disputes` (filters: `charge`, `payment_intent`, `created`).
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
    let (items, has_more) = st.disputes.page(&page, |d| {
        charge.is_none_or(|c| d.charge == c)
            && pi.is_none_or(|x| d.payment_intent.as_deref() == Some(x))
    })?;
    Ok(st.render_list("/v1/disputes", &items, has_more))
}

fn ensure_open<'a>(st: &'a State, id: &str) -> Result<&'a Dispute, ApiError> {
    let d = st.disputes.find(id, "dispute")?;
    if ![
        "needs_response",
        "warning_needs_response",
        "under_review",
        "warning_under_review",
    ]
    .contains(&d.status)
    {
        return Err(ApiError::invalid_state(
            "dispute_already_closed",
            format!("This dispute is already closed (status {}).", d.status),
        ));
    }
    Ok(d)
}

/// `POST /v1/disputes/{id}` (evidence, metadata, submit=true -> under review).
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["evidence", "metadata", "submit"])?;
    let submit = p.bool("submit")?.unwrap_or(false);
    let evidence = p.map("evidence")?.cloned();
    let d = ensure_open(st, id)?;
    let mut metadata = d.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let d = st.disputes.find_mut(id, "dispute")?;
    d.metadata = metadata;
    if let Some(evidence) = evidence {
        for (k, v) in evidence {
            if let crate::form::Param::Str(v) = v {
                d.evidence[k] = json!(v);
            }
        }
        d.evidence_details["has_evidence"] = json!(true);
    }
    if submit {
        d.evidence_details["submission_count"] = json!(1);
        d.status = if d.is_inquiry() {
            "warning_under_review"
        } else {
            "under_review"
        };
    }
    st.emit_for("charge.dispute.updated", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/disputes/{id}/close`: concede. A chargeback is lost; an inquiry becomes
/// `warning_closed`, as at Stripe.
pub fn close(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[])?;
    ensure_open(st, id)?;
    let d = st.disputes.find_mut(id, "dispute")?;
    d.status = if d.is_inquiry() {
        "warning_closed"
    } else {
        "lost"
    };
    d.is_charge_refundable = false;
    st.emit_for("charge.dispute.closed", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// Decides a dispute (admin route): `won` returns the disputed amount (fee kept), `lost` keeps it.
pub fn resolve(st: &mut State, id: &str, won: bool) -> Result<Value, ApiError> {
    let d = ensure_open(st, id)?;
    let (inquiry, amount, currency, charge) = (
        d.is_inquiry(),
        d.amount,
        d.currency.clone(),
        d.charge.clone(),
    );
    let status = match (inquiry, won) {
        (true, _) => "warning_closed",
        (false, true) => "won",
        (false, false) => "lost",
    };
    let mut reinstatement = None;
    if won && !inquiry {
        reinstatement = Some(balance::record(
            st,
            NewTransaction {
                amount,
                currency: &currency,
                fees: Vec::new(),
                kind: "adjustment",
                category: "dispute_reversal",
                source: id,
                description: Some(format!("Chargeback reversal for {charge}")),
                available_now: true,
            },
        ));
    }
    let d = st.disputes.find_mut(id, "dispute")?;
    d.status = status;
    d.is_charge_refundable = false;
    d.balance_transactions.extend(reinstatement);
    if won && !inquiry {
        st.emit_for("charge.dispute.funds_reinstated", id);
    }
    st.emit_for("charge.dispute.closed", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}
