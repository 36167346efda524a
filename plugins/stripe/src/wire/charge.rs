//! Charge: a PaymentIntent's latest charge, and the object of `charge.*` events.

use serde::Deserialize;

use super::balance_transaction::BalanceTransaction;
use super::common::{Expandable, List, has_id, id};
use super::refund::Refund;

/// A charge: what was captured and refunded, and the balance transaction with the fee.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Charge {
    /// `ch_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Captured, in Stripe's unit of the charge's currency.
    pub amount_captured: i64,
    /// Refunded so far, in Stripe's unit of the charge's currency.
    pub amount_refunded: i64,
    /// The balance transaction (fee and net), once the charge is captured.
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
    /// The charge's refunds, newest first, where Stripe includes them (`charge.refunded` events
    /// of older API versions; otherwise only when expanded).
    pub refunds: Option<List<Refund>>,
    /// How it was paid.
    pub payment_method_details: Option<PaymentMethodDetails>,
}

has_id!(Charge);

/// `payment_method_details` of a charge: only the card's are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethodDetails {
    /// Set for card payments.
    pub card: Option<CardDetails>,
}

/// `payment_method_details.card` of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CardDetails {
    /// The card network's identifier of the payment (for later merchant-initiated charges).
    pub network_transaction_id: Option<String>,
}

impl Charge {
    /// The card network's identifier of the payment, when Stripe gives it.
    pub fn network_transaction_id(&self) -> Option<String> {
        self.payment_method_details
            .as_ref()
            .and_then(|d| d.card.as_ref())
            .and_then(|c| c.network_transaction_id.clone())
            .filter(|id| !id.is_empty())
    }
}
