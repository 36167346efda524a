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
}

has_id!(Charge);
