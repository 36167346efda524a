//! Refund: the contract's refund.

use omnicrm_gateway_sdk::charging::{
    ModificationStatus, Refund as ContractRefund, RefundReason,
    RefundStatus as ContractRefundStatus,
};
use omnicrm_gateway_sdk::webhooks::{ModificationKind, ModificationUpdate};
use serde::Deserialize;

use super::common::{Expandable, Ref, Unmapped, has_id, id, id_of, status_enum};
use crate::money::money;

status_enum! {
    /// `status` of a refund.
    RefundStatus {
        /// Under way.
        Pending = "pending",
        /// Waiting for the customer (some payment methods).
        RequiresAction = "requires_action",
        /// Done.
        Succeeded = "succeeded",
        /// Failed: the money went back to the balance.
        Failed = "failed",
        /// Cancelled.
        Canceled = "canceled",
    }
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    /// `re_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// How much, in Stripe's unit of `currency`.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// Why (`duplicate`, `fraudulent`, `requested_by_customer`, `expired_uncaptured_charge`...).
    pub reason: Option<String>,
    /// The PaymentIntent refunded (read for its id).
    pub payment_intent: Option<Expandable<Ref>>,
    /// When Stripe created it.
    pub created: i64,
    /// Why it failed (`lost_or_stolen_card`, `expired_or_canceled_card`, ...), when it did.
    pub failure_reason: Option<String>,
}

has_id!(Refund);

impl Refund {
    /// Where the refund stands; a status the plugin does not know is [`Unmapped`].
    pub fn status(&self) -> Result<ContractRefundStatus, Unmapped> {
        Ok(match &self.status {
            RefundStatus::Pending => ContractRefundStatus::Pending,
            RefundStatus::RequiresAction => ContractRefundStatus::RequiresAction,
            RefundStatus::Succeeded => ContractRefundStatus::Succeeded,
            RefundStatus::Failed => ContractRefundStatus::Failed,
            RefundStatus::Canceled => ContractRefundStatus::Canceled,
            other @ RefundStatus::Other(_) => {
                return Err(Unmapped::status("refund", &self.id, other.as_str()));
            }
        })
    }

    /// The contract's refund; of `payment` when Stripe doesn't name the PaymentIntent. A refund
    /// of no known payment is [`Unmapped`].
    pub fn record(&self, payment: Option<&str>) -> Result<ContractRefund, Unmapped> {
        let payment = id_of(self.payment_intent.as_ref())
            .or_else(|| payment.map(str::to_owned))
            .ok_or_else(|| Unmapped::no_payment("refund", &self.id))?;
        Ok(ContractRefund {
            id: self.id.clone(),
            payment,
            amount: money(self.amount, &self.currency),
            status: self.status()?,
            reason: match self.reason.as_deref() {
                Some("duplicate") => Some(RefundReason::Duplicate),
                Some("fraudulent") => Some(RefundReason::Fraudulent),
                Some("requested_by_customer") => Some(RefundReason::RequestedByCustomer),
                _ => None,
            },
            created: self.created,
            failure_reason: self.failure_reason.clone(),
        })
    }

