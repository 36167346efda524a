//! Dispute: chargebacks and inquiries, for metrics and webhook events.

use omnicrm_gateway_sdk::webhooks::{DisputeStatus as ContractDisputeStatus, DisputeUpdate};
use serde::Deserialize;

use super::common::{Expandable, Ref, has_id, id, id_of, status_enum};
use crate::money::money;

status_enum! {
    /// `status` of a dispute.
    DisputeStatus {
        /// An inquiry waiting for an answer: no money moved.
        WarningNeedsResponse = "warning_needs_response",
        /// An inquiry under review.
        WarningUnderReview = "warning_under_review",
        /// An inquiry closed without a chargeback.
        WarningClosed = "warning_closed",
        /// A chargeback waiting for evidence: the amount was withdrawn.
        NeedsResponse = "needs_response",
        /// A chargeback under review.
        UnderReview = "under_review",
        /// Closed in the merchant's favour.
        Won = "won",
        /// Closed in the cardholder's favour.
        Lost = "lost",
    }
}

impl DisputeStatus {
    /// Whether this is an inquiry (`warning_*`, also one Stripe adds later): no chargeback.
    pub fn is_inquiry(&self) -> bool {
        self.as_str().starts_with("warning_")
    }

    /// The contract's status. Disputes move no money through this plugin's calls, so a status
    /// it does not know is read by its kind: an inquiry, or an open chargeback.
    pub fn contract(&self) -> ContractDisputeStatus {
        match self {
            DisputeStatus::Won => ContractDisputeStatus::Won,
            DisputeStatus::Lost => ContractDisputeStatus::Lost,
            status if status.is_inquiry() => ContractDisputeStatus::Warning,
            _ => ContractDisputeStatus::Open,
        }
    }
}

/// A dispute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dispute {
    /// `du_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// How much is disputed, in Stripe's unit of `currency`.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// Where it stands.
    pub status: DisputeStatus,
    /// The cardholder's reason (`fraudulent`, `product_not_received`, ...).
    pub reason: String,
    /// The disputed PaymentIntent (read for its id).
    pub payment_intent: Option<Expandable<Ref>>,
    /// When evidence is due.
    pub evidence_details: Option<EvidenceDetails>,
}

/// `evidence_details` of a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EvidenceDetails {
    /// When evidence is due (none for inquiries, and once submitted).
    pub due_by: Option<i64>,
}

has_id!(Dispute);

impl Dispute {
    /// The contract's dispute update (webhooks).
    pub fn update(&self) -> DisputeUpdate {
        DisputeUpdate {
            dispute: self.id.clone(),
            payment: id_of(self.payment_intent.as_ref()),
            amount: money(self.amount, &self.currency),
            reason: self.reason.clone(),
            status: self.status.contract(),
            evidence_due_by: self.evidence_details.as_ref().and_then(|e| e.due_by),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{List, decode};

    #[test]
    fn disputes_as_stripe_sends_them() {
        let page: List<Dispute> = decode(include_bytes!("fixtures/disputes.json")).unwrap();
        let u = page.data[0].update();
        assert_eq!(u.dispute, "du_9FgTMiWQ8gjCq207bejHHvoc");
        assert_eq!(u.payment.as_deref(), Some("pi_YC1sr2H2CfC7bCSb44pd2PbJ"));
        assert_eq!((u.amount.amount, u.amount.currency.as_str()), (5000, "USD"));
        assert_eq!(
            (u.reason.as_str(), u.status),
            ("fraudulent", ContractDisputeStatus::Open)
        );
        let due = page.data[0]
            .evidence_details
            .as_ref()
            .and_then(|e| e.due_by);
        assert!(due.is_some());
        assert_eq!(u.evidence_due_by, due);
    }

    #[test]
    fn statuses() {
        let status = |s: &str| {
            let body = format!(
                r#"{{"id":"du_1","amount":1,"currency":"usd","status":"{s}","reason":"general"}}"#
            );
            decode::<Dispute>(body.as_bytes()).unwrap().status
        };
        assert_eq!(status("won").contract(), ContractDisputeStatus::Won);
        assert_eq!(status("lost").contract(), ContractDisputeStatus::Lost);
        assert_eq!(
            status("under_review").contract(),
            ContractDisputeStatus::Open
        );
        assert_eq!(
            status("warning_closed").contract(),
            ContractDisputeStatus::Warning
        );
        assert!(status("warning_escalated").is_inquiry());
        assert_eq!(status("prevented").contract(), ContractDisputeStatus::Open);
        assert!(!status("needs_response").is_inquiry());
    }
}
