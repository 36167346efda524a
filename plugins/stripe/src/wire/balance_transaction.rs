//! BalanceTransaction: the movements of money the metrics sum.

use omnicrm_gateway_sdk::metrics::{BalanceKind, BalanceTransaction as ContractBalanceTransaction};
use serde::Deserialize;

use super::common::{Expandable, Ref, has_id, id, id_of};
use crate::money::{self, money};

/// A balance transaction. Its `fee_details` and `net` are not read: the fee is `fee`, and the
/// contract's `net` is computed from the converted amounts (see [`BalanceTransaction::amounts`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BalanceTransaction {
    /// `txn_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Gross amount, signed, in Stripe's unit of `currency`.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// Stripe's fees, in Stripe's unit of `currency`.
    pub fee: i64,
    /// Stripe's type (`charge`, `refund`, `adjustment`, `stripe_fee`, `payout`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Stripe's reporting category (`charge`, `dispute`, `dispute_reversal`, ...).
    pub reporting_category: Option<String>,
    /// When it happened.
    pub created: i64,
    /// The object that caused it.
    pub source: Option<Expandable<Ref>>,
    /// Stripe's description.
    pub description: Option<String>,
}

has_id!(BalanceTransaction);

impl BalanceTransaction {
    /// `(amount, fee, net)` in contract units of `currency`. `net` is the converted
    /// `amount - fee`, as Stripe defines its own `net`: the contract's `net = amount - fee` then
    /// holds even where converting a fee rounds (ISK fees are in hundredths of a króna).
    pub fn amounts(&self, currency: &str) -> (i64, i64, i64) {
        let amount = money::from_stripe(self.amount, currency);
        let fee = money::from_stripe(self.fee, currency);
        (amount, fee, amount - fee)
    }

    /// The contract's kind, from the type and the reporting category.
    pub fn kind(&self) -> BalanceKind {
        let category = self.reporting_category.as_deref().unwrap_or("");
        match (self.kind.as_str(), category) {
            (_, "dispute_reversal") | ("dispute_reversal", _) => BalanceKind::DisputeReversal,
            (_, "dispute") | ("dispute", _) => BalanceKind::Dispute,
            ("charge" | "payment", _) => BalanceKind::Charge,
            ("refund" | "payment_refund", _) => BalanceKind::Refund,
            ("stripe_fee" | "application_fee" | "tax_fee", _) => BalanceKind::Fee,
            ("payout" | "payout_cancel" | "payout_failure", _) => BalanceKind::Payout,
            _ => BalanceKind::Other,
        }
    }

    /// The contract's balance transaction.
    pub fn record(&self) -> ContractBalanceTransaction {
        let amount = money(self.amount, &self.currency);
        let (_, fee, net) = self.amounts(&amount.currency);
        ContractBalanceTransaction {
            id: self.id.clone(),
            kind: self.kind(),
            gateway_type: self.kind.clone(),
            amount,
            fee,
            net,
            created: self.created,
            source: id_of(self.source.as_ref()),
            description: self.description.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{List, decode};

    #[test]
    fn a_page_as_stripe_sends_it() {
        let page: List<BalanceTransaction> =
            decode(include_bytes!("fixtures/balance_transactions.json")).unwrap();
        assert!(!page.has_more);
        let [refund, charge] = &page.data[..] else {
            panic!("{page:?}")
        };
        let r = refund.record();
        assert_eq!(r.kind, BalanceKind::Refund);
        assert_eq!((r.amount.amount, r.fee, r.net), (-500, 0, -500));
        assert_eq!(r.source.as_deref(), Some("re_ah5mC303JB0FntupAxTDf0rj"));
        let c = charge.record();
        assert_eq!(c.kind, BalanceKind::Charge);
        assert_eq!((c.amount.amount, c.fee, c.net), (2000, 88, 1912));
        assert_eq!((c.gateway_type.as_str(), c.description), ("charge", None));
    }

    #[test]
    fn isk_net_is_the_converted_amount_minus_the_converted_fee() {
        let body = r#"{"id":"txn_1","amount":500000,"currency":"isk","fee":14550,"net":485450,
            "type":"charge","created":1,"source":{"id":"ch_1","object":"charge"}}"#;
        let t: BalanceTransaction = decode(body.as_bytes()).unwrap();
        let r = t.record();
        assert_eq!(
            (r.amount.amount, r.amount.currency.as_str()),
            (5_000, "ISK")
        );
        assert_eq!((r.fee, r.net), (146, 4_854));
        assert_eq!(r.source.as_deref(), Some("ch_1"));
    }

    #[test]
    fn kinds_follow_type_and_category() {
        let kind = |ty: &str, category: &str| {
            let body = format!(
                r#"{{"id":"txn_1","amount":1,"currency":"usd","fee":0,"type":"{ty}",
                    "reporting_category":"{category}","created":1}}"#
            );
            decode::<BalanceTransaction>(body.as_bytes())
                .unwrap()
                .kind()
        };
        assert_eq!(kind("adjustment", "dispute"), BalanceKind::Dispute);
        assert_eq!(
            kind("adjustment", "dispute_reversal"),
            BalanceKind::DisputeReversal
        );
        assert_eq!(kind("payment", "charge"), BalanceKind::Charge);
        assert_eq!(kind("payment_refund", "refund"), BalanceKind::Refund);
        assert_eq!(kind("stripe_fee", "fee"), BalanceKind::Fee);
        assert_eq!(kind("payout", "payout"), BalanceKind::Payout);
        assert_eq!(kind("topup", "topup"), BalanceKind::Other);
    }
}