    /// The contract's modification update of the refund (webhooks): `pending` while Stripe
    /// works on it (or waits for the customer), `failed` when it failed or was canceled. A refund
    /// of no PaymentIntent is [`Unmapped`] (the contract's updates name the payment).
    pub fn update(&self) -> Result<ModificationUpdate, Unmapped> {
        let status = match self.status()? {
            ContractRefundStatus::Pending | ContractRefundStatus::RequiresAction => {
                ModificationStatus::Pending
            }
            ContractRefundStatus::Succeeded => ModificationStatus::Succeeded,
            ContractRefundStatus::Failed | ContractRefundStatus::Canceled => {
                ModificationStatus::Failed
            }
        };
        Ok(ModificationUpdate {
            modification: self.id.clone(),
            kind: ModificationKind::Refund,
            payment: id_of(self.payment_intent.as_ref())
                .ok_or_else(|| Unmapped::no_payment("refund", &self.id))?,
            status,
            amount: Some(money(self.amount, &self.currency)),
            reason: self.failure_reason.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn a_refund_as_stripe_sends_it() {
        let re: Refund = decode(include_bytes!("fixtures/refund.json")).unwrap();
        let r = re.record(Some("pi_other")).unwrap();
        assert_eq!(r.id, "re_ah5mC303JB0FntupAxTDf0rj");
        assert_eq!(r.payment, "pi_IdTrhNHSk4NA9vyezFOE2IXP");
        assert_eq!((r.amount.amount, r.amount.currency.as_str()), (500, "USD"));
        assert_eq!(r.status, ContractRefundStatus::Succeeded);
        assert_eq!(r.reason, Some(RefundReason::RequestedByCustomer));
    }

    #[test]
    fn statuses_and_the_unknown_one() {
        let refund = |status: &str| {
            let body = format!(
                r#"{{"id":"re_1","amount":1,"currency":"usd","status":"{status}","created":1,
                    "reason":"expired_uncaptured_charge"}}"#
            );
            decode::<Refund>(body.as_bytes()).unwrap()
        };
        assert_eq!(
            refund("pending").status(),
            Ok(ContractRefundStatus::Pending)
        );
        assert_eq!(refund("failed").status(), Ok(ContractRefundStatus::Failed));
        assert_eq!(
            refund("canceled").status(),
            Ok(ContractRefundStatus::Canceled)
        );
        let unknown = refund("reversed");
        assert!(
            unknown
                .status()
                .unwrap_err()
                .to_string()
                .contains("`reversed`")
        );
        assert!(unknown.record(Some("pi_1")).is_err() && unknown.update().is_err());
        // No PaymentIntent named: the one refunded; a reason the contract lacks: none.
        let r = refund("pending").record(Some("pi_1")).unwrap();
        assert_eq!((r.payment.as_str(), r.reason), ("pi_1", None));
        // A lookup of a refund of no PaymentIntent, and its update: no payment to name.
        assert!(refund("pending").record(None).is_err());
        assert!(refund("pending").update().is_err());
    }

    #[test]
    fn refund_updates_are_modifications() {
        let refund = |status: &str, failure: &str| {
            let body = format!(
                r#"{{"id":"re_1","amount":500000,"currency":"isk","status":"{status}","created":1,
                    "payment_intent":"pi_1","failure_reason":{failure}}}"#
            );
            decode::<Refund>(body.as_bytes()).unwrap().update().unwrap()
        };
        let u = refund("pending", "null");
        assert_eq!(
            (u.modification.as_str(), u.kind, u.payment.as_str()),
            ("re_1", ModificationKind::Refund, "pi_1")
        );
        assert_eq!(u.status, ModificationStatus::Pending);
        assert_eq!(
            u.amount.map(|m| (m.amount, m.currency)),
            Some((5_000, "ISK".into()))
        );
        assert_eq!(
            refund("requires_action", "null").status,
            ModificationStatus::Pending
        );
        assert_eq!(
            refund("succeeded", "null").status,
            ModificationStatus::Succeeded
        );
        assert_eq!(
            refund("canceled", "null").status,
            ModificationStatus::Failed
        );
        let failed = refund("failed", r#""expired_or_canceled_card""#);
        assert_eq!(failed.status, ModificationStatus::Failed);
        assert_eq!(failed.reason.as_deref(), Some("expired_or_canceled_card"));
    }

    #[test]
    fn a_refund_without_an_id_or_amount_does_not_decode() {
        for body in [
            r#"{"amount":1,"currency":"usd","status":"pending","created":1}"#,
            r#"{"id":"re_1","currency":"usd","status":"pending","created":1}"#,
            r#"{"id":"re_1","amount":1,"status":"pending","created":1}"#,
            r#"{"id":"re_1","amount":1,"currency":"usd","created":1}"#,
        ] {
            assert!(decode::<Refund>(body.as_bytes()).is_err(), "{body}");
        }
    }
}
